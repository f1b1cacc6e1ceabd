//! Reading JSON: JSON Lines in large blocks (isoscope's own format), and one array of ops,
//! streamed element by element.
//!
//! JSON Lines are read in 4 MB blocks cut at line ends, parsed on every core, and taken back
//! in file order, without a string per line; each line is first offered to the fast path
//! ([`FastLine`]), which builds the common ops straight from the bytes, and the lines it
//! declines go through [`Datum`], which gives any error. A torn last line (a crash mid-write) is
//! dropped.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::sync::{mpsc, Arc, Mutex};

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

use super::build::OpBuilder;
use super::datum::Datum;
use super::json_ops::{FastLine, ListSink};
use super::read_error::ReadError;
use super::{Atom, ListRef, Mop, Op, OpValue, ReadResult};

pub(super) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads JSON Lines in large blocks, without a string per line, on every core. With `fast`,
/// each line is first offered to [`FastLine`]; the lines it declines (and all lines without
/// `fast`) go through [`Datum`], which gives the errors.
pub(super) fn read_json_lines(
    source: impl Read + Send,
    b: &mut OpBuilder,
    first_line: usize,
) -> Result<(), ReadError> {
    read_json_blocks(source, b, true, 1 << 22, first_line)
}

/// A block's lines as a worker thread parsed them, in order, each with its line number within
/// the block (from 1).
#[derive(Default)]
struct Parsed {
    lines: Vec<(usize, Line)>,
    /// Every list read of the block's fast lines, as ranges of `ints`.
    lists: DeferredLists,
    /// How many lines the block holds.
    count: usize,
}

/// One line of a block.
enum Line {
    /// Taken by the fast path. Its list reads are [`DeferredLists`] ranges, and its index is
    /// `u64::MAX` when the line gave none (a real one fits an `i64`).
    Fast(Op),
    /// Declined by the fast path, parsed generically (typed in order, by the reading thread).
    Generic(Datum),
    /// Not JSON: the message, and whether it may be a torn last line (no newline after it).
    Bad { message: String, torn: bool },
}

/// List reads kept aside by a worker: a read's [`ListRef`] holds the index of its range in
/// `spans` until the reading thread interns it, in history order, as a sequential read would.
#[derive(Default)]
struct DeferredLists {
    ints: Vec<i64>,
    spans: Vec<(usize, usize)>,
}

impl ListSink for DeferredLists {
    fn list(&mut self, _key: &Atom, ints: &[i64]) -> ListRef {
        let start = self.ints.len();
        self.ints.extend_from_slice(ints);
        self.spans.push((start, self.ints.len()));
        ListRef {
            chain: (self.spans.len() - 1) as u32,
            len: ints.len() as u32,
        }
    }
}

/// Parses the lines of one block (whole lines; the last may lack its newline only at the end of
/// the file). Stops at the first line that is not JSON.
fn parse_block(data: &[u8], fast: bool, scratch: &mut FastLine) -> Parsed {
    let mut out = Parsed::default();
    let mut pos = 0;
    while pos < data.len() {
        out.count += 1;
        let line = out.count;
        let rest = &data[pos..];
        if fast {
            if let Some((op, used)) = scratch.parse(rest, usize::MAX, &mut out.lists) {
                out.lines.push((line, Line::Fast(op)));
                pos += used;
                continue;
            }
        }
        let (text, newline) = match rest.iter().position(|&c| c == b'\n') {
            Some(p) => (&rest[..p], true),
            None => (rest, false),
        };
        pos += text.len() + usize::from(newline);
        let Ok(text) = std::str::from_utf8(text) else {
            let message = "not valid UTF-8".into();
            out.lines.push((
                line,
                Line::Bad {
                    message,
                    torn: false,
                },
            ));
            break;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Datum>(text) {
            Ok(d) => out.lines.push((line, Line::Generic(d))),
            Err(e) => {
                let (message, torn) = (e.to_string(), !newline);
                out.lines.push((line, Line::Bad { message, torn }));
                break;
            }
        }
    }
    out
}

/// [`read_json_lines`] with blocks of `block` bytes (more for a longer line).
///
/// One thread reads the source (decompressing gzip, if it is) and cuts it into blocks at line
/// ends; one worker per core parses blocks; this thread takes the parsed blocks in file order,
/// interns their list reads and types the generic lines, so ops, lists, line numbers and errors
/// are exactly those of reading line by line.
pub(super) fn read_json_blocks(
    source: impl Read + Send,
    b: &mut OpBuilder,
    fast: bool,
    block: usize,
    first_line: usize,
) -> Result<(), ReadError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    std::thread::scope(|s| {
        let (blocks_tx, blocks_rx) = mpsc::sync_channel::<(usize, Vec<u8>)>(workers);
        let (parsed_tx, parsed_rx) = mpsc::sync_channel::<(usize, Parsed)>(workers);
        // Parsed blocks' buffers go back to the reader, so it does not fault in new pages.
        let (spent_tx, spent_rx) = mpsc::channel::<Vec<u8>>();
        let reader = s.spawn(move || cut_blocks(source, block.max(1), &blocks_tx, &spent_rx));
        // Only the workers hold the receiver: once they stop, the reader's next send fails.
        let blocks_rx = Arc::new(Mutex::new(blocks_rx));
        for _ in 0..workers {
            let (rx, tx) = (Arc::clone(&blocks_rx), parsed_tx.clone());
            let spent = spent_tx.clone();
            s.spawn(move || {
                let mut scratch = FastLine::default();
                loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok((seq, data))) = next else { break };
                    let parsed = parse_block(&data, fast, &mut scratch);
                    let _ = spent.send(data);
                    if tx.send((seq, parsed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((blocks_rx, parsed_tx, spent_tx));
        let merged = merge_blocks(parsed_rx, b, first_line);
        let read = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        // An I/O error ends the blocks early: it, not what the partial data looked like, is
        // the error.
        read.map_err(|error| ReadError::Io {
            path: b.path.to_owned(),
            error,
        })?;
        merged
    })
}

/// Reads `source` to its end in blocks of whole lines, numbered from 0, in buffers the workers
/// gave back (`spent`) when there are some; the last block is what is left at the end, newline
/// or not. Stops early, without error, if nobody takes the blocks.
fn cut_blocks(
    mut source: impl Read,
    block: usize,
    blocks: &mpsc::SyncSender<(usize, Vec<u8>)>,
    spent: &mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; block];
    let mut filled = 0;
    let mut seq = 0;
    loop {
        if filled == buf.len() {
            // A line longer than the buffer.
            buf.resize(2 * buf.len(), 0);
        }
        filled += read_up_to(&mut source, &mut buf[filled..])?;
        let eof = filled < buf.len();
        // Whole lines only, but all of what is left at the end of the file.
        let end = match buf[..filled].iter().rposition(|&c| c == b'\n') {
            _ if eof => filled,
            Some(p) => p + 1,
            None => continue,
        };
        let mut next = spent.try_recv().unwrap_or_default();
        next.resize(block.max(2 * (filled - end)), 0);
        next[..filled - end].copy_from_slice(&buf[end..filled]);
        buf.truncate(end);
        if !buf.is_empty() && blocks.send((seq, buf)).is_err() {
            return Ok(());
        }
        if eof {
            return Ok(());
        }
        seq += 1;
        (buf, filled) = (next, filled - end);
    }
}

/// Takes the parsed blocks in file order into `b`: list reads interned, generic lines typed,
/// each op checked and numbered by its line.
fn merge_blocks(
    parsed: mpsc::Receiver<(usize, Parsed)>,
    b: &mut OpBuilder,
    first_line: usize,
) -> Result<(), ReadError> {
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    let mut before = first_line - 1;
    for (seq, p) in parsed {
        waiting.insert(seq, p);
        while let Some(p) = waiting.remove(&next) {
            next += 1;
            for (line, item) in p.lines {
                let lineno = before + line;
                match item {
                    Line::Fast(mut op) => {
                        if let OpValue::Txn(mops) = &mut op.value {
                            for m in mops {
                                if let Mop::Read {
                                    key,
                                    value: ReadResult::List(r),
                                } = m
                                {
                                    let (s, e) = p.lists.spans[r.chain as usize];
                                    *r = b.history.lists.intern_ints(key, &p.lists.ints[s..e]);
                                }
                            }
                        }
                        if op.index == u64::MAX {
                            op.index = b.history.ops.len() as u64;
                        }
                        b.accept(op, Some(lineno))?;
                        b.fast_lines += 1;
                    }
                    Line::Generic(d) => b.push(d, Some(lineno))?,
                    Line::Bad { torn: true, .. } if lineno > first_line => {
                        // A crash mid-write tears at most the last line: keep everything before it.
                        tracing::warn!("{}:{lineno}: dropped a torn last line", b.path.display());
                        return Ok(());
                    }
                    Line::Bad { message, .. } => {
                        return Err(ReadError::Syntax {
                            path: b.path.to_owned(),
                            line: lineno,
                            message,
                        })
                    }
                }
            }
            before += p.count;
        }
    }
    tracing::debug!(lines = before, fast = b.fast_lines, "JSON Lines read");
    Ok(())
}

/// Reads one JSON array of ops, an element at a time.
pub(super) fn read_json_array(
    reader: impl BufRead,
    b: &mut OpBuilder,
    first_line: usize,
) -> Result<(), ReadError> {
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
        line: e.line() + first_line - 1,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read::read_history_str;
    use crate::history::{
        Atom, History, ListStore, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult,
    };
    use std::path::Path;

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

    /// Reads JSON Lines with or without the fast path; also says how many lines it took.
    fn read_jsonl(text: &[u8], fast: bool) -> (Result<History, String>, usize) {
        read_jsonl_blocks(text, fast, 1 << 22)
    }

    fn read_jsonl_blocks(
        text: &[u8],
        fast: bool,
        block: usize,
    ) -> (Result<History, String>, usize) {
        let mut b = OpBuilder::new(Path::new("h.jsonl"));
        let r = read_json_blocks(text, &mut b, fast, block, 1);
        let fast_lines = b.fast_lines;
        (
            r.and_then(|()| b.finish()).map_err(|e| e.to_string()),
            fast_lines,
        )
    }

    fn same_history(a: &History, b: &History) {
        assert_eq!(a.ops, b.ops);
        let (ca, cb) = (a.lists.chains(), b.lists.chains());
        assert_eq!(ca.len(), cb.len());
        for (x, y) in ca.iter().zip(cb) {
            assert_eq!((&x.key, &x.elems), (&y.key, &y.elems));
        }
    }

    /// Both paths on one text, in blocks of several sizes: the same ops and lists, or the same
    /// error. Returns the lines the fast path took.
    fn both_paths_agree(text: &[u8]) -> usize {
        let (generic, _) = read_jsonl(text, false);
        let (fast, n) = read_jsonl(text, true);
        for (block, (other, fast_lines)) in [
            (1 << 22, (fast, n)),
            (1, read_jsonl_blocks(text, true, 1)),
            (100, read_jsonl_blocks(text, true, 100)),
            (4096, read_jsonl_blocks(text, true, 4096)),
            (4096, read_jsonl_blocks(text, false, 4096)),
        ] {
            assert!(fast_lines <= n);
            match (&other, &generic) {
                (Ok(a), Ok(b)) => same_history(a, b),
                (Err(a), Err(b)) => assert_eq!(a, b),
                _ => panic!(
                    "paths disagree on {:?} (block {block}): {:?}, generic {:?}",
                    String::from_utf8_lossy(text),
                    other.map(|h| h.ops),
                    generic.as_ref().map(|h| &h.ops)
                ),
            }
        }
        n
    }

    #[test]
    fn fast_and_generic_json_lines_agree_on_a_generated_history() {
        use crate::checker::Workload;
        use crate::checker::{check, CheckOptions, Model};
        use crate::history::write::OpJson;
        use crate::sim::{generate, Behaviour, SimParams};
        // Lines the fast path declines, put between the others; indices are left out so that
        // each op's is its position.
        let generic_only = [
            "{\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"kill\",\"value\":\"n1\"}",
            "{\"type\":\"invoke\",\"process\":1000,\"f\":\"txn\",\"value\":[[\"r\",\"k\\u0031\",null]]}",
            "{\"type\":\"ok\",\"process\":1000,\"f\":\"txn\",\"value\":[[\"r\",\"k\\u0031\",null]]}",
        ];
        for (workload, behaviour) in [
            (Workload::ListAppend, Behaviour::ReadCommitted),
            (Workload::RwRegister, Behaviour::SnapshotIsolation),
        ] {
            let h = generate(&SimParams {
                workload,
                behaviour,
                txns: 3000,
                keys: 4,
                max_writes_per_key: 40,
                fail_fraction: 0.1,
                info_fraction: 0.1,
                seed: 7,
                ..SimParams::default()
            });
            let mut text = String::new();
            for (i, op) in h.ops.iter().enumerate() {
                let line = serde_json::to_string(&OpJson {
                    op,
                    lists: &h.lists,
                })
                .unwrap();
                let rest = line.strip_prefix(&format!("{{\"index\":{i},")).unwrap();
                text.push('{');
                text.push_str(rest);
                text.push('\n');
                if i % 97 == 0 {
                    for l in generic_only {
                        text.push_str(l);
                        text.push('\n');
                    }
                    text.push('\n');
                }
            }
            let mut needles = vec![
                "\"type\":\"ok\"",
                "\"type\":\"fail\"",
                "\"type\":\"info\"",
                "null]",
            ];
            needles.extend(match workload {
                Workload::ListAppend => ["[\"append\",", ",[]]"],
                _ => ["[\"w\",", "[\"r\","],
            });
            for needle in needles {
                assert!(text.contains(needle), "{workload:?}: no {needle}");
            }
            let fast_lines = both_paths_agree(text.as_bytes());
            assert_eq!(fast_lines, h.ops.len(), "{workload:?}");
            let (fast, generic) = (
                read_jsonl(text.as_bytes(), true).0.unwrap(),
                read_jsonl(text.as_bytes(), false).0.unwrap(),
            );
            assert!(fast.ops.len() > fast_lines);
            let opts = CheckOptions {
                models: vec![Model::Serializable, Model::StrictSerializable],
                ..CheckOptions::default()
            };
            let verdict = |h: &History| serde_json::to_value(check(h, &opts).unwrap()).unwrap();
            let v = verdict(&fast);
            assert_eq!(v, verdict(&generic));
            // Both simulations allow anomalies, so there is something to agree on.
            assert_eq!(v["valid"], false, "{workload:?}");
        }
    }

    #[test]
    fn set_histories_read_alike_from_edn_and_json() {
        let edn = "{:index 0 :type :invoke :process 0 :f :add :value 5}\n\
                   {:index 1 :type :ok :process 0 :f :add :value 5}\n\
                   {:index 2 :type :invoke :process 1 :f :add :value 1}\n\
                   {:index 3 :type :info :process 1 :f :add :value 1}\n\
                   {:index 4 :type :invoke :process 0 :f :read :value nil}\n\
                   {:index 5 :type :ok :process 0 :f :read :value #{5 1}}\n\
                   {:index 6 :type :invoke :process 0 :f :read :value nil}\n\
                   {:index 7 :type :ok :process 0 :f :read :value [5 2 1 9]}\n\
                   {:index 8 :type :invoke :process 0 :f :read :value nil}\n\
                   {:index 9 :type :ok :process 0 :f :read :value #{}}\n";
        let json = r#"{"index":0,"type":"invoke","process":0,"f":"add","value":5}
{"index":1,"type":"ok","process":0,"f":"add","value":5}
{"index":2,"type":"invoke","process":1,"f":"add","value":1}
{"index":3,"type":"info","process":1,"f":"add","value":1}
{"index":4,"type":"invoke","process":0,"f":"read","value":null}
{"index":5,"type":"ok","process":0,"f":"read","value":[5,1]}
{"index":6,"type":"invoke","process":0,"f":"read","value":null}
{"index":7,"type":"ok","process":0,"f":"read","value":[5,2,1,9]}
{"index":8,"type":"invoke","process":0,"f":"read","value":null}
{"index":9,"type":"ok","process":0,"f":"read","value":[]}
"#;
        let a = read_history_str("set.edn", edn).unwrap();
        let b = read_history_str("set.jsonl", json).unwrap();
        assert_eq!(a.ops, b.ops, "{json}");
        let array = format!("[{}]", json.trim_end().replace('\n', ","));
        let c = read_history_str("set.json", &array).unwrap();
        assert_eq!(a.ops, c.ops);
        assert_eq!(a.ops[1].value, OpValue::Int(5));
        assert_eq!(a.ops[1].f, OpFn::Add);
        assert_eq!(a.ops[5].value, OpValue::Elements(vec![1, 5]));
        assert_eq!(a.ops[7].value, OpValue::Elements(vec![1, 2, 5, 9]));
        assert_eq!(a.ops[9].value, OpValue::Elements(vec![]));
        assert_eq!(a.ops[4].value, OpValue::Nil);
        // Written back and read again: the same ops.
        let mut text = Vec::new();
        for op in &a.ops {
            crate::history::write::op_line(op, &a.lists, &mut text);
        }
        let d = read_history_str("again.jsonl", std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(a.ops, d.ops);
        assert!(both_paths_agree(&text) == a.ops.len());
    }

    #[test]
    fn counter_and_bank_reads_keep_their_shape() {
        // A keyed counter history: [key, value] reads stay keyed, even with two integers.
        let keyed = "{\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":[7,1]}\n\
                     {\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":[7,1,3]}\n\
                     {\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":[7,null]}\n\
                     {\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":[7,3]}\n";
        let h = read_history_str("c.jsonl", keyed).unwrap();
        let want = OpValue::Keyed {
            key: Atom::Int(7),
            value: Some(3),
            after: None,
        };
        assert_eq!(h.ops[3].value, want);
        assert_eq!(
            h.ops[2].value,
            OpValue::Keyed {
                key: Atom::Int(7),
                value: None,
                after: None
            }
        );
        // Reads of pairs and nothing else: nothing says set, so they stay keyed.
        let pairs = "{:type :invoke, :process 0, :f :read, :value nil}\n\
                     {:type :ok, :process 0, :f :read, :value [7 3]}\n";
        assert_eq!(read_history_str("p.edn", pairs).unwrap().ops[1].value, want);
        // A plain counter: integer adds and reads.
        let plain = "{:type :ok, :process 0, :f :add, :value 1}\n\
                     {:type :ok, :process 0, :f :read, :value 1}\n";
        let h = read_history_str("p.edn", plain).unwrap();
        assert_eq!(h.ops[1].value, OpValue::Int(1));
        // A bank read.
        let bank = "{:type :ok, :process 0, :f :read, :value {0 5, 1 nil}}\n";
        assert_eq!(
            read_history_str("b.edn", bank).unwrap().ops[0].value,
            OpValue::Balances(vec![(Atom::Int(0), Some(5)), (Atom::Int(1), None)])
        );
        // Beside plain adds, the same pair is a set read.
        let set = "{:type :ok, :process 0, :f :add, :value 3}\n\
                   {:type :ok, :process 0, :f :read, :value [7 3]}\n";
        assert_eq!(
            read_history_str("s.edn", set).unwrap().ops[1].value,
            OpValue::Elements(vec![3, 7])
        );
    }

    /// A set history as isoscope's set workload records one: unique adds by a few processes
    /// (some failing, some indeterminate), reads of what was acknowledged so far, some nemesis
    /// ops, and a final read. A tiny LCG keeps it deterministic without a dependency.
    fn generated_set_history(n: usize) -> History {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |m: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % m
        };
        let mut ops = Vec::new();
        let mut present: Vec<i64> = Vec::new();
        let op = |kind, process, f: OpFn, value, ops: &mut Vec<Op>| {
            let index = ops.len() as u64;
            ops.push(Op {
                index,
                time: Some(index as i64 * 1_000),
                kind,
                process,
                f,
                value,
                error: None,
                sql: None,
            });
        };
        let mut element = 0i64;
        for i in 0..n {
            let p = Process::Client(next(5));
            if i % 211 == 0 {
                let v = OpValue::Other(Datum::Str("kill".into()));
                op(
                    OpType::Info,
                    Process::Nemesis,
                    OpFn::parse("kill"),
                    v,
                    &mut ops,
                );
            }
            if next(8) == 0 {
                op(OpType::Invoke, p, OpFn::Read, OpValue::Nil, &mut ops);
                // Mostly all so far; sometimes a short prefix (two or three elements too).
                let take = if next(3) == 0 {
                    (next(5) as usize).min(present.len())
                } else {
                    present.len()
                };
                let mut seen = present[..take].to_vec();
                seen.sort_unstable();
                op(OpType::Ok, p, OpFn::Read, OpValue::Elements(seen), &mut ops);
            } else {
                element += 1 + next(3) as i64;
                let v = OpValue::Int(element);
                op(OpType::Invoke, p, OpFn::Add, v.clone(), &mut ops);
                let outcome = match next(10) {
                    0 => OpType::Fail,
                    1 => OpType::Info,
                    _ => OpType::Ok,
                };
                if outcome != OpType::Fail {
                    present.push(element);
                }
                op(outcome, p, OpFn::Add, v, &mut ops);
            }
        }
        let p = Process::Client(99);
        op(OpType::Invoke, p, OpFn::Read, OpValue::Nil, &mut ops);
        op(
            OpType::Ok,
            p,
            OpFn::Read,
            OpValue::Elements(present),
            &mut ops,
        );
        History {
            ops,
            lists: ListStore::default(),
        }
    }

    #[test]
    fn fast_and_generic_json_lines_agree_on_a_set_history() {
        use crate::checker::{check, CheckOptions};
        use crate::history::write::op_line;
        let h = generated_set_history(3000);
        let mut text = Vec::new();
        for op in &h.ops {
            op_line(op, &h.lists, &mut text);
        }
        let s = String::from_utf8_lossy(&text).into_owned();
        for needle in [
            "\"f\":\"add\"",
            "\"type\":\"fail\"",
            "\"type\":\"info\"",
            "\"value\":[]",
            "\"process\":\"nemesis\"",
        ] {
            assert!(s.contains(needle), "no {needle}");
        }
        let sizes: Vec<usize> = h
            .ops
            .iter()
            .filter_map(|op| match &op.value {
                OpValue::Elements(e) => Some(e.len()),
                _ => None,
            })
            .collect();
        assert!(sizes.contains(&2) && sizes.contains(&3), "{sizes:?}");
        let fast_lines = both_paths_agree(&text);
        let nemesis = h.ops.iter().filter(|op| op.process == Process::Nemesis);
        assert_eq!(fast_lines, h.ops.len() - nemesis.count());
        // What was written is what is read back, two- and three-element reads included.
        let back = read_jsonl(&text, true).0.unwrap();
        assert_eq!(back.ops, h.ops);
        let generic = read_jsonl(&text, false).0.unwrap();
        let opts = CheckOptions::default();
        let verdict = |h: &History| serde_json::to_value(check(h, &opts).unwrap()).unwrap();
        let v = verdict(&back);
        assert_eq!(v, verdict(&generic));
        assert_eq!(v["workload"], "set");
        assert_eq!(v["valid"], true, "{v:#}");
    }

    #[test]
    fn fast_and_generic_json_lines_agree_on_odd_lines() {
        let plain = "{\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",1,1],[\"r\",1,[1]]]}";
        let odd = [
            // Taken by the fast path.
            " { \"type\" : \"ok\" ,\t\"process\" : 0 , \"value\" : [ [ \"r\" , 1 , [ 1 , 2 ] ] , [\"r\",2,[ ]] ] } \r",
            "{\"index\":null,\"time\":null,\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"txn\",\"value\":null,\"error\":\"timed out\"}",
            "{\"type\":\"fail\",\"process\":2,\"f\":\"txn\",\"value\":[],\"error\":null}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"w\",\"x\",-5],[\"r\",\"x\",\"v\"],[\"r\",-3,7]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",1,[1,22,333,4444,55555,666666,7777777,88888888,999999999]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[123456789012345678,1234567890123456789,9223372036854775807]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[0,-1,-9223372036854775807]]]}",
            "{\"index\":0,\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null}",
            "{\"type\":\"ok\",\"process\":2,\"f\":null,\"value\":[[\"r\",1,null]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"add\",\"value\":1}",
            "{\"type\":\"invoke\",\"process\":3,\"f\":\"add\",\"value\":-5,\"time\":7}",
            "{\"type\":\"fail\",\"process\":3,\"f\":\"add\",\"value\":null,\"error\":\"dup\"}",
            "{\"type\":\"info\",\"process\":3,\"f\":\"add\"}",
            "{\"type\":\"invoke\",\"process\":3,\"f\":\"read\",\"value\":null}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[5,1,2, 9]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[ ]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[4]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[7,3]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[7,3,8]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":12}",
            // Declined: the generic path gives the op or the error.
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",1,[1,2]],[\"r\",9,[1.5]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[9223372036854775808]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[-9223372036854775808]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[-9223372036854775809]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[18446744073709551616]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[-0]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[01]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[1.5]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[1e3]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[1,]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[,1]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[1 2]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[1,\"a\"]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,[[1]]]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,true]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,1.5]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",9,null,1]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"x\",9,1]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"append\",null,1]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"append\",1,null]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"append\",\"a\\\"b\",1]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"append\",\"\\u00e9\",1]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"append\",\"\u{e9}\",1]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"append\",\"a\tb\",1]]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[1,2]}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":5}",
            "{\"type\":\"ok\",\"process\":2,\"value\":[]}",
            "{\"type\":\"ok\",\"process\":2,\"value\":null}",
            "{\"type\":\"info\",\"process\":\"nemesis\",\"value\":null}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[7,null]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[\"a\",3]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[1.5]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[1,[2]]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":\"x\"}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":{\"0\":5,\"1\":null}}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"read\",\"value\":[[\"r\",1,null]]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"add\",\"value\":[7,1,3]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"add\",\"value\":[]}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"add\",\"value\":1.5}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"add\",\"value\":\"x\"}",
            "{\"type\":\"ok\",\"process\":3,\"f\":\"transfer\",\"value\":{\"from\":0,\"to\":1,\"amount\":2}}",
            "{\"type\":\"ok\",\"process\":3,\"value\":5}",
            "{\"type\":\"ok\",\"process\":3,\"value\":[1,2]}",
            "{\"type\":\"invoke\",\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":null}",
            "{\"type\":\"bogus\",\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":null}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":null,\"extra\":{\"a\":[1]}}",
            "{\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":null,\"sql\":[\"BEGIN\"]}",
            "{\"type\":\"ok\",\"process\":-1,\"f\":\"txn\",\"value\":null}",
            "{\"type\":\"ok\",\"process\":\"x\",\"f\":\"txn\",\"value\":null}",
            "{\"type\":\"ok\",\"f\":\"txn\",\"value\":null}",
            "{\"process\":1,\"f\":\"txn\",\"value\":null}",
            "{\"index\":-1,\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null}",
            "{\"time\":1.5,\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null}",
            "{\"time\":\"x\",\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null}",
            "{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null,\"error\":5}",
            "{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null} x",
            "{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null}}",
            "{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":nul}",
            "{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":[[\"r\",1,[1,2",
            "{\"type\":\"ok\",}",
            "{}",
            "[]",
            "",
            "   ",
            "\u{a0}",
            "\u{feff}{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null}",
            "{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null}\u{c}",
        ];
        let taken = 20;
        for (i, line) in odd.iter().enumerate() {
            let mut lists = ListStore::default();
            let op = FastLine::default().parse(line.as_bytes(), 0, &mut lists);
            assert_eq!(op.is_some(), i < taken, "{line}");
            if op.is_none() {
                assert!(lists.chains().is_empty(), "{line}");
            }
        }
        let mut fast_taken = 0;
        for line in odd {
            for text in [
                format!("{plain}\n{line}\n{plain}\n"),
                format!("{plain}\n{line}"),
                format!("{line}\n{plain}"),
            ] {
                fast_taken += both_paths_agree(text.as_bytes());
            }
        }
        assert!(fast_taken > 0);
        // Not UTF-8.
        both_paths_agree(
            b"{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":[[\"r\",\"\xff\",1]]}\n",
        );
        both_paths_agree(b"{\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":null}\n\xff\n");
    }
}
