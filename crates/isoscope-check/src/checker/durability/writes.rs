//! The write index: every key's writes, indexed once, with the window for its final read.
//!
//! List-append and rw-register share it (a transaction's appends or register writes, picked
//! from its micro-ops); the set wraps it for its one unnamed key. Invariant: one pass over the
//! operations in invocation order, so each key's acknowledged writes are in that order and a
//! transaction's writes to one key are adjacent.

use std::hash::Hash;

use rustc_hash::FxHashMap;

use crate::checker::set::Added;
use crate::history::{Atom, Completion, Mop, OpType, ReadResult};

use super::final_read::Window;
use super::Ctx;

/// Keys in order of first appearance, each with its state.
pub(super) struct Keys<K, S> {
    index: FxHashMap<K, usize>,
    /// The keys and their states, in order of first appearance.
    pub(super) list: Vec<(K, S)>,
}

impl<K: Hash + Eq + Clone, S: Default> Keys<K, S> {
    pub(super) fn new() -> Self {
        Keys {
            index: FxHashMap::default(),
            list: Vec::new(),
        }
    }

    /// The state of key `k`, made on first use.
    pub(super) fn get(&mut self, k: &K) -> &mut S {
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

/// An acknowledged write: where its transaction began and ended, and the value it wrote.
pub(super) struct Acked<'h, T> {
    pub(super) invoke: usize,
    pub(super) complete: usize,
    pub(super) value: &'h T,
}

/// One key's writes (values of type `T`) and its final read (of type `R`).
pub(super) struct Writes<'h, T, R> {
    /// Where the final read may begin, and the read itself.
    pub(super) window: Window<R>,
    /// Every value written, with the best outcome of its writes and the position of the op
    /// that gave it (the completion, or the invocation if there was none).
    pub(super) written: FxHashMap<&'h T, (Added, usize)>,
    /// Acknowledged writes in invocation order.
    pub(super) acked: Vec<Acked<'h, T>>,
}

impl<T, R> Default for Writes<'_, T, R> {
    fn default() -> Self {
        Writes {
            window: Window::default(),
            written: FxHashMap::default(),
            acked: Vec::new(),
        }
    }
}

impl<'h, T: Hash + Eq, R> Writes<'h, T, R> {
    /// Counts a write of `value` by the operation `c`.
    pub(super) fn write(&mut self, value: &'h T, c: &Completion) {
        self.window.write(c);
        let class = Added::of(c.outcome);
        let at = c.complete.unwrap_or(c.invoke);
        self.written
            .entry(value)
            .and_modify(|best| {
                if class > best.0 {
                    *best = (class, at);
                }
            })
            .or_insert((class, at));
        if c.outcome == OpType::Ok {
            self.acked.push(Acked {
                invoke: c.invoke,
                complete: at,
                value,
            });
        }
    }
}

/// Indexes the writes `pick` finds among each transaction's micro-ops (`(key, value)`), per key.
pub(super) fn index_txn_writes<'h, R>(
    ctx: &Ctx<'h>,
    pick: impl Fn(&'h Mop) -> Option<(&'h Atom, &'h Atom)>,
) -> Keys<&'h Atom, Writes<'h, Atom, R>> {
    let mut keys: Keys<&Atom, Writes<Atom, R>> = Keys::new();
    for c in &ctx.pairs.list {
        for (key, value) in super::txn_mops(ctx.ops, c).iter().filter_map(&pick) {
            keys.get(&key).write(value, c);
        }
    }
    keys
}

/// Every read micro-op of an `ok` transaction, in invocation order: `(transaction, key, value)`.
pub(super) fn ok_reads<'c, 'h: 'c>(
    ctx: &'c Ctx<'h>,
) -> impl Iterator<Item = (&'c Completion, &'h Atom, &'h ReadResult)> + 'c {
    ctx.pairs
        .list
        .iter()
        .filter(|c| c.outcome == OpType::Ok)
        .flat_map(move |c| {
            super::txn_mops(ctx.ops, c)
                .iter()
                .filter_map(move |m| match m {
                    Mop::Read { key, value } => Some((c, key, value)),
                    _ => None,
                })
        })
}
