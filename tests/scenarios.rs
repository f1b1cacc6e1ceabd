//! Hermitage's scenarios on real servers that isoscope starts itself (MariaDB from Debian, Dolt
//! from the install cache). A missing server fails these tests: run scripts/install-servers.

use std::path::Path;
use std::process::Command;

use isoscope::scenario::runner::Timing;
use isoscope::scenario::suite::{self, Cell, Results, SuiteConfig};
use isoscope::scenario::{self, How, Verdict};
use isoscope::server::target::Target;
use isoscope::server::{Binaries, Flavor, Server};
use isoscope::Isolation;

fn suite(targets: &[&str], scenarios: Vec<scenario::Scenario>, levels: &[Isolation]) -> Results {
    let cfg = SuiteConfig {
        servers: targets
            .iter()
            .map(|t| Server::Managed(t.parse().unwrap(), Binaries::default()))
            .collect(),
        scenarios,
        levels: levels.to_vec(),
        parallel: 4,
        timing: Timing::default(),
        log_dir: None,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(suite::run(&cfg, &|_| {}))
        .expect("the suite runs")
}

fn cell<'a>(r: &'a Results, scenario: &str, level: Isolation) -> &'a Cell {
    r.cells
        .iter()
        .find(|c| c.scenario == scenario && c.isolation == level)
        .unwrap_or_else(|| panic!("no cell {scenario} at {}", level.name()))
}

fn verdict(r: &Results, scenario: &str, level: Isolation) -> (Verdict, Option<How>) {
    let c = cell(r, scenario, level);
    (c.verdict, c.how)
}

const RR: Isolation = Isolation::RepeatableRead;
const SER: Isolation = Isolation::Serializable;

#[test]
fn every_scenario_runs_on_mariadb_and_the_sure_cells_come_out_as_they_must() {
    let r = suite(&["mariadb"], scenario::builtin().unwrap(), &[RR, SER]);
    assert_eq!(r.cells.len(), 30);
    for c in &r.cells {
        assert_ne!(
            c.verdict,
            Verdict::Error,
            "{} at {}: {:?}",
            c.scenario,
            c.isolation.name(),
            c.note
        );
        assert_eq!(
            c.reported_isolation.as_deref(),
            Some(match c.isolation {
                RR => "REPEATABLE-READ",
                _ => "SERIALIZABLE",
            })
        );
    }
    // Neither level lets a committed reader see an aborted write or a cycle of dirty reads.
    for level in [RR, SER] {
        assert_eq!(verdict(&r, "g1a", level).0, Verdict::Prevented);
        assert_eq!(verdict(&r, "g1c", level).0, Verdict::Prevented);
    }
    // InnoDB's repeatable read loses updates and allows write skew (Jepsen, Hermitage); its
    // serializable takes shared locks on reads, so both turn into deadlocks.
    assert_eq!(verdict(&r, "p4", RR), (Verdict::Anomaly, None));
    assert_eq!(verdict(&r, "g2-item", RR), (Verdict::Anomaly, None));
    assert_eq!(
        verdict(&r, "p4", SER),
        (Verdict::Prevented, Some(How::Deadlock))
    );
    assert_eq!(
        verdict(&r, "g2-item", SER),
        (Verdict::Prevented, Some(How::Deadlock))
    );
    // The deadlock is recorded where it struck, and the victim's later steps are skipped.
    let p4 = cell(&r, "p4", SER);
    assert!(p4.steps.iter().any(|s| matches!(
        s.outcome,
        scenario::runner::Outcome::Error { code: 1213, .. }
    )));
    assert!(p4.steps.iter().any(|s| s.blocked), "{:?}", p4.steps);
    // Where the checker can judge (item reads and writes only), it agrees at these levels.
    for c in &r.cells {
        if let Some(k) = &c.checker {
            assert!(
                k.agrees,
                "{} at {}: scenario {:?}, checker {:?}",
                c.scenario,
                c.isolation.name(),
                c.verdict,
                k
            );
        }
    }
    // And it found the anomalies itself: lost update and write skew at repeatable read.
    let found = |s: &str| cell(&r, s, RR).checker.clone().unwrap().anomalies;
    assert!(
        found("p4").contains(&"lost-update".to_string()),
        "{:?}",
        found("p4")
    );
    assert!(
        found("g2-item").contains(&"G2-item".to_string()),
        "{:?}",
        found("g2-item")
    );
}

/// What a table shows of a cell, and what each step did (rows, errors, blocked).
fn fingerprint(r: &Results) -> Vec<String> {
    r.cells
        .iter()
        .map(|c| {
            let steps: Vec<String> = c
                .steps
                .iter()
                .map(|s| format!("{}:{}:{:?}", s.step, s.blocked, s.outcome))
                .collect();
            format!(
                "{} {} {:?} {:?} {}",
                c.scenario,
                c.isolation.name(),
                c.verdict,
                c.how,
                steps.join(" ")
            )
        })
        .collect()
}

#[test]
fn two_runs_give_the_same_table_and_the_same_steps() {
    let levels = Isolation::ALL;
    let a = suite(&["mariadb"], scenario::builtin().unwrap(), &levels);
    let b = suite(&["mariadb"], scenario::builtin().unwrap(), &levels);
    assert_eq!(a.cells.len(), 60);
    assert_eq!(scenario::table::render(&a), scenario::table::render(&b));
    let (fa, fb) = (fingerprint(&a), fingerprint(&b));
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x, y);
    }
}

#[test]
fn a_setting_changes_the_table_snapshot_isolation_stops_lost_updates() {
    let chosen = scenario::spec::select(
        &scenario::builtin().unwrap(),
        &["p4".into(), "g2-item".into()],
    )
    .unwrap();
    let r = suite(&["mariadb[innodb_snapshot_isolation=ON]"], chosen, &[RR]);
    assert_eq!(r.servers[0].target, "mariadb[innodb_snapshot_isolation=ON]");
    // Error 1020 rolls back the second writer of row 1; write skew touches no row twice.
    assert_eq!(
        verdict(&r, "p4", RR),
        (Verdict::Prevented, Some(How::RecordChanged))
    );
    assert_eq!(verdict(&r, "g2-item", RR), (Verdict::Anomaly, None));
}

#[test]
fn dolt_reports_each_level_and_behaves_the_same_at_all_of_them() {
    let chosen = scenario::spec::select(
        &scenario::builtin().unwrap(),
        &["g1a".into(), "p4".into(), "g2-item".into()],
    )
    .unwrap();
    let r = suite(&["dolt"], chosen, &Isolation::ALL);
    assert_eq!(r.servers[0].flavor, Flavor::Dolt);
    for level in Isolation::ALL {
        let c = cell(&r, "g1a", level);
        let want = level.name().to_ascii_uppercase();
        assert_eq!(c.reported_isolation.as_deref(), Some(want.as_str()));
        // Snapshot at BEGIN, merge at COMMIT, whatever the level: no dirty read even at read
        // uncommitted, and two identical writes of row 1 both commit.
        assert_eq!(verdict(&r, "g1a", level).0, Verdict::Prevented);
        assert_eq!(verdict(&r, "p4", level), (Verdict::Anomaly, None));
        assert_eq!(verdict(&r, "g2-item", level), (Verdict::Anomaly, None));
    }
    assert!(scenario::table::render(&r).contains("its engine does not use it"));
}

const MINE: &str = include_str!("fixtures/scenarios/mine.toml");

#[test]
fn a_users_own_scenario_file_runs_through_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, MINE).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "scenarios",
            "--dbs",
            "mariadb",
            "--isolation",
            "repeatable-read,serializable",
        ])
        .arg("--scenarios")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("scenarios.json")).unwrap())
            .unwrap();
    assert_eq!(json, on_disk);
    // A report renderer reads it back whole.
    let back = Results::load(&out.join("scenarios.json")).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), on_disk);
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    let by_level = |l: &str| cells.iter().find(|c| c["isolation"] == l).unwrap();
    let rr = by_level("repeatable-read");
    assert_eq!(rr["scenario"], "mine");
    assert_eq!(rr["target"], "mariadb");
    assert_eq!(rr["verdict"], "anomaly");
    assert_eq!(rr["checker"]["agrees"], true);
    assert_eq!(rr["steps"].as_array().unwrap().len(), 6);
    let ser = by_level("serializable");
    assert_eq!(ser["verdict"], "prevented");
    assert_eq!(ser["how"], "deadlock");
    assert!(std::fs::read_to_string(out.join("scenarios.txt"))
        .unwrap()
        .contains("mine (P4)"));
    assert!(Path::new(&out).join("mariadb.log").is_file());

    // A broken file is refused in one line naming it, with exit 3.
    std::fs::write(&file, MINE.replace("\"B:1\"", "\"B:7\"")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["scenarios", "--dbs", "mariadb", "--scenarios"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("mine.toml: anomaly_if 1:") && stderr.contains("B:7"),
        "{stderr}"
    );
}

#[test]
fn settings_reach_the_servers() {
    use mysql_async::prelude::*;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (target, query, want) in [
        (
            "mariadb[max_connections=123]",
            "SELECT @@max_connections",
            "123",
        ),
        (
            "dolt[max_connections=123]",
            "SELECT @@max_connections",
            "123",
        ),
    ] {
        let t: Target = target.parse().unwrap();
        let s = t
            .start(
                None,
                None,
                &dir.path().join(format!("{}.log", t.flavor)),
                "isoscope",
                std::time::Duration::from_secs(60),
            )
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let ep = s.endpoint();
        let got: Option<String> = rt.block_on(async {
            let mut c = mysql_async::Conn::new(ep.opts(None)).await.unwrap();
            c.query_first(query).await.unwrap()
        });
        assert_eq!(got.as_deref(), Some(want), "{target}");
    }
}
