//! Which node of a cluster each op goes to: writing transactions to the primary, read-only ones
//! to the client's own node or to the primary ([`ReadsOn`]). A read from a standby may be
//! stale, and the history then shows it (a realtime anomaly under strict serializability).
//!
//! Invariant: a cluster of one (or an external server) is one unnamed node, so its ops record
//! no node and its histories are as before; in a larger cluster every op records the node it
//! ran on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::server::{Cluster, Endpoint};

/// Where read-only transactions go. Names (clap's, serde's and strum's) are lowercase.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(clap::ValueEnum)]
#[value(rename_all = "lowercase")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum ReadsOn {
    /// To any node: client `i` reads from node `i mod n` (stale reads from standbys show).
    #[default]
    Any,
    /// To the primary, as writes.
    Primary,
}

impl ReadsOn {
    /// The name on the command line and in run.json.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One node a client may talk to: its name (`None` in a cluster of one) and endpoint.
#[derive(Clone, Debug)]
pub struct NodeRef {
    /// `node2`, recorded with each op; `None` for a cluster of one.
    pub name: Option<Arc<str>>,
    /// Where to connect.
    pub endpoint: Endpoint,
    /// Its position among the cluster's nodes.
    pub index: usize,
}

/// The nodes of the run's server, in the cluster's order, and which is the primary now (a
/// failover moves it).
#[derive(Debug)]
pub struct Route {
    nodes: Vec<NodeRef>,
    primary: AtomicUsize,
    reads_on: ReadsOn,
}

impl Route {
    /// The route over `cluster`'s nodes (primary first), or over `endpoint` alone when there is
    /// no cluster (an external server).
    pub fn new(cluster: Option<&Cluster>, endpoint: &Endpoint, reads_on: ReadsOn) -> Route {
        let primary = cluster
            .and_then(|c| c.nodes().iter().position(|n| n.name == c.primary().name))
            .unwrap_or(0);
        let nodes = match cluster {
            Some(c) if c.nodes().len() > 1 => c
                .nodes()
                .iter()
                .enumerate()
                .map(|(index, n)| {
                    let mut ep = n.endpoint.clone();
                    ep.database.clone_from(&endpoint.database);
                    NodeRef {
                        name: Some(Arc::from(n.name.as_str())),
                        endpoint: ep,
                        index,
                    }
                })
                .collect(),
            _ => vec![NodeRef {
                name: None,
                endpoint: endpoint.clone(),
                index: 0,
            }],
        };
        Route {
            primary: AtomicUsize::new(primary.min(nodes.len() - 1)),
            nodes,
            reads_on,
        }
    }

    /// How many nodes there are (at least one).
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Where writing transactions (and the final reads) go: the primary now.
    pub fn primary(&self) -> &NodeRef {
        &self.nodes[self.primary.load(Ordering::SeqCst)]
    }

    /// Node `index` is the primary from now on (after a failover); out of range is ignored.
    pub fn set_primary(&self, index: usize) {
        if index < self.nodes.len() {
            self.primary.store(index, Ordering::SeqCst);
        }
    }

    /// Where client `client`'s read-only transactions go.
    pub fn reader(&self, client: u32) -> &NodeRef {
        match self.reads_on {
            ReadsOn::Primary => self.primary(),
            ReadsOn::Any => &self.nodes[client as usize % self.nodes.len()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_on_names_agree_and_a_lone_server_is_one_unnamed_node() {
        assert_eq!(
            crate::names::serde_and_clap_names::<ReadsOn>(),
            ["any", "primary"]
        );
        let ep = Endpoint::local(3306, "isoscope");
        let r = Route::new(None, &ep, ReadsOn::Any);
        assert!(r.primary().name.is_none());
        assert_eq!(r.reader(5).endpoint, ep);
    }
}
