//! Why a history could not be read: one error type for every reader, naming the file and
//! where in it. Its own module so that the readers (`json_text`, `edn_forms`, `build`) and the
//! entry point (`read`) all depend on it and not on each other.

use std::path::PathBuf;

/// Why a history could not be read. Each variant names the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said (not a `source`: the message already says it, once).
        error: std::io::Error,
    },
    /// The text is not well-formed EDN or JSON.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A well-formed value is not a valid op.
    #[error("{path}: op {position}{}: {message}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Op {
        /// The file.
        path: PathBuf,
        /// 0-based position of the op in the file.
        position: usize,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The file is no history at all (its first value is not an op): one message whatever the
    /// file is (Markdown, TOML, JSON of something else).
    #[error("{path}:{line}: not a history: expected EDN or JSON maps such as {{:type :invoke ...}} or {{\"type\":\"invoke\",...}}")]
    NotAHistory {
        /// The file.
        path: PathBuf,
        /// 1-based line of its first value.
        line: usize,
    },
    /// The file holds no ops at all.
    #[error("{path}: the file holds no operations")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}
