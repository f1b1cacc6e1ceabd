//! rw-register: the final value could be the latest.
//!
//! It is lost if the final read is nil while some write was acknowledged, or returns write
//! `w`'s value while some acknowledged write `w2` began after `w` completed (so `w2` certainly
//! came later). A value never written, or written only by failed writes, is unexpected; the
//! value of an indeterminate write is recovered, and nothing is required to follow it, since it
//! may have taken effect at any time.

use crate::checker::set::Added;
use crate::history::{Atom, Mop, Op, ReadResult};

use super::tally::Tally;
use super::writes::{index_txn_writes, ok_reads, Acked, Writes};
use super::{at, Ctx, DurabilityFinding, DurabilityKind};

/// One register's writes and final read.
type Register<'h> = Writes<'h, Atom, Option<&'h Atom>>;

/// Holds each register's final read against its writes.
pub(super) fn check(ctx: &Ctx, t: &mut Tally) {
    let ops = ctx.ops;
    let mut keys = index_txn_writes(ctx, |m| match m {
        Mop::Write { key, value } => Some((key, value)),
        _ => None,
    });
    for (c, key, value) in ok_reads(ctx) {
        let v = match value {
            ReadResult::Nil => None,
            ReadResult::Scalar(a) => Some(a),
            ReadResult::List(_) => continue,
        };
        keys.get(&key).window.offer(c, ctx.nemesis, v);
    }
    for (key, k) in &keys.list {
        judge(ops, t, &key.to_string(), k);
    }
}

/// Each acknowledged transaction once, with the last value it wrote to the key (a
/// transaction's writes to one key are adjacent in the index).
fn last_per_txn<'a, 'h>(acked: &'a [Acked<'h, Atom>]) -> Vec<&'a Acked<'h, Atom>> {
    let mut out: Vec<&Acked<Atom>> = Vec::with_capacity(acked.len());
    for a in acked {
        match out.last_mut() {
            Some(last) if last.invoke == a.invoke => *last = a,
            _ => out.push(a),
        }
    }
    out
}

/// Holds one register's final read against its writes.
fn judge(ops: &[Op], t: &mut Tally, name: &str, k: &Register) {
    if !t.key_with_read(name, &k.window) {
        return;
    }
    let Some(r) = &k.window.read else { return };
    let read = &ops[r.complete];
    let acked = last_per_txn(&k.acked);
    t.acknowledged += acked.len() as u64;
    let finding = |kind, ops: Vec<u64>, explanation| DurabilityFinding {
        kind,
        key: name.to_owned(),
        ops,
        explanation,
    };
    // Acknowledged writes invoked at or after `from` certainly followed the version read.
    let (from, version) = match r.value {
        None => (0, "nil".to_string()),
        Some(v) => match k.written.get(v) {
            None => {
                t.unexpected(1, || {
                    finding(
                        DurabilityKind::Unexpected,
                        vec![read.index],
                        format!(
                            "The final read of key {name} at index {}{} returned {v}, which no \
                             op wrote.",
                            read.index,
                            at(read)
                        ),
                    )
                });
                return;
            }
            Some(&(Added::Failed, w)) => {
                let w = &ops[w];
                t.unexpected(1, || {
                    finding(
                        DurabilityKind::Unexpected,
                        vec![w.index, read.index],
                        format!(
                            "The final read of key {name} at index {}{} returned {v}, which only \
                             failed writes wrote (one failed at index {}{}): a failed write \
                             certainly did not happen.",
                            read.index,
                            at(read),
                            w.index,
                            at(w)
                        ),
                    )
                });
                return;
            }
            Some((Added::Indeterminate, _)) => {
                // It may have taken effect at any time after it began: nothing must follow it.
                t.recovered += 1;
                return;
            }
            Some((Added::Acknowledged, _)) => {
                let acked_at = k
                    .acked
                    .iter()
                    .filter(|a| a.value == v)
                    .map(|a| a.complete)
                    .max();
                let done = acked_at.unwrap_or(r.complete);
                (
                    done + 1,
                    format!(
                        "{v}, written by the write acknowledged at index {}{}",
                        ops[done].index,
                        at(&ops[done])
                    ),
                )
            }
        },
    };
    let mut later = acked.iter().filter(|a| a.invoke >= from);
    let Some(first) = later.next() else { return };
    let (n, latest) = later.fold((1u64, first), |(n, l), a| {
        (n + 1, if a.complete > l.complete { a } else { l })
    });
    t.lost(n, || {
        let w2 = &ops[latest.complete];
        let others = match n {
            1 => String::new(),
            2 => " (and 1 other acknowledged write)".into(),
            n => format!(" (and {} other acknowledged writes)", n - 1),
        };
        let why = match r.value {
            None => String::new(),
            Some(_) => " and began after that write completed, so it came later".to_string(),
        };
        finding(
            DurabilityKind::Lost,
            vec![w2.index, read.index],
            format!(
                "The final read of key {name} at index {}{} returned {version}; but the write of \
                 {} was acknowledged at index {}{}{why}: lost{others}.",
                read.index,
                at(read),
                latest.value,
                w2.index,
                at(w2),
            ),
        )
    });
}
