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
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs");
    r.scenarios = report::scenarios::find(&[root]).expect("scenarios.json reads");
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
    assert!(dolt.contains("→ 5") || dolt.contains("→ "), "{dolt}");
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

/// The element with this id, if any.
fn by_id<'a>(page: &'a Html, id: &str) -> Option<scraper::ElementRef<'a>> {
    page.select(&sel(&format!("[id='{id}']"))).next()
}

fn rendered() -> Html {
    Html::parse_document(&report::html::render(&fixed_report()))
}

#[test]
fn a_table_of_contents_leads_to_every_section() {
    let page = rendered();
    let toc = page
        .select(&sel("nav.toc"))
        .next()
        .expect("a table of contents");
    let targets: Vec<&str> = toc
        .select(&sel("a"))
        .filter_map(|a| a.value().attr("href"))
        .collect();
    for section in ["#verdicts", "#legend", "#anomalies", "#runs"] {
        assert!(targets.contains(&section), "{section} not in {targets:?}");
    }
    for t in &targets {
        assert!(by_id(&page, &t[1..]).is_some(), "{t} leads nowhere");
    }
}

#[test]
fn every_invalid_cell_links_to_its_examples_and_its_run() {
    let page = rendered();
    let cells: Vec<_> = page.select(&sel("table.matrix td.cell")).collect();
    assert!(cells.len() >= 5);
    let mut invalid = 0;
    for c in cells {
        let hrefs: Vec<&str> = c
            .select(&sel("a"))
            .filter_map(|a| a.value().attr("href"))
            .collect();
        for h in &hrefs {
            let target = by_id(&page, &h[1..]);
            assert!(target.is_some(), "{h} leads nowhere");
        }
        assert!(hrefs.iter().any(|h| h.starts_with("#run-")), "{hrefs:?}");
        assert!(text(c).contains("held to"), "{}", text(c));
        if c.value().classes().any(|k| k == "invalid-bg") {
            invalid += 1;
            let ex = hrefs
                .iter()
                .find(|h| h.starts_with("#ex-"))
                .unwrap_or_else(|| panic!("an invalid cell without an example link: {hrefs:?}"));
            let target = by_id(&page, &ex[1..]).unwrap();
            assert!(
                target.select(&sel("section.example")).count() > 0
                    || target.value().name() == "section",
                "{ex} is not an example"
            );
            // Each anomaly tag links to the legend, each count to that anomaly's example.
            for tag in c.select(&sel(".types a code")) {
                let a = tag.parent().and_then(scraper::ElementRef::wrap).unwrap();
                assert_eq!(
                    a.value().attr("href"),
                    Some(format!("#legend-{}", text(tag)).as_str())
                );
            }
        }
    }
    assert!(invalid >= 4, "the fixtures have four invalid runs");
}

#[test]
fn the_legend_uses_engineers_words() {
    let page = rendered();
    let row = |a: &str| text(by_id(&page, &format!("legend-{a}")).expect(a));
    assert!(row("G2-item").contains("write skew"), "{}", row("G2-item"));
    assert!(row("G-single-item").contains("read skew"));
    assert!(
        row("lost-update").contains("repeatable-read"),
        "and which model forbids it"
    );
    assert!(row("G1a").contains("aborted read"));
}

/// Every list an example shows: `'1,2,3'` (SQL) and `[1 2 3]` (EDN), as element counts.
fn list_lengths(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (open, close, sep) in [('\'', '\'', ','), ('[', ']', ' ')] {
        let mut rest = s;
        while let Some(i) = rest.find(open) {
            let after = &rest[i + 1..];
            let Some(j) = after.find(close) else { break };
            let inner = &after[..j];
            if !inner.contains(open) && !inner.contains('(') {
                out.push(
                    inner
                        .split(sep)
                        .filter(|x| !x.trim().is_empty() && x.trim() != "...")
                        .count(),
                );
            }
            rest = &after[j + 1..];
        }
    }
    out
}

#[test]
fn examples_elide_long_lists() {
    let page = rendered();
    let examples: Vec<String> = page.select(&sel("section.example")).map(text).collect();
    assert!(examples.len() >= 8);
    let mut elided = 0;
    for e in &examples {
        for n in list_lengths(e) {
            assert!(n <= report::elide::LIMIT, "a list of {n} elements in {e}");
        }
        elided += e.matches(report::elide::MARK).count();
    }
    assert!(elided > 0, "the list-append fixture has long reads");
    let md = report::markdown::render(&fixed_report());
    assert!(!md.contains("{:index"), "no op as EDN in the report");
}

#[test]
fn a_wrong_total_names_the_transfers_that_made_it() {
    let page = rendered();
    let ex = page
        .select(&sel("section.example"))
        .find(|e| {
            e.value()
                .attr("id")
                .is_some_and(|i| i.ends_with("-wrong-total"))
        })
        .expect("a wrong-total example");
    let transfers: Vec<String> = ex
        .select(&sel(".tl-txn"))
        .map(text)
        .filter(|t| t.contains("UPDATE accounts") && t.contains("transfer of"))
        .collect();
    assert!(transfers.len() >= 2, "{}", text(ex));
    assert!(text(ex).contains("lost update"), "{}", text(ex));
}

#[test]
fn examples_fit_the_page_width() {
    let r = fixed_report();
    let html = report::html::render(&r);
    let page = Html::parse_document(&html);
    let css: String = page.select(&sel("style")).map(text).collect();
    // No fixed column beside an example, code wraps instead of scrolling.
    assert!(!css.contains("grid-template-columns: minmax(0,1fr) 360px"));
    // Only the wide tables (matrix, scenarios) may scroll, inside the page, on a narrow screen.
    assert!(
        !css.replace(".wide { overflow-x:auto; max-width:100%; }", "")
            .contains("overflow-x"),
        "no example scrolls sideways"
    );
    assert!(css.contains("ol.sql code { background:none; padding:0; white-space:pre-wrap;"));
    assert!(css.contains("main { max-width:1180px;"));
    for t in page.select(&sel(".timeline")) {
        let style = t.value().attr("style").unwrap();
        assert!(
            style.contains("repeat(") && style.contains("minmax(0, 1fr)"),
            "{style}"
        );
    }
    for svg in page.select(&sel("section.example svg")) {
        let w: f64 = svg.value().attr("width").unwrap().parse().unwrap();
        assert!(w <= 320.0, "a cycle drawing {w} px wide");
    }
}

#[test]
fn check_out_draws_a_small_cycle_small() {
    // A write skew between two transactions, one of which read a list of 150 elements.
    let dir = tempfile::tempdir().unwrap();
    let long: Vec<String> = (1..=150).map(|i| i.to_string()).collect();
    let appends: Vec<String> = (1..=150).map(|i| format!(r#"["append",1,{i}]"#)).collect();
    let history = [
        format!(r#"{{"index":0,"type":"invoke","process":0,"f":"txn","value":[{}]}}"#, appends.join(",")),
        format!(r#"{{"index":1,"type":"ok","process":0,"f":"txn","value":[{}]}}"#, appends.join(",")),
        r#"{"index":2,"type":"invoke","process":1,"f":"txn","value":[["r",1,null],["r",2,null],["append",3,1]]}"#.to_string(),
        r#"{"index":3,"type":"invoke","process":2,"f":"txn","value":[["r",3,null],["append",2,1]]}"#.to_string(),
        format!(r#"{{"index":4,"type":"ok","process":1,"f":"txn","value":[["r",1,[{}]],["r",2,[]],["append",3,1]]}}"#, long.join(",")),
        r#"{"index":5,"type":"ok","process":2,"f":"txn","value":[["r",3,[]],["append",2,1]]}"#.to_string(),
        r#"{"index":6,"type":"invoke","process":0,"f":"txn","value":[["r",2,null],["r",3,null]]}"#.to_string(),
        r#"{"index":7,"type":"ok","process":0,"f":"txn","value":[["r",2,[1]],["r",3,[1]]]}"#.to_string(),
    ];
    let file = dir.path().join("g2.jsonl");
    std::fs::write(&file, history.join("\n")).unwrap();
    let out = dir.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["check", "--model", "serializable", "--out"])
        .arg(&out)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "G2-item is invalid under serializable"
    );
    let svgs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    assert!(!svgs.is_empty(), "no drawing written");
    for p in svgs {
        let svg = std::fs::read_to_string(&p).unwrap();
        let w: f64 = svg
            .split_once("width=\"")
            .and_then(|(_, r)| r.split('"').next())
            .and_then(|w| w.parse().ok())
            .unwrap();
        assert!(w <= 1600.0, "{} is {w} pt wide", p.display());
        assert!(
            svg.contains(">T1<") && svg.contains(">T2<"),
            "nodes are T1..Tn"
        );
        assert!(svg.contains(">rw<"), "edges are named");
        assert!(p.with_extension("dot").is_file());
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

/// The verdict is worded once (`isoscope::verdict`): the plain text, the HTML and the Markdown of
/// the same run name the same strongest models and models ruled out, and use the same word for an
/// empty model list (the copies once said "none shown" in one place and "none" in another).
#[test]
fn text_html_and_markdown_word_the_verdict_alike() {
    let mut r = fixed_report();
    // A run consistent with no model at all: the empty list every renderer must word alike.
    r.cells[0].verdict.strongest.clear();
    let md = report::markdown::render(&r);
    let page = Html::parse_document(&report::html::render(&r));
    for (n, c) in r.cells.iter().enumerate() {
        let plain = c.verdict.text();
        let line = |opening: &str| {
            plain
                .lines()
                .find_map(|l| l.strip_prefix(opening))
                .map(str::to_string)
        };
        let strongest = line("strongest model consistent with the history: ").unwrap();
        if n == 0 {
            assert_eq!(strongest, "none");
            assert_eq!(strongest, isoscope::verdict::model_list(&[]));
        }
        // The Markdown matrix row of this run's workload, and the HTML matrix cell and run card.
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", c.workload_label)))
            .unwrap();
        let words = format!("consistent with: {strongest}");
        assert!(
            row.contains(&format!("{words}<br>")) || row.contains(&format!("{words} |")),
            "{row}"
        );
        let td = page
            .select(&sel("table.matrix td.cell"))
            .find(|td| {
                td.select(&sel("a"))
                    .any(|a| a.value().attr("href") == Some(&format!("#run-{n}")))
            })
            .map(text)
            .unwrap();
        assert!(td.contains(&format!("{words}reported:")), "{td}");
        let card = page
            .select(&sel(&format!("div#run-{n} p:not(.back)")))
            .next()
            .map(text)
            .unwrap();
        assert!(
            card.contains(&format!(
                "strongest model consistent with the history: {strongest};"
            )),
            "{card}"
        );
        // What the anomalies found rule out, where the run found any.
        if let Some(rules_out) = line("rules out: ") {
            let lede = format!("; rules out {rules_out}. ");
            assert!(md.contains(&format!("Found {}{lede}", c.verdict.found_text())));
            let ex = page
                .select(&sel(&format!("div#ex-{n} > p")))
                .next()
                .map(text)
                .unwrap();
            assert!(ex.contains(&lede), "{ex}");
        }
    }
}
