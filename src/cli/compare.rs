//! `isoscope compare`: run the matrix servers x isolation levels x workloads, a fresh server per
//! cell, then write the side-by-side report. `isoscope report`: the same report from runs already
//! recorded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::run::{managed_targets, FaultArgs};
use super::{EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID};
use crate::checker::Validity;
use crate::report;
use crate::run_folder;
use crate::runner::request::RunRequest;
use crate::runner::target::{self, Binaries, Server};
use crate::runner::{self, Shutdown};
use crate::scenario::runner::Timing;
use crate::scenario::{self, Servers, SuiteConfig};
use crate::server::target::Target;
use crate::workload::{Isolation, WorkloadSpec};

/// Arguments of `isoscope compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Servers to start, each fresh per cell, with settings in brackets:
    /// `mariadb,mariadb[innodb_snapshot_isolation=ON],dolt`.
    #[arg(long, default_value = "mariadb,dolt")]
    pub dbs: String,
    /// A setting for every server started (repeatable): a mariadbd option, or a Dolt or TiDB
    /// config path or system variable.
    #[arg(long = "server-opt", value_name = "KEY=VALUE")]
    pub server_opt: Vec<String>,
    /// Isolation levels.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        value_delimiter = ',',
        default_value = "repeatable-read,serializable"
    )]
    pub isolation: Vec<Isolation>,
    /// Workloads: counter (atomic increments), counter-rmw (read-modify-write), bank, register
    /// (or rw-register), list-append, set, or preset files.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "counter,counter-rmw,bank,register,list-append"
    )]
    pub workloads: Vec<String>,
    /// How long each cell runs.
    #[arg(long, short = 't', default_value = "15s", value_parser = humantime::parse_duration)]
    pub time: Duration,
    /// Concurrent clients per cell.
    #[arg(long, short = 'c', default_value_t = 10)]
    pub clients: u32,
    /// Seed of every cell's op stream [default: random, recorded per cell].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Report folder (default: `reports/<stamp>`); runs go in its runs/ folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the server binaries are.
    #[command(flatten)]
    pub binaries: Binaries,
    /// Faults to inject in every cell.
    #[command(flatten)]
    pub faults: FaultArgs,
    /// Skip the scenarios (Hermitage's tests on every server, at all four levels, about 15 s
    /// per server), which otherwise run after the workloads and go into the report.
    #[arg(long)]
    pub no_scenarios: bool,
}

/// Arguments of `isoscope report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Run folders (with run.json and history.jsonl), or folders holding them; a folder's
    /// scenarios.json (as `compare` writes it) goes into the report too.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write index.html, report.md and report.json.
    #[arg(long, short = 'o', default_value = "reports/latest")]
    pub out: PathBuf,
}

/// Runs `isoscope compare`. Exits like `check`, over every cell: 1 if any cell is invalid, else
/// 2 if any is unknown, a scenario could not run, or a signal stopped the comparison before
/// every cell ran, else 0 (3 on an error, which stops the comparison). A scenario's anomaly is
/// what the level allows, not a failure: it is shown, not counted.
pub fn compare(args: CompareArgs) -> Result<i32> {
    let dbs = managed_targets("--dbs", &args.dbs, &args.server_opt)?;
    let mut workloads = Vec::new();
    for w in &args.workloads {
        workloads.push((WorkloadSpec::named(w).map_err(anyhow::Error::msg)?, w));
    }
    let nemesis = args.faults.plan()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(runner::stamp()));
    let levels = &args.isolation;
    let total = dbs.len() * levels.len() * workloads.len();
    eprintln!(
        "isoscope compare: {total} runs of {:?} each ({} servers x {} levels x {} workloads), report in {}",
        args.time,
        dbs.len(),
        levels.len(),
        workloads.len(),
        out.display()
    );
    // Every cell is checked before the first starts.
    let mut cells = Vec::new();
    for (spec, workload_name) in &workloads {
        for db in &dbs {
            for &iso in levels {
                let label = spec.label();
                let name = format!(
                    "{}-{}-{}",
                    folder_name(db),
                    label
                        .replace([' ', '(', ')'], "-")
                        .replace("--", "-")
                        .trim_end_matches('-'),
                    iso.name()
                );
                let req = RunRequest {
                    server: Server::Managed(db.clone(), args.binaries.clone()),
                    workload: workload_name.to_string(),
                    isolation: iso,
                    clients: args.clients,
                    time: Some(args.time),
                    ops: None,
                    rate: None,
                    op_timeout: Duration::from_secs(5),
                    seed: args.seed.unwrap_or_else(rand::random),
                    keys: None,
                    min_txn_len: None,
                    max_txn_len: None,
                    read_fraction: None,
                    max_writes_per_key: None,
                    counter_style: None,
                    nemesis: nemesis.clone(),
                };
                let dir = out.join("runs").join(&name);
                let cfg = req.config(dir.clone(), true)?;
                cells.push((db.clone(), req, cfg, name, label, dir));
            }
        }
    }
    target::clean_stale();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let started = std::time::Instant::now();
    let shutdown = rt.block_on(async {
        let s = Shutdown::new();
        s.listen_for_signals().map(|_| s)
    })?;
    let mut dirs = Vec::new();
    let mut refused: Vec<report::RefusedLevel> = Vec::new();
    let mut worst = Validity::Valid;
    for (n, (db, req, cfg, name, label, dir)) in cells.into_iter().enumerate() {
        if shutdown.is_stopping() {
            eprintln!("isoscope compare: stopped; the report covers the runs done");
            break;
        }
        eprint!(
            "[{}/{total}] {db} · {label} · {}: ",
            n + 1,
            req.isolation.name()
        );
        // A server refuses a level the same way for every workload: asked once.
        let target_name = db.to_string();
        if refused
            .iter()
            .any(|x| x.target == target_name && x.isolation == req.isolation)
        {
            eprintln!("refused by the server (as above)");
            continue;
        }
        let o = match rt.block_on(target::run_on(cfg, &req.server, &shutdown)) {
            Ok(o) => o,
            Err(runner::RunError::LevelRefused { level, message }) => {
                eprintln!("refused by the server: {message}");
                refused.push(report::RefusedLevel {
                    target: target_name,
                    isolation: level,
                    message,
                });
                continue;
            }
            // Stopped while its server started: the report covers the cells before it.
            Err(e @ runner::RunError::StoppedEarly(_)) => {
                eprintln!("{e}");
                break;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("run {name}"))),
        };
        let found: Vec<String> = o
            .check
            .anomalies
            .iter()
            .map(|(a, g)| format!("{a} ×{}", g.count))
            .collect();
        eprintln!(
            "{} ({} ok, {:.0} ok/s){}{}",
            o.verdict(),
            o.summary.ok,
            o.summary.throughput,
            if found.is_empty() { "" } else { ": " },
            found.join(", ")
        );
        worst = match (worst, o.verdict()) {
            (Validity::Invalid, _) | (_, Validity::Invalid) => Validity::Invalid,
            (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
            _ => Validity::Valid,
        };
        dirs.push(dir);
    }
    // The scenarios, on the same targets, unless skipped or stopped.
    let scenarios = if args.no_scenarios || shutdown.is_stopping() || dirs.is_empty() {
        None
    } else {
        let results = rt.block_on(run_scenarios(&dbs, &args.binaries, &out, &shutdown))?;
        // A scenario that could not run leaves the table incomplete. (A checker that disagrees
        // with a scenario's verdict is shown in the report, not counted: MariaDB's otv at read
        // uncommitted always does, for a reason the README gives.)
        let incomplete = results.as_ref().is_none_or(|r| {
            r.cells
                .iter()
                .any(|c| c.verdict == scenario::Verdict::Error)
        });
        if incomplete && worst == Validity::Valid {
            worst = Validity::Unknown;
        }
        results
    };
    // Waits for a server that a signal caught starting for the scenarios: its start runs on a
    // blocking thread, and it is torn down (process and data folder) when that start returns.
    // Nothing else is left by then, so this returns at once otherwise.
    rt.shutdown_timeout(Duration::from_secs(65));
    // Cells that never ran leave the matrix undecided: never a clean exit. A refused level is
    // an answer, not a gap.
    let refused_cells = refused.len() * workloads.len();
    if dirs.len() + refused_cells < total && worst == Validity::Valid {
        worst = Validity::Unknown;
    }
    if dirs.is_empty() {
        bail!("stopped before any run finished; no report");
    }
    let mut r = report::build(&dirs)?;
    r.scenarios = scenarios;
    r.refused = refused;
    report::write(&r, &out)?;
    eprintln!(
        "isoscope compare: done in {:.0?}; report: {} (and report.md, report.json)",
        started.elapsed(),
        out.join("index.html").display()
    );
    Ok(match worst {
        Validity::Valid => EXIT_VALID,
        Validity::Invalid => EXIT_INVALID,
        Validity::Unknown => EXIT_UNKNOWN,
    })
}

/// Runs every built-in scenario at all four levels on each target, writes scenarios.json and
/// scenarios.txt into `out` (the servers' logs into `out/scenarios/`), and returns the results;
/// `None` if a signal stopped them.
async fn run_scenarios(
    targets: &[Target],
    binaries: &Binaries,
    out: &Path,
    shutdown: &Shutdown,
) -> Result<Option<scenario::Results>> {
    let log_dir = out.join("scenarios");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let cfg = SuiteConfig {
        servers: Servers::Managed(targets.to_vec()),
        scenarios: scenario::builtin()?,
        levels: Isolation::ALL.to_vec(),
        parallel: 4,
        timing: Timing::default(),
        mariadbd: binaries.mariadbd.clone(),
        dolt: binaries.dolt.clone(),
        tidb: binaries.tidb.clone(),
        log_dir: Some(log_dir),
    };
    let total = cfg.scenarios.len() * cfg.levels.len() * targets.len();
    eprint!(
        "isoscope compare: {total} scenario cells ({} scenarios x 4 levels x {} servers): ",
        cfg.scenarios.len(),
        targets.len()
    );
    let started = std::time::Instant::now();
    // Stopped by a signal: the suite is dropped, which tears its server down.
    let results = tokio::select! {
        r = scenario::suite::run(&cfg, &|_| {}) => r?,
        _ = shutdown.sleep(Duration::from_secs(365 * 86_400)) => {
            eprintln!("stopped; the report has no scenarios");
            return Ok(None);
        }
    };
    let anomalies = results
        .cells
        .iter()
        .filter(|c| c.verdict == scenario::Verdict::Anomaly)
        .count();
    eprintln!("{anomalies} anomalies in {:.1?}", started.elapsed());
    super::scenarios::write_results(out, &results)?;
    Ok(Some(results))
}

/// A target as a folder name: `mariadb_innodb_snapshot_isolation_ON` for
/// `mariadb[innodb_snapshot_isolation=ON]`.
fn folder_name(t: &Target) -> String {
    t.to_string()
        .replace(['[', ',', '=', '/'], "_")
        .replace(']', "")
}

/// Runs `isoscope report`.
pub fn report(args: ReportArgs) -> Result<i32> {
    let dirs = run_folder::find(&args.runs)?;
    if dirs.is_empty() {
        bail!(
            "no run folders (with a run.json) under {}",
            args.runs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut r = report::build(&dirs)?;
    r.scenarios = report::scenarios::find(&args.runs)?;
    report::write(&r, &args.out)?;
    eprintln!(
        "isoscope report: {} runs{}; {}",
        dirs.len(),
        if r.scenarios.is_some() {
            " and their scenarios"
        } else {
            ""
        },
        args.out.join("index.html").display()
    );
    Ok(EXIT_VALID)
}
