//! The runner: many concurrent clients drive a workload against a server while every operation
//! is recorded, then the history is checked.
//!
//! How a run goes:
//! 1. prepare: create the database and the workload's table, read back the isolation level the
//!    server reports for a session that asked for the requested one;
//! 2. drive: `clients` tokio tasks, each with its own connection, take the next op from the
//!    shared seeded [`Generator`], record the invoke, run the op as one transaction, and record
//!    `ok`, `fail` or `info` ([`errors`]). After an `info` the client reconnects and goes on under
//!    a new process number (the old one may still have a transaction in flight), as in Jepsen;
//!    Meanwhile, on a managed server, the nemesis injects the planned faults ([`crate::faults`])
//!    and records each as a pair of `nemesis` ops, and the health watch reads the server's log
//!    and notices the process exiting on its own;
//! 3. stop on the time limit, the op count, a signal (SIGINT, SIGTERM, SIGHUP), a server that is
//!    gone or a history that cannot be written (one [`Shutdown`] for the whole run); let the nemesis
//!    finish its fault (the server is up again), then read every key once more (the final
//!    reads) so the history ends with the database's final state and the durability checks
//!    have something to hold acknowledged writes to;
//! 4. check the history with the workload's checker against the model of the requested level, and
//!    write `run.json` next to `history.jsonl`.
//!
//! The steps are [`run`]'s: `prepare`, `drive`, `finish`. [`target`] puts a server in front of
//! them (a managed one it starts and tears down, or one given by URL), and [`request`] is the
//! run as a user asks for it, which also gives the command that reproduces it.
//!
//! Invariant: `history.jsonl` holds every op recorded so far at every moment ([`recorder`]), and
//! `run.json` ([`crate::run_folder`]) is written at the start (status `running`) and replaced at
//! the end. Every wait of a run ends at the deadline or when the run stops ([`shutdown`]).

pub mod errors;
pub mod recorder;
pub mod request;
pub mod shutdown;
pub mod stats;
pub mod target;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};
use mysql_async::prelude::*;
use mysql_async::Conn;
use tokio_util::sync::CancellationToken;

use crate::checker::{self, CheckResult, Validity};
use crate::faults::health::{HealthFinding, HealthKind, LogWatch};
use crate::faults::{self, Event, NemesisPlan, Schedule, Step};
use crate::history::datum::Datum;
use crate::history::{History, OpFn, OpType, OpValue, Process};
use crate::run_folder::{self, FaultRecord, RunStatus, RunSummary, TargetInfo};
use crate::scratch::{self, Leftover, Proc};
use crate::server::{Cluster, Endpoint, Flavor, ManagedServer, ServerError, State};
use crate::workload::{self, Generator, Invocation, Isolation, Workload, WorkloadSpec};

use recorder::{Entry, Recorder};
pub use shutdown::{Shutdown, Stop};
use stats::Stats;

/// The longest `--time` a run accepts: a year. Longer is surely a mistake (and would overflow
/// the clock's arithmetic).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Everything a run needs besides the server.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The workload and its shape.
    pub spec: WorkloadSpec,
    /// Seed of the op stream.
    pub seed: u64,
    /// Concurrent clients, each with its own connection (at least one).
    pub clients: u32,
    /// Stop after this long (with `max_ops`, whichever comes first); at most [`MAX_DURATION`].
    pub duration: Option<Duration>,
    /// Stop after this many ops were invoked.
    pub max_ops: Option<u64>,
    /// Ops per second across all clients, when limited (positive).
    pub rate: Option<f64>,
    /// An op that takes longer is abandoned and recorded `info` (or `fail` if read-only).
    pub op_timeout: Duration,
    /// The isolation level every session asks for.
    pub isolation: Isolation,
    /// Where `history.jsonl` and `run.json` go.
    pub out_dir: PathBuf,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// The command line that reproduces the run (credentials masked), for the report.
    pub command: String,
    /// Faults to inject (managed servers only).
    pub nemesis: Option<NemesisPlan>,
}

impl RunConfig {
    /// Refuses what a run cannot do as asked: no clients, a rate that is not positive, a time
    /// limit past [`MAX_DURATION`], a zero op timeout, or a workload whose numbers do not fit.
    /// Nothing is quietly changed.
    pub fn validate(&self) -> Result<(), RunError> {
        let bad = |m: String| Err(RunError::Config(m));
        if self.clients == 0 {
            return bad("--clients must be at least 1".into());
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return bad(format!(
                    "--rate must be a positive number of ops per second, not {r}"
                ));
            }
            if self.pace().is_none() {
                return bad(format!(
                    "--rate {r} is too slow: each client would wait more than {} days between ops",
                    MAX_DURATION.as_secs() / 86400
                ));
            }
        }
        if let Some(d) = self.duration {
            if d.is_zero() || d > MAX_DURATION {
                return bad(format!(
                    "--time must be more than 0s and at most {} days, not {}",
                    MAX_DURATION.as_secs() / 86400,
                    humantime::format_duration(d)
                ));
            }
        }
        if self.max_ops == Some(0) {
            return bad("--ops must be at least 1".into());
        }
        if self.op_timeout.is_zero() || self.op_timeout > MAX_DURATION {
            return bad(format!(
                "--op-timeout must be more than 0s and at most {} days",
                MAX_DURATION.as_secs() / 86400
            ));
        }
        self.spec.validate().map_err(RunError::Config)?;
        if self.nemesis.as_ref().is_some_and(|p| !p.faults.is_empty())
            && self.nemesis.as_ref().is_some_and(|p| p.interval.is_zero())
        {
            return bad("--nemesis-interval must be more than 0s".into());
        }
        Ok(())
    }

    /// How long each client waits between the starts of its ops under `rate`: `None` without a
    /// rate, or if the wait would be longer than [`MAX_DURATION`] (or not a number).
    fn pace(&self) -> Option<Duration> {
        let secs = f64::from(self.clients) / self.rate?;
        Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| *d <= MAX_DURATION)
    }
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The run was asked for something it cannot do.
    #[error("{0}")]
    Config(String),
    /// Files of the run could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What isoscope was doing.
        what: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The run folder could not be written.
    #[error(transparent)]
    Folder(#[from] run_folder::RunFolderError),
    /// The server could not be found, started or prepared.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The server refused the set-up.
    #[error("{what}: {message}")]
    Setup {
        /// What isoscope was doing.
        what: String,
        /// The driver's message.
        message: String,
    },
    /// The history could not be written (a full disk, say): the run stopped at once.
    #[error("the history could not be written ({why}); the run stopped after {elapsed_s:.1} s, and run.json says history-unwritable")]
    HistoryUnwritable {
        /// What the OS said.
        why: String,
        /// When the run stopped, in seconds since the clients started.
        elapsed_s: f64,
    },
    /// A signal stopped isoscope before the clients started.
    #[error("stopped by {0} before the clients started")]
    StoppedEarly(&'static str),
    /// The history could not be checked.
    #[error("checking the history: {0}")]
    Check(#[from] checker::CheckError),
}

/// What a finished run hands back.
pub struct RunOutput {
    /// The summary written to `run.json`.
    pub summary: RunSummary,
    /// The check result.
    pub check: CheckResult,
    /// The recorded history.
    pub history: History,
}

impl RunOutput {
    /// The run's verdict: the check's (isolation and durability), except that a health finding
    /// (a crash, corruption, a server that did not come back) makes it invalid.
    pub fn verdict(&self) -> Validity {
        crate::verdict::overall(self.check.valid, &self.summary.health)
    }
}

/// Fault steps so far, and the one under way.
#[derive(Default)]
struct FaultLog {
    /// Steps that ended.
    done: Vec<FaultRecord>,
    /// The step under way: its name and start, in seconds.
    open: Option<(&'static str, f64)>,
}

/// Live outcome counts, for the progress bar.
#[derive(Default)]
struct LiveCounts {
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
}

/// Shared by all tasks while the run goes.
struct Shared {
    cfg: RunConfig,
    endpoint: Endpoint,
    /// The server's flavor, which says which errors mean "rolled back".
    flavor: Flavor,
    generator: Mutex<Generator>,
    recorder: Recorder,
    shutdown: Shutdown,
    invoked: AtomicU64,
    live: LiveCounts,
    /// When the clients began.
    start: Instant,
    /// Fault steps so far, and the one under way.
    faults: Mutex<FaultLog>,
    /// Health findings so far.
    health: Mutex<Vec<HealthFinding>>,
    /// The server did not come back (whatever stopped the run first).
    server_gone: AtomicBool,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.shutdown.is_stopping()
    }

    fn now_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn finding(&self, kind: HealthKind, message: String, excerpt: String) {
        // One line: what happened, and the log line that says why (the summary shows more).
        let cause = crate::faults::health::excerpt_lines(&excerpt, 1)
            .into_iter()
            .next()
            .filter(|c| {
                !message
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .contains(c.as_str())
            })
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        tracing::warn!(
            "health: {kind}: {}{cause}",
            message.lines().next().unwrap_or_default()
        );
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(HealthFinding {
                kind,
                at_s: self.now_s(),
                message,
                excerpt,
            });
    }

    /// The server did not come back: a finding, no final reads, and the run stops.
    fn lose_server(&self, message: String, excerpt: String) {
        self.finding(HealthKind::DidNotComeBack, message, excerpt);
        self.server_gone.store(true, Ordering::Relaxed);
        self.shutdown.stop(Stop::ServerGone);
    }

    /// Records a nemesis step as it begins or ends. Recorded under the faults lock, so that
    /// begin and end keep their order.
    fn nemesis_event(&self, ev: Event) {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let record = |kind, step: Step, value, error| {
            let f = OpFn::Other(Arc::from(step.name()));
            self.recorder.record(Entry {
                error,
                ..Entry::new(kind, Process::Nemesis, &f, value)
            });
        };
        let (step, outcome) = match ev {
            Event::Begin(step) => {
                faults.open = Some((step.name(), self.now_s()));
                record(OpType::Invoke, step, OpValue::Nil, None);
                return;
            }
            Event::End(step, detail) => (step, Ok(detail)),
            Event::Failed(step, error) => (step, Err(error)),
        };
        let Some((_, start_s)) = faults.open.take().filter(|(n, _)| *n == step.name()) else {
            tracing::warn!("nemesis step {} ended without beginning", step.name());
            return;
        };
        let (detail, value, error) = match outcome {
            Ok(d) => (d.clone(), OpValue::Other(Datum::Str(d)), None),
            Err(e) => ("the server did not come back".into(), OpValue::Nil, Some(e)),
        };
        faults.done.push(FaultRecord {
            step: step.name().into(),
            start_s,
            end_s: self.now_s(),
            detail,
            error: error.clone(),
        });
        record(OpType::Info, step, value, error);
    }

    /// Claims the right to invoke one more op, unless the op limit is reached.
    fn claim_op(&self) -> bool {
        let n = self.invoked.fetch_add(1, Ordering::Relaxed);
        match self.cfg.max_ops {
            Some(m) if n >= m => {
                self.shutdown.stop(Stop::OpLimit);
                false
            }
            _ => true,
        }
    }
}

/// How long a connection attempt may take (a paused server accepts and never answers).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects a session at the run's isolation level.
async fn connect(ep: &Endpoint, iso: Isolation) -> Result<Conn, mysql_async::Error> {
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(ep.opts(Some(&ep.database))))
        .await
        .map_err(|_| {
            mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {CONNECT_TIMEOUT:?}"),
            )))
        })??;
    workload::session::set_isolation(&mut conn, iso).await?;
    Ok(conn)
}

/// How long connection attempts go on, and how they wait.
#[derive(Clone, Copy)]
enum Patience {
    /// A client's: until the run stops.
    UntilStop,
    /// The final reads': until this moment, or until the run is aborted.
    Until(Instant),
}

/// Connects, retrying with backoff (for a server that is restarting) until `patience` runs out.
async fn connect_retrying(shared: &Shared, patience: Patience) -> Option<Conn> {
    let sd = &shared.shutdown;
    let mut wait = Duration::from_millis(50);
    loop {
        match connect(&shared.endpoint, shared.cfg.isolation).await {
            Ok(c) => return Some(c),
            Err(e) => {
                tracing::debug!("connect failed: {e}");
                let waited = match patience {
                    Patience::UntilStop => !sd.is_stopping() && sd.sleep(wait).await,
                    Patience::Until(t) => {
                        Instant::now() < t
                            && !sd.is_aborted()
                            && sd.sleep_unless_aborted(wait).await
                    }
                };
                if !waited {
                    return None;
                }
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn op_kind(f: &OpFn) -> &'static str {
    match f {
        OpFn::Txn => "txn",
        OpFn::Add => "add",
        OpFn::Read => "read",
        OpFn::Transfer => "transfer",
        OpFn::Other(_) => "other",
    }
}

/// What a client does after an op.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct AfterOp {
    /// The connection is broken or suspect: replace it.
    reconnect: bool,
    /// The op's outcome is unknown, so it may still be in flight: go on under a new process
    /// number, as in Jepsen.
    new_process: bool,
}

/// Runs one op on `conn` and records its outcome.
async fn perform(
    shared: &Shared,
    conn: &mut Conn,
    process: Process,
    inv: Invocation,
    stats: &mut Stats,
) -> AfterOp {
    let rec = &shared.recorder;
    let read_only = workload::is_read_only(&inv);
    rec.record(Entry::new(
        OpType::Invoke,
        process,
        &inv.f,
        inv.value.clone(),
    ));
    let t0 = Instant::now();
    let exec = workload::execute(conn, &shared.cfg.spec, &inv);
    let outcome = tokio::time::timeout(shared.cfg.op_timeout, exec).await;
    let (class, sql) = match outcome {
        Ok(Ok(done)) => {
            stats.ok(op_kind(&inv.f), t0.elapsed());
            shared.live.ok.fetch_add(1, Ordering::Relaxed);
            rec.record(Entry {
                lists: done.lists,
                sql: Some(done.sql),
                ..Entry::new(OpType::Ok, process, &inv.f, done.value)
            });
            return AfterOp::default();
        }
        Ok(Err(e)) => {
            let c = errors::classify(&e, read_only, shared.flavor.spec());
            let sql = match e {
                workload::ExecError::Db { sql, .. } | workload::ExecError::Aborted { sql, .. } => {
                    sql
                }
            };
            (c, sql)
        }
        Err(_) => (
            errors::timeout(read_only, shared.cfg.op_timeout),
            Vec::new(),
        ),
    };
    stats.error(class.kind, class.definite);
    let kind = if class.definite {
        shared.live.fail.fetch_add(1, Ordering::Relaxed);
        OpType::Fail
    } else {
        shared.live.info.fetch_add(1, Ordering::Relaxed);
        OpType::Info
    };
    rec.record(Entry {
        error: Some(class.message),
        sql: (!sql.is_empty()).then_some(sql),
        ..Entry::new(kind, process, &inv.f, inv.value)
    });
    let mut after = AfterOp {
        reconnect: class.reconnect,
        new_process: !class.definite,
    };
    // Make sure nothing of the failed transaction lingers on this connection.
    if class.definite && !class.reconnect && conn.query_drop("ROLLBACK").await.is_err() {
        after.reconnect = true;
    }
    after
}

/// One logical client: its own connection, its own process numbers.
async fn client(shared: Arc<Shared>, id: u32) -> Stats {
    let clients = u64::from(shared.cfg.clients);
    let mut process = u64::from(id);
    let mut stats = Stats::default();
    let pace = shared.cfg.pace();
    let mut next_at = Instant::now();
    let mut conn: Option<Conn> = None;
    while !shared.stopping() {
        if conn.is_none() {
            conn = connect_retrying(&shared, Patience::UntilStop).await;
            if conn.is_none() {
                break;
            }
        }
        if let Some(p) = pace {
            let now = Instant::now();
            if next_at > now && !shared.shutdown.sleep(next_at - now).await {
                break;
            }
            next_at = next_at.max(now) + p;
        }
        if !shared.claim_op() {
            break;
        }
        let inv = shared
            .generator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_op();
        let Some(c) = conn.as_mut() else { break };
        let after = perform(&shared, c, Process::Client(process), inv, &mut stats).await;
        if after.reconnect {
            if let Some(c) = conn.take() {
                // Best effort: the server may be gone.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(1), c.disconnect()).await;
                });
            }
        }
        if after.new_process {
            process += clients;
        }
    }
    if let Some(c) = conn {
        let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
    }
    stats
}

/// Reads every key once more after the clients stopped, under a fresh process number; gives up
/// after a minute without a connection, or when the run is aborted.
async fn final_reads(shared: &Shared, process: u64, stats: &mut Stats) {
    let reads = shared
        .generator
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .final_reads();
    let patience = Patience::Until(Instant::now() + Duration::from_secs(60));
    let mut process = process;
    let mut conn = None;
    for inv in reads {
        if shared.shutdown.is_aborted() {
            tracing::warn!("aborted: the final reads were cut short");
            return;
        }
        if conn.is_none() {
            conn = connect_retrying(shared, patience).await;
        }
        let Some(c) = conn.as_mut() else {
            tracing::warn!("the server did not answer for the final reads");
            return;
        };
        let after = perform(shared, c, Process::Client(process), inv, stats).await;
        if after.reconnect {
            conn = None;
        }
        if after.new_process {
            process += 1;
        }
    }
}

/// The nemesis: injects the plan's faults on schedule until the run stops, and leaves the server
/// up (a fault under way when the clients stop is finished first). If the server does not come
/// back, it records that, stops the run and marks the server gone.
async fn nemesis(
    shared: Arc<Shared>,
    server: Arc<Mutex<ManagedServer>>,
    plan: NemesisPlan,
    scratch: PathBuf,
) {
    let mut schedule = Schedule::new(plan.clone(), shared.cfg.seed);
    let mut n = 0u64;
    while let Some(at) = schedule.peek() {
        let now = shared.start.elapsed();
        if now < at && !shared.shutdown.sleep(at - now).await {
            return;
        }
        if shared.stopping() {
            return;
        }
        let Some(fault) = schedule.take() else {
            return;
        };
        n += 1;
        let (sh, srv, plan, scratch) = (
            shared.clone(),
            server.clone(),
            plan.clone(),
            scratch.clone(),
        );
        let seed = shared.cfg.seed.wrapping_add(n);
        let outcome = tokio::task::spawn_blocking(move || {
            faults::inject(&srv, fault, &plan, &scratch, seed, &mut |ev| {
                sh.nemesis_event(ev)
            })
        })
        .await;
        schedule.ended(shared.start.elapsed());
        match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(not_back)) => {
                let excerpt = start_log(&not_back.source, &server);
                shared.lose_server(not_back.to_string(), excerpt);
            }
            Err(e) => shared.lose_server(
                format!("the fault {fault} could not be injected: {e}"),
                String::new(),
            ),
        }
        return;
    }
}

/// The log lines that show why a server did not start: those the error carries, else the
/// log's tail.
fn start_log(e: &ServerError, server: &Mutex<ManagedServer>) -> String {
    match e {
        ServerError::NotReady { tail, .. } => tail.clone(),
        _ => server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .log_tail(15),
    }
}

/// The health watch: every 250 ms, reads what the server logged and checks that its process
/// is still there, until `done`. A server that exits while no fault holds it is a finding; the
/// run then stops, and the server is started once more so that the final reads can tell what
/// it kept. Returns when `done` fires, after a last look at the log. `node` begins every
/// finding's message (`node2: `; empty for a cluster of one).
async fn watch_health(
    shared: Arc<Shared>,
    server: Arc<Mutex<ManagedServer>>,
    node: String,
    done: CancellationToken,
) {
    let (log_path, patterns) = {
        let s = server.lock().unwrap_or_else(|p| p.into_inner());
        (s.log_path().to_path_buf(), s.spec().health_patterns())
    };
    let mut log = LogWatch::new(&log_path, patterns);
    let report = |found: Vec<(HealthKind, String)>| {
        for (kind, excerpt) in found {
            shared.finding(kind, format!("{node}{}", kind.log_message()), excerpt);
        }
    };
    loop {
        let finished = done.is_cancelled();
        report(log.poll());
        if finished {
            report(log.flush());
            return;
        }
        // A fault under way holds the lock; its own kills are not the server's doing.
        let exited = server.try_lock().ok().and_then(|mut s| {
            if s.state() == State::Down {
                return None;
            }
            let status = s.exited()?;
            Some((status, s.log_tail(15)))
        });
        if let Some((status, tail)) = exited {
            shared.finding(
                HealthKind::ExitedOnItsOwn,
                format!("{node}the server exited on its own ({status}); stopping the run and starting it again for the final reads"),
                tail,
            );
            shared.shutdown.stop(Stop::ServerExited);
            let srv = server.clone();
            let back = tokio::task::spawn_blocking(move || {
                srv.lock().unwrap_or_else(|p| p.into_inner()).spawn()
            })
            .await;
            if let Ok(Err(e)) | Err(e) = back.map_err(|e| ServerError::Unsupported(e.to_string())) {
                let excerpt = start_log(&e, &server);
                shared.lose_server(
                    format!("{node}the server did not start again after exiting: {e}"),
                    excerpt,
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = done.cancelled() => {}
        }
    }
}

/// A run id: `20261121T124201-dolt-counter-repeatable-read`.
pub fn run_id(flavor: Flavor, kind: Workload, iso: Isolation) -> String {
    format!(
        "{}-{}-{}-{}",
        stamp(),
        flavor.name(),
        kind.name(),
        iso.name()
    )
}

/// The time now as a compact UTC stamp for folder names: `20261121T124201`.
pub fn stamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect()
}

/// Drives the workload against `endpoint`, records the history, checks it, and writes
/// `history.jsonl` and `run.json` into `cfg.out_dir`, until the time or op limit, or until
/// `shutdown` fires.
///
/// `cluster` holds the managed servers, when isoscope started them (a single server is a
/// cluster of one): the nemesis and the health watch need them. Faults on an external server
/// are refused.
pub async fn run(
    cfg: RunConfig,
    endpoint: Endpoint,
    target: TargetInfo,
    cluster: Option<Arc<Cluster>>,
    shutdown: Shutdown,
) -> Result<RunOutput, RunError> {
    if cfg.nemesis.as_ref().is_some_and(|p| !p.faults.is_empty()) && cluster.is_none() {
        return Err(RunError::Setup {
            what: "injecting faults".into(),
            message: "faults need a server isoscope manages (--db), not an external one".into(),
        });
    }
    let flavor = target.flavor;
    let summary = prepare(&cfg, &endpoint, target).await?;
    let driven = drive(cfg, endpoint, flavor, cluster, shutdown).await?;
    finish(summary, driven)
}

/// Step 1: checks the configuration, creates the database's table, reads back the isolation
/// level, and writes `run.json` with status `running`.
async fn prepare(
    cfg: &RunConfig,
    endpoint: &Endpoint,
    target: TargetInfo,
) -> Result<RunSummary, RunError> {
    cfg.validate()?;
    std::fs::create_dir_all(&cfg.out_dir).map_err(|source| RunError::Io {
        what: format!("creating {}", cfg.out_dir.display()),
        source,
    })?;
    let setup_err = |what: &str| {
        let what = what.to_string();
        move |e: mysql_async::Error| RunError::Setup {
            what,
            message: e.to_string(),
        }
    };
    let mut conn = connect(endpoint, cfg.isolation)
        .await
        .map_err(setup_err(&format!("connecting to {endpoint}")))?;
    let reported = workload::session::reported_isolation(&mut conn)
        .await
        .unwrap_or_else(|| "unknown".into());
    workload::setup(&mut conn, &cfg.spec)
        .await
        .map_err(setup_err("creating the workload's table"))?;
    let _ = conn.disconnect().await;

    let summary = RunSummary {
        status: RunStatus::Running,
        stopped_because: None,
        owner: Some(Proc::me()),
        isoscope_version: env!("CARGO_PKG_VERSION").into(),
        run_id: cfg
            .out_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        command: cfg.command.clone(),
        server: target,
        isolation_requested: cfg.isolation,
        isolation_reported: reported,
        model: cfg.isolation.model(),
        spec: cfg.spec.clone(),
        seed: cfg.seed,
        clients: cfg.clients,
        duration_s: cfg.duration.map(|d| d.as_secs_f64()),
        max_ops: cfg.max_ops,
        rate: cfg.rate,
        op_timeout_s: cfg.op_timeout.as_secs_f64(),
        started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        elapsed_s: 0.0,
        ok: 0,
        fail: 0,
        info: 0,
        throughput: 0.0,
        errors: BTreeMap::new(),
        latency: BTreeMap::new(),
        check: None,
        nemesis: cfg.nemesis.clone(),
        faults: Vec::new(),
        health: Vec::new(),
        verdict: None,
    };
    run_folder::write(&cfg.out_dir, &summary)?;
    Ok(summary)
}

/// What driving the workload gave: the history and what happened around it.
struct Driven {
    cfg: RunConfig,
    /// Why the clients stopped (none: they ran out of work on their own).
    stopped: Option<Stop>,
    /// How long the clients ran.
    elapsed: Duration,
    /// Every client's statistics, merged (the final reads' not among them).
    stats: Stats,
    /// The history, or why it could not be written.
    history: std::io::Result<History>,
    faults: Vec<FaultRecord>,
    health: Vec<HealthFinding>,
}

/// Step 2: the clients, the nemesis and the health watch, until the run stops; then the final
/// reads, unless the server is gone, the history cannot be written or the run was aborted.
async fn drive(
    cfg: RunConfig,
    endpoint: Endpoint,
    flavor: Flavor,
    cluster: Option<Arc<Cluster>>,
    shutdown: Shutdown,
) -> Result<Driven, RunError> {
    let start = Instant::now();
    let history_path = cfg.out_dir.join(run_folder::HISTORY);
    let recorder = Recorder::create(&history_path, start, shutdown.clone()).map_err(|source| {
        RunError::Io {
            what: format!("creating {}", history_path.display()),
            source,
        }
    })?;
    let scratch = scratch::make(Leftover::NemesisCopy).map_err(|source| RunError::Io {
        what: "creating a scratch folder for the nemesis".into(),
        source,
    })?;
    let deadline = cfg.duration.map(|d| shutdown.stop_after(d));
    let shared = Arc::new(Shared {
        generator: Mutex::new(Generator::new(&cfg.spec, cfg.seed)),
        recorder,
        shutdown: shutdown.clone(),
        invoked: AtomicU64::new(0),
        live: LiveCounts::default(),
        start,
        faults: Mutex::default(),
        health: Mutex::new(Vec::new()),
        server_gone: AtomicBool::new(false),
        endpoint,
        flavor,
        cfg,
    });
    let health_done = CancellationToken::new();
    // One watch per node; a node's findings name it when the cluster has more than one.
    let health: Vec<_> = cluster
        .iter()
        .flat_map(|c| {
            let named = c.nodes().len() > 1;
            c.nodes().iter().map(move |n| (n, named))
        })
        .map(|(n, named)| {
            tokio::spawn(watch_health(
                shared.clone(),
                n.server.clone(),
                if named {
                    format!("{}: ", n.name)
                } else {
                    String::new()
                },
                health_done.clone(),
            ))
        })
        .collect();
    // Faults go to the primary (a node selector comes with clusters of more than one).
    let nemesis = match (&cluster, &shared.cfg.nemesis) {
        (Some(c), Some(plan)) if !plan.faults.is_empty() => Some(tokio::spawn(nemesis(
            shared.clone(),
            c.primary().server.clone(),
            plan.clone(),
            scratch.path().to_path_buf(),
        ))),
        _ => None,
    };
    let bar = progress_bar(&shared.cfg);
    let ticker_done = CancellationToken::new();
    let ticker = {
        let (shared, bar, done) = (shared.clone(), bar.clone(), ticker_done.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => update_bar(&shared, &bar),
                    _ = done.cancelled() => return,
                }
            }
        })
    };
    let tasks: Vec<_> = (0..shared.cfg.clients)
        .map(|id| tokio::spawn(client(shared.clone(), id)))
        .collect();
    let mut stats = Stats::default();
    for t in tasks {
        // A panicked client counts as none.
        if let Ok(s) = t.await {
            stats.merge(&s);
        }
    }
    let elapsed = start.elapsed();
    let stopped = shutdown.reason();
    // Clients only end when the run stops, unless they panicked: then stop the rest too.
    if !shutdown.is_stopping() {
        shutdown.stop(Stop::OpLimit);
    }
    ticker_done.cancel();
    let _ = ticker.await;
    if let Some(d) = deadline {
        d.abort();
    }
    update_bar(&shared, &bar);
    bar.finish_and_clear();
    // The nemesis finishes the fault under way, so the server is up for the final reads.
    if let Some(n) = nemesis {
        let _ = n.await;
    }
    // The nemesis may have lost the server while finishing its fault.
    let stopped = if shared.server_gone.load(Ordering::Relaxed) {
        Some(Stop::ServerGone)
    } else {
        stopped
    };

    let skip_final_reads = match &stopped {
        Some(Stop::ServerGone) => Some("the server is gone"),
        Some(Stop::HistoryUnwritable(_)) => Some("the history cannot be written"),
        _ if shutdown.is_aborted() => Some("the run was aborted"),
        _ => None,
    };
    let mut final_stats = Stats::default();
    match skip_final_reads {
        Some(why) => tracing::info!("{why}: no final reads"),
        None => {
            let next_process = u64::from(shared.cfg.clients) * 1_000_000;
            final_reads(&shared, next_process, &mut final_stats).await;
        }
    }
    health_done.cancel();
    for h in health {
        let _ = h.await;
    }
    drop(scratch);
    let history = shared.recorder.finish();
    let faults = take(&shared.faults).done;
    let health = take(&shared.health);
    Ok(Driven {
        cfg: shared.cfg.clone(),
        stopped,
        elapsed,
        stats,
        history,
        faults,
        health,
    })
}

/// The value behind a lock, leaving the default (a poisoned lock still gives its value).
fn take<T: Default>(m: &Mutex<T>) -> T {
    std::mem::take(&mut *m.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Step 3: checks the history against the level's model and writes the final `run.json`.
fn finish(mut summary: RunSummary, d: Driven) -> Result<RunOutput, RunError> {
    let (cfg, stopped, elapsed, stats, health) = (d.cfg, d.stopped, d.elapsed, d.stats, d.health);
    summary.status = match &stopped {
        Some(Stop::Signal(_)) => RunStatus::Interrupted,
        Some(Stop::ServerGone) => RunStatus::ServerGone,
        Some(Stop::HistoryUnwritable(_)) => RunStatus::HistoryUnwritable,
        None | Some(Stop::Deadline | Stop::OpLimit | Stop::ServerExited) => RunStatus::Done,
    };
    summary.stopped_because = match &stopped {
        Some(Stop::Signal(s)) => Some(format!("{s} received")),
        Some(Stop::HistoryUnwritable(e)) => Some(format!("writing the history: {e}")),
        _ => None,
    };
    summary.faults = d.faults;
    summary.elapsed_s = elapsed.as_secs_f64();
    summary.ok = stats.ok;
    summary.fail = stats.fail;
    summary.info = stats.info;
    summary.throughput = stats.ok as f64 / elapsed.as_secs_f64().max(1e-9);
    summary.errors = stats.errors.iter().map(|(k, n)| (k.label(), *n)).collect();
    summary.latency = stats.latencies();
    let history = match (d.history, &stopped) {
        (Ok(h), _) => h,
        (Err(e), Some(Stop::HistoryUnwritable(why))) => {
            tracing::debug!("the history writer: {e}");
            summary.health = health;
            // Best effort: the disk that refused the history may refuse this too.
            let _ = run_folder::write(&cfg.out_dir, &summary);
            return Err(RunError::HistoryUnwritable {
                why: why.clone(),
                elapsed_s: summary.elapsed_s,
            });
        }
        (Err(source), _) => {
            return Err(RunError::Io {
                what: format!(
                    "writing {}",
                    cfg.out_dir.join(run_folder::HISTORY).display()
                ),
                source,
            })
        }
    };
    let check = checker::check(&history, &cfg.spec.check_options(cfg.isolation.model()))?;
    summary.verdict = Some(crate::verdict::overall(check.valid, &health));
    summary.health = health;
    summary.check = Some(serde_json::to_value(&check).expect("check results serialize"));
    run_folder::write(&cfg.out_dir, &summary)?;
    // Checked, the history is gzipped (about a tenth of the size); every reader takes either.
    let path = cfg.out_dir.join(run_folder::HISTORY);
    if let Err(e) = run_folder::compress(&path) {
        tracing::warn!("{} stays uncompressed: {e}", path.display());
    }
    Ok(RunOutput {
        summary,
        check,
        history,
    })
}

fn progress_bar(cfg: &RunConfig) -> ProgressBar {
    if !cfg.progress {
        return ProgressBar::hidden();
    }
    let bar = match (cfg.duration, cfg.max_ops) {
        (Some(d), _) => ProgressBar::new(d.as_secs().max(1)),
        (None, Some(n)) => ProgressBar::new(n),
        _ => ProgressBar::new_spinner(),
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30.cyan/blue}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn update_bar(shared: &Shared, bar: &ProgressBar) {
    let l = &shared.live;
    let [ok, fail, info] = [&l.ok, &l.fail, &l.info].map(|n| n.load(Ordering::Relaxed));
    let elapsed = shared.start.elapsed();
    if shared.cfg.duration.is_some() {
        bar.set_position(elapsed.as_secs());
    } else if shared.cfg.max_ops.is_some() {
        bar.set_position(ok + fail + info);
    }
    bar.set_message(format!(
        "{} ops  ok {ok}  fail {fail}  info {info}  {:.0} ok/s",
        ok + fail + info,
        ok as f64 / elapsed.as_secs_f64().max(1e-9)
    ));
}
