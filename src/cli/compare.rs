//! `isoscope compare`: run the matrix servers x isolation levels x workloads, a fresh server per
//! cell, then write the side-by-side report. `isoscope report`: the same report from runs already
//! recorded.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use super::run::{managed_targets, FaultArgs};
use super::{EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID};
use crate::checker::Validity;
use crate::compare::{ComparePlan, Progress};
use crate::report;
use crate::run_folder;
use crate::runner;
use crate::runner::target::Binaries;
use crate::workload::Isolation;

/// Arguments of `isoscope compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Servers to start, each fresh per cell, with settings in brackets and a Dolt version
    /// after `@`: `mariadb,mariadb[innodb_snapshot_isolation=ON],dolt,dolt@1.83.2`.
    #[arg(long, default_value = "mariadb,dolt")]
    pub dbs: String,
    /// A setting for every server started (repeatable): a mariadbd option, or a Dolt config
    /// path or system variable.
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

/// Runs `isoscope compare` ([`crate::compare::run`]) and prints its progress. Exits like
/// `check`, over every cell: 1 if any cell is invalid, else 2 if any is unknown, a scenario could
/// not run, or a signal stopped the comparison before every cell ran, else 0 (3 on an error,
/// which stops the comparison). A scenario's anomaly is what the level allows, not a failure:
/// it is shown, not counted.
pub fn compare(args: CompareArgs) -> Result<i32> {
    let dbs = managed_targets("--dbs", &args.dbs, &args.server_opt)?;
    let plan = ComparePlan {
        dbs,
        binaries: args.binaries.clone(),
        levels: args.isolation.clone(),
        workloads: args.workloads.clone(),
        time: args.time,
        clients: args.clients,
        seed: args.seed,
        nemesis: args.faults.plan()?,
        out: args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("reports").join(runner::stamp())),
        scenarios: !args.no_scenarios,
    };
    let out = plan.out.clone();
    let (n_dbs, n_levels, n_workloads) = (plan.dbs.len(), plan.levels.len(), plan.workloads.len());
    let time = plan.time;
    let mut total = 0;
    let done = crate::compare::run(&plan, &mut |p| {
        match p {
        Progress::Matrix { total: t } => {
            total = t;
            eprintln!(
                "isoscope compare: {t} runs of {time:?} each ({n_dbs} servers x {n_levels} levels x {n_workloads} workloads), report in {}",
                out.display()
            );
        }
        Progress::CellStarts { n, cell } => eprint!(
            "[{n}/{total}] {} · {} · {}: ",
            cell.target,
            cell.label,
            cell.request.isolation.name()
        ),
        Progress::CellDone(o) => {
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
        }
        Progress::Stopped(Some(e)) => eprintln!("{e}"),
        Progress::Stopped(None) => {
            eprintln!("isoscope compare: stopped; the report covers the runs done")
        }
        Progress::ScenariosStart { total, scenarios } => eprint!(
            "isoscope compare: {total} scenario cells ({scenarios} scenarios x 4 levels x {n_dbs} servers): "
        ),
        Progress::ScenariosDone(Some((anomalies, took))) => {
            eprintln!("{anomalies} anomalies in {took:.1?}")
        }
        Progress::ScenariosDone(None) => eprintln!("stopped; the report has no scenarios"),
    }
    })?;
    eprintln!(
        "isoscope compare: done in {:.0?}; report: {} (and report.md, report.json)",
        done.elapsed,
        out.join("index.html").display()
    );
    Ok(match done.worst {
        Validity::Valid => EXIT_VALID,
        Validity::Invalid => EXIT_INVALID,
        Validity::Unknown => EXIT_UNKNOWN,
    })
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
