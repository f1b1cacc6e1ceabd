//! Why a bank total went wrong: the transfers that overwrote each other.
//!
//! A bank read only shows *that* money appeared or vanished. What a reader needs is the cause:
//! two committed transfers that ran at the same time, read the same balance of an account and
//! both wrote it back, so one write replaced the other and that transfer's change to the account
//! was lost. A transfer's statements say what it read: it wrote `read - amount` to the account
//! it debits and `read + amount` to the one it credits (see `workload::bank`).

use crate::history::{Atom, History, Op, OpFn, OpType, OpValue};

/// What one committed transfer read and wrote, from its SQL.
#[derive(Clone, Debug)]
pub struct TransferRw {
    /// The account debited: (account, balance read, balance written).
    pub from: (String, i64, i64),
    /// The account credited.
    pub to: (String, i64, i64),
    /// The amount moved.
    pub amount: i64,
}

/// `UPDATE accounts SET balance = 42 WHERE id = 3` → (`3`, 42).
fn update(sql: &str) -> Option<(String, i64)> {
    let rest = sql.trim().strip_prefix("UPDATE accounts SET balance = ")?;
    let (v, k) = rest.split_once(" WHERE id = ")?;
    Some((k.trim().to_string(), v.trim().parse().ok()?))
}

/// What a transfer read and wrote, when its SQL was recorded and it got as far as its writes.
pub fn transfer_rw(op: &Op) -> Option<TransferRw> {
    let OpValue::Transfer { from, to, amount } = &op.value else {
        return None;
    };
    let sql = op.sql.as_ref()?;
    let writes: Vec<(String, i64)> = sql.iter().filter_map(|s| update(s)).collect();
    let find = |a: &Atom| {
        writes
            .iter()
            .find(|(k, _)| *k == a.to_string())
            .map(|w| w.1)
    };
    let (wf, wt) = (find(from)?, find(to)?);
    Some(TransferRw {
        from: (from.to_string(), wf + amount, wf),
        to: (to.to_string(), wt - amount, wt),
        amount: *amount,
    })
}

/// A committed transfer with its place in the history.
struct Done<'h> {
    invoke: usize,
    done: usize,
    op: &'h Op,
    rw: TransferRw,
}

/// The transactions that explain a wrong bank total, and a sentence that tells how.
#[derive(Debug, Default)]
pub struct Culprits {
    /// History positions of the completions, each with its part in the story.
    pub txns: Vec<(usize, String)>,
    /// What they did to the total.
    pub story: String,
}

/// The transfers that made the read completing at history position `read` see a wrong total:
/// two concurrent committed transfers, since the last read with another total, that read the
/// same balance of an account and both wrote it (the latest such pair before the read). Without
/// one, the committed transfers that ran while the read did (the read saw part of them).
pub fn culprits(h: &History, read: usize) -> Culprits {
    let pairs = h.pairs();
    let sum = |op: &Op| match &op.value {
        OpValue::Balances(b) => Some(b.iter().filter_map(|(_, v)| *v).sum::<i64>()),
        _ => None,
    };
    let Some(total) = sum(&h.ops[read]) else {
        return Culprits::default();
    };
    let read_invoke = pairs
        .list
        .iter()
        .find(|c| c.complete == Some(read))
        .map_or(read, |c| c.invoke);
    // The window opens at the last read, completed before this one began, with another total.
    let start = pairs
        .list
        .iter()
        .filter(|c| c.outcome == OpType::Ok && c.complete.is_some_and(|d| d < read_invoke))
        .filter(|c| h.ops[c.complete.unwrap_or(0)].f == OpFn::Read)
        .filter(|c| sum(&h.ops[c.complete.unwrap_or(0)]).is_some_and(|s| s != total))
        .map(|c| c.invoke)
        .max()
        .unwrap_or(0);
    let transfers: Vec<Done> = pairs
        .list
        .iter()
        .filter(|c| c.outcome == OpType::Ok)
        .filter_map(|c| {
            let done = c.complete?;
            let op = &h.ops[done];
            (op.f == OpFn::Transfer && done > start && done < read).then_some(())?;
            Some(Done {
                invoke: c.invoke,
                done,
                op,
                rw: transfer_rw(op)?,
            })
        })
        .collect();
    // The latest overlapping pair that read the same balance of an account (sorted by invoke).
    let mut best: Option<(usize, usize, String, i64, usize)> = None;
    for (i, a) in transfers.iter().enumerate() {
        for (j, b) in transfers.iter().enumerate().skip(i + 1) {
            if b.invoke >= a.done {
                break;
            }
            let Some((k, r)) = shared_read(&a.rw, &b.rw) else {
                continue;
            };
            let end = a.done.max(b.done);
            if best.as_ref().is_none_or(|x| end > x.4) {
                best = Some((i, j, k, r, end));
            }
        }
    }
    let Some((i, j, account, balance, _)) = best else {
        return concurrent(h, &pairs, read_invoke, read);
    };
    let (a, b) = (&transfers[i], &transfers[j]);
    let (first, last) = if a.done < b.done { (a, b) } else { (b, a) };
    let role = |t: &Done| {
        let (k, r, w) = if t.rw.from.0 == account {
            &t.rw.from
        } else {
            &t.rw.to
        };
        format!(
            "transfer of {} from account {} to {}: read account {k} as {r}, wrote {w}",
            t.rw.amount, t.rw.from.0, t.rw.to.0
        )
    };
    // The first to commit lost its change to the account: a debit lost creates money, a
    // credit lost destroys it.
    let lost = if first.rw.from.0 == account {
        format!("{} appeared from nowhere", first.rw.amount)
    } else {
        format!("{} vanished", first.rw.amount)
    };
    Culprits {
        txns: vec![(a.done, role(a)), (b.done, role(b))],
        story: format!(
            "Two transfers ran at the same time, both read account {account} as {balance} and \
             both wrote it back. The one that committed last (op {}) overwrote the other's \
             write (op {}), so that transfer's change to account {account} was lost: {lost}. \
             That is a lost update; the read's total is off by the sum of every such loss \
             before it.",
            last.op.index, first.op.index
        ),
    }
}

/// An account both transfers read, with the same balance.
fn shared_read(a: &TransferRw, b: &TransferRw) -> Option<(String, i64)> {
    [&a.from, &a.to].into_iter().find_map(|(ka, ra, _)| {
        [&b.from, &b.to]
            .into_iter()
            .any(|(kb, rb, _)| kb == ka && rb == ra)
            .then(|| (ka.clone(), *ra))
    })
}

/// The committed transfers that overlapped the read, each told by what the read shows of it:
/// both its writes, neither, or one and not the other (half a transfer: read skew). Only what
/// the balances prove is claimed; with no transfer half seen, the story says they do not
/// explain the total, and by how much it is off.
fn concurrent(h: &History, pairs: &crate::history::Pairs, invoke: usize, read: usize) -> Culprits {
    let balances: Vec<(String, Option<i64>)> = match &h.ops[read].value {
        OpValue::Balances(b) => b
            .iter()
            .map(|(k, v)| (crate::checker::explain::atom_edn(k), *v))
            .collect(),
        _ => Vec::new(),
    };
    let shown = |k: &str| balances.iter().find(|(a, _)| a == k).and_then(|(_, v)| *v);
    let mut half = 0;
    let txns: Vec<(usize, String)> = pairs
        .list
        .iter()
        .filter(|c| c.outcome == OpType::Ok && c.invoke < read)
        .filter_map(|c| {
            let done = c.complete?;
            let op = &h.ops[done];
            (op.f == OpFn::Transfer && done > invoke).then_some(())?;
            let rw = transfer_rw(op)?;
            let seen = |(k, r, w): &(String, i64, i64)| match shown(k) {
                Some(v) if v == *w => format!("account {k} as {v}, its write"),
                Some(v) if v == *r => format!("account {k} as {v}, the balance before it"),
                Some(v) => format!("account {k} as {v}, neither its write ({w}) nor the balance before it ({r})"),
                None => format!("no balance of account {k}"),
            };
            let (from_seen, to_seen) = (
                shown(&rw.from.0) == Some(rw.from.2),
                shown(&rw.to.0) == Some(rw.to.2),
            );
            let part = if from_seen != to_seen {
                half += 1;
                ": half of it"
            } else {
                ""
            };
            Some((
                done,
                format!(
                    "transfer of {} from account {} to {}, committed while the read ran; the read shows {} and {}{part}",
                    rw.amount,
                    rw.from.0,
                    rw.to.0,
                    seen(&rw.from),
                    seen(&rw.to)
                ),
            ))
        })
        .take(4)
        .collect();
    if txns.is_empty() {
        return Culprits::default();
    }
    let story = if half > 0 {
        format!(
            "No two transfers overwrote each other here. The read saw half of {half} transfer{}              that committed while it ran (one account's write and not the other's): read skew.",
            if half == 1 { "" } else { "s" }
        )
    } else {
        let total: i64 = balances.iter().filter_map(|(_, v)| *v).sum();
        let first = pairs
            .list
            .iter()
            .filter(|c| c.outcome == OpType::Ok)
            .filter_map(|c| c.complete)
            .find(|&d| h.ops[d].f == OpFn::Read)
            .and_then(|d| match &h.ops[d].value {
                OpValue::Balances(b) => Some(b.iter().filter_map(|(_, v)| *v).sum::<i64>()),
                _ => None,
            });
        format!(
            "The read saw each of these transfers whole or not at all, so they do not explain              its total of {total}{}: the money changed before them, in writes the read does not              name.",
            first
                .filter(|f| *f != total)
                .map(|f| format!(", {} the first read's {f}", if total > f { format!("{} more than", total - f) } else { format!("{} less than", f - total) }))
                .unwrap_or_default()
        )
    };
    Culprits { txns, story }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read::read_history_str;

    fn transfer(i: u64, p: u64, from: i64, to: i64, amount: i64, wf: i64, wt: i64) -> String {
        format!(
            r#"{{"index":{i},"type":"ok","process":{p},"f":"transfer","value":{{"from":{from},"to":{to},"amount":{amount}}},"sql":["START TRANSACTION","SELECT balance FROM accounts WHERE id = {from}","SELECT balance FROM accounts WHERE id = {to}","UPDATE accounts SET balance = {wf} WHERE id = {from}","UPDATE accounts SET balance = {wt} WHERE id = {to}","COMMIT"]}}"#
        )
    }

    fn inv(i: u64, p: u64) -> String {
        format!(
            r#"{{"index":{i},"type":"invoke","process":{p},"f":"transfer","value":{{"from":0,"to":1,"amount":1}}}}"#
        )
    }

    #[test]
    fn two_transfers_that_read_the_same_balance_are_named() {
        // Both read account 0 as 10; the second overwrites the first's debit: 3 appear.
        let lines = [
            inv(0, 0),
            inv(1, 1),
            transfer(2, 0, 0, 1, 3, 7, 13),
            transfer(3, 1, 0, 2, 4, 6, 14),
            r#"{"index":4,"type":"invoke","process":2,"f":"read","value":null}"#.into(),
            r#"{"index":5,"type":"ok","process":2,"f":"read","value":{"0":6,"1":13,"2":14}}"#
                .into(),
        ];
        let h = read_history_str("h.jsonl", &lines.join("\n")).unwrap();
        let c = culprits(&h, 5);
        assert_eq!(c.txns.len(), 2, "{c:?}");
        assert!(c.story.contains("account 0 as 10"), "{}", c.story);
        assert!(c.story.contains("3 appeared"), "{}", c.story);
        assert!(c.txns[0].1.contains("read account 0 as 10, wrote 7"));
    }

    #[test]
    fn a_read_during_a_transfer_claims_only_what_its_balances_show() {
        // The read (invoked first) sees the transfer's debit of account 0 but not its credit of
        // account 1: half of it.
        let read_inv = r#"{"index":0,"type":"invoke","process":2,"f":"read","value":null}"#;
        let lines = [
            read_inv.to_string(),
            inv(1, 0),
            transfer(2, 0, 0, 1, 3, 7, 13),
            r#"{"index":3,"type":"ok","process":2,"f":"read","value":{"0":7,"1":10}}"#.into(),
        ];
        let h = read_history_str("h.jsonl", &lines.join("\n")).unwrap();
        let c = culprits(&h, 3);
        assert_eq!(c.txns.len(), 1, "{c:?}");
        assert!(
            c.txns[0].1.contains("account 0 as 7, its write"),
            "{}",
            c.txns[0].1
        );
        assert!(c.txns[0]
            .1
            .contains("account 1 as 10, the balance before it"));
        assert!(c.story.contains("half of 1 transfer"), "{}", c.story);
        // Seen whole: no claim of read skew, and the total's difference is said.
        let lines = [
            read_inv.to_string(),
            inv(1, 0),
            transfer(2, 0, 0, 1, 3, 7, 13),
            r#"{"index":3,"type":"ok","process":2,"f":"read","value":{"0":7,"1":13}}"#.into(),
        ];
        let h = read_history_str("h.jsonl", &lines.join("\n")).unwrap();
        let c = culprits(&h, 3);
        assert!(!c.story.contains("half"), "{}", c.story);
        assert!(!c.story.contains("saw part"), "{}", c.story);
        assert!(c.story.contains("whole or not at all"), "{}", c.story);
    }

    #[test]
    fn sequential_transfers_are_not_blamed() {
        // The same balances read one after the other: no overlap, so no lost update named.
        let lines = [
            inv(0, 0),
            transfer(1, 0, 0, 1, 3, 7, 13),
            inv(2, 1),
            transfer(3, 1, 0, 1, 3, 4, 16),
            r#"{"index":4,"type":"invoke","process":2,"f":"read","value":null}"#.into(),
            r#"{"index":5,"type":"ok","process":2,"f":"read","value":{"0":4,"1":16}}"#.into(),
        ];
        let h = read_history_str("h.jsonl", &lines.join("\n")).unwrap();
        assert!(culprits(&h, 5).txns.is_empty());
    }
}
