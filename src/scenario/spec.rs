//! The scenario file: a table and its rows, sessions' statements in a fixed interleaving, and
//! the outcomes that show the anomaly.
//!
//! ```toml
//! title = "Aborted read"
//! anomaly = "G1a"
//! about = "T2 must never see a value T1 wrote and then rolled back."
//! steps = [
//!   ["T1", "update test set value = 101 where id = 1"],
//!   ["T2", "select * from test"],                     # T2's read 1: "T2:1"
//!   ["T1", "rollback"],
//!   ["T2", "commit"],
//! ]
//! [[anomaly_if]]                  # the anomaly shows when every condition of one entry holds
//! committed = ["T2"]
//! saw = { "T2:1" = { 1 = 101 } }  # T2's first read returned the row id 1 with value 101
//! ```
//!
//! Reads are numbered per session from 1 (`T2:1`), every statement that starts with `select`
//! counts as one, and `T2:*` means any read of T2. A row is its first two columns, a key and a
//! value, both integers. `setup` defaults to Hermitage's table (`test`, rows 1 => 10 and
//! 2 => 20); `final` is the query that reads the table after every session ended. Each session
//! begins before the first step unless a `begin` step places its start.
//!
//! Invariant: a [`Scenario`] that parsed is runnable: every condition names a session that has
//! steps and a read that exists, and every row key is an integer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checker::Anomaly;
use crate::workload::Isolation;

/// Hermitage's table: two rows, created fresh for every cell.
pub const DEFAULT_SETUP: [&str; 2] = [
    "create table test (id int primary key, value int) engine=innodb",
    "insert into test (id, value) values (1, 10), (2, 20)",
];

/// The default query that reads the whole table, before and after the sessions.
pub const DEFAULT_FINAL: &str = "select * from test order by id";

/// Why a scenario file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with the step or condition it is in.
        message: String,
    },
    /// A scenario asked for by name is in no file.
    #[error("no scenario named {name:?} (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
}

/// What Hermitage found for MySQL 5.6 at one level.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expected {
    /// The anomaly occurs.
    Anomaly,
    /// The level prevents it.
    Prevented,
    /// Hermitage did not run this test at this level.
    Untested,
}

/// Hermitage's published outcomes for MySQL 5.6, per level.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Mysql56 {
    /// At READ UNCOMMITTED.
    pub read_uncommitted: Option<Expected>,
    /// At READ COMMITTED.
    pub read_committed: Option<Expected>,
    /// At REPEATABLE READ.
    pub repeatable_read: Option<Expected>,
    /// At SERIALIZABLE.
    pub serializable: Option<Expected>,
}

impl Mysql56 {
    /// The outcome at a level (untested when the file does not say).
    pub fn at(&self, level: Isolation) -> Expected {
        match level {
            Isolation::ReadUncommitted => self.read_uncommitted,
            Isolation::ReadCommitted => self.read_committed,
            Isolation::RepeatableRead => self.repeatable_read,
            Isolation::Serializable => self.serializable,
        }
        .unwrap_or(Expected::Untested)
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    title: String,
    anomaly: String,
    about: String,
    #[serde(default)]
    setup: Option<Vec<String>>,
    #[serde(rename = "final", default)]
    final_query: Option<String>,
    steps: Vec<(String, String)>,
    anomaly_if: Vec<RawCondition>,
    #[serde(default)]
    checker: Vec<String>,
    #[serde(rename = "mysql-5-6", default)]
    mysql56: Option<Mysql56>,
}

type RawRows = BTreeMap<String, i64>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(default)]
    committed: Vec<String>,
    #[serde(default)]
    saw: BTreeMap<String, RawRows>,
    #[serde(default)]
    saw_exactly: BTreeMap<String, RawRows>,
    #[serde(rename = "final", default)]
    final_rows: Option<RawRows>,
}

/// Rows as key => value.
pub type Rows = BTreeMap<i64, i64>;

/// Which read a condition looks at.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub enum ReadRef {
    /// The n-th read (from 1) of a session.
    Nth(String, u32),
    /// Any read of a session.
    Any(String),
}

/// What a statement is, as far as the runner and the checker care.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// `begin` / `start transaction`.
    Begin,
    /// `commit`.
    Commit,
    /// `rollback`.
    Rollback,
    /// `select * from test where id = K` / `where id in (K, ..)`; `None`: the whole table.
    ItemRead(Option<Vec<i64>>),
    /// `update test set value = V where id = K`.
    ItemWrite {
        /// The row.
        key: i64,
        /// The value written.
        value: i64,
    },
    /// Another statement that returns rows (counts as a read).
    OtherRead,
    /// Any other statement.
    Other,
}

impl Shape {
    /// Classifies a statement by its normalized text.
    pub fn of(sql: &str) -> Shape {
        let s = sql
            .trim()
            .trim_end_matches(';')
            .to_ascii_lowercase()
            .replace(['(', ')', ','], " ");
        let w: Vec<&str> = s.split_whitespace().collect();
        let int = |t: &str| t.parse::<i64>().ok();
        match w.as_slice() {
            ["begin"] | ["start", "transaction"] => Shape::Begin,
            ["commit"] => Shape::Commit,
            ["rollback"] => Shape::Rollback,
            ["select", "*", "from", "test"] => Shape::ItemRead(None),
            ["select", "*", "from", "test", "where", "id", "=", k] if int(k).is_some() => {
                Shape::ItemRead(Some(vec![int(k).unwrap_or_default()]))
            }
            ["select", "*", "from", "test", "where", "id", "in", ks @ ..]
                if !ks.is_empty() && ks.iter().all(|k| int(k).is_some()) =>
            {
                Shape::ItemRead(Some(ks.iter().filter_map(|k| int(k)).collect()))
            }
            ["update", "test", "set", "value", "=", v, "where", "id", "=", k]
                if int(v).is_some() && int(k).is_some() =>
            {
                Shape::ItemWrite {
                    key: int(k).unwrap_or_default(),
                    value: int(v).unwrap_or_default(),
                }
            }
            ["select", ..] => Shape::OtherRead,
            _ => Shape::Other,
        }
    }

    /// Whether the statement returns rows (and so is numbered as a read).
    pub fn is_read(&self) -> bool {
        matches!(self, Shape::ItemRead(_) | Shape::OtherRead)
    }
}

/// One statement of one session.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// The session that sends it.
    pub session: String,
    /// The SQL, as written.
    pub sql: String,
    /// What it is.
    pub shape: Shape,
    /// For reads: the read's number in its session (from 1).
    pub read: Option<u32>,
}

/// One way the anomaly shows: all of these hold.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Condition {
    /// These sessions committed.
    pub committed: Vec<String>,
    /// These reads returned at least these rows.
    pub saw: Vec<(ReadRef, Rows)>,
    /// These reads returned exactly these rows.
    pub saw_exactly: Vec<(ReadRef, Rows)>,
    /// The table ended exactly so.
    pub final_rows: Option<Rows>,
}

/// A scenario, checked and ready to run.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// Its name (`g1a`): the file's stem unless the file says.
    pub name: String,
    /// A title for people.
    pub title: String,
    /// The anomaly's short name (`G1a`).
    pub anomaly: String,
    /// What the anomaly is, in words.
    pub about: String,
    /// Statements that make the table, run once per cell before the sessions.
    pub setup: Vec<String>,
    /// The query that reads the table before and after the sessions.
    pub final_query: String,
    /// Sessions in order of first appearance.
    pub sessions: Vec<String>,
    /// The statements in their interleaving.
    pub steps: Vec<Step>,
    /// The ways the anomaly shows (any one suffices).
    pub anomaly_if: Vec<Condition>,
    /// The checker's names for this anomaly (`G1b`, `lost-update`): where the scenario has only
    /// item reads and writes, the checker must find one of them exactly when the scenario shows
    /// its anomaly. Empty: any anomaly the checker finds counts.
    pub checker: Vec<Anomaly>,
    /// Hermitage's MySQL 5.6 outcomes, when it has them.
    pub mysql56: Option<Mysql56>,
    /// Where it was read from.
    pub path: PathBuf,
}

impl Scenario {
    /// Parses a scenario from TOML text; `path` names it in errors and gives its default name.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let f: File = toml::from_str(text).map_err(|e| {
            let one_line = e.to_string().lines().next().unwrap_or("").to_string();
            let at = e
                .span()
                .map(|s| format!("line {}: ", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            invalid(format!("{at}{one_line} ({})", e.message()))
        })?;
        let name = f.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid(format!(
                "the name {name:?} must be letters, digits and '-'"
            )));
        }
        if f.steps.is_empty() {
            return Err(invalid("there are no steps".into()));
        }
        let mut sessions: Vec<String> = Vec::new();
        let mut reads: BTreeMap<String, u32> = BTreeMap::new();
        let mut steps = Vec::new();
        for (i, (session, sql)) in f.steps.into_iter().enumerate() {
            if session.is_empty() || sql.trim().is_empty() {
                return Err(invalid(format!(
                    "step {}: give a session and a statement",
                    i + 1
                )));
            }
            if !sessions.contains(&session) {
                sessions.push(session.clone());
            }
            let shape = Shape::of(&sql);
            let read = shape.is_read().then(|| {
                let n = reads.entry(session.clone()).or_default();
                *n += 1;
                *n
            });
            steps.push(Step {
                session,
                sql,
                shape,
                read,
            });
        }
        if f.anomaly_if.is_empty() {
            return Err(invalid(
                "say when the anomaly shows: at least one [[anomaly_if]]".into(),
            ));
        }
        let mut conditions = Vec::new();
        for (n, raw) in f.anomaly_if.into_iter().enumerate() {
            let at = |m: String| invalid(format!("anomaly_if {}: {m}", n + 1));
            for s in &raw.committed {
                if !sessions.contains(s) {
                    return Err(at(format!("committed names {s:?}, which has no steps")));
                }
            }
            let read_list = |m: BTreeMap<String, RawRows>| {
                let mut out = Vec::new();
                for (r, rows) in m {
                    out.push((
                        read_ref(&r, &sessions, &reads).map_err(&at)?,
                        rows_of(rows, &at)?,
                    ));
                }
                Ok::<_, ScenarioError>(out)
            };
            let saw = read_list(raw.saw)?;
            let saw_exactly = read_list(raw.saw_exactly)?;
            let final_rows = raw.final_rows.map(|r| rows_of(r, &at)).transpose()?;
            conditions.push(Condition {
                committed: raw.committed,
                saw,
                saw_exactly,
                final_rows,
            });
        }
        let mut checker = Vec::new();
        for a in &f.checker {
            checker.push(a.parse::<Anomaly>().map_err(|_| {
                invalid(format!(
                    "checker: {a:?} is not an anomaly the checker names"
                ))
            })?);
        }
        Ok(Scenario {
            checker,
            name,
            title: f.title,
            anomaly: f.anomaly,
            about: f.about.trim().to_string(),
            setup: f
                .setup
                .unwrap_or_else(|| DEFAULT_SETUP.iter().map(|s| s.to_string()).collect()),
            final_query: f.final_query.unwrap_or_else(|| DEFAULT_FINAL.into()),
            sessions,
            steps,
            anomaly_if: conditions,
            mysql56: f.mysql56,
            path: path.to_path_buf(),
        })
    }

    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Whether every statement is an item read or write (or begin, commit, rollback), so the
    /// history can go through the rw-register checker.
    pub fn item_only(&self) -> bool {
        self.steps
            .iter()
            .all(|s| !matches!(s.shape, Shape::OtherRead | Shape::Other))
    }

    /// Hermitage's MySQL 5.6 outcome at a level.
    pub fn mysql56_at(&self, level: Isolation) -> Expected {
        self.mysql56
            .as_ref()
            .map_or(Expected::Untested, |m| m.at(level))
    }
}

fn read_ref(
    r: &str,
    sessions: &[String],
    reads: &BTreeMap<String, u32>,
) -> Result<ReadRef, String> {
    let (s, n) = r
        .rsplit_once(':')
        .ok_or_else(|| format!("{r:?} is not SESSION:N or SESSION:*"))?;
    if !sessions.iter().any(|x| x == s) {
        return Err(format!("{r:?} names session {s:?}, which has no steps"));
    }
    let has = reads.get(s).copied().unwrap_or(0);
    if n == "*" {
        return if has > 0 {
            Ok(ReadRef::Any(s.into()))
        } else {
            Err(format!("{r:?}: {s} reads nothing"))
        };
    }
    match n.parse::<u32>() {
        Ok(k) if k >= 1 && k <= has => Ok(ReadRef::Nth(s.into(), k)),
        _ => Err(format!("{r:?}: {s} has reads 1 to {has}")),
    }
}

fn rows_of(raw: RawRows, at: &impl Fn(String) -> ScenarioError) -> Result<Rows, ScenarioError> {
    raw.into_iter()
        .map(|(k, v)| {
            k.parse::<i64>()
                .map(|k| (k, v))
                .map_err(|_| at(format!("row key {k:?} is not an integer")))
        })
        .collect()
}

/// The scenarios in a folder (every `*.toml`), sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let io = |source| ScenarioError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out: Vec<Scenario> = paths
        .iter()
        .map(|p| Scenario::load(p))
        .collect::<Result<_, _>>()?;
    out.sort_by_key(|s| hermitage_rank(&s.name));
    Ok(out)
}

/// Hermitage's order of its tests; other names after them, alphabetically.
const HERMITAGE_ORDER: [&str; 15] = [
    "g0",
    "g1a",
    "g1b",
    "g1c",
    "otv",
    "pmp",
    "pmp-write",
    "p4",
    "g-single",
    "g-single-dependencies",
    "g-single-write-1",
    "g-single-write-2",
    "g2-item",
    "g2",
    "g2-two-edges",
];

fn hermitage_rank(name: &str) -> (usize, String) {
    (
        HERMITAGE_ORDER
            .iter()
            .position(|n| *n == name)
            .unwrap_or(HERMITAGE_ORDER.len()),
        name.to_string(),
    )
}

/// Picks scenarios: each entry is a name among `known` or a path to a `.toml` file.
pub fn select(known: &[Scenario], wanted: &[String]) -> Result<Vec<Scenario>, ScenarioError> {
    let mut out = Vec::new();
    for w in wanted {
        if w.ends_with(".toml") {
            out.push(Scenario::load(Path::new(w))?);
        } else if let Some(s) = known.iter().find(|s| s.name == *w) {
            out.push(s.clone());
        } else {
            return Err(ScenarioError::Unknown {
                name: w.clone(),
                known: known
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINE: &str = include_str!("../../tests/fixtures/scenarios/mine.toml");

    #[test]
    fn a_scenario_parses_with_numbered_reads_and_shapes() {
        let s = Scenario::parse(MINE, Path::new("x/mine.toml")).unwrap();
        assert_eq!(s.name, "mine");
        assert_eq!(s.sessions, ["A", "B"]);
        assert_eq!((s.steps[0].read, s.steps[1].read), (Some(1), Some(1)));
        assert_eq!(s.steps[1].shape, Shape::ItemRead(Some(vec![1])));
        assert_eq!(s.steps[3].shape, Shape::ItemWrite { key: 1, value: 12 });
        assert!(s.item_only());
        assert_eq!(s.checker, [Anomaly::LostUpdate]);
        assert_eq!(
            s.anomaly_if[0].saw[0],
            (ReadRef::Nth("A".into(), 1), Rows::from([(1, 10)]))
        );
        assert_eq!(s.mysql56_at(Isolation::Serializable), Expected::Prevented);
        assert_eq!(s.mysql56_at(Isolation::ReadCommitted), Expected::Untested);
        assert_eq!(Shape::of("delete from test where value = 20"), Shape::Other);
        assert_eq!(
            Shape::of("select * from test where value % 3 = 0"),
            Shape::OtherRead
        );
        assert_eq!(
            Shape::of("SELECT * FROM test WHERE id IN (1,2);"),
            Shape::ItemRead(Some(vec![1, 2]))
        );
        assert_eq!(Shape::of("select * from test"), Shape::ItemRead(None));
    }

    #[test]
    fn bad_files_name_the_file_and_the_problem() {
        let err = |text: &str| {
            Scenario::parse(text, Path::new("mine.toml"))
                .unwrap_err()
                .to_string()
        };
        let e = err(&MINE.replace("\"B:1\"", "\"B:3\""));
        assert!(e.starts_with("mine.toml: anomaly_if 1:"), "{e}");
        assert!(e.contains("reads 1 to 1"), "{e}");
        let e = err(&MINE.replace("committed = [\"A\", \"B\"]", "committed = [\"T9\"]"));
        assert!(e.contains("T9"), "{e}");
        let e = err(&MINE.replace("title", "titel"));
        assert!(e.starts_with("mine.toml: line"), "{e}");
        let e = err(&MINE.replace("{ 1 = 10 }", "{ x = 10 }"));
        assert!(e.contains("not an integer"), "{e}");
        let e = err(&MINE.replace("lost-update", "lost-updates"));
        assert!(e.contains("not an anomaly the checker names"), "{e}");
    }
}
