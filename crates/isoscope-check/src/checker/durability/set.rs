//! Set: every acknowledged add's element is in the final read (Jepsen's set checker).

use crate::checker::set::{added_element, read_elements};
use crate::history::{OpFn, OpType};

use super::collection::{judge_collection, Collection, Observed};
use super::tally::Tally;
use super::writes::Writes;
use super::Ctx;

/// Holds the set's final read against its adds. An element only failed adds attempted is
/// unexpected, not recovered: `fail` means the add certainly did not happen.
pub(super) fn check(ctx: &Ctx, t: &mut Tally) {
    let ops = ctx.ops;
    let mut w: Writes<i64, &[i64]> = Writes::default();
    let mut seen = Observed::default();
    let mut bad = None;
    for c in &ctx.pairs.list {
        if ops[c.invoke].f != OpFn::Add {
            continue;
        }
        match added_element(ops, c) {
            Some(e) => w.write(e, c),
            None if c.outcome == OpType::Fail => w.window.write(c),
            None => {
                w.window.write(c);
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
            seen.observe(done as u64, elems, done);
            w.window.offer(c, ctx.nemesis, elems);
        }
    }
    if let Some(index) = bad {
        t.undecided(format!(
            "the add at index {index} carries no integer element, so the set's final state cannot \
             be held against its adds"
        ));
    }
    judge_collection(ops, t, Collection::Set, "", "the set", &w, Some(&seen));
}
