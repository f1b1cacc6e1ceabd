//! isoscope finds isolation and durability anomalies in MySQL-compatible databases, the way
//! Jepsen and Elle do, and makes them plain to see.
//!
//! The crate reads top to bottom as the data flows:
//! - [`history`]: what happened, op by op (Jepsen's model), and reading and writing it;
//! - [`checker`]: from a history to a verdict: per-workload inference of dependencies, one
//!   generic cycle search, one table of consistency models, one explainer;
//! - [`sim`]: simulated databases that produce histories of known character, for tests and
//!   benchmarks;
//! - [`cli`]: the `isoscope` command.
//!
//! Data only flows down that list: a checker never writes a history, and nothing below the CLI
//! prints.

pub mod checker;
pub mod cli;
pub mod faults;
pub mod history;
pub mod report;
pub mod runner;
pub mod server;
pub mod sim;
pub mod workload;
