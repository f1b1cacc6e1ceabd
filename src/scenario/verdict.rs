//! From a trace to a verdict: did the anomaly show, and if not, what stopped it.
//!
//! The anomaly shows when every condition of one of the scenario's `anomaly_if` entries holds in
//! what the sessions read, which of them committed, and the final table. When none does, the
//! first thing in step order that stood in the way names how it was prevented: an error that
//! rolled a transaction back (deadlock 1213, record changed 1020, lock wait timeout 1205), a
//! refused COMMIT, else a statement that blocked until the other side finished (the server
//! serialized them), else nothing at all: the sessions simply did not see each other's writes.

use serde::{Deserialize, Serialize};

use super::runner::{Outcome, Row, SessionEnd, Trace};
use super::spec::{Condition, ReadRef, Rows, Scenario};

/// The answer of one cell.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The anomaly showed.
    Anomaly,
    /// It did not.
    Prevented,
    /// The cell could not be run (see its note); says nothing about the anomaly.
    Error,
    /// The server refused the isolation level (its message is the note), as TiDB refuses read
    /// uncommitted and serializable: an answer about the server, not about the anomaly.
    Refused,
}

impl Verdict {
    /// The word in tables.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Anomaly => "anomaly",
            Verdict::Prevented => "prevented",
            Verdict::Error => "error",
            Verdict::Refused => "refused",
        }
    }
}

/// How a prevented anomaly was prevented.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// A statement blocked on a lock until the other transaction ended; then it ran after it.
    BlockedThenSerialized,
    /// Error 1213: the server broke a lock cycle by rolling one transaction back.
    Deadlock,
    /// Error 1020: a write to a row changed since the snapshot rolled its transaction back
    /// (MariaDB's `innodb_snapshot_isolation`).
    RecordChanged,
    /// Error 1205: a statement waited on a lock until the server gave up on it.
    LockWaitTimeout,
    /// COMMIT returned an error: the server refused the transaction at the end (Dolt's merge
    /// conflict, 1213 "serialization failure").
    CommitRefused,
    /// Nothing blocked or failed: each session read only what it was allowed to see.
    Isolated,
}

impl How {
    /// A short label for tables.
    pub fn short(self) -> &'static str {
        match self {
            How::BlockedThenSerialized => "blocked",
            How::Deadlock => "1213",
            How::RecordChanged => "1020",
            How::LockWaitTimeout => "1205",
            How::CommitRefused => "commit refused",
            How::Isolated => "isolated",
        }
    }
}

/// The verdict of one trace, and how it was prevented. A session counts as committed for the
/// conditions only if its COMMIT returned ok and none of its statements failed: a transaction
/// that committed without its failed write did not do what the scenario describes.
pub fn judge(scenario: &Scenario, trace: &Trace) -> (Verdict, Option<How>) {
    if scenario
        .anomaly_if
        .iter()
        .any(|c| holds(c, scenario, trace))
    {
        return (Verdict::Anomaly, None);
    }
    (Verdict::Prevented, Some(how(trace)))
}

/// What stood in the anomaly's way: the first transaction-ending error, else a block.
pub fn how(trace: &Trace) -> How {
    for r in &trace.steps {
        let Outcome::Error { code, .. } = r.outcome else {
            continue;
        };
        let end = trace
            .sessions
            .iter()
            .find(|(s, _)| *s == r.session)
            .map(|(_, e)| *e);
        match end {
            Some(SessionEnd::CommitRefused { .. }) => return How::CommitRefused,
            Some(SessionEnd::Aborted { .. }) => {
                return match code {
                    1213 => How::Deadlock,
                    1020 => How::RecordChanged,
                    _ => How::LockWaitTimeout,
                }
            }
            _ => {}
        }
    }
    if trace
        .steps
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Error { code: 1205, .. }))
    {
        return How::LockWaitTimeout;
    }
    if trace.steps.iter().any(|r| r.blocked) {
        How::BlockedThenSerialized
    } else {
        How::Isolated
    }
}

fn holds(c: &Condition, scenario: &Scenario, trace: &Trace) -> bool {
    // Committed whole: COMMIT returned ok and no statement of the session failed.
    let committed = |s: &str| {
        trace
            .sessions
            .iter()
            .any(|(n, e)| n == s && *e == SessionEnd::Committed)
            && !trace
                .steps
                .iter()
                .any(|r| r.session == s && matches!(r.outcome, Outcome::Error { .. }))
    };
    c.committed.iter().all(|s| committed(s))
        && c.saw
            .iter()
            .all(|(r, rows)| reads(scenario, trace, r).any(|got| contains(&got, rows)))
        && c.saw_exactly
            .iter()
            .all(|(r, rows)| reads(scenario, trace, r).any(|got| got == *rows))
        && c.final_rows
            .as_ref()
            .is_none_or(|rows| as_rows(&trace.final_rows) == *rows)
}

/// The rows each read a reference names returned (reads that failed or were skipped are left out).
fn reads<'a>(
    scenario: &'a Scenario,
    trace: &'a Trace,
    r: &'a ReadRef,
) -> impl Iterator<Item = Rows> + 'a {
    scenario
        .steps
        .iter()
        .zip(&trace.steps)
        .filter(move |(step, _)| match r {
            ReadRef::Nth(s, n) => step.session == *s && step.read == Some(*n),
            ReadRef::Any(s) => step.session == *s && step.read.is_some(),
        })
        .filter_map(|(_, rec)| match &rec.outcome {
            Outcome::Ok {
                rows: Some(rows), ..
            } => Some(as_rows(rows)),
            _ => None,
        })
}

fn contains(got: &Rows, want: &Rows) -> bool {
    want.iter().all(|(k, v)| got.get(k) == Some(v))
}

/// Rows as key => value from their first two columns (rows whose first two are not integers are
/// left out: no condition can name them).
pub fn as_rows(rows: &[Row]) -> Rows {
    rows.iter()
        .filter_map(|r| Some((r.first()?.as_i64()?, r.get(1)?.as_i64()?)))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::runner::StepRecord;
    use serde_json::json;

    fn rows(r: &[(i64, i64)]) -> Vec<Row> {
        r.iter().map(|(k, v)| vec![json!(k), json!(v)]).collect()
    }

    /// A trace of `scenario` where step `i` ended as `outcomes[i]` and the sessions as `ends`.
    pub(crate) fn trace(
        scenario: &Scenario,
        outcomes: Vec<Outcome>,
        ends: &[SessionEnd],
        final_rows: &[(i64, i64)],
    ) -> Trace {
        let steps = scenario
            .steps
            .iter()
            .zip(outcomes)
            .enumerate()
            .map(|(i, (s, outcome))| StepRecord {
                returned_during: Some(i + 1),
                outcome,
                ..StepRecord::unsent(i, s)
            })
            .collect();
        Trace {
            steps,
            sessions: scenario
                .sessions
                .iter()
                .cloned()
                .zip(ends.iter().copied())
                .collect(),
            initial: rows(&[(1, 10), (2, 20)]),
            final_rows: rows(final_rows),
            reported_isolation: None,
        }
    }

    pub(crate) fn read(r: &[(i64, i64)]) -> Outcome {
        Outcome::Ok {
            rows: Some(rows(r)),
            affected: None,
        }
    }

    pub(crate) fn done() -> Outcome {
        Outcome::Ok {
            rows: None,
            affected: None,
        }
    }

    fn error(code: u16) -> Outcome {
        Outcome::Error {
            code,
            message: String::new(),
        }
    }

    pub(crate) fn builtin(name: &str) -> Scenario {
        crate::scenario::builtin()
            .unwrap()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap()
    }

    /// Hermitage's p4 (T1 read, T2 read, T1 write, T2 write, T1 commit, T2 commit) with T1
    /// reading 10 and committing, and T2 as given.
    pub(crate) fn p4(t2_read: i64, t2_write: Outcome, t2_commit: Outcome, t2: SessionEnd) -> Trace {
        let outcomes = vec![
            read(&[(1, 10)]),
            read(&[(1, t2_read)]),
            done(),
            t2_write,
            done(),
            t2_commit,
        ];
        trace(
            &builtin("p4"),
            outcomes,
            &[SessionEnd::Committed, t2],
            &[(1, 11), (2, 20)],
        )
    }

    #[test]
    fn a_lost_update_is_an_anomaly_and_its_twins_say_how_it_was_stopped() {
        let sc = builtin("p4");
        let ok = SessionEnd::Committed;
        let judged = |t: Trace| judge(&sc, &t);
        assert_eq!(judged(p4(10, done(), done(), ok)), (Verdict::Anomaly, None));
        let skipped = Outcome::Skipped {
            because: String::new(),
        };
        let aborted = SessionEnd::Aborted { code: 1213 };
        assert_eq!(
            judged(p4(10, error(1213), skipped, aborted)),
            (Verdict::Prevented, Some(How::Deadlock))
        );
        // T2's write timed out but T2 committed the rest: not the lost update described.
        assert_eq!(
            judged(p4(10, error(1205), done(), ok)),
            (Verdict::Prevented, Some(How::LockWaitTimeout))
        );
        let refused = SessionEnd::CommitRefused { code: 1213 };
        assert_eq!(
            judged(p4(10, done(), error(1213), refused)),
            (Verdict::Prevented, Some(How::CommitRefused))
        );
        // T2 read T1's 11 (it ran after T1): no anomaly, nothing in the way.
        assert_eq!(
            judged(p4(11, done(), done(), ok)),
            (Verdict::Prevented, Some(How::Isolated))
        );
    }
}
