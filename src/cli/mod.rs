//! Command-line parsing and dispatch. Each command lives in its own module
//! and calls the library; nothing here knows about wire formats.

mod inspect;
mod schemas;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Typed Pulp and Copr events on NATS JetStream.
#[derive(Debug, Parser)]
#[command(name = "repobus", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
}

/// Parses the command line and runs the command. Exit codes: 0 success,
/// 1 failure, 2 usage.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { file } => inspect::run(file.as_deref()),
        Command::Schemas { out, check } => schemas::run(&out, check),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("repobus: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens `file` for reading, or standard input for `None` and `-`.
pub(crate) fn open_input(
    file: Option<&std::path::Path>,
) -> Result<Box<dyn std::io::BufRead>, String> {
    match file {
        None => Ok(Box::new(std::io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(std::io::stdin().lock())),
        Some(p) => std::fs::File::open(p)
            .map(|f| Box::new(std::io::BufReader::new(f)) as Box<dyn std::io::BufRead>)
            .map_err(|e| format!("{}: {e}", p.display())),
    }
}
