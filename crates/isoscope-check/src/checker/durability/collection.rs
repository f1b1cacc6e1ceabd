//! List-append and set: every acknowledged element in the final read; read, then lost.

use std::fmt::Display;
use std::hash::Hash;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::checker::set::Added;
use crate::history::Op;

use super::tally::Tally;
use super::writes::Writes;
use super::{at, DurabilityFinding, DurabilityKind};

/// How explanations name the writes of a collection workload.
#[derive(Clone, Copy)]
pub(super) enum Collection {
    /// Appends to the list at a key.
    List,
    /// Adds to the one set.
    Set,
}

/// What `ok` reads of one key observed: for each group (a list chain; a set read), the longest
/// read and its completion's position.
pub(super) struct Observed<'h, T>(FxHashMap<u64, (&'h [T], usize)>);

impl<T> Default for Observed<'_, T> {
    fn default() -> Self {
        Observed(FxHashMap::default())
    }
}

impl<'h, T> Observed<'h, T> {
    /// Notes what an `ok` read (completed at `at`) observed; `group` reads are prefixes of one
    /// another, so only the longest of a group is kept.
    pub(super) fn observe(&mut self, group: u64, elems: &'h [T], at: usize) {
        let e = self.0.entry(group).or_insert((elems, at));
        if elems.len() > e.0.len() {
            *e = (elems, at);
        }
    }
}

/// Holds one key's final read against its writes: lost, recovered and unexpected elements.
/// `key` is the key as printed (empty for the set), `label` how a note names it; `seen` is
/// what `ok` reads of the key observed.
pub(super) fn judge_collection<T: Hash + Eq + Display>(
    ops: &[Op],
    t: &mut Tally,
    how: Collection,
    key: &str,
    label: &str,
    w: &Writes<T, &[T]>,
    seen: Option<&Observed<T>>,
) {
    if !t.key_with_read(label, &w.window) {
        return;
    }
    let Some(r) = &w.window.read else { return };
    let read = &ops[r.complete];
    let of_key = match how {
        Collection::List => format!(" of key {key}"),
        Collection::Set => String::new(),
    };
    let (write, writes, wrote, element) = match how {
        Collection::List => ("Append", "appends", "appended", ""),
        Collection::Set => ("Add", "adds", "added", "element "),
    };
    let mut present: FxHashSet<&T> = FxHashSet::default();
    present.reserve(r.value.len());
    for e in r.value {
        if !present.insert(e) {
            continue;
        }
        match w.written.get(e) {
            None => t.unexpected(1, || DurabilityFinding {
                kind: DurabilityKind::Unexpected,
                key: key.to_owned(),
                ops: vec![read.index],
                explanation: format!(
                    "The final read{of_key} at index {}{} holds {element}{e}, which no op {wrote}.",
                    read.index,
                    at(read)
                ),
            }),
            Some(&(Added::Failed, w)) => t.unexpected(1, || DurabilityFinding {
                kind: DurabilityKind::Unexpected,
                key: key.to_owned(),
                ops: vec![ops[w].index, read.index],
                explanation: format!(
                    "The final read{of_key} at index {}{} holds {element}{e}, which only failed \
                     {writes} {wrote} (one failed at index {}{}): a failed op certainly did not \
                     happen.",
                    read.index,
                    at(read),
                    ops[w].index,
                    at(&ops[w])
                ),
            }),
            Some((Added::Indeterminate, _)) => t.recovered += 1,
            Some((Added::Acknowledged, _)) => {}
        }
    }
    // Writes of unknown outcome that some ok read saw, in the order of the reads.
    let mut observed: Vec<&(&[T], usize)> = seen.iter().flat_map(|o| o.0.values()).collect();
    observed.sort_by_key(|(_, at)| *at);
    let mut told: FxHashSet<&T> = FxHashSet::default();
    for &&(elems, seen_at) in &observed {
        for e in elems {
            if present.contains(e)
                || w.written.get(e).map(|b| b.0) != Some(Added::Indeterminate)
                || !told.insert(e)
            {
                continue;
            }
            let seen = &ops[seen_at];
            t.read_then_lost(|| DurabilityFinding {
                kind: DurabilityKind::Lost,
                key: key.to_owned(),
                ops: vec![seen.index, read.index],
                explanation: format!(
                    "{write} of {element}{e}{} has an unknown outcome, but the ok read at index {}{} saw it, so it had taken effect; the final read{of_key} at index {}{} does not hold it: read, then lost.",
                    match how {
                        Collection::List => format!(" to key {key}"),
                        Collection::Set => String::new(),
                    },
                    seen.index,
                    at(seen),
                    read.index,
                    at(read)
                ),
            });
        }
    }
    for a in &w.acked {
        let (e, done) = (a.value, a.complete);
        t.acknowledged += 1;
        if present.contains(e) {
            continue;
        }
        t.lost(1, || DurabilityFinding {
            kind: DurabilityKind::Lost,
            key: key.to_owned(),
            ops: vec![ops[done].index, read.index],
            explanation: format!(
                "{write} of {element}{e}{} was acknowledged at index {}{}, but the final \
                 read{of_key} at index {}{} does not hold it: lost.",
                match how {
                    Collection::List => format!(" to key {key}"),
                    Collection::Set => String::new(),
                },
                ops[done].index,
                at(&ops[done]),
                read.index,
                at(read)
            ),
        });
    }
}
