//! Durability: each rule of the final-read check on a minimal history, beside a twin that
//! differs in the one thing the rule is about, so that both a missed loss and a made-up one fail.

use isoscope::checker::durability::{self, Durability, DurabilityKind};
use isoscope::checker::{check, Anomaly, CheckOptions, CheckResult, Model, Validity, Workload};
use isoscope::history::read::read_history_str;

/// Builds an EDN history op by op; op `i` happens at `i` milliseconds.
#[derive(Default, Clone)]
struct H {
    lines: Vec<String>,
}

impl H {
    fn op(mut self, kind: &str, p: &str, f: &str, v: &str) -> H {
        let i = self.lines.len();
        self.lines.push(format!(
            "{{:index {i}, :time {}, :type :{kind}, :process {p}, :f :{f}, :value {v}}}",
            i * 1_000_000
        ));
        self
    }
    fn invoke(self, p: u64, f: &str, v: &str) -> H {
        self.op("invoke", &p.to_string(), f, v)
    }
    fn done(self, kind: &str, p: u64, f: &str, v: &str) -> H {
        self.op(kind, &p.to_string(), f, v)
    }
    /// A transaction (or any op) that starts and ends with `kind` before the next op.
    fn whole(self, kind: &str, p: u64, f: &str, v: &str) -> H {
        self.invoke(p, f, v).done(kind, p, f, v)
    }
    fn txn(self, p: u64, v: &str) -> H {
        self.whole("ok", p, "txn", v)
    }
    /// A read by process `p` returning `v`, invoked with nil.
    fn read(self, p: u64, f: &str, v: &str) -> H {
        self.invoke(p, f, "nil").done("ok", p, f, v)
    }
    fn nemesis(self) -> H {
        self.op("info", ":nemesis", "kill", "nil")
    }
    fn durability(&self, w: Workload) -> Durability {
        let h = read_history_str("t.edn", &self.lines.join("\n")).expect("history parses");
        durability::check(&h, w, 8).expect("the workload has a durability check")
    }
    /// Checks against serializable, which (unlike strict serializability) lets a read that
    /// misses an acknowledged write be ordered before it: the final read's stale state is then
    /// the durability check's alone to find.
    fn check(&self, durability: bool) -> CheckResult {
        let h = read_history_str("t.edn", &self.lines.join("\n")).expect("history parses");
        let opts = CheckOptions {
            models: vec![Model::Serializable],
            durability,
            ..CheckOptions::default()
        };
        check(&h, &opts).expect("history checks")
    }
}

fn only_finding(d: &Durability, kind: DurabilityKind) -> &durability::DurabilityFinding {
    assert_eq!(d.examples.len(), 1, "{d:#?}");
    assert_eq!(d.examples[0].kind, kind, "{d:#?}");
    &d.examples[0]
}

// ---- list-append ----

/// Appends 1 and 2 to key 5 (acknowledged at indices 1 and 3), then a read returning `read`.
fn two_appends(read: &str) -> H {
    H::default()
        .txn(0, "[[:append 5 1]]")
        .txn(0, "[[:append 5 2]]")
        .txn(1, &format!("[[:r 5 {read}]]"))
}

#[test]
fn a_lost_append_is_named_with_its_op_and_time() {
    let d = two_appends("[1]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!((d.keys, d.acknowledged, d.lost), (1, 2, 1));
    let f = only_finding(&d, DurabilityKind::Lost);
    assert_eq!(f.key, "5");
    assert_eq!(f.ops, vec![3, 5]);
    for part in [
        "Append of 2 to key 5",
        "acknowledged at index 3 (at 0.003 s)",
        "final read of key 5 at index 5",
        "lost",
    ] {
        assert!(f.explanation.contains(part), "{part}: {}", f.explanation);
    }
    let d = two_appends("[1 2]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Valid);
    assert_eq!((d.acknowledged, d.lost, d.unexpected), (2, 0, 0));
    assert!(d.examples.is_empty() && d.notes.is_empty());
}

#[test]
fn an_indeterminate_append_in_the_final_read_is_recovered() {
    let h = |read: &str| {
        H::default()
            .txn(0, "[[:append 5 1]]")
            .whole("info", 0, "txn", "[[:append 5 2]]")
            .invoke(2, "txn", "[[:append 5 3]]") // never completes
            .txn(1, &format!("[[:r 5 {read}]]"))
    };
    let d = h("[1 2 3]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Valid, "{d:#?}");
    assert_eq!((d.acknowledged, d.lost, d.recovered), (1, 0, 2));
    // Missing, they are not lost: they may never have happened.
    let d = h("[1]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Valid);
    assert_eq!((d.lost, d.recovered), (0, 0));
}

#[test]
fn an_indeterminate_append_an_ok_read_saw_and_the_final_read_lacks_is_read_then_lost() {
    // As MariaDB did under kill: a read-only transaction saw an append whose COMMIT was cut off
    // by the crash, and after recovery the append was gone.
    let h = |final_read: &str| {
        H::default()
            .txn(0, "[[:append 5 1]]")
            .invoke(2, "txn", "[[:append 5 2]]")
            .txn(1, "[[:r 5 [1 2]]]")
            .done("info", 2, "txn", "[[:append 5 2]]")
            .nemesis()
            .txn(3, "[[:append 5 3]]")
            .txn(1, &format!("[[:r 5 {final_read}]]"))
    };
    let d = h("[1 3]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Invalid, "{d:#?}");
    assert_eq!((d.lost, d.read_then_lost), (0, 1));
    let f = only_finding(&d, DurabilityKind::Lost);
    assert_eq!(
        f.ops,
        vec![4, 10],
        "the read that saw it, and the final read"
    );
    assert!(
        f.explanation.contains("read, then lost"),
        "{}",
        f.explanation
    );
    // Kept, it is recovered; never read, its absence proves nothing.
    let d = h("[1 2 3]").durability(Workload::ListAppend);
    assert_eq!(
        (d.valid, d.read_then_lost, d.recovered),
        (Validity::Valid, 0, 1)
    );
    let unread = H::default()
        .txn(0, "[[:append 5 1]]")
        .whole("info", 2, "txn", "[[:append 5 2]]")
        .txn(1, "[[:r 5 [1]]]");
    assert_eq!(
        unread.durability(Workload::ListAppend).valid,
        Validity::Valid
    );
}

#[test]
fn elements_nobody_appended_or_only_failed_ops_are_unexpected() {
    let h = H::default()
        .txn(0, "[[:append 5 1]]")
        .whole("fail", 0, "txn", "[[:append 5 2]]");
    let d = h
        .clone()
        .txn(1, "[[:r 5 [1 2 9]]]")
        .durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!((d.lost, d.unexpected), (0, 2));
    assert_eq!(d.examples.len(), 2);
    assert!(d
        .examples
        .iter()
        .all(|f| f.kind == DurabilityKind::Unexpected));
    let failed = &d.examples[0];
    assert_eq!(failed.ops, vec![3, 5]);
    assert!(failed
        .explanation
        .contains("holds 2, which only failed appends appended"));
    let garbage = &d.examples[1];
    assert_eq!(garbage.ops, vec![5]);
    assert!(garbage
        .explanation
        .contains("holds 9, which no op appended"));
    let d = h.txn(1, "[[:r 5 [1]]]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Valid);
}

#[test]
fn lost_findings_come_before_unexpected_ones_and_are_capped() {
    let mut h = H::default();
    for e in 1..=12 {
        h = h.txn(0, &format!("[[:append 1 {e}]]"));
    }
    let d = h.txn(1, "[[:r 1 [100]]]").durability(Workload::ListAppend);
    assert_eq!((d.lost, d.unexpected), (12, 1));
    assert_eq!(d.examples.len(), 8);
    assert!(d.examples.iter().all(|f| f.kind == DurabilityKind::Lost));
}

#[test]
fn no_final_read_is_unknown_never_valid() {
    let h = H::default()
        .txn(0, "[[:append 5 1]]")
        .txn(0, "[[:append 6 1]]");
    let d = h
        .clone()
        .txn(1, "[[:r 5 [1]]]")
        .durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Unknown);
    assert_eq!((d.keys, d.keys_without_final_read), (2, 1));
    assert_eq!(d.acknowledged, 1);
    assert_eq!(d.notes.len(), 1);
    assert!(
        d.notes[0].contains("1 of 2 written keys (6)"),
        "{:?}",
        d.notes
    );
    // Something lost elsewhere still makes it invalid.
    let d = h.txn(1, "[[:r 5 []]]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!(d.keys_without_final_read, 1);
}

#[test]
fn a_read_invoked_before_the_last_write_completed_is_not_final() {
    // The read begins while the append of 2 is running: it may miss it, and it is not final.
    let h = H::default()
        .txn(0, "[[:append 5 1]]")
        .invoke(0, "txn", "[[:append 5 2]]")
        .invoke(1, "txn", "[[:r 5 nil]]")
        .done("ok", 0, "txn", "[[:append 5 2]]")
        .done("ok", 1, "txn", "[[:r 5 [1]]]");
    let d = h.durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Unknown, "{d:#?}");
    assert_eq!(d.keys_without_final_read, 1);
    // A failed write counts as running until it fails, too.
    let h = H::default()
        .txn(0, "[[:append 5 1]]")
        .invoke(0, "txn", "[[:append 5 2]]")
        .invoke(1, "txn", "[[:r 5 nil]]")
        .done("fail", 0, "txn", "[[:append 5 2]]")
        .done("ok", 1, "txn", "[[:r 5 []]]");
    assert_eq!(h.durability(Workload::ListAppend).valid, Validity::Unknown);
    // One that begins after the append completed is final, and misses it: lost.
    let d = two_appends("[1]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Invalid);
}

#[test]
fn a_read_invoked_before_a_nemesis_op_is_not_final() {
    let h = H::default().txn(0, "[[:append 5 1]]");
    let before = h.clone().txn(1, "[[:r 5 []]]").nemesis();
    let d = before.durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Unknown, "{d:#?}");
    assert!(
        d.notes[0].contains("after the last nemesis op"),
        "{:?}",
        d.notes
    );
    // The same read after the nemesis op is final.
    let after = h.clone().nemesis().txn(1, "[[:r 5 []]]");
    assert_eq!(
        after.durability(Workload::ListAppend).valid,
        Validity::Invalid
    );
    // And of two reads after it, the last one invoked counts.
    let two = h.nemesis().txn(1, "[[:r 5 []]]").txn(1, "[[:r 5 [1]]]");
    assert_eq!(two.durability(Workload::ListAppend).valid, Validity::Valid);
}

#[test]
fn a_write_that_never_completed_blocks_only_reads_invoked_before_it() {
    let h = H::default()
        .txn(0, "[[:append 5 1]]")
        .txn(1, "[[:r 5 [1]]]")
        .invoke(2, "txn", "[[:append 5 2]]");
    assert_eq!(h.durability(Workload::ListAppend).valid, Validity::Unknown);
    let d = h.txn(1, "[[:r 5 [1]]]").durability(Workload::ListAppend);
    assert_eq!(d.valid, Validity::Valid);
    assert_eq!(d.recovered, 0);
}

// ---- counter ----

/// Three acknowledged increments of counter 7, one indeterminate, then a final read.
fn counter(final_value: i64) -> H {
    H::default()
        .whole("ok", 0, "add", "[7 1]")
        .whole("ok", 0, "add", "[7 1]")
        .whole("ok", 0, "add", "[7 1]")
        .whole("info", 0, "add", "[7 1]")
        .whole("fail", 1, "add", "[7 1]")
        .invoke(1, "read", "[7 nil]")
        .done("ok", 1, "read", &format!("[7 {final_value}]"))
}

/// Acknowledged increments of counter 7 that read the counter back as `afters`, then a final
/// read of `final_value`.
fn counted(afters: &[i64], final_value: i64) -> H {
    let mut h = H::default();
    for (p, a) in afters.iter().enumerate() {
        h = h
            .invoke(p as u64, "add", "[7 1]")
            .done("ok", p as u64, "add", &format!("[7 1 {a}]"));
    }
    h.read(9, "read", &format!("[7 {final_value}]"))
}

#[test]
fn a_counter_below_a_value_a_committed_increment_read_back_lost_the_difference() {
    let d = counted(&[1, 2, 3], 1).durability(Workload::Counter);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!((d.acknowledged, d.lost, d.unexpected), (3, 2, 0));
    let f = only_finding(&d, DurabilityKind::Lost);
    assert_eq!((f.key.as_str(), f.ops.clone()), ("7", vec![5, 7]));
    assert_eq!(
        f.explanation,
        "The final read of counter 7 at index 7 (at 0.007 s) is 1, but the acknowledged \
         increment completed at index 5 (at 0.005 s) read it back as 3, so 3 was committed: 2 \
         lost."
    );
    // The twin: the final value holds what was committed.
    let d = counted(&[1, 2, 3], 3).durability(Workload::Counter);
    assert_eq!((d.valid, d.lost), (Validity::Valid, 0));
}

#[test]
fn a_counter_below_a_value_an_ok_read_saw_lost_the_difference() {
    let h = |last: i64| {
        H::default()
            .whole("ok", 0, "add", "1")
            .whole("ok", 0, "add", "1")
            .read(1, "read", "2")
            .read(1, "read", &last.to_string())
    };
    let d = h(0).durability(Workload::Counter);
    assert_eq!((d.valid, d.lost), (Validity::Invalid, 2));
    let f = only_finding(&d, DurabilityKind::Lost);
    assert!(
        f.explanation
            .contains("the ok read completed at index 5 (at 0.005 s) saw 2"),
        "{}",
        f.explanation
    );
    assert_eq!(h(2).durability(Workload::Counter).valid, Validity::Valid);
}

#[test]
fn a_shortfall_no_committed_transaction_saw_is_an_isolation_finding_not_a_loss() {
    // Three increments acknowledged, the counter ends at 1, and nobody ever saw it above 1:
    // increments lost to lost updates, which no crash is needed to explain.
    let d = counter(1).durability(Workload::Counter);
    assert_eq!((d.valid, d.acknowledged, d.lost), (Validity::Valid, 3, 0));
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("short of the acknowledged increments by 2")
                && n.contains("lost updates")),
        "{:?}",
        d.notes
    );
    // The twin at its bounds: nothing short, nothing noted.
    let d = counter(3).durability(Workload::Counter);
    assert_eq!((d.valid, d.lost, d.recovered), (Validity::Valid, 0, 0));
    assert!(d.notes.is_empty(), "{:?}", d.notes);
}

#[test]
fn a_counter_between_its_bounds_is_durable_and_above_them_unexpected() {
    let d = counter(3).durability(Workload::Counter);
    assert_eq!((d.valid, d.lost, d.recovered), (Validity::Valid, 0, 0));
    let d = counter(4).durability(Workload::Counter);
    assert_eq!((d.valid, d.recovered), (Validity::Valid, 1));
    let d = counter(6).durability(Workload::Counter);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!(d.unexpected, 2);
    let f = only_finding(&d, DurabilityKind::Unexpected);
    assert!(
        f.explanation
            .contains("total 4: 2 more than could have been applied"),
        "{}",
        f.explanation
    );
}

#[test]
fn a_negative_counter_is_unexpected() {
    let d = counter(-2).durability(Workload::Counter);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!((d.lost, d.unexpected, d.recovered), (0, 2, 0));
    assert!(d.examples[0]
        .explanation
        .contains("below the 0 it started at"));
    // Below a committed value too: lost as far as zero, unexpected below it.
    let d = counted(&[1, 2], -1).durability(Workload::Counter);
    assert_eq!((d.lost, d.unexpected), (2, 1));
    // A counter nobody added to reads 0, and nothing else.
    let h = |v: &str| H::default().read(0, "read", &format!("[8 {v}]"));
    let d = h("0").durability(Workload::Counter);
    assert_eq!((d.keys, d.lost, d.unexpected, d.recovered), (0, 0, 0, 0));
    let d = h("-1").durability(Workload::Counter);
    assert_eq!((d.lost, d.unexpected, d.recovered), (0, 1, 0));
    let d = h("4").durability(Workload::Counter);
    assert_eq!((d.lost, d.unexpected, d.recovered), (0, 4, 0));
}

#[test]
fn a_plain_counter_without_final_read_is_unknown() {
    let h = H::default()
        .whole("ok", 0, "add", "1")
        .invoke(1, "read", "nil")
        .whole("ok", 0, "add", "1")
        .done("ok", 1, "read", "1");
    let d = h.durability(Workload::Counter);
    assert_eq!(d.valid, Validity::Unknown);
    assert!(d.notes[0].contains("(the counter)"), "{:?}", d.notes);
}

#[test]
fn a_stale_write_may_set_a_counter_back_so_lost_updates_are_not_lost_writes() {
    // Read-modify-write from stale snapshots: two increments read back 2 (a lost update), one
    // read back 3, and the last stale write left 2. Isolation names the lost update; the final
    // value below 3 is what a stale write does, not a crash.
    let h = counted(&[1, 2, 3, 2], 2);
    let r = h.check(true);
    assert!(r.anomaly_types.contains(&Anomaly::LostUpdate));
    let d = r.durability.expect("durability was asked for");
    assert_eq!((d.valid, d.lost), (Validity::Valid, 0));
    assert!(
        d.notes.iter().any(|n| n.contains("stale write")),
        "{:?}",
        d.notes
    );
    // The twin without the lost update: 3 was committed, and the counter ends below it.
    let d = counted(&[1, 2, 3], 2).check(true).durability.unwrap();
    assert_eq!((d.valid, d.lost), (Validity::Invalid, 1));
}

// ---- rw-register ----

#[test]
fn a_stale_register_names_the_later_acknowledged_write() {
    let h = |last: &str| {
        H::default()
            .txn(0, "[[:w 3 10]]")
            .txn(0, "[[:w 3 11]]")
            .txn(0, "[[:w 3 12]]")
            .txn(1, &format!("[[:r 3 {last}]]"))
    };
    let d = h("10").durability(Workload::RwRegister);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!((d.acknowledged, d.lost), (3, 2));
    let f = only_finding(&d, DurabilityKind::Lost);
    assert_eq!(f.ops, vec![5, 7]);
    for part in [
        "returned 10, written by the write acknowledged at index 1",
        "the write of 12 was acknowledged at index 5 (at 0.005 s)",
        "began after that write completed",
        "(and 1 other acknowledged write)",
    ] {
        assert!(f.explanation.contains(part), "{part}: {}", f.explanation);
    }
    assert_eq!(
        h("12").durability(Workload::RwRegister).valid,
        Validity::Valid
    );
}

#[test]
fn concurrent_register_writes_may_end_in_either_order() {
    // 11 began before 10 completed: either may be last.
    let h = H::default()
        .invoke(0, "txn", "[[:w 3 10]]")
        .invoke(1, "txn", "[[:w 3 11]]")
        .done("ok", 0, "txn", "[[:w 3 10]]")
        .done("ok", 1, "txn", "[[:w 3 11]]")
        .txn(2, "[[:r 3 10]]");
    assert_eq!(h.durability(Workload::RwRegister).valid, Validity::Valid);
}

#[test]
fn a_nil_register_after_an_acknowledged_write_lost_it() {
    let h = H::default()
        .txn(0, "[[:w 3 10]]")
        .whole("info", 0, "txn", "[[:w 3 11]]")
        .txn(1, "[[:r 3 nil]]");
    let d = h.durability(Workload::RwRegister);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!(d.lost, 1);
    let f = only_finding(&d, DurabilityKind::Lost);
    assert_eq!(f.ops, vec![1, 5]);
    assert!(f.explanation.contains("returned nil"), "{}", f.explanation);
}

#[test]
fn register_values_of_indeterminate_failed_and_no_writes() {
    let h = |last: &str| {
        H::default()
            .txn(0, "[[:w 3 10]]")
            .whole("info", 0, "txn", "[[:w 3 11]]")
            .whole("fail", 1, "txn", "[[:w 3 12]]")
            .txn(2, &format!("[[:r 3 {last}]]"))
    };
    // The indeterminate write may have happened at any time: recovered, nothing lost.
    let d = h("11").durability(Workload::RwRegister);
    assert_eq!((d.valid, d.recovered, d.lost), (Validity::Valid, 1, 0));
    for last in ["12", "99"] {
        let d = h(last).durability(Workload::RwRegister);
        assert_eq!(d.valid, Validity::Invalid, "{last}");
        assert_eq!(d.unexpected, 1, "{last}");
    }
}

// ---- set ----

/// Jepsen's set: adds of 1 and 2 acknowledged, 3 indeterminate, 4 never completed, 5 failed;
/// then the final read.
fn set(read: &str) -> H {
    H::default()
        .whole("ok", 0, "add", "1")
        .whole("ok", 0, "add", "2")
        .whole("info", 0, "add", "3")
        .invoke(1, "add", "4")
        .whole("fail", 2, "add", "5")
        .read(3, "read", read)
}

#[test]
fn set_lost_unexpected_and_recovered_as_jepsen_counts_them() {
    let d = set("#{1 2 3 4}").durability(Workload::Set);
    assert_eq!(d.valid, Validity::Valid, "{d:#?}");
    assert_eq!(
        (d.keys, d.acknowledged, d.lost, d.recovered, d.unexpected),
        (1, 2, 0, 2, 0)
    );
    let d = set("#{2 3 6}").durability(Workload::Set);
    assert_eq!(d.valid, Validity::Invalid);
    assert_eq!((d.lost, d.recovered, d.unexpected), (1, 1, 1));
    assert_eq!(d.examples[0].kind, DurabilityKind::Lost);
    assert_eq!(d.examples[0].key, "");
    assert!(
        d.examples[0]
            .explanation
            .starts_with("Add of element 1 was acknowledged at index 1"),
        "{}",
        d.examples[0].explanation
    );
    assert_eq!(d.examples[1].kind, DurabilityKind::Unexpected);
    assert!(d.examples[1]
        .explanation
        .contains("holds element 6, which no op added"));
    // A failed add found in the final state certainly should not be there.
    let d = set("#{1 2 5}").durability(Workload::Set);
    assert_eq!((d.valid, d.unexpected), (Validity::Invalid, 1));
}

#[test]
fn a_set_is_always_checked_for_durability() {
    let r = set("#{2}").check(false);
    assert_eq!(r.workload, Workload::Set);
    assert_eq!(r.valid, Validity::Invalid);
    // Isolation itself found nothing: the verdict is the durability check's, with a note.
    assert!(r.anomaly_types.is_empty());
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("1 acknowledged write lost")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.durability.as_ref().map(|d| d.lost), Some(1));
    let r = set("#{1 2}").check(false);
    assert_eq!(r.valid, Validity::Valid);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["durability"]["valid"], true);
    assert_eq!(json["durability"]["acknowledged"], 2);
}

// ---- the overall verdict ----

#[test]
fn durability_lowers_the_verdict_and_leaves_isolation_alone() {
    // Isolation valid, durability invalid: invalid overall, isolation fields unchanged.
    let lost = two_appends("[1]");
    let plain = lost.check(false);
    let with = lost.check(true);
    assert_eq!(plain.valid, Validity::Valid);
    assert!(plain.durability.is_none());
    assert!(serde_json::to_value(&plain)
        .unwrap()
        .get("durability")
        .is_none());
    assert_eq!(with.valid, Validity::Invalid);
    assert_eq!(with.anomaly_types, plain.anomaly_types);
    assert_eq!(with.strongest_model, plain.strongest_model);
    assert_eq!(with.not, plain.not);
    assert_eq!(
        serde_json::to_value(&with.model_status).unwrap(),
        serde_json::to_value(&plain.model_status).unwrap()
    );
    // Isolation valid, durability unknown: unknown overall, with a note saying why.
    let unread = H::default()
        .txn(0, "[[:append 5 1]]")
        .txn(1, "[[:r 5 [1]]]")
        .txn(0, "[[:append 6 1]]");
    let r = unread.check(true);
    assert_eq!(r.valid, Validity::Unknown);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("durability could not be decided")),
        "{:?}",
        r.notes
    );
    assert_eq!(unread.check(false).valid, Validity::Valid);
    // Isolation invalid, durability unknown: still invalid.
    let g1c = unread
        .invoke(1, "txn", "[[:append :x 1] [:r :y [1]]]")
        .invoke(2, "txn", "[[:append :y 1] [:r :x [1]]]")
        .done("ok", 1, "txn", "[[:append :x 1] [:r :y [1]]]")
        .done("ok", 2, "txn", "[[:append :y 1] [:r :x [1]]]");
    let r = g1c.check(true);
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.durability.unwrap().valid, Validity::Unknown);
    // Both valid: valid.
    assert_eq!(two_appends("[1 2]").check(true).valid, Validity::Valid);
}

#[test]
fn bank_has_no_durability_check() {
    let h = H::default().read(0, "read", "{0 10, 1 10}");
    let hist = read_history_str("t.edn", &h.lines.join("\n")).unwrap();
    assert!(durability::check(&hist, Workload::Bank, 8).is_none());
    assert!(h.check(true).durability.is_none());
}

// ---- isoscope check --durability ----

#[test]
fn check_prints_durability_only_when_asked_and_exits_invalid_on_a_loss() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lost.edn");
    std::fs::write(&file, two_appends("[1]").lines.join("\n")).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_isoscope"))
            .arg("check")
            .args(["--model", "serializable"])
            .args(args)
            .arg(&file)
            .output()
            .expect("run isoscope")
    };
    let plain = run(&[]);
    assert_eq!(plain.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("durability"));
    let text = run(&["--durability"]);
    assert_eq!(text.status.code(), Some(1));
    let out = String::from_utf8_lossy(&text.stdout);
    for part in [
        "invalid (list-append",
        "durability: invalid (1 key written, 0 without final read)",
        "acknowledged 2, lost 1, read then lost 0, recovered 0, unexpected 0",
        "lost: Append of 2 to key 5 was acknowledged at index 3",
    ] {
        assert!(out.contains(part), "{part}:\n{out}");
    }
    let json = run(&["--durability", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["anomaly_types"], serde_json::json!([]));
    assert_eq!(v["durability"]["valid"], false);
    assert_eq!(v["durability"]["lost"], 1);
    assert_eq!(v["durability"]["examples"][0]["kind"], "lost");
    assert_eq!(v["durability"]["examples"][0]["key"], "5");
    assert_eq!(
        v["durability"]["examples"][0]["ops"],
        serde_json::json!([3, 5])
    );
}

#[test]
fn a_mariadb_kill_run_showed_a_committed_read_of_an_append_recovery_then_dropped() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/histories/mariadb-kill-read-then-lost.jsonl"
    );
    let h = isoscope::history::read_history(std::path::Path::new(path)).expect("the sample reads");
    let opts = CheckOptions {
        models: vec![Model::RepeatableRead],
        durability: true,
        ..CheckOptions::default()
    };
    let r = check(&h, &opts).expect("the sample checks");
    assert_eq!(r.valid, Validity::Invalid);
    assert!(
        r.anomaly_types.contains(&Anomaly::IncompatibleOrder),
        "{:?}",
        r.anomaly_types
    );
    let d = r.durability.expect("durability was asked for");
    assert_eq!(
        (d.lost, d.read_then_lost, d.unexpected),
        (0, 1, 0),
        "{d:#?}"
    );
    let f = only_finding(&d, DurabilityKind::Lost);
    assert_eq!(f.key, "596");
    assert!(
        f.explanation
            .starts_with("Append of 157 to key 596 has an unknown outcome"),
        "{}",
        f.explanation
    );
}
