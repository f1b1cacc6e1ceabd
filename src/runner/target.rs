//! The server in front of a run ([`Server`]): a fresh managed one started from a
//! [`Target`] (a flavor and its settings; started, watched, torn down) or an external one given
//! by URL. [`run_on`] is the whole of `isoscope run` below its command line: clean up what a
//! dead isoscope left, listen for signals, start the server, run, tear down.

use std::path::PathBuf;
use std::sync::Arc;

use super::{RunConfig, RunError, RunOutput, Shutdown, Stop};
use crate::run_folder::SERVER_LOG;
use crate::server::Disk;

pub use crate::server::{Binaries, Server};

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
    std::fs::create_dir_all(&cfg.out_dir).map_err(|source| RunError::Io {
        what: format!("creating {}", cfg.out_dir.display()),
        source,
    })?;
    let disk = match &cfg.nemesis {
        Some(p) if p.needs_lazyfs() => Disk::Lazy,
        _ => Disk::Plain,
    };
    // Dropped (torn down) as soon as it is up if the run was stopped meanwhile.
    let up = server.start(&cfg.out_dir.join(SERVER_LOG), disk).await?;
    let (endpoint, info, managed) = (up.endpoint, up.info, up.cluster.map(Arc::new));
    stopped_early(shutdown)?;
    let out = super::run(cfg, endpoint, info, managed.clone(), shutdown.child()).await;
    // The last handle: the nodes are torn down here, off the async threads; then their logs,
    // complete, are gzipped (Dolt's can grow to megabytes of conflict lines).
    if let Some(c) = managed {
        let _ = tokio::task::spawn_blocking(move || {
            let logs: Vec<PathBuf> = c.logs().iter().map(|l| l.to_path_buf()).collect();
            drop(c);
            for log in logs {
                if let Err(e) = crate::run_folder::compress(&log) {
                    tracing::warn!("{} stays uncompressed: {e}", log.display());
                }
            }
        })
        .await;
    }
    out
}
