//! Counts and the first explained findings, as the per-workload passes produce them.

use crate::checker::Validity;

use super::final_read::Window;
use super::{Durability, DurabilityFinding};

/// Counts and the first findings, as the passes produce them.
pub(super) struct Tally {
    examples: usize,
    pub(super) keys: usize,
    keys_without_final_read: usize,
    /// A few of the keys without final read, to name in the note.
    without: Vec<String>,
    pub(super) acknowledged: u64,
    lost: u64,
    pub(super) recovered: u64,
    unexpected: u64,
    read_then_lost: u64,
    lost_examples: Vec<DurabilityFinding>,
    unexpected_examples: Vec<DurabilityFinding>,
    pub(super) notes: Vec<String>,
    /// Something could not be judged (see `notes`).
    undecided: bool,
}

impl Tally {
    pub(super) fn new(examples: usize) -> Tally {
        Tally {
            examples,
            keys: 0,
            keys_without_final_read: 0,
            without: Vec::new(),
            acknowledged: 0,
            lost: 0,
            recovered: 0,
            unexpected: 0,
            read_then_lost: 0,
            lost_examples: Vec::new(),
            unexpected_examples: Vec::new(),
            notes: Vec::new(),
            undecided: false,
        }
    }

    /// Counts a written key (`label` names it in notes); whether it has a final read to judge.
    pub(super) fn key_with_read<R>(&mut self, label: &str, w: &Window<R>) -> bool {
        if w.written {
            self.keys += 1;
            if w.read.is_none() {
                self.keys_without_final_read += 1;
                if self.without.len() < 5 {
                    self.without.push(label.to_owned());
                }
            }
        }
        w.read.is_some()
    }

    /// Counts `n` lost; builds the finding only if it will be kept.
    pub(super) fn lost(&mut self, n: u64, build: impl FnOnce() -> DurabilityFinding) {
        self.lost += n;
        if self.lost_examples.len() < self.examples {
            self.lost_examples.push(build());
        }
    }

    /// Counts one write that was read and then lost; its finding is kept with the lost ones.
    pub(super) fn read_then_lost(&mut self, build: impl FnOnce() -> DurabilityFinding) {
        self.read_then_lost += 1;
        if self.lost_examples.len() < self.examples {
            self.lost_examples.push(build());
        }
    }

    /// Counts `n` unexpected; builds the finding only if it will be kept.
    pub(super) fn unexpected(&mut self, n: u64, build: impl FnOnce() -> DurabilityFinding) {
        self.unexpected += n;
        if self.unexpected_examples.len() < self.examples {
            self.unexpected_examples.push(build());
        }
    }

    /// Notes that something could not be judged.
    pub(super) fn undecided(&mut self, note: String) {
        self.undecided = true;
        self.notes.push(note);
    }

    pub(super) fn finish(mut self, nemesis: bool) -> Durability {
        if self.keys_without_final_read > 0 {
            let more = self.keys_without_final_read - self.without.len();
            let n = self.keys_without_final_read;
            self.notes.push(format!(
                "{n} of {} written key{} ({}{}) {} no final read: no ok read of the key was \
                 invoked after every write to it had completed{}, so whether {} acknowledged \
                 writes survived is unknown",
                self.keys,
                if self.keys == 1 { "" } else { "s" },
                self.without.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                if n == 1 { "has" } else { "have" },
                if nemesis {
                    " and after the last nemesis op"
                } else {
                    ""
                },
                if n == 1 { "its" } else { "their" },
            ));
        }
        if self.keys == 0 {
            self.notes
                .push("the history writes nothing, so there is no durability to check".into());
        }
        let valid = if self.lost > 0 || self.unexpected > 0 || self.read_then_lost > 0 {
            Validity::Invalid
        } else if self.keys_without_final_read > 0 || self.undecided || self.keys == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        let mut examples = self.lost_examples;
        examples.extend(self.unexpected_examples);
        examples.truncate(self.examples);
        Durability {
            valid,
            keys: self.keys,
            keys_without_final_read: self.keys_without_final_read,
            acknowledged: self.acknowledged,
            lost: self.lost,
            recovered: self.recovered,
            unexpected: self.unexpected,
            read_then_lost: self.read_then_lost,
            examples,
            notes: self.notes,
        }
    }
}
