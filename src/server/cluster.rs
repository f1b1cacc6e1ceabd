//! A target's servers as a cluster of nodes: what the runner, the nemesis and the health watch
//! work on. A single server is a cluster of one, so nothing downstream has a special case.
//!
//! Each [`Node`] is a [`ManagedServer`] (its port, data folder on a plain folder or the lazy
//! filesystem, log, process) with a name and a [`Role`]; its health is watched from its own
//! log. How the nodes of a flavor are bootstrapped and joined is the flavor's
//! ([`super::FlavorSpec::start_cluster`]); this module only holds them.
//!
//! Invariants: a cluster has at least one node, and its first node is the one clients write to
//! when the flavor has a primary; every node's server is torn down when the cluster is dropped
//! (each [`ManagedServer`] stops on drop).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::{Endpoint, Flavor, ManagedServer};

/// What a node does in its cluster. Names (serde's and strum's) are lowercase.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    /// Takes writes: the only server of a cluster of one, a replication primary, or any node
    /// of a multi-primary cluster.
    Primary,
    /// Follows a primary and serves reads (MariaDB replication's replicas, Dolt's standbys).
    Replica,
}

impl Role {
    /// The name in run.json and reports.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A node to start: its name and role, as [`super::FlavorSpec::nodes`] lists them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NodeSpec {
    /// `node1`, `node2`, ...
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// One node: a managed server with a name and a role.
pub struct Node {
    /// `node1`, `node2`, ...
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Where clients reach it (address and port), fixed for the node's life: restarts reuse
    /// the port.
    pub endpoint: Endpoint,
    /// Its log file.
    pub log: PathBuf,
    /// The server; a fault under way holds its lock, and the health watch then leaves it alone.
    pub server: Arc<Mutex<ManagedServer>>,
}

impl Node {
    /// A node around a server that is up.
    pub fn new(spec: NodeSpec, server: ManagedServer) -> Node {
        Node {
            name: spec.name,
            role: spec.role,
            endpoint: server.endpoint(),
            log: server.log_path().to_path_buf(),
            server: Arc::new(Mutex::new(server)),
        }
    }

    /// The server, locked (a poisoned lock is taken over: the server itself is still sound).
    pub fn lock(&self) -> MutexGuard<'_, ManagedServer> {
        self.server.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The nodes of one target, in start order.
pub struct Cluster {
    flavor: Flavor,
    nodes: Vec<Node>,
}

impl Cluster {
    /// A cluster of the given nodes, all of `flavor`; `None` if there are none.
    pub fn new(flavor: Flavor, nodes: Vec<Node>) -> Option<Cluster> {
        (!nodes.is_empty()).then_some(Cluster { flavor, nodes })
    }

    /// A single server as a cluster of one.
    pub fn of_one(spec: NodeSpec, server: ManagedServer) -> Cluster {
        Cluster {
            flavor: server.flavor(),
            nodes: vec![Node::new(spec, server)],
        }
    }

    /// Its flavor.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Every node, in start order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node clients write to: the first primary (the first node, as the flavor starts
    /// them).
    pub fn primary(&self) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.role == Role::Primary)
            .unwrap_or(&self.nodes[0])
    }

    /// Where clients connect: the primary's endpoint.
    pub fn endpoint(&self) -> Endpoint {
        self.primary().endpoint.clone()
    }

    /// Every node's log.
    pub fn logs(&self) -> Vec<&Path> {
        self.nodes.iter().map(|n| n.log.as_path()).collect()
    }
}
