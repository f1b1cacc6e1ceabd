//! The lazy filesystem mounted for real (root and /dev/fuse needed: a missing /dev/fuse fails
//! these tests, it never skips them): what programs see through the kernel after a power loss.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use isoscope::lazyfs::{self, LazyFs};

fn mounted() -> (tempfile::TempDir, LazyFs) {
    let d = tempfile::tempdir().unwrap();
    let fs = LazyFs::mount(
        &d.path().join("backing"),
        &d.path().join("mnt"),
        lazyfs::DEFAULT_LIMIT,
    )
    .expect("mounting needs root and /dev/fuse");
    (d, fs)
}

fn read(p: &Path) -> Vec<u8> {
    let mut b = Vec::new();
    File::open(p).unwrap().read_to_end(&mut b).unwrap();
    b
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    n.sort();
    n
}

fn fsync_dir(p: &Path) {
    File::open(p).unwrap().sync_all().unwrap();
}

#[test]
fn write_fsync_write_power_loss_leaves_exactly_the_first_write() {
    let (_d, fs) = mounted();
    let p = fs.mountpoint().join("f");
    let mut f = File::create(&p).unwrap();
    f.write_all(b"first write;").unwrap();
    f.sync_all().unwrap();
    f.write_all(b"second write").unwrap();
    drop(f);
    assert_eq!(read(&p), b"first write;second write");
    let dropped = fs.power_loss().unwrap();
    assert_eq!(dropped.bytes, 12, "{dropped}");
    assert_eq!(read(&p), b"first write;");
    // fdatasync counts too.
    let mut f = OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(b"third").unwrap();
    f.sync_data().unwrap();
    drop(f);
    fs.power_loss().unwrap();
    assert_eq!(read(&p), b"first write;third");
}

#[test]
fn names_without_a_folder_fsync_are_undone() {
    let (_d, fs) = mounted();
    let m = fs.mountpoint().to_path_buf();
    fs::create_dir(m.join("db")).unwrap();
    fs::write(m.join("db/old"), b"old").unwrap();
    fs::write(m.join("db/doomed"), b"doomed").unwrap();
    File::open(m.join("db/old")).unwrap().sync_all().unwrap();
    File::open(m.join("db/doomed")).unwrap().sync_all().unwrap();

    fs::write(m.join("db/created"), b"new").unwrap();
    fs::rename(m.join("db/old"), m.join("db/renamed")).unwrap();
    fs::remove_file(m.join("db/doomed")).unwrap();
    fs::create_dir(m.join("db/sub")).unwrap();
    fs.power_loss().unwrap();
    assert_eq!(names(&m.join("db")), ["doomed", "old"]);
    assert_eq!(read(&m.join("db/old")), b"old");
    assert_eq!(read(&m.join("db/doomed")), b"doomed");

    // The same with the folder fsynced: all of it stays (the new file's bytes were never
    // synced, so it stays empty, as on a real disk).
    fs::write(m.join("db/created"), b"new").unwrap();
    fs::rename(m.join("db/old"), m.join("db/renamed")).unwrap();
    fs::remove_file(m.join("db/doomed")).unwrap();
    fsync_dir(&m.join("db"));
    fs.power_loss().unwrap();
    assert_eq!(names(&m.join("db")), ["created", "renamed"]);
    assert_eq!(read(&m.join("db/renamed")), b"old");
    assert_eq!(read(&m.join("db/created")), b"");
}

/// A buffer aligned to 4 KiB, as O_DIRECT wants.
fn aligned(len: usize, byte: u8) -> (Vec<u8>, usize) {
    let v = vec![byte; len + 4096];
    let off = v.as_ptr().align_offset(4096);
    (v, off)
}

#[test]
fn o_direct_reads_and_writes_work() {
    let (_d, fs) = mounted();
    let p = fs.mountpoint().join("ibdata");
    let f = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&p)
        .expect("O_DIRECT open");
    let (mut w, o) = aligned(16384, 7);
    w[o..o + 16384].fill(7);
    f.write_all_at(&w[o..o + 16384], 0).expect("O_DIRECT write");
    f.sync_all().unwrap();
    let (w2, o2) = aligned(4096, 9);
    f.write_all_at(&w2[o2..o2 + 4096], 4096).unwrap();
    let (mut r, ro) = aligned(16384, 0);
    f.read_exact_at(&mut r[ro..ro + 16384], 0)
        .expect("O_DIRECT read");
    assert!(r[ro..ro + 4096].iter().all(|b| *b == 7));
    assert!(r[ro + 4096..ro + 8192].iter().all(|b| *b == 9));
    drop(f);
    fs.power_loss().unwrap();
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&p)
        .unwrap();
    let (mut r, ro) = aligned(16384, 0);
    f.read_exact_at(&mut r[ro..ro + 16384], 0).unwrap();
    assert!(
        r[ro..ro + 16384].iter().all(|b| *b == 7),
        "the unsynced page survived"
    );
}

#[test]
fn o_dsync_writes_are_durable_when_they_return() {
    let (_d, fs) = mounted();
    let p = fs.mountpoint().join("log");
    File::create(&p).unwrap().sync_all().unwrap();
    let f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DSYNC)
        .open(&p)
        .unwrap();
    f.write_all_at(b"synced", 0).unwrap();
    drop(f);
    fs.power_loss().unwrap();
    assert_eq!(read(&p), b"synced");
}

#[test]
fn a_torn_write_keeps_a_prefix_ending_on_a_sector_boundary() {
    let (_d, fs) = mounted();
    let p = fs.mountpoint().join("journal");
    let mut torn_seen = false;
    for seed in 0..20u64 {
        let mut f = File::create(&p).unwrap();
        f.sync_all().unwrap();
        for i in 0..4u8 {
            f.write_all(&[i + 1; 3000]).unwrap();
        }
        drop(f);
        let d = fs.torn_write(seed).unwrap();
        let got = read(&p);
        assert_eq!(got.len() as u64, d.kept_bytes, "seed {seed}: {d}");
        // Every kept byte is the one written there, and a cut write ends on a sector boundary.
        for (i, b) in got.iter().enumerate() {
            assert_eq!(*b as usize, i / 3000 + 1, "seed {seed}, byte {i}");
        }
        if !got.len().is_multiple_of(3000) {
            torn_seen = true;
            assert_eq!(got.len() % 512, 0, "seed {seed}: torn at {}", got.len());
        }
    }
    assert!(torn_seen, "no seed tore a write");
}

#[test]
fn a_stale_mount_is_detached_and_a_live_one_left_alone() {
    let (_d, fs) = mounted();
    let pid = lazyfs::pid_file(fs.mountpoint());
    assert!(pid.exists());
    // Our own process is alive: nothing to clean.
    assert_eq!(lazyfs::clean_stale(&pid).unwrap(), None);
    // A pid file naming a process that is gone.
    let mp = fs.mountpoint().to_path_buf();
    fs::write(&pid, format!("{}\n{}\n", i32::MAX, mp.display())).unwrap();
    assert_eq!(lazyfs::clean_stale(&pid).unwrap(), Some(mp.clone()));
    assert!(!pid.exists());
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(&mp.display().to_string()), "still mounted");
    drop(fs);
}

#[test]
fn dropping_the_handle_unmounts() {
    let (_d, fs) = mounted();
    let mp = fs.mountpoint().to_path_buf();
    fs::write(mp.join("x"), b"x").unwrap();
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(mounts.contains(&mp.display().to_string()));
    drop(fs);
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(&mp.display().to_string()), "still mounted");
    assert!(!lazyfs::pid_file(&mp).exists());
}
