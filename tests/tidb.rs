//! TiDB against what it documents, on a real `tidb-server` (unistore) that isoscope starts.
//!
//! TiDB's repeatable read is snapshot isolation in its optimistic mode: no G-single and no lost
//! update, while write skew (G2-item) is allowed. Its pessimistic mode (the default) is MySQL's
//! repeatable read instead: writes read the latest committed row, so updates are lost and reads
//! skew, as Jepsen found in MySQL. It refuses
//! read uncommitted and serializable (8048) unless a check is skipped. Jepsen's 2019 analysis of
//! TiDB 2.1 found lost updates from the optimistic mode's automatic retry of a transaction's
//! statements on a conflict; the switch that turned it on (`tidb_disable_txn_auto_retry = OFF`)
//! is still accepted by this version, with a deprecation warning, and stays ON: the positive
//! control shows the refusal, and that read-modify-write increments lose nothing.
//!
//! A missing server fails these tests: run scripts/install-servers.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;

fn isoscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(args)
        .output()
        .expect("isoscope runs")
}

fn run(target: &str, workload: &str, out: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec![
        "run",
        "--db",
        target,
        "--workload",
        workload,
        "--isolation",
        "repeatable-read",
        "--time",
        "10s",
        "--seed",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = isoscope(&args);
    let run = common::run_json(out, &o);
    (o, run)
}

/// The anomaly types the checker found, by name.
fn found(run: &Value) -> Vec<String> {
    run["check"]["anomaly_types"]
        .as_array()
        .expect("anomaly_types")
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Asserts what snapshot isolation forbids was searched for in full and not found.
fn assert_snapshot_isolation(mode: &str, run: &Value) {
    let anomalies = found(run);
    for forbidden in [
        "G0",
        "G1a",
        "G1b",
        "G1c",
        "G-single-item",
        "G-nonadjacent-item",
        "lost-update",
        "internal",
    ] {
        assert_eq!(
            run["check"]["decided"][forbidden], "absent",
            "{mode}: {forbidden} at repeatable read: {:#}",
            run["check"]["anomalies"]
        );
    }
    // Whatever was found, snapshot isolation allows it: write skew at most.
    for a in &anomalies {
        assert_eq!(
            a, "G2-item",
            "{mode}: {a} is more than snapshot isolation allows"
        );
    }
    assert_eq!(
        run["check"]["model_status"]["snapshot-isolation"], "consistent",
        "{mode}"
    );
    assert_eq!(run["status"], "done", "{run:#}");
    assert_eq!(run["server"]["flavor"], "tidb");
    assert_eq!(run["isolation_reported"], "REPEATABLE-READ");
    assert!(run["ok"].as_u64().unwrap() > 100, "{mode}: {}", run["ok"]);
    eprintln!(
        "{mode}: ok {} fail {} info {}, errors {}, found {anomalies:?}, counts {}",
        run["ok"],
        run["fail"],
        run["info"],
        run["errors"],
        counts(run)
    );
}

fn counts(run: &Value) -> String {
    run["check"]["anomalies"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v["count"]))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

#[test]
fn list_append_at_repeatable_read_is_snapshot_isolation_when_optimistic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (_o, run) = run(
        "tidb[tidb_txn_mode=optimistic]",
        "list-append",
        &out,
        &["--clients", "8"],
    );
    assert_snapshot_isolation("optimistic", &run);
    // Optimistic transactions meet at COMMIT: the later writer of a key gets 9007, classified
    // as a rollback (fail), never as an unknown outcome.
    let errors = run["errors"].as_object().expect("errors");
    assert!(
        errors.keys().any(|k| k.starts_with("9007")),
        "no write conflict in optimistic mode: {errors:?}"
    );
    assert_eq!(run["server"]["target"], "tidb[tidb_txn_mode=optimistic]");
}

#[test]
fn list_append_at_repeatable_read_reads_current_rows_when_pessimistic() {
    // Pessimistic mode is MySQL's repeatable read, not snapshot isolation: plain SELECTs read
    // the transaction's snapshot, but a write locks the row and works on its latest committed
    // version (a "current read"), as InnoDB does. So an append goes onto a list the
    // transaction's own snapshot never showed: lost updates, read skew (G-single) and reads of
    // its own writes on top of others' (internal), the anomalies Jepsen found in MySQL's
    // repeatable read. Nothing uncommitted or aborted is ever seen.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (_o, run) = run(
        "tidb[tidb_txn_mode=pessimistic]",
        "list-append",
        &out,
        &["--clients", "8"],
    );
    let anomalies = found(&run);
    eprintln!(
        "pessimistic: ok {} fail {} info {}, errors {}, found {anomalies:?}, counts {}",
        run["ok"],
        run["fail"],
        run["info"],
        run["errors"],
        counts(&run)
    );
    assert_eq!(run["status"], "done", "{run:#}");
    assert_eq!(run["isolation_reported"], "REPEATABLE-READ");
    for forbidden in ["G0", "G1a", "G1b", "G1c"] {
        assert!(
            !anomalies.iter().any(|a| a == forbidden),
            "pessimistic: {forbidden}: {:#}",
            run["check"]["anomalies"]
        );
        assert_eq!(run["check"]["decided"][forbidden], "absent", "{forbidden}");
    }
    let allowed = [
        "G-single-item",
        "G-nonadjacent-item",
        "G2-item",
        "lost-update",
        "internal",
    ];
    for a in &anomalies {
        assert!(allowed.contains(&a.as_str()), "pessimistic: {a} found");
    }
    assert!(
        anomalies.iter().any(|a| a == "G-single-item"),
        "pessimistic repeatable read showed no read skew: {anomalies:?}"
    );
    // Pessimistic transactions lock as they write: no write conflict reaches COMMIT.
    let errors = run["errors"].as_object().expect("errors");
    assert!(
        !errors.keys().any(|k| k.starts_with("9007")),
        "a write conflict in pessimistic mode: {errors:?}"
    );
}

#[test]
fn optimistic_auto_retry_cannot_be_turned_back_on_and_increments_are_not_lost() {
    // The switch Jepsen's lost updates came from: accepted with a warning, coerced to ON.
    let dir = tempfile::tempdir().unwrap();
    let target =
        "tidb[tidb_txn_mode=optimistic,tidb_disable_txn_auto_retry=OFF,tidb_retry_limit=10]";
    let t: isoscope::server::target::Target = target.parse().unwrap();
    let s = t
        .start(
            &isoscope::server::Binaries::default(),
            &dir.path().join("tidb.log"),
            "isoscope",
            std::time::Duration::from_secs(120),
        )
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (value, warning, retry_limit): (String, String, String) = rt.block_on(async {
        use mysql_async::prelude::*;
        let mut c = mysql_async::Conn::new(s.endpoint().opts(None))
            .await
            .unwrap();
        let v: String = c
            .query_first("SELECT @@global.tidb_disable_txn_auto_retry")
            .await
            .unwrap()
            .unwrap();
        let l: String = c
            .query_first("SELECT @@global.tidb_retry_limit")
            .await
            .unwrap()
            .unwrap();
        c.query_drop("SET SESSION tidb_disable_txn_auto_retry = OFF")
            .await
            .unwrap();
        let w: Vec<(String, u32, String)> = c.query("SHOW WARNINGS").await.unwrap();
        let _ = c.disconnect().await;
        let w = w
            .into_iter()
            .map(|(level, code, msg)| format!("{level} {code}: {msg}"))
            .collect::<Vec<_>>()
            .join("; ");
        (v, w, l)
    });
    drop(s);
    eprintln!("tidb_disable_txn_auto_retry = OFF gives: {warning}; it reads back {value}");
    assert_eq!(value, "1", "auto retry was turned on again");
    assert_eq!(retry_limit, "10", "tidb_retry_limit was not set");
    assert!(warning.contains("1287"), "{warning}");

    // With the settings given anyway, read-modify-write increments lose nothing: the second
    // writer of a counter gets 9007 at COMMIT instead of a silent retry.
    let out = dir.path().join("run");
    let (o, run) = run(target, "counter-rmw", &out, &["--clients", "8"]);
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!(
        "counter-rmw: ok {} fail {} errors {} found {:?}",
        run["ok"],
        run["fail"],
        run["errors"],
        found(&run)
    );
    assert_eq!(run["verdict"], "valid", "{err} {:#}", run["check"]);
    assert!(
        run["errors"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("9007")),
        "{}",
        run["errors"]
    );
}

/// What TiDB documents ("TiDB Transaction Isolation Levels", "TiDB Optimistic/Pessimistic
/// Transaction Mode"): repeatable read is snapshot isolation; in pessimistic mode DML reads the
/// latest committed data; read committed takes effect only in pessimistic mode; read
/// uncommitted and serializable are refused unless `tidb_skip_isolation_level_check` is on.
#[test]
fn scenarios_on_tidb_match_what_tidb_documents() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sc");
    let o = isoscope(&[
        "scenarios",
        "--dbs",
        "tidb[tidb_txn_mode=optimistic],tidb[tidb_txn_mode=pessimistic]",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    let text = std::fs::read_to_string(out.join("scenarios.json"))
        .unwrap_or_else(|e| panic!("no scenarios.json ({e}): {err}"));
    let r: Value = serde_json::from_str(&text).unwrap();
    let table = std::fs::read_to_string(out.join("scenarios.txt")).unwrap();
    eprintln!("{table}");
    let cells = r["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2 * 15 * 4, "{err}");
    let cell = |target: &str, scenario: &str, level: &str| -> &Value {
        cells
            .iter()
            .find(|c| c["target"] == target && c["scenario"] == scenario && c["isolation"] == level)
            .unwrap_or_else(|| panic!("no cell {target} {scenario} {level}"))
    };
    for mode in ["optimistic", "pessimistic"] {
        let target = format!("tidb[tidb_txn_mode={mode}]");
        let of_target: Vec<&Value> = cells.iter().filter(|c| c["target"] == *target).collect();
        // Read uncommitted and serializable are refused, with TiDB's 8048, in every scenario.
        for level in ["read-uncommitted", "serializable"] {
            for c in of_target.iter().filter(|c| c["isolation"] == level) {
                assert_eq!(c["verdict"], "refused", "{target} {level}: {c:#}");
                assert!(
                    c["note"].as_str().unwrap().contains("8048"),
                    "{}",
                    c["note"]
                );
            }
        }
        // Every cell at an accepted level ran.
        for c in of_target
            .iter()
            .filter(|c| c["isolation"] == "repeatable-read" || c["isolation"] == "read-committed")
        {
            assert_ne!(c["verdict"], "error", "{target}: {c:#}");
            assert_ne!(c["verdict"], "refused", "{target}: {c:#}");
        }
        // Repeatable read is snapshot isolation: no dirty or fuzzy reads, no read skew, no
        // phantom in a snapshot read; write skew goes through.
        for sc in ["g0", "g1a", "g1b", "g1c", "otv", "pmp", "g-single"] {
            let c = cell(&target, sc, "repeatable-read");
            assert_eq!(c["verdict"], "prevented", "{target} {sc}: {c:#}");
        }
        for sc in ["g2-item", "g2"] {
            let c = cell(&target, sc, "repeatable-read");
            assert_eq!(c["verdict"], "anomaly", "{target} {sc}: {c:#}");
        }
        assert_eq!(
            cell(&target, "g1a", "repeatable-read")["reported_isolation"],
            "REPEATABLE-READ"
        );
        // Read committed never shows uncommitted or aborted data.
        for sc in ["g1a", "g1b", "g1c"] {
            let c = cell(&target, sc, "read-committed");
            assert_eq!(c["verdict"], "prevented", "{target} {sc}: {c:#}");
        }
    }
    // Lost update (P4): the optimistic mode refuses the second COMMIT (first committer wins);
    // the pessimistic mode's UPDATE waits for the first writer's lock and then writes over its
    // row (a current read), as MySQL does.
    let opt = "tidb[tidb_txn_mode=optimistic]";
    let pes = "tidb[tidb_txn_mode=pessimistic]";
    for sc in ["p4", "pmp-write", "g-single-write-1"] {
        let c = cell(opt, sc, "repeatable-read");
        assert_eq!(c["verdict"], "prevented", "{c:#}");
        assert_eq!(c["how"], "commit-refused", "{c:#}");
        let c = cell(pes, sc, "repeatable-read");
        assert_eq!(c["verdict"], "anomaly", "{c:#}");
    }
    // Read committed takes effect only in pessimistic mode: there, a read sees what committed
    // since the last one (read skew, predicate many preceders); in optimistic mode the session
    // reports READ-COMMITTED but every scenario ends as at repeatable read.
    for sc in ["g-single", "pmp"] {
        assert_eq!(
            cell(pes, sc, "read-committed")["verdict"],
            "anomaly",
            "{sc}"
        );
    }
    for c in cells
        .iter()
        .filter(|c| c["target"] == opt && c["isolation"] == "read-committed")
    {
        let sc = c["scenario"].as_str().unwrap();
        assert_eq!(c["reported_isolation"], "READ-COMMITTED");
        assert_eq!(
            (&c["verdict"], &c["how"]),
            (
                &cell(opt, sc, "repeatable-read")["verdict"],
                &cell(opt, sc, "repeatable-read")["how"]
            ),
            "{sc}"
        );
    }
}

#[test]
fn tidb_rides_through_kills_pauses_and_restarts_and_keeps_every_acknowledged_append() {
    // SIGKILL loses no acknowledged commit: unistore has written it to the OS before the
    // client hears ok (it never syncs, so a power loss is another matter: see the README).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (o, run) = run(
        "tidb[tidb_txn_mode=optimistic]",
        "list-append",
        &out,
        &[
            "--clients",
            "8",
            "--nemesis",
            "kill,pause,restart",
            "--nemesis-interval",
            "2s",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let faults = run["faults"].as_array().expect("faults");
    eprintln!(
        "faults: {}; ok {} fail {} info {}; durability {}",
        faults.len(),
        run["ok"],
        run["fail"],
        run["info"],
        run["check"]["durability"]
    );
    assert!(faults.len() >= 3, "{:#}", run["faults"]);
    assert_eq!(run["status"], "done", "{err}");
    // A clean SIGTERM ("got signal to exit") is not a crash.
    assert_eq!(run["health"], Value::Array(vec![]), "{:#}", run["health"]);
    let d = &run["check"]["durability"];
    assert_eq!(d["valid"], Value::Bool(true), "{d:#}");
    assert_eq!(d["lost"], 0);
    assert!(d["acknowledged"].as_u64().unwrap() > 100, "{d:#}");
    // Across restarts the optimistic mode stays set (TiDB keeps global variables in its store)
    // and repeatable read stays snapshot isolation.
    assert!(
        run["errors"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("9007")),
        "{}",
        run["errors"]
    );
    assert_snapshot_isolation("optimistic with faults", &run);
    // The report says what this durability result does not mean.
    let rep = dir.path().join("report");
    let o = isoscope(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        rep.to_str().unwrap(),
    ]);
    assert!(o.status.code().is_some_and(|c| c != 3), "{o:?}");
    let md = std::fs::read_to_string(rep.join("report.md")).unwrap();
    assert!(
        md.contains("embedded unistore store") && md.contains("not for a production TiDB"),
        "{md}"
    );
}

#[test]
fn a_refused_level_and_an_unknown_variable_are_one_line_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    for (target, isolation, says) in [
        (
            "tidb",
            "serializable",
            "the server refused serializable: 8048: The isolation level 'SERIALIZABLE' is not supported",
        ),
        (
            "tidb[no_such_var=1]",
            "repeatable-read",
            "SET GLOBAL no_such_var = 1: Server error: `ERROR 1193 (HY000): Unknown system variable 'no_such_var'",
        ),
    ] {
        let out = dir.path().join(isolation);
        let o = isoscope(&[
            "run",
            "--db",
            target,
            "--workload",
            "counter",
            "--isolation",
            isolation,
            "--time",
            "2s",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{target}: {err}");
        assert!(err.contains(says), "{target}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{target}: {err}");
    }
}
