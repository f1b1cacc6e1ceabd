//! List-append: every acknowledged append's element is in the final read of its key.

use crate::history::{Atom, History, Mop, ReadResult};

use super::collection::{judge_collection, Collection, Observed};
use super::tally::Tally;
use super::writes::{index_txn_writes, ok_reads, Keys};
use super::Ctx;

/// Holds each key's final read against the appends to it.
pub(super) fn check(h: &History, ctx: &Ctx, t: &mut Tally) {
    let ops = ctx.ops;
    let mut keys = index_txn_writes(ctx, |m| match m {
        Mop::Append { key, elem } => Some((key, elem)),
        _ => None,
    });
    let mut seen: Keys<&Atom, Observed<Atom>> = Keys::new();
    for (c, key, value) in ok_reads(ctx) {
        let list: &[Atom] = match value {
            ReadResult::List(r) => h.list(*r),
            // On an ok completion, nil is the initial state: the empty list.
            ReadResult::Nil => &[],
            ReadResult::Scalar(_) => continue,
        };
        if let ReadResult::List(r) = value {
            let done = c.complete.unwrap_or(c.invoke);
            seen.get(&key).observe(u64::from(r.chain), list, done);
        }
        keys.get(&key).window.offer(c, ctx.nemesis, list);
    }
    let mut seen: rustc_hash::FxHashMap<_, _> = seen.list.into_iter().collect();
    for (key, w) in &keys.list {
        let name = key.to_string();
        let observed = seen.remove(key);
        judge_collection(ops, t, Collection::List, &name, &name, w, observed.as_ref());
    }
}
