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
//! **What is checked**, per workload (bank has no notion of it: [`check`] returns `None`):
//! - list-append: every acknowledged append's element is in the final read of its key, else it is
//!   *lost*; an element of an indeterminate append found there is *recovered*; an element no op
//!   appended, or only failed ops, is *unexpected*. An element of an indeterminate append that
//!   some `ok` read saw, but the final read lacks, is *read then lost*: a committed transaction
//!   observed a write the database later forgot (as Jepsen's set-full treats an element once
//!   read as known to exist). Only the longest read of each chain is needed for this, since
//!   every read is a prefix of its chain.
//! - set: the same, with adds for appends and one set for all keys (Jepsen's set checker, except
//!   that an element only failed adds attempted is unexpected, not recovered: `fail` means the add
//!   certainly did not happen).
//! - counter: the final value is at least the sum of acknowledged increments (else the shortfall
//!   is lost) and at most the sum of increments attempted and not known to have failed (else the
//!   excess is unexpected); what lies between the two is recovered.
//! - rw-register: the final value could be the latest. It is lost if the final read is nil while
//!   some write was acknowledged, or returns write `w`'s value while some acknowledged write `w2`
//!   began after `w` completed (so `w2` certainly came later). A value never written, or written
//!   only by failed writes, is unexpected; the value of an indeterminate write is recovered, and
//!   nothing is required to follow it, since it may have taken effect at any time.
//!
//! Invariants: time and memory are linear in the history (one pass indexes writes, one picks
//! final reads, hash maps keyed by key); the verdict is valid only when every key written has a
//! final read and nothing is lost or unexpected, and unknown, never valid, when some key could
//! not be judged.

use std::fmt::Display;
use std::hash::Hash;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::history::{Atom, Completion, History, Mop, Op, OpFn, OpType, OpValue, Process};
use crate::history::{Pairs, ReadResult};

use super::set::{added_element, read_elements, Added};
use super::{Validity, Workload};

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
        Workload::ListAppend => list_append(h, &ctx, &mut t),
        Workload::Set => set(&ctx, &mut t),
        Workload::Counter => counter(&ctx, &mut t),
        Workload::RwRegister => register(&ctx, &mut t),
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

/// The final read of a key: the read's positions and what it returned.
struct FinalRead<R> {
    invoke: usize,
    complete: usize,
    value: R,
}

/// One key's window for a final read: where it may begin, and the best read so far.
struct Window<R> {
    /// Whether any write to the key was attempted.
    written: bool,
    /// The position by which every write to the key had ended: its completion, or its
    /// invocation if it never completed.
    settled: Option<usize>,
    /// The final read so far.
    read: Option<FinalRead<R>>,
}

impl<R> Default for Window<R> {
    fn default() -> Self {
        Window {
            written: false,
            settled: None,
            read: None,
        }
    }
}

impl<R> Window<R> {
    /// Counts a write of the operation `c` to the key.
    fn write(&mut self, c: &Completion) {
        self.written = true;
        let end = c.complete.unwrap_or(c.invoke);
        self.settled = self.settled.max(Some(end));
    }

    /// Offers an `ok` read; it becomes the final read if it began after every write ended and
    /// after the last nemesis op. Call once every write is counted, in invocation order (as
    /// [`Pairs`] lists operations), so the last read taken is the last invoked. A transaction
    /// that reads a key twice keeps its first read.
    fn offer(&mut self, c: &Completion, nemesis: Option<usize>, value: R) {
        let bar = self.settled.max(nemesis);
        if bar.is_some_and(|b| c.invoke <= b) {
            return;
        }
        if self.read.as_ref().is_some_and(|r| r.invoke == c.invoke) {
            return;
        }
        self.read = Some(FinalRead {
            invoke: c.invoke,
            complete: c.complete.unwrap_or(c.invoke),
            value,
        });
    }
}

/// Keys in order of first appearance, each with its state.
struct Keys<K, S> {
    index: FxHashMap<K, usize>,
    list: Vec<(K, S)>,
}

impl<K: Hash + Eq + Clone, S: Default> Keys<K, S> {
    fn new() -> Self {
        Keys {
            index: FxHashMap::default(),
            list: Vec::new(),
        }
    }

    fn get(&mut self, k: &K) -> &mut S {
        let i = match self.index.get(k) {
            Some(&i) => i,
            None => {
                self.index.insert(k.clone(), self.list.len());
                self.list.push((k.clone(), S::default()));
                self.list.len() - 1
            }
        };
        &mut self.list[i].1
    }
}

/// Counts and the first findings, as the passes produce them.
struct Tally {
    examples: usize,
    keys: usize,
    keys_without_final_read: usize,
    /// A few of the keys without final read, to name in the note.
    without: Vec<String>,
    acknowledged: u64,
    lost: u64,
    recovered: u64,
    unexpected: u64,
    read_then_lost: u64,
    lost_examples: Vec<DurabilityFinding>,
    unexpected_examples: Vec<DurabilityFinding>,
    notes: Vec<String>,
    /// Something could not be judged (see `notes`).
    undecided: bool,
}

impl Tally {
    fn new(examples: usize) -> Tally {
        Tally {
            examples,
            keys: 0,
            keys_without_final_read: 0,
            without: Vec::new(),
            acknowledged: 0,
            lost: 0,
            recovered: 0,
            unexpected: 0,
            read_then_lost: 0,
            lost_examples: Vec::new(),
            unexpected_examples: Vec::new(),
            notes: Vec::new(),
            undecided: false,
        }
    }

    /// Counts a written key (`label` names it in notes); whether it has a final read to judge.
    fn key_with_read<R>(&mut self, label: &str, w: &Window<R>) -> bool {
        if w.written {
            self.keys += 1;
            if w.read.is_none() {
                self.keys_without_final_read += 1;
                if self.without.len() < 5 {
                    self.without.push(label.to_owned());
                }
            }
        }
        w.read.is_some()
    }

    /// Counts `n` lost; builds the finding only if it will be kept.
    fn lost(&mut self, n: u64, build: impl FnOnce() -> DurabilityFinding) {
        self.lost += n;
        if self.lost_examples.len() < self.examples {
            self.lost_examples.push(build());
        }
    }

    /// Counts one write that was read and then lost; its finding is kept with the lost ones.
    fn read_then_lost(&mut self, build: impl FnOnce() -> DurabilityFinding) {
        self.read_then_lost += 1;
        if self.lost_examples.len() < self.examples {
            self.lost_examples.push(build());
        }
    }

    /// Counts `n` unexpected; builds the finding only if it will be kept.
    fn unexpected(&mut self, n: u64, build: impl FnOnce() -> DurabilityFinding) {
        self.unexpected += n;
        if self.unexpected_examples.len() < self.examples {
            self.unexpected_examples.push(build());
        }
    }

    /// Notes that something could not be judged.
    fn undecided(&mut self, note: String) {
        self.undecided = true;
        self.notes.push(note);
    }

    fn finish(mut self, nemesis: bool) -> Durability {
        if self.keys_without_final_read > 0 {
            let more = self.keys_without_final_read - self.without.len();
            let n = self.keys_without_final_read;
            self.notes.push(format!(
                "{n} of {} written key{} ({}{}) {} no final read: no ok read of the key was \
                 invoked after every write to it had completed{}, so whether {} acknowledged \
                 writes survived is unknown",
                self.keys,
                if self.keys == 1 { "" } else { "s" },
                self.without.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                if n == 1 { "has" } else { "have" },
                if nemesis {
                    " and after the last nemesis op"
                } else {
                    ""
                },
                if n == 1 { "its" } else { "their" },
            ));
        }
        if self.keys == 0 {
            self.notes
                .push("the history writes nothing, so there is no durability to check".into());
        }
        let valid = if self.lost > 0 || self.unexpected > 0 || self.read_then_lost > 0 {
            Validity::Invalid
        } else if self.keys_without_final_read > 0 || self.undecided || self.keys == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        let mut examples = self.lost_examples;
        examples.extend(self.unexpected_examples);
        examples.truncate(self.examples);
        Durability {
            valid,
            keys: self.keys,
            keys_without_final_read: self.keys_without_final_read,
            acknowledged: self.acknowledged,
            lost: self.lost,
            recovered: self.recovered,
            unexpected: self.unexpected,
            read_then_lost: self.read_then_lost,
            examples,
            notes: self.notes,
        }
    }
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

/// The best outcome of the writes of one element or value, and the position of the op that
/// gave it (the completion, or the invocation if there was none).
fn note_write<E: Hash + Eq>(map: &mut FxHashMap<E, (Added, usize)>, e: E, c: &Completion) {
    let class = Added::of(c.outcome);
    let at = c.complete.unwrap_or(c.invoke);
    map.entry(e)
        .and_modify(|best| {
            if class > best.0 {
                *best = (class, at);
            }
        })
        .or_insert((class, at));
}

/// How explanations name the writes of a collection workload.
#[derive(Clone, Copy)]
enum Collection {
    /// Appends to the list at a key.
    List,
    /// Adds to the one set.
    Set,
}

/// A key's writes in a collection workload (list-append or set), borrowing elements from the
/// history.
struct Collected<'h, T> {
    window: Window<&'h [T]>,
    /// Every element written, with the best outcome of its writes.
    written: FxHashMap<&'h T, (Added, usize)>,
    /// Acknowledged writes in history order: the element and the completion's position.
    acked: Vec<(&'h T, usize)>,
    /// What `ok` reads observed: for each group (a list chain; a set read), the longest read and
    /// its completion's position.
    observed: FxHashMap<u64, (&'h [T], usize)>,
}

impl<T> Default for Collected<'_, T> {
    fn default() -> Self {
        Collected {
            window: Window::default(),
            written: FxHashMap::default(),
            acked: Vec::new(),
            observed: FxHashMap::default(),
        }
    }
}

impl<'h, T: Hash + Eq> Collected<'h, T> {
    fn write(&mut self, e: &'h T, c: &Completion) {
        self.window.write(c);
        note_write(&mut self.written, e, c);
        if c.outcome == OpType::Ok {
            self.acked.push((e, c.complete.unwrap_or(c.invoke)));
        }
    }

    /// Notes what an `ok` read (completed at `at`) observed; `group` reads are prefixes of one
    /// another, so only the longest of a group is kept.
    fn observe(&mut self, group: u64, elems: &'h [T], at: usize) {
        let e = self.observed.entry(group).or_insert((elems, at));
        if elems.len() > e.0.len() {
            *e = (elems, at);
        }
    }
}

/// Holds one key's final read against its writes: lost, recovered and unexpected elements.
/// `key` is the key as printed (empty for the set), `label` how a note names it.
fn judge_collection<T: Hash + Eq + Display>(
    ops: &[Op],
    t: &mut Tally,
    how: Collection,
    key: &str,
    label: &str,
    k: &Collected<T>,
) {
    if !t.key_with_read(label, &k.window) {
        return;
    }
    let Some(r) = &k.window.read else { return };
    let read = &ops[r.complete];
    let of_key = match how {
        Collection::List => format!(" of key {key}"),
        Collection::Set => String::new(),
    };
    let (write, writes, wrote, element) = match how {
        Collection::List => ("Append", "appends", "appended", ""),
        Collection::Set => ("Add", "adds", "added", "element "),
    };
    let mut present: FxHashSet<&T> = FxHashSet::default();
    present.reserve(r.value.len());
    for e in r.value {
        if !present.insert(e) {
            continue;
        }
        match k.written.get(e) {
            None => t.unexpected(1, || DurabilityFinding {
                kind: DurabilityKind::Unexpected,
                key: key.to_owned(),
                ops: vec![read.index],
                explanation: format!(
                    "The final read{of_key} at index {}{} holds {element}{e}, which no op {wrote}.",
                    read.index,
                    at(read)
                ),
            }),
            Some(&(Added::Failed, w)) => t.unexpected(1, || DurabilityFinding {
                kind: DurabilityKind::Unexpected,
                key: key.to_owned(),
                ops: vec![ops[w].index, read.index],
                explanation: format!(
                    "The final read{of_key} at index {}{} holds {element}{e}, which only failed \
                     {writes} {wrote} (one failed at index {}{}): a failed op certainly did not \
                     happen.",
                    read.index,
                    at(read),
                    ops[w].index,
                    at(&ops[w])
                ),
            }),
            Some((Added::Indeterminate, _)) => t.recovered += 1,
            Some((Added::Acknowledged, _)) => {}
        }
    }
    // Writes of unknown outcome that some ok read saw, in the order of the reads.
    let mut observed: Vec<&(&[T], usize)> = k.observed.values().collect();
    observed.sort_by_key(|(_, at)| *at);
    let mut told: FxHashSet<&T> = FxHashSet::default();
    for &&(elems, seen_at) in &observed {
        for e in elems {
            if present.contains(e)
                || k.written.get(e).map(|w| w.0) != Some(Added::Indeterminate)
                || !told.insert(e)
            {
                continue;
            }
            let seen = &ops[seen_at];
            t.read_then_lost(|| DurabilityFinding {
                kind: DurabilityKind::Lost,
                key: key.to_owned(),
                ops: vec![seen.index, read.index],
                explanation: format!(
                    "{write} of {element}{e}{} has an unknown outcome, but the ok read at index {}{} saw it, so it had taken effect; the final read{of_key} at index {}{} does not hold it: read, then lost.",
                    match how {
                        Collection::List => format!(" to key {key}"),
                        Collection::Set => String::new(),
                    },
                    seen.index,
                    at(seen),
                    read.index,
                    at(read)
                ),
            });
        }
    }
    for &(e, done) in &k.acked {
        t.acknowledged += 1;
        if present.contains(e) {
            continue;
        }
        t.lost(1, || DurabilityFinding {
            kind: DurabilityKind::Lost,
            key: key.to_owned(),
            ops: vec![ops[done].index, read.index],
            explanation: format!(
                "{write} of {element}{e}{} was acknowledged at index {}{}, but the final \
                 read{of_key} at index {}{} does not hold it: lost.",
                match how {
                    Collection::List => format!(" to key {key}"),
                    Collection::Set => String::new(),
                },
                ops[done].index,
                at(&ops[done]),
                read.index,
                at(read)
            ),
        });
    }
}

fn list_append(h: &History, ctx: &Ctx, t: &mut Tally) {
    let ops = ctx.ops;
    let mut keys: Keys<&Atom, Collected<Atom>> = Keys::new();
    for c in &ctx.pairs.list {
        for m in txn_mops(ops, c) {
            if let Mop::Append { key, elem } = m {
                keys.get(&key).write(elem, c);
            }
        }
    }
    for c in &ctx.pairs.list {
        if c.outcome != OpType::Ok {
            continue;
        }
        for m in txn_mops(ops, c) {
            let Mop::Read { key, value } = m else {
                continue;
            };
            let list: &[Atom] = match value {
                ReadResult::List(r) => h.list(*r),
                // On an ok completion, nil is the initial state: the empty list.
                ReadResult::Nil => &[],
                ReadResult::Scalar(_) => continue,
            };
            let k = keys.get(&key);
            if let ReadResult::List(r) = value {
                k.observe(u64::from(r.chain), list, c.complete.unwrap_or(c.invoke));
            }
            k.window.offer(c, ctx.nemesis, list);
        }
    }
    for (key, k) in &keys.list {
        let name = key.to_string();
        judge_collection(ops, t, Collection::List, &name, &name, k);
    }
}

fn set(ctx: &Ctx, t: &mut Tally) {
    let ops = ctx.ops;
    let mut k: Collected<i64> = Collected::default();
    let mut bad = None;
    for c in &ctx.pairs.list {
        if ops[c.invoke].f != OpFn::Add {
            continue;
        }
        match added_element(ops, c) {
            Some(e) => k.write(e, c),
            None if c.outcome == OpType::Fail => k.window.write(c),
            None => {
                k.window.write(c);
                bad.get_or_insert(ops[c.invoke].index);
            }
        }
    }
    for c in &ctx.pairs.list {
        if ops[c.invoke].f != OpFn::Read || c.outcome != OpType::Ok {
            continue;
        }
        let done = c.complete.unwrap_or(c.invoke);
        if let Some(elems) = read_elements(&ops[done]) {
            k.observe(done as u64, elems, done);
            k.window.offer(c, ctx.nemesis, elems);
        }
    }
    if let Some(index) = bad {
        t.undecided(format!(
            "the add at index {index} carries no integer element, so the set's final state cannot \
             be held against its adds"
        ));
    }
    judge_collection(ops, t, Collection::Set, "", "the set", &k);
}

/// One counter's sums and final read.
struct Counted {
    window: Window<i64>,
    /// Sum of acknowledged increments.
    acked: i128,
    /// Sum of increments not known to have failed (ok, info, never completed).
    attempted: i128,
    /// Whether every increment counted is +1 (explanations then count increments).
    unit: bool,
    /// The index of an add that makes the sums meaningless (negative), if any.
    bad: Option<u64>,
}

impl Default for Counted {
    fn default() -> Self {
        Counted {
            window: Window::default(),
            acked: 0,
            attempted: 0,
            unit: true,
            bad: None,
        }
    }
}

/// A counter op's counter (`None`: the single counter of plain values) and number.
fn counter_value(op: &Op) -> Option<(Option<&Atom>, i64)> {
    match &op.value {
        OpValue::Int(v) => Some((None, *v)),
        OpValue::Keyed {
            key,
            value: Some(v),
            ..
        } => Some((Some(key), *v)),
        _ => None,
    }
}

fn counter(ctx: &Ctx, t: &mut Tally) {
    let ops = ctx.ops;
    let mut keys: Keys<Option<&Atom>, Counted> = Keys::new();
    let mut shapeless = None;
    for c in &ctx.pairs.list {
        if ops[c.invoke].f != OpFn::Add {
            continue;
        }
        let found = std::iter::once(c.invoke)
            .chain(c.complete)
            .find_map(|i| counter_value(&ops[i]));
        let Some((key, v)) = found else {
            if c.outcome != OpType::Fail {
                shapeless.get_or_insert(ops[c.invoke].index);
            }
            continue;
        };
        let k = keys.get(&key);
        k.window.write(c);
        if v < 0 {
            k.bad.get_or_insert(ops[c.invoke].index);
        }
        if c.outcome == OpType::Fail {
            continue;
        }
        k.unit &= v == 1;
        k.attempted += i128::from(v);
        if c.outcome == OpType::Ok {
            k.acked += i128::from(v);
        }
    }
    for c in &ctx.pairs.list {
        if ops[c.invoke].f != OpFn::Read || c.outcome != OpType::Ok {
            continue;
        }
        let done = c.complete.unwrap_or(c.invoke);
        if let Some((key, v)) = counter_value(&ops[done]) {
            keys.get(&key).window.offer(c, ctx.nemesis, v);
        }
    }
    if let Some(index) = shapeless {
        t.undecided(format!(
            "the add at index {index} carries no amount, so its counter cannot be held to the \
             sum of its increments"
        ));
    }
    for (key, k) in &keys.list {
        let name = key.map(|k| k.to_string()).unwrap_or_default();
        let label = key.map_or_else(|| "the counter".to_string(), |k| k.to_string());
        if let Some(index) = k.bad {
            t.keys += 1;
            t.undecided(format!(
                "counter{} has a negative add (index {index}): its final value cannot be held \
                 to the sum of its increments",
                key.map(|k| format!(" {k}")).unwrap_or_default()
            ));
            continue;
        }
        if !t.key_with_read(&label, &k.window) {
            continue;
        }
        let Some(r) = &k.window.read else { continue };
        let read = &ops[r.complete];
        let v = i128::from(r.value);
        let counter = match key {
            Some(k) => format!("counter {k}"),
            None => "the counter".to_string(),
        };
        t.acknowledged += u64::try_from(k.acked).unwrap_or(u64::MAX);
        if v < 0 {
            // Below the initial zero: no add made that, whatever else was lost.
            t.unexpected(v.unsigned_abs().try_into().unwrap_or(u64::MAX), || {
                DurabilityFinding {
                    kind: DurabilityKind::Unexpected,
                    key: name.clone(),
                    ops: vec![read.index],
                    explanation: format!(
                        "The final read of {counter} at index {}{} is {}, below the 0 it started \
                         at, which no non-negative add can make.",
                        read.index,
                        at(read),
                        r.value,
                    ),
                }
            });
        }
        if v.max(0) < k.acked {
            // Lost at most what was acknowledged; a negative value is unexpected besides.
            let missing = k.acked - v.max(0);
            let acked = if k.unit {
                format!(
                    "{} increment{} {} acknowledged",
                    k.acked,
                    if k.acked == 1 { "" } else { "s" },
                    if k.acked == 1 { "was" } else { "were" }
                )
            } else {
                format!("acknowledged increments total {}", k.acked)
            };
            t.lost(u64::try_from(missing).unwrap_or(u64::MAX), || {
                DurabilityFinding {
                    kind: DurabilityKind::Lost,
                    key: name.clone(),
                    ops: vec![read.index],
                    explanation: format!(
                        "The final read of {counter} at index {}{} is {}, but {acked}: {missing} \
                         lost.",
                        read.index,
                        at(read),
                        r.value,
                    ),
                }
            });
        } else if v > k.attempted {
            let extra = v - k.attempted;
            t.unexpected(u64::try_from(extra).unwrap_or(u64::MAX), || {
                DurabilityFinding {
                    kind: DurabilityKind::Unexpected,
                    key: name.clone(),
                    ops: vec![read.index],
                    explanation: format!(
                        "The final read of {counter} at index {}{} is {}, but the increments \
                         attempted and not known to have failed total {}: {extra} more than could \
                         have been applied.",
                        read.index,
                        at(read),
                        r.value,
                        k.attempted,
                    ),
                }
            });
        } else if v > k.acked {
            t.recovered += u64::try_from(v - k.acked).unwrap_or(u64::MAX);
        }
    }
}

/// What is known of the writes of one register value.
#[derive(Clone, Copy)]
struct Written {
    /// Best outcome among its writes, and the position of the op that gave it.
    best: (Added, usize),
    /// Latest completion of an acknowledged write of it.
    acked_at: Option<usize>,
}

/// An acknowledged transaction's last write to a register.
#[derive(Clone, Copy)]
struct Acked<'h> {
    invoke: usize,
    complete: usize,
    value: &'h Atom,
}

/// One register's writes and final read.
#[derive(Default)]
struct Register<'h> {
    window: Window<Option<&'h Atom>>,
    written: FxHashMap<&'h Atom, Written>,
    /// Acknowledged writing transactions in invocation order, each once, with the last value it
    /// wrote to the key.
    acked: Vec<Acked<'h>>,
}

fn register(ctx: &Ctx, t: &mut Tally) {
    let ops = ctx.ops;
    let mut keys: Keys<&Atom, Register> = Keys::new();
    for c in &ctx.pairs.list {
        for m in txn_mops(ops, c) {
            let Mop::Write { key, value } = m else {
                continue;
            };
            let k = keys.get(&key);
            k.window.write(c);
            let class = Added::of(c.outcome);
            let at = c.complete.unwrap_or(c.invoke);
            let w = k.written.entry(value).or_insert(Written {
                best: (class, at),
                acked_at: None,
            });
            if class > w.best.0 {
                w.best = (class, at);
            }
            if c.outcome == OpType::Ok {
                w.acked_at = w.acked_at.max(Some(at));
                match k.acked.last_mut() {
                    Some(last) if last.invoke == c.invoke => last.value = value,
                    _ => k.acked.push(Acked {
                        invoke: c.invoke,
                        complete: at,
                        value,
                    }),
                }
            }
        }
    }
    for c in &ctx.pairs.list {
        if c.outcome != OpType::Ok {
            continue;
        }
        for m in txn_mops(ops, c) {
            let Mop::Read { key, value } = m else {
                continue;
            };
            let v = match value {
                ReadResult::Nil => None,
                ReadResult::Scalar(a) => Some(a),
                ReadResult::List(_) => continue,
            };
            keys.get(&key).window.offer(c, ctx.nemesis, v);
        }
    }
    for (key, k) in &keys.list {
        judge_register(ops, t, &key.to_string(), k);
    }
}

/// Holds one register's final read against its writes.
fn judge_register(ops: &[Op], t: &mut Tally, name: &str, k: &Register) {
    if !t.key_with_read(name, &k.window) {
        return;
    }
    let Some(r) = &k.window.read else { return };
    let read = &ops[r.complete];
    t.acknowledged += k.acked.len() as u64;
    let finding = |kind, ops: Vec<u64>, explanation| DurabilityFinding {
        kind,
        key: name.to_owned(),
        ops,
        explanation,
    };
    // Acknowledged writes invoked at or after `from` certainly followed the version read.
    let (from, version) = match r.value {
        None => (0, "nil".to_string()),
        Some(v) => match k.written.get(v) {
            None => {
                t.unexpected(1, || {
                    finding(
                        DurabilityKind::Unexpected,
                        vec![read.index],
                        format!(
                            "The final read of key {name} at index {}{} returned {v}, which no \
                             op wrote.",
                            read.index,
                            at(read)
                        ),
                    )
                });
                return;
            }
            Some(Written {
                best: (Added::Failed, w),
                ..
            }) => {
                let w = &ops[*w];
                t.unexpected(1, || {
                    finding(
                        DurabilityKind::Unexpected,
                        vec![w.index, read.index],
                        format!(
                            "The final read of key {name} at index {}{} returned {v}, which only \
                             failed writes wrote (one failed at index {}{}): a failed write \
                             certainly did not happen.",
                            read.index,
                            at(read),
                            w.index,
                            at(w)
                        ),
                    )
                });
                return;
            }
            Some(Written {
                best: (Added::Indeterminate, _),
                ..
            }) => {
                // It may have taken effect at any time after it began: nothing must follow it.
                t.recovered += 1;
                return;
            }
            Some(Written { acked_at, .. }) => {
                let done = acked_at.unwrap_or(r.complete);
                (
                    done + 1,
                    format!(
                        "{v}, written by the write acknowledged at index {}{}",
                        ops[done].index,
                        at(&ops[done])
                    ),
                )
            }
        },
    };
    let mut later = k.acked.iter().filter(|a| a.invoke >= from);
    let Some(first) = later.next() else { return };
    let (n, latest) = later.fold((1u64, first), |(n, l), a| {
        (n + 1, if a.complete > l.complete { a } else { l })
    });
    t.lost(n, || {
        let w2 = &ops[latest.complete];
        let others = match n {
            1 => String::new(),
            2 => " (and 1 other acknowledged write)".into(),
            n => format!(" (and {} other acknowledged writes)", n - 1),
        };
        let why = match r.value {
            None => String::new(),
            Some(_) => " and began after that write completed, so it came later".to_string(),
        };
        finding(
            DurabilityKind::Lost,
            vec![w2.index, read.index],
            format!(
                "The final read of key {name} at index {}{} returned {version}; but the write of \
                 {} was acknowledged at index {}{}{why}: lost{others}.",
                read.index,
                at(read),
                latest.value,
                w2.index,
                at(w2),
            ),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read::read_history_str;

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
