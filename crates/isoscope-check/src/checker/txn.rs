//! Transactions as graph vertices, and the pipeline the transactional workloads share.
//!
//! list-append and rw-register differ only in how they infer ww, wr and rw edges. Everything
//! after that is here: process and real-time edges (only when a requested model needs them),
//! the cycle search, and turning cycles into explained findings.

use crate::history::{History, Mop, OpType, OpValue, Process};

use super::anomaly::{Anomaly, AnomalySet};
use super::cycle::{find_cycles, searchable, Cycle};
use super::explain;
use super::graph::{
    add_process_edges, add_realtime_edges, EdgeKind, GraphBuilder, Mask, Timing, PROCESS, REALTIME,
};
use super::{CheckOptions, CycleStep, Finding, Findings, TxnRef};

/// A transaction that reached an outcome (or never did).
#[derive(Clone, Copy, Debug)]
pub struct Node {
    /// Position of its invoke op.
    pub invoke: usize,
    /// Position of its completion op, if any.
    pub complete: Option<usize>,
    /// Position of the op whose value holds its micro-ops (with results, when known).
    pub value: usize,
    /// Ok, Fail or Info.
    pub outcome: OpType,
}

/// The transactions of a history: graph vertices (ok and info) and failed ones apart.
pub struct Txns<'h> {
    /// The history.
    pub h: &'h History,
    /// Vertices: committed and indeterminate transactions, in invoke order.
    pub nodes: Vec<Node>,
    /// Failed transactions, which are never vertices.
    pub failed: Vec<Node>,
}

impl<'h> Txns<'h> {
    /// Sorts the transactions of a history into vertices and failures.
    pub fn new(h: &'h History) -> Txns<'h> {
        let pairs = h.pairs();
        let mut nodes = Vec::with_capacity(pairs.list.len());
        let mut failed = Vec::new();
        for c in &pairs.list {
            if !matches!(h.ops[c.invoke].value, OpValue::Txn(_) | OpValue::Nil) {
                continue;
            }
            let node = Node {
                invoke: c.invoke,
                complete: c.complete,
                value: c.value_op(&h.ops),
                outcome: c.outcome,
            };
            match c.outcome {
                OpType::Fail => failed.push(node),
                _ => nodes.push(node),
            }
        }
        Txns { h, nodes, failed }
    }

    /// The micro-ops of a transaction (empty if its value is nil).
    pub fn mops(&self, n: &Node) -> &'h [Mop] {
        match &self.h.ops[n.value].value {
            OpValue::Txn(m) => m,
            _ => &[],
        }
    }

    /// The history index of the op that shows what a transaction did.
    pub fn index(&self, n: &Node) -> u64 {
        self.h.ops[n.value].index
    }

    /// How many vertices have an `ok` outcome.
    pub fn committed(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.outcome == OpType::Ok)
            .count()
    }
}

/// What a workload knows about why one transaction precedes another.
pub trait Explainer {
    /// Why vertex `a` precedes vertex `b` by a data edge of `kind`, in words, with `an` and
    /// `bn` as the two transactions' names. `None` if the workload cannot say.
    fn why(&self, a: u32, b: u32, kind: EdgeKind, an: &str, bn: &str) -> Option<String>;
}

/// The extra (non-data) edges the requested models need: process and real-time order for
/// strict serializability, none otherwise.
pub fn extra_edges(opts: &CheckOptions) -> Mask {
    let needs = |a: Anomaly| opts.models.iter().any(|m| m.forbids(a));
    let mut m = 0;
    if needs(Anomaly::G0Process) {
        m |= PROCESS;
    }
    if needs(Anomaly::G0Realtime) {
        m |= REALTIME;
    }
    m
}

/// What [`analyze_cycles`] did.
#[derive(Clone, Copy, Debug)]
pub struct CycleSearch {
    /// The cycle types searched.
    pub searched: AnomalySet,
    /// No transaction depends on another by ww, wr or rw (Elle's empty-transaction-graph):
    /// nothing could have contradicted any model, so the check proves nothing.
    pub no_dependencies: bool,
}

/// Adds order edges as needed, searches for cycles, and records each as an explained finding.
pub fn analyze_cycles(
    txns: &Txns,
    mut b: GraphBuilder,
    opts: &CheckOptions,
    explainer: &dyn Explainer,
    f: &mut Findings,
) -> CycleSearch {
    let started = std::time::Instant::now();
    let extra = extra_edges(opts);
    if extra & PROCESS != 0 {
        let mut sessions: rustc_hash::FxHashMap<Process, Vec<u32>> = Default::default();
        for (v, n) in txns.nodes.iter().enumerate() {
            if n.outcome == OpType::Ok {
                sessions
                    .entry(txns.h.ops[n.invoke].process)
                    .or_default()
                    .push(v as u32);
            }
        }
        let sessions: Vec<Vec<u32>> = sessions.into_values().collect();
        add_process_edges(&mut b, &sessions);
    }
    if extra & REALTIME != 0 {
        let timings: Vec<Timing> = txns
            .nodes
            .iter()
            .map(|n| Timing {
                // A completion with no invocation has no known start: as in Elle, it takes no
                // part in real-time order.
                invoke: (n.complete != Some(n.invoke)).then_some(n.invoke),
                ok_at: if n.outcome == OpType::Ok && n.complete != Some(n.invoke) {
                    n.complete
                } else {
                    None
                },
            })
            .collect();
        add_realtime_edges(&mut b, &timings);
    }
    let g = b.build();
    let no_dependencies =
        (0..g.len() as u32).all(|v| g.out(v).all(|(_, m)| m & super::graph::DATA == 0));
    if no_dependencies && txns.committed() > 0 {
        f.notes.push(
            "empty-transaction-graph: no transaction wrote over, read from or read before \
             another's write, so nothing in the history could contradict any model"
                .into(),
        );
    }
    tracing::debug!(
        stage = "graph",
        secs = started.elapsed().as_secs_f64(),
        vertices = g.len(),
        edges = g.edge_count(),
        "stage done"
    );
    let report = find_cycles(&g, extra, opts.limits);
    tracing::debug!(
        components = report.data_components,
        largest = report.largest_component,
        cycles = report.cycles.len(),
        "cycle search done"
    );
    let explaining = std::time::Instant::now();
    for c in &report.cycles {
        f.add(c.anomaly, || explain_cycle(txns, c, explainer));
    }
    tracing::debug!(
        stage = "explain",
        secs = explaining.elapsed().as_secs_f64(),
        "stage done"
    );
    if !report.undecided.is_empty() {
        f.undecided = f.undecided.union(report.undecided);
        f.notes.push(format!(
            "the cycle search ran out of budget in a component of up to {} transactions before \
             deciding {}; raise --cycle-search-steps to search further",
            report.largest_component,
            report
                .undecided
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    CycleSearch {
        searched: searchable(extra),
        no_dependencies,
    }
}

/// Explains a cycle in Elle's style: the transactions, then each step, then the contradiction.
pub fn explain_cycle(txns: &Txns, c: &Cycle, explainer: &dyn Explainer) -> Finding {
    let name = |i: usize| format!("T{}", i + 1);
    let mut refs = Vec::new();
    let mut ops = Vec::new();
    for (i, s) in c.steps.iter().enumerate() {
        let n = &txns.nodes[s.from as usize];
        ops.push(txns.index(n));
        refs.push(TxnRef {
            name: name(i),
            index: txns.index(n),
            process: txns.h.ops[n.invoke].process.to_string(),
            op: explain::op_edn(&txns.h.ops[n.value], &txns.h.lists),
        });
    }
    let len = c.steps.len();
    let steps: Vec<CycleStep> = c
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (an, bn) = (name(i), name((i + 1) % len));
            let why = match s.kind {
                EdgeKind::Process => {
                    let p = txns.h.ops[txns.nodes[s.from as usize].invoke].process;
                    format!("process {p} executed {an} before {bn}")
                }
                EdgeKind::Realtime => {
                    let (a, b) = (&txns.nodes[s.from as usize], &txns.nodes[s.to as usize]);
                    explain::realtime(txns.h, a.complete.unwrap_or(a.value), b.invoke, &an, &bn)
                }
                kind => explainer
                    .why(s.from, s.to, kind, &an, &bn)
                    .unwrap_or_else(|| format!("{an} precedes {bn} by a {kind} dependency")),
            };
            CycleStep {
                from: an,
                to: bn,
                kind: s.kind,
                why,
            }
        })
        .collect();
    Finding {
        anomaly: c.anomaly,
        explanation: explain::cycle_text(&refs, &steps),
        ops,
        txns: refs,
        steps,
    }
}
