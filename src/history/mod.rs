//! The history model: what happened, op by op, in the shape Jepsen records it.
//!
//! A [`History`] is the list of [`Op`]s a test observed, in the order they happened. Every client
//! operation appears twice: once as an `invoke` when the client started it, and once as a
//! completion (`ok`, `fail` or `info`) when its outcome was known. Checkers never look at raw text:
//! readers ([`read`]) turn EDN or JSON into these types, and [`write`](mod@write) appends them as JSON Lines
//! while a run goes.
//!
//! Invariants kept by every reader:
//! - ops are in history order, and `index` is unique and increasing (missing indices are filled
//!   in with the op's position);
//! - every list read (`["r", k, [..]]` in list-append) is stored once in [`ListStore`], so a
//!   million reads of long lists cost a few bytes each ([`ListRef`]).

mod build;
pub mod datum;
mod edn_forms;
mod json_ops;
mod json_text;
pub mod lists;
pub mod pairs;
pub mod read;
mod sniff;
pub mod write;

use std::fmt;
use std::sync::Arc;

pub use lists::{ListRef, ListStore};
pub use pairs::{Completion, Pairs};
pub use read::{read_history, ReadError};

/// A value in a history used as a key, a written value or a list element.
///
/// EDN keywords and JSON strings both become [`Atom::Str`] (without the leading colon), so
/// `:x` and `"x"` name the same key, and `[:anti 1]` and `["anti", 1]` the same composite key.
/// Any value Elle accepts is an atom: integers and names are the common case; vectors, lists,
/// sets and maps keep their parts (sets and maps sorted, so equal values compare equal); nil,
/// booleans and floats keep their EDN text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Atom {
    /// An integer, the common case.
    Int(i64),
    /// A string, keyword or symbol.
    Str(Arc<str>),
    /// A vector, list or set of values (a set's elements sorted), e.g. `[:anti 1]`.
    Seq(Arc<[Atom]>),
    /// A map, its entries sorted by key.
    Map(Arc<[(Atom, Atom)]>),
    /// `nil`, `true`, `false` or a float, as EDN writes it.
    Lit(Arc<str>),
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Int(i) => write!(f, "{i}"),
            Atom::Str(s) | Atom::Lit(s) => write!(f, "{s}"),
            Atom::Seq(items) => {
                write!(f, "[")?;
                for (i, a) in items.iter().enumerate() {
                    write!(f, "{}{a}", if i > 0 { " " } else { "" })?;
                }
                write!(f, "]")
            }
            Atom::Map(kvs) => {
                write!(f, "{{")?;
                for (i, (k, v)) in kvs.iter().enumerate() {
                    write!(f, "{}{k} {v}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, "}}")
            }
        }
    }
}

impl From<i64> for Atom {
    fn from(i: i64) -> Self {
        Atom::Int(i)
    }
}

impl From<&str> for Atom {
    fn from(s: &str) -> Self {
        Atom::Str(Arc::from(s))
    }
}

impl serde::Serialize for Atom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Atom::Int(i) => s.serialize_i64(*i),
            Atom::Str(x) => s.serialize_str(x),
            Atom::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for a in items.iter() {
                    seq.serialize_element(a)?;
                }
                seq.end()
            }
            Atom::Map(kvs) => {
                // JSON keys are strings: a non-string key is written as its EDN text.
                let mut map = s.serialize_map(Some(kvs.len()))?;
                for (k, v) in kvs.iter() {
                    match k {
                        Atom::Str(x) => map.serialize_entry(&**x, v)?,
                        other => map.serialize_entry(&other.to_string(), v)?,
                    }
                }
                map.end()
            }
            Atom::Lit(x) => match &**x {
                "nil" => s.serialize_unit(),
                "true" => s.serialize_bool(true),
                "false" => s.serialize_bool(false),
                text => match text.parse::<f64>() {
                    Ok(f) if f.is_finite() => s.serialize_f64(f),
                    _ => s.serialize_str(text),
                },
            },
        }
    }
}

/// `text` cut to at most about `max` bytes (on a character boundary), with an ellipsis and the
/// full length when anything was cut: errors quote values, and a value can be megabytes long.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// What kind of event an op is: the start of an operation or one of its three outcomes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// A client started the operation; its value holds the arguments.
    Invoke,
    /// The operation certainly happened; its value holds the results.
    Ok,
    /// The operation certainly did not happen.
    Fail,
    /// The outcome is unknown: it may or may not have happened.
    Info,
}

impl OpType {
    /// The name used in EDN and JSON (`invoke`, `ok`, `fail`, `info`).
    pub fn name(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    /// Parses a type name; `None` if it is not one of the four.
    pub fn parse(s: &str) -> Option<OpType> {
        Some(match s {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            _ => return None,
        })
    }
}

/// Who performed an op: a logical client, or the fault injector.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Process {
    /// A logical client. After an `info` completion a client continues under a new number.
    Client(u64),
    /// The nemesis, which injects faults.
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => write!(f, "nemesis"),
        }
    }
}

/// What an op does.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum OpFn {
    /// A transaction of micro-ops (list-append, rw-register).
    Txn,
    /// A counter increment by `value`, or (set workload) the addition of element `value`.
    Add,
    /// A read (counter value, set elements, or bank balances).
    Read,
    /// A bank transfer.
    Transfer,
    /// Anything else (nemesis operations, unknown workloads), kept by name.
    Other(Arc<str>),
}

impl OpFn {
    /// The name used in EDN and JSON.
    pub fn name(&self) -> &str {
        match self {
            OpFn::Txn => "txn",
            OpFn::Add => "add",
            OpFn::Read => "read",
            OpFn::Transfer => "transfer",
            OpFn::Other(s) => s,
        }
    }

    /// Parses a function name; never fails, unknown names become [`OpFn::Other`].
    pub fn parse(s: &str) -> OpFn {
        match s {
            "txn" => OpFn::Txn,
            "add" => OpFn::Add,
            "read" => OpFn::Read,
            "transfer" => OpFn::Transfer,
            other => OpFn::Other(Arc::from(other)),
        }
    }
}

/// What a read micro-op returned.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ReadResult {
    /// `nil`: unknown on an invoke; on a completion, the initial state (an empty list, or a
    /// register never written).
    Nil,
    /// A register's value.
    Scalar(Atom),
    /// A list-append read, stored in the history's [`ListStore`].
    List(ListRef),
}

/// One step of a transaction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Mop {
    /// `["append", k, v]`: append `elem` to the list at `key`.
    Append {
        /// The key appended to.
        key: Atom,
        /// The element appended; unique per key.
        elem: Atom,
    },
    /// `["w", k, v]`: set register `key` to `value`.
    Write {
        /// The register written.
        key: Atom,
        /// The value written; unique per key.
        value: Atom,
    },
    /// `["r", k, v]`: read `key`.
    Read {
        /// The key read.
        key: Atom,
        /// What the read returned.
        value: ReadResult,
    },
}

impl Mop {
    /// The key this micro-op touches.
    pub fn key(&self) -> &Atom {
        match self {
            Mop::Append { key, .. } | Mop::Write { key, .. } | Mop::Read { key, .. } => key,
        }
    }
}

/// The value an op carries, typed by what the op does.
#[derive(Clone, PartialEq, Debug)]
pub enum OpValue {
    /// No value (`nil`), e.g. a read's invoke.
    Nil,
    /// A transaction's micro-ops.
    Txn(Vec<Mop>),
    /// An integer: a counter increment or a counter read.
    Int(i64),
    /// An op on one of several counters, as a `[key, value]` tuple (jepsen.independent's
    /// shape): an add's amount or a read's result. An acknowledged add may carry a third
    /// element, `after`: the counter's value its own transaction saw right after the add.
    /// Every committed add of a positive amount must leave a distinct `after`; two equal ones
    /// mean one increment overwrote the other (a lost update).
    Keyed {
        /// Which counter.
        key: Atom,
        /// The amount added, or the value read; `None` (nil) on a read's invocation.
        value: Option<i64>,
        /// For an acknowledged add: the value the add left, as its transaction read it back.
        after: Option<i64>,
    },
    /// A bank transfer.
    Transfer {
        /// Account debited.
        from: Atom,
        /// Account credited.
        to: Atom,
        /// Amount moved.
        amount: i64,
    },
    /// A bank read: each account and its balance (`None` for a nil balance), sorted by account.
    Balances(Vec<(Atom, Option<i64>)>),
    /// A set read (Jepsen's set workload): the elements read, sorted ascending. Duplicates a
    /// reader wrote (a vector rather than a set) are kept, so nothing read is hidden; a set
    /// holds each element once whatever the count.
    Elements(Vec<i64>),
    /// Anything else (nemesis values, unknown shapes), kept as read.
    Other(datum::Datum),
}

/// One event of a history.
#[derive(Clone, PartialEq, Debug)]
pub struct Op {
    /// Unique, increasing position in the history.
    pub index: u64,
    /// Nanoseconds since the test began, when known.
    pub time: Option<i64>,
    /// Invoke or one of the outcomes.
    pub kind: OpType,
    /// Who performed it.
    pub process: Process,
    /// What it does.
    pub f: OpFn,
    /// Arguments (invoke) or results (completion).
    pub value: OpValue,
    /// Why it failed, when the recorder said.
    pub error: Option<String>,
    /// The SQL statements a transaction executed, when the runner recorded them.
    pub sql: Option<Vec<String>>,
}

/// A whole history: its ops in order and the storage their list reads point into.
#[derive(Debug, Default)]
pub struct History {
    /// Ops in history order.
    pub ops: Vec<Op>,
    /// Storage for list-append reads.
    pub lists: ListStore,
}

impl History {
    /// The elements of a list read.
    pub fn list(&self, r: ListRef) -> &[Atom] {
        self.lists.get(r)
    }

    /// Pairs every invoke with its completion; see [`Pairs`].
    pub fn pairs(&self) -> Pairs {
        Pairs::new(&self.ops)
    }

    /// Counts of ops by type.
    pub fn counts(&self) -> OpCounts {
        let mut c = OpCounts::default();
        for op in &self.ops {
            if op.process == Process::Nemesis {
                c.nemesis += 1;
                continue;
            }
            match op.kind {
                OpType::Invoke => c.invoke += 1,
                OpType::Ok => c.ok += 1,
                OpType::Fail => c.fail += 1,
                OpType::Info => c.info += 1,
            }
        }
        c
    }
}

/// How many ops of each type a history holds (nemesis ops counted apart).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OpCounts {
    /// Client invocations.
    pub invoke: u64,
    /// Client ops known to have happened.
    pub ok: u64,
    /// Client ops known not to have happened.
    pub fail: u64,
    /// Client ops with unknown outcome.
    pub info: u64,
    /// Ops of the fault injector.
    pub nemesis: u64,
}
