//! The FUSE side: each kernel request becomes one call on the [`Store`] under its lock.
//!
//! Entries and attributes are given a zero time-to-live, so the kernel asks again each time and
//! never serves a name or a size a power loss has taken away. Files are opened without
//! `FOPEN_KEEP_CACHE`, so each open drops the kernel's cached pages of the file. O_DIRECT reaches
//! this code as plain reads and writes at the program's offsets: nothing here touches the
//! program's buffers or opens a backing file with O_DIRECT, so alignment never matters (LazyFS
//! failed MariaDB there). O_SYNC and O_DSYNC files are synced after each write.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use super::store::{Attr, NodeType, Store};

const TTL: Duration = Duration::ZERO;

/// The filesystem FUSE drives: a shared handle on the store.
pub struct LazyFuse {
    pub(super) store: Arc<Mutex<Store>>,
    pub(super) backing: std::path::PathBuf,
}

fn attr(a: Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.ctime,
        crtime: a.ctime,
        kind: match a.kind {
            NodeType::Dir => FileType::Directory,
            NodeType::File => FileType::RegularFile,
            NodeType::Symlink => FileType::Symlink,
        },
        perm: a.perm,
        nlink: if a.kind == NodeType::Dir { 2 } else { 1 },
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

fn err(e: i32) -> Errno {
    Errno::from_i32(e)
}

impl LazyFuse {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, r: Result<u64, i32>, reply: ReplyEntry) {
        match r.and_then(|ino| self.lock().attr(ino)) {
            Ok(a) => reply.entry(&TTL, &attr(a), Generation(0)),
            Err(e) => reply.error(err(e)),
        }
    }

    fn empty(r: Result<(), i32>, reply: ReplyEmpty) {
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(err(e)),
        }
    }
}

/// The permission bits a new node gets.
fn perm(mode: u32, umask: u32) -> u16 {
    (mode & !umask & 0o7777) as u16
}

fn sync_flags(flags: OpenFlags) -> bool {
    flags.0 & (libc::O_DSYNC | libc::O_SYNC) != 0
}

impl Filesystem for LazyFuse {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let r = self.lock().lookup(parent.0, name);
        self.entry(r, reply);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.lock().attr(ino.0) {
            Ok(a) => reply.attr(&TTL, &attr(a)),
            Err(e) => reply.error(err(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut s = self.lock();
        let mtime = mtime.map(|m| match m {
            TimeOrNow::SpecificTime(t) => t,
            TimeOrNow::Now => SystemTime::now(),
        });
        let r = size
            .map_or(Ok(()), |len| s.set_len(ino.0, len))
            .and_then(|()| s.chmod_chown(ino.0, mode.map(|m| (m & 0o7777) as u16), uid, gid, mtime))
            .and_then(|()| s.attr(ino.0));
        match r {
            Ok(a) => reply.attr(&TTL, &attr(a)),
            Err(e) => reply.error(err(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.lock().readlink(ino.0) {
            Ok(t) => reply.data(t.as_os_str().as_encoded_bytes()),
            Err(e) => reply.error(err(e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            reply.error(Errno::EPERM);
            return;
        }
        let r = self
            .lock()
            .create(parent.0, name, perm(mode, umask), req.uid(), req.gid());
        self.entry(r, reply);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let r = self
            .lock()
            .mkdir(parent.0, name, perm(mode, umask), req.uid(), req.gid());
        self.entry(r, reply);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        Self::empty(self.lock().remove(parent.0, name, false), reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        Self::empty(self.lock().remove(parent.0, name, true), reply);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let r = self
            .lock()
            .symlink(parent.0, link_name, target, req.uid(), req.gid());
        self.entry(r, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.contains(RenameFlags::RENAME_EXCHANGE)
            || flags.contains(RenameFlags::RENAME_WHITEOUT)
        {
            reply.error(Errno::EINVAL);
            return;
        }
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        Self::empty(
            self.lock()
                .rename(parent.0, name, newparent.0, newname, noreplace),
            reply,
        );
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.lock().opened(ino.0) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(err(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.lock().read(ino.0, offset, size) {
            Ok(b) => reply.data(&b),
            Err(e) => reply.error(err(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut s = self.lock();
        let r = s.write(ino.0, offset, data).and_then(|()| {
            if sync_flags(flags) {
                s.fsync(ino.0)
            } else {
                Ok(())
            }
        });
        match r {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(err(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) is not a sync.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().released(ino.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        Self::empty(self.lock().fsync(ino.0), reply);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.lock().attr(ino.0) {
            Ok(a) if a.kind == NodeType::Dir => reply.opened(FileHandle(0), FopenFlags::empty()),
            Ok(_) => reply.error(Errno::ENOTDIR),
            Err(e) => reply.error(err(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.lock().list(ino.0) {
            Ok(e) => e,
            Err(e) => {
                reply.error(err(e));
                return;
            }
        };
        let dots = [
            (".".into(), ino.0, NodeType::Dir),
            ("..".into(), ino.0, NodeType::Dir),
        ];
        for (i, (name, child, kind)) in dots
            .into_iter()
            .chain(entries)
            .enumerate()
            .skip(offset as usize)
        {
            let kind = match kind {
                NodeType::Dir => FileType::Directory,
                NodeType::File => FileType::RegularFile,
                NodeType::Symlink => FileType::Symlink,
            };
            if reply.add(INodeNo(child), i as u64 + 1, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        Self::empty(self.lock().fsync(ino.0), reply);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // The backing folder's room, as the server would see its disk's.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let path =
            std::ffi::CString::new(self.backing.as_os_str().as_encoded_bytes()).unwrap_or_default();
        // SAFETY: a valid C string and a zeroed out-parameter.
        if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
            reply.error(Errno::EIO);
            return;
        }
        reply.statfs(
            st.f_blocks,
            st.f_bfree,
            st.f_bavail,
            st.f_files,
            st.f_ffree,
            st.f_bsize as u32,
            255,
            st.f_frsize as u32,
        );
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        Self::empty(self.lock().attr(ino.0).map(|_| ()), reply);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut s = self.lock();
        let r = s
            .create(parent.0, name, perm(mode, umask), req.uid(), req.gid())
            .and_then(|ino| s.opened(ino).and_then(|()| s.attr(ino)));
        match r {
            Ok(a) => reply.created(
                &TTL,
                &attr(a),
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(err(e)),
        }
    }

    // Extended attributes, poll and copy_file_range are not modelled. ENOSYS makes the kernel
    // stop asking (it would otherwise look up security.capability on every write) and copy
    // through plain reads and writes; fuser's defaults say the same with a warning each time.
    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: fuser::ReplyXattr,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: fuser::ReplyXattr) {
        reply.error(Errno::ENOSYS);
    }

    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _ph: fuser::PollNotifier,
        _events: fuser::PollEvents,
        _flags: fuser::PollFlags,
        reply: fuser::ReplyPoll,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: fuser::CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        // Only plain allocation, which may grow the file; holes are not modelled.
        if mode & !libc::FALLOC_FL_KEEP_SIZE != 0 {
            reply.error(Errno::from_i32(libc::EOPNOTSUPP));
            return;
        }
        let mut s = self.lock();
        let r = s.attr(ino.0).and_then(|a| {
            let end = offset + length;
            if mode & libc::FALLOC_FL_KEEP_SIZE == 0 && end > a.size {
                s.set_len(ino.0, end)
            } else {
                Ok(())
            }
        });
        Self::empty(r, reply);
    }
}
