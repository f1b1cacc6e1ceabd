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
pub mod builder;
pub mod datum;
mod edn;
mod edn_forms;
mod json_ops;
mod json_text;
pub mod lists;
pub mod pairs;
pub mod read;
mod read_error;
mod sniff;
pub mod write;

use std::fmt;
use std::sync::Arc;

pub use builder::{HistoryBuilder, Step};
pub use lists::{ListRef, ListStore};
pub use pairs::{Completion, Pairs};
pub use read::{read_history, ReadError};

/// A value in a history used as a key, a written value or a list element.
///
/// EDN keywords and JSON strings both become [`Atom::Str`] (without the leading colon), so
/// `:x` and `"x"` name the same key. Any other value Elle accepts (a vector such as
/// `[:anti 1]`, a map, nil, a boolean, a float) is a *composite* atom: a `Str` holding its
/// canonical EDN text behind a marker byte, so that `[:anti 1]` and `["anti", 1]` are the same
/// key and an atom stays 16 bytes (a million-element read holds a million of them).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Atom {
    /// An integer, the common case.
    Int(i64),
    /// A string, keyword or symbol; or a composite value (see [`Atom::composite`]).
    Str(Arc<str>),
}

/// Marks a [`Atom::Str`] as a composite value's EDN text rather than a name.
const COMPOSITE: char = '\u{0}';

impl Atom {
    /// A composite value, from its canonical EDN text (keywords and name-like strings written
    /// `:name`, map entries sorted).
    pub fn composite(edn: &str) -> Atom {
        Atom::Str(Arc::from(format!("{COMPOSITE}{edn}")))
    }

    /// The EDN text of a composite value; `None` for integers and names.
    pub fn composite_text(&self) -> Option<&str> {
        match self {
            Atom::Str(s) => s.strip_prefix(COMPOSITE),
            Atom::Int(_) => None,
        }
    }
}

/// A name as EDN writes it: a keyword (`:name`) when it can be one, else a quoted string.
pub fn edn_name(s: &str) -> String {
    let keyword = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "-_*+!?<>=./".contains(c));
    if keyword {
        format!(":{s}")
    } else {
        format!("{s:?}")
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Int(i) => write!(f, "{i}"),
            Atom::Str(s) => write!(f, "{}", s.strip_prefix(COMPOSITE).unwrap_or(s)),
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
    /// Integers as numbers, names as strings, composite values as their EDN text.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Atom::Int(i) => s.serialize_i64(*i),
            Atom::Str(x) => s.serialize_str(x.strip_prefix(COMPOSITE).unwrap_or(x)),
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
///
/// Names (serde's and strum's) are lowercase: `invoke`, `ok`, `fail`, `info`, as in EDN and JSON;
/// `str::parse` reads them (one `match`, on the reader's hot path).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::IntoStaticStr, strum::EnumString, strum::VariantArray)]
#[strum(serialize_all = "lowercase")]
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
        self.into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_type_names_agree_in_serde_and_parse_back() {
        let names = crate::names::serde_names::<OpType>();
        assert_eq!(names, ["invoke", "ok", "fail", "info"]);
        for (&t, name) in <OpType as strum::VariantArray>::VARIANTS.iter().zip(names) {
            assert_eq!(t.name(), name);
            assert_eq!(name.parse::<OpType>(), Ok(t));
        }
        for bad in ["Ok", "okay", ":ok", ""] {
            assert!(bad.parse::<OpType>().is_err(), "{bad:?}");
        }
    }
}
