//! A small generic data tree that both EDN and JSON parse into before ops are typed.
//!
//! Why not use `serde_json::Value` or an EDN crate's value: one tree for both formats
//! keeps the op-typing code single, and [`Datum::Ints`] stores the long integer lists of
//! list-append reads flat (8 bytes an element) instead of as a vector of tagged values.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A parsed value of EDN or JSON.
#[derive(Clone, PartialEq, Debug)]
pub enum Datum {
    /// `nil` / `null`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (JSON strings, EDN strings and symbols).
    Str(String),
    /// An EDN keyword, without its colon.
    Keyword(String),
    /// A vector, list or set of mixed values.
    List(Vec<Datum>),
    /// A vector, list or set whose elements are all integers.
    Ints(Vec<i64>),
    /// A map, in source order.
    Map(Vec<(Datum, Datum)>),
}

impl Datum {
    /// The text of a string or keyword.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Datum::Str(s) | Datum::Keyword(s) => Some(s),
            _ => None,
        }
    }

    /// The value of an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Datum::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Looks a field up in a map by name, whether the key is a keyword, a string or (for
    /// `:index`-style names that are numbers) an integer.
    pub fn get(&self, name: &str) -> Option<&Datum> {
        match self {
            Datum::Map(kvs) => kvs
                .iter()
                .find(|(k, _)| k.as_str() == Some(name))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short description of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Datum::Nil => "nil",
            Datum::Bool(_) => "a boolean",
            Datum::Int(_) => "an integer",
            Datum::Float(_) => "a float",
            Datum::Str(_) => "a string",
            Datum::Keyword(_) => "a keyword",
            Datum::List(_) | Datum::Ints(_) => "a list",
            Datum::Map(_) => "a map",
        }
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Datum::Nil => write!(f, "nil"),
            Datum::Bool(b) => write!(f, "{b}"),
            Datum::Int(i) => write!(f, "{i}"),
            Datum::Float(x) => write!(f, "{x}"),
            Datum::Str(s) => write!(f, "{s:?}"),
            Datum::Keyword(s) => write!(f, ":{s}"),
            Datum::List(v) => {
                write!(f, "[")?;
                for (i, d) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{d}")?;
                }
                write!(f, "]")
            }
            Datum::Ints(v) => {
                write!(f, "[")?;
                for (i, d) in v.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{d}")?;
                }
                write!(f, "]")
            }
            Datum::Map(kvs) => {
                write!(f, "{{")?;
                for (i, (k, v)) in kvs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

impl serde::Serialize for Datum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Datum::Nil => s.serialize_unit(),
            Datum::Bool(b) => s.serialize_bool(*b),
            Datum::Int(i) => s.serialize_i64(*i),
            Datum::Float(x) => s.serialize_f64(*x),
            Datum::Str(x) | Datum::Keyword(x) => s.serialize_str(x),
            Datum::List(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for d in v {
                    seq.serialize_element(d)?;
                }
                seq.end()
            }
            Datum::Ints(v) => v.serialize(s),
            Datum::Map(kvs) => {
                let mut map = s.serialize_map(Some(kvs.len()))?;
                for (k, v) in kvs {
                    match k {
                        Datum::Str(x) | Datum::Keyword(x) => map.serialize_entry(x, v)?,
                        other => map.serialize_entry(&other.to_string(), v)?,
                    }
                }
                map.end()
            }
        }
    }
}

struct DatumVisitor;

impl<'de> Visitor<'de> for DatumVisitor {
    type Value = Datum;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Datum, E> {
        Ok(Datum::Nil)
    }
    fn visit_none<E>(self) -> Result<Datum, E> {
        Ok(Datum::Nil)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Datum, E> {
        Ok(Datum::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Datum, E> {
        Ok(Datum::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Datum, E> {
        i64::try_from(u)
            .map(Datum::Int)
            .map_err(|_| E::custom(format!("integer {u} is too large")))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Datum, E> {
        Ok(Datum::Float(x))
    }
    fn visit_str<E>(self, s: &str) -> Result<Datum, E> {
        Ok(Datum::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Datum, E> {
        Ok(Datum::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Datum, A::Error> {
        let mut ints: Vec<i64> = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(d) = seq.next_element::<Datum>()? {
            match d {
                Datum::Int(i) => ints.push(i),
                other => {
                    let mut list: Vec<Datum> = ints.into_iter().map(Datum::Int).collect();
                    list.push(other);
                    while let Some(d) = seq.next_element::<Datum>()? {
                        list.push(d);
                    }
                    return Ok(Datum::List(list));
                }
            }
        }
        Ok(Datum::Ints(ints))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Datum, A::Error> {
        let mut kvs = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((k, v)) = map.next_entry::<String, Datum>()? {
            kvs.push((Datum::Str(k), v));
        }
        Ok(Datum::Map(kvs))
    }
}

impl<'de> Deserialize<'de> for Datum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Datum, D::Error> {
        d.deserialize_any(DatumVisitor)
    }
}
