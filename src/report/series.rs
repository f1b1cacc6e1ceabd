//! Time series of a run, computed from its history: what completed in each second, and how long
//! it took. Fault windows (nemesis ops) are kept as intervals so plots can shade them.

use serde::Serialize;

use crate::history::{History, OpType, Process};

/// Per-second figures of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Series {
    /// Seconds since the run began (the start of each bucket).
    pub t: Vec<f64>,
    /// `ok` completions per second.
    pub ok: Vec<u64>,
    /// `fail` completions per second.
    pub fail: Vec<u64>,
    /// `info` completions per second.
    pub info: Vec<u64>,
    /// Median latency of the bucket's `ok` ops, in ms (0 when none).
    pub p50_ms: Vec<f64>,
    /// 99th-percentile latency of the bucket's `ok` ops, in ms.
    pub p99_ms: Vec<f64>,
    /// Fault windows, in seconds since the start.
    pub faults: Vec<(f64, f64)>,
}

const BUCKET_NS: i64 = 1_000_000_000;

/// Buckets the history's completions by the second they completed in. Ops without times are
/// skipped (histories from other tools may lack them).
pub fn series(h: &History) -> Series {
    let pairs = h.pairs();
    let mut lat: Vec<Vec<f64>> = Vec::new();
    let mut s = Series::default();
    let grow = |s: &mut Series, lat: &mut Vec<Vec<f64>>, b: usize| {
        while s.ok.len() <= b {
            s.t.push(s.ok.len() as f64);
            s.ok.push(0);
            s.fail.push(0);
            s.info.push(0);
            lat.push(Vec::new());
        }
    };
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
        grow(&mut s, &mut lat, b);
        match op.kind {
            OpType::Ok => {
                s.ok[b] += 1;
                lat[b].push((t1 - t0) as f64 / 1e6);
            }
            OpType::Fail => s.fail[b] += 1,
            OpType::Info => s.info[b] += 1,
            OpType::Invoke => {}
        }
    }
    for l in &mut lat {
        l.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| {
            if l.is_empty() {
                0.0
            } else {
                l[((l.len() - 1) as f64 * p).round() as usize]
            }
        };
        s.p50_ms.push(q(0.5));
        s.p99_ms.push(q(0.99));
    }
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
        for v in [&mut self.ok, &mut self.fail, &mut self.info] {
            v.truncate(secs);
        }
        self.t.truncate(secs);
        self.p50_ms.truncate(secs);
        self.p99_ms.truncate(secs);
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
        assert_eq!(s.ok, vec![1, 0, 1]);
        assert_eq!(s.fail, vec![0, 1, 0]);
        assert!((s.p50_ms[0] - 200.0).abs() < 1e-9);
        assert!((s.p99_ms[2] - 1000.0).abs() < 1e-9);
    }
}
