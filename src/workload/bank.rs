//! Bank: accounts whose balances always sum to the same total.
//!
//! A transfer reads both balances and writes both back (computed by the client, as in Jepsen's
//! bank test) in one transaction, and rolls back rather than overdraw. A read reads every balance
//! in one transaction. Under serializability every read sums to the starting total; lost updates
//! and read skew show as wrong totals.

use mysql_async::Conn;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{ExecError, Executed, Invocation, Session, WorkloadSpec};
use crate::history::{Atom, OpFn, OpValue};

/// Drops and recreates `accounts` with `keys` accounts at the initial balance.
pub fn schema(spec: &WorkloadSpec) -> Vec<String> {
    let rows: Vec<String> = (0..spec.keys)
        .map(|k| format!("({k}, {})", spec.initial_balance))
        .collect();
    vec![
        "DROP TABLE IF EXISTS accounts".into(),
        "CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)".into(),
        format!(
            "INSERT INTO accounts (id, balance) VALUES {}",
            rows.join(", ")
        ),
    ]
}

/// A read of all balances.
pub fn read() -> Invocation {
    Invocation {
        f: OpFn::Read,
        value: OpValue::Nil,
    }
}

/// A transfer between two distinct random accounts, or (with `read_fraction`) a read.
pub fn generate(spec: &WorkloadSpec, rng: &mut ChaCha8Rng) -> Invocation {
    if spec.keys < 2 || rng.random_bool(spec.read_fraction) {
        return read();
    }
    let from = rng.random_range(0..spec.keys);
    let mut to = rng.random_range(0..spec.keys - 1);
    if to >= from {
        to += 1;
    }
    Invocation {
        f: OpFn::Transfer,
        value: OpValue::Transfer {
            from: Atom::Int(from as i64),
            to: Atom::Int(to as i64),
            amount: rng.random_range(1..=spec.max_transfer),
        },
    }
}

/// Runs a transfer or a read.
pub async fn execute(
    conn: &mut Conn,
    _spec: &WorkloadSpec,
    inv: &Invocation,
) -> Result<Executed, ExecError> {
    let mut s = Session::new(conn);
    s.begin().await?;
    match &inv.value {
        OpValue::Transfer { from, to, amount } => {
            let a: Vec<i64> = s
                .query(format!("SELECT balance FROM accounts WHERE id = {from}"))
                .await?;
            let b: Vec<i64> = s
                .query(format!("SELECT balance FROM accounts WHERE id = {to}"))
                .await?;
            let (Some(&a), Some(&b)) = (a.first(), b.first()) else {
                return Err(s.abort("an account has no row".into()).await);
            };
            if a < *amount {
                return Err(s
                    .abort(format!("insufficient funds: account {from} holds {a}"))
                    .await);
            }
            s.exec(format!(
                "UPDATE accounts SET balance = {} WHERE id = {from}",
                a - amount
            ))
            .await?;
            s.exec(format!(
                "UPDATE accounts SET balance = {} WHERE id = {to}",
                b + amount
            ))
            .await?;
            s.commit(inv.value.clone()).await
        }
        _ => {
            let rows: Vec<(i64, i64)> = s
                .query("SELECT id, balance FROM accounts ORDER BY id")
                .await?;
            let balances = rows
                .into_iter()
                .map(|(id, b)| (Atom::Int(id), Some(b)))
                .collect();
            s.commit(OpValue::Balances(balances)).await
        }
    }
}
