//! The report, built from small recorded runs committed as fixtures (tests/fixtures/runs): the
//! HTML is parsed and checked for the verdict matrix and the worked examples, and the Markdown is
//! snapshot-tested. The fixtures were recorded with `isoscope run` against real servers (see
//! tests/fixtures/runs/README.md).

use std::path::{Path, PathBuf};

use isoscope::report::{self, Machine, Report};
use scraper::{Html, Selector};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixture runs exist")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("run.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The report with what varies from machine to machine pinned down.
fn fixed_report() -> Report {
    let mut r = report::build(&fixtures()).expect("the report builds");
    r.generated_at = "2026-11-21T00:00:00Z".into();
    r.machine = Machine {
        cpus: 2,
        memory_gb: Some(24.0),
        os: "test machine".into(),
    };
    for c in &mut r.cells {
        c.run_dir = Path::new(&c.run_dir)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
    }
    r
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text(e: scraper::ElementRef) -> String {
    e.text().collect::<String>()
}

#[test]
fn the_html_has_the_matrix_and_the_worked_examples() {
    let r = fixed_report();
    let page = Html::parse_document(&report::html::render(&r));
    // The matrix: a header per (server, isolation) column and a row per workload.
    let headers: Vec<String> = page
        .select(&sel("table.matrix thead th"))
        .map(text)
        .collect();
    assert!(
        headers
            .iter()
            .any(|h| h.contains("dolt") && h.contains("repeatable-read")),
        "{headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|h| h.contains("mariadb") && h.contains("repeatable-read")),
        "{headers:?}"
    );
    let rows: Vec<String> = page
        .select(&sel("table.matrix tbody tr"))
        .map(text)
        .collect();
    let counter = rows
        .iter()
        .find(|r| r.starts_with("counter (atomic)"))
        .expect("a counter row");
    assert!(
        counter.contains("invalid") && counter.contains("lost-update"),
        "{counter}"
    );
    assert!(
        counter.contains("valid"),
        "MariaDB's atomic counter is valid: {counter}"
    );
    let rmw = rows
        .iter()
        .find(|r| r.starts_with("counter (read-modify-write)"))
        .expect("a read-modify-write row");
    assert!(rmw.contains("lost-update"), "{rmw}");
    // Every invalid cell has a worked example in SQL for each anomaly type it found.
    let cards: Vec<String> = page.select(&sel("div.card")).map(text).collect();
    let dolt = cards
        .iter()
        .find(|c| c.contains("dolt") && c.contains("counter (atomic)") && c.contains("Found"))
        .expect("an example card for Dolt's counter");
    assert!(dolt.contains("UPDATE counters SET v = v + 1"), "{dolt}");
    assert!(dolt.contains("-- returned"), "{dolt}");
    let la = cards
        .iter()
        .find(|c| c.contains("list-append") && c.contains("Found"))
        .expect("an example card for list-append");
    assert!(
        la.contains("INSERT INTO lists") && la.contains("SELECT v FROM lists"),
        "{la}"
    );
    // Cycles are drawn, plots are inline SVG, and nothing is fetched from the network.
    assert!(
        page.select(&sel("svg[aria-label='dependency cycle']"))
            .count()
            > 0
    );
    assert!(page.select(&sel("div.plots svg")).count() >= 2 * r.cells.len());
    assert_eq!(page.select(&sel("script")).count(), 0);
    for (tag, attr) in [("link", "href"), ("img", "src"), ("iframe", "src")] {
        for e in page.select(&sel(tag)) {
            let v = e.value().attr(attr).unwrap_or("");
            assert!(
                !v.starts_with("http"),
                "<{tag} {attr}={v}> reaches the network"
            );
        }
    }
}

#[test]
fn the_markdown_report_is_stable() {
    let r = fixed_report();
    insta::assert_snapshot!(report::markdown::render(&r));
}

#[test]
fn reports_are_written_from_run_folders_by_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .arg("report")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["index.html", "report.md", "report.json"] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["cells"].as_array().unwrap().len(), fixtures().len());
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["report", "/nonexistent/runs"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(3));
}
