//! The side-by-side report: many runs (servers x isolation levels x workloads) in one HTML page,
//! one Markdown file and one JSON file.
//!
//! A report is built from run folders alone (`run.json` + `history.jsonl`), so `isoscope compare`
//! and `isoscope report RUN_DIR...` give the same result. Each history is checked again with the
//! options the run used, which gives typed findings to tell in SQL ([`examples`]) and the time
//! series to plot ([`series`]).
//!
//! Invariant: everything shown is computed from the recorded files; nothing in a report is typed
//! in by hand, and the HTML needs nothing from the network (inline CSS and SVG, no scripts).

pub mod bank;
pub mod elide;
pub mod examples;
pub mod findings;
pub mod html;
pub mod legend;
pub mod markdown;
pub mod scenarios;
pub mod series;
pub mod svg;
pub mod timeline;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::checker::durability::Durability;
use crate::checker::{self, Validity};
use crate::history::read_history;
use crate::run_folder::{self, RunStatus, RunSummary};
use crate::verdict::VerdictSummary;

pub use examples::WorkedExample;
pub use series::Series;

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A run folder's files could not be read.
    #[error("{path}: {message}")]
    Run {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The report could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// One run in the report: what was asked, what happened, what it proves.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// The run's folder.
    pub run_dir: String,
    /// Its `run.json`.
    pub summary: RunSummary,
    /// The workload as shown in the matrix (`counter (atomic)`).
    pub workload_label: String,
    /// The run's verdict (its check's, made invalid by any health finding), with the models
    /// held to, ruled out, strongest and not checked: every renderer words it from here.
    pub verdict: VerdictSummary,
    /// What a reader must know of a run that did not end normally (it died, or was stopped
    /// early).
    pub status_note: Option<String>,
    /// One worked example per anomaly type.
    pub examples: Vec<WorkedExample>,
    /// Per-second throughput and latency.
    pub series: Series,
    /// Whether acknowledged writes were in the final reads.
    pub durability: Option<Durability>,
    /// The run's whole server log as a link relative to the report's folder, set by [`write`]
    /// when the log is there to link to; renderers name the log's path otherwise.
    #[serde(skip)]
    pub log_href: Option<String>,
}

/// A run's latency table: read and write, as its plots split ops; the recorded per-function
/// figures when the history has no times to split by.
pub fn latency_rows(c: &Cell) -> Vec<(String, crate::run_folder::Latency)> {
    if c.series.totals.is_empty() {
        c.summary
            .latency
            .iter()
            .map(|(f, l)| (f.clone(), l.clone()))
            .collect()
    } else {
        c.series
            .totals
            .iter()
            .map(|(f, l)| (f.to_string(), l.clone()))
            .collect()
    }
}

impl Cell {
    /// The run's notes: how it ended, if not normally, then the checker's.
    pub fn notes(&self) -> impl Iterator<Item = &String> {
        self.status_note.iter().chain(&self.verdict.notes)
    }

    /// `dolt 1.86.4 · counter (atomic) · repeatable-read`, or with a target's settings
    /// `mariadb[innodb_snapshot_isolation=ON] 10.11.19 · ...`: the heading of the run's sections.
    pub fn title(&self) -> String {
        let s = &self.summary;
        format!(
            "{} {} · {} · {}",
            s.server.name(),
            s.server.version,
            self.workload_label,
            s.isolation_requested.name()
        )
    }
}

/// The matrix's columns: (server, isolation) pairs present in the report, in order. A server
/// is its target with settings (`mariadb[innodb_snapshot_isolation=ON]`), so two settings of
/// one flavor are two columns.
pub fn columns(r: &Report) -> Vec<(String, String)> {
    let set: BTreeSet<(String, crate::workload::Isolation)> = r
        .cells
        .iter()
        .map(|c| (c.summary.server.name(), c.summary.isolation_requested))
        .collect();
    set.into_iter()
        .map(|(s, i)| (s, i.name().to_string()))
        .collect()
}

/// The matrix's rows: workload labels in order of first appearance.
pub fn rows(r: &Report) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &r.cells {
        if !out.contains(&c.workload_label) {
            out.push(c.workload_label.clone());
        }
    }
    out
}

/// The cell of the matrix at (workload, server, isolation).
pub fn cell<'r>(r: &'r Report, w: &str, server: &str, iso: &str) -> Option<&'r Cell> {
    r.cells.iter().find(|c| {
        c.workload_label == w
            && c.summary.server.name() == server
            && c.summary.isolation_requested.name() == iso
    })
}

/// A command a reader can paste into a clone of isoscope: the recorded program name becomes
/// `cargo run --release --`.
pub fn reproduce(command: &str) -> String {
    match command.split_once(' ') {
        Some((program, rest)) if program.ends_with("isoscope") => {
            format!("cargo run --release -- {rest}")
        }
        _ => command.to_string(),
    }
}

/// The machine the runs ran on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// CPUs available.
    pub cpus: usize,
    /// Total memory in GB, when known.
    pub memory_gb: Option<f64>,
    /// Kernel and OS, when known.
    pub os: String,
}

/// A whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// When the report was built (RFC 3339).
    pub generated_at: String,
    /// isoscope's version.
    pub isoscope_version: String,
    /// The machine.
    pub machine: Machine,
    /// The runs, in matrix order.
    pub cells: Vec<Cell>,
    /// The scenarios' table (`scenarios.json`), when they ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<crate::scenario::Results>,
    /// Targets and levels `compare` could not run because the server refused the level.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedLevel>,
}

/// A level a server refused (TiDB's 8048 at serializable): no run, and no column, for it.
#[derive(Clone, Debug, Serialize)]
pub struct RefusedLevel {
    /// The target.
    pub target: String,
    /// The level asked for.
    pub isolation: crate::workload::Isolation,
    /// The server's message.
    pub message: String,
}

impl RefusedLevel {
    /// One line: `tidb at serializable: 8048: ...`.
    pub fn text(&self) -> String {
        format!(
            "{} at {}: {}",
            self.target,
            self.isolation.name(),
            self.message
        )
    }
}

/// The sentence that introduces the refused levels under the matrix.
pub const REFUSED_INTRO: &str =
    "Not run, because the server refused the level (no column for them):";

fn machine() -> Machine {
    let memory_gb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| (kb / 1024.0 / 1024.0 * 10.0).round() / 10.0)
    });
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|s| s.trim_matches('"').to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gb,
        os: format!("{os}, Linux {}", kernel.trim()),
    }
}

/// Reads one run folder and checks its history again.
pub fn load_cell(dir: &Path) -> Result<Cell, ReportError> {
    let bad = |path: &Path, message: String| ReportError::Run {
        path: path.to_path_buf(),
        message,
    };
    let summary: RunSummary = run_folder::load(dir).map_err(|e| match e {
        run_folder::RunFolderError::Io { path, source } => bad(&path, source.to_string()),
        run_folder::RunFolderError::Bad { path, message } => bad(&path, message),
    })?;
    let hist_path = run_folder::history_path(dir);
    let h = read_history(&hist_path).map_err(|e| bad(&hist_path, e.to_string()))?;
    let mut opts = summary.spec.check_options(summary.model);
    opts.examples = examples::CANDIDATES;
    let r = checker::check(&h, &opts).map_err(|e| bad(&hist_path, e.to_string()))?;
    let examples = r
        .anomalies
        .values()
        .filter_map(|g| examples::smallest(&h, &g.examples))
        .map(|f| examples::worked_example(&h, f))
        .collect();
    Ok(Cell {
        run_dir: dir.display().to_string(),
        workload_label: summary.spec.label(),
        verdict: VerdictSummary::of_run(&r, &summary.health),
        status_note: status_note(&summary),
        examples,
        durability: r.durability.clone(),
        log_href: None,
        series: {
            let mut s = series::series(&h);
            s.truncate((summary.elapsed_s.floor() as usize).max(1));
            s
        },
        summary,
    })
}

/// What a reader must know of a run that did not end normally: it died, or was stopped early.
fn status_note(s: &RunSummary) -> Option<String> {
    let why = s
        .stopped_because
        .as_deref()
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    match s.status {
        RunStatus::Done => None,
        RunStatus::Died => Some(
            "the isoscope that ran this is gone (killed?) while run.json still said running: \
             the history ends where it died, with no final reads"
                .into(),
        ),
        RunStatus::Running => Some("this run is still going: the history is not complete".into()),
        RunStatus::Interrupted => Some(format!("the run was interrupted{why}")),
        RunStatus::ServerGone => Some("the server did not come back: no final reads".into()),
        RunStatus::HistoryUnwritable => Some(format!(
            "the history could not be written{why}: it ends early"
        )),
    }
}

/// Builds a report from run folders, ordered by workload, then server, then isolation level.
pub fn build(dirs: &[PathBuf]) -> Result<Report, ReportError> {
    let mut cells = dirs
        .iter()
        .map(|d| load_cell(d))
        .collect::<Result<Vec<_>, _>>()?;
    cells.sort_by(|a, b| {
        (
            &a.workload_label,
            a.summary.server.name(),
            a.summary.isolation_requested,
        )
            .cmp(&(
                &b.workload_label,
                b.summary.server.name(),
                b.summary.isolation_requested,
            ))
    });
    Ok(Report {
        generated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        isoscope_version: env!("CARGO_PKG_VERSION").into(),
        machine: machine(),
        cells,
        scenarios: None,
        refused: Vec::new(),
    })
}

/// Writes `index.html`, `report.md` and `report.json` into `dir`.
pub fn write(report: &Report, dir: &Path) -> Result<(), ReportError> {
    let put = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError::Write { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut report = report.clone();
    for c in &mut report.cells {
        c.log_href = log_href(dir, Path::new(&c.run_dir));
    }
    let report = &report;
    put(
        "report.json",
        serde_json::to_string_pretty(report).expect("reports serialize"),
    )?;
    put("report.md", markdown::render(report))?;
    put("index.html", html::render(report))?;
    Ok(())
}

/// The run folder's server log (`server.log.gz`, or `server.log` while a run still writes it)
/// as a path relative to the report's folder `dir`, `/`-separated for a link; `None` when there
/// is no log or either folder cannot be resolved.
pub fn log_href(dir: &Path, run_dir: &Path) -> Option<String> {
    let log = [
        format!("{}.gz", run_folder::SERVER_LOG),
        run_folder::SERVER_LOG.to_string(),
    ]
    .into_iter()
    .map(|n| run_dir.join(n))
    .find(|p| p.is_file())?;
    let (from, to) = (dir.canonicalize().ok()?, log.canonicalize().ok()?);
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = from
        .components()
        .skip(common)
        .map(|_| "..".into())
        .collect();
    parts.extend(
        to.components()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(parts.join("/"))
}

/// Whether a run has anything for the faults, durability and health section.
pub fn has_fault_story(c: &Cell) -> bool {
    c.summary.nemesis.is_some()
        || !c.summary.health.is_empty()
        || c.durability
            .as_ref()
            .is_some_and(|d| d.valid != Validity::Valid)
}

/// The durability result as one sentence (no capital, no full stop): what was lost, what was
/// read and then lost, what could not be checked. `all 1234 acknowledged writes survived`,
/// `no acknowledged write was lost (of 77960), but 17 writes a committed transaction had read
/// were lost later`, `not checked: 57 of 57 keys had no final read` ...
pub fn durability_line(d: &Durability) -> String {
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut parts = Vec::new();
    if d.lost > 0 {
        parts.push(format!(
            "{} of {} acknowledged writes {} lost",
            d.lost,
            d.acknowledged,
            if d.lost == 1 { "was" } else { "were" }
        ));
    } else if d.valid != Validity::Unknown || d.keys_without_final_read < d.keys {
        parts.push(format!(
            "no acknowledged write was lost (of {})",
            d.acknowledged
        ));
    }
    if d.read_then_lost > 0 {
        parts.push(format!(
            "{} a committed transaction had read {} lost later",
            plural(d.read_then_lost as usize, "write", "writes"),
            if d.read_then_lost == 1 { "was" } else { "were" }
        ));
    }
    if d.unexpected > 0 {
        parts.push(format!(
            "{} no one wrote appeared",
            plural(d.unexpected as usize, "value", "values")
        ));
    }
    let mut s = parts.join(", but ");
    if d.keys_without_final_read > 0 {
        let unchecked = format!(
            "{} of {} had no final read, so {} could not be checked",
            d.keys_without_final_read,
            plural(d.keys, "key", "keys"),
            if d.keys_without_final_read == 1 {
                "it"
            } else {
                "they"
            }
        );
        s = if s.is_empty() {
            format!("not checked: {unchecked}")
        } else {
            format!("{s}; {unchecked}")
        };
    }
    if d.recovered > 0 {
        s.push_str(&format!(
            "; {} of unknown outcome {} kept",
            plural(d.recovered as usize, "write", "writes"),
            if d.recovered == 1 { "was" } else { "were" }
        ));
    }
    s
}

/// A sentence's first letter up: `not checked: ...` → `Not checked: ...`.
pub fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A fault step's detail without the log lines it points to (health shows them, cause first).
pub fn fault_detail(d: &str) -> String {
    let d = match d.find("; last lines of ") {
        Some(i) => format!("{} (its log below, under server health)", &d[..i]),
        None => d.to_string(),
    };
    singulars(&d)
}

/// "1 calls refused" → "1 call refused": recorded details counted in plurals whatever the number.
fn singulars(s: &str) -> String {
    let mut out = s.to_string();
    for (many, one) in [
        ("calls", "call"),
        ("writes", "write"),
        ("files", "file"),
        ("bytes", "byte"),
        ("unsynced bytes", "unsynced byte"),
        ("unsynced name changes", "unsynced name change"),
    ] {
        for lead in [" ", "("] {
            out = out.replace(&format!("{lead}1 {many}"), &format!("{lead}1 {one}"));
        }
        if out.starts_with(&format!("1 {many}")) {
            out = format!("1 {one}{}", &out[2 + many.len()..]);
        }
    }
    out
}

/// The verdict of a fault card: invalid on a health finding, else its durability's.
pub fn fault_verdict(c: &Cell) -> Validity {
    if c.verdict.health_findings > 0 {
        Validity::Invalid
    } else {
        c.durability.as_ref().map_or(Validity::Valid, |d| d.valid)
    }
}

/// The health findings that count against a run, by kind: `panic ×3, did-not-come-back ×1`.
pub fn health_kinds(c: &Cell) -> String {
    let refused = crate::faults::health::refusals(&c.summary.health);
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (h, r) in c.summary.health.iter().zip(refused) {
        if r {
            continue;
        }
        match counts.iter_mut().find(|(k, _)| *k == h.kind.name()) {
            Some((_, n)) => *n += 1,
            None => counts.push((h.kind.name(), 1)),
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `kill ×5, pause ×2`: the fault steps of a run, counted.
pub fn fault_counts(c: &Cell) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for f in &c.summary.faults {
        match counts.iter_mut().find(|(s, _)| *s == f.step) {
            Some((_, n)) => *n += 1,
            None => counts.push((&f.step, 1)),
        }
    }
    if counts.is_empty() {
        return "none happened".into();
    }
    counts
        .iter()
        .map(|(s, n)| format!("{s} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
