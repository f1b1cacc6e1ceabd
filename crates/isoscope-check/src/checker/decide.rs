//! Exact answers for the cycle types whose existence is polynomial to decide.
//!
//! The step-budgeted search in [`super::cycle`] finds most cycles quickly, but in one large
//! strongly connected component it can run out of steps before it finds, or rules out, a type.
//! For G0, G1c and G-single (and G0's `-process` / `-realtime` variants) running out is no
//! excuse: each is "is there an edge labelled X whose head reaches its tail over edges labelled
//! Y", which reachability answers. Each step of a cycle is named by its edge's *label*, the first
//! kind it has among those in play (ww, wr, rw, process, realtime), as the explainer names it.
//!
//! How: one graph per question, whose vertices are the component's transactions (twice over,
//! when the cycle must also use an edge labelled Z: the second copy means "a Z edge was taken");
//! its strongly connected components; and reachability between components, answered for many
//! (from, to) pairs at once by propagating bit sets of targets, 256 at a time, through the
//! condensation, which Tarjan numbers sinks first. Cost: O((edges + vertices) * targets / 256).
//!
//! With a Z condition (G1c and G-single's `-process` / `-realtime` variants, which need both a
//! wr or rw and an order edge) reachability decides *closed walks*, not simple cycles; deciding
//! simple cycles through two given kinds is as hard as the two-disjoint-paths problem. No walk
//! means no cycle, which decides the type; a walk whose shortest witnesses all repeat a vertex
//! leaves it undecided. The verdict never depends on that: such a walk splits into simple cycles,
//! one of which needs an order edge, and strict serializability, the only model forbidding
//! these types, is ruled out by any of them.

use super::cycle::Step;
use super::graph::{DepGraph, EdgeKind, GraphBuilder, Mask, DATA, WW};
use super::scc::{tarjan_all, Components};

/// The label of an edge with kinds `m`: its first kind among `allowed`, as a one-bit mask (0 if
/// it has none).
pub fn label(m: Mask, allowed: Mask) -> Mask {
    let x = m & allowed;
    x & x.wrapping_neg()
}

fn kind_of(label: Mask) -> EdgeKind {
    EdgeKind::ALL
        .into_iter()
        .find(|k| k.bit() == label)
        .expect("a label is one kind's bit")
}

/// The cycles asked about: one edge labelled in `first`, then a path back to its tail over
/// edges labelled in `rest`, using (with the first edge) at least one edge labelled in `need`
/// unless `need` is 0.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Labels the closing edge may have.
    pub first: Mask,
    /// Labels the rest of the cycle may use.
    pub rest: Mask,
    /// Labels of which the cycle must use at least one (0: no condition).
    pub need: Mask,
}

/// The answer for one shape in one component.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// No cycle (not even a closed walk) of the shape.
    Absent,
    /// A simple cycle of the shape, steps labelled.
    Cycle(Vec<Step>),
    /// Closed walks of the shape exist, but no simple witness was found (only with `need`).
    WalkOnly,
}

/// How many walks to try for a simple witness before answering [`Decision::WalkOnly`].
const WITNESS_TRIES: usize = 64;

/// Decides `shape` in the component `scc` (global ids; `map` maps a global id to its position in
/// `scc`, or `u32::MAX` outside it), labelling edges by their first kind among `allowed`.
pub fn decide(g: &DepGraph, scc: &[u32], map: &[u32], allowed: Mask, shape: Shape) -> Decision {
    // Cheap exits: no closing edge, or no data edge to use (order edges alone, consistent with
    // time, form no cycle).
    let (mut closing, mut data) = (false, false);
    for &u in scc {
        for (v, m) in g.out(u) {
            let l = label(m, allowed);
            if map[v as usize] != u32::MAX {
                closing |= l & shape.first != 0;
                data |= l & (shape.first | shape.rest) & DATA != 0;
            }
        }
    }
    if !closing || !data {
        return Decision::Absent;
    }
    let layers = if shape.need == 0 { 1 } else { 2 };
    let node = |local: u32, flag: usize| local * layers as u32 + flag.min(layers - 1) as u32;
    let mut b = GraphBuilder::new((scc.len() * layers) as u32);
    let mut first = Vec::new();
    for (ul, &u) in scc.iter().enumerate() {
        for (v, m) in g.out(u) {
            let vl = map[v as usize];
            let l = label(m, allowed);
            if vl == u32::MAX || l == 0 {
                continue;
            }
            let hit = usize::from(l & shape.need != 0);
            if l & shape.rest != 0 {
                for f in 0..layers {
                    b.add(node(ul as u32, f), node(vl, f | hit), EdgeKind::WW);
                }
            }
            if l & shape.first != 0 {
                first.push((
                    node(vl, hit),
                    node(ul as u32, 1),
                    Step {
                        from: u,
                        to: v,
                        kind: kind_of(l),
                    },
                ));
            }
        }
    }
    if first.is_empty() {
        return Decision::Absent;
    }
    let pg = b.build();
    let comps = tarjan_all(&pg, WW);
    let pairs: Vec<(u32, u32)> = first
        .iter()
        .map(|&(s, t, _)| (comps.comp[s as usize], comps.comp[t as usize]))
        .collect();
    let want = if shape.need == 0 { 1 } else { WITNESS_TRIES };
    let holding = reachable(&pg, &comps, &pairs, want);
    if holding.is_empty() {
        return Decision::Absent;
    }
    for i in holding {
        let (s, t, step) = first[i];
        let walk = shortest_path(&pg, s, t).expect("reachability said so");
        let mut steps = vec![step];
        for w in walk.windows(2) {
            let (from, to) = (
                scc[(w[0] / layers as u32) as usize],
                scc[(w[1] / layers as u32) as usize],
            );
            steps.push(Step {
                from,
                to,
                kind: kind_of(label(g.mask(from, to), allowed)),
            });
        }
        let mut seen: Vec<u32> = steps.iter().map(|s| s.from).collect();
        seen.sort_unstable();
        if seen.windows(2).all(|w| w[0] != w[1]) {
            return Decision::Cycle(steps);
        }
    }
    Decision::WalkOnly
}

/// Which of the pairs (from, to) of components have a path from `from` to `to`; stops once
/// `want` are known. Components are numbered sinks first, so a path only goes down in number.
fn reachable(pg: &DepGraph, comps: &Components, pairs: &[(u32, u32)], want: usize) -> Vec<usize> {
    let mut holding: Vec<usize> = pairs
        .iter()
        .enumerate()
        .filter(|(_, &(a, b))| a == b)
        .map(|(i, _)| i)
        .take(want)
        .collect();
    if holding.len() >= want {
        return holding;
    }
    let mut open: Vec<usize> = (0..pairs.len())
        .filter(|&i| pairs[i].0 > pairs[i].1)
        .collect();
    if open.is_empty() {
        return holding;
    }
    // The condensation, as rows of successor components.
    let n = comps.count as usize;
    let mut edges: Vec<(u32, u32)> = Vec::new();
    for a in 0..pg.len() as u32 {
        let ca = comps.comp[a as usize];
        for (b, _) in pg.out(a) {
            let cb = comps.comp[b as usize];
            if ca != cb {
                edges.push((ca, cb));
            }
        }
    }
    edges.sort_unstable();
    edges.dedup();
    let mut offsets = vec![0u32; n + 1];
    for &(a, _) in &edges {
        offsets[a as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    // A second topological order (Kahn's, sources first) rules out many pairs at once: a path
    // from a to b puts a before b in every topological order.
    let rank = kahn_rank(n, &offsets, &edges);
    open.retain(|&i| rank[pairs[i].0 as usize] < rank[pairs[i].1 as usize]);
    // Targets in chunks of 256, each chunk one pass up the condensation.
    open.sort_unstable_by_key(|&i| pairs[i].1);
    const WORDS: usize = 4;
    let mut slot = vec![u16::MAX; n];
    let mut start = 0;
    while start < open.len() {
        let mut targets: Vec<u32> = Vec::new();
        let mut end = start;
        while end < open.len() {
            let t = pairs[open[end]].1;
            if targets.last() != Some(&t) {
                if targets.len() == WORDS * 64 {
                    break;
                }
                targets.push(t);
            }
            end += 1;
        }
        let chunk = &open[start..end];
        let lo = targets[0] as usize;
        let hi = chunk.iter().map(|&i| pairs[i].0).max().unwrap_or(0) as usize;
        for (j, &t) in targets.iter().enumerate() {
            slot[t as usize] = j as u16;
        }
        let mut bits = vec![[0u64; WORDS]; hi - lo + 1];
        for c in lo..=hi {
            let mut r = [0u64; WORDS];
            if slot[c] != u16::MAX {
                let j = slot[c] as usize;
                r[j / 64] |= 1 << (j % 64);
            }
            for &(_, s) in &edges[offsets[c] as usize..offsets[c + 1] as usize] {
                if (s as usize) >= lo {
                    let sb = &bits[s as usize - lo];
                    for w in 0..WORDS {
                        r[w] |= sb[w];
                    }
                }
            }
            bits[c - lo] = r;
        }
        for &i in chunk {
            let (a, t) = pairs[i];
            let j = slot[t as usize] as usize;
            if bits[a as usize - lo][j / 64] & (1 << (j % 64)) != 0 {
                holding.push(i);
                if holding.len() >= want {
                    return holding;
                }
            }
        }
        for &t in &targets {
            slot[t as usize] = u16::MAX;
        }
        start = end;
    }
    holding
}

/// Each component's position in a topological order found by Kahn's algorithm (sources first).
fn kahn_rank(n: usize, offsets: &[u32], edges: &[(u32, u32)]) -> Vec<u32> {
    let mut indegree = vec![0u32; n];
    for &(_, b) in edges {
        indegree[b as usize] += 1;
    }
    let mut ready: Vec<u32> = (0..n as u32)
        .filter(|&c| indegree[c as usize] == 0)
        .collect();
    let mut rank = vec![0u32; n];
    let mut next = 0;
    while let Some(c) = ready.pop() {
        rank[c as usize] = next;
        next += 1;
        for &(_, s) in &edges[offsets[c as usize] as usize..offsets[c as usize + 1] as usize] {
            indegree[s as usize] -= 1;
            if indegree[s as usize] == 0 {
                ready.push(s);
            }
        }
    }
    rank
}

/// A shortest path from `s` to `t` (as vertices, both ends included), by breadth-first search.
fn shortest_path(g: &DepGraph, s: u32, t: u32) -> Option<Vec<u32>> {
    let mut parent = vec![u32::MAX; g.len()];
    let mut queue = std::collections::VecDeque::from([s]);
    parent[s as usize] = s;
    while let Some(x) = queue.pop_front() {
        if x == t {
            let mut path = vec![t];
            let mut at = t;
            while at != s {
                at = parent[at as usize];
                path.push(at);
            }
            path.reverse();
            return Some(path);
        }
        for (y, _) in g.out(x) {
            if parent[y as usize] == u32::MAX {
                parent[y as usize] = x;
                queue.push_back(y);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::graph::{DATA, RW, WR};
    use super::*;
    use proptest::prelude::*;

    fn graph(n: u32, edges: &[(u32, u32, EdgeKind)]) -> DepGraph {
        let mut b = GraphBuilder::new(n);
        for &(f, t, k) in edges {
            b.add(f, t, k);
        }
        b.build()
    }

    fn whole(g: &DepGraph, shape: Shape) -> Decision {
        let all: Vec<u32> = (0..g.len() as u32).collect();
        decide(g, &all, &all, DATA, shape)
    }

    const G_SINGLE: Shape = Shape {
        first: RW,
        rest: WW | WR,
        need: 0,
    };

    #[test]
    fn g_single_needs_a_ww_wr_path_back() {
        use EdgeKind::*;
        // 0 -rw-> 1 -wr-> 2 -ww-> 0: G-single.
        let g = graph(3, &[(0, 1, RW), (1, 2, WR), (2, 0, WW)]);
        match whole(&g, G_SINGLE) {
            Decision::Cycle(s) => assert_eq!(s.len(), 3),
            other => panic!("{other:?}"),
        }
        // The way back needs an rw: no G-single (it is G2).
        let g = graph(3, &[(0, 1, RW), (1, 2, WR), (2, 0, RW)]);
        assert_eq!(whole(&g, G_SINGLE), Decision::Absent);
    }

    /// Brute force: is there a simple cycle through an edge labelled in `first` whose other
    /// edges are labelled in `rest`?
    fn brute(g: &DepGraph, shape: Shape) -> bool {
        fn dfs(g: &DepGraph, at: u32, goal: u32, rest: Mask, on: &mut Vec<bool>) -> bool {
            if at == goal {
                return true;
            }
            on[at as usize] = true;
            let found = g.out(at).any(|(y, m)| {
                label(m, DATA) & rest != 0 && !on[y as usize] && dfs(g, y, goal, rest, on)
            });
            on[at as usize] = false;
            found
        }
        (0..g.len() as u32).any(|u| {
            g.out(u).any(|(v, m)| {
                label(m, DATA) & shape.first != 0
                    && dfs(g, v, u, shape.rest, &mut vec![false; g.len()])
            })
        })
    }

    /// Brute force for closed walks: from the head of a `first` edge back to its tail over
    /// `rest`, with some edge (the first included) labelled in `need`.
    fn brute_walk(g: &DepGraph, shape: Shape) -> bool {
        let n = g.len();
        (0..n as u32).any(|u| {
            g.out(u).any(|(v, m)| {
                let l = label(m, DATA);
                if l & shape.first == 0 {
                    return false;
                }
                let mut seen = vec![[false; 2]; n];
                let mut stack = vec![(v, usize::from(l & shape.need != 0))];
                while let Some((x, f)) = stack.pop() {
                    if x == u && f == 1 {
                        return true;
                    }
                    if seen[x as usize][f] {
                        continue;
                    }
                    seen[x as usize][f] = true;
                    for (y, m) in g.out(x) {
                        let l = label(m, DATA);
                        if l & shape.rest != 0 {
                            stack.push((y, f | usize::from(l & shape.need != 0)));
                        }
                    }
                }
                false
            })
        })
    }

    proptest! {
        #[test]
        fn closed_walks_agree_with_brute_force(n in 2u32..10, edges in proptest::collection::vec((0u32..10, 0u32..10, 0usize..3), 0..30)) {
            let kinds = [EdgeKind::WW, EdgeKind::WR, EdgeKind::RW];
            let e: Vec<_> = edges.iter().map(|&(f, t, k)| (f % n, t % n, kinds[k])).collect();
            let g = graph(n, &e);
            let shape = Shape { first: RW, rest: WW | WR, need: WR };
            let d = whole(&g, shape);
            prop_assert_eq!(d != Decision::Absent, brute_walk(&g, shape));
            if let Decision::Cycle(steps) = d {
                prop_assert!(steps.iter().any(|s| s.kind == EdgeKind::WR));
                prop_assert_eq!(steps.iter().filter(|s| s.kind == EdgeKind::RW).count(), 1);
            }
        }

        #[test]
        fn agrees_with_brute_force(n in 2u32..12, edges in proptest::collection::vec((0u32..12, 0u32..12, 0usize..3), 0..40)) {
            let kinds = [EdgeKind::WW, EdgeKind::WR, EdgeKind::RW];
            let e: Vec<_> = edges.iter().map(|&(f, t, k)| (f % n, t % n, kinds[k])).collect();
            let g = graph(n, &e);
            for shape in [
                G_SINGLE,
                Shape { first: WW, rest: WW, need: 0 },
                Shape { first: WR, rest: WW | WR, need: 0 },
            ] {
                let d = whole(&g, shape);
                prop_assert_eq!(matches!(d, Decision::Cycle(_)), brute(&g, shape), "{:?}", shape);
                if let Decision::Cycle(steps) = d {
                    prop_assert!(shape.first & steps[0].kind.bit() != 0);
                    for (i, s) in steps.iter().enumerate() {
                        prop_assert_eq!(s.to, steps[(i + 1) % steps.len()].from);
                        if i > 0 {
                            prop_assert!(shape.rest & s.kind.bit() != 0);
                        }
                    }
                }
            }
        }
    }
}
