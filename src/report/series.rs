//! Time series of a run, computed from its history: what completed in each second, and how long
//! it took. Fault windows (nemesis ops) are kept as intervals so plots can shade them.

use serde::Serialize;

use crate::history::{History, Mop, Op, OpFn, OpType, OpValue, Process};

/// Per-second figures of one kind of op (reads, or everything that writes).
#[derive(Clone, Debug, Default, Serialize)]
pub struct KindSeries {
    /// `ok` completions per second.
    pub ok: Vec<u64>,
    /// `fail` completions per second.
    pub fail: Vec<u64>,
    /// `info` completions per second.
    pub info: Vec<u64>,
    /// Median latency of the second's `ok` ops, in ms (`None` when none completed).
    pub p50_ms: Vec<Option<f64>>,
    /// 99th-percentile latency of the second's `ok` ops, in ms.
    pub p99_ms: Vec<Option<f64>>,
}

/// Per-second figures of one run, reads and writes apart (as Jepsen's rate and latency plots
/// draw each op function apart).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Series {
    /// Seconds since the run began (the start of each bucket).
    pub t: Vec<f64>,
    /// Ops that only read: reads, and transactions of reads only.
    pub reads: KindSeries,
    /// Ops that write: increments, transfers, adds, transactions with a write.
    pub writes: KindSeries,
    /// Fault windows, in seconds since the start.
    pub faults: Vec<(f64, f64)>,
    /// Latency of the whole run's `ok` ops, split as the plots split them: `read` then
    /// `write`, each only when some completed. The run card's latency table, so that its rows
    /// and the plots' lines use one vocabulary.
    pub totals: Vec<(&'static str, crate::run_folder::Latency)>,
}

const BUCKET_NS: i64 = 1_000_000_000;

/// Whether an op only reads.
pub fn is_read(op: &Op) -> bool {
    match (&op.f, &op.value) {
        (OpFn::Read, _) => true,
        (OpFn::Txn, OpValue::Txn(mops)) => mops.iter().all(|m| matches!(m, Mop::Read { .. })),
        _ => false,
    }
}

impl KindSeries {
    fn grow(&mut self, len: usize) {
        for v in [&mut self.ok, &mut self.fail, &mut self.info] {
            v.resize(len, 0);
        }
    }

    fn quantiles(&mut self, lat: &mut [Vec<f64>]) {
        for l in lat {
            l.sort_by(|a, b| a.total_cmp(b));
            let q =
                |p: f64| (!l.is_empty()).then(|| l[((l.len() - 1) as f64 * p).round() as usize]);
            self.p50_ms.push(q(0.5));
            self.p99_ms.push(q(0.99));
        }
    }

    fn truncate(&mut self, secs: usize) {
        for v in [&mut self.ok, &mut self.fail, &mut self.info] {
            v.truncate(secs);
        }
        self.p50_ms.truncate(secs);
        self.p99_ms.truncate(secs);
    }
}

/// Buckets the history's completions by the second they completed in. Ops without times are
/// skipped (histories from other tools may lack them).
pub fn series(h: &History) -> Series {
    let pairs = h.pairs();
    let mut s = Series::default();
    let mut lat: [Vec<Vec<f64>>; 2] = [Vec::new(), Vec::new()];
    for c in &pairs.list {
        let (Some(done), inv) = (c.complete, &h.ops[c.invoke]) else {
            continue;
        };
        let op = &h.ops[done];
        if op.process == Process::Nemesis {
            continue;
        }
        let (Some(t0), Some(t1)) = (inv.time, op.time) else {
            continue;
        };
        let b = (t1.max(0) / BUCKET_NS) as usize;
        if s.t.len() <= b {
            s.t = (0..=b).map(|i| i as f64).collect();
            s.reads.grow(b + 1);
            s.writes.grow(b + 1);
            for l in &mut lat {
                l.resize(b + 1, Vec::new());
            }
        }
        let read = is_read(op) || (op.kind != OpType::Ok && is_read(inv));
        let (k, l) = if read {
            (&mut s.reads, &mut lat[0])
        } else {
            (&mut s.writes, &mut lat[1])
        };
        match op.kind {
            OpType::Ok => {
                k.ok[b] += 1;
                l[b].push((t1 - t0) as f64 / 1e6);
            }
            OpType::Fail => k.fail[b] += 1,
            OpType::Info => k.info[b] += 1,
            OpType::Invoke => {}
        }
    }
    for (kind, l) in ["read", "write"].into_iter().zip(&lat) {
        let mut all: Vec<f64> = l.iter().flatten().copied().collect();
        if all.is_empty() {
            continue;
        }
        all.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
        s.totals.push((
            kind,
            crate::run_folder::Latency {
                count: all.len() as u64,
                p50_ms: q(0.5),
                p90_ms: q(0.9),
                p99_ms: q(0.99),
                max_ms: all[all.len() - 1],
            },
        ));
    }
    let [reads, writes] = &mut lat;
    s.reads.quantiles(reads);
    s.writes.quantiles(writes);
    let mut open: Option<f64> = None;
    for op in &h.ops {
        if op.process != Process::Nemesis {
            continue;
        }
        let Some(t) = op.time.map(|t| t as f64 / 1e9) else {
            continue;
        };
        match (op.kind, open) {
            (OpType::Invoke, None) => open = Some(t),
            (OpType::Info | OpType::Ok, Some(start)) => {
                s.faults.push((start, t));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        s.faults.push((start, s.t.len() as f64));
    }
    s
}

impl Series {
    /// Keeps only the first `secs` whole seconds: the last partial second and the final reads
    /// after the clients stopped would show as a misleading drop.
    pub fn truncate(&mut self, secs: usize) {
        self.t.truncate(secs);
        self.reads.truncate(secs);
        self.writes.truncate(secs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read::read_history_str;

    #[test]
    fn completions_land_in_the_second_they_completed() {
        let h = read_history_str(
            "h.jsonl",
            r#"{"index":0,"time":100000000,"type":"invoke","process":0,"f":"read","value":null}
{"index":1,"time":300000000,"type":"ok","process":0,"f":"read","value":1}
{"index":2,"time":900000000,"type":"invoke","process":1,"f":"add","value":1}
{"index":3,"time":1500000000,"type":"fail","process":1,"f":"add","value":1}
{"index":4,"time":1600000000,"type":"invoke","process":0,"f":"add","value":1}
{"index":5,"time":2600000000,"type":"ok","process":0,"f":"add","value":1}"#,
        )
        .unwrap();
        let s = series(&h);
        assert_eq!(s.reads.ok, vec![1, 0, 0], "the read is a read");
        assert_eq!(s.writes.ok, vec![0, 0, 1]);
        assert_eq!(s.writes.fail, vec![0, 1, 0], "a failed add is a write");
        assert_eq!(s.reads.p50_ms[0], Some(200.0));
        assert_eq!(s.reads.p50_ms[1], None, "no reads completed in second 1");
        assert_eq!(s.writes.p99_ms[2], Some(1000.0));
        // The whole run's table splits ops as the plots do.
        let rows: Vec<(&str, u64)> = s.totals.iter().map(|(k, l)| (*k, l.count)).collect();
        assert_eq!(rows, vec![("read", 1), ("write", 1)]);
        assert_eq!(s.totals[1].1.max_ms, 1000.0);
    }

    #[test]
    fn list_append_transactions_are_reads_or_writes_in_plots_and_table_alike() {
        let h = read_history_str(
            "h.jsonl",
            r#"{"index":0,"time":0,"type":"invoke","process":0,"f":"txn","value":[["r",1,null]]}
{"index":1,"time":2000000,"type":"ok","process":0,"f":"txn","value":[["r",1,[1]]]}
{"index":2,"time":0,"type":"invoke","process":1,"f":"txn","value":[["append",1,2]]}
{"index":3,"time":5000000,"type":"ok","process":1,"f":"txn","value":[["append",1,2]]}"#,
        )
        .unwrap();
        let s = series(&h);
        let kinds: Vec<&str> = s.totals.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, vec!["read", "write"], "no row is called txn");
        assert_eq!(s.totals[0].1.p50_ms, 2.0);
        assert_eq!(s.totals[1].1.p50_ms, 5.0);
    }
}
