//! A run as a user asks for it: the target, the workload by name, the limits and knobs. It
//! becomes a [`RunConfig`], and it is also the one source of the command line that reproduces
//! the run (`run.json`'s `command`, the report's "reproduce"): rendered from the parsed values,
//! never copied from the process's arguments, so a password given in any spelling of `--url`
//! is masked, and `compare` builds each cell's command the same way as `run`.

use std::path::PathBuf;
use std::time::Duration;

use super::target::Server;
use super::{ReadsOn, RunConfig, RunError};
use crate::faults::NemesisPlan;
use crate::workload::{CounterStyle, Isolation, WorkloadSpec};

/// A run as asked for. `None` knobs keep the workload's (or preset's) values.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The server: a target isoscope starts (with its settings), or one given by URL.
    pub server: Server,
    /// The workload's name or preset file, as given.
    pub workload: String,
    /// The isolation level.
    pub isolation: Isolation,
    /// Concurrent clients.
    pub clients: u32,
    /// Time limit.
    pub time: Option<Duration>,
    /// Op limit.
    pub ops: Option<u64>,
    /// Ops per second across all clients.
    pub rate: Option<f64>,
    /// Per-op timeout.
    pub op_timeout: Duration,
    /// Seed of the op stream.
    pub seed: u64,
    /// Keys.
    pub keys: Option<u32>,
    /// Fewest micro-ops per transaction.
    pub min_txn_len: Option<u32>,
    /// Most micro-ops per transaction.
    pub max_txn_len: Option<u32>,
    /// Fraction of reads.
    pub read_fraction: Option<f64>,
    /// Writes to a key before it is retired.
    pub max_writes_per_key: Option<u32>,
    /// Counter increments.
    pub counter_style: Option<CounterStyle>,
    /// Faults.
    pub nemesis: Option<NemesisPlan>,
    /// Where read-only transactions go in a cluster.
    pub reads_on: ReadsOn,
}

impl RunRequest {
    /// The workload's parameters: the named workload or preset, then the knobs given. A knob
    /// that does not fit the others is refused, never adjusted.
    pub fn spec(&self) -> Result<WorkloadSpec, RunError> {
        let mut spec = WorkloadSpec::named(&self.workload).map_err(RunError::Config)?;
        if let Some(k) = self.keys {
            spec.keys = k;
        }
        if let Some(n) = self.min_txn_len {
            spec.min_txn_len = n;
        }
        if let Some(n) = self.max_txn_len {
            spec.max_txn_len = n;
        }
        if let Some(r) = self.read_fraction {
            spec.read_fraction = r;
        }
        if let Some(m) = self.max_writes_per_key {
            spec.max_writes_per_key = m;
        }
        if let Some(s) = self.counter_style {
            spec.counter_style = s;
        }
        spec.validate().map_err(RunError::Config)?;
        Ok(spec)
    }

    /// The time limit: `time`, else none if an op limit is given, else 10 s.
    pub fn duration(&self) -> Option<Duration> {
        match (self.time, self.ops) {
            (Some(t), _) => Some(t),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        }
    }

    /// The configuration of the run, writing into `out_dir`; checked whole.
    pub fn config(&self, out_dir: PathBuf, progress: bool) -> Result<RunConfig, RunError> {
        let cfg = RunConfig {
            spec: self.spec()?,
            seed: self.seed,
            clients: self.clients,
            duration: self.duration(),
            max_ops: self.ops,
            rate: self.rate,
            op_timeout: self.op_timeout,
            isolation: self.isolation,
            out_dir,
            progress,
            command: self.command(),
            nemesis: self.nemesis.clone(),
            reads_on: self.reads_on,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The command that reproduces the run, with the seed it used and any password masked.
    pub fn command(&self) -> String {
        let mut a: Vec<String> = vec!["isoscope".into(), "run".into()];
        let mut flag = |name: &str, value: String| {
            a.push(format!("--{name}"));
            // Quoted where a shell would split or glob it: `--db 'mariadb[k=v]'`.
            a.push(if value.contains([' ', '\'', '"', '[', ']', '*', '?']) {
                format!("'{value}'")
            } else {
                value
            });
        };
        match &self.server {
            Server::Managed(t, _) => flag("db", t.to_string()),
            Server::External(ep, f) => {
                flag("url", ep.redacted());
                flag("flavor", f.name().into());
            }
        }
        flag("workload", self.workload.clone());
        flag("isolation", self.isolation.name().into());
        flag("clients", self.clients.to_string());
        if let Some(t) = self.time {
            flag("time", humantime::format_duration(t).to_string());
        }
        if let Some(n) = self.ops {
            flag("ops", n.to_string());
        }
        if let Some(r) = self.rate {
            flag("rate", r.to_string());
        }
        if self.op_timeout != Duration::from_secs(5) {
            flag(
                "op-timeout",
                humantime::format_duration(self.op_timeout).to_string(),
            );
        }
        flag("seed", self.seed.to_string());
        let knobs = [
            ("keys", self.keys.map(|v| v.to_string())),
            ("min-txn-len", self.min_txn_len.map(|v| v.to_string())),
            ("max-txn-len", self.max_txn_len.map(|v| v.to_string())),
            ("read-fraction", self.read_fraction.map(|v| v.to_string())),
            (
                "max-writes-per-key",
                self.max_writes_per_key.map(|v| v.to_string()),
            ),
            (
                "counter-style",
                self.counter_style.map(|s| s.name().to_string()),
            ),
        ];
        for (name, v) in knobs {
            if let Some(v) = v {
                flag(name, v);
            }
        }
        if self.reads_on != ReadsOn::default() {
            flag("reads-on", self.reads_on.name().into());
        }
        if let Some(p) = &self.nemesis {
            flag("nemesis", p.label());
            flag(
                "nemesis-interval",
                humantime::format_duration(p.interval).to_string(),
            );
        }
        a.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::target::Target;
    use crate::server::{Endpoint, Flavor};

    fn request(server: Server) -> RunRequest {
        RunRequest {
            server,
            workload: "bank".into(),
            isolation: Isolation::Serializable,
            clients: 3,
            time: Some(Duration::from_secs(2)),
            ops: None,
            rate: None,
            op_timeout: Duration::from_secs(5),
            seed: 7,
            keys: None,
            min_txn_len: None,
            max_txn_len: Some(3),
            read_fraction: None,
            max_writes_per_key: None,
            counter_style: None,
            nemesis: None,
            reads_on: ReadsOn::default(),
        }
    }

    #[test]
    fn the_command_never_holds_the_password_and_reproduces_the_run() {
        let ep = Endpoint::parse("mysql://root:secret@db.example:3307/shop").unwrap();
        let c = request(Server::External(ep, Flavor::Mysql)).command();
        assert!(!c.contains("secret"), "{c}");
        assert_eq!(
            c,
            "isoscope run --url 'mysql://root:***@db.example:3307/shop' --flavor mysql \
             --workload bank --isolation serializable --clients 3 --time 2s --seed 7 \
             --max-txn-len 3"
        );
    }

    #[test]
    fn the_command_names_the_target_with_its_settings_quoted_for_a_shell() {
        let t: Target = "mariadb[innodb_snapshot_isolation=ON,max_connections=123]"
            .parse()
            .unwrap();
        let c = request(Server::Managed(t, Default::default())).command();
        assert!(
            c.starts_with(
                "isoscope run --db 'mariadb[innodb_snapshot_isolation=ON,max_connections=123]' \
                 --workload bank"
            ),
            "{c}"
        );
    }

    #[test]
    fn knobs_that_do_not_fit_are_refused_not_adjusted() {
        let mut r = request(Server::Managed(
            Target::plain(Flavor::MariaDb),
            Default::default(),
        ));
        r.workload = "list-append".into();
        r.min_txn_len = Some(5);
        r.max_txn_len = Some(2);
        let e = r.config(PathBuf::from("x"), false).unwrap_err().to_string();
        assert!(e.contains("min (5) <= max (2)"), "{e}");
        r.min_txn_len = None;
        for (clients, rate, time, why) in [
            (0, None, 2, "--clients"),
            (1, Some(0.0), 2, "--rate"),
            (1, Some(-1.0), 2, "--rate"),
            (1, Some(f64::NAN), 2, "--rate"),
            (1, Some(1e-300), 2, "--rate"),
            (1, None, u64::MAX, "--time"),
        ] {
            r.clients = clients;
            r.rate = rate;
            r.time = Some(Duration::from_secs(time));
            let e = r.config(PathBuf::from("x"), false).unwrap_err().to_string();
            assert!(e.starts_with(why), "{clients} {rate:?} {time}: {e}");
        }
    }
}
