//! What a failed operation means for the history: certainly did not happen (`fail`) or may have
//! happened (`info`).
//!
//! The rule, as in Jepsen: only an outcome the server made definite is `fail`. A server error
//! code that means "rolled back" (deadlock, lock wait timeout, serialization failure, record
//! changed, duplicate key), or any server error before the COMMIT (the client then rolls back),
//! is `fail`. A lost connection, a timeout, or an unknown error at COMMIT is `info`: the commit
//! may have landed. A read-only transaction changes nothing, so its uncertain outcome is `fail`.

use std::fmt;

use crate::server::FlavorSpec;
use crate::workload::ExecError;

/// Why an op did not complete `ok`, grouped for the error breakdown of a run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum ErrorKind {
    /// 1213: InnoDB deadlock, or Dolt's serialization failure at COMMIT.
    Deadlock,
    /// 1205: lock wait timeout.
    LockWaitTimeout,
    /// 1020: record changed since last read (InnoDB snapshot isolation).
    RecordChanged,
    /// 1062: duplicate key.
    DuplicateKey,
    /// Any other server error code.
    Server(u16),
    /// The connection failed (I/O, protocol, closed by the server).
    Connection,
    /// The op took longer than the per-op timeout.
    Timeout,
    /// The workload rolled back on purpose (e.g. a transfer that would overdraw).
    Aborted,
}

impl ErrorKind {
    /// A short label for reports: `1213 deadlock`, `connection`, `timeout`.
    pub fn label(self) -> String {
        match self {
            ErrorKind::Deadlock => "1213 deadlock / serialization failure".into(),
            ErrorKind::LockWaitTimeout => "1205 lock wait timeout".into(),
            ErrorKind::RecordChanged => "1020 record changed".into(),
            ErrorKind::DuplicateKey => "1062 duplicate key".into(),
            ErrorKind::Server(c) => format!("{c} server error"),
            ErrorKind::Connection => "connection lost".into(),
            ErrorKind::Timeout => "timeout".into(),
            ErrorKind::Aborted => "aborted by the workload".into(),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// The verdict on a failed op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    /// What kind of error.
    pub kind: ErrorKind,
    /// Whether the op certainly did not happen (`fail`) rather than maybe (`info`).
    pub definite: bool,
    /// Whether the connection must be replaced before the next op.
    pub reconnect: bool,
    /// The message to record with the op (no credentials: drivers do not echo them).
    pub message: String,
}

/// Classifies an executor's error on a server of `flavor` (whose codes say what was rolled
/// back); `read_only` ops never leave an uncertain effect.
pub fn classify(e: &ExecError, read_only: bool, flavor: &dyn FlavorSpec) -> Classified {
    match e {
        ExecError::Aborted { reason, .. } => Classified {
            kind: ErrorKind::Aborted,
            definite: true,
            reconnect: false,
            message: reason.clone(),
        },
        ExecError::Db { source, commit, .. } => classify_db(source, *commit, read_only, flavor),
    }
}

/// Classifies a driver error raised by a statement (`commit`: by the COMMIT) on a server of
/// `flavor`: a code it lists as rolled back or not ready ([`FlavorSpec::definite_failure`])
/// is `fail` even at COMMIT.
pub fn classify_db(
    e: &mysql_async::Error,
    commit: bool,
    read_only: bool,
    flavor: &dyn FlavorSpec,
) -> Classified {
    match e {
        mysql_async::Error::Server(s) => {
            let kind = match s.code {
                1213 => ErrorKind::Deadlock,
                1205 => ErrorKind::LockWaitTimeout,
                1020 => ErrorKind::RecordChanged,
                1062 => ErrorKind::DuplicateKey,
                c => ErrorKind::Server(c),
            };
            let known_rollback = flavor.definite_failure(s.code);
            Classified {
                kind,
                definite: known_rollback || !commit || read_only,
                reconnect: false,
                message: format!("{}: {}", s.code, s.message),
            }
        }
        other => Classified {
            kind: ErrorKind::Connection,
            definite: read_only,
            reconnect: true,
            message: other.to_string(),
        },
    }
}

/// The verdict on an op that timed out.
pub fn timeout(read_only: bool, after: std::time::Duration) -> Classified {
    Classified {
        kind: ErrorKind::Timeout,
        definite: read_only,
        reconnect: true,
        message: format!("no answer within {after:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARIADB: &dyn FlavorSpec = &crate::server::mariadb::MariaDbFlavor;

    fn server(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "m".into(),
            state: "40001".into(),
        })
    }

    #[test]
    fn rollbacks_are_definite_and_unknown_commits_are_not() {
        let d = classify_db(&server(1213), true, false, MARIADB);
        assert!(d.definite && !d.reconnect && d.kind == ErrorKind::Deadlock);
        assert!(classify_db(&server(1205), true, false, MARIADB).definite);
        // An unknown error at COMMIT may hide a commit.
        assert!(!classify_db(&server(1105), true, false, MARIADB).definite);
        // Before the COMMIT, the client rolls back: definite.
        assert!(classify_db(&server(1105), false, false, MARIADB).definite);
        let io = mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::other("x")));
        let c = classify_db(&io, false, false, MARIADB);
        assert!(!c.definite && c.reconnect && c.kind == ErrorKind::Connection);
        assert!(
            classify_db(&io, false, true, MARIADB).definite,
            "reads change nothing"
        );
        assert!(!timeout(false, std::time::Duration::from_secs(1)).definite);
    }
}
