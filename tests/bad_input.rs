//! Input that once crashed or misled the reader (issue 10, item 8), and compressed histories
//! (issue 13, item 11). Run through the binary: a stack overflow aborts a process, and the test
//! must see the exit code, not die with it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

fn check(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isoscope"))
        .arg("check")
        .arg(path)
        .output()
        .expect("run isoscope")
}

/// Writes `text` to `name` in `dir` and checks it; returns the exit code and stderr.
fn check_text(dir: &Path, name: &str, text: &[u8]) -> (Option<i32>, String) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = check(&path);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const OP: &str = "{:index 0 :type :invoke :process 0 :f :txn :value [[:append :x 1]]}\n\
                  {:index 1 :type :ok :process 0 :f :txn :value [[:append :x 1]]}\n\
                  {:index 2 :type :invoke :process 1 :f :txn :value [[:r :x nil]]}\n\
                  {:index 3 :type :ok :process 1 :f :txn :value [[:r :x [1]]]}\n";

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    for open in ["[", "(", "{", "#{", "#t [", "#_ ["] {
        let deep = open.repeat(6_000);
        let text = format!("{OP}{{:index 4 :type :ok :process 0 :f :txn :value {deep}}}\n");
        let (code, err) = check_text(dir.path(), "deep.edn", text.as_bytes());
        assert_eq!(code, Some(3), "{open}: {err}");
        assert!(
            err.contains("deep.edn:5: nested more than"),
            "{open}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1);
    }
    let deep = "[".repeat(6_000);
    let text = format!("{{\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":{deep}}}\n");
    let (code, err) = check_text(dir.path(), "deep.jsonl", text.as_bytes());
    assert_eq!(code, Some(3), "{err}");
    // Nested just as deep as an op needs: fine.
    let (code, err) = check_text(dir.path(), "ok.edn", OP.as_bytes());
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn an_edn_map_may_start_with_a_string_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = OP.replace("{:index", "{\"index\"");
    let (code, err) = check_text(dir.path(), "strkeys.edn", text.as_bytes());
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn long_leading_whitespace_is_skipped_and_lines_still_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pad = " \n".repeat(70_000);
    let (code, err) = check_text(dir.path(), "pad.edn", format!("{pad}{OP}").as_bytes());
    assert_eq!(code, Some(0), "{err}");
    let bad = format!("{pad}{OP}{{:type :okay}}\n");
    let (code, err) = check_text(dir.path(), "pad.edn", bad.as_bytes());
    assert_eq!(code, Some(3));
    assert!(err.contains("(line 70005)"), "{err}");
    let json = format!("{pad}{{\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1}}\n");
    let (code, err) = check_text(dir.path(), "pad.jsonl", json.as_bytes());
    assert_eq!(code, Some(2), "nothing read, so unknown: {err}");
}

#[test]
fn errors_quote_long_values_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let big = "1 ".repeat(500_000);
    let text = format!("{OP}{{:index 4 :type :ok :process 0 :f :txn :value [[:r 1 [{big}] 2]]}}\n");
    let (code, err) = check_text(dir.path(), "big.edn", text.as_bytes());
    assert_eq!(code, Some(3));
    assert!(err.len() < 1_000, "{} bytes", err.len());
    assert!(err.contains("..."), "{err}");
}

#[test]
fn invalid_utf8_names_its_line_once() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "bad.edn",
            [OP.as_bytes(), b"{:index 4 :type :ok :process 0 :f :txn :value [[:r \"\xff\" nil]]}\n"]
                .concat(),
        ),
        (
            "bad.jsonl",
            b"{\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":1}\n{\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":\"\xff\"}\n"
                .to_vec(),
        ),
    ] {
        let (code, err) = check_text(dir.path(), name, &text);
        assert_eq!(code, Some(3), "{err}");
        let line = if name.ends_with("edn") { 5 } else { 2 };
        assert!(err.contains(&format!("{name}:{line}: not valid UTF-8")), "{err}");
        assert_eq!(err.matches("UTF-8").count(), 1, "{err}");
    }
}

#[test]
fn os_errors_are_said_once() {
    let out = check(Path::new("/nonexistent/history.edn"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn gzip_compressed_histories_read_like_plain_ones() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl =
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]]}\n\
                 {\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",\"x\",1]]}\n\
                 {\"type\":\"invoke\",\"process\":1,\"f\":\"txn\",\"value\":[[\"r\",\"x\",null]]}\n\
                 {\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":[[\"r\",\"x\",[1]]]}\n";
    let json = format!("[{}]", jsonl.trim_end().replace('\n', ","));
    for (name, text) in [
        ("h.edn.gz", OP.to_string()),
        ("h.jsonl.gz", jsonl.to_string()),
        ("h.json.gz", json),
    ] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        let (code, err) = check_text(dir.path(), name, &bytes);
        assert_eq!(code, Some(0), "{name}: {err}");
        // A compressed history that is not one is still named as such.
        let (code, err) = check_text(dir.path(), name, &bytes[..bytes.len() / 2]);
        assert_eq!(code, Some(3), "{name}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
