//! The bank workload: transfers between accounts, and reads of every balance at once.
//!
//! This is Jepsen's `jepsen.tests.bank` checker as elle-cli runs it. Transfers move money but
//! never create or destroy it, so every `ok` read, taken in one snapshot, must see exactly the
//! accounts there are, each with a balance, adding up to the total, and (unless negative
//! balances are allowed) none below zero. Each read is tested in Jepsen's order and only its
//! first error is reported, so one bad read is one finding:
//!
//! 1. [`Anomaly::WrongN`]: the read saw a different number of accounts. This one is not in
//!    `jepsen.tests.bank`; it comes from the older per-database bank checkers (such as TiDB's),
//!    and is tried first so that a missing account is named as such rather than as a wrong total.
//! 2. [`Anomaly::UnexpectedKey`]: an account that is not one of the accounts.
//! 3. [`Anomaly::NilBalance`]: an account with no balance.
//! 4. [`Anomaly::WrongTotal`]: the balances do not add up to the total.
//! 5. [`Anomaly::NegativeValue`]: a negative balance.
//!
//! As in elle-cli, the accounts are those of the first `ok` read and the total, unless given
//! ([`CheckOptions::bank_total`]), is the sum of that read's balances. Transfers are not
//! checked: only reads can show an anomaly, and a failed transfer may carry any value (TiDB's
//! histories record `[:negative 2 -1]`).

use std::fmt::Write as _;

use crate::history::{Atom, History, Op, OpFn, OpType, OpValue, Process};

use super::{Anomaly, AnomalySet, CheckError, CheckOptions, Finding, Findings, LookedFor};

/// A read's balances: each account with its balance (`None` for nil), sorted by account.
type Balances = [(Atom, Option<i64>)];

/// How many balances an explanation prints before it elides the rest.
const SHOWN: usize = 16;

/// Checks a bank history the way `jepsen.tests.bank/checker` does (with elle-cli's defaults):
/// every `ok` read must see the accounts of the first `ok` read, each with a balance, summing
/// to the total ([`CheckOptions::bank_total`], or else the first read's sum), and, unless
/// [`CheckOptions::negative_balances`], no negative balance.
///
/// Each bad read gives exactly one finding, for the first rule it breaks in the order
/// wrong-n, unexpected-key, nil-balance, wrong-total, negative-value; the finding names the
/// read's completion. A nil `ok` read counts as a read of no accounts. Errors with
/// [`CheckError::BadOp`] when an `ok` read returned something other than balances.
pub fn check(h: &History, opts: &CheckOptions, f: &mut Findings) -> Result<LookedFor, CheckError> {
    let mut reads: Vec<(&Op, &Balances)> = Vec::new();
    for op in &h.ops {
        if op.process == Process::Nemesis || op.kind != OpType::Ok || op.f != OpFn::Read {
            continue;
        }
        match &op.value {
            OpValue::Balances(b) => reads.push((op, b)),
            OpValue::Nil => reads.push((op, &[])),
            _ => {
                return Err(CheckError::BadOp {
                    index: op.index,
                    message: "an ok bank read must return a map of account balances".into(),
                })
            }
        }
    }

    let kinds = AnomalySet::of(&[
        Anomaly::WrongN,
        Anomaly::UnexpectedKey,
        Anomaly::NilBalance,
        Anomaly::WrongTotal,
        Anomaly::NegativeValue,
    ]);
    let looked_for = LookedFor {
        relevant: kinds,
        searched: kinds,
        nothing_to_check: reads.is_empty(),
    };

    // The accounts and the total, from the first read that saw balances.
    let Some(first) = h.ops.iter().find_map(|op| match &op.value {
        OpValue::Balances(b)
            if op.kind == OpType::Ok && op.f == OpFn::Read && op.process != Process::Nemesis =>
        {
            Some((op, b))
        }
        _ => None,
    }) else {
        return Ok(looked_for);
    };
    // Sorted and unique, so membership is a binary search.
    let mut accounts: Vec<&Atom> = first.1.iter().map(|(a, _)| a).collect();
    accounts.sort();
    accounts.dedup();
    let (total, total_from) = match opts.bank_total {
        Some(t) => (i128::from(t), String::from("the given total")),
        None => (
            first.1.iter().filter_map(|(_, b)| *b).map(i128::from).sum(),
            format!("the total of the first read, at index {}", first.0.index),
        ),
    };
    let bank = Bank {
        accounts: &accounts,
        total,
        total_from: &total_from,
        negative_ok: opts.negative_balances,
    };

    for (op, balances) in reads {
        if let Some(anomaly) = bank.first_error(balances) {
            f.add(anomaly, || bank.explain(anomaly, op, balances));
        }
    }
    Ok(looked_for)
}

/// What every read is held to.
struct Bank<'a> {
    /// The accounts, sorted and unique.
    accounts: &'a [&'a Atom],
    /// What the balances must add up to.
    total: i128,
    /// Where the total came from, for explanations.
    total_from: &'a str,
    /// Whether negative balances are allowed.
    negative_ok: bool,
}

impl Bank<'_> {
    fn known(&self, a: &Atom) -> bool {
        self.accounts.binary_search(&a).is_ok()
    }

    /// The first rule the read breaks, in Jepsen's order (wrong-n first).
    fn first_error(&self, b: &Balances) -> Option<Anomaly> {
        if b.len() != self.accounts.len() {
            Some(Anomaly::WrongN)
        } else if b.iter().any(|(a, _)| !self.known(a)) {
            Some(Anomaly::UnexpectedKey)
        } else if b.iter().any(|(_, v)| v.is_none()) {
            Some(Anomaly::NilBalance)
        } else if sum(b) != self.total {
            Some(Anomaly::WrongTotal)
        } else if !self.negative_ok && b.iter().any(|(_, v)| v.is_some_and(|v| v < 0)) {
            Some(Anomaly::NegativeValue)
        } else {
            None
        }
    }

    fn explain(&self, anomaly: Anomaly, op: &Op, b: &Balances) -> Finding {
        let intro = format!("Read at index {} (process {})", op.index, op.process);
        let explanation = match anomaly {
            Anomaly::WrongN => {
                let missing: Vec<&Atom> = self
                    .accounts
                    .iter()
                    .copied()
                    .filter(|a| !b.iter().any(|(k, _)| k == *a))
                    .collect();
                let unexpected: Vec<&Atom> = b
                    .iter()
                    .map(|(a, _)| a)
                    .filter(|a| !self.known(a))
                    .collect();
                let mut why = Vec::new();
                if !missing.is_empty() {
                    why.push(format!("missing {}", accounts_word(&missing)));
                }
                if !unexpected.is_empty() {
                    why.push(format!("unexpected {}", accounts_word(&unexpected)));
                }
                format!(
                    "{intro} saw {} account{}, but the first read saw {}: {}.",
                    b.len(),
                    plural(b.len()),
                    self.accounts.len(),
                    why.join("; ")
                )
            }
            Anomaly::UnexpectedKey => {
                let unexpected: Vec<&Atom> = b
                    .iter()
                    .map(|(a, _)| a)
                    .filter(|a| !self.known(a))
                    .collect();
                format!(
                    "{intro} saw {}, which the first read did not have (its accounts are {}).",
                    accounts_word(&unexpected),
                    list(self.accounts.iter().copied())
                )
            }
            Anomaly::NilBalance => {
                let nils: Vec<&Atom> = b
                    .iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(a, _)| a)
                    .collect();
                format!(
                    "{intro} saw no balance (nil) for {}; every account always has one.",
                    accounts_word(&nils)
                )
            }
            Anomaly::WrongTotal => {
                let s = sum(b);
                let diff = if s < self.total {
                    format!("{} missing", self.total - s)
                } else {
                    format!("{} extra", s - self.total)
                };
                format!(
                    "{intro} saw balances {} adding up to {s}, not the total {} ({diff}); transfers \
                     only move money, so the total is {}.",
                    balances(b),
                    self.total,
                    self.total_from
                )
            }
            _ => {
                let neg: Vec<String> = b
                    .iter()
                    .filter_map(|(a, v)| {
                        v.filter(|v| *v < 0)
                            .map(|v| format!("account {a} with balance {v}"))
                    })
                    .collect();
                format!(
                    "{intro} saw {}; balances may not go negative.",
                    join_and(&neg)
                )
            }
        };
        Finding {
            anomaly,
            explanation,
            ops: vec![op.index],
            txns: vec![],
            steps: vec![],
        }
    }
}

/// The sum of the known balances, wide enough that no i64 balances overflow it.
fn sum(b: &Balances) -> i128 {
    b.iter().filter_map(|(_, v)| *v).map(i128::from).sum()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// "account 7" or "accounts 3, 5".
fn accounts_word(a: &[&Atom]) -> String {
    format!("account{} {}", plural(a.len()), list(a.iter().copied()))
}

/// A comma-separated list, elided after [`SHOWN`] items.
fn list<'a>(items: impl ExactSizeIterator<Item = &'a Atom>) -> String {
    let n = items.len();
    let mut s = String::new();
    for (i, a) in items.take(SHOWN).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{a}");
    }
    if n > SHOWN {
        let _ = write!(s, ", ... ({n} in all)");
    }
    s
}

/// `{0: 10, 1: 50, 2: nil}`, elided after [`SHOWN`] accounts.
fn balances(b: &Balances) -> String {
    let mut s = String::from("{");
    for (i, (a, v)) in b.iter().take(SHOWN).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match v {
            Some(v) => write!(s, "{a}: {v}"),
            None => write!(s, "{a}: nil"),
        }
        .ok();
    }
    if b.len() > SHOWN {
        let _ = write!(s, ", ... ({} accounts)", b.len());
    }
    s.push('}');
    s
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::history::read::read_history_str;

    fn run_with(text: &str, opts: &CheckOptions) -> (Findings, LookedFor) {
        let h = read_history_str("bank.edn", text).expect("history parses");
        let mut f = Findings::new(8);
        let lf = check(&h, opts, &mut f).expect("history checks");
        (f, lf)
    }

    fn run(text: &str) -> (Findings, LookedFor) {
        run_with(text, &CheckOptions::default())
    }

    /// A first read of `{0 10, 1 10}` (total 20), then a transfer, then a read returning `second`.
    fn two_reads(second: &str) -> String {
        format!(
            "{{:type :invoke, :f :read, :process 0, :index 0}}
{{:type :ok, :f :read, :value {{0 10, 1 10}}, :process 0, :index 1}}
{{:type :invoke, :f :transfer, :value {{:from 0, :to 1, :amount 5}}, :process 1, :index 2}}
{{:type :ok, :f :transfer, :value {{:from 0, :to 1, :amount 5}}, :process 1, :index 3}}
{{:type :invoke, :f :read, :process 0, :index 4}}
{{:type :ok, :f :read, :value {second}, :process 0, :index 5}}
"
        )
    }

    /// Runs `two_reads(second)` and returns the one anomaly found (if any) and its explanation.
    fn only(second: &str) -> Option<(Anomaly, String)> {
        let (f, lf) = run(&two_reads(second));
        assert!(!lf.nothing_to_check);
        let found: Vec<Anomaly> = f.found().iter().collect();
        assert!(found.len() <= 1, "{second}: {found:?}");
        let a = *found.first()?;
        let g = &f.groups[&a];
        assert_eq!(g.count, 1, "{second}");
        assert_eq!(g.examples[0].ops, vec![5]);
        Some((a, g.examples[0].explanation.clone()))
    }

    #[test]
    fn a_read_after_a_transfer_is_valid() {
        assert_eq!(only("{0 5, 1 15}"), None);
    }

    #[test]
    fn missing_account_is_wrong_n() {
        let (a, e) = only("{0 20}").unwrap();
        assert_eq!(a, Anomaly::WrongN);
        assert!(
            e.contains("saw 1 account, but the first read saw 2: missing account 1"),
            "{e}"
        );
        // Its twin with both accounts is fine.
        assert_eq!(only("{0 0, 1 20}"), None);
    }

    #[test]
    fn extra_account_is_wrong_n_first() {
        let (a, e) = only("{0 5, 1 5, 2 10}").unwrap();
        assert_eq!(a, Anomaly::WrongN);
        assert!(e.contains("unexpected account 2"), "{e}");
    }

    #[test]
    fn unknown_account_is_unexpected_key() {
        let (a, e) = only("{0 10, 7 10}").unwrap();
        assert_eq!(a, Anomaly::UnexpectedKey);
        assert!(
            e.contains("saw account 7, which the first read did not have"),
            "{e}"
        );
        assert_eq!(only("{0 10, 1 10}"), None);
    }

    #[test]
    fn nil_balance_is_reported_before_the_total() {
        let (a, e) = only("{0 10, 1 nil}").unwrap();
        assert_eq!(a, Anomaly::NilBalance);
        assert!(e.contains("no balance (nil) for account 1"), "{e}");
        assert_eq!(only("{0 10, 1 10}"), None);
    }

    #[test]
    fn balances_not_adding_up_are_wrong_total() {
        let (a, e) = only("{0 10, 1 9}").unwrap();
        assert_eq!(a, Anomaly::WrongTotal);
        assert!(
            e.contains("saw balances {0: 10, 1: 9} adding up to 19, not the total 20 (1 missing)"),
            "{e}"
        );
        let (a, e) = only("{0 10, 1 11}").unwrap();
        assert_eq!(a, Anomaly::WrongTotal);
        assert!(e.contains("(1 extra)"), "{e}");
        assert_eq!(only("{0 1, 1 19}"), None);
    }

    #[test]
    fn negative_balance_is_negative_value() {
        let (a, e) = only("{0 -1, 1 21}").unwrap();
        assert_eq!(a, Anomaly::NegativeValue);
        assert!(
            e.contains("saw account 0 with balance -1; balances may not go negative"),
            "{e}"
        );
        assert_eq!(only("{0 0, 1 20}"), None);
    }

    #[test]
    fn negative_balances_can_be_allowed() {
        let opts = CheckOptions {
            negative_balances: true,
            ..CheckOptions::default()
        };
        let (f, _) = run_with(&two_reads("{0 -1, 1 21}"), &opts);
        assert!(f.found().is_empty());
        // A wrong total is still wrong.
        let (f, _) = run_with(&two_reads("{0 -1, 1 20}"), &opts);
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::WrongTotal]));
    }

    #[test]
    fn total_comes_from_the_first_read_unless_given() {
        // The first read sums to 20: every later read must too, whatever the "usual" 100 is.
        assert_eq!(only("{0 20, 1 0}"), None);
        // Given a total of 100, both reads are wrong.
        let opts = CheckOptions {
            bank_total: Some(100),
            ..CheckOptions::default()
        };
        let (f, _) = run_with(&two_reads("{0 20, 1 0}"), &opts);
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::WrongTotal]));
        assert_eq!(f.groups[&Anomaly::WrongTotal].count, 2);
        assert!(f.groups[&Anomaly::WrongTotal].examples[0]
            .explanation
            .contains("the given total"));
    }

    #[test]
    fn failed_transfers_with_odd_values_are_tolerated() {
        let text = "{:type :invoke, :f :read, :process 0, :index 0}
{:type :ok, :f :read, :value {0 10, 1 10}, :process 0, :index 1}
{:type :invoke, :f :transfer, :value {:from 1, :to 0, :amount 11}, :process 1, :index 2}
{:type :fail, :f :transfer, :value [:negative 1 -1], :process 1, :index 3}
{:type :invoke, :f :read, :process 0, :index 4}
{:type :info, :f :read, :process 0, :index 5}
";
        let (f, lf) = run(text);
        assert!(f.found().is_empty());
        assert!(!lf.nothing_to_check);
    }

    #[test]
    fn no_ok_reads_is_nothing_to_check() {
        let text = "{:type :invoke, :f :read, :process 0, :index 0}
{:type :fail, :f :read, :process 0, :index 1}
";
        let (f, lf) = run(text);
        assert!(f.found().is_empty());
        assert!(lf.nothing_to_check);
    }

    fn run_file(name: &str) -> Findings {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/elle-cli")
            .join(name);
        let h = crate::history::read_history(&path).expect("corpus file parses");
        let mut f = Findings::new(8);
        let lf = check(&h, &CheckOptions::default(), &mut f).expect("corpus file checks");
        assert!(!lf.nothing_to_check, "{name}");
        f
    }

    #[test]
    fn corpus_valid_bank_histories_have_no_findings() {
        for name in ["bank.edn", "bank.json", "bank-neg.edn"] {
            let f = run_file(name);
            assert!(f.found().is_empty(), "{name}: {:?}", f.groups);
        }
    }

    #[test]
    fn corpus_negative_balances_json_is_negative_value() {
        let f = run_file("bank-negative-balances.json");
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::NegativeValue]));
        let ex = &f.groups[&Anomaly::NegativeValue].examples[0];
        assert_eq!(ex.ops, vec![3]);
        assert!(
            ex.explanation.contains("account 7 with balance -1"),
            "{}",
            ex.explanation
        );
    }

    #[test]
    fn corpus_tidb_bank_history_is_invalid() {
        let f = run_file("bank-tidb.edn");
        for (a, g) in &f.groups {
            eprintln!(
                "bank-tidb.edn: {a}: {} (first: {})",
                g.count, g.examples[0].explanation
            );
        }
        // Checked independently: 1805 ok reads over 8 accounts, 1731 of them summing to
        // something other than the first read's 100 (from 97 up to 267), none negative.
        assert_eq!(f.found(), AnomalySet::of(&[Anomaly::WrongTotal]));
        assert_eq!(f.groups[&Anomaly::WrongTotal].count, 1731);
        assert_eq!(f.groups[&Anomaly::WrongTotal].examples[0].ops, vec![258]);
    }
}
