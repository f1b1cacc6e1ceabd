//! Workloads: what the clients ask of the database, and how each request becomes SQL.
//!
//! A workload has two halves that never meet the network at the same time:
//! - a [`Generator`], seeded, that makes the stream of operations (the same seed gives the same
//!   stream; clients take the next op from one shared generator, as in Jepsen);
//! - an executor ([`execute`]) that runs one op on one connection as one transaction and says what
//!   it observed, plus the SQL it ran (kept with the op, so a report can show it).
//!
//! Each workload lives in its own module with its schema, its generator state and its SQL:
//! [`counter`], [`bank`], [`register`], [`list_append`], [`set`]. Presets in `workloads/*.toml` fill a
//! [`WorkloadSpec`]; command-line flags override them.

pub mod bank;
pub mod counter;
pub mod list_append;
pub mod register;
pub mod session;
pub mod set;

use std::path::Path;

use mysql_async::prelude::*;
use mysql_async::Conn;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checker;
use crate::history::{Atom, Mop, OpFn, OpValue, ReadResult};

/// Which workload runs: the checker's [`Workload`], one enum for the idea everywhere (the
/// runner, the checker, the simulator, the command line and presets).
pub use crate::checker::Workload;

/// How counter increments are written.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CounterStyle {
    /// `UPDATE c SET v = v + 1`: the database computes the new value.
    Atomic,
    /// `SELECT v`, then `UPDATE c SET v = <read + 1>`, in one transaction.
    #[value(alias = "rmw")]
    ReadModifyWrite,
}

impl CounterStyle {
    /// The name on the command line and in presets (clap's and serde's).
    pub fn name(self) -> &'static str {
        match self {
            CounterStyle::Atomic => "atomic",
            CounterStyle::ReadModifyWrite => "read-modify-write",
        }
    }
}

/// The SQL isolation level clients ask for.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// READ UNCOMMITTED.
    ReadUncommitted,
    /// READ COMMITTED.
    ReadCommitted,
    /// REPEATABLE READ.
    RepeatableRead,
    /// SERIALIZABLE.
    Serializable,
}

impl Isolation {
    /// All levels, weakest first.
    pub const ALL: [Isolation; 4] = [
        Isolation::ReadUncommitted,
        Isolation::ReadCommitted,
        Isolation::RepeatableRead,
        Isolation::Serializable,
    ];

    /// The name on the command line (`repeatable-read`).
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadUncommitted => "read-uncommitted",
            Isolation::ReadCommitted => "read-committed",
            Isolation::RepeatableRead => "repeatable-read",
            Isolation::Serializable => "serializable",
        }
    }

    /// The SQL for `SET SESSION TRANSACTION ISOLATION LEVEL ...`.
    pub fn sql(self) -> &'static str {
        match self {
            Isolation::ReadUncommitted => "READ UNCOMMITTED",
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }

    /// The consistency model a history is held to when this level is asked for: the level's
    /// Adya counterpart (PL-1, PL-2, PL-2.99, PL-3).
    pub fn model(self) -> checker::Model {
        match self {
            Isolation::ReadUncommitted => checker::Model::ReadUncommitted,
            Isolation::ReadCommitted => checker::Model::ReadCommitted,
            Isolation::RepeatableRead => checker::Model::RepeatableRead,
            Isolation::Serializable => checker::Model::Serializable,
        }
    }
}

/// Everything that shapes a workload's op stream, as a preset file holds it. Missing fields
/// take the defaults of [`WorkloadSpec::default_for`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadSpec {
    /// Which workload.
    pub workload: Workload,
    /// Counters, accounts, registers, or list keys active at a time (the set has one set and
    /// ignores it).
    pub keys: u32,
    /// Fewest micro-ops per transaction (register, list-append).
    pub min_txn_len: u32,
    /// Most micro-ops per transaction (register, list-append).
    pub max_txn_len: u32,
    /// Fraction of reads: of micro-ops (register, list-append) or of ops (counter, bank, set).
    pub read_fraction: f64,
    /// Counter: how increments are written.
    pub counter_style: CounterStyle,
    /// List-append: appends to a key before it is retired for a fresh one (as in Elle).
    pub max_writes_per_key: u32,
    /// Bank: each account's starting balance.
    pub initial_balance: i64,
    /// Bank: the largest amount one transfer moves.
    pub max_transfer: i64,
}

impl WorkloadSpec {
    /// Sensible defaults for a workload: few hot keys so that transactions conflict; the set
    /// reads only at the end, as Jepsen's does.
    pub fn default_for(kind: Workload) -> WorkloadSpec {
        let (keys, read_fraction) = match kind {
            Workload::Counter => (4, 0.1),
            Workload::Bank => (5, 0.2),
            Workload::RwRegister => (5, 0.5),
            Workload::ListAppend => (8, 0.5),
            Workload::Set => (1, 0.0),
        };
        WorkloadSpec {
            workload: kind,
            keys,
            min_txn_len: 1,
            max_txn_len: 4,
            read_fraction,
            counter_style: CounterStyle::Atomic,
            max_writes_per_key: 256,
            initial_balance: 100,
            max_transfer: 5,
        }
    }

    /// Reads a preset (TOML). Missing fields take the workload's defaults.
    pub fn from_preset(path: &Path) -> Result<WorkloadSpec, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // Read the kind first, so that the defaults filled in are that workload's.
        #[derive(Deserialize)]
        struct Kind {
            workload: Workload,
        }
        let kind: Kind = toml::from_str(&text)
            .map_err(|e| format!("{}: {}", path.display(), e.message().trim()))?;
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        let defaults = toml::Table::try_from(WorkloadSpec::default_for(kind.workload))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for (k, v) in defaults {
            table.entry(k).or_insert(v);
        }
        let spec: WorkloadSpec = table
            .try_into()
            .map_err(|e: toml::de::Error| format!("{}: {}", path.display(), e.message().trim()))?;
        spec.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(spec)
    }

    /// The spec a name stands for: a workload (`counter`, `bank`, `register`, `list-append`,
    /// `set`), `counter-rmw` (the counter with read-modify-write increments), or a preset file.
    pub fn named(name: &str) -> Result<WorkloadSpec, String> {
        if name.ends_with(".toml") || Path::new(name).is_file() {
            return WorkloadSpec::from_preset(Path::new(name));
        }
        if name == "counter-rmw" {
            let mut s = WorkloadSpec::default_for(Workload::Counter);
            s.counter_style = CounterStyle::ReadModifyWrite;
            return Ok(s);
        }
        <Workload as clap::ValueEnum>::from_str(name, false)
            .ok()
            .map(WorkloadSpec::default_for)
            .ok_or_else(|| {
                format!(
                    "unknown workload {name:?}; use counter, counter-rmw, bank, register, \
                     list-append, set or a .toml preset"
                )
            })
    }

    /// How reports and summaries name it: `counter (atomic)`, `list-append` ...
    pub fn label(&self) -> String {
        match (self.workload, self.counter_style) {
            (Workload::Counter, CounterStyle::Atomic) => "counter (atomic)".into(),
            (Workload::Counter, CounterStyle::ReadModifyWrite) => {
                "counter (read-modify-write)".into()
            }
            (w, _) => w.name().into(),
        }
    }

    /// How to check a history of this workload against `model`: its checker, for the bank
    /// the total the accounts started with, and durability, since every run ends with final
    /// reads of every key.
    pub fn check_options(&self, model: checker::Model) -> checker::CheckOptions {
        checker::CheckOptions {
            models: vec![model],
            workload: Some(self.workload),
            bank_total: (self.workload == Workload::Bank)
                .then(|| self.initial_balance * i64::from(self.keys)),
            durability: true,
            ..checker::CheckOptions::default()
        }
    }

    /// Checks that the numbers make sense together.
    pub fn validate(&self) -> Result<(), String> {
        if self.keys == 0 {
            return Err("keys must be at least 1".into());
        }
        if self.min_txn_len == 0 || self.min_txn_len > self.max_txn_len {
            return Err(format!(
                "transaction length must satisfy 1 <= min ({}) <= max ({})",
                self.min_txn_len, self.max_txn_len
            ));
        }
        if !(0.0..=1.0).contains(&self.read_fraction) {
            return Err(format!(
                "read_fraction must be between 0 and 1, found {}",
                self.read_fraction
            ));
        }
        if self.max_writes_per_key == 0 || self.max_transfer <= 0 || self.initial_balance < 0 {
            return Err(
                "max_writes_per_key and max_transfer must be positive, initial_balance not negative"
                    .into(),
            );
        }
        Ok(())
    }
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec::default_for(Workload::ListAppend)
    }
}

/// One operation to perform: what it does and its arguments, as the invoke records them.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// What it does.
    pub f: OpFn,
    /// Its arguments (reads' values are nil or nil-valued).
    pub value: OpValue,
}

/// The seeded op stream of one run. Invariant: the same spec and seed give the same sequence
/// of invocations, whatever the timing of the clients that take them.
pub struct Generator {
    spec: WorkloadSpec,
    rng: ChaCha8Rng,
    /// The keys register and list-append transactions touch (unused by counter and bank).
    pool: KeyPool,
    /// The set's next element: every element below it has been handed out once.
    next_element: i64,
}

impl Generator {
    /// A generator for `spec`, seeded.
    pub fn new(spec: &WorkloadSpec, seed: u64) -> Generator {
        Generator {
            spec: spec.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            pool: KeyPool::new(spec),
            next_element: 0,
        }
    }

    /// The next operation.
    pub fn next_op(&mut self) -> Invocation {
        let spec = &self.spec;
        let rng = &mut self.rng;
        match spec.workload {
            Workload::Counter => counter::generate(spec, rng),
            Workload::Bank => bank::generate(spec, rng),
            Workload::RwRegister => self.pool.txn(spec, rng, register::write),
            Workload::ListAppend => self.pool.txn(spec, rng, list_append::append),
            Workload::Set => set::generate(spec, rng, &mut self.next_element),
        }
    }

    /// The reads that end a run, one per key the run may have touched, so that the history
    /// closes with the database's final state.
    pub fn final_reads(&self) -> Vec<Invocation> {
        match self.spec.workload {
            Workload::Counter => counter::final_reads(&self.spec),
            Workload::Bank => vec![bank::read()],
            Workload::RwRegister | Workload::ListAppend => self.pool.final_reads(),
            Workload::Set => set::final_reads(),
        }
    }
}

/// The keys a transactional workload writes: `keys` active at a time, each retired for a fresh
/// one after `max_writes_per_key` writes (as Elle's generator does, so that version orders stay
/// short). Written values count up from 1 per key, so every write is unique.
pub struct KeyPool {
    /// Active keys and how many writes each has had.
    active: Vec<(i64, u32)>,
    /// The next fresh key; every key below it has been handed out.
    next_key: i64,
    max_writes: u32,
}

impl KeyPool {
    /// `spec.keys` active keys, 0 to keys - 1.
    pub fn new(spec: &WorkloadSpec) -> KeyPool {
        KeyPool {
            active: (0..spec.keys as i64).map(|k| (k, 0)).collect(),
            next_key: spec.keys as i64,
            max_writes: spec.max_writes_per_key,
        }
    }

    /// A random active key, to read.
    fn pick(&self, rng: &mut ChaCha8Rng) -> i64 {
        self.active[rng.random_range(0..self.active.len())].0
    }

    /// A random active key and a value never written to it before; retires the key when it has
    /// had its share of writes.
    fn write(&mut self, rng: &mut ChaCha8Rng) -> (i64, i64) {
        let slot = rng.random_range(0..self.active.len());
        let (key, writes) = &mut self.active[slot];
        *writes += 1;
        let out = (*key, i64::from(*writes));
        if *writes >= self.max_writes {
            self.active[slot] = (self.next_key, 0);
            self.next_key += 1;
        }
        out
    }

    /// A transaction of a length in the spec's range, each micro-op a read (with
    /// `read_fraction`) or a write made by `write` from a key and a fresh value.
    pub fn txn(
        &mut self,
        spec: &WorkloadSpec,
        rng: &mut ChaCha8Rng,
        write: fn(Atom, Atom) -> Mop,
    ) -> Invocation {
        let n = rng.random_range(spec.min_txn_len..=spec.max_txn_len);
        let mops = (0..n)
            .map(|_| {
                if rng.random_bool(spec.read_fraction) {
                    Mop::Read {
                        key: Atom::Int(self.pick(rng)),
                        value: ReadResult::Nil,
                    }
                } else {
                    let (k, v) = self.write(rng);
                    write(Atom::Int(k), Atom::Int(v))
                }
            })
            .collect();
        Invocation {
            f: OpFn::Txn,
            value: OpValue::Txn(mops),
        }
    }

    /// One single-read transaction of every key handed out so far.
    pub fn final_reads(&self) -> Vec<Invocation> {
        (0..self.next_key)
            .map(|k| Invocation {
                f: OpFn::Txn,
                value: OpValue::Txn(vec![Mop::Read {
                    key: Atom::Int(k),
                    value: ReadResult::Nil,
                }]),
            })
            .collect()
    }
}

/// What executing an op produced: the completion's value and the SQL statements it ran.
pub struct Executed {
    /// The completion's value (reads filled in, except list reads: see `lists`).
    pub value: OpValue,
    /// List reads, by micro-op position: the recorder stores them and fills in the micro-op.
    pub lists: Vec<(usize, Vec<Atom>)>,
    /// Every statement sent, in order.
    pub sql: Vec<String>,
}

/// Why an op did not complete `ok`: a database error (classified by the runner) or a rule of
/// the workload that aborted it (a transfer that would overdraw an account).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The database or the connection failed. `statement` is how many statements had been sent
    /// when it did, `commit` whether the failing one was the COMMIT.
    #[error("{source}")]
    Db {
        /// The driver's error.
        source: mysql_async::Error,
        /// Whether the failing statement was the COMMIT (the outcome is then unknown).
        commit: bool,
        /// The SQL sent so far, the failing statement last.
        sql: Vec<String>,
    },
    /// The workload decided to roll back; the transaction certainly did not happen.
    #[error("{reason}")]
    Aborted {
        /// Why.
        reason: String,
        /// The SQL sent, ROLLBACK last.
        sql: Vec<String>,
    },
}

/// A connection that records every statement it sends, so executors stay short.
pub struct Session<'a> {
    conn: &'a mut Conn,
    sql: Vec<String>,
    in_txn: bool,
}

impl<'a> Session<'a> {
    /// Wraps a connection.
    pub fn new(conn: &'a mut Conn) -> Session<'a> {
        Session {
            conn,
            sql: Vec::new(),
            in_txn: false,
        }
    }

    fn fail(&mut self, e: mysql_async::Error, commit: bool) -> ExecError {
        ExecError::Db {
            source: e,
            commit,
            sql: std::mem::take(&mut self.sql),
        }
    }

    /// `START TRANSACTION`.
    pub async fn begin(&mut self) -> Result<(), ExecError> {
        self.in_txn = true;
        self.exec("START TRANSACTION").await
    }

    /// Runs a statement whose result is not needed.
    pub async fn exec(&mut self, q: impl Into<String>) -> Result<(), ExecError> {
        let q = q.into();
        let r = self.conn.query_drop(&q).await;
        self.sql.push(q);
        r.map_err(|e| self.fail(e, false))
    }

    /// Runs a query returning rows of one typed row shape.
    pub async fn query<T: FromRow + Send + 'static>(
        &mut self,
        q: impl Into<String>,
    ) -> Result<Vec<T>, ExecError> {
        let q = q.into();
        let r = self.conn.query(&q).await;
        self.sql.push(q);
        r.map_err(|e| self.fail(e, false))
    }

    /// `COMMIT`; an error here leaves the outcome unknown.
    pub async fn commit(mut self, value: OpValue) -> Result<Executed, ExecError> {
        if self.in_txn {
            let r = self.conn.query_drop("COMMIT").await;
            self.sql.push("COMMIT".into());
            r.map_err(|e| self.fail(e, true))?;
        }
        Ok(Executed {
            value,
            lists: Vec::new(),
            sql: self.sql,
        })
    }

    /// `ROLLBACK` on the workload's own decision.
    pub async fn abort(mut self, reason: String) -> ExecError {
        let r = self.conn.query_drop("ROLLBACK").await;
        self.sql.push("ROLLBACK".into());
        if let Err(e) = r {
            return self.fail(e, false);
        }
        ExecError::Aborted {
            reason,
            sql: self.sql,
        }
    }
}

/// Creates the workload's table and its starting rows, dropping what a previous run left.
pub async fn setup(
    conn: &mut Conn,
    spec: &WorkloadSpec,
) -> Result<Vec<String>, mysql_async::Error> {
    let statements = match spec.workload {
        Workload::Counter => counter::schema(spec),
        Workload::Bank => bank::schema(spec),
        Workload::RwRegister => register::schema(),
        Workload::ListAppend => list_append::schema(),
        Workload::Set => set::schema(),
    };
    for s in &statements {
        conn.query_drop(s).await?;
    }
    Ok(statements)
}

/// Runs one op as one transaction on `conn` and returns what it observed.
pub async fn execute(
    conn: &mut Conn,
    spec: &WorkloadSpec,
    inv: &Invocation,
) -> Result<Executed, ExecError> {
    match spec.workload {
        Workload::Counter => counter::execute(conn, spec, inv).await,
        Workload::Bank => bank::execute(conn, spec, inv).await,
        Workload::RwRegister => register::execute(conn, inv).await,
        Workload::ListAppend => list_append::execute(conn, inv).await,
        Workload::Set => set::execute(conn, inv).await,
    }
}

/// Whether an op only reads: a read that fails midway changed nothing, so it can be recorded
/// as `fail` instead of `info`.
pub fn is_read_only(inv: &Invocation) -> bool {
    match &inv.value {
        OpValue::Txn(mops) => mops
            .iter()
            .all(|m| matches!(m, crate::history::Mop::Read { .. })),
        _ => inv.f == OpFn::Read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        for kind in Workload::ALL {
            let mut spec = WorkloadSpec::default_for(kind);
            if kind == Workload::Set {
                // Adds alone are 0, 1, 2 ... whatever the seed; reads make the seed show.
                spec.read_fraction = 0.3;
            }
            let mut a = Generator::new(&spec, 7);
            let mut b = Generator::new(&spec, 7);
            let mut c = Generator::new(&spec, 8);
            let sa: Vec<Invocation> = (0..200).map(|_| a.next_op()).collect();
            let sb: Vec<Invocation> = (0..200).map(|_| b.next_op()).collect();
            let sc: Vec<Invocation> = (0..200).map(|_| c.next_op()).collect();
            assert_eq!(sa, sb, "{kind:?}");
            assert_ne!(sa, sc, "{kind:?}");
        }
    }

    #[test]
    fn presets_fill_in_defaults_and_reject_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.toml");
        std::fs::write(&p, "workload = \"bank\"\nkeys = 9\n").unwrap();
        let s = WorkloadSpec::from_preset(&p).unwrap();
        assert_eq!((s.workload, s.keys, s.max_transfer), (Workload::Bank, 9, 5));
        std::fs::write(&p, "workload = \"bank\"\nkeyz = 9\n").unwrap();
        let e = WorkloadSpec::from_preset(&p).unwrap_err();
        assert!(e.contains("keyz") && e.contains("w.toml"), "{e}");
        std::fs::write(&p, "workload = \"bank\"\nread_fraction = 2.0\n").unwrap();
        assert!(WorkloadSpec::from_preset(&p)
            .unwrap_err()
            .contains("read_fraction"));
    }

    #[test]
    fn every_shipped_preset_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                WorkloadSpec::from_preset(&p).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 5, "only {n} presets in {}", dir.display());
    }

    #[test]
    fn isolation_names_are_the_same_for_clap_serde_and_reports() {
        use clap::ValueEnum;
        for i in Isolation::ALL {
            assert_eq!(Isolation::from_str(i.name(), false), Ok(i));
            assert_eq!(serde_json::to_value(i).unwrap(), i.name());
        }
        assert_eq!(
            Isolation::from_str("REPEATABLE-READ", true),
            Ok(Isolation::RepeatableRead)
        );
    }
}
