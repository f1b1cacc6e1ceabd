//! Writing histories as JSON Lines, isoscope's own format: one op per line, appendable.
//!
//! Why JSON Lines: a run appends each op as it completes, so a crash of isoscope or of the
//! server leaves every line written so far readable (at worst the last line is torn, and the
//! reader drops a torn last line). The fields are Jepsen's, so Elle-style tools read it too.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use super::{ListStore, Mop, Op, OpValue, Process, ReadResult};

/// An op ready to serialize: the op and the store its list reads point into.
pub struct OpJson<'a> {
    /// The op.
    pub op: &'a Op,
    /// Where its list reads live.
    pub lists: &'a ListStore,
}

struct MopJson<'a>(&'a Mop, &'a ListStore);

impl Serialize for MopJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(3))?;
        match self.0 {
            Mop::Append { key, elem } => {
                seq.serialize_element("append")?;
                seq.serialize_element(key)?;
                seq.serialize_element(elem)?;
            }
            Mop::Write { key, value } => {
                seq.serialize_element("w")?;
                seq.serialize_element(key)?;
                seq.serialize_element(value)?;
            }
            Mop::Read { key, value } => {
                seq.serialize_element("r")?;
                seq.serialize_element(key)?;
                match value {
                    ReadResult::Nil => seq.serialize_element(&())?,
                    ReadResult::Scalar(a) => seq.serialize_element(a)?,
                    ReadResult::List(r) => seq.serialize_element(self.1.get(*r))?,
                }
            }
        }
        seq.end()
    }
}

struct ValueJson<'a>(&'a OpValue, &'a ListStore);

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            OpValue::Nil => s.serialize_unit(),
            OpValue::Txn(mops) => {
                let mut seq = s.serialize_seq(Some(mops.len()))?;
                for m in mops {
                    seq.serialize_element(&MopJson(m, self.1))?;
                }
                seq.end()
            }
            OpValue::Int(i) => s.serialize_i64(*i),
            OpValue::Keyed { key, value, after } => {
                let mut seq = s.serialize_seq(Some(if after.is_some() { 3 } else { 2 }))?;
                seq.serialize_element(key)?;
                seq.serialize_element(value)?;
                if let Some(a) = after {
                    seq.serialize_element(a)?;
                }
                seq.end()
            }
            OpValue::Transfer { from, to, amount } => {
                let mut map = s.serialize_map(Some(3))?;
                map.serialize_entry("from", from)?;
                map.serialize_entry("to", to)?;
                map.serialize_entry("amount", amount)?;
                map.end()
            }
            OpValue::Balances(b) => {
                let mut map = s.serialize_map(Some(b.len()))?;
                for (account, balance) in b {
                    map.serialize_entry(&account.to_string(), balance)?;
                }
                map.end()
            }
            OpValue::Elements(e) => e.serialize(s),
            OpValue::Other(d) => d.serialize(s),
        }
    }
}

impl Serialize for OpJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let op = self.op;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("index", &op.index)?;
        if let Some(t) = op.time {
            map.serialize_entry("time", &t)?;
        }
        map.serialize_entry("type", op.kind.name())?;
        match op.process {
            Process::Client(p) => map.serialize_entry("process", &p)?,
            Process::Nemesis => map.serialize_entry("process", "nemesis")?,
        }
        map.serialize_entry("f", op.f.name())?;
        map.serialize_entry("value", &ValueJson(&op.value, self.lists))?;
        if let Some(e) = &op.error {
            map.serialize_entry("error", e)?;
        }
        if let Some(sql) = &op.sql {
            map.serialize_entry("sql", sql)?;
        }
        map.end()
    }
}

/// Appends one op to `buf` as one JSON line (with its newline).
pub fn op_line(op: &Op, lists: &ListStore, buf: &mut Vec<u8>) {
    // Writing into a Vec cannot fail, and every op serializes.
    let _ = serde_json::to_writer(&mut *buf, &OpJson { op, lists });
    buf.push(b'\n');
}

/// Appends ops to a JSON Lines file as they happen.
pub struct HistoryWriter {
    out: BufWriter<File>,
    flush_each: bool,
}

impl HistoryWriter {
    /// Creates (or truncates) the file. With `flush_each`, every op reaches the OS before
    /// [`HistoryWriter::append`] returns, so a crash of isoscope loses nothing written.
    pub fn create(path: &Path, flush_each: bool) -> io::Result<HistoryWriter> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        Ok(HistoryWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            flush_each,
        })
    }

    /// Writes one op as one line.
    pub fn append(&mut self, op: &Op, lists: &ListStore) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &OpJson { op, lists })?;
        self.out.write_all(b"\n")?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Flushes buffered ops to the OS.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes a whole history to a JSON Lines file.
pub fn write_history(path: &Path, h: &super::History) -> io::Result<()> {
    let mut w = HistoryWriter::create(path, false)?;
    for op in &h.ops {
        w.append(op, &h.lists)?;
    }
    w.flush()
}
