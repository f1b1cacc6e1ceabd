//! Counter: rows of counters, incremented and read.
//!
//! Each increment is its own transaction and reads the counter back before it commits, so the
//! history says which value every acknowledged increment left: two that left the same value
//! overwrote each other (a lost update), whatever model is asked for. Two styles of increment:
//! - atomic: `UPDATE counters SET v = v + 1 WHERE id = k`, then `SELECT v` (the database computes
//!   the new value; InnoDB's locking current read never loses one, Dolt's cell-wise merge can);
//! - read-modify-write: `SELECT v`, then `UPDATE ... SET v = <read + 1>` (the client computes it;
//!   under snapshot reads two increments can read the same value).

use mysql_async::Conn;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{CounterStyle, ExecError, Executed, Invocation, Session, WorkloadSpec};
use crate::history::{Atom, OpFn, OpValue};

/// Drops and recreates `counters` with `keys` rows at zero.
pub fn schema(spec: &WorkloadSpec) -> Vec<String> {
    let rows: Vec<String> = (0..spec.keys).map(|k| format!("({k}, 0)")).collect();
    vec![
        "DROP TABLE IF EXISTS counters".into(),
        "CREATE TABLE counters (id INT PRIMARY KEY, v BIGINT NOT NULL)".into(),
        format!("INSERT INTO counters (id, v) VALUES {}", rows.join(", ")),
    ]
}

/// An increment of a random counter, or (with `read_fraction`) a read of one.
pub fn generate(spec: &WorkloadSpec, rng: &mut ChaCha8Rng) -> Invocation {
    let key = Atom::Int(rng.random_range(0..spec.keys) as i64);
    if rng.random_bool(spec.read_fraction) {
        read(key)
    } else {
        Invocation {
            f: OpFn::Add,
            value: OpValue::Keyed {
                key,
                value: Some(1),
                after: None,
            },
        }
    }
}

fn read(key: Atom) -> Invocation {
    Invocation {
        f: OpFn::Read,
        value: OpValue::Keyed {
            key,
            value: None,
            after: None,
        },
    }
}

/// A read of every counter.
pub fn final_reads(spec: &WorkloadSpec) -> Vec<Invocation> {
    (0..spec.keys).map(|k| read(Atom::Int(k as i64))).collect()
}

/// Runs an increment or a read.
pub async fn execute(
    conn: &mut Conn,
    spec: &WorkloadSpec,
    inv: &Invocation,
) -> Result<Executed, ExecError> {
    let OpValue::Keyed { key, value, .. } = &inv.value else {
        unreachable!("counter ops are keyed")
    };
    let mut s = Session::new(conn);
    let select = format!("SELECT v FROM counters WHERE id = {key}");
    match inv.f {
        OpFn::Read => {
            let v: Vec<i64> = s.query(select).await?;
            let read = v.first().copied();
            s.commit(OpValue::Keyed {
                key: key.clone(),
                value: read,
                after: None,
            })
            .await
        }
        _ => {
            let by = value.unwrap_or(1);
            s.begin().await?;
            let after = match spec.counter_style {
                CounterStyle::Atomic => {
                    s.exec(format!("UPDATE counters SET v = v + {by} WHERE id = {key}"))
                        .await?;
                    let v: Vec<i64> = s.query(select).await?;
                    v.first().copied()
                }
                CounterStyle::ReadModifyWrite => {
                    let v: Vec<i64> = s.query(select).await?;
                    let Some(&before) = v.first() else {
                        return Err(s.abort(format!("counter {key} has no row")).await);
                    };
                    s.exec(format!(
                        "UPDATE counters SET v = {} WHERE id = {key}",
                        before + by
                    ))
                    .await?;
                    Some(before + by)
                }
            };
            s.commit(OpValue::Keyed {
                key: key.clone(),
                value: Some(by),
                after,
            })
            .await
        }
    }
}
