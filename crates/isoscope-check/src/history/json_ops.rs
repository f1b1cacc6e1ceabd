//! The fast path for JSON Lines: one op per line, straight from bytes to [`Op`].
//!
//! Why: going through [`Datum`](super::datum::Datum) allocates a tree per op and is most of the
//! time spent reading a large list-append or set history. This parser handles the shapes
//! isoscope and Elle-style tools write for transactions and for set ops, and declines (returns
//! `None`) anything else, which the reader then gives to the generic path. So the fast path never
//! reports an error itself, and behaviour and messages are those of the generic path.
//!
//! Accepted: an object with `type`, `process` (a non-negative integer or `"nemesis"`), `f`,
//! `value`, and optionally `index` (a non-negative integer or null), `time` (an integer or null)
//! and `error` (a string or null); each key at most once, in any order. `f` and `value` go
//! together:
//! - `"txn"` (or `f` null or absent when the value is a non-empty transaction): `value` absent,
//!   null or a list of `append`/`r`/`w` micro-ops, whose reads return null, an integer, a string
//!   or a list of integers;
//! - `"add"`: `value` absent, null or an integer;
//! - `"read"`: `value` absent, null, an integer or a list of integers (typed as the generic path
//!   types it, by `build::int_list_read`).
//!
//! Integers must fit an `i64` and not be `-0` (which serde_json reads as a float); strings must
//! be printable ASCII without escapes. Whitespace is JSON's, less newlines.
//!
//! Invariant: an op accepted here equals what the generic path makes of the same line, and the
//! [`ListStore`] (or the [`ListSink`] standing in for it) is touched only once the whole line is
//! accepted, in the generic path's order.

use std::sync::Arc;

use super::build::int_list_read;
use super::{Atom, ListRef, ListStore, Mop, Op, OpFn, OpType, OpValue, Process, ReadResult};

/// Where the fast path puts a list read of integers: straight into the history's
/// [`ListStore`], or somewhere that keeps it until the store can take it in history order (when
/// lines are parsed on several threads).
pub(super) trait ListSink {
    /// Stores the read of `ints` from `key`; returns what the op holds for it.
    fn list(&mut self, key: &Atom, ints: &[i64]) -> ListRef;
}

impl ListSink for ListStore {
    fn list(&mut self, key: &Atom, ints: &[i64]) -> ListRef {
        self.intern_ints(key, ints)
    }
}

/// Scratch space reused from line to line.
#[derive(Default)]
pub(super) struct FastLine {
    mops: Vec<RawMop>,
    ints: Vec<i64>,
}

/// An atom not yet built: an integer, or a string as a byte range of the line.
#[derive(Clone, Copy)]
enum RawAtom {
    Int(i64),
    Str(usize, usize),
}

#[derive(Clone, Copy)]
enum RawRead {
    Nil,
    Scalar(RawAtom),
    /// A range of [`FastLine::ints`].
    List(usize, usize),
}

/// An op's value not yet typed (that needs `f`, which may come after it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum RawValue {
    /// Absent or null.
    Null,
    /// An integer.
    Int(i64),
    /// `[]`: an empty transaction or an empty set read.
    Empty,
    /// A non-empty list of micro-ops, in [`FastLine::mops`].
    Mops,
    /// A non-empty list of integers, in [`FastLine::ints`].
    Ints,
}

/// The functions the fast path takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FastFn {
    Txn,
    Add,
    Read,
}

#[derive(Clone, Copy)]
enum RawMop {
    Append(RawAtom, RawAtom),
    Write(RawAtom, RawAtom),
    Read(RawAtom, RawRead),
}

const INDEX: u8 = 1;
const TIME: u8 = 2;
const TYPE: u8 = 4;
const PROCESS: u8 = 8;
const F: u8 = 16;
const VALUE: u8 = 32;
const ERROR: u8 = 64;

impl FastLine {
    /// Parses the op at the start of `text`, which runs to the first newline or to the end of
    /// `text`. Returns the op (its index defaulting to `position`) and the bytes it took, newline
    /// included; `None` if the line is not of the accepted shape, with `lists` untouched.
    pub(super) fn parse(
        &mut self,
        text: &[u8],
        position: usize,
        lists: &mut impl ListSink,
    ) -> Option<(Op, usize)> {
        self.mops.clear();
        self.ints.clear();
        let mut c = Cursor { b: text, i: 0 };
        let mut seen = 0u8;
        let mut index = None;
        let mut time = None;
        let mut kind = None;
        let mut process = None;
        let mut f = None;
        let mut value = RawValue::Null;
        let mut error = None;
        c.ws();
        c.eat(b'{')?;
        c.ws();
        loop {
            c.eat(b'"')?;
            let field = match c.key()? {
                b"index" => INDEX,
                b"time" => TIME,
                b"type" => TYPE,
                b"process" => PROCESS,
                b"f" => F,
                b"value" => VALUE,
                b"error" => ERROR,
                _ => return None,
            };
            if seen & field != 0 {
                return None;
            }
            seen |= field;
            c.ws();
            c.eat(b':')?;
            c.ws();
            match field {
                INDEX => {
                    if !c.null() {
                        index = Some(u64::try_from(c.int()?).ok()?);
                    }
                }
                TIME => {
                    if !c.null() {
                        time = Some(c.int()?);
                    }
                }
                TYPE => {
                    let (a, b) = c.string()?;
                    kind = Some(c.str(a, b)?.parse::<OpType>().ok()?);
                }
                PROCESS => {
                    process = Some(if c.peek()? == b'"' {
                        let (a, b) = c.string()?;
                        (&text[a..b] == b"nemesis").then_some(Process::Nemesis)?
                    } else {
                        Process::Client(u64::try_from(c.int()?).ok()?)
                    });
                }
                F => {
                    if !c.null() {
                        let (a, b) = c.string()?;
                        f = Some(match &text[a..b] {
                            b"txn" => FastFn::Txn,
                            b"add" => FastFn::Add,
                            b"read" => FastFn::Read,
                            _ => return None,
                        });
                    }
                }
                VALUE => {
                    value = match c.peek()? {
                        b'n' if c.null() => RawValue::Null,
                        b'[' => {
                            c.i += 1;
                            c.ws();
                            match c.peek()? {
                                b']' => {
                                    c.i += 1;
                                    RawValue::Empty
                                }
                                b'[' => {
                                    self.mops(&mut c)?;
                                    RawValue::Mops
                                }
                                _ => {
                                    c.ints(&mut self.ints)?;
                                    RawValue::Ints
                                }
                            }
                        }
                        _ => RawValue::Int(c.int()?),
                    };
                }
                _ => {
                    if !c.null() {
                        let (a, b) = c.string()?;
                        error = Some(c.str(a, b)?.to_owned());
                    }
                }
            }
            c.ws();
            match c.next()? {
                b',' => c.ws(),
                b'}' => break,
                _ => return None,
            }
        }
        c.ws();
        let used = match c.next() {
            None => c.i,
            Some(b'\n') => c.i,
            Some(_) => return None,
        };
        // Without `f`, only a non-empty list of micro-ops says that the op is a transaction.
        let f = match f {
            Some(f) => f,
            None if value == RawValue::Mops => FastFn::Txn,
            None => return None,
        };
        let kind = kind?;
        let process = process?;
        let (f, value) = match (f, value) {
            (FastFn::Txn, RawValue::Null) => (OpFn::Txn, OpValue::Nil),
            (FastFn::Txn, RawValue::Empty | RawValue::Mops) => {
                (OpFn::Txn, OpValue::Txn(self.build_mops(text, lists)))
            }
            (FastFn::Add, RawValue::Null) => (OpFn::Add, OpValue::Nil),
            (FastFn::Add, RawValue::Int(i)) => (OpFn::Add, OpValue::Int(i)),
            (FastFn::Read, RawValue::Null) => (OpFn::Read, OpValue::Nil),
            (FastFn::Read, RawValue::Int(i)) => (OpFn::Read, OpValue::Int(i)),
            (FastFn::Read, RawValue::Empty | RawValue::Ints) => {
                (OpFn::Read, int_list_read(&self.ints))
            }
            _ => return None,
        };
        let op = Op {
            index: index.unwrap_or(position as u64),
            time,
            kind,
            process,
            f,
            value,
            error,
            sql: None,
        };
        Some((op, used))
    }

    /// The micro-ops of a non-empty transaction, from its first micro-op's `[` up to and
    /// including the transaction's `]`.
    fn mops(&mut self, c: &mut Cursor) -> Option<()> {
        loop {
            c.eat(b'[')?;
            c.ws();
            let (a, b) = c.string()?;
            let f = &c.b[a..b];
            c.ws();
            c.eat(b',')?;
            c.ws();
            let key = c.atom()?;
            c.ws();
            c.eat(b',')?;
            c.ws();
            let mop = match f {
                b"append" => RawMop::Append(key, c.atom()?),
                b"w" => RawMop::Write(key, c.atom()?),
                b"r" => RawMop::Read(
                    key,
                    match c.peek()? {
                        b'n' if c.null() => RawRead::Nil,
                        b'[' => {
                            c.i += 1;
                            let start = self.ints.len();
                            c.ints(&mut self.ints)?;
                            RawRead::List(start, self.ints.len())
                        }
                        _ => RawRead::Scalar(c.atom()?),
                    },
                ),
                _ => return None,
            };
            self.mops.push(mop);
            c.ws();
            c.eat(b']')?;
            c.ws();
            match c.next()? {
                b',' => c.ws(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Builds the parsed micro-ops, interning list reads in order.
    fn build_mops(&self, text: &[u8], lists: &mut impl ListSink) -> Vec<Mop> {
        let atom = |a: RawAtom| match a {
            RawAtom::Int(i) => Atom::Int(i),
            // Checked to be ASCII when parsed.
            RawAtom::Str(s, e) => Atom::Str(Arc::from(
                std::str::from_utf8(&text[s..e]).unwrap_or_default(),
            )),
        };
        self.mops
            .iter()
            .map(|&m| match m {
                RawMop::Append(k, e) => Mop::Append {
                    key: atom(k),
                    elem: atom(e),
                },
                RawMop::Write(k, v) => Mop::Write {
                    key: atom(k),
                    value: atom(v),
                },
                RawMop::Read(k, r) => {
                    let key = atom(k);
                    let value = match r {
                        RawRead::Nil => ReadResult::Nil,
                        RawRead::Scalar(a) => ReadResult::Scalar(atom(a)),
                        RawRead::List(s, e) => ReadResult::List(lists.list(&key, &self.ints[s..e])),
                    };
                    Mop::Read { key, value }
                }
            })
            .collect()
    }
}

/// A position in the bytes of a line.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Skips JSON whitespace other than newlines, which end the line.
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Takes a `null` if one is next.
    fn null(&mut self) -> bool {
        let yes = self.b[self.i..].starts_with(b"null");
        if yes {
            self.i += 4;
        }
        yes
    }

    /// An object key, after its opening quote: the bytes up to the closing quote.
    fn key(&mut self) -> Option<&[u8]> {
        let (a, b) = self.string_body()?;
        Some(&self.b[a..b])
    }

    /// A string of printable ASCII without escapes: the byte range of its contents.
    fn string(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        self.string_body()
    }

    fn string_body(&mut self) -> Option<(usize, usize)> {
        let start = self.i;
        loop {
            match self.next()? {
                b'"' => return Some((start, self.i - 1)),
                b'\\' => return None,
                b' '..=b'~' => {}
                _ => return None,
            }
        }
    }

    fn str(&self, a: usize, b: usize) -> Option<&str> {
        std::str::from_utf8(&self.b[a..b]).ok()
    }

    /// An integer or a string.
    fn atom(&mut self) -> Option<RawAtom> {
        if self.peek()? == b'"' {
            let (a, b) = self.string()?;
            Some(RawAtom::Str(a, b))
        } else {
            Some(RawAtom::Int(self.int()?))
        }
    }

    /// A JSON integer that fits an `i64`, as serde_json reads one. Declines `-0` (serde_json
    /// makes it a float), leading zeros, fractions and exponents.
    #[inline]
    fn int(&mut self) -> Option<i64> {
        let negative = self.peek()? == b'-';
        if negative {
            self.i += 1;
        }
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            v = v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        match digits.len() {
            0 => return None,
            1 => {}
            n => {
                if digits[0] == b'0' {
                    return None;
                }
                if n > 18 {
                    // Might have wrapped: redo it checked.
                    v = digits.iter().try_fold(0u64, |v, &d| {
                        v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                    })?;
                }
            }
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        let v = i64::try_from(v).ok()?;
        if negative {
            (v != 0).then_some(-v)
        } else {
            Some(v)
        }
    }

    /// A list of integers, after its `[`, up to and including the `]`, appended to `out`.
    fn ints(&mut self, out: &mut Vec<i64>) -> Option<()> {
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        // The common case first: small non-negative integers, commas and no spaces.
        let b = self.b;
        let mut i = self.i;
        loop {
            let start = i;
            let mut v = 0i64;
            if let Some((x, n)) = b.get(i..i + 8).and_then(short_number) {
                v = x;
                i += n;
            } else {
                while i - start < 18 {
                    let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')) else {
                        break;
                    };
                    if d > 9 {
                        break;
                    }
                    v = v * 10 + i64::from(d);
                    i += 1;
                }
            }
            let n = i - start;
            let sep = b.get(i).copied();
            if n == 0 || (n > 1 && b[start] == b'0') || !matches!(sep, Some(b',' | b']')) {
                // Anything else, from this element on: the general way.
                self.i = start;
                return self.more_ints(out);
            }
            out.push(v);
            i += 1;
            if sep == Some(b']') {
                self.i = i;
                return Some(());
            }
        }
    }

    /// The rest of a list of integers, from where an element is due.
    fn more_ints(&mut self, out: &mut Vec<i64>) -> Option<()> {
        loop {
            self.ws();
            out.push(self.int()?);
            self.ws();
            match self.next()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }
}

/// The digits at the start of 8 bytes, when there are 1 to 7 of them: their value and count.
/// Works on all 8 bytes at once (SWAR), which beats a loop with a branch per digit.
#[inline]
fn short_number(w: &[u8]) -> Option<(i64, usize)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let t = u64::from_le_bytes(w.try_into().ok()?) ^ (ONES * u64::from(b'0'));
    // The top bit of each byte that is not a digit, i.e. whose `t` is over 9.
    let high = ONES * 0x80;
    let not_digit = (((t & !high) + ONES * 0x76) | t) & high;
    let n = (not_digit.trailing_zeros() / 8) as usize;
    if !(1..8).contains(&n) {
        return None;
    }
    // Keep the n digits, as the low end of an 8-digit number with leading zeros: the first
    // digit (the lowest byte) becomes the highest.
    let d = t << (64 - 8 * n);
    let d = (d * 10 + (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    let d = (d * 100 + (d >> 16)) & 0x0000_ffff_0000_ffff;
    let d = (d * 10000 + (d >> 32)) & 0xffff_ffff;
    Some((d as i64, n))
}
