//! isoscope finds isolation and durability anomalies in MySQL-compatible databases, the way
//! Jepsen and Elle do, and makes them plain to see.
//!
//! The crate reads top to bottom as the data flows:
//! - [`server`]: the servers under test, started and torn down privately (MariaDB, Dolt);
//! - [`workload`]: what the clients ask (counter, bank, register, list-append, set) and the SQL
//!   it becomes;
//! - [`faults`]: what the nemesis does to a server (kill, pause, restart, rewind), and the health
//!   watch over its log and process;
//! - [`lazyfs`]: a FUSE filesystem that keeps unsynced writes in memory, so faults can cut the
//!   power under a server (power loss, torn writes, a full or failing disk);
//! - [`runner`]: many clients, one recorder, faults on schedule, final reads: a history;
//! - [`history`]: what happened, op by op (Jepsen's model), and reading and writing it;
//! - [`checker`]: from a history to a verdict: per-workload inference of dependencies, one
//!   generic cycle search, one table of consistency models, one explainer, and the durability
//!   check of acknowledged writes against the final reads;
//! - [`report`]: many runs side by side, in HTML and Markdown;
//! - [`sim`]: simulated databases that produce histories of known character, for tests and
//!   benchmarks;
//! - [`cli`]: the `isoscope` command.
//!
//! Data only flows down that list (the history and checker are used by everything after them):
//! a checker never writes a history, and nothing below the CLI prints.

pub mod checker;
pub mod cli;
pub mod faults;
pub mod history;
pub mod lazyfs;
pub mod report;
pub mod runner;
pub mod server;
pub mod sim;
pub mod workload;
