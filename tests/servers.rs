//! Runs against real servers that isoscope starts itself (MariaDB from Debian's packages, Dolt
//! from the install cache). A missing server fails these tests: run scripts/install-servers.
//!
//! Each test drives `isoscope run` as a user would and reads the `run.json` it leaves.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

fn isoscope(args: &[&str], out: &Path) -> (Output, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .output()
        .expect("isoscope runs");
    let run = std::fs::read_to_string(out.join("run.json")).unwrap_or_else(|e| {
        panic!(
            "no run.json ({e}); exit {:?}\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o, serde_json::from_str(&run).expect("run.json is JSON"))
}

fn types(run: &Value) -> Vec<String> {
    run["check"]["anomaly_types"]
        .as_array()
        .expect("anomaly_types")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

fn counter_run(db: &str, style: &str, out: &Path) -> (Output, Value) {
    isoscope(
        &[
            "run",
            "--db",
            db,
            "--workload",
            "counter",
            "--counter-style",
            style,
            "--isolation",
            "repeatable-read",
            "--clients",
            "10",
            "--time",
            "4s",
            "--seed",
            "1",
        ],
        out,
    )
}

#[test]
fn mariadb_repeatable_read_loses_read_modify_write_increments_but_not_atomic_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (o, run) = counter_run("mariadb", "read-modify-write", &dir.path().join("rmw"));
    assert_eq!(o.status.code(), Some(1), "{run:#}");
    assert!(
        types(&run).contains(&"lost-update".to_string()),
        "{:?}",
        types(&run)
    );
    assert!(run["ok"].as_u64().unwrap() > 100);

    let (o, run) = counter_run("mariadb", "atomic", &dir.path().join("atomic"));
    assert_eq!(o.status.code(), Some(0), "{:?} {run:#}", types(&run));
    assert_eq!(run["check"]["valid"], Value::Bool(true));
    assert_eq!(run["server"]["flavor"], "mariadb");
    assert_eq!(run["isolation_reported"], "REPEATABLE-READ");
}

#[test]
fn dolt_loses_atomic_increments() {
    let dir = tempfile::tempdir().unwrap();
    let (o, run) = counter_run("dolt", "atomic", dir.path());
    assert_eq!(o.status.code(), Some(1), "{run:#}");
    assert!(
        types(&run).contains(&"lost-update".to_string()),
        "{:?}",
        types(&run)
    );
    assert_eq!(run["server"]["flavor"], "dolt");
}

#[test]
fn mariadb_serializable_list_append_shows_nothing_serializable_forbids() {
    let dir = tempfile::tempdir().unwrap();
    let (o, run) = isoscope(
        &[
            "run",
            "--db",
            "mariadb",
            "--workload",
            "list-append",
            "--isolation",
            "serializable",
            "--clients",
            "10",
            "--time",
            "5s",
            "--seed",
            "2",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", types(&run));
    assert_eq!(run["check"]["valid"], Value::Bool(true));
    assert_eq!(run["isolation_reported"], "SERIALIZABLE");
    assert!(run["ok"].as_u64().unwrap() > 500, "{}", run["ok"]);
    // The history on disk says the same as the run did.
    let c = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["check", "-m", "serializable"])
        .arg(isoscope::run_folder::history_path(dir.path()))
        .output()
        .unwrap();
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&c.stdout)
    );
}

#[test]
fn a_run_killed_midway_leaves_a_history_that_checks() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "run",
            "--db",
            "mariadb",
            "--workload",
            "list-append",
            "--clients",
            "8",
            "--time",
            "120s",
            "--quiet",
            "--out",
        ])
        .arg(dir.path())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = std::fs::read_to_string(&history)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines > 2000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run recorded only {lines} ops in 60 s"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let h = isoscope::history::read_history(&history).expect("the history reads");
    assert!(h.ops.len() > 2000);
    let c = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["check", "-m", "repeatable-read"])
        .arg(&history)
        .output()
        .unwrap();
    assert!(
        matches!(c.status.code(), Some(0..=2)),
        "check failed: {}",
        String::from_utf8_lossy(&c.stderr)
    );
    // The run.json written at the start says the run never finished.
    let run: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap())
            .unwrap();
    assert_eq!(run["status"], "running");
}

#[test]
fn a_missing_server_binary_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "run",
            "--db",
            "dolt",
            "--dolt",
            "/nonexistent/dolt",
            "--quiet",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("dolt not found") && err.contains("install-servers"),
        "{err}"
    );
}

#[test]
fn compare_exits_1_when_a_cell_is_invalid() {
    // MariaDB's repeatable read loses read-modify-write increments (see above).
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "compare",
            "--dbs",
            "mariadb",
            "--isolation",
            "repeatable-read",
        ])
        .args(["--workloads", "counter-rmw", "--time", "4s", "--seed", "1"])
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("invalid"), "{err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(dir.path().join("index.html").is_file());
    // The command each cell records reproduces it: run, not compare, with the seed.
    let run: Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir.path()
                .join("runs/mariadb-counter-read-modify-write-repeatable-read/run.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let cmd = run["command"].as_str().unwrap();
    assert!(
        cmd.starts_with(
            "isoscope run --db mariadb --workload counter-rmw --isolation repeatable-read"
        ) && cmd.contains("--seed 1"),
        "{cmd}"
    );
}
