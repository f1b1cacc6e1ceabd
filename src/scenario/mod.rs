//! Scenarios: Hermitage's tests, automated. Each anomaly as a fixed interleaving of a few
//! sessions' statements, run on a fresh database at every isolation level on every server, and
//! judged from what the sessions read, who committed and the final table.
//!
//! Why: a random workload finds the anomalies that happen to occur under load; a person choosing
//! a database or a setting wants the whole table, anomaly by level, and to see how each one was
//! stopped (a lock, a deadlock, an error at commit) or not.
//!
//! The parts, in the order data flows: [`spec`] (the file format and its parser), [`runner`]
//! (the sessions, one connection each, and blocked statements), [`verdict`] (anomaly or
//! prevented, and how), [`history`] (the same trace as an rw-register history for the checker,
//! where a scenario has only item reads and writes), [`suite`] (every cell on every server:
//! [`Results`]), [`results_file`] (`scenarios.json`, which holds them) and [`table`] (the
//! plain-text table).

pub mod history;
pub mod results_file;
pub mod runner;
pub mod spec;
pub mod suite;
pub mod table;
pub mod verdict;

pub use spec::{Expected, Scenario, ScenarioError};
pub use suite::{Cell, Results, ServerInfo, SuiteConfig};
pub use verdict::{How, Verdict};

/// The scenarios that come with isoscope (Hermitage's fifteen tests, in its order), built into
/// the binary from `workloads/scenarios/`.
const BUILTIN: [(&str, &str); 15] = [
    ("g0", include_str!("../../workloads/scenarios/g0.toml")),
    ("g1a", include_str!("../../workloads/scenarios/g1a.toml")),
    ("g1b", include_str!("../../workloads/scenarios/g1b.toml")),
    ("g1c", include_str!("../../workloads/scenarios/g1c.toml")),
    ("otv", include_str!("../../workloads/scenarios/otv.toml")),
    ("pmp", include_str!("../../workloads/scenarios/pmp.toml")),
    (
        "pmp-write",
        include_str!("../../workloads/scenarios/pmp-write.toml"),
    ),
    ("p4", include_str!("../../workloads/scenarios/p4.toml")),
    (
        "g-single",
        include_str!("../../workloads/scenarios/g-single.toml"),
    ),
    (
        "g-single-dependencies",
        include_str!("../../workloads/scenarios/g-single-dependencies.toml"),
    ),
    (
        "g-single-write-1",
        include_str!("../../workloads/scenarios/g-single-write-1.toml"),
    ),
    (
        "g-single-write-2",
        include_str!("../../workloads/scenarios/g-single-write-2.toml"),
    ),
    (
        "g2-item",
        include_str!("../../workloads/scenarios/g2-item.toml"),
    ),
    ("g2", include_str!("../../workloads/scenarios/g2.toml")),
    (
        "g2-two-edges",
        include_str!("../../workloads/scenarios/g2-two-edges.toml"),
    ),
];

/// The checker's names for a built-in scenario's anomaly ([`Scenario::checker`]); empty for a
/// scenario that is not built in or that takes any anomaly.
pub fn checker_names(scenario: &str) -> Vec<String> {
    builtin()
        .ok()
        .and_then(|all| all.into_iter().find(|s| s.name == scenario))
        .map(|s| s.checker.iter().map(|a| a.to_string()).collect())
        .unwrap_or_default()
}

/// Hermitage's fifteen tests, parsed, in Hermitage's order.
pub fn builtin() -> Result<Vec<Scenario>, ScenarioError> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            Scenario::parse(
                text,
                &std::path::Path::new("workloads/scenarios").join(format!("{name}.toml")),
            )
        })
        .collect()
}
