//! What the command-line tests share.

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
