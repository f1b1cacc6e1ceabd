//! The `isoscope` command line: `check` a history, `gen`erate one.
//!
//! Exit codes are part of the interface, as with Elle's tools: 0 valid, 1 anomalies found,
//! 2 unknown, 3 bad input or usage. Bad input is reported in one line that names the file,
//! the line or op, and the problem.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::checker::{self, CheckOptions, CheckResult, Model, Validity, Workload};
use crate::history::read_history;
use crate::sim;

/// Exit code: every history valid.
pub const EXIT_VALID: i32 = 0;
/// Exit code: anomalies found in some history.
pub const EXIT_INVALID: i32 = 1;
/// Exit code: some history could not be decided (and none was invalid).
pub const EXIT_UNKNOWN: i32 = 2;
/// Exit code: bad input or usage.
pub const EXIT_ERROR: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "isoscope",
    version,
    about = "Finds isolation anomalies in database histories, Elle-style"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Check histories (Jepsen EDN, Elle JSON, or isoscope JSON Lines) for anomalies.
    Check(CheckArgs),
    /// Generate a history from a simulated database, to try a checker on.
    Gen(GenArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// History files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Models to hold the history to, comma-separated (read-committed, repeatable-read,
    /// snapshot-isolation, serializable, strict-serializable).
    #[arg(
        long,
        short = 'm',
        value_delimiter = ',',
        default_value = "strict-serializable"
    )]
    model: Vec<String>,
    /// The workload (list-append, rw-register, counter, bank); detected from the ops if absent.
    #[arg(long, short = 'w')]
    workload: Option<String>,
    /// Output for people (text) or machines (json).
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
    /// Write a file per anomaly type and a Graphviz DOT (and SVG) file per cycle here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Explained examples to keep per anomaly type.
    #[arg(long, default_value_t = 8)]
    examples: usize,
    /// Edge visits the cycle search may spend per component and anomaly type.
    #[arg(long, default_value_t = checker::cycle::SearchLimits::default().steps)]
    cycle_search_steps: u64,
    /// Bank: the total all balances must add up to (default: the first read's).
    #[arg(long)]
    total: Option<i64>,
    /// Bank: negative balances are allowed.
    #[arg(long)]
    negative_balances: bool,
    /// rw-register: do not infer that a write follows the version its transaction read.
    #[arg(long)]
    no_wfr: bool,
}

#[derive(Args, Debug)]
struct GenArgs {
    /// Output file (JSON Lines).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// list-append or rw-register.
    #[arg(long, default_value = "list-append")]
    workload: String,
    /// The simulated database: serializable, snapshot-isolation, read-committed, lost-update.
    #[arg(long, default_value = "serializable")]
    isolation: String,
    /// Completed transactions to generate.
    #[arg(long, default_value_t = 1000)]
    txns: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 10)]
    clients: u32,
    /// Active keys at a time.
    #[arg(long, default_value_t = 10)]
    keys: u32,
    /// Most micro-ops per transaction.
    #[arg(long, default_value_t = 4)]
    max_txn_len: u32,
    /// Writes to a key before it is retired.
    #[arg(long, default_value_t = 256)]
    max_writes_per_key: u32,
    /// Fraction of transactions that abort on their own.
    #[arg(long, default_value_t = 0.0)]
    fail_fraction: f64,
    /// Fraction of transactions whose outcome is unknown.
    #[arg(long, default_value_t = 0.0)]
    info_fraction: f64,
    /// Random seed; the same seed gives the same history.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_VALID
            };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Cmd::Check(args) => run_check(args),
        Cmd::Gen(args) => run_gen(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("isoscope: {e:#}");
            EXIT_ERROR
        }
    }
}

fn options(args: &CheckArgs) -> Result<CheckOptions> {
    let mut models = Vec::new();
    for m in &args.model {
        models.push(Model::parse(m).with_context(|| {
            format!(
                "unknown model {m:?}; use one of {}",
                Model::ALL.map(|m| m.name()).join(", ")
            )
        })?);
    }
    let workload = match &args.workload {
        None => None,
        Some(w) => Some(Workload::parse(w).with_context(|| {
            format!("unknown workload {w:?}; use list-append, rw-register, counter or bank")
        })?),
    };
    Ok(CheckOptions {
        models,
        workload,
        limits: checker::cycle::SearchLimits {
            steps: args.cycle_search_steps,
        },
        examples: args.examples.max(1),
        bank_total: args.total,
        negative_balances: args.negative_balances,
        wfr: !args.no_wfr,
    })
}

fn run_check(args: CheckArgs) -> Result<i32> {
    let opts = options(&args)?;
    let mut worst = EXIT_VALID;
    let many = args.files.len() > 1;
    let mut json_out = Vec::new();
    for file in &args.files {
        let started = std::time::Instant::now();
        let outcome = read_history(file)
            .map_err(anyhow::Error::from)
            .and_then(|h| {
                tracing::debug!(
                    ops = h.ops.len(),
                    secs = started.elapsed().as_secs_f64(),
                    "history read"
                );
                let r = checker::check(&h, &opts)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()));
                // Freeing millions of ops one by one costs seconds; the process frees them at exit.
                std::mem::forget(h);
                r
            });
        let result = match outcome {
            Ok(r) => r,
            Err(e) => {
                eprintln!("isoscope: {e:#}");
                worst = EXIT_ERROR;
                continue;
            }
        };
        let code = match result.valid {
            Validity::Valid => EXIT_VALID,
            Validity::Invalid => EXIT_INVALID,
            Validity::Unknown => EXIT_UNKNOWN,
        };
        worst = combine(worst, code);
        if let Some(dir) = &args.out {
            let dir = if many {
                dir.join(file.file_stem().unwrap_or_default())
            } else {
                dir.clone()
            };
            write_out(&dir, &result)
                .with_context(|| format!("writing results to {}", dir.display()))?;
        }
        match args.format {
            OutputFormat::Text => print_text(file, &result),
            OutputFormat::Json => {
                let mut v = serde_json::to_value(&result)?;
                v["file"] = serde_json::Value::String(file.display().to_string());
                json_out.push(v);
            }
        }
    }
    if let OutputFormat::Json = args.format {
        let out = if json_out.len() == 1 && !many {
            json_out.pop().unwrap_or_default()
        } else {
            serde_json::Value::Array(json_out)
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(worst)
}

/// Bad input outranks anomalies, which outrank unknown, which outranks valid.
fn combine(a: i32, b: i32) -> i32 {
    let rank = |c| match c {
        EXIT_ERROR => 3,
        EXIT_INVALID => 2,
        EXIT_UNKNOWN => 1,
        _ => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn print_text(file: &Path, r: &CheckResult) {
    let mut s = String::new();
    let names = |ms: &[Model]| ms.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ");
    s.push_str(&format!(
        "{}: {} ({}, held to {})\n",
        file.display(),
        r.valid,
        r.workload,
        names(&r.models)
    ));
    s.push_str(&format!(
        "  ops: {} invoked, {} ok, {} failed, {} indeterminate\n",
        r.ops.invoke, r.ops.ok, r.ops.fail, r.ops.info
    ));
    if !r.anomaly_types.is_empty() {
        let found: Vec<String> = r
            .anomalies
            .iter()
            .map(|(a, g)| format!("{a} ({})", g.count))
            .collect();
        s.push_str(&format!("  found: {}\n", found.join(", ")));
        s.push_str(&format!("  rules out: {}\n", names(&r.not)));
    }
    if !r.undecided.is_empty() {
        let u: Vec<&str> = r.undecided.iter().map(|a| a.name()).collect();
        s.push_str(&format!(
            "  undecided (search cut short): {}\n",
            u.join(", ")
        ));
    }
    if !r.not_checked.is_empty() {
        s.push_str(&format!(
            "  not checked: {} anomaly types that the requested models allow (e.g. {})\n",
            r.not_checked.len(),
            r.not_checked[0]
        ));
    }
    s.push_str(&format!(
        "  strongest model consistent with it: {}\n",
        if r.strongest_model.is_empty() {
            "none shown".to_string()
        } else {
            names(&r.strongest_model)
        }
    ));
    for n in &r.notes {
        s.push_str(&format!("  note: {n}\n"));
    }
    for (a, g) in &r.anomalies {
        let shown = g.examples.len().min(3);
        s.push_str(&format!(
            "\n{a}: {} found{}\n",
            g.count,
            if g.count > shown {
                format!(", {shown} shown")
            } else {
                String::new()
            }
        ));
        for f in g.examples.iter().take(shown) {
            s.push('\n');
            for line in f.explanation.lines() {
                s.push_str("  ");
                s.push_str(line);
                s.push('\n');
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
}

/// Writes `result.json`, one text file per anomaly type, and one DOT (plus SVG, when
/// Graphviz is installed) per cycle.
fn write_out(dir: &Path, r: &CheckResult) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("result.json"), serde_json::to_string_pretty(r)?)?;
    let have_dot = Command::new("dot").arg("-V").output().is_ok();
    for (a, g) in &r.anomalies {
        let mut text = format!(
            "{a}: {} found, {} explained below\n",
            g.count,
            g.examples.len()
        );
        for (i, f) in g.examples.iter().enumerate() {
            text.push_str(&format!("\n#{}\n{}\n", i + 1, f.explanation));
            if !f.steps.is_empty() {
                let title = format!("{a} #{}", i + 1);
                let dot = checker::explain::cycle_dot(&title, &f.txns, &f.steps);
                let base = dir.join(format!("{a}-{}", i + 1));
                std::fs::write(base.with_extension("dot"), &dot)?;
                if have_dot {
                    let status = Command::new("dot")
                        .arg("-Tsvg")
                        .arg("-o")
                        .arg(base.with_extension("svg"))
                        .arg(base.with_extension("dot"))
                        .status()?;
                    if !status.success() {
                        tracing::warn!("dot failed on {}", base.display());
                    }
                }
            }
        }
        std::fs::write(dir.join(format!("{a}.txt")), text)?;
    }
    Ok(())
}

fn run_gen(args: GenArgs) -> Result<i32> {
    let workload = sim::SimWorkload::parse(&args.workload).with_context(|| {
        format!(
            "unknown workload {:?}; use list-append or rw-register",
            args.workload
        )
    })?;
    let isolation = sim::Isolation::parse(&args.isolation).with_context(|| {
        format!(
            "unknown isolation {:?}; use serializable, snapshot-isolation, read-committed or lost-update",
            args.isolation
        )
    })?;
    let params = sim::SimParams {
        workload,
        isolation,
        txns: args.txns,
        clients: args.clients.max(1),
        keys: args.keys.max(1),
        max_txn_len: args.max_txn_len.max(1),
        max_writes_per_key: args.max_writes_per_key.max(1),
        fail_fraction: args.fail_fraction,
        info_fraction: args.info_fraction,
        seed: args.seed,
        ..sim::SimParams::default()
    };
    let n = sim::write(&params, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "isoscope: wrote {n} ops ({} {} transactions, {} simulation) to {}",
        params.txns,
        workload.name(),
        isolation.name(),
        args.out.display()
    );
    Ok(EXIT_VALID)
}
