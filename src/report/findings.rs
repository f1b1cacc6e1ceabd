//! What `isoscope check --out DIR` writes: `result.json`, a text file per anomaly type, and per
//! explained cycle a drawing as the report draws it (T1..Tn on a ring, each edge named by its
//! kind) with the transactions' ops in a table beside it and the reasons below, as SVG, plus the
//! same graph as Graphviz DOT.
//!
//! Invariant: a drawing's width does not grow with the ops: lists are elided
//! ([`elide`](super::elide)) and each op is one line per micro-op, cut at [`LINE_CHARS`].

use std::fmt::Write as _;
use std::path::Path;

use super::examples::Edge;
use super::{elide, svg};
use crate::checker::{CheckResult, CycleStep, TxnRef};

/// The longest line a drawing's table holds, in characters.
pub const LINE_CHARS: usize = 96;

/// Pixels per character of the 12 px monospace table text (a generous estimate).
const CHAR_W: f64 = 7.4;

/// Writes `result.json`, `<type>.txt` per anomaly type, and `<type>-<n>.svg` / `.dot` per
/// explained cycle into `dir`.
pub fn write(dir: &Path, r: &CheckResult) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("result.json"), json)?;
    for (a, g) in &r.anomalies {
        let mut text = format!(
            "{a}: {} found, {} explained below\n",
            g.count,
            g.examples.len()
        );
        for (i, f) in g.examples.iter().enumerate() {
            text.push_str(&format!("\n#{}\n{}\n", i + 1, f.explanation));
            if !f.steps.is_empty() {
                let title = format!("{a} #{}", i + 1);
                let base = dir.join(format!("{a}-{}", i + 1));
                std::fs::write(
                    base.with_extension("svg"),
                    cycle_svg(&title, &f.txns, &f.steps),
                )?;
                std::fs::write(
                    base.with_extension("dot"),
                    cycle_dot(&title, &f.txns, &f.steps),
                )?;
            }
        }
        std::fs::write(dir.join(format!("{a}.txt")), text)?;
    }
    Ok(())
}

/// The balanced `[...]` starting at the beginning of `s`.
fn bracketed(s: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    s
}

/// The elements of an EDN vector, as text: `[[:r 1 [2]] [:append 1 3]]` → `[:r 1 [2]]`,
/// `[:append 1 3]`.
fn elements(v: &str) -> Vec<&str> {
    let inner = v
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(v);
    let mut out = Vec::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let item = if rest.starts_with('[') {
            bracketed(rest)
        } else {
            rest.split_whitespace().next().unwrap_or(rest)
        };
        out.push(item);
        rest = rest[item.len()..].trim_start();
    }
    out
}

/// A transaction's lines in the table: a heading, then one line per micro-op (lists elided).
fn op_lines(t: &TxnRef) -> (String, Vec<String>) {
    let field = |name: &str| {
        t.op.split_once(name)
            .map(|(_, rest)| rest.split([',', '}']).next().unwrap_or("").trim())
            .unwrap_or("")
            .trim_start_matches(':')
            .to_string()
    };
    let heading = format!(
        "{} · process {} · op {} · {} {}",
        t.name,
        t.process,
        t.index,
        field(":f "),
        field(":type ")
    );
    let value = t.op.split_once(":value ").map(|(_, v)| v).unwrap_or(&t.op);
    let lines = if value.starts_with('[') {
        elements(bracketed(value))
            .into_iter()
            .map(elide::text)
            .collect()
    } else {
        vec![elide::text(value.trim_end_matches('}'))]
    };
    let cut = |s: String| {
        if s.chars().count() > LINE_CHARS {
            let mut c: String = s.chars().take(LINE_CHARS - 1).collect();
            c.push('…');
            c
        } else {
            s
        }
    };
    (cut(heading), lines.into_iter().map(cut).collect())
}

/// A cycle drawn as the report draws it, with the ops in a table beside it and the reasons
/// below: one SVG, no wider than the ring plus [`LINE_CHARS`] characters.
pub fn cycle_svg(title: &str, txns: &[TxnRef], steps: &[CycleStep]) -> String {
    let e: Vec<Edge> = steps.iter().map(Edge::from_step).collect();
    let names: Vec<&str> = txns.iter().map(|t| t.name.as_str()).collect();
    let ring = svg::cycle(&names, &e);
    let table: Vec<(String, Vec<String>)> = txns.iter().map(op_lines).collect();
    let line_h = 16.0;
    let top = 30.0;
    let table_x = svg::cycle_size(names.len()).0 + 16.0;
    let table_lines: usize = table.iter().map(|(_, l)| l.len() + 1).sum::<usize>() + table.len();
    let widest = table
        .iter()
        .flat_map(|(h, l)| std::iter::once(h).chain(l))
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    let why: Vec<String> = e
        .iter()
        .map(|d| {
            let s = format!("{} → {} {}: {}", d.from, d.to, d.kind, d.why);
            if s.chars().count() > LINE_CHARS + 40 {
                let mut c: String = s.chars().take(LINE_CHARS + 39).collect();
                c.push('…');
                c
            } else {
                s
            }
        })
        .collect();
    let why_w = why.iter().map(|s| s.chars().count()).max().unwrap_or(0) as f64 * 6.6;
    let w = (table_x + widest as f64 * CHAR_W + 16.0)
        .max(why_w + 32.0)
        .ceil();
    let body_h = (table_lines as f64 * line_h).max(svg::cycle_size(names.len()).1);
    let h = (top + body_h + 12.0 + why.len() as f64 * line_h + 12.0).ceil();
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><rect width="100%" height="100%" fill="#fff"/><text x="16" y="20" font-family="sans-serif" font-size="15" font-weight="bold" fill="#1d2430">{}</text>"##,
        svg::escape(title)
    );
    let _ = write!(s, r#"<g transform="translate(0,{top})">{ring}</g>"#);
    let mut y = top + line_h;
    for (heading, lines) in &table {
        let _ = write!(
            s,
            r##"<text x="{table_x}" y="{y}" font-family="sans-serif" font-size="12" font-weight="bold" fill="#1f3b64">{}</text>"##,
            svg::escape(heading)
        );
        y += line_h;
        for l in lines {
            let _ = write!(
                s,
                r##"<text x="{}" y="{y}" font-family="monospace" font-size="12" fill="#1d2430">{}</text>"##,
                table_x + 12.0,
                svg::escape(l)
            );
            y += line_h;
        }
        y += line_h;
    }
    let mut y = top + body_h + 12.0 + line_h * 0.75;
    for l in &why {
        let _ = write!(
            s,
            r##"<text x="16" y="{y}" font-family="sans-serif" font-size="12" fill="#1d2430">{}</text>"##,
            svg::escape(l)
        );
        y += line_h;
    }
    s.push_str("</svg>\n");
    s
}

/// The same cycle as Graphviz DOT: nodes named T1..Tn (the op in the tooltip), edges labelled
/// with their kind.
pub fn cycle_dot(title: &str, txns: &[TxnRef], steps: &[CycleStep]) -> String {
    let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut s = format!(
        "digraph \"{0}\" {{\n  label=\"{0}\"; labelloc=t;\n  node [shape=circle, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
        q(title)
    );
    for t in txns {
        let _ = writeln!(
            s,
            "  {} [tooltip=\"process {}: {}\"];",
            t.name,
            q(&t.process),
            q(&elide::text(&t.op))
        );
    }
    for st in steps {
        let _ = writeln!(
            s,
            "  {} -> {} [label=\"{}\", tooltip=\"{}\"];",
            st.from,
            st.to,
            st.kind,
            q(&elide::text(&st.why))
        );
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::graph::EdgeKind;

    #[test]
    fn a_cycle_of_long_ops_stays_narrow() {
        let long: Vec<String> = (1..=200).map(|i| i.to_string()).collect();
        let op = |i: u64| {
            TxnRef {
            name: format!("T{i}"),
            index: i,
            process: i.to_string(),
            op: format!(
                "{{:index {i}, :type :ok, :process {i}, :f :txn, :value [[:append 5 {i}] [:r 6 [{}]]]}}",
                long.join(" ")
            ),
        }
        };
        let step = |a: u64, b: u64, kind| CycleStep {
            from: format!("T{a}"),
            to: format!("T{b}"),
            kind,
            why: format!("T{b} did not observe T{a}'s append"),
        };
        let svg = cycle_svg(
            "G2-item #1",
            &[op(1), op(2)],
            &[step(1, 2, EdgeKind::RW), step(2, 1, EdgeKind::RW)],
        );
        let w: f64 = svg
            .split_once("width=\"")
            .and_then(|(_, r)| r.split('"').next())
            .and_then(|w| w.parse().ok())
            .unwrap();
        assert!(w <= 1600.0, "{w}");
        assert!(svg.contains("[:append 5 1]"), "one line per micro-op");
        assert!(svg.contains("(200 elements)"), "long reads elided");
        assert!(svg.contains(">rw<"), "edges named");
    }
}
