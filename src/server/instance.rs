//! The one way to get a server for a run or a scenario suite: a [`Server`] (a target isoscope
//! starts, or an external one given by URL) is [`Server::start`]ed into a [`Started`]: where
//! clients connect, what the run folder and the report say about it ([`TargetInfo`]), and the
//! cluster of managed nodes, if isoscope started them.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::target::Target;
use super::{prepare_database, Binaries, Cluster, Disk, Endpoint, Flavor, ServerError};

/// How long one node may take to get ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The server a run or a suite talks to.
#[derive(Clone, Debug)]
pub enum Server {
    /// A fresh private server (or cluster) of this target, started from these binaries.
    Managed(Target, Binaries),
    /// A server someone else runs, of this flavor; its settings are its own business.
    External(Endpoint, Flavor),
}

/// The server a run talked to, as run.json records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Its flavor.
    pub flavor: Flavor,
    /// For a managed server, the target it was started as: the flavor and its settings
    /// (`mariadb[innodb_snapshot_isolation=ON]`). None for an external server, and in run
    /// folders written before targets had settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// `VERSION()` as the server reports it.
    pub version: String,
    /// Where clients connected (password hidden).
    pub endpoint: String,
    /// Whether isoscope started the server itself.
    pub managed: bool,
}

impl TargetInfo {
    /// The server as the report names it: the target with its settings, else the flavor.
    pub fn name(&self) -> String {
        match &self.target {
            Some(t) => t.to_string(),
            None => self.flavor.name().to_string(),
        }
    }
}

/// A server that is up and answers, with its workload database created.
pub struct Started {
    /// Where clients connect (the primary of a cluster).
    pub endpoint: Endpoint,
    /// What run.json and the report say about it.
    pub info: TargetInfo,
    /// The nodes isoscope started; `None` for an external server. Dropping it tears them down.
    pub cluster: Option<Cluster>,
}

impl Server {
    /// The server's flavor.
    pub fn flavor(&self) -> Flavor {
        match self {
            Server::Managed(t, _) => t.flavor,
            Server::External(_, f) => *f,
        }
    }

    /// The server as headings and errors name it: the target, or the URL without its password.
    pub fn label(&self) -> String {
        match self {
            Server::Managed(t, _) => t.to_string(),
            Server::External(ep, _) => ep.redacted(),
        }
    }

    /// Gets the server up: starts a managed target's nodes (on a blocking thread, so a signal
    /// is heard meanwhile; the log at `log`, the data on `disk`) or reaches an external one,
    /// then creates the workload's database and reads the version.
    pub async fn start(&self, log: &Path, disk: Disk) -> Result<Started, ServerError> {
        match self {
            Server::External(ep, flavor) => {
                let version = prepare_database(ep).await?;
                Ok(Started {
                    endpoint: ep.clone(),
                    info: TargetInfo {
                        flavor: *flavor,
                        target: None,
                        version,
                        endpoint: ep.redacted(),
                        managed: false,
                    },
                    cluster: None,
                })
            }
            Server::Managed(target, binaries) => {
                let (t, b, log) = (target.clone(), binaries.clone(), log.to_path_buf());
                let cluster = tokio::task::spawn_blocking(move || {
                    t.start_cluster(&b, &log, "isoscope", START_TIMEOUT, disk)
                })
                .await
                .map_err(|e| ServerError::Unsupported(format!("starting the server: {e}")))??;
                let endpoint = cluster.endpoint();
                let version = prepare_database(&endpoint).await?;
                Ok(Started {
                    info: TargetInfo {
                        flavor: target.flavor,
                        target: Some(target.clone()),
                        version,
                        endpoint: endpoint.redacted(),
                        managed: true,
                    },
                    endpoint,
                    cluster: Some(cluster),
                })
            }
        }
    }
}
