//! `isoscope check`: read histories, check them, print or write the verdicts.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use super::{OutputFormat, EXIT_ERROR, EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID};
use crate::checker::{self, CheckOptions, CheckResult, Model, Validity, Workload};
use crate::history::read_history;
use crate::verdict::VerdictSummary;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// History files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Models to hold the history to, comma-separated (Adya's names, PL-3 and so on, work too).
    #[arg(
        long,
        short = 'm',
        value_enum,
        ignore_case = true,
        value_delimiter = ',',
        default_value = "strict-serializable"
    )]
    pub model: Vec<Model>,
    /// The workload (register is rw-register) [default: detected from the ops].
    #[arg(long, short = 'w', value_enum)]
    pub workload: Option<Workload>,
    /// Output for people (text) or machines (json).
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Write result.json, a text file per anomaly type, and per cycle a drawing (SVG: T1..Tn,
    /// edges named, the ops in a table beside) and its Graphviz DOT here.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Explained examples to keep per anomaly type (at least 1).
    #[arg(long, default_value_t = 8)]
    pub examples: usize,
    /// Edge visits the cycle search may spend per component and anomaly type.
    #[arg(long, default_value_t = checker::cycle::SearchLimits::default().steps)]
    pub cycle_search_steps: u64,
    /// Bank: the total all balances must add up to [default: the first read's].
    #[arg(long)]
    pub total: Option<i64>,
    /// Bank: negative balances are allowed.
    #[arg(long)]
    pub negative_balances: bool,
    /// rw-register: do not infer that a write follows the version its transaction read.
    #[arg(long)]
    pub no_wfr: bool,
    /// Also check durability: every acknowledged write must be in the final reads (the last ok
    /// read of each key after its writes and any faults). Always on for the set workload.
    #[arg(long)]
    pub durability: bool,
}

fn options(args: &CheckArgs) -> Result<CheckOptions> {
    if args.examples == 0 {
        anyhow::bail!("--examples must be at least 1");
    }
    Ok(CheckOptions {
        models: args.model.clone(),
        workload: args.workload,
        limits: checker::cycle::SearchLimits {
            steps: args.cycle_search_steps,
        },
        // As many candidates as the report looks at, so both show the same smallest one.
        examples: args.examples.max(crate::report::examples::CANDIDATES),
        bank_total: args.total,
        negative_balances: args.negative_balances,
        wfr: !args.no_wfr,
        durability: args.durability,
    })
}

pub fn run(args: CheckArgs) -> Result<i32> {
    let opts = options(&args)?;
    let mut worst = EXIT_VALID;
    let many = args.files.len() > 1;
    let mut json_out = Vec::new();
    let mut tally = [0usize; 4];
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
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
                    .map(|mut r| {
                        // The smallest examples first, as the report picks them.
                        for g in r.anomalies.values_mut() {
                            crate::report::examples::smallest_first(&h, &mut g.examples);
                            g.examples.truncate(args.examples);
                        }
                        r
                    });
                // Freeing millions of ops one by one costs seconds; the process frees them at exit.
                std::mem::forget(h);
                r
            });
        let result = match outcome {
            Ok(r) => r,
            Err(e) => {
                let message = super::said_once(&format!("{e:#}"));
                eprintln!("isoscope: {message}");
                if let OutputFormat::Json = args.format {
                    json_out.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "error": message,
                    }));
                }
                worst = combine(worst, EXIT_ERROR);
                tally[3] += 1;
                continue;
            }
        };
        let code = match result.valid {
            Validity::Valid => EXIT_VALID,
            Validity::Invalid => EXIT_INVALID,
            Validity::Unknown => EXIT_UNKNOWN,
        };
        worst = combine(worst, code);
        tally[code as usize] += 1;
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
    } else if many {
        println!("\n{}", files_line(&tally, worst));
    }
    Ok(worst)
}

/// The last line of a check of many files: how many came to each verdict, and the exit code
/// that wins ("3 files: 1 invalid, 1 valid, 1 unreadable; exit 3").
fn files_line(tally: &[usize; 4], worst: i32) -> String {
    let parts: Vec<String> = [
        (EXIT_INVALID, "invalid"),
        (EXIT_UNKNOWN, "unknown"),
        (EXIT_VALID, "valid"),
        (EXIT_ERROR, "unreadable"),
    ]
    .iter()
    .filter(|(c, _)| tally[*c as usize] > 0)
    .map(|(c, w)| format!("{} {w}", tally[*c as usize]))
    .collect();
    format!(
        "{} files: {}; exit {worst}",
        tally.iter().sum::<usize>(),
        parts.join(", ")
    )
}

/// Bad input outranks anomalies, which outrank unknown, which outranks valid.
pub fn combine(a: i32, b: i32) -> i32 {
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

pub fn print_text(file: &Path, r: &CheckResult) {
    let mut s = String::new();
    let names = checker::model::names;
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
    for line in VerdictSummary::of_check(r).text().lines().skip(1) {
        s.push_str(&format!("  {line}\n"));
    }
    if !r.not_checked.is_empty() {
        s.push_str(&format!(
            "  not checked: {} anomaly types that the requested models allow (e.g. {})\n",
            r.not_checked.len(),
            r.not_checked[0]
        ));
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
            for line in crate::report::elide::text(&f.explanation).lines() {
                s.push_str("  ");
                s.push_str(line);
                s.push('\n');
            }
        }
    }
    if let Some(d) = &r.durability {
        durability_text(&mut s, d);
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
}

/// The durability part of the text output: the verdict, the counts, the notes and the
/// examples' explanations.
pub(crate) fn durability_text(s: &mut String, d: &checker::durability::Durability) {
    s.push_str(&format!(
        "\ndurability: {} ({} key{} written, {} without final read)\n",
        d.valid,
        d.keys,
        if d.keys == 1 { "" } else { "s" },
        d.keys_without_final_read
    ));
    s.push_str(&format!(
        "  acknowledged {}, lost {}, read then lost {}, recovered {}, unexpected {}\n",
        d.acknowledged, d.lost, d.read_then_lost, d.recovered, d.unexpected
    ));
    for n in &d.notes {
        s.push_str(&format!("  note: {n}\n"));
    }
    for f in &d.examples {
        let kind = match f.kind {
            checker::durability::DurabilityKind::Lost => "lost",
            checker::durability::DurabilityKind::Unexpected => "unexpected",
        };
        s.push_str(&format!("\n  {kind}: {}\n", f.explanation));
    }
}

/// Writes `result.json`, one text file per anomaly type, and per cycle a drawing (SVG) and
/// Graphviz DOT; see [`crate::report::findings`].
pub fn write_out(dir: &Path, r: &CheckResult) -> Result<()> {
    Ok(crate::report::findings::write(dir, r)?)
}
