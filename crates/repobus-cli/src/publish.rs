//! `repobus publish`: one body, or every line of a JSON Lines file.

use std::io::{BufRead, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use repobus::bus::{PublishError, PublishOptions, Publisher};
use repobus::inspect::parse_line;
use repobus::Event;
use serde_json::json;

use super::nats::NatsArgs;

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

pub async fn run(args: PublishArgs, nats: NatsArgs) -> Result<ExitCode, String> {
    // Validate the input before connecting, so a typo costs nothing.
    if let Some(path) = &args.jsonl {
        let input = super::open_input(Some(path))?;
        let bus = nats.connect().await?;
        let publisher = bus.publisher();
        let code = publish_lines(&publisher, input).await;
        publisher.close().await;
        return code;
    }
    let topic = args.event_type.unwrap_or_default();
    let mut body = Vec::new();
    super::open_input(args.file.as_deref())?
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the body: {e}"))?;
    let event = Event::decode(&topic, &body).map_err(|e| e.to_string())?;
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
        .await
        .map_err(|e| e.to_string());
    publisher.close().await;
    println!("{}", json!(ack?));
    Ok(ExitCode::SUCCESS)
}

async fn publish_lines(publisher: &Publisher, input: Box<dyn BufRead>) -> Result<ExitCode, String> {
    let (mut published, mut duplicates, mut failed) = (0u64, 0u64, 0u64);
    for (index, line) in input.split(b'\n').enumerate() {
        let number = index + 1;
        let line = line.map_err(|e| format!("reading line {number}: {e}"))?;
        let event = match parse_line(&line)
            .map_err(|e| e.to_string())
            .and_then(|c| c.decode().map_err(|e| e.to_string()))
        {
            Ok(event) => event,
            Err(e) => {
                failed += 1;
                eprintln!("line {number}: {e}");
                continue;
            }
        };
        match publisher.publish(&event).await {
            Ok(ack) if ack.duplicate => duplicates += 1,
            Ok(_) => published += 1,
            Err(
                e @ (PublishError::Deadline { .. }
                | PublishError::Unreachable { .. }
                | PublishError::Closed),
            ) => {
                failed += 1;
                eprintln!("line {number}: {e}");
                eprintln!("stopped at line {number}: lines from {number} on were not published");
                println!(
                    "{}",
                    json!({"published": published, "duplicates": duplicates, "failed": failed, "stopped_at_line": number})
                );
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => {
                failed += 1;
                eprintln!("line {number}: {e}");
            }
        }
    }
    println!(
        "{}",
        json!({"published": published, "duplicates": duplicates, "failed": failed})
    );
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
