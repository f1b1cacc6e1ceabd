//! Counter: the final value holds every value a committed transaction saw.
//!
//! A counter's acknowledged increments do not prove how large it must end: a lost update (two
//! increments from one snapshot) drops increments without any crash, and the isolation check
//! already names those. What a committed transaction proves is the value it *saw*: an
//! acknowledged increment that read the counter back inside its own transaction (`[key, 1,
//! after]`) committed `after`, and an `ok` read saw a committed value. Increments only add, so
//! the final value must be at least the largest of those; only a final value below it is lost,
//! and the finding names the op that proves it.
//!
//! One exception keeps that honest: on a counter where two acknowledged increments read back
//! the same value, a transaction wrote from a stale snapshot, and such a write can set the
//! counter back below a value others saw. A shortfall there is the isolation check's lost
//! update, not a lost write, and is said in a note.
//!
//! Bounds kept from Jepsen's counter: a final value above the increments attempted and not
//! known to have failed is unexpected, one below zero too; what lies between the acknowledged
//! and attempted sums is recovered.

use rustc_hash::FxHashSet;

use crate::history::{Atom, Op, OpFn, OpType, OpValue};

use super::final_read::Window;
use super::tally::Tally;
use super::writes::Keys;
use super::{at, Ctx, DurabilityFinding, DurabilityKind};

/// One counter's sums, the largest value a committed transaction saw, and its final read.
#[derive(Default)]
struct Counted {
    window: Window<i64>,
    /// Sum of acknowledged increments.
    acked: i128,
    /// Sum of increments not known to have failed (ok, info, never completed).
    attempted: i128,
    /// The index of an add that makes the sums meaningless (negative), if any.
    bad: Option<u64>,
    /// The largest value a committed transaction saw, and the position of the op that saw it.
    proven: Option<(i64, usize)>,
    /// Values acknowledged increments read back, to tell a stale overwrite (a value twice).
    afters: FxHashSet<i64>,
    /// Two acknowledged increments read back the same value: a stale write happened.
    overwritten: bool,
}

impl Counted {
    /// Notes that a committed transaction saw `v`, by the op at position `at`.
    fn saw(&mut self, v: i64, at: usize) {
        if self.proven.is_none_or(|(p, _)| v > p) {
            self.proven = Some((v, at));
        }
    }
}

/// A counter op's counter (`None`: the single counter of plain values), number, and for an
/// acknowledged add the value it read back.
fn counter_value(op: &Op) -> Option<(Option<&Atom>, i64, Option<i64>)> {
    match &op.value {
        OpValue::Int(v) => Some((None, *v, None)),
        OpValue::Keyed {
            key,
            value: Some(v),
            after,
        } => Some((Some(key), *v, *after)),
        _ => None,
    }
}

/// Holds each counter's final read against what committed transactions saw.
pub(super) fn check(ctx: &Ctx, t: &mut Tally) {
    let ops = ctx.ops;
    let mut keys: Keys<Option<&Atom>, Counted> = Keys::new();
    let mut shapeless = None;
    for c in &ctx.pairs.list {
        if ops[c.invoke].f != OpFn::Add {
            continue;
        }
        let found = std::iter::once(c.invoke)
            .chain(c.complete)
            .find_map(|i| counter_value(&ops[i]));
        let Some((key, v, _)) = found else {
            if c.outcome != OpType::Fail {
                shapeless.get_or_insert(ops[c.invoke].index);
            }
            continue;
        };
        let k = keys.get(&key);
        k.window.write(c);
        if v < 0 {
            k.bad.get_or_insert(ops[c.invoke].index);
        }
        if c.outcome == OpType::Fail {
            continue;
        }
        k.attempted += i128::from(v);
        if c.outcome == OpType::Ok {
            k.acked += i128::from(v);
            let done = c.complete.unwrap_or(c.invoke);
            if let Some((_, _, Some(after))) = counter_value(&ops[done]) {
                k.overwritten |= !k.afters.insert(after);
                k.saw(after, done);
            }
        }
    }
    for c in &ctx.pairs.list {
        if ops[c.invoke].f != OpFn::Read || c.outcome != OpType::Ok {
            continue;
        }
        let done = c.complete.unwrap_or(c.invoke);
        if let Some((key, v, _)) = counter_value(&ops[done]) {
            let k = keys.get(&key);
            k.saw(v, done);
            k.window.offer(c, ctx.nemesis, v);
        }
    }
    if let Some(index) = shapeless {
        t.undecided(format!(
            "the add at index {index} carries no amount, so its counter cannot be held to the \
             sum of its increments"
        ));
    }
    let mut short = Shortfall::default();
    for (key, k) in &keys.list {
        judge(ops, t, &mut short, *key, k);
    }
    short.note(t);
}

/// Acknowledged increments missing from final values where no committed transaction saw more:
/// the isolation check's business, said once for all counters.
#[derive(Default)]
struct Shortfall {
    counters: usize,
    increments: i128,
    overwritten: usize,
}

impl Shortfall {
    fn note(self, t: &mut Tally) {
        if self.counters == 0 {
            return;
        }
        let stale = if self.overwritten > 0 {
            format!(
                "; on {} of them a stale write (two acknowledged increments reading back the same \
                 value) may have set the counter back",
                self.overwritten
            )
        } else {
            String::new()
        };
        t.notes.push(format!(
            "the final value{s} of {n} counter{s} fall{v} short of the acknowledged increments by \
             {m} in all, but no committed transaction saw more than the final value{stale}: that \
             is not a lost write but what the isolation check calls lost updates",
            n = self.counters,
            s = if self.counters == 1 { "" } else { "s" },
            v = if self.counters == 1 { "s" } else { "" },
            m = self.increments,
        ));
    }
}

/// Holds one counter's final read against the largest committed value and its bounds.
fn judge(ops: &[Op], t: &mut Tally, short: &mut Shortfall, key: Option<&Atom>, k: &Counted) {
    let name = key.map(|k| k.to_string()).unwrap_or_default();
    let label = key.map_or_else(|| "the counter".to_string(), |k| k.to_string());
    let counter = match key {
        Some(k) => format!("counter {k}"),
        None => "the counter".to_string(),
    };
    if let Some(index) = k.bad {
        t.keys += 1;
        t.undecided(format!(
            "{counter} has a negative add (index {index}): its final value cannot be held to the \
             values seen before it"
        ));
        return;
    }
    if !t.key_with_read(&label, &k.window) {
        return;
    }
    let Some(r) = &k.window.read else { return };
    let read = &ops[r.complete];
    let v = i128::from(r.value);
    t.acknowledged += u64::try_from(k.acked).unwrap_or(u64::MAX);
    if v < 0 {
        // Below the initial zero: no add made that, whatever else was lost.
        t.unexpected(v.unsigned_abs().try_into().unwrap_or(u64::MAX), || {
            DurabilityFinding {
                kind: DurabilityKind::Unexpected,
                key: name.clone(),
                ops: vec![read.index],
                explanation: format!(
                    "The final read of {counter} at index {}{} is {}, below the 0 it started at, \
                     which no non-negative add can make.",
                    read.index,
                    at(read),
                    r.value,
                ),
            }
        });
    }
    let proven = k.proven.filter(|&(p, _)| i128::from(p) > v.max(0));
    match proven {
        Some((p, by)) if !k.overwritten => {
            let missing = i128::from(p) - v.max(0);
            let seer = &ops[by];
            let how = if seer.f == OpFn::Add {
                "the acknowledged increment completed at index"
            } else {
                "the ok read completed at index"
            };
            let verb = if seer.f == OpFn::Add {
                "read it back as"
            } else {
                "saw"
            };
            t.lost(u64::try_from(missing).unwrap_or(u64::MAX), || {
                DurabilityFinding {
                    kind: DurabilityKind::Lost,
                    key: name.clone(),
                    ops: vec![seer.index, read.index],
                    explanation: format!(
                        "The final read of {counter} at index {}{} is {}, but {how} {}{} {verb} \
                         {p}, so {p} was committed: {missing} lost.",
                        read.index,
                        at(read),
                        r.value,
                        seer.index,
                        at(seer),
                    ),
                }
            });
            return;
        }
        _ => {}
    }
    if v > k.attempted {
        let extra = v - k.attempted;
        t.unexpected(u64::try_from(extra).unwrap_or(u64::MAX), || {
            DurabilityFinding {
                kind: DurabilityKind::Unexpected,
                key: name.clone(),
                ops: vec![read.index],
                explanation: format!(
                    "The final read of {counter} at index {}{} is {}, but the increments \
                     attempted and not known to have failed total {}: {extra} more than could \
                     have been applied.",
                    read.index,
                    at(read),
                    r.value,
                    k.attempted,
                ),
            }
        });
    } else if v > k.acked {
        t.recovered += u64::try_from(v - k.acked).unwrap_or(u64::MAX);
    } else if v.max(0) < k.acked {
        short.counters += 1;
        short.increments += k.acked - v.max(0);
        short.overwritten += usize::from(k.overwritten && proven.is_some());
    }
}
