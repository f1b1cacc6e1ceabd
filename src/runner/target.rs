//! The server in front of a run ([`Server`]): a fresh managed one started from a
//! [`Target`] (a flavor and its settings; started, watched, torn down) or an external one given
//! by URL. [`run_on`] is the whole of `isoscope run` below its command line: clean up what a
//! dead isoscope left, listen for signals, start the server, run, tear down.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{RunConfig, RunError, RunOutput, Shutdown, Stop};
use crate::run_folder::{TargetInfo, SERVER_LOG};
use crate::server::target::Target;
use crate::server::{self, Endpoint, Flavor, ManagedServer, ServerError};

pub use crate::server::Binaries;

/// The server a run talks to.
#[derive(Clone, Debug)]
pub enum Server {
    /// A fresh private server of this target (flavor and settings), started from these
    /// binaries.
    Managed(Target, Binaries),
    /// A server someone else runs, of this flavor; its settings are its own business.
    External(Endpoint, Flavor),
}

impl Server {
    /// The server's flavor.
    pub fn flavor(&self) -> Flavor {
        match self {
            Server::Managed(t, _) => t.flavor,
            Server::External(_, f) => *f,
        }
    }
}

/// Removes what an isoscope that is gone left behind (data folders, copies, the servers on
/// them), saying so on stderr.
pub fn clean_stale() {
    for c in crate::scratch::clean_stale() {
        match c.error {
            None => eprintln!(
                "removed {} left by an isoscope that is gone ({})",
                c.dir.display(),
                c.kind.name()
            ),
            Some(e) => eprintln!(
                "could not remove {}, left by an isoscope that is gone: {e}",
                c.dir.display()
            ),
        }
    }
}

/// Runs `cfg` on `server`: a managed server's log goes into the run's folder, and the server is
/// torn down when the run is checked, on error, and on a signal. `shutdown` stops the run;
/// a signal that comes while the server starts ends the run before the clients start.
pub async fn run_on(
    cfg: RunConfig,
    server: &Server,
    shutdown: &Shutdown,
) -> Result<RunOutput, RunError> {
    cfg.validate()?;
    let stopped_early = |s: &Shutdown| match s.reason() {
        Some(Stop::Signal(sig)) => Err(RunError::StoppedEarly(sig)),
        _ => Ok(()),
    };
    let cfg_log = cfg.out_dir.join(SERVER_LOG);
    let (endpoint, info, managed) = match server {
        Server::External(ep, flavor) => {
            let version = server::prepare_database(ep).await?;
            let info = TargetInfo {
                flavor: *flavor,
                target: None,
                version,
                endpoint: ep.redacted(),
                managed: false,
            };
            (ep.clone(), info, None)
        }
        Server::Managed(target, binaries) => {
            let l = target.launcher(binaries.mariadbd.as_deref(), binaries.dolt.as_deref())?;
            std::fs::create_dir_all(&cfg.out_dir).map_err(|source| RunError::Io {
                what: format!("creating {}", cfg.out_dir.display()),
                source,
            })?;
            let log = cfg.out_dir.join(SERVER_LOG);
            // Started on a blocking thread so that a signal is heard meanwhile; the server is
            // dropped (torn down) as soon as it is up if the run was stopped.
            let disk = match &cfg.nemesis {
                Some(p) if p.needs_lazyfs() => server::Disk::Lazy,
                _ => server::Disk::Plain,
            };
            let s = tokio::task::spawn_blocking(move || {
                ManagedServer::start_on(l, &log, "isoscope", Duration::from_secs(60), disk)
            })
            .await
            .map_err(|e| ServerError::Unsupported(format!("starting the server: {e}")))??;
            stopped_early(shutdown)?;
            let ep = s.endpoint();
            let version = server::prepare_database(&ep).await?;
            let info = TargetInfo {
                flavor: target.flavor,
                target: Some(target.clone()),
                version,
                endpoint: ep.redacted(),
                managed: true,
            };
            (ep, info, Some(Arc::new(Mutex::new(s))))
        }
    };
    stopped_early(shutdown)?;
    let out = super::run(cfg, endpoint, info, managed.clone(), shutdown.child()).await;
    // The last handle: the server is torn down here, off the async threads; then its log,
    // complete, is gzipped (Dolt's can grow to megabytes of conflict lines).
    if let Some(s) = managed {
        let log = cfg_log;
        let _ = tokio::task::spawn_blocking(move || {
            drop(s);
            if let Err(e) = crate::run_folder::compress(&log) {
                tracing::warn!("{} stays uncompressed: {e}", log.display());
            }
        })
        .await;
    }
    out
}
