//! SVG drawings for the report: per-run plots (with plotters) and a dependency cycle as a ring
//! of transactions.

use plotters::prelude::*;

use super::examples::{Edge, TxnSql};
use super::series::Series;

const OK: RGBColor = RGBColor(46, 125, 50);
const FAIL: RGBColor = RGBColor(198, 40, 40);
const INFO: RGBColor = RGBColor(239, 108, 0);
const P50: RGBColor = RGBColor(21, 101, 192);
const P99: RGBColor = RGBColor(123, 31, 162);
const FAULT: RGBColor = RGBColor(255, 193, 7);

/// A line chart of `lines` (label, colour, values per second) over `s.t`, with fault windows
/// shaded. Returns the SVG text (empty if the series is empty).
fn chart(title: &str, y_label: &str, s: &Series, lines: &[(&str, RGBColor, Vec<f64>)]) -> String {
    if s.t.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (460, 220)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let x_max = (s.t.len() as f64).max(1.0);
        let y_max = lines
            .iter()
            .flat_map(|l| l.2.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.1;
        let Ok(mut c) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 14))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        else {
            return String::new();
        };
        let _ = c
            .configure_mesh()
            .x_desc("seconds")
            .y_desc(y_label)
            .light_line_style(RGBColor(238, 238, 238))
            .label_style(("sans-serif", 11))
            .draw();
        for &(a, b) in &s.faults {
            let _ = c.draw_series(std::iter::once(Rectangle::new(
                [(a, 0.0), (b.max(a + 0.2), y_max)],
                FAULT.mix(0.25).filled(),
            )));
        }
        for (label, colour, values) in lines {
            let colour = *colour;
            if let Ok(series) = c.draw_series(LineSeries::new(
                s.t.iter().zip(values).map(|(&t, &v)| (t + 0.5, v)),
                colour.stroke_width(2),
            )) {
                series.label(*label).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2))
                });
            }
        }
        let _ = c
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 11))
            .draw();
        let _ = root.present();
    }
    out
}

/// Completions per second: ok, fail and info.
pub fn throughput(s: &Series) -> String {
    let f = |v: &Vec<u64>| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    chart(
        "Throughput",
        "ops/s",
        s,
        &[
            ("ok", OK, f(&s.ok)),
            ("fail", FAIL, f(&s.fail)),
            ("info", INFO, f(&s.info)),
        ],
    )
}

/// Latency of ok ops per second: median and 99th percentile.
pub fn latency(s: &Series) -> String {
    chart(
        "Latency of ok ops",
        "ms",
        s,
        &[
            ("p50", P50, s.p50_ms.clone()),
            ("p99", P99, s.p99_ms.clone()),
        ],
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The cycle of an example: transactions on a ring, an arrow per dependency labelled with its
/// kind. Empty when the example is not a cycle.
pub fn cycle(txns: &[TxnSql], edges: &[Edge]) -> String {
    if edges.is_empty() || txns.is_empty() {
        return String::new();
    }
    let n = txns.len();
    let (w, h) = (360.0, 240.0);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let r = if n == 1 { 0.0 } else { 80.0 };
    let pos = |i: usize| {
        let a = -std::f64::consts::FRAC_PI_2 + i as f64 * std::f64::consts::TAU / n as f64;
        (cx + r * a.cos(), cy + r * a.sin())
    };
    let index = |name: &str| txns.iter().position(|t| t.name == name);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="dependency cycle"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>"##
    );
    let node_r = 22.0;
    for e in edges {
        let (Some(a), Some(b)) = (index(&e.from), index(&e.to)) else {
            continue;
        };
        let ((x1, y1), (x2, y2)) = (pos(a), pos(b));
        let colour = match e.kind.as_str() {
            "rw" => "#c62828",
            "wr" => "#2e7d32",
            "ww" => "#1565c0",
            _ => "#6d4c41",
        };
        if a == b {
            continue;
        }
        // A curved arrow between the circles, bowed outward so that two-way pairs do not overlap.
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        let (sx, sy) = (x1 + ux * node_r, y1 + uy * node_r);
        let (ex, ey) = (x2 - ux * (node_r + 2.0), y2 - uy * (node_r + 2.0));
        let bow = if n == 2 { 30.0 } else { 18.0 };
        let (mx, my) = ((sx + ex) / 2.0 - uy * bow, (sy + ey) / 2.0 + ux * bow);
        s.push_str(&format!(
            r#"<path d="M{sx:.1},{sy:.1} Q{mx:.1},{my:.1} {ex:.1},{ey:.1}" fill="none" stroke="{colour}" stroke-width="2" marker-end="url(#arrow)"/><text x="{:.1}" y="{:.1}" font-family="sans-serif" font-size="12" font-weight="bold" fill="{colour}" text-anchor="middle">{}</text>"#,
            (sx + ex) / 2.0 - uy * (bow + 10.0),
            (sy + ey) / 2.0 + ux * (bow + 10.0) + 4.0,
            escape(&e.kind)
        ));
    }
    for (i, t) in txns.iter().enumerate() {
        let (x, y) = pos(i);
        s.push_str(&format!(
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="{node_r}" fill="#eef3fb" stroke="#1f3b64" stroke-width="1.5"/><text x="{x:.1}" y="{:.1}" font-family="sans-serif" font-size="13" font-weight="bold" fill="#1f3b64" text-anchor="middle">{}</text>"##,
            y + 4.5,
            escape(&t.name)
        ));
    }
    s.push_str("</svg>");
    s
}
