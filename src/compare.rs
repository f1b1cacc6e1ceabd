//! `compare`'s orchestration: the matrix targets x isolation levels x workloads, a fresh server
//! per cell ([`crate::runner::target::run_on`]), then the scenarios on the same targets, then
//! the side-by-side report. The command line only parses its flags into a [`ComparePlan`] and
//! prints the [`Progress`] it hears.
//!
//! Invariants: every cell is checked before the first starts (a bad one stops the comparison
//! before any server starts); a signal stops it between cells, and the report covers the cells
//! done; cells that never ran leave the verdict unknown, never valid.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::checker::Validity;
use crate::faults::NemesisPlan;
use crate::report::{self, ReportError};
use crate::runner::request::RunRequest;
use crate::runner::target::{self, Binaries, Server};
use crate::runner::{RunError, RunOutput, Shutdown};
use crate::scenario::runner::Timing;
use crate::scenario::suite::SuiteError;
use crate::scenario::{self, SuiteConfig};
use crate::server::target::Target;
use crate::workload::{Isolation, WorkloadSpec};

/// What to compare.
#[derive(Clone, Debug)]
pub struct ComparePlan {
    /// The targets, each started fresh per cell.
    pub dbs: Vec<Target>,
    /// Where their binaries are.
    pub binaries: Binaries,
    /// The levels.
    pub levels: Vec<Isolation>,
    /// The workloads, by name or preset file.
    pub workloads: Vec<String>,
    /// How long each cell runs.
    pub time: Duration,
    /// Clients per cell.
    pub clients: u32,
    /// Every cell's seed; random (and recorded) per cell if `None`.
    pub seed: Option<u64>,
    /// Faults for every cell.
    pub nemesis: Option<NemesisPlan>,
    /// The report folder; runs go in its `runs/`.
    pub out: PathBuf,
    /// Whether the scenarios run after the workloads.
    pub scenarios: bool,
}

/// One run of the matrix, checked before any starts.
pub struct Cell {
    /// The target.
    pub target: Target,
    /// The run as asked.
    pub request: RunRequest,
    /// The folder name (`mariadb-counter-atomic-repeatable-read`).
    pub name: String,
    /// The workload's label (`counter (atomic)`).
    pub label: String,
    /// The run folder.
    pub dir: PathBuf,
    config: crate::runner::RunConfig,
}

/// What the comparison says as it goes, for the command line to print.
pub enum Progress<'a> {
    /// The matrix, before the first cell.
    Matrix {
        /// Cells in all.
        total: usize,
    },
    /// Cell `n` (from 1) starts.
    CellStarts {
        /// Its number, from 1.
        n: usize,
        /// The cell.
        cell: &'a Cell,
    },
    /// The cell that started last ended.
    CellDone(&'a RunOutput),
    /// A signal stopped the comparison before this cell's clients started, or between cells.
    Stopped(Option<&'a RunError>),
    /// The scenarios start: cells in all.
    ScenariosStart {
        /// Scenario cells in all.
        total: usize,
        /// Scenarios.
        scenarios: usize,
    },
    /// The scenarios ended with this many anomalies, in this time; `None`: a signal stopped
    /// them.
    ScenariosDone(Option<(usize, Duration)>),
}

/// Why the comparison stopped with no report.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A workload name or preset that cannot be read.
    #[error("{0}")]
    Workload(String),
    /// A cell's request or run failed.
    #[error("run {name}: {source}")]
    Run {
        /// The cell.
        name: String,
        /// Why.
        source: RunError,
    },
    /// A request that is not valid (before any server starts).
    #[error(transparent)]
    Request(RunError),
    /// The scenarios could not run.
    #[error(transparent)]
    Scenarios(#[from] SuiteError),
    /// The built-in scenarios could not be read.
    #[error(transparent)]
    Builtin(#[from] scenario::ScenarioError),
    /// The report could not be built or written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A folder, or the async runtime, could not be made.
    #[error("{0}")]
    Io(String),
    /// A signal came before any run finished.
    #[error("stopped before any run finished; no report")]
    NothingRan,
}

/// What the comparison came to.
pub struct Compared {
    /// The worst verdict over every cell (unknown if a cell never ran or a scenario could not
    /// run).
    pub worst: Validity,
    /// How long it took.
    pub elapsed: Duration,
}

/// Every cell of `plan`, checked, in the order they run: by workload, then target, then level.
pub fn cells(plan: &ComparePlan) -> Result<Vec<Cell>, CompareError> {
    let mut workloads = Vec::new();
    for w in &plan.workloads {
        workloads.push((WorkloadSpec::named(w).map_err(CompareError::Workload)?, w));
    }
    let mut cells = Vec::new();
    for (spec, workload_name) in &workloads {
        for db in &plan.dbs {
            for &iso in &plan.levels {
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
                let request = RunRequest {
                    server: Server::Managed(db.clone(), plan.binaries.clone()),
                    workload: workload_name.to_string(),
                    isolation: iso,
                    clients: plan.clients,
                    time: Some(plan.time),
                    ops: None,
                    rate: None,
                    op_timeout: Duration::from_secs(5),
                    seed: plan.seed.unwrap_or_else(rand::random),
                    keys: None,
                    min_txn_len: None,
                    max_txn_len: None,
                    read_fraction: None,
                    max_writes_per_key: None,
                    counter_style: None,
                    nemesis: plan.nemesis.clone(),
                };
                let dir = plan.out.join("runs").join(&name);
                let config = request
                    .config(dir.clone(), true)
                    .map_err(CompareError::Request)?;
                cells.push(Cell {
                    target: db.clone(),
                    request,
                    name,
                    label,
                    dir,
                    config,
                });
            }
        }
    }
    Ok(cells)
}

/// Runs the comparison: every cell, then the scenarios (unless skipped or stopped), then the
/// report into `plan.out`. `progress` hears each step.
pub fn run(
    plan: &ComparePlan,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Compared, CompareError> {
    let cells = cells(plan)?;
    let total = cells.len();
    progress(Progress::Matrix { total });
    target::clean_stale();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CompareError::Io(format!("starting the async runtime: {e}")))?;
    let started = Instant::now();
    let shutdown = rt
        .block_on(async {
            let s = Shutdown::new();
            s.listen_for_signals().map(|_| s)
        })
        .map_err(|e| CompareError::Io(e.to_string()))?;
    let mut dirs = Vec::new();
    let mut worst = Validity::Valid;
    for (i, cell) in cells.iter().enumerate() {
        if shutdown.is_stopping() {
            progress(Progress::Stopped(None));
            break;
        }
        progress(Progress::CellStarts { n: i + 1, cell });
        let o = match rt.block_on(target::run_on(
            cell.config.clone(),
            &cell.request.server,
            &shutdown,
        )) {
            Ok(o) => o,
            // Stopped while its server started: the report covers the cells before it.
            Err(e @ RunError::StoppedEarly(_)) => {
                progress(Progress::Stopped(Some(&e)));
                break;
            }
            Err(source) => {
                return Err(CompareError::Run {
                    name: cell.name.clone(),
                    source,
                })
            }
        };
        progress(Progress::CellDone(&o));
        worst = worse(worst, o.verdict());
        dirs.push(cell.dir.clone());
    }
    // The scenarios, on the same targets, unless skipped or stopped.
    let scenarios = if !plan.scenarios || shutdown.is_stopping() || dirs.is_empty() {
        None
    } else {
        let results = rt.block_on(run_scenarios(plan, &shutdown, progress))?;
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
    // Cells that never ran leave the matrix undecided: never a clean exit.
    if dirs.len() < total && worst == Validity::Valid {
        worst = Validity::Unknown;
    }
    if dirs.is_empty() {
        return Err(CompareError::NothingRan);
    }
    let mut r = report::build(&dirs)?;
    r.scenarios = scenarios;
    report::write(&r, &plan.out)?;
    Ok(Compared {
        worst,
        elapsed: started.elapsed(),
    })
}

/// The worse of two verdicts: invalid, then unknown, then valid.
fn worse(a: Validity, b: Validity) -> Validity {
    match (a, b) {
        (Validity::Invalid, _) | (_, Validity::Invalid) => Validity::Invalid,
        (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
        _ => Validity::Valid,
    }
}

/// Runs every built-in scenario at all four levels on each target, writes scenarios.json and
/// scenarios.txt into the report folder (the servers' logs into its `scenarios/`), and returns
/// the results; `None` if a signal stopped them.
async fn run_scenarios(
    plan: &ComparePlan,
    shutdown: &Shutdown,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Option<scenario::Results>, CompareError> {
    let log_dir = plan.out.join("scenarios");
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| CompareError::Io(format!("creating {}: {e}", log_dir.display())))?;
    let cfg = SuiteConfig {
        servers: plan
            .dbs
            .iter()
            .map(|t| Server::Managed(t.clone(), plan.binaries.clone()))
            .collect(),
        scenarios: scenario::builtin()?,
        levels: Isolation::ALL.to_vec(),
        parallel: 4,
        timing: Timing::default(),
        log_dir: Some(log_dir),
    };
    progress(Progress::ScenariosStart {
        total: cfg.scenarios.len() * cfg.levels.len() * cfg.servers.len(),
        scenarios: cfg.scenarios.len(),
    });
    let started = Instant::now();
    // Stopped by a signal: the suite is dropped, which tears its server down.
    let results = tokio::select! {
        r = scenario::suite::run(&cfg, &|_| {}) => r?,
        _ = shutdown.sleep(Duration::from_secs(365 * 86_400)) => {
            progress(Progress::ScenariosDone(None));
            return Ok(None);
        }
    };
    let anomalies = results
        .cells
        .iter()
        .filter(|c| c.verdict == scenario::Verdict::Anomaly)
        .count();
    progress(Progress::ScenariosDone(Some((
        anomalies,
        started.elapsed(),
    ))));
    scenario::results_file::write(&plan.out, &results)?;
    Ok(Some(results))
}

/// A target as a folder name: `mariadb_innodb_snapshot_isolation_ON` for
/// `mariadb[innodb_snapshot_isolation=ON]`.
pub fn folder_name(t: &Target) -> String {
    t.to_string()
        .replace(['[', ',', '=', '/'], "_")
        .replace(']', "")
}
