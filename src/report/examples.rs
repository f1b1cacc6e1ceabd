//! Worked examples: an anomaly told in the SQL the transactions ran.
//!
//! The runner keeps each completed transaction's statements with its op (`sql`). Here each
//! statement is paired with what it returned, taken from the op's value: the i-th statement other
//! than START TRANSACTION / COMMIT / ROLLBACK ran the i-th micro-op; a counter increment's SELECT
//! returned the value it left; a bank read's SELECT returned the balances; a transfer's SELECTs
//! returned what its UPDATEs imply.
//!
//! An example is laid out for a timeline: each transaction keeps when it was invoked and when it
//! completed, and nothing in it repeats the whole op as EDN. Long lists are elided
//! ([`elide`](super::elide)).

use serde::Serialize;

use super::{bank, elide};
use crate::checker::explain::atom_edn;
use crate::checker::{Anomaly, CycleStep, Finding};
use crate::history::{History, Mop, Op, OpType, OpValue, Process, ReadResult};

/// How many explained findings per anomaly type a report asks the checker for, to pick the
/// smallest from.
pub const CANDIDATES: usize = 32;

/// One statement and, for reads, what it returned.
#[derive(Clone, Debug, Serialize)]
pub struct Statement {
    /// The SQL sent.
    pub sql: String,
    /// What it returned, when it was a read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned: Option<String>,
}

/// A transaction of an example: its name in the explanation and what it ran.
#[derive(Clone, Debug, Serialize)]
pub struct TxnSql {
    /// T1, T2 ...
    pub name: String,
    /// History index of its completion.
    pub index: u64,
    /// Its process.
    pub process: String,
    /// ok, fail or info.
    pub outcome: String,
    /// History index of its invoke (its completion's, when the history has no invoke).
    pub invoked: u64,
    /// When it was invoked, in ms after the example's first invoke (when the history has times).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<f64>,
    /// When it completed, in ms after the example's first invoke.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<f64>,
    /// Its part in the example, when the finding did not name it (a bank total's transfers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The statements, in order (empty when the history did not record them).
    pub statements: Vec<Statement>,
}

/// One dependency of a cycle, in words.
#[derive(Clone, Debug, Serialize)]
pub struct Edge {
    /// From this transaction...
    pub from: String,
    /// ...to this one.
    pub to: String,
    /// ww, wr, rw, process or realtime.
    pub kind: String,
    /// Why, in words.
    pub why: String,
}

impl Edge {
    /// A cycle step in words, its reason's long lists elided.
    pub fn from_step(s: &CycleStep) -> Edge {
        Edge {
            from: s.from.clone(),
            to: s.to.clone(),
            kind: s.kind.name().into(),
            why: elide::text(&s.why),
        }
    }
}

/// An anomaly told in SQL.
#[derive(Clone, Debug, Serialize)]
pub struct WorkedExample {
    /// What it is.
    pub anomaly: Anomaly,
    /// The checker's explanation, without the ops as EDN and with long lists elided.
    pub explanation: String,
    /// The transactions involved.
    pub txns: Vec<TxnSql>,
    /// For cycles: the dependencies, in cycle order.
    pub edges: Vec<Edge>,
}

fn is_control(sql: &str) -> bool {
    matches!(
        sql.trim().to_ascii_uppercase().as_str(),
        "START TRANSACTION" | "BEGIN" | "COMMIT" | "ROLLBACK"
    )
}

/// Where two reads of a key part, for an incompatible order: the key and the position.
type Focus<'a> = Option<(&'a crate::history::Atom, usize)>;

fn read_text(h: &History, key: &crate::history::Atom, v: &ReadResult, focus: Focus) -> String {
    match v {
        ReadResult::Nil => "no row".into(),
        ReadResult::Scalar(a) => atom_edn(a),
        ReadResult::List(r) => {
            let l: Vec<String> = h.list(*r).iter().map(atom_edn).collect();
            let shown = match focus {
                Some((k, at)) if k == key => elide::around(&l, at),
                _ => elide::elements(&l),
            }
            .join(",");
            if l.len() > elide::LIMIT {
                format!("'{shown}' ({} elements)", l.len())
            } else {
                format!("'{shown}'")
            }
        }
    }
}

/// Pairs each statement of `op` with what it returned.
pub fn statements(h: &History, op: &Op) -> Vec<Statement> {
    statements_at(h, op, None)
}

/// [`statements`], a read of the focus key elided around the focus position.
fn statements_at(h: &History, op: &Op, focus: Focus) -> Vec<Statement> {
    let Some(sql) = &op.sql else {
        return Vec::new();
    };
    let ok = op.kind == OpType::Ok;
    let transfer = bank::transfer_rw(op);
    let mut data = 0usize;
    let mut selects = 0usize;
    sql.iter()
        .map(|s| {
            let returned = if is_control(s) || !ok {
                None
            } else {
                let i = data;
                data += 1;
                let is_select = s.trim_start().to_ascii_uppercase().starts_with("SELECT");
                let nth_select = selects;
                if is_select {
                    selects += 1;
                }
                match &op.value {
                    OpValue::Txn(mops) => match mops.get(i) {
                        Some(Mop::Read { key, value }) if is_select => {
                            Some(read_text(h, key, value, focus))
                        }
                        _ => None,
                    },
                    OpValue::Keyed {
                        value: Some(v),
                        after,
                        ..
                    } if is_select => match after {
                        // An increment: atomic style SELECTs after its UPDATE (the value left),
                        // read-modify-write before it (the value read).
                        Some(a) if i > 0 => Some(a.to_string()),
                        Some(a) => Some((a - v).to_string()),
                        None => Some(v.to_string()),
                    },
                    OpValue::Balances(b) if is_select && nth_select == 0 => Some(
                        b.iter()
                            .map(|(k, v)| {
                                format!(
                                    "{}: {}",
                                    atom_edn(k),
                                    v.map(|x| x.to_string()).unwrap_or_else(|| "nil".into())
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    OpValue::Transfer { .. } if is_select => transfer.as_ref().and_then(|t| {
                        [&t.from, &t.to]
                            .get(nth_select)
                            .map(|(_, read, _)| read.to_string())
                    }),
                    _ => None,
                }
            };
            Statement {
                sql: s.clone(),
                returned,
            }
        })
        .collect()
}

/// The position in the history of the op with index `index` (the same in isoscope's own
/// histories).
fn position(h: &History, index: u64) -> Option<usize> {
    let i = index as usize;
    match h.ops.get(i) {
        Some(op) if op.index == index => Some(i),
        _ => h.ops.iter().position(|o| o.index == index),
    }
}

/// The invoke of the completion at position `done`: the same process's last op before it.
fn invoke_of(h: &History, done: usize) -> Option<&Op> {
    let p = h.ops[done].process;
    h.ops[..done]
        .iter()
        .rev()
        .find(|o| o.process == p)
        .filter(|o| o.kind == OpType::Invoke)
}

/// One transaction of an example, from its completion at position `at`.
fn txn(h: &History, at: usize, name: String, role: Option<String>) -> TxnSql {
    let op = &h.ops[at];
    let inv = invoke_of(h, at);
    TxnSql {
        name,
        index: op.index,
        process: op.process.to_string(),
        outcome: op.kind.name().into(),
        invoked: inv.map_or(op.index, |i| i.index),
        start_ms: inv.and_then(|i| i.time).map(|t| t as f64 / 1e6),
        end_ms: op.time.map(|t| t as f64 / 1e6),
        role,
        statements: statements(h, op),
    }
}

/// How many elements the finding's ops read: of two examples with as many transactions, the
/// one with shorter reads is easier to follow.
fn read_size(h: &History, f: &Finding) -> usize {
    let indices = f.txns.iter().map(|t| t.index).chain(f.ops.iter().copied());
    indices
        .filter_map(|i| position(h, i))
        .map(|p| match &h.ops[p].value {
            OpValue::Txn(mops) => mops
                .iter()
                .map(|m| match m {
                    Mop::Read {
                        value: ReadResult::List(r),
                        ..
                    } => h.list(*r).len(),
                    _ => 0,
                })
                .sum(),
            OpValue::Balances(b) => b.len(),
            _ => 0,
        })
        .sum()
}

/// The example to show for a type: fewest transactions, then shortest reads, then shortest
/// explanation; the earliest of equals.
pub fn smallest<'f>(h: &History, candidates: &'f [Finding]) -> Option<&'f Finding> {
    candidates.iter().min_by_key(|f| size(h, f))
}

/// Orders findings smallest first, as [`smallest`] picks, and drops those that repeat an
/// earlier one's explanation word for word: what `check` shows is what the report shows.
pub fn smallest_first(h: &History, findings: &mut Vec<Finding>) {
    findings.sort_by_cached_key(|f| size(h, f));
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert(f.explanation.clone()));
}

fn size(h: &History, f: &Finding) -> (usize, usize, usize) {
    (
        f.txns.len().max(f.ops.len()),
        read_size(h, f),
        f.explanation.len(),
    )
}

/// The explanation without what the timeline shows better: a cycle is told by its edges, and a
/// line that prints a whole op as EDN becomes that transaction's name; long lists are elided.
fn plain(f: &Finding, txns: &[TxnSql]) -> String {
    if !f.steps.is_empty() {
        let mut chain = f.steps.first().map(|s| s.from.clone()).unwrap_or_default();
        for s in &f.steps {
            chain.push_str(&format!(" –{}→ {}", s.kind, s.to));
        }
        return format!(
            "{} transactions in a cycle of dependencies: {chain}. Each step is explained below; \
             no order of the transactions satisfies them all.",
            f.txns.len()
        );
    }
    let name = |edn: &str| {
        let index = edn
            .strip_prefix("{:index ")?
            .split([',', '}'])
            .next()?
            .parse::<u64>()
            .ok()?;
        let t = txns.iter().find(|t| t.index == index)?;
        Some(format!("{} (op {index})", t.name))
    };
    let mut kept: Vec<String> = Vec::new();
    let mut named = false;
    for l in f.explanation.lines() {
        match l.trim_start() {
            edn if edn.starts_with("{:") => {
                kept.extend(name(edn));
                named = true;
            }
            // "T1 (op 7)" then "read key 26 as ..." make one sentence.
            text if named && text.starts_with(char::is_lowercase) => {
                if let Some(last) = kept.last_mut() {
                    last.push(' ');
                    last.push_str(text);
                }
                named = false;
            }
            _ => {
                kept.push(l.to_string());
                named = false;
            }
        }
    }
    elide::text(kept.join("\n").trim())
}

/// The key on which an incompatible order's two reads disagree, and the first position at
/// which they differ.
fn parting(h: &History, f: &Finding) -> Option<(crate::history::Atom, usize)> {
    let reads = |i: u64| -> Vec<(crate::history::Atom, Vec<crate::history::Atom>)> {
        let Some(p) = position(h, i) else {
            return Vec::new();
        };
        match &h.ops[p].value {
            OpValue::Txn(mops) => mops
                .iter()
                .filter_map(|m| match m {
                    Mop::Read {
                        key,
                        value: ReadResult::List(r),
                    } => Some((key.clone(), h.list(*r).to_vec())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let (a, b) = (reads(*f.ops.first()?), reads(*f.ops.get(1)?));
    a.iter().find_map(|(k, x)| {
        let (_, y) = b.iter().find(|(k2, _)| k2 == k)?;
        let common = x.iter().zip(y).take_while(|(p, q)| p == q).count();
        (common < x.len() && common < y.len()).then(|| (k.clone(), common))
    })
}

/// Tells one finding in SQL, laid out for a timeline.
pub fn worked_example(h: &History, f: &Finding) -> WorkedExample {
    let mut txns: Vec<TxnSql> = if !f.txns.is_empty() {
        f.txns
            .iter()
            .filter_map(|t| Some(txn(h, position(h, t.index)?, t.name.clone(), None)))
            .collect()
    } else {
        f.ops
            .iter()
            .filter_map(|&i| position(h, i))
            .filter(|&p| h.ops[p].kind != OpType::Invoke && h.ops[p].process != Process::Nemesis)
            .enumerate()
            .map(|(n, p)| txn(h, p, format!("T{}", n + 1), None))
            .collect()
    };
    if f.anomaly == Anomaly::IncompatibleOrder {
        if let Some((key, at)) = parting(h, f) {
            for t in &mut txns {
                if let Some(p) = position(h, t.index) {
                    t.statements = statements_at(h, &h.ops[p], Some((&key, at)));
                }
            }
        }
    }
    let mut explanation = plain(f, &txns);
    if f.anomaly == Anomaly::WrongTotal {
        if let Some(read) = f.ops.first().and_then(|&i| position(h, i)) {
            let c = bank::culprits(h, read);
            let n = txns.len();
            for (k, (at, role)) in c.txns.into_iter().enumerate() {
                txns.push(txn(h, at, format!("T{}", n + k + 1), Some(role)));
            }
            if !c.story.is_empty() {
                explanation.push('\n');
                explanation.push_str(&c.story);
            }
        }
    }
    // Times relative to the example's first invoke.
    let t0 = txns
        .iter()
        .filter_map(|t| t.start_ms.or(t.end_ms))
        .fold(f64::INFINITY, f64::min);
    for t in &mut txns {
        t.start_ms = t.start_ms.map(|x| x - t0);
        t.end_ms = t.end_ms.map(|x| x - t0);
    }
    WorkedExample {
        anomaly: f.anomaly,
        explanation,
        txns,
        edges: f.steps.iter().map(Edge::from_step).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read::read_history_str;

    #[test]
    fn statements_are_paired_with_what_they_returned() {
        let h = read_history_str(
            "h.jsonl",
            r#"{"index":0,"type":"invoke","process":0,"f":"txn","value":[["append",1,5],["r",1,null]]}
{"index":1,"type":"ok","process":0,"f":"txn","value":[["append",1,5],["r",1,[4,5]]],"sql":["START TRANSACTION","INSERT INTO lists (k, v) VALUES (1, '5') ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', '5')","SELECT v FROM lists WHERE k = 1","COMMIT"]}
{"index":2,"type":"invoke","process":1,"f":"add","value":[0,1]}
{"index":3,"type":"ok","process":1,"f":"add","value":[0,1,7],"sql":["START TRANSACTION","SELECT v FROM counters WHERE id = 0","UPDATE counters SET v = 7 WHERE id = 0","COMMIT"]}"#,
        )
        .unwrap();
        let s = statements(&h, &h.ops[1]);
        assert_eq!(s.len(), 4);
        assert_eq!(s[1].returned, None);
        assert_eq!(s[2].returned.as_deref(), Some("'4,5'"));
        let c = statements(&h, &h.ops[3]);
        assert_eq!(
            c[1].returned.as_deref(),
            Some("6"),
            "read-modify-write reads the value before"
        );
        assert_eq!(c[2].returned, None);
    }

    #[test]
    fn the_smallest_example_has_fewest_transactions_then_shortest_reads() {
        let h = read_history_str(
            "h.jsonl",
            r#"{"index":0,"type":"invoke","process":0,"f":"txn","value":[["r",1,null]]}
{"index":1,"type":"ok","process":0,"f":"txn","value":[["r",1,[1,2,3,4,5]]]}
{"index":2,"type":"invoke","process":1,"f":"txn","value":[["r",1,null]]}
{"index":3,"type":"ok","process":1,"f":"txn","value":[["r",1,[1]]]}"#,
        )
        .unwrap();
        let finding = |ops: Vec<u64>| Finding {
            anomaly: Anomaly::Internal,
            explanation: "x".into(),
            ops,
            txns: vec![],
            steps: vec![],
        };
        let all = [finding(vec![1, 3]), finding(vec![1]), finding(vec![3])];
        assert_eq!(smallest(&h, &all).unwrap().ops, vec![3]);
        assert_eq!(
            smallest(&h, &all[..2]).unwrap().ops,
            vec![1],
            "one op beats two"
        );
    }
}
