//! `repobus tail`: print events as they arrive.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use repobus::bus::{ConsumerOptions, Deliver};
use repobus::history::{pushed_down_subject, start_at};

use super::criteria_args::CriteriaArgs;
use super::nats::NatsArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TailFormat {
    /// One JSON object per event: what `inspect` prints plus subject, id and time.
    Json,
    /// One summary line per event.
    Text,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    /// Subject filter, e.g. `repobus.repo.*.finished.>` (default: every event,
    /// or what the criteria pin down).
    #[arg(long)]
    subject: Option<String>,
    /// Start from the beginning of the stream instead of new events.
    #[arg(long)]
    all: bool,
    /// Exit after N events.
    #[arg(long)]
    count: Option<u64>,
    /// Durable consumer name: acknowledge each event after printing it, so a
    /// restarted tail with the same name resumes where this one stopped.
    #[arg(long)]
    durable: Option<String>,
    /// Exit once caught up with the end of the stream.
    #[arg(long)]
    no_follow: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: TailFormat,
    #[command(flatten)]
    criteria: CriteriaArgs,
}

pub async fn run(args: TailArgs, nats: NatsArgs) -> Result<ExitCode, String> {
    let criteria = args.criteria.criteria()?;
    let bus = nats.connect().await?;
    let subject = args
        .subject
        .clone()
        .or_else(|| pushed_down_subject(bus.subjects(), &criteria));
    let deliver = match (args.all, criteria.after) {
        (true, _) => Deliver::All,
        (false, Some(after)) => start_at(after),
        (false, None) => Deliver::New,
    };
    let mut subscription = bus
        .subscriber()
        .subscribe(ConsumerOptions {
            durable: args.durable.clone(),
            filter_subjects: subject.into_iter().collect(),
            deliver,
            explicit_ack: args.durable.is_some(),
            // A durable tail fetches no more than it will print, so that a
            // tail that stops after --count leaves nothing unacknowledged.
            prefetch: args.durable.as_ref().map(|_| {
                args.count
                    .map_or(256, |n| usize::try_from(n).unwrap_or(usize::MAX))
            }),
            ..ConsumerOptions::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    if args.no_follow && subscription.unhandled().await.map_err(|e| e.to_string())? == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let stdout = std::io::stdout();
    let mut printed = 0u64;
    loop {
        if let Some(n) = args.count {
            if printed >= n {
                break;
            }
            subscription.set_prefetch(usize::try_from(n - printed).unwrap_or(usize::MAX));
        }
        let next = if args.no_follow {
            match tokio::time::timeout(Duration::from_secs(1), subscription.next()).await {
                Ok(next) => next,
                Err(_) => {
                    // Nothing came: caught up unless the server still counts
                    // events for us (waiting, or delivered and unacknowledged).
                    if subscription.unhandled().await.map_err(|e| e.to_string())? == 0 {
                        break;
                    }
                    continue;
                }
            }
        } else {
            subscription.next().await
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(e)) => return Err(e.to_string()),
            None => break,
        };
        let described = delivery.describe();
        if criteria.matches(&described, "time") {
            let line = match args.format {
                TailFormat::Json => serde_json::Value::Object(described).to_string(),
                TailFormat::Text => {
                    format!("{} {}", delivery.envelope.time_rfc3339(), delivery.event)
                }
            };
            let mut out = stdout.lock();
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(|e| format!("writing output: {e}"))?;
            printed += 1;
        }
        delivery.ack().await.map_err(|e| e.to_string())?;
        if args.no_follow
            && delivery.pending == 0
            && subscription.unhandled().await.map_err(|e| e.to_string())? == 0
        {
            break;
        }
    }
    // Every ack must reach the server before exiting, or a restarted
    // durable tail would print those events again.
    subscription.flush().await.map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
