//! The lazy filesystem's state, without FUSE: a volatile tree in memory over a durable one on
//! disk, and what an fsync, a power loss and a torn write do to them.
//!
//! The durable state is the backing folder: `objects/<id>` holds the synced bytes of each file,
//! `namespace.json` the synced names (path to object, folders, symbolic links). The volatile
//! state is what programs see: a tree of nodes whose files are their object's bytes (up to the
//! length they had at the last sync) with the unsynced changes replayed on top, in order.
//!
//! Invariants:
//! - an object is written, and the namespace file rewritten, only by a sync (`fsync`,
//!   `fsyncdir`, [`Store::sync_all`]) or by the torn prefix a [`Store::power_loss`] keeps;
//! - the changes since a file's last sync are kept in the order they were made, so a torn write
//!   keeps a true prefix of them;
//! - inode numbers are never reused: after a power loss every node gets a new one, so a kernel
//!   reference from before it can only miss (ENOENT), never reach another file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The root folder's inode number (FUSE's).
pub const ROOT: u64 = 1;

/// The torn-write granularity: a sector.
pub const SECTOR: u64 = 512;

/// An errno, as FUSE replies it.
pub type Errno = i32;

/// What an fsync does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FsyncMode {
    /// Persists the file's data and names.
    #[default]
    Honor,
    /// Returns success and persists nothing: a disk that lies.
    Ignore,
}

/// A fault the filesystem itself injects while it lasts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DiskFault {
    /// Writes, creates and size extensions fail with ENOSPC.
    Full,
    /// fsync and reads fail with EIO. The changes a failed fsync did not persist stay unsynced,
    /// so a later fsync may still persist them (Linux may instead drop such pages from its
    /// cache: that harsher model is not played out here).
    IoError,
}

/// What the filesystem refused and dropped, counted since it was mounted.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Calls refused with ENOSPC by a disk-full fault.
    pub enospc: u64,
    /// Calls refused with EIO by an io-error fault.
    pub eio: u64,
    /// Writes refused because the unsynced cache was at its limit.
    pub over_limit: u64,
    /// fsyncs that persisted nothing because fsync is ignored.
    pub ignored_fsyncs: u64,
}

/// What a power loss (or torn write) dropped and kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Unsynced bytes written and thrown away.
    pub bytes: u64,
    /// Unsynced writes thrown away (a torn one counts as dropped).
    pub writes: u64,
    /// Files that had unsynced changes.
    pub files: u64,
    /// Names that differed between what programs saw and what was synced.
    pub names: u64,
    /// Torn write only: writes kept whole.
    pub kept_writes: u64,
    /// Torn write only: bytes kept (whole writes and torn prefixes).
    pub kept_bytes: u64,
    /// Torn write only: writes cut at a sector boundary.
    pub torn: u64,
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::words::count;
        write!(
            f,
            "dropped {} ({} in {}) and {}",
            count(self.bytes, "unsynced byte"),
            count(self.writes, "write"),
            count(self.files, "file"),
            count(self.names, "unsynced name change"),
        )?;
        if self.kept_writes > 0 || self.torn > 0 || self.kept_bytes > 0 {
            write!(
                f,
                "; kept {} whole and tore {} at a 512-byte boundary ({} kept)",
                count(self.kept_writes, "write"),
                self.torn,
                count(self.kept_bytes, "byte"),
            )?;
        }
        Ok(())
    }
}

/// One unsynced change to a file's bytes, in the order made.
#[derive(Clone, Debug)]
enum Change {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

impl Change {
    fn bytes(&self) -> u64 {
        match self {
            Change::Write(_, d) => d.len() as u64,
            Change::SetLen(_) => 0,
        }
    }
}

/// A file's bytes: its object up to `base_len`, then `changes` replayed.
#[derive(Debug)]
struct FileData {
    obj: u64,
    base_len: u64,
    size: u64,
    changes: Vec<Change>,
}

#[derive(Debug)]
enum Kind {
    Dir(BTreeMap<OsString, u64>),
    File(FileData),
    Symlink(PathBuf),
}

/// One node of the volatile tree.
#[derive(Debug)]
pub struct Node {
    kind: Kind,
    parent: u64,
    name: OsString,
    /// Permission bits.
    pub perm: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Last modification.
    pub mtime: SystemTime,
    /// Last status change.
    pub ctime: SystemTime,
    open: u32,
}

/// A node's type, as FUSE reports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeType {
    /// A folder.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
}

/// What `getattr` needs of a node.
#[derive(Clone, Copy, Debug)]
pub struct Attr {
    /// Inode number.
    pub ino: u64,
    /// File, folder or link.
    pub kind: NodeType,
    /// Bytes.
    pub size: u64,
    /// Permission bits.
    pub perm: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Last modification.
    pub mtime: SystemTime,
    /// Last status change.
    pub ctime: SystemTime,
}

/// A synced name: what `namespace.json` holds for one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum Durable {
    Dir { perm: u16 },
    File { obj: u64, perm: u16 },
    Symlink { target: PathBuf },
}

/// The whole namespace file.
#[derive(Default, Serialize, Deserialize)]
struct Manifest {
    next_obj: u64,
    entries: BTreeMap<String, Durable>,
}

/// The filesystem's state: the volatile tree, the durable names, and the faults in force.
pub struct Store {
    backing: PathBuf,
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    next_obj: u64,
    durable: BTreeMap<String, Durable>,
    unsynced: u64,
    limit: u64,
    /// What fsync does.
    pub fsync: FsyncMode,
    fault: Option<(DiskFault, Instant)>,
    /// What was refused so far.
    pub counters: Counters,
}

fn now() -> SystemTime {
    SystemTime::now()
}

impl Store {
    /// Opens the store in `backing` (created if missing), whose unsynced changes may hold at most
    /// `limit` bytes. The volatile tree starts as the durable one.
    pub fn open(backing: &Path, limit: u64) -> io::Result<Store> {
        std::fs::create_dir_all(backing.join("objects"))?;
        let manifest: Manifest = match std::fs::read(backing.join("namespace.json")) {
            Ok(b) => serde_json::from_slice(&b).map_err(io::Error::other)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Manifest::default(),
            Err(e) => return Err(e),
        };
        let mut s = Store {
            backing: backing.to_path_buf(),
            nodes: HashMap::new(),
            next_ino: ROOT + 1,
            next_obj: manifest.next_obj.max(1),
            durable: manifest.entries,
            unsynced: 0,
            limit,
            fsync: FsyncMode::Honor,
            fault: None,
            counters: Counters::default(),
        };
        s.rebuild()?;
        Ok(s)
    }

    /// Unsynced bytes held in memory now.
    pub fn unsynced_bytes(&self) -> u64 {
        self.unsynced
    }

    /// Injects `fault` until `until`, or clears it.
    pub fn set_fault(&mut self, fault: Option<(DiskFault, Instant)>) {
        self.fault = fault;
    }

    fn faulted(&mut self, which: DiskFault) -> Result<(), Errno> {
        match self.fault {
            Some((f, until)) if f == which && Instant::now() < until => {
                match f {
                    DiskFault::Full => self.counters.enospc += 1,
                    DiskFault::IoError => self.counters.eio += 1,
                }
                Err(match f {
                    DiskFault::Full => libc::ENOSPC,
                    DiskFault::IoError => libc::EIO,
                })
            }
            _ => Ok(()),
        }
    }

    fn obj_path(&self, obj: u64) -> PathBuf {
        self.backing.join("objects").join(obj.to_string())
    }

    fn node(&self, ino: u64) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(libc::ENOENT)
    }

    fn node_mut(&mut self, ino: u64) -> Result<&mut Node, Errno> {
        self.nodes.get_mut(&ino).ok_or(libc::ENOENT)
    }

    fn children(&self, ino: u64) -> Result<&BTreeMap<OsString, u64>, Errno> {
        match &self.node(ino)?.kind {
            Kind::Dir(c) => Ok(c),
            _ => Err(libc::ENOTDIR),
        }
    }

    fn children_mut(&mut self, ino: u64) -> Result<&mut BTreeMap<OsString, u64>, Errno> {
        match &mut self.node_mut(ino)?.kind {
            Kind::Dir(c) => Ok(c),
            _ => Err(libc::ENOTDIR),
        }
    }

    /// The attributes of `ino`.
    pub fn attr(&self, ino: u64) -> Result<Attr, Errno> {
        let n = self.node(ino)?;
        let (kind, size) = match &n.kind {
            Kind::Dir(c) => (NodeType::Dir, c.len() as u64),
            Kind::File(f) => (NodeType::File, f.size),
            Kind::Symlink(t) => (NodeType::Symlink, t.as_os_str().len() as u64),
        };
        Ok(Attr {
            ino,
            kind,
            size,
            perm: n.perm,
            uid: n.uid,
            gid: n.gid,
            mtime: n.mtime,
            ctime: n.ctime,
        })
    }

    /// The node called `name` in folder `parent`.
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<u64, Errno> {
        self.children(parent)?
            .get(name)
            .copied()
            .ok_or(libc::ENOENT)
    }

    /// The entries of a folder, in name order.
    pub fn list(&self, ino: u64) -> Result<Vec<(OsString, u64, NodeType)>, Errno> {
        let c = self.children(ino)?;
        Ok(c.iter()
            .filter_map(|(n, i)| Some((n.clone(), *i, self.attr(*i).ok()?.kind)))
            .collect())
    }

    /// The path of `ino` relative to the root (empty for the root), as the namespace file keys it.
    fn path_of(&self, ino: u64) -> Result<String, Errno> {
        let mut parts = Vec::new();
        let mut at = ino;
        while at != ROOT {
            let n = self.node(at)?;
            if n.parent == 0 {
                return Err(libc::ENOENT);
            }
            parts.push(n.name.to_str().ok_or(libc::EINVAL)?.to_string());
            at = n.parent;
        }
        parts.reverse();
        Ok(parts.join("/"))
    }

    fn add_node(
        &mut self,
        parent: u64,
        name: &OsStr,
        kind: Kind,
        perm: u16,
        uid: u32,
        gid: u32,
    ) -> Result<u64, Errno> {
        if name.to_str().is_none() || name.as_encoded_bytes().contains(&b'/') {
            return Err(libc::EINVAL);
        }
        if self.children(parent)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let t = now();
        self.nodes.insert(
            ino,
            Node {
                kind,
                parent,
                name: name.to_os_string(),
                perm,
                uid,
                gid,
                mtime: t,
                ctime: t,
                open: 0,
            },
        );
        self.children_mut(parent)?.insert(name.to_os_string(), ino);
        self.touch(parent);
        Ok(ino)
    }

    fn touch(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            let t = now();
            n.mtime = t;
            n.ctime = t;
        }
    }

    /// Creates an empty file.
    pub fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        perm: u16,
        uid: u32,
        gid: u32,
    ) -> Result<u64, Errno> {
        self.faulted(DiskFault::Full)?;
        let obj = self.next_obj;
        self.next_obj += 1;
        let data = FileData {
            obj,
            base_len: 0,
            size: 0,
            changes: Vec::new(),
        };
        self.add_node(parent, name, Kind::File(data), perm, uid, gid)
    }

    /// Creates an empty folder.
    pub fn mkdir(
        &mut self,
        parent: u64,
        name: &OsStr,
        perm: u16,
        uid: u32,
        gid: u32,
    ) -> Result<u64, Errno> {
        self.faulted(DiskFault::Full)?;
        self.add_node(parent, name, Kind::Dir(BTreeMap::new()), perm, uid, gid)
    }

    /// Creates a symbolic link.
    pub fn symlink(
        &mut self,
        parent: u64,
        name: &OsStr,
        target: &Path,
        uid: u32,
        gid: u32,
    ) -> Result<u64, Errno> {
        self.faulted(DiskFault::Full)?;
        self.add_node(
            parent,
            name,
            Kind::Symlink(target.to_path_buf()),
            0o777,
            uid,
            gid,
        )
    }

    /// A symbolic link's target.
    pub fn readlink(&self, ino: u64) -> Result<PathBuf, Errno> {
        match &self.node(ino)?.kind {
            Kind::Symlink(t) => Ok(t.clone()),
            _ => Err(libc::EINVAL),
        }
    }

    /// Removes a file or link (`dir` false) or an empty folder (`dir` true).
    pub fn remove(&mut self, parent: u64, name: &OsStr, dir: bool) -> Result<(), Errno> {
        let ino = self.lookup(parent, name)?;
        match (&self.node(ino)?.kind, dir) {
            (Kind::Dir(c), true) if !c.is_empty() => return Err(libc::ENOTEMPTY),
            (Kind::Dir(_), false) => return Err(libc::EISDIR),
            (Kind::Dir(_), true) => {}
            (_, true) => return Err(libc::ENOTDIR),
            (_, false) => {}
        }
        self.children_mut(parent)?.remove(name);
        self.touch(parent);
        self.orphan(ino);
        Ok(())
    }

    /// Detaches `ino` from the tree; forgets it unless it is open.
    fn orphan(&mut self, ino: u64) {
        let open = match self.nodes.get_mut(&ino) {
            Some(n) => {
                n.parent = 0;
                n.open
            }
            None => return,
        };
        if open == 0 {
            self.forget(ino);
        }
    }

    fn forget(&mut self, ino: u64) {
        if let Some(Node {
            kind: Kind::File(f),
            ..
        }) = self.nodes.remove(&ino)
        {
            self.unsynced -= f.changes.iter().map(Change::bytes).sum::<u64>();
        }
    }

    /// Renames `name` in `parent` to `newname` in `newparent`, replacing a file or an empty folder
    /// there (unless `noreplace`).
    pub fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        noreplace: bool,
    ) -> Result<(), Errno> {
        if newname.to_str().is_none() {
            return Err(libc::EINVAL);
        }
        let ino = self.lookup(parent, name)?;
        self.children(newparent)?;
        // A folder cannot move into itself.
        let mut at = newparent;
        while at != ROOT && at != 0 {
            if at == ino {
                return Err(libc::EINVAL);
            }
            at = self.node(at)?.parent;
        }
        if let Ok(old) = self.lookup(newparent, newname) {
            if old == ino {
                return Ok(());
            }
            if noreplace {
                return Err(libc::EEXIST);
            }
            let src_dir = matches!(self.node(ino)?.kind, Kind::Dir(_));
            match &self.node(old)?.kind {
                Kind::Dir(c) if !src_dir => {
                    let _ = c;
                    return Err(libc::EISDIR);
                }
                Kind::Dir(c) if !c.is_empty() => return Err(libc::ENOTEMPTY),
                Kind::Dir(_) => {}
                _ if src_dir => return Err(libc::ENOTDIR),
                _ => {}
            }
            self.children_mut(newparent)?.remove(newname);
            self.orphan(old);
        }
        self.children_mut(parent)?.remove(name);
        self.children_mut(newparent)?
            .insert(newname.to_os_string(), ino);
        let n = self.node_mut(ino)?;
        n.parent = newparent;
        n.name = newname.to_os_string();
        n.ctime = now();
        self.touch(parent);
        self.touch(newparent);
        Ok(())
    }

    /// Changes permission bits and owners.
    pub fn chmod_chown(
        &mut self,
        ino: u64,
        perm: Option<u16>,
        uid: Option<u32>,
        gid: Option<u32>,
        mtime: Option<SystemTime>,
    ) -> Result<(), Errno> {
        let n = self.node_mut(ino)?;
        if let Some(p) = perm {
            n.perm = p;
        }
        if let Some(u) = uid {
            n.uid = u;
        }
        if let Some(g) = gid {
            n.gid = g;
        }
        if let Some(m) = mtime {
            n.mtime = m;
        }
        n.ctime = now();
        Ok(())
    }

    /// A node is opened.
    pub fn opened(&mut self, ino: u64) -> Result<(), Errno> {
        self.node_mut(ino)?.open += 1;
        Ok(())
    }

    /// A node is closed for the last time by one opener; an unlinked one is forgotten.
    pub fn released(&mut self, ino: u64) {
        let gone = match self.nodes.get_mut(&ino) {
            Some(n) => {
                n.open = n.open.saturating_sub(1);
                n.open == 0 && n.parent == 0 && ino != ROOT
            }
            None => false,
        };
        if gone {
            self.forget(ino);
        }
    }

    fn file(&self, ino: u64) -> Result<&FileData, Errno> {
        match &self.node(ino)?.kind {
            Kind::File(f) => Ok(f),
            Kind::Dir(_) => Err(libc::EISDIR),
            Kind::Symlink(_) => Err(libc::EINVAL),
        }
    }

    fn file_mut(&mut self, ino: u64) -> Result<&mut FileData, Errno> {
        match &mut self.node_mut(ino)?.kind {
            Kind::File(f) => Ok(f),
            Kind::Dir(_) => Err(libc::EISDIR),
            Kind::Symlink(_) => Err(libc::EINVAL),
        }
    }

    /// Reads up to `len` bytes at `offset`: the synced bytes with the unsynced changes on top.
    pub fn read(&mut self, ino: u64, offset: u64, len: u32) -> Result<Vec<u8>, Errno> {
        self.faulted(DiskFault::IoError)?;
        let f = self.file(ino)?;
        let end = (offset + u64::from(len)).min(f.size);
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; (end - offset) as usize];
        if offset < f.base_len {
            let n = (f.base_len.min(end) - offset) as usize;
            match File::open(self.obj_path(f.obj)) {
                Ok(file) => read_full(&file, &mut buf[..n], offset).map_err(|_| libc::EIO)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(_) => return Err(libc::EIO),
            }
        }
        for c in &f.changes {
            apply(&mut buf, offset, c);
        }
        Ok(buf)
    }

    fn take_room(&mut self, bytes: u64) -> Result<(), Errno> {
        self.faulted(DiskFault::Full)?;
        if self.unsynced + bytes > self.limit {
            self.counters.over_limit += 1;
            if self.counters.over_limit.is_power_of_two() {
                tracing::error!(
                    "lazyfs: {} unsynced bytes held, limit {}: write refused with ENOSPC ({} so far); the server must fsync sooner or the limit be raised",
                    self.unsynced,
                    self.limit,
                    self.counters.over_limit
                );
            }
            return Err(libc::ENOSPC);
        }
        self.unsynced += bytes;
        Ok(())
    }

    /// Writes `data` at `offset`, in memory only.
    pub fn write(&mut self, ino: u64, offset: u64, data: &[u8]) -> Result<(), Errno> {
        self.file(ino)?;
        self.take_room(data.len() as u64)?;
        let f = self.file_mut(ino)?;
        f.size = f.size.max(offset + data.len() as u64);
        f.changes.push(Change::Write(offset, data.to_vec()));
        self.touch(ino);
        Ok(())
    }

    /// Sets a file's length, in memory only. Growing fails while the disk is full.
    pub fn set_len(&mut self, ino: u64, len: u64) -> Result<(), Errno> {
        let size = self.file(ino)?.size;
        if len > size {
            self.faulted(DiskFault::Full)?;
        }
        if len != size {
            let f = self.file_mut(ino)?;
            f.size = len;
            f.changes.push(Change::SetLen(len));
            self.touch(ino);
        }
        Ok(())
    }

    /// Makes `ino` durable: a file's bytes and its name (the names leading to it too), or a
    /// folder's entries. With fsync ignored, counts it and does nothing.
    pub fn fsync(&mut self, ino: u64) -> Result<(), Errno> {
        self.faulted(DiskFault::IoError)?;
        self.node(ino)?;
        if self.fsync == FsyncMode::Ignore {
            self.counters.ignored_fsyncs += 1;
            return Ok(());
        }
        let changed = match self.node(ino)?.kind {
            Kind::Dir(_) => self.sync_dir(ino)?,
            _ => {
                self.flush_file(ino)?;
                self.sync_name(ino)?
            }
        };
        if changed {
            self.save().map_err(|_| libc::EIO)?;
        }
        Ok(())
    }

    /// Makes every file's bytes and every name durable, as `sync` would.
    pub fn sync_all(&mut self) -> io::Result<()> {
        let inos: Vec<u64> = self.nodes.keys().copied().collect();
        for ino in inos {
            if matches!(self.nodes.get(&ino).map(|n| &n.kind), Some(Kind::File(_))) {
                self.flush_file(ino).map_err(io::Error::from_raw_os_error)?;
            }
        }
        self.durable = self.volatile_names();
        self.save()
    }

    /// Writes a file's unsynced changes into its object.
    fn flush_file(&mut self, ino: u64) -> Result<(), Errno> {
        let path = {
            let f = self.file(ino)?;
            if f.changes.is_empty() {
                return Ok(());
            }
            self.obj_path(f.obj)
        };
        let f = self.file(ino)?;
        persist(&path, f.base_len, &f.changes, None).map_err(|e| {
            tracing::error!("lazyfs: writing {}: {e}", path.display());
            libc::EIO
        })?;
        let f = self.file_mut(ino)?;
        let freed: u64 = f.changes.iter().map(Change::bytes).sum();
        f.changes.clear();
        f.base_len = f.size;
        self.unsynced -= freed;
        Ok(())
    }

    fn durable_of(&self, ino: u64) -> Result<Durable, Errno> {
        let n = self.node(ino)?;
        Ok(match &n.kind {
            Kind::Dir(_) => Durable::Dir { perm: n.perm },
            Kind::File(f) => Durable::File {
                obj: f.obj,
                perm: n.perm,
            },
            Kind::Symlink(t) => Durable::Symlink { target: t.clone() },
        })
    }

    /// Makes the folders leading to `path` durable; returns whether anything changed.
    fn sync_ancestors(&mut self, path: &str) -> bool {
        let mut changed = false;
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            let dir = &path[..at + i];
            if !matches!(self.durable.get(dir), Some(Durable::Dir { .. })) {
                self.durable
                    .insert(dir.to_string(), Durable::Dir { perm: 0o755 });
                changed = true;
            }
            at += i + 1;
        }
        changed
    }

    /// Makes a file's current name durable (and drops other durable names of its object: a
    /// rename's source).
    fn sync_name(&mut self, ino: u64) -> Result<bool, Errno> {
        let Ok(path) = self.path_of(ino) else {
            // Unlinked while open: nothing to name.
            return Ok(false);
        };
        let entry = self.durable_of(ino)?;
        let mut changed = self.sync_ancestors(&path);
        if self.durable.get(&path) != Some(&entry) {
            if let Durable::File { obj, .. } = &entry {
                let stale: Vec<String> = self
                    .durable
                    .iter()
                    .filter(|(p, d)| {
                        **p != path && matches!(d, Durable::File { obj: o, .. } if o == obj)
                    })
                    .map(|(p, _)| p.clone())
                    .collect();
                for p in stale {
                    self.durable.remove(&p);
                }
            }
            self.remove_durable_subtree(&path);
            self.durable.insert(path, entry);
            changed = true;
        }
        Ok(changed)
    }

    fn remove_durable_subtree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let under: Vec<String> = self
            .durable
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in under {
            self.durable.remove(&p);
        }
    }

    /// Makes a folder's entries durable: its names then are exactly those programs see now.
    fn sync_dir(&mut self, ino: u64) -> Result<bool, Errno> {
        let Ok(path) = self.path_of(ino) else {
            return Ok(false);
        };
        let mut changed = false;
        if ino != ROOT {
            changed |= self.sync_ancestors(&path);
            let me = self.durable_of(ino)?;
            if self.durable.get(&path) != Some(&me) {
                self.remove_durable_subtree(&path);
                self.durable.insert(path.clone(), me);
                changed = true;
            }
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let children: Vec<(String, u64)> = self
            .children(ino)?
            .iter()
            .filter_map(|(n, i)| Some((n.to_str()?.to_string(), *i)))
            .collect();
        let names: HashSet<&str> = children.iter().map(|(n, _)| n.as_str()).collect();
        let gone: Vec<String> = self
            .durable
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p[prefix.len()..].to_string())
            .filter(|rest| !rest.contains('/') && !names.contains(rest.as_str()))
            .collect();
        for g in gone {
            let p = format!("{prefix}{g}");
            self.durable.remove(&p);
            self.remove_durable_subtree(&p);
            changed = true;
        }
        for (name, child) in children {
            let p = format!("{prefix}{name}");
            let entry = self.durable_of(child)?;
            let same_kind = matches!(
                (self.durable.get(&p), &entry),
                (Some(Durable::Dir { .. }), Durable::Dir { .. })
            );
            if self.durable.get(&p) != Some(&entry) {
                if !same_kind {
                    self.remove_durable_subtree(&p);
                }
                self.durable.insert(p, entry);
                changed = true;
            }
        }
        Ok(changed)
    }

    /// The names programs see now, as durable entries.
    fn volatile_names(&self) -> BTreeMap<String, Durable> {
        let mut out = BTreeMap::new();
        let mut stack = vec![(ROOT, String::new())];
        while let Some((ino, path)) = stack.pop() {
            let Ok(children) = self.children(ino) else {
                continue;
            };
            for (name, child) in children {
                let Some(name) = name.to_str() else { continue };
                let p = if path.is_empty() {
                    name.to_string()
                } else {
                    format!("{path}/{name}")
                };
                if let Ok(d) = self.durable_of(*child) {
                    if matches!(d, Durable::Dir { .. }) {
                        stack.push((*child, p.clone()));
                    }
                    out.insert(p, d);
                }
            }
        }
        out
    }

    fn save(&self) -> io::Result<()> {
        let m = Manifest {
            next_obj: self.next_obj,
            entries: self.durable.clone(),
        };
        let tmp = self.backing.join("namespace.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&m).map_err(io::Error::other)?)?;
        std::fs::rename(&tmp, self.backing.join("namespace.json"))
    }

    /// A power loss: every unsynced change and name is gone, and programs see the durable state.
    /// With `torn` set (a seed), each file keeps a random prefix of its unsynced writes, the last
    /// kept one cut at a 512-byte boundary.
    pub fn power_loss(&mut self, torn: Option<u64>) -> io::Result<Dropped> {
        let mut d = Dropped::default();
        let volatile = self.volatile_names();
        d.names = volatile
            .iter()
            .filter(|(p, e)| self.durable.get(*p) != Some(e))
            .count() as u64
            + self
                .durable
                .keys()
                .filter(|p| !volatile.contains_key(*p))
                .count() as u64;
        let mut rng = torn.map(ChaCha8Rng::seed_from_u64);
        let mut inos: Vec<u64> = self.nodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in inos {
            let Some(Node {
                kind: Kind::File(f),
                ..
            }) = self.nodes.get(&ino)
            else {
                continue;
            };
            if f.changes.is_empty() {
                continue;
            }
            d.files += 1;
            let writes = f.changes.iter().filter(|c| c.bytes() > 0).count() as u64;
            let bytes: u64 = f.changes.iter().map(Change::bytes).sum();
            let Some(rng) = rng.as_mut() else {
                d.writes += writes;
                d.bytes += bytes;
                continue;
            };
            // Keep changes[..k] whole and a sector-aligned prefix of changes[k].
            let k = rng.random_range(0..=f.changes.len());
            let cut = match f.changes.get(k) {
                Some(Change::Write(off, data)) => {
                    let first = off.div_ceil(SECTOR) * SECTOR;
                    let last = off + data.len() as u64;
                    let bounds: Vec<u64> = (first..last).step_by(SECTOR as usize).collect();
                    if bounds.is_empty() {
                        None
                    } else {
                        Some((bounds[rng.random_range(0..bounds.len())] - off) as usize)
                    }
                }
                _ => None,
            };
            let path = self.obj_path(f.obj);
            persist(
                &path,
                f.base_len,
                &f.changes[..k],
                cut.map(|c| (&f.changes[k], c)),
            )?;
            let kept_whole = f.changes[..k].iter().filter(|c| c.bytes() > 0).count() as u64;
            let kept_bytes: u64 =
                f.changes[..k].iter().map(Change::bytes).sum::<u64>() + cut.unwrap_or(0) as u64;
            d.kept_writes += kept_whole;
            d.torn += u64::from(cut.is_some_and(|c| c > 0));
            d.kept_bytes += kept_bytes;
            d.writes += writes - kept_whole;
            d.bytes += bytes - kept_bytes;
        }
        self.unsynced = 0;
        self.rebuild()?;
        Ok(d)
    }

    /// Rebuilds the volatile tree from the durable names, with fresh inode numbers, and deletes
    /// objects no durable name holds.
    fn rebuild(&mut self) -> io::Result<()> {
        let t = now();
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                kind: Kind::Dir(BTreeMap::new()),
                parent: ROOT,
                name: OsString::new(),
                perm: 0o755,
                uid: 0,
                gid: 0,
                mtime: t,
                ctime: t,
                open: 0,
            },
        );
        // Keep the root's owner and mode across power losses.
        if let Some(r) = self.nodes.get(&ROOT) {
            let n = nodes.get_mut(&ROOT).expect("root");
            (n.perm, n.uid, n.gid) = (r.perm, r.uid, r.gid);
        }
        self.nodes = nodes;
        let mut by_path: HashMap<String, u64> = HashMap::new();
        by_path.insert(String::new(), ROOT);
        let mut used: HashSet<u64> = HashSet::new();
        let mut fixes = Vec::new();
        let entries: Vec<(String, Durable)> = self
            .durable
            .iter()
            .map(|(p, d)| (p.clone(), d.clone()))
            .collect();
        // BTreeMap order puts "a" before "a/b": parents come first, except that "a-b" sorts
        // between them; sort by depth to be sure.
        let mut entries = entries;
        entries.sort_by_key(|(p, _)| p.matches('/').count());
        for (path, d) in entries {
            let (parent_path, name) = match path.rsplit_once('/') {
                Some((a, b)) => (a.to_string(), b.to_string()),
                None => (String::new(), path.clone()),
            };
            let Some(&parent) = by_path.get(&parent_path) else {
                // Its folder is not durable: the entry is unreachable.
                fixes.push(path);
                continue;
            };
            let (kind, perm) = match &d {
                Durable::Dir { perm } => (Kind::Dir(BTreeMap::new()), *perm),
                Durable::Symlink { target } => (Kind::Symlink(target.clone()), 0o777),
                Durable::File { obj, perm } => {
                    let mut obj = *obj;
                    if !used.insert(obj) {
                        // Two durable names for one object: give the second its own copy.
                        let fresh = self.next_obj;
                        self.next_obj += 1;
                        if self.obj_path(obj).exists() {
                            std::fs::copy(self.obj_path(obj), self.obj_path(fresh))?;
                        }
                        used.insert(fresh);
                        obj = fresh;
                    }
                    let len = std::fs::metadata(self.obj_path(obj))
                        .map(|m| m.len())
                        .unwrap_or(0);
                    (
                        Kind::File(FileData {
                            obj,
                            base_len: len,
                            size: len,
                            changes: Vec::new(),
                        }),
                        *perm,
                    )
                }
            };
            let ino = self
                .add_node(parent, OsStr::new(&name), kind, perm, 0, 0)
                .map_err(io::Error::from_raw_os_error)?;
            by_path.insert(path, ino);
        }
        for p in fixes {
            self.durable.remove(&p);
        }
        // The durable names now are the volatile ones (objects may have been copied).
        self.durable = self.volatile_names();
        for e in std::fs::read_dir(self.backing.join("objects"))? {
            let e = e?;
            let keep = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|o| used.contains(&o));
            if !keep {
                std::fs::remove_file(e.path())?;
            }
        }
        self.save()
    }
}

/// Applies one change to `buf`, which holds the file's bytes from `offset`.
fn apply(buf: &mut [u8], offset: u64, c: &Change) {
    let end = offset + buf.len() as u64;
    match c {
        Change::Write(o, data) => {
            let (s, e) = ((*o).max(offset), (o + data.len() as u64).min(end));
            if s < e {
                buf[(s - offset) as usize..(e - offset) as usize]
                    .copy_from_slice(&data[(s - o) as usize..(e - o) as usize]);
            }
        }
        Change::SetLen(l) => {
            if *l < end {
                let from = l.saturating_sub(offset) as usize;
                buf[from..].fill(0);
            }
        }
    }
}

/// Reads exactly `buf.len()` bytes at `offset`, zeros past the end of the file.
fn read_full(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], offset + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    buf[done..].fill(0);
    Ok(())
}

/// Writes `changes` (and a `torn` prefix of one more) into the object at `path`, whose synced
/// bytes end at `base_len`.
fn persist(
    path: &Path,
    base_len: u64,
    changes: &[Change],
    torn: Option<(&Change, usize)>,
) -> io::Result<()> {
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)?;
    if f.metadata()?.len() != base_len {
        f.set_len(base_len)?;
    }
    for c in changes {
        match c {
            Change::Write(o, data) => f.write_all_at(data, *o)?,
            Change::SetLen(l) => f.set_len(*l)?,
        }
    }
    if let Some((Change::Write(o, data), n)) = torn {
        f.write_all_at(&data[..n], *o)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path(), 1 << 30).unwrap();
        (d, s)
    }

    #[test]
    fn what_was_dropped_is_counted_in_words() {
        let one = Dropped {
            bytes: 1,
            writes: 1,
            files: 1,
            names: 1,
            ..Dropped::default()
        };
        assert_eq!(
            one.to_string(),
            "dropped 1 unsynced byte (1 write in 1 file) and 1 unsynced name change"
        );
        let many = Dropped {
            bytes: 12,
            writes: 2,
            files: 3,
            names: 0,
            kept_writes: 1,
            kept_bytes: 1,
            torn: 1,
        };
        assert_eq!(
            many.to_string(),
            "dropped 12 unsynced bytes (2 writes in 3 files) and 0 unsynced name changes; kept 1 \
             write whole and tore 1 at a 512-byte boundary (1 byte kept)"
        );
    }

    fn read_all(s: &mut Store, ino: u64) -> Vec<u8> {
        s.read(ino, 0, u32::MAX).unwrap()
    }

    fn names(s: &Store, dir: u64) -> Vec<OsString> {
        s.list(dir).unwrap().into_iter().map(|e| e.0).collect()
    }

    #[test]
    fn only_synced_writes_survive_a_power_loss() {
        let (_d, mut s) = store();
        let f = s.create(ROOT, OsStr::new("f"), 0o644, 0, 0).unwrap();
        s.write(f, 0, b"first").unwrap();
        s.fsync(f).unwrap();
        s.write(f, 5, b" second").unwrap();
        s.write(f, 0, b"FIRST").unwrap();
        assert_eq!(read_all(&mut s, f), b"FIRST second");
        let d = s.power_loss(None).unwrap();
        assert_eq!((d.bytes, d.writes, d.files), (12, 2, 1));
        let f = s.lookup(ROOT, OsStr::new("f")).unwrap();
        assert_eq!(read_all(&mut s, f), b"first");
        assert_eq!(s.unsynced_bytes(), 0);
    }

    #[test]
    fn names_need_a_sync_of_the_file_or_its_folder() {
        let (_d, mut s) = store();
        let dir = s.mkdir(ROOT, OsStr::new("d"), 0o755, 0, 0).unwrap();
        let a = s.create(dir, OsStr::new("a"), 0o644, 0, 0).unwrap();
        s.write(a, 0, b"aaa").unwrap();
        s.fsync(a).unwrap();
        let b = s.create(dir, OsStr::new("b"), 0o644, 0, 0).unwrap();
        s.write(b, 0, b"bbb").unwrap();
        s.sync_all().unwrap();
        // Unsynced: a create, a rename and an unlink.
        s.create(dir, OsStr::new("new"), 0o644, 0, 0).unwrap();
        s.rename(dir, OsStr::new("a"), dir, OsStr::new("renamed"), false)
            .unwrap();
        s.remove(dir, OsStr::new("b"), false).unwrap();
        let d = s.power_loss(None).unwrap();
        assert_eq!(d.names, 4, "{d:?}");
        let dir = s.lookup(ROOT, OsStr::new("d")).unwrap();
        assert_eq!(names(&s, dir), [OsString::from("a"), OsString::from("b")]);
        let b = s.lookup(dir, OsStr::new("b")).unwrap();
        assert_eq!(read_all(&mut s, b), b"bbb");
        // The same changes with the folder synced stay.
        s.create(dir, OsStr::new("new"), 0o644, 0, 0).unwrap();
        s.rename(dir, OsStr::new("a"), dir, OsStr::new("renamed"), false)
            .unwrap();
        s.remove(dir, OsStr::new("b"), false).unwrap();
        s.fsync(dir).unwrap();
        s.power_loss(None).unwrap();
        let dir = s.lookup(ROOT, OsStr::new("d")).unwrap();
        assert_eq!(
            names(&s, dir),
            [OsString::from("new"), OsString::from("renamed")]
        );
        let r = s.lookup(dir, OsStr::new("renamed")).unwrap();
        assert_eq!(read_all(&mut s, r), b"aaa");
    }

    #[test]
    fn a_file_fsync_makes_its_rename_durable_and_replaces_the_target() {
        let (_d, mut s) = store();
        let t = s.create(ROOT, OsStr::new("tmp"), 0o644, 0, 0).unwrap();
        s.write(t, 0, b"new").unwrap();
        let old = s.create(ROOT, OsStr::new("cur"), 0o644, 0, 0).unwrap();
        s.write(old, 0, b"old").unwrap();
        s.sync_all().unwrap();
        s.rename(ROOT, OsStr::new("tmp"), ROOT, OsStr::new("cur"), false)
            .unwrap();
        s.fsync(t).unwrap();
        s.power_loss(None).unwrap();
        assert_eq!(names(&s, ROOT), [OsString::from("cur")]);
        let c = s.lookup(ROOT, OsStr::new("cur")).unwrap();
        assert_eq!(read_all(&mut s, c), b"new");
    }

    #[test]
    fn truncation_is_a_change_like_a_write() {
        let (_d, mut s) = store();
        let f = s.create(ROOT, OsStr::new("f"), 0o644, 0, 0).unwrap();
        s.write(f, 0, b"0123456789").unwrap();
        s.fsync(f).unwrap();
        s.set_len(f, 4).unwrap();
        s.set_len(f, 8).unwrap();
        assert_eq!(read_all(&mut s, f), b"0123\0\0\0\0");
        s.power_loss(None).unwrap();
        let f = s.lookup(ROOT, OsStr::new("f")).unwrap();
        assert_eq!(read_all(&mut s, f), b"0123456789");
    }

    #[test]
    fn a_torn_write_keeps_a_prefix_ending_on_a_sector_boundary() {
        let mut seen_torn = false;
        for seed in 0..40 {
            let (_d, mut s) = store();
            let f = s.create(ROOT, OsStr::new("f"), 0o644, 0, 0).unwrap();
            s.fsync(f).unwrap();
            // Three writes of 4 KiB with distinct bytes.
            for i in 0..3u8 {
                s.write(f, u64::from(i) * 4096, &[i + 1; 4096]).unwrap();
            }
            let d = s.power_loss(Some(seed)).unwrap();
            let f = s.lookup(ROOT, OsStr::new("f")).unwrap();
            let got = read_all(&mut s, f);
            assert_eq!(
                got.len() % SECTOR as usize,
                0,
                "seed {seed}: {} bytes",
                got.len()
            );
            assert_eq!(got.len() as u64, d.kept_bytes, "seed {seed}");
            // A prefix of the writes: every byte is its write's.
            for (i, b) in got.iter().enumerate() {
                assert_eq!(*b as usize, i / 4096 + 1, "seed {seed} byte {i}");
            }
            if !got.len().is_multiple_of(4096) {
                seen_torn = true;
                assert_eq!(d.torn, 1);
            }
        }
        assert!(seen_torn, "no seed tore a write");
    }

    #[test]
    fn ignored_fsyncs_persist_nothing_and_limits_refuse_visibly() {
        let (_d, mut s) = store();
        s.fsync = FsyncMode::Ignore;
        let f = s.create(ROOT, OsStr::new("f"), 0o644, 0, 0).unwrap();
        s.write(f, 0, b"x").unwrap();
        s.fsync(f).unwrap();
        s.fsync(ROOT).unwrap();
        s.power_loss(None).unwrap();
        assert!(s.list(ROOT).unwrap().is_empty());
        assert_eq!(s.counters.ignored_fsyncs, 2);

        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(d.path(), 10).unwrap();
        let f = s.create(ROOT, OsStr::new("f"), 0o644, 0, 0).unwrap();
        s.write(f, 0, &[1; 8]).unwrap();
        assert_eq!(s.write(f, 8, &[1; 8]), Err(libc::ENOSPC));
        assert_eq!(s.counters.over_limit, 1);
        s.fsync(f).unwrap();
        s.write(f, 8, &[1; 8]).unwrap();
    }

    #[test]
    fn disk_faults_refuse_for_a_while() {
        let (_d, mut s) = store();
        let f = s.create(ROOT, OsStr::new("f"), 0o644, 0, 0).unwrap();
        let later = Instant::now() + std::time::Duration::from_secs(60);
        s.set_fault(Some((DiskFault::Full, later)));
        assert_eq!(s.write(f, 0, b"x"), Err(libc::ENOSPC));
        assert_eq!(
            s.create(ROOT, OsStr::new("g"), 0o644, 0, 0),
            Err(libc::ENOSPC)
        );
        s.set_fault(Some((DiskFault::IoError, later)));
        s.write(f, 0, b"x").unwrap();
        assert_eq!(s.fsync(f), Err(libc::EIO));
        assert_eq!(s.read(f, 0, 1), Err(libc::EIO));
        s.set_fault(None);
        s.fsync(f).unwrap();
        assert_eq!(s.counters.enospc, 2);
        assert_eq!(s.counters.eio, 2);
        s.power_loss(None).unwrap();
        let f = s.lookup(ROOT, OsStr::new("f")).unwrap();
        assert_eq!(read_all(&mut s, f), b"x");
    }

    #[test]
    fn the_store_reopens_from_its_backing_folder() {
        let d = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(d.path(), 1 << 20).unwrap();
            let dir = s.mkdir(ROOT, OsStr::new("d"), 0o700, 0, 0).unwrap();
            let f = s.create(dir, OsStr::new("f"), 0o600, 0, 0).unwrap();
            s.write(f, 0, b"kept").unwrap();
            s.fsync(f).unwrap();
            let g = s.create(dir, OsStr::new("g"), 0o600, 0, 0).unwrap();
            s.write(g, 0, b"lost").unwrap();
        }
        let mut s = Store::open(d.path(), 1 << 20).unwrap();
        let dir = s.lookup(ROOT, OsStr::new("d")).unwrap();
        assert_eq!(s.list(dir).unwrap().len(), 1);
        let f = s.lookup(dir, OsStr::new("f")).unwrap();
        assert_eq!(read_all(&mut s, f), b"kept");
        assert_eq!(
            std::fs::read_dir(d.path().join("objects")).unwrap().count(),
            1
        );
    }
}
