//! The anomalies isoscope can find, named exactly as Elle and Jepsen name them.
//!
//! Names are kept verbatim (`G-single-item`, `G1c-realtime`, `wrong-total` ...) so that results
//! can be set beside Elle's and Jepsen's. Where isoscope finds something those tools do not name,
//! the name is isoscope's own and its doc comment says so.

use std::fmt;

/// Declares [`Anomaly`] from `Variant = "name"` pairs, so that each name is written once: it
/// becomes both the serde rename and the strum serialization, from which `name`, `FromStr`
/// and the list of all variants are derived.
macro_rules! anomalies {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// One kind of anomaly.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[derive(strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
        pub enum Anomaly {
            $( $(#[$doc])* #[serde(rename = $name)] #[strum(serialize = $name)] $variant, )*
        }
    };
}

anomalies! {
    /// A cycle of write-write dependencies (dirty write).
    G0 = "G0",
    /// G0 that needs a process-order edge.
    G0Process = "G0-process",
    /// G0 that needs a real-time edge.
    G0Realtime = "G0-realtime",
    /// A cycle of ww and wr dependencies with at least one wr (circular information flow).
    G1c = "G1c",
    /// G1c that needs a process-order edge.
    G1cProcess = "G1c-process",
    /// G1c that needs a real-time edge.
    G1cRealtime = "G1c-realtime",
    /// A cycle with exactly one anti-dependency (read skew).
    GSingleItem = "G-single-item",
    /// G-single-item that needs a process-order edge.
    GSingleItemProcess = "G-single-item-process",
    /// G-single-item that needs a real-time edge.
    GSingleItemRealtime = "G-single-item-realtime",
    /// A cycle with two or more anti-dependencies, no two adjacent.
    GNonadjacentItem = "G-nonadjacent-item",
    /// G-nonadjacent-item that needs a process-order edge.
    GNonadjacentItemProcess = "G-nonadjacent-item-process",
    /// G-nonadjacent-item that needs a real-time edge.
    GNonadjacentItemRealtime = "G-nonadjacent-item-realtime",
    /// A cycle with two or more anti-dependencies, some adjacent (write skew and friends).
    G2Item = "G2-item",
    /// G2-item that needs a process-order edge.
    G2ItemProcess = "G2-item-process",
    /// G2-item that needs a real-time edge.
    G2ItemRealtime = "G2-item-realtime",
    /// A committed transaction read a value written by a failed one (aborted read).
    G1a = "G1a",
    /// A committed transaction read a value that was not its writer's final write (intermediate read).
    G1b = "G1b",
    /// A transaction's read disagrees with its own earlier reads or writes.
    Internal = "internal",
    /// Two committed transactions read the same version of a key and both wrote it.
    LostUpdate = "lost-update",
    /// In a key's version order, a failed transaction's element is followed by a committed one.
    DirtyUpdate = "dirty-update",
    /// A read shows the same element twice.
    DuplicateElements = "duplicate-elements",
    /// Two reads of one key are not prefixes of one another.
    IncompatibleOrder = "incompatible-order",
    /// A transaction read an element it only appends later.
    FutureRead = "future-read",
    /// The inferred version order of a register has a cycle.
    CyclicVersions = "cyclic-versions",
    /// isoscope's own: a read returned a value that no transaction, committed, failed or
    /// indeterminate, ever wrote. Elle's rw-register checker has no name for this and lets it pass.
    GarbageRead = "garbage-read",
    /// isoscope's own (Jepsen's counter checker calls it an error): a counter read below the
    /// sum of increments acknowledged before the read began.
    CounterTooLow = "counter-too-low",
    /// isoscope's own: a counter read above the sum of increments that were attempted and not
    /// known to fail by the time the read completed.
    CounterTooHigh = "counter-too-high",
    /// Jepsen bank: a read saw the wrong number of accounts.
    WrongN = "wrong-n",
    /// Jepsen bank: a read saw an account that does not exist.
    UnexpectedKey = "unexpected-key",
    /// Jepsen bank: a read saw an account with no balance.
    NilBalance = "nil-balance",
    /// Jepsen bank: a read's balances do not add up to the total.
    WrongTotal = "wrong-total",
    /// Jepsen bank: a read saw a negative balance.
    NegativeValue = "negative-value",
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Anomaly {
    /// Every anomaly kind, in order of the enum.
    pub const ALL: &'static [Anomaly] = <Anomaly as strum::VariantArray>::VARIANTS;

    /// The name Elle / Jepsen users know (its serde name; `str::parse` reads it back).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether this anomaly is a dependency cycle (as opposed to a property of single reads).
    pub fn is_cycle(self) -> bool {
        (self as usize) <= (Anomaly::G2ItemRealtime as usize)
    }
}

/// A set of anomaly kinds, as a bit set.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct AnomalySet(u64);

impl AnomalySet {
    /// The empty set.
    pub const EMPTY: AnomalySet = AnomalySet(0);

    /// The set of the given kinds.
    pub fn of(kinds: &[Anomaly]) -> AnomalySet {
        let mut s = AnomalySet::EMPTY;
        for &k in kinds {
            s.insert(k);
        }
        s
    }
    /// Adds a kind.
    pub fn insert(&mut self, a: Anomaly) {
        self.0 |= 1 << (a as u32);
    }
    /// Whether the set holds a kind.
    pub fn contains(self, a: Anomaly) -> bool {
        self.0 & (1 << (a as u32)) != 0
    }
    /// Union.
    pub fn union(self, o: AnomalySet) -> AnomalySet {
        AnomalySet(self.0 | o.0)
    }
    /// Whether the two sets share a kind.
    pub fn intersects(self, o: AnomalySet) -> bool {
        self.0 & o.0 != 0
    }
    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The kinds in the set, in enum order.
    pub fn iter(self) -> impl Iterator<Item = Anomaly> {
        Anomaly::ALL
            .iter()
            .copied()
            .filter(move |&a| self.contains(a))
    }
}

impl FromIterator<Anomaly> for AnomalySet {
    fn from_iter<I: IntoIterator<Item = Anomaly>>(it: I) -> Self {
        let mut s = AnomalySet::EMPTY;
        for a in it {
            s.insert(a);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_elles_in_serde_and_parse_back() {
        let names = crate::names::serde_names::<Anomaly>();
        assert_eq!(
            names,
            [
                "G0",
                "G0-process",
                "G0-realtime",
                "G1c",
                "G1c-process",
                "G1c-realtime",
                "G-single-item",
                "G-single-item-process",
                "G-single-item-realtime",
                "G-nonadjacent-item",
                "G-nonadjacent-item-process",
                "G-nonadjacent-item-realtime",
                "G2-item",
                "G2-item-process",
                "G2-item-realtime",
                "G1a",
                "G1b",
                "internal",
                "lost-update",
                "dirty-update",
                "duplicate-elements",
                "incompatible-order",
                "future-read",
                "cyclic-versions",
                "garbage-read",
                "counter-too-low",
                "counter-too-high",
                "wrong-n",
                "unexpected-key",
                "nil-balance",
                "wrong-total",
                "negative-value",
            ]
        );
        for (&a, name) in Anomaly::ALL.iter().zip(names) {
            assert_eq!(a.name(), name);
            assert_eq!(a.to_string(), name);
            assert_eq!(name.parse::<Anomaly>(), Ok(a));
        }
        assert!("g1c".parse::<Anomaly>().is_err());
    }

    #[test]
    fn kinds_fit_the_bit_set() {
        assert!(Anomaly::ALL.len() <= 64);
        assert!(Anomaly::G2ItemRealtime.is_cycle());
        assert!(!Anomaly::G1a.is_cycle());
    }
}
