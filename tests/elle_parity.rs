//! Elle's findings on histories other tools recorded (issue 10): nil reads, composite keys,
//! complete searches in one large component, empty graphs, duplicates, completions without an
//! invocation, and workloads forced on ops that do not fit. Each case sits beside a
//! near-identical history with the opposite verdict, so over-reporting fails too. Cases ported
//! from Elle's test suite say so.

use isoscope::checker::cycle::SearchLimits;
use isoscope::checker::{
    check, Anomaly, CheckError, CheckOptions, CheckResult, Decided, Model, Validity, Workload,
};
use isoscope::history::read::read_history_str;

/// An EDN history of `:ok` transactions, each invoked just before it completes.
fn txns(values: &[(u64, &str)]) -> String {
    let mut out = String::new();
    for (i, (p, v)) in values.iter().enumerate() {
        for (j, kind) in ["invoke", "ok"].iter().enumerate() {
            let index = 2 * i + j;
            out.push_str(&format!(
                "{{:index {index}, :time {index}, :type :{kind}, :process {p}, :f :txn, :value {v}}}\n"
            ));
        }
    }
    out
}

fn run(name: &str, text: &str, models: &[Model]) -> CheckResult {
    let h = read_history_str(name, text).expect("history parses");
    let opts = CheckOptions {
        models: models.to_vec(),
        ..CheckOptions::default()
    };
    check(&h, &opts).expect("history checks")
}

const SS: &[Model] = &[Model::StrictSerializable];

fn types(r: &CheckResult) -> Vec<Anomaly> {
    r.anomaly_types.clone()
}

// ---- 1. a read of nil is a read of the initial version ----

#[test]
fn nil_reads_of_appended_keys_are_write_skew() {
    // Elle: G2-item. Each read the empty initial version of the key the other appended to.
    let skew = txns(&[
        (0, "[[:append :x 1] [:r :y nil]]"),
        (1, "[[:append :y 1] [:r :x nil]]"),
    ]);
    let r = run("skew.edn", &skew, &[Model::Serializable]);
    assert_eq!(types(&r), vec![Anomaly::G2Item], "{:#?}", r.anomalies);
    // The same with [] and in JSON with null.
    let empty = skew.replace("nil]]", "[]]]");
    assert_eq!(
        types(&run("e.edn", &empty, &[Model::Serializable])),
        vec![Anomaly::G2Item]
    );
    let json = "{\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",\"x\",1],[\"r\",\"y\",null]]}\n\
                {\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":[[\"append\",\"y\",1],[\"r\",\"x\",null]]}\n";
    assert_eq!(
        types(&run("s.jsonl", json, &[Model::Serializable])),
        vec![Anomaly::G2Item]
    );
    // The twin: the second transaction saw the first's append, so they are serializable.
    let twin = txns(&[
        (0, "[[:append :x 1] [:r :y nil]]"),
        (1, "[[:append :y 1] [:r :x [1]]]"),
    ]);
    let r = run("twin.edn", &twin, SS);
    assert_eq!(r.valid, Validity::Valid, "{:#?}", r.anomalies);
}

#[test]
fn nil_register_reads_are_write_skew_too() {
    let skew = txns(&[
        (0, "[[:w :x 1] [:r :y nil]]"),
        (1, "[[:w :y 1] [:r :x nil]]"),
    ]);
    assert_eq!(
        types(&run("r.edn", &skew, &[Model::Serializable])),
        vec![Anomaly::G2Item]
    );
    let twin = txns(&[(0, "[[:w :x 1] [:r :y nil]]"), (1, "[[:w :y 1] [:r :x 1]]")]);
    assert_eq!(run("t.edn", &twin, SS).valid, Validity::Valid);
}

/// Elle's "multiple appends without reads": a read of nil precedes each append nobody read,
/// not just the first. Here only the second append's writer closes a cycle.
#[test]
fn a_nil_read_precedes_every_unread_append() {
    let h = |t1_reads_x: &str| {
        txns(&[
            (0, &format!("[[:r :x {t1_reads_x}] [:r :y [1]]]")),
            (1, "[[:append :x 1]]"),
            (2, "[[:append :x 2] [:append :y 1]]"),
        ])
    };
    let r = run("multi.edn", &h("nil"), &[Model::Serializable]);
    assert_eq!(types(&r), vec![Anomaly::GSingleItem], "{:#?}", r.anomalies);
    // The twin: t1 saw t2's append of x, so t1 fits after t2 (and before the unread append 1).
    let r = run("multi.edn", &h("[2]"), &[Model::Serializable]);
    assert_eq!(r.valid, Validity::Valid, "{:#?}", r.anomalies);
}

// ---- 2. any value Elle accepts is a key ----

#[test]
fn composite_keys_work_in_edn_and_json() {
    let skew = txns(&[
        (0, "[[:append [:anti 1] 3] [:r {:k \"y\"} nil]]"),
        (1, "[[:append {:k \"y\"} 4] [:r [:anti 1] nil]]"),
    ]);
    let r = run("k.edn", &skew, &[Model::Serializable]);
    assert_eq!(types(&r), vec![Anomaly::G2Item]);
    let text = &r.anomalies[&Anomaly::G2Item].examples[0].explanation;
    assert!(text.contains("[:anti 1]"), "{text}");
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("[:anti 1]"), "{json}");
    // The same keys in JSON (a keyword is a string), and the twin with a read that saw 3.
    let json_history = "{\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",[\"anti\",1],3],[\"r\",{\"k\":\"y\"},null]]}\n\
                        {\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":[[\"append\",{\"k\":\"y\"},4],[\"r\",[\"anti\",1],[3]]]}\n";
    let r = run("k.jsonl", json_history, SS);
    assert_eq!(r.valid, Validity::Valid, "{:#?}", r.anomalies);
}

// ---- 3. complete decisions where they are polynomial ----

/// Elle's `unfindable-g-single` test, rebuilt: one G-single cycle (a ring of ww edges closed by
/// a stale read of `:anti`) awash in G2-item cycles that hang off the ring. With `sees` the last
/// ring transaction reads `:anti` as written, and there is no G-single at all.
fn ring_with_noise(n: usize, noise: usize, sees: bool) -> String {
    let mut v: Vec<(u64, String)> = Vec::new();
    for i in 0..n {
        let second = match i {
            0 => "[:append :anti :first]".to_string(),
            _ if i == n - 1 && sees => "[:r :anti [:first]]".to_string(),
            _ if i == n - 1 => "[:r :anti nil]".to_string(),
            _ => format!("[:append {i} 0]"),
        };
        v.push((0, format!("[[:append :ring {i}] {second}]")));
    }
    let ring: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    v.push((1, format!("[[:r :ring [{}]]]", ring.join(" "))));
    for i in 1..n - 1 {
        for j in 1..noise {
            let value = if j == noise - 2 {
                let order: Vec<String> = (0..noise - 2).map(|x| x.to_string()).collect();
                format!("[[:r {i} [{}]] [:r [:anti {i}] nil]]", order.join(" "))
            } else if j == noise - 1 {
                format!("[[:append [:anti {i}] 0] [:r :ring nil]]")
            } else {
                format!("[[:append {i} {j}]]")
            };
            v.push((2, value));
        }
    }
    let refs: Vec<(u64, &str)> = v.iter().map(|(p, s)| (*p, s.as_str())).collect();
    txns(&refs)
}

#[test]
fn g_single_is_decided_in_one_large_component_whatever_the_budget() {
    let opts = CheckOptions {
        models: vec![Model::SnapshotIsolation],
        limits: SearchLimits { steps: 100 },
        ..CheckOptions::default()
    };
    for (sees, want) in [(false, Decided::Found), (true, Decided::Absent)] {
        let text = ring_with_noise(200, 12, sees);
        let h = read_history_str("ring.edn", &text).unwrap();
        let r = check(&h, &opts).unwrap();
        assert_eq!(r.decided[&Anomaly::GSingleItem], want, "sees {sees}");
        assert_eq!(r.decided[&Anomaly::G0], Decided::Absent);
        assert_eq!(r.decided[&Anomaly::G1c], Decided::Absent);
        if sees {
            // Only G-nonadjacent, which is exponential to search, may be left to the budget.
            assert_eq!(r.undecided, vec![Anomaly::GNonadjacentItem]);
            assert_eq!(r.valid, Validity::Unknown);
            let full = check(
                &h,
                &CheckOptions {
                    models: vec![Model::SnapshotIsolation],
                    ..CheckOptions::default()
                },
            )
            .unwrap();
            assert_eq!(full.valid, Validity::Valid, "{:?}", full.undecided);
        } else {
            assert_eq!(r.valid, Validity::Invalid);
        }
    }
    // Held to strict serializability, the order variants are decided as well.
    let h = read_history_str("ring.edn", &ring_with_noise(200, 12, true)).unwrap();
    let r = check(
        &h,
        &CheckOptions {
            limits: SearchLimits { steps: 100 },
            ..CheckOptions::default()
        },
    )
    .unwrap();
    for a in [
        Anomaly::G0,
        Anomaly::G1c,
        Anomaly::GSingleItem,
        Anomaly::G0Process,
        Anomaly::G0Realtime,
    ] {
        assert_ne!(r.decided[&a], Decided::Undecided, "{a}");
    }
}

// ---- 4. an empty dependency graph proves nothing ----

#[test]
fn an_empty_transaction_graph_is_unknown() {
    let apart = txns(&[
        (0, "[[:append :x 1] [:r :x [1]]]"),
        (1, "[[:append :y 1] [:r :y [1]]]"),
    ]);
    let r = run("apart.edn", &apart, SS);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.strongest_model.is_empty());
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("empty-transaction-graph")),
        "{:?}",
        r.notes
    );
    // One read of the other's key makes a dependency, and the verdict is valid.
    let joined = txns(&[
        (0, "[[:append :x 1] [:r :x [1]]]"),
        (1, "[[:append :y 1] [:r :x [1]]]"),
    ]);
    assert_eq!(run("joined.edn", &joined, SS).valid, Validity::Valid);
}

// ---- 5. duplicate elements (Elle's "duplicated elements" case) ----

#[test]
fn duplicate_elements_are_g1c_not_g0() {
    let h = |t1_reads_y: &str| {
        txns(&[
            (0, &format!("[[:append :x 1] [:r :y {t1_reads_y}]]")),
            (1, "[[:append :x 2] [:append :y 1]]"),
            (2, "[[:r :x [1 2 1]]]"),
        ])
    };
    let r = run("dup.edn", &h("[1]"), &[Model::ReadCommitted]);
    assert_eq!(
        types(&r),
        vec![Anomaly::G1c, Anomaly::DuplicateElements],
        "{:#?}",
        r.anomalies
    );
    // The twin: t1 read y before t2 appended to it; only the duplicate is left.
    let r = run("dup.edn", &h("nil"), &[Model::ReadCommitted]);
    assert_eq!(types(&r), vec![Anomaly::DuplicateElements]);
}

// ---- 6. a completion with no invocation has no real-time order ----

#[test]
fn a_completion_without_invocation_has_no_real_time_order() {
    let h = |invoked: bool| {
        let mut s = String::new();
        if invoked {
            s.push_str("{:index 0, :type :invoke, :process 0, :f :txn, :value [[:append :x 1]]}\n");
        }
        s.push_str("{:index 1, :type :ok, :process 0, :f :txn, :value [[:append :x 1]]}\n");
        s.push_str("{:index 2, :type :invoke, :process 1, :f :txn, :value [[:r :x nil]]}\n");
        s.push_str("{:index 3, :type :ok, :process 1, :f :txn, :value [[:r :x nil]]}\n");
        s
    };
    // Without an invocation, the append may have happened any time before it was recorded:
    // the stale read is no contradiction (Elle).
    let r = run("noinv.edn", &h(false), SS);
    assert_eq!(r.valid, Validity::Valid, "{:#?}", r.anomalies);
    // Invoked and acknowledged before the read began: the read is stale.
    let r = run("inv.edn", &h(true), SS);
    assert_eq!(types(&r), vec![Anomaly::GSingleItemRealtime]);
}

// ---- 7. a workload forced on ops that do not fit ----

#[test]
fn a_forced_workload_must_fit_the_ops() {
    let bank = "{:index 0, :type :invoke, :process 0, :f :transfer, :value {:from 0, :to 1, :amount 5}}\n\
                {:index 1, :type :ok, :process 0, :f :transfer, :value {:from 0, :to 1, :amount 5}}\n\
                {:index 2, :type :invoke, :process 0, :f :read, :value nil}\n\
                {:index 3, :type :ok, :process 0, :f :read, :value {0 5, 1 5}}\n";
    let h = read_history_str("bank.edn", bank).unwrap();
    let forced = |w| {
        check(
            &h,
            &CheckOptions {
                workload: Some(w),
                ..CheckOptions::default()
            },
        )
    };
    for w in [Workload::ListAppend, Workload::RwRegister, Workload::Set] {
        match forced(w) {
            Err(CheckError::BadOp { index, message }) => {
                assert_eq!(index, 0, "{w}");
                assert!(message.contains(":transfer"), "{message}");
            }
            other => panic!("{w}: {other:?}"),
        }
    }
    assert!(forced(Workload::Bank).is_ok());
    let set = "{:index 0, :type :invoke, :process 0, :f :add, :value 1}\n\
               {:index 1, :type :ok, :process 0, :f :add, :value 1}\n\
               {:index 2, :type :invoke, :process 0, :f :read, :value nil}\n\
               {:index 3, :type :ok, :process 0, :f :read, :value #{1 2 3}}\n";
    let h = read_history_str("set.edn", set).unwrap();
    let o = |w| CheckOptions {
        workload: Some(w),
        ..CheckOptions::default()
    };
    assert!(matches!(
        check(&h, &o(Workload::ListAppend)),
        Err(CheckError::BadOp { index: 0, .. })
    ));
    assert!(matches!(
        check(&h, &o(Workload::Counter)),
        Err(CheckError::BadOp { index: 3, .. })
    ));
    assert!(check(&h, &o(Workload::Set)).is_ok());
}
