//! `isoscope run`: start (or reach) a server, drive a workload, record, check, summarize.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::{OutputFormat, EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID};
use crate::checker::{CheckResult, ModelStatus, Validity};
use crate::faults::{Fault, NemesisPlan};
use crate::lazyfs::FsyncMode;
use crate::runner::{self, RunConfig, RunOutput, TargetInfo};
use crate::server::dolt::Dolt;
use crate::server::mariadb::MariaDb;
use crate::server::{self, Endpoint, Flavor, Launcher, ManagedServer};
use crate::workload::{CounterStyle, Isolation, WorkloadSpec};

/// Arguments of `isoscope run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The server isoscope starts and manages: mariadb or dolt.
    #[arg(long, conflicts_with = "url")]
    pub db: Option<String>,
    /// An external server instead: mysql://user:pass@host:port/db (no faults possible).
    #[arg(long)]
    pub url: Option<String>,
    /// The external server's flavor: mariadb, mysql or dolt.
    #[arg(long, default_value = "mysql", requires = "url")]
    pub flavor: String,
    /// counter, counter-rmw, bank, register, list-append, set, or a preset file (workloads/*.toml).
    #[arg(long, short = 'w', default_value = "list-append")]
    pub workload: String,
    /// Isolation level: read-uncommitted, read-committed, repeatable-read, serializable.
    #[arg(long, short = 'i', default_value = "repeatable-read")]
    pub isolation: String,
    /// Concurrent clients.
    #[arg(long, short = 'c', default_value_t = 10)]
    pub clients: u32,
    /// How long to run (10s, 1m ...); default 10s unless --ops is given.
    #[arg(long, short = 't', value_parser = humantime::parse_duration)]
    pub time: Option<Duration>,
    /// Stop after this many ops.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Ops per second across all clients (default: as fast as the server goes).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Abandon an op after this long (recorded as info).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub op_timeout: Duration,
    /// Seed of the op stream (default: random, and recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Counters, accounts, registers or active list keys.
    #[arg(long)]
    pub keys: Option<u32>,
    /// Fewest micro-ops per transaction.
    #[arg(long)]
    pub min_txn_len: Option<u32>,
    /// Most micro-ops per transaction.
    #[arg(long)]
    pub max_txn_len: Option<u32>,
    /// Fraction of reads.
    #[arg(long)]
    pub read_fraction: Option<f64>,
    /// Register and list-append: writes to a key before it is retired for a fresh one.
    #[arg(long)]
    pub max_writes_per_key: Option<u32>,
    /// Counter increments: atomic or read-modify-write.
    #[arg(long)]
    pub counter_style: Option<String>,
    /// Folder for history.jsonl, run.json and the server log (default `histories/<run-id>`).
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

/// Builds the workload's parameters: the preset or the defaults, then the flags.
pub fn spec_from(args: &RunArgs) -> Result<WorkloadSpec> {
    let mut spec = WorkloadSpec::named(&args.workload).map_err(anyhow::Error::msg)?;
    if let Some(k) = args.keys {
        spec.keys = k;
    }
    if let Some(n) = args.min_txn_len {
        spec.min_txn_len = n;
    }
    if let Some(n) = args.max_txn_len {
        spec.max_txn_len = n;
        spec.min_txn_len = spec.min_txn_len.min(n);
    }
    if let Some(r) = args.read_fraction {
        spec.read_fraction = r;
    }
    if let Some(m) = args.max_writes_per_key {
        spec.max_writes_per_key = m;
    }
    if let Some(s) = &args.counter_style {
        spec.counter_style = match s.as_str() {
            "atomic" => CounterStyle::Atomic,
            "read-modify-write" | "rmw" => CounterStyle::ReadModifyWrite,
            _ => bail!("unknown counter style {s:?}; use atomic or read-modify-write"),
        };
    }
    spec.validate().map_err(anyhow::Error::msg)?;
    Ok(spec)
}

/// The launcher for a managed flavor.
pub fn launcher(
    flavor: Flavor,
    mariadbd: Option<&Path>,
    dolt: Option<&Path>,
) -> Result<Box<dyn Launcher>> {
    Ok(match flavor {
        Flavor::MariaDb => Box::new(MariaDb::locate(mariadbd)?),
        Flavor::Dolt => Box::new(Dolt::locate(dolt)?),
        Flavor::Mysql => bail!("isoscope does not manage MySQL servers; give one with --url"),
    })
}

/// Faults to inject into a managed server while the clients run.
#[derive(Args, Clone, Debug, Default)]
pub struct FaultArgs {
    /// Faults, comma-separated: kill, pause, restart, all (those three); rewind (restarts on an
    /// older copy of the data: loses acknowledged writes on purpose); power-loss, torn-write,
    /// disk-full, io-error (on the lazy filesystem); dolt-gc, cli-read (Dolt's own).
    #[arg(long)]
    pub nemesis: Option<String>,
    /// Mean time between the starts of two faults (jittered by ±25%).
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

/// Where the server binaries are, when not found on PATH or in the install cache.
#[derive(Args, Clone, Debug, Default)]
pub struct Binaries {
    /// The mariadbd binary (default: PATH, /usr/sbin).
    #[arg(long)]
    pub mariadbd: Option<PathBuf>,
    /// The dolt binary (default: PATH, ~/.cache/isoscope/bin).
    #[arg(long)]
    pub dolt: Option<PathBuf>,
}

/// Runs `cfg` against an external server (`external`), or against a fresh managed server of
/// `flavor` whose log goes into the run's folder and which is torn down when the run is checked.
pub async fn run_on(
    cfg: RunConfig,
    flavor: Flavor,
    external: Option<Endpoint>,
    binaries: &Binaries,
) -> Result<RunOutput> {
    let (endpoint, target, server) = match external {
        Some(ep) => {
            let version = server::prepare_database(&ep).await?;
            let t = TargetInfo {
                flavor,
                version,
                endpoint: ep.redacted(),
                managed: false,
            };
            (ep, t, None)
        }
        None => {
            let l = launcher(
                flavor,
                binaries.mariadbd.as_deref(),
                binaries.dolt.as_deref(),
            )?;
            std::fs::create_dir_all(&cfg.out_dir)
                .with_context(|| format!("creating {}", cfg.out_dir.display()))?;
            let disk = match &cfg.nemesis {
                Some(p) if p.needs_lazyfs() => server::Disk::Lazy,
                _ => server::Disk::Plain,
            };
            let s = ManagedServer::start_on(
                l,
                &cfg.out_dir.join("server.log"),
                "isoscope",
                Duration::from_secs(60),
                disk,
            )?;
            let ep = s.endpoint();
            let version = server::prepare_database(&ep).await?;
            let t = TargetInfo {
                flavor,
                version,
                endpoint: ep.redacted(),
                managed: true,
            };
            (ep, t, Some(Arc::new(Mutex::new(s))))
        }
    };
    let out = runner::run(cfg, endpoint, target, server.clone()).await;
    // The last handle: the server is torn down here.
    drop(server);
    Ok(out?)
}

/// The command line, with any URL's password hidden, for run.json and reports.
fn command_line(url: Option<&Endpoint>) -> String {
    std::env::args()
        .map(|a| match url {
            Some(ep) if a.starts_with("mysql://") || a.starts_with("mariadb://") => ep.redacted(),
            _ if a.contains(' ') => format!("'{a}'"),
            _ => a,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `isoscope run` and returns the exit code.
pub fn run(args: RunArgs) -> Result<i32> {
    let spec = spec_from(&args)?;
    let isolation = Isolation::parse(&args.isolation).with_context(|| {
        format!(
            "unknown isolation level {:?}; use read-uncommitted, read-committed, repeatable-read or serializable",
            args.isolation
        )
    })?;
    let external = match &args.url {
        Some(u) => Some(Endpoint::parse(u).map_err(|e| anyhow::anyhow!("--url: {e}"))?),
        None => None,
    };
    let flavor = match (&args.db, &external) {
        (Some(db), _) => Flavor::parse(db)
            .filter(|f| *f != Flavor::Mysql)
            .with_context(|| format!("unknown --db {db:?}; use mariadb or dolt (or --url)"))?,
        (None, Some(_)) => Flavor::parse(&args.flavor).with_context(|| {
            format!(
                "unknown --flavor {:?}; use mariadb, mysql or dolt",
                args.flavor
            )
        })?,
        (None, None) => bail!("say which server: --db mariadb|dolt, or --url mysql://..."),
    };
    let nemesis = args.faults.plan()?;
    if nemesis.is_some() && external.is_some() {
        bail!("--nemesis needs a server isoscope manages (--db), not --url");
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let id = runner::run_id(flavor, spec.workload, isolation);
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("histories").join(&id));
    let duration = match (args.time, args.ops) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(10)),
    };
    let cfg = RunConfig {
        spec,
        seed,
        clients: args.clients.max(1),
        duration,
        max_ops: args.ops,
        rate: args.rate,
        op_timeout: args.op_timeout,
        isolation,
        out_dir: out_dir.clone(),
        progress: !args.quiet && matches!(args.format, OutputFormat::Text),
        command: command_line(external.as_ref()),
        nemesis,
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let output = rt.block_on(run_on(cfg, flavor, external, &args.binaries))?;
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
        s.server.flavor,
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
                f.detail,
                f.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    if s.status == "server-gone" {
        t.push_str("\nTHE SERVER IS GONE: it did not come back, so there were no final reads.\n");
    }
    if s.health.is_empty() {
        if s.server.managed {
            t.push_str("health: no crash, corruption or fatal error seen\n");
        }
    } else {
        t.push_str(&format!("health: {} findings\n", s.health.len()));
        for h in &s.health {
            t.push_str(&format!(
                "  at {:.1} s, {}: {}\n",
                h.at_s, h.kind, h.message
            ));
            for line in h.excerpt.lines().take(8) {
                t.push_str(&format!("    | {line}\n"));
            }
        }
    }
    t.push_str(&verdict_text(&o.check, s.model.name()));
    let mut parts = vec![format!("isolation {}", isolation(&o.check, s.model.name()))];
    if let Some(d) = &o.check.durability {
        parts.push(format!("durability {}", d.valid));
    }
    if s.server.managed {
        parts.push(if s.health.is_empty() {
            "health ok".to_string()
        } else {
            format!("{} health findings", s.health.len())
        });
    }
    t.push_str(&format!(
        "\nverdict: {} ({})\n",
        o.verdict().to_string().to_uppercase(),
        parts.join(", ")
    ));
    t.push_str(&format!(
        "\nhistory: {}\nrun: {}\n",
        dir.join("history.jsonl").display(),
        dir.join("run.json").display()
    ));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(t.as_bytes());
}

fn verdict_text(r: &CheckResult, model: &str) -> String {
    let mut t = format!(
        "\nisolation against {model}: {}\n",
        isolation(r, model).to_string().to_uppercase()
    );
    let names = crate::checker::model::names;
    if !r.anomalies.is_empty() {
        t.push_str(&format!("found: {}\n", r.found_counts()));
        t.push_str(&format!("rules out: {}\n", names(&r.not)));
    }
    t.push_str(&format!(
        "strongest model consistent with the history: {}\n",
        if r.strongest_model.is_empty() {
            "none".to_string()
        } else {
            names(&r.strongest_model)
        }
    ));
    for n in &r.notes {
        t.push_str(&format!("note: {n}\n"));
    }
    for (a, g) in &r.anomalies {
        if let Some(f) = g.examples.first() {
            t.push_str(&format!("\n{a}, for example:\n"));
            for line in f.explanation.lines() {
                t.push_str("  ");
                t.push_str(line);
                t.push('\n');
            }
        }
    }
    if let Some(d) = &r.durability {
        super::check::durability_text(&mut t, d);
    }
    t
}

/// The verdict on isolation alone: the status of the model the run was held to.
fn isolation(r: &CheckResult, model: &str) -> Validity {
    match r.model_status.get(model) {
        Some(ModelStatus::Consistent) => Validity::Valid,
        Some(ModelStatus::RuledOut) => Validity::Invalid,
        _ => Validity::Unknown,
    }
}
