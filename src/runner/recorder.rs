//! The recorder: the one place ops enter the history, in the order they happen.
//!
//! Clients call [`Recorder::record`] before they send a transaction (the invoke) and after its
//! outcome is known (the completion). One lock orders every op, so the history's order is a real
//! time order: if a completion is recorded before an invoke, the transaction had finished before
//! the other began. Each op is written to `history.jsonl` as one line and handed to the OS before
//! `record` returns, so a crash of isoscope (or the machine's power staying on while isoscope is
//! killed) leaves every recorded op readable.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use crate::history::write::HistoryWriter;
use crate::history::{
    Atom, History, ListStore, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult,
};

/// Appends ops to the history file and keeps them for the check at the end.
pub struct Recorder {
    state: Mutex<State>,
    start: Instant,
}

struct State {
    ops: Vec<Op>,
    /// Where list reads are stored; only `ok` reads go in, so that every chain is evidence.
    lists: ListStore,
    writer: HistoryWriter,
    failed: Option<std::io::Error>,
}

impl Recorder {
    /// Creates `path` (truncating it); times are nanoseconds since `start`.
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Recorder> {
        Ok(Recorder {
            state: Mutex::new(State {
                ops: Vec::new(),
                lists: ListStore::default(),
                writer: HistoryWriter::create(path, true)?,
                failed: None,
            }),
            start,
        })
    }

    /// Records one op now and returns its index. `lists` are the list reads of an `ok`
    /// completion, by micro-op position; they are stored and filled into `value`.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        kind: OpType,
        process: Process,
        f: &OpFn,
        mut value: OpValue,
        lists: Vec<(usize, Vec<Atom>)>,
        error: Option<String>,
        sql: Option<Vec<String>>,
    ) -> u64 {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let OpValue::Txn(mops) = &mut value {
            for (i, elems) in lists {
                if let Some(Mop::Read { key, value }) = mops.get_mut(i) {
                    *value = ReadResult::List(st.lists.intern(key, &elems));
                }
            }
        }
        let op = Op {
            index: st.ops.len() as u64,
            time: Some(self.start.elapsed().as_nanos() as i64),
            kind,
            process,
            f: f.clone(),
            value,
            error,
            sql,
        };
        if st.failed.is_none() {
            let st = &mut *st;
            if let Err(e) = st.writer.append(&op, &st.lists) {
                st.failed = Some(e);
            }
        }
        let i = op.index;
        st.ops.push(op);
        i
    }

    /// How many ops are recorded.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ops
            .len()
    }

    /// Whether nothing is recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends recording: flushes the file and returns the history, or the first write error.
    pub fn finish(self) -> std::io::Result<History> {
        let st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = st.failed {
            return Err(e);
        }
        let mut writer = st.writer;
        writer.flush()?;
        Ok(History {
            ops: st.ops,
            lists: st.lists,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(key: i64) -> Mop {
        Mop::Read {
            key: Atom::Int(key),
            value: ReadResult::Nil,
        }
    }

    #[test]
    fn the_file_holds_what_was_recorded_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let r = Recorder::create(&path, Instant::now()).unwrap();
        let txn = OpValue::Txn(vec![read(1), read(2)]);
        let p = Process::Client(0);
        r.record(
            OpType::Invoke,
            p,
            &OpFn::Txn,
            txn.clone(),
            vec![],
            None,
            None,
        );
        // Readable before the recorder finishes: every op is in the file at once.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        let lists = vec![(0, vec![Atom::Int(5)]), (1, vec![])];
        let sql = Some(vec!["SELECT v FROM lists WHERE k = 1".to_string()]);
        r.record(OpType::Ok, p, &OpFn::Txn, txn.clone(), lists, None, sql);
        r.record(
            OpType::Invoke,
            p,
            &OpFn::Txn,
            txn.clone(),
            vec![],
            None,
            None,
        );
        r.record(
            OpType::Fail,
            p,
            &OpFn::Txn,
            txn,
            vec![],
            Some("1213: deadlock".into()),
            None,
        );
        let h = r.finish().unwrap();
        let back = crate::history::read_history(&path).unwrap();
        assert_eq!(back.ops.len(), 4);
        for (a, b) in h.ops.iter().zip(&back.ops) {
            assert_eq!(
                (a.index, a.kind, &a.error, &a.sql),
                (b.index, b.kind, &b.error, &b.sql)
            );
        }
        let OpValue::Txn(mops) = &back.ops[1].value else {
            panic!("a txn")
        };
        let Mop::Read {
            value: ReadResult::List(l),
            ..
        } = &mops[0]
        else {
            panic!("a list read: {mops:?}")
        };
        assert_eq!(back.list(*l), &[Atom::Int(5)]);
        // Only the ok read is stored: the failed op's reads stay nil.
        assert_eq!(h.lists.chains().len(), 2);
        assert!(h.ops.windows(2).all(|w| w[0].time <= w[1].time));
    }
}
