//! The plain-text table: per server, a row per scenario and a column per level.
//!
//! A cell reads `anomaly`, or `prevented` and how (`blocked`, `1213`, `1020`, `commit refused`,
//! `isolated`). A `*` marks a cell where Hermitage found the opposite for MySQL 5.6; a `!` a cell
//! where the checker disagrees with the scenario's own verdict.

use std::fmt::Write;

use super::spec::Expected;
use super::suite::{Cell, Results};
use super::verdict::Verdict;
use crate::server::Flavor;

/// The short text of one cell, with its marks.
pub fn cell_text(c: &Cell) -> String {
    let mut s = match (c.verdict, c.how) {
        (Verdict::Prevented, Some(h)) => format!("prevented ({})", h.short()),
        (v, _) => v.name().to_string(),
    };
    if c.differs_from_mysql56() {
        s.push_str(" *");
    }
    if c.checker.as_ref().is_some_and(|k| !k.agrees) {
        s.push_str(" !");
    }
    s
}

/// Each level asked for and the level a session of one server reported after setting it:
/// `read-committed -> READ-COMMITTED, ...` (`?` where no cell of that level ran).
pub fn reported(r: &Results, cells: &[&Cell], arrow: &str) -> String {
    r.levels
        .iter()
        .map(|l| {
            let rep = cells
                .iter()
                .find(|c| c.isolation == *l)
                .and_then(|c| c.reported_isolation.as_deref())
                .unwrap_or("?");
            format!("{} {arrow} {rep}", l.name())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The note beside the results of a server whose engine accepts every level but does not use
/// it ([`crate::server::FlavorSpec::levels_ignored`]), as a headline and the rest of the
/// sentence, so that a renderer can set the headline apart; `None` for an engine that uses
/// the level.
pub fn levels_ignored_note(flavor: Flavor) -> Option<(String, String)> {
    let spec = flavor.spec();
    let how = spec.levels_ignored()?;
    Some((
        format!(
            "{} accepts every isolation level and reports it back, but its engine does not use it",
            spec.display_name()
        ),
        format!("{}, so its columns can only agree.", how.instead),
    ))
}

/// The whole table, one block per server, with a legend.
pub fn render(r: &Results) -> String {
    let mut out = String::new();
    let name_w = r
        .scenarios
        .iter()
        .map(|(n, a)| n.len() + a.len() + 3)
        .max()
        .unwrap_or(8)
        .max(8);
    let col_w = 30;
    for info in &r.servers {
        let cells = r.cells_of(info);
        let _ = writeln!(
            out,
            "{} · {}{}",
            info.server,
            info.target,
            info.external_mark()
        );
        let _ = writeln!(
            out,
            "level asked -> level the session reports: {}",
            reported(r, &cells, "->")
        );
        if let Some((head, rest)) = levels_ignored_note(info.flavor) {
            let _ = writeln!(out, "{head}: {rest}");
        }
        let _ = write!(out, "\n{:name_w$}", "scenario");
        for l in &r.levels {
            let _ = write!(out, "  {:col_w$}", l.name());
        }
        let _ = writeln!(out, "  MySQL 5.6 (Hermitage)");
        for (name, anomaly) in &r.scenarios {
            let _ = write!(out, "{:name_w$}", format!("{name} ({anomaly})"));
            let mut mysql = Vec::new();
            for l in &r.levels {
                let c = cells
                    .iter()
                    .find(|c| c.scenario == *name && c.isolation == *l);
                let text = c.map(|c| cell_text(c)).unwrap_or_default();
                let _ = write!(out, "  {text:col_w$}");
                mysql.push(match c.map(|c| c.mysql56) {
                    Some(Expected::Anomaly) => "A",
                    Some(Expected::Prevented) => "P",
                    _ => "-",
                });
            }
            let _ = writeln!(out, "  {}", mysql.join(" "));
        }
        for c in cells.iter().filter(|c| c.verdict == Verdict::Error) {
            let _ = writeln!(
                out,
                "error in {} at {}: {}",
                c.scenario,
                c.isolation.name(),
                c.note.as_deref().unwrap_or("")
            );
        }
        // A refused level is refused the same way in every scenario: said once per level.
        let mut refused_levels = Vec::new();
        for c in cells.iter().filter(|c| c.verdict == Verdict::Refused) {
            if refused_levels.contains(&c.isolation) {
                continue;
            }
            refused_levels.push(c.isolation);
            let _ = writeln!(
                out,
                "refused at {}: {}",
                c.isolation.name(),
                c.note.as_deref().unwrap_or("")
            );
        }
        for c in cells
            .iter()
            .filter(|c| c.checker.as_ref().is_some_and(|k| !k.agrees))
        {
            if let Some(k) = &c.checker {
                let _ = writeln!(
                    out,
                    "in {} at {}: {}",
                    c.scenario,
                    c.isolation.name(),
                    k.disagreement(
                        c.verdict == Verdict::Anomaly,
                        &super::checker_names(&c.scenario)
                    )
                );
            }
        }
        out.push('\n');
    }
    out.push_str(LEGEND);
    out
}

const LEGEND: &str = "\
anomaly: the scenario's anomaly showed (what the sessions read, who committed and the final
  table match the scenario's description of it).
prevented (blocked): a statement waited on a lock until the other transaction ended, then ran
  after it; (1213): a deadlock rolled one transaction back; (1020): \"record has changed since
  last read\" rolled it back; (commit refused): COMMIT failed; (isolated): nothing blocked or
  failed, each session just saw what it may see.
*: Hermitage found the opposite for MySQL 5.6 at this level. !: the checker, given the same
  history, disagrees. MySQL 5.6 column: A anomaly, P prevented, - not tested, per level.
";
