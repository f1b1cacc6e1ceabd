//! Reading histories: Jepsen's EDN, Jepsen/Elle JSON, and isoscope's own JSON Lines.
//!
//! Accepted shapes (sniffed from the content, not the file name; gzip-compressed or not):
//! - EDN: one map per line (Jepsen's `history.edn`), maps spread over lines, or one vector of
//!   maps;
//! - JSON: one array of objects, or one object per line (isoscope's own format).
//!
//! Keys may be keywords, strings or integers. `f` may be missing when the value is plainly a
//! transaction; `time` and `index` may be missing (the index is then the op's position).
//! Anything else that is off is a [`ReadError`] that names the file, the line or op, and the
//! problem, in one line.
//!
//! The jobs are split by module: this one opens the source (decompressing gzip), skips leading
//! whitespace and picks the reader; `sniff` tells the format; `json_text` reads JSON Lines
//! and JSON arrays; `edn_forms` gathers EDN into one form per op; `build` types each op.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::build::OpBuilder;
use super::edn_forms::{for_each_form, ScanError};
use super::json_text::{read_json_array, read_json_lines, read_up_to};
pub use super::read_error::ReadError;
pub use super::sniff::{sniff, Format};
use super::History;

/// Reads a history file in any accepted format, gzip-compressed or not.
pub fn read_history(path: &Path) -> Result<History, ReadError> {
    let started = std::time::Instant::now();
    let file = File::open(path).map_err(|error| ReadError::Io {
        path: path.to_owned(),
        error,
    })?;
    let h = read_history_from(path, file);
    tracing::debug!(
        stage = "read",
        secs = started.elapsed().as_secs_f64(),
        "stage done"
    );
    h
}

/// Reads a history from a string, for tests and tools; `name` stands for the file in errors.
pub fn read_history_str(name: &str, text: &str) -> Result<History, ReadError> {
    read_history_from(Path::new(name), text.as_bytes())
}

/// Reads a history from any reader, gzip-compressed or not; `path` names the source in errors.
pub fn read_history_from(path: &Path, source: impl Read + Send) -> Result<History, ReadError> {
    let mut source = BufReader::with_capacity(1 << 16, source);
    let head = source.fill_buf().map_err(|error| ReadError::Io {
        path: path.to_owned(),
        error,
    })?;
    if super::sniff::is_gzip(head) {
        return read_plain(path, flate2::bufread::MultiGzDecoder::new(source));
    }
    read_plain(path, source)
}

/// How many bytes after the leading whitespace are looked at to tell the format.
const SNIFF: usize = 1 << 16;

/// Reads an uncompressed history.
fn read_plain(path: &Path, mut source: impl Read + Send) -> Result<History, ReadError> {
    let io = |error| ReadError::Io {
        path: path.to_owned(),
        error,
    };
    // Leading whitespace, however long, is dropped; its lines are counted.
    let mut head = vec![0u8; SNIFF];
    let mut first_line = 1;
    let start = loop {
        let n = read_up_to(&mut source, &mut head).map_err(io)?;
        head.truncate(n);
        match head.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(p) => break p,
            None if n == 0 => {
                return Err(ReadError::Empty {
                    path: path.to_owned(),
                })
            }
            None => {
                first_line += head.iter().filter(|&&b| b == b'\n').count();
                head.resize(SNIFF, 0);
            }
        }
    };
    first_line += head[..start].iter().filter(|&&b| b == b'\n').count();
    head.drain(..start);
    // The first op may start near the end of the block: look a little further.
    if head.len() < SNIFF {
        let had = head.len();
        head.resize(had + SNIFF, 0);
        let n = read_up_to(&mut source, &mut head[had..]).map_err(io)?;
        head.truncate(had + n);
    }
    let format = sniff(&head).ok_or_else(|| ReadError::NotAHistory {
        path: path.to_owned(),
        line: first_line,
    })?;
    let array = head[0] == b'[';
    let source = std::io::Cursor::new(head).chain(source);
    let mut b = OpBuilder::new(path);
    match (format, array) {
        (Format::Json, true) => read_json_array(
            BufReader::with_capacity(1 << 20, source),
            &mut b,
            first_line,
        )?,
        (Format::Json, false) => read_json_lines(source, &mut b, first_line)?,
        (Format::Edn, _) => read_edn(
            BufReader::with_capacity(1 << 20, source),
            &mut b,
            first_line,
        )?,
    }
    b.finish()
}

/// Reads EDN: each top-level form (or each form of one top-level vector) is an op.
fn read_edn(reader: impl BufRead, b: &mut OpBuilder, first_line: usize) -> Result<(), ReadError> {
    let path = b.path;
    let scanned = for_each_form(reader, first_line, |form| {
        match super::edn::parse(form.text) {
            Ok(Some(d)) => b.push(d, Some(form.line)),
            // `#_ form` alone discards the form: nothing to read.
            Ok(None) => Ok(()),
            Err(e) => Err(ReadError::Syntax {
                path: path.to_owned(),
                line: form.line + e.row - 1,
                message: format!("invalid EDN: {}", e.message),
            }),
        }
    });
    match scanned {
        Ok(r) => r,
        Err(ScanError::Io(error)) => Err(ReadError::Io {
            path: path.to_owned(),
            error,
        }),
        Err(ScanError::At { line, message }) => Err(ReadError::Syntax {
            path: path.to_owned(),
            line,
            message,
        }),
    }
}
