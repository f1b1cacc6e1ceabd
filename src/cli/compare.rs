//! `isoscope compare`: run the matrix servers x isolation levels x workloads, a fresh server per
//! cell, then write the side-by-side report. `isoscope report`: the same report from runs already
//! recorded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::run::{run_on, Binaries, FaultArgs};
use super::EXIT_VALID;
use crate::report;
use crate::runner::{self, RunConfig};
use crate::server::Flavor;
use crate::workload::{Isolation, WorkloadSpec};

/// Arguments of `isoscope compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Servers to start, each fresh per cell.
    #[arg(long, value_delimiter = ',', default_value = "mariadb,dolt")]
    pub dbs: Vec<String>,
    /// Isolation levels.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "repeatable-read,serializable"
    )]
    pub isolation: Vec<String>,
    /// Workloads: counter (atomic increments), counter-rmw (read-modify-write), bank, register,
    /// list-append, or preset files.
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
    /// Seed of every cell's op stream (default: random, recorded per cell).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Report folder (default `reports/<stamp>`); runs go in its runs/ folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the server binaries are.
    #[command(flatten)]
    pub binaries: Binaries,
    /// Faults to inject in every cell.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Arguments of `isoscope report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Run folders (with run.json and history.jsonl), or folders holding them.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write index.html, report.md and report.json.
    #[arg(long, short = 'o', default_value = "reports/latest")]
    pub out: PathBuf,
}

/// Runs `isoscope compare`.
pub fn compare(args: CompareArgs) -> Result<i32> {
    let mut dbs = Vec::new();
    for d in &args.dbs {
        match Flavor::parse(d) {
            Some(f @ (Flavor::MariaDb | Flavor::Dolt)) => dbs.push(f),
            _ => bail!("unknown --dbs entry {d:?}; use mariadb or dolt"),
        }
    }
    let mut levels = Vec::new();
    for i in &args.isolation {
        levels.push(Isolation::parse(i).with_context(|| format!("unknown isolation level {i:?}"))?);
    }
    let mut workloads = Vec::new();
    for w in &args.workloads {
        workloads.push((WorkloadSpec::named(w).map_err(anyhow::Error::msg)?, w));
    }
    let nemesis = args.faults.plan()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(runner::stamp()));
    let total = dbs.len() * levels.len() * workloads.len();
    eprintln!(
        "isoscope compare: {total} runs of {:?} each ({} servers x {} levels x {} workloads), report in {}",
        args.time,
        dbs.len(),
        levels.len(),
        workloads.len(),
        out.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let started = std::time::Instant::now();
    let mut dirs = Vec::new();
    let mut n = 0;
    for (spec, workload_name) in &workloads {
        for &db in &dbs {
            for &iso in &levels {
                n += 1;
                let label = spec.label();
                let name = format!(
                    "{}-{}-{}",
                    db.name(),
                    label
                        .replace([' ', '(', ')'], "-")
                        .replace("--", "-")
                        .trim_end_matches('-'),
                    iso.name()
                );
                let dir = out.join("runs").join(&name);
                let seed = args.seed.unwrap_or_else(rand::random);
                let mut command = format!(
                    "isoscope run --db {} --workload {workload_name} --isolation {} --clients {} --time {} --seed {seed}",
                    db.name(),
                    iso.name(),
                    args.clients,
                    humantime::format_duration(args.time)
                );
                if let Some(p) = &nemesis {
                    command.push_str(&format!(
                        " --nemesis {} --nemesis-interval {}",
                        p.label(),
                        humantime::format_duration(p.interval)
                    ));
                }
                let cfg = RunConfig {
                    spec: spec.clone(),
                    seed,
                    clients: args.clients.max(1),
                    duration: Some(args.time),
                    max_ops: None,
                    rate: None,
                    op_timeout: Duration::from_secs(5),
                    isolation: iso,
                    out_dir: dir.clone(),
                    progress: true,
                    command,
                    nemesis: nemesis.clone(),
                };
                eprint!("[{n}/{total}] {} · {label} · {}: ", db.name(), iso.name());
                let o = rt
                    .block_on(run_on(cfg, db, None, &args.binaries))
                    .with_context(|| format!("run {name}"))?;
                let found: Vec<String> = o
                    .check
                    .anomalies
                    .iter()
                    .map(|(a, g)| format!("{a} ×{}", g.count))
                    .collect();
                eprintln!(
                    "{} ({} ok, {:.0} ok/s){}{}",
                    report::verdict_word(o.verdict()),
                    o.summary.ok,
                    o.summary.throughput,
                    if found.is_empty() { "" } else { ": " },
                    found.join(", ")
                );
                dirs.push(dir);
            }
        }
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    let r = report::build(&dirs)?;
    report::write(&r, &out)?;
    eprintln!(
        "isoscope compare: done in {:.0?}; report: {} (and report.md, report.json)",
        started.elapsed(),
        out.join("index.html").display()
    );
    Ok(EXIT_VALID)
}

/// The run folders under `paths`: each path itself if it holds a run.json, else its
/// subfolders (recursively) that do.
fn run_dirs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if p.join("run.json").is_file() {
            out.push(p.to_path_buf());
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out).with_context(|| format!("{}", p.display()))?;
    }
    if out.is_empty() {
        bail!(
            "no run folders (with a run.json) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(out)
}

/// Runs `isoscope report`.
pub fn report(args: ReportArgs) -> Result<i32> {
    let dirs = run_dirs(&args.runs)?;
    let r = report::build(&dirs)?;
    report::write(&r, &args.out)?;
    eprintln!(
        "isoscope report: {} runs; {}",
        dirs.len(),
        args.out.join("index.html").display()
    );
    Ok(EXIT_VALID)
}
