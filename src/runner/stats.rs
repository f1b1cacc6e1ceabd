//! Latency and outcome statistics of a run: one HDR histogram per op kind, counts per outcome,
//! and the error breakdown. Each client keeps its own and they are merged at the end, so the hot
//! path takes no lock.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::errors::ErrorKind;
use crate::run_folder::Latency;

/// Statistics one client gathers.
#[derive(Clone, Default)]
pub struct Stats {
    latency: BTreeMap<&'static str, Histogram<u64>>,
    /// `ok` completions.
    pub ok: u64,
    /// `fail` completions.
    pub fail: u64,
    /// `info` completions.
    pub info: u64,
    /// Failed and indeterminate ops by kind of error.
    pub errors: BTreeMap<ErrorKind, u64>,
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min at 3 significant digits; cannot fail for these bounds.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

impl Stats {
    /// Records an `ok` op of kind `f` that took `d`.
    pub fn ok(&mut self, f: &'static str, d: Duration) {
        self.ok += 1;
        let h = self.latency.entry(f).or_insert_with(histogram);
        h.saturating_record((d.as_micros() as u64).max(1));
    }

    /// Records a failed (`definite`) or indeterminate op.
    pub fn error(&mut self, kind: ErrorKind, definite: bool) {
        if definite {
            self.fail += 1;
        } else {
            self.info += 1;
        }
        *self.errors.entry(kind).or_default() += 1;
    }

    /// Adds another client's statistics.
    pub fn merge(&mut self, o: &Stats) {
        self.ok += o.ok;
        self.fail += o.fail;
        self.info += o.info;
        for (k, n) in &o.errors {
            *self.errors.entry(*k).or_default() += n;
        }
        for (f, h) in &o.latency {
            let mine = self.latency.entry(f).or_insert_with(histogram);
            // Same bounds on both sides, so adding cannot fail.
            let _ = mine.add(h);
        }
    }

    /// Percentiles of `ok` latencies per op kind.
    pub fn latencies(&self) -> BTreeMap<String, Latency> {
        self.latency
            .iter()
            .map(|(f, h)| {
                let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                (
                    f.to_string(),
                    Latency {
                        count: h.len(),
                        p50_ms: ms(0.5),
                        p90_ms: ms(0.9),
                        p99_ms: ms(0.99),
                        max_ms: h.max() as f64 / 1000.0,
                    },
                )
            })
            .collect()
    }
}
