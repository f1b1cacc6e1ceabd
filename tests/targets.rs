//! Server targets in `run` and `compare`: a server with settings (`mariadb[k=v]`, or
//! `--server-opt k=v`) reaches the server it starts, is recorded in run.json and its reproduce
//! command, and makes its own column in the report; a target that cannot be read is refused
//! with exit 3 and one line, before any server starts.
//!
//! The positive control is MariaDB's `innodb_snapshot_isolation`: without it, repeatable read
//! loses read-modify-write increments (tests/servers.rs shows the lost updates); with it, the
//! second writer gets error 1020 instead, and nothing is lost.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;

fn isoscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(args)
        .output()
        .expect("isoscope runs")
}

fn run_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("run.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    serde_json::from_str(&text).expect("run.json is JSON")
}

#[test]
fn a_server_opt_reaches_mariadb_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = isoscope(&[
        "run",
        "--db",
        "mariadb",
        "--server-opt",
        "innodb_snapshot_isolation=ON",
        "--server-opt",
        "max_connections=123",
        "--workload",
        "counter-rmw",
        "--isolation",
        "repeatable-read",
        "--time",
        "4s",
        "--seed",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    let run = run_json(&out);
    // The setting changed what the server did: the second writer of a row is refused with
    // 1020 instead of silently overwriting, so no increment is lost.
    let errors = run["errors"].as_object().expect("errors");
    assert!(
        errors.keys().any(|k| k.starts_with("1020")),
        "no 1020 with innodb_snapshot_isolation=ON: {errors:?} {err}"
    );
    assert_eq!(
        run["check"]["anomaly_types"],
        serde_json::json!([]),
        "{run:#}"
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    // run.json names the target with both settings, and the command that reproduces it.
    let target = "mariadb[innodb_snapshot_isolation=ON,max_connections=123]";
    assert_eq!(run["server"]["target"], target);
    assert_eq!(run["server"]["flavor"], "mariadb");
    let cmd = run["command"].as_str().unwrap();
    assert!(
        cmd.starts_with(&format!(
            "isoscope run --db '{target}' --workload counter-rmw"
        )),
        "{cmd}"
    );
}

#[test]
fn compare_takes_bracketed_targets_as_separate_cells() {
    let dir = tempfile::tempdir().unwrap();
    let o = isoscope(&[
        "compare",
        "--dbs",
        "mariadb,mariadb[innodb_snapshot_isolation=ON,innodb_lock_wait_timeout=5]",
        "--isolation",
        "repeatable-read",
        "--workloads",
        "counter-rmw",
        "--time",
        "3s",
        "--seed",
        "1",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    // The plain server loses increments (invalid), the variant does not.
    assert_eq!(o.status.code(), Some(1), "{err}");
    let runs = dir.path().join("runs");
    let plain = run_json(&runs.join("mariadb-counter-read-modify-write-repeatable-read"));
    let variant = run_json(&runs.join(
        "mariadb_innodb_snapshot_isolation_ON_innodb_lock_wait_timeout_5-counter-read-modify-write-repeatable-read",
    ));
    assert_eq!(plain["server"]["target"], "mariadb");
    assert_eq!(
        variant["server"]["target"],
        "mariadb[innodb_snapshot_isolation=ON,innodb_lock_wait_timeout=5]"
    );
    assert_eq!(plain["verdict"], "invalid", "{err}");
    assert_eq!(variant["verdict"], "valid", "{err}");
    // The report gives each target its own column.
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let header = md
        .lines()
        .find(|l| l.starts_with("| workload |"))
        .expect("the verdict table");
    assert!(
        header.contains("| mariadb repeatable-read |")
            && header.contains(
                "| mariadb[innodb_snapshot_isolation=ON,innodb_lock_wait_timeout=5] repeatable-read |"
            ),
        "{header}"
    );
    // The scenarios ran on the same two targets, at all four levels, and went into the report:
    // the setting turns p4's lost update at repeatable read into a 1020.
    let sc: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("scenarios.json")).expect("scenarios.json"),
    )
    .unwrap();
    let targets: Vec<&str> = sc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [
            "mariadb",
            "mariadb[innodb_snapshot_isolation=ON,innodb_lock_wait_timeout=5]"
        ]
    );
    assert_eq!(sc["levels"].as_array().unwrap().len(), 4);
    let p4 = |target: &str| {
        sc["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["target"] == target
                    && c["scenario"] == "p4"
                    && c["isolation"] == "repeatable-read"
            })
            .map(|c| (c["verdict"].clone(), c["how"].clone()))
            .expect("a p4 cell")
    };
    assert_eq!(p4(targets[0]).0, "anomaly");
    assert_eq!(
        p4(targets[1]),
        ("prevented".into(), "record-changed".into())
    );
    assert!(md.contains("## Scenarios: Hermitage's tests, step by step"));
    assert!(
        md.contains("· `mariadb[innodb_snapshot_isolation=ON,innodb_lock_wait_timeout=5]`\n"),
        "a scenarios table for the variant"
    );
}

#[test]
fn compare_without_scenarios_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let o = isoscope(&[
        "compare",
        "--dbs",
        "mariadb",
        "--isolation",
        "serializable",
        "--workloads",
        "register",
        "--time",
        "2s",
        "--no-scenarios",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(dir.path().join("index.html").is_file(), "{err}");
    assert!(!dir.path().join("scenarios.json").exists());
    assert!(!err.contains("scenario"), "{err}");
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(!md.contains("## Scenarios"));
}

/// Runs isoscope with arguments that must be refused before any server starts.
fn refused(args: &[&str], says: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, err) = common::wait_bounded(&mut child, Duration::from_secs(20));
    assert_eq!(code, Some(3), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    assert!(err.contains(says), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_target_that_cannot_be_read_is_refused_in_one_line() {
    refused(&["run", "--db", "mariadb[a=1"], "--db: \"mariadb[a=1\"");
    refused(&["run", "--db", "postgres"], "unknown server \"postgres\"");
    refused(
        &["run", "--db", "mysql"],
        "--db: isoscope does not start MySQL",
    );
    refused(&["run", "--db", "mariadb,dolt"], "one server per run");
    refused(
        &["run", "--db", "mariadb", "--server-opt", "flush"],
        "--server-opt: setting \"flush\" is not key=value",
    );
    refused(
        &[
            "run",
            "--url",
            "mysql://root@127.0.0.1:1/x",
            "--server-opt",
            "a=1",
        ],
        "--server-opt needs a server isoscope starts",
    );
    refused(
        &["compare", "--dbs", "mariadb,mariadb[x=1,x=2]"],
        "--dbs: setting \"x\" is given twice",
    );
    refused(
        &["compare", "--dbs", "mariadb[k=1]", "--server-opt", "k=2"],
        "--server-opt: setting \"k\" is given twice",
    );
    refused(
        &["compare", "--dbs", "dolt,dolt"],
        "--dbs: dolt is given twice",
    );
    refused(&["compare", "--dbs", "mariadb]"], "--dbs: \"mariadb]\"");
    refused(
        &["compare", "--dbs", "dolt@0.0.1"],
        "--dbs: dolt@0.0.1 is not installed",
    );
    refused(
        &["run", "--db", "mariadb@10.11"],
        "only dolt takes a version",
    );
    refused(&["run", "--db", "dolt@"], "version \"\"");
}

/// `dolt@<version>` runs the build of that version from the install cache (install-servers
/// always builds the pinned 1.86.4 there, as `dolt-v1.86.4/dolt`), and the run names it.
#[test]
fn a_dolt_version_runs_its_own_build_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = isoscope(&[
        "run",
        "--db",
        "dolt@1.86.4",
        "--workload",
        "register",
        "--time",
        "2s",
        "--seed",
        "3",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    let run = run_json(&out);
    assert_eq!(run["status"], "done", "{err}");
    assert_eq!(run["server"]["target"], "dolt@1.86.4");
    assert_eq!(run["server"]["flavor"], "dolt");
    assert_eq!(
        run["server"]["version"], "1.86.4",
        "the build asked for answers"
    );
    let cmd = run["command"].as_str().unwrap();
    assert!(cmd.starts_with("isoscope run --db dolt@1.86.4 "), "{cmd}");
}

#[test]
fn a_signal_during_the_scenarios_leaves_the_report_and_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "compare",
            "--dbs",
            "mariadb",
            "--isolation",
            "serializable",
            "--workloads",
            "register",
            "--time",
            "1s",
            "--out",
        ])
        .arg(dir.path().join("report"))
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    // As soon as the scenarios begin (their server is starting, on a blocking thread), SIGINT.
    let t = std::time::Instant::now();
    while !std::fs::read_to_string(&err_path)
        .unwrap_or_default()
        .contains("scenario cells")
    {
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "the scenarios never began"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let (code, _) = common::wait_bounded(&mut child, Duration::from_secs(90));
    let err = std::fs::read_to_string(&err_path).unwrap();
    // The workload's cell is reported; the scenarios are not, and the table counts as
    // incomplete.
    assert_eq!(code, Some(2), "{err}");
    assert!(dir.path().join("report/index.html").is_file(), "{err}");
    assert!(!dir.path().join("report/scenarios.json").exists(), "{err}");
    // The scenarios' server and its folders are gone.
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}\n{err}");
}
