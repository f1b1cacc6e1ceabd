//! The scenarios in the report, built from a small recorded `scenarios.json`
//! (tests/fixtures/runs/scenarios.json: g1a, p4 and pmp-write at read uncommitted and repeatable
//! read on MariaDB 10.11; see the fixtures' README). The HTML is parsed: the table per server
//! with Hermitage's MySQL 5.6 answers beside it, the sentence where they differ, and a
//! timeline behind every cell.

use std::path::{Path, PathBuf};

use isoscope::report::{self, Report};
use scraper::{ElementRef, Html, Selector};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs")
}

/// The fixture runs' report with the recorded scenarios.
fn report_with_scenarios() -> Report {
    let dirs = isoscope::run_folder::find(&[root()]).unwrap();
    let mut r = report::build(&dirs).expect("the report builds");
    r.scenarios = report::scenarios::find(&[root()]).expect("scenarios.json reads");
    assert!(r.scenarios.is_some(), "the fixture has a scenarios.json");
    r
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn text(e: ElementRef) -> String {
    e.text().collect::<String>()
}

fn by_id<'a>(page: &'a Html, id: &str) -> Option<ElementRef<'a>> {
    page.select(&sel(&format!("[id='{id}']"))).next()
}

#[test]
fn the_table_has_every_cell_and_the_mysql_5_6_column() {
    let r = report_with_scenarios();
    let page = Html::parse_document(&report::html::render(&r));
    let table = page
        .select(&sel("table.scenarios"))
        .next()
        .expect("a scenarios table");
    let heads: Vec<String> = table.select(&sel("thead th")).map(text).collect();
    assert!(
        heads.iter().any(|h| h == "MySQL 5.6 (Hermitage)"),
        "{heads:?}"
    );
    assert!(heads.iter().any(|h| h == "mariadb"), "{heads:?}");
    // A row per scenario: two level cells, then MySQL 5.6's two answers.
    let rows: Vec<ElementRef> = table.select(&sel("tbody tr")).collect();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row.select(&sel("td.sc")).count(), 2, "{}", text(*row));
        assert_eq!(row.select(&sel("td.mysql56")).count(), 2, "{}", text(*row));
    }
    let p4 = rows
        .iter()
        .find(|r| text(**r).starts_with("p4"))
        .expect("a p4 row");
    let mysql: Vec<String> = p4.select(&sel("td.mysql56")).map(text).collect();
    assert_eq!(mysql, ["anomaly", "anomaly"]);
    let ours: Vec<String> = p4.select(&sel("td.sc")).map(text).collect();
    assert_eq!(ours, ["anomaly", "anomaly"]);
    // pmp-write at read uncommitted: MariaDB blocked, MySQL 5.6 let it through. The cell is
    // marked and a sentence under the table says why.
    let pmp = rows
        .iter()
        .find(|r| text(**r).starts_with("pmp-write"))
        .expect("a pmp-write row");
    let differs: Vec<ElementRef> = pmp.select(&sel("td.sc.differs")).collect();
    assert_eq!(differs.len(), 1, "{}", text(*pmp));
    assert_eq!(text(differs[0]), "prevented (blocked)");
    let notes: Vec<String> = page.select(&sel("ul.notes li")).map(text).collect();
    let why = notes
        .iter()
        .find(|n| n.starts_with("pmp-write at read-uncommitted"))
        .expect("a note on the difference");
    assert!(
        why.contains("anomaly in MySQL 5.6") && why.contains("one after the other"),
        "{why}"
    );
    // No other cell differs, so no other note speaks of MySQL 5.6.
    assert_eq!(
        notes.iter().filter(|n| n.contains("in MySQL 5.6")).count(),
        1,
        "{notes:?}"
    );
}

#[test]
fn every_cell_links_to_its_timeline() {
    let r = report_with_scenarios();
    let page = Html::parse_document(&report::html::render(&r));
    let cells: Vec<ElementRef> = page.select(&sel("table.scenarios td.sc")).collect();
    assert_eq!(cells.len(), 6);
    for c in cells {
        let href = c
            .select(&sel("a"))
            .next()
            .and_then(|a| a.value().attr("href"))
            .expect("a link");
        let target = by_id(&page, &href[1..]).unwrap_or_else(|| panic!("{href} leads nowhere"));
        let tl = target
            .select(&sel(".timeline"))
            .next()
            .unwrap_or_else(|| panic!("{href} has no timeline"));
        // Sessions as columns, and the verdict in the heading matches the cell.
        let heads: Vec<String> = tl.select(&sel(".tl-head")).map(text).collect();
        assert_eq!(heads, ["step", "session T1", "session T2"], "{href}");
        let h = target.select(&sel("h4")).next().map(text).unwrap();
        assert!(h.ends_with(&text(c)), "{h} vs {}", text(c));
    }
    // The TOC leads to the section.
    assert!(page
        .select(&sel("nav.toc a"))
        .any(|a| a.value().attr("href") == Some("#scenarios")));
    assert!(by_id(&page, "scenarios").is_some());
}

#[test]
fn a_timeline_draws_the_blocked_span_the_reads_and_who_committed() {
    let r = report_with_scenarios();
    let page = Html::parse_document(&report::html::render(&r));
    let card = by_id(&page, "sc-0-pmp-write-read-uncommitted").expect("the pmp-write card");
    // T2's delete waited for T1's lock from step 3 until T1's commit at step 4: its block
    // spans both rows, in T2's column (row 2 is both sessions' implicit BEGIN).
    let blocked: Vec<ElementRef> = card.select(&sel(".tl-txn.blocked")).collect();
    assert_eq!(blocked.len(), 1);
    let style = blocked[0].value().attr("style").unwrap();
    assert_eq!(style, "grid-column:3;grid-row:5 / 7", "{style}");
    let begins: Vec<ElementRef> = card
        .select(&sel(".tl-txn"))
        .filter(|b| {
            b.value()
                .attr("style")
                .is_some_and(|s| s.ends_with("grid-row:2 / 3"))
        })
        .collect();
    assert_eq!(begins.len(), 2, "each session shows its BEGIN");
    let t = text(blocked[0]);
    assert!(
        t.contains("delete from test where value = 20") && t.contains("blocked until step 4"),
        "{t}"
    );
    // What each read returned: T2 saw T1's uncommitted 20 and 30, then only row 2.
    let all = text(card);
    assert!(all.contains("→ (1, 20) (2, 30)"), "{all}");
    assert!(all.contains("→ (2, 30)"), "{all}");
    // Who committed, and the final table.
    let ends: Vec<String> = card.select(&sel(".tl-end")).map(text).collect();
    assert_eq!(ends, ["committed", "committed"]);
    assert!(all.contains("Final table: (2, 30)."), "{all}");
}

#[test]
fn the_markdown_has_the_table_and_links_that_land() {
    let md = report::markdown::render(&report_with_scenarios());
    let section = md
        .split("## Scenarios: Hermitage's tests, step by step")
        .nth(1)
        .expect("a scenarios section");
    assert!(section
        .contains("| scenario | read-uncommitted | repeatable-read | MySQL 5.6 (Hermitage) |"));
    assert!(section.contains("| p4 (P4) |"));
    let mut links = 0;
    for part in section.split("](#").skip(1) {
        let id = part.split(')').next().unwrap();
        assert!(
            section.contains(&format!("<a id=\"{id}\"></a>")),
            "#{id} leads nowhere"
        );
        links += 1;
    }
    assert!(links >= 6, "every cell links to its timeline");
    // The blocked statement shows waiting, then what it returned, in its own column.
    assert!(section.contains("⏳ blocked"), "{section}");
    assert!(
        section.contains("↳ returned: ok, 1 row changed"),
        "{section}"
    );
}
