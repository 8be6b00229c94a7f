//! `repobus publish`: one body, or every line of a JSON Lines file.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use repobus::bus::PublishOptions;
use repobus::Event;
use serde_json::json;

use super::nats::NatsArgs;
use crate::error::{print_line, CliError};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["event_type", "jsonl"])))]
pub struct PublishArgs {
    /// Event type (e.g. repo-sync-finished) or any wire topic that maps onto one.
    event_type: Option<String>,
    /// File holding the body; `-` or nothing reads standard input.
    #[arg(requires = "event_type")]
    file: Option<PathBuf>,
    /// The event ID (default: a new UUIDv7); publishing the same ID twice stores it once.
    #[arg(long, requires = "event_type")]
    id: Option<String>,
    /// Publish every line of a JSON Lines file of {"topic", "body"}, in order.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["event_type", "file", "id"])]
    jsonl: Option<PathBuf>,
}

pub async fn run(args: PublishArgs, nats: NatsArgs) -> Result<ExitCode, CliError> {
    if let Some(path) = &args.jsonl {
        let input = super::open_input(Some(path))?;
        let bus = nats.connect().await?;
        let publisher = bus.publisher();
        let report = publisher
            .publish_lines(input, |failure| eprintln!("{failure}"))
            .await;
        publisher.close().await;
        if let Some(line) = report.stopped_at_line {
            eprintln!(
                "stopped at line {line}: it and the lines after it were not published, \
                 except those already sent (at most 256, counted in the report)"
            );
        }
        print_line(json!(report))?;
        return Ok(if report.failed > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    // Validate the input before connecting, so a typo costs nothing.
    let topic = args.event_type.unwrap_or_default();
    let mut body = Vec::new();
    super::open_input(args.file.as_deref())?
        .read_to_end(&mut body)
        .map_err(CliError::io("reading the body"))?;
    let event = Event::decode(&topic, &body)?;
    let bus = nats.connect().await?;
    let publisher = bus.publisher();
    let ack = publisher
        .publish_with(
            &event,
            PublishOptions {
                id: args.id,
                ..PublishOptions::default()
            },
        )
        .await;
    publisher.close().await;
    print_line(json!(ack?))?;
    Ok(ExitCode::SUCCESS)
}
