//! A worked example as a timeline: one column per session (process), each transaction a block
//! from its invoke to its completion with its statements in the order they ran and what each
//! read returned, so overlapping transactions sit side by side; the dependency edges follow.
//!
//! The rows are the example's own invokes and completions in history order, which is real-time
//! order (the recorder's invariant), so a block spanning another's rows ran while it did.

use std::fmt::Write;

use super::examples::{TxnSql, WorkedExample};
use super::html::esc;
use super::svg;

/// The sessions of an example, in order of their first invoke.
fn sessions(txns: &[&TxnSql]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in txns {
        if !out.contains(&t.process) {
            out.push(t.process.clone());
        }
    }
    out
}

/// The transactions in the order they were invoked.
fn by_invoke(e: &WorkedExample) -> Vec<&TxnSql> {
    let mut txns: Vec<&TxnSql> = e.txns.iter().collect();
    txns.sort_by_key(|t| (t.invoked, t.index));
    txns
}

fn ms(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1} ms")).unwrap_or_default()
}

/// Opens a timeline grid: a narrow first column headed `first` (times, step numbers), then a
/// column per session headed as in `heads`, each in row 1; the caller places the rest from
/// row 2 and closes the `div`.
pub fn grid_open(out: &mut String, first: &str, heads: &[String]) {
    let _ = write!(
        out,
        r#"<div class="timeline" style="grid-template-columns: 4.5em repeat({}, minmax(0, 1fr))"><div class="tl-head" style="grid-column:1;grid-row:1">{}</div>"#,
        heads.len(),
        esc(first)
    );
    for (c, h) in heads.iter().enumerate() {
        let _ = write!(
            out,
            r#"<div class="tl-head" style="grid-column:{};grid-row:1">{}</div>"#,
            c + 2,
            esc(h)
        );
    }
}

/// The example's timeline and edges as HTML.
pub fn html(e: &WorkedExample) -> String {
    let txns = by_invoke(e);
    let procs = sessions(&txns);
    // Each invoke and completion is a row; a row's label is its time.
    let mut events: Vec<(u64, Option<f64>)> = Vec::new();
    for t in &txns {
        events.push((t.invoked, t.start_ms));
        events.push((t.index, t.end_ms));
    }
    events.sort_by_key(|e| e.0);
    events.dedup_by_key(|e| e.0);
    let row = |i: u64| events.iter().position(|e| e.0 == i).unwrap_or(0) + 2;
    let mut out = String::new();
    let heads: Vec<String> = procs.iter().map(|p| format!("process {p}")).collect();
    grid_open(&mut out, "time", &heads);
    for (r, (_, t)) in events.iter().enumerate() {
        let _ = write!(
            out,
            r#"<div class="tl-time" style="grid-column:1;grid-row:{}">{}</div>"#,
            r + 2,
            ms(*t)
        );
    }
    for t in &txns {
        let col = procs.iter().position(|p| *p == t.process).unwrap_or(0) + 2;
        let _ = write!(
            out,
            r#"<div class="tl-txn {}" style="grid-column:{col};grid-row:{} / {}"><div class="tl-name"><b>{}</b> <span class="muted">op {}, {}{}</span></div>"#,
            esc(&t.outcome),
            row(t.invoked),
            row(t.index) + 1,
            esc(&t.name),
            t.index,
            esc(&t.outcome),
            match (t.start_ms, t.end_ms) {
                (Some(a), Some(b)) => format!(", {:.1} ms", b - a),
                _ => String::new(),
            }
        );
        if let Some(r) = &t.role {
            let _ = write!(out, r#"<div class="tl-role">{}</div>"#, esc(r));
        }
        if t.statements.is_empty() {
            out.push_str(r#"<div class="muted">(no SQL recorded)</div>"#);
        }
        out.push_str(r#"<ol class="sql">"#);
        for st in &t.statements {
            let _ = write!(out, "<li><code>{};</code>", esc(&st.sql));
            if let Some(r) = &st.returned {
                let _ = write!(out, r#" <span class="ret">→ {}</span>"#, esc(r));
            }
            out.push_str("</li>");
        }
        out.push_str("</ol></div>");
    }
    out.push_str("</div>");
    if !e.edges.is_empty() {
        out.push_str(r#"<div class="deps"><ul class="edges">"#);
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
        let names: Vec<&str> = e.txns.iter().map(|t| t.name.as_str()).collect();
        out.push_str(&svg::cycle(&names, &e.edges));
        out.push_str("</div>");
    }
    out
}

/// The example's transactions in the order they were invoked, with times, as Markdown.
pub fn markdown(out: &mut String, e: &WorkedExample) {
    for t in by_invoke(e) {
        let when = match (t.start_ms, t.end_ms) {
            (Some(a), Some(b)) => format!(", {a:.1} → {b:.1} ms"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "**{}** (process {}, op {}, {}{when}){}:\n",
            t.name,
            t.process,
            t.index,
            t.outcome,
            t.role
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        if t.statements.is_empty() {
            out.push_str("_(no SQL recorded)_\n\n");
            continue;
        }
        out.push_str("```sql\n");
        for st in &t.statements {
            match &st.returned {
                Some(r) => {
                    let _ = writeln!(out, "{};  -- returned {r}", st.sql);
                }
                None => {
                    let _ = writeln!(out, "{};", st.sql);
                }
            }
        }
        out.push_str("```\n\n");
    }
    if !e.edges.is_empty() {
        out.push_str("Dependencies:\n\n");
        for d in &e.edges {
            let _ = writeln!(out, "- {} → {} ({}): {}", d.from, d.to, d.kind, d.why);
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Anomaly;
    use crate::report::examples::Statement;

    fn txn(name: &str, process: &str, invoked: u64, index: u64) -> TxnSql {
        TxnSql {
            name: name.into(),
            index,
            process: process.into(),
            outcome: "ok".into(),
            invoked,
            start_ms: Some(invoked as f64),
            end_ms: Some(index as f64),
            role: None,
            statements: vec![Statement {
                sql: "SELECT v FROM lists WHERE k = 1".into(),
                returned: Some("'1,2'".into()),
            }],
        }
    }

    #[test]
    fn overlapping_transactions_share_rows_and_sequential_ones_do_not() {
        // T1 (process 3) runs from op 0 to op 2, T2 (process 5) from op 1 to op 3: their blocks
        // share rows 3 and 4. T3 (process 3 again) comes after T1, below it in its column.
        let e = WorkedExample {
            anomaly: Anomaly::G2Item,
            explanation: String::new(),
            txns: vec![
                txn("T2", "5", 1, 3),
                txn("T1", "3", 0, 2),
                txn("T3", "3", 4, 5),
            ],
            edges: vec![],
        };
        let html = html(&e);
        assert_eq!(
            html.matches("class=\"tl-head\"").count(),
            3,
            "time + 2 sessions"
        );
        assert!(html.contains("grid-column:2;grid-row:2 / 5\"><div class=\"tl-name\"><b>T1</b>"));
        assert!(html.contains("grid-column:3;grid-row:3 / 6\"><div class=\"tl-name\"><b>T2</b>"));
        assert!(html.contains("grid-column:2;grid-row:6 / 8\"><div class=\"tl-name\"><b>T3</b>"));
        assert!(html.contains("→ '1,2'"), "what the read returned");
        assert!(!html.contains("<svg"), "no cycle drawn without edges");
    }
}
