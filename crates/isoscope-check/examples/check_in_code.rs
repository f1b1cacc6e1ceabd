//! Checks a history the way a Rust project's own test would: built in code, or read from the
//! file named on the command line.
//!
//!   cargo run -p isoscope-check --example check_in_code [HISTORY]
//!
//! Without a file it builds a small list-append history with write skew: two clients each read
//! both lists empty and append to one of them, which snapshot isolation allows and
//! serializability does not.

use std::path::Path;

use isoscope_check::{check, read_history, CheckOptions, History, HistoryBuilder, Model, Step};

/// The write-skew history, built in code.
pub fn write_skew() -> History {
    let mut b = HistoryBuilder::new();
    let empty: [i64; 0] = [];
    b.invoke(0, [Step::read("x"), Step::read("y"), Step::append("x", 1)]);
    b.invoke(1, [Step::read("x"), Step::read("y"), Step::append("y", 1)]);
    b.ok(
        0,
        [
            Step::read_list("x", empty),
            Step::read_list("y", empty),
            Step::append("x", 1),
        ],
    );
    b.ok(
        1,
        [
            Step::read_list("x", empty),
            Step::read_list("y", empty),
            Step::append("y", 1),
        ],
    );
    b.invoke(2, [Step::read("x"), Step::read("y")]);
    b.ok(2, [Step::read_list("x", [1]), Step::read_list("y", [1])]);
    b.build()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(std::env::args().nth(1))
}

/// Checks the history in `file`, or the built one, against snapshot isolation and
/// serializability, and prints each verdict and finding.
pub fn run(file: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let history = match file {
        Some(path) => read_history(Path::new(&path))?,
        None => write_skew(),
    };
    for model in [Model::SnapshotIsolation, Model::Serializable] {
        let opts = CheckOptions {
            models: vec![model],
            ..CheckOptions::default()
        };
        let result = check(&history, &opts)?;
        println!("{model}: {}", result.valid);
        for group in result.anomalies.values() {
            for finding in &group.examples {
                println!("  {}: {}", finding.anomaly, finding.explanation);
            }
        }
    }
    Ok(())
}
