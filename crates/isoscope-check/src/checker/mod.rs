//! Checkers: from a [`History`] to a verdict a person can trust and follow.
//!
//! The split follows Elle's: each workload infers what it can from its ops (dependency edges
//! for transactional workloads, bounds for counters, invariants for bank), one generic
//! [`cycle`] search names the cycles, one [`model`] table turns anomalies into models ruled out,
//! and [`explain`] writes each finding in words. [`check`] runs the right workload checker and
//! assembles a [`CheckResult`]; when asked (and always for sets) it also runs [`durability`],
//! which holds the final reads against the acknowledged writes and can only lower the verdict.
//!
//! Honesty invariant: a model is reported consistent only when every anomaly it forbids was
//! looked for in full. Anything cut short is *undecided*, and makes the verdict unknown, never
//! valid.

pub mod anomaly;
pub mod bank;
pub mod counter;
pub mod cycle;
pub mod decide;
pub mod durability;
pub mod explain;
pub mod fit;
pub mod graph;
pub mod list_append;
pub mod model;
pub mod rw_register;
pub mod scc;
pub mod set;
pub mod txn;

use std::collections::BTreeMap;
use std::fmt;

pub use anomaly::{Anomaly, AnomalySet};
pub use model::{Model, ModelStatus};

use crate::history::{History, Mop, OpCounts, OpFn, OpValue, ReadResult};

/// The kinds of workload isoscope runs, checks and simulates. Names (clap's, serde's and
/// strum's) are kebab-case; `register` is accepted for rw-register and `append` for list-append.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Debug, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "kebab-case")]
pub enum Workload {
    /// Elle's list-append: transactions of appends and whole-list reads.
    #[value(alias = "append")]
    #[serde(alias = "append")]
    ListAppend,
    /// Elle's rw-register: transactions of writes and reads of registers.
    #[value(alias = "register")]
    #[serde(alias = "register")]
    RwRegister,
    /// Jepsen's counter: increments and reads.
    Counter,
    /// Jepsen's bank: transfers and reads of all balances.
    Bank,
    /// Jepsen's set: adds of unique elements and reads of the whole set.
    Set,
}

impl Workload {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// All workloads, in the order reports list them.
    pub const ALL: [Workload; 5] = [
        Workload::Counter,
        Workload::Bank,
        Workload::RwRegister,
        Workload::ListAppend,
        Workload::Set,
    ];

    /// Picks the workload from what the ops do; `None` if nothing gives it away.
    ///
    /// Whether a read of a few integers is a set's or a keyed counter's was settled by the
    /// reader, once, from the whole history (see `history::build`): here a read of elements
    /// means a set, and adds or integer reads without one mean a counter.
    pub fn detect(h: &History) -> Option<Workload> {
        let mut register_hint = false;
        let mut counter_hint = false;
        for op in &h.ops {
            match (&op.f, &op.value) {
                (OpFn::Txn, OpValue::Txn(mops)) => {
                    for m in mops {
                        match m {
                            Mop::Append { .. }
                            | Mop::Read {
                                value: ReadResult::List(_),
                                ..
                            } => return Some(Workload::ListAppend),
                            Mop::Write { .. }
                            | Mop::Read {
                                value: ReadResult::Scalar(_),
                                ..
                            } => register_hint = true,
                            _ => {}
                        }
                    }
                }
                (OpFn::Transfer, _) | (OpFn::Read, OpValue::Balances(_)) => {
                    return Some(Workload::Bank)
                }
                (OpFn::Read, OpValue::Elements(_)) => return Some(Workload::Set),
                (OpFn::Add, _) | (OpFn::Read, OpValue::Int(_) | OpValue::Keyed { .. }) => {
                    counter_hint = true
                }
                _ => {}
            }
        }
        if counter_hint {
            return Some(Workload::Counter);
        }
        register_hint.then_some(Workload::RwRegister)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The models the history is held to (default: strict-serializable, as Elle).
    pub models: Vec<Model>,
    /// Force a workload instead of detecting it.
    pub workload: Option<Workload>,
    /// Bounds on the cycle search.
    pub limits: cycle::SearchLimits,
    /// How many findings per anomaly type to keep with full explanations.
    pub examples: usize,
    /// Bank: the total every read must add up to (default: the first read's).
    pub bank_total: Option<i64>,
    /// Bank: whether negative balances are allowed.
    pub negative_balances: bool,
    /// rw-register: infer that a transaction's write follows the version it read.
    pub wfr: bool,
    /// Also check durability: every acknowledged write is in the final reads (see
    /// [`durability`]). Always done for sets, whose checker is mostly that.
    pub durability: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            models: vec![Model::StrictSerializable],
            workload: None,
            limits: cycle::SearchLimits::default(),
            examples: 8,
            bank_total: None,
            negative_balances: false,
            wfr: true,
            durability: false,
        }
    }
}

/// Why a history could not be checked at all (as opposed to: checked and found wanting).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Nothing in the ops says what workload it is, and none was given.
    #[error("cannot tell the workload from the ops; pass --workload")]
    UnknownWorkload,
    /// An op does not fit the workload.
    #[error("op {index}: {message}")]
    BadOp {
        /// The op's index.
        index: u64,
        /// What is wrong.
        message: String,
    },
}

/// Valid, invalid or unknown: the verdict against the requested models.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Validity {
    /// Every requested model was decided, and none is ruled out.
    Valid,
    /// Some requested model is ruled out by an anomaly found.
    Invalid,
    /// Nothing found rules out a requested model, but the check could not decide in full.
    Unknown,
}

impl serde::Serialize for Validity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        })
    }
}

/// One step of an explained cycle.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CycleStep {
    /// Name of the transaction the step leaves (T1, T2 ...).
    pub from: String,
    /// Name of the transaction the step enters.
    pub to: String,
    /// The dependency.
    pub kind: graph::EdgeKind,
    /// Why, in words.
    pub why: String,
}

/// A transaction named in a cycle.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TxnRef {
    /// Its name in the explanation (T1, T2 ...).
    pub name: String,
    /// History index of the op that shows what it did.
    pub index: u64,
    /// Its process.
    pub process: String,
    /// The op, printed as Jepsen prints it.
    pub op: String,
}

/// One anomaly, explained.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Finding {
    /// What it is.
    #[serde(rename = "type")]
    pub anomaly: Anomaly,
    /// The explanation, for a person.
    pub explanation: String,
    /// History indices of the ops involved.
    pub ops: Vec<u64>,
    /// For cycles: the transactions, in cycle order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub txns: Vec<TxnRef>,
    /// For cycles: the steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<CycleStep>,
}

/// All findings of one type: how many, and the first few explained.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AnomalyGroup {
    /// How many were found.
    pub count: usize,
    /// The first few, explained.
    pub examples: Vec<Finding>,
}

/// Collects findings while a workload checker runs.
#[derive(Debug)]
pub struct Findings {
    groups: BTreeMap<Anomaly, AnomalyGroup>,
    /// Anomaly types that could not be decided.
    pub undecided: AnomalySet,
    /// Why, for each undecided type or other gap, in words.
    pub notes: Vec<String>,
    examples: usize,
}

impl Findings {
    /// An empty collection keeping `examples` explained findings per type.
    pub fn new(examples: usize) -> Findings {
        Findings {
            groups: BTreeMap::new(),
            undecided: AnomalySet::EMPTY,
            notes: Vec::new(),
            examples,
        }
    }

    /// Counts a finding; builds its explanation only if it will be kept.
    pub fn add(&mut self, anomaly: Anomaly, build: impl FnOnce() -> Finding) {
        let g = self.groups.entry(anomaly).or_default();
        g.count += 1;
        if g.examples.len() < self.examples {
            g.examples.push(build());
        }
    }

    /// Whether any finding of this type was counted.
    pub fn has(&self, a: Anomaly) -> bool {
        self.groups.contains_key(&a)
    }

    /// The set of types found.
    pub fn found(&self) -> AnomalySet {
        self.groups.keys().copied().collect()
    }
}

/// Whether one anomaly type was decided.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decided {
    /// Found at least once.
    Found,
    /// Searched for in full, and not there.
    Absent,
    /// Searched for, but the search was cut short before it could tell.
    Undecided,
    /// Not searched: no requested model needed it.
    NotChecked,
}

/// The result of checking one history.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckResult {
    /// The verdict against the requested models.
    pub valid: Validity,
    /// Which checker ran.
    pub workload: Workload,
    /// The models the history was held to.
    pub models: Vec<Model>,
    /// The anomaly types found.
    pub anomaly_types: Vec<Anomaly>,
    /// Every model those anomalies rule out.
    pub not: Vec<Model>,
    /// The strongest models the history is consistent with (two when repeatable-read and
    /// snapshot-isolation both hold); empty when none could be shown.
    pub strongest_model: Vec<Model>,
    /// Each model's status.
    pub model_status: BTreeMap<&'static str, ModelStatus>,
    /// Anomaly types whose search was cut short (see `notes`): unknown, not absent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<Anomaly>,
    /// Anomaly types the requested models did not need, so not searched (e.g. real-time
    /// cycles when only serializable was asked for); models that forbid them are not claimed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_checked: Vec<Anomaly>,
    /// For every anomaly type the workload can show, whether it was decided: found, absent
    /// (searched in full), undecided (searched, cut short) or not checked.
    pub decided: BTreeMap<Anomaly, Decided>,
    /// Notes on anything that made the check less than complete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Op counts of the history.
    pub ops: OpCounts,
    /// The findings, by type.
    pub anomalies: BTreeMap<Anomaly, AnomalyGroup>,
    /// The durability check, when it ran (see [`CheckOptions::durability`]). Kept apart from
    /// the isolation fields above, which it never changes; only `valid` combines both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durability: Option<durability::Durability>,
}

impl CheckResult {
    /// The anomaly types found with their counts, for people: `G2-item (3), lost-update (1)`.
    pub fn found_counts(&self) -> String {
        self.anomalies
            .iter()
            .map(|(a, g)| format!("{a} ({})", g.count))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Checks a history against the requested models.
pub fn check(h: &History, opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let workload = match opts.workload {
        Some(w) => {
            if let Some((index, message)) = fit::first_misfit(h, w) {
                return Err(CheckError::BadOp { index, message });
            }
            w
        }
        None => Workload::detect(h).ok_or(CheckError::UnknownWorkload)?,
    };
    let mut findings = Findings::new(opts.examples);
    let looked_for = match workload {
        Workload::ListAppend => list_append::check(h, opts, &mut findings)?,
        Workload::RwRegister => rw_register::check(h, opts, &mut findings)?,
        Workload::Counter => counter::check(h, &mut findings)?,
        Workload::Bank => bank::check(h, opts, &mut findings)?,
        Workload::Set => set::check(h, &mut findings)?,
    };
    let mut result = finish(h, opts, workload, looked_for, findings);
    if opts.durability || workload == Workload::Set {
        if let Some(d) = durability::check(h, workload, opts.examples) {
            combine_durability(&mut result, &d);
            result.durability = Some(d);
        }
    }
    Ok(result)
}

/// Lowers the overall verdict by the durability verdict: anything lost or unexpected makes it
/// invalid; an undecided durability makes a valid isolation verdict unknown. A note says why
/// whenever the isolation verdict alone was valid.
fn combine_durability(r: &mut CheckResult, d: &durability::Durability) {
    let isolation_valid = r.valid == Validity::Valid;
    match d.valid {
        Validity::Invalid => {
            r.valid = Validity::Invalid;
            if isolation_valid {
                r.notes.push(format!(
                    "isolation holds, but the final reads do not: {} acknowledged write{} lost, \
                     {} read and then lost, and {} unexpected (see durability)",
                    d.lost,
                    if d.lost == 1 { "" } else { "s" },
                    d.read_then_lost,
                    d.unexpected
                ));
            }
        }
        Validity::Unknown if isolation_valid => {
            r.valid = Validity::Unknown;
            let why = if d.notes.is_empty() {
                String::new()
            } else {
                format!(": {}", d.notes.join("; "))
            };
            r.notes.push(format!(
                "isolation holds, but durability could not be decided{why}"
            ));
        }
        _ => {}
    }
}

/// Turns a checker's findings into a result. `looked_for` are the anomaly types the checker
/// searched in full or in part; every other type is, for this history, undecidable and so
/// counts as undecided (a counter history says nothing about G2-item, say, but no model above
/// read-uncommitted can be claimed for what could not be seen — except that the workload
/// cannot show it at all, which the caller states by leaving it out of `relevant`).
fn finish(
    h: &History,
    opts: &CheckOptions,
    workload: Workload,
    looked_for: LookedFor,
    f: Findings,
) -> CheckResult {
    let found = f.found();
    let searched_short: AnomalySet = f.undecided.iter().filter(|&a| !found.contains(a)).collect();
    let not_checked = looked_for.not_searched();
    let undecided = searched_short.union(not_checked);
    let status: BTreeMap<&'static str, ModelStatus> = Model::ALL
        .iter()
        .map(|&m| (m.name(), model::status(m, found, undecided)))
        .collect();
    let requested: Vec<ModelStatus> = opts
        .models
        .iter()
        .map(|&m| model::status(m, found, undecided))
        .collect();
    let mut notes = f.notes;
    let valid = if requested.contains(&ModelStatus::RuledOut) {
        Validity::Invalid
    } else if requested.contains(&ModelStatus::Unknown) || looked_for.nothing_to_check {
        let said = notes
            .iter()
            .any(|n| n.starts_with("empty-transaction-graph"));
        if looked_for.nothing_to_check && !said {
            notes.push(
                "the history has nothing to check (no completed reads or transactions)".into(),
            );
        }
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let strongest = if looked_for.nothing_to_check {
        Vec::new()
    } else {
        model::strongest(found, undecided)
    };
    CheckResult {
        valid,
        workload,
        models: opts.models.clone(),
        anomaly_types: found.iter().collect(),
        not: Model::ALL
            .iter()
            .copied()
            .filter(|m| m.forbidden().intersects(found))
            .collect(),
        strongest_model: strongest,
        model_status: status,
        decided: looked_for
            .relevant
            .iter()
            .map(|a| {
                let d = if found.contains(a) {
                    Decided::Found
                } else if searched_short.contains(a) {
                    Decided::Undecided
                } else if not_checked.contains(a) {
                    Decided::NotChecked
                } else {
                    Decided::Absent
                };
                (a, d)
            })
            .collect(),
        undecided: searched_short.iter().collect(),
        not_checked: not_checked.iter().collect(),
        notes,
        ops: h.counts(),
        anomalies: f.groups,
        durability: None,
    }
}

/// What a workload checker looked for.
#[derive(Clone, Copy, Debug)]
pub struct LookedFor {
    /// Types the workload can show at all.
    pub relevant: AnomalySet,
    /// Of those, the types it searched.
    pub searched: AnomalySet,
    /// The history had nothing checkable (no completed reads or transactions).
    pub nothing_to_check: bool,
}

impl LookedFor {
    fn not_searched(self) -> AnomalySet {
        self.relevant
            .iter()
            .filter(|&a| !self.searched.contains(a))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_agree_in_serde_and_clap_with_the_short_aliases() {
        assert_eq!(
            crate::names::serde_and_clap_names::<Workload>(),
            ["list-append", "rw-register", "counter", "bank", "set"]
        );
        use clap::ValueEnum;
        for (alias, w) in [
            ("append", Workload::ListAppend),
            ("register", Workload::RwRegister),
        ] {
            assert_eq!(Workload::from_str(alias, false), Ok(w), "clap {alias}");
            assert_eq!(serde_json::from_value::<Workload>(alias.into()).unwrap(), w);
        }
        for w in Workload::ALL {
            assert_eq!(w.to_string(), w.name());
        }
    }
}
