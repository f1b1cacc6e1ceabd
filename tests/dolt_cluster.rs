//! `dolt-cluster`: a real three-node Dolt cluster (one primary, two standbys, Dolt's cluster
//! replication on loopback remotesapi ports), from the install cache's Dolt. A missing Dolt
//! fails these tests: run scripts/install-servers.
//!
//! The positive control: with `--reads-on any` read-only transactions go to the standbys,
//! which apply the primary's commits tens of milliseconds late, so the history holds stale
//! reads, which strict serializability forbids (realtime anomalies that snapshot isolation, all
//! one Dolt server can show, does not explain); with `--reads-on primary` none of those.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use isoscope::server::target::Target;
use isoscope::server::{Binaries, Disk, Role};
use mysql_async::prelude::*;
use serde_json::Value;

mod common;

#[test]
fn the_cluster_comes_up_replicates_and_its_standbys_refuse_writes() {
    let dir = tempfile::tempdir().unwrap();
    let target: Target = "dolt-cluster[dolt_cluster_ack_writes_timeout_secs=5]"
        .parse()
        .unwrap();
    let t0 = Instant::now();
    let cluster = target
        .start_cluster(
            &Binaries::default(),
            &dir.path().join("server.log"),
            "iso",
            Duration::from_secs(60),
            Disk::Plain,
        )
        .expect("the cluster starts");
    eprintln!("3-node dolt-cluster ready in {:.2?}", t0.elapsed());
    let roles: Vec<Role> = cluster.nodes().iter().map(|n| n.role).collect();
    assert_eq!(roles, [Role::Primary, Role::Replica, Role::Replica]);
    for n in cluster.nodes() {
        assert!(n.log.exists(), "{} logs at {}", n.name, n.log.display());
    }
    let endpoints: Vec<_> = cluster.nodes().iter().map(|n| n.endpoint.clone()).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conns = Vec::new();
        for ep in &endpoints {
            let mut c = mysql_async::Conn::new(ep.opts(Some("iso"))).await.unwrap();
            // The setting reached every node, as a global system variable.
            let ack: Option<i64> = c
                .query_first("SELECT @@GLOBAL.dolt_cluster_ack_writes_timeout_secs")
                .await
                .unwrap();
            assert_eq!(ack, Some(5), "{ep}");
            conns.push(c);
        }
        conns[0]
            .query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
            .await
            .unwrap();
        conns[0]
            .query_drop("INSERT INTO t VALUES (1, 42)")
            .await
            .unwrap();
        // Acknowledged writes wait for the standbys: the row is there at the first read.
        for (i, c) in conns.iter_mut().enumerate().skip(1) {
            let v: Option<i64> = c.query_first("SELECT v FROM t WHERE id = 1").await.unwrap();
            assert_eq!(v, Some(42), "node{} lacks the acknowledged row", i + 1);
            let err = c
                .query_drop("INSERT INTO t VALUES (2, 1)")
                .await
                .expect_err("a standby takes no writes");
            match err {
                mysql_async::Error::Server(e) => {
                    assert_eq!(e.code, 1105, "{e:?}");
                    assert!(e.message.contains("read-only"), "{e:?}");
                }
                other => panic!("not a server error: {other}"),
            }
        }
        for c in conns {
            let _ = c.disconnect().await;
        }
    });
    // Refused before any node starts.
    let bad: Target = "dolt-cluster[nodes=1]".parse().unwrap();
    let err = bad
        .start_cluster(
            &Binaries::default(),
            &dir.path().join("bad.log"),
            "iso",
            Duration::from_secs(5),
            Disk::Plain,
        )
        .err()
        .expect("one node is no cluster");
    assert!(err.to_string().contains("nodes must be"), "{err}");
    assert!(!dir.path().join("bad-node1.log").exists());
}

fn run(reads_on: &str, time: &str, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "run",
            "--db",
            "dolt-cluster",
            "--workload",
            "list-append",
            "--read-fraction",
            "0.75",
            "--clients",
            "9",
            "--time",
            time,
            "--seed",
            "3",
            "--reads-on",
            reads_on,
            "--quiet",
            "--out",
        ])
        .arg(out)
        .output()
        .expect("isoscope runs")
}

/// The anomaly types of the run's history held to strict-serializable (`isoscope check`'s
/// default), and the nodes its ops ran on.
fn strict(out: &Path) -> (Vec<String>, Vec<String>) {
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["check", "--format", "json"])
        .arg(isoscope::run_folder::history_path(out))
        .output()
        .expect("isoscope check runs");
    let check: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("check's JSON: {e}\n{}", String::from_utf8_lossy(&o.stderr)));
    let types = check["anomaly_types"]
        .as_array()
        .expect("anomaly_types")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let mut nodes: Vec<String> = common::history_text(out)
        .lines()
        .filter_map(|l| {
            let op: Value = serde_json::from_str(l).ok()?;
            Some(op["node"].as_str()?.to_string())
        })
        .collect();
    nodes.sort();
    nodes.dedup();
    (types, nodes)
}

/// Anomalies a single snapshot-isolated server cannot show, as stale reads make them: a read
/// that misses a write acknowledged before it began.
fn stale(types: &[String]) -> Vec<&String> {
    types
        .iter()
        .filter(|t| t.starts_with("G-single") || t.starts_with("G-nonadjacent"))
        .collect()
}

#[test]
fn reads_on_standbys_are_stale_under_strict_serializability_and_reads_on_the_primary_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let any = dir.path().join("any");
    // Stale reads that make a cycle are few (1 to 3 in 8 s here): 15 s for a margin.
    let o = run("any", "15s", &any);
    let summary = common::run_json(&any, &o);
    assert!(summary["ok"].as_u64().unwrap() > 100, "{summary:#}");
    let listed: Vec<(&str, &str)> = summary["server"]["nodes"]
        .as_array()
        .expect("run.json lists the nodes")
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            ("node1", "primary"),
            ("node2", "replica"),
            ("node3", "replica")
        ]
    );
    let (types, nodes) = strict(&any);
    assert_eq!(
        nodes,
        ["node1", "node2", "node3"],
        "ops spread over the nodes"
    );
    let found = stale(&types);
    eprintln!("--reads-on any: {types:?}");
    assert!(
        found.iter().any(|t| t.ends_with("-realtime")),
        "no stale read found: {types:?}"
    );

    let primary = dir.path().join("primary");
    let o = run("primary", "8s", &primary);
    let summary = common::run_json(&primary, &o);
    assert!(summary["ok"].as_u64().unwrap() > 100, "{summary:#}");
    assert!(
        summary["command"]
            .as_str()
            .unwrap()
            .contains("--reads-on primary"),
        "{summary:#}"
    );
    let (types, nodes) = strict(&primary);
    eprintln!("--reads-on primary: {types:?}");
    assert_eq!(nodes, ["node1"], "every op on the primary");
    assert!(stale(&types).is_empty(), "{types:?}");
}

#[test]
fn a_planned_failover_with_acknowledged_replication_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("failover");
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "run",
            "--db",
            "dolt-cluster[dolt_cluster_ack_writes_timeout_secs=5]",
            "--workload",
            "list-append",
            "--time",
            "12s",
            "--seed",
            "5",
            "--nemesis",
            "failover",
            "--nemesis-interval",
            "3s",
            "--reads-on",
            "primary",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("isoscope runs");
    let run = common::run_json(&out, &o);
    let faults = run["faults"].as_array().expect("faults");
    let handed: Vec<&str> = faults
        .iter()
        .filter(|f| f["step"] == "failover")
        .map(|f| f["detail"].as_str().unwrap())
        .collect();
    eprintln!("failovers: {handed:?}; errors: {}", run["errors"]);
    assert!(handed.iter().any(|d| d.contains("took over")), "{handed:?}");
    // Writes followed the new primary.
    let (_, nodes) = strict(&out);
    assert!(nodes.len() > 1, "{nodes:?}");
    let d = &run["check"]["durability"];
    eprintln!("durability: {d}");
    assert!(d["acknowledged"].as_u64().unwrap() > 10, "{d}");
    assert_eq!(d["lost"], 0, "{d}");
    assert_eq!(d["valid"], true, "{d}");
}
