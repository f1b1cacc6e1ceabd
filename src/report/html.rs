//! The report as one self-contained HTML page: inline CSS and SVG, no scripts, no fonts or
//! anything else from the network.

use std::fmt::Write;

use super::{
    capitalized, cell, columns, durability_line, fault_counts, fault_detail, fault_verdict,
    has_fault_story, health_kinds, legend, reproduce, rows, svg, timeline, Cell, Report,
    WorkedExample,
};
use crate::checker::{Anomaly, Validity};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = r#"
:root { --ink:#1d2430; --muted:#5b6574; --line:#dfe3ea; --bg:#f7f8fa; --ok:#2e7d32; --bad:#c62828; --unk:#8d6e00; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color:var(--ink); background:var(--bg); }
header { background:#1f3b64; color:#fff; padding:22px 32px; }
header h1 { margin:0 0 4px; font-size:24px; letter-spacing:.2px; }
header p { margin:0; color:#c9d6ea; font-size:13px; }
main { max-width:1180px; margin:0 auto; padding:20px 32px 60px; overflow-wrap:anywhere; }
a { color:#1f4f8f; }
h2 { font-size:20px; margin:34px 0 10px; border-bottom:2px solid var(--line); padding-bottom:6px; }
h3 { font-size:17px; margin:26px 0 6px; }
h4 { font-size:15px; margin:18px 0 6px; }
p.lede { color:var(--muted); margin:4px 0 12px; }
nav.toc { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 18px; font-size:14px; }
nav.toc ol { margin:4px 0; padding-left:22px; } nav.toc li { margin:1px 0; } nav.toc ol ol { columns:2; column-gap:28px; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); font-size:13.5px; }
th, td { border:1px solid var(--line); padding:8px 10px; vertical-align:top; text-align:left; }
th { background:#eef1f6; font-weight:600; }
table.matrix td.cell { width:22%; } table.matrix tbody th, table.matrix thead th:first-child { width:1%; white-space:nowrap; }
.verdict { font-weight:700; display:inline-block; padding:1px 8px; border-radius:10px; font-size:12.5px; }
.valid { color:#fff; background:var(--ok); } .invalid { color:#fff; background:var(--bad); } .unknown { color:#fff; background:var(--unk); }
td.cell.invalid-bg { background:#fdf0f0; } td.cell.valid-bg { background:#f1f8f2; } td.cell.unknown-bg { background:#fdf8e8; }
.types { margin-top:4px; } .types code { white-space:nowrap; background:#fff; border:1px solid #efc9c9; color:#8e1c1c; }
.links { margin-top:4px; font-size:12.5px; }
.muted { color:var(--muted); font-size:12.5px; }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#eef1f6; padding:1px 4px; border-radius:3px; }
pre { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#0f1722; color:#e6edf3; padding:10px 12px; border-radius:6px; white-space:pre-wrap; margin:6px 0 12px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 18px; margin:14px 0; }
section.example { border-top:1px solid var(--line); margin-top:14px; max-width:100%; }
p.explain { margin:6px 0 10px; padding:8px 12px; border-left:4px solid #1f3b64; background:#f3f6fb; white-space:pre-wrap; font-size:13.5px; }
.timeline { display:grid; gap:4px 10px; align-items:stretch; max-width:100%; }
.tl-head { font-weight:600; font-size:13px; color:var(--muted); border-bottom:1px solid var(--line); }
.tl-time { font-size:11.5px; color:var(--muted); white-space:nowrap; padding-top:4px; }
.tl-txn { min-width:0; background:#fbfcfe; border:1px solid var(--line); border-left:4px solid var(--ok); border-radius:6px; padding:4px 8px; font-size:13px; }
.tl-txn.fail { border-left-color:var(--bad); } .tl-txn.info { border-left-color:#ef6c00; }
.tl-role { font-size:12.5px; color:#6d4c41; }
ol.sql { list-style:none; margin:2px 0 0; padding:0; } ol.sql li { margin:2px 0; }
ol.sql code { background:none; padding:0; white-space:pre-wrap; overflow-wrap:anywhere; }
.ret { color:#1b5e20; font-weight:600; font-size:12.5px; }
.deps { display:flex; flex-wrap:wrap; gap:12px; align-items:flex-start; }
.deps ul.edges { flex:1 1 420px; min-width:0; }
ul.edges { margin:6px 0; padding-left:20px; } ul.edges li { margin:2px 0; }
.kind { font-weight:700; } .kind.rw { color:#c62828; } .kind.wr { color:#2e7d32; } .kind.ww { color:#1565c0; }
.plots { display:flex; flex-wrap:wrap; gap:12px; margin-bottom:12px; } .plots svg { border:1px solid var(--line); border-radius:6px; background:#fff; max-width:100%; height:auto; }
.notes { margin:6px 0; padding-left:20px; color:var(--muted); font-size:13px; }
.warn { color:#8a4b00; font-size:13px; margin:4px 0; }
table.legend td:first-child { white-space:nowrap; }
details summary { cursor:pointer; color:var(--muted); margin:8px 0; }
details.card > summary { color:inherit; margin:0; } details.card > summary h4 { display:inline; }
p.back { font-size:13px; margin:2px 0 8px; }
.wide { overflow-x:auto; max-width:100%; }
table th { white-space:nowrap; } td { overflow-wrap:normal; word-break:normal; }
"#;

fn verdict_badge(v: Validity) -> String {
    let w = v.to_string();
    format!(r#"<span class="verdict {w}">{w}</span>"#)
}

/// An anomaly's name, linked to its row in the legend.
fn tag(a: Anomaly) -> String {
    format!(r##"<a href="#{}"><code>{a}</code></a>"##, legend::anchor(a))
}

/// The anchor of a run's examples, and of one of them.
fn ex_anchor(i: usize, a: Option<Anomaly>) -> String {
    match a {
        Some(a) => format!("ex-{i}-{}", a.name()),
        None => format!("ex-{i}"),
    }
}

fn matrix(out: &mut String, r: &Report) {
    let cols = columns(r);
    out.push_str(r#"<div class="wide"><table class="matrix"><thead><tr><th>workload</th>"#);
    for (s, i) in &cols {
        let _ = write!(
            out,
            "<th>{} <span class=\"muted\">{}</span></th>",
            esc(s),
            esc(i)
        );
    }
    out.push_str("</tr></thead><tbody>");
    for w in rows(r) {
        let _ = write!(out, "<tr><th>{}</th>", esc(&w));
        for (s, i) in &cols {
            match cell(r, &w, s, i) {
                Some(c) => {
                    let n = r.cells.iter().position(|x| std::ptr::eq(x, c)).unwrap_or(0);
                    let v = &c.verdict;
                    let _ = write!(
                        out,
                        r#"<td class="cell {}-bg">{}"#,
                        v.overall,
                        verdict_badge(v.overall)
                    );
                    if !v.found.is_empty() {
                        out.push_str(r#"<div class="types reason" data-reason="isolation">"#);
                        for (a, k) in &v.found {
                            let _ = write!(
                                out,
                                r##"{}&nbsp;<a href="#{}">×{k}</a> "##,
                                tag(*a),
                                ex_anchor(n, Some(*a))
                            );
                        }
                        out.push_str("</div>");
                    }
                    let _ = write!(
                        out,
                        r#"<div class="muted">{}<br>{}<br>reported: {}"#,
                        esc(&v.held_to_text()),
                        esc(&v.consistent_with_text()),
                        esc(&c.summary.isolation_reported)
                    );
                    if let Some(u) = v.undecided_text() {
                        let _ = write!(out, "<br>{}", esc(&u));
                    }
                    if let Some(p) = &c.summary.nemesis {
                        let _ = write!(out, "<br>faults: {}", esc(&p.label()));
                    }
                    out.push_str("</div>");
                    if let Some(d) = c.durability.as_ref().filter(|d| d.valid != Validity::Valid) {
                        let _ = write!(
                            out,
                            r##"<div class="types reason" data-reason="durability"><a href="#legend-durability"><code>durability {}</code></a> <a href="#faults-{n}-durability">{}</a></div>"##,
                            d.valid,
                            esc(&durability_line(d))
                        );
                    }
                    if let Some(note) = &c.status_note {
                        let _ = write!(out, r#"<div class="warn">⚠ {}</div>"#, esc(note));
                    }
                    if v.health_findings > 0 {
                        let _ = write!(
                            out,
                            r##"<div class="types reason" data-reason="health"><a href="#legend-health"><code>server health</code></a> <a href="#faults-{n}-health">{}</a></div>"##,
                            esc(&health_kinds(c))
                        );
                    }
                    if v.refusals > 0 {
                        let _ = write!(
                            out,
                            r##"<div class="muted"><a href="#legend-refusal">refused to go on after a disk error</a> <a href="#faults-{n}-health">×{}</a> (by design; not a failure)</div>"##,
                            v.refusals
                        );
                    }
                    let mut links = Vec::new();
                    if !c.examples.is_empty() {
                        links.push(format!(
                            r##"<a href="#{}">examples</a>"##,
                            ex_anchor(n, None)
                        ));
                    }
                    if has_fault_story(c) {
                        links.push(format!(r##"<a href="#faults-{n}">faults</a>"##));
                    }
                    links.push(format!(r##"<a href="#run-{n}">run</a>"##));
                    let _ = write!(out, r#"<div class="links">{}</div>"#, links.join(" · "));
                    out.push_str("</td>");
                }
                None => out.push_str("<td>–</td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

fn example(out: &mut String, n: usize, e: &WorkedExample) {
    let _ = write!(
        out,
        r#"<section class="example" id="{}"><h4>{} {}</h4>"#,
        ex_anchor(n, Some(e.anomaly)),
        tag(e.anomaly),
        esc(legend::words(e.anomaly).0)
    );
    let _ = write!(
        out,
        r##"<p class="back"><a href="#verdicts">↑ its cell in the matrix</a> · <a href="#run-{n}">↑ its run</a></p>"##
    );
    let _ = write!(out, r#"<p class="explain">{}</p>"#, esc(&e.explanation));
    out.push_str(&timeline::html(e));
    out.push_str("</section>");
}

/// The legend: Elle's names, the words engineers use, and the models that forbid each; the
/// anomalies this report found first, the rest folded away.
fn legend_table(out: &mut String, r: &Report) {
    let found = legend::found(r);
    let table = |out: &mut String, list: &[Anomaly]| {
        out.push_str("<table class=\"legend\"><thead><tr><th>Elle's name</th><th>engineers say</th><th>what happened</th><th>forbidden by</th></tr></thead><tbody>");
        for &a in list {
            let (name, meaning) = legend::words(a);
            let _ = write!(
                out,
                r#"<tr id="{}"><td><code>{a}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                legend::anchor(a),
                esc(name),
                esc(meaning),
                esc(&legend::forbidden_by(a))
            );
        }
        out.push_str("</tbody></table>");
    };
    if found.is_empty() {
        out.push_str("<p>No anomalies in any run.</p>");
    } else {
        table(out, &found);
    }
    let rest: Vec<Anomaly> = Anomaly::ALL
        .iter()
        .copied()
        .filter(|a| !found.contains(a))
        .collect();
    out.push_str("<details><summary>Every other anomaly isoscope looks for</summary>");
    table(out, &rest);
    out.push_str("</details>");
    out.push_str("<table class=\"legend\"><thead><tr><th>besides anomalies</th><th>what it means</th></tr></thead><tbody>");
    for (id, name, meaning) in legend::VERDICT_PARTS {
        let _ = write!(
            out,
            r#"<tr id="{id}"><td><code>{name}</code></td><td>{}</td></tr>"#,
            esc(meaning)
        );
    }
    out.push_str("</tbody></table>");
}

/// The table of contents.
fn toc(out: &mut String, r: &Report, story: bool) {
    out.push_str(r##"<nav class="toc"><b>Contents</b><ol><li><a href="#verdicts">Verdicts</a></li><li><a href="#legend">Legend: what the anomalies are called, and which models forbid them</a></li><li><a href="#anomalies">Anomalies, with worked examples</a><ol>"##);
    for (i, c) in r
        .cells
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.examples.is_empty())
    {
        let _ = write!(
            out,
            r##"<li><a href="#{}">{}</a></li>"##,
            ex_anchor(i, None),
            esc(&c.title())
        );
    }
    out.push_str("</ol></li>");
    if story {
        out.push_str(r##"<li><a href="#faults">Faults, durability and server health</a></li>"##);
    }
    out.push_str(r##"<li><a href="#runs">Runs</a><ol>"##);
    for (i, c) in r.cells.iter().enumerate() {
        let _ = write!(
            out,
            r##"<li><a href="#run-{i}">{}</a></li>"##,
            esc(&c.title())
        );
    }
    out.push_str("</ol></li>");
    if let Some(sc) = &r.scenarios {
        super::scenarios::toc_html(out, sc);
    }
    out.push_str("</ol></nav>");
}

/// Opens a run's card with its anchor, title and verdict.
fn card_open(out: &mut String, id: &str, c: &Cell) {
    let _ = write!(
        out,
        r#"<div class="card" id="{id}"><h3>{} {}</h3>"#,
        esc(&c.title()),
        verdict_badge(c.verdict.overall)
    );
}

fn run_card(out: &mut String, n: usize, c: &Cell) {
    let s = &c.summary;
    card_open(out, &format!("run-{n}"), c);
    let v = &c.verdict;
    let mut back = vec![r##"<a href="#verdicts">↑ verdicts</a>"##.to_string()];
    for e in &c.examples {
        back.push(format!(
            r##"<a href="#{}">{} example</a>"##,
            ex_anchor(n, Some(e.anomaly)),
            e.anomaly
        ));
    }
    if has_fault_story(c) {
        back.push(format!(
            r##"<a href="#faults-{n}">faults, durability, health</a>"##
        ));
    }
    let _ = write!(out, r#"<p class="back">{}</p>"#, back.join(" · "));
    let _ = write!(
        out,
        "<p>{}. The server reported {}.",
        esc(&v.checked_text()),
        esc(&s.isolation_reported)
    );
    if let Some(u) = v.undecided_text() {
        let _ = write!(out, " {}.", esc(&u));
    }
    out.push_str("</p>");
    if let Some(why) = reasons(n, c) {
        let _ = write!(
            out,
            r#"<p class="reasons">{} because of {why}.</p>"#,
            verdict_badge(v.overall)
        );
    }
    if let Some(n) = &c.status_note {
        let _ = write!(out, r#"<p class="warn">⚠ {}.</p>"#, esc(n));
    }
    let _ = write!(
        out,
        r#"<p class="muted">{:.1} s, {} clients, seed {}; {} ok, {} fail, {} info; {:.0} ok/s. Reproduce, in a clone of isoscope: <code>{}</code> (or, after <code>cargo install --path .</code>, the same with <code>isoscope</code>)</p>"#,
        s.elapsed_s,
        s.clients,
        s.seed,
        s.ok,
        s.fail,
        s.info,
        s.throughput,
        esc(&reproduce(&s.command))
    );
    out.push_str(r#"<div class="plots">"#);
    out.push_str(&svg::throughput(&c.series));
    out.push_str(&svg::latency(&c.series));
    out.push_str("</div>");
    out.push_str(r#"<table class="latency"><caption class="muted">Latency of ok ops over the whole run, split as the plots are: read = ops that only read (reads, transactions of reads only); write = ops that write.</caption><thead><tr><th>op</th><th>ok</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th></tr></thead><tbody>"#);
    for (f, l) in super::latency_rows(c) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td></tr>",
            esc(&f),
            l.count,
            l.p50_ms,
            l.p90_ms,
            l.p99_ms,
            l.max_ms
        );
    }
    out.push_str("</tbody></table>");
    if s.errors.is_empty() {
        out.push_str(r#"<p class="muted">No errors.</p>"#);
    } else {
        out.push_str(r#"<p class="muted">Errors: "#);
        let parts: Vec<String> = s
            .errors
            .iter()
            .map(|(k, n)| format!("{} ×{n}", esc(k)))
            .collect();
        out.push_str(&parts.join(", "));
        out.push_str("</p>");
    }
    out.push_str("</div>");
}

/// A run's faults, durability and server health, as a card, its badge the verdict of what it
/// is about (durability and health), with a link back to its run.
fn fault_story(out: &mut String, n: usize, c: &Cell) {
    let s = &c.summary;
    let _ = write!(
        out,
        r##"<div class="card" id="faults-{n}"><h3>{} {}</h3><p class="back"><a href="#run-{n}">↑ its run</a> · <a href="#verdicts">↑ verdicts</a></p>"##,
        esc(&c.title()),
        verdict_badge(fault_verdict(c))
    );
    if let Some(p) = &s.nemesis {
        let _ = write!(
            out,
            "<p>Faults: <code>{}</code> every ~{}: {}.</p>",
            esc(&p.label()),
            humantime::format_duration(p.interval),
            esc(&fault_counts(c))
        );
        out.push_str("<table><thead><tr><th>step</th><th>from s</th><th>to s</th><th>what happened</th></tr></thead><tbody>");
        for f in &s.faults {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}{}</td></tr>",
                esc(&f.step),
                f.start_s,
                f.end_s,
                esc(&fault_detail(&f.detail)),
                f.error
                    .as_ref()
                    .map(|e| format!(": {}", esc(e.lines().next().unwrap_or_default())))
                    .unwrap_or_default()
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(d) = &c.durability {
        let _ = write!(
            out,
            r#"<p id="faults-{n}-durability">Durability: {} {}.</p>"#,
            verdict_badge(d.valid),
            esc(&capitalized(&durability_line(d)))
        );
        if let Some(caveat) = c.summary.server.flavor.spec().durability_caveat() {
            let _ = write!(out, r#"<p class="muted">Note: {}.</p>"#, esc(caveat));
        }
        if !d.notes.is_empty() || !d.examples.is_empty() {
            out.push_str(r#"<ul class="notes">"#);
            for n in &d.notes {
                let _ = write!(out, "<li>note: {}</li>", esc(n));
            }
            for f in &d.examples {
                let _ = write!(out, "<li>{}</li>", esc(&f.explanation));
            }
            out.push_str("</ul>");
        }
    }
    let _ = write!(out, r#"<div id="faults-{n}-health">"#);
    if s.health.is_empty() {
        out.push_str("<p>Server health: no crash, corruption or fatal error seen.</p>");
    } else {
        let refused = crate::faults::health::refusals(&s.health);
        for (h, refusal) in s.health.iter().zip(refused) {
            let what = if refusal {
                "refused to go on after a disk error (by design, not a failure)".to_string()
            } else {
                esc(h.kind.name())
            };
            let _ = write!(
                out,
                "<p>Server health, at {:.1} s: <b>{what}</b>: {}</p>",
                h.at_s,
                esc(h.message.lines().next().unwrap_or_default())
            );
            let view = crate::faults::health::excerpt_lines(&h.excerpt, EXCERPT_CAP);
            if !view.is_empty() {
                let _ = write!(out, "<pre>{}</pre>", esc(&view.join("\n")));
            }
        }
        match &c.log_href {
            Some(href) => {
                let _ = write!(
                    out,
                    r#"<p class="muted">The whole log: <a href="{}">{}</a>.</p>"#,
                    esc(href),
                    esc(href)
                );
            }
            None => {
                let _ = write!(
                    out,
                    r#"<p class="muted">The whole log: <code>{}/server.log</code>.</p>"#,
                    esc(&c.run_dir)
                );
            }
        }
    }
    out.push_str("</div></div>");
}

/// Why a run is invalid, each part linked to its evidence: `G2-item ×3, durability (...)`.
fn reasons(n: usize, c: &Cell) -> Option<String> {
    let v = &c.verdict;
    if v.overall != Validity::Invalid {
        return None;
    }
    let mut parts = Vec::new();
    if v.isolation == Validity::Invalid {
        for (a, k) in &v.found {
            parts.push(format!(
                r##"{} <a href="#{}">×{k}</a>"##,
                tag(*a),
                ex_anchor(n, Some(*a))
            ));
        }
    }
    if let Some(d) = c
        .durability
        .as_ref()
        .filter(|d| d.valid == Validity::Invalid)
    {
        parts.push(format!(
            r##"<a href="#faults-{n}-durability">durability</a> ({})"##,
            esc(&durability_line(d))
        ));
    }
    if v.health_findings > 0 {
        parts.push(format!(
            r##"<a href="#faults-{n}-health">server health</a> ({})"##,
            esc(&health_kinds(c))
        ));
    }
    Some(parts.join("; "))
}

/// Log lines shown per health finding; the whole log is named below them.
pub(crate) const EXCERPT_CAP: usize = 12;

/// Renders the whole page.
pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(1 << 16);
    out.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>isoscope report</title><style>");
    out.push_str(CSS);
    out.push_str("</style></head><body><header><h1>isoscope report</h1>");
    let _ = write!(
        out,
        "<p>Generated {} by isoscope {} on {} CPUs{}, {}</p></header><main>",
        esc(&r.generated_at),
        esc(&r.isoscope_version),
        r.machine.cpus,
        r.machine
            .memory_gb
            .map(|g| format!(", {g} GB"))
            .unwrap_or_default(),
        esc(&r.machine.os)
    );
    let story = r.cells.iter().any(has_fault_story);
    toc(&mut out, r, story);
    out.push_str(r#"<h2 id="verdicts">Verdicts</h2><p class="lede">Each cell: the run's verdict (isolation against the model it was held to, the level the clients asked for, and, where they fail, durability of acknowledged writes and server health), the anomalies found (Elle's names, linked to the legend, with counts linked to an example), the strongest consistency model the history is still consistent with, and the level the server reported. A model stronger than the one held to is "not checked" when the anomalies only it forbids were not searched.</p>"#);
    matrix(&mut out, r);
    if !r.refused.is_empty() {
        let _ = write!(out, "<p>{}</p><ul>", esc(super::REFUSED_INTRO));
        for x in &r.refused {
            let _ = write!(out, "<li>{}</li>", esc(&x.text()));
        }
        out.push_str("</ul>");
    }

    out.push_str(r#"<h2 id="legend">Legend</h2><p class="lede">Elle's names for the anomalies, the words engineers use for them, and the weakest models that forbid each (every stronger model forbids it too).</p>"#);
    legend_table(&mut out, r);

    out.push_str(r#"<h2 id="anomalies">Anomalies, with worked examples</h2><p class="lede">The smallest example of each anomaly type in each run, as a timeline: a column per session, each transaction from its invoke to its completion with the SQL it ran and what its reads returned (long lists elided), then the dependencies between the transactions and the cycle they form.</p>"#);
    let mut any = false;
    for (n, c) in r
        .cells
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.examples.is_empty())
    {
        any = true;
        card_open(&mut out, &ex_anchor(n, None), c);
        let _ = write!(out, "<p>{}</p>", esc(&c.verdict.found_sentence()));
        if c.notes().next().is_some() {
            out.push_str(r#"<ul class="notes">"#);
            for n in c.notes() {
                let _ = write!(out, "<li>{}</li>", esc(n));
            }
            out.push_str("</ul>");
        }
        for e in &c.examples {
            example(&mut out, n, e);
        }
        out.push_str("</div>");
    }
    if !any {
        out.push_str("<p>No anomalies in any run.</p>");
    }

    if story {
        out.push_str(r#"<h2 id="faults">Faults, durability and server health</h2><p class="lede">What the nemesis did to each server and when, whether every acknowledged write was still there in the final reads, and what the health watch saw: crashes, corruption, a server that did not come back.</p>"#);
        for (n, c) in r
            .cells
            .iter()
            .enumerate()
            .filter(|(_, c)| has_fault_story(c))
        {
            fault_story(&mut out, n, c);
        }
    }

    out.push_str(r#"<h2 id="runs">Runs</h2><p class="lede">Per run: the model it was held to and what was not checked; throughput (reads dashed, writes solid; ok, fail and info apart) and latency of reads and writes (median solid, 99th percentile dashed) per second, fault windows shaded; latency percentiles; the error breakdown; and the command that reproduces it.</p>"#);
    for (n, c) in r.cells.iter().enumerate() {
        run_card(&mut out, n, c);
    }
    if let Some(sc) = &r.scenarios {
        super::scenarios::html(&mut out, sc);
    }
    out.push_str("</main></body></html>\n");
    out
}
