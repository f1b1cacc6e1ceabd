//! isoscope's checker as a library: the history model, the Elle-style checker and the
//! simulator, with no dependency on isoscope's runner, servers or report (Cargo enforces it:
//! this crate cannot name them).
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
