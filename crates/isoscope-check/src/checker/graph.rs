//! The dependency graph between transactions, and the session and real-time orders.
//!
//! Vertices are the committed (`ok`) and indeterminate (`info`) transactions, numbered densely
//! from 0. Edges carry a bit mask of [`EdgeKind`]s, so "T1 -> T2 is both ww and realtime" is one
//! edge. The graph is stored as compressed rows (CSR): two flat arrays, about 5 bytes an edge,
//! because a million transactions make ten million edges once real-time order is in.
//!
//! Invariants: no self-loops; within a row, targets are sorted and unique.

use std::fmt;

/// One kind of dependency, named as Elle names it (serde's and strum's names, lowercase).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum EdgeKind {
    /// Write-write: the target installed the next version after the source's.
    WW,
    /// Write-read: the target read the source's version.
    WR,
    /// Read-write (anti-dependency): the target installed the version after the one the source read.
    RW,
    /// Process (session) order: same client, source first.
    Process,
    /// Real-time order: the source completed before the target was invoked.
    Realtime,
}

impl EdgeKind {
    /// All kinds, in order of preference when an edge has several (ww first, as Elle).
    pub const ALL: [EdgeKind; 5] = [
        EdgeKind::WW,
        EdgeKind::WR,
        EdgeKind::RW,
        EdgeKind::Process,
        EdgeKind::Realtime,
    ];

    /// The kind's bit in a [`Mask`].
    pub const fn bit(self) -> Mask {
        1 << (self as u8)
    }

    /// Elle's name for the kind.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of edge kinds, one bit each.
pub type Mask = u8;
/// ww.
pub const WW: Mask = EdgeKind::WW.bit();
/// wr.
pub const WR: Mask = EdgeKind::WR.bit();
/// rw.
pub const RW: Mask = EdgeKind::RW.bit();
/// process.
pub const PROCESS: Mask = EdgeKind::Process.bit();
/// realtime.
pub const REALTIME: Mask = EdgeKind::Realtime.bit();
/// The data dependencies: ww, wr and rw.
pub const DATA: Mask = WW | WR | RW;

/// Collects edges, then packs them into a [`DepGraph`].
#[derive(Default)]
pub struct GraphBuilder {
    n: u32,
    edges: Vec<(u32, u32, Mask)>,
}

impl GraphBuilder {
    /// A builder for a graph of `n` vertices.
    pub fn new(n: u32) -> GraphBuilder {
        GraphBuilder {
            n,
            edges: Vec::new(),
        }
    }

    /// Adds an edge; self-loops are dropped (a transaction does not depend on itself).
    pub fn add(&mut self, from: u32, to: u32, kind: EdgeKind) {
        if from != to {
            self.edges.push((from, to, kind.bit()));
        }
    }

    /// Packs the edges into rows, merging parallel edges' kinds.
    pub fn build(self) -> DepGraph {
        let n = self.n as usize;
        let mut offsets = vec![0u32; n + 1];
        for &(f, _, _) in &self.edges {
            offsets[f as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut row: Vec<(u32, Mask)> = vec![(0, 0); self.edges.len()];
        for (f, t, m) in self.edges {
            let slot = &mut fill[f as usize];
            row[*slot as usize] = (t, m);
            *slot += 1;
        }
        // Sort and merge each row in place, compacting as we go.
        let mut targets = Vec::with_capacity(row.len());
        let mut masks = Vec::with_capacity(row.len());
        let mut new_offsets = vec![0u32; n + 1];
        for v in 0..n {
            let r = &mut row[offsets[v] as usize..offsets[v + 1] as usize];
            r.sort_unstable_by_key(|e| e.0);
            for &(t, m) in r.iter() {
                if targets.len() > new_offsets[v] as usize && *targets.last().unwrap() == t {
                    *masks.last_mut().unwrap() |= m;
                } else {
                    targets.push(t);
                    masks.push(m);
                }
            }
            new_offsets[v + 1] = targets.len() as u32;
        }
        DepGraph {
            offsets: new_offsets,
            targets,
            masks,
        }
    }
}

/// A packed dependency graph.
#[derive(Debug, Default)]
pub struct DepGraph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    masks: Vec<Mask>,
}

impl DepGraph {
    /// Number of vertices.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether the graph has no vertices.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of edges (parallel kinds counted once).
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// The out-edges of `v`: (target, kinds).
    pub fn out(&self, v: u32) -> impl Iterator<Item = (u32, Mask)> + '_ {
        let (a, b) = self.row(v);
        self.targets[a..b]
            .iter()
            .copied()
            .zip(self.masks[a..b].iter().copied())
    }

    /// The range of edge positions of `v`'s row, for [`DepGraph::edge`].
    pub fn row(&self, v: u32) -> (usize, usize) {
        (
            self.offsets[v as usize] as usize,
            self.offsets[v as usize + 1] as usize,
        )
    }

    /// The edge at a position: (target, kinds).
    pub fn edge(&self, i: usize) -> (u32, Mask) {
        (self.targets[i], self.masks[i])
    }

    /// The kinds of the edge `from -> to`, or 0 when there is none.
    pub fn mask(&self, from: u32, to: u32) -> Mask {
        let (a, b) = self.row(from);
        match self.targets[a..b].binary_search(&to) {
            Ok(i) => self.masks[a + i],
            Err(_) => 0,
        }
    }
}

/// A vertex as the order builders see it: where its invoke and completion are in the history.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Position of the invoke op; `None` for an op recorded without one, which has no known
    /// start and so takes no part in real-time order (as in Elle).
    pub invoke: Option<usize>,
    /// Position of the `ok` completion; `None` for indeterminate transactions, which may take
    /// effect at any time after their invoke and so precede nothing in real time.
    pub ok_at: Option<usize>,
}

/// Adds process-order edges: each vertex to the next vertex of the same process. `sessions`
/// lists, per process, its vertices in invoke order.
pub fn add_process_edges(b: &mut GraphBuilder, sessions: &[Vec<u32>]) {
    for s in sessions {
        for w in s.windows(2) {
            b.add(w[0], w[1], EdgeKind::Process);
        }
    }
}

/// Adds real-time edges, transitively reduced: `a -> b` when `a` completed before `b` was
/// invoked and no `c` completed in between that already orders them (Elle's frontier method).
/// The number of edges is about vertices x concurrency, not vertices squared.
pub fn add_realtime_edges(b: &mut GraphBuilder, timings: &[Timing]) {
    #[derive(Clone, Copy)]
    enum Event {
        Invoke(u32),
        Complete(u32),
    }
    let mut events: Vec<(usize, Event)> = Vec::with_capacity(timings.len() * 2);
    for (v, t) in timings.iter().enumerate() {
        let Some(invoke) = t.invoke else { continue };
        events.push((invoke, Event::Invoke(v as u32)));
        if let Some(c) = t.ok_at {
            events.push((c, Event::Complete(v as u32)));
        }
    }
    events.sort_unstable_by_key(|e| e.0);
    // The frontier: completed vertices not yet implied by a later completion, with the
    // sequence number of their completion.
    let mut frontier: Vec<(u32, u64)> = Vec::new();
    let mut seq: u64 = 0;
    let mut seq_at_invoke: Vec<u64> = vec![0; timings.len()];
    for (_, e) in events {
        match e {
            Event::Invoke(v) => {
                seq_at_invoke[v as usize] = seq;
                for &(u, _) in &frontier {
                    b.add(u, v, EdgeKind::Realtime);
                }
            }
            Event::Complete(v) => {
                // Everything that completed before v was invoked now reaches later ops via v.
                let cut = seq_at_invoke[v as usize];
                frontier.retain(|&(_, s)| s > cut);
                seq += 1;
                frontier.push((v, seq));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_as_elle_names_them_in_serde_and_text() {
        assert_eq!(
            crate::names::serde_names::<EdgeKind>(),
            ["ww", "wr", "rw", "process", "realtime"]
        );
        assert_eq!(EdgeKind::ALL, <EdgeKind as strum::VariantArray>::VARIANTS);
        for k in EdgeKind::ALL {
            assert_eq!(k.to_string(), k.name());
        }
    }

    #[test]
    fn parallel_edges_merge_and_self_loops_vanish() {
        let mut b = GraphBuilder::new(3);
        b.add(0, 1, EdgeKind::WW);
        b.add(0, 1, EdgeKind::Realtime);
        b.add(1, 1, EdgeKind::WR);
        b.add(2, 0, EdgeKind::RW);
        b.add(0, 2, EdgeKind::WR);
        let g = b.build();
        assert_eq!(g.edge_count(), 3);
        assert_eq!(g.mask(0, 1), WW | REALTIME);
        assert_eq!(g.mask(1, 1), 0);
        assert_eq!(
            g.out(0).collect::<Vec<_>>(),
            vec![(1, WW | REALTIME), (2, WR)]
        );
    }

    #[test]
    fn realtime_edges_are_transitively_reduced() {
        // 0 and 1 run one after the other; 2 is concurrent with both; 3 starts after all.
        let t = |invoke, ok| Timing {
            invoke: Some(invoke),
            ok_at: Some(ok),
        };
        let timings = [t(0, 1), t(2, 3), t(0, 5), t(6, 7)];
        let mut b = GraphBuilder::new(4);
        add_realtime_edges(&mut b, &timings);
        let g = b.build();
        assert_eq!(g.mask(0, 1), REALTIME);
        assert_eq!(g.mask(1, 3), REALTIME);
        assert_eq!(g.mask(2, 3), REALTIME);
        assert_eq!(g.mask(0, 3), 0, "implied through 1");
        assert_eq!(g.mask(0, 2), 0, "concurrent");
    }
}
