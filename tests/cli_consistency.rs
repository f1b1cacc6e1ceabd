//! The commands agree with each other: one `--flavor` default, `gen` offers only what it makes
//! and each simulated behaviour shows the anomaly it is named for, one message for any file that
//! is not a history, `check` of many files reports each and says which exit wins, exit codes in
//! every command's help, `-o` wherever there is `--out`, and one error prefix.

use std::path::Path;
use std::process::{Command, Output};

fn isoscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn help(cmd: &str) -> String {
    let out = isoscope(&[cmd, "--help"]);
    assert_eq!(out.status.code(), Some(0), "{cmd} --help");
    text(&out.stdout)
}

/// The lines of `--help` that describe `flag`, up to the next flag.
fn flag_help(help: &str, flag: &str) -> String {
    let mut lines = help.lines().skip_while(|l| !l.contains(flag));
    let first = lines.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = lines
        .take_while(|l| {
            let l = l.trim_start();
            !l.starts_with('-') || l.starts_with("- ")
        })
        .collect();
    format!("{first}\n{}", rest.join("\n"))
}

#[test]
fn run_and_scenarios_default_to_one_flavor() {
    let run = flag_help(&help("run"), "--flavor");
    let scenarios = flag_help(&help("scenarios"), "--flavor");
    assert!(run.contains("[default: mysql]"), "{run}");
    assert!(scenarios.contains("[default: mysql]"), "{scenarios}");
}

#[test]
fn gen_lists_only_the_workloads_it_makes_and_makes_each() {
    let h = flag_help(&help("gen"), "--workload");
    for refused in ["counter", "bank", "set"] {
        assert!(
            !h.contains(&format!("- {refused}")),
            "{refused} listed: {h}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    for w in ["list-append", "rw-register"] {
        assert!(h.contains(&format!("- {w}")), "{w} not listed: {h}");
        let f = dir.path().join(format!("{w}.jsonl"));
        let out = isoscope(&["gen", "-w", w, "--txns", "20", "-o", f.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
}

/// The anomaly types `check --format json` finds in a history `gen` makes with `behaviour`.
fn found(workload: &str, behaviour: &str, dir: &Path) -> (String, Vec<String>) {
    let f = dir.join(format!("{workload}-{behaviour}.jsonl"));
    let f = f.to_str().unwrap();
    let out = isoscope(&[
        "gen",
        "-w",
        workload,
        "--isolation",
        behaviour,
        "--txns",
        "300",
        "-o",
        f,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = isoscope(&["check", "--format", "json", f]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let anomalies = v["anomalies"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    (v["valid"].to_string(), anomalies)
}

#[test]
fn every_simulated_behaviour_shows_the_anomaly_it_is_named_for() {
    let dir = tempfile::tempdir().unwrap();
    for w in ["list-append", "rw-register"] {
        let (valid, _) = found(w, "serializable", dir.path());
        assert_eq!(valid, "true", "{w} serializable");

        let (_, a) = found(w, "snapshot-isolation", dir.path());
        assert!(a.contains(&"G2-item".to_string()), "{w} si: {a:?}");
        for forbidden in ["G-single-item", "lost-update", "G0", "G1c", "internal"] {
            assert!(!a.contains(&forbidden.to_string()), "{w} si: {a:?}");
        }

        let (_, a) = found(w, "read-committed", dir.path());
        for shown in ["lost-update", "internal"] {
            assert!(a.contains(&shown.to_string()), "{w} rc: {a:?}");
        }
        for forbidden in ["G0", "G1a", "G1b", "G1c"] {
            assert!(!a.contains(&forbidden.to_string()), "{w} rc: {a:?}");
        }

        let (_, a) = found(w, "lost-update", dir.path());
        assert!(
            a.contains(&"lost-update".to_string()),
            "{w} lost-update: {a:?}"
        );
    }
}

#[test]
fn any_file_that_is_not_a_history_gets_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let json = dir.path().join("package.json");
    std::fs::write(&json, "{\"name\": \"x\", \"version\": \"1.0\"}\n").unwrap();
    let edn = dir.path().join("config.edn");
    std::fs::write(&edn, "{:name \"x\" :deps {}}\n").unwrap();
    let shell = dir.path().join("setup.sh");
    std::fs::write(&shell, "# set up\necho hi\n").unwrap();
    for f in [
        root.join("README.md"),
        root.join("Cargo.toml"),
        json,
        edn,
        shell,
    ] {
        let out = isoscope(&["check", f.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{}: {err}", f.display());
        assert_eq!(
            err.trim(),
            format!(
                "isoscope: {}:1: not a history: expected EDN or JSON maps such as {{:type :invoke ...}} or {{\"type\":\"invoke\",...}}",
                f.display()
            ),
        );
    }
}

#[test]
fn check_of_many_files_reports_each_and_the_worst_exit_wins() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("a.jsonl");
    let good = dir.path().join("b.jsonl");
    let missing = dir.path().join("missing.jsonl");
    for (f, behaviour) in [(&bad, "lost-update"), (&good, "serializable")] {
        let out = isoscope(&[
            "gen",
            "--isolation",
            behaviour,
            "--txns",
            "300",
            "-o",
            f.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    let args = [
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
        missing.to_str().unwrap(),
    ];
    let out = isoscope(&[&["check"][..], &args].concat());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains(&format!("{}: invalid", args[0])),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{}: valid", args[1])), "{stdout}");
    assert!(
        stdout.contains("3 files: 1 invalid, 1 valid, 1 unreadable; exit 3"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("missing.jsonl"));
    // Without the unreadable file the anomaly wins.
    let out = isoscope(&["check", args[1], args[0]]);
    assert_eq!(out.status.code(), Some(1));
    // JSON names each file, the unreadable one with its error.
    let out = isoscope(&[&["check", "--format", "json"][..], &args].concat());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v.as_array().unwrap();
    assert_eq!(files.len(), 3, "{v}");
    assert_eq!(files[0]["valid"], false);
    assert_eq!(files[1]["valid"], true);
    assert!(files[2]["error"]
        .as_str()
        .unwrap()
        .contains("missing.jsonl"));
    // The precedence is in the help.
    assert!(help("check").contains("3 if any file could not be read"));
}

#[test]
fn every_command_says_its_exit_codes_in_its_help() {
    for cmd in ["run", "compare", "report", "scenarios", "check", "gen"] {
        assert!(help(cmd).contains("Exit codes:"), "{cmd}");
    }
}

#[test]
fn check_writes_its_findings_with_o_as_report_and_gen_do() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.jsonl");
    let out_dir = dir.path().join("out");
    assert!(
        isoscope(&["gen", "--txns", "20", "-o", h.to_str().unwrap()])
            .status
            .success()
    );
    let out = isoscope(&[
        "check",
        h.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out_dir.join("result.json").exists());
    for cmd in ["check", "report", "gen"] {
        assert!(
            help(cmd).contains("-o, --out"),
            "{cmd} has no -o: {}",
            help(cmd)
        );
    }
}

#[test]
fn every_error_starts_with_one_prefix() {
    for args in [
        &["check"][..],
        &["check", "--bogus", "x"],
        &["gen", "-w", "counter", "-o", "/nonexistent/x"],
        &["check", "/nonexistent/history.jsonl"],
        &["run", "--clients", "0", "--db", "mariadb"],
    ] {
        let out = isoscope(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.starts_with("isoscope: "), "{args:?}: {err}");
        assert!(!err.contains("error: "), "{args:?}: {err}");
    }
}

/// `isoscope check --format json h | head -1`: the reader leaves after one line of a half-megabyte
/// answer, and check ends as a filter does (by SIGPIPE), never with a panic on stderr.
#[test]
fn check_ends_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("h.jsonl");
    let g = isoscope(&[
        "gen",
        "--txns",
        "20000",
        "--seed",
        "1",
        "--isolation",
        "read-committed",
        "-o",
        h.to_str().unwrap(),
    ]);
    assert_eq!(g.status.code(), Some(0), "{}", text(&g.stderr));
    let mut child = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["check", "--format", "json", h.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    // The pipe's read end closes here, with far more than a pipe's buffer still unwritten.
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(!first.is_empty(), "check printed nothing");
    assert!(!err.contains("panicked"), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {err}",
        out.status
    );
}
