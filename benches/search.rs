//! History search over a large stream, with and without push-down.
//!
//! ```text
//! cargo bench --bench search -- --events 1000000
//! ```
//!
//! Starts a private `nats-server -js` (from `$REPOBUS_NATS_SERVER` or PATH)
//! in a temporary directory unless `--nats-url` is given, stores `--events`
//! events (Pulp syncs and publishes of 100 repositories, Copr builds of 10
//! owners), then asks narrow questions twice: with push-down (subject filter
//! and start time on the server) and without (the whole stream is read and
//! filtered here). Prints events scanned, time, rate and matches for each,
//! and a JSON summary as the last line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use repobus::bus::Bus;
use repobus::criteria::Criteria;
use repobus::events::{BuildChroot, CoprStatus};
use repobus::history::{self, Search};
use repobus::{Event, EventType};

#[derive(Parser)]
struct Args {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Events to store.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// NATS server to use (default: start a private one).
    #[arg(long)]
    nats_url: Option<String>,
}

#[path = "support/mod.rs"]
mod support;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn event(i: usize, sync: &serde_json::Value, publish: &serde_json::Value) -> BenchResult<Event> {
    // Each third event is of one kind; within a kind, repositories and
    // owners cycle and one in ten results is a failure.
    let k = i / 3;
    let repo = format!("repo-{}", k % 100);
    let result = if (k / 100) % 10 == 0 {
        "failed"
    } else {
        "success"
    };
    Ok(match i % 3 {
        0 => {
            let mut body = sync.clone();
            body["repo_id"] = repo.into();
            body["result"] = result.into();
            body["added_count"] = (i % 50).into();
            Event::from_value(EventType::RepoSyncFinished, body)?
        }
        1 => {
            let mut body = publish.clone();
            body["repo_id"] = repo.into();
            body["result"] = result.into();
            Event::from_value(EventType::RepoPublishFinished, body)?
        }
        _ => BuildChroot::builder(
            i as u64,
            format!("owner{}", k % 10),
            "project",
            "fedora-rawhide-x86_64",
        )
        .package("pkg", "1.0-1.fc40")
        .user("someone")
        .ended(if (k / 10) % 10 == 0 {
            CoprStatus::Failed
        } else {
            CoprStatus::Succeeded
        })
        .into(),
    })
}

struct Run {
    scanned: u64,
    matches: usize,
    elapsed: Duration,
}

async fn run(bus: &Bus, criteria: &Criteria, push_down: bool) -> BenchResult<Run> {
    let scanned = AtomicU64::new(0);
    let report = |read: u64, _total: u64| scanned.store(read, Ordering::Relaxed);
    let search = Search {
        push_down,
        ..Search::new(criteria.clone())
    };
    let start = Instant::now();
    let found = history::search(bus, &search, Some(&report)).await?;
    Ok(Run {
        scanned: scanned.load(Ordering::Relaxed),
        matches: found.len(),
        elapsed: start.elapsed(),
    })
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    let server = support::server(args.nats_url.as_deref()).await?;
    let mut config = support::config(&server.url, "searchbench");
    config = config.max_in_flight(1024);
    let bus = Bus::connect(config.clone()).await?;
    let publisher = bus.publisher();

    let sync = repobus::EventType::RepoSyncFinished.examples().remove(0);
    let publish = repobus::EventType::RepoPublishFinished.examples().remove(0);
    let start = Instant::now();
    let mut stored = 0usize;
    let mut cutoff = None;
    let mut acks = futures_util::stream::iter(0..args.events)
        .map(|i| {
            let publisher = publisher.clone();
            let event = event(i, &sync, &publish);
            async move {
                let event = event.map_err(|e| e.to_string())?;
                publisher.publish(&event).await.map_err(|e| e.to_string())
            }
        })
        .buffered(512);
    while let Some(ack) = acks.next().await {
        ack?;
        stored += 1;
        if stored == args.events * 9 / 10 {
            cutoff = Some(chrono::Utc::now());
        }
        if stored % 100_000 == 0 {
            eprintln!("stored {stored} events");
        }
    }
    drop(acks);
    let store_rate = stored as f64 / start.elapsed().as_secs_f64();
    println!(
        "stored {stored} events in {:.1} s ({store_rate:.0}/s)",
        start.elapsed().as_secs_f64()
    );

    let cutoff = cutoff.unwrap_or_else(chrono::Utc::now);
    let questions: Vec<(&str, Criteria)> = vec![
        (
            "failed results in the last 10%",
            Criteria::new()
                .with_filter(r#"{"result": "failed"}"#.parse()?)
                .with_after(cutoff),
        ),
        (
            "failed syncs of one repository",
            Criteria::new().with_filter(
                r#"{"type": "repo-sync-finished", "repo_id": "repo-7", "result": "failed"}"#
                    .parse()?,
            ),
        ),
        (
            "builds of one owner",
            Criteria::new()
                .with_filter(r#"{"project_owner": "owner3"}"#.parse()?)
                .with_limit(1_000_000),
        ),
    ];
    println!(
        "{:<34} {:>10} {:>12} {:>10} {:>14} {:>9}",
        "question", "push-down", "scanned", "seconds", "scanned/s", "matches"
    );
    let mut summary = serde_json::Map::new();
    for (name, criteria) in &questions {
        let mut rates = Vec::new();
        for push_down in [true, false] {
            let r = run(&bus, criteria, push_down).await?;
            let rate = r.scanned as f64 / r.elapsed.as_secs_f64();
            println!(
                "{name:<34} {:>10} {:>12} {:>10.2} {:>14.0} {:>9}",
                if push_down { "yes" } else { "no" },
                r.scanned,
                r.elapsed.as_secs_f64(),
                rate,
                r.matches
            );
            rates.push(serde_json::json!({
                "push_down": push_down, "scanned": r.scanned, "seconds": r.elapsed.as_secs_f64(),
                "scanned_per_s": rate, "matches": r.matches,
            }));
        }
        summary.insert((*name).to_owned(), rates.into());
    }
    summary.insert("events".into(), stored.into());
    for name in [
        config.stream_name().to_owned(),
        config.dead_letter_stream_name(),
    ] {
        let _ = bus.jetstream().delete_stream(&name).await;
    }
    publisher.close().await;
    println!("{}", serde_json::Value::Object(summary));
    Ok(())
}
