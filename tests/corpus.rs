//! isoscope against elle-cli's own test histories (tests/fixtures/elle-cli, copied from elle-cli): the same
//! verdicts, except where isoscope is stricter for a reason stated here and in the README.

use std::path::PathBuf;
use std::process::Command;

/// Runs the isoscope binary with these arguments.
fn isoscope<I, S>(args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(args)
        .output()
        .expect("run isoscope")
}

/// Runs `isoscope check --format json FILE` on a corpus file and parses what it prints.
fn check_json(file: &str) -> (Option<i32>, serde_json::Value) {
    let out = isoscope([
        "check".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        corpus().join(file).as_os_str(),
    ]);
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).expect("json output"),
    )
}

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/elle-cli")
}

/// Files where isoscope deliberately differs from elle-cli: (file, our exit code, why).
const STRICTER: &[(&str, i32, &str)] = &[
    (
        "rw-register.edn",
        1,
        "reads x = 3, which no transaction wrote: garbage-read (elle-cli's register checker lets it pass)",
    ),
    ("rw-register.json", 1, "the same history in JSON"),
    (
        "counter.edn",
        2,
        "has no reads at all, so nothing can be checked: unknown, not vacuously valid",
    ),
    ("counter.json", 2, "the same history in JSON"),
];

#[test]
fn verdicts_match_elle_cli_except_where_stated() {
    let expected = std::fs::read_to_string(corpus().join("expected.tsv")).expect("expected.tsv");
    let mut checked = 0;
    for line in expected.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, model, options, want) = (cols[0], cols[1], cols[2], cols[3]);
        let want: i32 = want.parse().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_isoscope"));
        cmd.arg("check")
            .arg(corpus().join(file))
            .arg("--workload")
            .arg(model);
        if let Some(m) = options.strip_prefix("--consistency-models ") {
            cmd.arg("--model").arg(m);
        }
        let out = cmd.output().expect("run isoscope");
        let got = out.status.code().expect("exit code");
        let stdout = String::from_utf8_lossy(&out.stdout);
        match STRICTER.iter().find(|s| s.0 == file) {
            Some(&(_, ours, why)) => {
                assert_eq!(
                    got, ours,
                    "{file}: we differ from elle-cli ({want}) because {why}\n{stdout}"
                )
            }
            None => assert_eq!(got, want, "{file}: elle-cli exits {want}\n{stdout}"),
        }
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn the_stricter_verdicts_say_why() {
    let (_, v) = check_json("rw-register.edn");
    assert_eq!(v["valid"], serde_json::json!(false));
    assert_eq!(v["anomaly_types"], serde_json::json!(["garbage-read"]));
    assert_eq!(v["not"][0], "read-uncommitted");
    let (_, v) = check_json("counter.edn");
    assert_eq!(v["valid"], serde_json::json!("unknown"));
}

#[test]
fn json_output_has_the_documented_fields() {
    let (code, v) = check_json("paper-example.edn");
    assert_eq!(code, Some(1));
    for field in [
        "valid",
        "anomaly_types",
        "not",
        "strongest_model",
        "ops",
        "anomalies",
        "decided",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["anomaly_types"], serde_json::json!(["G-single-item"]));
    assert_eq!(v["strongest_model"], serde_json::json!(["read-committed"]));
    assert_eq!(v["ops"]["ok"], 4);
    let ex = &v["anomalies"]["G-single-item"]["examples"][0];
    assert_eq!(ex["steps"].as_array().unwrap().len(), 3);
}

#[test]
fn out_dir_gets_a_file_per_type_and_a_dot_per_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["check", "--out"])
        .arg(dir.path())
        .arg(corpus().join("paper-example.json"))
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(1));
    let text = std::fs::read_to_string(dir.path().join("G-single-item.txt")).unwrap();
    assert!(text.contains("a contradiction!"));
    let dot = std::fs::read_to_string(dir.path().join("G-single-item-1.dot")).unwrap();
    assert!(dot.starts_with("digraph") && dot.contains("-> T1"), "{dot}");
    assert!(dir.path().join("result.json").exists());
}

#[test]
fn bad_input_is_one_line_naming_file_and_op_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("bad.jsonl", "{\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1}\n{\"type\":\"okay\",\"process\":0,\"f\":\"add\",\"value\":1}\n", "bad.jsonl: op 1 (line 2): type \"okay\""),
        ("trunc.edn", "{:type :ok, :process 0, :f :txn, :value [[:append 1 2]]}\n{:type :ok :process 0 :f :txn :value [[:append\n", "trunc.edn:2: the input ends inside a form"),
        ("dup.edn", "{:type :ok, :process 0, :f :txn, :value [[:append 1 2]]}\n{:type :ok, :process 1, :f :txn, :value [[:append 1 2]]}\n", "op 1: element 2 is appended to key 1 again"),
        ("empty.json", "\n", "holds no operations"),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_isoscope"))
            .arg("check")
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(want), "{name}: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["check", "--model", "bogus", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let out = Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .args(["frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}
