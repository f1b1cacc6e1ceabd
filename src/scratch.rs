//! Scratch folders: the temporary folders isoscope makes (a managed server's data, the nemesis's
//! copies), each marked with its owner, and the cleanup of those an isoscope left when it died.
//!
//! Why: a SIGKILLed isoscope runs no destructor, so its folders (100-200 MB each for a server)
//! would stay in the temp folder forever. Each folder gets an owner file, [`OWNER_FILE`], naming
//! its [`Leftover`] kind, the isoscope process that made it and, for a server's data, the server
//! process; [`clean_stale`], called when a run starts, removes the folders whose owner is gone,
//! after the kind's own cleanup (killing the server it left, say).
//!
//! A process is named by its pid *and* its start time (from `/proc/PID/stat`), so a pid reused by
//! another program never passes for the owner.
//!
//! To add a kind of leftover (a FUSE mount, say): add a variant to [`Leftover`], give it a
//! [`Leftover::name`], and say in [`Leftover::undo`] what must happen before its folder can be
//! removed.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file in each scratch folder that names its owner.
pub const OWNER_FILE: &str = "isoscope.owner";

/// The prefix of every scratch folder's name in the temp folder.
pub const PREFIX: &str = "isoscope-";

/// What a scratch folder holds, which says how to clean it up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Leftover {
    /// A managed server's data directory; the server process may still run.
    ServerData,
    /// The nemesis's copies of a server's data.
    NemesisCopy,
    /// A network topology (`crate::net`): the namespaces, links and nft table its owner file
    /// names ([`NetThing`]).
    Network,
}

impl Leftover {
    const ALL: [Leftover; 3] = [
        Leftover::ServerData,
        Leftover::NemesisCopy,
        Leftover::Network,
    ];

    /// The name in the owner file.
    pub fn name(self) -> &'static str {
        match self {
            Leftover::ServerData => "server-data",
            Leftover::NemesisCopy => "nemesis-copy",
            Leftover::Network => "network",
        }
    }

    fn parse(s: &str) -> Option<Leftover> {
        Leftover::ALL.into_iter().find(|k| k.name() == s)
    }

    /// What must happen before a stale folder `dir` of this kind is removed: for a server's
    /// data, the server it left is killed (if the kernel has not done so already), and the lazy
    /// filesystem its data may sit on (`dir/data`, served by the dead isoscope) is detached.
    fn undo(self, owner: &Owner, dir: &Path) {
        match self {
            Leftover::ServerData => {
                for p in &owner.children {
                    if p.alive() {
                        // SAFETY: kill(2) on a pid whose start time matches the one recorded.
                        unsafe { libc::kill(p.pid as libc::pid_t, libc::SIGKILL) };
                    }
                }
                let mount = dir.join("data");
                if crate::lazyfs::pid_file(&mount).exists() {
                    if let Err(e) = crate::lazyfs::unmount_stale(&mount) {
                        tracing::warn!("detaching the stale mount {}: {e}", mount.display());
                    }
                }
            }
            Leftover::NemesisCopy => {}
            Leftover::Network => {
                for t in &owner.net {
                    t.remove();
                }
            }
        }
    }
}

/// A piece of network state a topology made in the root namespace, named in its owner file so
/// that it can be removed after its isoscope died. Only names with [`NetThing::PREFIX`] are ever
/// removed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NetThing {
    /// An nft table in the bridge family.
    BridgeTable(String),
    /// A network namespace (removing it removes the veth ends inside it, and their peers).
    Netns(String),
    /// A link in the root namespace (the bridge).
    Link(String),
}

impl NetThing {
    /// The prefix every name isoscope gives network state starts with.
    pub const PREFIX: &'static str = "iso";

    fn line(&self) -> String {
        match self {
            NetThing::BridgeTable(n) => format!("nft-bridge-table {n}"),
            NetThing::Netns(n) => format!("netns {n}"),
            NetThing::Link(n) => format!("link {n}"),
        }
    }

    fn parse(key: &str, name: &str) -> Option<NetThing> {
        let name = name.trim();
        let ok = name.starts_with(Self::PREFIX)
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return None;
        }
        let name = name.to_string();
        match key {
            "nft-bridge-table" => Some(NetThing::BridgeTable(name)),
            "netns" => Some(NetThing::Netns(name)),
            "link" => Some(NetThing::Link(name)),
            _ => None,
        }
    }

    /// Removes it, if it is there (errors are ignored: it may never have been made).
    pub fn remove(&self) {
        let mut cmd = match self {
            NetThing::BridgeTable(n) => {
                let mut c = std::process::Command::new("nft");
                c.args(["delete", "table", "bridge", n]);
                c
            }
            NetThing::Netns(n) => {
                let mut c = std::process::Command::new("ip");
                c.args(["netns", "delete", n]);
                c
            }
            NetThing::Link(n) => {
                let mut c = std::process::Command::new("ip");
                c.args(["link", "delete", n]);
                c
            }
        };
        let _ = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A process, named so that a reused pid does not match: its pid and its start time in clock
/// ticks since boot.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Proc {
    /// The process id.
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`.
    pub started: u64,
}

impl Proc {
    /// This process.
    pub fn me() -> Proc {
        let pid = std::process::id();
        Proc {
            pid,
            started: start_time(pid).unwrap_or(0),
        }
    }

    /// The process `pid`, if it exists.
    pub fn of(pid: u32) -> Option<Proc> {
        Some(Proc {
            pid,
            started: start_time(pid)?,
        })
    }

    /// Whether this very process still exists (not a later one with the same pid).
    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.started)
    }

    fn parse(s: &str) -> Option<Proc> {
        let (pid, started) = s.split_once(' ')?;
        Some(Proc {
            pid: pid.trim().parse().ok()?,
            started: started.trim().parse().ok()?,
        })
    }
}

impl std::fmt::Display for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.pid, self.started)
    }
}

/// A process's start time, from `/proc/PID/stat` (the fields after the parenthesized name).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    // Field 3 (state) is the first after the name; the start time is field 22.
    after_name.split(' ').nth(19)?.parse().ok()
}

/// Who made a scratch folder, as its owner file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// What the folder holds.
    pub kind: Leftover,
    /// The isoscope that made it.
    pub isoscope: Proc,
    /// Processes it started that use the folder (a server).
    pub children: Vec<Proc>,
    /// Network state it made (a topology).
    pub net: Vec<NetThing>,
}

impl Owner {
    fn read(dir: &Path) -> Option<Owner> {
        let text = std::fs::read_to_string(dir.join(OWNER_FILE)).ok()?;
        let mut kind = None;
        let mut isoscope = None;
        let mut children = Vec::new();
        let mut net = Vec::new();
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("kind", k)) => kind = Leftover::parse(k.trim()),
                Some(("isoscope", p)) => isoscope = Proc::parse(p),
                Some(("child", p)) => children.extend(Proc::parse(p)),
                Some((key, name)) => net.extend(NetThing::parse(key, name)),
                _ => {}
            }
        }
        Some(Owner {
            kind: kind?,
            isoscope: isoscope?,
            children,
            net,
        })
    }
}

/// Makes a scratch folder of `kind` in the temp folder, owned by this process.
pub fn make(kind: Leftover) -> std::io::Result<tempfile::TempDir> {
    make_in(&std::env::temp_dir(), kind)
}

fn make_in(parent: &Path, kind: Leftover) -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix(PREFIX).tempdir_in(parent)?;
    std::fs::write(
        dir.path().join(OWNER_FILE),
        format!("kind {}\nisoscope {}\n", kind.name(), Proc::me()),
    )?;
    Ok(dir)
}

/// Notes in `dir`'s owner file that process `pid` (a server) uses the folder, so that a cleanup
/// after isoscope died kills it too.
pub fn add_child(dir: &Path, pid: u32) -> std::io::Result<()> {
    let Some(p) = Proc::of(pid) else {
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(OWNER_FILE))?;
    writeln!(f, "child {p}")
}

/// Notes in `dir`'s owner file the network state `things` a topology is about to make, so that
/// a cleanup after isoscope died removes it. Written (and synced) before the state is made.
pub fn add_net(dir: &Path, things: &[NetThing]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(OWNER_FILE))?;
    let text: String = things.iter().map(|t| t.line() + "\n").collect();
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

/// A stale folder that was cleaned up.
#[derive(Clone, Debug)]
pub struct Cleaned {
    /// The folder.
    pub dir: PathBuf,
    /// What it held.
    pub kind: Leftover,
    /// Why it could not be removed, if it could not.
    pub error: Option<String>,
}

/// Removes the scratch folders in the temp folder whose isoscope is gone, after each kind's own
/// cleanup. Folders without an owner file (not isoscope's, or from an older isoscope) and those
/// of a live isoscope are left alone.
pub fn clean_stale() -> Vec<Cleaned> {
    clean_stale_in(&std::env::temp_dir())
}

fn clean_stale_in(parent: &Path) -> Vec<Cleaned> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = e.path();
        let Some(owner) = Owner::read(&dir) else {
            continue;
        };
        if owner.isoscope.alive() {
            continue;
        }
        owner.kind.undo(&owner, &dir);
        let error = std::fs::remove_dir_all(&dir).err().map(|e| e.to_string());
        out.push(Cleaned {
            dir,
            kind: owner.kind,
            error,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process that has exited (and been reaped): its pid names nothing now.
    fn gone() -> Proc {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let p = Proc::of(c.id()).unwrap_or(Proc {
            pid: c.id(),
            started: 1,
        });
        c.wait().unwrap();
        p
    }

    #[test]
    fn a_folder_whose_isoscope_is_gone_is_removed_with_its_server() {
        let tmp = tempfile::tempdir().unwrap();
        // A folder of a dead isoscope, with a server still running.
        let stale = make_in(tmp.path(), Leftover::ServerData).unwrap().keep();
        let mut server = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(
            stale.join(OWNER_FILE),
            format!("kind server-data\nisoscope {}\n", gone()),
        )
        .unwrap();
        add_child(&stale, server.id()).unwrap();
        // A folder of this live process, and one that is not isoscope's.
        let live = make_in(tmp.path(), Leftover::NemesisCopy).unwrap();
        let foreign = tmp.path().join("isoscope-not-ours");
        std::fs::create_dir(&foreign).unwrap();

        let cleaned = clean_stale_in(tmp.path());
        assert_eq!(cleaned.len(), 1, "{cleaned:?}");
        assert_eq!(
            (&cleaned[0].dir, cleaned[0].kind, &cleaned[0].error),
            (&stale, Leftover::ServerData, &None)
        );
        assert!(!stale.exists());
        assert!(live.path().exists() && foreign.exists());
        let t = std::time::Instant::now();
        while server.try_wait().unwrap().is_none() {
            assert!(t.elapsed().as_secs() < 5, "the stale server was not killed");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn a_network_owner_file_names_only_isoscopes_own_network_state() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = make_in(tmp.path(), Leftover::Network).unwrap();
        let things = [
            NetThing::BridgeTable("isoab1x0".into()),
            NetThing::Netns("isoab1x0n0".into()),
            NetThing::Link("isoab1x0br".into()),
        ];
        add_net(dir.path(), &things).unwrap();
        // Lines naming state isoscope did not make are never taken for its own.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(OWNER_FILE))
            .unwrap();
        writeln!(f, "netns docker0\nlink eth0\nnetns iso/../x").unwrap();
        let owner = Owner::read(dir.path()).unwrap();
        assert_eq!(owner.kind, Leftover::Network);
        assert_eq!(owner.net, things);
    }

    #[test]
    fn a_reused_pid_is_not_the_owner() {
        let me = Proc::me();
        assert!(me.alive());
        let other = Proc {
            pid: me.pid,
            started: me.started + 1,
        };
        assert!(!other.alive());
    }
}
