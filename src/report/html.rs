//! The report as one self-contained HTML page: inline CSS and SVG, no scripts, no fonts or
//! anything else from the network.

use std::fmt::Write;

use super::{
    anomaly_list, cell, columns, durability_line, fault_counts, has_fault_story, models, rows, svg,
    verdict_word, Cell, Report, WorkedExample,
};
use crate::checker::Validity;

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
main { max-width:1180px; margin:0 auto; padding:20px 32px 60px; }
h2 { font-size:20px; margin:34px 0 10px; border-bottom:2px solid var(--line); padding-bottom:6px; }
h3 { font-size:17px; margin:26px 0 6px; }
h4 { font-size:15px; margin:18px 0 6px; }
p.lede { color:var(--muted); margin:4px 0 12px; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); font-size:13.5px; }
th, td { border:1px solid var(--line); padding:8px 10px; vertical-align:top; text-align:left; }
th { background:#eef1f6; font-weight:600; }
table.matrix td.cell { width:22%; }
.verdict { font-weight:700; display:inline-block; padding:1px 8px; border-radius:10px; font-size:12.5px; }
.valid { color:#fff; background:var(--ok); } .invalid { color:#fff; background:var(--bad); } .unknown { color:#fff; background:var(--unk); }
td.cell.invalid-bg { background:#fdf0f0; } td.cell.valid-bg { background:#f1f8f2; } td.cell.unknown-bg { background:#fdf8e8; }
.types { margin-top:4px; } .types code { white-space:nowrap; background:#fff; border:1px solid #efc9c9; color:#8e1c1c; }
.muted { color:var(--muted); font-size:12.5px; }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#eef1f6; padding:1px 4px; border-radius:3px; }
pre { font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background:#0f1722; color:#e6edf3; padding:10px 12px; border-radius:6px; overflow-x:auto; margin:6px 0 12px; }
pre .ret { color:#7ee787; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 18px; margin:14px 0; }
.example { display:grid; grid-template-columns: minmax(0,1fr) 360px; gap:18px; align-items:start; }
blockquote { margin:8px 0; padding:8px 12px; border-left:4px solid #1f3b64; background:#f3f6fb; white-space:pre-wrap; font-size:13.5px; }
ul.edges { margin:6px 0; padding-left:20px; } ul.edges li { margin:2px 0; }
.kind { font-weight:700; } .kind.rw { color:#c62828; } .kind.wr { color:#2e7d32; } .kind.ww { color:#1565c0; }
.plots { display:flex; flex-wrap:wrap; gap:12px; } .plots svg { border:1px solid var(--line); border-radius:6px; background:#fff; }
.notes { margin:6px 0; padding-left:20px; color:var(--muted); font-size:13px; }
"#;

fn verdict_badge(v: Validity) -> String {
    let w = verdict_word(v);
    format!(r#"<span class="verdict {w}">{w}</span>"#)
}

fn matrix(out: &mut String, r: &Report) {
    let cols = columns(r);
    out.push_str(r#"<table class="matrix"><thead><tr><th>workload</th>"#);
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
                    let _ = write!(
                        out,
                        r#"<td class="cell {}-bg">{}"#,
                        verdict_word(c.valid),
                        verdict_badge(c.valid)
                    );
                    if !c.anomalies.is_empty() {
                        out.push_str(r#"<div class="types">"#);
                        for (a, n) in &c.anomalies {
                            let _ = write!(out, "<code>{a}</code>&nbsp;×{n} ");
                        }
                        out.push_str("</div>");
                    }
                    let _ = write!(
                        out,
                        r#"<div class="muted">consistent with: {}<br>reported: {}"#,
                        esc(&models(&c.strongest)),
                        esc(&c.summary.isolation_reported)
                    );
                    if let Some(p) = &c.summary.nemesis {
                        let _ = write!(out, "<br>faults: {}", esc(&p.label()));
                    }
                    out.push_str("</div>");
                    if let Some(d) = c.durability.as_ref().filter(|d| d.valid != Validity::Valid) {
                        let _ = write!(
                            out,
                            r#"<div class="types"><code>durability</code> {}</div>"#,
                            esc(&durability_line(d))
                        );
                    }
                    if !c.summary.health.is_empty() {
                        let _ = write!(
                            out,
                            r#"<div class="types"><code>server health</code>&nbsp;×{}</div>"#,
                            c.summary.health.len()
                        );
                    }
                    out.push_str("</td>");
                }
                None => out.push_str("<td>–</td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn example(out: &mut String, e: &WorkedExample) {
    let _ = write!(
        out,
        r#"<h4><code>{}</code></h4><div class="example"><div>"#,
        e.anomaly
    );
    let _ = write!(out, "<blockquote>{}</blockquote>", esc(&e.explanation));
    for t in &e.txns {
        let _ = write!(
            out,
            r#"<div><b>{}</b> <span class="muted">process {}, op {}, {}</span></div>"#,
            esc(&t.name),
            esc(&t.process),
            t.index,
            esc(&t.outcome)
        );
        if t.statements.is_empty() {
            out.push_str(r#"<p class="muted">(no SQL recorded)</p>"#);
            continue;
        }
        out.push_str("<pre>");
        for st in &t.statements {
            let _ = write!(out, "{};", esc(&st.sql));
            if let Some(r) = &st.returned {
                let _ = write!(out, r#"  <span class="ret">-- returned {}</span>"#, esc(r));
            }
            out.push('\n');
        }
        out.push_str("</pre>");
    }
    if !e.edges.is_empty() {
        out.push_str(r#"<ul class="edges">"#);
        for d in &e.edges {
            let _ = write!(
                out,
                r#"<li>{} → {} <span class="kind {}">{}</span>: {}</li>"#,
                esc(&d.from),
                esc(&d.to),
                esc(&d.kind),
                esc(&d.kind),
                esc(&d.why)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</div><div>");
    out.push_str(&svg::cycle(&e.txns, &e.edges));
    out.push_str("</div></div>");
}

/// Opens a run's card with its title and verdict.
fn card_open(out: &mut String, c: &Cell) {
    let _ = write!(
        out,
        r#"<div class="card"><h3>{} {}</h3>"#,
        esc(&c.title()),
        verdict_badge(c.valid)
    );
}

fn run_card(out: &mut String, c: &Cell) {
    let s = &c.summary;
    card_open(out, c);
    let _ = write!(
        out,
        r#"<p class="muted">{:.1} s, {} clients, seed {}; {} ok, {} fail, {} info; {:.0} ok/s. Reproduce: <code>{}</code></p>"#,
        s.elapsed_s,
        s.clients,
        s.seed,
        s.ok,
        s.fail,
        s.info,
        s.throughput,
        esc(&s.command)
    );
    out.push_str(r#"<div class="plots">"#);
    out.push_str(&svg::throughput(&c.series));
    out.push_str(&svg::latency(&c.series));
    out.push_str("</div>");
    out.push_str("<table><thead><tr><th>op</th><th>ok</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th></tr></thead><tbody>");
    for (f, l) in &s.latency {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td></tr>",
            esc(f),
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

/// A run's faults, durability and server health, as a card.
fn fault_story(out: &mut String, c: &Cell) {
    let s = &c.summary;
    card_open(out, c);
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
                esc(&f.detail),
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
            "<p>Durability: {} {}.</p>",
            verdict_badge(d.valid),
            esc(&durability_line(d))
        );
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
    if s.health.is_empty() {
        out.push_str("<p>Server health: no crash, corruption or fatal error seen.</p>");
    } else {
        for h in &s.health {
            let _ = write!(
                out,
                "<p>Server health, at {:.1} s: <b>{}</b>: {}</p>",
                h.at_s,
                esc(h.kind.name()),
                esc(&h.message)
            );
            if !h.excerpt.is_empty() {
                let _ = write!(out, "<pre>{}</pre>", esc(&h.excerpt));
            }
        }
    }
    out.push_str("</div>");
}

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
    out.push_str(r#"<h2 id="verdicts">Verdicts</h2><p class="lede">Each cell: the run's verdict (isolation against the level the clients asked for, and, where they fail, durability of acknowledged writes and server health), the anomalies found (Elle's names, with counts), the strongest consistency model the history is still consistent with, and the level the server reported.</p>"#);
    matrix(&mut out, r);

    out.push_str(r#"<h2 id="anomalies">Anomalies, with worked examples</h2><p class="lede">One example per anomaly type and run: the SQL each transaction ran with what its reads returned, the dependencies between the transactions, and the cycle they form.</p>"#);
    let mut any = false;
    for c in r.cells.iter().filter(|c| !c.examples.is_empty()) {
        any = true;
        card_open(&mut out, c);
        let _ = write!(
            out,
            "<p>Found {}; rules out {}.</p>",
            esc(&anomaly_list(c)),
            esc(&models(&c.not))
        );
        if !c.notes.is_empty() {
            out.push_str(r#"<ul class="notes">"#);
            for n in &c.notes {
                let _ = write!(out, "<li>{}</li>", esc(n));
            }
            out.push_str("</ul>");
        }
        for e in &c.examples {
            example(&mut out, e);
        }
        out.push_str("</div>");
    }
    if !any {
        out.push_str("<p>No anomalies in any run.</p>");
    }

    let story: Vec<&Cell> = r.cells.iter().filter(|c| has_fault_story(c)).collect();
    if !story.is_empty() {
        out.push_str(r#"<h2 id="faults">Faults, durability and server health</h2><p class="lede">What the nemesis did to each server and when, whether every acknowledged write was still there in the final reads, and what the health watch saw: crashes, corruption, a server that did not come back.</p>"#);
        for c in story {
            fault_story(&mut out, c);
        }
    }

    out.push_str(r#"<h2 id="runs">Runs</h2><p class="lede">Throughput and latency per second (fault windows shaded), latency percentiles, and the error breakdown of every run.</p>"#);
    for c in &r.cells {
        run_card(&mut out, c);
    }
    out.push_str("</main></body></html>\n");
    out
}
