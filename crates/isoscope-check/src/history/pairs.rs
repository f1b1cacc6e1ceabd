//! Pairing each invocation with its completion.
//!
//! A client runs one op at a time, so an op's completion is the next op of the same process.
//! An invocation with no completion by the end of the history is indeterminate, exactly as if
//! it had completed with `info`. A completion with no invocation (some exported histories keep
//! only completions) stands for both.

use rustc_hash::FxHashMap;

use super::{Op, OpType, Process};

/// One client operation from start to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Position of the invocation in the history's ops.
    pub invoke: usize,
    /// Position of the completion, if the history has one.
    pub complete: Option<usize>,
    /// The outcome: `Ok`, `Fail` or `Info` (also for a missing completion).
    pub outcome: OpType,
}

impl Completion {
    /// The op whose value says what the operation did: the completion for ok and fail, and for
    /// an info completion that carries a value; otherwise the invocation.
    pub fn value_op(&self, ops: &[Op]) -> usize {
        match self.complete {
            Some(c) if self.outcome != OpType::Info => c,
            Some(c) if !matches!(ops[c].value, super::OpValue::Nil) => c,
            _ => self.invoke,
        }
    }
}

/// All client operations of a history, in the order they were invoked.
#[derive(Debug, Default)]
pub struct Pairs {
    /// The operations.
    pub list: Vec<Completion>,
}

impl Pairs {
    /// Pairs the ops of a history; nemesis ops are left out.
    pub fn new(ops: &[Op]) -> Pairs {
        let mut list: Vec<Completion> = Vec::with_capacity(ops.len() / 2 + 1);
        let mut pending: FxHashMap<Process, usize> = FxHashMap::default();
        for (i, op) in ops.iter().enumerate() {
            if op.process == Process::Nemesis {
                continue;
            }
            match op.kind {
                OpType::Invoke => {
                    // A second invoke on a busy process: the first never completed.
                    pending.insert(op.process, list.len());
                    list.push(Completion {
                        invoke: i,
                        complete: None,
                        outcome: OpType::Info,
                    });
                }
                outcome => match pending.remove(&op.process) {
                    Some(slot) => {
                        list[slot].complete = Some(i);
                        list[slot].outcome = outcome;
                    }
                    None => list.push(Completion {
                        invoke: i,
                        complete: Some(i),
                        outcome,
                    }),
                },
            }
        }
        Pairs { list }
    }
}
