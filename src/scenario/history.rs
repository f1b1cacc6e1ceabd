//! A scenario's trace as an rw-register history, so the checker can judge it too.
//!
//! Only for scenarios of item reads and writes ([`Scenario::item_only`]): each row is a
//! register, each session one transaction (ok if it committed, fail otherwise), its reads and
//! writes the micro-ops, in step order. The table as set up is a first transaction that wrote
//! every row; the final table a last one that read them. The checker needs each written value
//! to be unique per key; where a scenario writes one value twice to a row (Hermitage's P4 sets
//! 11 twice), those writes get distinct names (`11@T1`, `11@T2`) and a read of that value, which
//! cannot say whose it saw, is left out. Leaving a read out only removes edges: the checker may
//! then see less, never something that did not happen.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::runner::{Outcome, SessionEnd, Trace};
use super::spec::{Scenario, Shape};
use super::verdict::as_rows;
use crate::checker::{self, CheckOptions, Model, Validity};
use crate::history::{Atom, History, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult};

/// The checker's verdict, as a cell records it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judged {
    /// Serializable.
    Valid,
    /// Not serializable.
    Invalid,
    /// Could not be decided.
    Unknown,
}

impl From<Validity> for Judged {
    fn from(v: Validity) -> Judged {
        match v {
            Validity::Valid => Judged::Valid,
            Validity::Invalid => Judged::Invalid,
            Validity::Unknown => Judged::Unknown,
        }
    }
}

impl std::fmt::Display for Judged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Validity::fmt(
            &match self {
                Judged::Valid => Validity::Valid,
                Judged::Invalid => Validity::Invalid,
                Judged::Unknown => Validity::Unknown,
            },
            f,
        )
    }
}

/// What the checker made of a cell's history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckerView {
    /// Its verdict against serializability.
    pub valid: Judged,
    /// The anomalies it named.
    pub anomalies: Vec<String>,
    /// Whether it agrees with the scenario's own verdict: it found the scenario's anomaly (one
    /// of [`Scenario::checker`], or any when that is empty) exactly when the scenario showed it.
    pub agrees: bool,
    /// Reads left out because their value could not be told apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CheckerView {
    /// What differs between this view and the scenario's own verdict, in a sentence: `showed` is
    /// whether the sessions showed the anomaly, `expected` the checker's names for it (empty:
    /// any). Meant for a view that does not agree.
    pub fn disagreement(&self, showed: bool, expected: &[String]) -> String {
        let lead = "the checker, given the same steps as a history,";
        let found = if self.anomalies.is_empty() {
            "an anomaly it does not name".to_string()
        } else {
            self.anomalies.join(", ")
        };
        match (self.valid, showed) {
            (Judged::Unknown, _) => format!(
                "{lead} could not decide{}",
                self.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
            (Judged::Valid, true) => {
                format!("{lead} finds no anomaly: it calls the history serializable")
            }
            (Judged::Invalid, true) => format!(
                "{lead} also finds it not serializable, but names {found}{}",
                if expected.is_empty() {
                    String::new()
                } else {
                    format!(", not {}", expected.join(" or "))
                }
            ),
            (Judged::Invalid, false) => {
                format!("the sessions showed no anomaly, but {lead} finds {found}")
            }
            (Judged::Valid, false) => format!("{lead} agrees that no anomaly showed"),
        }
    }
}

/// Builds the history of an item-only scenario's trace; `None` for other scenarios.
pub fn to_history(scenario: &Scenario, trace: &Trace) -> Option<(History, usize)> {
    if !scenario.item_only() {
        return None;
    }
    let initial = as_rows(&trace.initial);
    // How many times each (key, value) is written, the setup included.
    let mut writes: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    for (k, v) in &initial {
        *writes.entry((*k, *v)).or_default() += 1;
    }
    for s in &scenario.steps {
        if let Shape::ItemWrite { key, value } = s.shape {
            *writes.entry((key, value)).or_default() += 1;
        }
    }
    let unique = |k: i64, v: i64| writes.get(&(k, v)).copied().unwrap_or(0) <= 1;
    let mut dropped = 0;
    let read_mop = |k: i64, v: Option<i64>, dropped: &mut usize| match v {
        None => Some(Mop::Read {
            key: Atom::Int(k),
            value: ReadResult::Nil,
        }),
        Some(v) if unique(k, v) => Some(Mop::Read {
            key: Atom::Int(k),
            value: ReadResult::Scalar(Atom::Int(v)),
        }),
        Some(_) => {
            *dropped += 1;
            None
        }
    };
    let write_value = |k: i64, v: i64, who: &str| {
        if unique(k, v) {
            Atom::Int(v)
        } else {
            Atom::from(format!("{v}@{who}").as_str())
        }
    };
    let mut keys: Vec<i64> = initial.keys().copied().collect();
    for s in &scenario.steps {
        if let Shape::ItemWrite { key, .. } = s.shape {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.sort_unstable();

    // (position, op): positions order the history; a session's invoke sits at its start, its
    // completion where its end returned.
    let mut ops: Vec<(usize, usize, Op)> = Vec::new();
    let op = |kind, process, value| Op {
        index: 0,
        time: None,
        kind,
        process: Process::Client(process),
        f: OpFn::Txn,
        value: OpValue::Txn(value),
        error: None,
        sql: None,
    };
    let seed: Vec<Mop> = initial
        .iter()
        .map(|(k, v)| Mop::Write {
            key: Atom::Int(*k),
            value: write_value(*k, *v, "setup"),
        })
        .collect();
    ops.push((0, 0, op(OpType::Invoke, 0, seed.clone())));
    ops.push((0, 1, op(OpType::Ok, 0, seed)));
    for (i, (name, end)) in trace.sessions.iter().enumerate() {
        let mut invoke_mops = Vec::new();
        let mut mops = Vec::new();
        let mut first = None;
        let mut last = 0;
        for (step, rec) in scenario.steps.iter().zip(&trace.steps) {
            if step.session != *name {
                continue;
            }
            first.get_or_insert(rec.step);
            last = last.max(rec.returned_during.unwrap_or(rec.step));
            let Outcome::Ok { rows, .. } = &rec.outcome else {
                continue;
            };
            match &step.shape {
                Shape::ItemRead(which) => {
                    let got = as_rows(rows.as_deref().unwrap_or(&[]));
                    let ks = which.clone().unwrap_or_else(|| keys.clone());
                    for k in ks {
                        invoke_mops.push(Mop::Read {
                            key: Atom::Int(k),
                            value: ReadResult::Nil,
                        });
                        if let Some(m) = read_mop(k, got.get(&k).copied(), &mut dropped) {
                            mops.push(m);
                        }
                    }
                }
                Shape::ItemWrite { key, value } => {
                    let m = Mop::Write {
                        key: Atom::Int(*key),
                        value: write_value(*key, *value, name),
                    };
                    invoke_mops.push(m.clone());
                    mops.push(m);
                }
                _ => {}
            }
        }
        let kind = if *end == SessionEnd::Committed {
            OpType::Ok
        } else {
            OpType::Fail
        };
        let p = i as u64 + 1;
        // Sessions begin before step 1 unless a begin step places them.
        let start = if scenario
            .steps
            .iter()
            .any(|s| s.session == *name && s.shape == Shape::Begin)
        {
            first.unwrap_or(1)
        } else {
            0
        };
        ops.push((start, 2 + i, op(OpType::Invoke, p, invoke_mops)));
        ops.push((last + 1, 2 + i, op(kind, p, mops)));
    }
    let fin = as_rows(&trace.final_rows);
    let reads: Vec<Mop> = keys
        .iter()
        .filter_map(|k| read_mop(*k, fin.get(k).copied(), &mut dropped))
        .collect();
    let p = trace.sessions.len() as u64 + 1;
    let end = usize::MAX;
    let invoke: Vec<Mop> = keys
        .iter()
        .map(|k| Mop::Read {
            key: Atom::Int(*k),
            value: ReadResult::Nil,
        })
        .collect();
    ops.push((end, 0, op(OpType::Invoke, p, invoke)));
    ops.push((end, 1, op(OpType::Ok, p, reads)));
    // Stable: by position, completions of a position after its invokes.
    ops.sort_by_key(|(pos, tie, o)| (*pos, o.kind != OpType::Invoke, *tie));
    let mut h = History::default();
    for (i, (_, _, mut o)) in ops.into_iter().enumerate() {
        o.index = i as u64;
        h.ops.push(o);
    }
    Some((h, dropped))
}

/// Checks an item-only trace against serializability; `None` for other scenarios.
pub fn check(scenario: &Scenario, trace: &Trace, anomaly: bool) -> Option<CheckerView> {
    let (h, dropped) = to_history(scenario, trace)?;
    let opts = CheckOptions {
        models: vec![Model::Serializable],
        workload: Some(checker::Workload::RwRegister),
        ..CheckOptions::default()
    };
    let view = match checker::check(&h, &opts) {
        Ok(r) => {
            let found = if scenario.checker.is_empty() {
                r.valid == Validity::Invalid
            } else {
                scenario.checker.iter().any(|a| r.anomalies.contains_key(a))
            };
            let agrees = found == anomaly && r.valid != Validity::Unknown;
            CheckerView {
                valid: r.valid.into(),
                anomalies: r.anomaly_types.iter().map(|a| a.to_string()).collect(),
                agrees,
                note: (dropped > 0).then(|| {
                    format!("{dropped} read(s) of a value written twice to one row left out")
                }),
            }
        }
        Err(e) => CheckerView {
            valid: Judged::Unknown,
            anomalies: Vec::new(),
            agrees: false,
            note: Some(e.to_string()),
        },
    };
    Some(view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::verdict::tests::{builtin, done, p4, read, trace};

    /// Hermitage's g2-item with T1 reading the seed and T2 reading row 1 as `t2_row1`.
    fn g2_item(t2_row1: i64) -> Trace {
        let outcomes = vec![
            read(&[(1, 10), (2, 20)]),
            read(&[(1, t2_row1), (2, 20)]),
            done(),
            done(),
            done(),
            done(),
        ];
        let both = [SessionEnd::Committed, SessionEnd::Committed];
        trace(&builtin("g2-item"), outcomes, &both, &[(1, 11), (2, 21)])
    }

    #[test]
    fn a_disagreement_says_what_differs() {
        let view = |valid, anomalies: &[&str]| CheckerView {
            valid,
            anomalies: anomalies.iter().map(|a| a.to_string()).collect(),
            agrees: false,
            note: None,
        };
        let lost = vec!["lost-update".to_string()];
        let other = view(Judged::Invalid, &["internal"]).disagreement(true, &lost);
        assert!(
            other.ends_with("also finds it not serializable, but names internal, not lost-update"),
            "{other}"
        );
        assert!(!other.contains("disagrees: it says invalid"), "{other}");
        let none = view(Judged::Valid, &[]).disagreement(true, &lost);
        assert!(none.contains("finds no anomaly"), "{none}");
        let extra = view(Judged::Invalid, &["G2-item"]).disagreement(false, &lost);
        assert!(
            extra.starts_with("the sessions showed no anomaly") && extra.ends_with("finds G2-item"),
            "{extra}"
        );
    }

    #[test]
    fn write_skew_goes_through_the_checker_and_its_serial_twin_does_not() {
        let g2 = builtin("g2-item");
        let k = check(&g2, &g2_item(10), true).unwrap();
        assert_eq!(k.valid, Judged::Invalid);
        assert!(k.anomalies.contains(&"G2-item".to_string()), "{k:?}");
        assert!(k.agrees);
        // T2 read T1's write: T1 then T2, serializable.
        let k = check(&g2, &g2_item(11), false).unwrap();
        assert_eq!(k.valid, Judged::Valid, "{k:?}");
        assert!(k.agrees);
        // Predicate scenarios are not the checker's.
        assert!(check(&builtin("g2"), &g2_item(11), false).is_none());
    }

    #[test]
    fn a_value_written_twice_gets_distinct_names_and_its_reads_are_left_out() {
        let sc = builtin("p4");
        let lost = p4(10, done(), done(), SessionEnd::Committed);
        let (h, dropped) = to_history(&sc, &lost).unwrap();
        assert_eq!(
            dropped, 1,
            "the final read of 11 cannot say whose 11 it saw"
        );
        let text = format!("{:?}", h.ops);
        assert!(text.contains("11@T1") && text.contains("11@T2"), "{text}");
        let k = check(&sc, &lost, true).unwrap();
        assert!(k.anomalies.contains(&"lost-update".to_string()), "{k:?}");
    }
}
