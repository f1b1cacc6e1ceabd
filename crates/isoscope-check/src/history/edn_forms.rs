//! Gathering EDN: splitting EDN text into its top-level forms (one op each) without parsing it.
//!
//! Why not hand the whole file to the EDN parser: for a history written as one vector it builds
//! one tree of the whole file (many times the file's size), and it recurses once per level of
//! nesting, so a few thousand `[` in a row overflow the stack. This scanner reads in blocks,
//! follows strings, characters, comments and brackets, and hands the parser one form at a
//! time, each checked to nest at most [`MAX_DEPTH`] levels deep.
//!
//! Accepted: one form per line (Jepsen's `history.edn`), forms spread over lines, and one
//! vector or list of forms (`[{...} {...}]`). `#_` before a top-level form discards it; a tag
//! (`#inst`) is kept with the form it tags.

use std::io::BufRead;

/// How deeply a form may nest. An op is a map of vectors of vectors: five levels.
pub const MAX_DEPTH: usize = 200;

/// One top-level form.
pub struct Form<'a> {
    /// Its text.
    pub text: &'a str,
    /// The 1-based line it starts on.
    pub line: usize,
}

/// Why the text could not be split into forms.
#[derive(Debug)]
pub enum ScanError {
    /// Reading failed.
    Io(std::io::Error),
    /// Something malformed, on a line.
    At {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Scanner state between bytes.
struct Scanner {
    line: usize,
    depth: usize,
    /// 1 inside a vector of ops, else 0: the depth at which forms are split.
    top: usize,
    /// Whether the first form has been looked at (to tell a vector of ops).
    started: bool,
    vector_closed: bool,
    in_string: bool,
    escape: bool,
    in_comment: bool,
    char_next: bool,
    /// A top-level token (not a bracketed form) is being read.
    in_token: bool,
    /// The form so far began with a tag or `#_`, so the next form belongs to it.
    pending: bool,
    token_start: usize,
    form: Vec<u8>,
    form_line: usize,
}

/// Calls `each` with every top-level form of `reader`, whose first line is `first_line`.
pub fn for_each_form<E>(
    mut reader: impl BufRead,
    first_line: usize,
    mut each: impl FnMut(Form) -> Result<(), E>,
) -> Result<Result<(), E>, ScanError> {
    let mut s = Scanner {
        line: first_line,
        depth: 0,
        top: 0,
        started: false,
        vector_closed: false,
        in_string: false,
        escape: false,
        in_comment: false,
        char_next: false,
        in_token: false,
        pending: false,
        token_start: 0,
        form: Vec::new(),
        form_line: first_line,
    };
    let mut failed: Option<E> = None;
    loop {
        let buf = reader.fill_buf().map_err(ScanError::Io)?;
        if buf.is_empty() {
            break;
        }
        let n = buf.len();
        for &c in buf {
            if let Some(text) = s.feed(c)? {
                if let Err(e) = emit(&text, s.form_line, &mut each)? {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            return Ok(Err(e));
        }
        reader.consume(n);
    }
    match s.finish()? {
        Some(text) => emit(&text, s.form_line, &mut each),
        None => Ok(Ok(())),
    }
}

/// Hands one form to `each`: `Err` for text that is not UTF-8 (naming its line), else what
/// `each` said.
fn emit<E>(
    bytes: &[u8],
    line: usize,
    each: &mut impl FnMut(Form) -> Result<(), E>,
) -> Result<Result<(), E>, ScanError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(each(Form { text, line })),
        Err(e) => Err(ScanError::At {
            line: line
                + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count(),
            message: "not valid UTF-8".into(),
        }),
    }
}

impl Scanner {
    fn err(&self, message: impl Into<String>) -> ScanError {
        ScanError::At {
            line: self.line,
            message: message.into(),
        }
    }

    /// Starts a form here unless one is under way.
    fn begin(&mut self) {
        if self.form.is_empty() {
            self.form_line = self.line;
        }
    }

    /// Ends the top-level token being read; returns the form if it is complete (a token that
    /// is only a tag or a discard waits for the form after it).
    fn end_token(&mut self) -> Option<Vec<u8>> {
        self.in_token = false;
        let token = &self.form[self.token_start..];
        let prefix = token.len() >= 2 && token[0] == b'#' && !token.contains(&b'"');
        if prefix {
            self.pending = true;
            self.form.push(b' ');
            self.token_start = self.form.len();
            return None;
        }
        self.pending = false;
        Some(std::mem::take(&mut self.form))
    }

    /// Takes one byte; returns a complete form when this byte ends one.
    fn feed(&mut self, c: u8) -> Result<Option<Vec<u8>>, ScanError> {
        let collecting = self.depth > self.top || self.in_token || self.pending;
        if c == b'\n' {
            self.line += 1;
        }
        if self.in_comment {
            if c == b'\n' {
                self.in_comment = false;
            }
            if collecting {
                self.form.push(c);
            }
            return Ok(None);
        }
        if self.in_string {
            self.form.push(c);
            if self.escape {
                self.escape = false;
            } else if c == b'\\' {
                self.escape = true;
            } else if c == b'"' {
                self.in_string = false;
            }
            return Ok(None);
        }
        if self.char_next {
            self.form.push(c);
            self.char_next = false;
            return Ok(None);
        }
        if self.vector_closed && !(c.is_ascii_whitespace() || c == b',' || c == b';') {
            return Err(self.err("text after the closing bracket of the vector of ops"));
        }
        let at_top = self.depth == self.top;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' | b',' => {
                if at_top {
                    if self.in_token {
                        return Ok(self.end_token());
                    }
                    if self.pending {
                        self.form.push(c);
                    }
                } else {
                    self.form.push(c);
                }
            }
            b';' => {
                self.in_comment = true;
                if at_top && self.in_token {
                    return Ok(self.end_token());
                }
                if collecting {
                    self.form.push(c);
                }
            }
            b'(' | b'[' | b'{' => {
                if !self.started && (c == b'[' || c == b'(') {
                    // A vector (or list) of ops: split the forms inside it.
                    self.started = true;
                    self.top = 1;
                    self.depth = 1;
                    return Ok(None);
                }
                self.started = true;
                if at_top {
                    let hash = self.in_token && &self.form[self.token_start..] == b"#";
                    if self.in_token && !hash {
                        // A token ran into a bracket: it ends, and so does its form.
                        let done = self.end_token();
                        if done.is_some() {
                            self.begin();
                            self.form.push(c);
                            self.depth += 1;
                            return Ok(done);
                        }
                    }
                    self.in_token = false;
                    self.begin();
                }
                self.depth += 1;
                if self.depth - self.top > MAX_DEPTH {
                    return Err(self.err(format!(
                        "nested more than {MAX_DEPTH} levels deep; no op needs that"
                    )));
                }
                self.form.push(c);
            }
            b')' | b']' | b'}' => {
                if at_top {
                    if self.top == 1 && c != b'}' {
                        self.vector_closed = true;
                        self.depth = 0;
                        self.top = 0;
                        if self.in_token {
                            return Ok(self.end_token());
                        }
                        return Ok(None);
                    }
                    return Err(
                        self.err(format!("unbalanced {:?}: nothing is open here", c as char))
                    );
                }
                self.depth -= 1;
                self.form.push(c);
                if self.depth == self.top {
                    self.pending = false;
                    return Ok(Some(std::mem::take(&mut self.form)));
                }
            }
            _ => {
                self.started = true;
                if at_top && !self.in_token {
                    self.begin();
                    self.in_token = true;
                    self.token_start = self.form.len();
                }
                match c {
                    b'"' => self.in_string = true,
                    b'\\' => self.char_next = true,
                    _ => {}
                }
                self.form.push(c);
            }
        }
        Ok(None)
    }

    /// At the end of the input: the last token, or an error for anything left open.
    fn finish(&mut self) -> Result<Option<Vec<u8>>, ScanError> {
        let line = self.form_line;
        let open = |what: &str| ScanError::At {
            line,
            message: format!("the input ends inside {what}"),
        };
        if self.in_string {
            return Err(open("a string"));
        }
        if self.depth > self.top {
            return Err(open("a form"));
        }
        if self.top == 1 && !self.vector_closed {
            return Err(ScanError::At {
                line: self.line,
                message: "the vector of ops is never closed".into(),
            });
        }
        if self.in_token {
            return Ok(self.end_token().filter(|_| !self.pending));
        }
        if self.pending {
            return Err(open("a tagged or discarded form"));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(text: &str) -> Result<Vec<(usize, String)>, String> {
        let mut out = Vec::new();
        let r = for_each_form(text.as_bytes(), 1, |f| -> Result<(), ()> {
            out.push((f.line, f.text.trim().to_owned()));
            Ok(())
        });
        match r {
            Ok(_) => Ok(out),
            Err(ScanError::At { line, message }) => Err(format!("{line}: {message}")),
            Err(ScanError::Io(e)) => Err(e.to_string()),
        }
    }

    #[test]
    fn splits_lines_vectors_and_spread_forms() {
        let text = "; a comment\n{:a 1}\n\n{:b \"}\\\"\" :c \\]}\n{:d\n [1 2]}\n";
        assert_eq!(
            forms(text).unwrap(),
            vec![
                (2, "{:a 1}".into()),
                (4, "{:b \"}\\\"\" :c \\]}".into()),
                (5, "{:d\n [1 2]}".into())
            ]
        );
        assert_eq!(
            forms("[{:a 1}, {:b [2]}\n {:c #{3}}]\n").unwrap(),
            vec![
                (1, "{:a 1}".into()),
                (1, "{:b [2]}".into()),
                (2, "{:c #{3}}".into())
            ]
        );
        assert_eq!(
            forms("#_ {:x 1} {:a 1} #inst \"2020\" #foo {:b 2}").unwrap(),
            vec![
                (1, "#_ {:x 1}".into()),
                (1, "{:a 1}".into()),
                (1, "#inst \"2020\"".into()),
                (1, "#foo {:b 2}".into())
            ]
        );
    }

    #[test]
    fn deep_nesting_and_unbalanced_input_are_errors() {
        for open in ["[", "(", "{", "#{", "#_[", "#t ["] {
            let deep = open.repeat(10_000);
            let e = forms(&format!("{{:a 1}}\n{{:v {deep}")).unwrap_err();
            assert!(e.contains("levels deep"), "{open}: {e}");
        }
        assert!(forms("{:a 1}}").unwrap_err().contains("unbalanced"));
        assert!(
            forms("{:a [1 2}]").is_ok(),
            "the parser, not the scanner, pairs brackets"
        );
        assert!(forms("[{:a 1}").unwrap_err().contains("never closed"));
        assert!(forms("[{:a 1}] {:b 2}")
            .unwrap_err()
            .contains("after the closing"));
        assert!(forms("{:a \"1}").unwrap_err().contains("inside a string"));
    }
}
