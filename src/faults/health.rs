//! The health watch: what the server does on its own while it is tested.
//!
//! Why: a database can fail without breaking isolation or losing a write: it can crash, refuse
//! to start again, or log that it found a corrupt page. Dolt's own crash tests assert that the
//! server came back healthy; isoscope reports the same, as findings with the time and the log
//! lines that show them.
//!
//! [`LogWatch`] reads the server's log as it grows and picks out panics, corruption and fatal
//! errors ([`classify`]). The runner adds the process-level findings: the server exiting when no
//! fault was being injected, and the server not coming back after one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::server::flavor::HealthPatterns;

/// What kind of trouble. Names (serde's and strum's) are kebab-case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "kebab-case")]
pub enum HealthKind {
    /// The process exited while no fault was being injected.
    ExitedOnItsOwn,
    /// After a fault, the server did not start again.
    DidNotComeBack,
    /// The log shows a crash: a Go panic, a fatal signal, a failed assertion.
    Panic,
    /// The log shows corruption: bad checksums, corrupt pages or journals, possible data loss.
    Corruption,
    /// The log shows a fatal error or an abort.
    Fatal,
}

impl HealthKind {
    /// The name in run.json and reports.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What a log line of this kind shows, in words.
    pub fn log_message(self) -> &'static str {
        match self {
            HealthKind::Panic => "the server's log shows a crash",
            HealthKind::Corruption => "the server's log shows corruption",
            _ => "the server's log shows a fatal error",
        }
    }
}

impl std::fmt::Display for HealthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding of the health watch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HealthFinding {
    /// What kind.
    pub kind: HealthKind,
    /// Seconds since the run began.
    pub at_s: f64,
    /// What happened, in words.
    pub message: String,
    /// The log lines that show it.
    pub excerpt: String,
}

/// Which kind of trouble a log line shows, if any, by the patterns every flavor shares
/// ([`HealthPatterns::COMMON`]).
pub fn classify(line: &str) -> Option<HealthKind> {
    classify_with(&HealthPatterns::COMMON, line)
}

/// Which kind of trouble a log line shows by a flavor's patterns
/// ([`crate::server::FlavorSpec::health_patterns`]); corruption is looked for first, then a
/// crash, then a fatal error.
pub fn classify_with(patterns: &HealthPatterns, line: &str) -> Option<HealthKind> {
    let l = line.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| l.contains(n));
    if has(patterns.corruption) {
        Some(HealthKind::Corruption)
    } else if has(patterns.panic) {
        Some(HealthKind::Panic)
    } else if has(patterns.fatal) {
        Some(HealthKind::Fatal)
    } else {
        None
    }
}

/// Lines of context kept with a finding.
const EXCERPT_LINES: usize = 8;
/// Findings kept per kind; a crash loop would otherwise flood the report.
const MAX_PER_KIND: usize = 5;

/// Reads a log as it grows and reports the lines that show trouble.
pub struct LogWatch {
    path: PathBuf,
    patterns: &'static HealthPatterns,
    offset: u64,
    /// An incomplete last line, kept until its end arrives.
    partial: String,
    /// The finding being built, while its excerpt fills.
    open: Option<(HealthKind, Vec<String>)>,
    counts: std::collections::HashMap<HealthKind, usize>,
}

impl LogWatch {
    /// Watches `path` from its current end (earlier lines belong to earlier phases), by the
    /// flavor's `patterns`.
    pub fn new(path: &Path, patterns: &'static HealthPatterns) -> LogWatch {
        LogWatch {
            path: path.to_path_buf(),
            patterns,
            offset: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            partial: String::new(),
            open: None,
            counts: Default::default(),
        }
    }

    /// Reads what was appended since the last call and returns the findings it completes, as
    /// (kind, excerpt). A matched line opens a finding; it closes after a few lines
    /// or at a line that starts another finding. Call [`LogWatch::flush`] at the end.
    pub fn poll(&mut self) -> Vec<(HealthKind, String)> {
        let buf = crate::server::read_since(&self.path, self.offset);
        self.offset += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let mut out = Vec::new();
        while let Some(nl) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=nl).collect();
            self.line(line.trim_end(), &mut out);
        }
        out
    }

    /// Closes the finding being built, if any.
    pub fn flush(&mut self) -> Vec<(HealthKind, String)> {
        let mut out = Vec::new();
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(line.trim_end(), &mut out);
        }
        if let Some((k, lines)) = self.open.take() {
            out.push((k, lines.join("\n")));
        }
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<(HealthKind, String)>) {
        let kind = classify_with(self.patterns, line);
        if let Some((open_kind, lines)) = &mut self.open {
            // Lines of the same trouble (a stack trace, a run of corruption messages) join the
            // open finding; another kind closes it.
            if kind.is_none() || kind == Some(*open_kind) {
                lines.push(line.to_string());
                if lines.len() >= EXCERPT_LINES {
                    let (k, l) = self.open.take().expect("open above");
                    out.push((k, l.join("\n")));
                }
                return;
            }
            let (k, l) = self.open.take().expect("open above");
            out.push((k, l.join("\n")));
        }
        if let Some(k) = kind {
            let n = self.counts.entry(k).or_default();
            if *n < MAX_PER_KIND {
                *n += 1;
                self.open = Some((k, vec![line.to_string()]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn kind_names_agree_in_serde_and_text() {
        assert_eq!(
            crate::names::serde_names::<HealthKind>(),
            [
                "exited-on-its-own",
                "did-not-come-back",
                "panic",
                "corruption",
                "fatal"
            ]
        );
        for &k in <HealthKind as strum::VariantArray>::VARIANTS {
            assert_eq!(k.to_string(), k.name());
        }
    }

    #[test]
    fn trouble_is_told_from_routine_recovery() {
        for (line, kind) in [
            ("2026-11-21 12:00:01 0 [ERROR] InnoDB: Database page corruption on disk or a failed read of file './isoscope/lists.ibd' page [page id: space=5, page number=3]", Some(HealthKind::Corruption)),
            ("[ERROR] InnoDB: Page [page id: space=0, page number=7] log sequence number 123 is in the future! Possible data loss", Some(HealthKind::Corruption)),
            // Dolt 1.86.4, starting on a journal whose middle was overwritten.
            ("time=\"2026-11-21T14:36:03Z\" level=error msg=\"invalid journal record at offset 2869: invalid journal record: CRC checksum does not match\"", Some(HealthKind::Corruption)),
            ("Failed to load database t due to error: possible data loss detected in journal file at offset 2869: corrupted journal", Some(HealthKind::Corruption)),
            ("panic: runtime error: invalid memory address or nil pointer dereference", Some(HealthKind::Panic)),
            ("251121 12:00:01 [ERROR] mariadbd got signal 11 ;", Some(HealthKind::Panic)),
            ("2026-11-21 12:00:01 0 [ERROR] Aborting", Some(HealthKind::Fatal)),
            ("time=\"2026-11-21T12:00:01Z\" level=fatal msg=\"failed to load database\"", Some(HealthKind::Fatal)),
            ("2026-11-21 12:00:01 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=47153", None),
            ("2026-11-21 12:00:01 0 [Note] mariadbd: ready for connections.", None),
            ("INFO[0000] Server ready. Accepting connections.", None),
            ("2026-11-21 12:00:01 0 [Warning] Aborted connection 12 to db: 'isoscope' user: 'root'", None),
        ] {
            assert_eq!(classify(line), kind, "{line}");
        }
    }

    #[test]
    fn the_watch_reads_only_new_lines_and_keeps_an_excerpt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        std::fs::write(&path, "panic: before the watch began\n").unwrap();
        let mut w = LogWatch::new(&path, &HealthPatterns::COMMON);
        assert!(w.poll().is_empty());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(
            f,
            "INFO ready\npanic: boom\ngoroutine 1 [running]:\nmain.main()\n"
        )
        .unwrap();
        // The panic's excerpt is still filling.
        assert!(w.poll().is_empty());
        write!(f, "[ERROR] InnoDB: checksum mismatch in page 3\npartial li").unwrap();
        let got = w.poll();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, HealthKind::Panic);
        assert_eq!(got[0].1, "panic: boom\ngoroutine 1 [running]:\nmain.main()");
        writeln!(f, "ne").unwrap();
        assert!(w.poll().is_empty());
        let rest = w.flush();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].0, HealthKind::Corruption);
        assert!(rest[0].1.ends_with("partial line"), "{}", rest[0].1);
    }

    #[test]
    fn a_crash_loop_does_not_flood() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.log");
        std::fs::write(&path, "").unwrap();
        let mut w = LogWatch::new(&path, &HealthPatterns::COMMON);
        let lines: String = (0..50).map(|i| format!("panic: {i}\n")).collect();
        std::fs::write(&path, lines).unwrap();
        let mut got = w.poll();
        got.extend(w.flush());
        assert_eq!(
            got.len(),
            MAX_PER_KIND,
            "a finding holds {EXCERPT_LINES} lines; the rest are dropped"
        );
        assert!(got.iter().all(|(k, _)| *k == HealthKind::Panic));
    }
}
