//! The generic cycle search: find, name and bound the cycles of a dependency graph.
//!
//! Every workload ends here: it builds a [`DepGraph`], and this module reports which Adya cycles
//! the graph contains, as Elle does:
//!
//! 1. Strongly connected components of the data edges (ww, wr, rw). Any component with more than
//!    one transaction holds a cycle, so the history is not serializable, whatever follows.
//! 2. In each component, a search per anomaly type, most severe first: G0 and G1c are decided
//!    exactly by components of the ww (ww+wr) edges; G-single-item by those plus a
//!    reachability search; G-nonadjacent-item and G2-item by a breadth-first search over
//!    (vertex, rw-count, last-edge-was-rw) states, which yields a shortest cycle of the type.
//! 3. If process or real-time edges are wanted, the same again on the components of the full
//!    graph, for cycles that need at least one such edge (the `-process` / `-realtime` types).
//!
//! Searches are bounded by a step budget per component and type. When the budget runs out (or,
//! with order edges, whenever a type is not found), G0, G1c and G-single and G0's order variants
//! are settled exactly by [`super::decide`], which is polynomial. Any other search that runs out
//! of budget without finding its type leaves that type *undecided*: the verdict becomes unknown
//! for models that forbid it (never valid). Every component still yields at least one cycle,
//! found by a plain search, so "not serializable" is never lost to the budget.

use std::collections::VecDeque;
use std::time::Instant;

use super::anomaly::{Anomaly, AnomalySet};
use super::decide::{decide, Decision, Shape};
use super::graph::{DepGraph, EdgeKind, Mask, DATA, PROCESS, REALTIME, RW, WR, WW};
use super::scc::{tarjan, tarjan_all, LocalIndex};

/// One step of a cycle: `from` precedes `to` because of a `kind` dependency.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Step {
    /// Vertex the step leaves.
    pub from: u32,
    /// Vertex the step enters.
    pub to: u32,
    /// The dependency that orders them.
    pub kind: EdgeKind,
}

/// A cycle found, with its type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cycle {
    /// The anomaly this cycle is.
    pub anomaly: Anomaly,
    /// The steps, each entering the next one's `from`; the last enters the first's `from`.
    pub steps: Vec<Step>,
}

/// What the search found.
#[derive(Debug, Default)]
pub struct CycleReport {
    /// Cycles found: at most one per type per component.
    pub cycles: Vec<Cycle>,
    /// Types some search gave up on before finding (see the module docs).
    pub undecided: AnomalySet,
    /// Number of components with a cycle among data edges.
    pub data_components: usize,
    /// Size of the largest such component.
    pub largest_component: usize,
}

/// Bounds for the search.
#[derive(Clone, Copy, Debug)]
pub struct SearchLimits {
    /// Edge visits allowed per component and anomaly type, beyond a multiple of its size.
    pub steps: u64,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits { steps: 2_000_000 }
    }
}

/// Names a cycle the way Elle does: by its number of rw edges (and their adjacency), then wr,
/// with `-realtime` if it needs a real-time edge, else `-process` if it needs a process edge.
pub fn classify(steps: &[Step]) -> Anomaly {
    use Anomaly::*;
    let n = steps.len();
    let is = |i: usize, k: EdgeKind| steps[i % n].kind == k;
    let rw = steps.iter().filter(|s| s.kind == EdgeKind::RW).count();
    let wr = steps.iter().any(|s| s.kind == EdgeKind::WR);
    let rt = steps.iter().any(|s| s.kind == EdgeKind::Realtime);
    let pr = steps.iter().any(|s| s.kind == EdgeKind::Process);
    let adjacent = (0..n).any(|i| is(i, EdgeKind::RW) && is(i + 1, EdgeKind::RW));
    let base = match rw {
        0 if wr => 1,
        0 => 0,
        1 => 2,
        _ if !adjacent => 3,
        _ => 4,
    };
    let table = [
        [G0, G0Process, G0Realtime],
        [G1c, G1cProcess, G1cRealtime],
        [GSingleItem, GSingleItemProcess, GSingleItemRealtime],
        [
            GNonadjacentItem,
            GNonadjacentItemProcess,
            GNonadjacentItemRealtime,
        ],
        [G2Item, G2ItemProcess, G2ItemRealtime],
    ];
    table[base][if rt {
        2
    } else if pr {
        1
    } else {
        0
    }]
}

/// The cycle types a search could report: data-only, or needing process / real-time edges.
pub fn searchable(extra: Mask) -> AnomalySet {
    use Anomaly::*;
    let mut s = AnomalySet::of(&[G0, G1c, GSingleItem, GNonadjacentItem, G2Item]);
    if extra & PROCESS != 0 {
        for a in [
            G0Process,
            G1cProcess,
            GSingleItemProcess,
            GNonadjacentItemProcess,
            G2ItemProcess,
        ] {
            s.insert(a);
        }
    }
    if extra & REALTIME != 0 {
        for a in [
            G0Realtime,
            G1cRealtime,
            GSingleItemRealtime,
            GNonadjacentItemRealtime,
            G2ItemRealtime,
        ] {
            s.insert(a);
        }
    }
    s
}

/// Finds the cycles of `g`. `extra` says which of process and real-time edges to consider
/// besides the data edges (the graph may hold more; they are ignored).
pub fn find_cycles(g: &DepGraph, extra: Mask, limits: SearchLimits) -> CycleReport {
    let mut report = CycleReport::default();
    let mut local = LocalIndex::new(g.len());
    let started = Instant::now();
    let data = tarjan_all(g, DATA);
    let mut scc_secs = started.elapsed().as_secs_f64();
    report.data_components = data.nontrivial.len();
    report.largest_component = data.nontrivial.iter().map(Vec::len).max().unwrap_or(0);
    for scc in &data.nontrivial {
        local.with(scc, |map| {
            search_component(g, scc, map, 0, limits, &mut report)
        });
    }
    if extra != 0 {
        let t = Instant::now();
        let full = tarjan_all(g, DATA | extra);
        scc_secs += t.elapsed().as_secs_f64();
        for scc in &full.nontrivial {
            local.with(scc, |map| {
                search_component(g, scc, map, extra, limits, &mut report)
            });
        }
    }
    let search_secs = started.elapsed().as_secs_f64() - scc_secs;
    tracing::debug!(stage = "scc", secs = scc_secs, "stage done");
    tracing::debug!(stage = "search", secs = search_secs, "stage done");
    report
}

/// How many rw edges a cycle type allows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RwRule {
    /// Any cycle at all (plain reachability).
    Any,
    None,
    ExactlyOne,
    Nonadjacent,
    TwoOrMore,
}

/// One search: cycles that start with an edge whose preferred kind is in `first`, continue
/// over `rest`, and satisfy the rw rule (and contain a wr, if `need_wr`).
#[derive(Clone, Copy, Debug)]
struct Spec {
    base: Anomaly,
    first: Mask,
    rest: Mask,
    rw: RwRule,
    need_wr: bool,
}

/// The searches for one component, most severe type first. With `extra`, the searches for
/// cycles that need a process or real-time edge: they start from such an edge.
fn specs(extra: Mask) -> [Spec; 5] {
    use Anomaly::*;
    let spec = |base, first, rest, rw, need_wr| Spec {
        base,
        first,
        rest,
        rw,
        need_wr,
    };
    if extra == 0 {
        [
            spec(G0, WW, WW, RwRule::None, false),
            spec(G1c, WR, WW | WR, RwRule::None, false),
            spec(GSingleItem, RW, WW | WR, RwRule::ExactlyOne, false),
            spec(GNonadjacentItem, RW, DATA, RwRule::Nonadjacent, false),
            spec(G2Item, RW, DATA, RwRule::TwoOrMore, false),
        ]
    } else {
        [
            spec(G0, extra, WW | extra, RwRule::None, false),
            spec(G1c, extra, WW | WR | extra, RwRule::None, true),
            spec(GSingleItem, extra, DATA | extra, RwRule::ExactlyOne, false),
            spec(
                GNonadjacentItem,
                extra,
                DATA | extra,
                RwRule::Nonadjacent,
                false,
            ),
            spec(G2Item, extra, DATA | extra, RwRule::TwoOrMore, false),
        ]
    }
}

/// The types of a search for `base` that reachability decides (see [`super::decide`]), each
/// with its shape, given the extra edges in play: G0, G1c and G-single among data edges; with
/// process or real-time edges, their variants (G1c and G-single ones as closed walks).
fn exact_shapes(base: Anomaly, extra: Mask) -> Vec<(Anomaly, Shape)> {
    use Anomaly::*;
    let shape = |first, rest, need| Shape { first, rest, need };
    if extra == 0 {
        return match base {
            G0 => vec![(G0, shape(WW, WW, 0))],
            G1c => vec![(G1c, shape(WR, WW | WR, 0))],
            GSingleItem => vec![(GSingleItem, shape(RW, WW | WR, 0))],
            _ => Vec::new(),
        };
    }
    let mut out = Vec::new();
    for (x, orders) in [(PROCESS, PROCESS), (REALTIME, extra)] {
        if extra & x == 0 {
            continue;
        }
        let t = targets(base, x);
        match base {
            G0 => out.push((t[0], shape(x, WW | orders, 0))),
            G1c => out.push((t[0], shape(WR, WW | WR | orders, x))),
            GSingleItem => out.push((t[0], shape(RW, WW | WR | orders, x))),
            _ => {}
        }
    }
    out
}

/// The types a search for `base` can name, given the extra edges in play.
fn targets(base: Anomaly, extra: Mask) -> Vec<Anomaly> {
    use Anomaly::*;
    if extra == 0 {
        return vec![base];
    }
    let (p, r) = match base {
        G0 => (G0Process, G0Realtime),
        G1c => (G1cProcess, G1cRealtime),
        GSingleItem => (GSingleItemProcess, GSingleItemRealtime),
        GNonadjacentItem => (GNonadjacentItemProcess, GNonadjacentItemRealtime),
        _ => (G2ItemProcess, G2ItemRealtime),
    };
    let mut out = Vec::new();
    if extra & PROCESS != 0 {
        out.push(p);
    }
    if extra & REALTIME != 0 {
        out.push(r);
    }
    out
}

/// The kind Elle would explain an edge by: the first of ww, wr, rw, process, realtime it has.
fn preferred(m: Mask) -> Option<EdgeKind> {
    kinds(m).next()
}

/// The kinds in a mask, in order of preference (ww, wr, rw, process, realtime).
fn kinds(m: Mask) -> impl Iterator<Item = EdgeKind> {
    EdgeKind::ALL.into_iter().filter(move |k| m & k.bit() != 0)
}

/// Labels each step by its preferred kind among `allowed`, as Elle's explainer does, and
/// names the cycle. Returns `None` when `extra` is set but the cycle needs no extra edge
/// (it is a data cycle, reported by the data pass).
fn finish(g: &DepGraph, mut steps: Vec<Step>, allowed: Mask, extra: Mask) -> Option<Cycle> {
    for s in &mut steps {
        s.kind = preferred(g.mask(s.from, s.to) & allowed)?;
    }
    let anomaly = classify(&steps);
    if extra != 0 && !steps.iter().any(|s| s.kind.bit() & extra != 0) {
        return None;
    }
    Some(Cycle { anomaly, steps })
}

fn search_component(
    g: &DepGraph,
    scc: &[u32],
    map: &[u32],
    extra: Mask,
    limits: SearchLimits,
    report: &mut CycleReport,
) {
    let allowed = DATA | extra;
    let mut found = AnomalySet::EMPTY;
    let scc_edges: u64 = scc.iter().map(|&v| (g.row(v).1 - g.row(v).0) as u64).sum();
    let budget = limits.steps + 4 * scc_edges;
    let mut bfs = Bfs::new(scc.len());
    let record = |c: Cycle, found: &mut AnomalySet, report: &mut CycleReport| {
        if !found.contains(c.anomaly) {
            found.insert(c.anomaly);
            report.cycles.push(c);
        }
    };

    // Components of the ww and ww+wr edges inside this one: exact tests for G0 and G1c, and a
    // reachability filter for G-single-item.
    let ww = tarjan(g, WW, scc, map);
    let wwwr = tarjan(g, WW | WR, scc, map);

    for spec in specs(extra) {
        let wanted = targets(spec.base, extra);
        if wanted.iter().all(|&a| found.contains(a)) {
            continue;
        }
        let mut steps_left = budget;
        let mut exhausted = false;
        let mut hit = None;
        'edges: for &u in scc {
            let ul = map[u as usize] as usize;
            let (a, b) = g.row(u);
            for i in a..b {
                let (v, m) = g.edge(i);
                let vl = map[v as usize];
                let Some(kind) = preferred(m & allowed) else {
                    continue;
                };
                if vl == u32::MAX || kind.bit() & spec.first == 0 {
                    continue;
                }
                let vl = vl as usize;
                // Cheap exclusions before any search.
                if extra == 0 {
                    let same = |c: &super::scc::Components| c.comp[ul] == c.comp[vl];
                    match spec.rw {
                        RwRule::None if spec.first == WW && !same(&ww) => continue,
                        RwRule::None if !same(&wwwr) => continue,
                        // v must reach u over ww/wr: impossible when v's component is nearer
                        // the sinks than u's (components are numbered sinks first).
                        RwRule::ExactlyOne if wwwr.comp[vl] < wwwr.comp[ul] => continue,
                        _ => {}
                    }
                }
                if steps_left == 0 {
                    exhausted = true;
                    break 'edges;
                }
                let first = Step {
                    from: u,
                    to: v,
                    kind,
                };
                if let Some(path) = bfs.search(g, scc, map, first, spec, &mut steps_left) {
                    if let Some(c) = finish(g, path, allowed, extra) {
                        if !found.contains(c.anomaly) {
                            hit = Some(c);
                            break 'edges;
                        }
                    }
                } else if steps_left == 0 {
                    exhausted = true;
                    break 'edges;
                }
            }
        }
        if let Some(c) = hit {
            record(c, &mut found, report);
        }
        // Types reachability decides: settled exactly whenever the budgeted search could have
        // missed them (it ran out, or, with order edges, its shortest paths may have named
        // another type).
        let exact = exact_shapes(spec.base, extra);
        for &(a, shape) in &exact {
            if found.contains(a) || (extra == 0 && !exhausted) {
                continue;
            }
            match decide(g, scc, map, allowed, shape) {
                Decision::Absent => {}
                Decision::Cycle(steps) => match finish(g, steps, allowed, extra) {
                    Some(c) if c.anomaly == a => record(c, &mut found, report),
                    _ => report.undecided.insert(a),
                },
                Decision::WalkOnly => report.undecided.insert(a),
            }
        }
        if exhausted {
            for a in wanted {
                if !found.contains(a) && !exact.iter().any(|&(x, _)| x == a) {
                    report.undecided.insert(a);
                }
            }
        }
    }

    if found.is_empty() {
        // Every component holds some cycle (for the extra pass: if it has a pure extra edge
        // inside); find one plainly, without budget, so it is never lost.
        let first_kinds = if extra == 0 { DATA } else { extra };
        let any = Spec {
            base: Anomaly::G2Item,
            first: first_kinds,
            rest: allowed,
            rw: RwRule::Any,
            need_wr: false,
        };
        let mut unlimited = u64::MAX;
        for &u in scc {
            for (v, m) in g.out(u) {
                let Some(kind) = preferred(m & allowed) else {
                    continue;
                };
                if map[v as usize] == u32::MAX || kind.bit() & first_kinds == 0 {
                    continue;
                }
                let first = Step {
                    from: u,
                    to: v,
                    kind,
                };
                if let Some(path) = bfs.search(g, scc, map, first, any, &mut unlimited) {
                    if let Some(c) = finish(g, path, allowed, extra) {
                        record(c, &mut found, report);
                        return;
                    }
                }
            }
        }
    }
}

/// Breadth-first search over (vertex, state) inside one component, with reusable buffers.
struct Bfs {
    stamp: Vec<u32>,
    generation: u32,
    arena: Vec<(u32, u8, u32, EdgeKind)>,
    queue: VecDeque<u32>,
}

/// Search state bits: rw count (0, 1, 2+) in bits 0-1, last edge rw in bit 2, wr seen in bit 3.
const STATES: usize = 16;

fn state_after(state: u8, kind: EdgeKind, rule: RwRule) -> Option<u8> {
    if rule == RwRule::Any {
        return Some(0);
    }
    let mut rw = state & 3;
    let last_rw = state & 4 != 0;
    let mut wr = state & 8 != 0;
    match kind {
        EdgeKind::RW => {
            match rule {
                RwRule::None => return None,
                RwRule::ExactlyOne if rw >= 1 => return None,
                RwRule::Nonadjacent if last_rw => return None,
                _ => {}
            }
            rw = (rw + 1).min(2);
        }
        EdgeKind::WR => wr = true,
        _ => {}
    }
    Some(rw | if kind == EdgeKind::RW { 4 } else { 0 } | if wr { 8 } else { 0 })
}

fn accepts(state: u8, first: EdgeKind, spec: Spec) -> bool {
    let rw = state & 3;
    let last_rw = state & 4 != 0;
    if spec.need_wr && state & 8 == 0 {
        return false;
    }
    match spec.rw {
        RwRule::Any => true,
        RwRule::None => rw == 0,
        RwRule::ExactlyOne => rw == 1,
        RwRule::TwoOrMore => rw >= 2,
        RwRule::Nonadjacent => rw >= 2 && !(last_rw && first == EdgeKind::RW),
    }
}

impl Bfs {
    fn new(k: usize) -> Bfs {
        Bfs {
            stamp: vec![0; k * STATES],
            generation: 0,
            arena: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    /// Searches for a path from `first.to` back to `first.from` that, with `first`, makes a
    /// simple cycle satisfying `spec`. Spends at most `steps` edge visits.
    fn search(
        &mut self,
        g: &DepGraph,
        scc: &[u32],
        map: &[u32],
        first: Step,
        spec: Spec,
        steps: &mut u64,
    ) -> Option<Vec<Step>> {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.generation = 1;
        }
        self.arena.clear();
        self.queue.clear();
        let target = map[first.from as usize];
        let start = map[first.to as usize];
        let start_state = state_after(0, first.kind, spec.rw)?;
        self.visit(start, start_state, u32::MAX, first.kind);
        while let Some(at) = self.queue.pop_front() {
            let (vl, state, _, _) = self.arena[at as usize];
            let (a, b) = g.row(scc[vl as usize]);
            for i in a..b {
                if *steps == 0 {
                    return None;
                }
                *steps -= 1;
                let (w, m) = g.edge(i);
                let wl = map[w as usize];
                if wl == u32::MAX || m & spec.rest == 0 {
                    continue;
                }
                for kind in kinds(m & spec.rest) {
                    let Some(next) = state_after(state, kind, spec.rw) else {
                        continue;
                    };
                    if wl == target {
                        if accepts(next, first.kind, spec) {
                            let idx = self.arena.len() as u32;
                            self.arena.push((wl, next, at, kind));
                            if let Some(path) = self.path(idx, first, scc) {
                                return Some(path);
                            }
                        }
                    } else if !self.seen(wl, next) {
                        self.visit(wl, next, at, kind);
                    }
                }
            }
        }
        None
    }

    fn seen(&self, vl: u32, state: u8) -> bool {
        self.stamp[vl as usize * STATES + state as usize] == self.generation
    }

    fn visit(&mut self, vl: u32, state: u8, parent: u32, kind: EdgeKind) {
        self.stamp[vl as usize * STATES + state as usize] = self.generation;
        self.queue.push_back(self.arena.len() as u32);
        self.arena.push((vl, state, parent, kind));
    }

    /// Rebuilds the cycle ending at arena entry `end`; `None` if it repeats a vertex.
    fn path(&self, end: u32, first: Step, scc: &[u32]) -> Option<Vec<Step>> {
        let mut rev = Vec::new();
        let mut at = end;
        loop {
            let (vl, _, parent, kind) = self.arena[at as usize];
            if parent == u32::MAX {
                break;
            }
            let (pl, _, _, _) = self.arena[parent as usize];
            rev.push(Step {
                from: scc[pl as usize],
                to: scc[vl as usize],
                kind,
            });
            at = parent;
        }
        rev.push(first);
        rev.reverse();
        let mut seen: Vec<u32> = rev.iter().map(|s| s.from).collect();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        Some(rev)
    }
}
