//! The command line's one error type: every failure a command can meet,
//! each keeping its cause, and the exit status it means.

use repobus::bus::{BusError, PublishError, SubscribeError};
use repobus::criteria::CriteriaError;
use repobus::history::HistoryError;
use repobus::iso8601::Iso8601Error;
use repobus::schema_files::SchemaFileError;
use repobus::time::TimestampError;
use repobus::DecodeError;
use repobus_local::LocalNatsError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag's value is malformed or contradicts another flag.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, as typed (`--nats-user`).
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// pulp-admin's filter flags are malformed (the error names the flag).
    #[error(transparent)]
    FilterFlags(CriteriaError),
    /// A criteria flag is malformed.
    #[error("{flag}: {source}")]
    Criteria {
        /// The flag (`--filters`, `--sort`, ...).
        flag: &'static str,
        /// The parser's error.
        source: CriteriaError,
    },
    /// A date-time flag is malformed.
    #[error("{flag}: {source}")]
    Time {
        /// The flag.
        flag: &'static str,
        /// The parser's error.
        source: TimestampError,
    },
    /// A schedule is malformed.
    #[error("{expression}: {source}")]
    Schedule {
        /// The expression as given.
        expression: String,
        /// The parser's error.
        source: Iso8601Error,
    },
    /// A time flag (`--after`, `--before`, `--since`) is malformed; the
    /// error names the parameter, the flag is the same name with `--`.
    #[error("--{0}")]
    TimeFlag(HistoryError),
    /// A history question could not be answered.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// NATS could not be reached or set up.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// An event was not stored.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// Events could not be read.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// A body does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Schema files could not be written or are stale.
    #[error(transparent)]
    SchemaFile(#[from] SchemaFileError),
    /// The local nats-server could not be started.
    #[error(transparent)]
    LocalNats(#[from] LocalNatsError),
    /// The operations bucket failed.
    #[error(transparent)]
    Operations(#[from] repobus::operations::OperationsError),
    /// An operation could not be canceled.
    #[error(transparent)]
    Cancel(#[from] repobus::operations::CancelError),
    /// Reading input, writing output, or another I/O step failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

impl CliError {
    /// An I/O error while doing `context`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }

    /// True when standard output was closed by its reader (`repobus search
    /// | head`): not a failure, the reader has what it wanted.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Writes one line to standard output, reporting a closed pipe as an error
/// (`println!` would panic) so the command can stop quietly.
pub fn print_line(line: impl std::fmt::Display) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(CliError::io("writing output"))
}
