//! The `repobus` command line: a thin layer over the `repobus` library.
//!
//! Parsing and dispatch live here; each command lives in its own module and
//! calls the library, so nothing here knows about wire formats.

mod bridge;
mod criteria_args;
mod error;
mod inspect;
mod nats;
mod operations;
mod publish;
mod relay;
mod run;
mod schedule;
mod schemas;
mod search;
mod serve;
mod systemd;
mod tail;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::CliError;

/// Typed Pulp and Copr events on NATS JetStream.
#[derive(Debug, Parser)]
#[command(name = "repobus", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    nats: nats::NatsArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Explain captured messages: reads JSON Lines of {"topic", "body"} and
    /// prints one JSON line per input line with every accessor, or an error.
    Inspect {
        /// JSON Lines file to read; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Write the JSON Schema files, or check that the committed ones are current.
    Schemas {
        /// Directory of the schema files.
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
        /// Do not write; exit 1 naming every file that differs from what the types generate.
        #[arg(long)]
        check: bool,
    },
    /// Run the HTTP ingest service (starts a local nats-server when none is
    /// given and nothing listens on localhost:4222).
    Serve(serve::ServeArgs),
    /// Publish one body (prints the ack) or every line of a JSON Lines file.
    Publish(publish::PublishArgs),
    /// Print events as they arrive, one JSON line (or summary line) each.
    Tail(tail::TailArgs),
    /// Search the stream's history with Pulp's criteria.
    Search(search::SearchArgs),
    /// Bridge to fedora-messaging on AMQP, in either direction.
    Bridge {
        #[command(subcommand)]
        command: bridge::BridgeCommand,
    },
    /// Manage webhook endpoints (add, list, show, remove, enable, disable, replay, attempts).
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Run the webhook relay alone (it also runs inside `serve`).
    Relay(relay::RelayArgs),
    /// Run a command as a sync or publish that reserves its repository
    /// (and other resources), reports progress and can be canceled; exits
    /// with the command's exit status.
    Run(run::RunArgs),
    /// List waiting, running and recently finished operations (JSON lines).
    Operations(operations::OperationsArgs),
    /// Cancel a waiting or running operation.
    Cancel {
        /// The operation ID (from `repobus operations` or REPOBUS_OPERATION_ID).
        operation_id: String,
    },
    /// Print the next runs of an ISO 8601 schedule (PT1H, R5/2007-07-05T23:16Z/P1D, ...).
    Schedule {
        /// The schedule: `[Rn/][start/]duration`.
        expression: String,
        /// Evaluate at this UTC date-time instead of now.
        #[arg(long)]
        now: Option<String>,
        /// How many runs to print.
        #[arg(long, default_value_t = 5)]
        count: usize,
    },
}

/// Parses the command line and runs the command. Exit codes: 0 success,
/// 1 failure, 2 usage.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = if matches!(cli.command, Command::Serve(_) | Command::Relay(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPOBUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Inspect { file } => inspect::run(file.as_deref()),
        Command::Schemas { out, check } => schemas::run(&out, check),
        Command::Schedule {
            expression,
            now,
            count,
        } => schedule::run(&expression, now.as_deref(), count),
        Command::Serve(args) => block_on(serve::run(args, cli.nats)),
        Command::Publish(args) => block_on(publish::run(args, cli.nats)),
        Command::Tail(args) => block_on(tail::run(args, cli.nats)),
        Command::Search(args) => block_on(search::run(args, cli.nats)),
        Command::Bridge { command } => block_on(bridge::run(command, cli.nats)),
        Command::Webhooks(command) => block_on(webhooks::run(command, cli.nats)),
        Command::Relay(args) => block_on(relay::run(args, cli.nats)),
        Command::Run(args) => block_on(run::run(args, cli.nats)),
        Command::Operations(args) => block_on(operations::list(args, cli.nats)),
        Command::Cancel { operation_id } => block_on(operations::cancel(operation_id, cli.nats)),
    };
    match result {
        Ok(code) => code,
        // The reader of our output went away (`repobus search | head`).
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("repobus: {e}");
            ExitCode::FAILURE
        }
    }
}

fn block_on(
    command: impl std::future::Future<Output = Result<ExitCode, CliError>>,
) -> Result<ExitCode, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("starting the async runtime"))?
        .block_on(command)
}

/// Opens `file` for reading, or standard input for `None` and `-`.
pub(crate) fn open_input(
    file: Option<&std::path::Path>,
) -> Result<Box<dyn std::io::BufRead>, CliError> {
    match file {
        None => Ok(Box::new(std::io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(std::io::stdin().lock())),
        Some(p) => std::fs::File::open(p)
            .map(|f| Box::new(std::io::BufReader::new(f)) as Box<dyn std::io::BufRead>)
            .map_err(CliError::io(p.display().to_string())),
    }
}
