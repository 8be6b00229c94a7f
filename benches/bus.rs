//! Throughput of repobus's typed path against raw async-nats, in one run on
//! one server, for the same bodies.
//!
//! ```text
//! cargo bench --bench bus -- --messages 100000
//! cargo bench --bench bus -- --messages 100000 --nats-url nats://127.0.0.1:4222
//! ```
//!
//! Without `--nats-url` it starts a private `nats-server -js` (from
//! `$REPOBUS_NATS_SERVER` or PATH) in a temporary directory. Each phase runs
//! raw first, then repobus, `--rounds` times, and keeps the best rate of each:
//!
//! - core publish: `client.publish(subject, bytes)` vs `Publisher::publish_core`
//!   (serialize the typed event, CloudEvents headers);
//! - JetStream publish with acks, `--window` publishes in flight: raw
//!   `jetstream.publish` vs `Publisher::publish` (headers, Nats-Msg-Id,
//!   retry loop);
//! - consume: raw pull consumer counting bytes vs `Subscription::next`
//!   (validated against the schema and decoded);
//! - publish-to-receive latency of the repobus path, p50 and p99.
//!
//! The last line is one JSON object with the ratios (repobus rate / raw rate).
//!
//! The publish phases also run raw async-nats with the same nine CloudEvents
//! headers repobus sends, built before the clock starts: the ratio against
//! that column is what repobus's own code costs, apart from what the headers
//! and the `Nats-Msg-Id` de-duplication cost the client and the server.
//! "raw + built" builds each message's header map inside the clock the
//! cheapest way async-nats's `HeaderMap` allows (a clone of a full template
//! with the four per-event values inserted, the values written beforehand):
//! the gap between it and "raw + headers" is the cost of that API, and the
//! ratio against it is what repobus's own code costs beyond it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use repobus::bus::{Bus, ConsumerOptions, Deliver, PublishOptions};
use repobus::envelope::Envelope;
use repobus::{Event, EventType};

#[derive(Parser)]
struct Args {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Messages per phase.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// NATS server to use (default: start a private one).
    #[arg(long)]
    nats_url: Option<String>,
    /// --cluster / --replicas: run on a 3-node cluster.
    #[command(flatten)]
    topology: support::Topology,
    /// JetStream publishes in flight at once.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Rounds per phase; the best rate counts.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Messages for the latency phase.
    #[arg(long, default_value_t = 2000)]
    latency_messages: usize,
}

#[path = "support/mod.rs"]
mod support;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Each message's per-event header values: id, time and subject.
type HeaderValues = Arc<Vec<(String, String, String)>>;

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// The same bodies for both paths: Pulp's sync result with varying repos.
fn events(n: usize) -> BenchResult<Vec<Event>> {
    let example = repobus::EventType::RepoSyncFinished
        .examples()
        .into_iter()
        .next()
        .ok_or("no example")?;
    (0..n)
        .map(|i| {
            let mut body = example.clone();
            body["repo_id"] = format!("repo-{}", i % 100).into();
            body["added_count"] = i.into();
            Ok(Event::from_value(EventType::RepoSyncFinished, body)?)
        })
        .collect()
}

async fn best<F, Fut>(rounds: usize, mut run: F) -> BenchResult<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = BenchResult<f64>>,
{
    let mut best = 0f64;
    for _ in 0..rounds {
        best = best.max(run().await?);
    }
    Ok(best)
}

/// Publishes `messages` (subject, headers or none, body) through `js`
/// with `window` acks in flight, taking each from the iterator as it is
/// sent (so whatever builds them is timed): messages/s, or an error naming
/// `what` when fewer than `n` were acked.
async fn acked_rate(
    js: &async_nats::jetstream::Context,
    messages: impl Iterator<Item = (String, Option<async_nats::HeaderMap>, Bytes)>,
    window: usize,
    n: usize,
    what: &str,
) -> BenchResult<f64> {
    let start = Instant::now();
    let acked = futures_util::stream::iter(messages)
        .map(|(subject, headers, body)| {
            let js = js.clone();
            async move {
                match headers {
                    Some(headers) => js.publish_with_headers(subject, headers, body).await?.await,
                    None => js.publish(subject, body).await?.await,
                }
            }
        })
        .buffer_unordered(window)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    if acked != n {
        return Err(format!("{what}: {acked} of {n} acked").into());
    }
    Ok(rate(n, start.elapsed()))
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    let n = args.messages;
    let server = support::start(args.nats_url.as_deref(), &args.topology).await?;
    let url = server.url.clone();
    let mut config = server.config("bench");
    let tag = config.subject_prefix().to_owned();
    config = config.max_in_flight(args.window.max(1) * 2);
    let bus = Bus::connect(config.clone()).await?;
    let publisher = bus.publisher();
    let client = bus.client().clone();
    let js = bus.jetstream().clone();
    let stream_name = config.stream_name().to_owned();

    let events = Arc::new(events(n)?);
    let raw: Arc<Vec<(String, Bytes)>> = Arc::new(
        events
            .iter()
            .map(|e| (bus.subjects().for_event(e), Bytes::from(e.to_vec())))
            .collect(),
    );
    let body_bytes = raw.iter().map(|(_, b)| b.len()).sum::<usize>() / n.max(1);
    println!(
        "{n} messages of ~{body_bytes} bytes per phase, best of {} rounds, server {url}",
        args.rounds
    );

    // Core publish, on subjects no stream captures.
    let core_config = config.clone().prefix(format!("{tag}core"));
    let core_bus = Bus::connect_core(core_config).await?;
    let core_publisher = core_bus.publisher();
    let core_raw: Arc<Vec<(String, Bytes)>> = Arc::new(
        events
            .iter()
            .map(|e| (core_bus.subjects().for_event(e), Bytes::from(e.to_vec())))
            .collect(),
    );
    let prebuilt_headers = |rounds: usize| -> BenchResult<Vec<Vec<async_nats::HeaderMap>>> {
        (0..rounds)
            .map(|_| {
                events
                    .iter()
                    .map(|e| Ok(Envelope::new(e, config.event_source(), None)?.to_headers()))
                    .collect()
            })
            .collect()
    };
    // The cheapest per-message header map async-nats's API allows: a clone
    // of a template holding every header, with the four per-event values
    // (id, time, subject, Nats-Msg-Id) inserted, the values themselves
    // written before the clock starts. What repobus pays on top of this is
    // its own code; what this pays on top of prebuilt maps is the
    // `HeaderMap` API's.
    // Fresh IDs for every round: a repeated `Nats-Msg-Id` is a duplicate
    // the server acknowledges without storing, which would flatter the rate.
    let fresh_values = |rounds: usize| -> BenchResult<Vec<HeaderValues>> {
        (0..rounds)
            .map(|_| {
                let values = events
                    .iter()
                    .map(|e| {
                        let envelope = Envelope::new(e, config.event_source(), None)?;
                        Ok((
                            envelope.event_id.clone(),
                            envelope.time_rfc3339(),
                            envelope.subject.clone(),
                        ))
                    })
                    .collect::<BenchResult<Vec<_>>>()?;
                Ok(Arc::new(values))
            })
            .collect()
    };
    let template = Arc::new(
        Envelope::new(
            events.first().ok_or("no events")?,
            config.event_source(),
            None,
        )?
        .to_headers(),
    );
    let per_message = |template: &async_nats::HeaderMap,
                       (id, time, subject): &(String, String, String)| {
        let mut headers = template.clone();
        headers.insert("ce-id", id.as_str());
        headers.insert("ce-time", time.as_str());
        headers.insert("ce-subject", subject.as_str());
        headers.insert("Nats-Msg-Id", id.as_str());
        headers
    };
    let mut core_values = fresh_values(args.rounds)?;
    let raw_core_built = best(args.rounds, || {
        let client = client.clone();
        let core_raw = core_raw.clone();
        let (values, template) = (core_values.pop().unwrap_or_default(), template.clone());
        async move {
            let start = Instant::now();
            for ((subject, body), v) in core_raw.iter().zip(values.iter()) {
                client
                    .publish_with_headers(subject.clone(), per_message(&template, v), body.clone())
                    .await?;
            }
            client.flush().await?;
            Ok(rate(n, start.elapsed()))
        }
    })
    .await?;
    let mut core_headers = prebuilt_headers(args.rounds)?;
    let raw_core_headers = best(args.rounds, || {
        let client = client.clone();
        let core_raw = core_raw.clone();
        let headers = core_headers.pop().unwrap_or_default();
        async move {
            let start = Instant::now();
            for ((subject, body), headers) in core_raw.iter().zip(headers) {
                client
                    .publish_with_headers(subject.clone(), headers, body.clone())
                    .await?;
            }
            client.flush().await?;
            Ok(rate(n, start.elapsed()))
        }
    })
    .await?;
    let raw_core = best(args.rounds, || {
        let client = client.clone();
        let core_raw = core_raw.clone();
        async move {
            let start = Instant::now();
            for (subject, body) in core_raw.iter() {
                client.publish(subject.clone(), body.clone()).await?;
            }
            client.flush().await?;
            Ok(rate(n, start.elapsed()))
        }
    })
    .await?;
    let repobus_core = best(args.rounds, || {
        let core_publisher = core_publisher.clone();
        let events = events.clone();
        let client = core_bus.client().clone();
        async move {
            let start = Instant::now();
            for event in events.iter() {
                core_publisher
                    .publish_core(event, PublishOptions::default())
                    .await?;
            }
            client.flush().await?;
            Ok(rate(n, start.elapsed()))
        }
    })
    .await?;

    // JetStream publish with acks, `window` in flight.
    let purge = |js: async_nats::jetstream::Context, name: String| async move {
        js.get_stream(&name).await?.purge().await?;
        BenchResult::Ok(())
    };
    let window = args.window.max(1);
    let raw_js = best(args.rounds, || {
        let js = js.clone();
        let raw = raw.clone();
        let purge = purge(js.clone(), stream_name.clone());
        async move {
            purge.await?;
            let messages = raw
                .iter()
                .map(|(subject, body)| (subject.clone(), None, body.clone()));
            acked_rate(&js, messages, window, n, "raw").await
        }
    })
    .await?;
    let mut js_values = fresh_values(args.rounds)?;
    let raw_js_built = best(args.rounds, || {
        let js = js.clone();
        let raw = raw.clone();
        let (values, template) = (js_values.pop().unwrap_or_default(), template.clone());
        let purge = purge(js.clone(), stream_name.clone());
        async move {
            purge.await?;
            // Built as they are sent: the building is timed.
            let messages = raw.iter().zip(values.iter()).map(|((subject, body), v)| {
                (
                    subject.clone(),
                    Some(per_message(&template, v)),
                    body.clone(),
                )
            });
            acked_rate(&js, messages, window, n, "raw with built headers").await
        }
    })
    .await?;
    let mut js_headers = prebuilt_headers(args.rounds)?;
    let raw_js_headers = best(args.rounds, || {
        let js = js.clone();
        let raw = raw.clone();
        let headers = js_headers.pop().unwrap_or_default();
        let purge = purge(js.clone(), stream_name.clone());
        async move {
            purge.await?;
            let messages = raw
                .iter()
                .zip(headers)
                .map(|((subject, body), headers)| (subject.clone(), Some(headers), body.clone()));
            acked_rate(&js, messages, window, n, "raw with headers").await
        }
    })
    .await?;
    let repobus_js = best(args.rounds, || {
        let publisher = publisher.clone();
        let events = events.clone();
        let purge = purge(js.clone(), stream_name.clone());
        async move {
            purge.await?;
            let start = Instant::now();
            let acked = futures_util::stream::iter(events.iter())
                .map(|event| publisher.publish(event))
                .buffer_unordered(window)
                .filter(|r| std::future::ready(r.is_ok()))
                .count()
                .await;
            if acked != n {
                return Err(format!("repobus: {acked} of {n} acked").into());
            }
            Ok(rate(n, start.elapsed()))
        }
    })
    .await?;

    // Consume the n events the last round stored.
    let raw_consume = best(args.rounds, || {
        let js = js.clone();
        let stream_name = stream_name.clone();
        async move {
            let stream = js.get_stream(&stream_name).await?;
            let consumer = stream
                .create_consumer(pull::Config {
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::None,
                    inactive_threshold: Duration::from_secs(60),
                    ..Default::default()
                })
                .await?;
            let start = Instant::now();
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(500)
                .messages()
                .await?;
            let (mut count, mut bytes) = (0usize, 0usize);
            while count < n {
                let message = messages.next().await.ok_or("raw consumer ended")??;
                bytes += message.payload.len();
                count += 1;
            }
            let elapsed = start.elapsed();
            std::hint::black_box(bytes);
            Ok(rate(n, elapsed))
        }
    })
    .await?;
    let repobus_consume = best(args.rounds, || {
        let subscriber = bus.subscriber();
        async move {
            let mut subscription = subscriber
                .subscribe(ConsumerOptions {
                    deliver: Deliver::All,
                    explicit_ack: false,
                    max_ack_pending: -1,
                    ..ConsumerOptions::default()
                })
                .await?;
            let start = Instant::now();
            let mut count = 0usize;
            while count < n {
                let delivery = subscription.next().await.ok_or("subscription ended")??;
                std::hint::black_box(&delivery.event);
                count += 1;
            }
            Ok(rate(n, start.elapsed()))
        }
    })
    .await?;

    // Publish-to-receive latency on the repobus path.
    let m = args.latency_messages.max(1);
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut subscription = bus
        .subscriber()
        .subscribe(ConsumerOptions {
            deliver: Deliver::New,
            explicit_ack: false,
            ..ConsumerOptions::default()
        })
        .await?;
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(m);
            let mut errors = 0;
            while latencies.len() < m {
                let delivery = match subscription.next().await {
                    Some(Ok(delivery)) => delivery,
                    // A transient error (a cluster's consumer moving to a
                    // new leader, a missed heartbeat) is reported, not the
                    // end of the phase.
                    Some(Err(e)) if errors < 10 => {
                        errors += 1;
                        eprintln!("latency phase: receiving: {e}");
                        continue;
                    }
                    _ => break,
                };
                let now = Instant::now();
                if let Some(start) = sent
                    .lock()
                    .ok()
                    .and_then(|mut s| s.remove(&delivery.envelope.event_id))
                {
                    latencies.push(now - start);
                }
            }
            latencies
        })
    };
    for (i, event) in events.iter().cycle().take(m).enumerate() {
        let id = format!("{tag}-latency-{i}");
        if let Ok(mut s) = sent.lock() {
            s.insert(id.clone(), Instant::now());
        }
        publisher
            .publish_with(
                event,
                PublishOptions {
                    id: Some(id),
                    ..PublishOptions::default()
                },
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut latencies = tokio::time::timeout(Duration::from_secs(60), receiver).await??;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let (p50, p99) = (pct(0.50), pct(0.99));

    // Clean up what this run created on a shared server.
    for name in [
        config.stream_name().to_owned(),
        config.dead_letter_stream_name(),
    ] {
        let _ = js.delete_stream(&name).await;
    }
    publisher.close().await;

    println!(
        "{:<26} {:>10} {:>12} {:>12} {:>10} {:>7} {:>9} {:>9}",
        "phase (messages/s)",
        "raw",
        "raw+headers",
        "raw+built",
        "repobus",
        "/raw",
        "/headers",
        "/built"
    );
    let row = |name: &str, raw: f64, headers: Option<(f64, f64)>, ours: f64| {
        let cells = headers.map_or_else(
            || {
                [
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                ]
            },
            |(h, b)| {
                [
                    format!("{h:.0}"),
                    format!("{b:.0}"),
                    format!("{:.3}", ours / h),
                    format!("{:.3}", ours / b),
                ]
            },
        );
        println!(
            "{name:<26} {raw:>10.0} {:>12} {:>12} {ours:>10.0} {:>7.3} {:>9} {:>9}",
            cells[0],
            cells[1],
            ours / raw,
            cells[2],
            cells[3]
        );
    };
    row(
        "core publish",
        raw_core,
        Some((raw_core_headers, raw_core_built)),
        repobus_core,
    );
    row(
        "jetstream publish (acked)",
        raw_js,
        Some((raw_js_headers, raw_js_built)),
        repobus_js,
    );
    row("consume", raw_consume, None, repobus_consume);
    println!(
        "latency publish->receive    p50 {p50:.3} ms   p99 {p99:.3} ms ({} messages)",
        latencies.len()
    );
    println!(
        "{}",
        serde_json::json!({
            "messages": n,
            "core_publish_ratio": repobus_core / raw_core,
            "jetstream_publish_ratio": repobus_js / raw_js,
            "consume_ratio": repobus_consume / raw_consume,
            "latency_p50_ms": p50,
            "latency_p99_ms": p99,
            "core_publish_ratio_vs_same_headers": repobus_core / raw_core_headers,
            "jetstream_publish_ratio_vs_same_headers": repobus_js / raw_js_headers,
            "core_publish_ratio_vs_built_headers": repobus_core / raw_core_built,
            "jetstream_publish_ratio_vs_built_headers": repobus_js / raw_js_built,
            "raw_core_publish_with_built_headers_per_s": raw_core_built,
            "raw_jetstream_publish_with_built_headers_per_s": raw_js_built,
            "raw_core_publish_per_s": raw_core,
            "raw_core_publish_with_headers_per_s": raw_core_headers,
            "raw_jetstream_publish_with_headers_per_s": raw_js_headers,
            "repobus_core_publish_per_s": repobus_core,
            "raw_jetstream_publish_per_s": raw_js,
            "repobus_jetstream_publish_per_s": repobus_js,
            "raw_consume_per_s": raw_consume,
            "repobus_consume_per_s": repobus_consume,
        })
    );
    Ok(())
}
