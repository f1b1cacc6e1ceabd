//! A target: a kind of server, optionally a version of it, plus the settings it starts with,
//! written `mariadb[innodb_snapshot_isolation=ON,innodb_lock_wait_timeout=5]` or
//! `dolt@1.83.2[behavior.autocommit=false]`.
//!
//! A version picks another build of the same server ([`super::FlavorSpec::versioned`]): Dolt
//! looks for `dolt-v<version>/dolt` in the install cache, which `scripts/install-servers --dolt
//! <pseudo-version>` builds; two versions of one server are two targets, two report columns.
//!
//! Why a target and not a flavor: a setting can change what a server guarantees as much as the
//! choice of server does (MariaDB 11.6.2 turned `innodb_snapshot_isolation` on by default, and
//! with it repeatable read stops losing updates), so a comparison names both. Each flavor's
//! launcher says how a setting reaches its server: MariaDB takes `--key=value` options on the
//! `mariadbd` command line; Dolt takes keys of its YAML config (see [`super::dolt`]).
//!
//! Invariants: a target's `Display` parses back to an equal target; settings keep the order
//! they were given in, and a key appears at most once.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::{Binaries, Flavor, Launcher, ManagedServer, ServerError};

/// One `key=value` setting of a server.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Setting {
    /// The option's name (`innodb_snapshot_isolation`, or a dotted Dolt config path).
    pub key: String,
    /// Its value, as the server reads it (`ON`, `2`, `false`).
    pub value: String,
}

/// Why a target or setting could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The server name before `[` is not one isoscope knows.
    #[error("unknown server {0:?}; use mariadb, dolt or mysql, with settings in brackets: mariadb[key=value,...]")]
    UnknownServer(String),
    /// Brackets that do not open and close once, at the end.
    #[error("{0:?}: settings go in one pair of brackets at the end: mariadb[key=value,key=value]")]
    Brackets(String),
    /// A version after `@` that is empty or holds characters other than letters, digits, `.`,
    /// `-` and `_`.
    #[error("version {0:?}: give one like dolt@1.83.2")]
    BadVersion(String),
    /// A setting without `=`, or with an empty key or value.
    #[error("setting {0:?} is not key=value")]
    NotKeyValue(String),
    /// A key or value with characters a target name cannot carry.
    #[error("setting {0:?}: keys take letters, digits, '_', '-' and '.'; values cannot hold spaces, ',', '=', '[' or ']'")]
    BadCharacters(String),
    /// The same key twice.
    #[error("setting {0:?} is given twice")]
    Duplicate(String),
}

impl Setting {
    /// Parses `key=value` (the form of `--server-opt` and of each entry in brackets).
    pub fn parse(s: &str) -> Result<Setting, TargetError> {
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| TargetError::NotKeyValue(s.to_string()))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(TargetError::NotKeyValue(s.to_string()));
        }
        let key_ok = key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        let value_ok = !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '=' | '[' | ']'));
        if !key_ok || !value_ok {
            return Err(TargetError::BadCharacters(s.to_string()));
        }
        Ok(Setting {
            key: key.to_string(),
            value: value.to_string(),
        })
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// A server kind and the settings it runs with.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Target {
    /// Which server.
    pub flavor: Flavor,
    /// Which build of it (`1.83.2` in `dolt@1.83.2`); `None` for the one installed by default.
    pub version: Option<String>,
    /// Its settings, in the order given; empty for the server's defaults.
    pub settings: Vec<Setting>,
}

impl Target {
    /// A server with its default settings.
    pub fn plain(flavor: Flavor) -> Target {
        Target {
            flavor,
            version: None,
            settings: Vec::new(),
        }
    }

    /// Adds a setting; a key given twice is refused, never silently replaced.
    pub fn with(mut self, setting: Setting) -> Result<Target, TargetError> {
        if self.settings.iter().any(|s| s.key == setting.key) {
            return Err(TargetError::Duplicate(setting.key));
        }
        self.settings.push(setting);
        Ok(self)
    }

    /// Adds `KEY=VALUE` settings as `--server-opt` gives them.
    pub fn with_opts(self, opts: &[String]) -> Result<Target, TargetError> {
        opts.iter()
            .try_fold(self, |t, o| t.with(Setting::parse(o)?))
    }

    /// The value of a setting, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.value.as_str())
    }

    /// The launcher that starts this target: the flavor's binary (at the given path, the
    /// target's version's, or found the flavor's usual way) with these settings
    /// ([`super::FlavorSpec::launcher`]).
    pub fn launcher(
        &self,
        mariadbd: Option<&Path>,
        dolt: Option<&Path>,
    ) -> Result<Box<dyn Launcher>, ServerError> {
        let binaries = Binaries {
            mariadbd: mariadbd.map(Path::to_path_buf),
            dolt: dolt.map(Path::to_path_buf),
        };
        let spec = self.flavor.spec();
        let binaries = match &self.version {
            Some(v) => spec.versioned(v, &binaries)?,
            None => binaries,
        };
        spec.launcher(&self.settings, &binaries)
    }

    /// Starts this target's nodes ([`super::FlavorSpec::start_cluster`]): a cluster of one for a
    /// single server, its log at `log` (a larger cluster's nodes log beside it), the data of
    /// every node on `disk`.
    pub fn start_cluster(
        &self,
        binaries: &Binaries,
        log: &Path,
        database: &str,
        start_timeout: Duration,
        disk: super::Disk,
    ) -> Result<super::Cluster, ServerError> {
        let spec = self.flavor.spec();
        let binaries = &match &self.version {
            Some(v) => spec.versioned(v, binaries)?,
            None => binaries.clone(),
        };
        spec.start_cluster(&super::ClusterPlan {
            settings: &self.settings,
            binaries,
            log,
            database,
            start_timeout,
            disk,
        })
    }

    /// Starts a fresh private instance of this target ([`ManagedServer::start`]).
    pub fn start(
        &self,
        mariadbd: Option<&Path>,
        dolt: Option<&Path>,
        log_path: &Path,
        database: &str,
        start_timeout: Duration,
    ) -> Result<ManagedServer, ServerError> {
        ManagedServer::start(
            self.launcher(mariadbd, dolt)?,
            log_path,
            database,
            start_timeout,
        )
    }
}

/// Splits a comma-separated list of targets, keeping the commas inside brackets:
/// `mariadb,mariadb[a=1,b=2],dolt` is three targets.
pub fn parse_list(list: &str) -> Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(list[start..i].parse()?);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(list[start..].parse()?);
    Ok(out)
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Target, TargetError> {
        let s = s.trim();
        let (name, inside) = match s.find('[') {
            None if s.contains(']') => return Err(TargetError::Brackets(s.to_string())),
            None => (s, None),
            Some(open) => {
                let inner = s[open + 1..]
                    .strip_suffix(']')
                    .filter(|i| !i.contains(['[', ']']))
                    .ok_or_else(|| TargetError::Brackets(s.to_string()))?;
                (&s[..open], Some(inner))
            }
        };
        let (name, version) = match name.split_once('@') {
            Some((n, v)) => {
                let v = v.trim();
                let ok = !v.is_empty()
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
                if !ok {
                    return Err(TargetError::BadVersion(v.to_string()));
                }
                (n, Some(v.to_string()))
            }
            None => (name, None),
        };
        let flavor = <Flavor as clap::ValueEnum>::from_str(name.trim(), true)
            .map_err(|_| TargetError::UnknownServer(name.into()))?;
        let mut t = Target::plain(flavor);
        t.version = version;
        if let Some(inner) = inside {
            if inner.trim().is_empty() {
                return Err(TargetError::Brackets(s.to_string()));
            }
            for part in inner.split(',') {
                t = t.with(Setting::parse(part)?)?;
            }
        }
        Ok(t)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.flavor.name())?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        if !self.settings.is_empty() {
            let parts: Vec<String> = self.settings.iter().map(Setting::to_string).collect();
            write!(f, "[{}]", parts.join(","))?;
        }
        Ok(())
    }
}

impl serde::Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back_the_same() {
        for s in [
            "mariadb",
            "dolt",
            "mariadb[innodb_snapshot_isolation=ON]",
            "mariadb[innodb_snapshot_isolation=ON,innodb_lock_wait_timeout=5]",
            "dolt[behavior.read_only=false]",
            "dolt@1.83.2",
            "dolt@1.86.4[behavior.autocommit=false]",
        ] {
            let t: Target = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t);
        }
        let list = parse_list("mariadb,mariadb[a=1,b=2],dolt").unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[1].to_string(), "mariadb[a=1,b=2]");
        let t: Target = " mariadb[ a = 1 , b=2 ] ".parse().unwrap();
        assert_eq!(t.to_string(), "mariadb[a=1,b=2]");
        assert_eq!(t.get("b"), Some("2"));
        let t = t.with_opts(&["c=3".into()]).unwrap();
        assert_eq!(t.to_string(), "mariadb[a=1,b=2,c=3]");
        assert!(matches!(
            t.with_opts(&["a=9".into()]),
            Err(TargetError::Duplicate(_))
        ));
    }

    #[test]
    fn bad_shapes_are_refused_with_a_reason() {
        let err = |s: &str| s.parse::<Target>().unwrap_err();
        assert!(matches!(err("postgres"), TargetError::UnknownServer(_)));
        assert!(matches!(err("mariadb[a=1"), TargetError::Brackets(_)));
        assert!(matches!(err("mariadb]"), TargetError::Brackets(_)));
        assert!(matches!(err("mariadb[a=1][b=2]"), TargetError::Brackets(_)));
        assert!(matches!(err("mariadb[]"), TargetError::Brackets(_)));
        assert!(matches!(err("mariadb[a]"), TargetError::NotKeyValue(_)));
        assert!(matches!(err("mariadb[=1]"), TargetError::NotKeyValue(_)));
        assert!(matches!(err("mariadb[a=1,a=2]"), TargetError::Duplicate(_)));
        assert!(matches!(
            err("mariadb[a b=1]"),
            TargetError::BadCharacters(_)
        ));
        assert!(matches!(
            Setting::parse("k=v=w"),
            Err(TargetError::BadCharacters(_))
        ));
        assert!(err("mariadb[a=1").to_string().contains("brackets"));
        assert!(matches!(err("dolt@"), TargetError::BadVersion(_)));
        assert!(matches!(err("dolt@1 2"), TargetError::BadVersion(_)));
        assert!(matches!(err("mysql8@1"), TargetError::UnknownServer(_)));
        let (a, b): (Target, Target) = ("dolt@1.83.2".parse().unwrap(), "dolt".parse().unwrap());
        assert_ne!(a, b, "two versions are two targets");
        assert_eq!(a.version.as_deref(), Some("1.83.2"));
    }
}
