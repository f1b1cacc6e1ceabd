//! Faults against real servers: the nemesis kills, pauses, restarts and rewinds a managed server
//! while the clients run, the durability checks hold acknowledged writes to the final reads, and
//! the health watch notices a server that exits on its own or does not come back.
//!
//! A missing server fails these tests: run scripts/install-servers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

fn isoscope() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isoscope"));
    c.arg("run").arg("--quiet");
    c
}

fn nemesis_ops(out: &Path) -> Vec<Value> {
    common::history_text(out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("every line is JSON"))
        .filter(|op| op["process"] == "nemesis")
        .collect()
}

/// Runs with faults and checks what every fault run must show: each step recorded as an invoke
/// and an info in the history, the server healthy, every acknowledged write durable.
fn faulty_run(db: &str, faults: &str, isolation: &str) -> (Output, Value, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = isoscope()
        .args([
            "--db",
            db,
            "--workload",
            "list-append",
            "--isolation",
            isolation,
        ])
        .args(["--nemesis", faults, "--nemesis-interval", "2s"])
        .args(["--time", "9s", "--clients", "8", "--seed", "3"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("isoscope runs");
    let run = common::run_json(&out, &o);
    let ops = nemesis_ops(&out);
    let steps = run["faults"].as_array().expect("faults").len();
    assert!(
        steps >= 3,
        "{db}: only {steps} fault steps: {:#}",
        run["faults"]
    );
    assert_eq!(ops.len(), 2 * steps, "an invoke and an info per step");
    for pair in ops.chunks(2) {
        assert_eq!(
            (&pair[0]["type"], &pair[1]["type"]),
            (&"invoke".into(), &"info".into())
        );
        assert_eq!(pair[0]["f"], pair[1]["f"]);
    }
    assert_eq!(run["status"], "done", "{run:#}");
    assert_eq!(
        run["health"],
        Value::Array(vec![]),
        "{db}: {:#}",
        run["health"]
    );
    let d = &run["check"]["durability"];
    assert_eq!(d["valid"], Value::Bool(true), "{db}: {d:#}");
    assert_eq!(d["lost"], 0);
    assert!(d["acknowledged"].as_u64().unwrap() > 100, "{d:#}");
    assert!(
        run["info"].as_u64().unwrap() > 0,
        "faults leave ops of unknown outcome"
    );
    (o, run, ops)
}

#[test]
fn mariadb_rides_through_kills_pauses_and_restarts_and_keeps_every_acknowledged_append() {
    let (o, run, ops) = faulty_run("mariadb", "all", "serializable");
    // Serializable InnoDB stays serializable across crash recovery.
    assert_eq!(
        run["check"]["valid"],
        Value::Bool(true),
        "{:#}",
        run["check"]
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(
        ops.iter().any(|op| op["f"] == "kill"),
        "seed 3 kills at least once"
    );
}

#[test]
fn dolt_rides_through_kills_and_keeps_every_acknowledged_append() {
    let (o, run, ops) = faulty_run("dolt", "kill", "repeatable-read");
    assert!(ops.iter().all(|op| op["f"] == "kill"));
    // Dolt's repeatable read shows write skew (G2-item) with or without faults: exit 1 for
    // isolation, while durability holds.
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(run["verdict"], "invalid");
}

#[test]
fn a_rewind_loses_acknowledged_appends_and_the_durability_check_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = isoscope()
        .args(["--db", "mariadb", "--workload", "list-append"])
        .args(["--isolation", "serializable"])
        .args(["--nemesis", "rewind", "--nemesis-interval", "4s"])
        .args(["--time", "6s", "--clients", "8", "--seed", "5"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("isoscope runs");
    let run = common::run_json(&out, &o);
    assert_eq!(o.status.code(), Some(1), "{run:#}");
    let steps: Vec<&str> = run["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["step"].as_str().unwrap())
        .collect();
    assert!(steps.starts_with(&["snapshot", "rewind"]), "{steps:?}");
    let d = &run["check"]["durability"];
    assert_eq!(d["valid"], Value::Bool(false), "{d:#}");
    assert!(d["lost"].as_u64().unwrap() > 0, "{d:#}");
    // Each lost append is named with its op, which was acknowledged between the copy and the
    // rewind, and the explanation says so.
    let (snap_end, rewind_start) = (
        run["faults"][0]["end_s"].as_f64().unwrap(),
        run["faults"][1]["start_s"].as_f64().unwrap(),
    );
    let history: Vec<Value> = common::history_text(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let examples = d["examples"].as_array().unwrap();
    assert!(!examples.is_empty());
    for e in examples.iter().filter(|e| e["kind"] == "lost") {
        let op = &history[e["ops"][0].as_u64().unwrap() as usize];
        assert_eq!(op["type"], "ok", "{e:#} names {op}");
        let t = op["time"].as_f64().unwrap() / 1e9;
        assert!(
            t > snap_end - 0.5 && t < rewind_start + 0.5,
            "lost append acknowledged at {t:.2} s, outside the rewound window {snap_end:.2}-{rewind_start:.2}: {e:#}"
        );
        assert!(
            e["explanation"].as_str().unwrap().contains("final read"),
            "{e:#}"
        );
    }
}

/// A server binary `name` in `dir` that runs `before` (shell), writes its pid next to itself,
/// and then becomes the real binary.
fn wrapper(dir: &Path, name: &str, real: &Path, before: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n{before}\necho $$ > '{d}/pid'\nexec '{real}' \"$@\"\n",
            d = dir.display(),
            real = real.display()
        ),
    )
    .unwrap();
    let mut p = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o755);
    std::fs::set_permissions(&path, p).unwrap();
    path
}

/// A mariadbd that refuses to start once a `broken` file appears next to it.
fn wrapped_mariadbd(dir: &Path) -> PathBuf {
    let real = ["/usr/sbin/mariadbd", "/usr/local/sbin/mariadbd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("mariadbd is installed (scripts/install-servers)");
    let before = format!(
        "if [ -e '{d}/broken' ]; then echo 'fatal: the test made this server unable to start' >&2; exit 1; fi",
        d = dir.display()
    );
    wrapper(dir, "mariadbd", &real, &before)
}

/// A dolt that, once a `corrupt` file appears next to it, overwrites 400 bytes early in the
/// isoscope database's chunk journal before it starts (it runs in the data directory), as a
/// disk that lost part of a file would.
fn wrapped_dolt(dir: &Path) -> PathBuf {
    let cache = std::env::var_os("ISOSCOPE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/isoscope")
        });
    let real = cache.join("bin/dolt");
    assert!(real.exists(), "dolt is installed (scripts/install-servers)");
    let before = format!(
        "if [ -e '{d}/corrupt' ]; then rm '{d}/corrupt'; \
         dd if=/dev/urandom of=isoscope/.dolt/noms/vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv bs=1 seek=2000 count=400 conv=notrunc 2>/dev/null; fi",
        d = dir.display()
    );
    wrapper(dir, "dolt", &real, &before)
}

/// Runs `isoscope run` (list-append, 4 clients, `extra`) on the wrapped server binary in
/// `dir`; once the server has started and the clients have recorded some ops, does `act`, then
/// waits for the run to end and returns it with its `run.json`.
fn run_and_meddle(
    db: &str,
    wrapper: &Path,
    dir: &Path,
    extra: &[&str],
    act: impl FnOnce(),
) -> (Output, Value) {
    let out = dir.join("run");
    let mut child = isoscope()
        .args(["--db", db, "--workload", "list-append"])
        .args(["--clients", "4"])
        .args(extra)
        .arg(format!(
            "--{}",
            if db == "dolt" { "dolt" } else { "mariadbd" }
        ))
        .arg(wrapper)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("isoscope starts");
    let t = Instant::now();
    loop {
        let lines = std::fs::read_to_string(out.join("history.jsonl"))
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if dir.join("pid").exists() && lines > 200 {
            break;
        }
        if let Ok(Some(s)) = child.try_wait() {
            panic!("isoscope ended early: {s}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    act();
    let o = child.wait_with_output().unwrap();
    let run = common::run_json(&out, &o);
    (o, run)
}

fn finding<'a>(run: &'a Value, kind: &str) -> &'a Value {
    run["health"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} finding: {:#}", run["health"]))
}

#[test]
fn the_health_watch_catches_a_server_that_will_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = wrapped_mariadbd(dir.path());
    let faults = [
        "--nemesis",
        "kill",
        "--nemesis-interval",
        "2s",
        "--time",
        "40s",
    ];
    let (o, run) = run_and_meddle("mariadb", &wrapper, dir.path(), &faults, || {
        std::fs::write(dir.path().join("broken"), "").unwrap()
    });
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert_eq!(run["status"], "server-gone");
    assert!(stdout.contains("THE SERVER IS GONE"), "{stdout}");
    let f = finding(&run, "did-not-come-back");
    assert!(
        f["excerpt"].as_str().unwrap().contains("unable to start"),
        "the finding quotes the log: {f:#}"
    );
    assert!(f["at_s"].as_f64().unwrap() < 35.0);
    // The run ended at once, not at its 40 s limit, and what it recorded still checks.
    assert!(run["elapsed_s"].as_f64().unwrap() < 35.0, "{run:#}");
    let last = run["faults"].as_array().unwrap().last().unwrap().clone();
    assert!(last["error"].as_str().is_some(), "{last:#}");
    assert!(run["check"]["valid"].is_boolean() || run["check"]["valid"] == "unknown");
}

#[test]
fn the_health_watch_notices_a_server_that_exits_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = wrapped_mariadbd(dir.path());
    let args = ["--isolation", "serializable", "--time", "40s"];
    let (o, run) = run_and_meddle("mariadb", &wrapper, dir.path(), &args, || {
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        let _ = std::fs::remove_file(dir.path().join("pid"));
        Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
    });
    assert_eq!(o.status.code(), Some(1), "a crash fails the run: {run:#}");
    assert_eq!(run["status"], "done");
    let f = finding(&run, "exited-on-its-own");
    assert!(f["message"].as_str().unwrap().contains("signal"), "{f:#}");
    assert!(run["elapsed_s"].as_f64().unwrap() < 35.0, "{run:#}");
    // Started again for the final reads: nothing acknowledged was lost to the crash.
    assert!(
        dir.path().join("pid").exists(),
        "the server was started again"
    );
    assert_eq!(
        run["check"]["durability"]["valid"],
        Value::Bool(true),
        "{:#}",
        run["check"]["durability"]
    );
}

/// Depending on which records the overwrite hits, Dolt either refuses to load the database
/// ("possible data loss detected in journal file") and so does not come back, or comes back and
/// fails queries with "checksum error". The health watch must quote Dolt either way.
#[test]
fn the_health_watch_quotes_dolt_reading_a_corrupt_journal() {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = wrapped_dolt(dir.path());
    let faults = [
        "--nemesis",
        "kill",
        "--nemesis-interval",
        "2s",
        "--time",
        "12s",
    ];
    let (o, run) = run_and_meddle("dolt", &wrapper, dir.path(), &faults, || {
        std::fs::write(dir.path().join("corrupt"), "").unwrap()
    });
    assert_eq!(o.status.code(), Some(1), "{run:#}");
    assert_eq!(run["verdict"], "invalid");
    // Dolt's own words, read from its log as it wrote them.
    let c = finding(&run, "corruption");
    let excerpt = c["excerpt"].as_str().unwrap();
    assert!(
        excerpt.contains("possible data loss") || excerpt.contains("checksum"),
        "{c:#}"
    );
    if run["status"] == "server-gone" {
        finding(&run, "did-not-come-back");
    }
}
