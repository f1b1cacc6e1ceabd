//! Runs one scenario at one level on one server: a fresh database, every session on its own
//! connection, the steps sent in order, as a person at several terminals would.
//!
//! A statement that has not returned is *blocked* when the server says so (InnoDB lists its
//! transaction as `LOCK WAIT`), or, on a server that cannot say (Dolt), after
//! [`Timing::no_probe_block`]. The runner then moves on to the next step; the blocked
//! statement's outcome is recorded when it comes, with the step it came during. A later step of
//! a blocked session waits for it, as a terminal would. After a step returns, the runner waits
//! until every outstanding statement has either returned or is waiting on a lock again, so what
//! a step unblocked is recorded with that step: two runs record the same trace even on a loaded
//! machine. An error that rolls the transaction back (1213, 1020, 1205 where the server rolls back
//! on a lock-wait timeout) ends its session: its later steps are skipped.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::spec::{Scenario, Shape, Step};
use crate::server::{Endpoint, Flavor};
use crate::workload::{session, Isolation};

/// How long the runner waits, and for what.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// A statement younger than this is never called blocked.
    pub min_block: Duration,
    /// On a server without a lock-wait probe: a statement that has not returned after this is
    /// called blocked.
    pub no_probe_block: Duration,
    /// The longest wait for any one statement; after it, the cell fails.
    pub give_up: Duration,
    /// The session lock-wait timeout set on servers that have one, unless the target sets its
    /// own (`None`: leave the server's).
    pub lock_wait_timeout: Option<u32>,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            min_block: Duration::from_millis(60),
            no_probe_block: Duration::from_millis(1500),
            give_up: Duration::from_secs(30),
            lock_wait_timeout: Some(10),
        }
    }
}

/// One value of a returned row: JSON numbers for integers, strings otherwise, null for NULL.
pub type Row = Vec<serde_json::Value>;

/// How a statement ended.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// It returned; reads carry their rows.
    Ok {
        /// The rows, for reads.
        #[serde(skip_serializing_if = "Option::is_none")]
        rows: Option<Vec<Row>>,
        /// Rows changed, for writes.
        #[serde(skip_serializing_if = "Option::is_none")]
        affected: Option<u64>,
    },
    /// The server refused it.
    Error {
        /// The server's error code.
        code: u16,
        /// Its message.
        message: String,
    },
    /// Not sent: its session's transaction had already been rolled back.
    Skipped {
        /// Why.
        because: String,
    },
    /// Never returned within the runner's patience (the cell fails).
    NoAnswer,
}

/// What happened to one step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepRecord {
    /// Its position in the scenario (from 1).
    pub step: usize,
    /// Its session.
    pub session: String,
    /// Its SQL.
    pub sql: String,
    /// For reads, its number in the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<u32>,
    /// Whether it waited on a lock while later steps ran.
    pub blocked: bool,
    /// Whether it was sent after later steps, because its session was still blocked.
    pub deferred: bool,
    /// The step during which it returned (its own unless it was blocked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned_during: Option<usize>,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl StepRecord {
    /// The record of the `i`-th step (from 0) before it is sent.
    pub fn unsent(i: usize, s: &Step) -> StepRecord {
        StepRecord {
            step: i + 1,
            session: s.session.clone(),
            sql: s.sql.clone(),
            read: s.read,
            blocked: false,
            deferred: false,
            returned_during: None,
            outcome: Outcome::NoAnswer,
        }
    }
}

/// How a session's transaction ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "kebab-case")]
pub enum SessionEnd {
    /// Its COMMIT returned ok.
    Committed,
    /// The scenario rolled it back.
    RolledBack,
    /// An error rolled it back before COMMIT.
    Aborted {
        /// The error.
        code: u16,
    },
    /// COMMIT returned an error.
    CommitRefused {
        /// The error.
        code: u16,
    },
    /// The steps ended with it open; the runner rolled it back.
    LeftOpen,
}

/// Everything one cell observed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trace {
    /// Per step, in scenario order.
    pub steps: Vec<StepRecord>,
    /// Per session, in scenario order.
    pub sessions: Vec<(String, SessionEnd)>,
    /// The table after setup.
    pub initial: Vec<Row>,
    /// The table after every session ended.
    #[serde(rename = "final")]
    pub final_rows: Vec<Row>,
    /// The level the first session reported after setting it.
    pub reported_isolation: Option<String>,
}

/// Why a cell could not be run (as opposed to: ran and showed or prevented the anomaly).
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct RunError {
    /// What the runner was doing.
    pub what: String,
    /// What went wrong.
    pub message: String,
}

fn err<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> RunError {
    let what = what.into();
    move |e| RunError {
        what,
        message: e.to_string(),
    }
}

/// Error codes after which a transaction is gone: deadlock, record changed since read.
const ROLLBACK_CODES: [u16; 2] = [1213, 1020];
/// Lock wait timeout: rolls the transaction back only where the server is set to.
const LOCK_WAIT_TIMEOUT: u16 = 1205;

/// A statement's outcome from a session task.
struct Done {
    session: usize,
    step: usize,
    outcome: Outcome,
}

/// One cell to run: a scenario at a level in a fresh database on a server.
#[derive(Clone, Copy)]
pub struct CellPlan<'a> {
    /// Where the server is.
    pub ep: &'a Endpoint,
    /// What kind of server it is.
    pub flavor: Flavor,
    /// What to run.
    pub scenario: &'a Scenario,
    /// At which level.
    pub level: Isolation,
    /// The database to create (dropped first if it exists, and at the end).
    pub db: &'a str,
    /// The runner's waits.
    pub timing: Timing,
    /// The server's lock waits, where it can tell them.
    pub locks: Option<&'a LockWatch>,
}

/// Runs one cell.
pub async fn run_cell(plan: &CellPlan<'_>) -> Result<Trace, RunError> {
    let CellPlan {
        ep, scenario, db, ..
    } = *plan;
    let mut admin = mysql_async::Conn::new(ep.opts(None))
        .await
        .map_err(err(format!("connecting to {ep}")))?;
    admin
        .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
        .await
        .map_err(err("dropping an old database"))?;
    admin
        .query_drop(format!("CREATE DATABASE `{db}`"))
        .await
        .map_err(err("creating the database"))?;
    admin
        .query_drop(format!("USE `{db}`"))
        .await
        .map_err(err("using the database"))?;
    for sql in &scenario.setup {
        admin
            .query_drop(sql.as_str())
            .await
            .map_err(err(format!("setup {sql:?}")))?;
    }
    let initial = read_table(&mut admin, &scenario.final_query).await?;
    let timeout_rolls_back = admin
        .query_first::<String, _>("SELECT @@innodb_rollback_on_timeout")
        .await
        .ok()
        .flatten()
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("on"));

    let result = drive(plan, timeout_rolls_back).await;
    // The table as the sessions left it; a fresh connection, since Dolt's setup session keeps
    // showing the table as it set it up.
    let final_rows = match &result {
        Ok(_) => Some(
            async {
                let mut reader = mysql_async::Conn::new(ep.opts(Some(db)))
                    .await
                    .map_err(err("connecting for the final read"))?;
                let rows = read_table(&mut reader, &scenario.final_query).await;
                let _ = reader.disconnect().await;
                rows
            }
            .await,
        ),
        Err(_) => None,
    };
    // The database goes whatever happened.
    let _ = admin
        .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
        .await;
    let _ = admin.disconnect().await;
    let (steps, sessions, reported_isolation) = result?;
    let final_rows = final_rows.unwrap_or_else(|| Ok(Vec::new()))?;
    Ok(Trace {
        steps,
        sessions,
        initial,
        final_rows,
        reported_isolation,
    })
}

type Driven = (Vec<StepRecord>, Vec<(String, SessionEnd)>, Option<String>);

async fn drive(plan: &CellPlan<'_>, timeout_rolls_back: bool) -> Result<Driven, RunError> {
    let CellPlan {
        ep,
        flavor,
        scenario,
        level,
        db,
        timing,
        locks,
    } = *plan;
    // Open every session, set its level, read it back.
    let n = scenario.sessions.len();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut senders = Vec::new();
    let mut conn_ids = Vec::new();
    let mut reported = None;
    let mut tasks = Vec::new();
    for (i, name) in scenario.sessions.iter().enumerate() {
        let mut c = mysql_async::Conn::new(ep.opts(Some(db)))
            .await
            .map_err(err(format!("connecting session {name}")))?;
        session::set_isolation(&mut c, level)
            .await
            .map_err(err(format!("setting {name}'s isolation level")))?;
        if let (Some(t), Some(var)) = (timing.lock_wait_timeout, flavor.spec().lock_wait_variable())
        {
            c.query_drop(format!("SET SESSION {var} = {t}"))
                .await
                .map_err(err("setting the lock wait timeout"))?;
        }
        if i == 0 {
            reported = session::reported_isolation(&mut c).await;
        }
        conn_ids.push(c.id() as u64);
        let (tx, rx) = mpsc::unbounded_channel::<(usize, String)>();
        senders.push(tx);
        tasks.push(tokio::spawn(session_task(i, c, rx, done_tx.clone())));
    }
    drop(done_tx);

    let mut records: Vec<StepRecord> = scenario
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepRecord::unsent(i, s))
        .collect();
    let mut ends: Vec<Option<SessionEnd>> = vec![None; n];
    let mut busy: Vec<Option<usize>> = vec![None; n];
    let index_of = |name: &str| {
        scenario
            .sessions
            .iter()
            .position(|s| s == name)
            .unwrap_or(0)
    };
    let explicit_begin: BTreeSet<usize> = scenario
        .steps
        .iter()
        .filter(|s| s.shape == Shape::Begin)
        .map(|s| index_of(&s.session))
        .collect();
    let mut st = State {
        records: &mut records,
        ends: &mut ends,
        busy: &mut busy,
        pending: vec![VecDeque::new(); n],
        senders: &senders,
        sql: scenario.steps.iter().map(|s| s.sql.clone()).collect(),
        timeout_rolls_back,
        current: 0,
    };
    // Sessions without a begin step of their own begin now, in order.
    for (i, sender) in senders.iter().enumerate() {
        if !explicit_begin.contains(&i) {
            let _ = sender.send((usize::MAX, "BEGIN".into()));
            let d = recv_for(&mut done_rx, i, timing.give_up).await?;
            if let Outcome::Error { code, message } = d.outcome {
                return Err(RunError {
                    what: format!("beginning {}", scenario.sessions[i]),
                    message: format!("error {code}: {message}"),
                });
            }
        }
    }
    for (k, step) in scenario.steps.iter().enumerate() {
        let s = index_of(&step.session);
        st.current = k;
        // A terminal whose statement has not returned takes nothing new: the step waits for
        // it, and the next session's step goes first.
        if st.busy[s].is_some() || !st.pending[s].is_empty() {
            st.pending[s].push_back(k);
            st.records[k].deferred = true;
            continue;
        }
        if st.skip_if_gone(s, k) {
            continue;
        }
        if !st.send(s, k) {
            return Err(no_answer(scenario, k));
        }
        let sent = Instant::now();
        loop {
            if let Ok(Some(d)) =
                tokio::time::timeout(Duration::from_millis(10), done_rx.recv()).await
            {
                st.apply(d);
            }
            if st.busy[s] != Some(k) {
                break;
            }
            let age = sent.elapsed();
            if age >= timing.min_block {
                let blocked = if let Some(l) = locks {
                    l.waiting_after(sent + timing.min_block)
                        .await?
                        .contains(&conn_ids[s])
                } else {
                    age >= timing.no_probe_block
                };
                if blocked {
                    st.records[k].blocked = true;
                    break;
                }
            }
            if age > timing.give_up {
                return Err(no_answer(scenario, k));
            }
        }
        // Let whatever this step unblocked finish (or block again) before the next step.
        settle(&mut st, &mut done_rx, locks, &conn_ids, timing).await?;
    }
    // Every outstanding and deferred statement ends (a lock wait times out at the latest).
    let started = Instant::now();
    st.current = scenario.steps.len().saturating_sub(1);
    loop {
        settle(&mut st, &mut done_rx, locks, &conn_ids, timing).await?;
        let Some(k) = st.busy.iter().flatten().next().copied() else {
            break;
        };
        if started.elapsed() > timing.give_up {
            return Err(no_answer(scenario, k));
        }
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(20), done_rx.recv()).await {
            st.apply(d);
        }
    }
    let mut sessions = Vec::new();
    for (i, name) in scenario.sessions.iter().enumerate() {
        let end = match st.ends[i] {
            Some(e) => e,
            None => {
                let _ = senders[i].send((usize::MAX, "ROLLBACK".into()));
                let _ = recv_for(&mut done_rx, i, timing.give_up).await;
                SessionEnd::LeftOpen
            }
        };
        sessions.push((name.clone(), end));
    }
    drop(senders);
    for t in tasks {
        let _ = t.await;
    }
    Ok((records, sessions, reported))
}

/// The bookkeeping of one cell while it runs.
struct State<'a> {
    records: &'a mut Vec<StepRecord>,
    ends: &'a mut Vec<Option<SessionEnd>>,
    /// Per session: the step it waits on.
    busy: &'a mut Vec<Option<usize>>,
    /// Per session: steps that came while it was busy, to send when it returns.
    pending: Vec<VecDeque<usize>>,
    senders: &'a [mpsc::UnboundedSender<(usize, String)>],
    sql: Vec<String>,
    timeout_rolls_back: bool,
    /// The step being run.
    current: usize,
}

impl State<'_> {
    /// Sends step `k` to session `s`.
    fn send(&mut self, s: usize, k: usize) -> bool {
        self.busy[s] = Some(k);
        self.senders[s].send((k, self.sql[k].clone())).is_ok()
    }

    /// Marks step `k` skipped if session `s`'s transaction is gone.
    fn skip_if_gone(&mut self, s: usize, k: usize) -> bool {
        let gone = matches!(
            self.ends[s],
            Some(SessionEnd::Aborted { .. } | SessionEnd::CommitRefused { .. })
        );
        if gone {
            self.records[k].outcome = Outcome::Skipped {
                because: format!("{}'s transaction was rolled back", self.records[k].session),
            };
        }
        gone
    }

    fn apply(&mut self, d: Done) {
        if d.step == usize::MAX {
            return;
        }
        self.busy[d.session] = None;
        let r = &mut self.records[d.step];
        r.returned_during = Some(self.current + 1);
        let shape = Shape::of(&r.sql);
        match (&d.outcome, shape) {
            (Outcome::Ok { .. }, Shape::Commit) => {
                self.ends[d.session] = Some(SessionEnd::Committed)
            }
            (Outcome::Ok { .. }, Shape::Rollback) => {
                self.ends[d.session] = Some(SessionEnd::RolledBack)
            }
            (Outcome::Error { code, .. }, Shape::Commit) => {
                self.ends[d.session] = Some(SessionEnd::CommitRefused { code: *code })
            }
            (Outcome::Error { code, .. }, _)
                if ROLLBACK_CODES.contains(code)
                    || (*code == LOCK_WAIT_TIMEOUT && self.timeout_rolls_back) =>
            {
                self.ends[d.session] = Some(SessionEnd::Aborted { code: *code })
            }
            _ => {}
        }
        r.outcome = d.outcome;
        // The terminal is free again: what was typed meanwhile goes now.
        while let Some(k) = self.pending[d.session].pop_front() {
            if self.skip_if_gone(d.session, k) {
                continue;
            }
            self.send(d.session, k);
            break;
        }
    }
}

/// Waits until every outstanding statement has returned or waits on a lock (with a probe), or
/// a short grace has passed (without one).
async fn settle(
    st: &mut State<'_>,
    done_rx: &mut mpsc::UnboundedReceiver<Done>,
    locks: Option<&LockWatch>,
    conn_ids: &[u64],
    timing: Timing,
) -> Result<(), RunError> {
    let started = Instant::now();
    loop {
        while let Ok(d) = done_rx.try_recv() {
            st.apply(d);
        }
        let waiting: Vec<usize> = (0..st.busy.len())
            .filter(|&i| st.busy[i].is_some())
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        if let Some(l) = locks {
            let locked = l.waiting_after(Instant::now()).await?;
            if waiting.iter().all(|&i| locked.contains(&conn_ids[i])) {
                for &i in &waiting {
                    if let Some(k) = st.busy[i] {
                        st.records[k].blocked = true;
                    }
                }
                return Ok(());
            }
        } else {
            // Without a probe, a statement still out after the blocking wait is blocked.
            if started.elapsed() >= timing.no_probe_block {
                for &i in &waiting {
                    if let Some(k) = st.busy[i] {
                        st.records[k].blocked = true;
                    }
                }
                return Ok(());
            }
        }
        if started.elapsed() > timing.give_up {
            return Ok(());
        }
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(10), done_rx.recv()).await {
            st.apply(d);
        }
    }
}

fn no_answer(scenario: &Scenario, k: usize) -> RunError {
    RunError {
        what: format!("step {} ({})", k + 1, scenario.steps[k].session),
        message: format!("{:?} did not return", scenario.steps[k].sql),
    }
}

/// Waits for session `i`'s answer to a statement outside the steps (BEGIN, ROLLBACK).
async fn recv_for(
    rx: &mut mpsc::UnboundedReceiver<Done>,
    i: usize,
    give_up: Duration,
) -> Result<Done, RunError> {
    let deadline = Instant::now() + give_up;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(d)) if d.session == i && d.step == usize::MAX => return Ok(d),
            Ok(Some(_)) => {}
            _ => {
                return Err(RunError {
                    what: format!("session {}", i + 1),
                    message: "did not answer".into(),
                })
            }
        }
    }
}

/// Which connections wait on a row lock, as InnoDB lists them, read by one task per server.
///
/// InnoDB serves `information_schema.innodb_trx` from a cache it refreshes only when the table
/// has not been read for 0.1 s: read more often, by anyone, and it never changes. So one task
/// reads it every [`LockWatch::EVERY`] and every cell on the server shares what it saw.
#[derive(Clone)]
pub struct LockWatch {
    rx: tokio::sync::watch::Receiver<(Instant, std::sync::Arc<Vec<u64>>)>,
    _task: std::sync::Arc<AbortOnDrop>,
}

/// Ends the watch task when the last handle goes.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl LockWatch {
    /// How often the table is read: over InnoDB's 0.1 s, so each read refreshes it.
    pub const EVERY: Duration = Duration::from_millis(120);

    /// Starts watching the server at `ep` of `flavor` with its lock-wait probe
    /// ([`crate::server::FlavorSpec::lock_waits_query`]); `None` when it has none or the probe
    /// fails.
    pub async fn start(ep: &Endpoint, flavor: Flavor) -> Option<LockWatch> {
        let probe = flavor.spec().lock_waits_query()?;
        let mut conn = mysql_async::Conn::new(ep.opts(None)).await.ok()?;
        let first = conn.query::<u64, _>(probe).await.ok()?;
        let (tx, rx) = tokio::sync::watch::channel((Instant::now(), std::sync::Arc::new(first)));
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(LockWatch::EVERY).await;
                let at = Instant::now();
                match conn.query::<u64, _>(probe).await {
                    Ok(ids) => {
                        if tx.send((at, std::sync::Arc::new(ids))).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("reading lock waits: {e}");
                        break;
                    }
                }
            }
            let _ = conn.disconnect().await;
        });
        Some(LockWatch {
            rx,
            _task: std::sync::Arc::new(AbortOnDrop(task)),
        })
    }

    /// The connections waiting on a lock in the first reading begun at or after `after`.
    pub async fn waiting_after(
        &self,
        after: Instant,
    ) -> Result<std::sync::Arc<Vec<u64>>, RunError> {
        let mut rx = self.rx.clone();
        loop {
            {
                let (at, ids) = &*rx.borrow_and_update();
                if *at >= after {
                    return Ok(ids.clone());
                }
            }
            if rx.changed().await.is_err() {
                return Err(RunError {
                    what: "watching lock waits".into(),
                    message: "the watch stopped (see the warning above)".into(),
                });
            }
        }
    }
}

/// Runs each statement it is given on its connection and reports how it ended.
async fn session_task(
    session: usize,
    mut conn: mysql_async::Conn,
    mut rx: mpsc::UnboundedReceiver<(usize, String)>,
    done: mpsc::UnboundedSender<Done>,
) {
    while let Some((step, sql)) = rx.recv().await {
        let outcome = execute(&mut conn, &sql).await;
        if done
            .send(Done {
                session,
                step,
                outcome,
            })
            .is_err()
        {
            break;
        }
    }
    let _ = conn.disconnect().await;
}

async fn execute(conn: &mut mysql_async::Conn, sql: &str) -> Outcome {
    let is_read = Shape::of(sql).is_read();
    let result = async {
        let mut r = conn.query_iter(sql).await?;
        let rows: Vec<mysql_async::Row> = r.collect().await?;
        let affected = r.affected_rows();
        drop(r);
        Ok::<_, mysql_async::Error>((rows, affected))
    }
    .await;
    match result {
        Ok((rows, affected)) => Outcome::Ok {
            rows: is_read.then(|| rows.iter().map(row_values).collect()),
            affected: (!is_read && affected > 0).then_some(affected),
        },
        Err(mysql_async::Error::Server(e)) => Outcome::Error {
            code: e.code,
            message: e.message,
        },
        Err(e) => Outcome::Error {
            code: 0,
            message: e.to_string(),
        },
    }
}

fn row_values(row: &mysql_async::Row) -> Row {
    use mysql_async::Value;
    (0..row.len())
        .map(|i| match row.as_ref(i) {
            Some(Value::Int(v)) => serde_json::Value::from(*v),
            Some(Value::UInt(v)) => serde_json::Value::from(*v),
            Some(Value::Bytes(b)) => {
                let s = String::from_utf8_lossy(b);
                match s.parse::<i64>() {
                    Ok(v) => serde_json::Value::from(v),
                    Err(_) => serde_json::Value::from(s.into_owned()),
                }
            }
            Some(Value::NULL) | None => serde_json::Value::Null,
            Some(other) => serde_json::Value::from(other.as_sql(true)),
        })
        .collect()
}

async fn read_table(conn: &mut mysql_async::Conn, sql: &str) -> Result<Vec<Row>, RunError> {
    let rows: Vec<mysql_async::Row> = conn
        .query(sql)
        .await
        .map_err(err(format!("reading the table ({sql})")))?;
    Ok(rows.iter().map(row_values).collect())
}
