//! The legend: Elle's anomaly names in the words database engineers use, and which models
//! forbid each.
//!
//! The words are the report's own; which model forbids what is never typed here but read from
//! [`crate::checker::model::weakest_forbidding`], so the legend cannot drift from the checker.

use super::Report;
use crate::checker::model::{names, weakest_forbidding};
use crate::checker::Anomaly;

/// The parts of a verdict besides anomalies, for the legend: (anchor, name, meaning). Cells
/// link to these rows.
pub const VERDICT_PARTS: [(&str, &str, &str); 3] = [
    (
        "legend-durability",
        "durability",
        "whether every acknowledged write was still in the final reads: invalid if one was lost (or a write a committed transaction had read), unknown if a key had no final read",
    ),
    (
        "legend-health",
        "server health",
        "what the server's log and process showed: a crash, corruption, a fatal error, an exit on its own, or a server that did not come back; any of these makes the run invalid",
    ),
    (
        "legend-refusal",
        "refused to go on after a disk error",
        "the server stopped itself when a write or sync failed (EIO, ENOSPC), as InnoDB does by design, and was started again: the safe answer to a failing disk, so it does not make the run invalid",
    ),
];

/// The everyday name of an anomaly and what it means, in a sentence.
pub fn words(a: Anomaly) -> (&'static str, &'static str) {
    use Anomaly::*;
    match a {
        G0 => ("dirty write", "two transactions overwrote each other's uncommitted writes, in a cycle of write-write dependencies"),
        G0Process | G0Realtime => ("dirty write, against session or real-time order", "a write-write cycle that closes only through one client's own order or through real time"),
        G1a => ("aborted read", "a committed transaction read a value written by a transaction that rolled back"),
        G1b => ("intermediate read", "a committed transaction read a value its writer later overwrote in the same transaction"),
        G1c => ("circular information flow", "each transaction in a cycle saw (or overwrote) the one before it, with at least one read"),
        G1cProcess | G1cRealtime => ("circular information flow, against session or real-time order", "a write/read cycle that closes only through one client's own order or through real time: a stale read"),
        GSingleItem => ("read skew", "a transaction saw part of another's writes and missed the rest: a cycle with one anti-dependency"),
        GSingleItemProcess | GSingleItemRealtime => ("read skew, against session or real-time order (stale read)", "a transaction missed a write that its own client, or real time, had already completed"),
        GNonadjacentItem => ("read skew across several transactions", "a cycle with several anti-dependencies, none next to another"),
        GNonadjacentItemProcess | GNonadjacentItemRealtime => ("read skew across several transactions, against session or real-time order", "as read skew across several transactions, closing only through session or real-time order"),
        G2Item => ("write skew", "transactions each read what the other was about to change, and both committed: a cycle of anti-dependencies"),
        G2ItemProcess | G2ItemRealtime => ("write skew, against session or real-time order (stale read)", "a cycle of anti-dependencies that closes only through one client's own order or through real time"),
        Internal => ("internal inconsistency", "a transaction's read disagrees with its own earlier reads or writes"),
        LostUpdate => ("lost update", "two committed transactions read the same version and both wrote over it; one write vanished"),
        DirtyUpdate => ("dirty update", "a committed write built on a value from a transaction that rolled back"),
        DuplicateElements => ("duplicated write", "a read showed the same appended element twice"),
        IncompatibleOrder => ("inconsistent read order", "two reads of one list disagree about the order of its elements"),
        FutureRead => ("read from the future", "a transaction read an element it appends only later"),
        CyclicVersions => ("cyclic version order", "the order of a register's versions loops back on itself"),
        GarbageRead => ("garbage read", "a read returned a value that no transaction ever wrote"),
        CounterTooLow => ("lost or stale increments", "a counter read was below the increments acknowledged before it began"),
        CounterTooHigh => ("phantom increments", "a counter read was above every increment that may have happened"),
        WrongN => ("missing or extra accounts", "a bank read saw a different number of accounts"),
        UnexpectedKey => ("unknown account", "a bank read saw an account that does not exist"),
        NilBalance => ("missing balance", "a bank read saw an account with no balance"),
        WrongTotal => ("money created or destroyed", "a bank read's balances do not add up to the total: a transfer was lost or half seen"),
        NegativeValue => ("overdraft", "a bank read saw a negative balance"),
    }
}

/// The anomaly types some run of the report found, in the enum's order.
pub fn found(r: &Report) -> Vec<Anomaly> {
    Anomaly::ALL
        .iter()
        .copied()
        .filter(|a| {
            r.cells
                .iter()
                .any(|c| c.verdict.found.iter().any(|(x, _)| x == a))
        })
        .collect()
}

/// The anchor of an anomaly's row in the legend: `legend-G2-item`.
pub fn anchor(a: Anomaly) -> String {
    format!("legend-{}", a.name())
}

/// Which models forbid an anomaly, in words: `repeatable-read, snapshot-isolation and every
/// stronger model`.
pub fn forbidden_by(a: Anomaly) -> String {
    format!("{} and every stronger model", names(weakest_forbidding(a)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Model;

    #[test]
    fn the_legend_says_what_the_model_table_says() {
        assert_eq!(words(Anomaly::G2Item).0, "write skew");
        assert_eq!(words(Anomaly::GSingleItem).0, "read skew");
        assert!(forbidden_by(Anomaly::G2Item).starts_with("repeatable-read and"));
        assert!(forbidden_by(Anomaly::G2ItemRealtime).starts_with("strict-serializable"));
        // Every anomaly has words, and the models named forbid it.
        for &a in Anomaly::ALL {
            assert!(!words(a).0.is_empty());
            assert!(weakest_forbidding(a).iter().all(|m| m.forbids(a)));
        }
        assert!(!Model::ReadCommitted.forbids(Anomaly::G2Item));
    }
}
