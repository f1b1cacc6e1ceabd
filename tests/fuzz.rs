//! Fuzzing the reader and the checker with mutations of the histories in the repository
//! (`histories/`, `tests/fixtures/`): bytes deleted, inserted, duplicated and swapped, tokens
//! replaced by odd values, brackets nested deep. Every case must end, within a time bound, in a
//! history and a verdict or in a clean error: never a panic, an abort or a hang. The case count
//! is bounded so that `cargo test` stays quick; raise `ISOSCOPE_FUZZ_CASES` to search longer.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use isoscope::checker::{check, CheckOptions, Model, Workload};
use isoscope::history::read::read_history_from;
use proptest::prelude::*;

/// How much of each seed history is used: enough for every kind of op, small enough to be quick.
const SEED_BYTES: usize = 12_000;

/// The seed corpus: the start of every history in the repository, cut at a line end.
fn seeds() -> &'static [(String, Vec<u8>)] {
    static SEEDS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(load_seeds)
}

fn load_seeds() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = vec![root.join("histories"), root.join("tests/fixtures")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("edn" | "json" | "jsonl")
            ) {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 10, "the corpus is missing: {files:?}");
    files
        .into_iter()
        .map(|p| {
            let mut bytes = std::fs::read(&p).unwrap();
            if bytes.len() > SEED_BYTES {
                let cut = bytes[..SEED_BYTES]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .unwrap_or(SEED_BYTES);
                bytes.truncate(cut + 1);
            }
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// Values put in place of a token.
const ODD: &[&str] = &[
    "nil",
    "null",
    "-1",
    "0",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1.5e308",
    "\"x\"",
    ":x",
    "[]",
    "{}",
    "#{}",
    "[1 2 1]",
    "[:anti 1]",
    "{:a 1}",
    "true",
    "\"\\u00e9\"",
    "#inst \"2020\"",
    "#_ 1",
    "\\a",
    ";",
    "\"",
    "\u{e9}",
];

/// One mutation of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Replace(usize, usize),
    SwapLines(usize, usize),
    Nest(usize, usize, u8),
    Truncate(usize),
    /// A value changed but kept well-formed: an integer, an op type, nil for a list.
    Field(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let structural = prop::sample::select(b"[]{}()#_:\",\n\\ ;0123456789-nilx\xff\xc3".to_vec());
    prop_oneof![
        8 => (any::<usize>(), any::<u8>()).prop_map(|(a, k)| Mutation::Field(a, k)),
        1 => (any::<usize>(), 1usize..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
        1 => (any::<usize>(), prop::collection::vec(structural, 1..8))
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        1 => (any::<usize>(), 1usize..400).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        1 => (any::<usize>(), 0..ODD.len()).prop_map(|(a, i)| Mutation::Replace(a, i)),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (any::<usize>(), 1usize..400, 0u8..4).prop_map(|(a, n, k)| Mutation::Nest(a, n, k)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &mut Vec<u8>, m: &Mutation) {
    let len = text.len().max(1);
    match *m {
        Mutation::Delete(a, n) => {
            let a = a % len;
            let b = (a + n).min(text.len());
            text.drain(a.min(b)..b);
        }
        Mutation::Insert(a, ref bytes) => {
            let a = a % (text.len() + 1);
            text.splice(a..a, bytes.iter().copied());
        }
        Mutation::Duplicate(a, n) => {
            let a = a % len;
            let b = (a + n).min(text.len());
            let piece = text[a.min(b)..b].to_vec();
            text.splice(b..b, piece);
        }
        Mutation::Replace(a, i) => {
            if let Some((s, e)) = token_at(text, a, b"\"") {
                text.splice(s..e, ODD[i].bytes());
            }
        }
        Mutation::SwapLines(a, b) => {
            let mut lines: Vec<Vec<u8>> = text.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
            let n = lines.len();
            lines.swap(a % n, b % n);
            *text = lines.join(&b'\n');
        }
        Mutation::Nest(a, n, k) => {
            let a = a % (text.len() + 1);
            let open: &[u8] = [&b"["[..], b"{", b"#{", b"#_ ("][k as usize];
            let piece: Vec<u8> = open.repeat(n);
            text.splice(a..a, piece);
        }
        Mutation::Truncate(a) => text.truncate(a % len),
        Mutation::Field(a, k) => {
            // The token around position a, if it is one a value can replace.
            let Some((s, e)) = token_at(text, a, b"") else {
                return;
            };
            let token = String::from_utf8_lossy(&text[s..e]).into_owned();
            const TYPES: [&str; 4] = ["invoke", "ok", "fail", "info"];
            let new = if token.parse::<i64>().is_ok() {
                (i64::from(k % 9) - 1).to_string()
            } else if TYPES.contains(&token.trim_matches(['"', ':'])) {
                let next = TYPES[usize::from(k) % 4];
                if token.starts_with(':') {
                    format!(":{next}")
                } else {
                    format!("\"{next}\"")
                }
            } else if token == "nil" || token == "null" {
                "[]".to_owned()
            } else {
                return;
            };
            text.splice(s..e, new.bytes());
        }
    }
}

/// The token (a run of bytes other than whitespace, brackets, commas and `also`) around
/// position `a` (taken modulo the length): its start and end.
fn token_at(text: &[u8], a: usize, also: &[u8]) -> Option<(usize, usize)> {
    let delim = |c: u8| c.is_ascii_whitespace() || b",[]{}()".contains(&c) || also.contains(&c);
    let a = a % text.len().max(1);
    if a >= text.len() {
        return None;
    }
    let s = text[..a]
        .iter()
        .rposition(|&c| delim(c))
        .map_or(0, |p| p + 1);
    let e = text[a..]
        .iter()
        .position(|&c| delim(c))
        .map_or(text.len(), |p| a + p);
    Some((s, e.max(s)))
}

/// Reads and checks one text in a thread; fails on a panic or when it takes too long.
fn survives(name: &str, text: Vec<u8>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let name = name.to_owned();
    let shown = name.clone();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let outcome = std::panic::catch_unwind(|| {
                let Ok(h) = read_history_from(Path::new(&name), &text[..]) else {
                    return;
                };
                for (workload, models) in [
                    (None, vec![Model::StrictSerializable]),
                    (None, vec![Model::Serializable]),
                    (Some(Workload::ListAppend), vec![Model::SnapshotIsolation]),
                    (Some(Workload::Counter), vec![Model::StrictSerializable]),
                ] {
                    let opts = CheckOptions {
                        models,
                        workload,
                        durability: true,
                        ..CheckOptions::default()
                    };
                    if let Ok(r) = check(&h, &opts) {
                        serde_json::to_string(&r).expect("a result serializes");
                    }
                }
            });
            let _ = tx.send(outcome.is_ok());
        })
        .expect("spawn");
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("{shown}: panicked")),
        Err(_) => Err(format!("{shown}: no answer within 20 s")),
    }
}

fn cases() -> u32 {
    std::env::var("ISOSCOPE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn every_seed_reads_and_checks() {
    for (name, text) in seeds() {
        survives(name, text.clone()).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_histories_never_crash_or_hang(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let corpus = seeds();
        let (name, text) = &corpus[seed.index(corpus.len())];
        let mut text = text.clone();
        for m in &mutations {
            apply(&mut text, m);
        }
        if let Err(e) = survives(name, text) {
            return Err(TestCaseError::fail(e));
        }
    }
}
