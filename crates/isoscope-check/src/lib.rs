//! isoscope's checker as a library (the crate's README says why): the history model, the Elle-style checker and the
//! simulator, with no dependency on isoscope's runner, servers or report (Cargo enforces it:
//! this crate cannot name them).
//!
//! A [`History`] comes from a file ([`read_history`]: EDN or JSON, plain or gzip) or is built in
//! code ([`HistoryBuilder`]); [`check`] holds it to the [`Model`]s in its [`CheckOptions`] and
//! returns a [`CheckResult`]: valid, invalid or unknown ([`Validity`]), the anomaly types found
//! with their counts, and each finding explained in words. It returns a [`CheckError`] only when
//! the history cannot be checked at all (no workload given and none can be told from the ops,
//! or an op that does not fit the workload).
//!
//! ```
//! use isoscope_check::{check, CheckOptions, HistoryBuilder, Model, Step, Validity};
//!
//! // Two clients each read both lists empty and append to one: write skew.
//! let mut b = HistoryBuilder::new();
//! b.invoke(0, [Step::read("x"), Step::read("y"), Step::append("x", 1)]);
//! b.invoke(1, [Step::read("x"), Step::read("y"), Step::append("y", 1)]);
//! b.ok(0, [Step::read_list("x", [0; 0]), Step::read_list("y", [0; 0]), Step::append("x", 1)]);
//! b.ok(1, [Step::read_list("x", [0; 0]), Step::read_list("y", [0; 0]), Step::append("y", 1)]);
//! let h = b.build();
//!
//! let serializable = CheckOptions { models: vec![Model::Serializable], ..Default::default() };
//! let r = check(&h, &serializable).unwrap();
//! assert_eq!(r.valid, Validity::Invalid);
//! assert_eq!(r.found_counts(), "G2-item (1)");
//! ```
//!
//! The modules read top to bottom in the order of their dependencies:
//! - [`history`]: what happened, op by op (Jepsen's model), and reading and writing it;
//! - [`checker`]: from a history to a verdict: per-workload inference of dependencies, one
//!   generic cycle search, one table of consistency models, one explainer, and the durability
//!   check of acknowledged writes against the final reads;
//! - [`sim`]: simulated databases that produce histories of known character, for tests and
//!   benchmarks.

pub mod checker;
pub mod history;
#[doc(hidden)]
pub mod names;
pub mod sim;

pub use checker::{
    check, Anomaly, CheckError, CheckOptions, CheckResult, Model, Validity, Workload,
};
pub use history::{read_history, History, HistoryBuilder, ReadError, Step};

/// The README's example, run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
