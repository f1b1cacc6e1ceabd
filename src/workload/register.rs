//! Register: Elle's rw-register over rows `(k, v)`.
//!
//! Transactions of reads (`SELECT v`) and blind writes (an upsert of a value never written to
//! that key before). Unique values let the checker tell which write each read saw. A
//! one-micro-op transaction runs as a single autocommit statement.

use mysql_async::Conn;

use super::{ExecError, Executed, Invocation, Session};
use crate::history::{Atom, Mop, OpValue, ReadResult};

/// Drops and recreates `registers` (empty: a key never written reads as nil).
pub fn schema() -> Vec<String> {
    vec![
        "DROP TABLE IF EXISTS registers".into(),
        "CREATE TABLE registers (k INT PRIMARY KEY, v BIGINT NOT NULL)".into(),
    ]
}

/// A blind write of a fresh value: the register micro-op the key pool builds transactions from.
pub fn write(key: Atom, value: Atom) -> Mop {
    Mop::Write { key, value }
}

/// Runs one transaction.
pub async fn execute(conn: &mut Conn, inv: &Invocation) -> Result<Executed, ExecError> {
    let OpValue::Txn(mops) = &inv.value else {
        unreachable!("register ops are transactions")
    };
    let mut s = Session::new(conn);
    if mops.len() > 1 {
        s.begin().await?;
    }
    let mut out = Vec::with_capacity(mops.len());
    for m in mops {
        match m {
            Mop::Read { key, .. } => {
                let v: Vec<i64> = s
                    .query(format!("SELECT v FROM registers WHERE k = {key}"))
                    .await?;
                out.push(Mop::Read {
                    key: key.clone(),
                    value: match v.first() {
                        Some(&x) => ReadResult::Scalar(Atom::Int(x)),
                        None => ReadResult::Nil,
                    },
                });
            }
            Mop::Write { key, value } => {
                s.exec(format!(
                    "INSERT INTO registers (k, v) VALUES ({key}, {value}) \
                     ON DUPLICATE KEY UPDATE v = {value}"
                ))
                .await?;
                out.push(m.clone());
            }
            Mop::Append { .. } => unreachable!("registers are not appended to"),
        }
    }
    s.commit(OpValue::Txn(out)).await
}
