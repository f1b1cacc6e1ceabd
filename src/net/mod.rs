//! The network between a cluster's nodes, and the faults on it: mechanism only (which links to
//! cut, and when, is the nemesis's policy).
//!
//! A [`Topology`] is a bridge in the root namespace, where isoscope's clients run, and one network
//! namespace per node joined to it by a veth pair (the node's end is `eth0`), all on a private
//! /24 of 10.77.0.0-10.99.255.0 that nothing on the machine uses: node `i` (0-based) is `.i+1`,
//! the bridge `.254`. Each node has its own network stack, so every node uses the standard ports.
//!
//! Faults, each undone by [`Topology::heal`]:
//! - [`Topology::cut`] drops every packet between two groups of nodes, both ways; and
//!   [`Topology::lose`] drops a share of the packets towards nodes (nft's `numgen`). Both are
//!   rules in one nft table of the bridge family, rewritten whole at each change and deleted when
//!   nothing is cut, so healing is deleting the table. They apply to traffic between nodes only:
//!   clients in the root namespace still reach every node;
//! - [`Topology::cut_one_way`]: a blackhole route in the sender's namespace, so it cannot send
//!   to the receiver while the receiver can still send to it;
//! - [`Topology::isolate`]: the node's veth goes down, cutting it off from everyone, clients too.
//!
//! Invariants:
//! - every name carries a tag unique to the run (`iso`, the pid and a counter, in base 36), so
//!   runs side by side never touch each other's state, and stays within Linux's 15-byte
//!   interface names;
//! - everything is named in a scratch folder's owner file (`Leftover::Network`) *before* it is
//!   made, and removed on drop; a SIGKILLed isoscope's namespaces, links and table are removed by
//!   the next isoscope's stale cleanup;
//! - without root nothing is made: [`Topology::create`] refuses with [`NetError::NotRoot`].

pub mod rules;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

pub use crate::scratch::NetThing;
use rules::Faults;

/// The most nodes a topology holds.
pub const MAX_NODES: usize = 99;

/// Why the network could not be made or changed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Namespaces, links and nft tables need root.
    #[error(
        "cluster networks need root (network namespaces, a bridge, nft); isoscope runs as uid {0}"
    )]
    NotRoot(u32),
    /// A node index or a share out of range.
    #[error("{0}")]
    BadArgument(String),
    /// No private /24 was free.
    #[error("no private /24 in 10.77.0.0-10.99.255.0 is free on this machine")]
    NoSubnet,
    /// `ip` or `nft` failed.
    #[error("{what}: {detail}")]
    Command {
        /// What isoscope was doing.
        what: String,
        /// The tool's own words (or why it did not run).
        detail: String,
    },
    /// An OS-level failure (the scratch folder, a namespace's file).
    #[error("{what}: {source}")]
    Io {
        /// What isoscope was doing.
        what: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// What is in place besides the nft rules.
#[derive(Default)]
struct State {
    faults: Faults,
    /// `(from, to)` blackhole routes.
    one_way: BTreeSet<(usize, usize)>,
    /// Nodes whose veth is down.
    isolated: BTreeSet<usize>,
}

/// A per-run network: a bridge, a namespace and a veth pair per node, and the faults on it.
/// Removed on drop.
pub struct Topology {
    tag: String,
    /// The first three octets of the /24.
    net: [u8; 3],
    nodes: usize,
    /// The scratch folder whose owner file names everything made.
    record: tempfile::TempDir,
    state: Mutex<State>,
}

impl Topology {
    /// Makes a topology of `nodes` nodes (1 to [`MAX_NODES`]): the bridge, and each node's
    /// namespace with its veth pair, addresses and loopback up.
    pub fn create(nodes: usize) -> Result<Topology, NetError> {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        if uid != 0 {
            return Err(NetError::NotRoot(uid));
        }
        if !(1..=MAX_NODES).contains(&nodes) {
            return Err(NetError::BadArgument(format!(
                "a network has 1 to {MAX_NODES} nodes, not {nodes}"
            )));
        }
        let tag = unique_tag();
        let record = crate::scratch::make(crate::scratch::Leftover::Network).map_err(|source| {
            NetError::Io {
                what: "creating the network's scratch folder".into(),
                source,
            }
        })?;
        let net = free_subnet(&tag)?;
        let t = Topology {
            tag,
            net,
            nodes,
            record,
            state: Mutex::new(State::default()),
        };
        crate::scratch::add_net(t.record.path(), &t.things()).map_err(|source| NetError::Io {
            what: "recording the network in its owner file".into(),
            source,
        })?;
        // From here on, drop removes whatever was made.
        let br = t.bridge();
        let mut root = format!(
            "link add {br} type bridge\naddr add {}/24 dev {br}\nlink set {br} up\n",
            t.bridge_addr()
        );
        for i in 0..nodes {
            let (ns, veth) = (t.netns(i), t.veth(i));
            let _ = writeln!(
                root,
                "netns add {ns}\nlink add {veth} type veth peer name eth0 netns {ns}\nlink set {veth} master {br} up"
            );
        }
        ip(
            &["-batch", "-"],
            Some(&root),
            "making the bridge and the namespaces",
        )?;
        for i in 0..nodes {
            let script = format!(
                "addr add {}/24 dev eth0\nlink set eth0 up\nlink set lo up\n",
                t.addr(i)
            );
            ip(
                &["-n", &t.netns(i), "-batch", "-"],
                Some(&script),
                &format!("setting up node {i}'s namespace"),
            )?;
        }
        t.wait_reachable()?;
        Ok(t)
    }

    /// Waits until the root namespace reaches every node (a TCP connect to a closed port is
    /// refused at once): right after the links come up, the first packets can be lost.
    fn wait_reachable(&self) -> Result<(), NetError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        for i in 0..self.nodes {
            let addr = std::net::SocketAddr::from((self.addr(i), 9));
            loop {
                let r = std::net::TcpStream::connect_timeout(
                    &addr,
                    std::time::Duration::from_millis(200),
                );
                if r.is_ok() || r.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
                {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(NetError::Command {
                        what: format!("reaching node {i} at {}", self.addr(i)),
                        detail: "no answer 10 s after its link came up".into(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// How many nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The run's tag, in every name.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Node `i`'s address (0-based).
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        let [a, b, c] = self.net;
        Ipv4Addr::new(a, b, c, i as u8 + 1)
    }

    /// The bridge's address in the root namespace: where clients' packets come from.
    pub fn bridge_addr(&self) -> Ipv4Addr {
        let [a, b, c] = self.net;
        Ipv4Addr::new(a, b, c, 254)
    }

    /// The bridge's name.
    pub fn bridge(&self) -> String {
        format!("{}br", self.tag)
    }

    /// Node `i`'s namespace.
    pub fn netns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    /// Node `i`'s veth end in the root namespace.
    pub fn veth(&self, i: usize) -> String {
        format!("{}v{i}", self.tag)
    }

    /// The nft table (bridge family) that holds cuts and loss while any is in place.
    pub fn table(&self) -> &str {
        &self.tag
    }

    /// Everything this topology may have made, in the order it is removed.
    pub fn things(&self) -> Vec<NetThing> {
        let mut v = vec![NetThing::BridgeTable(self.tag.clone())];
        v.extend((0..self.nodes).map(|i| NetThing::Netns(self.netns(i))));
        v.extend((0..self.nodes).map(|i| NetThing::Link(self.veth(i))));
        v.push(NetThing::Link(self.bridge()));
        v
    }

    fn check(&self, nodes: &[usize]) -> Result<(), NetError> {
        match nodes.iter().find(|&&i| i >= self.nodes) {
            Some(i) => Err(NetError::BadArgument(format!(
                "node {i} is not in a network of {} nodes (nodes count from 0)",
                self.nodes
            ))),
            None => Ok(()),
        }
    }

    fn netns_file(&self, i: usize) -> Result<File, NetError> {
        let path = format!("/run/netns/{}", self.netns(i));
        File::open(&path).map_err(|source| NetError::Io {
            what: format!("opening {path}"),
            source,
        })
    }

    /// A command that runs `program` inside node `i`'s namespace (it joins the namespace between
    /// fork and exec, so its pid is the program's own).
    pub fn command(
        &self,
        i: usize,
        program: impl AsRef<std::ffi::OsStr>,
    ) -> Result<Command, NetError> {
        self.check(&[i])?;
        let ns = self.netns_file(i)?;
        let mut cmd = Command::new(program);
        // SAFETY: setns(2) is async-signal-safe; the file stays open (owned by the closure)
        // until the command is dropped, and is close-on-exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(cmd)
    }

    /// Runs `f` on a thread of its own inside node `i`'s namespace: sockets it makes belong to
    /// the node (they keep working after `f` returns).
    pub fn enter<T: Send>(&self, i: usize, f: impl FnOnce() -> T + Send) -> Result<T, NetError> {
        self.check(&[i])?;
        let ns = self.netns_file(i)?;
        std::thread::scope(|s| {
            s.spawn(move || {
                // SAFETY: setns(2) on this thread only, with a namespace file we hold open.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(NetError::Io {
                        what: format!("entering node {i}'s namespace"),
                        source: std::io::Error::last_os_error(),
                    });
                }
                Ok(f())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, faults: &Faults) -> Result<(), NetError> {
        let script = faults.ruleset(&self.tag, |i| self.addr(i));
        run(
            "nft",
            &["-f", "-"],
            Some(&script),
            "changing the network's nft table",
        )
    }

    /// Drops every packet between each node of `a` and each node of `b`, both ways.
    pub fn cut(&self, a: &[usize], b: &[usize]) -> Result<(), NetError> {
        self.check(a)?;
        self.check(b)?;
        let mut st = self.state();
        let mut f = st.faults.clone();
        for &x in a {
            for &y in b {
                if x != y {
                    f.drops.insert((x, y));
                    f.drops.insert((y, x));
                }
            }
        }
        self.apply(&f)?;
        st.faults = f;
        Ok(())
    }

    /// Node `from` can no longer send to node `to` (a blackhole route in `from`'s namespace);
    /// `to` can still send to `from`.
    pub fn cut_one_way(&self, from: usize, to: usize) -> Result<(), NetError> {
        self.check(&[from, to])?;
        if from == to {
            return Err(NetError::BadArgument(format!(
                "a one-way cut needs two nodes, not node {from} twice"
            )));
        }
        let mut st = self.state();
        if st.one_way.contains(&(from, to)) {
            return Ok(());
        }
        ip(
            &[
                "-n",
                &self.netns(from),
                "route",
                "add",
                "blackhole",
                &format!("{}/32", self.addr(to)),
            ],
            None,
            &format!("cutting node {from} off from node {to}"),
        )?;
        st.one_way.insert((from, to));
        Ok(())
    }

    /// Cuts node `i` off from everyone, clients included (its veth goes down).
    pub fn isolate(&self, i: usize) -> Result<(), NetError> {
        self.check(&[i])?;
        let mut st = self.state();
        ip(
            &["link", "set", &self.veth(i), "down"],
            None,
            &format!("isolating node {i}"),
        )?;
        st.isolated.insert(i);
        Ok(())
    }

    /// Drops `percent` % of the packets other nodes send to each node of `to`, at random
    /// (1 to 100; a later call for a node replaces its share).
    pub fn lose(&self, to: &[usize], percent: u8) -> Result<(), NetError> {
        self.check(to)?;
        if !(1..=100).contains(&percent) {
            return Err(NetError::BadArgument(format!(
                "packet loss is 1 to 100 %, not {percent}"
            )));
        }
        let mut st = self.state();
        let mut f = st.faults.clone();
        for &i in to {
            f.loss.insert(i, percent);
        }
        self.apply(&f)?;
        st.faults = f;
        Ok(())
    }

    /// Undoes every fault: the nft table goes, the blackhole routes go, every veth is up.
    pub fn heal(&self) -> Result<(), NetError> {
        let mut st = self.state();
        if !st.faults.is_empty() {
            self.apply(&Faults::default())?;
            st.faults = Faults::default();
        }
        for (from, to) in st.one_way.clone() {
            ip(
                &[
                    "-n",
                    &self.netns(from),
                    "route",
                    "del",
                    "blackhole",
                    &format!("{}/32", self.addr(to)),
                ],
                None,
                &format!("healing node {from}'s route to node {to}"),
            )?;
            st.one_way.remove(&(from, to));
        }
        for i in st.isolated.clone() {
            ip(
                &["link", "set", &self.veth(i), "up"],
                None,
                &format!("bringing node {i}'s link up"),
            )?;
            st.isolated.remove(&i);
        }
        Ok(())
    }

    /// Whether any fault is in place.
    pub fn faulty(&self) -> bool {
        let st = self.state();
        !(st.faults.is_empty() && st.one_way.is_empty() && st.isolated.is_empty())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for t in self.things() {
            t.remove();
        }
    }
}

/// Whether `thing` exists now (for tests and for checking a cleanup).
pub fn exists(thing: &NetThing) -> bool {
    let quiet = |mut c: Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    match thing {
        NetThing::Netns(n) => std::path::Path::new("/run/netns").join(n).exists(),
        NetThing::Link(n) => {
            let mut c = Command::new("ip");
            c.args(["link", "show", "dev", n]);
            quiet(c)
        }
        NetThing::BridgeTable(n) => {
            let mut c = Command::new("nft");
            c.args(["list", "table", "bridge", n]);
            quiet(c)
        }
    }
}

/// `iso`, this process's pid and a counter, both in base 36: unique among live topologies.
fn unique_tag() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("iso{}x{}", base36(std::process::id()), base36(n));
        // A tag is free unless a namespace of it is still there (a stale one of a reused pid).
        if !std::path::Path::new("/run/netns")
            .join(format!("{tag}n0"))
            .exists()
        {
            return tag;
        }
    }
}

fn base36(mut n: u32) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A /24 in 10.77.0.0-10.99.255.0 that no address or route on the machine overlaps, starting
/// from one derived from `tag` so that runs side by side start apart.
fn free_subnet(tag: &str) -> Result<[u8; 3], NetError> {
    let mut used: Vec<(u32, u32)> = Vec::new();
    for args in [
        &["-4", "-o", "addr", "show"][..],
        &["-4", "-o", "route", "show", "table", "all"][..],
    ] {
        let out = output("ip", args, "listing the machine's addresses")?;
        for word in out.split_whitespace() {
            let (a, len) = match word.split_once('/') {
                Some((a, l)) => (a, l.parse::<u32>().ok()),
                None => (word, Some(32)),
            };
            if let (Ok(a), Some(len)) = (a.parse::<Ipv4Addr>(), len) {
                used.push((u32::from(a), len.min(32)));
            }
        }
    }
    let overlaps = |net: u32| {
        used.iter().any(|&(a, len)| {
            let l = len.min(24);
            let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
            a & mask == net & mask
        })
    };
    const COUNT: u32 = 23 * 256;
    let start = tag
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        % COUNT;
    for k in 0..COUNT {
        let idx = (start + k) % COUNT;
        let (b, c) = (77 + (idx / 256) as u8, (idx % 256) as u8);
        let net = u32::from(Ipv4Addr::new(10, b, c, 0));
        if !overlaps(net) {
            return Ok([10, b, c]);
        }
    }
    Err(NetError::NoSubnet)
}

fn ip(args: &[&str], stdin: Option<&str>, what: &str) -> Result<(), NetError> {
    run("ip", args, stdin, what)
}

/// Runs `program args`, feeding it `stdin`; its stderr is the error's detail.
fn run(program: &str, args: &[&str], stdin: Option<&str>, what: &str) -> Result<(), NetError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError::Command {
            what: what.into(),
            detail: format!("{program} did not run ({e}); scripts/install-servers installs it"),
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|source| NetError::Io {
        what: format!("waiting for {program}"),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(NetError::Command {
        what: what.into(),
        detail: format!(
            "{program} {}: {}",
            out.status,
            err.trim().replace('\n', "; ")
        ),
    })
}

fn output(program: &str, args: &[&str], what: &str) -> Result<String, NetError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| NetError::Command {
            what: what.into(),
            detail: format!("{program} did not run ({e}); scripts/install-servers installs it"),
        })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_enough_for_interface_names() {
        let tag = format!("iso{}x{}", base36(4_194_304), base36(1295));
        let veth = format!("{tag}v{}", MAX_NODES - 1);
        assert!(veth.len() <= 15, "{veth}");
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36), "10");
    }
}
