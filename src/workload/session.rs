//! A session's set-up, the same for a run's clients and a scenario's sessions: ask for an
//! isolation level, and read back the level the server says the session has.

use mysql_async::prelude::*;
use mysql_async::Conn;

use super::Isolation;

/// Asks the server to run this session's transactions at `level`.
pub async fn set_isolation(conn: &mut Conn, level: Isolation) -> Result<(), mysql_async::Error> {
    conn.query_drop(format!(
        "SET SESSION TRANSACTION ISOLATION LEVEL {}",
        level.sql()
    ))
    .await
}

/// The isolation level a session reports: `@@transaction_isolation` (MySQL 8, Dolt, MariaDB 11)
/// or, where that is unknown, `@@tx_isolation` (MariaDB 10.x, MySQL 5.7); `None` if neither
/// answers. Dolt keeps the old name at its default whatever the session asked for, so the new
/// name goes first.
pub async fn reported_isolation(conn: &mut Conn) -> Option<String> {
    for var in ["@@transaction_isolation", "@@tx_isolation"] {
        if let Ok(Some(v)) = conn.query_first::<String, _>(format!("SELECT {var}")).await {
            return Some(v);
        }
    }
    None
}
