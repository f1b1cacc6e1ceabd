//! Shutdown: the one signal that ends a run, and why it ended (as mini-redis's `Shutdown`).
//!
//! Every task of a run holds a clone of the run's [`Shutdown`]. It fires once, for the first
//! [`Stop`] reason: the time limit, the op limit, a signal (SIGINT, SIGTERM and SIGHUP alike), a
//! server that is gone, or a history that can no longer be written. Every wait of a run (pacing,
//! backoff, reconnects, the nemesis's schedule) goes through [`Shutdown::sleep`], so it ends the
//! moment the run stops. A second signal also fires [`Shutdown::abort`]: the run skips what is
//! left to do (the final reads) and ends at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The time limit was reached.
    Deadline,
    /// The op limit was reached.
    OpLimit,
    /// A signal asked isoscope to stop (its name: SIGINT, SIGTERM, SIGHUP).
    Signal(&'static str),
    /// The server exited on its own; it was started again for the final reads.
    ServerExited,
    /// The server did not come back; there are no final reads.
    ServerGone,
    /// The history could not be written (a full disk, say): what the OS said.
    HistoryUnwritable(String),
}

/// The run's shutdown signal, shared by every task of the run.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    stop: CancellationToken,
    abort: CancellationToken,
    why: Arc<Mutex<Option<Stop>>>,
    /// The reason of the shutdown this one is a child of: a signal to `compare` stops its run.
    parent_why: Option<Arc<Mutex<Option<Stop>>>>,
}

impl Shutdown {
    /// A shutdown that has not fired.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// A shutdown that fires when this one does, or on its own (one run of many).
    pub fn child(&self) -> Shutdown {
        Shutdown {
            stop: self.stop.child_token(),
            abort: self.abort.child_token(),
            why: Arc::default(),
            parent_why: Some(self.why.clone()),
        }
    }

    /// Stops the run for `why`. The first reason is the one kept.
    pub fn stop(&self, why: Stop) {
        let mut w = self.why.lock().unwrap_or_else(|p| p.into_inner());
        if w.is_none() {
            *w = Some(why);
        }
        self.stop.cancel();
    }

    /// Whether the run is stopping.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Why the run stopped, once it has.
    pub fn reason(&self) -> Option<Stop> {
        let read = |w: &Mutex<Option<Stop>>| w.lock().unwrap_or_else(|p| p.into_inner()).clone();
        read(&self.why).or_else(|| self.parent_why.as_deref().and_then(read))
    }

    /// Sleeps for `d`, or less if the run stops first. Returns whether it slept the whole time.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.stop.cancelled() => false,
        }
    }

    /// Stops the run and skips whatever is left to do (the final reads).
    pub fn abort(&self) {
        self.abort.cancel();
    }

    /// Whether what is left to do is to be skipped.
    pub fn is_aborted(&self) -> bool {
        self.abort.is_cancelled()
    }

    /// Sleeps for `d`, or less if the run is aborted. Returns whether it slept the whole time.
    pub async fn sleep_unless_aborted(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.abort.cancelled() => false,
        }
    }

    /// Stops the run when `limit` has passed.
    pub fn stop_after(&self, limit: Duration) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            if s.sleep(limit).await {
                s.stop(Stop::Deadline);
            }
        })
    }

    /// Listens for SIGINT, SIGTERM and SIGHUP until the run is over: the first stops the run,
    /// the second aborts it. Returns an error if the handlers cannot be installed.
    pub fn listen_for_signals(&self) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        let s = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = int.recv() => "SIGINT",
                    _ = term.recv() => "SIGTERM",
                    _ = hup.recv() => "SIGHUP",
                };
                if s.is_stopping() {
                    eprintln!("{name} again: stopping now, without the final reads");
                    s.abort();
                    s.stop(Stop::Signal(name));
                } else {
                    eprintln!("{name}: stopping; what was recorded is checked (again to skip the final reads)");
                    s.stop(Stop::Signal(name));
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_wait_ends_when_the_run_stops_and_the_first_reason_is_kept() {
        let s = Shutdown::new();
        let sleeper = {
            let s = s.clone();
            tokio::spawn(async move { s.sleep(Duration::from_secs(3600)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.stop(Stop::Signal("SIGTERM"));
        s.stop(Stop::Deadline);
        let slept = tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("the sleep ended when the run stopped")
            .unwrap();
        assert!(!slept);
        assert_eq!(s.reason(), Some(Stop::Signal("SIGTERM")));
        assert!(!s.is_aborted());
    }
}
