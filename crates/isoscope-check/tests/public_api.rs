//! The library's public API, as another Rust project would use it: a history built in code,
//! checked against models, and the example in `examples/` run, so CI runs it.

use isoscope_check::{
    check, read_history, Anomaly, CheckOptions, HistoryBuilder, Model, Step, Validity, Workload,
};

#[path = "../examples/check_in_code.rs"]
#[allow(dead_code)]
mod example;

fn against(model: Model) -> CheckOptions {
    CheckOptions {
        models: vec![model],
        ..CheckOptions::default()
    }
}

#[test]
fn write_skew_built_in_code_is_g2_item_under_serializable_and_allowed_under_si() {
    let h = example::write_skew();
    let si = check(&h, &against(Model::SnapshotIsolation)).unwrap();
    assert_eq!(si.workload, Workload::ListAppend);
    assert_eq!(si.valid, Validity::Valid, "{:?}", si.notes);
    let ser = check(&h, &against(Model::Serializable)).unwrap();
    assert_eq!(ser.valid, Validity::Invalid);
    assert_eq!(ser.anomaly_types, [Anomaly::G2Item]);
    let g2 = &ser.anomalies[&Anomaly::G2Item];
    assert_eq!(g2.count, 1);
    assert_eq!(g2.examples[0].txns.len(), 2, "the cycle is the two writers");
}

#[test]
fn a_built_history_checks_as_the_same_history_read_from_a_file() {
    let mut b = HistoryBuilder::new();
    b.invoke(0, [Step::append("x", 1)]);
    b.ok(0, [Step::append("x", 1)]);
    b.invoke(1, [Step::append("x", 2)]);
    b.ok(1, [Step::append("x", 2)]);
    b.invoke(2, [Step::read("x")]);
    b.ok(2, [Step::read_list("x", [2, 1])]);
    let built = b.build();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.jsonl");
    let text = [
        r#"{"index":0,"type":"invoke","process":0,"f":"txn","value":[["append","x",1]]}"#,
        r#"{"index":1,"type":"ok","process":0,"f":"txn","value":[["append","x",1]]}"#,
        r#"{"index":2,"type":"invoke","process":1,"f":"txn","value":[["append","x",2]]}"#,
        r#"{"index":3,"type":"ok","process":1,"f":"txn","value":[["append","x",2]]}"#,
        r#"{"index":4,"type":"invoke","process":2,"f":"txn","value":[["r","x",null]]}"#,
        r#"{"index":5,"type":"ok","process":2,"f":"txn","value":[["r","x",[2,1]]]}"#,
    ]
    .join("\n");
    std::fs::write(&file, text).unwrap();
    let read = read_history(&file).unwrap();
    assert_eq!(read.ops, built.ops);
    // Client 0's append committed before client 1's began, yet the read puts 2 first.
    let strict = check(&built, &against(Model::StrictSerializable)).unwrap();
    assert_eq!(strict.valid, Validity::Invalid);
    let from_file = check(&read, &against(Model::StrictSerializable)).unwrap();
    assert_eq!(strict.found_counts(), from_file.found_counts());
    assert!(check(&built, &against(Model::Serializable)).unwrap().valid == Validity::Valid);
}

#[test]
fn the_example_runs() {
    example::run(None).unwrap();
}
