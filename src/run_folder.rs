//! The run folder: what one run leaves on disk, and the one place that reads and writes its
//! `run.json`.
//!
//! A run folder holds `history.jsonl` (every op, written as it happens), `run.json` (this
//! module's [`RunSummary`]) and, for a managed server, `server.log`. `run.json` is written when
//! the clients start (status [`RunStatus::Running`], with the pid of the isoscope that runs it)
//! and replaced when the run ends, each time whole (written aside, then renamed). So a reader
//! never sees half a file, and [`load`] can tell a run whose isoscope died (status running, that
//! process gone) from one still going.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checker::{self, Validity};
use crate::faults::health::HealthFinding;
use crate::faults::NemesisPlan;
use crate::scratch::Proc;
use crate::workload::{Isolation, WorkloadSpec};

/// The run's summary, as `run.json` holds it.
pub const RUN_JSON: &str = "run.json";
/// Every op of the run, one JSON object a line.
pub const HISTORY: &str = "history.jsonl";
/// The managed server's log, while the run goes; gzipped when it ends ([`compress`]).
pub const SERVER_LOG: &str = "server.log";

/// The run's history file: `history.jsonl` while a run writes it, or `history.jsonl.gz` once
/// it was checked and compressed.
pub fn history_path(dir: &Path) -> PathBuf {
    let plain = dir.join(HISTORY);
    let gz = dir.join(format!("{HISTORY}.gz"));
    if !plain.exists() && gz.exists() {
        gz
    } else {
        plain
    }
}

/// How a run stands, or how it ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// The clients are running (or isoscope died while they were: see [`RunStatus::Died`]).
    Running,
    /// The run reached its time or op limit and was checked.
    Done,
    /// A signal (SIGINT, SIGTERM, SIGHUP) stopped the run early; what was recorded was checked.
    Interrupted,
    /// The server did not come back after a fault: no final reads.
    ServerGone,
    /// The history could not be written (a full disk, say): the run stopped at once.
    HistoryUnwritable,
    /// Never written: [`load`] says so of a run whose status is `running` while the isoscope
    /// that ran it is gone (SIGKILLed, say). The history ends where it died.
    Died,
}

impl RunStatus {
    /// The name in `run.json`.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Interrupted => "interrupted",
            RunStatus::ServerGone => "server-gone",
            RunStatus::HistoryUnwritable => "history-unwritable",
            RunStatus::Died => "died",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub use crate::server::TargetInfo;

/// Latency percentiles of one op kind, in milliseconds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// How many `ok` ops.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// One fault step as it happened, as recorded in the history's `nemesis` ops.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultRecord {
    /// The step: kill, pause, restart, snapshot or rewind.
    pub step: String,
    /// When it began, in seconds since the run began.
    pub start_s: f64,
    /// When it ended (the server ready again), in seconds since the run began.
    pub end_s: f64,
    /// What was done, in words.
    pub detail: String,
    /// Why the server did not come back, if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `run.json` holds: enough to understand, compare and reproduce the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// How the run stands, or how it ended.
    pub status: RunStatus,
    /// Why it stopped early, in words (the signal, the write error), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_because: Option<String>,
    /// The isoscope process that runs it (to tell a dead run from a running one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Proc>,
    /// isoscope's version.
    pub isoscope_version: String,
    /// The run's folder name.
    pub run_id: String,
    /// The command that reproduces the run (any password masked).
    pub command: String,
    /// The server.
    pub server: TargetInfo,
    /// The level asked for.
    pub isolation_requested: Isolation,
    /// The level the server reported for a session that asked for it.
    pub isolation_reported: String,
    /// The model the history is held to.
    pub model: checker::Model,
    /// The workload's shape.
    pub spec: WorkloadSpec,
    /// Seed of the op stream.
    pub seed: u64,
    /// Concurrent clients.
    pub clients: u32,
    /// Time limit in seconds, if any.
    pub duration_s: Option<f64>,
    /// Op limit, if any.
    pub max_ops: Option<u64>,
    /// Rate limit, if any.
    pub rate: Option<f64>,
    /// Per-op timeout in seconds.
    pub op_timeout_s: f64,
    /// Wall-clock start, RFC 3339.
    pub started_at: String,
    /// Seconds the clients ran.
    pub elapsed_s: f64,
    /// Ops that completed `ok`.
    pub ok: u64,
    /// Ops that certainly failed.
    pub fail: u64,
    /// Ops whose outcome is unknown.
    pub info: u64,
    /// `ok` ops per second.
    pub throughput: f64,
    /// Failed and indeterminate ops by error.
    pub errors: BTreeMap<String, u64>,
    /// `ok` latency percentiles per op kind (`txn`, `add`, `read`, `transfer`).
    pub latency: BTreeMap<String, Latency>,
    /// The check, in the shape of `isoscope check --format json`.
    pub check: Option<serde_json::Value>,
    /// The faults planned, if any.
    #[serde(default)]
    pub nemesis: Option<NemesisPlan>,
    /// Each fault step as it happened.
    #[serde(default)]
    pub faults: Vec<FaultRecord>,
    /// What the health watch found.
    #[serde(default)]
    pub health: Vec<HealthFinding>,
    /// The run's verdict: the check's, made invalid by any health finding.
    #[serde(default, with = "validity_name")]
    pub verdict: Option<Validity>,
}

/// `run.json`'s verdict as a word: `valid`, `invalid` or `unknown`.
mod validity_name {
    use super::Validity;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Validity>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Validity>, D::Error> {
        let word: Option<String> = Option::deserialize(d)?;
        word.map(|w| match w.as_str() {
            "valid" => Ok(Validity::Valid),
            "invalid" => Ok(Validity::Invalid),
            "unknown" => Ok(Validity::Unknown),
            _ => Err(serde::de::Error::custom(format!(
                "unknown verdict {w:?}; expected valid, invalid or unknown"
            ))),
        })
        .transpose()
    }
}

/// Why a run folder could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `run.json` is not what isoscope writes.
    #[error("{}: {message}", path.display())]
    Bad {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Reads `dir/run.json`. A run whose status is `running` while the isoscope that ran it is gone
/// comes back as [`RunStatus::Died`].
pub fn load(dir: &Path) -> Result<RunSummary, RunFolderError> {
    let path = dir.join(RUN_JSON);
    let text = std::fs::read_to_string(&path).map_err(|source| RunFolderError::Io {
        path: path.clone(),
        source,
    })?;
    let mut s: RunSummary = serde_json::from_str(&text).map_err(|e| RunFolderError::Bad {
        path,
        message: e.to_string(),
    })?;
    if s.status == RunStatus::Running && !s.owner.is_some_and(|p| p.alive()) {
        s.status = RunStatus::Died;
    }
    Ok(s)
}

/// Writes `dir/run.json` whole: aside first, then renamed over the old one. On a full disk,
/// where there is no room for a second copy, the old file is overwritten in place instead (its
/// space is freed first), so that the run's end is still told.
pub fn write(dir: &Path, s: &RunSummary) -> Result<(), RunFolderError> {
    let path = dir.join(RUN_JSON);
    let tmp = dir.join("run.json.tmp");
    let text = serde_json::to_string_pretty(s).expect("summaries serialize") + "\n";
    let aside = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &path));
    match aside {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => {
            let _ = std::fs::remove_file(&tmp);
            std::fs::write(&path, &text).map_err(|source| RunFolderError::Io { path, source })
        }
        Err(source) => Err(RunFolderError::Io { path, source }),
    }
}

/// The run folders under `paths`: each path itself if it holds a `run.json`, else its
/// subfolders (recursively, in name order) that do.
pub fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RunFolderError> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        if p.join(RUN_JSON).is_file() {
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
        walk(p, &mut out).map_err(|source| RunFolderError::Io {
            path: p.clone(),
            source,
        })?;
    }
    Ok(out)
}

/// Compresses `path` into `path.gz` and removes the plain file, once the copy reads back the
/// same. For a history that was checked (never one a run still writes) and a server log.
/// Returns the compressed file.
pub fn compress(path: &Path) -> std::io::Result<PathBuf> {
    use std::io::{Read, Write};
    let mut gz_name = path.as_os_str().to_owned();
    gz_name.push(".gz");
    let gz = PathBuf::from(gz_name);
    let plain = std::fs::read(path)?;
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz)?, flate2::Compression::default());
    enc.write_all(&plain)?;
    enc.finish()?.sync_all()?;
    let mut back = Vec::with_capacity(plain.len());
    flate2::read::GzDecoder::new(std::fs::File::open(&gz)?).read_to_end(&mut back)?;
    if back != plain {
        let _ = std::fs::remove_file(&gz);
        return Err(std::io::Error::other(format!(
            "{} did not read back as written",
            gz.display()
        )));
    }
    std::fs::remove_file(path)?;
    Ok(gz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compressed_file_decompresses_to_the_original_which_is_gone() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HISTORY);
        let text: String = (0..5000)
            .map(|i| format!("{{\"index\":{i},\"type\":\"invoke\",\"f\":\"txn\"}}\n"))
            .collect();
        std::fs::write(&path, &text).unwrap();
        let gz = compress(&path).unwrap();
        assert_eq!(gz, dir.path().join("history.jsonl.gz"));
        assert!(!path.exists());
        let mut back = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        assert!(std::fs::metadata(&gz).unwrap().len() < text.len() as u64 / 5);
    }

    #[test]
    fn the_history_is_found_plain_or_compressed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(history_path(dir.path()), dir.path().join(HISTORY));
        std::fs::write(dir.path().join(HISTORY), "{}\n").unwrap();
        let gz = compress(&dir.path().join(HISTORY)).unwrap();
        assert_eq!(history_path(dir.path()), gz);
    }

    #[test]
    fn the_server_is_named_by_its_target_and_older_run_folders_by_their_flavor() {
        let old: TargetInfo = serde_json::from_str(
            r#"{"flavor":"mariadb","version":"10.11","endpoint":"e","managed":true}"#,
        )
        .unwrap();
        assert_eq!(old.name(), "mariadb");
        let mut new = old.clone();
        new.target = Some("mariadb[innodb_snapshot_isolation=ON]".parse().unwrap());
        let back: TargetInfo = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back.name(), "mariadb[innodb_snapshot_isolation=ON]");
        assert!(!serde_json::to_string(&old).unwrap().contains("target"));
    }

    #[test]
    fn statuses_and_verdicts_keep_their_names_in_run_json() {
        for (st, name) in [
            (RunStatus::Running, "running"),
            (RunStatus::ServerGone, "server-gone"),
            (RunStatus::HistoryUnwritable, "history-unwritable"),
        ] {
            assert_eq!(serde_json::to_value(st).unwrap(), name);
            assert_eq!(st.name(), name);
        }
        #[derive(Serialize, Deserialize)]
        struct V(#[serde(with = "validity_name")] Option<Validity>);
        let v = serde_json::to_string(&V(Some(Validity::Unknown))).unwrap();
        assert_eq!(v, "\"unknown\"");
        assert_eq!(
            serde_json::from_str::<V>("\"invalid\"").unwrap().0,
            Some(Validity::Invalid)
        );
    }
}
