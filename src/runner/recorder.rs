//! The recorder: the one place ops enter the history, in the order they happen.
//!
//! Clients call [`Recorder::record`] before they send a transaction (the invoke) and after its
//! outcome is known (the completion). One lock orders every op, so the history's order is a real
//! time order: if a completion is recorded before an invoke, the transaction had finished before
//! the other began.
//!
//! Each op is turned into its JSON line under that lock and appended to a pending buffer; a writer
//! thread takes the buffer every [`WRITE_EVERY`] and writes it in one system call. So every op
//! reaches the OS within milliseconds of being recorded (a crash of isoscope or of the server
//! leaves a readable history up to that point), without a system call or a thread wake-up per op.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::history::write::op_line;
use crate::history::{
    Atom, History, ListStore, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult,
};

/// How often the writer thread hands pending lines to the OS.
pub const WRITE_EVERY: Duration = Duration::from_millis(2);

/// Appends ops to the history file and keeps them for the check at the end.
pub struct Recorder {
    state: Mutex<State>,
    /// Lines not yet written, and whether recording has ended.
    pending: Arc<Mutex<(Vec<u8>, bool)>>,
    start: Instant,
    writer: JoinHandle<std::io::Result<()>>,
}

struct State {
    ops: Vec<Op>,
    /// Where list reads are stored; only `ok` reads go in, so that every chain is evidence.
    lists: ListStore,
}

/// The writer thread: every [`WRITE_EVERY`], writes what is pending; stops after the last write
/// once recording has ended.
fn write_lines(mut file: File, pending: Arc<Mutex<(Vec<u8>, bool)>>) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(1 << 16);
    loop {
        let done = {
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut p.0, &mut batch);
            p.1
        };
        if !batch.is_empty() {
            file.write_all(&batch)?;
            batch.clear();
        }
        if done {
            return file.flush();
        }
        std::thread::sleep(WRITE_EVERY);
    }
}

impl Recorder {
    /// Creates `path` (truncating it); times are nanoseconds since `start`.
    pub fn create(path: &Path, start: Instant) -> std::io::Result<Recorder> {
        let file = File::create(path)?;
        let pending = Arc::new(Mutex::new((Vec::with_capacity(1 << 16), false)));
        let writer = {
            let pending = pending.clone();
            std::thread::Builder::new()
                .name("history-writer".into())
                .spawn(move || write_lines(file, pending))?
        };
        Ok(Recorder {
            state: Mutex::new(State {
                ops: Vec::new(),
                lists: ListStore::default(),
            }),
            pending,
            start,
            writer,
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
        // Serialized straight into the pending buffer; the state lock keeps lines in op order.
        op_line(
            &op,
            &st.lists,
            &mut self.pending.lock().unwrap_or_else(|e| e.into_inner()).0,
        );
        let i = op.index;
        st.ops.push(op);
        i
    }

    /// Ends recording: waits until every line is written and returns the history, or the
    /// first write error.
    pub fn finish(self) -> std::io::Result<History> {
        let st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        match self.writer.join() {
            Ok(r) => r?,
            Err(_) => return Err(std::io::Error::other("the history writer panicked")),
        }
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
        // Readable before the recorder finishes: the op reaches the file within moments.
        let t = Instant::now();
        while std::fs::read_to_string(&path).unwrap().lines().count() < 1 {
            assert!(
                t.elapsed().as_secs() < 5,
                "the invoke never reached the file"
            );
            std::thread::yield_now();
        }
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
