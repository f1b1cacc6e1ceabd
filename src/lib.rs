//! isoscope finds isolation and durability anomalies in MySQL-compatible databases, the way
//! Jepsen and Elle do, and makes them plain to see.
//!
//! The crate reads top to bottom in the order of its dependencies: each module uses only those
//! above it, never one below (tests aside: the history reader's tests check simulated histories).
//! - [`history`]: what happened, op by op (Jepsen's model), and reading and writing it;
//! - [`checker`]: from a history to a verdict: per-workload inference of dependencies, one
//!   generic cycle search, one table of consistency models, one explainer, and the durability
//!   check of acknowledged writes against the final reads;
//! - [`sim`]: simulated databases that produce histories of known character, for tests and
//!   benchmarks;
//! - [`lazyfs`]: a FUSE filesystem that keeps unsynced writes in memory, so faults can cut the
//!   power under a server (power loss, torn writes, a full or failing disk);
//! - `scratch`: the temporary folders isoscope makes, each marked with its owner, and the
//!   cleanup of those a dead isoscope left;
//! - [`net`]: a per-run network of namespaces on a bridge, one per node of a cluster, and the
//!   cuts, one-way cuts, isolation and packet loss the nemesis puts on it;
//! - [`server`]: the servers under test, started and torn down privately (MariaDB, Dolt);
//! - `workload`: what the clients ask (counter, bank, register, list-append, set) and the SQL
//!   it becomes;
//! - [`faults`]: what the nemesis does to a server (kill, pause, restart, rewind), and the health
//!   watch over its log and process;
//! - [`verdict`]: what a check or run comes to, as one typed summary, and its text;
//! - [`run_folder`]: what a run leaves on disk, and its `run.json` (status, verdict, summary);
//! - `runner`: many clients, one recorder, faults on schedule, final reads: a history, a run
//!   folder; and the orchestration around it (the server in front, signals, stale cleanup);
//! - [`scenario`]: Hermitage's tests automated: fixed interleavings of a few sessions, judged
//!   per server and level;
//! - [`report`]: many runs side by side, in HTML and Markdown;
//! - `compare`: the matrix of targets x levels x workloads, then the scenarios, then the report
//!   (the orchestration behind `isoscope compare`);
//! - [`cli`]: the `isoscope` command, which only parses and prints.
//!
//! `scratch`, `workload`, `runner` and `compare` are private: the command line is their interface. The rest
//! is public for tests, benchmarks and other tools that read histories and run folders.
//!
//! Nothing below the CLI prints, except the runner's progress bar and its notes on signals and
//! stale folders, which go to stderr.

pub mod cli;
mod compare;
pub mod faults;
pub mod lazyfs;
pub mod net;
pub mod report;
pub mod run_folder;
mod runner;
pub mod scenario;
mod scratch;
pub mod server;
pub mod verdict;
pub mod words;
mod workload;

#[cfg(test)]
use isoscope_check::names;
/// The history model, the checker and the simulator live in the `isoscope-check` crate, so Cargo
/// keeps them free of the runner, servers and report; their paths here stay as they were.
pub use isoscope_check::{checker, history, sim};

/// The isolation level a session asks the server for (SQL's four), and the model each is held
/// to: what a run, a scenario and a report all name.
pub use workload::Isolation;
