//! Elle's list-append inference: from whole-list reads to a version order and dependencies.
//!
//! Every read of a key returns its whole list, so the longest read of a key *is* its version
//! order, and every other read must be a prefix of it. From that order:
//! - ww: the writer of each element precedes the writer of the next (and, as Elle does, a
//!   committed append nobody observed follows the last observed element);
//! - wr: the writer of a read's last element precedes the reader;
//! - rw: a reader precedes the writer of the element right after what it read.
//!
//! Reads themselves show the non-cycle anomalies: aborted reads (G1a), intermediate reads
//! (G1b), disagreement with the transaction's own writes (internal), elements read before they
//! are appended (future-read), duplicates, incompatible orders, dirty updates, lost updates,
//! and elements nobody wrote (garbage-read, which Elle's list-append cannot report: it stops
//! with an assertion error).
//!
//! The history stores reads as chains ([`crate::history::ListStore`]), so per-element work is
//! done once per chain, not once per read.

use rustc_hash::FxHashMap;

use crate::history::{Atom, History, ListRef, Mop, OpType, OpValue, ReadResult};

use super::anomaly::{Anomaly, AnomalySet};
use super::explain::{atom_edn, list_edn, op_edn};
use super::graph::{EdgeKind, GraphBuilder};
use super::txn::{analyze_cycles, Explainer, Node, Txns};
use super::{CheckError, CheckOptions, Finding, Findings, LookedFor};

/// Who appended an element.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Writer {
    /// A graph vertex (committed or indeterminate transaction).
    Node(u32),
    /// A failed transaction, by its position in [`Txns::failed`].
    Failed(u32),
}

#[derive(Clone, Copy, Debug)]
struct Append {
    writer: Writer,
    /// Whether this is the writer's last append to the key.
    last: bool,
}

/// What is known of one key.
#[derive(Default)]
struct Key {
    /// The chain holding the key's version order (its longest read), if it was read.
    order: Option<u32>,
    /// That chain without repeated elements, when it has any (a duplicate is reported, and
    /// each element takes its first place in the order, as Elle's append index does).
    distinct: Option<Vec<Atom>>,
    /// Position of each element in the version order.
    pos: FxHashMap<Atom, u32>,
    /// Who appended each element.
    appends: FxHashMap<Atom, Append>,
}

/// The analysis of a list-append history, kept for explaining edges.
struct Analysis<'t, 'h> {
    txns: &'t Txns<'h>,
    keys: FxHashMap<Atom, Key>,
}

/// The anomaly types list-append can show.
pub fn relevant() -> AnomalySet {
    use Anomaly::*;
    let mut s = AnomalySet::of(&[
        G1a,
        G1b,
        Internal,
        LostUpdate,
        DirtyUpdate,
        DuplicateElements,
        IncompatibleOrder,
        FutureRead,
        GarbageRead,
    ]);
    for &a in Anomaly::ALL {
        if a.is_cycle() {
            s.insert(a);
        }
    }
    s
}

/// Whether some op other than an `ok` completion carries a list read (a failed or
/// indeterminate transaction's reads, which some recorders keep).
fn has_unsure_list_reads(h: &History) -> bool {
    h.ops.iter().any(|op| {
        op.kind != OpType::Ok
            && matches!(&op.value, OpValue::Txn(mops) if mops.iter().any(|m| matches!(m, Mop::Read { value: ReadResult::List(_), .. })))
    })
}

/// A copy of `h` whose list store holds only what `ok` transactions read; other ops' list reads
/// become nil. Why: the store's chains are the evidence for version orders, and a failed
/// transaction may have read its own appends, which never committed.
fn without_unsure_list_reads(h: &History) -> History {
    let mut lists = crate::history::ListStore::default();
    let ops = h
        .ops
        .iter()
        .map(|op| {
            let mut op = op.clone();
            if let OpValue::Txn(mops) = &mut op.value {
                for m in mops {
                    if let Mop::Read { key, value } = m {
                        if let ReadResult::List(r) = *value {
                            *value = if op.kind == OpType::Ok {
                                ReadResult::List(lists.intern(key, h.lists.get(r)))
                            } else {
                                ReadResult::Nil
                            };
                        }
                    }
                }
            }
            op
        })
        .collect();
    History { ops, lists }
}

/// Checks a list-append history, recording findings; returns what it looked for.
pub fn check(h: &History, opts: &CheckOptions, f: &mut Findings) -> Result<LookedFor, CheckError> {
    let started = std::time::Instant::now();
    let cleaned;
    let h = if has_unsure_list_reads(h) {
        cleaned = without_unsure_list_reads(h);
        &cleaned
    } else {
        h
    };
    let txns = Txns::new(h);
    let mut a = Analysis {
        txns: &txns,
        keys: FxHashMap::default(),
    };
    a.index_appends()?;
    tracing::debug!(secs = started.elapsed().as_secs_f64(), "appends indexed");
    a.version_orders(f);
    let mut b = GraphBuilder::new(txns.nodes.len() as u32);
    let full_readers = a.read_edges(&mut b, f)?;
    a.write_edges(&mut b, &full_readers);
    tracing::debug!(
        stage = "infer",
        secs = started.elapsed().as_secs_f64(),
        "stage done"
    );
    let cycles = analyze_cycles(&txns, b, opts, &a, f);
    Ok(LookedFor {
        relevant: relevant(),
        searched: relevant()
            .iter()
            .filter(|&x| !x.is_cycle() || cycles.searched.contains(x))
            .collect(),
        nothing_to_check: txns.committed() == 0 || cycles.no_dependencies,
    })
}

impl<'t, 'h> Analysis<'t, 'h> {
    fn chain(&self, id: u32) -> &'h [Atom] {
        &self.txns.h.lists.chains()[id as usize].elems
    }

    /// A key's version order: its longest read without repeats; empty if nobody read it
    /// non-empty.
    fn order<'k>(&'k self, k: &'k Key) -> &'k [Atom] {
        match (&k.distinct, k.order) {
            (Some(d), _) => d,
            (None, Some(c)) => self.chain(c),
            (None, None) => &[],
        }
    }

    fn node(&self, w: Writer) -> &Node {
        match w {
            Writer::Node(v) => &self.txns.nodes[v as usize],
            Writer::Failed(i) => &self.txns.failed[i as usize],
        }
    }

    fn describe(&self, w: Writer) -> String {
        let n = self.node(w);
        op_edn(&self.txns.h.ops[n.value], &self.txns.h.lists)
    }

    fn index_of(&self, w: Writer) -> u64 {
        self.txns.index(self.node(w))
    }

    /// Records who appended each element; duplicate appends make the history unusable.
    fn index_appends(&mut self) -> Result<(), CheckError> {
        let txns = self.txns;
        let all = txns
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (Writer::Node(i as u32), n))
            .chain(
                txns.failed
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (Writer::Failed(i as u32), n)),
            );
        for (w, n) in all {
            let mops = txns.mops(n);
            for (i, m) in mops.iter().enumerate() {
                let Mop::Append { key, elem } = m else {
                    continue;
                };
                let last = !mops[i + 1..]
                    .iter()
                    .any(|m2| matches!(m2, Mop::Append { key: k2, .. } if k2 == key));
                let k = self.keys.entry(key.clone()).or_default();
                if let Some(prev) = k.appends.insert(elem.clone(), Append { writer: w, last }) {
                    let first = match prev.writer {
                        Writer::Node(v) => txns.index(&txns.nodes[v as usize]),
                        Writer::Failed(x) => txns.index(&txns.failed[x as usize]),
                    };
                    return Err(CheckError::BadOp {
                        index: txns.index(n),
                        message: format!(
                            "element {} is appended to key {} again (first at op {first}); \
                             list-append needs unique elements per key",
                            atom_edn(elem),
                            atom_edn(key)
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Picks each key's version order and reports what the chains of reads show on their own:
    /// incompatible orders, duplicates, garbage and aborted reads, dirty updates.
    fn version_orders(&mut self, f: &mut Findings) {
        let h = self.txns.h;
        let chains = h.lists.chains();
        let mut keyed: Vec<(&Atom, &[u32])> = h.lists.keys().collect();
        keyed.sort_by(|a, b| a.0.cmp(b.0));
        for (key, ids) in keyed {
            let longest = *ids
                .iter()
                .max_by_key(|&&c| (chains[c as usize].elems.len(), std::cmp::Reverse(c)))
                .expect("a read key has a chain");
            let order = &chains[longest as usize].elems;
            let k = self.keys.entry(key.clone()).or_default();
            k.order = Some(longest);
            k.pos.reserve(order.len());
            for e in order.iter() {
                let next = k.pos.len() as u32;
                k.pos.entry(e.clone()).or_insert(next);
            }
            if k.pos.len() < order.len() {
                let mut seen = rustc_hash::FxHashSet::default();
                k.distinct = Some(order.iter().filter(|e| seen.insert(*e)).cloned().collect());
            }
            for &other in ids {
                if other != longest {
                    let o = &chains[other as usize].elems;
                    f.add(Anomaly::IncompatibleOrder, || Finding {
                        anomaly: Anomaly::IncompatibleOrder,
                        explanation: format!(
                            "{}{}",
                            divergence(key, order, o),
                            [longest, other]
                                .iter()
                                .filter_map(|&c| longest_reader(h, c))
                                .map(|op| format!("\n  read by {}", who(op)))
                                .collect::<String>()
                        ),
                        // The two reads, so an example can show who read what, and when.
                        ops: [longest, other]
                            .iter()
                            .filter_map(|&c| longest_reader(h, c).map(|op| op.index))
                            .collect(),
                        txns: Vec::new(),
                        steps: Vec::new(),
                    });
                }
            }
        }
        // Dirty updates: along each order, a committed append on top of a failed one.
        let mut dirty = Vec::new();
        for (key, k) in &self.keys {
            let order = self.order(k);
            let mut failed_at: Option<(usize, Writer)> = None;
            for (i, e) in order.iter().enumerate() {
                match k.appends.get(e).map(|a| a.writer) {
                    Some(w @ Writer::Failed(_)) => failed_at = Some((i, w)),
                    Some(w @ Writer::Node(v))
                        if self.txns.nodes[v as usize].outcome == OpType::Ok =>
                    {
                        if let Some((j, fw)) = failed_at.take() {
                            dirty.push((key.clone(), order[j].clone(), fw, e.clone(), w));
                        }
                    }
                    _ => {}
                }
            }
        }
        dirty.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, fe, fw, ce, cw) in dirty {
            let ops = vec![self.index_of(fw), self.index_of(cw)];
            f.add(Anomaly::DirtyUpdate, || Finding {
                anomaly: Anomaly::DirtyUpdate,
                explanation: format!(
                    "Key {k}'s version order has {fe}, appended by a transaction that failed,\n  {}\nfollowed by {ce}, appended by a committed one,\n  {}\nso a committed write was applied on top of an aborted one (dirty update).",
                    self.describe(fw),
                    self.describe(cw),
                    k = atom_edn(&key),
                    fe = atom_edn(&fe),
                    ce = atom_edn(&ce),
                ),
                ops,
                txns: Vec::new(),
                steps: Vec::new(),
            });
        }
    }

    /// Scans every committed transaction's reads: edges wr and rw, and the per-read anomalies.
    /// Returns, per key, the transactions that read its whole observed version order (they
    /// precede, by rw, every committed append nobody observed).
    fn read_edges(
        &self,
        b: &mut GraphBuilder,
        f: &mut Findings,
    ) -> Result<FullReaders, CheckError> {
        let txns = self.txns;
        let h = txns.h;
        let chains = h.lists.chains();
        // First position in each chain whose element nobody, or a failed txn, appended.
        let mut first_bad: Vec<u32> = vec![u32::MAX; chains.len()];
        let mut dup_at: Vec<u32> = vec![u32::MAX; chains.len()];
        for (c, chain) in chains.iter().enumerate() {
            let k = self.keys.get(&chain.key);
            let mut seen = rustc_hash::FxHashSet::default();
            for (i, e) in chain.elems.iter().enumerate() {
                let good = matches!(
                    k.and_then(|k| k.appends.get(e)),
                    Some(Append {
                        writer: Writer::Node(_),
                        ..
                    })
                );
                if !good && first_bad[c] == u32::MAX {
                    first_bad[c] = i as u32;
                }
                if !seen.insert(e) && dup_at[c] == u32::MAX {
                    dup_at[c] = i as u32;
                }
            }
        }
        let mut lost: FxHashMap<(Atom, Option<ListRef>), Vec<u32>> = FxHashMap::default();
        let mut full: FullReaders = FxHashMap::default();
        for (t, n) in txns.nodes.iter().enumerate() {
            if n.outcome != OpType::Ok {
                continue;
            }
            let t = t as u32;
            let mops = txns.mops(n);
            // Per key in this txn: what its own ops say the list must be.
            let mut state: Vec<(&Atom, Known)> = Vec::new();
            for (mi, m) in mops.iter().enumerate() {
                match m {
                    Mop::Append { key, elem } => match state.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, s)) => s.appended.push(elem.clone()),
                        None => state.push((
                            key,
                            Known {
                                read: None,
                                appended: vec![elem.clone()],
                            },
                        )),
                    },
                    Mop::Read { key, value } => {
                        let r = match value {
                            ReadResult::List(r) => Some(*r),
                            ReadResult::Nil => None,
                            ReadResult::Scalar(x) => {
                                return Err(CheckError::BadOp {
                                    index: txns.index(n),
                                    message: format!(
                                        "read of key {} returned {}, not a list; is this a rw-register history? (--workload rw-register)",
                                        atom_edn(key),
                                        atom_edn(x)
                                    ),
                                })
                            }
                        };
                        let elems: &[Atom] = r.map(|r| h.lists.get(r)).unwrap_or(&[]);
                        let entry = state.iter_mut().find(|(k, _)| *k == key);
                        // Lost update bookkeeping: the first thing this txn did to the key.
                        if entry.is_none() && appends_later(&mops[mi + 1..], key) {
                            lost.entry((key.clone(), r)).or_default().push(t);
                        }
                        match entry {
                            Some((_, s)) => {
                                if !s.agrees(elems) {
                                    let expected = s.describe();
                                    f.add(Anomaly::Internal, || Finding {
                                        anomaly: Anomaly::Internal,
                                        explanation: format!(
                                            "{}\nread key {} as {}, but its own earlier operations imply {}.",
                                            op_edn(&h.ops[n.value], &h.lists),
                                            atom_edn(key),
                                            brief(elems),
                                            expected
                                        ),
                                        ops: vec![txns.index(n)],
                                        txns: Vec::new(),
                                        steps: Vec::new(),
                                    });
                                }
                                s.read = Some(elems);
                                s.appended.clear();
                            }
                            None => state.push((
                                key,
                                Known {
                                    read: Some(elems),
                                    appended: Vec::new(),
                                },
                            )),
                        }
                        if self.read(t, n, key, r, elems, &mops[mi + 1..], &first_bad, &dup_at, b, f) {
                            full.entry(key.clone()).or_default().push(t);
                        }
                    }
                    Mop::Write { .. } => {
                        return Err(CheckError::BadOp {
                            index: txns.index(n),
                            message: "a write micro-op in a list-append history; is this rw-register? (--workload rw-register)".into(),
                        })
                    }
                }
            }
        }
        let mut groups: Vec<_> = lost.into_iter().filter(|(_, v)| v.len() > 1).collect();
        groups.sort_by(|a, b| a.1[0].cmp(&b.1[0]));
        for ((key, r), ts) in groups {
            let seen = r
                .map(|r| brief(h.lists.get(r)))
                .unwrap_or_else(|| "nil".into());
            let ops: Vec<u64> = ts
                .iter()
                .map(|&t| txns.index(&txns.nodes[t as usize]))
                .collect();
            f.add(Anomaly::LostUpdate, || Finding {
                anomaly: Anomaly::LostUpdate,
                explanation: format!(
                    "{} committed transactions all read key {} as {} and then appended to it; all but one of those updates was based on a stale read (lost update):\n{}",
                    ts.len(),
                    atom_edn(&key),
                    seen,
                    ts.iter()
                        .map(|&t| format!("  {}", op_edn(&h.ops[txns.nodes[t as usize].value], &h.lists)))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
                ops,
                txns: Vec::new(),
                steps: Vec::new(),
            });
        }
        Ok(full)
    }

    /// One read of a committed transaction `t`: its edges and the anomalies it shows. Returns
    /// whether it read the key's whole observed version order.
    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        t: u32,
        n: &Node,
        key: &Atom,
        r: Option<ListRef>,
        elems: &[Atom],
        later: &[Mop],
        first_bad: &[u32],
        dup_at: &[u32],
        b: &mut GraphBuilder,
        f: &mut Findings,
    ) -> bool {
        let txns = self.txns;
        let h = txns.h;
        let Some(k) = self.keys.get(key) else {
            return false;
        };
        let me = || op_edn(&h.ops[n.value], &h.lists);
        let chain = r.map(|r| r.chain);
        let len = elems.len() as u32;
        // Elements nobody (or a failed txn) appended.
        if let Some(c) = chain {
            if len > first_bad[c as usize] {
                for e in &elems[first_bad[c as usize] as usize..] {
                    match k.appends.get(e).map(|a| a.writer) {
                        None => f.add(Anomaly::GarbageRead, || Finding {
                            anomaly: Anomaly::GarbageRead,
                            explanation: format!(
                                "{}\nread element {} of key {}, which no transaction (committed, failed or indeterminate) ever appended.",
                                me(),
                                atom_edn(e),
                                atom_edn(key)
                            ),
                            ops: vec![txns.index(n)],
                            txns: Vec::new(),
                            steps: Vec::new(),
                        }),
                        Some(w @ Writer::Failed(_)) => f.add(Anomaly::G1a, || Finding {
                            anomaly: Anomaly::G1a,
                            explanation: format!(
                                "{}\nread element {} of key {}, but that element was appended by\n  {}\nwhich failed (aborted read).",
                                me(),
                                atom_edn(e),
                                atom_edn(key),
                                self.describe(w)
                            ),
                            ops: vec![txns.index(n), self.index_of(w)],
                            txns: Vec::new(),
                            steps: Vec::new(),
                        }),
                        _ => {}
                    }
                }
            }
            if len > dup_at[c as usize] {
                f.add(Anomaly::DuplicateElements, || {
                    let dup = &elems[dup_at[c as usize] as usize];
                    Finding {
                        anomaly: Anomaly::DuplicateElements,
                        explanation: format!(
                            "{}\nread key {} as {}, which has element {} more than once.",
                            me(),
                            atom_edn(key),
                            brief(elems),
                            atom_edn(dup)
                        ),
                        ops: vec![txns.index(n)],
                        txns: Vec::new(),
                        steps: Vec::new(),
                    }
                });
            }
        }
        // wr, and G1b: the last element must be its writer's final append to the key.
        if let Some(last) = elems.last() {
            if let Some(a) = k.appends.get(last) {
                if let Writer::Node(w) = a.writer {
                    if w != t {
                        b.add(w, t, EdgeKind::WR);
                        if !a.last {
                            f.add(Anomaly::G1b, || Finding {
                                anomaly: Anomaly::G1b,
                                explanation: format!(
                                    "{}\nread key {} ending in {}, an intermediate state: the transaction that appended it,\n  {}\nappended more to that key afterwards (intermediate read).",
                                    me(),
                                    atom_edn(key),
                                    atom_edn(last),
                                    self.describe(a.writer)
                                ),
                                ops: vec![txns.index(n), self.index_of(a.writer)],
                                txns: Vec::new(),
                                steps: Vec::new(),
                            });
                        }
                    }
                }
            }
        }
        // rw: the writer of the next element in the version order.
        // A key nobody read non-empty has an empty observed order: a read of nil or [] saw
        // its initial state, which precedes every append to it.
        let on_order = chain.is_none() || chain == k.order || len == 0;
        let mut whole = false;
        if on_order {
            let order = self.order(k);
            let seen = distinct_len(k, elems);
            whole = order.len() == seen;
            if let Some(next) = order.get(seen) {
                if let Some(Append {
                    writer: Writer::Node(x),
                    ..
                }) = k.appends.get(next)
                {
                    if *x != t {
                        b.add(t, *x, EdgeKind::RW);
                    }
                }
            }
        }
        // future-read: elements this txn appends only later.
        for m in later {
            if let Mop::Append { key: k2, elem } = m {
                if k2 != key {
                    continue;
                }
                let seen = if on_order {
                    k.pos.get(elem).is_some_and(|&p| p < len)
                } else {
                    elems.contains(elem)
                };
                if seen {
                    f.add(Anomaly::FutureRead, || Finding {
                        anomaly: Anomaly::FutureRead,
                        explanation: format!(
                            "{}\nread key {} as {}, which already holds {}, an element this transaction appends only later.",
                            me(),
                            atom_edn(key),
                            brief(elems),
                            atom_edn(elem)
                        ),
                        ops: vec![txns.index(n)],
                        txns: Vec::new(),
                        steps: Vec::new(),
                    });
                }
            }
        }
        whole
    }

    /// ww edges: consecutive elements of each version order. And, as Elle infers, a committed
    /// append nobody observed comes after the last observed element (ww from its writer) and
    /// after what the readers of the whole order saw (rw from them).
    fn write_edges(&self, b: &mut GraphBuilder, full: &FullReaders) {
        for (key, k) in &self.keys {
            let order = self.order(k);
            let writer = |e: &Atom| match k.appends.get(e) {
                Some(Append {
                    writer: Writer::Node(v),
                    ..
                }) => Some(*v),
                _ => None,
            };
            for w in order.windows(2) {
                if let (Some(x), Some(y)) = (writer(&w[0]), writer(&w[1])) {
                    b.add(x, y, EdgeKind::WW);
                }
            }
            let last = order.last().and_then(writer);
            let readers = full.get(key).map(Vec::as_slice).unwrap_or(&[]);
            for (e, a) in &k.appends {
                if let Writer::Node(v) = a.writer {
                    if !k.pos.contains_key(e) && self.txns.nodes[v as usize].outcome == OpType::Ok {
                        if let Some(last) = last {
                            b.add(last, v, EdgeKind::WW);
                        }
                        for &r in readers {
                            b.add(r, v, EdgeKind::RW);
                        }
                    }
                }
            }
        }
    }

    /// The element before `e` in key `k`'s order: its predecessor if observed, else the last
    /// observed element.
    fn prev<'k>(&'k self, k: &'k Key, e: &Atom) -> Option<&'k Atom> {
        let order = self.order(k);
        match k.pos.get(e) {
            Some(&0) => None,
            Some(&p) => order.get(p as usize - 1),
            None => order.last(),
        }
    }
}

impl Explainer for Analysis<'_, '_> {
    fn why(&self, a: u32, b: u32, kind: EdgeKind, an: &str, bn: &str) -> Option<String> {
        let txns = self.txns;
        let (na, nb) = (&txns.nodes[a as usize], &txns.nodes[b as usize]);
        let writer_is = |k: &Key, e: &Atom, v: u32| matches!(k.appends.get(e), Some(Append { writer: Writer::Node(x), .. }) if *x == v);
        match kind {
            EdgeKind::WW => txns.mops(nb).iter().find_map(|m| {
                let Mop::Append { key, elem } = m else {
                    return None;
                };
                let k = self.keys.get(key)?;
                let p = self.prev(k, elem)?;
                writer_is(k, p, a).then(|| {
                    format!(
                        "{bn} appended {} after {an} appended {} to {}",
                        atom_edn(elem),
                        atom_edn(p),
                        atom_edn(key)
                    )
                })
            }),
            EdgeKind::WR => txns.mops(nb).iter().find_map(|m| {
                let Mop::Read {
                    key,
                    value: ReadResult::List(r),
                } = m
                else {
                    return None;
                };
                let last = txns.h.lists.get(*r).last()?;
                let k = self.keys.get(key)?;
                writer_is(k, last, a).then(|| {
                    format!(
                        "{bn} observed {an}'s append of {} to key {}",
                        atom_edn(last),
                        atom_edn(key)
                    )
                })
            }),
            EdgeKind::RW => txns.mops(na).iter().find_map(|m| {
                let Mop::Read { key, value } = m else {
                    return None;
                };
                let len = match value {
                    ReadResult::List(r) => r.len as usize,
                    _ => 0,
                };
                let k = self.keys.get(key)?;
                let order = self.order(k);
                let next = match order.get(len) {
                    Some(next) => next,
                    // Read the whole order: b's append came after, unobserved.
                    None if order.len() == len => txns.mops(nb).iter().find_map(|m| match m {
                        Mop::Append { key: k2, elem } if k2 == key && !k.pos.contains_key(elem) => Some(elem),
                        _ => None,
                    })?,
                    None => return None,
                };
                writer_is(k, next, b).then(|| {
                    if len == 0 {
                        format!(
                            "{an} observed the initial (empty) state of {}, which {bn} created by appending {}",
                            atom_edn(key),
                            atom_edn(next)
                        )
                    } else {
                        format!(
                            "{an} did not observe {bn}'s append of {} to {}",
                            atom_edn(next),
                            atom_edn(key)
                        )
                    }
                })
            }),
            _ => None,
        }
    }
}

/// Per key, the committed transactions that read its whole observed version order.
type FullReaders = FxHashMap<Atom, Vec<u32>>;

/// What a transaction's own operations say a key's list must be: what it last read (if
/// anything; a nil read is an empty list) followed by what it appended since.
struct Known<'h> {
    read: Option<&'h [Atom]>,
    appended: Vec<Atom>,
}

impl Known<'_> {
    /// Whether a read agrees with this. With no earlier read, the read need only end with the
    /// transaction's own appends.
    fn agrees(&self, got: &[Atom]) -> bool {
        match self.read {
            Some(base) => {
                got.len() == base.len() + self.appended.len()
                    && got[..base.len()] == *base
                    && got[base.len()..] == self.appended[..]
            }
            None => got.ends_with(&self.appended),
        }
    }

    fn describe(&self) -> String {
        match self.read {
            Some(base) => {
                let mut v = base.to_vec();
                v.extend(self.appended.iter().cloned());
                brief(&v)
            }
            None => format!("a list ending in {}", list_edn(&self.appended)),
        }
    }
}

/// How many versions of a key a read saw: its length, less any repeats when the key's order
/// has some.
fn distinct_len(k: &Key, elems: &[Atom]) -> usize {
    if k.distinct.is_none() {
        return elems.len();
    }
    let mut seen = rustc_hash::FxHashSet::default();
    elems.iter().filter(|e| seen.insert(*e)).count()
}

/// Whether any of `mops` appends to `key`.
fn appends_later(mops: &[Mop], key: &Atom) -> bool {
    mops.iter()
        .any(|m| matches!(m, Mop::Append { key: k, .. } if k == key))
}

/// A list for an explanation: whole when short, else its ends and its length.
/// Two incompatible reads of `key`, told around where they part: what they share (its last
/// elements), then what each has next. Never elided across the point of divergence.
fn divergence(key: &Atom, a: &[Atom], b: &[Atom]) -> String {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let shared = if common == 0 {
        "no first element".to_string()
    } else {
        let from = common.saturating_sub(3);
        format!(
            "their first {common} element{} ({}{})",
            if common == 1 { "" } else { "s" },
            if from > 0 { "... " } else { "" },
            a[from..common]
                .iter()
                .map(atom_edn)
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let next = |l: &[Atom]| {
        let rest = &l[common..];
        let shown: Vec<String> = rest.iter().take(4).map(atom_edn).collect();
        format!(
            "[{}{}] ({} element{} in all)",
            shown.join(" "),
            if rest.len() > 4 { " ..." } else { "" },
            l.len(),
            if l.len() == 1 { "" } else { "s" }
        )
    };
    format!(
        "Reads of key {} disagree. They share {shared}; then one read has {} and the other {}. \
         Neither is a prefix of the other, so no single order of appends explains both.",
        atom_edn(key),
        next(a),
        next(b)
    )
}

/// An op in a few words: `op 812 (process 3, ok at 4.210 s)`.
fn who(op: &crate::history::Op) -> String {
    format!(
        "op {} (process {}, {}{})",
        op.index,
        op.process,
        op.kind.name(),
        op.time
            .map(|t| format!(" at {:.3} s", t as f64 / 1e9))
            .unwrap_or_default()
    )
}

/// The ok read that saw the most of `chain`.
fn longest_reader(h: &History, chain: u32) -> Option<&crate::history::Op> {
    h.ops
        .iter()
        .filter(|op| op.kind == OpType::Ok)
        .filter_map(|op| match &op.value {
            OpValue::Txn(mops) => mops
                .iter()
                .filter_map(|m| match m {
                    Mop::Read {
                        value: ReadResult::List(r),
                        ..
                    } if r.chain == chain => Some(r.len),
                    _ => None,
                })
                .max()
                .map(|len| (len, op)),
            _ => None,
        })
        .max_by_key(|&(len, op)| (len, std::cmp::Reverse(op.index)))
        .map(|(_, op)| op)
}

pub fn brief(items: &[Atom]) -> String {
    if items.len() <= 16 {
        list_edn(items)
    } else {
        format!(
            "{} ... {} ({} elements)",
            list_edn(&items[..3]).trim_end_matches(']'),
            list_edn(&items[items.len() - 8..]).trim_start_matches('['),
            items.len()
        )
    }
}
