//! Words for findings: ops printed as Jepsen prints them, and cycles told as Elle tells them.
//!
//! ```text
//! Let:
//!   T1 = {:index 3, :type :ok, :process 1, :f :txn, :value [[:append 255 8] [:r 253 [1 3 4]]]}
//!   T2 = ...
//!
//! Then:
//!   - T1 < T2, because T2 observed T1's append of 8 to key 255.
//!   - However, T2 < T1, because T1 did not observe T2's append of 9 to 255: a contradiction!
//! ```
//! Also Graphviz DOT for a cycle, so it can be drawn.

use std::fmt::Write;

use crate::history::{Atom, History, ListStore, Mop, Op, OpValue, ReadResult};

use super::{CycleStep, TxnRef};

/// An atom as EDN: integers bare, names as keywords when they look like one, else strings.
pub fn atom_edn(a: &Atom) -> String {
    if let Some(edn) = a.composite_text() {
        return edn.to_owned();
    }
    match a {
        Atom::Int(i) => i.to_string(),
        Atom::Str(s) => crate::history::edn_name(s),
    }
}

/// A micro-op as EDN, e.g. `[:append 255 8]` or `[:r 253 [1 3 4]]`.
pub fn mop_edn(m: &Mop, lists: &ListStore) -> String {
    match m {
        Mop::Append { key, elem } => format!("[:append {} {}]", atom_edn(key), atom_edn(elem)),
        Mop::Write { key, value } => format!("[:w {} {}]", atom_edn(key), atom_edn(value)),
        Mop::Read { key, value } => format!("[:r {} {}]", atom_edn(key), read_edn(value, lists)),
    }
}

/// A read's result as EDN.
pub fn read_edn(r: &ReadResult, lists: &ListStore) -> String {
    match r {
        ReadResult::Nil => "nil".into(),
        ReadResult::Scalar(a) => atom_edn(a),
        ReadResult::List(l) => list_edn(lists.get(*l)),
    }
}

/// A list as EDN: `[1 2 3]`.
pub fn list_edn(items: &[Atom]) -> String {
    let mut s = String::from("[");
    for (i, a) in items.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&atom_edn(a));
    }
    s.push(']');
    s
}

/// An op's value as EDN.
pub fn value_edn(v: &OpValue, lists: &ListStore) -> String {
    match v {
        OpValue::Nil => "nil".into(),
        OpValue::Txn(mops) => {
            let parts: Vec<String> = mops.iter().map(|m| mop_edn(m, lists)).collect();
            format!("[{}]", parts.join(" "))
        }
        OpValue::Int(i) => i.to_string(),
        OpValue::Keyed { key, value, after } => {
            let v = value.map(|v| v.to_string()).unwrap_or_else(|| "nil".into());
            match after {
                Some(a) => format!("[{} {v} {a}]", atom_edn(key)),
                None => format!("[{} {v}]", atom_edn(key)),
            }
        }
        OpValue::Transfer { from, to, amount } => format!(
            "{{:from {}, :to {}, :amount {amount}}}",
            atom_edn(from),
            atom_edn(to)
        ),
        OpValue::Balances(b) => {
            let parts: Vec<String> = b
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{} {}",
                        atom_edn(k),
                        v.map(|x| x.to_string()).unwrap_or_else(|| "nil".into())
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        OpValue::Elements(e) => {
            let parts: Vec<String> = e.iter().map(i64::to_string).collect();
            format!("#{{{}}}", parts.join(" "))
        }
        OpValue::Other(d) => d.to_string(),
    }
}

/// An op as Jepsen prints it: `{:index 3, :type :ok, :process 1, :f :txn, :value [...]}`.
pub fn op_edn(op: &Op, lists: &ListStore) -> String {
    let mut s = format!("{{:index {}", op.index);
    if let Some(t) = op.time {
        let _ = write!(s, ", :time {t}");
    }
    let process = match op.process {
        crate::history::Process::Client(p) => p.to_string(),
        crate::history::Process::Nemesis => ":nemesis".into(),
    };
    let _ = write!(
        s,
        ", :type :{}, :process {process}, :f :{}, :value {}",
        op.kind.name(),
        op.f.name(),
        value_edn(&op.value, lists)
    );
    if let Some(e) = &op.error {
        let _ = write!(s, ", :error {e:?}");
    }
    s.push('}');
    s
}

/// Why `a` precedes `b` in real time: `a`'s completion (at `a_done`) came before `b`'s
/// invocation (at `b_invoke`); both are op positions.
pub fn realtime(h: &History, a_done: usize, b_invoke: usize, an: &str, bn: &str) -> String {
    let (a, b) = (&h.ops[a_done], &h.ops[b_invoke]);
    let gap = match (a.time, b.time) {
        (Some(x), Some(y)) if y > x => format!(" {:.3} seconds", (y - x) as f64 / 1e9),
        _ => " just".into(),
    };
    format!(
        "{an} completed at index {},{gap} before the invocation of {bn}, at index {}",
        a.index, b.index
    )
}

/// The text of a cycle: the transactions, the steps, and the contradiction.
pub fn cycle_text(txns: &[TxnRef], steps: &[CycleStep]) -> String {
    let mut s = String::from("Let:\n");
    for t in txns {
        let _ = writeln!(s, "  {} = {}", t.name, t.op);
    }
    s.push_str("\nThen:\n");
    for (i, st) in steps.iter().enumerate() {
        if i + 1 == steps.len() {
            let _ = writeln!(
                s,
                "  - However, {} < {}, because {}: a contradiction!",
                st.from, st.to, st.why
            );
        } else {
            let _ = writeln!(s, "  - {} < {}, because {}.", st.from, st.to, st.why);
        }
    }
    s
}

/// A cycle as a Graphviz DOT digraph: one box per transaction, one labelled arrow per step.
pub fn cycle_dot(title: &str, txns: &[TxnRef], steps: &[CycleStep]) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut s = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"sans-serif\", fontsize=10];\n  labelloc=t;\n  label=\"{}\";\n",
        esc(title),
        esc(title)
    );
    for t in txns {
        let label = format!("{} (process {})\\n{}", t.name, t.process, esc(&t.op));
        let _ = writeln!(s, "  {} [label=\"{}\"];", t.name, label);
    }
    for st in steps {
        let color = match st.kind {
            super::graph::EdgeKind::WW => "#1f77b4",
            super::graph::EdgeKind::WR => "#2ca02c",
            super::graph::EdgeKind::RW => "#d62728",
            super::graph::EdgeKind::Process => "#9467bd",
            super::graph::EdgeKind::Realtime => "#7f7f7f",
        };
        let _ = writeln!(
            s,
            "  {} -> {} [label=\"{}\", color=\"{color}\", fontcolor=\"{color}\", tooltip=\"{}\"];",
            st.from,
            st.to,
            st.kind,
            esc(&st.why)
        );
    }
    s.push_str("}\n");
    s
}
