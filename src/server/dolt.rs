//! Dolt's `sql-server` as a private instance.
//!
//! A YAML config puts it on a loopback port with its databases in the data directory and turns
//! background garbage collection off, so that runs measure transactions, not GC pauses.
//! `DOLT_ROOT_PATH` points Dolt's global config inside the data directory too, so nothing of the
//! user's own Dolt setup leaks in.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{cache_dir, find_binary, io_err, Flavor, Launcher, ServerError};

/// Starts Dolt from a given `dolt` binary.
pub struct Dolt {
    dolt: PathBuf,
}

impl Dolt {
    /// Finds `dolt` (at `explicit`, on PATH, or in the install cache's `bin`).
    pub fn locate(explicit: Option<&Path>) -> Result<Dolt, ServerError> {
        let dolt = find_binary(explicit, "dolt", &[cache_dir().join("bin")], "dolt")?;
        Ok(Dolt { dolt })
    }
}

impl Launcher for Dolt {
    fn flavor(&self) -> Flavor {
        Flavor::Dolt
    }

    fn init(&self, dir: &Path, _log: &File) -> Result<(), ServerError> {
        for sub in ["home", "data"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(io_err(format!("creating {}", dir.join(sub).display())))?;
        }
        Ok(())
    }

    fn command(&self, dir: &Path, port: u16) -> Command {
        let config = dir.join("config.yaml");
        let yaml = format!(
            "log_level: info\n\
             behavior:\n  autocommit: true\n  auto_gc_behavior:\n    enable: false\n\
             listener:\n  host: 127.0.0.1\n  port: {port}\n  max_connections: 1000\n\
             data_dir: {}\n",
            dir.join("data").display()
        );
        // A failed write shows up as a server that does not start, with Dolt's own message.
        let _ = std::fs::write(&config, yaml);
        let mut cmd = Command::new(&self.dolt);
        cmd.env("DOLT_ROOT_PATH", dir.join("home"))
            .env("DOLT_DISABLE_EVENT_FLUSH", "true")
            .arg("sql-server")
            .arg(format!("--config={}", config.display()))
            .current_dir(dir.join("data"));
        cmd
    }

    fn ready_line(&self) -> &'static str {
        "Server ready. Accepting connections."
    }

    fn cli(&self, dir: &Path, database: &str) -> Option<Command> {
        let mut cmd = Command::new(&self.dolt);
        cmd.env("DOLT_ROOT_PATH", dir.join("home"))
            .env("DOLT_DISABLE_EVENT_FLUSH", "true")
            .current_dir(dir.join("data").join(database));
        Some(cmd)
    }
}
