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
    /// Its place in a Dolt cluster, if it is a node of one.
    cluster: Option<ClusterNode>,
}

/// One node's part of a Dolt cluster's `cluster:` config: where its remotesapi listens, the
/// other nodes it pushes to (a YAML list), and the role and epoch it boots with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNode {
    /// This node's remotesapi port on the loopback.
    pub remotesapi_port: u16,
    /// Every other node: its name and remotesapi port.
    pub standby_remotes: Vec<(String, u16)>,
    /// `primary` or `standby` at boot.
    pub primary: bool,
    /// The epoch it boots at.
    pub epoch: u64,
}

impl Dolt {
    /// Finds `dolt` (at `explicit`, on PATH, or in the install cache's `bin`).
    pub fn locate(explicit: Option<&Path>) -> Result<Dolt, ServerError> {
        let dolt = find_binary(explicit, "dolt", &[cache_dir().join("bin")], "dolt")?;
        Ok(Dolt {
            dolt,
            settings: Vec::new(),
            cluster: None,
        })
    }

    /// The same server as a node of a Dolt cluster.
    pub fn in_cluster(mut self, node: ClusterNode) -> Dolt {
        self.cluster = Some(node);
        self
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
        if let Some(c) = &self.cluster {
            let remotes = c
                .standby_remotes
                .iter()
                .map(|(name, port)| {
                    let mut r = Yaml::default();
                    r.set("name", name.clone());
                    r.set(
                        "remote_url_template",
                        format!("http://127.0.0.1:{port}/{{database}}"),
                    );
                    r
                })
                .collect();
            root.set_list("cluster.standby_remotes", remotes);
            let role = if c.primary { "primary" } else { "standby" };
            root.set("cluster.bootstrap_role", role.into());
            root.set("cluster.bootstrap_epoch", c.epoch.to_string());
            root.set("cluster.remotesapi.address", "127.0.0.1".into());
            root.set("cluster.remotesapi.port", c.remotesapi_port.to_string());
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

/// A YAML mapping of mappings, lists of mappings and plain scalars, in insertion order.
#[derive(Default)]
struct Yaml {
    entries: Vec<(String, YamlNode)>,
}

enum YamlNode {
    Scalar(String),
    Map(Yaml),
    List(Vec<Yaml>),
}

impl Yaml {
    /// Sets a dotted path to a scalar, replacing what is there or creating the mappings on
    /// the way.
    fn set(&mut self, path: &str, value: String) {
        self.put(path, YamlNode::Scalar(value));
    }

    /// Sets a dotted path to a list of mappings (Dolt's `cluster.standby_remotes`).
    fn set_list(&mut self, path: &str, items: Vec<Yaml>) {
        self.put(path, YamlNode::List(items));
    }

    fn put(&mut self, path: &str, value: YamlNode) {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let pos = self.entries.iter().position(|(k, _)| k == head);
        let node = match rest {
            None => value,
            Some(rest) => {
                let old = pos.map(|i| {
                    std::mem::replace(&mut self.entries[i].1, YamlNode::Map(Yaml::default()))
                });
                let mut map = match old {
                    Some(YamlNode::Map(m)) => m,
                    _ => Yaml::default(),
                };
                map.put(rest, value);
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
                YamlNode::List(items) => {
                    out.push_str(&format!("{k}:\n"));
                    for item in items {
                        // `- ` opens the item's first entry; the rest line up under it.
                        let mut text = String::new();
                        item.render(indent + 4, &mut text);
                        let pad = " ".repeat(indent + 2);
                        out.push_str(&format!("{pad}- {}", text.trim_start()));
                    }
                }
            }
        }
    }
}

impl Launcher for Dolt {
    fn flavor(&self) -> Flavor {
        match self.cluster {
            Some(_) => Flavor::DoltCluster,
            None => Flavor::Dolt,
        }
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
            cluster: None,
        }
        .with_settings(settings)
    }

    #[test]
    fn a_cluster_node_lists_its_standby_remotes() {
        let d = dolt(&[]).unwrap().in_cluster(ClusterNode {
            remotesapi_port: 5001,
            standby_remotes: vec![("node2".into(), 5002), ("node3".into(), 5003)],
            primary: true,
            epoch: 1,
        });
        let yaml = d.config(Path::new("/d"), 3307);
        let cluster = &yaml[yaml.find("cluster:").unwrap()..];
        assert_eq!(
            cluster,
            "cluster:\n  standby_remotes:\n\
             \x20   - name: node2\n      remote_url_template: http://127.0.0.1:5002/{database}\n\
             \x20   - name: node3\n      remote_url_template: http://127.0.0.1:5003/{database}\n\
             \x20 bootstrap_role: primary\n  bootstrap_epoch: 1\n\
             \x20 remotesapi:\n    address: 127.0.0.1\n    port: 5001\n"
        );
        assert_eq!(d.flavor(), Flavor::DoltCluster);
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
