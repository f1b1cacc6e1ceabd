//! `isoscope run`: parse the flags into a `RunRequest`, run it (`runner::target::run_on`), print
//! the summary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::{OutputFormat, EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID};
use crate::checker::Validity;
use crate::faults::{Fault, NemesisPlan};
use crate::lazyfs::FsyncMode;
use crate::run_folder::RunStatus;
use crate::runner::request::RunRequest;
use crate::runner::target::{self, Binaries, Server};
use crate::runner::{self, RunOutput, Shutdown};
use crate::server::target::Target;
use crate::server::{self, Endpoint, Flavor};
use crate::verdict::VerdictSummary;
use crate::workload::{CounterStyle, Isolation, WorkloadSpec};

/// Arguments of `isoscope run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The server isoscope starts and manages, with settings in brackets if any:
    /// mariadb, dolt, `mariadb[innodb_snapshot_isolation=ON]`, `dolt@1.83.2` (a Dolt built by
    /// `scripts/install-servers --dolt <pseudo-version>`).
    #[arg(long, conflicts_with = "url")]
    pub db: Option<String>,
    /// A setting for the managed server (repeatable): a mariadbd option
    /// (`innodb_flush_log_at_trx_commit=2`), or a Dolt config path or system variable.
    #[arg(long = "server-opt", value_name = "KEY=VALUE")]
    pub server_opt: Vec<String>,
    /// An external server instead: mysql://user:pass@host:port/db (no faults possible).
    #[arg(long)]
    pub url: Option<String>,
    /// The external server's flavor.
    #[arg(long, value_enum, default_value = "mysql", requires = "url")]
    pub flavor: Flavor,
    /// counter, counter-rmw, bank, register (or rw-register), list-append, set, or a preset
    /// file (workloads/*.toml).
    #[arg(long, short = 'w', default_value = "list-append")]
    pub workload: String,
    /// Isolation level every session asks for.
    #[arg(
        long,
        short = 'i',
        value_enum,
        ignore_case = true,
        default_value = "repeatable-read"
    )]
    pub isolation: Isolation,
    /// Concurrent clients (at least 1).
    #[arg(long, short = 'c', default_value_t = 10)]
    pub clients: u32,
    /// How long to run (10s, 1m ...; at most a year) [default: 10s unless --ops is given].
    #[arg(long, short = 't', value_parser = humantime::parse_duration)]
    pub time: Option<Duration>,
    /// Stop after this many ops.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Ops per second across all clients, more than 0 [default: as fast as the server goes].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Abandon an op after this long (recorded as info).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub op_timeout: Duration,
    /// Seed of the op stream [default: random, and recorded].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Counters, accounts, registers or active list keys [default: the workload's].
    #[arg(long)]
    pub keys: Option<u32>,
    /// Fewest micro-ops per transaction [default: 1].
    #[arg(long)]
    pub min_txn_len: Option<u32>,
    /// Most micro-ops per transaction [default: 4].
    #[arg(long)]
    pub max_txn_len: Option<u32>,
    /// Fraction of reads [default: the workload's].
    #[arg(long)]
    pub read_fraction: Option<f64>,
    /// Register and list-append: writes to a key before it is retired for a fresh one
    /// [default: 256].
    #[arg(long)]
    pub max_writes_per_key: Option<u32>,
    /// Counter increments [default: atomic; counter-rmw: read-modify-write].
    #[arg(long, value_enum)]
    pub counter_style: Option<CounterStyle>,
    /// Folder for history.jsonl, run.json and the server log (default: `histories/<run-id>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the server binaries are.
    #[command(flatten)]
    pub binaries: Binaries,
    /// Faults to inject.
    #[command(flatten)]
    pub faults: FaultArgs,
    /// Summary for people (text) or machines (json: run.json's content).
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Faults to inject into a managed server while the clients run.
#[derive(Args, Clone, Debug, Default)]
pub struct FaultArgs {
    /// Faults, comma-separated: kill, pause, restart, all (those three); rewind (restarts on an
    /// older copy of the data: loses acknowledged writes on purpose); power-loss, torn-write,
    /// disk-full, io-error (on the lazy filesystem); dolt-gc, cli-read (Dolt's own).
    #[arg(long)]
    pub nemesis: Option<String>,
    /// Mean time between the starts of two faults (jittered by ±25%; at least 500ms).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub nemesis_interval: Duration,
    /// What fsync does on the lazy filesystem: honor, or ignore (a lying disk: a control that any
    /// server must fail under power-loss).
    #[arg(long, value_enum, default_value = "honor")]
    pub fsync: FsyncMode,
}

impl FaultArgs {
    /// The plan, if any faults were asked for.
    pub fn plan(&self) -> Result<Option<NemesisPlan>> {
        let Some(list) = &self.nemesis else {
            return Ok(None);
        };
        let faults = Fault::parse_list(list).map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
        if self.nemesis_interval < Duration::from_millis(500) {
            bail!("--nemesis-interval must be at least 500ms");
        }
        let plan = NemesisPlan {
            fsync: self.fsync,
            ..NemesisPlan::new(faults, self.nemesis_interval)
        };
        plan.validate().map_err(anyhow::Error::msg)?;
        Ok((!plan.faults.is_empty()).then_some(plan))
    }
}

impl RunArgs {
    /// The run asked for, checked whole.
    fn request(&self) -> Result<RunRequest> {
        let server = match (&self.db, &self.url) {
            (Some(db), _) => {
                let mut ts = managed_targets("--db", db, &self.server_opt)?;
                if ts.len() != 1 {
                    bail!("--db: one server per run (compare takes several: --dbs {db})");
                }
                Server::Managed(ts.remove(0), self.binaries.clone())
            }
            (None, Some(_)) if !self.server_opt.is_empty() => {
                bail!("--server-opt needs a server isoscope starts (--db), not --url")
            }
            (None, Some(u)) => Server::External(
                Endpoint::parse(u).map_err(|e| anyhow::anyhow!("--url: {e}"))?,
                self.flavor,
            ),
            (None, None) => bail!("say which server: --db mariadb|dolt, or --url mysql://..."),
        };
        let nemesis = self.faults.plan()?;
        if nemesis.is_some() && matches!(server, Server::External(..)) {
            bail!("--nemesis needs a server isoscope manages (--db), not --url");
        }
        Ok(RunRequest {
            server,
            workload: self.workload.clone(),
            isolation: self.isolation,
            clients: self.clients,
            time: self.time,
            ops: self.ops,
            rate: self.rate,
            op_timeout: self.op_timeout,
            seed: self.seed.unwrap_or_else(rand::random),
            keys: self.keys,
            min_txn_len: self.min_txn_len,
            max_txn_len: self.max_txn_len,
            read_fraction: self.read_fraction,
            max_writes_per_key: self.max_writes_per_key,
            counter_style: self.counter_style,
            nemesis,
        })
    }
}

/// The targets isoscope starts, as given to `flag`: a comma-separated list (`mariadb,
/// mariadb[k=v,k2=v2]`; commas in brackets stay), each with the `--server-opt` settings added.
/// MySQL is refused (isoscope cannot start one), and so is a target named twice.
pub fn managed_targets(flag: &str, list: &str, server_opts: &[String]) -> Result<Vec<Target>> {
    let mut out: Vec<Target> = Vec::new();
    for t in server::target::parse_list(list).map_err(|e| anyhow::anyhow!("{flag}: {e}"))? {
        if !t.flavor.spec().managed() {
            bail!(
                "{flag}: isoscope does not start {} servers; give one with --url",
                t.flavor.spec().display_name()
            );
        }
        if let Some(v) = &t.version {
            // A version that is not installed is refused before any server starts.
            t.flavor
                .spec()
                .versioned(v, &Binaries::default())
                .map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
        }
        let t = t
            .with_opts(server_opts)
            .map_err(|e| anyhow::anyhow!("--server-opt: {e}"))?;
        if out.contains(&t) {
            bail!("{flag}: {t} is given twice");
        }
        out.push(t);
    }
    Ok(out)
}

/// Runs `isoscope run` and returns the exit code.
pub fn run(args: RunArgs) -> Result<i32> {
    let req = args.request()?;
    let spec: WorkloadSpec = req.spec()?;
    let id = runner::run_id(req.server.flavor(), spec.workload, req.isolation);
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("histories").join(&id));
    let progress = !args.quiet && matches!(args.format, OutputFormat::Text);
    let cfg = req.config(out_dir.clone(), progress)?;
    target::clean_stale();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let output = rt.block_on(async {
        let shutdown = Shutdown::new();
        let signals = shutdown
            .listen_for_signals()
            .context("listening for signals")?;
        let out = target::run_on(cfg, &req.server, &shutdown).await;
        signals.abort();
        anyhow::Ok(out?)
    })?;
    rt.shutdown_timeout(Duration::from_secs(2));

    match args.format {
        OutputFormat::Text => print_summary(&output, &out_dir),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&output.summary)?),
    }
    Ok(match output.verdict() {
        Validity::Valid => EXIT_VALID,
        Validity::Invalid => EXIT_INVALID,
        Validity::Unknown => EXIT_UNKNOWN,
    })
}

/// The summary for people: what ran, how it went, the verdict and one explanation per type.
pub fn print_summary(o: &RunOutput, dir: &Path) {
    let s = &o.summary;
    let mut t = String::new();
    t.push_str(&format!(
        "{} {} ({}), {}, {} clients, {:.1} s, {} (server reports {}), seed {}\n",
        s.server.name(),
        s.server.version,
        if s.server.managed {
            "managed"
        } else {
            "external"
        },
        s.spec.label(),
        s.clients,
        s.elapsed_s,
        s.isolation_requested.name(),
        s.isolation_reported,
        s.seed,
    ));
    t.push_str(&format!(
        "ops: {} ok, {} fail, {} info; {:.0} ok/s\n",
        s.ok, s.fail, s.info, s.throughput
    ));
    for (f, l) in &s.latency {
        t.push_str(&format!(
            "latency {f}: p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms ({} ok)\n",
            l.p50_ms, l.p99_ms, l.max_ms, l.count
        ));
    }
    if !s.errors.is_empty() {
        let e: Vec<String> = s.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        t.push_str(&format!("errors: {}\n", e.join(", ")));
    }
    if let Some(p) = &s.nemesis {
        t.push_str(&format!(
            "faults: {} every ~{}; {} steps\n",
            p.label(),
            humantime::format_duration(p.interval),
            s.faults.len()
        ));
        for f in &s.faults {
            t.push_str(&format!(
                "  {:>6.1}-{:<6.1} s  {:<8} {}{}\n",
                f.start_s,
                f.end_s,
                f.step,
                crate::report::fault_detail(&f.detail),
                f.error
                    .as_ref()
                    .map(|e| format!(": {}", e.lines().next().unwrap_or_default()))
                    .unwrap_or_default()
            ));
        }
    }
    if let Some(why) = &s.stopped_because {
        t.push_str(&format!("\nstopped early ({}): {why}\n", s.status));
    }
    if s.status == RunStatus::ServerGone {
        t.push_str("\nTHE SERVER IS GONE: it did not come back, so there were no final reads.\n");
    }
    if s.health.is_empty() {
        if s.server.managed {
            t.push_str("health: no crash, corruption or fatal error seen\n");
        }
    } else {
        let v = VerdictSummary::of_run(&o.check, &s.health);
        t.push_str(&format!("health: {}\n", v.health_text()));
        let refused = crate::faults::health::refusals(&s.health);
        for (h, refusal) in s.health.iter().zip(refused) {
            let kind = if refusal {
                "refused to go on after a disk error (by design)".to_string()
            } else {
                h.kind.to_string()
            };
            t.push_str(&format!(
                "  at {:.1} s, {kind}: {}\n",
                h.at_s,
                h.message.lines().next().unwrap_or_default()
            ));
            for line in crate::faults::health::excerpt_lines(&h.excerpt, 8) {
                t.push_str(&format!("    | {line}\n"));
            }
        }
        t.push_str(&format!(
            "  the whole log: {}\n",
            dir.join("server.log").display()
        ));
    }
    let v = VerdictSummary::of_run(&o.check, &s.health);
    t.push('\n');
    t.push_str(&v.text());
    for (a, g) in &o.check.anomalies {
        if let Some(f) = g.examples.first() {
            t.push_str(&format!("\n{a}, for example:\n"));
            for line in f.explanation.lines() {
                t.push_str("  ");
                t.push_str(line);
                t.push('\n');
            }
        }
    }
    if let Some(d) = &o.check.durability {
        super::check::durability_text(&mut t, d);
    }
    t.push('\n');
    t.push_str(&v.verdict_line(s.server.managed));
    t.push_str(&format!(
        "\nhistory: {}\nrun: {}\n",
        crate::run_folder::history_path(dir).display(),
        dir.join("run.json").display()
    ));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(t.as_bytes());
}
