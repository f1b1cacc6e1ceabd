//! The report as Markdown: the same content as the HTML page, without the plots.

use std::fmt::Write;

use super::{
    capitalized, cell, columns, durability_line, fault_counts, fault_detail, fault_verdict,
    has_fault_story, health_kinds, legend, reproduce, rows, timeline, Cell, Report, WorkedExample,
};
use crate::checker::Validity;

fn mark(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "✅",
        Validity::Invalid => "❌",
        Validity::Unknown => "❔",
    }
}

fn matrix_cell(c: &Cell) -> String {
    let v = &c.verdict;
    let mut s = format!("{} {}", mark(v.overall), v.overall);
    if !v.found.is_empty() {
        let _ = write!(s, ": {}", v.found_text());
    }
    let _ = write!(
        s,
        "<br>{}<br>{}",
        v.held_to_text(),
        v.consistent_with_text()
    );
    if let Some(u) = v.undecided_text() {
        let _ = write!(s, "<br>{u}");
    }
    if let Some(d) = c.durability.as_ref().filter(|d| d.valid != Validity::Valid) {
        let _ = write!(s, "<br>durability {}: {}", d.valid, durability_line(d));
    }
    if v.health_findings > 0 {
        let _ = write!(s, "<br>server health: {}", health_kinds(c));
    }
    if v.refusals > 0 {
        let _ = write!(
            s,
            "<br>refused to go on after a disk error ×{} (by design; not a failure)",
            v.refusals
        );
    }
    if let Some(n) = &c.status_note {
        let _ = write!(s, "<br>⚠ {n}");
    }
    s
}

/// A run's faults, durability and server health.
pub fn fault_story(out: &mut String, c: &Cell) {
    let s = &c.summary;
    let _ = writeln!(out, "### {}: {}\n", c.title(), fault_verdict(c));
    if let Some(p) = &s.nemesis {
        let _ = writeln!(
            out,
            "Faults: {} every ~{}: {}.\n",
            p.label(),
            humantime::format_duration(p.interval),
            fault_counts(c)
        );
        out.push_str("| step | from s | to s | what happened |\n|---|---|---|---|\n");
        for f in &s.faults {
            let _ = writeln!(
                out,
                "| {} | {:.1} | {:.1} | {}{} |",
                f.step,
                f.start_s,
                f.end_s,
                fault_detail(&f.detail),
                f.error
                    .as_ref()
                    .map(|e| format!(": {}", e.lines().next().unwrap_or_default()))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
    if let Some(d) = &c.durability {
        let _ = writeln!(
            out,
            "Durability {}: {}.\n",
            d.valid,
            capitalized(&durability_line(d))
        );
        if let Some(caveat) = s.server.flavor.spec().durability_caveat() {
            let _ = writeln!(out, "Note: {caveat}.\n");
        }
        for n in &d.notes {
            let _ = writeln!(out, "- note: {n}");
        }
        for f in &d.examples {
            let _ = writeln!(out, "- {}", f.explanation);
        }
        if !d.notes.is_empty() || !d.examples.is_empty() {
            out.push('\n');
        }
    }
    if s.health.is_empty() {
        out.push_str("Server health: no crash, corruption or fatal error seen.\n\n");
    } else {
        let refused = crate::faults::health::refusals(&s.health);
        for (h, refusal) in s.health.iter().zip(refused) {
            let what = if refusal {
                "refused to go on after a disk error (by design, not a failure)".to_string()
            } else {
                h.kind.to_string()
            };
            let _ = writeln!(
                out,
                "Server health, at {:.1} s: **{what}**: {}\n",
                h.at_s,
                h.message.lines().next().unwrap_or_default()
            );
            let view = crate::faults::health::excerpt_lines(&h.excerpt, super::html::EXCERPT_CAP);
            if !view.is_empty() {
                out.push_str("```text\n");
                for line in view {
                    let _ = writeln!(out, "{line}");
                }
                out.push_str("```\n\n");
            }
        }
        match &c.log_href {
            Some(href) => {
                let _ = writeln!(out, "The whole log: [{href}]({href}).\n");
            }
            None => {
                let _ = writeln!(out, "The whole log: `{}/server.log`.\n", c.run_dir);
            }
        }
    }
}

/// One worked example as Markdown.
pub fn example(out: &mut String, e: &WorkedExample) {
    let _ = writeln!(out, "#### {} ({})\n", e.anomaly, legend::words(e.anomaly).0);
    for line in e.explanation.lines() {
        let _ = writeln!(out, "> {line}  ");
    }
    out.push('\n');
    timeline::markdown(out, e);
}

/// The legend: the anomalies found, in engineers' words, with the models that forbid them.
fn legend_table(out: &mut String, r: &Report) {
    let found = legend::found(r);
    if found.is_empty() {
        out.push_str("No anomalies in any run.\n\n");
        return;
    }
    out.push_str(
        "| Elle's name | engineers say | what happened | forbidden by |\n|---|---|---|---|\n",
    );
    for a in found {
        let (name, meaning) = legend::words(a);
        let _ = writeln!(
            out,
            "| `{a}` | {name} | {meaning} | {} |",
            legend::forbidden_by(a)
        );
    }
    out.push('\n');
}

/// Renders the whole report.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# isoscope report\n");
    let _ = writeln!(
        out,
        "Generated {} by isoscope {} on {} CPUs{}, {}.\n",
        r.generated_at,
        r.isoscope_version,
        r.machine.cpus,
        r.machine
            .memory_gb
            .map(|g| format!(", {g} GB"))
            .unwrap_or_default(),
        r.machine.os
    );
    let story = r.cells.iter().any(has_fault_story);
    out.push_str("Contents: [Verdicts](#verdicts) · [Legend](#legend) · [Anomalies, with worked examples](#anomalies-with-worked-examples)");
    if story {
        out.push_str(
            " · [Faults, durability and server health](#faults-durability-and-server-health)",
        );
    }
    out.push_str(" · [Runs](#runs) · [Reproducing a run](#reproducing-a-run)");
    if r.scenarios.is_some() {
        out.push_str(" · [Scenarios](#scenarios-hermitages-tests-step-by-step)");
    }
    out.push_str("\n\n");
    let cols = columns(r);
    let _ = writeln!(out, "## Verdicts\n");
    out.push_str(
        "Each cell: the run's verdict (isolation against the level asked for, and, where they \
         fail, durability of acknowledged writes and server health), the anomalies found (with \
         counts), the model the run was held to and what that left unchecked, and the strongest \
         model the history is consistent with.\n\n",
    );
    out.push_str("| workload |");
    for (s, i) in &cols {
        let _ = write!(out, " {s} {i} |");
    }
    out.push_str("\n|---|");
    for _ in &cols {
        out.push_str("---|");
    }
    out.push('\n');
    for w in rows(r) {
        let _ = write!(out, "| {w} |");
        for (s, i) in &cols {
            match cell(r, &w, s, i) {
                Some(c) => {
                    let _ = write!(out, " {} |", matrix_cell(c));
                }
                None => out.push_str(" – |"),
            }
        }
        out.push('\n');
    }
    out.push('\n');
    if !r.refused.is_empty() {
        let _ = writeln!(out, "{}\n", super::REFUSED_INTRO);
        for x in &r.refused {
            let _ = writeln!(out, "- {}", x.text());
        }
        out.push('\n');
    }

    let _ = writeln!(out, "## Legend\n");
    legend_table(&mut out, r);

    let _ = writeln!(out, "## Anomalies, with worked examples\n");
    let mut any = false;
    for c in r.cells.iter().filter(|c| !c.examples.is_empty()) {
        any = true;
        let _ = writeln!(out, "### {}: {}\n", c.title(), c.verdict.overall);
        let _ = writeln!(out, "{}\n", c.verdict.found_sentence());
        for n in c.notes() {
            let _ = writeln!(out, "- note: {n}");
        }
        if c.notes().next().is_some() {
            out.push('\n');
        }
        for e in &c.examples {
            example(&mut out, e);
        }
    }
    if !any {
        out.push_str("No anomalies in any run.\n\n");
    }

    if story {
        let _ = writeln!(out, "## Faults, durability and server health\n");
        for c in r.cells.iter().filter(|c| has_fault_story(c)) {
            fault_story(&mut out, c);
        }
    }

    let _ = writeln!(out, "## Runs\n");
    out.push_str("| server | isolation asked / reported | workload | seconds | ok | fail | info | ok/s | latency p50 / p99 (ms) | errors |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for c in &r.cells {
        let s = &c.summary;
        let lat = super::latency_rows(c)
            .into_iter()
            .map(|(f, l)| format!("{f} {:.1} / {:.1}", l.p50_ms, l.p99_ms))
            .collect::<Vec<_>>()
            .join("; ");
        let errors = if s.errors.is_empty() {
            "none".to_string()
        } else {
            s.errors
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = writeln!(
            out,
            "| {} {} | {} / {} | {} | {:.1} | {} | {} | {} | {:.0} | {lat} | {errors} |",
            s.server.name(),
            s.server.version,
            s.isolation_requested.name(),
            s.isolation_reported,
            c.workload_label,
            s.elapsed_s,
            s.ok,
            s.fail,
            s.info,
            s.throughput
        );
    }
    out.push('\n');
    let _ = writeln!(out, "## Reproducing a run\n");
    out.push_str(
        "In a clone of isoscope (or run `cargo install --path .` once and replace \
         `cargo run --release --` with `isoscope`):\n\n",
    );
    for c in &r.cells {
        let s = &c.summary;
        let _ = writeln!(
            out,
            "- {} · {} · {} (seed {}): `{}`",
            s.server.name(),
            c.workload_label,
            s.isolation_requested.name(),
            s.seed,
            reproduce(&s.command)
        );
    }
    if let Some(sc) = &r.scenarios {
        out.push('\n');
        super::scenarios::markdown(&mut out, sc);
    }
    out
}
