//! The set workload (Jepsen's `set`): adds of unique elements, and reads of the whole set.
//!
//! A set only grows, and each add names its element, so every element a read returns must have
//! been added by some op. The isolation side checks exactly that, for every `ok` read:
//! - an element no add ever attempted is [`Anomaly::GarbageRead`];
//! - an element that only failed adds attempted is [`Anomaly::G1a`], an aborted read: `fail`
//!   means the add certainly did not take effect, yet a read saw it.
//!
//! What Jepsen's set checker is known for (acknowledged adds missing from the final read, and
//! indeterminate ones found there) is a question about the final state, not about isolation;
//! [`super::durability`] answers it, and [`super::check`] always runs it for sets.
//!
//! A read is a set: an element read twice (a vector reader may repeat one) counts once.
//! Invokes are paired with completions by process ([`crate::history::Pairs`]).

use rustc_hash::FxHashMap;

use crate::history::{Completion, History, Op, OpFn, OpType, OpValue};

use super::{Anomaly, AnomalySet, CheckError, Finding, Findings, LookedFor};

/// The best outcome among the adds of one element: acknowledged beats indeterminate beats failed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Added {
    /// Only failed adds: the element must not be in the set.
    Failed,
    /// Some add may have happened (`info`, or never completed).
    Indeterminate,
    /// Some add was acknowledged.
    Acknowledged,
}

impl Added {
    /// The class of an add with this outcome.
    pub(super) fn of(outcome: OpType) -> Added {
        match outcome {
            OpType::Ok => Added::Acknowledged,
            OpType::Fail => Added::Failed,
            _ => Added::Indeterminate,
        }
    }
}

/// The element an add adds: the invocation's integer value, or the completion's when the
/// invocation has none; `None` when neither carries one.
pub(super) fn added_element<'h>(ops: &'h [Op], c: &Completion) -> Option<&'h i64> {
    std::iter::once(c.invoke)
        .chain(c.complete)
        .find_map(|i| match &ops[i].value {
            OpValue::Int(e) => Some(e),
            _ => None,
        })
}

/// The elements an `ok` set read returned.
pub(super) fn read_elements(op: &Op) -> Option<&[i64]> {
    match &op.value {
        OpValue::Elements(e) => Some(e),
        _ => None,
    }
}

/// The anomaly types a set history can show.
pub fn relevant() -> AnomalySet {
    AnomalySet::of(&[Anomaly::GarbageRead, Anomaly::G1a])
}

/// Checks a set history: every element of every `ok` read was added by some op, and not only
/// by failed ones. One finding per read and type, naming the read and (up to a few of) the
/// elements.
///
/// Errors with [`CheckError::BadOp`] on an add with no integer element (unless it failed) or an
/// `ok` read that did not return a collection of elements.
pub fn check(h: &History, f: &mut Findings) -> Result<LookedFor, CheckError> {
    let ops = &h.ops;
    let pairs = h.pairs();
    // Every element attempted, with the best outcome of its adds.
    let mut added: FxHashMap<i64, (Added, usize)> = FxHashMap::default();
    for c in &pairs.list {
        if ops[c.invoke].f != OpFn::Add {
            continue;
        }
        let Some(&e) = added_element(ops, c) else {
            if c.outcome == OpType::Fail {
                continue;
            }
            return Err(CheckError::BadOp {
                index: ops[c.invoke].index,
                message: "a set add must carry an integer element".into(),
            });
        };
        let class = Added::of(c.outcome);
        let at = c.complete.unwrap_or(c.invoke);
        added
            .entry(e)
            .and_modify(|best| {
                if class > best.0 {
                    *best = (class, at);
                }
            })
            .or_insert((class, at));
    }

    let mut any_read = false;
    let mut garbage = Vec::new();
    let mut aborted = Vec::new();
    for c in &pairs.list {
        if ops[c.invoke].f != OpFn::Read || c.outcome != OpType::Ok {
            continue;
        }
        let done = c.complete.unwrap_or(c.invoke);
        let Some(elems) = read_elements(&ops[done]) else {
            return Err(CheckError::BadOp {
                index: ops[done].index,
                message: "an ok set read must return a collection of elements".into(),
            });
        };
        any_read = true;
        garbage.clear();
        aborted.clear();
        // Sorted, so a repeated element is next to itself.
        let mut prev = None;
        for &e in elems {
            if prev == Some(e) {
                continue;
            }
            prev = Some(e);
            match added.get(&e) {
                None => garbage.push(e),
                Some(&(Added::Failed, at)) => aborted.push((e, at)),
                Some(_) => {}
            }
        }
        if !garbage.is_empty() {
            f.add(Anomaly::GarbageRead, || Finding {
                anomaly: Anomaly::GarbageRead,
                explanation: format!(
                    "Read at index {} (process {}) returned {}, which no add ever attempted.",
                    ops[done].index,
                    ops[done].process,
                    some_elements(&garbage, garbage.len()),
                ),
                ops: vec![ops[c.invoke].index, ops[done].index],
                txns: vec![],
                steps: vec![],
            });
        }
        if !aborted.is_empty() {
            f.add(Anomaly::G1a, || {
                let first = &ops[aborted[0].1];
                let elems: Vec<i64> = aborted.iter().map(|&(e, _)| e).collect();
                Finding {
                    anomaly: Anomaly::G1a,
                    explanation: format!(
                        "Read at index {} (process {}) returned {}, which only failed adds \
                         attempted (element {} failed at index {}, process {}): a failed add \
                         certainly did not happen, so no committed read may see it.",
                        ops[done].index,
                        ops[done].process,
                        some_elements(&elems, elems.len()),
                        aborted[0].0,
                        first.index,
                        first.process,
                    ),
                    ops: vec![first.index, ops[done].index],
                    txns: vec![],
                    steps: vec![],
                }
            });
        }
    }
    Ok(LookedFor {
        relevant: relevant(),
        searched: relevant(),
        nothing_to_check: !any_read,
    })
}

/// "element 5" or "elements 5, 7, 9 and 12 more", for explanations.
pub(super) fn some_elements(elems: &[i64], total: usize) -> String {
    const SHOWN: usize = 5;
    let shown: Vec<String> = elems.iter().take(SHOWN).map(i64::to_string).collect();
    match total {
        1 => format!("element {}", shown[0]),
        n if n <= SHOWN => format!("elements {}", shown.join(", ")),
        n => format!("elements {} and {} more", shown.join(", "), n - shown.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read::read_history_str;

    fn run(text: &str) -> Result<(Findings, LookedFor), CheckError> {
        let h = read_history_str("set.edn", text).expect("history parses");
        let mut f = Findings::new(8);
        let lf = check(&h, &mut f)?;
        Ok((f, lf))
    }

    /// Adds of 1 (ok), 2 (fail) and 3 (info), then a read returning `read`.
    fn history(read: &str) -> String {
        format!(
            "{{:index 0 :type :invoke :process 0 :f :add :value 1}}
{{:index 1 :type :ok :process 0 :f :add :value 1}}
{{:index 2 :type :invoke :process 1 :f :add :value 2}}
{{:index 3 :type :fail :process 1 :f :add :value 2}}
{{:index 4 :type :invoke :process 2 :f :add :value 3}}
{{:index 5 :type :info :process 2 :f :add :value 3}}
{{:index 6 :type :invoke :process 0 :f :read :value nil}}
{{:index 7 :type :ok :process 0 :f :read :value {read}}}
"
        )
    }

    #[test]
    fn elements_of_ok_and_indeterminate_adds_are_fine() {
        for read in ["#{}", "#{1}", "#{1 3}", "[3 1 1]"] {
            let (f, lf) = run(&history(read)).unwrap();
            assert!(f.found().is_empty(), "{read}: {:?}", f.found());
            assert!(!lf.nothing_to_check);
            assert_eq!(lf.searched, relevant());
        }
    }

    #[test]
    fn an_element_nobody_added_is_garbage() {
        let (f, _) = run(&history("#{1 3 42}")).unwrap();
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::GarbageRead]));
        let ex = &f.groups[&Anomaly::GarbageRead].examples[0];
        assert_eq!(ex.ops, vec![6, 7]);
        assert!(ex.explanation.contains("element 42"), "{}", ex.explanation);
    }

    #[test]
    fn an_element_only_a_failed_add_attempted_is_an_aborted_read() {
        let (f, _) = run(&history("#{1 2}")).unwrap();
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::G1a]));
        let ex = &f.groups[&Anomaly::G1a].examples[0];
        assert_eq!(ex.ops, vec![3, 7]);
        assert!(ex.explanation.contains("element 2"), "{}", ex.explanation);
    }

    #[test]
    fn no_ok_read_is_nothing_to_check() {
        let text = "{:index 0 :type :invoke :process 0 :f :add :value 1}
{:index 1 :type :ok :process 0 :f :add :value 1}
{:index 2 :type :invoke :process 0 :f :read :value nil}
{:index 3 :type :info :process 0 :f :read :value nil}
";
        let (f, lf) = run(text).unwrap();
        assert!(f.found().is_empty());
        assert!(lf.nothing_to_check);
    }

    #[test]
    fn bad_ops_are_errors_not_panics() {
        let text = "{:index 0 :type :invoke :process 0 :f :add :value nil}
{:index 1 :type :ok :process 0 :f :add :value nil}
";
        assert!(matches!(run(text), Err(CheckError::BadOp { index: 0, .. })));
        let text = "{:index 0 :type :invoke :process 0 :f :add :value 1}
{:index 1 :type :invoke :process 1 :f :read :value nil}
{:index 2 :type :ok :process 1 :f :read :value 4}
";
        assert!(matches!(run(text), Err(CheckError::BadOp { index: 2, .. })));
    }

    #[test]
    fn adds_with_collection_reads_are_a_set_and_otherwise_a_counter() {
        use crate::checker::Workload;
        let detect = |text: &str| Workload::detect(&read_history_str("h.edn", text).unwrap());
        assert_eq!(detect(&history("#{1 3}")), Some(Workload::Set));
        assert_eq!(detect(&history("#{1 3 5 7}")), Some(Workload::Set));
        assert_eq!(detect(&history("4")), Some(Workload::Counter));
        let adds_only = "{:index 0 :type :invoke :process 0 :f :add :value 1}
{:index 1 :type :ok :process 0 :f :add :value 1}
";
        assert_eq!(detect(adds_only), Some(Workload::Counter));
        let keyed = "{:index 0 :type :invoke :process 0 :f :add :value [1 1]}
{:index 1 :type :ok :process 0 :f :read :value [1 1]}
";
        assert_eq!(detect(keyed), Some(Workload::Counter));
        assert_eq!(
            <Workload as clap::ValueEnum>::from_str("set", false),
            Ok(Workload::Set)
        );
        assert_eq!(Workload::Set.name(), "set");
    }

    #[test]
    fn many_elements_are_summed_up() {
        assert_eq!(some_elements(&[1], 1), "element 1");
        assert_eq!(some_elements(&[1, 2], 2), "elements 1, 2");
        assert_eq!(
            some_elements(&[1, 2, 3, 4, 5, 6, 7], 7),
            "elements 1, 2, 3, 4, 5 and 2 more"
        );
    }
}
