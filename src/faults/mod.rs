//! Faults: what the nemesis does to a managed server while the clients run, and the health
//! watch that notices what the server does on its own.
//!
//! Why: isolation is only half of what a database promises. A database that keeps every
//! transaction apart but forgets acknowledged writes when it is killed, or that never comes back,
//! fails its users just as surely. Jepsen's nemesis kills, pauses and restarts servers under load;
//! this module does the same to the private server isoscope manages:
//!
//! - `kill`: SIGKILL, a moment down, then start again on the same data;
//! - `pause`: SIGSTOP for a while, then SIGCONT (the process keeps its connections);
//! - `restart`: SIGTERM (a clean shutdown), then start again;
//! - `rewind`: a deliberately lossy fault, to show that the durability checks catch loss. The
//!   server is stopped cleanly and its data copied; a while later it is killed, the copy put
//!   back, and it starts again, so every write acknowledged since the copy is gone. Never part
//!   of `all`.
//!
//! [`NemesisPlan`] says which faults and how often, [`Schedule`] turns it into a seeded sequence
//! of start times with jitter, and [`inject`] applies one fault, reporting each step (begin and
//! end) through a callback so that the runner can record it as `nemesis` ops in the history.
//! [`health`] watches the server's log and process.
//!
//! Faults on the lazy filesystem ([`crate::lazyfs`]; the managed server's data is put on it
//! when the plan has any of them):
//!
//! - `power-loss`: SIGKILL, every unsynced write and name change dropped, start again: a
//!   machine crash, which a process kill is not (the kernel keeps what the process wrote);
//! - `torn-write`: the same, but each file keeps a seeded prefix of its unsynced writes, the
//!   last one torn at a 512-byte boundary;
//! - `disk-full`: writes fail with ENOSPC for a while; `io-error`: fsync and reads fail with
//!   EIO for a while. A server that exits over it is started again, and the health watch reads
//!   its log;
//! - `--fsync ignore` (the plan's [`FsyncMode`]): a lying disk, the positive control any server
//!   must fail under `power-loss`.
//!
//! Dolt's own faults, from its operations notes: `dolt-gc` runs `CALL dolt_gc()` mid-run (it
//! breaks open connections), and `cli-read` runs a read-only `dolt sql` in the served database's
//! folder while the server writes (a read-only CLI truncated a running server's journal in Dolt
//! v1.78.5-v1.80.2). On other servers they do nothing, and say so.
//!
//! Invariant: when [`inject`] returns `Ok`, the server is running and ready again; when it
//! returns `Err`, the server did not come back and is down.

pub mod health;

use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::lazyfs::{DiskFault, FsyncMode, LazyFs};
use crate::server::{ManagedServer, ServerError};

/// One kind of fault. Names (clap's, serde's and strum's) are kebab-case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(ValueEnum)]
#[value(rename_all = "kebab-case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "kebab-case")]
pub enum Fault {
    /// SIGKILL, then start on the same data.
    Kill,
    /// SIGSTOP for a while, then SIGCONT.
    Pause,
    /// SIGTERM, then start on the same data.
    Restart,
    /// Restart on a copy of the data taken a while before: loses acknowledged writes on purpose.
    Rewind,
    /// SIGKILL, every unsynced write and name dropped, then start (a machine crash).
    PowerLoss,
    /// A power loss that keeps a seeded prefix of each file's unsynced writes, the last torn.
    TornWrite,
    /// Writes fail with ENOSPC for a while.
    DiskFull,
    /// fsync and reads fail with EIO for a while.
    IoError,
    /// `CALL dolt_gc()` on the running server (Dolt only).
    DoltGc,
    /// A read-only `dolt sql` in the served database's folder beside the server (Dolt only).
    CliRead,
    /// A planned hand-over in a primary/standby cluster: the primary steps down, the next node
    /// takes over at the next epoch, clients follow ([`failover`]; dolt-cluster).
    Failover,
}

impl Fault {
    /// The faults `all` stands for (not `rewind`, which loses data on purpose, nor the faults
    /// that need the lazy filesystem or Dolt).
    pub const ALL: [Fault; 3] = [Fault::Kill, Fault::Pause, Fault::Restart];

    /// The name on the command line, in run.json and in reports.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Parses a comma-separated list such as `kill,pause` or `all`.
    pub fn parse_list(s: &str) -> Result<Vec<Fault>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let add: Vec<Fault> = match part {
                "all" => Fault::ALL.to_vec(),
                "none" => Vec::new(),
                _ => vec![Fault::from_str(part, false).map_err(|_| {
                    let names: Vec<String> = Fault::value_variants()
                        .iter()
                        .map(|f| f.to_string())
                        .collect();
                    format!("unknown fault {part:?}; use {} or all", names.join(", "))
                })?],
            };
            for f in add {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        Ok(out)
    }

    /// Whether the fault needs the server's data on the lazy filesystem.
    pub fn needs_lazyfs(self) -> bool {
        matches!(
            self,
            Fault::PowerLoss | Fault::TornWrite | Fault::DiskFull | Fault::IoError
        )
    }

    /// Whether the fault cuts the power (so that `--fsync ignore` can show a loss).
    pub fn cuts_power(self) -> bool {
        matches!(self, Fault::PowerLoss | Fault::TornWrite)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which faults, and how often.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NemesisPlan {
    /// The faults to choose from, at random, each time.
    pub faults: Vec<Fault>,
    /// Mean time from the start of one fault to the start of the next.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// How long a pause, a full disk or a failing disk lasts, and how long a rewind lets writes
    /// be acknowledged before it throws them away.
    #[serde(with = "secs")]
    pub hold: Duration,
    /// What fsync does on the lazy filesystem: `ignore` is the lying-disk control.
    #[serde(default)]
    pub fsync: FsyncMode,
}

impl NemesisPlan {
    /// A plan with `hold` at half the interval, at most 5 s.
    pub fn new(faults: Vec<Fault>, interval: Duration) -> NemesisPlan {
        NemesisPlan {
            faults,
            hold: (interval / 2).min(Duration::from_secs(5)),
            interval,
            fsync: FsyncMode::Honor,
        }
    }

    /// The faults as written on the command line: `kill,pause`.
    pub fn label(&self) -> String {
        let faults: Vec<String> = self.faults.iter().map(Fault::to_string).collect();
        let mut l = faults.join(",");
        if self.fsync == FsyncMode::Ignore {
            l.push_str(" (fsync ignored)");
        }
        l
    }

    /// Whether the server's data must be on the lazy filesystem.
    pub fn needs_lazyfs(&self) -> bool {
        self.fsync == FsyncMode::Ignore || self.faults.iter().any(|f| f.needs_lazyfs())
    }

    /// Refuses plans that cannot do what they say: a lying disk with no power cut to show it,
    /// and a rewind (which copies the data folder) on the lazy filesystem's mount.
    pub fn validate(&self) -> Result<(), String> {
        if self.fsync == FsyncMode::Ignore && !self.faults.iter().any(|f| f.cuts_power()) {
            return Err(
                "--fsync ignore shows only under a power cut: add power-loss or torn-write to --nemesis"
                    .into(),
            );
        }
        if self.faults.contains(&Fault::Rewind) && self.needs_lazyfs() {
            return Err("rewind cannot be combined with the lazy filesystem's faults (power-loss, torn-write, disk-full, io-error, --fsync ignore)".into());
        }
        Ok(())
    }
}

/// Durations as seconds in JSON.
mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

/// When the faults come: the first after a quarter to three quarters of the interval, each next
/// one 0.75 to 1.25 intervals after the previous began, and never sooner than one second after
/// the previous one ended (the clients get a moment of health between faults). Seeded, so a
/// run's faults repeat with its seed.
pub struct Schedule {
    plan: NemesisPlan,
    rng: ChaCha8Rng,
    next_at: Duration,
}

impl Schedule {
    /// The schedule of `plan`, seeded with `seed`.
    pub fn new(plan: NemesisPlan, seed: u64) -> Schedule {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e65_6d65_7369_7300);
        let first = plan.interval.mul_f64(rng.random_range(0.25..0.75));
        Schedule {
            plan,
            rng,
            next_at: first,
        }
    }

    /// When (since the run began) the next fault starts, and which it is; `None` if the plan
    /// has no faults.
    pub fn peek(&self) -> Option<Duration> {
        (!self.plan.faults.is_empty()).then_some(self.next_at)
    }

    /// Takes the next fault; `ended_at` is when the previous fault ended, once it has.
    pub fn take(&mut self) -> Option<Fault> {
        if self.plan.faults.is_empty() {
            return None;
        }
        let f = self.plan.faults[self.rng.random_range(0..self.plan.faults.len())];
        let gap = self
            .plan
            .interval
            .mul_f64(self.rng.random_range(0.75..1.25));
        self.next_at += gap;
        Some(f)
    }

    /// Moves the next start to at least one second after `ended_at`.
    pub fn ended(&mut self, ended_at: Duration) {
        self.next_at = self.next_at.max(ended_at + Duration::from_secs(1));
    }
}

/// One step of a fault, recorded as a pair of `nemesis` ops (an invoke as it begins, an `info`
/// as it ends). Names (serde's and strum's) are kebab-case.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "kebab-case")]
pub enum Step {
    /// SIGKILL, a moment down, and start again.
    Kill,
    /// SIGSTOP until SIGCONT.
    Pause,
    /// SIGTERM and start again.
    Restart,
    /// Clean stop, copy of the data, start again (the first half of `rewind`).
    Snapshot,
    /// SIGKILL, the copy put back, start again (the second half of `rewind`).
    Rewind,
    /// SIGKILL, unsynced data and names dropped, start again.
    PowerLoss,
    /// SIGKILL, a torn prefix of the unsynced writes kept, start again.
    TornWrite,
    /// ENOSPC on writes while it lasts.
    DiskFull,
    /// EIO on fsync and reads while it lasts.
    IoError,
    /// `CALL dolt_gc()`.
    DoltGc,
    /// A read-only `dolt sql` beside the server.
    CliRead,
    /// The primary handed over to another node.
    Failover,
    /// Everything synced once, then fsync ignored from here on (`--fsync ignore`).
    FsyncIgnore,
}

impl Step {
    /// The op's `f` in the history (its serde name).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// What [`inject`] reports: a step beginning, or a step ending with what happened.
#[derive(Clone, Debug)]
pub enum Event {
    /// The step begins now.
    Begin(Step),
    /// The step ended now; `detail` says what was done, in words.
    End(Step, String),
    /// The step ended with the server down for good; `error` says why.
    Failed(Step, String),
}

/// Why a fault left the server down.
#[derive(Debug, thiserror::Error)]
#[error("the server did not come back after {step}: {source}")]
pub struct NotBack {
    /// The step after which it did not come back.
    pub step: &'static str,
    /// What starting it said (includes the log's tail).
    pub source: ServerError,
}

/// Applies one fault to `server` and returns once the server is ready again, reporting each
/// step through `report`. Blocking: call it from a thread that may sleep (the run's server start
/// timeout bounds how long). A rewind's snapshot is kept in `scratch`.
///
/// With `--fsync ignore` (the plan's `fsync`), the first call arms the lying disk instead of
/// injecting its fault: everything written so far is synced (so the schema survives), and from
/// then on fsync persists nothing, so every later power loss goes back to that moment.
pub fn inject(
    server: &Arc<Mutex<ManagedServer>>,
    fault: Fault,
    plan: &NemesisPlan,
    scratch: &std::path::Path,
    rng_seed: u64,
    report: &mut dyn FnMut(Event),
) -> Result<(), NotBack> {
    let lock = || server.lock().unwrap_or_else(|p| p.into_inner());
    let mut rng = ChaCha8Rng::seed_from_u64(rng_seed);
    let come_back = |s: &mut ManagedServer, step: Step, report: &mut dyn FnMut(Event)| {
        s.spawn().map_err(|source| {
            report(Event::Failed(step, source.to_string()));
            NotBack {
                step: step.name(),
                source,
            }
        })
    };
    if plan.fsync == FsyncMode::Ignore {
        let s = lock();
        if let Some(fs) = s.lazyfs().filter(|fs| fs.fsync_mode() == FsyncMode::Honor) {
            report(Event::Begin(Step::FsyncIgnore));
            let held = fs.unsynced_bytes();
            let synced = fs.sync_all();
            fs.set_fsync(FsyncMode::Ignore);
            report(Event::End(
                Step::FsyncIgnore,
                match synced {
                    Ok(()) => format!(
                        "synced everything written so far ({}); from now on fsync returns \
                         success and persists nothing",
                        crate::words::count(held, "unsynced byte")
                    ),
                    Err(e) => format!(
                        "could not sync what was written so far ({e}); from now on fsync \
                         returns success and persists nothing"
                    ),
                },
            ));
            return Ok(());
        }
    }
    match fault {
        Fault::Kill => {
            let mut s = lock();
            report(Event::Begin(Step::Kill));
            let pid = s.pid();
            let t = Instant::now();
            let _ = s.kill();
            // Down for a moment, as after a power cut, before the supervisor starts it again.
            std::thread::sleep(Duration::from_millis(rng.random_range(100..1000)));
            come_back(&mut s, Step::Kill, report)?;
            report(Event::End(
                Step::Kill,
                format!(
                    "killed pid {} with SIGKILL; ready again after {:.1} s",
                    pid.unwrap_or(0),
                    t.elapsed().as_secs_f64()
                ),
            ));
        }
        Fault::PowerLoss | Fault::TornWrite => {
            let step = if fault == Fault::PowerLoss {
                Step::PowerLoss
            } else {
                Step::TornWrite
            };
            let mut s = lock();
            report(Event::Begin(step));
            let pid = s.pid();
            let t = Instant::now();
            let _ = s.kill();
            let dropped = match s.lazyfs() {
                Some(fs) if fault == Fault::PowerLoss => fs.power_loss().map(|d| d.to_string()),
                Some(fs) => fs.torn_write(rng.random()).map(|d| d.to_string()),
                None => Ok(NO_LAZYFS.to_string()),
            };
            let dropped = dropped.unwrap_or_else(|e| format!("could not drop the cache: {e}"));
            std::thread::sleep(Duration::from_millis(rng.random_range(100..1000)));
            come_back(&mut s, step, report)?;
            report(Event::End(
                step,
                format!(
                    "killed pid {} with SIGKILL; {dropped}; ready again after {:.1} s",
                    pid.unwrap_or(0),
                    t.elapsed().as_secs_f64()
                ),
            ));
        }
        Fault::DiskFull | Fault::IoError => {
            let (step, disk, what) = if fault == Fault::DiskFull {
                (
                    Step::DiskFull,
                    DiskFault::Full,
                    "writes, creates and growth failed with ENOSPC",
                )
            } else {
                (
                    Step::IoError,
                    DiskFault::IoError,
                    "fsync and reads failed with EIO",
                )
            };
            let mut s = lock();
            report(Event::Begin(step));
            let detail = match s.lazyfs() {
                Some(fs) => disk_fault(fs, disk, plan.hold, what),
                None => NO_LAZYFS.to_string(),
            };
            let detail = match s.exited() {
                // Start it again, so the run goes on; the health watch reads why it exited.
                Some(status) => {
                    come_back(&mut s, step, report)?;
                    format!("{detail}; the server exited during the fault ({status}) and was started again")
                }
                None => format!("{detail}; the server kept running"),
            };
            report(Event::End(step, detail));
        }
        Fault::DoltGc => {
            let s = lock();
            report(Event::Begin(Step::DoltGc));
            let detail = match s.spec().gc_statement() {
                Some(sql) => gc(&s.endpoint(), sql),
                None => format!("{} has no dolt_gc(); nothing done", s.flavor()),
            };
            report(Event::End(Step::DoltGc, detail));
        }
        Fault::Failover => {
            report(Event::Begin(Step::Failover));
            report(Event::End(
                Step::Failover,
                "a failover hands a cluster's primary over, not one server's; nothing done".into(),
            ));
        }
        Fault::CliRead => {
            let s = lock();
            report(Event::Begin(Step::CliRead));
            let detail = match s.cli() {
                Some(cmd) => cli_read(cmd),
                None => format!(
                    "{} has no read-only CLI to run beside it; nothing done",
                    s.flavor()
                ),
            };
            report(Event::End(Step::CliRead, detail));
        }
        Fault::Pause => {
            let mut s = lock();
            report(Event::Begin(Step::Pause));
            let _ = s.pause();
            std::thread::sleep(plan.hold);
            let _ = s.resume();
            report(Event::End(
                Step::Pause,
                format!(
                    "paused pid {} with SIGSTOP for {:.1} s, then SIGCONT",
                    s.pid().unwrap_or(0),
                    plan.hold.as_secs_f64()
                ),
            ));
        }
        Fault::Restart => {
            let mut s = lock();
            report(Event::Begin(Step::Restart));
            let t = Instant::now();
            let _ = s.stop(Duration::from_secs(30));
            come_back(&mut s, Step::Restart, report)?;
            report(Event::End(
                Step::Restart,
                format!(
                    "stopped with SIGTERM and started again; ready after {:.1} s",
                    t.elapsed().as_secs_f64()
                ),
            ));
        }
        Fault::Rewind => {
            let copy: PathBuf = scratch.join("rewind-snapshot");
            {
                let mut s = lock();
                report(Event::Begin(Step::Snapshot));
                let _ = s.stop(Duration::from_secs(30));
                let copied = s.copy_data(&copy);
                come_back(&mut s, Step::Snapshot, report)?;
                match copied {
                    Ok(bytes) => report(Event::End(
                        Step::Snapshot,
                        format!(
                            "stopped cleanly, copied {} of data, started again",
                            crate::words::count(bytes, "byte")
                        ),
                    )),
                    Err(e) => {
                        report(Event::End(
                            Step::Snapshot,
                            format!("could not copy the data ({e}); no rewind"),
                        ));
                        return Ok(());
                    }
                }
            }
            let taken = Instant::now();
            std::thread::sleep(plan.hold);
            let mut s = lock();
            report(Event::Begin(Step::Rewind));
            let _ = s.kill();
            let restored = s.restore_data(&copy);
            come_back(&mut s, Step::Rewind, report)?;
            let _ = std::fs::remove_dir_all(&copy);
            report(Event::End(
                Step::Rewind,
                match restored {
                    Ok(()) => format!(
                        "killed, put back the copy of the data taken {:.1} s earlier, started again",
                        taken.elapsed().as_secs_f64()
                    ),
                    Err(e) => format!("killed; could not put back the copy ({e}); started again"),
                },
            ));
        }
    }
    Ok(())
}

const NO_LAZYFS: &str = "the data is not on the lazy filesystem: nothing dropped";

/// A full or failing disk for `hold`; says how many calls it refused.
fn disk_fault(fs: &LazyFs, disk: DiskFault, hold: Duration, what: &str) -> String {
    let before = fs.counters();
    fs.inject(disk, hold);
    std::thread::sleep(hold);
    fs.clear_fault();
    let after = fs.counters();
    let refused = match disk {
        DiskFault::Full => after.enospc - before.enospc,
        DiskFault::IoError => after.eio - before.eio,
    };
    refused_text(hold, what, refused)
}

/// What a disk fault did: "for 2.0 s the disk was full: 1 call refused".
fn refused_text(hold: Duration, what: &str, refused: u64) -> String {
    format!(
        "for {:.1} s {what}: {} refused",
        hold.as_secs_f64(),
        crate::words::count(refused, "call")
    )
}

/// Runs the flavor's compaction statement (`CALL dolt_gc()`) on its own connection; says how it
/// went. Bounded by a minute.
fn gc(ep: &crate::server::Endpoint, sql: &'static str) -> String {
    let opts = ep.opts(Some(&ep.database));
    let t = Instant::now();
    // Its own thread and runtime: this runs on a blocking thread of the run's runtime.
    let outcome = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            use mysql_async::prelude::Queryable;
            let call = async {
                let mut c = mysql_async::Conn::new(opts).await?;
                let r: Vec<mysql_async::Row> = c.query(sql).await?;
                let _ = c.disconnect().await;
                Ok::<usize, mysql_async::Error>(r.len())
            };
            match tokio::time::timeout(Duration::from_secs(60), call).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 60 s".to_string()),
            }
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the gc thread panicked".into()));
    match outcome {
        Ok(()) => format!("{sql} succeeded in {:.1} s", t.elapsed().as_secs_f64()),
        Err(e) => format!(
            "{sql} failed after {:.1} s: {}",
            t.elapsed().as_secs_f64(),
            short(&e)
        ),
    }
}

/// The read-only query `cli-read` runs.
pub const CLI_READ_QUERY: &str = "SELECT COUNT(*) AS commits FROM dolt_log; SHOW TABLES";

/// Runs the CLI with [`CLI_READ_QUERY`] (CSV out); says how it exited and what it printed first.
/// Killed after 30 s.
fn cli_read(mut cmd: std::process::Command) -> String {
    cmd.args(["sql", "-r", "csv", "-q", CLI_READ_QUERY])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return format!("could not run the CLI: {e}"),
    };
    let deadline = t + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let printed = |s: &str| short(&s.split_whitespace().collect::<Vec<_>>().join(" "));
    match status {
        Some(s) if s.success() => format!(
            "dolt sql -r csv -q \"{CLI_READ_QUERY}\" exited 0 after {:.1} s: {}",
            t.elapsed().as_secs_f64(),
            printed(&out)
        ),
        Some(s) => format!(
            "dolt sql -r csv -q \"{CLI_READ_QUERY}\" failed ({s}) after {:.1} s: {}",
            t.elapsed().as_secs_f64(),
            printed(&format!("{err} {out}"))
        ),
        None => "dolt sql did not finish within 30 s and was killed".into(),
    }
}

/// A message cut to 200 characters.
fn short(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The planned hand-over of `cluster`'s primary from node `from` to node `to` at `epoch`
/// ([`crate::server::FlavorSpec::failover`]), reported as one step. Returns whether `to` is
/// the primary now; blocking.
pub fn failover(
    cluster: &crate::server::Cluster,
    from: usize,
    to: usize,
    epoch: u64,
    report: &mut dyn FnMut(Event),
) -> bool {
    report(Event::Begin(Step::Failover));
    let t = Instant::now();
    let (done, detail) = match cluster.flavor().spec().failover(cluster, from, to, epoch) {
        Ok(d) => (true, format!("{d}; {:.2} s", t.elapsed().as_secs_f64())),
        Err(e) => (false, format!("the failover did not happen: {e}")),
    };
    report(Event::End(Step::Failover, detail));
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_fault_counts_its_refused_calls_in_words() {
        let hold = Duration::from_secs(2);
        assert_eq!(
            refused_text(hold, "the disk was full", 1),
            "for 2.0 s the disk was full: 1 call refused"
        );
        assert_eq!(
            refused_text(hold, "the disk was full", 3),
            "for 2.0 s the disk was full: 3 calls refused"
        );
    }

    #[test]
    fn fault_lists_parse_and_all_leaves_out_rewind() {
        assert_eq!(Fault::parse_list("all").unwrap(), Fault::ALL.to_vec());
        assert_eq!(
            Fault::parse_list("kill, rewind,kill").unwrap(),
            vec![Fault::Kill, Fault::Rewind]
        );
        assert_eq!(
            Fault::parse_list("power-loss,torn-write,disk-full,io-error,dolt-gc,cli-read")
                .unwrap()
                .len(),
            6
        );
        assert!(Fault::parse_list("none").unwrap().is_empty());
        let e = Fault::parse_list("kill,partition").unwrap_err();
        assert!(e.contains("\"partition\""), "{e}");
        assert!(e.contains("power-loss"), "{e}");
    }

    #[test]
    fn names_are_the_same_in_clap_serde_and_histories() {
        let faults = crate::names::serde_and_clap_names::<Fault>();
        assert_eq!(
            faults,
            [
                "kill",
                "pause",
                "restart",
                "rewind",
                "power-loss",
                "torn-write",
                "disk-full",
                "io-error",
                "dolt-gc",
                "cli-read",
                "failover",
            ]
        );
        for f in Fault::value_variants() {
            assert_eq!(f.to_string(), f.name());
        }
        // Each fault's steps carry its name into the history; two steps are not faults.
        let steps = crate::names::serde_names::<Step>();
        assert!(faults.iter().all(|f| steps.contains(f)));
        let not_faults: Vec<_> = steps.iter().filter(|s| !faults.contains(s)).collect();
        assert_eq!(not_faults, [&"snapshot", &"fsync-ignore"]);
        let mut plan = NemesisPlan::new(vec![Fault::Kill], Duration::from_secs(5));
        assert!(!plan.needs_lazyfs());
        plan.fsync = FsyncMode::Ignore;
        assert!(plan.needs_lazyfs());
        assert_eq!(plan.label(), "kill (fsync ignored)");
        let back: NemesisPlan =
            serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        assert_eq!(back.fsync, FsyncMode::Ignore);
        assert!(plan.validate().unwrap_err().contains("power-loss"));
        plan.faults = vec![Fault::PowerLoss];
        assert_eq!(plan.validate(), Ok(()));
        plan.faults.push(Fault::Rewind);
        assert!(plan.validate().unwrap_err().contains("rewind"));
    }

    #[test]
    fn the_schedule_is_seeded_jittered_and_spaced() {
        let plan = NemesisPlan::new(vec![Fault::Kill, Fault::Pause], Duration::from_secs(10));
        let starts = |seed| {
            let mut s = Schedule::new(plan.clone(), seed);
            (0..6)
                .map(|_| {
                    let at = s.peek().unwrap();
                    (at, s.take().unwrap())
                })
                .collect::<Vec<_>>()
        };
        let a = starts(7);
        assert_eq!(a, starts(7));
        assert_ne!(a, starts(8));
        assert!(a[0].0 >= Duration::from_millis(2500) && a[0].0 <= Duration::from_millis(7500));
        for w in a.windows(2) {
            let gap = w[1].0 - w[0].0;
            assert!(gap >= Duration::from_millis(7500) && gap <= Duration::from_millis(12500));
        }
        // Five faults always start within 60 s at a 10 s interval.
        assert!(a[4].0 < Duration::from_secs(60));
        // A fault that ends late pushes the next one back.
        let mut s = Schedule::new(plan, 1);
        s.take();
        s.ended(Duration::from_secs(100));
        assert_eq!(s.peek(), Some(Duration::from_secs(101)));
        assert!(
            Schedule::new(NemesisPlan::new(vec![], Duration::from_secs(1)), 1)
                .peek()
                .is_none()
        );
    }
}
