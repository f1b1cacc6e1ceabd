//! List-append: Elle's workload over rows `(k, v TEXT)`, v a comma-separated list.
//!
//! An append is one upsert that concatenates (`CONCAT(v, ',', e)`), a read is `SELECT v` of the
//! whole list. Elements are unique per key, so every read names the writes it saw and their
//! order: the richest evidence of the four workloads. A one-micro-op transaction runs as a
//! single autocommit statement.

use mysql_async::Conn;

use super::{ExecError, Executed, Invocation, Session};
use crate::history::{Atom, Mop, OpValue, ReadResult};

/// Drops and recreates `lists` (empty: a key never appended to reads as the empty list).
pub fn schema() -> Vec<String> {
    vec![
        "DROP TABLE IF EXISTS lists".into(),
        "CREATE TABLE lists (k INT PRIMARY KEY, v LONGTEXT NOT NULL)".into(),
    ]
}

/// An append of a fresh element: the list-append micro-op the key pool builds transactions from.
pub fn append(key: Atom, elem: Atom) -> Mop {
    Mop::Append { key, elem }
}

/// Parses a stored list (`"1,2,3"`; empty string or no row is the empty list).
fn parse_list(text: Option<&str>) -> Result<Vec<Atom>, String> {
    match text {
        None | Some("") => Ok(Vec::new()),
        Some(t) => t
            .split(',')
            .map(|e| {
                e.trim()
                    .parse::<i64>()
                    .map(Atom::Int)
                    .map_err(|_| format!("the stored list {t:?} holds a non-integer {e:?}"))
            })
            .collect(),
    }
}

/// Runs one transaction. Each read's list goes into [`Executed::lists`]; its micro-op holds nil
/// until the recorder stores the list (only an `ok` transaction's reads are evidence).
pub async fn execute(conn: &mut Conn, inv: &Invocation) -> Result<Executed, ExecError> {
    let OpValue::Txn(mops) = &inv.value else {
        unreachable!("list-append ops are transactions")
    };
    let mut s = Session::new(conn);
    if mops.len() > 1 {
        s.begin().await?;
    }
    let mut out = Vec::with_capacity(mops.len());
    let mut lists = Vec::new();
    for (i, m) in mops.iter().enumerate() {
        match m {
            Mop::Read { key, .. } => {
                let v: Vec<String> = s
                    .query(format!("SELECT v FROM lists WHERE k = {key}"))
                    .await?;
                let elems = match parse_list(v.first().map(String::as_str)) {
                    Ok(e) => e,
                    Err(reason) => return Err(s.abort(reason).await),
                };
                lists.push((i, elems));
                out.push(Mop::Read {
                    key: key.clone(),
                    value: ReadResult::Nil,
                });
            }
            Mop::Append { key, elem } => {
                s.exec(format!(
                    "INSERT INTO lists (k, v) VALUES ({key}, '{elem}') \
                     ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', '{elem}')"
                ))
                .await?;
                out.push(m.clone());
            }
            Mop::Write { .. } => unreachable!("lists are appended to, not written"),
        }
    }
    let mut done = s.commit(OpValue::Txn(out)).await?;
    done.lists = lists;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_lists_parse() {
        assert_eq!(parse_list(None).unwrap(), vec![]);
        assert_eq!(parse_list(Some("")).unwrap(), vec![]);
        assert_eq!(
            parse_list(Some("1,2,30")).unwrap(),
            vec![Atom::Int(1), Atom::Int(2), Atom::Int(30)]
        );
        assert!(parse_list(Some("1,x")).unwrap_err().contains("\"x\""));
    }
}
