//! A seeded simulator of a transactional key-value database, for tests and benchmarks.
//!
//! Why: the checkers need histories whose truth is known, and benchmarks need histories of
//! millions of transactions without a database, written as fast as the disk takes them. Under
//! contention (the defaults, 10 clients on 10 keys, do) the levels give, each transaction but a
//! serializable one reading a key before it first writes it (read-modify-write):
//! - [`Behaviour::Serializable`]: strict serializable, nothing to report;
//! - [`Behaviour::SnapshotIsolation`]: G2-item (write skew) and nothing SI forbids;
//! - [`Behaviour::ReadCommitted`]: G-single-item, G-nonadjacent-item, G2-item, lost-update and
//!   `internal` (non-repeatable reads), but no G0, G1a/b/c or incompatible order;
//! - [`Behaviour::LostUpdate`]: `lost-update`; for list-append the overwritten lists also give
//!   incompatible orders, G0 and G1c, as a database that loses appends would.
//!
//! How: a discrete-event simulation. `clients` clients each run one transaction at a time; a
//! transaction is invoked at some instant and completes a random duration later, then the client
//! thinks a little and invokes the next. Events (invoke, completion, and the internal instants at
//! which a transaction reads or takes effect) sit in a priority queue ordered by (time, sequence),
//! so the history lists invokes and completions in time order, and `index` is the position.
//! Transactions are generated like Elle's list-append generator: `keys` active key slots, each
//! transaction 1..=`max_txn_len` micro-ops on random active keys, written values a per-key counter
//! from 1, and a key retired (replaced by a fresh key) once `max_writes_per_key` writes of it have
//! been generated.
//!
//! State is kept small so millions of transactions stream in constant memory:
//! - a list is a node of a per-key trie (`(parent, element)`), so a read records one node id and
//!   is only turned into elements (and interned into the [`ListStore`]) if it is reported `ok`;
//! - snapshot reads are evaluated when the snapshot is taken (that is the state they must see), so
//!   no per-key version history is needed; first-committer-wins only needs each key's last commit
//!   sequence number;
//! - a retired key's state is dropped as soon as no running transaction mentions it.
//!
//! What does grow is the caller's [`ListStore`]: one chain per key ever read (a few KB each), and
//! in lost-update mode one per divergent read as well.
//!
//! The same seed always gives the same history (one [`ChaCha8Rng`] drives every choice).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;

use crate::checker::Workload;
use crate::history::write::HistoryWriter;
use crate::history::{
    Atom, History, ListStore, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult,
};

/// How the simulated database behaves: a level it provides, or a deliberate breakage. Not an
/// isolation level a client asks for (that is `workload::Isolation`), hence its own name.
///
/// Invariant: each level produces only histories that level allows (except [`Behaviour::LostUpdate`],
/// which is deliberately broken), and under contention the anomalies it allows do show up.
///
/// Names (clap's, serde's and strum's) are kebab-case; `si` is accepted for snapshot-isolation.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "kebab-case")]
pub enum Behaviour {
    /// Every transaction takes effect atomically at one instant between its invoke and its
    /// completion: strict serializable (real-time order respected).
    Serializable,
    /// Reads see the snapshot taken at invoke; at commit, first-committer-wins aborts a
    /// transaction that writes a key someone committed since its snapshot. Shows G2-item (write
    /// skew) and nothing snapshot isolation forbids.
    #[value(alias = "si")]
    #[serde(alias = "si")]
    SnapshotIsolation,
    /// Each read sees the latest committed state at that moment (plus the transaction's own
    /// writes); writes take write locks held to commit (a conflicting write waits; a deadlock
    /// aborts the requester) and apply at commit. Shows lost-update and non-repeatable reads
    /// (`internal`), which snapshot isolation forbids, besides read and write skew.
    ReadCommitted,
    /// Snapshot reads with no conflict check: a list-append commit overwrites each key it writes
    /// with its snapshot value plus its own appends, losing concurrent commits; a register write
    /// just applies. Shows `lost-update`.
    LostUpdate,
}

impl Behaviour {
    /// The name on the command line (clap's, and serde's).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// The workloads the simulator makes, as `gen --workload` offers them (no others are listed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SimWorkload {
    /// Elle's list-append: transactions of appends and whole-list reads.
    #[value(alias = "append")]
    ListAppend,
    /// Elle's rw-register: transactions of writes and reads of registers.
    #[value(alias = "register")]
    RwRegister,
}

impl From<SimWorkload> for Workload {
    fn from(w: SimWorkload) -> Workload {
        match w {
            SimWorkload::ListAppend => Workload::ListAppend,
            SimWorkload::RwRegister => Workload::RwRegister,
        }
    }
}

/// Whether the simulator makes histories of `w`: list-append and rw-register.
pub fn supports(w: Workload) -> bool {
    matches!(w, Workload::ListAppend | Workload::RwRegister)
}

/// What to simulate. Counts of zero are treated as one where one is the least that makes sense.
///
/// Invariant: the same parameters (seed included) always give the same history.
#[derive(Clone, Debug, PartialEq)]
pub struct SimParams {
    /// List-append or rw-register transactions (see [`supports`]; any other is simulated as
    /// rw-register).
    pub workload: Workload,
    /// How the simulated database isolates transactions.
    pub behaviour: Behaviour,
    /// How many transactions complete (ok + fail + info); the history has twice as many ops.
    pub txns: u64,
    /// Concurrent clients (at least 1), each running one transaction at a time.
    pub clients: u32,
    /// Active key slots (at least 1); a retired key's slot gets a fresh key.
    pub keys: u32,
    /// Most micro-ops per transaction (at least 1); each has 1..=max_txn_len.
    pub max_txn_len: u32,
    /// Writes generated for one key before it is retired (at least 1).
    pub max_writes_per_key: u32,
    /// Probability that a micro-op is a read rather than a write.
    pub read_fraction: f64,
    /// Probability that a transaction aborts on its own: completes `fail`, has no effect.
    pub fail_fraction: f64,
    /// Probability that a transaction's outcome is unknown: completes `info`, and its effect is
    /// applied with probability 1/2.
    pub info_fraction: f64,
    /// Seed of the random generator.
    pub seed: u64,
}

impl Default for SimParams {
    /// List-append, serializable, 1000 txns, 10 clients, 10 keys, up to 4 micro-ops, 256 writes
    /// per key, half reads, no faults, seed 0.
    fn default() -> Self {
        SimParams {
            workload: Workload::ListAppend,
            behaviour: Behaviour::Serializable,
            txns: 1000,
            clients: 10,
            keys: 10,
            max_txn_len: 4,
            max_writes_per_key: 256,
            read_fraction: 0.5,
            fail_fraction: 0.0,
            info_fraction: 0.0,
            seed: 0,
        }
    }
}

/// Simulates the database and calls `emit` for each op in history order, with the store its list
/// reads point into.
///
/// Ops carry `index` = position (from 0), `time` in nanoseconds (strictly increasing), a client
/// process, `f` = txn and `value` = the micro-ops. Invokes have nil reads; `ok` completions carry
/// what was read; `fail` and `info` completions carry the invoke's value. Exactly `params.txns`
/// transactions are invoked and each completes once; after an `info` the client continues under a
/// new process number (old + `clients`).
pub fn simulate(params: &SimParams, lists: &mut ListStore, mut emit: impl FnMut(&Op, &ListStore)) {
    Sim::new(params).run(lists, &mut emit);
}

/// Simulates and keeps the whole history in memory (see [`simulate`]).
pub fn generate(params: &SimParams) -> History {
    let mut lists = ListStore::default();
    let mut ops = Vec::with_capacity(params.txns.saturating_mul(2).min(1 << 24) as usize);
    simulate(params, &mut lists, |op, _| ops.push(op.clone()));
    History { ops, lists }
}

/// Simulates and streams the history to a JSON Lines file (buffered, not flushed per op);
/// returns the number of ops written. Ops are not kept: memory is the simulator's key state plus
/// the [`ListStore`] (see the module doc), not the history.
pub fn write(params: &SimParams, path: &Path) -> io::Result<u64> {
    let mut w = HistoryWriter::create(path, false)?;
    let mut n = 0u64;
    let mut err: Option<io::Error> = None;
    simulate(params, &mut ListStore::default(), |op, lists| {
        if err.is_none() {
            match w.append(op, lists) {
                Ok(()) => n += 1,
                Err(e) => err = Some(e),
            }
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    w.flush()?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------------

/// Register never written, and the empty list's trie node.
const NIL: i64 = 0;
/// Shortest and longest time from invoke to completion, in ns.
const DUR: (i64, i64) = (50_000, 2_000_000);
/// Longest pause between a completion and the client's next invoke, in ns.
const THINK: i64 = 200_000;
/// How long a read-committed deadlock takes to be reported, in ns.
const ABORT_DELAY: (i64, i64) = (1_000, 20_000);

const INVOKE: u8 = 0;
const STEP: u8 = 1;
const EFFECT: u8 = 2;
const COMPLETE: u8 = 3;

/// One key's state.
struct KeyState {
    /// Writes generated so far; the last one written had this value.
    writes: u32,
    /// No new transaction will mention this key.
    retired: bool,
    /// Running transactions that mention this key; a retired key is dropped at 0.
    refs: u32,
    /// Current committed value: the list's trie node, or the register's value (NIL: none).
    head: i64,
    /// Commit sequence number of the last committed write.
    last_seq: u64,
    /// List-append trie: (parent, element); node 0 is the empty list.
    nodes: Vec<(u32, i64)>,
    /// Read-committed write lock: holder client + 1, or 0 if free.
    lock: u32,
    /// Read committed: clients waiting for the lock, first come first served.
    waiters: VecDeque<u32>,
}

impl KeyState {
    fn new(list: bool) -> Self {
        KeyState {
            writes: 0,
            retired: false,
            refs: 0,
            head: NIL,
            last_seq: 0,
            nodes: if list { vec![(0, 0)] } else { Vec::new() },
            lock: 0,
            waiters: VecDeque::new(),
        }
    }
}

#[derive(Clone, Copy)]
struct SMop {
    write: bool,
    key: i64,
    /// The value written (writes only).
    val: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Plan {
    #[default]
    Ok,
    Fail,
    InfoApply,
    InfoLost,
}

#[derive(Default)]
struct Client {
    process: u64,
    mops: Vec<SMop>,
    /// Per micro-op: for reads, what the committed state showed (trie node / register value);
    /// own earlier writes are added when the result is built.
    seen: Vec<i64>,
    /// Distinct keys the transaction mentions.
    keys: Vec<i64>,
    /// Snapshot value of each of `keys` (snapshot isolation, lost update).
    snap_heads: Vec<i64>,
    plan: Plan,
    snap: u64,
    t_end: i64,
    /// Read committed: when each micro-op runs, and the next one to run.
    times: Vec<i64>,
    next: usize,
    aborted: bool,
    /// Read committed: write locks held, and the key whose lock it waits for.
    locks: Vec<i64>,
    waiting: Option<i64>,
}

struct Sim {
    list: bool,
    iso: Behaviour,
    txns: u64,
    nclients: u32,
    max_len: u32,
    max_writes: u32,
    read_fraction: f64,
    fail_fraction: f64,
    info_fraction: f64,
    rng: ChaCha8Rng,
    keys: FxHashMap<i64, KeyState>,
    active: Vec<i64>,
    max_key: i64,
    clients: Vec<Client>,
    queue: BinaryHeap<Reverse<(i64, u64, u32, u8)>>,
    seq: u64,
    commit_seq: u64,
    started: u64,
    index: u64,
    last_time: i64,
    op: Op,
    buf: Vec<Atom>,
}

impl Sim {
    fn new(p: &SimParams) -> Sim {
        let list = p.workload == Workload::ListAppend;
        let nkeys = p.keys.max(1);
        let nclients = p.clients.max(1);
        let mut keys = FxHashMap::default();
        for k in 0..nkeys as i64 {
            keys.insert(k, KeyState::new(list));
        }
        Sim {
            list,
            iso: p.behaviour,
            txns: p.txns,
            nclients,
            max_len: p.max_txn_len.max(1),
            max_writes: p.max_writes_per_key.max(1),
            read_fraction: p.read_fraction,
            fail_fraction: p.fail_fraction,
            info_fraction: p.info_fraction,
            rng: ChaCha8Rng::seed_from_u64(p.seed),
            keys,
            active: (0..nkeys as i64).collect(),
            max_key: nkeys as i64 - 1,
            clients: (0..nclients)
                .map(|c| Client {
                    process: c as u64,
                    ..Client::default()
                })
                .collect(),
            queue: BinaryHeap::new(),
            seq: 0,
            commit_seq: 0,
            started: 0,
            index: 0,
            last_time: -1,
            op: Op {
                index: 0,
                time: None,
                kind: OpType::Invoke,
                process: Process::Client(0),
                f: OpFn::Txn,
                value: OpValue::Txn(Vec::new()),
                error: None,
                sql: None,
            },
            buf: Vec::new(),
        }
    }

    fn push(&mut self, t: i64, c: u32, kind: u8) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, c, kind)));
    }

    fn run(mut self, lists: &mut ListStore, emit: &mut impl FnMut(&Op, &ListStore)) {
        for c in 0..self.nclients {
            let t = self.rng.random_range(0..=THINK);
            self.push(t, c, INVOKE);
        }
        while let Some(Reverse((t, _, c, kind))) = self.queue.pop() {
            match kind {
                INVOKE => self.invoke(t, c, lists, emit),
                STEP => self.step(t, c),
                EFFECT => self.effect(t, c),
                _ => self.complete(t, c, lists, emit),
            }
        }
    }

    /// Generates a transaction, takes its snapshot if the level has one, and schedules it.
    fn invoke(
        &mut self,
        t: i64,
        c: u32,
        lists: &mut ListStore,
        emit: &mut impl FnMut(&Op, &ListStore),
    ) {
        if self.started >= self.txns {
            return;
        }
        self.started += 1;
        let cl = &mut self.clients[c as usize];
        cl.mops.clear();
        cl.keys.clear();
        let len = self.rng.random_range(1..=self.max_len) as usize;
        // Lost updates, read and write skew come from read-modify-write: under every behaviour
        // but serializable a transaction reads a key before its first write of it (the pair
        // counts twice in `len`), so each shows the anomaly it is named for.
        let rmw = self.iso != Behaviour::Serializable;
        while cl.mops.len() < len {
            let slot = self.rng.random_range(0..self.active.len());
            let key = self.active[slot];
            let unread = rmw && !cl.mops.iter().any(|m| m.key == key);
            let read = self.rng.random::<f64>() < self.read_fraction;
            if read || (unread && cl.mops.len() + 1 == len) {
                cl.mops.push(SMop {
                    write: false,
                    key,
                    val: 0,
                });
            } else {
                if unread {
                    cl.mops.push(SMop {
                        write: false,
                        key,
                        val: 0,
                    });
                }
                let ks = self.keys.get_mut(&key).expect("active key has state");
                ks.writes += 1;
                let val = ks.writes as i64;
                if ks.writes >= self.max_writes {
                    ks.retired = true;
                    self.max_key += 1;
                    self.active[slot] = self.max_key;
                    self.keys.insert(self.max_key, KeyState::new(self.list));
                }
                cl.mops.push(SMop {
                    write: true,
                    key,
                    val,
                });
            }
            if !cl.keys.contains(&key) {
                cl.keys.push(key);
            }
        }
        for k in &cl.keys {
            self.keys.get_mut(k).expect("key has state").refs += 1;
        }
        cl.seen.clear();
        cl.seen.resize(cl.mops.len(), NIL);
        let r = self.rng.random::<f64>();
        cl.plan = if r < self.fail_fraction {
            Plan::Fail
        } else if r < self.fail_fraction + self.info_fraction {
            if self.rng.random_bool(0.5) {
                Plan::InfoApply
            } else {
                Plan::InfoLost
            }
        } else {
            Plan::Ok
        };
        cl.aborted = false;
        cl.t_end = t + self.rng.random_range(DUR.0..=DUR.1);
        let t_end = cl.t_end;
        match self.iso {
            Behaviour::SnapshotIsolation | Behaviour::LostUpdate => {
                // Reads see the snapshot, which is the committed state right now.
                cl.snap = self.commit_seq;
                cl.snap_heads.clear();
                for k in &cl.keys {
                    cl.snap_heads.push(self.keys[k].head);
                }
                for (i, m) in cl.mops.iter().enumerate() {
                    if !m.write {
                        cl.seen[i] = self.keys[&m.key].head;
                    }
                }
                self.push(t_end, c, COMPLETE);
            }
            Behaviour::Serializable => {
                let at = self.rng.random_range(t..=t_end);
                self.push(at, c, EFFECT);
            }
            Behaviour::ReadCommitted => {
                cl.times.clear();
                for _ in 0..cl.mops.len() {
                    cl.times.push(self.rng.random_range(t..=t_end));
                }
                cl.times.sort_unstable();
                cl.next = 0;
                cl.locks.clear();
                let first = cl.times[0];
                self.push(first, c, STEP);
            }
        }
        self.emit_op(t, c, OpType::Invoke, None, lists, emit);
    }

    /// Read committed: runs the client's next micro-op.
    fn step(&mut self, t: i64, c: u32) {
        let cl = &mut self.clients[c as usize];
        let i = cl.next;
        let m = cl.mops[i];
        let ks = self.keys.get_mut(&m.key).expect("key has state");
        if !m.write {
            cl.seen[i] = ks.head;
        } else if ks.lock == 0 {
            ks.lock = c + 1;
            cl.locks.push(m.key);
        } else if ks.lock != c + 1 {
            // Wait for the holder, unless the holder (transitively) waits for us.
            let mut h = ks.lock - 1;
            loop {
                if h == c {
                    self.clients[c as usize].aborted = true;
                    self.release(c, t);
                    let at = t + self.rng.random_range(ABORT_DELAY.0..=ABORT_DELAY.1);
                    self.push(at, c, COMPLETE);
                    return;
                }
                match self.clients[h as usize].waiting {
                    Some(k) => h = self.keys[&k].lock - 1,
                    None => break,
                }
            }
            self.keys
                .get_mut(&m.key)
                .expect("key has state")
                .waiters
                .push_back(c);
            self.clients[c as usize].waiting = Some(m.key);
            return;
        }
        self.advance(c);
    }

    /// Read committed: the current micro-op is done; schedules the next one or the completion.
    fn advance(&mut self, c: u32) {
        let cl = &mut self.clients[c as usize];
        cl.next += 1;
        let (at, kind) = if cl.next < cl.mops.len() {
            (cl.times[cl.next], STEP)
        } else {
            (cl.t_end, COMPLETE)
        };
        self.push(at, c, kind);
    }

    /// Read committed: releases client `c`'s write locks at time `now`, handing each to its
    /// first waiter, which then goes on (its remaining schedule delayed by the wait).
    fn release(&mut self, c: u32, now: i64) {
        let mut locks = std::mem::take(&mut self.clients[c as usize].locks);
        for k in locks.drain(..) {
            let ks = self.keys.get_mut(&k).expect("locked key has state");
            ks.lock = 0;
            if let Some(w) = ks.waiters.pop_front() {
                ks.lock = w + 1;
                let cl = &mut self.clients[w as usize];
                cl.waiting = None;
                cl.locks.push(k);
                let delay = now - cl.times[cl.next];
                for t in &mut cl.times[cl.next..] {
                    *t += delay;
                }
                cl.t_end += delay;
                self.advance(w);
            }
        }
        self.clients[c as usize].locks = locks;
    }

    /// Serializable: the instant the whole transaction takes effect.
    fn effect(&mut self, _t: i64, c: u32) {
        let cl = &mut self.clients[c as usize];
        for (i, m) in cl.mops.iter().enumerate() {
            if !m.write {
                cl.seen[i] = self.keys[&m.key].head;
            }
        }
        if matches!(cl.plan, Plan::Ok | Plan::InfoApply) {
            self.commit(c);
        }
        let t_end = self.clients[c as usize].t_end;
        self.push(t_end, c, COMPLETE);
    }

    /// Installs the client's writes as one commit.
    fn commit(&mut self, c: u32) {
        self.commit_seq += 1;
        let seq = self.commit_seq;
        let lost_update = self.iso == Behaviour::LostUpdate;
        let cl = &self.clients[c as usize];
        for (j, &k) in cl.keys.iter().enumerate() {
            if !cl.mops.iter().any(|m| m.write && m.key == k) {
                continue;
            }
            let ks = self.keys.get_mut(&k).expect("key has state");
            ks.last_seq = seq;
            let mut writes = cl.mops.iter().filter(|m| m.write && m.key == k);
            if self.list {
                let mut node = if lost_update {
                    cl.snap_heads[j]
                } else {
                    ks.head
                };
                for m in writes {
                    ks.nodes.push((node as u32, m.val));
                    node = ks.nodes.len() as i64 - 1;
                }
                ks.head = node;
            } else if let Some(m) = writes.next_back() {
                ks.head = m.val;
            }
        }
    }

    /// Decides the outcome, applies the effect if due, and reports the completion.
    fn complete(
        &mut self,
        t: i64,
        c: u32,
        lists: &mut ListStore,
        emit: &mut impl FnMut(&Op, &ListStore),
    ) {
        let cl = &self.clients[c as usize];
        let plan = cl.plan;
        let info = matches!(plan, Plan::InfoApply | Plan::InfoLost);
        let (kind, error): (OpType, Option<&str>) = match self.iso {
            Behaviour::Serializable => outcome(plan),
            _ if plan == Plan::Fail => outcome(plan),
            Behaviour::SnapshotIsolation
                if cl
                    .mops
                    .iter()
                    .any(|m| m.write && self.keys[&m.key].last_seq > cl.snap) =>
            {
                aborted(info, "first-committer-wins conflict")
            }
            Behaviour::ReadCommitted if cl.aborted => aborted(info, "deadlock"),
            _ => {
                if matches!(plan, Plan::Ok | Plan::InfoApply) {
                    self.commit(c);
                }
                outcome(plan)
            }
        };
        if self.iso == Behaviour::ReadCommitted {
            self.release(c, t);
        }
        self.emit_op(t, c, kind, error, lists, emit);
        // Let go of the keys; drop retired keys nobody mentions any more.
        let cl = &mut self.clients[c as usize];
        for k in &cl.keys {
            let ks = self.keys.get_mut(k).expect("key has state");
            ks.refs -= 1;
            if ks.retired && ks.refs == 0 {
                self.keys.remove(k);
            }
        }
        if kind == OpType::Info {
            cl.process += self.nclients as u64;
        }
        let at = t + self.rng.random_range(0..=THINK);
        self.push(at, c, INVOKE);
    }

    /// Builds the op for client `c` into the scratch op and hands it to `emit`.
    fn emit_op(
        &mut self,
        t: i64,
        c: u32,
        kind: OpType,
        error: Option<&str>,
        lists: &mut ListStore,
        emit: &mut impl FnMut(&Op, &ListStore),
    ) {
        let time = t.max(self.last_time + 1);
        self.last_time = time;
        let cl = &self.clients[c as usize];
        let with_results = kind == OpType::Ok;
        let OpValue::Txn(out) = &mut self.op.value else {
            unreachable!("the scratch op is always a txn")
        };
        out.clear();
        for (i, m) in cl.mops.iter().enumerate() {
            let key = Atom::Int(m.key);
            if m.write {
                let value = Atom::Int(m.val);
                out.push(if self.list {
                    Mop::Append { key, elem: value }
                } else {
                    Mop::Write { key, value }
                });
                continue;
            }
            let value = if !with_results {
                ReadResult::Nil
            } else if self.list {
                let ks = &self.keys[&m.key];
                self.buf.clear();
                let mut n = cl.seen[i] as usize;
                while n != 0 {
                    self.buf.push(Atom::Int(ks.nodes[n].1));
                    n = ks.nodes[n].0 as usize;
                }
                self.buf.reverse();
                let own = cl.mops[..i].iter().filter(|w| w.write && w.key == m.key);
                self.buf.extend(own.map(|w| Atom::Int(w.val)));
                ReadResult::List(lists.intern(&key, &self.buf))
            } else {
                let own = cl.mops[..i]
                    .iter()
                    .rev()
                    .find(|w| w.write && w.key == m.key);
                match own.map_or(cl.seen[i], |w| w.val) {
                    NIL => ReadResult::Nil,
                    v => ReadResult::Scalar(Atom::Int(v)),
                }
            };
            out.push(Mop::Read { key, value });
        }
        self.op.index = self.index;
        self.index += 1;
        self.op.time = Some(time);
        self.op.kind = kind;
        self.op.process = Process::Client(cl.process);
        self.op.error = error.map(str::to_owned);
        emit(&self.op, lists);
    }
}

/// The completion type and error a planned outcome gives when nothing else interferes.
/// The completion of a transaction the database aborted: `fail` with the reason, or `info` if the
/// client was never to learn the outcome.
fn aborted(info: bool, why: &'static str) -> (OpType, Option<&'static str>) {
    if info {
        (OpType::Info, Some("indeterminate"))
    } else {
        (OpType::Fail, Some(why))
    }
}

fn outcome(plan: Plan) -> (OpType, Option<&'static str>) {
    match plan {
        Plan::Ok => (OpType::Ok, None),
        Plan::Fail => (OpType::Fail, Some("aborted")),
        Plan::InfoApply | Plan::InfoLost => (OpType::Info, Some("indeterminate")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet, VecDeque};

    use super::*;
    use crate::history::write::OpJson;

    fn params(workload: Workload, isolation: Behaviour, txns: u64) -> SimParams {
        SimParams {
            workload,
            behaviour: isolation,
            txns,
            ..SimParams::default()
        }
    }

    /// Contended: 10 clients on 3 keys.
    fn contended(workload: Workload, isolation: Behaviour, seed: u64) -> SimParams {
        SimParams {
            keys: 3,
            seed,
            ..params(workload, isolation, 500)
        }
    }

    fn render(h: &History) -> Vec<String> {
        h.ops
            .iter()
            .map(|op| {
                serde_json::to_string(&OpJson {
                    op,
                    lists: &h.lists,
                })
                .unwrap()
            })
            .collect()
    }

    fn mops(op: &Op) -> &[Mop] {
        match &op.value {
            OpValue::Txn(m) => m,
            other => panic!("not a txn: {other:?}"),
        }
    }

    /// What a read returned, as elements (a register read is zero or one element).
    fn read_elems(h: &History, r: &ReadResult) -> Vec<Atom> {
        match r {
            ReadResult::Nil => Vec::new(),
            ReadResult::Scalar(a) => vec![a.clone()],
            ReadResult::List(l) => h.list(*l).to_vec(),
        }
    }

    struct Txn {
        invoke: usize,
        complete: usize,
        kind: OpType,
    }

    /// Pairs invokes with completions, checking each invoke has exactly one.
    fn txns(h: &History) -> Vec<Txn> {
        let mut pending: HashMap<Process, usize> = HashMap::new();
        let mut out = Vec::new();
        for (i, op) in h.ops.iter().enumerate() {
            if op.kind == OpType::Invoke {
                assert!(
                    pending.insert(op.process, i).is_none(),
                    "second invoke at {i}"
                );
            } else {
                let inv = pending
                    .remove(&op.process)
                    .expect("completion without invoke");
                out.push(Txn {
                    invoke: inv,
                    complete: i,
                    kind: op.kind,
                });
            }
        }
        assert!(pending.is_empty(), "invokes never completed: {pending:?}");
        out
    }

    /// Groups of ok txns that read the same version of a key (before writing it) and wrote it.
    fn lost_update_pairs(h: &History) -> usize {
        let mut by_version: HashMap<(Atom, Vec<Atom>), usize> = HashMap::new();
        for t in txns(h).iter().filter(|t| t.kind == OpType::Ok) {
            let ms = mops(&h.ops[t.complete]);
            let mut seen = HashSet::new();
            for (i, m) in ms.iter().enumerate() {
                if !seen.insert(m.key().clone()) {
                    continue;
                }
                if let Mop::Read { key, value } = m {
                    if ms[i..]
                        .iter()
                        .any(|w| !matches!(w, Mop::Read { .. }) && w.key() == key)
                    {
                        *by_version
                            .entry((key.clone(), read_elems(h, value)))
                            .or_default() += 1;
                    }
                }
            }
        }
        by_version.values().filter(|&&n| n >= 2).count()
    }

    /// Every ok list read of a key is a prefix of the longest one.
    fn assert_compatible_orders(h: &History) {
        let mut longest: HashMap<Atom, Vec<Atom>> = HashMap::new();
        let mut reads = Vec::new();
        for op in h.ops.iter().filter(|o| o.kind == OpType::Ok) {
            for m in mops(op) {
                if let Mop::Read { key, value } = m {
                    let e = read_elems(h, value);
                    let l = longest.entry(key.clone()).or_default();
                    if e.len() > l.len() {
                        *l = e.clone();
                    }
                    reads.push((key.clone(), e));
                }
            }
        }
        for (k, e) in reads {
            assert_eq!(
                longest[&k][..e.len()],
                e[..],
                "incompatible order on key {k}"
            );
        }
    }

    const WW: u8 = 1;
    const WR: u8 = 2;
    const RW: u8 = 4;
    const RT: u8 = 8;

    /// The dependency graph of the ok txns of a list-append history (txn number = position among
    /// ok txns), as (from, to, kind) edges. Panics on a read of an element no ok txn appended.
    fn list_graph(h: &History) -> (usize, Vec<(usize, usize, u8)>) {
        let ok: Vec<Txn> = txns(h)
            .into_iter()
            .filter(|t| t.kind == OpType::Ok)
            .collect();
        let mut writer: HashMap<(Atom, Atom), usize> = HashMap::new();
        let mut longest: HashMap<Atom, Vec<Atom>> = HashMap::new();
        for (n, t) in ok.iter().enumerate() {
            for m in mops(&h.ops[t.complete]) {
                match m {
                    Mop::Append { key, elem } => {
                        writer.insert((key.clone(), elem.clone()), n);
                    }
                    Mop::Read { key, value } => {
                        let e = read_elems(h, value);
                        let l = longest.entry(key.clone()).or_default();
                        if e.len() > l.len() {
                            *l = e;
                        }
                    }
                    Mop::Write { .. } => unreachable!(),
                }
            }
        }
        let w = |k: &Atom, e: &Atom| -> usize {
            *writer
                .get(&(k.clone(), e.clone()))
                .unwrap_or_else(|| panic!("G1a: {k} {e}"))
        };
        let mut edges = Vec::new();
        for (k, l) in &longest {
            for p in l.windows(2) {
                edges.push((w(k, &p[0]), w(k, &p[1]), WW));
            }
        }
        for (n, t) in ok.iter().enumerate() {
            for m in mops(&h.ops[t.complete]) {
                if let Mop::Read { key, value } = m {
                    let e = read_elems(h, value);
                    let l = &longest[key];
                    if let Some(last) = e.last() {
                        edges.push((w(key, last), n, WR));
                    }
                    if e.len() < l.len() {
                        edges.push((n, w(key, &l[e.len()]), RW));
                    }
                }
            }
        }
        for (a, ta) in ok.iter().enumerate() {
            for (b, tb) in ok.iter().enumerate() {
                if ta.complete < tb.invoke {
                    edges.push((a, b, RT));
                }
            }
        }
        edges.retain(|&(a, b, _)| a != b);
        (ok.len(), edges)
    }

    fn adjacency(n: usize, edges: &[(usize, usize, u8)], kinds: u8) -> Vec<Vec<usize>> {
        let mut adj = vec![Vec::new(); n];
        for &(a, b, k) in edges {
            if k & kinds != 0 {
                adj[a].push(b);
            }
        }
        adj
    }

    fn cyclic(adj: &[Vec<usize>]) -> bool {
        let mut indeg = vec![0usize; adj.len()];
        for bs in adj {
            for &b in bs {
                indeg[b] += 1;
            }
        }
        let mut q: VecDeque<usize> = (0..adj.len()).filter(|&v| indeg[v] == 0).collect();
        let mut done = 0;
        while let Some(v) = q.pop_front() {
            done += 1;
            for &b in &adj[v] {
                indeg[b] -= 1;
                if indeg[b] == 0 {
                    q.push_back(b);
                }
            }
        }
        done < adj.len()
    }

    /// Is there a cycle with exactly one rw edge (G-single)?
    fn g_single(n: usize, edges: &[(usize, usize, u8)]) -> bool {
        let adj = adjacency(n, edges, WW | WR);
        edges.iter().filter(|e| e.2 == RW).any(|&(a, b, _)| {
            let mut seen = vec![false; n];
            let mut stack = vec![b];
            while let Some(v) = stack.pop() {
                if v == a {
                    return true;
                }
                if !std::mem::replace(&mut seen[v], true) {
                    stack.extend(&adj[v]);
                }
            }
            false
        })
    }

    #[test]
    fn names_agree_in_clap_and_serde_and_parse_back() {
        use clap::ValueEnum;
        assert_eq!(
            crate::names::serde_and_clap_names::<Behaviour>(),
            [
                "serializable",
                "snapshot-isolation",
                "read-committed",
                "lost-update"
            ]
        );
        assert_eq!(
            Behaviour::from_str("si", false),
            Ok(Behaviour::SnapshotIsolation)
        );
        assert_eq!(
            serde_json::from_value::<Behaviour>("si".into()).unwrap(),
            Behaviour::SnapshotIsolation
        );
        assert!(Behaviour::from_str("bogus", false).is_err());
        assert!(supports(Workload::RwRegister) && !supports(Workload::Bank));
    }

    #[test]
    fn same_seed_same_history_other_seed_other_history() {
        for w in [Workload::ListAppend, Workload::RwRegister] {
            for i in [
                Behaviour::Serializable,
                Behaviour::ReadCommitted,
                Behaviour::LostUpdate,
            ] {
                let mut p = params(w, i, 300);
                p.fail_fraction = 0.1;
                p.info_fraction = 0.1;
                let a = render(&generate(&p));
                assert_eq!(a, render(&generate(&p)), "{w:?} {i:?}");
                p.seed = 1;
                assert_ne!(a, render(&generate(&p)), "{w:?} {i:?}");
            }
        }
    }

    #[test]
    fn every_invoke_completes_once_with_increasing_index_and_time() {
        for i in [
            Behaviour::Serializable,
            Behaviour::SnapshotIsolation,
            Behaviour::ReadCommitted,
            Behaviour::LostUpdate,
        ] {
            let mut p = params(Workload::ListAppend, i, 400);
            p.fail_fraction = 0.1;
            p.info_fraction = 0.1;
            let h = generate(&p);
            assert_eq!(h.ops.len(), 800);
            assert_eq!(txns(&h).len(), 400);
            let mut last = -1;
            for (n, op) in h.ops.iter().enumerate() {
                assert_eq!(op.index, n as u64);
                let t = op.time.unwrap();
                assert!(t > last, "time not increasing at {n}");
                last = t;
                assert_eq!(op.f, OpFn::Txn);
                if op.kind == OpType::Invoke {
                    assert!(mops(op).iter().all(
                        |m| !matches!(m, Mop::Read { value, .. } if *value != ReadResult::Nil)
                    ));
                }
            }
            let c = h.counts();
            assert_eq!(c.ok + c.fail + c.info, 400);
            assert!(c.fail > 0 && c.info > 0, "{i:?}: {c:?}");
        }
    }

    #[test]
    fn process_changes_after_info_and_info_fail_carry_invoke_value() {
        let mut p = params(Workload::RwRegister, Behaviour::SnapshotIsolation, 400);
        p.clients = 5;
        p.info_fraction = 0.2;
        let h = generate(&p);
        let ts = txns(&h);
        let infos = ts.iter().filter(|t| t.kind == OpType::Info).count();
        let mut ended: HashSet<Process> = HashSet::new();
        let mut procs = HashSet::new();
        for t in &ts {
            let inv = &h.ops[t.invoke];
            let Process::Client(n) = inv.process else {
                panic!()
            };
            assert!(
                n < 5 || procs.contains(&Process::Client(n - 5)),
                "process {n} from nowhere"
            );
            assert!(
                !ended.contains(&inv.process),
                "process {n} reused after info"
            );
            procs.insert(inv.process);
            if t.kind != OpType::Ok {
                assert_eq!(h.ops[t.complete].value, inv.value);
            }
            if t.kind == OpType::Info {
                ended.insert(inv.process);
            }
        }
        assert!(infos > 0);
        assert!(procs.len() > 5 && procs.len() <= 5 + infos);
    }

    #[test]
    fn written_values_unique_per_key_and_keys_retire() {
        for w in [Workload::ListAppend, Workload::RwRegister] {
            let p = SimParams {
                keys: 3,
                max_writes_per_key: 5,
                ..params(w, Behaviour::Serializable, 300)
            };
            let h = generate(&p);
            let mut written: HashMap<Atom, Vec<i64>> = HashMap::new();
            for op in h.ops.iter().filter(|o| o.kind == OpType::Invoke) {
                for m in mops(op) {
                    match m {
                        Mop::Append {
                            key,
                            elem: Atom::Int(v),
                        }
                        | Mop::Write {
                            key,
                            value: Atom::Int(v),
                        } => written.entry(key.clone()).or_default().push(*v),
                        Mop::Read { .. } => {}
                        other => panic!("{other:?}"),
                    }
                }
            }
            assert!(written.len() > 3, "{w:?}: no key retired");
            for (k, mut vs) in written {
                vs.sort();
                let n = vs.len() as i64;
                assert!(n <= 5, "key {k} written {n} times");
                assert_eq!(vs, (1..=n).collect::<Vec<_>>(), "key {k}");
            }
        }
    }

    #[test]
    fn serializable_list_append_is_strict_serializable() {
        for seed in 0..3 {
            let mut p = contended(Workload::ListAppend, Behaviour::Serializable, seed);
            p.fail_fraction = 0.1;
            let h = generate(&p);
            assert_compatible_orders(&h);
            for (_, chains) in h.lists.keys() {
                assert_eq!(chains.len(), 1, "one chain per key");
            }
            let (n, edges) = list_graph(&h);
            assert!(
                !cyclic(&adjacency(n, &edges, WW | WR | RW | RT)),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn snapshot_isolation_shows_write_skew_but_nothing_si_forbids() {
        let mut skew = false;
        for seed in 0..3 {
            let p = contended(Workload::ListAppend, Behaviour::SnapshotIsolation, seed);
            let h = generate(&p);
            assert!(h.counts().fail > 0, "first-committer-wins never aborted");
            assert_compatible_orders(&h);
            let (n, edges) = list_graph(&h);
            assert!(!cyclic(&adjacency(n, &edges, WW | WR | RT)), "G0/G1c");
            assert!(!g_single(n, &edges), "G-single");
            skew |= cyclic(&adjacency(n, &edges, WW | WR | RW));
        }
        assert!(skew, "no G2-item under contention");
    }

    #[test]
    fn read_committed_has_no_g1() {
        for w in [Workload::ListAppend, Workload::RwRegister] {
            let h = generate(&contended(w, Behaviour::ReadCommitted, 0));
            assert!(h.counts().ok > 300, "{:?}", h.counts());
            if w == Workload::ListAppend {
                assert_compatible_orders(&h);
                let (n, edges) = list_graph(&h);
                assert!(!cyclic(&adjacency(n, &edges, WW | WR)), "G0/G1c");
            }
        }
    }

    #[test]
    fn snapshot_isolation_and_serializable_never_lose_updates() {
        for w in [Workload::ListAppend, Workload::RwRegister] {
            for i in [Behaviour::Serializable, Behaviour::SnapshotIsolation] {
                for seed in 0..3 {
                    let h = generate(&contended(w, i, seed));
                    assert_eq!(lost_update_pairs(&h), 0, "{w:?} {i:?} seed {seed}");
                }
            }
        }
    }

    #[test]
    fn lost_update_mode_loses_updates() {
        for w in [Workload::ListAppend, Workload::RwRegister] {
            for seed in 0..3 {
                let h = generate(&contended(w, Behaviour::LostUpdate, seed));
                assert!(lost_update_pairs(&h) > 0, "{w:?} seed {seed}");
            }
        }
    }

    #[test]
    fn failed_txns_are_never_visible() {
        for w in [Workload::ListAppend, Workload::RwRegister] {
            for i in [
                Behaviour::Serializable,
                Behaviour::SnapshotIsolation,
                Behaviour::ReadCommitted,
                Behaviour::LostUpdate,
            ] {
                let mut p = contended(w, i, 7);
                p.fail_fraction = 0.3;
                let h = generate(&p);
                let mut failed = HashSet::new();
                for t in txns(&h).iter().filter(|t| t.kind == OpType::Fail) {
                    for m in mops(&h.ops[t.invoke]) {
                        if let Mop::Append { key, elem: v } | Mop::Write { key, value: v } = m {
                            failed.insert((key.clone(), v.clone()));
                        }
                    }
                }
                assert!(!failed.is_empty());
                for op in h.ops.iter().filter(|o| o.kind == OpType::Ok) {
                    for m in mops(op) {
                        if let Mop::Read { key, value } = m {
                            for e in read_elems(&h, value) {
                                assert!(!failed.contains(&(key.clone(), e)), "G1a {w:?} {i:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn write_streams_json_lines() {
        let mut p = params(Workload::ListAppend, Behaviour::SnapshotIsolation, 200);
        p.info_fraction = 0.1;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let n = write(&p, &path).unwrap();
        assert_eq!(n, 400);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, render(&generate(&p)));
    }
}
