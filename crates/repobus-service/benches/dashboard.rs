//! The dashboard's read paths against raw async-nats, in one run on one
//! private nats-server (ratios, not absolute numbers, are the result):
//!
//! - replay: N stored events read by a raw async-nats pull consumer vs the
//!   same N read over `GET /v1/stream` (decoded, recorded, JSON, SSE, HTTP)
//!   by one client, and by `--clients` clients at once (one consumer each);
//! - repositories: `overview::repos` (last message per subject) vs a full
//!   history scan of the same stream, for `--repos` repositories.
//!
//! ```text
//! cargo bench -p repobus-service --bench dashboard -- --messages 20000 --clients 8 --repos 2000
//! ```
//!
//! The last line is one JSON object with the measurements and ratios.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use futures_util::StreamExt;
use repobus::criteria::Criteria;
use repobus::history::{self, Search};
use repobus::{overview, Event, EventType};
use repobus_testkit::{connect, server, sync_finished_body};
use serde_json::json;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Reads `/v1/stream?last_event_id=0` until `n` events arrived.
async fn sse_read(base: &str, n: usize) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    let mut response = client
        .get(format!("{base}/v1/stream?last_event_id=0"))
        .send()
        .await
        .expect("GET /v1/stream");
    assert_eq!(response.status(), 200);
    let (mut events, mut last) = (0usize, 0u8);
    while events < n {
        let chunk = response
            .chunk()
            .await
            .expect("read")
            .expect("stream ended early");
        for &b in chunk.iter() {
            if b == b'\n' && last == b'\n' {
                events += 1;
            }
            last = b;
        }
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let messages = arg("--messages", 20_000);
    let clients = arg("--clients", 8);
    let repos = arg("--repos", 2000);
    let nats = server().await;
    let bus = connect(&nats).await;
    let publisher = bus.publisher();
    eprintln!("storing {messages} events over {repos} repositories...");
    let results: Vec<_> = futures_util::stream::iter(0..messages)
        .map(|i| {
            let publisher = publisher.clone();
            async move {
                let body = sync_finished_body(&format!("repo-{}", i % repos), "success", i as u64);
                let event =
                    Event::from_value(EventType::RepoSyncFinished, body).expect("valid body");
                publisher.publish(&event).await
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok));

    // Raw: a pull consumer from the start, counting messages.
    let stream = bus.jetstream().get_stream("REPOBUS").await.unwrap();
    let started = Instant::now();
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut raw = consumer.messages().await.unwrap();
    let mut bytes = 0usize;
    for _ in 0..messages {
        bytes += raw.next().await.unwrap().unwrap().payload.len();
    }
    let raw_time = started.elapsed();
    drop(raw);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(repobus_service::serve(
        listener,
        bus.publisher(),
        repobus_service::ServiceConfig::default(),
        std::future::pending(),
    ));

    let one = sse_read(&base, messages).await;
    let started = Instant::now();
    let all: Vec<Duration> =
        futures_util::future::join_all((0..clients).map(|_| sse_read(&base, messages))).await;
    let many = started.elapsed();
    let slowest = all.iter().max().copied().unwrap_or_default();

    let started = Instant::now();
    let rows = overview::repos(&bus).await.unwrap();
    let repos_time = started.elapsed();
    assert_eq!(rows.len(), repos.min(messages));
    let started = Instant::now();
    let scanned = history::search(&bus, &Search::new(Criteria::new()), None)
        .await
        .unwrap();
    let scan_time = started.elapsed();
    assert_eq!(scanned.len(), messages);

    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    let summary = json!({
        "messages": messages,
        "payload_bytes": bytes / messages.max(1),
        "raw_consume_per_s": rate(messages, raw_time).round(),
        "sse_one_client_per_s": rate(messages, one).round(),
        "sse_one_client_ratio": (rate(messages, one) / rate(messages, raw_time) * 1000.0).round() / 1000.0,
        "sse_clients": clients,
        "sse_all_clients_events_per_s": rate(messages * clients, many).round(),
        "sse_slowest_client_per_s": rate(messages, slowest).round(),
        "repos": repos,
        "overview_repos_ms": repos_time.as_millis(),
        "full_scan_ms": scan_time.as_millis(),
        "repos_vs_scan_speedup": (scan_time.as_secs_f64() / repos_time.as_secs_f64() * 10.0).round() / 10.0,
    });
    eprintln!(
        "raw consume {:.0}/s; SSE one client {:.0}/s (x{:.3}); {clients} SSE clients {:.0} events/s in all; overview::repos for {repos} repositories {} ms vs full scan {} ms",
        rate(messages, raw_time),
        rate(messages, one),
        rate(messages, one) / rate(messages, raw_time),
        rate(messages * clients, many),
        repos_time.as_millis(),
        scan_time.as_millis()
    );
    println!("{summary}");
    std::process::exit(0);
}
