//! The verdict, once: what a check (and, for a run, the server's health) comes to, as one typed
//! summary that every renderer reads, and its plain-text rendering.
//!
//! Why: the same verdict used to be worded in four places (`run`'s summary, `check`'s text, the
//! HTML and the Markdown report), and the copies drifted ("none shown" here, "none" there). The
//! renderers now differ in markup only: the words for an empty model list, the order of the
//! lines and which facts are shown come from here.

use crate::checker::{model, Anomaly, AnomalySet, CheckResult, Model, ModelStatus, Validity};
use crate::faults::health::HealthFinding;

/// A run's verdict from its check's and its health findings: any finding makes it invalid,
/// except a server refusing to go on after a disk error ([`crate::faults::health::refusals`]).
pub fn overall(check: Validity, health: &[HealthFinding]) -> Validity {
    if crate::faults::health::refusals(health).contains(&false) {
        Validity::Invalid
    } else {
        check
    }
}

/// What a history was found to be, for people.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VerdictSummary {
    /// The verdict: the check's (isolation and durability), made invalid by any health finding.
    pub overall: Validity,
    /// The models the history was held to.
    pub held_to: Vec<Model>,
    /// The verdict on isolation alone: invalid if a model held to is ruled out, valid if all
    /// are consistent, unknown otherwise.
    pub isolation: Validity,
    /// Anomaly types found, with how many of each.
    pub found: Vec<(Anomaly, usize)>,
    /// Models the anomalies rule out.
    pub rules_out: Vec<Model>,
    /// The strongest models the history is consistent with (none, if empty).
    pub strongest: Vec<Model>,
    /// Anomaly types the search could not decide (cut short by its budget).
    pub undecided: Vec<Anomaly>,
    /// Models left unknown because the history was held to a weaker one, so the anomalies
    /// only they forbid were not searched (strict-serializable, for a repeatable-read run).
    pub not_checked: Vec<Model>,
    /// Whether acknowledged writes were in the final reads, if that was checked.
    pub durability: Option<Validity>,
    /// Health findings (crashes, corruption, a server that did not come back); none for a
    /// history checked on its own. Each makes the verdict invalid.
    pub health_findings: usize,
    /// Findings that are the server refusing to go on after a disk error, by design; they do
    /// not lower the verdict.
    pub refusals: usize,
    /// The checker's notes.
    pub notes: Vec<String>,
}

impl VerdictSummary {
    /// The verdict of a check of a history on its own.
    pub fn of_check(r: &CheckResult) -> VerdictSummary {
        VerdictSummary::of_run(r, &[])
    }

    /// The verdict of a run: its check, and the health watch's findings.
    pub fn of_run(r: &CheckResult, health: &[HealthFinding]) -> VerdictSummary {
        let status = |m: &Model| r.model_status.get(m.name());
        let refused = crate::faults::health::refusals(health);
        let isolation = if r
            .models
            .iter()
            .any(|m| status(m) == Some(&ModelStatus::RuledOut))
        {
            Validity::Invalid
        } else if r
            .models
            .iter()
            .all(|m| status(m) == Some(&ModelStatus::Consistent))
        {
            Validity::Valid
        } else {
            Validity::Unknown
        };
        VerdictSummary {
            overall: overall(r.valid, health),
            held_to: r.models.clone(),
            isolation,
            found: r.anomalies.iter().map(|(a, g)| (*a, g.count)).collect(),
            rules_out: r.not.clone(),
            strongest: r.strongest_model.clone(),
            undecided: r.undecided.clone(),
            not_checked: not_checked(r),
            durability: r.durability.as_ref().map(|d| d.valid),
            health_findings: refused.iter().filter(|r| !**r).count(),
            refusals: refused.iter().filter(|r| **r).count(),
            notes: r.notes.clone(),
        }
    }

    /// The anomalies found, for people: `G2-item (3), lost-update (1)`.
    pub fn found_text(&self) -> String {
        self.found
            .iter()
            .map(|(a, n)| format!("{a} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `undecided (search cut short): G2-item`, if any type was undecided.
    pub fn undecided_text(&self) -> Option<String> {
        (!self.undecided.is_empty()).then(|| {
            let u: Vec<&str> = self.undecided.iter().map(|a| a.name()).collect();
            format!("undecided (search cut short): {}", u.join(", "))
        })
    }

    /// `strongest model consistent with the history: snapshot-isolation`.
    pub fn strongest_text(&self) -> String {
        format!(
            "strongest model consistent with the history: {}",
            self.strongest_words()
        )
    }

    /// The same, short, for a matrix cell: `consistent with: snapshot-isolation`.
    pub fn consistent_with_text(&self) -> String {
        format!("consistent with: {}", self.strongest_words())
    }

    /// The strongest models, or why there are none: with no anomaly found, an empty list means
    /// nothing could be checked (no read, say), which is unknown, not "none".
    fn strongest_words(&self) -> String {
        if self.strongest.is_empty() && self.found.is_empty() {
            "unknown (no read to check it by)".into()
        } else {
            model_list(&self.strongest)
        }
    }

    /// The server's health in words: `health ok`, `2 health findings`, with the refusals
    /// after disk errors said apart (`refused to go on after a disk error ×5, by design`).
    pub fn health_text(&self) -> String {
        let mut s = match self.health_findings {
            0 => "health ok".to_string(),
            1 => "1 health finding".to_string(),
            n => format!("{n} health findings"),
        };
        if self.refusals > 0 {
            s.push_str(&format!(
                "; refused to go on after a disk error ×{}, by design",
                self.refusals
            ));
        }
        s
    }

    /// What the history was held to and what that left unchecked, for a matrix cell:
    /// `held to repeatable-read; strict-serializable not checked`.
    pub fn held_to_text(&self) -> String {
        self.held_to_sentence("held to")
    }

    /// The lede of a run's anomalies: `Found lost-update (3); rules out repeatable-read, ...
    /// Held to repeatable-read.`
    pub fn found_sentence(&self) -> String {
        format!(
            "Found {}; rules out {}. {}.",
            self.found_text(),
            model_list(&self.rules_out),
            self.held_to_sentence("Held to")
        )
    }

    fn held_to_sentence(&self, opening: &str) -> String {
        let mut s = format!("{opening} {}", model_list(&self.held_to));
        if !self.not_checked.is_empty() {
            s.push_str(&format!("; {} not checked", model_list(&self.not_checked)));
        }
        s
    }

    /// What was checked, for a run's card: `Held to repeatable-read; strongest model consistent
    /// with the history: none; every stronger model was checked too`, or, instead of the last
    /// part, which were not checked and why.
    pub fn checked_text(&self) -> String {
        let stronger = if self.not_checked.is_empty() {
            "every stronger model was checked too".to_string()
        } else {
            format!(
                "not checked: {} (the anomalies only it forbids were not searched)",
                model_list(&self.not_checked)
            )
        };
        format!(
            "Held to {}; {}; {stronger}",
            model_list(&self.held_to),
            self.strongest_text()
        )
    }

    /// The lines every text verdict has, each ending in a newline: isolation against the
    /// models held to, what was found and what it rules out, what was undecided, the strongest
    /// model, the notes.
    pub fn text(&self) -> String {
        let mut t = format!(
            "isolation against {}: {}\n",
            model_list(&self.held_to),
            self.isolation.to_string().to_uppercase()
        );
        if !self.found.is_empty() {
            t.push_str(&format!("found: {}\n", self.found_text()));
            t.push_str(&format!("rules out: {}\n", model_list(&self.rules_out)));
        }
        if let Some(u) = self.undecided_text() {
            t.push_str(&format!("{u}\n"));
        }
        t.push_str(&format!("{}\n", self.strongest_text()));
        for n in &self.notes {
            t.push_str(&format!("note: {n}\n"));
        }
        t
    }

    /// The closing line: `verdict: INVALID (isolation invalid, durability valid, health ok)`;
    /// health is named only where it was watched (`managed`).
    pub fn verdict_line(&self, managed: bool) -> String {
        let mut parts = vec![format!("isolation {}", self.isolation)];
        if let Some(d) = self.durability {
            parts.push(format!("durability {d}"));
        }
        if managed {
            parts.push(self.health_text());
        }
        format!(
            "verdict: {} ({})\n",
            self.overall.to_string().to_uppercase(),
            parts.join(", ")
        )
    }
}

/// The models whose status is unknown only because some anomaly they forbid was not searched.
fn not_checked(r: &CheckResult) -> Vec<Model> {
    let unsearched: AnomalySet = r.not_checked.iter().copied().collect();
    Model::ALL
        .into_iter()
        .filter(|m| r.model_status.get(m.name()) == Some(&ModelStatus::Unknown))
        .filter(|m| m.forbidden().intersects(unsearched))
        .collect()
}

/// Models for people: `repeatable-read, serializable`, or `none` for an empty list (the one
/// word every renderer uses).
pub fn model_list(ms: &[Model]) -> String {
    if ms.is_empty() {
        "none".into()
    } else {
        model::names(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{check, CheckOptions};
    use crate::history::read::read_history_str;

    #[test]
    fn an_empty_strongest_model_is_none_and_health_lowers_the_verdict() {
        // Two transactions each appending where the other read nothing: G2-item under
        // serializable; consistent only with weaker models.
        let h = read_history_str(
            "skew.jsonl",
            r#"{"index":0,"type":"invoke","process":0,"f":"txn","value":[["r",1,null],["append",2,1]]}
{"index":1,"type":"invoke","process":1,"f":"txn","value":[["r",2,null],["append",1,1]]}
{"index":2,"type":"ok","process":0,"f":"txn","value":[["r",1,[]],["append",2,1]]}
{"index":3,"type":"ok","process":1,"f":"txn","value":[["r",2,[]],["append",1,1]]}
"#,
        )
        .unwrap();
        let r = check(
            &h,
            &CheckOptions {
                models: vec![Model::Serializable],
                ..CheckOptions::default()
            },
        )
        .unwrap();
        let v = VerdictSummary::of_check(&r);
        assert_eq!(
            (v.overall, v.isolation),
            (Validity::Invalid, Validity::Invalid)
        );
        assert!(v.text().contains("rules out: "), "{}", v.text());
        assert_eq!(model_list(&[]), "none");
        let finding = HealthFinding {
            kind: crate::faults::health::HealthKind::ExitedOnItsOwn,
            at_s: 1.0,
            message: "gone".into(),
            excerpt: String::new(),
        };
        let mut valid = r.clone();
        valid.valid = Validity::Valid;
        let v = VerdictSummary::of_run(&valid, &[finding]);
        assert_eq!(v.overall, Validity::Invalid);
        assert!(v.verdict_line(true).ends_with("1 health finding)\n"));
    }
}
