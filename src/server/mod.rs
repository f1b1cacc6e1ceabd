//! The servers under test: private instances isoscope starts, breaks and stops, or an external
//! server it only connects to.
//!
//! Why isoscope manages servers itself: faults (kill, pause, restart) need the process, and a
//! comparison is only fair when every cell starts from a fresh server with the same settings.
//! Each flavor ([`mariadb`], [`dolt`]) says how to lay out a data directory, which command starts
//! it and which log line means it is ready; [`ManagedServer`] does the rest the same way for all:
//! a free loopback port, a temporary data directory, the server's log in the run's folder,
//! readiness with a timeout (the log tail in the error), SIGTERM / SIGKILL / SIGSTOP / SIGCONT,
//! and a restart on the same data.
//!
//! Invariants:
//! - a managed server never outlives isoscope: it is killed on drop, and the kernel kills it if
//!   isoscope dies first (`PR_SET_PDEATHSIG`); it runs in its own process group, so Ctrl-C reaches
//!   isoscope only, which then stops it in order. The kernel sends that signal when the *thread*
//!   that forked the server ends, not the process, so every server is forked by one spawner
//!   thread that lives as long as isoscope (`spawn_child`): a short-lived worker thread (a
//!   tokio blocking thread, say) starting a server would kill it when it retires;
//! - passwords never leave [`Endpoint`]: its `Display` and [`Endpoint::redacted`] hide them.

pub mod cluster;
pub mod dolt;
pub mod flavor;
pub mod galera;
pub mod instance;
pub mod mariadb;
pub mod mysql;
pub mod target;
pub mod tidb;

pub use cluster::{Cluster, Node, NodeSpec, Role};
pub use flavor::{ClusterPlan, FlavorSpec};
pub use instance::{Server, Started, TargetInfo};

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The kind of server, which decides how isoscope starts it and what SQL it speaks.
///
/// Names (clap's, serde's and strum's) are lowercase: `mariadb`, `mysql`, `dolt`, `tidb`, `galera`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(clap::ValueEnum)]
#[value(rename_all = "lowercase")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "lowercase")]
pub enum Flavor {
    /// MariaDB (InnoDB).
    MariaDb,
    /// Oracle MySQL; reachable as an external server only.
    Mysql,
    /// Dolt's sql-server.
    Dolt,
    /// TiDB's tidb-server on its embedded unistore store.
    Tidb,
    /// MariaDB with Galera replication (galera-4): a cluster of nodes, 3 by default.
    Galera,
}

impl Flavor {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the server binaries are, when not found on PATH or in the install cache.
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Binaries {
    /// The mariadbd binary [default: PATH, /usr/sbin].
    #[arg(long)]
    pub mariadbd: Option<PathBuf>,
    /// The dolt binary [default: PATH, ~/.cache/isoscope/bin].
    #[arg(long)]
    pub dolt: Option<PathBuf>,
    /// The tidb-server binary [default: PATH, ~/.cache/isoscope/bin].
    #[arg(long)]
    pub tidb: Option<PathBuf>,
}

/// Why a server could not be found, started, or driven.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A binary is on neither PATH nor in the install cache.
    #[error(
        "{binary} not found (looked in {looked}); run scripts/install-servers or pass --{flag}"
    )]
    NotFound {
        /// The binary looked for.
        binary: &'static str,
        /// Where it looked.
        looked: String,
        /// The flag that points at it.
        flag: &'static str,
    },
    /// An OS-level failure around the server process or its files.
    #[error("{what}: {source}")]
    Io {
        /// What isoscope was doing.
        what: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The server did not get ready in time, or exited while starting.
    #[error("{flavor} {problem}; last lines of {log}:\n{tail}")]
    NotReady {
        /// The server.
        flavor: Flavor,
        /// What went wrong.
        problem: String,
        /// Its log file.
        log: String,
        /// The end of the log.
        tail: String,
    },
    /// The operation needs a managed server (e.g. a fault on an external one).
    #[error("{0}")]
    Unsupported(String),
    /// An SQL-level failure while preparing the server.
    #[error("{what}: {message}")]
    Sql {
        /// What isoscope was doing.
        what: String,
        /// The driver's message (never holds a password).
        message: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let what = what.into();
    move |source| ServerError::Io { what, source }
}

/// Where to connect: host, port, user, password and database, parsed from a
/// `mysql://user:pass@host:port/db` URL or made for a managed server.
///
/// Invariant: the password is only ever given to the driver; `Display` shows `***` instead.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password, if any.
    password: Option<String>,
    /// Database the workload uses.
    pub database: String,
}

impl Endpoint {
    /// An endpoint on the loopback for root with no password (how managed servers are set up).
    pub fn local(port: u16, database: &str) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port,
            user: "root".into(),
            password: None,
            database: database.into(),
        }
    }

    /// Parses `mysql://[user[:password]@]host[:port][/database]`. The database defaults to
    /// `isoscope`, the port to 3306, the user to root.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let rest = url
            .strip_prefix("mysql://")
            .or_else(|| url.strip_prefix("mariadb://"))
            .ok_or_else(|| "the URL must start with mysql://".to_string())?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((h, d)) => (h, d.split('?').next().unwrap_or("")),
            None => (rest, ""),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("bad port {p:?} in the URL"))?,
            ),
            None => (hostport, 3306),
        };
        if host.is_empty() {
            return Err("the URL has no host".into());
        }
        let (user, password) = match auth {
            Some(a) => match a.split_once(':') {
                Some((u, p)) => (u.to_string(), Some(p.to_string())),
                None => (a.to_string(), None),
            },
            None => ("root".to_string(), None),
        };
        Ok(Endpoint {
            host: host.into(),
            port,
            user,
            password,
            database: if db.is_empty() {
                "isoscope".into()
            } else {
                db.into()
            },
        })
    }

    /// The URL without its password, safe for logs, histories and reports.
    pub fn redacted(&self) -> String {
        let pw = if self.password.is_some() { ":***" } else { "" };
        format!(
            "mysql://{}{pw}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }

    /// Driver options for this endpoint, connecting to `database` (or to no database).
    pub fn opts(&self, database: Option<&str>) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(self.password.clone())
            .db_name(database.map(str::to_string))
            .prefer_socket(false)
            .tcp_nodelay(true)
            .into()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Creates the workload's database if it is missing, and checks that the server answers.
/// Returns the server's `VERSION()`.
pub async fn prepare_database(ep: &Endpoint) -> Result<String, ServerError> {
    use mysql_async::prelude::*;
    let sql = |what: &str| {
        let what = what.to_string();
        move |e: mysql_async::Error| ServerError::Sql {
            what,
            message: e.to_string(),
        }
    };
    let mut conn = mysql_async::Conn::new(ep.opts(None))
        .await
        .map_err(sql(&format!("connecting to {ep}")))?;
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{}`", ep.database))
        .await
        .map_err(sql("creating the database"))?;
    // Dolt's VERSION() imitates MySQL's; its own version is dolt_version().
    let dolt: Option<String> = conn
        .query_first("SELECT dolt_version()")
        .await
        .unwrap_or(None);
    let version: Option<String> = match dolt {
        Some(v) => Some(v),
        None => conn
            .query_first("SELECT VERSION()")
            .await
            .map_err(sql("reading the version"))?,
    };
    let _ = conn.disconnect().await;
    Ok(version.unwrap_or_default())
}

/// How one flavor of server is laid out and started. [`ManagedServer`] does everything else.
pub trait Launcher: Send + Sync {
    /// Which flavor this is.
    fn flavor(&self) -> Flavor;
    /// Lays out a fresh data directory under `dir` (runs once, before the first start).
    fn init(&self, dir: &Path, log: &File) -> Result<(), ServerError>;
    /// The command that runs the server on `port` with its data under `dir`.
    fn command(&self, dir: &Path, port: u16) -> Command;
    /// A log line that means the server accepts connections.
    fn ready_line(&self) -> &'static str;
    /// A read-only command-line client run in `database`'s own folder under `dir`, beside the
    /// server (Dolt's `dolt sql`); `None` if the flavor has none. Used by the `cli-read` fault.
    fn cli(&self, _dir: &Path, _database: &str) -> Option<Command> {
        None
    }
    /// Sets a fresh server up over SQL once it first answers at `ep` (TiDB's global
    /// variables); runs once, not after restarts. Blocking.
    fn configure(&self, _ep: &Endpoint) -> Result<(), ServerError> {
        Ok(())
    }
}

/// Where a managed server's data directory lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Disk {
    /// A plain temporary folder.
    #[default]
    Plain,
    /// A lazy filesystem ([`crate::lazyfs`]) over a temporary folder, so that faults can cut the
    /// power: the data directory is its mount, the socket and config stay beside it.
    Lazy,
}

/// Finds a binary: an explicit path first, then PATH, then the given extra folders (the install
/// cache, `/usr/sbin`).
pub fn find_binary(
    explicit: Option<&Path>,
    name: &'static str,
    extra: &[PathBuf],
    flag: &'static str,
) -> Result<PathBuf, ServerError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ServerError::NotFound {
                binary: name,
                looked: p.display().to_string(),
                flag,
            })
        };
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(extra.iter().cloned());
    for d in &dirs {
        let p = d.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(ServerError::NotFound {
        binary: name,
        looked: format!("PATH, {}", {
            let e: Vec<String> = extra.iter().map(|p| p.display().to_string()).collect();
            e.join(", ")
        }),
        flag,
    })
}

/// isoscope's install cache, where `scripts/install-servers` puts Dolt: `~/.cache/isoscope`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("ISOSCOPE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/isoscope")))
        .unwrap_or_else(|| PathBuf::from("/tmp/isoscope-cache"))
}

/// A free TCP port on the loopback (the OS picks it; it is free when this returns).
pub fn free_port() -> Result<u16, ServerError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io_err("finding a free port"))?;
    Ok(l.local_addr()
        .map_err(io_err("finding a free port"))?
        .port())
}

/// Whether a managed server's process is up, paused, or down.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// Running and (after start) answering.
    Running,
    /// Stopped with SIGSTOP.
    Paused,
    /// No process.
    Down,
}

/// A private server instance: its own port, data directory and log, torn down on drop. The data
/// directory is a scratch folder (`crate::scratch`) that names the server's process, so that it is
/// cleaned up even after a SIGKILLed isoscope.
pub struct ManagedServer {
    launcher: Box<dyn Launcher>,
    /// The lazy filesystem under the data, if any: unmounted on drop, before `data` goes.
    lazy: Option<crate::lazyfs::LazyFs>,
    /// Holds the data; removed on drop.
    data: tempfile::TempDir,
    log_path: PathBuf,
    port: u16,
    child: Option<Child>,
    state: State,
    database: String,
    start_timeout: Duration,
}

impl ManagedServer {
    /// Lays out a fresh instance and starts it. The data goes in a new temporary directory, the
    /// log (appended to across restarts) at `log_path`. Returns once the server logs that it is
    /// ready, or fails after `start_timeout` with the log's tail.
    pub fn start(
        launcher: Box<dyn Launcher>,
        log_path: &Path,
        database: &str,
        start_timeout: Duration,
    ) -> Result<ManagedServer, ServerError> {
        Self::start_on(launcher, log_path, database, start_timeout, Disk::Plain)
    }

    /// [`ManagedServer::start`] with the data on `disk`. On a lazy filesystem, the fresh data
    /// directory is laid out through the mount and then synced, as if the machine had run `sync`.
    pub fn start_on(
        launcher: Box<dyn Launcher>,
        log_path: &Path,
        database: &str,
        start_timeout: Duration,
        disk: Disk,
    ) -> Result<ManagedServer, ServerError> {
        let data = crate::scratch::make(crate::scratch::Leftover::ServerData)
            .map_err(io_err("creating a data directory"))?;
        if let Some(parent) = log_path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io_err(format!("creating {}", parent.display())))?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(io_err(format!("opening {}", log_path.display())))?;
        let lazy = match disk {
            Disk::Plain => None,
            Disk::Lazy => Some(
                crate::lazyfs::LazyFs::mount(
                    &data.path().join("lazyfs-backing"),
                    &data.path().join("data"),
                    crate::lazyfs::DEFAULT_LIMIT,
                )
                .map_err(|e| ServerError::Unsupported(e.to_string()))?,
            ),
        };
        launcher.init(data.path(), &log)?;
        if let Some(fs) = &lazy {
            fs.sync_all()
                .map_err(io_err("syncing the fresh data directory"))?;
        }
        let mut s = ManagedServer {
            launcher,
            lazy,
            data,
            log_path: log_path.to_path_buf(),
            port: free_port()?,
            child: None,
            state: State::Down,
            database: database.into(),
            start_timeout,
        };
        // Another process may take the port between our probe and the server's bind: try a
        // fresh port a few times before giving up.
        let mut attempts = 0;
        loop {
            let offset = std::fs::metadata(&s.log_path).map(|m| m.len()).unwrap_or(0);
            match s.spawn() {
                Ok(()) => {
                    s.launcher.configure(&s.endpoint())?;
                    return Ok(s);
                }
                Err(e) if attempts < 3 && log_since(&s.log_path, offset).contains("in use") => {
                    tracing::warn!("port {} was taken, trying another: {e}", s.port);
                    attempts += 1;
                    s.port = free_port()?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Which flavor runs.
    pub fn flavor(&self) -> Flavor {
        self.launcher.flavor()
    }

    /// What the flavor that runs does its own way.
    pub fn spec(&self) -> &'static dyn FlavorSpec {
        self.flavor().spec()
    }

    /// Where clients connect.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::local(self.port, &self.database)
    }

    /// The server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The data directory (for tests that tamper with it while the server is down).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The lazy filesystem the data lives on, if any.
    pub fn lazyfs(&self) -> Option<&crate::lazyfs::LazyFs> {
        self.lazy.as_ref()
    }

    /// The flavor's read-only command-line client, set to run in the served database's folder.
    pub fn cli(&self) -> Option<Command> {
        self.launcher.cli(self.data.path(), &self.database)
    }

    /// Up, paused or down.
    pub fn state(&self) -> State {
        self.state
    }

    /// The process id while a process exists.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process on the same data and port and waits until it is ready.
    pub fn spawn(&mut self) -> Result<(), ServerError> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(io_err(format!("opening {}", self.log_path.display())))?;
        let offset = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cmd = self.launcher.command(self.data.path(), self.port);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("cloning the log handle"))?)
            .stderr(log)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches only the child's own state.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child =
            spawn_child(cmd).map_err(io_err(format!("starting {}", self.launcher.flavor())))?;
        // Named in the data folder's owner file, so that a cleanup after isoscope died kills it.
        if let Err(e) = crate::scratch::add_child(self.data.path(), child.id()) {
            tracing::warn!("could not note the server's pid: {e}");
        }
        self.child = Some(child);
        self.state = State::Running;
        self.wait_ready(offset)
    }

    /// Waits for the ready line in the log after `offset`.
    fn wait_ready(&mut self, offset: u64) -> Result<(), ServerError> {
        let deadline = Instant::now() + self.start_timeout;
        let line = self.launcher.ready_line();
        loop {
            if log_since(&self.log_path, offset).contains(line) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    self.state = State::Down;
                    return Err(self.not_ready(format!("exited while starting ({status})")));
                }
            }
            if Instant::now() > deadline {
                let _ = self.kill();
                return Err(
                    self.not_ready(format!("was not ready after {:.0?}", self.start_timeout))
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn not_ready(&self, problem: String) -> ServerError {
        ServerError::NotReady {
            flavor: self.flavor(),
            problem,
            log: self.log_path.display().to_string(),
            tail: self.log_tail(15),
        }
    }

    /// The last `n` lines of the server's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = log_since(&self.log_path, 0);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn signal(&self, sig: libc::c_int) -> Result<(), ServerError> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        // SAFETY: kill(2) on a child we own and have not reaped.
        if unsafe { libc::kill(pid as libc::pid_t, sig) } != 0 {
            return Err(ServerError::Io {
                what: format!("signalling {} (pid {pid})", self.flavor()),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill(&mut self) -> Result<(), ServerError> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.state = State::Down;
        Ok(())
    }

    /// SIGTERM, then waits up to `grace` for a clean exit, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) -> Result<(), ServerError> {
        if self.state == State::Paused {
            self.resume()?;
        }
        if self.child.is_none() {
            return Ok(());
        }
        self.signal(libc::SIGTERM)?;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(_)) = child.try_wait() {
                    self.child = None;
                    self.state = State::Down;
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill()
    }

    /// SIGSTOP: the server stops answering but keeps its connections.
    pub fn pause(&mut self) -> Result<(), ServerError> {
        if self.state == State::Running {
            self.signal(libc::SIGSTOP)?;
            self.state = State::Paused;
        }
        Ok(())
    }

    /// SIGCONT after [`ManagedServer::pause`].
    pub fn resume(&mut self) -> Result<(), ServerError> {
        if self.state == State::Paused {
            self.signal(libc::SIGCONT)?;
            self.state = State::Running;
        }
        Ok(())
    }

    /// Stops cleanly and starts again on the same data.
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.stop(Duration::from_secs(30))?;
        self.spawn()
    }

    /// Copies the data directory to `to` (replacing what is there) while the server is down;
    /// returns the bytes copied. Sockets and other special files are left out.
    pub fn copy_data(&self, to: &Path) -> Result<u64, ServerError> {
        if self.state != State::Down {
            return Err(ServerError::Unsupported(
                "the data can only be copied while the server is down".into(),
            ));
        }
        if to.exists() {
            std::fs::remove_dir_all(to).map_err(io_err(format!("clearing {}", to.display())))?;
        }
        copy_tree(self.data.path(), to).map_err(io_err(format!(
            "copying {} to {}",
            self.data.path().display(),
            to.display()
        )))
    }

    /// Replaces the data directory with a copy made by [`ManagedServer::copy_data`], while the
    /// server is down.
    pub fn restore_data(&mut self, from: &Path) -> Result<(), ServerError> {
        if self.state != State::Down {
            return Err(ServerError::Unsupported(
                "the data can only be restored while the server is down".into(),
            ));
        }
        let dir = self.data.path();
        let entries =
            std::fs::read_dir(dir).map_err(io_err(format!("listing {}", dir.display())))?;
        for e in entries.flatten() {
            let p = e.path();
            let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(io_err(format!("removing {}", p.display())))?;
        }
        copy_tree(from, dir)
            .map(|_| ())
            .map_err(io_err(format!("copying {} back", from.display())))
    }

    /// Whether the process has exited on its own since it was started. Reaps it if so.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        self.state = State::Down;
        Some(status)
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        if self.state == State::Paused {
            let _ = self.resume();
        }
        let _ = self.stop(Duration::from_secs(10));
    }
}

/// A request to the spawner thread: the command, and where to send the child.
type SpawnRequest = (Command, std::sync::mpsc::Sender<std::io::Result<Child>>);

/// Spawns `cmd` from the one spawner thread, which lives as long as the process, so that the
/// child's parent-death signal fires only when isoscope itself dies.
fn spawn_child(cmd: Command) -> std::io::Result<Child> {
    use std::sync::mpsc;
    use std::sync::{Mutex, OnceLock};
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // If the thread cannot start, requests fail below with a clear error.
        let _ = std::thread::Builder::new()
            .name("server-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            });
        Mutex::new(tx)
    });
    let (reply, answer) = mpsc::channel();
    let gone = || std::io::Error::other("the server spawner thread is gone");
    spawner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, reply))
        .map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())?
}

/// Copies the regular files and folders under `from` into `to`; returns the bytes copied.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(to)?;
    let mut bytes = 0;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = e.file_type()?;
        let dest = to.join(e.file_name());
        if t.is_dir() {
            bytes += copy_tree(&e.path(), &dest)?;
        } else if t.is_file() {
            bytes += std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(bytes)
}

/// The bytes of a file after byte `offset` (empty if unreadable): what a log gained since.
pub(crate) fn read_since(path: &Path, offset: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Ok(mut f) = File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = f.read_to_end(&mut buf);
        }
    }
    buf
}

/// The log's text after byte `offset` (lossy UTF-8; empty if unreadable).
fn log_since(path: &Path, offset: u64) -> String {
    String::from_utf8_lossy(&read_since(path, offset)).into_owned()
}

/// Whether this process runs as root (servers then need `--user=root`).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_names_agree_in_clap_serde_and_text() {
        assert_eq!(
            crate::names::serde_and_clap_names::<Flavor>(),
            ["mariadb", "mysql", "dolt", "tidb", "galera"]
        );
        for &f in <Flavor as strum::VariantArray>::VARIANTS {
            assert_eq!(f.to_string(), f.name());
        }
    }

    #[test]
    fn a_server_started_from_a_short_lived_thread_outlives_it() {
        // Started as ManagedServer starts servers: killed when its parent thread dies.
        let child = std::thread::spawn(|| {
            let mut cmd = Command::new("sleep");
            cmd.arg("30");
            // SAFETY: as in ManagedServer::spawn.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            spawn_child(cmd).unwrap()
        })
        .join()
        .unwrap();
        let mut child = child;
        std::thread::sleep(Duration::from_millis(300));
        let alive = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        assert!(alive, "the child died with the thread that asked for it");
    }

    #[test]
    fn urls_parse_and_never_show_the_password() {
        let e = Endpoint::parse("mysql://bob:s3cret@db.example:3307/shop").unwrap();
        assert_eq!(
            (
                e.host.as_str(),
                e.port,
                e.user.as_str(),
                e.database.as_str()
            ),
            ("db.example", 3307, "bob", "shop")
        );
        assert_eq!(e.to_string(), "mysql://bob:***@db.example:3307/shop");
        assert!(!format!("{e:?}").contains("s3cret"));
        let d = Endpoint::parse("mysql://127.0.0.1").unwrap();
        assert_eq!(
            (d.port, d.user.as_str(), d.database.as_str()),
            (3306, "root", "isoscope")
        );
        assert!(Endpoint::parse("http://x").is_err());
        assert!(Endpoint::parse("mysql://h:notaport/x").is_err());
    }
}
