//! JSON Lines are read in blocks on several threads: a file of many blocks must read as the
//! same ops and lists as it was written, plain or gzip, and an error anywhere in it must still
//! name its exact line.

use std::io::Write as _;
use std::path::Path;

use isoscope_check::checker::Workload;
use isoscope_check::history::write::op_line;
use isoscope_check::sim::{generate, Behaviour, SimParams};
use isoscope_check::{read_history, History};

/// A list-append SI history of about 13 MB as JSON Lines (several 4 MB blocks), one line per op.
fn big() -> (History, Vec<Vec<u8>>) {
    let h = generate(&SimParams {
        workload: Workload::ListAppend,
        behaviour: Behaviour::SnapshotIsolation,
        txns: 45_000,
        seed: 5,
        ..SimParams::default()
    });
    let lines = h
        .ops
        .iter()
        .map(|op| {
            let mut l = Vec::new();
            op_line(op, &h.lists, &mut l);
            l
        })
        .collect();
    (h, lines)
}

fn write(path: &Path, lines: &[Vec<u8>], gzip: bool) {
    let text = lines.concat();
    assert!(
        text.len() > 12 << 20,
        "several blocks: {} bytes",
        text.len()
    );
    if gzip {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&text).unwrap();
        std::fs::write(path, z.finish().unwrap()).unwrap();
    } else {
        std::fs::write(path, text).unwrap();
    }
}

fn error(path: &Path) -> String {
    read_history(path).unwrap_err().to_string()
}

#[test]
fn a_file_of_many_blocks_reads_back_exactly_and_errors_name_their_line() {
    let (h, mut lines) = big();
    let dir = tempfile::tempdir().unwrap();
    for gzip in [false, true] {
        let file = dir.path().join(if gzip { "h.jsonl.gz" } else { "h.jsonl" });
        write(&file, &lines, gzip);
        let read = read_history(&file).unwrap();
        assert_eq!(read.ops, h.ops);
        let chains = |h: &History| {
            h.lists
                .chains()
                .iter()
                .map(|c| (c.key.clone(), c.elems.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            chains(&read),
            chains(&h),
            "the same lists, in the same order"
        );
    }
    let name = |gzip: bool| if gzip { "h.jsonl.gz" } else { "h.jsonl" };
    // A line that is not JSON, deep in the middle of the file (line 37,777).
    let good = std::mem::replace(
        &mut lines[37_776],
        b"{\"type\":\"ok\",\"process\":\n".to_vec(),
    );
    for gzip in [false, true] {
        let file = dir.path().join(name(gzip));
        write(&file, &lines, gzip);
        let e = error(&file);
        assert!(e.starts_with(&format!("{}:37777: ", file.display())), "{e}");
    }
    lines[37_776] = good;
    // A line that is JSON but not an op that can follow the one before (line 50,001).
    let mut dup = lines[49_999].clone();
    let index = String::from_utf8_lossy(&lines[49_998]).to_string();
    let index = &index[..index.find(',').unwrap()];
    let at = dup.iter().position(|&c| c == b',').unwrap();
    dup.splice(..at, index.bytes());
    lines[50_000] = dup;
    let file = dir.path().join(name(false));
    write(&file, &lines, false);
    let e = error(&file);
    assert!(
        e.contains("op 50000 (line 50001): index 49998 is not greater"),
        "{e}"
    );
}
