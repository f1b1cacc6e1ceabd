//! Strongly connected components, by Tarjan's algorithm without recursion.
//!
//! Why our own: petgraph's `tarjan_scc` recurses once per vertex on a path, and real-time order
//! makes paths a million transactions long, which overflows the stack. This version keeps its
//! own stack; the test suite checks it against petgraph on random graphs.
//!
//! It works on a *view* of a [`DepGraph`]: only edges whose kinds meet `mask`, and only the
//! vertices listed in `nodes` (so the same code finds components inside a component).

use super::graph::{DepGraph, Mask};

const NONE: u32 = u32::MAX;

/// Components of a view, numbered in the order Tarjan completes them: a component's number is
/// lower than that of every component that can reach it (sinks first, a reverse topological
/// order of the condensation).
#[derive(Debug)]
pub struct Components {
    /// Component of each vertex of the view, by its position in `nodes`.
    pub comp: Vec<u32>,
    /// Number of components.
    pub count: u32,
    /// The components with more than one vertex, as global vertex ids.
    pub nontrivial: Vec<Vec<u32>>,
}

/// Maps global vertex ids to positions in a view, reusable across many small views.
pub struct LocalIndex {
    local: Vec<u32>,
}

impl LocalIndex {
    /// An index for a graph of `n` vertices, all outside any view.
    pub fn new(n: usize) -> LocalIndex {
        LocalIndex {
            local: vec![NONE; n],
        }
    }

    /// Runs `f` with `nodes` mapped to 0..len, and clears the mapping afterwards.
    pub fn with<R>(&mut self, nodes: &[u32], f: impl FnOnce(&[u32]) -> R) -> R {
        for (i, &v) in nodes.iter().enumerate() {
            self.local[v as usize] = i as u32;
        }
        let r = f(&self.local);
        for &v in nodes {
            self.local[v as usize] = NONE;
        }
        r
    }
}

/// Tarjan's algorithm over the view (`nodes`, `mask`); `local` maps a global id to its
/// position in `nodes`, or `u32::MAX` for vertices outside the view.
pub fn tarjan(g: &DepGraph, mask: Mask, nodes: &[u32], local: &[u32]) -> Components {
    let k = nodes.len();
    let mut index = vec![NONE; k];
    let mut low = vec![0u32; k];
    let mut on_stack = vec![false; k];
    let mut comp = vec![NONE; k];
    let mut stack: Vec<u32> = Vec::new();
    // Call stack: (local vertex, position of the next out-edge to look at).
    let mut calls: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut count = 0u32;
    let mut nontrivial = Vec::new();

    for root in 0..k as u32 {
        if index[root as usize] != NONE {
            continue;
        }
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        calls.push((root, g.row(nodes[root as usize]).0));

        while let Some(&mut (v, ref mut cursor)) = calls.last_mut() {
            let end = g.row(nodes[v as usize]).1;
            let mut descended = false;
            while *cursor < end {
                let (t, m) = g.edge(*cursor);
                *cursor += 1;
                if m & mask == 0 {
                    continue;
                }
                let w = local[t as usize];
                if w == NONE {
                    continue;
                }
                if index[w as usize] == NONE {
                    index[w as usize] = next_index;
                    low[w as usize] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    calls.push((w, g.row(nodes[w as usize]).0));
                    descended = true;
                    break;
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
            }
            if descended {
                continue;
            }
            // v is finished.
            calls.pop();
            if low[v as usize] == index[v as usize] {
                let mut members = Vec::new();
                loop {
                    let w = stack.pop().expect("tarjan stack");
                    on_stack[w as usize] = false;
                    comp[w as usize] = count;
                    members.push(nodes[w as usize]);
                    if w == v {
                        break;
                    }
                }
                if members.len() > 1 {
                    nontrivial.push(members);
                }
                count += 1;
            }
            if let Some(&(parent, _)) = calls.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
        }
    }
    Components {
        comp,
        count,
        nontrivial,
    }
}

/// Components of the whole graph under `mask`.
pub fn tarjan_all(g: &DepGraph, mask: Mask) -> Components {
    let nodes: Vec<u32> = (0..g.len() as u32).collect();
    tarjan(g, mask, &nodes, &nodes)
}

#[cfg(test)]
mod tests {
    use super::super::graph::{EdgeKind, GraphBuilder, DATA, WW};
    use super::*;
    use proptest::prelude::*;

    fn sorted(mut v: Vec<Vec<u32>>) -> Vec<Vec<u32>> {
        for c in &mut v {
            c.sort_unstable();
        }
        v.sort();
        v
    }

    proptest! {
        #[test]
        fn agrees_with_petgraph(n in 1u32..40, edges in proptest::collection::vec((0u32..40, 0u32..40, 0usize..3), 0..120)) {
            let kinds = [EdgeKind::WW, EdgeKind::WR, EdgeKind::RW];
            let mut b = GraphBuilder::new(n);
            let mut pg = petgraph::Graph::<(), ()>::new();
            let ids: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
            for &(f, t, k) in &edges {
                let (f, t) = (f % n, t % n);
                b.add(f, t, kinds[k]);
                if f != t && kinds[k] == EdgeKind::WW {
                    pg.add_edge(ids[f as usize], ids[t as usize], ());
                }
            }
            let g = b.build();
            let ours = sorted(tarjan_all(&g, WW).nontrivial);
            let theirs = sorted(petgraph::algo::tarjan_scc(&pg).into_iter()
                .filter(|c| c.len() > 1)
                .map(|c| c.into_iter().map(|i| i.index() as u32).collect())
                .collect());
            prop_assert_eq!(ours, theirs);
            // Components come out sinks first: no edge goes from a lower to a higher number.
            let all = tarjan_all(&g, DATA);
            for v in 0..n {
                for (t, _) in g.out(v) {
                    prop_assert!(all.comp[v as usize] >= all.comp[t as usize]);
                }
            }
        }
    }

    #[test]
    fn a_million_vertex_chain_does_not_overflow() {
        let n = 1_000_000u32;
        let mut b = GraphBuilder::new(n);
        for v in 0..n - 1 {
            b.add(v, v + 1, EdgeKind::WW);
        }
        b.add(n - 1, 0, EdgeKind::WW);
        let c = tarjan_all(&b.build(), WW);
        assert_eq!(c.nontrivial.len(), 1);
        assert_eq!(c.nontrivial[0].len(), n as usize);
    }
}
