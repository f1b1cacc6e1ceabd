//! The table of consistency models: which anomalies each forbids, and how they are ordered.
//!
//! This is Elle's closure of Adya's definitions (Adya's thesis, and Elle's `consistency-model` namespace):
//! each anomaly lists the *weakest* models that forbid it, and a model forbids an anomaly when it
//! is at least as strong as one of those. Keeping the table this small makes it checkable by eye.
//!
//! ```text
//!   strict-serializable > serializable > snapshot-isolation > read-committed > read-uncommitted
//!                         serializable > repeatable-read    > read-committed
//! ```
//! repeatable-read and snapshot-isolation are incomparable.

use std::fmt;

use super::anomaly::{Anomaly, AnomalySet};

/// A consistency model a history can be held to. Names (clap's, serde's and strum's, all
/// kebab-case) are Elle's; Adya's (`PL-3`, `PL-SI` ...) are accepted too.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Debug,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "kebab-case")]
pub enum Model {
    /// Adya PL-1.
    #[value(alias = "pl-1")]
    #[serde(alias = "pl-1")]
    ReadUncommitted,
    /// Adya PL-2.
    #[value(alias = "pl-2")]
    #[serde(alias = "pl-2")]
    ReadCommitted,
    /// Adya PL-2.99.
    #[value(alias = "pl-2.99")]
    #[serde(alias = "pl-2.99")]
    RepeatableRead,
    /// Adya PL-SI.
    #[value(aliases = ["si", "pl-si"])]
    #[serde(alias = "si", alias = "pl-si")]
    SnapshotIsolation,
    /// Adya PL-3.
    #[value(alias = "pl-3")]
    #[serde(alias = "pl-3")]
    Serializable,
    /// PL-3 plus real-time order (PL-SS).
    #[value(aliases = ["strong-serializable", "pl-ss"])]
    #[serde(alias = "strong-serializable", alias = "pl-ss")]
    StrictSerializable,
}

impl Model {
    /// All models, weakest first.
    pub const ALL: [Model; 6] = [
        Model::ReadUncommitted,
        Model::ReadCommitted,
        Model::RepeatableRead,
        Model::SnapshotIsolation,
        Model::Serializable,
        Model::StrictSerializable,
    ];

    /// The name Elle uses (the serde and clap name).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether `self` is at least as strong as `weaker` (every history valid under `self` is
    /// valid under `weaker`).
    pub fn implies(self, weaker: Model) -> bool {
        use Model::*;
        if self == weaker {
            return true;
        }
        match self {
            ReadUncommitted => false,
            ReadCommitted => weaker == ReadUncommitted,
            RepeatableRead | SnapshotIsolation => ReadCommitted.implies(weaker),
            Serializable => {
                matches!(weaker, RepeatableRead | SnapshotIsolation)
                    || ReadCommitted.implies(weaker)
            }
            StrictSerializable => Serializable.implies(weaker),
        }
    }

    /// Whether this model forbids an anomaly.
    pub fn forbids(self, a: Anomaly) -> bool {
        weakest_forbidding(a).iter().any(|&m| self.implies(m))
    }

    /// Every anomaly this model forbids.
    pub fn forbidden(self) -> AnomalySet {
        Anomaly::ALL
            .iter()
            .copied()
            .filter(|&a| self.forbids(a))
            .collect()
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Model names joined for people: `repeatable-read, serializable`.
pub fn names(ms: &[Model]) -> String {
    ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
}

/// The weakest models that forbid an anomaly; every stronger model forbids it too.
pub fn weakest_forbidding(a: Anomaly) -> &'static [Model] {
    use Anomaly::*;
    use Model::*;
    match a {
        // Not even read uncommitted allows these: they read states no transaction made.
        G0 | DuplicateElements | CyclicVersions | GarbageRead | CounterTooHigh | WrongN
        | UnexpectedKey | NilBalance => &[ReadUncommitted],
        G1a | G1b | G1c | DirtyUpdate | FutureRead | IncompatibleOrder => &[ReadCommitted],
        // Read skew and lost updates; a bank total drifts only through one of them.
        GSingleItem | GNonadjacentItem | LostUpdate | WrongTotal | NegativeValue => {
            &[RepeatableRead, SnapshotIsolation]
        }
        G2Item => &[RepeatableRead],
        // Elle's repeatable-read does not forbid internal inconsistency; snapshot isolation does.
        Internal => &[SnapshotIsolation],
        // Cycles that need session or real-time order, and reads older than acknowledged writes.
        G0Process
        | G0Realtime
        | G1cProcess
        | G1cRealtime
        | GSingleItemProcess
        | GSingleItemRealtime
        | GNonadjacentItemProcess
        | GNonadjacentItemRealtime
        | G2ItemProcess
        | G2ItemRealtime
        | CounterTooLow => &[StrictSerializable],
    }
}

/// What a history says about one model.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelStatus {
    /// No anomaly the model forbids was found, and every such anomaly was looked for.
    Consistent,
    /// An anomaly the model forbids was found.
    RuledOut,
    /// Nothing forbidden was found, but some forbidden anomaly could not be looked for in full.
    Unknown,
}

/// Judges one model: `found` are the anomalies present, `undecided` those that could not be
/// ruled out (searches cut short, or not run).
pub fn status(model: Model, found: AnomalySet, undecided: AnomalySet) -> ModelStatus {
    let forbidden = model.forbidden();
    if found.intersects(forbidden) {
        ModelStatus::RuledOut
    } else if undecided.intersects(forbidden) {
        ModelStatus::Unknown
    } else {
        ModelStatus::Consistent
    }
}

/// The strongest models the history is consistent with: those consistent, with no consistent
/// model above them. repeatable-read and snapshot-isolation can both be in the answer.
pub fn strongest(found: AnomalySet, undecided: AnomalySet) -> Vec<Model> {
    let ok: Vec<Model> = Model::ALL
        .iter()
        .copied()
        .filter(|&m| status(m, found, undecided) == ModelStatus::Consistent)
        .collect();
    ok.iter()
        .copied()
        .filter(|&m| !ok.iter().any(|&o| o != m && o.implies(m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_elles_in_serde_and_clap_and_adyas_are_accepted() {
        assert_eq!(
            crate::names::serde_and_clap_names::<Model>(),
            [
                "read-uncommitted",
                "read-committed",
                "repeatable-read",
                "snapshot-isolation",
                "serializable",
                "strict-serializable",
            ]
        );
        for &m in &Model::ALL {
            assert_eq!(m.to_string(), m.name());
        }
        use clap::ValueEnum;
        for (alias, m) in [
            ("pl-1", Model::ReadUncommitted),
            ("pl-2", Model::ReadCommitted),
            ("pl-2.99", Model::RepeatableRead),
            ("si", Model::SnapshotIsolation),
            ("pl-si", Model::SnapshotIsolation),
            ("pl-3", Model::Serializable),
            ("strong-serializable", Model::StrictSerializable),
            ("pl-ss", Model::StrictSerializable),
        ] {
            assert_eq!(Model::from_str(alias, false), Ok(m), "clap {alias}");
            assert_eq!(serde_json::from_value::<Model>(alias.into()).unwrap(), m);
        }
    }

    #[test]
    fn the_lattice_matches_the_reference() {
        use Model::*;
        assert!(StrictSerializable.implies(ReadUncommitted));
        assert!(Serializable.implies(RepeatableRead));
        assert!(Serializable.implies(SnapshotIsolation));
        assert!(!RepeatableRead.implies(SnapshotIsolation));
        assert!(!SnapshotIsolation.implies(RepeatableRead));
        assert!(!Serializable.implies(StrictSerializable));
    }

    #[test]
    fn the_table_matches_the_reference() {
        use Anomaly::*;
        use Model::*;
        assert!(SnapshotIsolation.forbids(LostUpdate));
        assert!(!SnapshotIsolation.forbids(G2Item));
        assert!(RepeatableRead.forbids(G2Item));
        assert!(!RepeatableRead.forbids(Internal));
        assert!(Serializable.forbids(Internal));
        assert!(!Serializable.forbids(G2ItemRealtime));
        assert!(StrictSerializable.forbids(G0Process));
        assert!(ReadCommitted.forbids(G1b));
        assert!(!ReadCommitted.forbids(GSingleItem));
        assert!(ReadUncommitted.forbids(G0));
        assert!(!ReadUncommitted.forbids(G1a));
    }

    #[test]
    fn strongest_model_can_be_two_incomparable_models() {
        let g2 = AnomalySet::of(&[Anomaly::G2Item]);
        assert_eq!(
            strongest(g2, AnomalySet::EMPTY),
            vec![Model::SnapshotIsolation]
        );
        let internal = AnomalySet::of(&[Anomaly::Internal]);
        assert_eq!(
            strongest(internal, AnomalySet::EMPTY),
            vec![Model::RepeatableRead]
        );
        let rt = AnomalySet::of(&[Anomaly::G2ItemRealtime]);
        assert_eq!(strongest(rt, AnomalySet::EMPTY), vec![Model::Serializable]);
        let none = AnomalySet::EMPTY;
        assert_eq!(strongest(none, none), vec![Model::StrictSerializable]);
        let ls = AnomalySet::of(&[Anomaly::LostUpdate]);
        assert_eq!(strongest(ls, none), vec![Model::ReadCommitted]);
        assert_eq!(
            status(
                Model::Serializable,
                none,
                AnomalySet::of(&[Anomaly::G2Item])
            ),
            ModelStatus::Unknown
        );
    }
}
