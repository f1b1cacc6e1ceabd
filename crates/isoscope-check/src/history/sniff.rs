//! Telling a history's format from its first bytes, not its file name.
//!
//! `{:` starts EDN and `{"` JSON, except that an EDN map may start with a string key
//! (`{"type" :invoke ...}`): what follows the first key decides. In JSON a key is followed by a
//! colon and a value; in EDN by a value, and a colon there starts a keyword (`:invoke`).

/// The text format of a history.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// Extensible Data Notation, Jepsen's native format.
    Edn,
    /// JSON: an array of ops or one op per line.
    Json,
}

/// Whether bytes start a gzip stream.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Guesses the format from the first op; `None` if it is neither.
pub fn sniff(text: &[u8]) -> Option<Format> {
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < text.len() && (text[*i].is_ascii_whitespace() || text[*i] == b',') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        match text.get(i)? {
            b'[' | b'(' => i += 1,
            b';' => return Some(Format::Edn),
            // A set, a discard or a tag; `# ` (a Markdown heading, a shell comment) is no EDN.
            b'#' => {
                return match text.get(i + 1) {
                    Some(c) if *c == b'{' || *c == b'_' || c.is_ascii_alphabetic() => {
                        Some(Format::Edn)
                    }
                    _ => None,
                }
            }
            b'{' => break,
            _ => return None,
        }
    }
    i += 1;
    skip_ws(&mut i);
    match text.get(i)? {
        b':' => return Some(Format::Edn),
        b'}' => return Some(Format::Json),
        b'"' => {}
        _ => return None,
    }
    // A string key: skip it and look at what follows.
    i += 1;
    let mut escape = false;
    while let Some(&c) = text.get(i) {
        i += 1;
        match c {
            _ if escape => escape = false,
            b'\\' => escape = true,
            b'"' => break,
            _ => {}
        }
    }
    let spaced = text
        .get(i)
        .is_some_and(|c| c.is_ascii_whitespace() || *c == b',');
    skip_ws(&mut i);
    if text.get(i) != Some(&b':') {
        // `{"type" "invoke"}` or `{"type" 5}`: only EDN puts a value right after a key.
        return text.get(i).map(|_| Format::Edn);
    }
    // A colon: JSON's separator, or an EDN keyword. A name right after the colon is a keyword
    // unless it is JSON's true, false or null with nothing before the colon.
    let after = &text[i + 1..];
    match after.first() {
        Some(c) if c.is_ascii_alphabetic() || b"*+!-_?<>=/.".contains(c) => {
            let word: Vec<u8> = after
                .iter()
                .copied()
                .take_while(|c| c.is_ascii_alphanumeric() || b"*+!-_?<>=/.:#".contains(c))
                .collect();
            let literal = matches!(&word[..], b"true" | b"false" | b"null");
            Some(if literal && !spaced {
                Format::Json
            } else {
                Format::Edn
            })
        }
        _ => Some(Format::Json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_edn_from_json() {
        for (text, want) in [
            ("{:type :invoke}", Some(Format::Edn)),
            ("  [{:type :invoke}]", Some(Format::Edn)),
            ("; comment\n{:a 1}", Some(Format::Edn)),
            ("{\"type\":\"invoke\"}", Some(Format::Json)),
            ("[ {\"type\" : \"invoke\"}]", Some(Format::Json)),
            ("{\"type\":null}", Some(Format::Json)),
            ("{\"type\":  true}", Some(Format::Json)),
            ("{}", Some(Format::Json)),
            ("{\"type\" :invoke, :process 0}", Some(Format::Edn)),
            ("{\"type\":invoke}", Some(Format::Edn)),
            ("{\"t\\\"ype\" :ok}", Some(Format::Edn)),
            ("{\"type\" \"invoke\"}", Some(Format::Edn)),
            ("hello", None),
            ("", None),
        ] {
            assert_eq!(sniff(text.as_bytes()), want, "{text}");
        }
    }
}
