//! repobus's typed JetStream publish against fedora-messaging's own Python
//! publisher, for the same Copr message (`copr.build.end`), in one run on
//! this machine:
//!
//! - fedora-messaging: `fedora_messaging.api.publish` with copr-messaging's
//!   `BuildChrootEndedV1` ([`bench_fedora.py`](bench_fedora.py) beside this
//!   file) to a private RabbitMQ node, one call a message, each returning
//!   after the broker's confirm (what Copr's backend does);
//! - repobus: `Publisher::publish` of the same event (decoded once from the
//!   same body) to a private nats-server, acked, `--window` in flight (the
//!   library's rate), and one at a time (awaiting each ack, the same shape
//!   as `api.publish`).
//!
//! ```text
//! . scripts/tools.sh --oracle     # nats-server, RabbitMQ, .tools/venv with fedora-messaging
//! cargo run --release -p repobus-amqp --example bench_fedora -- --messages 100000 --python-messages 2000
//! ```
//!
//! Prints a table and, last, one JSON line with the rates and the ratios.
//! Never touches the machine's brokers: both servers are private.

use std::time::Instant;

use futures_util::StreamExt;
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use repobus::Event;
use repobus_amqp::AmqpConfig;
use repobus_testkit::rabbitmq::RabbitMq;
use serde_json::{json, Value};

/// Copr's `build.end` as its backend sends it (copr-messaging's example).
const BODY: &str = r#"{"status": 1, "what": "build end", "chroot": "fedora-rawhide-x86_64", "ip": null, "user": "churchyard", "who": "worker", "pid": 1, "copr": "python3.8", "version": "4.23.8-1.fc31", "build": 945012, "owner": "@python", "pkg": "python-hypothesis"}"#;

const QUEUE: &str = "bench-fedora-sink";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Declares a durable queue on `bench.#` so that every message published
/// under the `bench` prefix is routed (and kept, as in production);
/// returns how many messages it holds.
async fn sink(amqp: &AmqpConfig) -> u32 {
    let connection = amqp
        .connect()
        .await
        .expect("connect to the private RabbitMQ");
    let channel = connection.create_channel().await.expect("channel");
    let queue = channel
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare the sink queue");
    channel
        .queue_bind(
            QUEUE.into(),
            "amq.topic".into(),
            "bench.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind the sink queue");
    let count = queue.message_count();
    let _ = connection.close(200, "done".into()).await;
    count
}

#[tokio::main]
async fn main() {
    let messages = arg("--messages", 100_000);
    let py_messages = arg("--python-messages", 2000);
    let window = arg("--window", 256);
    let sequential = arg("--sequential-messages", 5000);
    let python =
        std::env::var("REPOBUS_ORACLE_PYTHON").unwrap_or_else(|_| ".tools/venv/bin/python".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bench_fedora.py");

    // JetStream's default durability (the store syncs on its interval, not
    // on every write), as in the project's `bus` bench.
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut options = repobus_local::LocalNatsOptions::new(dir.path());
    options.sync_always = false;
    let nats = repobus_local::LocalNats::start(options)
        .await
        .unwrap_or_else(|e| panic!("cannot start nats-server (. scripts/tools.sh): {e}"));
    let bus = repobus_testkit::connect_default(&nats).await;
    let publisher = bus.publisher();
    let event = Event::decode("copr.build.end", BODY.as_bytes()).expect("the Copr body decodes");

    // 1. repobus, the same event, acked by JetStream.
    let warm = messages.min(10_000);
    let mut acks = futures_util::stream::iter(0..warm)
        .map(|_| publisher.publish(&event))
        .buffer_unordered(window);
    while let Some(ack) = acks.next().await {
        ack.expect("publish");
    }
    drop(acks);
    let started = Instant::now();
    let mut acks = futures_util::stream::iter(0..messages)
        .map(|_| publisher.publish(&event))
        .buffer_unordered(window);
    while let Some(ack) = acks.next().await {
        ack.expect("publish");
    }
    drop(acks);
    let windowed = messages as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..sequential {
        publisher.publish(&event).await.expect("publish");
    }
    let one_by_one = sequential as f64 / started.elapsed().as_secs_f64();
    publisher.close().await;
    let stored = repobus_testkit::stream_len(&bus, bus.config().stream_name()).await;
    assert_eq!(
        stored as usize,
        warm + messages + sequential,
        "every publish stored once"
    );

    // RabbitMQ starts after repobus's phase: its Erlang schedulers keep
    // spinning for a while after work, which would take CPU from it.
    let rabbit = tokio::task::spawn_blocking(RabbitMq::start)
        .await
        .expect("rabbitmq");
    let amqp = AmqpConfig::new(rabbit.url());
    sink(&amqp).await;

    // 2. fedora-messaging 3.9, copr-messaging's class, one api.publish a message.
    let output = std::process::Command::new(&python)
        .args([
            script,
            &rabbit.url(),
            "bench",
            &py_messages.to_string(),
            BODY,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (run `. scripts/tools.sh --oracle`): {e}"));
    assert!(
        output.status.success(),
        "bench_fedora.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let py: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "bench_fedora.py printed {:?}: {e}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let fm_rate = py["per_s"].as_f64().expect("per_s");
    let routed = sink(&amqp).await;
    assert_eq!(
        routed as usize,
        py_messages + 20,
        "the sink queue should hold every message fedora-messaging published"
    );

    let fm = format!(
        "fedora-messaging {} `api.publish`, copr-messaging {} `BuildChrootEndedV1` (Python {}, RabbitMQ, confirms)",
        py["fedora_messaging"].as_str().unwrap_or("?"),
        py["copr_messaging"].as_str().unwrap_or("?"),
        py["python"].as_str().unwrap_or("?"),
    );
    println!(
        "| publisher (Copr `build.end`, same body) | messages | messages/s | / fedora-messaging |"
    );
    println!("| --- | ---: | ---: | ---: |");
    println!("| {fm} | {py_messages} | {fm_rate:.0} | 1 |");
    println!(
        "| repobus `Publisher::publish`, JetStream acked, {window} in flight | {messages} | {windowed:.0} | **{:.0}** |",
        windowed / fm_rate
    );
    println!(
        "| repobus `Publisher::publish`, JetStream acked, one at a time | {sequential} | {one_by_one:.0} | {:.1} |",
        one_by_one / fm_rate
    );
    println!(
        "{}",
        json!({
            "fedora_messaging_version": py["fedora_messaging"],
            "copr_messaging_version": py["copr_messaging"],
            "fedora_messaging_per_s": (fm_rate * 10.0).round() / 10.0,
            "repobus_window": window,
            "repobus_per_s": windowed.round(),
            "repobus_one_at_a_time_per_s": one_by_one.round(),
            "repobus_vs_fedora_messaging": (windowed / fm_rate).round(),
            "one_at_a_time_vs_fedora_messaging": (one_by_one / fm_rate * 10.0).round() / 10.0,
        })
    );
    drop(rabbit);
}
