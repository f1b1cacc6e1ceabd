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
//! 3. stop on the time limit, the op count, Ctrl-C, or a server that is gone; let the nemesis
//!    finish its fault (the server is up again), then read every key once more (the final
//!    reads) so the history ends with the database's final state and the durability checks
//!    have something to hold acknowledged writes to;
//! 4. check the history with the workload's checker against the model of the requested level, and
//!    write `run.json` next to `history.jsonl`.
//!
//! Invariant: `history.jsonl` holds every op recorded so far at every moment ([`recorder`]), and
//! `run.json` is written at the start (status `running`) and replaced at the end.

pub mod errors;
pub mod recorder;
pub mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};
use mysql_async::prelude::*;
use mysql_async::Conn;
use serde::{Deserialize, Serialize};

use crate::checker::{self, CheckResult, Validity};
use crate::faults::health::{HealthFinding, HealthKind, LogWatch};
use crate::faults::{self, Event, NemesisPlan, Schedule, Step};
use crate::history::datum::Datum;
use crate::history::{History, OpFn, OpType, OpValue, Process};
use crate::server::{Endpoint, Flavor, ManagedServer, ServerError, State};
use crate::workload::{self, Generator, Invocation, Isolation, WorkloadKind, WorkloadSpec};

use recorder::Recorder;
use stats::{Latency, Stats};

/// Everything a run needs besides the server.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The workload and its shape.
    pub spec: WorkloadSpec,
    /// Seed of the op stream.
    pub seed: u64,
    /// Concurrent clients, each with its own connection.
    pub clients: u32,
    /// Stop after this long (with `max_ops`, whichever comes first).
    pub duration: Option<Duration>,
    /// Stop after this many ops were invoked.
    pub max_ops: Option<u64>,
    /// Ops per second across all clients, when limited.
    pub rate: Option<f64>,
    /// An op that takes longer is abandoned and recorded `info` (or `fail` if read-only).
    pub op_timeout: Duration,
    /// The isolation level every session asks for.
    pub isolation: Isolation,
    /// Where `history.jsonl` and `run.json` go.
    pub out_dir: PathBuf,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// The command line that reproduces the run (credentials removed), for the report.
    pub command: String,
    /// Faults to inject (managed servers only).
    pub nemesis: Option<NemesisPlan>,
}

/// The server a run talks to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Its flavor.
    pub flavor: Flavor,
    /// `VERSION()` as the server reports it.
    pub version: String,
    /// Where clients connected (password hidden).
    pub endpoint: String,
    /// Whether isoscope started the server itself.
    pub managed: bool,
}

/// What `run.json` holds: enough to understand, compare and reproduce the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// `running` while the run goes, `done` when it ended normally, `interrupted` after Ctrl-C.
    pub status: String,
    /// isoscope's version.
    pub isoscope_version: String,
    /// The run's folder name.
    pub run_id: String,
    /// The command that reproduces the run.
    pub command: String,
    /// The server.
    pub server: TargetInfo,
    /// The level asked for.
    pub isolation_requested: Isolation,
    /// The level the server reported for a session that asked for it.
    pub isolation_reported: String,
    /// The model the history is held to.
    pub model: checker::Model,
    /// The workload's shape.
    pub spec: WorkloadSpec,
    /// Seed of the op stream.
    pub seed: u64,
    /// Concurrent clients.
    pub clients: u32,
    /// Time limit in seconds, if any.
    pub duration_s: Option<f64>,
    /// Op limit, if any.
    pub max_ops: Option<u64>,
    /// Rate limit, if any.
    pub rate: Option<f64>,
    /// Per-op timeout in seconds.
    pub op_timeout_s: f64,
    /// Wall-clock start, RFC 3339.
    pub started_at: String,
    /// Seconds the clients ran.
    pub elapsed_s: f64,
    /// Ops that completed `ok`.
    pub ok: u64,
    /// Ops that certainly failed.
    pub fail: u64,
    /// Ops whose outcome is unknown.
    pub info: u64,
    /// `ok` ops per second.
    pub throughput: f64,
    /// Failed and indeterminate ops by error.
    pub errors: BTreeMap<String, u64>,
    /// `ok` latency percentiles per op kind (`txn`, `add`, `read`, `transfer`).
    pub latency: BTreeMap<String, Latency>,
    /// The check, in the shape of `isoscope check --format json`.
    pub check: Option<serde_json::Value>,
    /// The faults planned, if any.
    #[serde(default)]
    pub nemesis: Option<NemesisPlan>,
    /// Each fault step as it happened.
    #[serde(default)]
    pub faults: Vec<FaultRecord>,
    /// What the health watch found.
    #[serde(default)]
    pub health: Vec<HealthFinding>,
    /// The run's verdict: the check's, made invalid by any health finding.
    #[serde(default)]
    pub verdict: Option<String>,
}

/// One fault step as it happened, as recorded in the history's `nemesis` ops.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultRecord {
    /// The step: kill, pause, restart, snapshot or rewind.
    pub step: String,
    /// When it began, in seconds since the run began.
    pub start_s: f64,
    /// When it ended (the server ready again), in seconds since the run began.
    pub end_s: f64,
    /// What was done, in words.
    pub detail: String,
    /// Why the server did not come back, if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Files of the run could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What isoscope was doing.
        what: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The server refused the set-up.
    #[error("{what}: {message}")]
    Setup {
        /// What isoscope was doing.
        what: String,
        /// The driver's message.
        message: String,
    },
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
        verdict(self.check.valid, &self.summary.health)
    }
}

/// A run's verdict from its check's and its health findings: any finding makes it invalid.
pub fn verdict(check: Validity, health: &[HealthFinding]) -> Validity {
    if health.is_empty() {
        check
    } else {
        Validity::Invalid
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

/// Shared by all clients while the run goes.
struct Shared {
    cfg: RunConfig,
    endpoint: Endpoint,
    generator: Mutex<Generator>,
    recorder: Recorder,
    stop: AtomicBool,
    invoked: AtomicU64,
    deadline: Option<Instant>,
    /// Live counters for the progress bar: ok, fail, info.
    live: [AtomicU64; 3],
    /// When the clients began.
    start: Instant,
    /// The server did not come back: no final reads.
    server_gone: AtomicBool,
    /// Fault steps so far, and the one under way.
    faults: Mutex<FaultLog>,
    /// Health findings so far.
    health: Mutex<Vec<HealthFinding>>,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn now_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn finding(&self, kind: HealthKind, message: String, excerpt: String) {
        tracing::warn!("health: {kind}: {message}");
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
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Records a nemesis step as it begins or ends. Recorded under the faults lock, so that
    /// begin and end keep their order.
    fn nemesis_event(&self, ev: Event) {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let record = |kind, step: Step, value, error| {
            let f = OpFn::Other(Arc::from(step.name()));
            let lists = Vec::new();
            self.recorder
                .record(kind, Process::Nemesis, &f, value, lists, error, None);
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
                self.stop.store(true, Ordering::Relaxed);
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
    conn.query_drop(format!(
        "SET SESSION TRANSACTION ISOLATION LEVEL {}",
        iso.sql()
    ))
    .await?;
    Ok(conn)
}

/// Connects, retrying with backoff until `give_up` (for a server that is restarting).
async fn connect_retrying(
    ep: &Endpoint,
    iso: Isolation,
    give_up: impl Fn() -> bool,
) -> Option<Conn> {
    let mut wait = Duration::from_millis(50);
    loop {
        match connect(ep, iso).await {
            Ok(c) => return Some(c),
            Err(e) => {
                tracing::debug!("connect failed: {e}");
                if give_up() {
                    return None;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The isolation level a session reports: `@@transaction_isolation` (MySQL 8, Dolt, MariaDB 11)
/// or, where that is unknown, `@@tx_isolation` (MariaDB 10.x, MySQL 5.7). Dolt keeps the old
/// name at its default whatever the session asked for, so the new name goes first.
async fn reported_isolation(conn: &mut Conn) -> String {
    for var in ["@@transaction_isolation", "@@tx_isolation"] {
        if let Ok(Some(v)) = conn.query_first::<String, _>(format!("SELECT {var}")).await {
            return v;
        }
    }
    "unknown".into()
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

/// Runs one op on `conn` and records its outcome. Returns whether the connection must be
/// replaced (and the process renumbered, for an `info`).
async fn perform(
    shared: &Shared,
    conn: &mut Conn,
    process: Process,
    inv: Invocation,
    stats: &mut Stats,
) -> (bool, bool) {
    let rec = &shared.recorder;
    let read_only = workload::is_read_only(&inv);
    rec.record(
        OpType::Invoke,
        process,
        &inv.f,
        inv.value.clone(),
        Vec::new(),
        None,
        None,
    );
    let t0 = Instant::now();
    let exec = workload::execute(conn, &shared.cfg.spec, &inv);
    let outcome = tokio::time::timeout(shared.cfg.op_timeout, exec).await;
    let (class, sql) = match outcome {
        Ok(Ok(done)) => {
            stats.ok(op_kind(&inv.f), t0.elapsed());
            shared.live[0].fetch_add(1, Ordering::Relaxed);
            rec.record(
                OpType::Ok,
                process,
                &inv.f,
                done.value,
                done.lists,
                None,
                Some(done.sql),
            );
            return (false, false);
        }
        Ok(Err(e)) => {
            let c = errors::classify(&e, read_only);
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
        shared.live[1].fetch_add(1, Ordering::Relaxed);
        OpType::Fail
    } else {
        shared.live[2].fetch_add(1, Ordering::Relaxed);
        OpType::Info
    };
    rec.record(
        kind,
        process,
        &inv.f,
        inv.value,
        Vec::new(),
        Some(class.message),
        (!sql.is_empty()).then_some(sql),
    );
    if class.definite && !class.reconnect {
        // Make sure nothing of the failed transaction lingers on this connection.
        if conn.query_drop("ROLLBACK").await.is_err() {
            return (true, false);
        }
    }
    (class.reconnect, !class.definite)
}

/// One logical client: its own connection, its own process numbers.
async fn client(shared: Arc<Shared>, id: u32) -> Stats {
    let clients = u64::from(shared.cfg.clients);
    let mut process = u64::from(id);
    let mut stats = Stats::default();
    let pace = shared
        .cfg
        .rate
        .map(|r| Duration::from_secs_f64(f64::from(shared.cfg.clients) / r.max(1e-9)));
    let mut next_at = Instant::now();
    let mut conn: Option<Conn> = None;
    while !shared.stopping() {
        if conn.is_none() {
            conn = connect_retrying(&shared.endpoint, shared.cfg.isolation, || shared.stopping())
                .await;
            if conn.is_none() {
                break;
            }
        }
        if let Some(p) = pace {
            let now = Instant::now();
            if next_at > now {
                tokio::time::sleep(next_at - now).await;
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
        let c = conn.as_mut().expect("connected above");
        let (reconnect, renumber) =
            perform(&shared, c, Process::Client(process), inv, &mut stats).await;
        if reconnect {
            if let Some(c) = conn.take() {
                // Best effort: the server may be gone.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(1), c.disconnect()).await;
                });
            }
        }
        if renumber {
            process += clients;
        }
    }
    if let Some(c) = conn {
        let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
    }
    stats
}

/// Reads every key once more after the clients stopped, under a fresh process number.
async fn final_reads(shared: &Shared, process: u64, stats: &mut Stats) {
    let reads = shared
        .generator
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .final_reads();
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut process = process;
    let mut conn = None;
    for inv in reads {
        if conn.is_none() {
            conn = connect_retrying(&shared.endpoint, shared.cfg.isolation, || {
                Instant::now() > give_up
            })
            .await;
        }
        let Some(c) = conn.as_mut() else {
            tracing::warn!("the server did not answer for the final reads");
            return;
        };
        let (reconnect, renumber) = perform(shared, c, Process::Client(process), inv, stats).await;
        if reconnect {
            conn = None;
        }
        if renumber {
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
        loop {
            if shared.stopping() {
                return;
            }
            let now = shared.start.elapsed();
            if now >= at {
                break;
            }
            tokio::time::sleep((at - now).min(Duration::from_millis(100))).await;
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
/// it kept. Returns when `done` is set, after a last look at the log.
async fn watch_health(
    shared: Arc<Shared>,
    server: Arc<Mutex<ManagedServer>>,
    done: Arc<AtomicBool>,
) {
    let log_path = server
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .log_path()
        .to_path_buf();
    let mut log = LogWatch::new(&log_path);
    let report = |found: Vec<(HealthKind, String)>| {
        for (kind, excerpt) in found {
            shared.finding(kind, kind.log_message().into(), excerpt);
        }
    };
    loop {
        let finished = done.load(Ordering::Relaxed);
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
                format!("the server exited on its own ({status}); stopping the run and starting it again for the final reads"),
                tail,
            );
            shared.stop.store(true, Ordering::Relaxed);
            let srv = server.clone();
            let back = tokio::task::spawn_blocking(move || {
                srv.lock().unwrap_or_else(|p| p.into_inner()).spawn()
            })
            .await;
            if let Ok(Err(e)) | Err(e) = back.map_err(|e| ServerError::Unsupported(e.to_string())) {
                let excerpt = start_log(&e, &server);
                shared.lose_server(
                    format!("the server did not start again after exiting: {e}"),
                    excerpt,
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A run id: `20261121T124201-dolt-counter-repeatable-read`.
pub fn run_id(flavor: Flavor, kind: WorkloadKind, iso: Isolation) -> String {
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

fn write_summary(dir: &Path, s: &RunSummary) -> Result<(), RunError> {
    let path = dir.join("run.json");
    let tmp = dir.join("run.json.tmp");
    let text = serde_json::to_string_pretty(s).expect("summaries serialize");
    std::fs::write(&tmp, text + "\n")
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|source| RunError::Io {
            what: format!("writing {}", path.display()),
            source,
        })
}

/// Drives the workload against `endpoint`, records the history, checks it, and writes
/// `history.jsonl` and `run.json` into `cfg.out_dir`.
///
/// `server` is the managed server, when isoscope started it: the nemesis and the health watch
/// need it. Faults on an external server are refused.
pub async fn run(
    cfg: RunConfig,
    endpoint: Endpoint,
    target: TargetInfo,
    server: Option<Arc<Mutex<ManagedServer>>>,
) -> Result<RunOutput, RunError> {
    if cfg.nemesis.as_ref().is_some_and(|p| !p.faults.is_empty()) && server.is_none() {
        return Err(RunError::Setup {
            what: "injecting faults".into(),
            message: "faults need a server isoscope manages (--db), not an external one".into(),
        });
    }
    cfg.spec.validate().map_err(|message| RunError::Setup {
        what: "the workload's parameters".into(),
        message,
    })?;
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

    // 1. Prepare.
    let mut conn = connect(&endpoint, cfg.isolation)
        .await
        .map_err(setup_err(&format!("connecting to {endpoint}")))?;
    let reported = reported_isolation(&mut conn).await;
    workload::setup(&mut conn, &cfg.spec)
        .await
        .map_err(setup_err("creating the workload's table"))?;
    let _ = conn.disconnect().await;

    let run_id = cfg
        .out_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut summary = RunSummary {
        status: "running".into(),
        isoscope_version: env!("CARGO_PKG_VERSION").into(),
        run_id,
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
    write_summary(&cfg.out_dir, &summary)?;

    // 2. Drive.
    let start = Instant::now();
    let history_path = cfg.out_dir.join("history.jsonl");
    let recorder = Recorder::create(&history_path, start).map_err(|source| RunError::Io {
        what: format!("creating {}", history_path.display()),
        source,
    })?;
    let shared = Arc::new(Shared {
        generator: Mutex::new(Generator::new(&cfg.spec, cfg.seed)),
        recorder,
        stop: AtomicBool::new(false),
        invoked: AtomicU64::new(0),
        deadline: cfg.duration.map(|d| start + d),
        live: Default::default(),
        start,
        server_gone: AtomicBool::new(false),
        faults: Mutex::default(),
        health: Mutex::new(Vec::new()),
        endpoint,
        cfg,
    });
    let scratch = tempfile::Builder::new()
        .prefix("isoscope-nemesis-")
        .tempdir()
        .map_err(|source| RunError::Io {
            what: "creating a scratch folder for the nemesis".into(),
            source,
        })?;
    let health_done = Arc::new(AtomicBool::new(false));
    let health = server
        .clone()
        .map(|srv| tokio::spawn(watch_health(shared.clone(), srv, health_done.clone())));
    let nemesis = match (&server, &shared.cfg.nemesis) {
        (Some(srv), Some(plan)) if !plan.faults.is_empty() => Some(tokio::spawn(nemesis(
            shared.clone(),
            srv.clone(),
            plan.clone(),
            scratch.path().to_path_buf(),
        ))),
        _ => None,
    };
    let bar = progress_bar(&shared);
    let ticker = {
        let shared = shared.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                update_bar(&shared, &bar, start);
            }
        })
    };
    let mut tasks = Vec::new();
    for id in 0..shared.cfg.clients {
        tasks.push(tokio::spawn(client(shared.clone(), id)));
    }
    let (client_stats, was_interrupted) = {
        let all = join_clients(tasks);
        tokio::pin!(all);
        tokio::select! {
            stats = &mut all => (stats, false),
            _ = tokio::signal::ctrl_c() => {
                shared.stop.store(true, Ordering::Relaxed);
                bar.println("interrupted: stopping the clients, then checking what was recorded");
                (all.await, true)
            }
        }
    };
    let elapsed = start.elapsed();
    ticker.abort();
    update_bar(&shared, &bar, start);
    bar.finish_and_clear();
    // The nemesis finishes the fault under way, so the server is up for the final reads.
    if let Some(n) = nemesis {
        shared.stop.store(true, Ordering::Relaxed);
        let _ = n.await;
    }

    // 3. Final reads.
    let mut stats = Stats::default();
    for s in &client_stats {
        stats.merge(s);
    }
    let mut final_stats = Stats::default();
    let next_process = u64::from(shared.cfg.clients) * 1_000_000;
    if shared.server_gone.load(Ordering::Relaxed) {
        tracing::warn!("the server is gone: no final reads");
    } else {
        final_reads(&shared, next_process, &mut final_stats).await;
    }
    health_done.store(true, Ordering::Relaxed);
    if let Some(h) = health {
        let _ = h.await;
    }
    drop(scratch);

    // 4. Check.
    let shared = Arc::try_unwrap(shared).unwrap_or_else(|_| panic!("clients have finished"));
    let server_gone = shared.server_gone.into_inner();
    let faults = shared
        .faults
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .done;
    let health = shared
        .health
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let cfg = shared.cfg;
    let history = shared.recorder.finish().map_err(|source| RunError::Io {
        what: format!("writing {}", history_path.display()),
        source,
    })?;
    let check = checker::check(&history, &cfg.spec.check_options(cfg.isolation.model()))?;

    summary.status = if server_gone {
        "server-gone"
    } else if was_interrupted {
        "interrupted"
    } else {
        "done"
    }
    .into();
    summary.verdict = Some(verdict(check.valid, &health).to_string());
    summary.faults = faults;
    summary.health = health;
    summary.elapsed_s = elapsed.as_secs_f64();
    summary.ok = stats.ok;
    summary.fail = stats.fail;
    summary.info = stats.info;
    summary.throughput = stats.ok as f64 / elapsed.as_secs_f64().max(1e-9);
    summary.errors = stats.errors.iter().map(|(k, n)| (k.label(), *n)).collect();
    summary.latency = stats.latencies();
    summary.check = Some(serde_json::to_value(&check).expect("check results serialize"));
    write_summary(&cfg.out_dir, &summary)?;
    Ok(RunOutput {
        summary,
        check,
        history,
    })
}

/// Waits for every client and collects their statistics (a panicked client counts as none).
async fn join_clients(tasks: Vec<tokio::task::JoinHandle<Stats>>) -> Vec<Stats> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(s) = t.await {
            out.push(s);
        }
    }
    out
}

fn progress_bar(shared: &Shared) -> ProgressBar {
    if !shared.cfg.progress {
        return ProgressBar::hidden();
    }
    let bar = match (shared.cfg.duration, shared.cfg.max_ops) {
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

fn update_bar(shared: &Shared, bar: &ProgressBar, start: Instant) {
    let [ok, fail, info] = [0, 1, 2].map(|i| shared.live[i].load(Ordering::Relaxed));
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    if shared.cfg.duration.is_some() {
        bar.set_position(start.elapsed().as_secs());
    } else if shared.cfg.max_ops.is_some() {
        bar.set_position(ok + fail + info);
    }
    bar.set_message(format!(
        "{} ops  ok {ok}  fail {fail}  info {info}  {:.0} ok/s",
        ok + fail + info,
        ok as f64 / secs
    ));
}
