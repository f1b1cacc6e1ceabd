//! Building typed ops from parsed values: one [`Datum`] at a time, checking what can be checked
//! locally (fields, types, increasing indices), into a [`History`].
//!
//! Every reader ends here, whatever the text format; the JSON Lines fast path
//! (`json_ops`) builds the common ops itself and hands them to [`OpBuilder::accept`], using
//! [`int_list_read`] so that both give the same op.

use std::path::Path;
use std::sync::Arc;

use super::datum::Datum;
use super::read_error::ReadError;
use super::{cut, Atom, History, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult};

/// How many bytes of an offending value an error quotes.
const QUOTE: usize = 300;

/// Turns parsed values into typed ops, one at a time, checking what can be checked locally.
pub(super) struct OpBuilder<'p> {
    /// The file, for errors.
    pub(super) path: &'p Path,
    /// What was built so far.
    pub(super) history: History,
    scratch: Vec<Atom>,
    last_index: Option<u64>,
    /// Lines taken by the JSON Lines fast path.
    pub(super) fast_lines: usize,
}

impl<'p> OpBuilder<'p> {
    pub(super) fn new(path: &'p Path) -> Self {
        OpBuilder {
            path,
            history: History::default(),
            scratch: Vec::new(),
            last_index: None,
            fast_lines: 0,
        }
    }

    pub(super) fn finish(mut self) -> Result<History, ReadError> {
        if self.history.ops.is_empty() {
            return Err(ReadError::Empty {
                path: self.path.to_owned(),
            });
        }
        resolve_set_reads(&mut self.history.ops);
        Ok(self.history)
    }

    pub(super) fn push(&mut self, d: Datum, line: Option<usize>) -> Result<(), ReadError> {
        let position = self.history.ops.len();
        if position == 0 && !looks_like_op(&d) {
            return Err(ReadError::NotAHistory {
                path: self.path.to_owned(),
                line: line.unwrap_or(1),
            });
        }
        let op = self.op(d, position).map_err(|message| ReadError::Op {
            path: self.path.to_owned(),
            position,
            line,
            message: cut(&message, QUOTE),
        })?;
        self.accept(op, line)
    }

    /// Appends a typed op, checking that its index follows the previous op's.
    pub(super) fn accept(&mut self, op: Op, line: Option<usize>) -> Result<(), ReadError> {
        let position = self.history.ops.len();
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
                    let bad = || format!("type {s:?} is not one of invoke, ok, fail, info");
                    kind = Some(s.parse().map_err(|_| bad())?);
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
                Datum::Ints(ints) => Ok(int_list_read(&ints)),
                Datum::List(_) if !looks_like_txn(&v) => keyed(v),
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
        if value == Datum::Nil && matches!(f.as_str(), Some("append" | "w")) {
            return Err(format!("{f} of nil: a written value must be a value"));
        }
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

/// What a read returning a list of integers means, looking at that read alone: two or three
/// integers have the shape of a keyed counter read (`[key, value]`, as before sets existed) and
/// stay one until [`resolve_set_reads`] has seen the whole history; any other length can only
/// be a set read. Shared by the generic path and the JSON Lines fast path, so both give the
/// same op.
pub(super) fn int_list_read(ints: &[i64]) -> OpValue {
    match *ints {
        [key, value] => OpValue::Keyed {
            key: Atom::Int(key),
            value: Some(value),
            after: None,
        },
        [key, value, after] => OpValue::Keyed {
            key: Atom::Int(key),
            value: Some(value),
            after: Some(after),
        },
        _ => elements(ints.to_vec()),
    }
}

/// A set read's elements, sorted.
fn elements(mut v: Vec<i64>) -> OpValue {
    v.sort_unstable();
    OpValue::Elements(v)
}

/// Settles reads of two or three integers, which one op cannot tell apart: `[7, 3]` is counter
/// 7 read as 3 in a keyed counter history (whose adds are `[key, amount]` tuples), and the set
/// `{3, 7}` in a set history (whose adds are plain integers). So once the whole history is
/// read: if no add is keyed, and some add is a plain integer or some read is already a
/// collection of elements, every such read becomes the set of its integers. Keyed counter
/// histories, plain counter histories (integer reads) and bank histories are left as they were.
/// A history of two-element reads alone stays keyed: nothing in it says otherwise.
fn resolve_set_reads(ops: &mut [Op]) {
    let (mut keyed_adds, mut plain_adds, mut element_reads) = (false, false, false);
    for op in ops.iter() {
        match (&op.f, &op.value) {
            (OpFn::Add, OpValue::Keyed { .. }) => keyed_adds = true,
            (OpFn::Add, OpValue::Int(_)) => plain_adds = true,
            (OpFn::Read, OpValue::Elements(_)) => element_reads = true,
            _ => {}
        }
    }
    if keyed_adds || !(plain_adds || element_reads) {
        return;
    }
    for op in ops.iter_mut() {
        if op.f != OpFn::Read {
            continue;
        }
        if let OpValue::Keyed {
            key: Atom::Int(k),
            value: Some(v),
            after,
        } = op.value
        {
            let mut elems = vec![k, v];
            elems.extend(after);
            op.value = elements(elems);
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

/// Any value as an [`Atom`]: Elle takes any value as a key or element.
fn atom(d: Datum) -> Result<Atom, String> {
    Ok(match d {
        Datum::Int(i) => Atom::Int(i),
        Datum::Str(s) | Datum::Keyword(s) => Atom::Str(Arc::from(s)),
        other => Atom::composite(&canonical(&other)),
    })
}

/// The canonical EDN text of a value: keywords and strings alike written `:name` when they
/// are names (else quoted), map entries sorted, so equal keys from EDN and JSON compare equal.
fn canonical(d: &Datum) -> String {
    let join = |items: Vec<String>, sep: &str| items.join(sep);
    match d {
        Datum::Nil => "nil".into(),
        Datum::Bool(b) => b.to_string(),
        Datum::Int(i) => i.to_string(),
        Datum::Float(x) => Datum::Float(*x).to_string(),
        Datum::Str(s) | Datum::Keyword(s) => super::edn_name(s),
        Datum::Ints(v) => format!("[{}]", join(v.iter().map(|i| i.to_string()).collect(), " ")),
        Datum::List(v) => format!("[{}]", join(v.iter().map(canonical).collect(), " ")),
        Datum::Map(kvs) => {
            let mut entries: Vec<String> = kvs
                .iter()
                .map(|(k, v)| format!("{} {}", canonical(k), canonical(v)))
                .collect();
            entries.sort();
            format!("{{{}}}", join(entries, ", "))
        }
    }
}

/// JSON cannot have integer map keys, so `"3"` in a JSON bank read means account 3.
fn numeric_atom(a: Atom) -> Atom {
    match &a {
        Atom::Str(s) => s.parse::<i64>().map(Atom::Int).unwrap_or(a),
        _ => a,
    }
}

/// Whether a value could be meant as an op: a map with a type or a process. A first value that
/// is not is no history at all, and is told so rather than what one op lacks.
fn looks_like_op(d: &Datum) -> bool {
    match d {
        Datum::Map(fields) => fields
            .iter()
            .any(|(k, _)| matches!(k.as_str(), Some("type" | "process"))),
        _ => false,
    }
}
