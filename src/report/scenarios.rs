//! The scenarios in the report: per target, Hermitage's tests by isolation level with MySQL 5.6's
//! published answers beside them, a sentence for every cell where the two differ, and each cell
//! as a step-by-step timeline.
//!
//! The timeline follows the worked examples' idea ([`super::timeline`]): a column per session,
//! rows in the order the statements were sent, a statement that blocked drawn as a block down to
//! the step during which it returned. A statement sent after later steps (its session was still
//! blocked) is placed where it was sent: right after its session's blocked statement returned.
//!
//! Invariant: everything comes from `scenarios.json` ([`Results`]); the only text not in it is
//! the scenario's title (for built-in scenarios) and the why of a known difference.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use super::html::esc;
use super::ReportError;
use crate::scenario::runner::{Outcome, SessionEnd, StepRecord};
use crate::scenario::{table, Cell, Expected, How, Results, ServerInfo, Verdict};
use crate::server::Flavor;
use crate::workload::Isolation;

/// The file `compare` writes into the report folder, and `report` reads back.
pub const SCENARIOS_JSON: &str = crate::scenario::results_file::JSON;

/// The scenario results in `paths` (each path's `scenarios.json`), merged in the order given
/// ([`crate::scenario::results_file::find`]).
pub fn find(paths: &[PathBuf]) -> Result<Option<Results>, ReportError> {
    crate::scenario::results_file::find(paths)
        .map_err(|(path, message)| ReportError::Run { path, message })
}

/// The anchor of a cell's timeline: `sc-0-p4-repeatable-read` (server index, scenario, level).
pub fn anchor(server: usize, c: &Cell) -> String {
    let name: String = c
        .scenario
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() {
                ch.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("sc-{server}-{name}-{}", c.isolation.name())
}

fn find_cell<'r>(cells: &[&'r Cell], scenario: &str, level: Isolation) -> Option<&'r Cell> {
    cells
        .iter()
        .find(|c| c.scenario == scenario && c.isolation == level)
        .copied()
}

/// `prevented (1213)`, `anomaly`, `error`.
pub fn verdict_text(c: &Cell) -> String {
    match (c.verdict, c.how) {
        (Verdict::Prevented, Some(h)) => format!("prevented ({})", h.short()),
        (v, _) => v.name().to_string(),
    }
}

fn expected_word(e: Expected) -> &'static str {
    match e {
        Expected::Anomaly => "anomaly",
        Expected::Prevented => "prevented",
        Expected::Untested => "–",
    }
}

fn expected_letter(e: Expected) -> &'static str {
    match e {
        Expected::Anomaly => "A",
        Expected::Prevented => "P",
        Expected::Untested => "-",
    }
}

/// What stopped the anomaly, in words.
fn how_words(h: How) -> &'static str {
    match h {
        How::BlockedThenSerialized => {
            "a statement waited on the other transaction's lock and ran after it ended, so the two ran one after the other"
        }
        How::Deadlock => "the server broke a lock cycle by rolling one transaction back (1213)",
        How::RecordChanged => {
            "a write to a row changed since the transaction's snapshot failed with 1020 and rolled it back"
        }
        How::LockWaitTimeout => "a lock wait timed out (1205)",
        How::CommitRefused => "COMMIT was refused",
        How::Isolated => {
            "nothing blocked or failed: each session read only what it was allowed to see"
        }
    }
}

/// Why a cell's verdict differs from Hermitage's MySQL 5.6 answer, in a sentence: the known
/// reasons first (Dolt ignores levels; `innodb_snapshot_isolation`; Hermitage's row gives one
/// answer per anomaly, not per interleaving), else what this server did.
pub fn why_differs(c: &Cell, flavor: Flavor) -> String {
    let level = c.isolation.name();
    let spec = flavor.spec();
    if let Some(ignored) = spec.levels_ignored() {
        let name = spec.display_name();
        return match (c.verdict, c.how) {
            (Verdict::Anomaly, _) => format!(
                "{name} accepts {level} but does not use it: {}, and {}, so {} goes through{}.",
                ignored.instead,
                ignored.reads,
                c.anomaly,
                if c.scenario == "p4" {
                    format!(" ({})", ignored.same_value)
                } else {
                    String::new()
                }
            ),
            (_, Some(How::CommitRefused)) => format!(
                "{name} does not use the level: at every level {}, and {}.",
                ignored.snapshot, ignored.refused
            ),
            (_, Some(h)) => format!(
                "{name} does not use the level: at every level {}; {}.",
                ignored.snapshot,
                how_words(h)
            ),
            _ => format!("{name} does not use the level."),
        };
    }
    match (c.verdict, c.how) {
        (Verdict::Prevented, Some(How::RecordChanged)) => format!(
            "innodb_snapshot_isolation=ON: at {level}, {}; MySQL 5.6 (and MariaDB with the \
             setting OFF, its default before 11.6.2) let the write overwrite the row.",
            how_words(How::RecordChanged)
        ),
        (Verdict::Prevented, Some(How::BlockedThenSerialized))
            if c.isolation == Isolation::ReadUncommitted =>
        {
            "Hermitage's MySQL 5.6 row gives one answer per anomaly and level; in this \
             interleaving at read uncommitted the reader saw the writer's uncommitted rows, \
             and its write waited for the writer's lock and then acted on what it had read: \
             the two ran as one after the other."
                .into()
        }
        (Verdict::Prevented, Some(h)) => format!(
            "{} prevented it where Hermitage found MySQL 5.6 did not: {}.",
            c.server,
            how_words(h)
        ),
        (Verdict::Anomaly, _) => format!(
            "{} let it through where Hermitage found MySQL 5.6 prevented it at {level}.",
            c.server
        ),
        _ => String::new(),
    }
}

/// A statement's result in a few words: rows, rows changed, or the error.
fn result_text(o: &Outcome) -> String {
    match o {
        Outcome::Ok {
            rows: Some(rows), ..
        } if rows.is_empty() => "no rows".into(),
        Outcome::Ok {
            rows: Some(rows), ..
        } => rows
            .iter()
            .map(|r| {
                let vals: Vec<String> = r
                    .iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        v => v.to_string(),
                    })
                    .collect();
                format!("({})", vals.join(", "))
            })
            .collect::<Vec<_>>()
            .join(" "),
        Outcome::Ok {
            affected: Some(n), ..
        } => format!("ok, {n} row{} changed", if *n == 1 { "" } else { "s" }),
        Outcome::Ok { .. } => "ok".into(),
        Outcome::Error { code, message } => {
            let m: String = message.chars().take(90).collect();
            let cut = if message.chars().count() > 90 {
                "…"
            } else {
                ""
            };
            format!("error {code}: {m}{cut}")
        }
        Outcome::Skipped { because } => format!("not sent: {because}"),
        Outcome::NoAnswer => "no answer".into(),
    }
}

fn end_text(e: SessionEnd) -> String {
    match e {
        SessionEnd::Committed => "committed".into(),
        SessionEnd::RolledBack => "rolled back".into(),
        SessionEnd::Aborted { code } => format!("rolled back by error {code}"),
        SessionEnd::CommitRefused { code } => format!("COMMIT refused ({code})"),
        SessionEnd::LeftOpen => "left open (rolled back by the runner)".into(),
    }
}

/// How session `p` of a cell ended, in words.
fn session_end(c: &Cell, p: &str) -> String {
    c.sessions
        .iter()
        .find(|(s, _)| s == p)
        .map(|(_, e)| end_text(*e))
        .unwrap_or_default()
}

/// The steps in the order they were sent: a deferred step goes right after the step during
/// which its session's previous statement returned (that is when it was sent).
pub fn send_order(steps: &[StepRecord]) -> Vec<&StepRecord> {
    let mut keyed: Vec<((usize, u8, usize), &StepRecord)> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let at = if s.deferred {
            steps[..i]
                .iter()
                .rev()
                .find(|p| p.session == s.session)
                .and_then(|p| p.returned_during)
                .map_or(s.step, |r| r.max(s.step))
        } else {
            s.step
        };
        keyed.push(((at, u8::from(s.deferred), s.step), s));
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, s)| s).collect()
}

/// The sessions of a cell, in order.
fn sessions(c: &Cell) -> Vec<String> {
    let mut out: Vec<String> = c.sessions.iter().map(|(s, _)| s.clone()).collect();
    for s in &c.steps {
        if !out.contains(&s.session) {
            out.push(s.session.clone());
        }
    }
    out
}

/// The sessions of a cell that have no begin step of their own: the runner begins each of them
/// before step 1 (an implicit `BEGIN`), and a timeline shows that as it shows a begin step.
fn implicit_begins(c: &Cell) -> Vec<String> {
    let is_begin = |sql: &str| {
        matches!(
            sql.trim()
                .trim_end_matches(';')
                .to_ascii_lowercase()
                .as_str(),
            "begin" | "start transaction"
        )
    };
    sessions(c)
        .into_iter()
        .filter(|p| !c.steps.iter().any(|s| s.session == *p && is_begin(&s.sql)))
        .collect()
}

fn final_text(c: &Cell) -> String {
    let rows = Outcome::Ok {
        rows: Some(c.final_rows.clone()),
        affected: None,
    };
    result_text(&rows)
}

/// Titles of the built-in scenarios, by name.
fn titles() -> BTreeMap<String, (String, String)> {
    crate::scenario::builtin()
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            let about = s.about.split_whitespace().collect::<Vec<_>>().join(" ");
            (s.name.clone(), (s.title.clone(), about))
        })
        .collect()
}

const CSS: &str = "<style>
table.scenarios td.sc-anomaly { background:#fdf0f0; } table.scenarios td.sc-prevented { background:#f1f8f2; } table.scenarios td.sc-error { background:#fdf8e8; }
table.scenarios td.mysql56, table.scenarios th.mysql56 { background:#f4f5f8; color:var(--muted); }
table.scenarios td.mysql56 { white-space:nowrap; font-size:12.5px; }
table.scenarios th, table.scenarios td { overflow-wrap:normal; }
table.scenarios td.differs { outline:2px solid #8d6e00; outline-offset:-2px; }
.tl-txn.blocked { border-left-color:#ef6c00; border-style:dashed; background:repeating-linear-gradient(135deg,#fff8ef,#fff8ef 6px,#fdfaf5 6px,#fdfaf5 12px); }
.tl-txn.skipped { opacity:.55; border-left-color:#9e9e9e; }
.tl-end { font-size:12.5px; font-weight:600; border-top:1px solid var(--line); padding-top:3px; }
</style>";

/// The table of contents entry.
pub fn toc_html(out: &mut String, r: &Results) {
    out.push_str(
        r##"<li><a href="#scenarios">Scenarios: Hermitage's tests, step by step</a><ol>"##,
    );
    for (i, s) in r.servers.iter().enumerate() {
        let _ = write!(
            out,
            r##"<li><a href="#sc-{i}">{} · {}</a></li>"##,
            esc(&s.server),
            esc(&s.target)
        );
    }
    out.push_str("</ol></li>");
}

const LEDE: &str = "Hermitage's tests (Martin Kleppmann's, one per anomaly), each run on a fresh \
    database at every isolation level on every server: a fixed interleaving of a few sessions' \
    statements, each session on its own connection. A cell says whether the anomaly showed \
    (what the sessions read, who committed and the final table match the scenario's \
    description of it) or was prevented, and how: blocked (a statement waited on a lock and ran \
    after the other transaction), 1213 (deadlock), 1020 (record changed since the snapshot), \
    1205 (lock wait timeout), commit refused, or isolated (nothing blocked or failed; each \
    session saw only what it may). Beside each server's columns is Hermitage's published \
    answer for MySQL 5.6 at the same level; a framed cell differs from it, and the sentence \
    below the table says why. Each cell links to its timeline.";

/// The scenarios section of the HTML page.
pub fn html(out: &mut String, r: &Results) {
    out.push_str(CSS);
    let _ = write!(
        out,
        r#"<h2 id="scenarios">Scenarios: Hermitage's tests, step by step</h2><p class="lede">{}</p>"#,
        esc(LEDE)
    );
    let titles = titles();
    for (i, info) in r.servers.iter().enumerate() {
        server_table_html(out, r, i, info, &titles);
    }
    for (i, info) in r.servers.iter().enumerate() {
        let _ = write!(
            out,
            r#"<h3 id="sc-{i}-timelines">Timelines: {} · {}</h3>"#,
            esc(&info.server),
            esc(&info.target)
        );
        for c in r.cells_of(info) {
            timeline_html(out, i, c, info.flavor, &titles);
        }
    }
}

fn server_table_html(
    out: &mut String,
    r: &Results,
    i: usize,
    info: &ServerInfo,
    titles: &BTreeMap<String, (String, String)>,
) {
    let cells = r.cells_of(info);
    let _ = write!(
        out,
        r#"<h3 id="sc-{i}">{} · <code>{}</code>{}</h3>"#,
        esc(&info.server),
        esc(&info.target),
        info.external_mark()
    );
    let _ = write!(
        out,
        r#"<p class="muted">Level asked → level the session reported: {}.</p>"#,
        esc(&table::reported(r, &cells, "→"))
    );
    if let Some((head, rest)) = table::levels_ignored_note(info.flavor) {
        let _ = write!(out, "<p><b>{}:</b> {}</p>", esc(&head), esc(&rest));
    }
    let n = r.levels.len();
    let _ = write!(
        out,
        r#"<div class="wide"><table class="scenarios" id="sc-table-{i}"><thead><tr><th rowspan="2">scenario</th><th colspan="{n}">{}</th><th class="mysql56" colspan="{n}">MySQL 5.6 (Hermitage)</th></tr><tr>"#,
        esc(&info.target)
    );
    // Spaces, not hyphens, so that narrow columns break between words.
    for l in &r.levels {
        let _ = write!(out, "<th>{}</th>", l.name().replace('-', " "));
    }
    for l in &r.levels {
        let _ = write!(
            out,
            r#"<th class="mysql56">{}</th>"#,
            l.name().replace('-', " ")
        );
    }
    out.push_str("</tr></thead><tbody>");
    for (name, anomaly) in &r.scenarios {
        let title = titles.get(name).map(|t| t.0.as_str()).unwrap_or_default();
        let _ = write!(
            out,
            r#"<tr><th>{} <span class="muted">{}{}{}</span></th>"#,
            esc(name),
            esc(anomaly),
            if title.is_empty() { "" } else { ", " },
            esc(title)
        );
        let row: Vec<Option<&Cell>> = r
            .levels
            .iter()
            .map(|l| find_cell(&cells, name, *l))
            .collect();
        for c in &row {
            match c {
                Some(c) => {
                    let _ = write!(
                        out,
                        r##"<td class="sc sc-{}{}"><a href="#{}">{}</a>{}</td>"##,
                        c.verdict.name(),
                        if c.differs_from_mysql56() {
                            " differs"
                        } else {
                            ""
                        },
                        anchor(i, c),
                        esc(&verdict_text(c)),
                        if c.checker.as_ref().is_some_and(|k| !k.agrees) {
                            r#" <span class="muted" title="the checker disagrees">!</span>"#
                        } else {
                            ""
                        }
                    );
                }
                None => out.push_str(r#"<td title="not run">–</td>"#),
            }
        }
        for c in &row {
            let e = c.map_or(Expected::Untested, |c| c.mysql56);
            let _ = write!(
                out,
                r#"<td class="mysql56"{}>{}</td>"#,
                if e == Expected::Untested {
                    r#" title="not tested by Hermitage""#
                } else {
                    ""
                },
                expected_word(e)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out.push_str(KEY_HTML);
    let notes = notes(&cells, info.flavor);
    if notes.is_empty() {
        out.push_str(r#"<p class="muted">Every cell agrees with Hermitage's MySQL 5.6 row where it tested the same level.</p>"#);
    } else {
        out.push_str(r#"<ul class="notes">"#);
        for (cs, text) in notes {
            let links: Vec<String> = cs
                .iter()
                .map(|c| {
                    format!(
                        r##"<a href="#{}">{}</a>"##,
                        anchor(i, c),
                        esc(&cell_name(c))
                    )
                })
                .collect();
            let _ = write!(out, "<li>{}: {}</li>", links.join(", "), esc(&text));
        }
        out.push_str("</ul>");
    }
}

/// The key under a server's scenario table: what its marks mean.
const KEY_HTML: &str = r#"<p class="muted">– in a MySQL 5.6 column: Hermitage did not test that scenario at that level; in a level column: not run. ! : the checker disagrees with the scenario's verdict (the notes below say how). An outlined cell differs from MySQL 5.6.</p>"#;

/// What to say under a server's table: each cell that differs from MySQL 5.6 and why, each
/// cell the checker disagrees with, each cell that could not run. Cells that get the same
/// words share one note (Dolt's differ from MySQL 5.6 for one reason in a dozen cells).
fn notes<'c>(cells: &[&'c Cell], flavor: Flavor) -> Vec<(Vec<&'c Cell>, String)> {
    let mut out: Vec<(Vec<&'c Cell>, String)> = Vec::new();
    let mut add = |c: &'c Cell, text: String| match out.iter_mut().find(|(_, t)| *t == text) {
        Some((cs, _)) => cs.push(c),
        None => out.push((vec![c], text)),
    };
    for c in cells {
        if c.differs_from_mysql56() {
            add(
                c,
                format!(
                    "{} here, {} in MySQL 5.6. {}",
                    verdict_text(c),
                    expected_word(c.mysql56),
                    why_differs(c, flavor)
                ),
            );
        }
        if let Some(k) = c.checker.as_ref().filter(|k| !k.agrees) {
            add(
                c,
                k.disagreement(
                    c.verdict == Verdict::Anomaly,
                    &crate::scenario::checker_names(&c.scenario),
                ),
            );
        }
        if c.verdict == Verdict::Refused {
            add(
                c,
                format!(
                    "the server refused the level: {}",
                    c.note.as_deref().unwrap_or("no reason")
                ),
            );
        }
        if c.verdict == Verdict::Error {
            add(
                c,
                format!(
                    "could not run: {}",
                    c.note.as_deref().unwrap_or("no reason")
                ),
            );
        }
    }
    out
}

/// `p4 at repeatable-read`: a cell as a note names it.
fn cell_name(c: &Cell) -> String {
    format!("{} at {}", c.scenario, c.isolation.name())
}

fn timeline_html(
    out: &mut String,
    i: usize,
    c: &Cell,
    flavor: Flavor,
    titles: &BTreeMap<String, (String, String)>,
) {
    let _ = write!(
        out,
        r##"<details class="card" id="{}"><summary><h4>{} · {} ({}) · {}: {}</h4></summary><p class="back"><a href="#sc-table-{i}">↑ the table</a></p>"##,
        anchor(i, c),
        esc(&c.target),
        esc(&c.scenario),
        esc(&c.anomaly),
        c.isolation.name(),
        esc(&verdict_text(c))
    );
    if let Some((title, about)) = titles.get(&c.scenario) {
        let _ = write!(
            out,
            r#"<p class="explain"><b>{}.</b> {}</p>"#,
            esc(title),
            esc(about)
        );
    }
    if c.differs_from_mysql56() {
        let _ = write!(
            out,
            r#"<p class="muted">MySQL 5.6 (Hermitage): {}. {}</p>"#,
            expected_word(c.mysql56),
            esc(&why_differs(c, flavor))
        );
    }
    let procs = sessions(c);
    let order = send_order(&c.steps);
    // The first grid row is the heads; then the implicit begins, if any; then the steps.
    let implicit = implicit_begins(c);
    let first = if implicit.is_empty() { 2 } else { 3 };
    let row_of = |step: usize| order.iter().position(|s| s.step == step).map(|p| p + first);
    let last = order.len() + first;
    let heads: Vec<String> = procs.iter().map(|p| format!("session {p}")).collect();
    super::timeline::grid_open(out, "step", &heads);
    if !implicit.is_empty() {
        out.push_str(r#"<div class="tl-time" style="grid-column:1;grid-row:2">before 1</div>"#);
        for p in &implicit {
            let col = procs.iter().position(|q| q == p).unwrap_or(0) + 2;
            let _ = write!(
                out,
                r#"<div class="tl-txn" style="grid-column:{col};grid-row:2 / 3"><ol class="sql"><li><code>BEGIN;</code> <span class="ret">→ ok</span></li></ol></div>"#
            );
        }
    }
    for (n, s) in order.iter().enumerate() {
        let _ = write!(
            out,
            r#"<div class="tl-time" style="grid-column:1;grid-row:{}">{}{}</div>"#,
            n + first,
            s.step,
            if s.deferred { " (held)" } else { "" }
        );
    }
    for (n, s) in order.iter().enumerate() {
        let col = procs.iter().position(|p| *p == s.session).unwrap_or(0) + 2;
        let start = n + first;
        let end = if s.blocked {
            s.returned_during
                .and_then(row_of)
                .unwrap_or(last - 1)
                .max(start)
        } else {
            start
        };
        let class = match &s.outcome {
            Outcome::Error { .. } => "fail",
            Outcome::Skipped { .. } => "skipped",
            _ if s.blocked => "blocked",
            _ => "",
        };
        let _ = write!(
            out,
            r#"<div class="tl-txn {class}" style="grid-column:{col};grid-row:{start} / {}"><ol class="sql"><li><code>{};</code>"#,
            end + 1,
            esc(&s.sql)
        );
        if s.blocked {
            let _ = write!(
                out,
                r#" <span class="muted">blocked{}</span>"#,
                s.returned_during
                    .map(|r| format!(" until step {r}"))
                    .unwrap_or_default()
            );
        }
        if s.deferred {
            out.push_str(r#" <span class="muted">(held until its session's blocked statement returned)</span>"#);
        }
        let _ = write!(
            out,
            r#" <span class="ret">→ {}</span></li></ol></div>"#,
            esc(&result_text(&s.outcome))
        );
    }
    for (k, p) in procs.iter().enumerate() {
        let end = session_end(c, p);
        let _ = write!(
            out,
            r#"<div class="tl-end" style="grid-column:{};grid-row:{last}">{}</div>"#,
            k + 2,
            esc(&end)
        );
    }
    let _ = write!(
        out,
        r#"<div class="tl-time" style="grid-column:1;grid-row:{last}">end</div></div>"#
    );
    let _ = write!(
        out,
        r#"<p class="muted">Final table: {}.{}</p></details>"#,
        esc(&final_text(c)),
        c.note
            .as_ref()
            .map(|n| format!(" Could not run: {}.", esc(n)))
            .unwrap_or_default()
    );
}

/// The scenarios section of the Markdown report.
pub fn markdown(out: &mut String, r: &Results) {
    let _ = writeln!(out, "## Scenarios: Hermitage's tests, step by step\n");
    let _ = writeln!(out, "{LEDE}\n");
    let titles = titles();
    for (i, info) in r.servers.iter().enumerate() {
        let cells = r.cells_of(info);
        let _ = writeln!(
            out,
            "### {} · `{}`{}\n",
            info.server,
            info.target,
            info.external_mark()
        );
        let _ = writeln!(
            out,
            "Level asked → level the session reported: {}.\n",
            table::reported(r, &cells, "→")
        );
        if let Some((head, rest)) = table::levels_ignored_note(info.flavor) {
            let _ = write!(out, "**{head}:** {rest}\n\n");
        }
        out.push_str("| scenario |");
        for l in &r.levels {
            let _ = write!(out, " {} |", l.name());
        }
        out.push_str(" MySQL 5.6 (Hermitage) |\n|---|");
        for _ in &r.levels {
            out.push_str("---|");
        }
        out.push_str("---|\n");
        for (name, anomaly) in &r.scenarios {
            let _ = write!(out, "| {name} ({anomaly}) |");
            let mut mysql = Vec::new();
            for l in &r.levels {
                let c = find_cell(&cells, name, *l);
                match c {
                    Some(c) => {
                        let _ = write!(
                            out,
                            " [{}](#{}){}{} |",
                            verdict_text(c),
                            anchor(i, c),
                            if c.differs_from_mysql56() { " \\*" } else { "" },
                            if c.checker.as_ref().is_some_and(|k| !k.agrees) {
                                " !"
                            } else {
                                ""
                            }
                        );
                    }
                    None => out.push_str(" – |"),
                }
                mysql.push(expected_letter(c.map_or(Expected::Untested, |c| c.mysql56)));
            }
            let _ = writeln!(out, " {} |", mysql.join(" "));
        }
        out.push_str(
            "\n\\*: differs from MySQL 5.6 at that level. !: the checker disagrees (the notes \
             below say how). –: not run at that level. MySQL 5.6: A anomaly, P prevented, - not \
             tested by Hermitage, one letter per level.\n\n",
        );
        for (cs, text) in notes(&cells, info.flavor) {
            let links: Vec<String> = cs
                .iter()
                .map(|c| format!("[{}](#{})", cell_name(c), anchor(i, c)))
                .collect();
            let _ = writeln!(out, "- {}: {text}", links.join(", "));
        }
        out.push('\n');
        let _ = writeln!(
            out,
            "<details><summary>Timelines: {} · {}</summary>\n",
            info.server, info.target
        );
        for c in &cells {
            timeline_markdown(out, i, c, &titles);
        }
        out.push_str("</details>\n\n");
    }
}

fn timeline_markdown(
    out: &mut String,
    i: usize,
    c: &Cell,
    titles: &BTreeMap<String, (String, String)>,
) {
    let _ = writeln!(
        out,
        "<a id=\"{}\"></a>\n\n#### {} · {} ({}) · {}: {}\n",
        anchor(i, c),
        c.target,
        c.scenario,
        c.anomaly,
        c.isolation.name(),
        verdict_text(c)
    );
    if let Some((title, _)) = titles.get(&c.scenario) {
        let _ = writeln!(out, "{title}.\n");
    }
    let procs = sessions(c);
    let order = send_order(&c.steps);
    out.push_str("| step |");
    for p in &procs {
        let _ = write!(out, " {p} |");
    }
    out.push_str("\n|---|");
    for _ in &procs {
        out.push_str("---|");
    }
    out.push('\n');
    let implicit = implicit_begins(c);
    if !implicit.is_empty() {
        let row: Vec<&str> = procs
            .iter()
            .map(|p| {
                if implicit.contains(p) {
                    "`BEGIN` → ok"
                } else {
                    ""
                }
            })
            .collect();
        let _ = writeln!(out, "| before 1 | {} |", row.join(" | "));
    }
    // A blocked statement's column shows it waiting until the step it returned during.
    let mut waiting: Vec<Option<&StepRecord>> = vec![None; procs.len()];
    for s in &order {
        let col = procs.iter().position(|p| *p == s.session).unwrap_or(0);
        let mut row: Vec<String> = vec![String::new(); procs.len()];
        for (k, w) in waiting.iter_mut().enumerate() {
            if let Some(b) = *w {
                if b.returned_during == Some(s.step) {
                    row[k] = format!("↳ returned: {}", md_cell(&result_text(&b.outcome)));
                    *w = None;
                } else {
                    row[k] = "⋮ blocked".into();
                }
            }
        }
        let mut text = format!("`{}`", md_cell(&s.sql));
        if s.blocked && s.returned_during != Some(s.step) {
            text.push_str(" ⏳ blocked");
            waiting[col] = Some(s);
        } else {
            let _ = write!(text, " → {}", md_cell(&result_text(&s.outcome)));
        }
        row[col] = if row[col].is_empty() {
            text
        } else {
            format!("{}<br>{text}", row[col])
        };
        let _ = writeln!(
            out,
            "| {}{} | {} |",
            s.step,
            if s.deferred { " (held)" } else { "" },
            row.join(" | ")
        );
    }
    let ends: Vec<String> = procs
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let end = session_end(c, p);
            match waiting[k] {
                Some(b) => format!("↳ {}; {end}", md_cell(&result_text(&b.outcome))),
                None => end,
            }
        })
        .collect();
    let _ = writeln!(out, "| end | {} |\n", ends.join(" | "));
    let _ = writeln!(out, "Final table: {}.\n", final_text(c));
}

/// Text safe inside a Markdown table cell.
fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(
        step: usize,
        session: &str,
        blocked: bool,
        deferred: bool,
        during: usize,
    ) -> StepRecord {
        StepRecord {
            step,
            session: session.into(),
            sql: format!("s{step}"),
            read: None,
            blocked,
            deferred,
            returned_during: Some(during),
            outcome: Outcome::Ok {
                rows: None,
                affected: None,
            },
        }
    }

    /// p4 at repeatable read from the recorded fixture: MariaDB lost the update, as MySQL 5.6.
    fn p4_at_repeatable_read() -> Cell {
        let r: Results =
            serde_json::from_str(include_str!("../../tests/fixtures/runs/scenarios.json")).unwrap();
        r.cells
            .into_iter()
            .find(|c| c.scenario == "p4" && c.isolation == Isolation::RepeatableRead)
            .unwrap()
    }

    #[test]
    fn each_known_difference_has_its_own_reason() {
        let same = p4_at_repeatable_read();
        assert!(!same.differs_from_mysql56());
        assert!(notes(&[&same], Flavor::MariaDb).is_empty());
        // The same cell prevented by 1020: innodb_snapshot_isolation.
        let mut snap = same.clone();
        snap.verdict = Verdict::Prevented;
        snap.how = Some(How::RecordChanged);
        let why = why_differs(&snap, Flavor::MariaDb);
        assert!(why.starts_with("innodb_snapshot_isolation=ON"), "{why}");
        assert_eq!(notes(&[&snap], Flavor::MariaDb).len(), 1);
        // Dolt at serializable letting it through: the level is not used, and the same value
        // written twice merges.
        let mut dolt = same.clone();
        dolt.isolation = Isolation::Serializable;
        dolt.mysql56 = Expected::Prevented;
        let why = why_differs(&dolt, Flavor::Dolt);
        assert!(
            why.contains("does not use it") && why.contains("cell-wise merge"),
            "{why}"
        );
        // Dolt refusing a commit where MySQL 5.6 lost the update.
        let mut refused = snap.clone();
        refused.how = Some(How::CommitRefused);
        let why = why_differs(&refused, Flavor::Dolt);
        assert!(why.contains("refused at COMMIT"), "{why}");
    }

    #[test]
    fn every_session_starts_with_a_begin_in_the_timeline() {
        // p4's sessions have no begin step: both begin before step 1, and both show it.
        let c = p4_at_repeatable_read();
        let mut md = String::new();
        timeline_markdown(&mut md, 0, &c, &BTreeMap::new());
        assert!(
            md.contains("| before 1 | `BEGIN` → ok | `BEGIN` → ok |"),
            "{md}"
        );
        let mut html = String::new();
        timeline_html(&mut html, 0, &c, Flavor::MariaDb, &BTreeMap::new());
        assert_eq!(html.matches("<code>BEGIN;</code>").count(), 2, "{html}");
        // A session with a begin step of its own shows that step, and no implicit begin.
        let mut own = c.clone();
        let mut begin = own.steps[0].clone();
        begin.sql = "begin".into();
        begin.session = "T2".into();
        own.steps.insert(0, begin);
        let mut md = String::new();
        timeline_markdown(&mut md, 0, &own, &BTreeMap::new());
        assert!(md.contains("| before 1 | `BEGIN` → ok |  |"), "{md}");
        assert_eq!(implicit_begins(&own), vec!["T1".to_string()]);
    }

    #[test]
    fn the_table_explains_its_dash_and_the_checker_note_says_what_differs() {
        let r: Results =
            serde_json::from_str(include_str!("../../tests/fixtures/runs/scenarios.json")).unwrap();
        let mut html = String::new();
        super::html(&mut html, &r);
        assert!(
            html.contains("Hermitage did not test that scenario at that level"),
            "the key explains –"
        );
        let mut md = String::new();
        markdown(&mut md, &r);
        assert!(md.contains("- not tested by Hermitage"), "{md}");
        // A cell where the scenario and the checker both see an anomaly, under different names.
        let mut c = p4_at_repeatable_read();
        c.checker = Some(crate::scenario::history::CheckerView {
            valid: crate::scenario::history::Judged::Invalid,
            anomalies: vec!["internal".into()],
            agrees: false,
            note: None,
        });
        let n = notes(&[&c], Flavor::MariaDb);
        assert_eq!(n.len(), 1);
        assert!(
            n[0].1
                .contains("also finds it not serializable, but names internal, not lost-update"),
            "{}",
            n[0].1
        );
    }

    #[test]
    fn a_held_statement_is_placed_where_it_was_sent() {
        // T2's step 2 blocks until T1's commit (step 4); T2's step 3 is held until then.
        let steps = vec![
            step(1, "T1", false, false, 1),
            step(2, "T2", true, false, 4),
            step(3, "T2", false, true, 4),
            step(4, "T1", false, false, 4),
            step(5, "T1", false, false, 5),
        ];
        let order: Vec<usize> = send_order(&steps).iter().map(|s| s.step).collect();
        assert_eq!(order, vec![1, 2, 4, 3, 5]);
        // Without blocking, the scenario's order is the order sent.
        let plain: Vec<StepRecord> = (1..=4).map(|k| step(k, "T1", false, false, k)).collect();
        let order: Vec<usize> = send_order(&plain).iter().map(|s| s.step).collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
    }
}
