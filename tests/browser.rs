//! The report as a reader's browser lays it out: headless Chromium (Debian's `chromium`, which
//! scripts/install-servers installs; a missing browser fails the test) opens the three demos in
//! reports/ and a fresh `isoscope report` of the fixture runs, at 1280 and 800 px, with
//! tests/browser_measure.js injected, and the page is held to: nothing past the right edge, no
//! two text labels of a cycle drawing overlapping, every `#` link resolving, every invalid cell
//! naming and linking each reason, and no example timeline without columns.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

const CHROMIUM: &str = "/usr/bin/chromium";

/// What browser_measure.js found.
#[derive(serde::Deserialize, Debug)]
struct Measure {
    height: u64,
    overflow: Vec<String>,
    overlaps: Vec<String>,
    broken_links: Vec<String>,
    bad_cells: Vec<String>,
    empty_timelines: Vec<String>,
}

/// Lays `page` out at `width` px in headless Chromium and measures it.
fn measure(page: &Path, width: u32) -> Measure {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/install-servers"
    );
    let tmp = tempfile::tempdir().unwrap();
    let html = std::fs::read_to_string(page).unwrap();
    let script = include_str!("browser_measure.js");
    let injected = match html.rfind("</body>") {
        Some(i) => format!("{}<script>{script}</script>{}", &html[..i], &html[i..]),
        None => format!("{html}<script>{script}</script>"),
    };
    let copy = tmp.path().join("page.html");
    std::fs::write(&copy, injected).unwrap();
    let out_path = tmp.path().join("dom.html");
    let out_file = std::fs::File::create(&out_path).unwrap();
    // Without the background-networking flags Chromium stalls on a closed network.
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .arg(format!("--window-size={width},900"))
        .arg("--dump-dom")
        .arg(format!("file://{}", copy.display()))
        .stdout(out_file)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (code, _) = common::wait_bounded(&mut child, Duration::from_secs(120));
    assert_eq!(code, Some(0), "chromium on {}", page.display());
    let dom = std::fs::read_to_string(&out_path).unwrap();
    let start = dom
        .rfind(r#"<pre id="isoscope-measure">"#)
        .unwrap_or_else(|| panic!("no measurement in the dump of {}", page.display()));
    let json = &dom[start + r#"<pre id="isoscope-measure">"#.len()..];
    let json = &json[..json.find("</pre>").unwrap()];
    let json = json
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

/// The pages: the three demos and a report of the fixture runs made now.
fn pages(fresh: &Path) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .arg("report")
        .arg(root.join("tests/fixtures/runs"))
        .arg("-o")
        .arg(fresh)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<PathBuf> = ["demo", "faults-demo", "power-loss-demo"]
        .iter()
        .map(|d| root.join("reports").join(d).join("index.html"))
        .collect();
    pages.push(fresh.join("index.html"));
    pages
}

#[test]
fn every_report_page_holds_up_in_a_browser_at_1280_and_800_px() {
    let fresh = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for page in pages(fresh.path()) {
        for width in [1280, 800] {
            let m = measure(&page, width);
            eprintln!("{} at {width} px: {} px tall", page.display(), m.height);
            let mut say = |what: &str, list: &[String]| {
                if !list.is_empty() {
                    failures.push(format!(
                        "{} at {width} px: {} {what}, e.g. {:?}",
                        page.display(),
                        list.len(),
                        &list[..list.len().min(3)]
                    ));
                }
            };
            say("elements past the right edge", &m.overflow);
            say("overlapping cycle labels", &m.overlaps);
            say("# links that resolve to nothing", &m.broken_links);
            say(
                "invalid cells that do not name and link a reason",
                &m.bad_cells,
            );
            say("example timelines without columns", &m.empty_timelines);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cycles_of_up_to_20_transactions_are_drawn_without_overlap() {
    use isoscope::report::examples::Edge;
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("<!doctype html><html><body>");
    for n in [2usize, 3, 4, 7, 11, 12, 15, 20] {
        let names: Vec<String> = (1..=n).map(|i| format!("T{i}")).collect();
        let kinds = ["ww", "wr", "rw"];
        let mut edges: Vec<Edge> = (0..n)
            .map(|i| Edge {
                from: names[i].clone(),
                to: names[(i + 1) % n].clone(),
                kind: kinds[i % 3].into(),
                why: String::new(),
            })
            .collect();
        if n == 3 {
            // A two-way pair besides the ring.
            edges.push(Edge {
                from: "T2".into(),
                to: "T1".into(),
                kind: "rw".into(),
                why: String::new(),
            });
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let svg = isoscope::report::svg::cycle(&refs, &edges);
        // Every arrowhead is its edge's colour.
        for e in &edges {
            let colour = match e.kind.as_str() {
                "rw" => "c62828",
                "wr" => "2e7d32",
                _ => "1565c0",
            };
            assert!(
                svg.contains(&format!(
                    r##"stroke="#{colour}" stroke-width="2" marker-end="url(#arrow-{colour})""##
                )),
                "{n}: {svg}"
            );
        }
        body.push_str(&svg);
    }
    body.push_str("</body></html>");
    let page = dir.path().join("cycles.html");
    std::fs::write(&page, body).unwrap();
    if let Ok(keep) = std::env::var("ISOSCOPE_KEEP_CYCLES") {
        // To look at the drawings (screenshots for a review).
        std::fs::copy(&page, keep).unwrap();
    }
    let m = measure(&page, 1280);
    assert!(m.overlaps.is_empty(), "{:?}", m.overlaps);
}
