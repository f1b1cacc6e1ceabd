//! How `isoscope run` ends when it is told to, or killed, against a real managed MariaDB: every
//! wait ends on the deadline or the signal, nothing is left in the temp folder, and run.json
//! says how the run ended. Each test gives isoscope a private TMPDIR, so that what it leaves
//! there is plain to see.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

struct Run {
    child: Child,
    tmp: tempfile::TempDir,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

fn start(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    start_in(args, dir, tmp)
}

fn start_in(args: &[&str], dir: tempfile::TempDir, tmp: tempfile::TempDir) -> Run {
    let out = dir.path().join("run");
    let child = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["run", "--db", "mariadb", "--quiet", "--out"])
        .arg(&out)
        .args(args)
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Run {
        child,
        tmp,
        out,
        _dir: dir,
    }
}

fn signal(r: &Run, sig: i32) {
    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(r.child.id() as i32, sig) }, 0);
}

/// Waits for the run to end (at most `limit`); returns its exit code and stderr.
fn wait(r: &mut Run, limit: Duration) -> (Option<i32>, String) {
    common::wait_bounded(&mut r.child, limit)
}

/// Waits until the clients run (run.json says running and the history has ops).
fn wait_running(r: &Run) {
    let t = Instant::now();
    loop {
        let ops = std::fs::read_to_string(r.out.join("history.jsonl"))
            .map(|h| h.lines().count())
            .unwrap_or(0);
        if ops > 10 {
            return;
        }
        assert!(t.elapsed().as_secs() < 60, "the clients never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_json(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap()
}

fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn sigterm_and_sighup_stop_the_run_like_sigint_and_leave_nothing_behind() {
    for sig in [libc::SIGTERM, libc::SIGHUP] {
        let mut r = start(&["--time", "120s", "--workload", "counter"]);
        wait_running(&r);
        signal(&r, sig);
        let (code, err) = wait(&mut r, Duration::from_secs(60));
        assert!(matches!(code, Some(0..=2)), "exit {code:?}: {err}");
        let run = run_json(&r.out);
        assert_eq!(run["status"], "interrupted", "{err}");
        assert!(run["elapsed_s"].as_f64().unwrap() < 60.0);
        assert!(run["check"].is_object());
        assert_eq!(leftovers(r.tmp.path()), Vec::<String>::new());
        // The server's log is kept, gzipped once the server is down.
        assert!(r.out.join("server.log.gz").is_file() && !r.out.join("server.log").exists());
    }
}

#[test]
fn sigint_while_the_server_starts_stops_there_and_leaves_nothing_behind() {
    let mut r = start(&["--time", "120s"]);
    std::thread::sleep(Duration::from_millis(700));
    signal(&r, libc::SIGINT);
    let (code, err) = wait(&mut r, Duration::from_secs(90));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("SIGINT"), "{err}");
    assert_eq!(leftovers(r.tmp.path()), Vec::<String>::new());
}

#[test]
fn a_slow_rate_still_ends_at_the_time_limit() {
    let mut r = start(&["--time", "2s", "--rate", "0.2", "--workload", "set"]);
    let t = Instant::now();
    let (code, err) = wait(&mut r, Duration::from_secs(90));
    assert!(matches!(code, Some(0..=2)), "exit {code:?}: {err}");
    let run = run_json(&r.out);
    assert_eq!(run["status"], "done");
    assert!(
        run["elapsed_s"].as_f64().unwrap() < 4.0,
        "the clients ran {} s",
        run["elapsed_s"]
    );
    assert!(t.elapsed() < Duration::from_secs(60));
}

#[test]
fn after_a_sigkill_the_report_says_the_run_died_and_the_next_run_cleans_up() {
    let mut r = start(&["--time", "120s"]);
    wait_running(&r);
    signal(&r, libc::SIGKILL);
    let _ = wait(&mut r, Duration::from_secs(10));
    assert_eq!(run_json(&r.out)["status"], "running");
    let left = leftovers(r.tmp.path());
    assert!(
        !left.is_empty(),
        "a SIGKILLed isoscope leaves its data folder"
    );

    // The report reads the run folder as one whose isoscope died.
    let report = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .arg("report")
        .arg(&r.out)
        .arg("--out")
        .arg(report.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(report.path().join("report.md")).unwrap();
    assert!(md.contains("isoscope that ran this is gone"), "{md}");

    // The next run, in the same temp folder, removes what the dead one left.
    let dir = tempfile::tempdir().unwrap();
    let Run { tmp, .. } = r;
    let mut next = start_in(&["--time", "1s", "--workload", "set"], dir, tmp);
    let (code, err) = wait(&mut next, Duration::from_secs(90));
    assert!(matches!(code, Some(0..=2)), "exit {code:?}: {err}");
    for l in &left {
        assert!(err.contains(l.as_str()), "{l} not named: {err}");
    }
    assert_eq!(leftovers(next.tmp.path()), Vec::<String>::new());
}
