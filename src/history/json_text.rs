//! Reading JSON: JSON Lines in large blocks (isoscope's own format), and one array of ops,
//! streamed element by element.
//!
//! JSON Lines are read in 4 MB blocks without a string per line; each line is first offered to
//! the fast path ([`FastLine`]), which builds the common ops straight from the bytes, and the
//! lines it declines go through [`Datum`], which gives any error. A torn last line (a crash
//! mid-write) is dropped.

use std::io::{BufRead, Read};

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};

use super::build::OpBuilder;
use super::datum::Datum;
use super::json_ops::FastLine;
use super::read::ReadError;

pub(super) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads JSON Lines in large blocks, without a string per line. With `fast`, each line is first
/// offered to [`FastLine`]; the lines it declines (and all lines without `fast`) go through
/// [`Datum`], which gives the errors.
pub(super) fn read_json_lines(
    source: impl Read,
    b: &mut OpBuilder,
    first_line: usize,
) -> Result<(), ReadError> {
    read_json_blocks(source, b, true, 1 << 22, first_line)
}

/// [`read_json_lines`] with blocks of `block` bytes (more for a longer line).
pub(super) fn read_json_blocks(
    mut source: impl Read,
    b: &mut OpBuilder,
    fast: bool,
    block: usize,
    first_line: usize,
) -> Result<(), ReadError> {
    let mut buf = vec![0u8; block.max(1)];
    let mut filled = 0;
    let mut lineno = first_line - 1;
    let mut scratch = FastLine::default();
    loop {
        if filled == buf.len() {
            // A line longer than the buffer.
            buf.resize(2 * buf.len(), 0);
        }
        let n = read_up_to(&mut source, &mut buf[filled..]).map_err(|error| ReadError::Io {
            path: b.path.to_owned(),
            error,
        })?;
        filled += n;
        let eof = filled < buf.len();
        // Whole lines only, but all of what is left at the end of the file.
        let end = match buf[..filled].iter().rposition(|&c| c == b'\n') {
            _ if eof => filled,
            Some(p) => p + 1,
            None => continue,
        };
        let data = &buf[..end];
        let mut pos = 0;
        while pos < data.len() {
            lineno += 1;
            let rest = &data[pos..];
            if fast {
                let position = b.history.ops.len();
                if let Some((op, used)) = scratch.parse(rest, position, &mut b.history.lists) {
                    b.accept(op, Some(lineno))?;
                    b.fast_lines += 1;
                    pos += used;
                    continue;
                }
            }
            let (line, newline) = match rest.iter().position(|&c| c == b'\n') {
                Some(p) => (&rest[..p], true),
                None => (rest, false),
            };
            pos += line.len() + usize::from(newline);
            let line = std::str::from_utf8(line).map_err(|_| ReadError::Syntax {
                path: b.path.to_owned(),
                line: lineno,
                message: "not valid UTF-8".into(),
            })?;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<Datum>(text) {
                Ok(d) => b.push(d, Some(lineno))?,
                Err(_) if !newline && lineno > first_line => {
                    // A crash mid-write tears at most the last line: keep everything before it.
                    tracing::warn!("{}:{lineno}: dropped a torn last line", b.path.display());
                    break;
                }
                Err(e) => {
                    return Err(ReadError::Syntax {
                        path: b.path.to_owned(),
                        line: lineno,
                        message: e.to_string(),
                    })
                }
            }
        }
        if eof {
            tracing::debug!(lines = lineno, fast = b.fast_lines, "JSON Lines read");
            return Ok(());
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
    }
}

/// Reads one JSON array of ops, an element at a time.
pub(super) fn read_json_array(
    reader: impl BufRead,
    b: &mut OpBuilder,
    first_line: usize,
) -> Result<(), ReadError> {
    struct Ops<'a, 'p>(&'a mut OpBuilder<'p>, &'a mut Option<ReadError>);
    impl<'de> Visitor<'de> for Ops<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of ops")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(d) = seq.next_element::<Datum>()? {
                if let Err(e) = self.0.push(d, None) {
                    *self.1 = Some(e);
                    return Err(de::Error::custom("op error"));
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Ops<'_, '_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    let mut op_error = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = Ops(b, &mut op_error)
        .deserialize(&mut de)
        .and_then(|_| de.end());
    if let Some(e) = op_error {
        return Err(e);
    }
    result.map_err(|e| ReadError::Syntax {
        path: b.path.to_owned(),
        line: e.line() + first_line - 1,
        message: e.to_string(),
    })
}
