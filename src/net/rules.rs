//! What the network currently does to traffic between nodes, and the nft ruleset that says it.
//!
//! Pure: [`Faults`] is a value, [`Faults::ruleset`] renders the whole bridge table from it, so
//! every change replaces the table at once (nft applies a script atomically) and an empty set of
//! faults is no table at all.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// The faults in place on the bridge: directed drops between nodes and random loss towards nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// `(from, to)`: every packet from node `from` to node `to` is dropped.
    pub drops: BTreeSet<(usize, usize)>,
    /// `to -> percent`: that share of the packets other nodes send to node `to` is dropped.
    pub loss: BTreeMap<usize, u8>,
}

/// The nft chain's name (`fwd` is an nft keyword, so not that).
const CHAIN: &str = "partition";

impl Faults {
    /// Whether nothing is cut or lost.
    pub fn is_empty(&self) -> bool {
        self.drops.is_empty() && self.loss.is_empty()
    }

    /// An nft script that replaces bridge table `table` with these faults, or removes it when
    /// there are none. `addr(i)` is node `i`'s address. The script first makes the table, so that
    /// its `delete` never fails on a table that is not there.
    pub fn ruleset(&self, table: &str, addr: impl Fn(usize) -> Ipv4Addr) -> String {
        let mut s = format!("table bridge {table} {{}}\ndelete table bridge {table}\n");
        if self.is_empty() {
            return s;
        }
        let _ = writeln!(s, "table bridge {table} {{");
        let _ = writeln!(s, "  chain {CHAIN} {{");
        let _ = writeln!(s, "    type filter hook forward priority 0; policy accept;");
        // One rule per sender, its receivers in a set.
        let mut by_from: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &(from, to) in &self.drops {
            by_from.entry(from).or_default().push(to);
        }
        for (from, tos) in by_from {
            let set: Vec<String> = tos.iter().map(|&t| addr(t).to_string()).collect();
            let _ = writeln!(
                s,
                "    ip saddr {} ip daddr {{ {} }} drop",
                addr(from),
                set.join(", ")
            );
        }
        for (&to, &pct) in &self.loss {
            // numgen's values are 0..=99, so a full loss is a plain drop.
            let sample = if pct >= 100 {
                String::new()
            } else {
                format!("numgen random mod 100 < {pct} ")
            };
            let _ = writeln!(s, "    ip daddr {} {sample}drop", addr(to));
        }
        s.push_str("  }\n}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, 0, i as u8 + 1)
    }

    #[test]
    fn no_faults_is_no_table() {
        let s = Faults::default().ruleset("isoab12", addr);
        assert_eq!(s, "table bridge isoab12 {}\ndelete table bridge isoab12\n");
    }

    #[test]
    fn drops_are_grouped_per_sender_and_loss_is_per_receiver() {
        let mut f = Faults::default();
        f.drops.extend([(0, 1), (0, 2), (1, 0), (2, 0)]);
        f.loss.insert(1, 20);
        f.loss.insert(2, 100);
        let s = f.ruleset("t", addr);
        assert!(s.contains("ip daddr 10.77.0.3 drop"), "{s}");
        assert!(
            s.contains("ip saddr 10.77.0.1 ip daddr { 10.77.0.2, 10.77.0.3 } drop"),
            "{s}"
        );
        assert!(
            s.contains("ip saddr 10.77.0.2 ip daddr { 10.77.0.1 } drop"),
            "{s}"
        );
        assert!(
            s.contains("ip saddr 10.77.0.3 ip daddr { 10.77.0.1 } drop"),
            "{s}"
        );
        assert!(
            s.contains("ip daddr 10.77.0.2 numgen random mod 100 < 20 drop"),
            "{s}"
        );
        assert!(s.contains("hook forward"), "{s}");
    }
}
