//! Every verdict explains itself and every finding proves itself (issue 18, parts 1 and 2): a
//! health-only invalid cell names and links its reason, a server refusing to go on after a
//! disk error is worded as such (and does not fail the run), "consistent with" is never "none"
//! when nothing was checked, durability is one sentence, a fault card's badge is the verdict of
//! its durability and health, an incompatible order is shown as two reads on a timeline cut
//! around where they part, and `check` shows the same smallest example as the report.
//!
//! The runs are the committed fixtures (tests/fixtures/runs, recorded against real servers); the
//! health findings given to them are lines MariaDB 10.11 and Dolt 1.86 wrote in the power-loss demo.

use std::path::{Path, PathBuf};
use std::process::Command;

use isoscope::checker::durability::Durability;
use isoscope::checker::{self, CheckOptions, Validity};
use isoscope::faults::health::{HealthFinding, HealthKind};
use isoscope::history::read_history;
use isoscope::report::{self, examples, Report};
use scraper::{Html, Selector};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("run.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text(e: scraper::ElementRef) -> String {
    e.text().collect::<String>()
}

fn finding(kind: HealthKind, at_s: f64, message: &str, excerpt: &str) -> HealthFinding {
    HealthFinding {
        kind,
        at_s,
        message: message.into(),
        excerpt: excerpt.into(),
    }
}

/// Dolt's "did not come back" after a power loss that followed its GC: the cause last, after a
/// wall of routine lines.
fn dolt_gone() -> HealthFinding {
    let mut log = String::from(
        "time=\"2026-11-26T02:05:11Z\" level=info msg=\"Server ready. Accepting connections.\"\n",
    );
    for id in 1..=10 {
        log.push_str(&format!("time=\"2026-11-26T02:05:12Z\" level=info msg=NewConnection DisableClientMultiStatements=false connectionID={id}\n"));
    }
    log.push_str("Failed to load database isoscope due to error: Failed to loadFooter: readat /tmp/x/.dolt/noms/oldgen/d7d4.darc: negative offset\n");
    finding(
        HealthKind::DidNotComeBack,
        29.8,
        &format!("the server did not come back after power-loss: dolt exited while starting (exit status: 1); last lines of /tmp/x/server.log:\n{log}"),
        &log,
    )
}

/// InnoDB's abort on EIO: its fatal line, then the SIGABRT it raises.
fn innodb_refusal(at_s: f64) -> [HealthFinding; 2] {
    [
        finding(
            HealthKind::Fatal,
            at_s,
            "the server's log shows a fatal error",
            "2026-11-26  2:04:03 12 [ERROR] [FATAL] InnoDB: fdatasync() returned 5",
        ),
        finding(
            HealthKind::Panic,
            at_s,
            "the server's log shows a crash",
            "261126  2:04:03 [ERROR] /usr/sbin/mariadbd got signal 6 ;\nSorry, we probably made a mistake, and this is a bug.",
        ),
    ]
}

/// The fixture report with cell 0 made to end as `health` and `durability` say, its verdict
/// recomputed as a run's is.
fn report_with(health: Vec<HealthFinding>, durability: Option<Durability>) -> Report {
    let mut r = report::build(&fixtures()).unwrap();
    let c = &mut r.cells[0];
    let h = read_history(&isoscope::run_folder::history_path(Path::new(&c.run_dir))).unwrap();
    let opts = c.summary.spec.check_options(c.summary.model);
    let mut check = checker::check(&h, &opts).unwrap();
    check.durability = durability.clone();
    c.summary.health = health;
    c.durability = durability;
    c.verdict = isoscope::verdict::VerdictSummary::of_run(&check, &c.summary.health);
    r
}

fn durability(lost: u64, read_then_lost: u64, keys: usize, without: usize) -> Durability {
    Durability {
        valid: if lost + read_then_lost > 0 {
            Validity::Invalid
        } else if without > 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        },
        keys,
        keys_without_final_read: without,
        acknowledged: 77960,
        lost,
        recovered: 0,
        unexpected: 0,
        read_then_lost,
        examples: vec![],
        notes: vec![],
    }
}

/// The matrix cell that links to run `n`.
fn cell_of(page: &Html, n: usize) -> scraper::ElementRef<'_> {
    page.select(&sel("table.matrix td.cell"))
        .find(|td| {
            td.select(&sel("a"))
                .any(|a| a.value().attr("href") == Some(&format!("#run-{n}")))
        })
        .unwrap()
}

fn ids(page: &Html) -> std::collections::HashSet<String> {
    page.select(&sel("[id]"))
        .map(|e| e.value().attr("id").unwrap().to_string())
        .collect()
}

#[test]
fn an_invalid_cell_names_and_links_every_reason_and_the_legend_has_it() {
    // A healthy-isolation run made invalid by its server alone.
    let mut r = report_with(vec![dolt_gone()], Some(durability(0, 17, 1, 0)));
    r.cells[0].verdict.found.clear();
    r.cells[0].verdict.isolation = Validity::Valid;
    let page = Html::parse_document(&report::html::render(&r));
    let ids = ids(&page);
    let td = cell_of(&page, 0);
    assert!(td.value().attr("class").unwrap().contains("invalid"));
    let reasons: Vec<_> = td.select(&sel(".reason")).collect();
    let kinds: Vec<&str> = reasons
        .iter()
        .map(|r| r.value().attr("data-reason").unwrap())
        .collect();
    assert_eq!(kinds, ["durability", "health"], "{}", text(td));
    for reason in &reasons {
        let links: Vec<&str> = reason
            .select(&sel("a"))
            .map(|a| a.value().attr("href").unwrap())
            .collect();
        assert!(links.len() >= 2, "legend and evidence: {links:?}");
        for l in links {
            assert!(ids.contains(l.trim_start_matches('#')), "{l} resolves");
        }
    }
    assert!(text(td).contains("did-not-come-back ×1"), "{}", text(td));
    for id in ["legend-durability", "legend-health", "legend-refusal"] {
        assert!(ids.contains(id), "{id} in the legend");
    }
    // The run card says why, too.
    let card = page.select(&sel("div#run-0 p.reasons")).next().map(text);
    assert!(
        card.as_deref().is_some_and(|c| c.contains("server health")),
        "{card:?}"
    );
}

#[test]
fn a_server_that_stops_on_a_disk_error_is_a_refusal_with_its_line_not_a_failure() {
    let health: Vec<HealthFinding> = [innodb_refusal(23.9), innodb_refusal(45.2)]
        .concat()
        .to_vec();
    assert_eq!(
        isoscope::verdict::overall(Validity::Valid, &health),
        Validity::Valid
    );
    let r = report_with(health, Some(durability(0, 0, 1, 0)));
    let c = &r.cells[0];
    assert_eq!(c.verdict.refusals, 4);
    assert_eq!(c.verdict.health_findings, 0);
    let page = Html::parse_document(&report::html::render(&r));
    let td = text(cell_of(&page, 0));
    assert!(
        td.contains("refused to go on after a disk error ×4"),
        "{td}"
    );
    let health = page
        .select(&sel("#faults-0-health"))
        .next()
        .map(text)
        .unwrap();
    assert!(
        health.contains("refused to go on after a disk error"),
        "{health}"
    );
    assert!(
        health.contains("[FATAL] InnoDB: fdatasync() returned 5"),
        "{health}"
    );
    assert!(!health.contains("panic"), "{health}");
    let md = report::markdown::render(&r);
    assert!(md.contains("refused to go on after a disk error ×4"));
}

#[test]
fn nothing_checked_is_unknown_not_consistent_with_none() {
    let mut r = report_with(vec![dolt_gone()], Some(durability(0, 0, 1, 1)));
    r.cells[0].verdict.found.clear();
    r.cells[0].verdict.strongest.clear();
    let v = &r.cells[0].verdict;
    assert!(v
        .consistent_with_text()
        .starts_with("consistent with: unknown"));
    let page = Html::parse_document(&report::html::render(&r));
    let td = text(cell_of(&page, 0));
    assert!(!td.contains("consistent with: none"), "{td}");
    assert!(td.contains("consistent with: unknown (no read"), "{td}");
}

#[test]
fn durability_is_one_clear_sentence() {
    let d = durability(0, 17, 4, 0);
    assert_eq!(
        report::durability_line(&d),
        "no acknowledged write was lost (of 77960), but 17 writes a committed transaction had read were lost later"
    );
    let d = durability(0, 0, 57, 57);
    assert_eq!(
        report::durability_line(&d),
        "not checked: 57 of 57 keys had no final read, so they could not be checked"
    );
    let d = durability(3, 0, 1, 0);
    assert_eq!(
        report::durability_line(&d),
        "3 of 77960 acknowledged writes were lost"
    );
    let r = report_with(vec![dolt_gone()], Some(durability(0, 0, 57, 57)));
    let page = Html::parse_document(&report::html::render(&r));
    let p = page
        .select(&sel("#faults-0-durability"))
        .next()
        .map(text)
        .unwrap();
    assert!(!p.contains("unknown unknown"), "{p}");
    assert_eq!(
        p,
        "Durability: unknown Not checked: 57 of 57 keys had no final read, so they could not be checked."
    );
}

#[test]
fn a_fault_card_shows_the_verdict_of_what_it_is_about() {
    // Cell 0 (bank) is invalid on isolation; its faults card is about durability and health.
    let r = report_with(innodb_refusal(3.0).to_vec(), Some(durability(0, 0, 1, 0)));
    assert_eq!(r.cells[0].verdict.overall, Validity::Invalid);
    let page = Html::parse_document(&report::html::render(&r));
    let badge = page
        .select(&sel("div#faults-0 h3 .verdict"))
        .next()
        .map(text)
        .unwrap();
    assert_eq!(badge, "valid");
    let r = report_with(vec![dolt_gone()], Some(durability(0, 0, 1, 0)));
    let page = Html::parse_document(&report::html::render(&r));
    let badge = page
        .select(&sel("div#faults-0 h3 .verdict"))
        .next()
        .map(text)
        .unwrap();
    assert_eq!(badge, "invalid");
}

#[test]
fn a_server_log_excerpt_leads_with_its_cause_and_says_repeats_once() {
    let r = report_with(vec![dolt_gone()], None);
    let page = Html::parse_document(&report::html::render(&r));
    let pre = page
        .select(&sel("#faults-0-health pre"))
        .next()
        .map(text)
        .unwrap();
    assert!(pre.starts_with("Failed to load database"), "{pre}");
    assert!(pre.contains("(and 9 more like it)"), "{pre}");
    assert!(pre.lines().count() <= 13, "{pre}");
    let para = page
        .select(&sel("#faults-0-health p"))
        .next()
        .map(text)
        .unwrap();
    assert!(
        !para.contains("NewConnection"),
        "the log is not pasted into prose: {para}"
    );
}

/// A list-append history in which a database lost appends (the simulator's lost-update).
fn lossy_history(dir: &Path) -> PathBuf {
    let f = dir.join("lossy.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args([
            "gen",
            "--isolation",
            "lost-update",
            "--txns",
            "2000",
            "--keys",
            "3",
            "-o",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    f
}

#[test]
fn an_incompatible_order_is_two_reads_on_a_timeline_cut_around_where_they_part() {
    let dir = tempfile::tempdir().unwrap();
    let f = lossy_history(dir.path());
    let h = read_history(&f).unwrap();
    let opts = CheckOptions {
        examples: examples::CANDIDATES,
        ..CheckOptions::default()
    };
    let r = checker::check(&h, &opts).unwrap();
    let g = &r.anomalies[&checker::Anomaly::IncompatibleOrder];
    let f0 = examples::smallest(&h, &g.examples).unwrap();
    assert_eq!(f0.ops.len(), 2, "the two reads: {f0:?}");
    let e = examples::worked_example(&h, f0);
    assert_eq!(e.txns.len(), 2);
    let html = report::timeline::html(&e);
    let page = Html::parse_fragment(&html);
    let heads = page.select(&sel(".tl-head")).count();
    assert!(
        heads >= 2,
        "a time column and a session column at least: {html}"
    );
    // Where the reads part is shown in both, never elided across.
    let explanation = &e.explanation;
    assert!(explanation.contains("then one read has"), "{explanation}");
    let returned: Vec<String> = e
        .txns
        .iter()
        .flat_map(|t| t.statements.iter().filter_map(|s| s.returned.clone()))
        .collect();
    // (a simulated history has no SQL; the reads' lists are elided by `elide::around`)
    assert!(returned.is_empty() || returned.iter().all(|r| r.len() < 200));
    // check's text shows the two reads too.
    let out = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .arg("check")
        .arg(dir.path().join("lossy.jsonl"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let section = text.split("incompatible-order:").nth(1).unwrap();
    assert!(section.contains("read by op"), "{section}");
}

#[test]
fn check_shows_the_same_smallest_example_as_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let f = lossy_history(dir.path());
    let h = read_history(&f).unwrap();
    let opts = CheckOptions {
        examples: examples::CANDIDATES,
        ..CheckOptions::default()
    };
    let r = checker::check(&h, &opts).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["check", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut compared = 0;
    for (a, g) in &r.anomalies {
        let smallest = examples::smallest(&h, &g.examples).unwrap();
        let first = &v["anomalies"][a.name()]["examples"][0]["explanation"];
        assert_eq!(first.as_str(), Some(smallest.explanation.as_str()), "{a}");
        compared += 1;
    }
    assert!(compared >= 2, "{compared}");
}

#[test]
fn the_whole_server_log_is_a_link_where_the_report_is_written_beside_the_runs() {
    // A run folder with its gzipped server log, and a report written beside it.
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("runs/dolt-run");
    std::fs::create_dir_all(&run).unwrap();
    let src = &fixtures()[0];
    for f in ["run.json", "history.jsonl"] {
        std::fs::copy(src.join(f), run.join(f)).unwrap();
    }
    std::fs::write(run.join("server.log.gz"), b"not read by the report").unwrap();
    let mut r = report::build(std::slice::from_ref(&run)).unwrap();
    r.cells[0].summary.health = vec![dolt_gone()];
    let out = tmp.path().join("report");
    report::write(&r, &out).unwrap();

    let page = Html::parse_document(&std::fs::read_to_string(out.join("index.html")).unwrap());
    let link = page
        .select(&sel("#faults-0-health a"))
        .find(|a| text(*a).contains("server.log"))
        .expect("the whole log is a link");
    let href = link.value().attr("href").unwrap();
    assert_eq!(href, "../runs/dolt-run/server.log.gz");
    assert!(
        out.join(href).is_file(),
        "the link resolves from the report's folder"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains(
            "The whole log: [../runs/dolt-run/server.log.gz](../runs/dolt-run/server.log.gz)."
        ),
        "{md}"
    );
    // Rendered without a folder to link from, the log's path is named instead.
    let plain = report::html::render(&r);
    assert!(
        plain.contains("/server.log</code>"),
        "no link without a folder"
    );
}
