//! The counter workload: increments (`add`) and reads of one shared counter.
//!
//! This is Jepsen's `jepsen.checker/counter`, bound for bound. The counter starts at zero and only
//! grows, so every read is held between two sums computed in one pass in history order:
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
//! Invokes are paired with completions by process ([`crate::history::Pairs`]); a completion with
//! no invocation (histories that keep only completions) stands for both at its position.

use crate::history::{History, Op, OpFn, OpType, OpValue};

use super::{Anomaly, AnomalySet, CheckError, Finding, Findings, LookedFor};

/// No read starts at this position.
const NONE: usize = usize::MAX;

/// Checks a counter history the way `jepsen.checker/counter` does: every `ok` read must lie
/// between the sum of adds acknowledged before it was invoked and the sum of adds attempted and
/// not known failed by the time it completed, both inclusive.
///
/// Each read out of bounds is one finding ([`Anomaly::CounterTooLow`] or
/// [`Anomaly::CounterTooHigh`]) naming the read's invocation and completion. When the last `ok`
/// read is below what was acknowledged before it began, a note says how much was lost.
///
/// Errors with [`CheckError::BadOp`] on a negative add, an add with no integer value (unless it
/// failed), or an `ok` read that did not return an integer.
pub fn check(h: &History, f: &mut Findings) -> Result<LookedFor, CheckError> {
    let ops = &h.ops;
    let n = ops.len();
    // What happens at each position, in the order applied there: `upper += upper_at[p]`,
    // a read invoked at p takes its lower bound, `lower += lower_at[p]`, a read completed at p is
    // checked. Sums are i128 so that no history of i64 adds can overflow them.
    let mut upper_at = vec![0i128; n];
    let mut lower_at = vec![0i128; n];
    // For each position, the read (index into `reads`) invoked / completed there.
    let mut read_invoked = vec![NONE; n];
    let mut read_completed = vec![NONE; n];
    let mut reads: Vec<Read> = Vec::new();
    // Whether every counted add is `+1`: explanations then speak of increments by count.
    let mut unit = true;

    for c in h.pairs().list {
        let inv = &ops[c.invoke];
        match inv.f {
            OpFn::Add => {
                let completion = c.complete.map(|i| &ops[i]);
                let Some((v, at)) = add_value(inv, completion, c.outcome)? else {
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
                upper_at[c.invoke] += i128::from(v);
                if c.outcome == OpType::Ok {
                    // `complete` is always set for an ok outcome.
                    lower_at[c.complete.unwrap_or(c.invoke)] += i128::from(v);
                }
            }
            OpFn::Read if c.outcome == OpType::Ok => {
                let done = c.complete.unwrap_or(c.invoke);
                let value = match ops[done].value {
                    OpValue::Int(v) => v,
                    _ => {
                        return Err(CheckError::BadOp {
                            index: ops[done].index,
                            message: "an ok counter read must return an integer".into(),
                        })
                    }
                };
                read_invoked[c.invoke] = reads.len();
                read_completed[done] = reads.len();
                reads.push(Read {
                    invoke: c.invoke,
                    complete: done,
                    value,
                    lower: 0,
                });
            }
            _ => {}
        }
    }

    let (mut lower, mut upper) = (0i128, 0i128);
    // The last ok read to complete.
    let mut last: Option<usize> = None;
    for p in 0..n {
        upper += upper_at[p];
        if read_invoked[p] != NONE {
            reads[read_invoked[p]].lower = lower;
        }
        lower += lower_at[p];
        if read_completed[p] != NONE {
            let r = &reads[read_completed[p]];
            let v = i128::from(r.value);
            if v < r.lower {
                f.add(Anomaly::CounterTooLow, || too_low(ops, r, upper, unit));
            } else if v > upper {
                f.add(Anomaly::CounterTooHigh, || too_high(ops, r, upper, unit));
            }
            last = Some(read_completed[p]);
        }
    }

    if let Some(i) = last {
        let r = &reads[i];
        let v = i128::from(r.value);
        // `lower` is now every acknowledged add of the history.
        if v < lower {
            let what = amount(lower, unit, "acknowledged increment");
            let note =
                if r.lower == lower {
                    format!(
                        "final read {} (index {}) is below the {what}: {} {} lost",
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
                    "final read {} (index {}) is below the {what} of the whole history; {} had \
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

    let kinds = AnomalySet::of(&[Anomaly::CounterTooLow, Anomaly::CounterTooHigh]);
    Ok(LookedFor {
        relevant: kinds,
        searched: kinds,
        nothing_to_check: reads.is_empty(),
    })
}

/// An `ok` read of the counter and its lower bound (set when the pass reaches its invocation).
struct Read {
    /// Position of the invocation.
    invoke: usize,
    /// Position of the completion.
    complete: usize,
    /// The value it returned.
    value: i64,
    /// Sum of the adds acknowledged before it was invoked.
    lower: i128,
}

/// The amount an add adds, and the op that carries it: the invocation's value, or the
/// completion's when the invocation has none. `None` for a failed add with no value at all.
fn add_value<'a>(
    inv: &'a Op,
    completion: Option<&'a Op>,
    outcome: OpType,
) -> Result<Option<(i64, &'a Op)>, CheckError> {
    if let OpValue::Int(v) = inv.value {
        return Ok(Some((v, inv)));
    }
    if let Some(c) = completion {
        if let OpValue::Int(v) = c.value {
            return Ok(Some((v, c)));
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
        "Read at index {} (process {}{invoked}) returned {}",
        done.index, done.process, r.value
    )
}

/// The ops a finding names: the read's invocation and its completion.
fn read_ops(ops: &[Op], r: &Read) -> Vec<u64> {
    vec![ops[r.invoke].index, ops[r.complete].index]
}

fn too_low(ops: &[Op], r: &Read, upper: i128, unit: bool) -> Finding {
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
    Finding {
        anomaly: Anomaly::CounterTooLow,
        explanation: format!(
            "{}, but {acked} before it began (lower bound {}, upper bound {upper}): {lost}.",
            read_intro(ops, r),
            r.lower,
        ),
        ops: read_ops(ops, r),
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
            .join("../shared/corpus/elle-cli")
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
        assert_eq!(ex.ops, vec![6, 7]);
        assert!(ex.explanation.contains("returned 2"), "{}", ex.explanation);
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
}
