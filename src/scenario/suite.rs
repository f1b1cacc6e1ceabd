//! Every scenario at every level on every server: the cells, run a few at a time per server,
//! each on a fresh database, and the results a report renders ([`Results`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::history::{self, CheckerView};
use super::runner::{self, CellPlan, LockWatch, Row, SessionEnd, StepRecord, Timing};
use super::spec::{Expected, Scenario};
use super::verdict::{self, How, Verdict};
use crate::server::target::Target;
use crate::server::{Disk, Endpoint, Flavor, Server, ServerError, TargetInfo};
use crate::workload::Isolation;

/// One scenario at one level on one server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    /// The server's name and version (`MariaDB 10.11.19`).
    pub server: String,
    /// The target (`mariadb[innodb_snapshot_isolation=ON]`), or the URL without its password.
    pub target: String,
    /// The level asked for.
    pub isolation: Isolation,
    /// The level the session reported after setting it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_isolation: Option<String>,
    /// The scenario's name.
    pub scenario: String,
    /// The anomaly it looks for (`G1a`).
    pub anomaly: String,
    /// Anomaly, prevented, or error.
    pub verdict: Verdict,
    /// How it was prevented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how: Option<How>,
    /// Why the cell failed, for errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Hermitage's MySQL 5.6 outcome for this test and level.
    pub mysql56: Expected,
    /// The checker's verdict on the history, for scenarios of item reads and writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checker: Option<CheckerView>,
    /// Each step: SQL, whether it blocked, when it returned, and how.
    pub steps: Vec<StepRecord>,
    /// How each session's transaction ended.
    pub sessions: Vec<(String, SessionEnd)>,
    /// The table after every session ended.
    #[serde(rename = "final")]
    pub final_rows: Vec<Row>,
}

impl Cell {
    /// Whether this cell's verdict differs from Hermitage's MySQL 5.6 result.
    pub fn differs_from_mysql56(&self) -> bool {
        matches!(
            (self.verdict, self.mysql56),
            (Verdict::Anomaly, Expected::Prevented) | (Verdict::Prevented, Expected::Anomaly)
        )
    }
}

/// A server the scenarios ran on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The target, or the URL without its password.
    pub target: String,
    /// Its flavor.
    pub flavor: Flavor,
    /// Its name and version.
    pub server: String,
    /// Whether isoscope started it.
    pub managed: bool,
}

/// Everything a scenarios run found: what `scenarios.json` holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// The servers, in the order asked.
    pub servers: Vec<ServerInfo>,
    /// The scenarios' names and anomalies, in order.
    pub scenarios: Vec<(String, String)>,
    /// The levels, in order.
    pub levels: Vec<Isolation>,
    /// Every cell: by server, then scenario, then level.
    pub cells: Vec<Cell>,
}

impl ServerInfo {
    /// The server as the scenarios name it, from what starting it said
    /// ([`crate::server::Server::start`]): the target, or the URL without its password.
    pub fn of(t: &TargetInfo) -> ServerInfo {
        ServerInfo {
            target: match &t.target {
                Some(target) => target.to_string(),
                None => t.endpoint.clone(),
            },
            flavor: t.flavor,
            server: t.flavor.spec().server_name(&t.version),
            managed: t.managed,
        }
    }

    /// What follows the target in a heading: nothing for a server isoscope started,
    /// ` (external)` for one given by URL.
    pub fn external_mark(&self) -> &'static str {
        if self.managed {
            ""
        } else {
            " (external)"
        }
    }
}

impl Results {
    /// The cells run on `info`'s server, in the order they were run.
    pub fn cells_of(&self, info: &ServerInfo) -> Vec<&Cell> {
        self.cells
            .iter()
            .filter(|c| c.target == info.target)
            .collect()
    }

    /// Reads a `scenarios.json` ([`super::results_file::load`]).
    pub fn load(path: &Path) -> Result<Results, SuiteError> {
        super::results_file::load(path)
    }
}

/// What to run and how.
#[derive(Clone, Debug)]
pub struct SuiteConfig {
    /// Where: each server in turn, a managed one started fresh for its cells.
    pub servers: Vec<Server>,
    /// Which scenarios.
    pub scenarios: Vec<Scenario>,
    /// At which levels.
    pub levels: Vec<Isolation>,
    /// Cells run at once on one server.
    pub parallel: usize,
    /// The runner's waits.
    pub timing: Timing,
    /// Where managed servers' logs go (`<dir>/<target>.log`); a temporary folder if `None`.
    pub log_dir: Option<PathBuf>,
}

/// Why the suite could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A server could not be started or reached.
    #[error("{target}: {problem}")]
    Server {
        /// Which.
        target: String,
        /// What went wrong.
        problem: ServerError,
    },
    /// The log folder could not be made.
    #[error("{0}")]
    Io(String),
}

/// Runs every cell. Cells that fail are recorded as errors; only a server that cannot be had
/// stops the suite. `progress` hears each cell as it ends.
pub async fn run(
    cfg: &SuiteConfig,
    progress: &(dyn Fn(&Cell) + Sync),
) -> Result<Results, SuiteError> {
    let mut results = Results {
        servers: Vec::new(),
        scenarios: cfg
            .scenarios
            .iter()
            .map(|s| (s.name.clone(), s.anomaly.clone()))
            .collect(),
        levels: cfg.levels.clone(),
        cells: Vec::new(),
    };
    let tmp = tempfile::Builder::new()
        .prefix("isoscope-scenarios-")
        .tempdir()
        .map_err(|e| SuiteError::Io(format!("creating a temporary folder: {e}")))?;
    let log_dir = cfg
        .log_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    for server in &cfg.servers {
        let log = log_dir.join(format!(
            "{}.log",
            server.label().replace(['[', ']', ',', '=', '/'], "_")
        ));
        let up = server
            .start(&log, Disk::Plain)
            .await
            .map_err(|problem| SuiteError::Server {
                target: server.label(),
                problem,
            })?;
        let info = ServerInfo::of(&up.info);
        let timing = match server {
            Server::Managed(t, _) => timing_for(cfg.timing, t),
            Server::External(..) => cfg.timing,
        };
        results
            .cells
            .extend(run_on(cfg, timing, &up.endpoint, &info, progress).await);
        // Torn down here, before the next server starts.
        drop(up);
        results.servers.push(info);
    }
    Ok(results)
}

/// The runner's waits for a target: a lock-wait timeout the target sets is left alone.
fn timing_for(timing: Timing, t: &Target) -> Timing {
    let set = t
        .flavor
        .spec()
        .lock_wait_variable()
        .is_some_and(|var| t.settings.iter().any(|s| s.key.replace('-', "_") == var));
    Timing {
        lock_wait_timeout: if set { None } else { timing.lock_wait_timeout },
        ..timing
    }
}

/// Runs every cell on one server, `cfg.parallel` at a time; cells come back in order.
async fn run_on(
    cfg: &SuiteConfig,
    timing: Timing,
    ep: &Endpoint,
    info: &ServerInfo,
    progress: &(dyn Fn(&Cell) + Sync),
) -> Vec<Cell> {
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.parallel.max(1)));
    let locks = LockWatch::start(ep, info.flavor).await;
    let mut set = tokio::task::JoinSet::new();
    let mut n = 0;
    for sc in &cfg.scenarios {
        for &level in &cfg.levels {
            let (sc, ep, info, sem, timing, locks) = (
                sc.clone(),
                ep.clone(),
                info.clone(),
                sem.clone(),
                timing,
                locks.clone(),
            );
            let i = n;
            n += 1;
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (
                    i,
                    run_one(&ep, &info, &sc, level, timing, locks.as_ref()).await,
                )
            });
        }
    }
    let mut cells: Vec<Option<Cell>> = vec![None; n];
    while let Some(joined) = set.join_next().await {
        if let Ok((i, cell)) = joined {
            progress(&cell);
            cells[i] = Some(cell);
        }
    }
    cells.into_iter().flatten().collect()
}

/// One cell: run, judge, check.
pub async fn run_one(
    ep: &Endpoint,
    info: &ServerInfo,
    sc: &Scenario,
    level: Isolation,
    timing: Timing,
    locks: Option<&LockWatch>,
) -> Cell {
    let db = format!(
        "isoscope_{}_{}",
        sc.name.replace('-', "_"),
        level.name().replace('-', "_")
    );
    let mut cell = Cell {
        server: info.server.clone(),
        target: info.target.clone(),
        isolation: level,
        reported_isolation: None,
        scenario: sc.name.clone(),
        anomaly: sc.anomaly.clone(),
        verdict: Verdict::Error,
        how: None,
        note: None,
        mysql56: sc.mysql56_at(level),
        checker: None,
        steps: Vec::new(),
        sessions: Vec::new(),
        final_rows: Vec::new(),
    };
    let plan = CellPlan {
        ep,
        flavor: info.flavor,
        scenario: sc,
        level,
        db: &db,
        timing,
        locks,
    };
    match runner::run_cell(&plan).await {
        Ok(trace) => {
            let (v, how) = verdict::judge(sc, &trace);
            cell.verdict = v;
            cell.how = how;
            cell.checker = history::check(sc, &trace, v == Verdict::Anomaly);
            cell.reported_isolation = trace.reported_isolation;
            cell.steps = trace.steps;
            cell.sessions = trace.sessions;
            cell.final_rows = trace.final_rows;
        }
        Err(e) => cell.note = Some(e.to_string()),
    }
    cell
}
