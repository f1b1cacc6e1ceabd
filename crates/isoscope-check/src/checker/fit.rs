//! Whether a history's ops are the ops of a workload.
//!
//! A workload given on the command line is trusted over detection, so a history it does not
//! describe (a bank history checked as list-append, say) would otherwise be checked against
//! nothing and come out valid. [`first_misfit`] names the first client op the workload's checker
//! could not read; the check stops there with an error instead.

use crate::history::{History, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult};

use super::explain::op_edn;
use super::Workload;

/// The first client op that is not an op of `w`: its index and why.
pub fn first_misfit(h: &History, w: Workload) -> Option<(u64, String)> {
    h.ops
        .iter()
        .filter(|op| op.process != Process::Nemesis)
        .find_map(|op| {
            misfit(op, w).map(|why| {
                let shown = crate::history::cut(&op_edn(op, &h.lists), 200);
                (op.index, format!("{why}: {shown}"))
            })
        })
}

/// Why `op` is not an op of `w`, or `None` if it is.
fn misfit(op: &Op, w: Workload) -> Option<String> {
    let f_fits = matches!(
        (w, &op.f),
        (Workload::ListAppend | Workload::RwRegister, OpFn::Txn)
            | (Workload::Counter | Workload::Set, OpFn::Add | OpFn::Read)
            | (Workload::Bank, OpFn::Transfer | OpFn::Read)
    );
    // A failed or indeterminate op's value may be anything (Jepsen often puts the error
    // there); only its function must fit.
    let judged = matches!(op.kind, OpType::Invoke | OpType::Ok);
    let fits = f_fits
        && match (w, &op.f, &op.value) {
            _ if !judged => true,
            (_, _, OpValue::Nil) => true,
            (Workload::ListAppend, OpFn::Txn, OpValue::Txn(mops)) => mops.iter().all(|m| {
                matches!(
                    m,
                    Mop::Append { .. }
                        | Mop::Read {
                            value: ReadResult::List(_) | ReadResult::Nil,
                            ..
                        }
                )
            }),
            (Workload::RwRegister, OpFn::Txn, OpValue::Txn(mops)) => mops.iter().all(|m| {
                matches!(
                    m,
                    Mop::Write { .. }
                        | Mop::Read {
                            value: ReadResult::Scalar(_) | ReadResult::Nil,
                            ..
                        }
                )
            }),
            (
                Workload::Counter,
                OpFn::Add | OpFn::Read,
                OpValue::Int(_) | OpValue::Keyed { .. },
            ) => true,
            (Workload::Set, OpFn::Add, OpValue::Int(_)) => true,
            (Workload::Set, OpFn::Read, OpValue::Elements(_)) => true,
            (Workload::Bank, OpFn::Transfer, OpValue::Transfer { .. }) => true,
            (Workload::Bank, OpFn::Read, OpValue::Balances(_)) => true,
            _ => false,
        };
    let expected = match w {
        Workload::ListAppend => "txns of appends and list reads",
        Workload::RwRegister => "txns of writes and register reads",
        Workload::Counter => "adds and reads of integers",
        Workload::Set => "adds of integers and reads of sets",
        Workload::Bank => "transfers and reads of balances",
    };
    (!fits).then(|| format!("does not fit workload {w}, whose ops are {expected}"))
}
