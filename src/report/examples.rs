//! Worked examples: an anomaly told in the SQL the transactions ran.
//!
//! The runner keeps each completed transaction's statements with its op (`sql`). Here each
//! statement is paired with what it returned, taken from the op's value: the i-th statement other
//! than START TRANSACTION / COMMIT / ROLLBACK ran the i-th micro-op; a counter increment's SELECT
//! returned the value it left; a bank read's SELECT returned the balances.

use serde::Serialize;

use crate::checker::explain::atom_edn;
use crate::checker::{Anomaly, Finding};
use crate::history::{History, Mop, Op, OpType, OpValue, ReadResult};

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

/// An anomaly told in SQL.
#[derive(Clone, Debug, Serialize)]
pub struct WorkedExample {
    /// What it is.
    pub anomaly: Anomaly,
    /// The checker's explanation.
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

fn read_text(h: &History, v: &ReadResult) -> String {
    match v {
        ReadResult::Nil => "no row".into(),
        ReadResult::Scalar(a) => atom_edn(a),
        ReadResult::List(r) => {
            let l: Vec<String> = h.list(*r).iter().map(atom_edn).collect();
            format!("'{}'", l.join(","))
        }
    }
}

/// Pairs each statement of `op` with what it returned.
pub fn statements(h: &History, op: &Op) -> Vec<Statement> {
    let Some(sql) = &op.sql else {
        return Vec::new();
    };
    let ok = op.kind == OpType::Ok;
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
                        Some(Mop::Read { value, .. }) if is_select => Some(read_text(h, value)),
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

/// The op at history index `index` (indices are positions in isoscope's own histories).
fn op_at(h: &History, index: u64) -> Option<&Op> {
    let i = index as usize;
    match h.ops.get(i) {
        Some(op) if op.index == index => Some(op),
        _ => h.ops.iter().find(|o| o.index == index),
    }
}

/// Tells one finding in SQL.
pub fn worked_example(h: &History, f: &Finding) -> WorkedExample {
    let txns: Vec<TxnSql> = if !f.txns.is_empty() {
        f.txns
            .iter()
            .filter_map(|t| {
                let op = op_at(h, t.index)?;
                Some(TxnSql {
                    name: t.name.clone(),
                    index: t.index,
                    process: t.process.clone(),
                    outcome: op.kind.name().into(),
                    statements: statements(h, op),
                })
            })
            .collect()
    } else {
        f.ops
            .iter()
            .filter_map(|&i| op_at(h, i))
            .filter(|op| op.kind != OpType::Invoke)
            .enumerate()
            .map(|(n, op)| TxnSql {
                name: format!("T{}", n + 1),
                index: op.index,
                process: op.process.to_string(),
                outcome: op.kind.name().into(),
                statements: statements(h, op),
            })
            .collect()
    };
    WorkedExample {
        anomaly: f.anomaly,
        explanation: f.explanation.clone(),
        txns,
        edges: f
            .steps
            .iter()
            .map(|s| Edge {
                from: s.from.clone(),
                to: s.to.clone(),
                kind: s.kind.name().into(),
                why: s.why.clone(),
            })
            .collect(),
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
}
