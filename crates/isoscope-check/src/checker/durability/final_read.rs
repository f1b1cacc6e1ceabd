//! A key's final read: the last `ok` read begun after every write to the key and every fault.

use crate::history::Completion;

/// The final read of a key: the read's positions and what it returned.
pub(super) struct FinalRead<R> {
    pub(super) invoke: usize,
    pub(super) complete: usize,
    pub(super) value: R,
}

/// One key's window for a final read: where it may begin, and the best read so far.
pub(super) struct Window<R> {
    /// Whether any write to the key was attempted.
    pub(super) written: bool,
    /// The position by which every write to the key had ended: its completion, or its
    /// invocation if it never completed.
    pub(super) settled: Option<usize>,
    /// The final read so far.
    pub(super) read: Option<FinalRead<R>>,
}

impl<R> Default for Window<R> {
    fn default() -> Self {
        Window {
            written: false,
            settled: None,
            read: None,
        }
    }
}

impl<R> Window<R> {
    /// Counts a write of the operation `c` to the key.
    pub(super) fn write(&mut self, c: &Completion) {
        self.written = true;
        let end = c.complete.unwrap_or(c.invoke);
        self.settled = self.settled.max(Some(end));
    }

    /// Offers an `ok` read; it becomes the final read if it began after every write ended and
    /// after the last nemesis op. Call once every write is counted, in invocation order (as
    /// [`crate::history::Pairs`] lists operations), so the last read taken is the last invoked. A transaction
    /// that reads a key twice keeps its first read.
    pub(super) fn offer(&mut self, c: &Completion, nemesis: Option<usize>, value: R) {
        let bar = self.settled.max(nemesis);
        if bar.is_some_and(|b| c.invoke <= b) {
            return;
        }
        if self.read.as_ref().is_some_and(|r| r.invoke == c.invoke) {
            return;
        }
        self.read = Some(FinalRead {
            invoke: c.invoke,
            complete: c.complete.unwrap_or(c.invoke),
            value,
        });
    }
}
