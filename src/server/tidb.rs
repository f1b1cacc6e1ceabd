//! TiDB's `tidb-server` as a private instance, on its embedded `unistore` store.
//!
//! One process holds TiDB's SQL and transaction layers and unistore, a single-node stand-in for
//! TiKV (badger underneath), so a whole TiDB fits on one machine with no PD and no TiKV. The
//! store lives in the data directory's `data` folder (the lazy filesystem's mount when faults
//! cut the power); the config file, socket, slow-query log and temporary folders stay beside it,
//! so nothing goes to `/tmp/tidb*` where TiDB puts them by default. The SQL port and the status
//! port are free loopback ports; the status port is picked anew at each start.
//!
//! A target's settings ([`super::target`]) reach TiDB two ways: a dotted key is a path in its
//! TOML config file (`performance.max-procs=2`, `log.level=warn`); a plain key is a system
//! variable, set with `SET GLOBAL` as soon as the fresh server answers (TiDB has no command-line
//! form for them, and its `--initialize-sql-file` only logs a warning for a statement it
//! refuses). TiDB keeps global variables in its own store, so they survive restarts, and every
//! connection opened afterwards starts with them. An unknown variable or a refused value fails
//! the start with TiDB's message. isoscope sets `innodb_lock_wait_timeout = 2` (pessimistic
//! lock waits, as on MariaDB) unless a setting gives its own.
//!
//! Unistore does not sync its writes (`SyncWrite` is off in TiDB's embedded configuration), so a
//! durability result on it says what this single-process TiDB keeps, never what TiKV (Raft-
//! replicated, synced RocksDB) keeps.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::flavor::{FlavorSpec, HealthPatterns, COMMON_ROLLBACK_CODES};
use super::target::Setting;
use super::{
    cache_dir, find_binary, free_port, io_err, Binaries, Endpoint, Flavor, Launcher, ServerError,
};

/// Config paths isoscope sets itself and a setting may not change.
const RESERVED: [&str; 8] = [
    "host",
    "port",
    "store",
    "path",
    "socket",
    "status.status-host",
    "status.status-port",
    "tmp-storage-path",
];

/// TiDB's own error codes that mean the transaction was rolled back, with their meaning; at
/// COMMIT as well as before it, such an op certainly did not happen.
pub const ROLLBACK_CODES: [(u16, &str); 4] = [
    (9007, "write conflict"),
    (8002, "can not retry select for update"),
    (8022, "transaction commit failed, retry"),
    (8028, "schema changed during the transaction"),
];

/// Every code after which TiDB has rolled the transaction back: MySQL's and TiDB's own.
const ALL_ROLLBACK_CODES: [u16; 8] = [
    COMMON_ROLLBACK_CODES[0],
    COMMON_ROLLBACK_CODES[1],
    COMMON_ROLLBACK_CODES[2],
    COMMON_ROLLBACK_CODES[3],
    ROLLBACK_CODES[0].0,
    ROLLBACK_CODES[1].0,
    ROLLBACK_CODES[2].0,
    ROLLBACK_CODES[3].0,
];

/// TiDB's log: MySQL's and Go's trouble, without `got signal`, which TiDB prints as
/// `["got signal to exit"] [signal=terminated]` on every clean SIGTERM (a restart fault).
static TIDB_HEALTH: HealthPatterns = HealthPatterns {
    panic: &[
        "panic:",
        "panic(",
        "fatal signal",
        "assertion failure",
        "failing assertion",
        "segmentation fault",
        "sigsegv",
    ],
    ..HealthPatterns::COMMON
};

/// The error TiDB gives for an isolation level it does not run (READ UNCOMMITTED,
/// SERIALIZABLE) unless `tidb_skip_isolation_level_check` is on.
pub const LEVEL_NOT_SUPPORTED: u16 = 8048;

/// What a TiDB rollback code means, if it is one.
pub fn rollback_code(code: u16) -> Option<&'static str> {
    ROLLBACK_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, what)| *what)
}

/// Starts TiDB from a given `tidb-server` binary.
pub struct Tidb {
    bin: PathBuf,
    settings: Vec<Setting>,
}

impl Tidb {
    /// Finds `tidb-server` (at `explicit`, on PATH, or in the install cache's `bin`).
    pub fn locate(explicit: Option<&Path>) -> Result<Tidb, ServerError> {
        let bin = find_binary(explicit, "tidb-server", &[cache_dir().join("bin")], "tidb")?;
        Ok(Tidb {
            bin,
            settings: Vec::new(),
        })
    }

    /// The same server with settings; refuses the config paths isoscope owns.
    pub fn with_settings(mut self, settings: Vec<Setting>) -> Result<Tidb, ServerError> {
        if let Some(s) = settings.iter().find(|s| RESERVED.contains(&s.key.as_str())) {
            return Err(ServerError::Unsupported(format!(
                "tidb setting {s}: isoscope sets {} itself",
                s.key
            )));
        }
        self.settings = settings;
        Ok(self)
    }

    /// The TOML config for a server whose files live under `dir`.
    fn config(&self, dir: &Path) -> String {
        let mut top = vec![format!(
            "tmp-storage-path = {}",
            toml_string(&dir.join("tmp-storage").display().to_string())
        )];
        let mut tables: Vec<(String, Vec<String>)> = Vec::new();
        for s in self.settings.iter().filter(|s| s.key.contains('.')) {
            let (table, key) = s.key.rsplit_once('.').unwrap_or(("", &s.key));
            let line = format!("{key} = {}", toml_value(&s.value));
            match tables.iter_mut().find(|(t, _)| t == table) {
                Some((_, lines)) => lines.push(line),
                None => tables.push((table.to_string(), vec![line])),
            }
        }
        for (table, lines) in tables {
            top.push(format!("\n[{table}]"));
            top.extend(lines);
        }
        top.join("\n") + "\n"
    }

    /// The `SET GLOBAL` statements a fresh server gets: isoscope's lock-wait default, then the
    /// settings that name system variables.
    fn global_sql(&self) -> Vec<String> {
        let vars: Vec<&Setting> = self
            .settings
            .iter()
            .filter(|s| !s.key.contains('.'))
            .collect();
        let mut sql = Vec::new();
        if !vars
            .iter()
            .any(|s| s.key.replace('-', "_") == "innodb_lock_wait_timeout")
        {
            sql.push("SET GLOBAL innodb_lock_wait_timeout = 2".to_string());
        }
        for s in vars {
            sql.push(format!(
                "SET GLOBAL {} = {}",
                s.key.replace('-', "_"),
                sql_value(&s.value)
            ));
        }
        sql
    }
}

/// A TOML string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A TOML value as a setting gives it: numbers and booleans bare, anything else a string.
fn toml_value(v: &str) -> String {
    if v.parse::<f64>().is_ok() || v == "true" || v == "false" {
        v.to_string()
    } else {
        toml_string(v)
    }
}

/// An SQL value as a setting gives it: numbers bare, anything else quoted (TiDB reads `'ON'`
/// and `'optimistic'` as the words they are).
fn sql_value(v: &str) -> String {
    if v.parse::<f64>().is_ok() {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\\', "\\\\").replace('\'', "''"))
    }
}

impl Launcher for Tidb {
    fn flavor(&self) -> Flavor {
        Flavor::Tidb
    }

    fn init(&self, dir: &Path, _log: &File) -> Result<(), ServerError> {
        for sub in ["data", "tmp", "tmp-storage"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(io_err(format!("creating {}", dir.join(sub).display())))?;
        }
        let config = dir.join("config.toml");
        std::fs::write(&config, self.config(dir))
            .map_err(io_err(format!("writing {}", config.display())))
    }

    fn command(&self, dir: &Path, port: u16) -> Command {
        // A port that cannot be had shows up as a server that does not start ("in use").
        let status = free_port().unwrap_or(0);
        let mut cmd = Command::new(&self.bin);
        cmd.arg(format!("--config={}", dir.join("config.toml").display()))
            .arg("--store=unistore")
            .arg(format!("--path={}", dir.join("data").display()))
            .arg("-host=127.0.0.1")
            .arg(format!("-P={port}"))
            .arg("--status-host=127.0.0.1")
            .arg(format!("--status={status}"))
            .arg(format!("--socket={}", dir.join("tidb.sock").display()))
            .arg(format!("--temp-dir={}", dir.join("tmp").display()))
            .arg(format!(
                "--log-slow-query={}",
                dir.join("tidb-slow.log").display()
            ))
            .current_dir(dir);
        cmd
    }

    fn ready_line(&self) -> &'static str {
        "server is running MySQL protocol"
    }

    fn configure(&self, ep: &Endpoint) -> Result<(), ServerError> {
        let sql = self.global_sql();
        let opts = ep.opts(None);
        // On a thread of its own with its own runtime: the caller may be anywhere, inside a
        // runtime's blocking thread included.
        let run = std::thread::spawn(move || -> Result<(), ServerError> {
            use mysql_async::prelude::*;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(io_err("starting a runtime to set tidb's variables"))?;
            rt.block_on(async {
                let mut conn =
                    mysql_async::Conn::new(opts)
                        .await
                        .map_err(|e| ServerError::Sql {
                            what: "connecting to set tidb's variables".into(),
                            message: e.to_string(),
                        })?;
                for s in &sql {
                    conn.query_drop(s).await.map_err(|e| ServerError::Sql {
                        what: s.clone(),
                        message: e.to_string(),
                    })?;
                }
                let _ = conn.disconnect().await;
                Ok(())
            })
        });
        run.join().unwrap_or_else(|_| {
            Err(ServerError::Unsupported(
                "setting tidb's variables panicked".into(),
            ))
        })
    }
}

/// TiDB: runs the levels it accepts as asked (repeatable read is snapshot isolation in
/// optimistic mode; pessimistic mode reads the latest committed row in its writes, as InnoDB);
/// refuses read uncommitted and serializable with 8048; has `innodb_lock_wait_timeout` for
/// pessimistic lock waits, and lists the sessions that wait in `information_schema.tidb_trx`;
/// says "rolled back" with its own codes too ([`ROLLBACK_CODES`]).
pub struct TidbFlavor;

impl FlavorSpec for TidbFlavor {
    fn flavor(&self) -> Flavor {
        Flavor::Tidb
    }

    fn display_name(&self) -> &'static str {
        "TiDB"
    }

    /// TiDB's `VERSION()` is `8.0.11-TiDB-<its release>`: the release is what names it.
    fn server_name(&self, version: &str) -> String {
        let release = version.split_once("-TiDB-").map_or(version, |(_, r)| r);
        format!("TiDB {release}")
    }

    fn lock_waits_query(&self) -> Option<&'static str> {
        Some("SELECT session_id FROM information_schema.tidb_trx WHERE state = 'LockWaiting'")
    }

    fn rollback_codes(&self) -> &'static [u16] {
        &ALL_ROLLBACK_CODES
    }

    fn health_patterns(&self) -> &'static HealthPatterns {
        &TIDB_HEALTH
    }

    fn durability_caveat(&self) -> Option<&'static str> {
        Some(
            "this TiDB runs on its embedded unistore store, which acknowledges a commit once it \
             is written to the OS and never syncs it: the result holds for this single process \
             (a kill or restart), not for a production TiDB, whose commits TiKV replicates with \
             Raft and syncs; after a power loss unistore keeps nothing it had not synced",
        )
    }

    fn launcher(
        &self,
        settings: &[Setting],
        binaries: &Binaries,
    ) -> Result<Box<dyn Launcher>, ServerError> {
        Ok(Box::new(
            Tidb::locate(binaries.tidb.as_deref())?.with_settings(settings.to_vec())?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tidb(settings: &[&str]) -> Result<Tidb, ServerError> {
        let settings = settings
            .iter()
            .map(|s| Setting::parse(s).unwrap())
            .collect();
        Tidb {
            bin: PathBuf::from("tidb-server"),
            settings: Vec::new(),
        }
        .with_settings(settings)
    }

    #[test]
    fn settings_become_config_paths_or_global_variables() {
        let t = tidb(&[
            "tidb_txn_mode=optimistic",
            "performance.max-procs=2",
            "log.level=warn",
            "tidb_retry_limit=10",
        ])
        .unwrap();
        assert_eq!(
            t.config(Path::new("/d")),
            "tmp-storage-path = \"/d/tmp-storage\"\n\n[performance]\nmax-procs = 2\n\n[log]\nlevel = \"warn\"\n"
        );
        assert_eq!(
            t.global_sql(),
            [
                "SET GLOBAL innodb_lock_wait_timeout = 2",
                "SET GLOBAL tidb_txn_mode = 'optimistic'",
                "SET GLOBAL tidb_retry_limit = 10",
            ]
        );
        let own = tidb(&["innodb_lock_wait_timeout=5"]).unwrap();
        assert_eq!(
            own.global_sql(),
            ["SET GLOBAL innodb_lock_wait_timeout = 5"]
        );
        assert!(tidb(&["path=/x"]).is_err());
        assert!(tidb(&["status.status-port=1"]).is_err());
    }

    #[test]
    fn rollback_codes_are_known_by_number() {
        assert_eq!(rollback_code(9007), Some("write conflict"));
        assert_eq!(rollback_code(1213), None);
        let spec = Flavor::Tidb.spec();
        for code in [1213, 1205, 9007, 8002, 8022, 8028] {
            assert!(spec.definite_failure(code), "{code}");
        }
        assert!(!spec.definite_failure(1105));
        assert_eq!(
            spec.server_name("8.0.11-TiDB-v1.1.0-beta.0.20251126154744-e4e814fdc0af"),
            "TiDB v1.1.0-beta.0.20251126154744-e4e814fdc0af"
        );
    }

    #[test]
    fn a_clean_sigterm_is_not_a_crash_but_a_fatal_line_is_fatal() {
        use crate::faults::health::{classify_with, HealthKind};
        let p = Flavor::Tidb.spec().health_patterns();
        let sigterm = "[2026/12/08 03:33:06.101 +00:00] [INFO] [signal_posix.go:54] [\"got signal to exit\"] [signal=terminated]";
        assert_eq!(classify_with(p, sigterm), None);
        let conflict = "[WARN] [session.go:845] [\"commit failed\"] [error=\"[kv:9007]Write conflict, txnStartTS=1\"]";
        assert_eq!(classify_with(p, conflict), None);
        let fatal = "[2026/12/08 03:33:06.111 +00:00] [FATAL] [main.go:300] [\"failed to create the server\"]";
        assert_eq!(classify_with(p, fatal), Some(HealthKind::Fatal));
        let panic = "panic: runtime error: index out of range";
        assert_eq!(classify_with(p, panic), Some(HealthKind::Panic));
    }
}
