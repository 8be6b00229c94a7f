//! The cost of a reserved operation against raw async-nats doing the same
//! protocol steps by hand, in one run on one server.
//!
//! ```text
//! cargo bench --bench operations -- --operations 500
//! ```
//!
//! Phases, sequential (one operation at a time, no contention), `--rounds`
//! times each, best rate kept:
//!
//! - raw events: `jetstream.publish` of the started and the finished body,
//!   each acked (what the events alone cost);
//! - raw reserved: KV `create_with_ttl` of a claim, the two acked publishes,
//!   KV `delete` of the claim (the least a by-hand reservation costs, without
//!   fairness, registry or lease renewal);
//! - repobus: `Operations::request` -> `Waiting::wait` -> `Running::finish`
//!   (claim, registry record, watch of the claims and the cancel key, the
//!   walk, started/finished events, release).
//!
//! The last line is one JSON object with the rates and the ratios.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use repobus::bus::{Bus, SyncReport};
use repobus::operations::{Finish, OperationRequest, Operations};
use repobus::{Event, EventType};

#[derive(Parser)]
struct Args {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Operations per phase.
    #[arg(long, default_value_t = 500)]
    operations: usize,
    /// NATS server to use (default: start a private one).
    #[arg(long)]
    nats_url: Option<String>,
    /// Rounds per phase; the best rate counts.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[path = "support/mod.rs"]
mod support;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn body(t: EventType) -> BenchResult<(Event, Bytes)> {
    let value = t.examples().into_iter().next().ok_or("no example")?;
    let event = Event::from_value(t, value)?;
    let bytes = Bytes::from(event.to_vec());
    Ok((event, bytes))
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    let n = args.operations.max(1);
    let server = support::server(args.nats_url.as_deref()).await?;
    let url = server.url.clone();
    let config = support::config(&url, "opsbench");
    let bus = Bus::connect(config.clone()).await?;
    let js = bus.jetstream().clone();
    let operations = Operations::open(&bus).await?;
    let kv = js.get_key_value(operations.bucket()).await?;
    let (started, started_bytes) = body(EventType::RepoSyncStarted)?;
    let (finished, finished_bytes) = body(EventType::RepoSyncFinished)?;
    let started_subject = bus.subjects().for_event(&started);
    let finished_subject = bus.subjects().for_event(&finished);
    println!(
        "{n} sequential operations per phase, best of {} rounds, server {url}",
        args.rounds
    );

    let mut best = [0f64; 3];
    for _ in 0..args.rounds {
        // Raw events only.
        let begun = Instant::now();
        for _ in 0..n {
            js.publish(started_subject.clone(), started_bytes.clone())
                .await?
                .await?;
            js.publish(finished_subject.clone(), finished_bytes.clone())
                .await?
                .await?;
        }
        best[0] = best[0].max(rate(n, begun.elapsed()));

        // Raw reservation by hand.
        let begun = Instant::now();
        for i in 0..n {
            let key = format!("rawclaim.{i}");
            kv.create_with_ttl(&key, Bytes::from_static(b"{}"), Duration::from_secs(30))
                .await?;
            js.publish(started_subject.clone(), started_bytes.clone())
                .await?
                .await?;
            js.publish(finished_subject.clone(), finished_bytes.clone())
                .await?
                .await?;
            kv.purge(&key).await?;
        }
        best[1] = best[1].max(rate(n, begun.elapsed()));

        // repobus.
        let begun = Instant::now();
        for _ in 0..n {
            let request = OperationRequest::sync(
                "pulp-f17".parse()?,
                "yum_importer".parse()?,
                "yum_importer".parse()?,
            );
            let running = operations.request(request).await?.wait(None).await?;
            running.finish(Finish::Sync(SyncReport::default())).await?;
        }
        best[2] = best[2].max(rate(n, begun.elapsed()));
    }
    let [events_rate, raw_rate, repobus_rate] = best;
    println!("| phase | operations/s | per operation |");
    println!("| --- | --- | --- |");
    for (name, r) in [
        ("raw events (2 acked publishes)", events_rate),
        ("raw reserved (claim + 2 publishes + release)", raw_rate),
        ("repobus reserved operation", repobus_rate),
    ] {
        println!("| {name} | {r:.0} | {:.2} ms |", 1000.0 / r);
    }
    println!(
        "{}",
        serde_json::json!({
            "operations": n,
            "raw_events_per_s": events_rate.round(),
            "raw_reserved_per_s": raw_rate.round(),
            "repobus_per_s": repobus_rate.round(),
            "repobus_over_raw_reserved": (repobus_rate / raw_rate * 100.0).round() / 100.0,
            "repobus_over_raw_events": (repobus_rate / events_rate * 100.0).round() / 100.0,
        })
    );
    if args.nats_url.is_some() {
        let _ = js.delete_key_value(operations.bucket()).await;
        let _ = js.delete_stream(config.stream_name()).await;
        let _ = js.delete_stream(config.dead_letter_stream_name()).await;
    }
    bus.publisher().close().await;
    Ok(())
}
