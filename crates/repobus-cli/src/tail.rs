//! `repobus tail`: print events as they arrive.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use repobus::bus::{ConsumerOptions, Deliver};
use repobus::history::{pushed_down_subject, start_at};
use repobus::record::field;

use super::criteria_args::CriteriaArgs;
use super::nats::NatsArgs;
use crate::error::{print_line, CliError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TailFormat {
    /// One JSON object per event: what `inspect` prints plus the envelope
    /// (event_id, time, source, subject, seq).
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
    /// Serve Prometheus metrics at http://ADDR/metrics while tailing
    /// (events consumed, dead letters, consumer lag of --durable).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// How often --metrics-listen reads the lag of --durable.
    #[arg(long, default_value = "5s", value_parser = crate::run::parse_interval)]
    lag_interval: std::time::Duration,
    #[command(flatten)]
    criteria: CriteriaArgs,
}

pub async fn run(args: TailArgs, nats: NatsArgs) -> Result<ExitCode, CliError> {
    let criteria = args.criteria.criteria()?;
    // Bound before connecting, so that a taken port fails at once, and the
    // recorder is installed before the subscription registers its metrics.
    let _metrics = match args.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(CliError::io(format!("cannot listen on {addr} for metrics")))?;
            Some(AbortOnDrop(
                repobus_service::metrics::spawn_metrics_listener(listener),
            ))
        }
        None => None,
    };
    let bus = nats.connect().await?;
    let _lag = match (&_metrics, &args.durable) {
        (Some(_), Some(_)) => Some(AbortOnDrop(repobus_service::metrics::spawn_consumer_lag(
            bus.clone(),
            args.lag_interval,
        ))),
        _ => None,
    };
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
        .await?;
    let mut printed = 0u64;
    loop {
        if let Some(n) = args.count {
            if printed >= n {
                break;
            }
            subscription.set_prefetch(usize::try_from(n - printed).unwrap_or(usize::MAX));
        }
        let next = if args.no_follow {
            subscription.next_until_caught_up().await
        } else {
            subscription.next().await
        };
        let Some(delivery) = next else { break };
        let delivery = delivery?;
        let record = delivery.record();
        let object = record.to_map();
        if criteria.matches(&object, field::TIME) {
            match args.format {
                TailFormat::Json => print_line(serde_json::Value::Object(object))?,
                TailFormat::Text => print_line(format_args!("{} {}", record.time, delivery.event))?,
            }
            printed += 1;
        }
        delivery.ack().await?;
    }
    // Every ack must reach the server before exiting, or a restarted
    // durable tail would print those events again.
    subscription.flush().await?;
    Ok(ExitCode::SUCCESS)
}

/// Stops a background task when the command ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
