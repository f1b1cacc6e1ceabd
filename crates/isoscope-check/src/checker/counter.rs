//! The counter workload: increments (`add`) and reads of shared counters.
//!
//! This is Jepsen's `jepsen.checker/counter`, bound for bound, applied to each counter on its own
//! (a history of plain integer values is one counter; `[key, value]` tuples, jepsen.independent's
//! shape, are many). A counter starts at zero and only grows, so every read is held between two
//! sums computed in one pass in history order:
//!
//! - **lower**: the adds that completed `ok` before the read was *invoked*. They certainly took
//!   effect before the read began, so a linearizable read must include them all; a read below
//!   lower has lost acknowledged increments ([`Anomaly::CounterTooLow`]).
//! - **upper**: the adds invoked, and not known to have failed (`ok`, `info` or never completed),
//!   by the time the read *completed*. Nothing else could have been applied, so a read above upper
//!   made increments up ([`Anomaly::CounterTooHigh`]).
//!
//! Bounds are inclusive (`lower <= v <= upper`), as in Jepsen. Only `ok` reads are checked; adds
//! must be non-negative (Jepsen asserts this too: decrements would break both bounds).
//!
//! Why a second check: a read below the bounds proves only that real-time order was broken
//! (strict serializability), since a serializable database may order the read first. isoscope's
//! runner therefore also records, for each acknowledged add, the value its own transaction read
//! back right after adding (`[key, 1, after]`). Committed positive adds to one counter must leave
//! distinct values in any serial order; two that leave the same value overwrote each other, and
//! that is a [`Anomaly::LostUpdate`], which repeatable read and snapshot isolation forbid too.
//!
//! Invokes are paired with completions by process ([`crate::history::Pairs`]); a completion with
//! no invocation (histories that keep only completions) stands for both at its position.

use rustc_hash::FxHashMap;

use crate::history::{Atom, History, Op, OpFn, OpType, OpValue};

use super::{Anomaly, AnomalySet, CheckError, Finding, Findings, LookedFor};

/// What happens to one counter at one history position. Events at the same position apply in
/// this order (the derive orders by variant): the add counts toward upper, a read invoked there
/// takes its lower bound, the add counts toward lower, a read completed there is checked.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Event {
    /// An add not known to have failed was invoked.
    Attempted(i64),
    /// A read (index into the counter's reads) was invoked.
    ReadInvoked(usize),
    /// An add was acknowledged.
    Acknowledged(i64),
    /// A read completed.
    ReadCompleted(usize),
}

/// One counter's events and reads.
#[derive(Default)]
struct Counter {
    events: Vec<(usize, Event)>,
    reads: Vec<Read>,
    /// Acknowledged adds with the value they left: (after, position of the completion).
    afters: Vec<(i64, usize)>,
}

/// Checks a counter history the way `jepsen.checker/counter` does, per counter: every `ok` read
/// must lie between the sum of adds acknowledged before it was invoked and the sum of adds
/// attempted and not known failed by the time it completed, both inclusive. Where acknowledged
/// adds carry the value they left, two positive adds to one counter that left the same value are
/// a lost update.
///
/// Each read out of bounds is one finding ([`Anomaly::CounterTooLow`] or
/// [`Anomaly::CounterTooHigh`]) naming the read's invocation and completion. When a counter's last
/// `ok` read is below what was acknowledged before it began, a note says how much was lost.
///
/// Errors with [`CheckError::BadOp`] on a negative add, an add with no integer value (unless it
/// failed), or an `ok` read that did not return an integer.
pub fn check(h: &History, f: &mut Findings) -> Result<LookedFor, CheckError> {
    let ops = &h.ops;
    // Counters in order of first appearance; `None` is the single counter of plain values.
    let mut index: FxHashMap<Option<Atom>, usize> = FxHashMap::default();
    let mut counters: Vec<(Option<Atom>, Counter)> = Vec::new();
    let mut counter = |counters: &mut Vec<(Option<Atom>, Counter)>, key: Option<Atom>| -> usize {
        *index.entry(key.clone()).or_insert_with(|| {
            counters.push((key, Counter::default()));
            counters.len() - 1
        })
    };
    // Whether every counted add is `+1`: explanations then speak of increments by count.
    let mut unit = true;
    let mut any_read = false;
    let mut any_after = false;

    for c in h.pairs().list {
        let inv = &ops[c.invoke];
        match inv.f {
            OpFn::Add => {
                let completion = c.complete.map(|i| &ops[i]);
                let Some((key, v, after, at)) = add_value(inv, completion, c.outcome)? else {
                    continue; // a failed add with no value: it counts toward nothing
                };
                if v < 0 {
                    return Err(CheckError::BadOp {
                        index: at.index,
                        message: format!("counter adds must be non-negative, found {v}"),
                    });
                }
                if c.outcome == OpType::Fail {
                    continue;
                }
                unit &= v == 1;
                let k = counter(&mut counters, key);
                let (_, ctr) = &mut counters[k];
                ctr.events.push((c.invoke, Event::Attempted(v)));
                if c.outcome == OpType::Ok {
                    // `complete` is always set for an ok outcome.
                    let done = c.complete.unwrap_or(c.invoke);
                    ctr.events.push((done, Event::Acknowledged(v)));
                    if let (Some(a), true) = (after, v > 0) {
                        ctr.afters.push((a, done));
                        any_after = true;
                    }
                }
            }
            OpFn::Read if c.outcome == OpType::Ok => {
                let done = c.complete.unwrap_or(c.invoke);
                let (key, value) = match &ops[done].value {
                    OpValue::Int(v) => (None, *v),
                    OpValue::Keyed {
                        key,
                        value: Some(value),
                        ..
                    } => (Some(key.clone()), *value),
                    _ => {
                        return Err(CheckError::BadOp {
                            index: ops[done].index,
                            message: "an ok counter read must return an integer".into(),
                        })
                    }
                };
                any_read = true;
                let k = counter(&mut counters, key.clone());
                let (_, ctr) = &mut counters[k];
                let r = ctr.reads.len();
                ctr.events.push((c.invoke, Event::ReadInvoked(r)));
                ctr.events.push((done, Event::ReadCompleted(r)));
                ctr.reads.push(Read {
                    key,
                    invoke: c.invoke,
                    complete: done,
                    value,
                    lower: 0,
                    acked_before: 0,
                });
            }
            _ => {}
        }
    }

    for (_, ctr) in &mut counters {
        check_bounds(ops, ctr, unit, f);
        check_afters(ops, ctr, f);
    }

    let mut kinds = AnomalySet::of(&[Anomaly::CounterTooLow, Anomaly::CounterTooHigh]);
    if any_after {
        kinds.insert(Anomaly::LostUpdate);
    }
    Ok(LookedFor {
        relevant: kinds,
        searched: kinds,
        nothing_to_check: !any_read && !any_after,
    })
}

/// Jepsen's bounds for one counter, and the note on its final read.
fn check_bounds(ops: &[Op], ctr: &mut Counter, unit: bool, f: &mut Findings) {
    ctr.events.sort_unstable();
    let reads = &mut ctr.reads;
    let (mut lower, mut upper) = (0i128, 0i128);
    // Positions of the acknowledged adds so far, in the order they were acknowledged.
    let mut acked: Vec<usize> = Vec::new();
    // The last ok read to complete.
    let mut last: Option<usize> = None;
    for &(at, e) in &ctr.events {
        match e {
            Event::Attempted(v) => upper += i128::from(v),
            Event::ReadInvoked(r) => {
                reads[r].lower = lower;
                reads[r].acked_before = acked.len();
            }
            Event::Acknowledged(v) => {
                lower += i128::from(v);
                acked.push(at);
            }
            Event::ReadCompleted(ri) => {
                let r = &reads[ri];
                let v = i128::from(r.value);
                if v < r.lower {
                    let before = &acked[..r.acked_before];
                    f.add(Anomaly::CounterTooLow, || {
                        too_low(ops, r, before, upper, unit)
                    });
                } else if v > upper {
                    f.add(Anomaly::CounterTooHigh, || too_high(ops, r, upper, unit));
                }
                last = Some(ri);
            }
        }
    }

    if let Some(i) = last {
        let r = &reads[i];
        let v = i128::from(r.value);
        // `lower` is now every acknowledged add of this counter.
        if v < lower {
            let what = amount(lower, unit, "acknowledged increment");
            let on = counter_name(&r.key);
            let note = if r.lower == lower {
                format!(
                    "final read{on} {} (index {}) is below the {what}: {} {} lost",
                    r.value,
                    ops[r.complete].index,
                    amount(lower - v, unit, "acknowledged increment"),
                    if unit && lower - v == 1 {
                        "was"
                    } else {
                        "were"
                    },
                )
            } else if v < r.lower {
                format!(
                    "final read{on} {} (index {}) is below the {what} of the whole history; {} had \
                     been acknowledged before it began, so at least {} {} lost",
                    r.value,
                    ops[r.complete].index,
                    amount(r.lower, unit, "increment"),
                    amount(r.lower - v, unit, "acknowledged increment"),
                    if unit && r.lower - v == 1 { "was" } else { "were" },
                )
            } else {
                // Below the final total only because some adds were acknowledged after the read
                // began: that is not a loss.
                String::new()
            };
            if !note.is_empty() {
                f.notes.push(note);
            }
        }
    }
}

/// Lost updates: acknowledged positive adds to one counter that left the same value. Each group
/// of `n` such adds is one finding (`n - 1` increments lost).
fn check_afters(ops: &[Op], ctr: &mut Counter, f: &mut Findings) {
    ctr.afters.sort_unstable();
    for group in ctr.afters.chunk_by(|a, b| a.0 == b.0) {
        if group.len() < 2 {
            continue;
        }
        f.add(Anomaly::LostUpdate, || {
            let after = group[0].0;
            let key = match &ops[group[0].1].value {
                OpValue::Keyed { key, .. } => Some(key.clone()),
                _ => None,
            };
            let names: Vec<String> = group
                .iter()
                .map(|&(_, p)| format!("index {} (process {})", ops[p].index, ops[p].process))
                .collect();
            Finding {
                anomaly: Anomaly::LostUpdate,
                explanation: format!(
                    "{} acknowledged increments of counter{} each read the counter back as {after} \
                     inside their own transaction: {}. In any serial order each increment sees the \
                     ones before it, so no two could leave the same value; these overwrote each \
                     other and {} of them {} lost.",
                    group.len(),
                    key.map(|k| format!(" {k}")).unwrap_or_default(),
                    names.join(", "),
                    group.len() - 1,
                    if group.len() == 2 { "was" } else { "were" },
                ),
                ops: group.iter().map(|&(_, p)| ops[p].index).collect(),
                txns: vec![],
                steps: vec![],
            }
        });
    }
}

/// " of counter k" for keyed counters, nothing for the single counter.
fn counter_name(key: &Option<Atom>) -> String {
    key.as_ref()
        .map(|k| format!(" of counter {k}"))
        .unwrap_or_default()
}

/// An `ok` read of a counter and its lower bound (set when the pass reaches its invocation).
struct Read {
    /// The counter read; `None` for the single counter.
    key: Option<Atom>,
    /// Position of the invocation.
    invoke: usize,
    /// Position of the completion.
    complete: usize,
    /// The value it returned.
    value: i64,
    /// Sum of the adds acknowledged before it was invoked.
    lower: i128,
    /// How many adds had been acknowledged before it was invoked.
    acked_before: usize,
}

/// An add's counter (`None`: the single counter), amount, the value it left, and the op that
/// carries the amount.
type AddValue<'a> = (Option<Atom>, i64, Option<i64>, &'a Op);

/// What an add adds, to which counter, the value it left (when acknowledged and recorded), and
/// the op that carries the amount: the invocation's value, or the completion's when the
/// invocation has none. `None` for a failed add with no value at all.
fn add_value<'a>(
    inv: &'a Op,
    completion: Option<&'a Op>,
    outcome: OpType,
) -> Result<Option<AddValue<'a>>, CheckError> {
    let after = match completion.map(|c| &c.value) {
        Some(OpValue::Keyed { after, .. }) if outcome == OpType::Ok => *after,
        _ => None,
    };
    for op in std::iter::once(inv).chain(completion) {
        match &op.value {
            OpValue::Int(v) => return Ok(Some((None, *v, None, op))),
            OpValue::Keyed {
                key,
                value: Some(value),
                ..
            } => return Ok(Some((Some(key.clone()), *value, after, op))),
            _ => {}
        }
    }
    if outcome == OpType::Fail {
        return Ok(None);
    }
    Err(CheckError::BadOp {
        index: inv.index,
        message: "a counter add must carry an integer value".into(),
    })
}

/// `n` of `what`, in words: "10 acknowledged increments" when every add is +1, otherwise
/// "acknowledged increments totalling 10".
fn amount(n: i128, unit: bool, what: &str) -> String {
    if unit {
        format!("{n} {what}{}", if n == 1 { "" } else { "s" })
    } else {
        format!("{what}s totalling {n}")
    }
}

/// The start of every explanation: which read, by whom, and what it returned.
fn read_intro(ops: &[Op], r: &Read) -> String {
    let done = &ops[r.complete];
    let invoked = if r.invoke == r.complete {
        String::new()
    } else {
        format!(", invoked at index {}", ops[r.invoke].index)
    };
    format!(
        "Read{} at index {} (process {}{invoked}) returned {}",
        counter_name(&r.key),
        done.index,
        done.process,
        r.value
    )
}

/// The ops a finding names: the read's invocation and its completion.
fn read_ops(ops: &[Op], r: &Read) -> Vec<u64> {
    vec![ops[r.invoke].index, ops[r.complete].index]
}

/// How many of the ops that prove a claim an explanation names; the rest are counted.
const SHOWN: usize = 3;

/// The value an acknowledged add read back in its own transaction, when recorded.
fn after_of(op: &Op) -> Option<i64> {
    match &op.value {
        OpValue::Keyed { after, .. } => *after,
        _ => None,
    }
}

/// "index 5 (process 0)", and what it read back when `with_after`.
fn add_name(op: &Op, with_after: bool) -> String {
    match after_of(op).filter(|_| with_after) {
        Some(a) => format!("index {} (process {}) read back {a}", op.index, op.process),
        None => format!("index {} (process {})", op.index, op.process),
    }
}

/// `names` joined, "and N {others}" when some were left out of `total`.
fn listed(names: &[String], total: usize, others: &str) -> String {
    let mut s = names.join(", ");
    if total > names.len() {
        s.push_str(&format!(" and {} {others}", total - names.len()));
    }
    s
}

/// A read below its lower bound, told by the ops that prove it. `before` are the positions of
/// the adds acknowledged before the read was invoked. Where some of them read the counter back
/// above the read's value, those are the proof (a counter only grows, so it had reached that
/// value before the read began); otherwise the acknowledged adds themselves are (the last
/// [`SHOWN`] named, the rest counted). The finding's ops are the adds named, then the read.
fn too_low(ops: &[Op], r: &Read, before: &[usize], upper: i128, unit: bool) -> Finding {
    let mut above: Vec<usize> = before
        .iter()
        .copied()
        .filter(|&p| after_of(&ops[p]).is_some_and(|a| a > r.value))
        .collect();
    let bounds = format!("lower bound {}, upper bound {upper}", r.lower);
    let (shown, explanation) =
        if let Some(top) = above.iter().filter_map(|&p| after_of(&ops[p])).max() {
            // The adds that read back the most, named in history order.
            let total = above.len();
            above.sort_by_key(|&p| std::cmp::Reverse(after_of(&ops[p])));
            above.truncate(SHOWN);
            above.sort_unstable();
            let names: Vec<String> = above.iter().map(|&p| add_name(&ops[p], true)).collect();
            let short = i128::from(top) - i128::from(r.value);
            let missed = if unit {
                format!(
                    "it missed at least {}",
                    amount(short, true, "acknowledged increment")
                )
            } else {
                format!("it is at least {short} short")
            };
            let one = total == 1;
            (
                above,
                format!(
                "{}, but {} acknowledged before it began read the counter back above {} in {} own \
                 transaction{}: {}. A counter only grows, so it had reached {top} before the read \
                 began: {missed} ({bounds}).",
                read_intro(ops, r),
                if one { "an add" } else { "adds" },
                r.value,
                if one { "its" } else { "their" },
                if one { "" } else { "s" },
                listed(&names, total, "more"),
            ),
            )
        } else {
            let missing = r.lower - i128::from(r.value);
            let acked = if unit {
                format!(
                    "{} {} acknowledged",
                    amount(r.lower, true, "increment"),
                    if r.lower == 1 { "was" } else { "were" }
                )
            } else {
                format!("{} were acknowledged", amount(r.lower, false, "increment"))
            };
            let lost = if unit {
                format!(
                    "{} {} missing",
                    amount(missing, true, "acknowledged increment"),
                    if missing == 1 { "is" } else { "are" }
                )
            } else {
                format!("it is {missing} short of what was acknowledged")
            };
            let last: Vec<usize> = before[before.len().saturating_sub(SHOWN)..].to_vec();
            let names: Vec<String> = last.iter().map(|&p| add_name(&ops[p], false)).collect();
            (
                last,
                format!(
                "{}, but {acked} before it began: {}. The read is below them ({bounds}): {lost}.",
                read_intro(ops, r),
                listed(&names, before.len(), "earlier"),
            ),
            )
        };
    // The adds first, as they happened first.
    let mut named: Vec<u64> = shown.iter().map(|&p| ops[p].index).collect();
    named.extend(read_ops(ops, r));
    Finding {
        anomaly: Anomaly::CounterTooLow,
        explanation,
        ops: named,
        txns: vec![],
        steps: vec![],
    }
}

fn too_high(ops: &[Op], r: &Read, upper: i128, unit: bool) -> Finding {
    let extra = i128::from(r.value) - upper;
    let what = if unit { "increments" } else { "adds" };
    Finding {
        anomaly: Anomaly::CounterTooHigh,
        explanation: format!(
            "{}, but at most {upper} could have been applied by the time it completed (lower bound \
             {}, upper bound {upper}): that is {extra} more than all the {what} attempted and not known \
             to have failed.",
            read_intro(ops, r),
            r.lower,
        ),
        ops: read_ops(ops, r),
        txns: vec![],
        steps: vec![],
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::history::read::read_history_str;

    fn run(text: &str) -> (Findings, LookedFor) {
        let h = read_history_str("counter.edn", text).expect("history parses");
        let mut f = Findings::new(8);
        let lf = check(&h, &mut f).expect("history checks");
        (f, lf)
    }

    fn run_file(name: &str) -> (Findings, LookedFor) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/elle-cli")
            .join(name);
        let h = crate::history::read_history(&path).expect("corpus file parses");
        let mut f = Findings::new(8);
        let lf = check(&h, &mut f).expect("corpus file checks");
        (f, lf)
    }

    /// Three acknowledged +1 adds by process 0, then a read by process 1 returning `v`.
    fn three_adds_then_read(v: i64) -> String {
        format!(
            "{{:type :invoke, :f :add, :value 1, :process 0, :index 0}}
{{:type :ok, :f :add, :value 1, :process 0, :index 1}}
{{:type :invoke, :f :add, :value 1, :process 0, :index 2}}
{{:type :ok, :f :add, :value 1, :process 0, :index 3}}
{{:type :invoke, :f :add, :value 1, :process 0, :index 4}}
{{:type :ok, :f :add, :value 1, :process 0, :index 5}}
{{:type :invoke, :f :read, :process 1, :index 6}}
{{:type :ok, :f :read, :value {v}, :process 1, :index 7}}
"
        )
    }

    #[test]
    fn read_below_acknowledged_adds_is_too_low() {
        let (f, lf) = run(&three_adds_then_read(2));
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::CounterTooLow]));
        assert!(!lf.nothing_to_check);
        let ex = &f.groups[&Anomaly::CounterTooLow].examples[0];
        // The read and the increments it missed.
        assert_eq!(ex.ops, vec![1, 3, 5, 6, 7]);
        assert!(ex.explanation.contains("returned 2"), "{}", ex.explanation);
        assert!(
            ex.explanation
                .contains("index 1 (process 0), index 3 (process 0), index 5 (process 0)"),
            "{}",
            ex.explanation
        );
        assert!(
            ex.explanation.contains("3 increments were acknowledged"),
            "{}",
            ex.explanation
        );
        assert!(
            ex.explanation
                .contains("1 acknowledged increment is missing"),
            "{}",
            ex.explanation
        );
        // The final read lost an increment: a note says so.
        assert_eq!(f.notes.len(), 1, "{:?}", f.notes);
        assert!(
            f.notes[0].contains("1 acknowledged increment was lost"),
            "{:?}",
            f.notes
        );
    }

    #[test]
    fn read_of_all_acknowledged_adds_is_valid() {
        let (f, lf) = run(&three_adds_then_read(3));
        assert!(f.found().is_empty());
        assert!(f.notes.is_empty());
        assert!(!lf.nothing_to_check);
    }

    #[test]
    fn read_above_attempted_adds_is_too_high() {
        let (f, _) = run(&three_adds_then_read(4));
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::CounterTooHigh]));
        let ex = &f.groups[&Anomaly::CounterTooHigh].examples[0];
        assert_eq!(ex.ops, vec![6, 7]);
        assert!(
            ex.explanation.contains("at most 3 could have been applied"),
            "{}",
            ex.explanation
        );
        assert!(f.notes.is_empty());
    }

    #[test]
    fn bounds_are_inclusive_for_concurrent_adds() {
        // An add concurrent with the read may or may not be seen: 0 and 1 both pass, 2 does not.
        let h = |v: i64| {
            format!(
                "{{:type :invoke, :f :read, :process 1, :index 0}}
{{:type :invoke, :f :add, :value 1, :process 0, :index 1}}
{{:type :ok, :f :add, :value 1, :process 0, :index 2}}
{{:type :ok, :f :read, :value {v}, :process 1, :index 3}}
"
            )
        };
        assert!(run(&h(0)).0.found().is_empty());
        assert!(run(&h(1)).0.found().is_empty());
        assert_eq!(
            run(&h(2)).0.found(),
            AnomalySet::of(&[Anomaly::CounterTooHigh])
        );
    }

    /// One add of 5 by process 0 completing as `outcome` (or never), then a read returning `v`.
    fn one_add_then_read(outcome: Option<&str>, v: i64) -> String {
        let completion = match outcome {
            Some(t) => format!("{{:type :{t}, :f :add, :value 5, :process 0, :index 1}}\n"),
            None => String::new(),
        };
        format!(
            "{{:type :invoke, :f :add, :value 5, :process 0, :index 0}}
{completion}{{:type :invoke, :f :read, :process 1, :index 2}}
{{:type :ok, :f :read, :value {v}, :process 1, :index 3}}
"
        )
    }

    #[test]
    fn info_add_counts_toward_upper_but_not_lower() {
        // The add may have happened: reading 0 or 5 is fine, 6 is too high.
        assert!(run(&one_add_then_read(Some("info"), 0))
            .0
            .found()
            .is_empty());
        assert!(run(&one_add_then_read(Some("info"), 5))
            .0
            .found()
            .is_empty());
        assert_eq!(
            run(&one_add_then_read(Some("info"), 6)).0.found(),
            AnomalySet::of(&[Anomaly::CounterTooHigh])
        );
        // An add that never completed is treated the same way.
        assert!(run(&one_add_then_read(None, 0)).0.found().is_empty());
        assert!(run(&one_add_then_read(None, 5)).0.found().is_empty());
        // Whereas an acknowledged one raises the lower bound.
        assert_eq!(
            run(&one_add_then_read(Some("ok"), 0)).0.found(),
            AnomalySet::of(&[Anomaly::CounterTooLow])
        );
        assert!(run(&one_add_then_read(Some("ok"), 5)).0.found().is_empty());
    }

    #[test]
    fn failed_add_counts_toward_neither_bound() {
        assert!(run(&one_add_then_read(Some("fail"), 0))
            .0
            .found()
            .is_empty());
        assert_eq!(
            run(&one_add_then_read(Some("fail"), 5)).0.found(),
            AnomalySet::of(&[Anomaly::CounterTooHigh])
        );
        // Non-unit adds are explained by amount, not by count.
        let (f, _) = run(&one_add_then_read(Some("ok"), 2));
        let ex = &f.groups[&Anomaly::CounterTooLow].examples[0];
        assert!(
            ex.explanation.contains("increments totalling 5"),
            "{}",
            ex.explanation
        );
        assert!(ex.explanation.contains("3 short"), "{}", ex.explanation);
    }

    #[test]
    fn only_ok_reads_are_checked() {
        let text = "{:type :invoke, :f :add, :value 1, :process 0, :index 0}
{:type :ok, :f :add, :value 1, :process 0, :index 1}
{:type :invoke, :f :read, :process 1, :index 2}
{:type :info, :f :read, :value 7, :process 1, :index 3}
{:type :invoke, :f :read, :process 2, :index 4}
{:type :fail, :f :read, :process 2, :index 5}
";
        let (f, lf) = run(text);
        assert!(f.found().is_empty());
        assert!(lf.nothing_to_check);
    }

    #[test]
    fn negative_add_is_a_bad_op() {
        let text = "{:type :invoke, :f :add, :value -1, :process 0, :index 0}
{:type :ok, :f :add, :value -1, :process 0, :index 1}
";
        let h = read_history_str("neg.edn", text).unwrap();
        let err = check(&h, &mut Findings::new(8)).unwrap_err();
        match err {
            CheckError::BadOp { index, message } => {
                assert_eq!(index, 0);
                assert!(
                    message.contains("counter adds must be non-negative"),
                    "{message}"
                );
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn lost_final_increments_are_noted() {
        // Dolt-style: ten acknowledged increments, then a final read of 2.
        let mut text = String::new();
        for i in 0..10 {
            text += &format!(
                "{{:type :invoke, :f :add, :value 1, :process 0, :index {}}}\n",
                2 * i
            );
            text += &format!(
                "{{:type :ok, :f :add, :value 1, :process 0, :index {}}}\n",
                2 * i + 1
            );
        }
        text += "{:type :invoke, :f :read, :process 1, :index 20}\n";
        text += "{:type :ok, :f :read, :value 2, :process 1, :index 21}\n";
        let (f, _) = run(&text);
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::CounterTooLow]));
        assert_eq!(
            f.notes,
            vec![
                "final read 2 (index 21) is below the 10 acknowledged increments: 8 acknowledged \
                  increments were lost"
                    .to_string()
            ]
        );
    }

    #[test]
    fn a_too_low_read_names_a_few_of_many_increments_and_counts_the_rest() {
        let mut text = String::new();
        for i in 0..10 {
            text += &format!(
                "{{:type :invoke, :f :add, :value 1, :process 0, :index {}}}\n",
                2 * i
            );
            text += &format!(
                "{{:type :ok, :f :add, :value 1, :process 0, :index {}}}\n",
                2 * i + 1
            );
        }
        text += "{:type :invoke, :f :read, :process 1, :index 20}\n";
        text += "{:type :ok, :f :read, :value 2, :process 1, :index 21}\n";
        let (f, _) = run(&text);
        let ex = &f.groups[&Anomaly::CounterTooLow].examples[0];
        assert_eq!(ex.ops, vec![15, 17, 19, 20, 21]);
        assert!(
            ex.explanation.contains(
                "index 15 (process 0), index 17 (process 0), index 19 (process 0) and 7 earlier"
            ),
            "{}",
            ex.explanation
        );
    }

    #[test]
    fn a_too_low_read_is_proved_by_the_increments_that_read_back_more() {
        // Four increments read the counter back as 1..4, then a read returns 1: the three that
        // read back 2, 3 and 4 prove it, and the counter had reached 4.
        let mut text = String::new();
        for i in 0..4 {
            text += &format!(
                r#"{{"type":"invoke","f":"add","value":[0,1],"process":0,"index":{}}}"#,
                2 * i
            );
            text += "\n";
            text += &format!(
                r#"{{"type":"ok","f":"add","value":[0,1,{}],"process":0,"index":{}}}"#,
                i + 1,
                2 * i + 1
            );
            text += "\n";
        }
        text += r#"{"type":"invoke","f":"read","value":[0,null],"process":1,"index":8}"#;
        text += "\n";
        text += r#"{"type":"ok","f":"read","value":[0,1],"process":1,"index":9}"#;
        let (f, _) = run(&text);
        let ex = &f.groups[&Anomaly::CounterTooLow].examples[0];
        assert_eq!(ex.ops, vec![3, 5, 7, 8, 9], "{}", ex.explanation);
        assert!(
            ex.explanation.contains("index 7 (process 0) read back 4"),
            "{}",
            ex.explanation
        );
        assert!(
            ex.explanation
                .contains("it had reached 4 before the read began"),
            "{}",
            ex.explanation
        );
        assert!(
            ex.explanation
                .contains("it missed at least 3 acknowledged increments"),
            "{}",
            ex.explanation
        );
        assert!(!ex.explanation.contains("index 1 "), "{}", ex.explanation);
    }

    #[test]
    fn corpus_counter_histories_are_valid() {
        // elle-cli expects both to pass. They hold 287 acknowledged adds and no reads at all, so
        // there is nothing that could be out of bounds: no findings, and nothing to check.
        for name in ["counter.edn", "counter.json"] {
            let (f, lf) = run_file(name);
            assert!(f.found().is_empty(), "{name}: {:?}", f.groups);
            assert!(f.notes.is_empty(), "{name}: {:?}", f.notes);
            assert!(lf.nothing_to_check, "{name}");
        }
    }

    /// Two increments of counter 7 by processes 0 and 1, reading back `a` and `b`, then a read
    /// of counter 7 returning `final_v` and a read of counter 8 returning 0.
    fn keyed_adds(a: i64, b: i64, final_v: i64) -> String {
        format!(
            r#"{{"type":"invoke","f":"add","value":[7,1],"process":0,"index":0}}
{{"type":"invoke","f":"add","value":[7,1],"process":1,"index":1}}
{{"type":"ok","f":"add","value":[7,1,{a}],"process":0,"index":2}}
{{"type":"ok","f":"add","value":[7,1,{b}],"process":1,"index":3}}
{{"type":"invoke","f":"read","value":[7,null],"process":0,"index":4}}
{{"type":"ok","f":"read","value":[7,{final_v}],"process":0,"index":5}}
{{"type":"invoke","f":"read","value":[8,null],"process":1,"index":6}}
{{"type":"ok","f":"read","value":[8,0],"process":1,"index":7}}
"#
        )
    }

    #[test]
    fn equal_after_values_are_a_lost_update() {
        let (f, lf) = run(&keyed_adds(1, 1, 1));
        assert_eq!(
            f.found(),
            AnomalySet::of(&[Anomaly::LostUpdate, Anomaly::CounterTooLow])
        );
        assert!(lf.searched.contains(Anomaly::LostUpdate));
        let ex = &f.groups[&Anomaly::LostUpdate].examples[0];
        assert_eq!(ex.ops, vec![2, 3]);
        assert!(ex.explanation.contains("counter 7"), "{}", ex.explanation);
        let low = &f.groups[&Anomaly::CounterTooLow].examples[0];
        assert!(
            low.explanation.contains("of counter 7"),
            "{}",
            low.explanation
        );
    }

    #[test]
    fn distinct_after_values_and_separate_counters_are_valid() {
        let (f, lf) = run(&keyed_adds(1, 2, 2));
        assert!(f.found().is_empty(), "{:?}", f.found());
        assert!(lf.searched.contains(Anomaly::LostUpdate));
    }

    #[test]
    fn plain_counters_do_not_claim_to_search_lost_updates() {
        let (_, lf) = run(&three_adds_then_read(3));
        assert!(!lf.relevant.contains(Anomaly::LostUpdate));
    }
}
