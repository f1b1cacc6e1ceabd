//! One minimal history per anomaly type, each beside a near-identical twin that is valid, so
//! that missing an anomaly and reporting one that is not there both fail a test.

use isoscope::checker::{check, Anomaly, CheckOptions, CheckResult, Model, Validity, Workload};
use isoscope::history::read::read_history_str;

/// Builds an EDN history op by op.
#[derive(Default)]
struct H {
    lines: Vec<String>,
}

impl H {
    fn op(mut self, kind: &str, p: u64, v: &str) -> H {
        let i = self.lines.len();
        self.lines.push(format!(
            "{{:index {i}, :time {}, :type :{kind}, :process {p}, :f :txn, :value {v}}}",
            i * 1_000_000
        ));
        self
    }
    fn invoke(self, p: u64, v: &str) -> H {
        self.op("invoke", p, v)
    }
    fn ok(self, p: u64, v: &str) -> H {
        self.op("ok", p, v)
    }
    fn fail(self, p: u64, v: &str) -> H {
        self.op("fail", p, v)
    }
    /// A transaction that starts and completes before the next op.
    fn txn(self, p: u64, v: &str) -> H {
        self.invoke(p, v).ok(p, v)
    }
    fn check(&self, models: &[Model]) -> CheckResult {
        let h = read_history_str("test.edn", &self.lines.join("\n")).expect("history parses");
        let opts = CheckOptions {
            models: models.to_vec(),
            ..CheckOptions::default()
        };
        check(&h, &opts).expect("history checks")
    }
}

const SS: &[Model] = &[Model::StrictSerializable];

fn shows(h: &H, a: Anomaly) -> CheckResult {
    let r = h.check(SS);
    assert!(
        r.anomaly_types.contains(&a),
        "expected {a}, found {:?}\n{:#?}",
        r.anomaly_types,
        r.anomalies
    );
    assert_eq!(r.valid, Validity::Invalid);
    r
}

fn valid(h: &H) {
    let r = h.check(SS);
    assert_eq!(
        r.valid,
        Validity::Valid,
        "expected valid, found {:#?}",
        r.anomalies
    );
    assert!(r.anomaly_types.is_empty());
}

// ---- list-append: cycles among data dependencies ----

fn g0(order_y: &str) -> H {
    H::default()
        .invoke(1, "[[:append :x 1] [:append :y 1]]")
        .invoke(2, "[[:append :x 2] [:append :y 2]]")
        .ok(1, "[[:append :x 1] [:append :y 1]]")
        .ok(2, "[[:append :x 2] [:append :y 2]]")
        .txn(3, &format!("[[:r :x [1 2]] [:r :y {order_y}]]"))
}

#[test]
fn g0_write_cycle() {
    let r = shows(&g0("[2 1]"), Anomaly::G0);
    assert!(r.not.contains(&Model::ReadUncommitted));
    valid(&g0("[1 2]"));
}

fn g1c(t2_reads_x: &str) -> H {
    let t1 = "[[:append :x 1] [:r :y [1]]]";
    let t2 = format!("[[:append :y 1] [:r :x {t2_reads_x}]]");
    H::default()
        .invoke(1, t1)
        .invoke(2, &t2)
        .ok(1, t1)
        .ok(2, &t2)
}

#[test]
fn g1c_circular_information_flow() {
    let r = shows(&g1c("[1]"), Anomaly::G1c);
    assert!(r.not.contains(&Model::ReadCommitted));
    assert_eq!(r.strongest_model, vec![Model::ReadUncommitted]);
    valid(&g1c("[]"));
}

fn g_single(t2_reads_y: &str) -> H {
    let t2 = format!("[[:r :x [1]] [:r :y {t2_reads_y}]]");
    H::default()
        .invoke(1, "[[:append :x 1] [:append :y 1]]")
        .invoke(2, &t2)
        .ok(1, "[[:append :x 1] [:append :y 1]]")
        .ok(2, &t2)
}

#[test]
fn g_single_item_read_skew() {
    let r = shows(&g_single("[]"), Anomaly::GSingleItem);
    assert_eq!(r.anomaly_types, vec![Anomaly::GSingleItem]);
    assert_eq!(r.strongest_model, vec![Model::ReadCommitted]);
    let f = &r.anomalies[&Anomaly::GSingleItem].examples[0];
    assert!(
        f.explanation.contains("a contradiction!"),
        "{}",
        f.explanation
    );
    assert_eq!(f.steps.len(), 2);
    valid(&g_single("[1]"));
}

fn g_nonadjacent(t1_reads_d: &str) -> H {
    let t1 = format!("[[:r :a []] [:r :d {t1_reads_d}]]");
    let t2 = "[[:append :a 1] [:append :b 1]]";
    let t3 = "[[:r :b [1]] [:r :c []]]";
    let t4 = "[[:append :c 1] [:append :d 1]]";
    H::default()
        .invoke(1, &t1)
        .invoke(2, t2)
        .invoke(3, t3)
        .invoke(4, t4)
        .ok(1, &t1)
        .ok(2, t2)
        .ok(3, t3)
        .ok(4, t4)
}

#[test]
fn g_nonadjacent_item() {
    let r = shows(&g_nonadjacent("[1]"), Anomaly::GNonadjacentItem);
    assert!(!r.anomaly_types.contains(&Anomaly::GSingleItem));
    assert!(!r.anomaly_types.contains(&Anomaly::G2Item));
    valid(&g_nonadjacent("[]"));
}

fn g2(t2_reads_y: &str) -> H {
    let t1 = "[[:r :x []] [:append :y 1]]";
    let t2 = format!("[[:r :y {t2_reads_y}] [:append :x 1]]");
    H::default()
        .invoke(1, t1)
        .invoke(2, &t2)
        .ok(1, t1)
        .ok(2, &t2)
        .txn(3, "[[:r :x [1]] [:r :y [1]]]")
}

#[test]
fn g2_item_write_skew() {
    let r = shows(&g2("[]"), Anomaly::G2Item);
    assert_eq!(r.anomaly_types, vec![Anomaly::G2Item]);
    // Snapshot isolation allows write skew; repeatable read does not.
    assert_eq!(r.strongest_model, vec![Model::SnapshotIsolation]);
    valid(&g2("[1]"));
}

// ---- list-append: cycles that need process or real-time order ----

/// T1 appends x 1 and completes; T2 starts after and reads x as empty (stale).
fn stale_read(p2: u64, concurrent: bool) -> H {
    let t1 = "[[:append :x 1]]";
    let t2 = "[[:r :x []]]";
    let h = if concurrent {
        H::default()
            .invoke(1, t1)
            .invoke(p2, t2)
            .ok(1, t1)
            .ok(p2, t2)
    } else {
        H::default().txn(1, t1).txn(p2, t2)
    };
    h.txn(9, "[[:r :x [1]]]")
}

#[test]
fn g_single_item_realtime_and_process() {
    let r = shows(&stale_read(2, false), Anomaly::GSingleItemRealtime);
    assert_eq!(r.strongest_model, vec![Model::Serializable]);
    shows(&stale_read(1, false), Anomaly::GSingleItemProcess);
    valid(&stale_read(2, true));
    // Serializable alone allows it.
    assert_eq!(
        stale_read(2, false).check(&[Model::Serializable]).valid,
        Validity::Valid
    );
}

fn g0_rt(p2: u64, order: &str) -> H {
    H::default()
        .txn(1, "[[:append :x 1]]")
        .txn(p2, "[[:append :x 2]]")
        .txn(9, &format!("[[:r :x {order}]]"))
}

#[test]
fn g0_realtime_and_process() {
    shows(&g0_rt(2, "[2 1]"), Anomaly::G0Realtime);
    shows(&g0_rt(1, "[2 1]"), Anomaly::G0Process);
    valid(&g0_rt(2, "[1 2]"));
}

fn g1c_rt(p2: u64, t1_reads: &str) -> H {
    H::default()
        .txn(1, &format!("[[:r :x {t1_reads}]]"))
        .txn(p2, "[[:append :x 1]]")
}

#[test]
fn g1c_realtime_and_process() {
    // T1 read what T2 only wrote after T1 had completed.
    shows(&g1c_rt(2, "[1]"), Anomaly::G1cRealtime);
    shows(&g1c_rt(1, "[1]"), Anomaly::G1cProcess);
    valid(&g1c_rt(2, "[]"));
}

fn g2_rt(p1: u64, concurrent: bool) -> H {
    let t1 = "[[:r :a []]]";
    let t2 = "[[:append :a 1] [:r :b []]]";
    let t3 = "[[:append :b 1]]";
    let h = H::default().invoke(2, t2);
    let h = if concurrent {
        h.invoke(3, t3).invoke(p1, t1).ok(3, t3)
    } else {
        h.invoke(3, t3).ok(3, t3).invoke(p1, t1)
    };
    h.ok(p1, t1).ok(2, t2)
}

#[test]
fn g2_item_realtime_and_process() {
    shows(&g2_rt(1, false), Anomaly::G2ItemRealtime);
    shows(&g2_rt(3, false), Anomaly::G2ItemProcess);
    valid(&g2_rt(1, true));
}

fn g_nonadjacent_rt(p1: u64, concurrent: bool) -> H {
    let t1 = "[[:r :a []]]";
    let t2 = "[[:append :a 1] [:append :b 1]]";
    let t3 = "[[:r :b [1]] [:r :c []]]";
    let t4 = "[[:append :c 1]]";
    let h = H::default().invoke(3, t3).invoke(2, t2).invoke(4, t4);
    let h = if concurrent {
        h.invoke(p1, t1).ok(4, t4)
    } else {
        h.ok(4, t4).invoke(p1, t1)
    };
    h.ok(2, t2).ok(3, t3).ok(p1, t1)
}

#[test]
fn g_nonadjacent_item_realtime_and_process() {
    let r = shows(
        &g_nonadjacent_rt(1, false),
        Anomaly::GNonadjacentItemRealtime,
    );
    assert!(
        !r.anomaly_types.contains(&Anomaly::GSingleItemRealtime),
        "{:?}",
        r.anomaly_types
    );
    shows(
        &g_nonadjacent_rt(4, false),
        Anomaly::GNonadjacentItemProcess,
    );
    valid(&g_nonadjacent_rt(1, true));
}

// ---- list-append: anomalies that are not cycles ----

#[test]
fn g1a_aborted_read() {
    let h = |t1_ok: bool| {
        let t1 = "[[:append :x 1]]";
        let h = H::default().invoke(1, t1);
        let h = if t1_ok { h.ok(1, t1) } else { h.fail(1, t1) };
        h.txn(2, "[[:r :x [1]]]")
    };
    let r = shows(&h(false), Anomaly::G1a);
    assert!(r.anomalies[&Anomaly::G1a].examples[0]
        .explanation
        .contains("which failed"));
    valid(&h(true));
}

#[test]
fn g1b_intermediate_read() {
    let h = |read: &str| {
        H::default()
            .txn(1, "[[:append :x 1] [:append :x 2]]")
            .txn(2, &format!("[[:r :x {read}]]"))
    };
    shows(&h("[1]"), Anomaly::G1b);
    valid(&h("[1 2]"));
}

#[test]
fn internal_inconsistency() {
    // A second transaction reads the first, so the graph has an edge (see
    // an_empty_transaction_graph_proves_nothing).
    let h = |read: &str| {
        H::default()
            .txn(1, &format!("[[:append :x 1] [:r :x {read}]]"))
            .txn(2, "[[:r :x [1]]]")
    };
    let r = shows(&h("[]"), Anomaly::Internal);
    // Elle's repeatable read allows internal anomalies; snapshot isolation does not.
    assert!(
        r.strongest_model.contains(&Model::RepeatableRead),
        "{:?}",
        r.strongest_model
    );
    valid(&h("[1]"));
}

#[test]
fn lost_update() {
    let h = |t2_read: &str| {
        let t1 = "[[:r :x []] [:append :x 1]]";
        let t2 = format!("[[:r :x {t2_read}] [:append :x 2]]");
        let h = H::default().invoke(1, t1);
        let h = if t2_read == "[]" {
            h.invoke(2, &t2).ok(1, t1).ok(2, &t2)
        } else {
            h.ok(1, t1).txn(2, &t2)
        };
        h.txn(3, "[[:r :x [1 2]]]")
    };
    let r = shows(&h("[]"), Anomaly::LostUpdate);
    assert_eq!(r.anomalies[&Anomaly::LostUpdate].examples[0].ops.len(), 2);
    valid(&h("[1]"));
}

#[test]
fn dirty_update() {
    let h = |t1_ok: bool| {
        let t1 = "[[:append :x 1]]";
        let h = H::default().invoke(1, t1);
        let h = if t1_ok { h.ok(1, t1) } else { h.fail(1, t1) };
        h.txn(2, "[[:append :x 2]]").txn(3, "[[:r :x [1 2]]]")
    };
    shows(&h(false), Anomaly::DirtyUpdate);
    valid(&h(true));
}

#[test]
fn duplicate_elements() {
    let h = |read: &str| {
        H::default()
            .txn(1, "[[:append :x 1]]")
            .txn(2, &format!("[[:r :x {read}]]"))
    };
    shows(&h("[1 1]"), Anomaly::DuplicateElements);
    valid(&h("[1]"));
}

#[test]
fn incompatible_order() {
    let h = |second: &str| {
        H::default()
            .invoke(1, "[[:append :x 1]]")
            .invoke(2, "[[:append :x 2]]")
            .ok(1, "[[:append :x 1]]")
            .ok(2, "[[:append :x 2]]")
            .txn(3, "[[:r :x [1 2]]]")
            .txn(4, &format!("[[:r :x {second}]]"))
    };
    shows(&h("[2 1]"), Anomaly::IncompatibleOrder);
    valid(&h("[1 2]"));
}

#[test]
fn future_read() {
    let h = |read: &str| {
        H::default()
            .txn(1, &format!("[[:r :x {read}] [:append :x 1]]"))
            .txn(2, "[[:r :x [1]]]")
    };
    shows(&h("[1]"), Anomaly::FutureRead);
    valid(&h("[]"));
}

#[test]
fn garbage_read_in_list_append() {
    let h = |read: &str| {
        H::default()
            .txn(1, "[[:append :x 1]]")
            .txn(2, &format!("[[:r :x {read}]]"))
    };
    let r = shows(&h("[1 9]"), Anomaly::GarbageRead);
    assert!(r.not.contains(&Model::ReadUncommitted));
    valid(&h("[1]"));
}

// ---- rw-register ----

fn reg(h: &H, a: Anomaly) -> CheckResult {
    let r = h.check(SS);
    assert_eq!(r.workload, Workload::RwRegister);
    assert!(
        r.anomaly_types.contains(&a),
        "expected {a}, found {:#?}",
        r.anomalies
    );
    r
}

#[test]
fn register_g_single_item() {
    let h = |t2_reads_y: &str| {
        let t2 = format!("[[:r :x 1] [:r :y {t2_reads_y}]]");
        H::default()
            .invoke(1, "[[:w :x 1] [:w :y 1]]")
            .invoke(2, &t2)
            .ok(1, "[[:w :x 1] [:w :y 1]]")
            .ok(2, &t2)
    };
    let r = reg(&h("nil"), Anomaly::GSingleItem);
    let why: Vec<&str> = r.anomalies[&Anomaly::GSingleItem].examples[0]
        .steps
        .iter()
        .map(|s| s.why.as_str())
        .collect();
    assert!(
        why.iter().any(|w| w.contains("which was read by")),
        "{why:?}"
    );
    valid(&h("1"));
}

#[test]
fn register_g1c() {
    let h = |t2_reads_x: &str| {
        let t1 = "[[:w :x 1] [:r :y 1]]";
        let t2 = format!("[[:w :y 1] [:r :x {t2_reads_x}]]");
        H::default()
            .invoke(1, t1)
            .invoke(2, &t2)
            .ok(1, t1)
            .ok(2, &t2)
    };
    reg(&h("1"), Anomaly::G1c);
    valid(&h("nil"));
}

#[test]
fn register_cyclic_versions() {
    let h = |t2_writes: &str| {
        H::default()
            .invoke(1, "[[:w :x 1]]")
            .ok(1, "[[:w :x 1]]")
            .txn(2, "[[:r :x 1] [:w :x 2]]")
            .txn(3, &format!("[[:r :x 2] [:w :x {t2_writes}]]"))
    };
    // 1 < 2 (T2 read 1, wrote 2), but T3 read 2 and wrote 1 again? Values are unique per key,
    // so the cycle comes from T3 reading 2 and then writing a value T2 read before writing.
    let cyclic = H::default()
        .invoke(1, "[[:r :x 1] [:w :x 2]]")
        .invoke(2, "[[:r :x 2] [:w :x 1]]")
        .ok(1, "[[:r :x 1] [:w :x 2]]")
        .ok(2, "[[:r :x 2] [:w :x 1]]");
    reg(&cyclic, Anomaly::CyclicVersions);
    valid(&h("3"));
}

#[test]
fn register_garbage_aborted_and_intermediate_reads() {
    let base = || H::default().txn(1, "[[:w :x 1] [:w :x 2]]");
    reg(&base().txn(2, "[[:r :x 3]]"), Anomaly::GarbageRead);
    reg(&base().txn(2, "[[:r :x 1]]"), Anomaly::G1b);
    valid(&base().txn(2, "[[:r :x 2]]"));
    let failed = H::default()
        .invoke(1, "[[:w :x 1]]")
        .fail(1, "[[:w :x 1]]")
        .txn(2, "[[:r :x 1]]");
    reg(&failed, Anomaly::G1a);
}

#[test]
fn register_internal_and_lost_update() {
    let h = H::default()
        .txn(2, "[[:w :x 2]]")
        .txn(1, "[[:w :x 1] [:r :x 2]]");
    reg(&h, Anomaly::Internal);
    valid(
        &H::default()
            .txn(2, "[[:w :x 2]]")
            .txn(1, "[[:w :x 1] [:r :x 1]]")
            .txn(3, "[[:r :x 1]]"),
    );
    let lost = |t2_read: &str| {
        let t2 = format!("[[:r :x {t2_read}] [:w :x 2]]");
        H::default()
            .invoke(1, "[[:r :x nil] [:w :x 1]]")
            .invoke(2, &t2)
            .ok(1, "[[:r :x nil] [:w :x 1]]")
            .ok(2, &t2)
    };
    reg(&lost("nil"), Anomaly::LostUpdate);
    assert!(!lost("1")
        .check(SS)
        .anomaly_types
        .contains(&Anomaly::LostUpdate));
}

// ---- verdicts ----

#[test]
fn nothing_committed_is_unknown_not_valid() {
    let h = H::default()
        .invoke(1, "[[:append :x 1]]")
        .fail(1, "[[:append :x 1]]");
    assert_eq!(h.check(SS).valid, Validity::Unknown);
}

#[test]
fn a_tiny_cycle_search_budget_gives_unknown_never_valid() {
    // A G2-item history checked with no budget: the cycle is still found by the plain search,
    // and the serializable verdict is still invalid.
    let h = g2("[]");
    let hist = read_history_str("t.edn", &h.lines.join("\n")).unwrap();
    let opts = CheckOptions {
        models: vec![Model::Serializable],
        limits: isoscope::checker::cycle::SearchLimits { steps: 0 },
        ..CheckOptions::default()
    };
    let r = check(&hist, &opts).unwrap();
    assert_eq!(r.valid, Validity::Invalid);
}

/// A failed transaction's reads are not evidence: it may have read its own append, which never
/// committed. Only when an ok transaction reads the same thing is the order incompatible.
#[test]
fn failed_transactions_reads_do_not_make_orders() {
    let h = |kind: &str| {
        H::default()
            .txn(1, "[[:append :x 1]]")
            .invoke(2, "[[:append :x 9] [:r :x nil]]")
            .op(kind, 2, "[[:append :x 9] [:r :x [1 9]]]")
            .txn(3, "[[:append :x 2]]")
            .txn(4, "[[:r :x [1 2]]]")
    };
    valid(&h("fail"));
    valid(&h("info"));
    shows(&h("ok"), Anomaly::IncompatibleOrder);
}
