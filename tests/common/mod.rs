//! What the command-line tests share. Each test crate uses some of it.
#![allow(dead_code)]

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

/// Waits for `child` to end, at most `limit` (then kills it and fails the test); returns its
/// exit code and what it wrote to stderr (which must be piped).
pub fn wait_bounded(child: &mut Child, limit: Duration) -> (Option<i32>, String) {
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("isoscope did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).unwrap();
    }
    (status.code(), err)
}

/// The text of a run folder's history: `history.jsonl`, or `history.jsonl.gz` once the run
/// compressed it after its check.
pub fn history_text(run_dir: &std::path::Path) -> String {
    let path = isoscope::run_folder::history_path(run_dir);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    } else {
        text = String::from_utf8(bytes).expect("a history is UTF-8");
    }
    text
}

/// A run folder's run.json; when there is none, the failure shows how isoscope exited and what
/// it printed.
pub fn run_json(out: &std::path::Path, o: &std::process::Output) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("run.json")).unwrap_or_else(|e| {
        panic!(
            "no run.json ({e}); exit {:?}\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    serde_json::from_str(&text).expect("run.json is JSON")
}
