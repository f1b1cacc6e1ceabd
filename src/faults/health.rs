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

/// Which of a run's findings are a server refusing to go on after a disk error, by design: a
/// fatal line naming the failed call's OS error (InnoDB's `[FATAL] InnoDB: fdatasync() returned
/// 5`, or ENOSPC's error 28), and the abort that line asks for (a `got signal 6` within a second
/// after it). Stopping rather than carrying on over a failed write is what a database should do
/// (PostgreSQL's fsync lesson), so these do not make a run invalid; they are shown, with their line.
pub fn refusals(findings: &[HealthFinding]) -> Vec<bool> {
    let mut out = vec![false; findings.len()];
    let mut last: Option<f64> = None;
    for (i, f) in findings.iter().enumerate() {
        let first = f
            .excerpt
            .lines()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let disk_error = [
            "returned 5",
            "error 28",
            "error 5",
            "input/output error",
            "no space left",
        ]
        .iter()
        .any(|n| first.contains(n));
        if f.kind == HealthKind::Fatal && first.contains("[fatal]") && disk_error {
            out[i] = true;
            last = Some(f.at_s);
        } else if f.kind == HealthKind::Panic
            && first.contains("got signal 6")
            && last.is_some_and(|t| (0.0..=1.0).contains(&(f.at_s - t)))
        {
            out[i] = true;
        }
    }
    out
}

/// A log excerpt for people, at most `cap` lines: the line that says why first (the first one
/// [`classify`] flags, else the last that says error or failed), then the others in order,
/// each run of lines alike but for their numbers (timestamps, ids) said once with a count,
/// and what the cap left out counted.
pub fn excerpt_lines(text: &str, cap: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let cause = lines
        .iter()
        .position(|l| classify(l).is_some())
        .or_else(|| {
            lines.iter().rposition(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("error") || l.contains("failed")
            })
        });
    let shape = |l: &str| -> String {
        let mut s = String::with_capacity(l.len());
        for c in l.chars() {
            if !c.is_ascii_digit() {
                s.push(c);
            } else if !s.ends_with('#') {
                s.push('#');
            }
        }
        s
    };
    let mut out: Vec<String> = Vec::new();
    if let Some(c) = cause {
        out.push(lines[c].to_string());
    }
    let mut i = 0;
    while i < lines.len() {
        if Some(i) == cause {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < lines.len() && Some(j) != cause && shape(lines[j]) == shape(lines[i]) {
            j += 1;
        }
        out.push(if j - i > 1 {
            format!("{} (and {} more like it)", lines[i], j - i - 1)
        } else {
            lines[i].to_string()
        });
        i = j;
    }
    if out.len() > cap {
        let more = out.len() - cap;
        out.truncate(cap);
        out.push(format!(
            "... {more} more line{}",
            if more == 1 { "" } else { "s" }
        ));
    }
    out
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
    fn an_excerpt_leads_with_its_cause_and_says_repeats_once() {
        let mut log = String::from("time=\"02:05:11Z\" level=info msg=\"Server ready.\"\n");
        for id in 1..=10 {
            log.push_str(&format!(
                "time=\"02:05:12Z\" level=info msg=NewConnection connectionID={id}\n"
            ));
        }
        log.push_str("Failed to load database isoscope due to error: Failed to loadFooter: negative offset\n");
        let e = excerpt_lines(&log, 12);
        assert!(e[0].starts_with("Failed to load database"), "{e:?}");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[2].ends_with("connectionID=1 (and 9 more like it)"),
            "{e:?}"
        );
        let many: String = (0..30)
            .map(|i| format!("line {i}{}\n", "x".repeat(i)))
            .collect();
        let e = excerpt_lines(&many, 12);
        assert_eq!(e.len(), 13);
        assert_eq!(e[12], "... 18 more lines");
    }

    #[test]
    fn a_fatal_disk_error_and_its_abort_are_a_refusal_not_a_crash() {
        let f = |kind, at_s, excerpt: &str| HealthFinding {
            kind,
            at_s,
            message: String::new(),
            excerpt: excerpt.into(),
        };
        let findings = [
            f(HealthKind::Fatal, 23.9, "2026-11-26  2:04:03 12 [ERROR] [FATAL] InnoDB: fdatasync() returned 5"),
            f(HealthKind::Panic, 23.9, "261126  2:04:03 [ERROR] /usr/sbin/mariadbd got signal 6 ;\nSorry, we probably made a mistake"),
            f(HealthKind::Fatal, 39.5, "2026-11-26  2:04:19 9 [ERROR] [FATAL] InnoDB: pwrite(\"ib_logfile0\") returned -1, operating system error 28"),
            f(HealthKind::Panic, 50.0, "261126  2:04:30 [ERROR] /usr/sbin/mariadbd got signal 6 ;"),
            f(HealthKind::Panic, 51.0, "panic: runtime error: index out of range"),
        ];
        assert_eq!(refusals(&findings), [true, true, true, false, false]);
    }

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
