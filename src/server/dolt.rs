//! Dolt's `sql-server` as a private instance.
//!
//! A YAML config puts it on a loopback port with its databases in the data directory and turns
//! background garbage collection off, so that runs measure transactions, not GC pauses.
//! `DOLT_ROOT_PATH` points Dolt's global config inside the data directory too, so nothing of the
//! user's own Dolt setup leaks in.
//!
//! A target's settings ([`super::target`]) go into that YAML: a dotted key is a config path
//! (`behavior.autocommit=false`, `listener.read_timeout_millis=60000`), a plain key a system
//! variable under `system_variables:` (Dolt sets those globally at start; it is the YAML form of
//! `SET GLOBAL`). isoscope keeps `listener.host`, `listener.port` and `data_dir` to itself. Dolt
//! reads its config strictly, so a key it does not know stops it from starting, with its message
//! in the log.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::flavor::LevelsIgnored;
use super::target::Setting;
use super::{cache_dir, find_binary, io_err, Binaries, Flavor, FlavorSpec, Launcher, ServerError};

/// Config paths isoscope sets itself and a setting may not change.
const RESERVED: [&str; 3] = ["listener.host", "listener.port", "data_dir"];

/// Starts Dolt from a given `dolt` binary.
pub struct Dolt {
    dolt: PathBuf,
    settings: Vec<Setting>,
}

impl Dolt {
    /// Finds `dolt` (at `explicit`, on PATH, or in the install cache's `bin`).
    pub fn locate(explicit: Option<&Path>) -> Result<Dolt, ServerError> {
        let dolt = find_binary(explicit, "dolt", &[cache_dir().join("bin")], "dolt")?;
        Ok(Dolt {
            dolt,
            settings: Vec::new(),
        })
    }

    /// The same server with settings in its config; refuses the paths isoscope owns.
    pub fn with_settings(mut self, settings: Vec<Setting>) -> Result<Dolt, ServerError> {
        if let Some(s) = settings.iter().find(|s| RESERVED.contains(&s.key.as_str())) {
            return Err(ServerError::Unsupported(format!(
                "dolt setting {s}: isoscope sets {} itself",
                s.key
            )));
        }
        self.settings = settings;
        Ok(self)
    }

    /// The config file's text for a server on `port` with its databases in `data`.
    fn config(&self, data: &Path, port: u16) -> String {
        let mut root = Yaml::default();
        for (path, value) in [
            ("log_level", "info".to_string()),
            ("behavior.autocommit", "true".into()),
            ("behavior.auto_gc_behavior.enable", "false".into()),
            ("listener.host", "127.0.0.1".into()),
            ("listener.port", port.to_string()),
            ("listener.max_connections", "1000".into()),
            ("data_dir", data.display().to_string()),
        ] {
            root.set(path, value);
        }
        for s in &self.settings {
            if s.key.contains('.') {
                root.set(&s.key, s.value.clone());
            } else {
                root.set(&format!("system_variables.{}", s.key), s.value.clone());
            }
        }
        let mut out = String::new();
        root.render(0, &mut out);
        out
    }
}

/// A YAML mapping of mappings and plain scalars, in insertion order.
#[derive(Default)]
struct Yaml {
    entries: Vec<(String, YamlNode)>,
}

enum YamlNode {
    Scalar(String),
    Map(Yaml),
}

impl Yaml {
    /// Sets a dotted path, replacing a scalar or creating the mappings on the way.
    fn set(&mut self, path: &str, value: String) {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let pos = self.entries.iter().position(|(k, _)| k == head);
        let node = match rest {
            None => YamlNode::Scalar(value),
            Some(rest) => {
                let old = pos.map(|i| {
                    std::mem::replace(&mut self.entries[i].1, YamlNode::Map(Yaml::default()))
                });
                let mut map = match old {
                    Some(YamlNode::Map(m)) => m,
                    _ => Yaml::default(),
                };
                map.set(rest, value);
                YamlNode::Map(map)
            }
        };
        match pos {
            Some(i) => self.entries[i].1 = node,
            None => self.entries.push((head.into(), node)),
        }
    }

    fn render(&self, indent: usize, out: &mut String) {
        for (k, v) in &self.entries {
            out.push_str(&" ".repeat(indent));
            match v {
                YamlNode::Scalar(s) => out.push_str(&format!("{k}: {s}\n")),
                YamlNode::Map(m) => {
                    out.push_str(&format!("{k}:\n"));
                    m.render(indent + 2, out);
                }
            }
        }
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
        let yaml = self.config(&dir.join("data"), port);
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

/// How Dolt runs every transaction whatever the level: a snapshot at BEGIN, merged at COMMIT.
static DOLT_LEVELS: LevelsIgnored = LevelsIgnored {
    instead: "every level runs the same snapshot transactions merged at COMMIT",
    reads: "nothing locks a read",
    snapshot: "each transaction works on its own snapshot",
    refused: "the second to commit a change to the same row is refused at COMMIT (a merge \
              conflict)",
    same_value: "both sessions write the same value, which Dolt's cell-wise merge takes as no \
                 conflict",
};

/// Dolt's answers to [`FlavorSpec`]: it accepts and reports every isolation level but does not
/// use it; it has no `innodb_lock_wait_timeout` (its `information_schema.innodb_trx` answers,
/// and lists no lock waits: conflicts are found at COMMIT); it compacts with `CALL dolt_gc()`.
pub struct DoltFlavor;

impl FlavorSpec for DoltFlavor {
    fn flavor(&self) -> Flavor {
        Flavor::Dolt
    }

    fn display_name(&self) -> &'static str {
        "Dolt"
    }

    fn levels_ignored(&self) -> Option<&'static LevelsIgnored> {
        Some(&DOLT_LEVELS)
    }

    fn lock_wait_variable(&self) -> Option<&'static str> {
        None
    }

    fn launcher(
        &self,
        settings: &[Setting],
        binaries: &Binaries,
    ) -> Result<Box<dyn Launcher>, ServerError> {
        Ok(Box::new(
            Dolt::locate(binaries.dolt.as_deref())?.with_settings(settings.to_vec())?,
        ))
    }

    /// `dolt-v<version>/dolt` in the install cache, as `scripts/install-servers --dolt
    /// <pseudo-version>` builds it; refused beside an explicit `--dolt` binary.
    fn versioned(&self, version: &str, binaries: &Binaries) -> Result<Binaries, ServerError> {
        if let Some(p) = &binaries.dolt {
            return Err(ServerError::Unsupported(format!(
                "dolt@{version} and --dolt {} both name a dolt binary; give one",
                p.display()
            )));
        }
        let bin = cache_dir().join(format!("dolt-v{version}")).join("dolt");
        if !bin.is_file() {
            return Err(ServerError::Unsupported(format!(
                "dolt@{version} is not installed (no {}); build it with scripts/install-servers                  --dolt <the Go module pseudo-version of Dolt {version}>",
                bin.display()
            )));
        }
        Ok(Binaries {
            dolt: Some(bin),
            ..binaries.clone()
        })
    }

    fn gc_statement(&self) -> Option<&'static str> {
        Some("CALL dolt_gc()")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dolt(settings: &[&str]) -> Result<Dolt, ServerError> {
        let settings = settings
            .iter()
            .map(|s| Setting::parse(s).unwrap())
            .collect();
        Dolt {
            dolt: PathBuf::from("dolt"),
            settings: Vec::new(),
        }
        .with_settings(settings)
    }

    #[test]
    fn settings_become_config_paths_or_system_variables() {
        let d = dolt(&["behavior.autocommit=false", "max_connections=7", "a.b.c=1"]).unwrap();
        let yaml = d.config(Path::new("/d"), 3307);
        assert_eq!(
            yaml,
            "log_level: info\nbehavior:\n  autocommit: false\n  auto_gc_behavior:\n    enable: false\n\
             listener:\n  host: 127.0.0.1\n  port: 3307\n  max_connections: 1000\n\
             data_dir: /d\nsystem_variables:\n  max_connections: 7\na:\n  b:\n    c: 1\n"
        );
        assert!(dolt(&["listener.port=1"]).is_err());
        assert!(dolt(&["data_dir=/x"]).is_err());
    }
}
