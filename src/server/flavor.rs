//! What differs per database, said once per flavor: [`FlavorSpec`].
//!
//! Why one trait: the runner, the scenarios, the faults and the report all need to know a few
//! things about the database they talk to (its name, whether it uses the isolation level it is
//! given, how to probe lock waits, which error codes mean "rolled back", which log lines mean
//! trouble, how to start its nodes). Each answer lives with its database ([`super::mariadb`],
//! [`super::mysql`], [`super::dolt`], [`super::tidb`]), and everything else asks [`Flavor::spec`], so a new
//! database is a new module, a new [`Flavor`] variant and one line in [`Flavor::spec`]; no
//! `if flavor == ...` anywhere else.
//!
//! Invariant: the defaults are MySQL's (InnoDB's) behaviour; a flavor overrides only what it does
//! differently, and says why in its own module.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cluster::{Cluster, NodeSpec, Role};
use super::target::Setting;
use super::{Binaries, Disk, Flavor, Launcher, ManagedServer, ServerError};

/// Server error codes every MySQL-compatible engine uses to say the transaction was rolled
/// back: 1213 deadlock (Dolt: serialization failure at COMMIT), 1205 lock wait timeout, 1020
/// record changed (InnoDB snapshot isolation), 1062 duplicate key.
pub const COMMON_ROLLBACK_CODES: [u16; 4] = [1213, 1205, 1020, 1062];

/// The log-line fragments (matched lowercase, anywhere in the line) that make a health finding,
/// by kind. Deliberately narrow: ordinary crash recovery after a kill is the server doing its
/// job and is not a finding.
#[derive(Debug)]
pub struct HealthPatterns {
    /// Corruption: bad checksums, corrupt pages or journals, possible data loss.
    pub corruption: &'static [&'static str],
    /// A crash: a Go panic, a fatal signal, a failed assertion.
    pub panic: &'static [&'static str],
    /// A fatal error or an abort.
    pub fatal: &'static [&'static str],
}

impl HealthPatterns {
    /// What MariaDB's and Dolt's logs (and Go's runtime) print; the default for every flavor.
    pub const COMMON: HealthPatterns = HealthPatterns {
        corruption: &[
            "possible data loss",
            "data loss",
            "corrupt",
            "checksum mismatch",
            "checksum error",
            "invalid checksum",
            "wrong checksum",
            "checksum failed",
            "checksum does not match",
            "page checksum",
        ],
        panic: &[
            "panic:",
            "panic(",
            "got signal",
            "fatal signal",
            "assertion failure",
            "failing assertion",
            "segmentation fault",
            "sigsegv",
        ],
        fatal: &[
            "[fatal]",
            "level=fatal",
            "level=panic",
            "fatal error",
            "[error] aborting",
            "fatal:",
        ],
    };
}

/// How an engine that accepts every isolation level but does not use it runs transactions, in
/// words the scenario table and the report compose into their notes. Each is a phrase without
/// a capital or a full stop.
#[derive(Debug)]
pub struct LevelsIgnored {
    /// What every level does instead: "every level runs the same snapshot transactions merged
    /// at COMMIT".
    pub instead: &'static str,
    /// Why a read lets an anomaly through: "nothing locks a read".
    pub reads: &'static str,
    /// What each transaction sees: "each transaction works on its own snapshot".
    pub snapshot: &'static str,
    /// Why the second writer of a row fails: "the second to commit a change to the same row is
    /// refused at COMMIT (a merge conflict)".
    pub refused: &'static str,
    /// Why a lost update writing the same value twice goes through: "both sessions write the
    /// same value, which Dolt's cell-wise merge takes as no conflict".
    pub same_value: &'static str,
}

/// What a cluster start needs besides the flavor: the target's settings, where its binaries
/// are, where each node's log goes, the database clients use, and how long a node may take.
pub struct ClusterPlan<'a> {
    /// The target's settings, for every node.
    pub settings: &'a [Setting],
    /// The server binaries.
    pub binaries: &'a Binaries,
    /// The log of a cluster of one; the nodes of a larger cluster log beside it
    /// ([`ClusterPlan::node_log`]).
    pub log: &'a Path,
    /// The database the workload uses.
    pub database: &'a str,
    /// How long one node may take to get ready.
    pub start_timeout: Duration,
    /// Plain folders or the lazy filesystem, for every node's data.
    pub disk: Disk,
}

impl ClusterPlan<'_> {
    /// Where node `name` of a cluster of `count` nodes logs: `plan.log` itself for a cluster of
    /// one, else `<stem>-<name>.<ext>` beside it (`server-node2.log`).
    pub fn node_log(&self, name: &str, count: usize) -> PathBuf {
        if count <= 1 {
            return self.log.to_path_buf();
        }
        let stem = self
            .log
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "server".into());
        let ext = self
            .log
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        self.log.with_file_name(format!("{stem}-{name}{ext}"))
    }
}

/// Everything isoscope needs to know about one kind of database. Implemented once per
/// [`Flavor`], in that flavor's module; reached through [`Flavor::spec`].
///
/// To add a database: a module beside `mariadb.rs` with a [`Launcher`] (how one node's data is
/// laid out, which command runs it, which log line means ready) and a unit struct implementing
/// this trait; a [`Flavor`] variant; its arm in [`Flavor::spec`]. Override a default only where
/// the database differs from InnoDB's MySQL.
pub trait FlavorSpec: Send + Sync {
    /// Which flavor this is.
    fn flavor(&self) -> Flavor;

    /// The product's name as reports print it: `MariaDB`, `MySQL`, `Dolt`.
    fn display_name(&self) -> &'static str;

    /// The server as a report heads it: the product's name and its version up to the first
    /// `-` (`MariaDB 10.11.19` for `10.11.19-MariaDB-deb12`).
    fn server_name(&self, version: &str) -> String {
        let v = version.split('-').next().unwrap_or(version);
        format!("{} {v}", self.display_name())
    }

    /// `None` when the engine runs each isolation level as asked (the default); otherwise how
    /// it runs every transaction whatever the level, for the notes beside its results.
    fn levels_ignored(&self) -> Option<&'static LevelsIgnored> {
        None
    }

    /// Whether isoscope can start and manage servers of this flavor (else only reach one by URL).
    fn managed(&self) -> bool {
        true
    }

    /// Whether the engine uses the isolation level a session sets.
    fn honours_isolation(&self) -> bool {
        self.levels_ignored().is_none()
    }

    /// The session variable that bounds a row-lock wait in seconds, which the scenarios set so
    /// that a blocked step ends (`innodb_lock_wait_timeout`); `None` if the engine has none. A
    /// target setting of the same name (dashes or underscores) is left alone.
    fn lock_wait_variable(&self) -> Option<&'static str> {
        Some("innodb_lock_wait_timeout")
    }

    /// The lock-wait probe: a query returning the connection ids that wait on a row lock now,
    /// which the scenarios use to tell a blocked step from a slow one; `None` if the engine
    /// cannot say (a step is then blocked when it has not answered in time).
    fn lock_waits_query(&self) -> Option<&'static str> {
        Some(
            "SELECT trx_mysql_thread_id FROM information_schema.innodb_trx \
             WHERE trx_state = 'LOCK WAIT'",
        )
    }

    /// Server error codes that mean the transaction was rolled back: a definite `fail`, even
    /// at COMMIT.
    fn rollback_codes(&self) -> &'static [u16] {
        &COMMON_ROLLBACK_CODES
    }

    /// Server error codes that mean the node refused the statement because it is not ready to
    /// serve (Galera's 1047 "WSREP has not yet prepared node"): a definite `fail`, never
    /// indeterminate. None by default.
    fn not_ready_codes(&self) -> &'static [u16] {
        &[]
    }

    /// Whether a server error code means the op certainly did not take effect.
    fn definite_failure(&self, code: u16) -> bool {
        self.rollback_codes().contains(&code) || self.not_ready_codes().contains(&code)
    }

    /// The log lines that make health findings ([`crate::faults::health`]).
    fn health_patterns(&self) -> &'static HealthPatterns {
        &HealthPatterns::COMMON
    }

    /// The launcher that starts one node of this flavor with `settings`, from `binaries` (or
    /// found the flavor's usual way); an error if isoscope cannot start this flavor.
    fn launcher(
        &self,
        settings: &[Setting],
        binaries: &Binaries,
    ) -> Result<Box<dyn Launcher>, ServerError>;

    /// The binaries for `version` of this flavor (`dolt@1.83.2`), in place of `binaries`; the
    /// default refuses: isoscope knows one build of the flavor.
    fn versioned(&self, version: &str, _binaries: &Binaries) -> Result<Binaries, ServerError> {
        Err(ServerError::Unsupported(format!(
            "{}@{version}: isoscope runs the {} it finds on PATH; only dolt takes a version",
            self.flavor(),
            self.display_name()
        )))
    }

    /// The nodes a target of this flavor runs, in start order (the first is the one clients
    /// write to when there is a primary). The default: one primary, `node1`.
    fn nodes(&self, _settings: &[Setting]) -> Vec<NodeSpec> {
        vec![NodeSpec {
            name: "node1".into(),
            role: Role::Primary,
        }]
    }

    /// The bootstrap-and-join hook: starts every node of [`FlavorSpec::nodes`] and returns once
    /// the cluster is ready. The default starts a cluster of one, its log at `plan.log`; a
    /// replicated flavor overrides this (bootstrap the first node, join the others, wait until
    /// all are ready), and may lay each node out differently through its own launchers.
    fn start_cluster(&self, plan: &ClusterPlan<'_>) -> Result<Cluster, ServerError> {
        let spec = self
            .nodes(plan.settings)
            .into_iter()
            .next()
            .ok_or_else(|| ServerError::Unsupported("a target with no nodes".into()))?;
        let server = ManagedServer::start_on(
            self.launcher(plan.settings, plan.binaries)?,
            plan.log,
            plan.database,
            plan.start_timeout,
            plan.disk,
        )?;
        Ok(Cluster::of_one(spec, server))
    }

    /// What a durability result on this flavor's managed servers does not show, for the report
    /// beside every durability result (TiDB's embedded store is not TiKV); `None` by default.
    fn durability_caveat(&self) -> Option<&'static str> {
        None
    }

    /// The statement that compacts the engine's storage while it serves (Dolt's
    /// `CALL dolt_gc()`), for the `dolt-gc` fault; `None`: the fault does nothing here.
    fn gc_statement(&self) -> Option<&'static str> {
        None
    }
}

impl Flavor {
    /// What this flavor does its own way: the one place a flavor picks its implementation.
    pub fn spec(self) -> &'static dyn FlavorSpec {
        match self {
            Flavor::MariaDb => &super::mariadb::MariaDbFlavor,
            Flavor::Mysql => &super::mysql::MysqlFlavor,
            Flavor::Dolt => &super::dolt::DoltFlavor,
            Flavor::Tidb => &super::tidb::TidbFlavor,
            Flavor::Galera => &super::galera::GaleraFlavor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flavor_names_itself_and_says_what_it_does_differently() {
        for &f in <Flavor as strum::VariantArray>::VARIANTS {
            assert_eq!(f.spec().flavor(), f);
        }
        assert_eq!(
            Flavor::MariaDb.spec().server_name("10.11.19-MariaDB-deb12"),
            "MariaDB 10.11.19"
        );
        assert_eq!(Flavor::Dolt.spec().server_name("1.86.4"), "Dolt 1.86.4");
        assert!(Flavor::MariaDb.spec().honours_isolation());
        assert!(!Flavor::Dolt.spec().honours_isolation());
        assert_eq!(Flavor::Dolt.spec().lock_wait_variable(), None);
        assert!(Flavor::Dolt.spec().gc_statement().is_some());
        assert!(Flavor::MariaDb.spec().gc_statement().is_none());
        assert!(Flavor::MariaDb.spec().definite_failure(1213));
        assert!(!Flavor::MariaDb.spec().definite_failure(1105));
        assert_eq!(Flavor::Dolt.spec().nodes(&[]).len(), 1);
        let plan = ClusterPlan {
            settings: &[],
            binaries: &Binaries::default(),
            log: Path::new("/r/server.log"),
            database: "isoscope",
            start_timeout: Duration::from_secs(1),
            disk: Disk::Plain,
        };
        assert_eq!(plan.node_log("node1", 1), Path::new("/r/server.log"));
        assert_eq!(plan.node_log("node2", 3), Path::new("/r/server-node2.log"));
        assert!(Flavor::Mysql
            .spec()
            .launcher(&[], &Binaries::default())
            .is_err());
    }
}
