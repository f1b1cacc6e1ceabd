//! Reading histories: Jepsen's EDN, Jepsen/Elle JSON, and isoscope's own JSON Lines.
//!
//! Accepted shapes (sniffed from the content, not the file name):
//! - EDN: one map per line (Jepsen's `history.edn`), or one vector of maps;
//! - JSON: one array of objects, or one object per line (isoscope's own format).
//!
//! Keys may be keywords, strings or integers. `f` may be missing when the value is plainly a
//! transaction; `time` and `index` may be missing (the index is then the op's position).
//! Anything else that is off is a [`ReadError`] that names the file, the line or op, and the
//! problem, in one line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

use super::datum::{from_edn, Datum};
use super::{Atom, History, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult};

/// Why a history could not be read. Each variant names the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not well-formed EDN or JSON.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A well-formed value is not a valid op.
    #[error("{path}: op {position}{}: {message}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Op {
        /// The file.
        path: PathBuf,
        /// 0-based position of the op in the file.
        position: usize,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The file holds no ops at all.
    #[error("{path}: the file holds no operations")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The text format of a history file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// Extensible Data Notation, Jepsen's native format.
    Edn,
    /// JSON: an array of ops or one op per line.
    Json,
}

/// Guesses the format from the first op: `{:` is EDN, `{"` is JSON.
pub fn sniff(text: &[u8]) -> Option<Format> {
    let mut after_brace = false;
    for &b in text.iter().take(1 << 16) {
        if b.is_ascii_whitespace() || b == b',' {
            continue;
        }
        if after_brace {
            return match b {
                b':' => Some(Format::Edn),
                b'"' => Some(Format::Json),
                b'}' => Some(Format::Json),
                _ => None,
            };
        }
        match b {
            b'[' => continue,
            b'{' => after_brace = true,
            b';' => return Some(Format::Edn),
            _ => return None,
        }
    }
    None
}

/// Reads a history file in any accepted format.
pub fn read_history(path: &Path) -> Result<History, ReadError> {
    let file = File::open(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_history_from(path, file)
}

/// Reads a history from a string, for tests and tools; `name` stands for the file in errors.
pub fn read_history_str(name: &str, text: &str) -> Result<History, ReadError> {
    read_history_from(Path::new(name), text.as_bytes())
}

/// Reads a history from any reader; `path` names the source in errors.
pub fn read_history_from(path: &Path, mut source: impl Read) -> Result<History, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = vec![0u8; 1 << 16];
    let n = read_up_to(&mut source, &mut head).map_err(io)?;
    head.truncate(n);
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::Empty {
            path: path.to_owned(),
        });
    }
    let format = sniff(&head).ok_or_else(|| ReadError::Syntax {
        path: path.to_owned(),
        line: 1,
        message: "not a history: expected EDN or JSON maps such as {:type :invoke ...} or {\"type\":\"invoke\",...}".into(),
    })?;
    let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
    let reader = BufReader::with_capacity(1 << 20, std::io::Cursor::new(head).chain(source));
    let mut b = OpBuilder::new(path);
    match (format, first) {
        (Format::Json, Some(b'[')) => read_json_array(reader, &mut b)?,
        (Format::Json, _) => read_lines(reader, &mut b, |line| {
            serde_json::from_str::<Datum>(line).map_err(|e| (e.line(), e.to_string()))
        })?,
        (Format::Edn, Some(b'[')) => read_edn_vector(reader, &mut b)?,
        (Format::Edn, _) => read_edn_lines(reader, &mut b)?,
    }
    b.finish()
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_lines(
    mut reader: impl BufRead,
    b: &mut OpBuilder,
    parse: impl Fn(&str) -> Result<Datum, (usize, String)>,
) -> Result<(), ReadError> {
    let mut line = String::new();
    let mut lineno = 0usize;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|source| ReadError::Io {
                path: b.path.to_owned(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        lineno += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match parse(text) {
            Ok(d) => b.push(d, Some(lineno))?,
            Err(_) if !line.ends_with('\n') && lineno > 1 => {
                // A crash mid-write tears at most the last line: keep everything before it.
                tracing::warn!("{}:{lineno}: dropped a torn last line", b.path.display());
                return Ok(());
            }
            Err((_, message)) => {
                return Err(ReadError::Syntax {
                    path: b.path.to_owned(),
                    line: lineno,
                    message,
                })
            }
        }
    }
}

fn read_edn_lines(mut reader: impl BufRead, b: &mut OpBuilder) -> Result<(), ReadError> {
    // One map per line is the norm; a map spread over lines is gathered until it parses.
    let mut pending = String::new();
    let mut start = 0usize;
    let mut line = String::new();
    let mut lineno = 0usize;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|source| ReadError::Io {
                path: b.path.to_owned(),
                source,
            })?;
        if n > 0 {
            lineno += 1;
            let text = strip_edn_comment(&line);
            if pending.trim().is_empty() && text.trim().is_empty() {
                continue;
            }
            if pending.trim().is_empty() {
                start = lineno;
                pending.clear();
            }
            pending.push_str(text);
            pending.push('\n');
        }
        if pending.trim().is_empty() {
            if n == 0 {
                return Ok(());
            }
            continue;
        }
        match edn_format::parse_str(&pending) {
            Ok(v) => {
                b.push(from_edn(v), Some(start))?;
                pending.clear();
            }
            Err(e)
                if e.error == edn_format::ParserError::UnexpectedEndOfInput
                    && n > 0
                    && lineno - start < 10_000 =>
            {
                continue
            }
            Err(e) => {
                return Err(ReadError::Syntax {
                    path: b.path.to_owned(),
                    line: start + e.row.saturating_sub(1),
                    message: format!("invalid EDN: {}", e.error),
                })
            }
        }
        if n == 0 {
            return Ok(());
        }
    }
}

fn strip_edn_comment(line: &str) -> &str {
    if line.trim_start().starts_with(';') {
        ""
    } else {
        line
    }
}

fn read_edn_vector(mut reader: impl BufRead, b: &mut OpBuilder) -> Result<(), ReadError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|source| ReadError::Io {
            path: b.path.to_owned(),
            source,
        })?;
    let v = edn_format::parse_str(&text).map_err(|e| ReadError::Syntax {
        path: b.path.to_owned(),
        line: e.row.max(1),
        message: format!("invalid EDN: {}", e.error),
    })?;
    match v {
        edn_format::Value::Vector(items) | edn_format::Value::List(items) => {
            for item in items {
                b.push(from_edn(item), None)?;
            }
            Ok(())
        }
        other => Err(ReadError::Syntax {
            path: b.path.to_owned(),
            line: 1,
            message: format!("expected a vector of ops, found {}", from_edn(other).kind()),
        }),
    }
}

fn read_json_array(reader: impl BufRead, b: &mut OpBuilder) -> Result<(), ReadError> {
    struct Ops<'a, 'p>(&'a mut OpBuilder<'p>, &'a mut Option<ReadError>);
    impl<'de> Visitor<'de> for Ops<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of ops")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(d) = seq.next_element::<Datum>()? {
                if let Err(e) = self.0.push(d, None) {
                    *self.1 = Some(e);
                    return Err(de::Error::custom("op error"));
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Ops<'_, '_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    let mut op_error = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = Ops(b, &mut op_error)
        .deserialize(&mut de)
        .and_then(|_| de.end());
    if let Some(e) = op_error {
        return Err(e);
    }
    result.map_err(|e| ReadError::Syntax {
        path: b.path.to_owned(),
        line: e.line(),
        message: e.to_string(),
    })
}

/// Turns parsed values into typed ops, one at a time, checking what can be checked locally.
struct OpBuilder<'p> {
    path: &'p Path,
    history: History,
    scratch: Vec<Atom>,
    last_index: Option<u64>,
}

impl<'p> OpBuilder<'p> {
    fn new(path: &'p Path) -> Self {
        OpBuilder {
            path,
            history: History::default(),
            scratch: Vec::new(),
            last_index: None,
        }
    }

    fn finish(self) -> Result<History, ReadError> {
        if self.history.ops.is_empty() {
            return Err(ReadError::Empty {
                path: self.path.to_owned(),
            });
        }
        Ok(self.history)
    }

    fn push(&mut self, d: Datum, line: Option<usize>) -> Result<(), ReadError> {
        let position = self.history.ops.len();
        let op = self.op(d, position).map_err(|message| ReadError::Op {
            path: self.path.to_owned(),
            position,
            line,
            message,
        })?;
        if let Some(last) = self.last_index {
            if op.index <= last {
                return Err(ReadError::Op {
                    path: self.path.to_owned(),
                    position,
                    line,
                    message: format!(
                        "index {} is not greater than the previous op's index {last}",
                        op.index
                    ),
                });
            }
        }
        self.last_index = Some(op.index);
        self.history.ops.push(op);
        Ok(())
    }

    fn op(&mut self, d: Datum, position: usize) -> Result<Op, String> {
        let Datum::Map(fields) = d else {
            return Err(format!("expected an op map, found {}", d.kind()));
        };
        let mut kind = None;
        let mut process = None;
        let mut f = None;
        let mut index = None;
        let mut time = None;
        let mut error = None;
        let mut sql = None;
        let mut value = Datum::Nil;
        for (k, v) in fields {
            let Some(name) = k.as_str() else { continue };
            match name {
                "type" => {
                    let s = v.as_str().ok_or("type must be a keyword or string")?;
                    kind = Some(OpType::parse(s).ok_or_else(|| {
                        format!("type {s:?} is not one of invoke, ok, fail, info")
                    })?);
                }
                "process" => {
                    process = Some(match &v {
                        Datum::Int(p) if *p >= 0 => Process::Client(*p as u64),
                        d if d.as_str() == Some("nemesis") => Process::Nemesis,
                        other => {
                            return Err(format!(
                                "process must be a non-negative integer or nemesis, found {other}"
                            ))
                        }
                    })
                }
                "f" => match &v {
                    Datum::Nil => {}
                    d => {
                        f = Some(OpFn::parse(
                            d.as_str()
                                .ok_or_else(|| format!("f must be a name, found {d}"))?,
                        ))
                    }
                },
                "index" => match v {
                    Datum::Int(i) if i >= 0 => index = Some(i as u64),
                    Datum::Nil => {}
                    other => {
                        return Err(format!(
                            "index must be a non-negative integer, found {other}"
                        ))
                    }
                },
                "time" => match v {
                    Datum::Int(t) => time = Some(t),
                    Datum::Float(t) => time = Some(t as i64),
                    _ => {}
                },
                "error" if v != Datum::Nil => {
                    error = Some(match v {
                        Datum::Str(s) => s,
                        other => other.to_string(),
                    })
                }
                "sql" => {
                    if let Datum::List(items) = v {
                        sql = Some(
                            items
                                .into_iter()
                                .map(|d| match d {
                                    Datum::Str(s) => s,
                                    other => other.to_string(),
                                })
                                .collect(),
                        );
                    }
                }
                "value" => value = v,
                _ => {}
            }
        }
        let kind = kind.ok_or("missing type")?;
        let process = process.ok_or("missing process")?;
        let f = match f {
            Some(f) => f,
            None if looks_like_txn(&value) => OpFn::Txn,
            None if process == Process::Nemesis => OpFn::Other(Arc::from("nemesis")),
            None => return Err("missing f, and the value does not show what the op does".into()),
        };
        let value = self.value(&f, kind, value)?;
        Ok(Op {
            index: index.unwrap_or(position as u64),
            time,
            kind,
            process,
            f,
            value,
            error,
            sql,
        })
    }

    fn value(&mut self, f: &OpFn, kind: OpType, v: Datum) -> Result<OpValue, String> {
        if v == Datum::Nil {
            return Ok(OpValue::Nil);
        }
        match f {
            OpFn::Txn => {
                let mops = match v {
                    Datum::List(mops) => mops,
                    Datum::Ints(i) if i.is_empty() => Vec::new(),
                    other => return Err(format!("a txn's value must be a list of micro-ops, found {other}")),
                };
                let mut out = Vec::with_capacity(mops.len());
                for (i, m) in mops.into_iter().enumerate() {
                    out.push(self.mop(m).map_err(|e| format!("micro-op {i}: {e}"))?);
                }
                Ok(OpValue::Txn(out))
            }
            OpFn::Add => match v {
                Datum::Int(i) => Ok(OpValue::Int(i)),
                Datum::Ints(_) | Datum::List(_) => keyed(v),
                other => Err(format!("an add's value must be an integer, found {other}")),
            },
            OpFn::Read => match v {
                Datum::Int(i) => Ok(OpValue::Int(i)),
                Datum::Ints(_) | Datum::List(_) if !looks_like_txn(&v) => keyed(v),
                Datum::Map(kvs) => {
                    let mut balances = Vec::with_capacity(kvs.len());
                    for (k, b) in kvs {
                        let account = numeric_atom(atom(k)?);
                        let balance = match b {
                            Datum::Nil => None,
                            Datum::Int(i) => Some(i),
                            other => return Err(format!("balance of account {account} must be an integer, found {other}")),
                        };
                        balances.push((account, balance));
                    }
                    balances.sort_by(|a, b| a.0.cmp(&b.0));
                    Ok(OpValue::Balances(balances))
                }
                other => Ok(OpValue::Other(other)),
            },
            OpFn::Transfer => match (&v, v.get("from"), v.get("to"), v.get("amount")) {
                (_, Some(from), Some(to), Some(Datum::Int(amount))) => Ok(OpValue::Transfer {
                    from: numeric_atom(atom(from.clone())?),
                    to: numeric_atom(atom(to.clone())?),
                    amount: *amount,
                }),
                _ if kind == OpType::Invoke || kind == OpType::Ok => Err(format!(
                    "a transfer's value must be a map with from, to and an integer amount, found {v}"
                )),
                _ => Ok(OpValue::Other(v)),
            },
            OpFn::Other(_) => Ok(OpValue::Other(v)),
        }
    }

    fn mop(&mut self, m: Datum) -> Result<Mop, String> {
        let mut parts = match m {
            Datum::List(parts) if parts.len() == 3 => parts.into_iter(),
            other => return Err(format!("expected [f key value], found {other}")),
        };
        let (f, key, value) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let key = atom(key).map_err(|e| format!("key: {e}"))?;
        match f.as_str() {
            Some("append") => Ok(Mop::Append {
                key,
                elem: atom(value).map_err(|e| format!("appended value: {e}"))?,
            }),
            Some("w") => Ok(Mop::Write {
                key,
                value: atom(value).map_err(|e| format!("written value: {e}"))?,
            }),
            Some("r") => {
                let value = match value {
                    Datum::Nil => ReadResult::Nil,
                    Datum::Ints(elems) => {
                        ReadResult::List(self.history.lists.intern_ints(&key, &elems))
                    }
                    Datum::List(elems) => {
                        self.scratch.clear();
                        for e in elems {
                            let a = atom(e).map_err(|e| format!("read list element: {e}"))?;
                            self.scratch.push(a);
                        }
                        ReadResult::List(self.history.lists.intern(&key, &self.scratch))
                    }
                    other => {
                        ReadResult::Scalar(atom(other).map_err(|e| format!("read value: {e}"))?)
                    }
                };
                Ok(Mop::Read { key, value })
            }
            _ => Err(format!(
                "micro-op function must be append, r or w, found {f}"
            )),
        }
    }
}

/// A `[key, value]` or `[key, value, after]` tuple of a keyed counter op. `value` may be nil
/// (a read's invocation).
fn keyed(v: Datum) -> Result<OpValue, String> {
    let parts: Vec<Datum> = match v {
        Datum::Ints(i) => i.into_iter().map(Datum::Int).collect(),
        Datum::List(l) => l,
        _ => unreachable!("keyed is called on lists only"),
    };
    if !(2..=3).contains(&parts.len()) {
        return Err(format!(
            "a keyed counter value must be [key, value] or [key, value, after], found {} elements",
            parts.len()
        ));
    }
    let mut it = parts.into_iter();
    let key = numeric_atom(atom(it.next().unwrap()).map_err(|e| format!("counter key: {e}"))?);
    let value = match it.next().unwrap() {
        Datum::Int(i) => Some(i),
        Datum::Nil => None,
        other => return Err(format!("a counter value must be an integer, found {other}")),
    };
    let after = match it.next() {
        None | Some(Datum::Nil) => None,
        Some(Datum::Int(i)) => Some(i),
        Some(other) => {
            return Err(format!(
                "a counter's after value must be an integer, found {other}"
            ))
        }
    };
    Ok(OpValue::Keyed { key, value, after })
}

fn looks_like_txn(v: &Datum) -> bool {
    match v {
        Datum::List(mops) => mops.iter().all(|m| {
            matches!(m, Datum::List(p) if p.len() == 3 && matches!(p[0].as_str(), Some("append" | "r" | "w")))
        }),
        _ => false,
    }
}

fn atom(d: Datum) -> Result<Atom, String> {
    match d {
        Datum::Int(i) => Ok(Atom::Int(i)),
        Datum::Str(s) | Datum::Keyword(s) => Ok(Atom::Str(Arc::from(s))),
        other => Err(format!("expected an integer or a name, found {other}")),
    }
}

/// JSON cannot have integer map keys, so `"3"` in a JSON bank read means account 3.
fn numeric_atom(a: Atom) -> Atom {
    match &a {
        Atom::Str(s) => s.parse::<i64>().map(Atom::Int).unwrap_or(a),
        Atom::Int(_) => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edn_and_json_lines_give_the_same_ops() {
        let edn = "{:index 0 :type :invoke :process 1 :f :txn :value [[:append 5 1] [:r 5 nil]]}\n\
                   {:index 1 :type :ok :process 1 :f :txn :value [[:append 5 1] [:r 5 [1]]]}\n";
        let json = "{\"index\":0,\"type\":\"invoke\",\"process\":1,\"f\":\"txn\",\"value\":[[\"append\",5,1],[\"r\",5,null]]}\n\
                    {\"index\":1,\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":[[\"append\",5,1],[\"r\",5,[1]]]}\n";
        let a = read_history_str("a.edn", edn).unwrap();
        let b = read_history_str("b.jsonl", json).unwrap();
        assert_eq!(a.ops, b.ops);
        assert_eq!(a.ops.len(), 2);
        match &a.ops[1].value {
            OpValue::Txn(m) => match &m[1] {
                Mop::Read {
                    value: ReadResult::List(r),
                    ..
                } => assert_eq!(a.list(*r), &[Atom::Int(1)]),
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn json_array_edn_vector_and_missing_fields() {
        let json = "[{\"type\":\"invoke\",\"process\":0,\"value\":[[\"w\",\"x\",2]]},\n{\"type\":\"ok\",\"process\":0,\"value\":[[\"w\",\"x\",2]]}]";
        let h = read_history_str("a.json", json).unwrap();
        assert_eq!(h.ops.len(), 2);
        assert_eq!(h.ops[1].index, 1);
        assert_eq!(h.ops[1].f, OpFn::Txn);
        let edn = "[{:type :invoke, :process 0, :f :add, :value 1}\n {:type :ok, :process 0, :f :add, :value 1}]";
        let h = read_history_str("a.edn", edn).unwrap();
        assert_eq!(h.ops[1].value, OpValue::Int(1));
    }

    #[test]
    fn bad_input_names_the_line_and_the_problem() {
        let e = read_history_str("h.jsonl", "{\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1}\n{\"type\":\"bogus\",\"process\":0,\"f\":\"add\",\"value\":1}\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "h.jsonl: op 1 (line 2): type \"bogus\" is not one of invoke, ok, fail, info"
        );
        // A torn last line (a crash mid-write) is dropped; a broken line before it is an error.
        let ok = "{\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1}\n";
        let torn = "{\"type\":\"ok\",\"proc";
        let h = read_history_str("h.jsonl", &format!("{ok}{torn}")).unwrap();
        assert_eq!(h.ops.len(), 1);
        let e = read_history_str("h.jsonl", &format!("{ok}{torn}\n{ok}")).unwrap_err();
        assert!(e.to_string().starts_with("h.jsonl:2: "), "{e}");
        let e = read_history_str(
            "h.edn",
            "{:type :ok :process 0 :f :add :value 1}\n{:type :ok :process 0 :value 1}\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("op 1 (line 2): missing f"), "{e}");
        let e = read_history_str("h.edn", "{:index 5 :type :ok :process 0 :f :add :value 1}\n{:index 5 :type :ok :process 0 :f :add :value 1}\n").unwrap_err();
        assert!(e.to_string().contains("index 5 is not greater"), "{e}");
        let e = read_history_str("h.txt", "hello").unwrap_err();
        assert!(e.to_string().starts_with("h.txt:1: not a history"), "{e}");
    }
}
