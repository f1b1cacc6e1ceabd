//! A lazy filesystem: what a machine's disk keeps when the power goes, played out on a FUSE
//! mount, so that isoscope can cut the power under a server without a machine to crash.
//!
//! Why: a process crash (SIGKILL) keeps every `write()` the server made, because the kernel's
//! page cache survives it; only a machine crash loses what was never fsynced. So a server that
//! acknowledges a COMMIT before its log reaches the disk survives `kill -9` and loses the commit
//! when the power goes. Jepsen uses LazyFS (INESC TEC) for this; this module is the same idea,
//! built for what LazyFS got wrong with MariaDB here (O_DIRECT reads into unaligned buffers failed
//! every restart; a full cache silently wrote through; names were never lost).
//!
//! The model ([`store`]): written bytes stay in isoscope's memory until the file is fsynced
//! (fsync, fdatasync, or a write to an O_SYNC / O_DSYNC file), then go to the backing folder.
//! Names (create, mkdir, rename, unlink, truncate) are durable only once the file or its folder
//! is fsynced. A [`LazyFs::power_loss`] drops everything else; a torn write keeps a seeded prefix
//! of each file's unsynced writes, the last one cut at a 512-byte boundary. The unsynced cache is
//! bounded: past the limit writes fail with ENOSPC and a log line, never silently become durable.
//! Faults the disk itself shows ([`DiskFault`]): ENOSPC for writes, EIO for fsync and reads.
//! [`FsyncMode::Ignore`] is a lying disk: fsync succeeds and persists nothing.
//!
//! Invariants:
//! - every [`LazyFs`] is unmounted when dropped; a pid file beside the mount point names the
//!   isoscope that mounted it, so that a later one can lazily unmount a mount whose owner was
//!   killed ([`clean_stale`]);
//! - the server's socket must not live on the mount (FUSE cannot host one): managed servers keep
//!   theirs beside it.

mod fuse;
pub mod store;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use store::Store;
pub use store::{Counters, DiskFault, Dropped, FsyncMode};

/// The default bound on unsynced bytes held in memory.
pub const DEFAULT_LIMIT: u64 = 1 << 30;

/// The pid file written beside a mount point: `<mountpoint>.lazyfs-pid`.
pub fn pid_file(mountpoint: &Path) -> PathBuf {
    let mut name = mountpoint
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lazyfs-pid");
    mountpoint.with_file_name(name)
}

/// Why the filesystem could not be mounted or driven.
#[derive(Debug, thiserror::Error)]
pub enum LazyFsError {
    /// /dev/fuse is missing: the kernel's FUSE module is not loaded or not visible here.
    #[error("/dev/fuse is missing (load the fuse module, or give a container --device /dev/fuse): the lazy filesystem needs it")]
    NoFuse,
    /// An OS-level failure.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// What the OS said.
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> LazyFsError {
    let what = what.into();
    move |source| LazyFsError::Io { what, source }
}

/// A mounted lazy filesystem, and the handle faults use to cut its power.
pub struct LazyFs {
    store: Arc<Mutex<Store>>,
    session: Option<fuser::BackgroundSession>,
    mountpoint: PathBuf,
}

impl LazyFs {
    /// Mounts a lazy filesystem over `backing` (created if missing) at `mountpoint` (created if
    /// missing), holding at most `limit` unsynced bytes. Needs root and /dev/fuse.
    pub fn mount(backing: &Path, mountpoint: &Path, limit: u64) -> Result<LazyFs, LazyFsError> {
        if !Path::new("/dev/fuse").exists() {
            return Err(LazyFsError::NoFuse);
        }
        std::fs::create_dir_all(mountpoint)
            .map_err(io_err(format!("creating {}", mountpoint.display())))?;
        let store = Store::open(backing, limit).map_err(io_err(format!(
            "opening the store in {}",
            backing.display()
        )))?;
        let store = Arc::new(Mutex::new(store));
        let fs = fuse::LazyFuse {
            store: store.clone(),
            backing: backing.to_path_buf(),
        };
        let mut config = fuser::Config::default();
        config.mount_options = vec![
            fuser::MountOption::FSName("isoscope-lazyfs".into()),
            fuser::MountOption::Subtype("lazyfs".into()),
            fuser::MountOption::NoAtime,
        ];
        let pid = pid_file(mountpoint);
        std::fs::write(
            &pid,
            format!("{}\n{}\n", std::process::id(), mountpoint.display()),
        )
        .map_err(io_err(format!("writing {}", pid.display())))?;
        let session = fuser::spawn_mount(fs, mountpoint, &config).map_err(|e| {
            let _ = std::fs::remove_file(&pid);
            LazyFsError::Io {
                what: format!("mounting the lazy filesystem at {}", mountpoint.display()),
                source: e,
            }
        })?;
        Ok(LazyFs {
            store,
            session: Some(session),
            mountpoint: mountpoint.to_path_buf(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where it is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Drops every unsynced write and name change: what a power cut leaves. Call it with nothing
    /// running on the mount (the server killed), as a power cut would find it.
    pub fn power_loss(&self) -> io::Result<Dropped> {
        self.lock().power_loss(None)
    }

    /// A power loss that keeps a prefix of each file's unsynced writes (seeded by `seed`), the
    /// last kept one torn at a 512-byte boundary.
    pub fn torn_write(&self, seed: u64) -> io::Result<Dropped> {
        self.lock().power_loss(Some(seed))
    }

    /// Makes everything written so far durable, as `sync` would.
    pub fn sync_all(&self) -> io::Result<()> {
        self.lock().sync_all()
    }

    /// What fsync does from now on.
    pub fn set_fsync(&self, mode: FsyncMode) {
        self.lock().fsync = mode;
    }

    /// What fsync does now.
    pub fn fsync_mode(&self) -> FsyncMode {
        self.lock().fsync
    }

    /// Injects `fault` for `hold`, starting now.
    pub fn inject(&self, fault: DiskFault, hold: Duration) {
        self.lock().set_fault(Some((fault, Instant::now() + hold)));
    }

    /// Ends any injected fault.
    pub fn clear_fault(&self) {
        self.lock().set_fault(None);
    }

    /// What was refused so far.
    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    /// Unsynced bytes held now.
    pub fn unsynced_bytes(&self) -> u64 {
        self.lock().unsynced_bytes()
    }

    /// Unmounts now (also done on drop).
    pub fn unmount(mut self) -> Result<(), LazyFsError> {
        self.unmount_inner()
    }

    fn unmount_inner(&mut self) -> Result<(), LazyFsError> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        let r = session.umount_and_join().map_err(io_err(format!(
            "unmounting the lazy filesystem at {}",
            self.mountpoint.display()
        )));
        if r.is_err() {
            // Busy: detach it, so nothing is left mounted.
            let _ = unmount_stale(&self.mountpoint);
        }
        let _ = std::fs::remove_file(pid_file(&self.mountpoint));
        r
    }
}

impl Drop for LazyFs {
    fn drop(&mut self) {
        if let Err(e) = self.unmount_inner() {
            tracing::warn!("{e}");
        }
    }
}

/// Lazily unmounts whatever is mounted at `mountpoint` (umount2 with MNT_DETACH): it goes once
/// no one uses it. Returns whether something was unmounted.
pub fn unmount_stale(mountpoint: &Path) -> io::Result<bool> {
    let c = std::ffi::CString::new(mountpoint.as_os_str().as_encoded_bytes())
        .map_err(io::Error::other)?;
    // SAFETY: a valid C string; umount2 has no other preconditions.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOENT) => Ok(false),
        _ => Err(e),
    }
}

/// Cleans up after an isoscope that was killed with a mount up: given a pid file written by
/// [`LazyFs::mount`], if the process it names is gone, lazily unmounts its mount point and
/// removes the pid file. Returns the mount point it cleaned, if any.
pub fn clean_stale(pid_file: &Path) -> io::Result<Option<PathBuf>> {
    let text = std::fs::read_to_string(pid_file)?;
    let mut lines = text.lines();
    let pid: i32 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("{}: no pid", pid_file.display())))?;
    let mountpoint = PathBuf::from(
        lines
            .next()
            .ok_or_else(|| io::Error::other(format!("{}: no mount point", pid_file.display())))?,
    );
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if alive {
        return Ok(None);
    }
    unmount_stale(&mountpoint)?;
    std::fs::remove_file(pid_file)?;
    Ok(Some(mountpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files_sit_beside_the_mount_point() {
        assert_eq!(
            pid_file(Path::new("/tmp/isoscope-x/data")),
            PathBuf::from("/tmp/isoscope-x/data.lazyfs-pid")
        );
    }
}
