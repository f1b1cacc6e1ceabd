//! `dolt-cluster`: Dolt's sql-servers as one primary and its standbys, joined by Dolt's own
//! cluster replication (direct-to-standby: each commit on the primary is pushed to every
//! standby's remotesapi port).
//!
//! Why a flavor of its own and not a Dolt setting: a flavor decides its nodes
//! ([`FlavorSpec::nodes`]) and how they start ([`FlavorSpec::start_cluster`]), and its own
//! error codes (a standby's 1105 refusal); `dolt-cluster` is a column of its own beside `dolt`
//! in a report. Everything else is Dolt's ([`super::dolt::DoltFlavor`]): the same binary, the
//! same YAML config, the same settings in brackets, with a `cluster:` section added per node.
//!
//! Settings: `nodes=N` (2 to 9, default 3: node1 the primary, the rest standbys); every other
//! setting goes into each node's config as for `dolt` (a system variable such as
//! `dolt_cluster_ack_writes_timeout_secs=5` under `system_variables:`, which Dolt sets globally
//! at start: commits then wait up to that long for the standbys). `cluster.*` keys are
//! isoscope's.
//!
//! Every node is on the loopback with its own SQL port and remotesapi port. Ready: every node
//! answers, and the workload's database, created on the primary, exists on every standby.

use std::time::{Duration, Instant};

use super::cluster::{Cluster, Node, NodeSpec, Role};
use super::dolt::{ClusterNode, Dolt, DoltFlavor};
use super::flavor::{ClusterPlan, FlavorSpec, LevelsIgnored};
use super::target::Setting;
use super::{free_port, Binaries, Endpoint, Flavor, Launcher, ManagedServer, ServerError};

/// The node count without a `nodes` setting: a primary and two standbys.
pub const DEFAULT_NODES: usize = 3;

/// The node counts a `nodes` setting may give.
pub const NODES: std::ops::RangeInclusive<usize> = 2..=9;

/// Error 1105 (Dolt's general error code), which a standby answers any write with
/// ("Database iso is read-only."): the node refused the statement, so it did not happen.
pub const READ_ONLY: u16 = 1105;

/// The epoch every node boots at.
const BOOT_EPOCH: u64 = 1;

/// `dolt-cluster`'s answers to [`FlavorSpec`]: Dolt's, except for its nodes, its start, and
/// the standbys' read-only refusal.
pub struct DoltClusterFlavor;

/// The node count a target's settings ask for, and the settings left for Dolt's config.
fn split_settings(settings: &[Setting]) -> Result<(usize, Vec<Setting>), ServerError> {
    let mut nodes = DEFAULT_NODES;
    let mut rest = Vec::new();
    for s in settings {
        if s.key == "nodes" {
            nodes = s
                .value
                .parse()
                .ok()
                .filter(|n| NODES.contains(n))
                .ok_or_else(|| {
                    ServerError::Unsupported(format!(
                        "dolt-cluster setting {s}: nodes must be a whole number from {} to {}",
                        NODES.start(),
                        NODES.end()
                    ))
                })?;
        } else if s.key == "cluster" || s.key.starts_with("cluster.") {
            return Err(ServerError::Unsupported(format!(
                "dolt-cluster setting {s}: isoscope writes the cluster: config itself"
            )));
        } else {
            rest.push(s.clone());
        }
    }
    Ok((nodes, rest))
}

/// Runs `fut` to its end from blocking code: on the runtime whose blocking thread this is
/// ([`super::Server::start`] starts clusters on one), else on a runtime of its own.
fn block_on<F: std::future::Future>(fut: F) -> Result<F::Output, ServerError> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => Ok(h.block_on(fut)),
        Err(_) => Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(super::io_err("starting a runtime for the cluster's set-up"))?
            .block_on(fut)),
    }
}

/// Creates `database` on the primary and waits until every standby has it (Dolt replicates
/// `CREATE DATABASE`), or fails at `deadline` naming the standby that does not.
async fn replicate_database(
    primary: &Endpoint,
    standbys: &[(String, Endpoint)],
    database: &str,
    deadline: Instant,
) -> Result<(), ServerError> {
    use mysql_async::prelude::*;
    let sql = |what: String| {
        move |e: mysql_async::Error| ServerError::Sql {
            what,
            message: e.to_string(),
        }
    };
    let mut conn = mysql_async::Conn::new(primary.opts(None))
        .await
        .map_err(sql(format!("connecting to the primary {primary}")))?;
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{database}`"))
        .await
        .map_err(sql("creating the database on the primary".into()))?;
    let _ = conn.disconnect().await;
    for (name, ep) in standbys {
        loop {
            let found: Result<Option<String>, _> = async {
                let mut c = mysql_async::Conn::new(ep.opts(None)).await?;
                let r = c
                    .query_first(format!("SHOW DATABASES LIKE '{database}'"))
                    .await;
                let _ = c.disconnect().await;
                r
            }
            .await;
            match found {
                Ok(Some(_)) => break,
                _ if Instant::now() > deadline => {
                    return Err(ServerError::Sql {
                        what: format!("waiting for {name} to replicate the database {database}"),
                        message: match found {
                            Err(e) => e.to_string(),
                            Ok(_) => "it has not appeared".into(),
                        },
                    })
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    Ok(())
}

impl FlavorSpec for DoltClusterFlavor {
    fn flavor(&self) -> Flavor {
        Flavor::DoltCluster
    }

    fn display_name(&self) -> &'static str {
        "Dolt cluster"
    }

    fn levels_ignored(&self) -> Option<&'static LevelsIgnored> {
        DoltFlavor.levels_ignored()
    }

    fn lock_wait_variable(&self) -> Option<&'static str> {
        DoltFlavor.lock_wait_variable()
    }

    /// A standby's read-only refusal: the statement was refused, so it did not happen, even at
    /// COMMIT. (1105 is Dolt's code for most of its errors; all that reach a client at COMMIT
    /// are refusals too: merge conflicts, read-only, a role change that asks to reconnect.)
    fn not_ready_codes(&self) -> &'static [u16] {
        &[READ_ONLY]
    }

    fn launcher(
        &self,
        _settings: &[Setting],
        _binaries: &Binaries,
    ) -> Result<Box<dyn Launcher>, ServerError> {
        Err(ServerError::Unsupported(
            "dolt-cluster starts as a cluster of nodes, not as one server".into(),
        ))
    }

    fn versioned(&self, version: &str, binaries: &Binaries) -> Result<Binaries, ServerError> {
        DoltFlavor.versioned(version, binaries)
    }

    /// `node1` the primary, `node2`.. the standbys; a bad `nodes` setting gives the default
    /// here and is refused by [`FlavorSpec::start_cluster`] before any node starts.
    fn nodes(&self, settings: &[Setting]) -> Vec<NodeSpec> {
        let n = split_settings(settings).map_or(DEFAULT_NODES, |(n, _)| n);
        (1..=n)
            .map(|i| NodeSpec {
                name: format!("node{i}"),
                role: if i == 1 { Role::Primary } else { Role::Replica },
            })
            .collect()
    }

    /// Starts every node at once (each with the others as its standby remotes, node1 as the
    /// bootstrap primary), then creates the database on the primary and waits until every
    /// standby has it.
    fn start_cluster(&self, plan: &ClusterPlan<'_>) -> Result<Cluster, ServerError> {
        let (_, settings) = split_settings(plan.settings)?;
        let specs = self.nodes(plan.settings);
        let ports = specs
            .iter()
            .map(|_| free_port())
            .collect::<Result<Vec<u16>, _>>()?;
        let count = specs.len();
        let launchers = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let node = ClusterNode {
                    remotesapi_port: ports[i],
                    standby_remotes: specs
                        .iter()
                        .zip(&ports)
                        .filter(|(other, _)| other.name != spec.name)
                        .map(|(other, port)| (other.name.clone(), *port))
                        .collect(),
                    primary: spec.role == Role::Primary,
                    epoch: BOOT_EPOCH,
                };
                Ok(Dolt::locate(plan.binaries.dolt.as_deref())?
                    .with_settings(settings.clone())?
                    .in_cluster(node))
            })
            .collect::<Result<Vec<Dolt>, ServerError>>()?;
        let deadline = Instant::now() + plan.start_timeout;
        // Together: a node waits for nothing of the others to accept SQL.
        let started: Vec<Result<ManagedServer, ServerError>> = std::thread::scope(|s| {
            let handles: Vec<_> = launchers
                .into_iter()
                .zip(&specs)
                .map(|(l, spec)| {
                    let log = plan.node_log(&spec.name, count);
                    s.spawn(move || {
                        ManagedServer::start_on(
                            Box::new(l),
                            &log,
                            plan.database,
                            plan.start_timeout,
                            plan.disk,
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(ServerError::Unsupported("a node's start panicked".into()))
                    })
                })
                .collect()
        });
        // Any node that did not start fails the cluster; the others stop as they drop.
        let servers = started.into_iter().collect::<Result<Vec<_>, _>>()?;
        let nodes: Vec<Node> = specs
            .into_iter()
            .zip(servers)
            .map(|(spec, server)| Node::new(spec, server))
            .collect();
        let standbys: Vec<(String, Endpoint)> = nodes[1..]
            .iter()
            .map(|n| (n.name.clone(), n.endpoint.clone()))
            .collect();
        block_on(replicate_database(
            &nodes[0].endpoint,
            &standbys,
            plan.database,
            deadline,
        ))??;
        Cluster::new(Flavor::DoltCluster, nodes)
            .ok_or_else(|| ServerError::Unsupported("a cluster with no nodes".into()))
    }

    fn gc_statement(&self) -> Option<&'static str> {
        DoltFlavor.gc_statement()
    }

    /// `CALL dolt_assume_cluster_role('standby', epoch)` on the primary (it returns once the
    /// standbys caught up), then `('primary', epoch)` on the new one; the other standbys follow
    /// at the new primary's first push.
    fn failover(
        &self,
        cluster: &Cluster,
        from: usize,
        to: usize,
        epoch: u64,
    ) -> Result<String, ServerError> {
        let nodes = cluster.nodes();
        let (old, new) = match (nodes.get(from), nodes.get(to)) {
            (Some(o), Some(n)) if from != to => (o, n),
            _ => {
                return Err(ServerError::Unsupported(format!(
                    "no failover from node {from} to node {to} of {}",
                    nodes.len()
                )))
            }
        };
        let assume = |node: &Node, role: &'static str| {
            let ep = node.endpoint.clone();
            let name = node.name.clone();
            async move {
                use mysql_async::prelude::*;
                let what = format!("{name}: dolt_assume_cluster_role('{role}', {epoch})");
                let err = |e: mysql_async::Error| ServerError::Sql {
                    what: what.clone(),
                    message: e.to_string(),
                };
                let mut c = mysql_async::Conn::new(ep.opts(None)).await.map_err(err)?;
                let r = c
                    .query_drop(format!("CALL dolt_assume_cluster_role('{role}', {epoch})"))
                    .await
                    .map_err(err);
                let _ = c.disconnect().await;
                r
            }
        };
        block_on(async {
            assume(old, "standby").await?;
            assume(new, "primary").await
        })??;
        Ok(format!(
            "{} stepped down and {} took over as primary at epoch {epoch}",
            old.name, new.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(s: &[&str]) -> Vec<Setting> {
        s.iter().map(|s| Setting::parse(s).unwrap()).collect()
    }

    #[test]
    fn nodes_are_a_primary_and_standbys_and_a_bad_count_is_refused() {
        let f = DoltClusterFlavor;
        let nodes = f.nodes(&[]);
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[0].role, Role::Primary);
        assert!(nodes[1..].iter().all(|n| n.role == Role::Replica));
        assert_eq!(f.nodes(&settings(&["nodes=5"])).len(), 5);
        let (n, rest) = split_settings(&settings(&[
            "nodes=2",
            "dolt_cluster_ack_writes_timeout_secs=5",
        ]))
        .unwrap();
        assert_eq!((n, rest.len()), (2, 1));
        for bad in [
            "nodes=1",
            "nodes=10",
            "nodes=x",
            "cluster.bootstrap_epoch=2",
        ] {
            assert!(split_settings(&settings(&[bad])).is_err(), "{bad}");
        }
        assert!(f.definite_failure(READ_ONLY));
        assert!(!f.honours_isolation());
    }
}
