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
//! Invariant: when [`inject`] returns `Ok`, the server is running and ready again; when it
//! returns `Err`, the server did not come back and is down.

pub mod health;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::server::{ManagedServer, ServerError};

/// One kind of fault.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// SIGKILL, then start on the same data.
    Kill,
    /// SIGSTOP for a while, then SIGCONT.
    Pause,
    /// SIGTERM, then start on the same data.
    Restart,
    /// Restart on a copy of the data taken a while before: loses acknowledged writes on purpose.
    Rewind,
}

impl Fault {
    /// The faults `all` stands for (not `rewind`, which loses data on purpose).
    pub const ALL: [Fault; 3] = [Fault::Kill, Fault::Pause, Fault::Restart];

    /// The name on the command line and in histories.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Restart => "restart",
            Fault::Rewind => "rewind",
        }
    }

    /// Parses one fault name.
    pub fn parse(s: &str) -> Option<Fault> {
        [Fault::Kill, Fault::Pause, Fault::Restart, Fault::Rewind]
            .into_iter()
            .find(|f| f.name() == s)
    }

    /// Parses a comma-separated list such as `kill,pause` or `all`.
    pub fn parse_list(s: &str) -> Result<Vec<Fault>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let add: Vec<Fault> = match part {
                "all" => Fault::ALL.to_vec(),
                "none" => Vec::new(),
                _ => vec![Fault::parse(part).ok_or_else(|| {
                    format!("unknown fault {part:?}; use kill, pause, restart, rewind or all")
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
    /// How long a pause lasts, and how long a rewind lets writes be acknowledged before it
    /// throws them away.
    #[serde(with = "secs")]
    pub hold: Duration,
}

impl NemesisPlan {
    /// A plan with `hold` at half the interval, at most 5 s.
    pub fn new(faults: Vec<Fault>, interval: Duration) -> NemesisPlan {
        NemesisPlan {
            faults,
            hold: (interval / 2).min(Duration::from_secs(5)),
            interval,
        }
    }

    /// The faults as written on the command line: `kill,pause`.
    pub fn label(&self) -> String {
        self.faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(",")
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
/// as it ends).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
}

impl Step {
    /// The op's `f` in the history.
    pub fn name(self) -> &'static str {
        match self {
            Step::Kill => "kill",
            Step::Pause => "pause",
            Step::Restart => "restart",
            Step::Snapshot => "snapshot",
            Step::Rewind => "rewind",
        }
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
                        format!("stopped cleanly, copied {bytes} bytes of data, started again"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists_parse_and_all_leaves_out_rewind() {
        assert_eq!(Fault::parse_list("all").unwrap(), Fault::ALL.to_vec());
        assert_eq!(
            Fault::parse_list("kill, rewind,kill").unwrap(),
            vec![Fault::Kill, Fault::Rewind]
        );
        assert!(Fault::parse_list("none").unwrap().is_empty());
        let e = Fault::parse_list("kill,partition").unwrap_err();
        assert!(e.contains("\"partition\""), "{e}");
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
