//! The `isoscope` command line: `run` a workload against a server, `compare` servers and
//! levels side by side (and `report` on recorded runs), `check` a history, `gen`erate one. One
//! submodule per command.
//!
//! Exit codes are part of the interface, as with Elle's tools: 0 valid, 1 anomalies found,
//! 2 unknown, 3 bad input or usage. Bad input is reported in one line that names the file,
//! the line or op, and the problem.

pub mod check;
pub mod compare;
pub mod gen;
pub mod run;
pub mod scenarios;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code: every history valid.
pub const EXIT_VALID: i32 = 0;
/// Exit code: anomalies found in some history.
pub const EXIT_INVALID: i32 = 1;
/// Exit code: some history could not be decided (and none was invalid).
pub const EXIT_UNKNOWN: i32 = 2;
/// Exit code: bad input or usage.
pub const EXIT_ERROR: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "isoscope",
    version,
    about = "Finds isolation and durability anomalies in MySQL-compatible databases, Jepsen/Elle-style"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Drive a workload against a server (started by isoscope, or given by URL), record the
    /// history, and check it.
    #[command(
        after_help = "Exit codes: 0 valid, 1 anomalies found (or the server failed), 2 unknown, 3 bad input or an error."
    )]
    Run(Box<run::RunArgs>),
    /// Run servers x isolation levels x workloads, a fresh server per cell, and write the
    /// side-by-side report (HTML, Markdown, JSON). Exits 1 if any cell is invalid, else 2 if
    /// any is unknown, else 0; 3 on an error.
    #[command(
        after_help = "Exit codes: 1 if any cell is invalid, else 2 if any is unknown, else 0; 3 on bad input or an error."
    )]
    Compare(compare::CompareArgs),
    /// Build the side-by-side report from recorded runs.
    #[command(after_help = "Exit codes: 0 the report was written, 3 bad input or an error.")]
    Report(compare::ReportArgs),
    /// Run Hermitage's anomaly scenarios (or your own) at every isolation level on every server,
    /// and print the table: anomaly or prevented, and how.
    #[command(
        after_help = "Exit codes: 0 every cell decided (anomaly or prevented), 2 some cell in doubt, 3 bad input or an error."
    )]
    Scenarios(Box<scenarios::ScenariosArgs>),
    /// Check histories (Jepsen EDN, Elle JSON, or isoscope JSON Lines) for anomalies.
    #[command(
        after_help = "Exit codes: 0 valid, 1 anomalies found, 2 unknown, 3 bad input. With many files each readable one is checked and reported, and the worst wins: 3 if any file could not be read or checked, else 1 if any is invalid, else 2 if any is unknown, else 0."
    )]
    Check(check::CheckArgs),
    /// Generate a history from a simulated database, to try a checker on.
    #[command(after_help = "Exit codes: 0 the history was written, 3 bad input or an error.")]
    Gen(gen::GenArgs),
}

/// How a command writes its result.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(false)
        .event_format(Prefixed)
        .with_writer(std::io::stderr)
        .try_init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // clap says "error: ..."; every error of isoscope starts "isoscope: ".
            let text = e.render().to_string();
            eprint!(
                "isoscope: {}",
                text.strip_prefix("error: ").unwrap_or(&text)
            );
            return EXIT_ERROR;
        }
        Err(e) => {
            let _ = e.print();
            return EXIT_VALID;
        }
    };
    let result = match cli.command {
        Cmd::Run(args) => run::run(*args),
        Cmd::Compare(args) => compare::compare(args),
        Cmd::Report(args) => compare::report(args),
        Cmd::Scenarios(args) => scenarios::run(*args),
        Cmd::Check(args) => {
            end_quietly_on_a_closed_pipe();
            check::run(args)
        }
        Cmd::Gen(args) => gen::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("isoscope: {}", said_once(&format!("{e:#}")));
            EXIT_ERROR
        }
    }
}

/// `check` is a filter (`isoscope check h.edn | head`): when its reader goes away it ends as Unix
/// filters do, by SIGPIPE, instead of panicking in `println!`. Only `check`, which touches no
/// server: the commands that drive servers keep Rust's ignored SIGPIPE, so a write to a socket a
/// killed server closed is an error to handle, not the end of isoscope.
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: setting a signal's disposition to the default touches no Rust state.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Log lines as isoscope's own: "isoscope: warning: ...", like its errors ("isoscope: ...").
struct Prefixed;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Prefixed
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            tracing::Level::INFO => "info",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        write!(writer, "isoscope: {level}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// An error's chain with each cause said once: drivers wrap an error in another that prints the
/// same words ("Input/output error: Input/output error: Connection refused").
pub fn said_once(chain: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in chain.split(": ") {
        if parts.last() != Some(&p) {
            parts.push(p);
        }
    }
    parts.join(": ")
}
