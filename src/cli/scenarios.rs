//! `isoscope scenarios`: Hermitage's tests (and the user's own scenario files) at every level on
//! every server, as a table or JSON.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::{OutputFormat, EXIT_UNKNOWN, EXIT_VALID};
use crate::runner::target::Binaries;
use crate::scenario::runner::Timing;
use crate::scenario::{self, table, SuiteConfig, Verdict};
use crate::server::{Endpoint, Flavor, Server};
use crate::workload::Isolation;

/// Arguments of `isoscope scenarios`.
#[derive(Args, Debug)]
pub struct ScenariosArgs {
    /// Servers to start, each once for all its cells, with settings in brackets:
    /// `mariadb,mariadb[innodb_snapshot_isolation=ON],dolt`.
    #[arg(long, default_value = "mariadb,dolt")]
    pub dbs: String,
    /// A setting for every server started (repeatable): a mariadbd option, or a Dolt config
    /// path or system variable.
    #[arg(long = "server-opt", value_name = "KEY=VALUE")]
    pub server_opt: Vec<String>,
    /// Run on a server you run yourself instead (`mysql://user:pass@host:port/db`).
    #[arg(long)]
    pub url: Option<String>,
    /// With --url: the kind of server.
    #[arg(long, value_enum, default_value = "mysql", requires = "url")]
    pub flavor: Flavor,
    /// Isolation levels.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "read-uncommitted,read-committed,repeatable-read,serializable"
    )]
    pub isolation: Vec<Isolation>,
    /// Scenarios: names of the built-in ones (g0, g1a, ... g2-two-edges) or .toml files
    /// (default: all built-in).
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Folder to write scenarios.json, scenarios.txt and the servers' logs to.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The table (text) or every cell with its steps (json).
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Cells run at once on each server.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Where the server binaries are.
    #[command(flatten)]
    pub binaries: Binaries,
}

/// Runs `isoscope scenarios`: exit 0 when every cell ran and the checker agreed wherever it
/// could judge, 2 otherwise, 3 on bad input.
pub fn run(args: ScenariosArgs) -> Result<i32> {
    let levels = args.isolation.clone();
    if args.parallel == 0 {
        bail!("--parallel must be at least 1");
    }
    let known = scenario::builtin()?;
    let scenarios = if args.scenarios.is_empty() {
        known
    } else {
        scenario::spec::select(&known, &args.scenarios)?
    };
    let servers = match &args.url {
        Some(u) => {
            if !args.server_opt.is_empty() {
                bail!("--server-opt needs a server isoscope starts (--dbs), not --url");
            }
            let ep = Endpoint::parse(u).map_err(|e| anyhow::anyhow!("--url: {e}"))?;
            vec![Server::External(ep, args.flavor)]
        }
        None => super::run::managed_targets("--dbs", &args.dbs, &args.server_opt)?
            .into_iter()
            .map(|t| Server::Managed(t, args.binaries.clone()))
            .collect(),
    };
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    }
    let cfg = SuiteConfig {
        servers,
        scenarios,
        levels,
        parallel: args.parallel,
        timing: Timing::default(),
        log_dir: args.out.clone(),
    };
    let total = cfg.scenarios.len() * cfg.levels.len() * cfg.servers.len();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let started = std::time::Instant::now();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let quiet = matches!(args.format, OutputFormat::Json);
    let progress = |c: &scenario::Cell| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if !quiet {
            eprint!(
                "\r[{n}/{total}] {} · {} · {}: {}          ",
                c.target,
                c.scenario,
                c.isolation.name(),
                table::cell_text(c)
            );
        }
    };
    let results = rt.block_on(scenario::suite::run(&cfg, &progress))?;
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    if !quiet {
        eprintln!(
            "\risoscope scenarios: {total} cells in {:.1?}{:40}",
            started.elapsed(),
            ""
        );
    }
    if let Some(out) = &args.out {
        scenario::results_file::write(out, &results)?;
    }
    match args.format {
        OutputFormat::Text => print!("{}", table::render(&results)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&results)?),
    }
    Ok(if in_doubt(&results) {
        EXIT_UNKNOWN
    } else {
        EXIT_VALID
    })
}

/// Whether a table leaves something in doubt: a cell that could not run, or a checker that
/// disagrees with the scenario's own verdict.
fn in_doubt(results: &scenario::Results) -> bool {
    results
        .cells
        .iter()
        .any(|c| c.verdict == Verdict::Error || c.checker.as_ref().is_some_and(|k| !k.agrees))
}
