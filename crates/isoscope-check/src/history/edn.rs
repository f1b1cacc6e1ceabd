//! Parsing one EDN form into a [`Datum`], iteratively.
//!
//! Why our own parser: the `edn-format` crate recurses once per level of nesting and builds its
//! own value tree (ordered maps and sets, keywords with namespaces) that is then converted again;
//! on a 200 MB history that was most of 40 seconds. This one keeps its own stack (so depth costs
//! heap, not the thread's stack, and is bounded by [`MAX_DEPTH`]), builds the [`Datum`] directly,
//! and stores lists of integers flat.
//!
//! It reads what Jepsen writes: nil, booleans, integers (an `N` suffix allowed), floats (`M`
//! allowed), strings, characters, keywords, symbols, lists, vectors, maps, sets, tagged values
//! (the tag is dropped, the value kept) and `#_` discards; commas are whitespace.

use super::datum::Datum;
use super::edn_forms::MAX_DEPTH;

/// Why a form is not EDN: the 1-based row within the form, and what is wrong.
#[derive(Debug, PartialEq)]
pub struct EdnError {
    /// Row within the text, from 1.
    pub row: usize,
    /// What is wrong.
    pub message: String,
}

/// An open collection, or a prefix waiting for the value it applies to.
enum Frame {
    Seq { items: Vec<Datum>, close: u8 },
    Map { items: Vec<Datum> },
    Tag,
    Discard,
}

/// Parses the one form in `text` (around it, only whitespace and comments). `None` when the
/// form was discarded (`#_ ...`).
pub fn parse(text: &str) -> Result<Option<Datum>, EdnError> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut stack: Vec<Frame> = Vec::new();
    let mut result: Option<Datum> = None;
    let mut discarded = false;
    let err = |at: usize, message: String| EdnError {
        row: 1 + b[..at.min(b.len())].iter().filter(|&&c| c == b'\n').count(),
        message,
    };
    loop {
        // Whitespace, commas and comments.
        while i < b.len() {
            match b[i] {
                b' ' | b'\t' | b'\r' | b'\n' | b',' => i += 1,
                b';' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        let c = b[i];
        let value = match c {
            b'[' | b'(' => {
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    close: if c == b'[' { b']' } else { b')' },
                });
                i += 1;
                None
            }
            b'{' => {
                stack.push(Frame::Map { items: Vec::new() });
                i += 1;
                None
            }
            b'#' => {
                match b.get(i + 1) {
                    Some(b'{') => {
                        stack.push(Frame::Seq {
                            items: Vec::new(),
                            close: b'}',
                        });
                        i += 2;
                    }
                    Some(b'_') => {
                        stack.push(Frame::Discard);
                        i += 2;
                    }
                    Some(c) if c.is_ascii_alphabetic() => {
                        i += 1;
                        while i < b.len() && is_symbol_byte(b[i]) {
                            i += 1;
                        }
                        stack.push(Frame::Tag);
                    }
                    _ => return Err(err(i, "a # that starts no set, tag or discard".into())),
                }
                None
            }
            b']' | b')' | b'}' => {
                i += 1;
                match stack.pop() {
                    Some(Frame::Seq { items, close }) if close == c => Some(seq(items)),
                    Some(Frame::Map { items }) if c == b'}' => {
                        if items.len() % 2 == 1 {
                            return Err(err(start, "a map with a key and no value".into()));
                        }
                        let mut pairs = Vec::with_capacity(items.len() / 2);
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            pairs.push((k, v));
                        }
                        Some(Datum::Map(pairs))
                    }
                    _ => return Err(err(start, format!("unexpected {:?}", c as char))),
                }
            }
            b'"' => {
                let (s, next) = string(b, i + 1).ok_or_else(|| {
                    err(start, "a string that never ends or has a bad escape".into())
                })?;
                i = next;
                Some(Datum::Str(s))
            }
            b'\\' => {
                let mut j = i + 1;
                // One character, then any letters of a name (\newline, \u00e9).
                let first = text[j..]
                    .chars()
                    .next()
                    .ok_or_else(|| err(start, "a \\ at the end".into()))?;
                j += first.len_utf8();
                while j < b.len() && b[j].is_ascii_alphanumeric() {
                    j += 1;
                }
                let name = &text[i + 1..j];
                let ch = match name {
                    "newline" => '\n',
                    "space" => ' ',
                    "tab" => '\t',
                    "return" => '\r',
                    "backspace" => '\u{8}',
                    "formfeed" => '\u{c}',
                    _ if name.chars().count() == 1 => first,
                    _ => match name
                        .strip_prefix('u')
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                    {
                        Some(u) => char::from_u32(u)
                            .ok_or_else(|| err(start, format!("no such character \\{name}")))?,
                        None => return Err(err(start, format!("no such character \\{name}"))),
                    },
                };
                i = j;
                Some(Datum::Str(ch.to_string()))
            }
            _ => {
                let mut j = i;
                while j < b.len() && is_symbol_byte(b[j]) {
                    j += 1;
                }
                if j == i {
                    return Err(err(
                        start,
                        format!("unexpected {:?}", &text[i..].chars().next().unwrap_or(' ')),
                    ));
                }
                let token = &text[i..j];
                i = j;
                Some(atom(token).map_err(|m| err(start, m))?)
            }
        };
        if stack.len() > MAX_DEPTH {
            return Err(err(
                start,
                format!("nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        let Some(mut v) = value else { continue };
        // Hand the value to what is open: prefixes apply to it, collections take it.
        loop {
            match stack.last_mut() {
                None => {
                    if result.is_some() {
                        return Err(err(
                            start,
                            "more than one form where one op was expected".into(),
                        ));
                    }
                    result = Some(v);
                    break;
                }
                Some(Frame::Discard) => {
                    stack.pop();
                    if stack.is_empty() {
                        discarded = true;
                    }
                    break;
                }
                Some(Frame::Tag) => {
                    stack.pop();
                }
                Some(Frame::Seq { items, .. }) | Some(Frame::Map { items }) => {
                    items.push(std::mem::replace(&mut v, Datum::Nil));
                    break;
                }
            }
        }
    }
    if !stack.is_empty() {
        return Err(err(b.len(), "unexpected end of input".into()));
    }
    match result {
        Some(v) => Ok(Some(v)),
        None if discarded => Ok(None),
        None => Err(err(0, "no form".into())),
    }
}

/// A list of values: flat when all are integers.
fn seq(items: Vec<Datum>) -> Datum {
    if items.iter().all(|d| matches!(d, Datum::Int(_))) {
        Datum::Ints(items.iter().filter_map(Datum::as_int).collect())
    } else {
        Datum::List(items)
    }
}

fn is_symbol_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".*+!-_?$%&=<>/:#'".contains(&c) || c >= 0x80
}

/// A token that is not a collection, string or character.
fn atom(token: &str) -> Result<Datum, String> {
    let bytes = token.as_bytes();
    let numeric = bytes[0].is_ascii_digit()
        || (matches!(bytes[0], b'-' | b'+') && bytes.get(1).is_some_and(u8::is_ascii_digit));
    if numeric {
        let t = token.strip_suffix('N').unwrap_or(token);
        if let Ok(i) = t.parse::<i64>() {
            return Ok(Datum::Int(i));
        }
        let decimal = token.strip_suffix('M');
        let f = decimal.unwrap_or(token);
        if decimal.is_some() || f.contains(['.', 'e', 'E']) {
            if let Ok(x) = f.parse::<f64>() {
                return Ok(Datum::Float(x));
            }
        }
        return Err(format!(
            "{} is not a number that fits",
            super::cut(token, 40)
        ));
    }
    Ok(match token {
        "nil" => Datum::Nil,
        "true" => Datum::Bool(true),
        "false" => Datum::Bool(false),
        _ => match token.strip_prefix(':') {
            Some(k) if !k.is_empty() => Datum::Keyword(k.to_owned()),
            Some(_) => return Err("a : with no name".into()),
            None => Datum::Str(token.to_owned()),
        },
    })
}

/// A string's contents from just after its opening quote; the position after the closing one.
fn string(b: &[u8], from: usize) -> Option<(String, usize)> {
    let mut out: Vec<u8> = Vec::new();
    let mut i = from;
    loop {
        let c = *b.get(i)?;
        i += 1;
        match c {
            b'"' => return Some((String::from_utf8(out).ok()?, i)),
            b'\\' => {
                let e = *b.get(i)?;
                i += 1;
                let ch = match e {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'/' => '/',
                    b'u' => {
                        let hex = std::str::from_utf8(b.get(i..i + 4)?).ok()?;
                        i += 4;
                        char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                    }
                    _ => return None,
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Datum {
        parse(text).unwrap().unwrap()
    }

    #[test]
    fn reads_what_jepsen_writes() {
        assert_eq!(
            p("{:type :ok, :f :txn :value [[:append 5 1] [:r 5 [1 2]] [:r 6 nil]]}").to_string(),
            "{:type :ok, :f :txn, :value [[:append 5 1] [:r 5 [1 2]] [:r 6 nil]]}"
        );
        assert_eq!(p("[1 -2 +3 4N]"), Datum::Ints(vec![1, -2, 3, 4]));
        assert_eq!(p("#{3 1}"), Datum::Ints(vec![3, 1]));
        assert_eq!(
            p("(1.5 2e3 3M)"),
            Datum::List(vec![
                Datum::Float(1.5),
                Datum::Float(2000.0),
                Datum::Float(3.0)
            ])
        );
        assert_eq!(p("\"a\\\"b\\u00e9\\n\""), Datum::Str("a\"b\u{e9}\n".into()));
        assert_eq!(
            p("[\\a \\newline \\u00e9]"),
            Datum::List(vec![
                Datum::Str("a".into()),
                Datum::Str("\n".into()),
                Datum::Str("\u{e9}".into())
            ])
        );
        assert_eq!(p("#inst \"2020\""), Datum::Str("2020".into()));
        assert_eq!(p("[1 #_ 2 3] ; comment"), Datum::Ints(vec![1, 3]));
        assert_eq!(
            p("[nil true false sym :ns/kw]").to_string(),
            "[nil true false \"sym\" :ns/kw]"
        );
        assert_eq!(parse("#_ {:a 1}"), Ok(None));
        assert_eq!(p("{:a {:b #{[1]}}}").to_string(), "{:a {:b [[1]]}}");
    }

    #[test]
    fn refuses_what_is_not_edn() {
        for bad in [
            "[1 2",
            "[1 2}",
            "{:a}",
            "\"abc",
            "1 2",
            "99999999999999999999",
            "#",
            ": x",
            "[\\",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = parse("{:a 1\n :b [}").unwrap_err();
        assert_eq!(e.row, 2);
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).unwrap_err().message.contains("levels deep"));
    }
}
