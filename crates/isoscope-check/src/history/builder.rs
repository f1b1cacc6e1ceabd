//! Histories built in code: what a Rust project's own test records, op by op, without writing
//! EDN or JSON first.
//!
//! Each op gets its position as its index, so the history order is the order of the calls.
//! List reads are interned into the history's [`ListStore`](super::ListStore) as the readers
//! do, so a built history and the same history read from a file check the same.

use super::{Atom, History, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult};

/// One micro-op of a transaction, as a caller describes it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Step {
    /// `["append", key, elem]` (list-append).
    Append(Atom, Atom),
    /// `["w", key, value]` (rw-register).
    Write(Atom, Atom),
    /// `["r", key, nil]`: a read whose result is unknown (an invoke's, or an empty list).
    Read(Atom),
    /// `["r", key, [..]]`: a list-append read that returned these elements, in order.
    ReadList(Atom, Vec<Atom>),
    /// `["r", key, value]`: a register read that returned `value`.
    ReadValue(Atom, Atom),
}

impl Step {
    /// Appends `elem` to the list at `key`.
    pub fn append(key: impl Into<Atom>, elem: impl Into<Atom>) -> Step {
        Step::Append(key.into(), elem.into())
    }

    /// Writes `value` to the register `key`.
    pub fn write(key: impl Into<Atom>, value: impl Into<Atom>) -> Step {
        Step::Write(key.into(), value.into())
    }

    /// Reads `key`, result unknown (or nothing there yet).
    pub fn read(key: impl Into<Atom>) -> Step {
        Step::Read(key.into())
    }

    /// Reads the list at `key` and sees `elems`.
    pub fn read_list<E: Into<Atom>>(
        key: impl Into<Atom>,
        elems: impl IntoIterator<Item = E>,
    ) -> Step {
        Step::ReadList(key.into(), elems.into_iter().map(Into::into).collect())
    }

    /// Reads the register `key` and sees `value`.
    pub fn read_value(key: impl Into<Atom>, value: impl Into<Atom>) -> Step {
        Step::ReadValue(key.into(), value.into())
    }
}

/// Builds a [`History`] of transactions op by op; [`HistoryBuilder::build`] hands it over.
///
/// ```
/// use isoscope_check::history::{HistoryBuilder, Step};
///
/// let mut b = HistoryBuilder::new();
/// b.invoke(0, [Step::append("x", 1)]);
/// b.ok(0, [Step::append("x", 1)]);
/// let h = b.build();
/// assert_eq!(h.ops.len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    history: History,
}

impl HistoryBuilder {
    /// An empty history.
    pub fn new() -> HistoryBuilder {
        HistoryBuilder::default()
    }

    /// Records that client `process` started a transaction of `steps`.
    pub fn invoke(&mut self, process: u64, steps: impl IntoIterator<Item = Step>) -> &mut Self {
        self.txn(process, OpType::Invoke, steps)
    }

    /// Records that client `process`'s transaction committed, with what its reads returned.
    pub fn ok(&mut self, process: u64, steps: impl IntoIterator<Item = Step>) -> &mut Self {
        self.txn(process, OpType::Ok, steps)
    }

    /// Records that client `process`'s transaction certainly did not take effect.
    pub fn fail(&mut self, process: u64, steps: impl IntoIterator<Item = Step>) -> &mut Self {
        self.txn(process, OpType::Fail, steps)
    }

    /// Records that the outcome of client `process`'s transaction is unknown.
    pub fn info(&mut self, process: u64, steps: impl IntoIterator<Item = Step>) -> &mut Self {
        self.txn(process, OpType::Info, steps)
    }

    /// Records a transaction op of any type.
    pub fn txn(
        &mut self,
        process: u64,
        kind: OpType,
        steps: impl IntoIterator<Item = Step>,
    ) -> &mut Self {
        let mops = steps.into_iter().map(|s| self.mop(s)).collect();
        self.push(Op {
            index: self.history.ops.len() as u64,
            time: None,
            kind,
            process: Process::Client(process),
            f: OpFn::Txn,
            value: OpValue::Txn(mops),
            error: None,
            sql: None,
        })
    }

    /// Records any op (a counter's, a bank's, a nemesis's); its index becomes its position.
    pub fn push(&mut self, mut op: Op) -> &mut Self {
        op.index = self.history.ops.len() as u64;
        self.history.ops.push(op);
        self
    }

    /// The history built so far.
    pub fn build(self) -> History {
        self.history
    }

    fn mop(&mut self, step: Step) -> Mop {
        match step {
            Step::Append(key, elem) => Mop::Append { key, elem },
            Step::Write(key, value) => Mop::Write { key, value },
            Step::Read(key) => Mop::Read {
                key,
                value: ReadResult::Nil,
            },
            Step::ReadList(key, elems) => {
                let r = self.history.lists.intern(&key, &elems);
                Mop::Read {
                    key,
                    value: ReadResult::List(r),
                }
            }
            Step::ReadValue(key, value) => Mop::Read {
                key,
                value: ReadResult::Scalar(value),
            },
        }
    }
}
