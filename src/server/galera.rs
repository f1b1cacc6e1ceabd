//! A MariaDB Galera cluster on a per-run network ([`crate::net`]): N nodes (3 by default), each
//! a `mariadbd` with galera-4 in its own namespace, on the standard ports of its own address.
//!
//! How it comes up: node 1's folder is laid out by `mariadb-install-db` and it bootstraps a new
//! cluster (`--wsrep-new-cluster`, on its first start only); `root@'%'` is created there, so that
//! clients in the root namespace (whose packets come from the bridge's address) can connect, and
//! it replicates; then the other nodes start together on empty folders and join by a full state
//! transfer (rsync). Ready: every node answers with `wsrep_ready=ON`, `Synced`, and
//! `wsrep_cluster_size` equal to the node count.
//!
//! Why the nodes run as `mysql`: rsync's state transfer fails when mariadbd runs as root (the
//! joiner's rsync daemon drops to `nobody` and cannot write its folder). So every node's folder is
//! owned by `mysql`, and the node joins its namespace and then drops to `mysql` between fork and
//! exec, in that order (joining needs root), before setting its parent-death signal (a change
//! of user clears it), so that a node still dies with isoscope.
//!
//! A killed node restarts the way systemd's unit does it: `mariadbd --wsrep-recover` reads the
//! last committed position from InnoDB and exits, then the node starts with
//! `--wsrep-start-position`, so it catches up by an incremental transfer (IST) instead of a full
//! one.
//!
//! Status is read over each node's unix socket, which no network fault reaches, so a node cut off
//! from the others can still say that it is not primary.
//!
//! Invariants: every node's folder is a scratch folder naming its process (a stale one is killed
//! and removed at the next start); nodes are SIGKILLed (their process group: rsync helpers too)
//! and their folders removed on drop, then the network goes.

use std::fs::{File, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::cluster::{Cluster, NodeSpec, Role};
use super::flavor::{ClusterPlan, FlavorSpec};
use super::target::Setting;
use super::{
    find_binary, log_since, spawn_child, Binaries, Disk, Endpoint, Flavor, Launcher, ManagedServer,
    ServerError,
};
use crate::net::{NetError, Topology};

/// The number of nodes a cluster has unless asked otherwise.
pub const DEFAULT_NODES: usize = 3;

/// The SQL port every node listens on, in its own namespace.
pub const PORT: u16 = 3306;

/// Why a cluster could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub enum GaleraError {
    /// The network could not be made or changed (or isoscope is not root).
    #[error(transparent)]
    Net(#[from] NetError),
    /// A binary is missing, or an OS-level failure around a node.
    #[error(transparent)]
    Server(#[from] super::ServerError),
    /// A node did not start, exited, or the cluster did not form in time.
    #[error("galera node {node} {problem}; last lines of {log}:\n{tail}")]
    NotReady {
        /// The node's name (`n1`...).
        node: String,
        /// What went wrong.
        problem: String,
        /// Its log file.
        log: String,
        /// The end of its log.
        tail: String,
    },
    /// An SQL-level failure while setting the cluster up or reading a node's status.
    #[error("galera node {node}: {what}: {message}")]
    Sql {
        /// The node's name.
        node: String,
        /// What isoscope was doing.
        what: String,
        /// The driver's message.
        message: String,
    },
    /// An argument out of range, or a user that does not exist.
    #[error("{0}")]
    Unsupported(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> GaleraError {
    let what = what.into();
    move |source| GaleraError::Server(ServerError::Io { what, source })
}

/// The binaries a Galera node needs: `mariadbd`, `mariadb-install-db` and the galera-4 provider.
#[derive(Clone, Debug)]
pub struct Galera {
    mariadbd: PathBuf,
    install_db: PathBuf,
    provider: PathBuf,
}

impl Galera {
    /// Finds `mariadbd` (at `explicit`, on PATH, or in /usr/sbin), `mariadb-install-db` and
    /// `/usr/lib/galera/libgalera_smm.so` (galera-4, which `scripts/install-servers` installs).
    pub fn locate(explicit: Option<&Path>) -> Result<Galera, GaleraError> {
        let mariadbd = find_binary(
            explicit,
            "mariadbd",
            &[PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")],
            "mariadbd",
        )?;
        let install_db = find_binary(
            None,
            "mariadb-install-db",
            &[PathBuf::from("/usr/bin")],
            "mariadbd",
        )?;
        let provider = find_binary(
            None,
            "libgalera_smm.so",
            &[
                PathBuf::from("/usr/lib/galera"),
                PathBuf::from("/usr/lib64/galera-4"),
            ],
            "mariadbd",
        )?;
        Ok(Galera {
            mariadbd,
            install_db,
            provider,
        })
    }
}

/// How a cluster is started.
#[derive(Clone, Debug)]
pub struct GaleraConfig {
    /// How many nodes (1 to [`crate::net::MAX_NODES`]).
    pub nodes: usize,
    /// `mariadbd` options every node gets after isoscope's own (so they override them).
    pub settings: Vec<Setting>,
    /// Where each node's log goes: `n1.log`, `n2.log`... (appended to across restarts).
    pub log_dir: PathBuf,
    /// The database the workload uses, created once the cluster formed.
    pub database: String,
    /// How long one node may take to start, and the whole cluster to form.
    pub start_timeout: Duration,
}

impl GaleraConfig {
    /// Three nodes, no settings, logs in `log_dir`, database `isoscope`, 120 s to start.
    pub fn new(log_dir: &Path) -> GaleraConfig {
        GaleraConfig {
            nodes: DEFAULT_NODES,
            settings: Vec::new(),
            log_dir: log_dir.to_path_buf(),
            database: "isoscope".into(),
            start_timeout: Duration::from_secs(120),
        }
    }
}

/// What a node says about itself and its cluster.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeStatus {
    /// `wsrep_cluster_size`: the nodes in its view.
    pub cluster_size: usize,
    /// `wsrep_ready`: whether it accepts queries.
    pub ready: bool,
    /// `wsrep_local_state_comment`: `Synced`, `Joining`, `Donor/Desynced`, `Initialized`...
    pub state: String,
    /// `wsrep_cluster_status`: `Primary` or `non-Primary`.
    pub component: String,
}

/// The query a node's status is read with.
const STATUS_SQL: &str = "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size', \
     'wsrep_ready', 'wsrep_local_state_comment', 'wsrep_cluster_status')";

impl NodeStatus {
    /// The status from `SHOW STATUS` rows (name, value).
    fn parse<'a>(rows: impl Iterator<Item = (&'a str, &'a str)>) -> NodeStatus {
        let mut s = NodeStatus::default();
        for (k, v) in rows {
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "wsrep_cluster_size" => s.cluster_size = v.parse().unwrap_or(0),
                "wsrep_ready" => s.ready = v.eq_ignore_ascii_case("ON"),
                "wsrep_local_state_comment" => s.state = v.to_string(),
                "wsrep_cluster_status" => s.component = v.to_string(),
                _ => {}
            }
        }
        s
    }

    /// Ready, synced and primary, in a view of `nodes` nodes.
    pub fn is_synced_in(&self, nodes: usize) -> bool {
        self.ready
            && self.state == "Synced"
            && self.component == "Primary"
            && self.cluster_size == nodes
    }
}

/// A node: its folder, log and process.
struct Node {
    name: String,
    /// Scratch folder: `data/`, `tmp/`, `sock`, `pid`; owned by `mysql`.
    dir: tempfile::TempDir,
    log_path: PathBuf,
    child: Option<Child>,
    /// Whether it has been started once (only node 1's first start bootstraps).
    started: bool,
}

/// A running Galera cluster and its network; torn down on drop.
pub struct GaleraCluster {
    galera: Galera,
    cfg: GaleraConfig,
    user: (libc::uid_t, libc::gid_t),
    /// Declared before `net`: the nodes go first.
    nodes: Vec<Node>,
    net: Topology,
}

/// Looks up a user's uid and gid.
fn user_ids(name: &str) -> Result<(libc::uid_t, libc::gid_t), GaleraError> {
    let c = std::ffi::CString::new(name).map_err(|_| GaleraError::Unsupported(name.into()))?;
    // SAFETY: getpwnam returns a pointer to static storage or null; read at once.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return Err(GaleraError::Unsupported(format!(
            "there is no user {name:?} to run galera nodes as (mariadb-server's package makes it)"
        )));
    }
    // SAFETY: non-null, as checked.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// The `mariadbd` command for node `i` (0-based, named `n{i+1}`) with its folder at `dir`: in
/// its namespace, as `user`, dying with isoscope; `extra` options last.
fn node_command(
    galera: &Galera,
    net: &Topology,
    i: usize,
    dir: &Path,
    settings: &[Setting],
    user: (libc::uid_t, libc::gid_t),
    extra: &[String],
) -> Result<Command, NetError> {
    let addr = net.addr(i);
    let members: Vec<String> = (0..net.nodes()).map(|k| net.addr(k).to_string()).collect();
    let mut cmd = net.command(i, &galera.mariadbd)?;
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .arg(format!("--port={PORT}"))
        .arg(format!("--bind-address={addr}"))
        .arg("--innodb-lock-wait-timeout=2")
        .arg("--innodb-buffer-pool-size=64M")
        .arg("--max-connections=1000")
        .arg("--skip-name-resolve")
        .arg("--wsrep-on=ON")
        .arg(format!("--wsrep-provider={}", galera.provider.display()))
        .arg(format!("--wsrep-cluster-name={}", net.tag()))
        .arg(format!(
            "--wsrep-cluster-address=gcomm://{}",
            members.join(",")
        ))
        .arg(format!("--wsrep-node-address={addr}"))
        .arg(format!("--wsrep-node-name=n{}", i + 1))
        .arg("--wsrep-sst-method=rsync")
        .arg("--binlog-format=ROW")
        .arg("--innodb-autoinc-lock-mode=2");
    for s in settings {
        cmd.arg(format!("--{}={}", s.key, s.value));
    }
    cmd.args(extra);
    let (uid, gid) = user;
    cmd.stdin(Stdio::null()).process_group(0);
    // SAFETY: setgroups, setgid, setuid and prctl are async-signal-safe and touch only the
    // child. They run after the namespace is joined (registered first, by `net.command`).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(1, &gid) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // After the change of user, which clears it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    Ok(cmd)
}

/// Lays out a node's data folder with `mariadb-install-db`, as `mysql` (the folder must be
/// mysql's already); its output goes to `log`.
fn install_db(galera: &Galera, dir: &Path, log: &File) -> Result<(), String> {
    let clone = || {
        log.try_clone()
            .map_err(|e| format!("cloning the log handle: {e}"))
    };
    let status = Command::new(&galera.install_db)
        .arg("--no-defaults")
        .arg("--user=mysql")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .stdin(Stdio::null())
        .stdout(clone()?)
        .stderr(clone()?)
        .status()
        .map_err(|e| format!("running {}: {e}", galera.install_db.display()))?;
    if !status.success() {
        return Err(format!("was not laid out: mariadb-install-db {status}"));
    }
    Ok(())
}

/// Gives `path` and everything under it to `uid:gid`.
fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

impl GaleraCluster {
    /// Makes the network, lays out node 1, bootstraps it, lets the others join, and returns
    /// once every node is synced in a view of all of them (or fails after the start timeout,
    /// with the log tail of the node that was not ready).
    pub async fn start(galera: Galera, cfg: GaleraConfig) -> Result<GaleraCluster, GaleraError> {
        let user = user_ids("mysql")?;
        let net = Topology::create(cfg.nodes)?;
        std::fs::create_dir_all(&cfg.log_dir)
            .map_err(io(format!("creating {}", cfg.log_dir.display())))?;
        let mut nodes = Vec::new();
        for i in 0..cfg.nodes {
            let dir = crate::scratch::make(crate::scratch::Leftover::ServerData)
                .map_err(io("creating a node's folder"))?;
            for sub in ["data", "tmp"] {
                std::fs::create_dir_all(dir.path().join(sub))
                    .map_err(io(format!("creating {}", dir.path().join(sub).display())))?;
            }
            let name = format!("n{}", i + 1);
            nodes.push(Node {
                log_path: cfg.log_dir.join(format!("{name}.log")),
                name,
                dir,
                child: None,
                started: false,
            });
        }
        let mut c = GaleraCluster {
            galera,
            cfg,
            user,
            nodes,
            net,
        };
        // mariadb-install-db runs its bootstrap as mysql, so the folders are mysql's first.
        for n in &c.nodes {
            chown_tree(n.dir.path(), user.0, user.1)
                .map_err(io(format!("giving {} to mysql", n.dir.path().display())))?;
        }
        c.install_db(0)?;
        c.spawn(0, None)?;
        c.wait_started(0, 0).await?;
        // "ready for connections" comes a moment before the node accepts queries (1047).
        c.wait_status(0, c.cfg.start_timeout, |s| s.is_synced_in(1))
            .await?;
        c.sql(
            0,
            "creating root@'%' and the database",
            &[
                "CREATE USER IF NOT EXISTS 'root'@'%'",
                "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION",
                &format!("CREATE DATABASE IF NOT EXISTS `{}`", c.cfg.database),
            ],
        )
        .await?;
        let mut offsets = Vec::new();
        for i in 1..c.nodes.len() {
            offsets.push((i, c.log_len(i)));
            c.spawn(i, None)?;
        }
        for (i, offset) in offsets {
            c.wait_started(i, offset).await?;
        }
        c.wait_synced(&(0..c.nodes.len()).collect::<Vec<_>>(), c.cfg.start_timeout)
            .await?;
        Ok(c)
    }

    /// The network the nodes are on: cut and heal links through it.
    pub fn net(&self) -> &Topology {
        &self.net
    }

    /// How many nodes.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Node `i`'s name (`n1` for node 0).
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Where clients in the root namespace connect to node `i` (as `root@'%'`).
    pub fn endpoint(&self, i: usize) -> Endpoint {
        let mut ep = Endpoint::local(PORT, &self.cfg.database);
        ep.host = self.net.addr(i).to_string();
        ep
    }

    /// Node `i`'s log.
    pub fn log_path(&self, i: usize) -> &Path {
        &self.nodes[i].log_path
    }

    /// Node `i`'s folder (`data/` is its data directory), a scratch folder removed on drop.
    pub fn dir(&self, i: usize) -> &Path {
        self.nodes[i].dir.path()
    }

    /// Node `i`'s process id while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    fn log_len(&self, i: usize) -> u64 {
        std::fs::metadata(&self.nodes[i].log_path)
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn open_log(&self, i: usize) -> Result<File, GaleraError> {
        let p = &self.nodes[i].log_path;
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(io(format!("opening {}", p.display())))
    }

    fn not_ready(&self, i: usize, problem: String) -> GaleraError {
        let text = log_since(&self.nodes[i].log_path, 0);
        let lines: Vec<&str> = text.lines().collect();
        GaleraError::NotReady {
            node: self.nodes[i].name.clone(),
            problem,
            log: self.nodes[i].log_path.display().to_string(),
            tail: lines[lines.len().saturating_sub(15)..].join("\n"),
        }
    }

    fn install_db(&self, i: usize) -> Result<(), GaleraError> {
        let log = self.open_log(i)?;
        install_db(&self.galera, self.nodes[i].dir.path(), &log).map_err(|e| self.not_ready(i, e))
    }

    /// The `mariadbd` command for node `i`, in its namespace, as `mysql`, dying with isoscope.
    fn command(&self, i: usize, extra: &[String]) -> Result<Command, GaleraError> {
        Ok(node_command(
            &self.galera,
            &self.net,
            i,
            self.nodes[i].dir.path(),
            &self.cfg.settings,
            self.user,
            extra,
        )?)
    }

    /// Starts node `i`'s process (node 1's first start bootstraps the cluster), optionally at a
    /// recovered position.
    fn spawn(&mut self, i: usize, position: Option<&str>) -> Result<(), GaleraError> {
        if self.nodes[i].child.is_some() {
            return Ok(());
        }
        let mut extra = Vec::new();
        if i == 0 && !self.nodes[0].started {
            extra.push("--wsrep-new-cluster".to_string());
        }
        if let Some(p) = position {
            extra.push(format!("--wsrep-start-position={p}"));
        }
        let mut cmd = self.command(i, &extra)?;
        let log = self.open_log(i)?;
        cmd.stdout(log.try_clone().map_err(io("cloning the log handle"))?)
            .stderr(log);
        let child =
            spawn_child(cmd).map_err(io(format!("starting galera node {}", self.nodes[i].name)))?;
        if let Err(e) = crate::scratch::add_child(self.nodes[i].dir.path(), child.id()) {
            tracing::warn!(
                "could not note galera node {}'s pid: {e}",
                self.nodes[i].name
            );
        }
        self.nodes[i].child = Some(child);
        self.nodes[i].started = true;
        Ok(())
    }

    /// Waits for node `i`'s "ready for connections" after byte `offset` of its log.
    async fn wait_started(&mut self, i: usize, offset: u64) -> Result<(), GaleraError> {
        let deadline = Instant::now() + self.cfg.start_timeout;
        loop {
            if log_since(&self.nodes[i].log_path, offset).contains("ready for connections") {
                return Ok(());
            }
            if let Some(status) = self.exited(i) {
                return Err(self.not_ready(i, format!("exited while starting ({status})")));
            }
            if Instant::now() > deadline {
                self.kill(i);
                return Err(self.not_ready(
                    i,
                    format!("was not ready after {:.0?}", self.cfg.start_timeout),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether node `i`'s process has exited on its own; reaps it if so.
    pub fn exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        let status = self.nodes[i].child.as_mut()?.try_wait().ok()??;
        self.nodes[i].child = None;
        Some(status)
    }

    /// Waits until each node of `which` is synced in a view of every node.
    pub async fn wait_synced(&self, which: &[usize], timeout: Duration) -> Result<(), GaleraError> {
        let n = self.nodes.len();
        for &i in which {
            self.wait_status(i, timeout, |s| s.is_synced_in(n)).await?;
        }
        Ok(())
    }

    /// Waits until node `i`'s status satisfies `ok`; returns that status.
    pub async fn wait_status(
        &self,
        i: usize,
        timeout: Duration,
        ok: impl Fn(&NodeStatus) -> bool,
    ) -> Result<NodeStatus, GaleraError> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.status(i).await {
                Ok(s) if ok(&s) => return Ok(s),
                Ok(s) => format!("{s:?}"),
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                return Err(self.not_ready(
                    i,
                    format!("did not get there in {timeout:.0?}; last: {last}"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn socket_opts(&self, i: usize) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .socket(Some(
                self.nodes[i].dir.path().join("sock").display().to_string(),
            ))
            .user(Some("root"))
            .into()
    }

    async fn sql(&self, i: usize, what: &str, statements: &[&str]) -> Result<(), GaleraError> {
        use mysql_async::prelude::*;
        let err = |e: mysql_async::Error| GaleraError::Sql {
            node: self.nodes[i].name.clone(),
            what: what.into(),
            message: e.to_string(),
        };
        let mut conn = mysql_async::Conn::new(self.socket_opts(i))
            .await
            .map_err(err)?;
        for s in statements {
            conn.query_drop(*s).await.map_err(err)?;
        }
        let _ = conn.disconnect().await;
        Ok(())
    }

    /// Node `i`'s Galera status, read over its unix socket (which network faults never reach).
    pub async fn status(&self, i: usize) -> Result<NodeStatus, GaleraError> {
        use mysql_async::prelude::*;
        let err = |e: mysql_async::Error| GaleraError::Sql {
            node: self.nodes[i].name.clone(),
            what: "reading its status".into(),
            message: e.to_string(),
        };
        let mut conn = mysql_async::Conn::new(self.socket_opts(i))
            .await
            .map_err(err)?;
        let rows: Vec<(String, String)> = conn.query(STATUS_SQL).await.map_err(err)?;
        let _ = conn.disconnect().await;
        Ok(NodeStatus::parse(
            rows.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    }

    /// SIGKILLs node `i` (its whole process group) and waits for it to be gone.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            // SAFETY: kill(2) on the process group of a child we own and have not reaped.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts a node that is down the way systemd does: `--wsrep-recover` reads its last
    /// committed position (`UUID:SEQNO`), then the node starts there and catches up (IST).
    /// Returns the recovered position once the node is synced in a view of every node.
    pub async fn restart(&mut self, i: usize) -> Result<String, GaleraError> {
        if self.nodes[i].child.is_some() {
            return Err(GaleraError::Unsupported(format!(
                "galera node {} is running; kill it before restarting it",
                self.nodes[i].name
            )));
        }
        let offset = self.log_len(i);
        let mut cmd = self.command(i, &["--wsrep-recover".to_string()])?;
        let log = self.open_log(i)?;
        cmd.stdout(log.try_clone().map_err(io("cloning the log handle"))?)
            .stderr(log);
        let mut child = spawn_child(cmd).map_err(io("running mariadbd --wsrep-recover"))?;
        let deadline = Instant::now() + self.cfg.start_timeout;
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.not_ready(i, "did not finish --wsrep-recover".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let text = log_since(&self.nodes[i].log_path, offset);
        let position = text
            .lines()
            .filter_map(|l| l.split("WSREP: Recovered position: ").nth(1))
            .next_back()
            .map(|p| p.trim().to_string());
        let Some(position) = position else {
            return Err(self.not_ready(i, format!("--wsrep-recover ({status}) logged no position")));
        };
        let offset = self.log_len(i);
        self.spawn(i, Some(&position))?;
        self.wait_started(i, offset).await?;
        self.wait_synced(&[i], self.cfg.start_timeout).await?;
        Ok(position)
    }
}

impl Drop for GaleraCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// The target setting that says how many nodes a `galera` target runs (`galera[nodes=5]`); it
/// is isoscope's, not a `mariadbd` option.
pub const NODES_SETTING: &str = "nodes";

/// The node count a target's settings ask for: [`DEFAULT_NODES`] unless `nodes=N` says
/// otherwise (1 to [`crate::net::MAX_NODES`]; anything else is refused).
pub fn node_count(settings: &[Setting]) -> Result<usize, ServerError> {
    let Some(s) = settings.iter().find(|s| s.key == NODES_SETTING) else {
        return Ok(DEFAULT_NODES);
    };
    match s.value.parse::<usize>() {
        Ok(n) if (1..=crate::net::MAX_NODES).contains(&n) => Ok(n),
        _ => Err(ServerError::Unsupported(format!(
            "galera[nodes={}]: a cluster has 1 to {} nodes",
            s.value,
            crate::net::MAX_NODES
        ))),
    }
}

/// Galera as a target: `--db galera`, `galera[nodes=5]`, other settings `mariadbd` options of
/// every node. MariaDB's engine, so its defaults are InnoDB's; what differs is the cluster
/// (started by [`FlavorSpec::start_cluster`], as [`GaleraCluster`] does, each node a
/// [`ManagedServer`] so that faults and the health watch reach it) and 1047, a node that is not
/// in the primary component refusing a statement: a definite failure.
pub struct GaleraFlavor;

impl FlavorSpec for GaleraFlavor {
    fn flavor(&self) -> Flavor {
        Flavor::Galera
    }

    fn display_name(&self) -> &'static str {
        "MariaDB Galera"
    }

    fn not_ready_codes(&self) -> &'static [u16] {
        &[1047]
    }

    fn launcher(
        &self,
        _settings: &[Setting],
        _binaries: &Binaries,
    ) -> Result<Box<dyn Launcher>, ServerError> {
        Err(ServerError::Unsupported(
            "galera runs as a cluster of nodes, never a single server".into(),
        ))
    }

    fn nodes(&self, settings: &[Setting]) -> Vec<NodeSpec> {
        let n = node_count(settings).unwrap_or(DEFAULT_NODES);
        (1..=n)
            .map(|k| NodeSpec {
                name: format!("node{k}"),
                role: Role::Primary,
            })
            .collect()
    }

    fn start_cluster(&self, plan: &ClusterPlan<'_>) -> Result<Cluster, ServerError> {
        let unsupported = |e: &dyn std::fmt::Display| ServerError::Unsupported(e.to_string());
        if plan.disk != Disk::Plain {
            return Err(ServerError::Unsupported(
                "galera nodes keep their data on plain folders (the lazy filesystem is not wired for clusters yet)".into(),
            ));
        }
        let n = node_count(plan.settings)?;
        let settings: Vec<Setting> = plan
            .settings
            .iter()
            .filter(|s| s.key != NODES_SETTING)
            .cloned()
            .collect();
        let galera =
            Galera::locate(plan.binaries.mariadbd.as_deref()).map_err(|e| unsupported(&e))?;
        let client = find_binary(None, "mariadb", &[PathBuf::from("/usr/bin")], "mariadbd")?;
        let user = user_ids("mysql").map_err(|e| unsupported(&e))?;
        let net = Arc::new(Topology::create(n).map_err(|e| unsupported(&e))?);
        let mut nodes = Vec::new();
        for (i, spec) in self.nodes(plan.settings).into_iter().enumerate() {
            let launcher = NodeLauncher {
                galera: galera.clone(),
                net: Arc::clone(&net),
                i,
                settings: settings.clone(),
                user,
                bootstrap: AtomicBool::new(i == 0),
                started: AtomicBool::new(false),
            };
            let log = plan.node_log(&spec.name, n);
            // Each start waits for the node's ready line: for a joiner, after its state transfer.
            let server = ManagedServer::start_on(
                Box::new(launcher),
                &log,
                plan.database,
                plan.start_timeout,
                Disk::Plain,
            )?;
            let dir = server.data_dir().to_path_buf();
            if i == 0 {
                wait_cli(&client, &dir, plan.start_timeout, &spec.name, |s| {
                    s.is_synced_in(1)
                })?;
                cli_sql(
                    &client,
                    &dir,
                    "CREATE USER IF NOT EXISTS 'root'@'%'; \
                     GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION",
                )
                .map_err(|e| ServerError::Sql {
                    what: format!("creating root@'%' on galera {}", spec.name),
                    message: e,
                })?;
            }
            let mut endpoint = Endpoint::local(PORT, plan.database);
            endpoint.host = net.addr(i).to_string();
            nodes.push((
                dir,
                super::cluster::Node {
                    name: spec.name,
                    role: spec.role,
                    endpoint,
                    log,
                    server: Arc::new(Mutex::new(server)),
                },
            ));
        }
        for (dir, node) in &nodes {
            wait_cli(&client, dir, plan.start_timeout, &node.name, |s| {
                s.is_synced_in(n)
            })?;
        }
        Cluster::new(Flavor::Galera, nodes.into_iter().map(|(_, n)| n).collect())
            .ok_or_else(|| ServerError::Unsupported("a galera target with no nodes".into()))
    }
}

/// One node of a `galera` target, as a [`Launcher`] for its [`ManagedServer`]: it holds the
/// network, so the network goes when the last node does.
struct NodeLauncher {
    galera: Galera,
    net: Arc<Topology>,
    i: usize,
    settings: Vec<Setting>,
    user: (libc::uid_t, libc::gid_t),
    /// Set until node 1's first start, which bootstraps the cluster.
    bootstrap: AtomicBool,
    /// Set once the node has been started: later starts recover their position first.
    started: AtomicBool,
}

impl NodeLauncher {
    /// Runs `mariadbd --wsrep-recover` on the node's data (as systemd's unit does before a
    /// start) and returns the position it logs, `UUID:SEQNO`; `None` if it logs none (the node
    /// then takes a full state transfer).
    fn recover(&self, dir: &Path) -> Option<String> {
        let log = dir.join("recover.log");
        let _ = std::fs::remove_file(&log);
        let extra = [
            "--wsrep-recover".to_string(),
            format!("--log-error={}", log.display()),
        ];
        let mut cmd = node_command(
            &self.galera,
            &self.net,
            self.i,
            dir,
            &self.settings,
            self.user,
            &extra,
        )
        .ok()?;
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = spawn_child(cmd).ok()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().ok()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = std::fs::read_to_string(&log).ok()?;
        text.lines()
            .filter_map(|l| l.split("WSREP: Recovered position: ").nth(1))
            .next_back()
            .map(|p| p.trim().to_string())
    }
}

impl Launcher for NodeLauncher {
    fn flavor(&self) -> Flavor {
        Flavor::Galera
    }

    fn init(&self, dir: &Path, log: &File) -> Result<(), ServerError> {
        for sub in ["data", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(super::io_err(format!(
                "creating {}",
                dir.join(sub).display()
            )))?;
        }
        chown_tree(dir, self.user.0, self.user.1)
            .map_err(super::io_err(format!("giving {} to mysql", dir.display())))?;
        if self.i == 0 {
            install_db(&self.galera, dir, log).map_err(ServerError::Unsupported)?;
        }
        Ok(())
    }

    fn command(&self, dir: &Path, _port: u16) -> Command {
        let mut extra = Vec::new();
        if self.bootstrap.swap(false, Ordering::SeqCst) {
            extra.push("--wsrep-new-cluster".to_string());
        }
        // A restart (after a kill, say) starts where InnoDB's log says the node was, so that
        // it catches up by IST instead of a full state transfer.
        if self.started.swap(true, Ordering::SeqCst) {
            if let Some(p) = self.recover(dir) {
                extra.push(format!("--wsrep-start-position={p}"));
            }
        }
        node_command(
            &self.galera,
            &self.net,
            self.i,
            dir,
            &self.settings,
            self.user,
            &extra,
        )
        // A command that cannot start, named for the reason: the spawn error then says it.
        .unwrap_or_else(|e| Command::new(format!("galera-node-{}: {e}", self.i + 1)))
    }

    fn ready_line(&self) -> &'static str {
        "ready for connections"
    }
}

/// Runs `sql` on the node whose folder is `dir`, over its socket, with the `mariadb` client.
fn cli_sql(client: &Path, dir: &Path, sql: &str) -> Result<String, String> {
    let out = Command::new(client)
        .arg("--no-defaults")
        .arg(format!("--socket={}", dir.join("sock").display()))
        .args(["-u", "root", "-N", "-B", "-e", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", client.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until the node at `dir` reports a status that satisfies `ok` (read with the client).
fn wait_cli(
    client: &Path,
    dir: &Path,
    timeout: Duration,
    name: &str,
    ok: impl Fn(&NodeStatus) -> bool,
) -> Result<(), ServerError> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match cli_sql(client, dir, STATUS_SQL) {
            Ok(text) => {
                let s = NodeStatus::parse(text.lines().filter_map(|l| l.split_once('\t')));
                if ok(&s) {
                    return Ok(());
                }
                format!("{s:?}")
            }
            Err(e) => e,
        };
        if Instant::now() > deadline {
            return Err(ServerError::Unsupported(format!(
                "galera {name} was not synced after {timeout:.0?}; last: {last}"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> Setting {
        Setting {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn the_node_count_is_three_unless_a_setting_in_range_says_otherwise() {
        assert_eq!(node_count(&[]).unwrap(), 3);
        assert_eq!(node_count(&[set("nodes", "5")]).unwrap(), 5);
        for bad in ["0", "100", "x", "-1"] {
            let e = node_count(&[set("nodes", bad)]).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("galera[nodes={bad}]: a cluster has 1 to 99 nodes")
            );
        }
        let names: Vec<String> = GaleraFlavor
            .nodes(&[set("nodes", "2")])
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(names, ["node1", "node2"]);
        assert!(GaleraFlavor.definite_failure(1047));
    }

    #[test]
    fn a_status_is_read_from_show_status_rows() {
        let s = NodeStatus::parse(
            [
                ("wsrep_cluster_size", "3"),
                ("wsrep_ready", "ON"),
                ("wsrep_local_state_comment", "Synced"),
                ("wsrep_cluster_status", "Primary"),
            ]
            .into_iter(),
        );
        assert!(s.is_synced_in(3) && !s.is_synced_in(2));
        let cut = NodeStatus::parse(
            [
                ("wsrep_ready", "OFF"),
                ("wsrep_cluster_status", "non-Primary"),
            ]
            .into_iter(),
        );
        assert!(!cut.is_synced_in(1));
    }
}
