//! History search over a large stream: the full scan against the raw
//! ordered-consumer read of the same stream, and narrow questions answered
//! by the planner (p50 over several repetitions) against the full scan.
//!
//! ```text
//! cargo bench --bench search -- --events 1000000
//! ```
//!
//! Starts a private `nats-server -js` (from `$REPOBUS_NATS_SERVER` or PATH)
//! in a temporary directory unless `--nats-url` is given, and stores
//! `--events` events (Pulp syncs and publishes of 100 repositories, Copr
//! builds of 10 owners) twice, in two streams:
//!
//! * `dense`: through the typed publisher, event times as published (the
//!   whole stream within the seconds the load takes);
//! * `spread`: the same events imported with event times spread evenly over
//!   `--spread-days` days (as a realistically paced stream has them), each
//!   shifted by up to a minute either way (out of order within the
//!   5-minute tolerance; the bench counts and prints the events stored
//!   beyond it, which must be 0 for the planned time answers to be exact).
//!
//! For each it prints one row per question: what the planner read and how
//! long it took (p50 and max over `--reps`), and the same for the full scan
//! (once), with both answers' sizes (they must be equal), then a JSON
//! summary as the last line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use repobus::bus::Bus;
use repobus::criteria::Criteria;
use repobus::envelope::Envelope;
use repobus::events::{BuildChroot, CoprStatus};
use repobus::history::{self, Search};
use repobus::{Event, EventType};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Events to store (in each stream).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Repetitions of each planned question.
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Days the spread stream's event times cover.
    #[arg(long, default_value_t = 30)]
    spread_days: i64,
    /// Which streams: dense, spread or both.
    #[arg(long, default_value = "both")]
    streams: String,
    /// Skip the full scan of each question (only the planned answers).
    #[arg(long)]
    no_scan: bool,
    /// NATS server to use (default: start a private one).
    #[arg(long)]
    nats_url: Option<String>,
    /// --cluster / --replicas: run on a 3-node cluster.
    #[command(flatten)]
    topology: support::Topology,
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

/// Stores the events; `spread` gives each its event time (an import, in
/// time order), else the typed publisher stamps them (512 in flight).
/// Returns the event time at 90 %.
async fn load(
    bus: &Bus,
    events: usize,
    spread: Option<i64>,
) -> BenchResult<chrono::DateTime<chrono::Utc>> {
    let publisher = bus.publisher();
    let sync = EventType::RepoSyncFinished.examples().remove(0);
    let publish = EventType::RepoPublishFinished.examples().remove(0);
    let start = Instant::now();
    let begin = chrono::Utc::now() - chrono::Duration::days(spread.unwrap_or(0));
    let step_ms = spread.map_or(0, |days| days * 86_400_000 / events.max(1) as i64);
    let time_of = |i: usize| {
        let jitter = [0i64, 60_000, -60_000, 30_000, -45_000][i % 5];
        begin + chrono::Duration::milliseconds(i as i64 * step_ms + jitter)
    };
    if spread.is_some() {
        // An import: sent one after another on the one connection, so the
        // stream stores them in index (and so time) order; 512 acks
        // awaited in flight. (Concurrent sends would store some more than
        // the 5-minute tolerance out of order.)
        let bus = publisher.bus();
        let mut acks = std::collections::VecDeque::new();
        for i in 0..events {
            let event = event(i, &sync, &publish)?;
            let mut envelope = Envelope::new(&event, "urn:bench", None)?;
            envelope.time = time_of(i);
            if acks.len() >= 512 {
                if let Some(ack) = acks.pop_front() {
                    ack.await?;
                }
            }
            acks.push_back(
                bus.jetstream()
                    .publish_with_headers(
                        bus.subjects().for_event(&event),
                        envelope.to_headers(),
                        event.to_vec().into(),
                    )
                    .await?,
            );
        }
        for ack in acks {
            ack.await?;
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "imported {events} events in {seconds:.1} s ({:.0}/s)",
            events as f64 / seconds
        );
        return Ok(time_of(events * 9 / 10));
    }
    let mut cutoff = None;
    let mut acks = futures_util::stream::iter(0..events)
        .map(|i| {
            let publisher = publisher.clone();
            let event = event(i, &sync, &publish);
            async move {
                let event = event.map_err(|e| e.to_string())?;
                publisher
                    .publish(&event)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .buffered(512);
    let mut stored = 0usize;
    while let Some(ack) = acks.next().await {
        ack?;
        stored += 1;
        if stored == events * 9 / 10 {
            cutoff = Some(chrono::Utc::now());
        }
    }
    drop(acks);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "stored {stored} events in {seconds:.1} s ({:.0}/s)",
        stored as f64 / seconds
    );
    Ok(cutoff.unwrap_or_else(chrono::Utc::now))
}

struct Run {
    scanned: u64,
    matches: usize,
    elapsed: Duration,
}

async fn run(bus: &Bus, search: &Search) -> BenchResult<Run> {
    let scanned = AtomicU64::new(0);
    let report = |read: u64, _total: u64| scanned.store(read, Ordering::Relaxed);
    let start = Instant::now();
    let found = history::search(bus, search, Some(&report)).await?;
    Ok(Run {
        scanned: scanned.load(Ordering::Relaxed),
        matches: found.len(),
        elapsed: start.elapsed(),
    })
}

/// Reads the whole stream with a raw async-nats ordered consumer: the
/// rate a full scan is compared with.
async fn raw_ordered_read(bus: &Bus) -> BenchResult<(u64, Duration)> {
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await?;
    let total = stream.cached_info().state.messages;
    let start = Instant::now();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut messages = consumer.messages().await?;
    let (mut read, mut bytes) = (0u64, 0usize);
    while read < total {
        let Some(message) = messages.next().await else {
            break;
        };
        bytes += message?.payload.len();
        read += 1;
    }
    std::hint::black_box(bytes);
    Ok((read, start.elapsed()))
}

/// How many stored events have a time more than `tolerance` earlier than
/// that of some event stored before them: each one breaks the time
/// push-down's assumption (see `history::Search`), so a planned answer may
/// then differ from the scan's.
async fn beyond_tolerance(bus: &Bus, tolerance: chrono::Duration) -> BenchResult<u64> {
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await?;
    let total = stream.cached_info().state.messages;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut messages = consumer.messages().await?;
    let (mut read, mut beyond) = (0u64, 0u64);
    let mut latest: Option<chrono::DateTime<chrono::Utc>> = None;
    while read < total {
        let Some(message) = messages.next().await else {
            break;
        };
        let message = message?;
        read += 1;
        let time = message
            .headers
            .as_ref()
            .and_then(|h| h.get("ce-time"))
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.as_str()).ok())
            .map(|t| t.with_timezone(&chrono::Utc));
        if let Some(time) = time {
            if latest.is_some_and(|l| time + tolerance < l) {
                beyond += 1;
            }
            latest = Some(latest.map_or(time, |l| l.max(time)));
        }
    }
    Ok(beyond)
}

fn p50(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        times.get(times.len() / 2).copied().map_or(0.0, ms),
        times.last().copied().map_or(0.0, ms),
    )
}

async fn bench_stream(
    args: &Args,
    server: &support::BenchServer,
    name: &str,
    spread: Option<i64>,
) -> BenchResult<serde_json::Value> {
    let config = server.config(&format!("search{name}")).max_in_flight(1024);
    let bus = Bus::connect(config.clone()).await?;
    println!("\n== {name} stream ==");
    let cutoff = load(&bus, args.events, spread).await?;
    let beyond = beyond_tolerance(&bus, chrono::Duration::minutes(5)).await?;
    println!(
        "events stored more than the 5-minute tolerance out of time order: {beyond} (planned time answers are exact when 0)"
    );

    // The full scan against the raw ordered consumer, twice each,
    // alternating; the best of each.
    let scan_all = Search {
        push_down: false,
        ..Search::new(Criteria::new().with_filter(r#"{"result": "failed"}"#.parse()?))
    };
    let (mut raw_best, mut scan_best) = (0f64, 0f64);
    for _ in 0..2 {
        let (read, elapsed) = raw_ordered_read(&bus).await?;
        raw_best = raw_best.max(read as f64 / elapsed.as_secs_f64());
        let r = run(&bus, &scan_all).await?;
        scan_best = scan_best.max(r.scanned as f64 / r.elapsed.as_secs_f64());
    }
    let scan_ratio = scan_best / raw_best;
    println!(
        "raw ordered consumer read {raw_best:.0}/s; full scan (decode, validate, match) {scan_best:.0}/s; ratio {scan_ratio:.2} (target >= 0.5)"
    );

    let sort = |s: &str| s.parse::<repobus::criteria::SortKey>();
    let questions: Vec<(&str, Search)> = vec![
        (
            "(a) failed syncs of one repository",
            Search::new(
                Criteria::new().with_filter(
                    r#"{"type": "repo-sync-finished", "repo_id": "repo-7", "result": "failed"}"#
                        .parse()?,
                ),
            ),
        ),
        (
            "(b) last 10 publishes of one repository",
            Search::new(
                Criteria::new()
                    .with_filter(
                        r#"{"type": "repo-publish-finished", "repo_id": "repo-7"}"#.parse()?,
                    )
                    .with_sort(sort("seq,descending")?)
                    .with_limit(10),
            ),
        ),
        (
            "(b') the same, newest first by time",
            Search::new(
                Criteria::new()
                    .with_filter(
                        r#"{"type": "repo-publish-finished", "repo_id": "repo-7"}"#.parse()?,
                    )
                    .with_sort(sort("time,descending")?)
                    .with_limit(10),
            ),
        ),
        (
            "(c) latest event of every repository",
            Search::new(Criteria::new().with_filter(r#"{"repo_id": {"$exists": true}}"#.parse()?))
                .with_latest_per("repo_id"),
        ),
        (
            "failed results in the last 10%",
            Search::new(
                Criteria::new()
                    .with_filter(r#"{"result": "failed"}"#.parse()?)
                    .with_after(cutoff),
            ),
        ),
        (
            "the same, tolerance 1 s",
            Search::new(
                Criteria::new()
                    .with_filter(r#"{"result": "failed"}"#.parse()?)
                    .with_after(cutoff),
            )
            .with_time_tolerance(Some(Duration::from_secs(1))),
        ),
        (
            "last 10 failures, newest first",
            Search::new(
                Criteria::new()
                    .with_filter(r#"{"result": "failed"}"#.parse()?)
                    .with_sort(sort("time,descending")?)
                    .with_limit(10),
            ),
        ),
        (
            "builds of one owner",
            Search::new(Criteria::new().with_filter(r#"{"project_owner": "owner3"}"#.parse()?)),
        ),
    ];
    println!(
        "{:<42} {:>10} {:>9} {:>9} {:>9} | {:>10} {:>9} {:>9} {:>8}",
        "question",
        "read",
        "p50 ms",
        "max ms",
        "matches",
        "scan read",
        "scan s",
        "matches",
        "speedup"
    );
    let mut rows = serde_json::Map::new();
    for (question, search) in &questions {
        let mut times = Vec::new();
        let mut last = None;
        let began = Instant::now();
        for _ in 0..args.reps.max(1) {
            // A question that reads everything is not repeated for long.
            if !times.is_empty() && began.elapsed() > Duration::from_secs(10) {
                break;
            }
            let r = run(&bus, search).await?;
            times.push(r.elapsed);
            last = Some(r);
        }
        let Some(last) = last else { continue };
        let (p50_ms, max_ms) = p50(times);
        let scan = if args.no_scan {
            None
        } else {
            Some(
                run(
                    &bus,
                    &Search {
                        push_down: false,
                        ..search.clone()
                    },
                )
                .await?,
            )
        };
        let speedup = scan
            .as_ref()
            .map(|s| s.elapsed.as_secs_f64() * 1000.0 / p50_ms.max(0.001));
        println!(
            "{question:<42} {:>10} {p50_ms:>9.1} {max_ms:>9.1} {:>9} | {:>10} {:>9} {:>9} {:>8}",
            last.scanned,
            last.matches,
            scan.as_ref().map_or("-".into(), |s| s.scanned.to_string()),
            scan.as_ref()
                .map_or("-".into(), |s| format!("{:.2}", s.elapsed.as_secs_f64())),
            scan.as_ref().map_or("-".into(), |s| s.matches.to_string()),
            speedup.map_or("-".into(), |s| format!("{s:.0}x")),
        );
        if let Some(scan) = &scan {
            if scan.matches != last.matches {
                println!(
                    "  MISMATCH: planned {} != scan {}",
                    last.matches, scan.matches
                );
            }
        }
        rows.insert(
            (*question).to_owned(),
            json!({
                "read": last.scanned, "p50_ms": p50_ms, "max_ms": max_ms, "matches": last.matches,
                "scan_read": scan.as_ref().map(|s| s.scanned),
                "scan_s": scan.as_ref().map(|s| s.elapsed.as_secs_f64()),
                "scan_matches": scan.as_ref().map(|s| s.matches),
            }),
        );
    }
    for stream in [
        config.stream_name().to_owned(),
        config.dead_letter_stream_name(),
    ] {
        let _ = bus.jetstream().delete_stream(&stream).await;
    }
    Ok(json!({
        "events": args.events,
        "raw_ordered_read_per_s": raw_best,
        "full_scan_per_s": scan_best,
        "full_scan_over_raw": scan_ratio,
        "beyond_tolerance": beyond,
        "questions": rows,
    }))
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    let server = support::start(args.nats_url.as_deref(), &args.topology).await?;
    let mut summary = serde_json::Map::new();
    if matches!(args.streams.as_str(), "both" | "dense") {
        summary.insert(
            "dense".into(),
            bench_stream(&args, &server, "dense", None).await?,
        );
    }
    if matches!(args.streams.as_str(), "both" | "spread") {
        summary.insert(
            "spread".into(),
            bench_stream(&args, &server, "spread", Some(args.spread_days)).await?,
        );
    }
    println!("{}", serde_json::Value::Object(summary));
    Ok(())
}
