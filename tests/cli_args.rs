//! Arguments a run cannot honour are refused with exit 3 and one line naming the flag, before
//! any server starts: never a hang, a panic, or a quietly different run.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

/// Runs isoscope with `args`; fails the test if it has not ended within 20 s.
fn isoscope(args: &[&str]) -> (Option<i32>, String) {
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(args)
        .arg("--out")
        .arg(out.path())
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_bounded(&mut child, Duration::from_secs(20))
}

fn refused(extra: &[&str], flag: &str) {
    let mut args = vec!["run", "--db", "mariadb"];
    args.extend_from_slice(extra);
    if !extra.contains(&"--time") {
        args.extend(["--time", "2s"]);
    }
    let (code, err) = isoscope(&args);
    assert_eq!(code, Some(3), "{extra:?}: {err}");
    assert!(err.contains(flag), "{extra:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn a_rate_that_is_not_positive_is_refused() {
    refused(&["--rate", "0"], "--rate");
    refused(&["--rate=-3"], "--rate");
}

#[test]
fn a_time_past_any_clock_is_refused_not_a_panic() {
    refused(&["--time", "18446744073709551615s"], "--time");
}

#[test]
fn no_clients_is_refused_not_one() {
    refused(&["--clients", "0"], "--clients");
}

#[test]
fn a_shortest_transaction_longer_than_the_longest_is_refused() {
    refused(
        &["--min-txn-len", "5", "--max-txn-len", "2"],
        "min (5) <= max (2)",
    );
}

#[test]
fn every_error_is_said_once() {
    let (code, err) = isoscope(&["run", "--url", "mysql://root@127.0.0.1:1/x", "--time", "1s"]);
    assert_eq!(code, Some(3), "{err}");
    let line = err.trim();
    assert_eq!(line.lines().count(), 1, "{err}");
    // "connecting to ...: Input/output error: Input/output error: ..." said the cause twice.
    let parts: Vec<&str> = line.split(": ").collect();
    assert!(parts.windows(2).all(|w| w[0] != w[1]), "{line}");
}

#[test]
fn register_and_rw_register_are_one_workload_everywhere() {
    for name in ["register", "rw-register"] {
        let (code, err) = isoscope(&["run", "--db", "mariadb", "--clients", "0", "-w", name]);
        assert_eq!(code, Some(3), "{err}");
        assert!(err.contains("--clients"), "{name} was not accepted: {err}");
    }
}
