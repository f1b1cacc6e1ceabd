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

use super::shutdown::{Shutdown, Stop};
use crate::history::write::op_line_on;
use crate::history::{
    Atom, History, ListStore, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult,
};

/// How often the writer thread hands pending lines to the OS.
pub const WRITE_EVERY: Duration = Duration::from_millis(2);

/// Appends ops to the history file and keeps them for the check at the end.
///
/// Invariant: the writer thread ends when the recorder is finished or dropped, whichever comes
/// first; a write error stops the run (through its [`Shutdown`]) at once.
pub struct Recorder {
    state: Mutex<State>,
    pending: Arc<Mutex<Pending>>,
    start: Instant,
    writer: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
}

struct State {
    ops: Vec<Op>,
    /// Where list reads are stored; only `ok` reads go in, so that every chain is evidence.
    lists: ListStore,
}

/// Lines not yet written, and whether recording has ended.
#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    done: bool,
}

/// One op to record: what it is and what came of it.
pub struct Entry<'a> {
    /// Invoke, ok, fail or info.
    pub kind: OpType,
    /// Who ran it.
    pub process: Process,
    /// What it does.
    pub f: &'a OpFn,
    /// Its value (reads filled in for an ok completion, through `lists`).
    pub value: OpValue,
    /// The list reads of an ok completion, by micro-op position.
    pub lists: Vec<(usize, Vec<Atom>)>,
    /// The error of a failed or indeterminate op.
    pub error: Option<String>,
    /// The SQL it ran.
    pub sql: Option<Vec<String>>,
    /// The node of a cluster it ran on; `None` for a cluster of one.
    pub node: Option<Arc<str>>,
}

impl<'a> Entry<'a> {
    /// An entry with no list reads, error or SQL.
    pub fn new(kind: OpType, process: Process, f: &'a OpFn, value: OpValue) -> Entry<'a> {
        Entry {
            kind,
            process,
            f,
            value,
            lists: Vec::new(),
            error: None,
            sql: None,
            node: None,
        }
    }
}

/// The writer thread: every [`WRITE_EVERY`], writes what is pending; stops after the last write
/// once recording has ended, or at the first write error, which stops the run.
fn write_lines(
    mut file: File,
    pending: Arc<Mutex<Pending>>,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(1 << 16);
    let result = loop {
        let done = {
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut p.lines, &mut batch);
            p.done
        };
        if !batch.is_empty() {
            if let Err(e) = file.write_all(&batch) {
                break Err(e);
            }
            batch.clear();
        }
        if done {
            break file.flush();
        }
        std::thread::sleep(WRITE_EVERY);
    };
    if let Err(e) = &result {
        shutdown.stop(Stop::HistoryUnwritable(e.to_string()));
    }
    result
}

impl Recorder {
    /// Creates `path` (truncating it); times are nanoseconds since `start`. A write error
    /// stops `shutdown`.
    pub fn create(path: &Path, start: Instant, shutdown: Shutdown) -> std::io::Result<Recorder> {
        let file = File::create(path)?;
        let pending = Arc::new(Mutex::new(Pending::default()));
        let writer = {
            let pending = pending.clone();
            std::thread::Builder::new()
                .name("history-writer".into())
                .spawn(move || write_lines(file, pending, shutdown))?
        };
        Ok(Recorder {
            state: Mutex::new(State {
                ops: Vec::new(),
                lists: ListStore::default(),
            }),
            pending,
            start,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Records one op now and returns its index.
    pub fn record(&self, e: Entry<'_>) -> u64 {
        let Entry {
            kind,
            process,
            f,
            mut value,
            lists,
            error,
            sql,
            node,
        } = e;
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
        op_line_on(
            &op,
            &st.lists,
            node.as_deref(),
            &mut self.pending.lock().unwrap_or_else(|e| e.into_inner()).lines,
        );
        let i = op.index;
        st.ops.push(op);
        i
    }

    /// Ends the writer thread after its last write, and returns its result (once).
    fn stop_writer(&self) -> std::io::Result<()> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).done = true;
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        match writer.map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(std::io::Error::other("the history writer panicked")),
        }
    }

    /// Ends recording: waits until every line is written and returns the history, or the
    /// first write error.
    pub fn finish(&self) -> std::io::Result<History> {
        self.stop_writer()?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(History {
            ops: std::mem::take(&mut st.ops),
            lists: std::mem::take(&mut st.lists),
        })
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.stop_writer() {
            tracing::warn!("the history's last lines could not be written: {e}");
        }
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
        let r = Recorder::create(&path, Instant::now(), Shutdown::new()).unwrap();
        let txn = OpValue::Txn(vec![read(1), read(2)]);
        let p = Process::Client(0);
        let f = OpFn::Txn;
        r.record(Entry::new(OpType::Invoke, p, &f, txn.clone()));
        // Readable before the recorder finishes: the op reaches the file within moments.
        let t = Instant::now();
        while std::fs::read_to_string(&path).unwrap().lines().count() < 1 {
            assert!(
                t.elapsed().as_secs() < 5,
                "the invoke never reached the file"
            );
            std::thread::yield_now();
        }
        r.record(Entry {
            lists: vec![(0, vec![Atom::Int(5)]), (1, vec![])],
            sql: Some(vec!["SELECT v FROM lists WHERE k = 1".to_string()]),
            ..Entry::new(OpType::Ok, p, &f, txn.clone())
        });
        r.record(Entry::new(OpType::Invoke, p, &f, txn.clone()));
        r.record(Entry {
            error: Some("1213: deadlock".into()),
            ..Entry::new(OpType::Fail, p, &f, txn)
        });
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

    #[test]
    fn a_recorder_dropped_unfinished_ends_its_writer_after_the_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let r = Recorder::create(&path, Instant::now(), Shutdown::new()).unwrap();
        r.record(Entry::new(
            OpType::Invoke,
            Process::Client(0),
            &OpFn::Txn,
            OpValue::Txn(vec![read(1)]),
        ));
        // The writer thread holds the other handle on the pending lines while it runs.
        let pending = Arc::downgrade(&r.pending);
        drop(r);
        assert!(
            pending.upgrade().is_none(),
            "the writer thread outlived its recorder"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[test]
    fn a_full_disk_stops_the_run_at_once_and_says_why() {
        // /dev/full fails every write with ENOSPC, as a full disk does.
        let shutdown = Shutdown::new();
        let r = Recorder::create(Path::new("/dev/full"), Instant::now(), shutdown.clone())
            .expect("/dev/full opens");
        r.record(Entry::new(
            OpType::Invoke,
            Process::Client(0),
            &OpFn::Txn,
            OpValue::Txn(vec![read(1)]),
        ));
        let t = Instant::now();
        while !shutdown.is_stopping() {
            assert!(t.elapsed().as_secs() < 5, "the run went on");
            std::thread::sleep(Duration::from_millis(5));
        }
        let Some(Stop::HistoryUnwritable(why)) = shutdown.reason() else {
            panic!("stopped for {:?}", shutdown.reason())
        };
        assert!(why.contains("space"), "{why}");
        assert!(r.finish().is_err());
    }
}
