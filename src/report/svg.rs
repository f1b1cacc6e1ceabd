//! SVG drawings for the report: per-run plots (with plotters) and a dependency cycle as a ring
//! of transactions.

use plotters::prelude::*;

use super::examples::Edge;
use super::series::{KindSeries, Series};

const OK: RGBColor = RGBColor(46, 125, 50);
const FAIL: RGBColor = RGBColor(198, 40, 40);
const INFO: RGBColor = RGBColor(239, 108, 0);
const READ: RGBColor = RGBColor(21, 101, 192);
const WRITE: RGBColor = RGBColor(123, 31, 162);
const FAULT: RGBColor = RGBColor(255, 193, 7);

/// One line of a chart: its legend label, colour, whether dashed, and a value per second
/// (`None` where there is nothing to draw, which breaks the line).
struct Line {
    label: String,
    colour: RGBColor,
    dashed: bool,
    values: Vec<Option<f64>>,
}

/// An axis label: integers without a decimal point (`700`, not `700.0`), small values with
/// as few decimals as they need.
fn tick(v: &f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    format!("{r}")
}

/// Width of a chart's plot area and of the legend beside it (outside the plot, so that it
/// never covers a line).
const PLOT_W: u32 = 400;
const LEGEND_W: u32 = 150;
const CHART_H: u32 = 240;

/// A line chart of `lines` over `s.t`, with fault windows shaded and the legend to the right
/// of the plot. Returns the SVG text (empty if the series is empty).
fn chart(title: &str, y_label: &str, s: &Series, lines: &[Line]) -> String {
    if s.t.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    {
        let root =
            SVGBackend::with_string(&mut out, (PLOT_W + LEGEND_W, CHART_H)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let (plot, legend) = root.split_horizontally(PLOT_W);
        let x_max = (s.t.len() as f64).max(1.0);
        let y_max = lines
            .iter()
            .flat_map(|l| l.values.iter().flatten().copied())
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.1;
        let Ok(mut c) = ChartBuilder::on(&plot)
            .caption(title, ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        else {
            return String::new();
        };
        let _ = c
            .configure_mesh()
            .x_desc("seconds")
            .x_labels((x_max as usize + 1).clamp(2, 11))
            .y_desc(y_label)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .light_line_style(RGBColor(238, 238, 238))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 13))
            .draw();
        for &(a, b) in &s.faults {
            let _ = c.draw_series(std::iter::once(Rectangle::new(
                [(a, 0.0), (b.max(a + 0.2), y_max)],
                FAULT.mix(0.35).filled(),
            )));
        }
        for l in lines {
            // Each unbroken run of values is one path.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (&t, v) in s.t.iter().zip(&l.values) {
                match v {
                    Some(v) => runs.last_mut().map_or((), |r| r.push((t + 0.5, *v))),
                    None => runs.push(Vec::new()),
                }
            }
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                let style = l.colour.stroke_width(2);
                if run.len() == 1 {
                    // A lone second draws no line: mark it.
                    let _ =
                        c.draw_series(run.iter().map(|&p| Circle::new(p, 3, l.colour.filled())));
                }
                let _ = if l.dashed {
                    c.draw_series(DashedLineSeries::new(run, 5, 3, style))
                } else {
                    c.draw_series(LineSeries::new(run, style))
                };
            }
        }
        for (i, l) in lines.iter().enumerate() {
            let y = 34 + 18 * i as i32;
            let style = l.colour.stroke_width(2);
            let _ = if l.dashed {
                legend
                    .draw(&PathElement::new([(4, y), (9, y)], style))
                    .and_then(|_| legend.draw(&PathElement::new([(13, y), (18, y)], style)))
            } else {
                legend.draw(&PathElement::new([(4, y), (18, y)], style))
            };
            let _ = legend.draw(&Text::new(
                l.label.clone(),
                (24, y - 6),
                ("sans-serif", 13).into_font().color(&BLACK),
            ));
        }
        if !s.faults.is_empty() {
            // The shading's own legend entry.
            let y = 34 + 18 * lines.len() as i32;
            let _ = legend.draw(&Rectangle::new(
                [(4, y - 5), (18, y + 5)],
                FAULT.mix(0.35).filled(),
            ));
            let _ = legend.draw(&Text::new(
                "fault window".to_string(),
                (24, y - 6),
                ("sans-serif", 13).into_font().color(&BLACK),
            ));
        }
        let _ = root.present();
    }
    out
}

/// Completions per second, reads and writes apart, each by outcome (ok, fail, info); lines
/// that stay at zero are left out.
pub fn throughput(s: &Series) -> String {
    let mut lines = Vec::new();
    for (kind, k, dashed) in [("read", &s.reads, true), ("write", &s.writes, false)] {
        for (outcome, colour, v) in [
            ("ok", OK, &k.ok),
            ("fail", FAIL, &k.fail),
            ("info", INFO, &k.info),
        ] {
            if v.iter().any(|&x| x > 0) {
                lines.push(Line {
                    label: format!("{kind} {outcome}"),
                    colour,
                    dashed,
                    values: v.iter().map(|&x| Some(x as f64)).collect(),
                });
            }
        }
    }
    chart("Throughput", "ops/s", s, &lines)
}

/// Latency of ok ops per second, reads and writes apart: median (solid) and 99th
/// percentile (dashed).
pub fn latency(s: &Series) -> String {
    let mut lines = Vec::new();
    for (kind, k, colour) in [("read", &s.reads, READ), ("write", &s.writes, WRITE)] {
        let k: &KindSeries = k;
        if k.p50_ms.iter().all(Option::is_none) {
            continue;
        }
        lines.push(Line {
            label: format!("{kind} p50"),
            colour,
            dashed: false,
            values: k.p50_ms.clone(),
        });
        lines.push(Line {
            label: format!("{kind} p99"),
            colour,
            dashed: true,
            values: k.p99_ms.clone(),
        });
    }
    chart("Latency of ok ops", "ms", s, &lines)
}

/// Width of a cycle drawing, in px.
pub const CYCLE_W: f64 = 300.0;

/// Escapes text for SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The radius of a transaction's circle in a cycle drawing.
const NODE_R: f64 = 22.0;

/// The ring's radius for `n` transactions: it grows with the cycle so neighbours stay apart
/// (a circle, its label and a gap between each), 80 at the least.
fn ring_radius(n: usize) -> f64 {
    if n <= 1 {
        0.0
    } else {
        (n as f64 * (2.0 * NODE_R + 30.0) / std::f64::consts::TAU).max(80.0)
    }
}

/// Width and height of the drawing of an `n`-transaction cycle: [`CYCLE_W`] x 240 up to the
/// ring that fits there, then as large as the ring needs.
pub fn cycle_size(n: usize) -> (f64, f64) {
    let side = 2.0 * (ring_radius(n) + NODE_R + 40.0);
    (side.max(CYCLE_W), side.max(240.0))
}

/// The cycle of an example: transactions (by name, T1..Tn) on a ring that grows with the
/// cycle, an arrow per dependency in its kind's colour (arrowhead too), its label beside its
/// own edge, outside the ring (a two-way pair's second edge inside). Empty when the example is
/// not a cycle.
pub fn cycle(names: &[&str], edges: &[Edge]) -> String {
    if edges.is_empty() || names.is_empty() {
        return String::new();
    }
    let n = names.len();
    let (w, h) = cycle_size(n);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let r = ring_radius(n);
    let pos = |i: usize| {
        let a = -std::f64::consts::FRAC_PI_2 + i as f64 * std::f64::consts::TAU / n as f64;
        (cx + r * a.cos(), cy + r * a.sin())
    };
    let index = |name: &str| names.iter().position(|t| *t == name);
    let colour = |kind: &str| match kind {
        "rw" => "#c62828",
        "wr" => "#2e7d32",
        "ww" => "#1565c0",
        _ => "#6d4c41",
    };
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="cycle" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="dependency cycle"><defs>"##
    );
    for c in ["#c62828", "#2e7d32", "#1565c0", "#6d4c41"] {
        s.push_str(&format!(
            r##"<marker id="arrow-{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>"##,
            &c[1..]
        ));
    }
    s.push_str("</defs>");
    let node_r = NODE_R;
    let pairs: Vec<(usize, usize)> = edges
        .iter()
        .filter_map(|e| Some((index(&e.from)?, index(&e.to)?)))
        .collect();
    for e in edges {
        let (Some(a), Some(b)) = (index(&e.from), index(&e.to)) else {
            continue;
        };
        if a == b {
            continue;
        }
        let ((x1, y1), (x2, y2)) = (pos(a), pos(b));
        let colour = colour(&e.kind);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        let (sx, sy) = (x1 + ux * node_r, y1 + uy * node_r);
        let (ex, ey) = (x2 - ux * (node_r + 2.0), y2 - uy * (node_r + 2.0));
        // The side the edge bows to: away from the centre, unless the pair goes both ways, in
        // which case each edge keeps its own side (one out, one in) so neither hides the other.
        let (mut nx, mut ny) = (-uy, ux);
        let (midx, midy) = ((sx + ex) / 2.0, (sy + ey) / 2.0);
        let two_way = pairs.contains(&(b, a));
        let outward = nx * (midx - cx) + ny * (midy - cy);
        if !two_way && outward < 0.0 {
            (nx, ny) = (-nx, -ny);
        }
        let bow = if n == 2 || two_way { 30.0 } else { 18.0 };
        let (mx, my) = (midx + nx * bow, midy + ny * bow);
        // The label sits beside the curve's middle (half the control point's offset), on its side.
        let off = bow / 2.0 + 13.0;
        s.push_str(&format!(
            r#"<path d="M{sx:.1},{sy:.1} Q{mx:.1},{my:.1} {ex:.1},{ey:.1}" fill="none" stroke="{colour}" stroke-width="2" marker-end="url(#arrow-{})"/><text x="{:.1}" y="{:.1}" font-family="sans-serif" font-size="12" font-weight="bold" fill="{colour}" text-anchor="middle">{}</text>"#,
            &colour[1..],
            midx + nx * off,
            midy + ny * off + 4.0,
            escape(&e.kind)
        ));
    }
    for (i, t) in names.iter().enumerate() {
        let (x, y) = pos(i);
        s.push_str(&format!(
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="{node_r}" fill="#eef3fb" stroke="#1f3b64" stroke-width="1.5"/><text x="{x:.1}" y="{:.1}" font-family="sans-serif" font-size="13" font-weight="bold" fill="#1f3b64" text-anchor="middle">{}</text>"##,
            y + 4.5,
            escape(t)
        ));
    }
    s.push_str("</svg>");
    s
}
