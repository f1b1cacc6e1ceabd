//! MariaDB (and its InnoDB engine) as a private instance.
//!
//! `mariadb-install-db` lays out the system tables; `mariadbd` then runs on a loopback port with
//! its socket inside the data directory. `--no-defaults` comes first everywhere so that no
//! `my.cnf` on the machine changes what is measured. Each instance keeps its temporary files in
//! its own `tmp` folder: bootstraps running side by side in one `/tmp` removed each other's
//! temporary tables ("Unknown table 'mysql.tmp_user_sys'") about one time in two. Lock waits are cut to 2 s so that blocked
//! transactions fail fast (1205) instead of stalling the run.
//!
//! A target's settings ([`super::target`]) become `--key=value` options after isoscope's own,
//! so a setting overrides isoscope's default of the same option (the last one given wins in
//! `mariadbd`). A setting `mariadbd` does not know stops it from starting, and its log says so.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::target::Setting;
use super::{find_binary, io_err, is_root, Binaries, Flavor, FlavorSpec, Launcher, ServerError};

/// Starts MariaDB from a given `mariadbd` and its neighbouring `mariadb-install-db`.
pub struct MariaDb {
    mariadbd: PathBuf,
    install_db: PathBuf,
    settings: Vec<Setting>,
}

impl MariaDb {
    /// Finds `mariadbd` (at `explicit`, on PATH, or in /usr/sbin) and `mariadb-install-db`.
    pub fn locate(explicit: Option<&Path>) -> Result<MariaDb, ServerError> {
        let sbin = vec![
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/usr/local/sbin"),
            PathBuf::from("/usr/local/mysql/bin"),
        ];
        let mariadbd = find_binary(explicit, "mariadbd", &sbin, "mariadbd")?;
        let mut near = vec![PathBuf::from("/usr/bin")];
        if let Some(dir) = mariadbd.parent() {
            near.insert(0, dir.to_path_buf());
            if let Some(up) = dir.parent() {
                near.push(up.join("bin"));
                near.push(up.join("scripts"));
            }
        }
        let install_db = find_binary(None, "mariadb-install-db", &near, "mariadbd")?;
        Ok(MariaDb {
            mariadbd,
            install_db,
            settings: Vec::new(),
        })
    }

    /// The same server started with extra `--key=value` options.
    pub fn with_settings(mut self, settings: Vec<Setting>) -> MariaDb {
        self.settings = settings;
        self
    }
}

impl Launcher for MariaDb {
    fn flavor(&self) -> Flavor {
        Flavor::MariaDb
    }

    fn init(&self, dir: &Path, log: &File) -> Result<(), ServerError> {
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(io_err(format!("creating {}", tmp.display())))?;
        let mut cmd = Command::new(&self.install_db);
        cmd.arg("--no-defaults");
        if is_root() {
            cmd.arg("--user=root");
        }
        let status = cmd
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .arg(format!("--tmpdir={}", tmp.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("cloning the log handle"))?)
            .stderr(log.try_clone().map_err(io_err("cloning the log handle"))?)
            .status()
            .map_err(io_err(format!("running {}", self.install_db.display())))?;
        if !status.success() {
            return Err(ServerError::Unsupported(format!(
                "{} failed ({status}); see the server log",
                self.install_db.display()
            )));
        }
        Ok(())
    }

    fn command(&self, dir: &Path, port: u16) -> Command {
        let mut cmd = Command::new(&self.mariadbd);
        cmd.arg("--no-defaults");
        if is_root() {
            cmd.arg("--user=root");
        }
        cmd.arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--port={port}"))
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .arg(format!("--tmpdir={}", dir.join("tmp").display()))
            .arg("--innodb-lock-wait-timeout=2")
            .arg("--max-connections=1000")
            .arg("--skip-name-resolve");
        for s in &self.settings {
            cmd.arg(format!("--{}={}", s.key, s.value));
        }
        cmd
    }

    fn ready_line(&self) -> &'static str {
        "ready for connections"
    }
}

/// MariaDB's answers to [`FlavorSpec`]: InnoDB's, which are the trait's defaults.
pub struct MariaDbFlavor;

impl FlavorSpec for MariaDbFlavor {
    fn flavor(&self) -> Flavor {
        Flavor::MariaDb
    }

    fn display_name(&self) -> &'static str {
        "MariaDB"
    }

    fn launcher(
        &self,
        settings: &[Setting],
        binaries: &Binaries,
    ) -> Result<Box<dyn Launcher>, ServerError> {
        Ok(Box::new(
            MariaDb::locate(binaries.mariadbd.as_deref())?.with_settings(settings.to_vec()),
        ))
    }
}
