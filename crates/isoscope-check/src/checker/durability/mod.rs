//! Durability: is every acknowledged write in the database's final state?
//!
//! After a run with faults, the runner reads every key once more when the server answers again:
//! the *final reads*. This check holds each key's final read against what the history says was
//! written to it. It is about the state the database ends in, not about isolation, so its result
//! ([`Durability`]) stands beside the anomalies rather than among them.
//!
//! **The final read of a key** is, among the `ok` reads of the key invoked after
//! - the completion of every write to the key, whatever its outcome (`ok`, `fail` or `info`), and
//! - every nemesis op of the history,
//!
//! the one invoked last. A read that began while a write was still running may rightly miss it,
//! and one that began before a fault was healed (or injected) says nothing about the state after
//! it. A write that never completed is taken to end at its invocation: it is indeterminate, so it
//! can be neither lost nor required, and waiting for a completion that never comes would leave
//! its key without a final read for good. It only disqualifies reads invoked before it began.
//! A key with writes and no such read is *without final read*: nothing can be said of it, and the
//! verdict is unknown unless something is lost elsewhere.
//!
//! **What is checked**, one file per workload (bank has no notion of it: [`check`] returns
//! `None`), each holding only what a committed write or read proves must be in the final state:
//! - `list_append` and `set` (through `collection`): every acknowledged element is in the
//!   final read, else *lost*; an indeterminate one found there is *recovered*; one no op wrote,
//!   or only failed ops, is *unexpected*; an indeterminate one some `ok` read saw but the final
//!   read lacks is *read then lost* (as Jepsen's set-full treats an element once read).
//! - `counter`: the final value is at least the largest value a committed transaction saw
//!   (else *lost*), and at most the increments attempted (else *unexpected*). Increments lost to
//!   lost updates are the isolation check's finding, not this one's.
//! - `rw_register`: the final value could be the latest.
//!
//! `writes` indexes every key's writes once for all of them; `final_read` picks the read.
//!
//! Invariants: time and memory are linear in the history (one pass indexes writes, one picks
//! final reads, hash maps keyed by key); the verdict is valid only when every key written has a
//! final read and nothing is lost or unexpected, and unknown, never valid, when some key could
//! not be judged.

mod collection;
mod counter;
mod final_read;
mod list_append;
mod rw_register;
mod set;
mod tally;
mod writes;

use crate::history::{Completion, History, Mop, Op, OpValue, Pairs, Process};

use super::{Validity, Workload};
use tally::Tally;

/// Lost or unexpected.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DurabilityKind {
    /// An acknowledged write (or increment) the final state does not hold.
    Lost,
    /// Something the final state holds that no write that may have happened put there.
    Unexpected,
}

/// One lost or unexpected finding, explained.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DurabilityFinding {
    /// Lost or unexpected.
    pub kind: DurabilityKind,
    /// The key as printed (`3`); empty for workloads of one unnamed object (a plain counter, a
    /// set).
    pub key: String,
    /// History indices: the write's completion (when one op is to blame), then the final read.
    pub ops: Vec<u64>,
    /// One or two sentences a person can follow, naming ops, times and values.
    pub explanation: String,
}

/// What the final reads say about acknowledged writes.
///
/// Invariant: `valid` is invalid exactly when `lost`, `read_then_lost` or `unexpected` is
/// non-zero; otherwise unknown
/// when some written key had no final read (or could not be judged, see `notes`), and valid only
/// when every written key was judged.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Durability {
    /// Invalid if anything was lost or unexpected; unknown if some key could not be judged;
    /// valid otherwise.
    pub valid: Validity,
    /// Keys with at least one attempted write.
    pub keys: usize,
    /// Of those, the keys with no final read.
    pub keys_without_final_read: usize,
    /// Acknowledged writes (increments, for counters) held against a final read.
    pub acknowledged: u64,
    /// Acknowledged writes (increments) the final state does not hold.
    pub lost: u64,
    /// Indeterminate writes (increments) the final state holds.
    pub recovered: u64,
    /// Elements, values or increments the final state holds that no write that may have happened
    /// put there.
    pub unexpected: u64,
    /// Writes of unknown outcome that an `ok` read observed and the final state does not hold:
    /// the database showed them to a committed transaction, then lost them.
    pub read_then_lost: u64,
    /// The first findings, lost before unexpected, at most as many as asked for.
    pub examples: Vec<DurabilityFinding>,
    /// Anything that limits the verdict, in words.
    pub notes: Vec<String>,
}

/// Checks that every acknowledged write is in the final state; `examples` bounds the explained
/// findings kept. `None` when the workload has no notion of it (bank: transfers move money
/// between accounts, and the bank checker already holds every read to the total).
///
/// Never fails: ops that do not fit the workload are left out, and a key they make
/// undecidable turns the verdict unknown, with a note.
pub fn check(h: &History, workload: Workload, examples: usize) -> Option<Durability> {
    let ctx = Ctx {
        ops: &h.ops,
        pairs: h.pairs(),
        nemesis: h.ops.iter().rposition(|op| op.process == Process::Nemesis),
    };
    let mut t = Tally::new(examples);
    match workload {
        Workload::Bank => return None,
        Workload::ListAppend => list_append::check(h, &ctx, &mut t),
        Workload::Set => set::check(&ctx, &mut t),
        Workload::Counter => counter::check(&ctx, &mut t),
        Workload::RwRegister => rw_register::check(&ctx, &mut t),
    }
    Some(t.finish(ctx.nemesis.is_some()))
}

/// What every workload's pass needs.
struct Ctx<'h> {
    ops: &'h [Op],
    pairs: Pairs,
    /// Position of the last nemesis op; final reads must be invoked after it.
    nemesis: Option<usize>,
}

/// ` (at 12.345 s)` when the op's time is known.
fn at(op: &Op) -> String {
    match op.time {
        Some(t) => format!(" (at {:.3} s)", t as f64 / 1e9),
        None => String::new(),
    }
}

/// The micro-ops of a transaction: those of the op that shows what it did, or of its
/// invocation when that op has none (a completion recorded without a value).
fn txn_mops<'h>(ops: &'h [Op], c: &Completion) -> &'h [Mop] {
    let shown = c.value_op(ops);
    for i in [shown, c.invoke] {
        if let OpValue::Txn(m) = &ops[i].value {
            if !m.is_empty() {
                return m;
            }
        }
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::final_read::Window;
    use super::*;
    use crate::history::read::read_history_str;
    use crate::history::OpType;

    fn pair(invoke: usize, complete: Option<usize>, outcome: OpType) -> Completion {
        Completion {
            invoke,
            complete,
            outcome,
        }
    }

    #[test]
    fn the_window_opens_after_every_write_and_the_last_nemesis_op() {
        let mut w: Window<u32> = Window::default();
        w.write(&pair(0, Some(4), OpType::Fail));
        w.write(&pair(2, None, OpType::Info));
        // Invoked at 3: before the failed write completed.
        w.offer(&pair(3, Some(5), OpType::Ok), None, 1);
        assert!(w.read.is_none());
        // Invoked at 6, but the last nemesis op is at 7.
        w.offer(&pair(6, Some(8), OpType::Ok), Some(7), 2);
        assert!(w.read.is_none());
        w.offer(&pair(9, Some(10), OpType::Ok), Some(7), 3);
        w.offer(&pair(9, Some(10), OpType::Ok), Some(7), 4);
        w.offer(&pair(11, None, OpType::Ok), Some(7), 5);
        // The last invoked wins; a second read in the same transaction does not.
        let r = w.read.as_ref().unwrap();
        assert_eq!((r.invoke, r.complete, r.value), (11, 11, 5));
        let mut first: Window<u32> = Window::default();
        first.write(&pair(0, Some(1), OpType::Ok));
        first.offer(&pair(2, Some(3), OpType::Ok), None, 1);
        first.offer(&pair(2, Some(3), OpType::Ok), None, 2);
        assert_eq!(first.read.unwrap().value, 1);
    }

    #[test]
    fn times_are_printed_in_seconds_when_known() {
        let h = read_history_str(
            "t.edn",
            "{:type :ok, :process 0, :f :add, :value 1, :time 1234567890}\n\
             {:type :ok, :process 0, :f :add, :value 1}\n",
        )
        .unwrap();
        assert_eq!(at(&h.ops[0]), " (at 1.235 s)");
        assert_eq!(at(&h.ops[1]), "");
    }

    #[test]
    fn a_transaction_writing_a_register_twice_is_one_acknowledged_write() {
        let text = "{:type :invoke, :process 0, :f :txn, :value [[:w 1 1] [:w 1 2]]}
{:type :ok, :process 0, :f :txn, :value [[:w 1 1] [:w 1 2]]}
{:type :invoke, :process 0, :f :txn, :value [[:r 1 nil]]}
{:type :ok, :process 0, :f :txn, :value [[:r 1 nil]]}
";
        let h = read_history_str("t.edn", text).unwrap();
        let d = check(&h, Workload::RwRegister, 8).unwrap();
        assert_eq!((d.acknowledged, d.lost), (1, 1));
        assert!(
            d.examples[0].explanation.contains("the write of 2"),
            "{}",
            d.examples[0].explanation
        );
    }

    #[test]
    fn nothing_written_is_unknown() {
        let text = "{:type :invoke, :process 0, :f :txn, :value [[:r 1 nil]]}
{:type :ok, :process 0, :f :txn, :value [[:r 1 []]]}
";
        let h = read_history_str("t.edn", text).unwrap();
        let d = check(&h, Workload::ListAppend, 8).unwrap();
        assert_eq!((d.valid, d.keys), (Validity::Unknown, 0));
        assert_eq!(d.notes.len(), 1);
    }
}
