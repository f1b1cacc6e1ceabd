//! `scenarios.json`, what a scenarios run leaves (as `run.json` is a run's, in
//! [`crate::run_folder`]): the one place that names, writes, reads and finds it, beside the
//! plain-text table `scenarios.txt`.
//!
//! Invariant: `write` then `load` gives back equal [`Results`]; `find` merges the files of
//! several folders in the order given, each scenario and level once.

use std::path::{Path, PathBuf};

use super::suite::{Results, SuiteError};
use super::table;

/// The file with every cell and its steps.
pub const JSON: &str = "scenarios.json";
/// The file with the plain-text table.
pub const TEXT: &str = "scenarios.txt";

/// Writes `scenarios.json` (every cell with its steps) and `scenarios.txt` (the table) into
/// `dir`.
pub fn write(dir: &Path, results: &Results) -> Result<(), SuiteError> {
    let put = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| SuiteError::Io(format!("writing {}: {e}", path.display())))
    };
    let json = serde_json::to_string_pretty(results)
        .map_err(|e| SuiteError::Io(format!("writing {JSON}: {e}")))?;
    put(JSON, json)?;
    put(TEXT, table::render(results))
}

/// Reads a `scenarios.json`; an error names the file and the problem.
pub fn load(path: &Path) -> Result<Results, SuiteError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SuiteError::Io(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| SuiteError::Io(format!("{}: {e}", path.display())))
}

/// The results in `dirs` (each folder's `scenarios.json`, where it has one), merged in the
/// order given; `None` if none has one. An error gives the file that cannot be read and why.
pub fn find(dirs: &[PathBuf]) -> Result<Option<Results>, (PathBuf, String)> {
    let mut merged: Option<Results> = None;
    for d in dirs {
        let file = d.join(JSON);
        if !file.is_file() {
            continue;
        }
        let r = load(&file).map_err(|e| (file.clone(), e.to_string()))?;
        let Some(m) = merged.as_mut() else {
            merged = Some(r);
            continue;
        };
        m.servers.extend(r.servers);
        m.cells.extend(r.cells);
        for s in r.scenarios {
            if !m.scenarios.contains(&s) {
                m.scenarios.push(s);
            }
        }
        for l in r.levels {
            if !m.levels.contains(&l) {
                m.levels.push(l);
            }
        }
    }
    Ok(merged)
}
