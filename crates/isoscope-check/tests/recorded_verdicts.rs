//! Every history in the repository, and simulated ones of each behaviour, checked against each
//! model (the repository's with the durability check, as `isoscope run` checks): the verdict, the anomaly types and their counts, and what stayed undecided must stay
//! what `tests/expected-verdicts.tsv` recorded. This is the guard for work on the checker's
//! speed and memory, which must never change an answer.
//!
//! After a change that is meant to change answers, record them again with
//! `ISOSCOPE_RECORD_VERDICTS=1 cargo test -p isoscope-check --test recorded_verdicts`, and
//! say why in the commit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use isoscope_check::checker::Workload;
use isoscope_check::history::write::op_line;
use isoscope_check::sim::{generate, Behaviour, SimParams};
use isoscope_check::{check, read_history, CheckOptions, History, Model};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's history files, by path from its root.
fn repository_histories() -> Vec<String> {
    let mut files = Vec::new();
    for dir in [
        "histories",
        "tests/fixtures/elle-cli",
        "tests/fixtures/runs",
    ] {
        let mut stack = vec![repo().join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if p.is_dir() {
                    stack.push(p);
                } else if [".edn", ".json", ".jsonl", ".gz"]
                    .iter()
                    .any(|e| name.ends_with(e))
                    && !name.ends_with("run.json")
                    && name != "scenarios.json"
                {
                    let rel = p.strip_prefix(repo()).unwrap();
                    files.push(rel.to_string_lossy().into_owned());
                }
            }
        }
    }
    files.sort();
    files
}

/// One line per model: model, verdict, anomaly types with counts, undecided types; with the
/// durability check if asked.
fn verdicts(name: &str, h: &History, durability: bool, out: &mut String) {
    for model in [
        Model::ReadCommitted,
        Model::SnapshotIsolation,
        Model::Serializable,
        Model::StrictSerializable,
    ] {
        let opts = CheckOptions {
            models: vec![model],
            durability,
            ..CheckOptions::default()
        };
        let line = match check(h, &opts) {
            Ok(r) => format!(
                "{}\t{}\t{:?}",
                r.valid,
                r.found_counts(),
                r.undecided
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
            ),
            Err(e) => format!("error: {e}"),
        };
        writeln!(out, "{name}\t{model}\t{line}").unwrap();
    }
}

#[test]
fn verdicts_are_those_recorded() {
    let mut got = String::new();
    for file in repository_histories() {
        let h = read_history(&repo().join(&file)).unwrap();
        verdicts(&file, &h, true, &mut got);
    }
    // Simulated histories, written as JSON Lines and read back, so the reader is covered too.
    let dir = tempfile::tempdir().unwrap();
    for workload in [Workload::ListAppend, Workload::RwRegister] {
        for behaviour in [
            Behaviour::Serializable,
            Behaviour::SnapshotIsolation,
            Behaviour::ReadCommitted,
            Behaviour::LostUpdate,
        ] {
            let sim = generate(&SimParams {
                workload,
                behaviour,
                txns: 2500,
                keys: 5,
                max_writes_per_key: 64,
                fail_fraction: 0.05,
                info_fraction: 0.05,
                seed: 11,
                ..SimParams::default()
            });
            let mut text = Vec::new();
            for op in &sim.ops {
                op_line(op, &sim.lists, &mut text);
            }
            let file = dir.path().join("sim.jsonl");
            std::fs::write(&file, &text).unwrap();
            let h = read_history(&file).unwrap();
            assert_eq!(
                h.ops, sim.ops,
                "{workload} {behaviour:?}: read back the same"
            );
            // No final reads: without the durability check, so a valid one can say valid.
            verdicts(
                &format!("sim {workload} {behaviour:?}"),
                &h,
                false,
                &mut got,
            );
        }
    }
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected-verdicts.tsv");
    if std::env::var_os("ISOSCOPE_RECORD_VERDICTS").is_some() {
        std::fs::write(&expected, &got).unwrap();
    }
    let want = std::fs::read_to_string(&expected).unwrap();
    for (g, w) in got.lines().zip(want.lines()) {
        assert_eq!(g, w);
    }
    assert_eq!(got.lines().count(), want.lines().count());
}
