//! Webhook relay throughput and latency, next to the bus's own consume rate
//! in the same run, on a private nats-server and a loopback receiver that
//! answers 200 at once.
//!
//! ```text
//! cargo run --release -p repobus-webhooks --example bench_relay -- --events 5000
//! ```
//!
//! Phases:
//! - `bus consume`: a repobus `Subscription` reading N stored events
//!   (decoded and validated) — the ceiling any consumer of the bus has;
//! - `relay 1 endpoint (ordered)`: N events published at full speed, each
//!   POSTed to one endpoint with the default concurrency 1 (in order);
//!   deliveries/s from the first publish to the last receipt, and
//!   publish-to-receipt p50/p99 (which include queueing behind the backlog);
//! - `relay 10 endpoints`: the same N events to 10 endpoints (10 N deliveries);
//! - `backlog drain`: after each of those, the endpoints are disabled, N
//!   more events published, and the endpoints enabled: deliveries/s from
//!   enabling to the last receipt, the relay alone (the phases above also
//!   include the publishers, which may be the slower side);
//! - `low load`: events published 5 ms apart to one endpoint: the
//!   publish-to-receipt latency without a backlog.
//!
//! Latency is receipt time minus the event's `ce-time` (set when it is
//! published, milliseconds). Each drain also reports the CPU time spent
//! per delivery by this process (the relay and the receiver) and by
//! nats-server, from `/proc/<pid>/stat`: on a machine the two share, their
//! sum bounds the rate. The last line is one JSON object.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use repobus::bus::{Bus, ConsumerOptions, Deliver};
use repobus_webhooks::attempts::AttemptLog;
use repobus_webhooks::endpoint::EndpointSpec;
use repobus_webhooks::relay::{Relay, RelayOptions};
use repobus_webhooks::store::WebhookStore;

#[derive(Clone, Default)]
struct Receipts {
    /// (endpoint path, webhook-id) -> latency in ms, first receipt only.
    seen: Arc<Mutex<HashMap<(String, String), f64>>>,
    /// Distinct events received per path (counted on first receipt, so
    /// that waiting does not scan every receipt).
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

async fn receive(
    State(receipts): State<Receipts>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    _body: Bytes,
) -> StatusCode {
    let now = Utc::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let sent = headers
        .get("ce-time")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let latency = sent.map_or(f64::NAN, |s| {
        (now - s).num_microseconds().unwrap_or(0) as f64 / 1000.0
    });
    let first = {
        let mut seen = receipts.seen.lock().unwrap();
        match seen.entry((uri.path().to_owned(), id)) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(latency);
                true
            }
        }
    };
    if first {
        *receipts
            .counts
            .lock()
            .unwrap()
            .entry(uri.path().to_owned())
            .or_default() += 1;
    }
    StatusCode::OK
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) used so far by `pid`, or by this process.
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let Ok(stat) = std::fs::read_to_string(path) else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name: state is field 3,
    // utime and stime fields 14 and 15, in clock ticks (USER_HZ, 100 on
    // Linux).
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn publish_all(bus: &Bus, n: usize, tag: &str) {
    let publisher = bus.publisher();
    let tasks = 32;
    let mut joins = Vec::new();
    for t in 0..tasks {
        let publisher = publisher.clone();
        let tag = tag.to_owned();
        joins.push(tokio::spawn(async move {
            let mut i = t;
            while i < n {
                let event = repobus_testkit::sync_started(&format!("{tag}-{i}"));
                publisher.publish(&event).await.expect("publish");
                i += tasks;
            }
        }));
    }
    for j in joins {
        j.await.expect("publisher task");
    }
}

/// Waits until `paths` have each received `n` events; returns the elapsed
/// time since `start` and the sorted latencies.
async fn wait_receipts(
    receipts: &Receipts,
    paths: &[String],
    n: usize,
    start: Instant,
) -> (Duration, Vec<f64>) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = {
            let counts = receipts.counts.lock().unwrap();
            paths
                .iter()
                .all(|p| counts.get(p).copied().unwrap_or(0) >= n)
        };
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries did not finish");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = start.elapsed();
    let seen = receipts.seen.lock().unwrap();
    let mut latencies: Vec<f64> = seen
        .iter()
        .filter(|((path, _), _)| paths.contains(path))
        .map(|(_, l)| *l)
        .collect();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    (elapsed, latencies)
}

#[tokio::main]
async fn main() {
    let n = arg("--events", 5000);
    let nats = repobus_testkit::server().await;
    let bus = Bus::connect(repobus::bus::BusConfig::new(nats.url()))
        .await
        .expect("connect");
    let receipts = Receipts::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(receipts.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let store = WebhookStore::open(&bus).await.unwrap();
    let relay = Relay::new(
        &bus,
        RelayOptions {
            allow_private_targets: true,
            ..RelayOptions::default()
        },
    )
    .await
    .unwrap();
    tokio::spawn(relay.run(std::future::pending()));
    let mut rows: Vec<(String, f64, f64, f64)> = Vec::new();

    // The publishers alone, then the bus's own consume rate.
    let start = Instant::now();
    publish_all(&bus, n, "consume").await;
    let publish_alone = n as f64 / start.elapsed().as_secs_f64();
    let mut subscription = bus
        .subscriber()
        .subscribe(ConsumerOptions {
            deliver: Deliver::All,
            explicit_ack: false,
            ..ConsumerOptions::default()
        })
        .await
        .unwrap();
    let start = Instant::now();
    for _ in 0..n {
        subscription.next().await.expect("event").expect("decoded");
    }
    let consume_rate = n as f64 / start.elapsed().as_secs_f64();
    rows.push((
        "publishing, no endpoint".into(),
        publish_alone,
        f64::NAN,
        f64::NAN,
    ));
    rows.push((
        "bus consume (Subscription)".into(),
        consume_rate,
        f64::NAN,
        f64::NAN,
    ));
    drop(subscription);

    // One endpoint, ordered; then ten.
    let mut phases = Vec::new();
    let mut drains = Vec::new();
    let mut publishes = Vec::new();
    let mut cpus: Vec<(f64, f64)> = Vec::new();
    for (label, count) in [
        ("relay 1 endpoint (ordered)", 1usize),
        ("relay 10 endpoints (ordered each)", 10),
    ] {
        let paths: Vec<String> = (0..count)
            .map(|i| format!("/{label_id}-{i}", label_id = count))
            .collect();
        for (i, path) in paths.iter().enumerate() {
            store
                .create(EndpointSpec {
                    allow_private_target: true,
                    ..EndpointSpec::new(
                        format!("bench-{count}-{i}"),
                        format!("http://{addr}{path}"),
                    )
                })
                .await
                .unwrap();
        }
        // Let the relay start the workers.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start = Instant::now();
        publish_all(&bus, n, &format!("load{count}")).await;
        let publish_rate = n as f64 / start.elapsed().as_secs_f64();
        let (elapsed, latencies) = wait_receipts(&receipts, &paths, n, start).await;
        let rate = (n * count) as f64 / elapsed.as_secs_f64();
        rows.push((
            format!("  publishing meanwhile ({count} endpoint(s))"),
            publish_rate,
            f64::NAN,
            f64::NAN,
        ));
        publishes.push(publish_rate);
        rows.push((
            label.into(),
            rate,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
        ));
        phases.push(rate);
        // The relay alone: N events waiting (endpoints disabled while
        // they are published), then the endpoints enabled.
        for i in 0..count {
            store
                .disable(&format!("bench-{count}-{i}"), "bench")
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        publish_all(&bus, n, &format!("backlog{count}")).await;
        let start = Instant::now();
        let cpu = (cpu_seconds(None), cpu_seconds(nats.pid()));
        for i in 0..count {
            store.enable(&format!("bench-{count}-{i}")).await.unwrap();
        }
        let (elapsed, _) = wait_receipts(&receipts, &paths, 2 * n, start).await;
        let drain = (n * count) as f64 / elapsed.as_secs_f64();
        let per_delivery = |before: f64, after: f64| (after - before) / (n * count) as f64 * 1e6;
        let cpu = (
            per_delivery(cpu.0, cpu_seconds(None)),
            per_delivery(cpu.1, cpu_seconds(nats.pid())),
        );
        cpus.push(cpu);
        rows.push((
            format!("  backlog drain, {count} endpoint(s)"),
            drain,
            f64::NAN,
            f64::NAN,
        ));
        drains.push(drain);
        for i in 0..count {
            store.remove(&format!("bench-{count}-{i}")).await.unwrap();
        }
    }

    // Low load: one endpoint, an event every 5 ms.
    let low_n = 400.min(n);
    store
        .create(EndpointSpec {
            allow_private_target: true,
            ..EndpointSpec::new("bench-low", format!("http://{addr}/low"))
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let publisher = bus.publisher();
    let start = Instant::now();
    for i in 0..low_n {
        publisher
            .publish(&repobus_testkit::sync_started(&format!("low-{i}")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, latencies) = wait_receipts(&receipts, &["/low".to_owned()], low_n, start).await;
    let low = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    rows.push((
        "low load, 1 endpoint (200/s)".into(),
        f64::NAN,
        low.0,
        low.1,
    ));

    for (count, (relay_us, server_us)) in [1, 10].iter().zip(&cpus) {
        println!(
            "CPU per delivery, drain to {count} endpoint(s): {relay_us:.0} us this process (relay + receiver), {server_us:.0} us nats-server"
        );
    }
    // Every attempt recorded: the records are written in batches, so
    // count them back (each endpoint got 2 N events, none failed).
    let log = AttemptLog::open(&bus).await.unwrap();
    log.flush().await;
    for endpoint in ["bench-1-0", "bench-10-9"] {
        let recorded = log.attempts(endpoint, 4 * n).await.unwrap().len();
        assert_eq!(recorded, 2 * n, "attempt records of {endpoint}");
    }
    println!("attempt records: 2 x {n} for each endpoint checked, as delivered");
    println!(
        "{:<36} {:>14} {:>10} {:>10}",
        "phase", "events/s", "p50 ms", "p99 ms"
    );
    for (label, rate, p50, p99) in &rows {
        let label = label.as_str();
        let show = |v: f64, prec: usize| {
            if v.is_nan() {
                "-".to_owned()
            } else {
                format!("{v:.prec$}")
            }
        };
        println!(
            "{label:<36} {:>14} {:>10} {:>10}",
            show(*rate, 0),
            show(*p50, 1),
            show(*p99, 1)
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "events": n,
            "bus_consume_per_s": consume_rate.round(),
            "relay_1_endpoint_deliveries_per_s": phases[0].round(),
            "relay_10_endpoints_deliveries_per_s": phases[1].round(),
            "relay_1_vs_consume": (phases[0] / consume_rate * 1000.0).round() / 1000.0,
            "relay_10_vs_consume": (phases[1] / consume_rate * 1000.0).round() / 1000.0,
            "drain_1_endpoint_deliveries_per_s": drains[0].round(),
            "drain_10_endpoints_deliveries_per_s": drains[1].round(),
            "drain_1_vs_consume": (drains[0] / consume_rate * 1000.0).round() / 1000.0,
            "drain_10_vs_consume": (drains[1] / consume_rate * 1000.0).round() / 1000.0,
            "publish_during_1_per_s": publishes[0].round(),
            "publish_during_10_per_s": publishes[1].round(),
            "publish_alone_per_s": publish_alone.round(),
            "drain_1_cpu_us_per_delivery": {"bench_process": cpus[0].0.round(), "nats_server": cpus[0].1.round()},
            "drain_10_cpu_us_per_delivery": {"bench_process": cpus[1].0.round(), "nats_server": cpus[1].1.round()},
            "load_1_p50_ms": rows[3].2, "load_1_p99_ms": rows[3].3,
            "load_10_p50_ms": rows[6].2, "load_10_p99_ms": rows[6].3,
            "low_load_p50_ms": low.0, "low_load_p99_ms": low.1,
        })
    );
}
