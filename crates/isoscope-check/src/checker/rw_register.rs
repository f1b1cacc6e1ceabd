//! Elle's rw-register inference: from reads and writes of registers to dependencies.
//!
//! A register read returns one value, so unlike list-append the version order is not given;
//! only reads-from is certain. Each key gets a *version graph* with what can be inferred:
//! - the initial state (nil) comes before every value;
//! - writes follow reads: a transaction that read `v` and then wrote `v'` installed `v'` after
//!   `v` (true whenever reads see committed data; `CheckOptions::wfr` turns it off).
//!
//! The graph is transitively reduced, so each edge joins a version to a next one, and then
//! ww (writer to writer), rw (reader to next writer) and wr (writer to reader) edges follow.
//!
//! Only a transaction's *external* operations count: its first read of a key before it writes
//! it, and its last write of a key. A read of a value that no transaction wrote is reported
//! (garbage-read); Elle's register checker lets it pass silently.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::history::{Atom, Mop, OpType, ReadResult};

use super::anomaly::{Anomaly, AnomalySet};
use super::explain::{atom_edn, op_edn};
use super::graph::{EdgeKind, GraphBuilder};
use super::txn::{analyze_cycles, Explainer, Txns};
use super::{CheckError, CheckOptions, Finding, Findings, LookedFor};

/// Who wrote a value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Writer {
    Node(u32),
    Failed(u32),
}

#[derive(Clone, Copy, Debug)]
struct Write {
    writer: Writer,
    /// Whether this was the writer's last write to the key.
    last: bool,
}

/// Version 0 is nil, the initial state; others are written or read values.
type Version = u32;
const NIL: Version = 0;

#[derive(Default)]
struct Key {
    writes: FxHashMap<Atom, Write>,
    ids: FxHashMap<Atom, Version>,
    values: Vec<Option<Atom>>,
    /// Committed transactions whose external read of the key returned each version.
    readers: FxHashMap<Version, Vec<u32>>,
    /// Inferred order: (earlier, later).
    order: FxHashSet<(Version, Version)>,
    cyclic: bool,
}

impl Key {
    fn id(&mut self, v: &Option<Atom>) -> Version {
        match v {
            None => NIL,
            Some(a) => {
                if self.values.is_empty() {
                    self.values.push(None);
                }
                let next = self.values.len() as Version;
                *self.ids.entry(a.clone()).or_insert_with(|| {
                    self.values.push(Some(a.clone()));
                    next
                })
            }
        }
    }

    fn node_writer(&self, v: Version) -> Option<u32> {
        let a = self.values.get(v as usize)?.as_ref()?;
        match self.writes.get(a) {
            Some(Write {
                writer: Writer::Node(n),
                last: true,
            }) => Some(*n),
            _ => None,
        }
    }
}

/// The anomaly types rw-register can show.
pub fn relevant() -> AnomalySet {
    use Anomaly::*;
    let mut s = AnomalySet::of(&[G1a, G1b, Internal, LostUpdate, CyclicVersions, GarbageRead]);
    for &a in Anomaly::ALL {
        if a.is_cycle() {
            s.insert(a);
        }
    }
    s
}

struct Analysis<'t, 'h> {
    txns: &'t Txns<'h>,
    keys: FxHashMap<Atom, Key>,
}

/// Checks an rw-register history, recording findings; returns what it looked for.
pub fn check(
    h: &crate::history::History,
    opts: &CheckOptions,
    f: &mut Findings,
) -> Result<LookedFor, CheckError> {
    let txns = Txns::new(h);
    let mut a = Analysis {
        txns: &txns,
        keys: FxHashMap::default(),
    };
    a.index_writes()?;
    a.scan_reads(opts.wfr, f)?;
    a.reduce(f);
    let mut b = GraphBuilder::new(txns.nodes.len() as u32);
    a.edges(&mut b);
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

impl Analysis<'_, '_> {
    fn describe(&self, w: Writer) -> (String, u64) {
        let n = match w {
            Writer::Node(v) => &self.txns.nodes[v as usize],
            Writer::Failed(i) => &self.txns.failed[i as usize],
        };
        (
            op_edn(&self.txns.h.ops[n.value], &self.txns.h.lists),
            self.txns.index(n),
        )
    }

    fn index_writes(&mut self) -> Result<(), CheckError> {
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
                let Mop::Write { key, value } = m else {
                    continue;
                };
                let last = !mops[i + 1..]
                    .iter()
                    .any(|m2| matches!(m2, Mop::Write { key: k2, .. } if k2 == key));
                let k = self.keys.entry(key.clone()).or_default();
                if k.writes
                    .insert(value.clone(), Write { writer: w, last })
                    .is_some()
                {
                    return Err(CheckError::BadOp {
                        index: txns.index(n),
                        message: format!(
                            "value {} is written to key {} more than once; rw-register needs unique values per key",
                            atom_edn(value),
                            atom_edn(key)
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Scans committed transactions: internal consistency, external reads, aborted,
    /// intermediate and garbage reads, lost updates, and writes-follow-reads order.
    fn scan_reads(&mut self, wfr: bool, f: &mut Findings) -> Result<(), CheckError> {
        let txns = self.txns;
        let h = txns.h;
        let mut lost: FxHashMap<(Atom, Option<Atom>), Vec<u32>> = FxHashMap::default();
        for (t, n) in txns.nodes.iter().enumerate() {
            let t = t as u32;
            let mops = txns.mops(n);
            // Info transactions: their writes are versions, their reads unknown.
            if n.outcome != OpType::Ok {
                for m in mops {
                    if let Mop::Write { key, value } = m {
                        let k = self.keys.entry(key.clone()).or_default();
                        let v = k.id(&Some(value.clone()));
                        k.order.insert((NIL, v));
                    }
                }
                continue;
            }
            let me = || op_edn(&h.ops[n.value], &h.lists);
            // Per key: (what it must read now if known, external read value).
            let mut state: Vec<TxnKeyState> = Vec::new();
            for (mi, m) in mops.iter().enumerate() {
                match m {
                    Mop::Write { key, value } => {
                        let k = self.keys.entry(key.clone()).or_default();
                        let v = k.id(&Some(value.clone()));
                        k.order.insert((NIL, v));
                        match state.iter_mut().find(|s| s.0 == key) {
                            Some(s) => s.1 = Some(value.clone()),
                            None => state.push((key, Some(value.clone()), None)),
                        }
                    }
                    Mop::Read { key, value } => {
                        let got = match value {
                            ReadResult::Nil => None,
                            ReadResult::Scalar(a) => Some(a.clone()),
                            ReadResult::List(_) => {
                                return Err(CheckError::BadOp {
                                    index: txns.index(n),
                                    message: format!(
                                        "read of key {} returned a list; is this a list-append history? (--workload list-append)",
                                        atom_edn(key)
                                    ),
                                })
                            }
                        };
                        if let Some(s) = state.iter_mut().find(|s| s.0 == key) {
                            let expected = s.1.clone().or_else(|| s.2.clone().flatten());
                            let known = s.1.is_some() || s.2.is_some();
                            if known && expected != got {
                                f.add(Anomaly::Internal, || Finding {
                                    anomaly: Anomaly::Internal,
                                    explanation: format!(
                                        "{}\nread key {} = {}, but its own earlier operations imply {}.",
                                        me(),
                                        atom_edn(key),
                                        show(&got),
                                        show(&expected)
                                    ),
                                    ops: vec![txns.index(n)],
                                    txns: Vec::new(),
                                    steps: Vec::new(),
                                });
                            }
                            continue;
                        }
                        // An external read.
                        state.push((key, None, Some(got.clone())));
                        let later_write = mops[mi + 1..].iter().rev().find_map(|m2| match m2 {
                            Mop::Write { key: k2, value } if k2 == key => Some(value.clone()),
                            _ => None,
                        });
                        let k = self.keys.entry(key.clone()).or_default();
                        let v = k.id(&got);
                        k.readers.entry(v).or_default().push(t);
                        if v != NIL {
                            k.order.insert((NIL, v));
                        }
                        if let Some(w) = &later_write {
                            lost.entry((key.clone(), got.clone())).or_default().push(t);
                            if wfr {
                                let w = k.id(&Some(w.clone()));
                                if w != v {
                                    k.order.insert((v, w));
                                }
                            }
                        }
                        if let Some(val) = &got {
                            let write = k.writes.get(val).copied();
                            match write {
                                None => f.add(Anomaly::GarbageRead, || Finding {
                                    anomaly: Anomaly::GarbageRead,
                                    explanation: format!(
                                        "{}\nread key {} = {}, a value no transaction (committed, failed or indeterminate) ever wrote.",
                                        me(),
                                        atom_edn(key),
                                        atom_edn(val)
                                    ),
                                    ops: vec![txns.index(n)],
                                    txns: Vec::new(),
                                    steps: Vec::new(),
                                }),
                                Some(Write {
                                    writer: w @ Writer::Failed(_),
                                    ..
                                }) => {
                                    let (op, idx) = self.describe(w);
                                    f.add(Anomaly::G1a, || Finding {
                                        anomaly: Anomaly::G1a,
                                        explanation: format!(
                                            "{}\nread key {} = {}, which was written by\n  {op}\nwhich failed (aborted read).",
                                            me(),
                                            atom_edn(key),
                                            atom_edn(val)
                                        ),
                                        ops: vec![txns.index(n), idx],
                                        txns: Vec::new(),
                                        steps: Vec::new(),
                                    })
                                }
                                Some(Write {
                                    writer: w @ Writer::Node(x),
                                    last: false,
                                }) if x != t => {
                                    let (op, idx) = self.describe(w);
                                    f.add(Anomaly::G1b, || Finding {
                                        anomaly: Anomaly::G1b,
                                        explanation: format!(
                                            "{}\nread key {} = {}, an intermediate value: the transaction that wrote it,\n  {op}\nwrote that key again afterwards (intermediate read).",
                                            me(),
                                            atom_edn(key),
                                            atom_edn(val)
                                        ),
                                        ops: vec![txns.index(n), idx],
                                        txns: Vec::new(),
                                        steps: Vec::new(),
                                    })
                                }
                                _ => {}
                            }
                        }
                    }
                    Mop::Append { .. } => {
                        return Err(CheckError::BadOp {
                            index: txns.index(n),
                            message: "an append micro-op in an rw-register history; is this list-append? (--workload list-append)".into(),
                        })
                    }
                }
            }
        }
        let mut groups: Vec<_> = lost.into_iter().filter(|(_, v)| v.len() > 1).collect();
        groups.sort_by(|a, b| a.1[0].cmp(&b.1[0]));
        for ((key, v), ts) in groups {
            let ops: Vec<u64> = ts
                .iter()
                .map(|&t| txns.index(&txns.nodes[t as usize]))
                .collect();
            f.add(Anomaly::LostUpdate, || Finding {
                anomaly: Anomaly::LostUpdate,
                explanation: format!(
                    "{} committed transactions all read key {} = {} and then wrote it; all but one of those updates was based on a stale read (lost update):\n{}",
                    ts.len(),
                    atom_edn(&key),
                    show(&v),
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
        Ok(())
    }

    /// Checks each key's version graph for cycles and reduces it to next-version edges.
    fn reduce(&mut self, f: &mut Findings) {
        let mut names: Vec<&Atom> = self.keys.keys().collect();
        names.sort();
        let names: Vec<Atom> = names.into_iter().cloned().collect();
        for name in names {
            let k = self.keys.get_mut(&name).expect("key");
            let n = k.values.len().max(1);
            let mut succ: Vec<Vec<Version>> = vec![Vec::new(); n];
            for &(a, b) in &k.order {
                succ[a as usize].push(b);
            }
            // Kahn's algorithm: what remains is on or behind a cycle.
            let mut indeg = vec![0u32; n];
            for s in &succ {
                for &b in s {
                    indeg[b as usize] += 1;
                }
            }
            let mut queue: Vec<Version> = (0..n as Version)
                .filter(|&v| indeg[v as usize] == 0)
                .collect();
            let mut topo = Vec::with_capacity(n);
            while let Some(v) = queue.pop() {
                topo.push(v);
                for &b in &succ[v as usize] {
                    indeg[b as usize] -= 1;
                    if indeg[b as usize] == 0 {
                        queue.push(b);
                    }
                }
            }
            if topo.len() < n {
                k.cyclic = true;
                let stuck: Vec<String> = (0..n)
                    .filter(|&v| indeg[v] > 0)
                    .map(|v| show(&k.values[v]))
                    .collect();
                f.add(Anomaly::CyclicVersions, || Finding {
                    anomaly: Anomaly::CyclicVersions,
                    explanation: format!(
                        "The versions of key {} cannot be ordered: what the reads and writes imply about their order has a cycle among the values {}.",
                        atom_edn(&name),
                        stuck.join(", ")
                    ),
                    ops: Vec::new(),
                    txns: Vec::new(),
                    steps: Vec::new(),
                });
                continue;
            }
            // Transitive reduction: drop a -> b when b is reachable from a another way.
            if n > 4096 {
                continue;
            }
            let mut reduced = FxHashSet::default();
            let mut reach = vec![0u32; n];
            let mut stamp = 0u32;
            for a in 0..n {
                for &b in &succ[a] {
                    stamp += 1;
                    let mut stack: Vec<Version> =
                        succ[a].iter().copied().filter(|&c| c != b).collect();
                    let mut implied = false;
                    while let Some(c) = stack.pop() {
                        if c == b {
                            implied = true;
                            break;
                        }
                        if reach[c as usize] == stamp {
                            continue;
                        }
                        reach[c as usize] = stamp;
                        stack.extend(succ[c as usize].iter().copied());
                    }
                    if !implied {
                        reduced.insert((a as Version, b));
                    }
                }
            }
            k.order = reduced;
        }
    }

    fn edges(&self, b: &mut GraphBuilder) {
        for k in self.keys.values() {
            if k.cyclic {
                continue;
            }
            for &(x, y) in &k.order {
                let Some(wy) = k.node_writer(y) else { continue };
                if let Some(wx) = k.node_writer(x) {
                    b.add(wx, wy, EdgeKind::WW);
                }
                for &r in k.readers.get(&x).map(Vec::as_slice).unwrap_or(&[]) {
                    b.add(r, wy, EdgeKind::RW);
                }
            }
            for (&v, readers) in &k.readers {
                if let Some(w) = k.node_writer(v) {
                    for &r in readers {
                        b.add(w, r, EdgeKind::WR);
                    }
                }
            }
        }
    }

    /// The last value a transaction wrote to each key, and the first it read before writing.
    fn external(&self, t: u32) -> External<'_> {
        let mops = self.txns.mops(&self.txns.nodes[t as usize]);
        let mut writes: Vec<(&Atom, &Atom)> = Vec::new();
        let mut reads: Vec<(&Atom, Option<&Atom>)> = Vec::new();
        let mut touched: Vec<&Atom> = Vec::new();
        for m in mops {
            match m {
                Mop::Write { key, value } => {
                    writes.retain(|w| w.0 != key);
                    writes.push((key, value));
                    touched.push(key);
                }
                Mop::Read { key, value } => {
                    if !touched.contains(&key) {
                        touched.push(key);
                        reads.push((
                            key,
                            match value {
                                ReadResult::Scalar(a) => Some(a),
                                _ => None,
                            },
                        ));
                    }
                }
                Mop::Append { .. } => {}
            }
        }
        (writes, reads)
    }
}

impl Explainer for Analysis<'_, '_> {
    fn why(&self, a: u32, b: u32, kind: EdgeKind, an: &str, bn: &str) -> Option<String> {
        let (wa, ra) = self.external(a);
        let (wb, rb) = self.external(b);
        let later = |key: &Atom, x: Option<&Atom>, y: &Atom| {
            let k = self.keys.get(key)?;
            let xi = match x {
                None => NIL,
                Some(x) => *k.ids.get(x)?,
            };
            let yi = *k.ids.get(y)?;
            k.order.contains(&(xi, yi)).then_some(())
        };
        match kind {
            EdgeKind::WR => wa.iter().find_map(|&(key, v)| {
                rb.iter().any(|&(k2, r)| k2 == key && r == Some(v)).then(|| {
                    format!(
                        "{an} wrote {} = {}, which was read by {bn}",
                        atom_edn(key),
                        atom_edn(v)
                    )
                })
            }),
            EdgeKind::WW => wa.iter().find_map(|&(key, v)| {
                wb.iter().find_map(|&(k2, v2)| {
                    (k2 == key && later(key, Some(v), v2).is_some()).then(|| {
                        format!(
                            "{an} set key {} to {}, and {bn} set it to {}, which came later in the version order",
                            atom_edn(key),
                            atom_edn(v),
                            atom_edn(v2)
                        )
                    })
                })
            }),
            EdgeKind::RW => ra.iter().find_map(|&(key, v)| {
                wb.iter().find_map(|&(k2, v2)| {
                    (k2 == key && later(key, v, v2).is_some()).then(|| {
                        format!(
                            "{an} read key {} = {}, and {bn} set it to {}, which came later in the version order",
                            atom_edn(key),
                            v.map(atom_edn).unwrap_or_else(|| "nil".into()),
                            atom_edn(v2)
                        )
                    })
                })
            }),
            _ => None,
        }
    }
}

/// Within one transaction, per key: the key, its last write here (if any), and its external
/// read (if any: `Some(None)` is a nil read).
type TxnKeyState<'a> = (&'a Atom, Option<Atom>, Option<Option<Atom>>);

/// A transaction's external writes (key, last value written) and reads (key, value read).
type External<'a> = (Vec<(&'a Atom, &'a Atom)>, Vec<(&'a Atom, Option<&'a Atom>)>);

fn show(v: &Option<Atom>) -> String {
    v.as_ref().map(atom_edn).unwrap_or_else(|| "nil".into())
}
