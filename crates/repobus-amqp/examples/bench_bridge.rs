//! Messages per second through the bridge, each direction, against
//! fedora-messaging's own Python publisher and the raw lapin client on the
//! same private broker, in one run:
//!
//! ```text
//! . scripts/tools.sh --oracle
//! cargo run --release -p repobus-amqp --example bench_bridge -- --messages 5000
//! ```
//!
//! Starts a private RabbitMQ node and a private nats-server (never the
//! machine's). Prints a Markdown table.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use repobus::Event;
use repobus_amqp::fedora;
use repobus_amqp::inbound::{Inbound, InboundConfig, QueueSource};
use repobus_amqp::outbound::{Outbound, OutboundConfig};
use repobus_amqp::AmqpConfig;
use repobus_testkit::rabbitmq::RabbitMq;

const BODY: &str = r#"{"status": 1, "what": "build end", "chroot": "fedora-rawhide-x86_64", "ip": null, "user": "churchyard", "who": "worker", "pid": 1, "copr": "python3.8", "version": "4.23.8-1.fc31", "build": 945012, "owner": "@python", "pkg": "python-hypothesis"}"#;

const PY_PUBLISH: &str = r#"
import os, sys, tempfile, time
url, n = sys.argv[1], int(sys.argv[2])
conf = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
conf.write(f'amqp_url = "{url}"\ntopic_prefix = "bench"\n'); conf.close()
os.environ["FEDORA_MESSAGING_CONF"] = conf.name
from fedora_messaging import api
from copr_messaging import schema
import json
body = json.loads(sys.argv[3])
start = time.monotonic()
for i in range(n):
    api.publish(schema.BuildChrootEndedV1(topic="copr.build.end", body=body))
print(n / (time.monotonic() - start))
"#;

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip_while(|a| a != "--messages")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let rabbit = tokio::task::spawn_blocking(RabbitMq::start)
        .await
        .expect("rabbitmq");
    let nats = repobus_testkit::server().await;
    let bus = repobus_testkit::connect(&nats).await;
    let amqp = AmqpConfig::new(rabbit.url());
    let event = Event::decode("copr.build.end", BODY.as_bytes()).expect("event");

    // A queue that keeps what is sent to bench.#, so nothing is unroutable.
    let connection = amqp.connect().await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    for (queue, key) in [("bench-sink", "bench.#"), ("bench-in", "in.#")] {
        channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare");
        channel
            .queue_bind(
                queue.into(),
                "amq.topic".into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind");
    }
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");

    // 1. The raw client: lapin, persistent messages with confirms, pipelined.
    let publish_raw = |key: &'static str, count: usize| {
        let channel = channel.clone();
        let event = event.clone();
        async move {
            let mut confirms = Vec::with_capacity(count);
            for i in 0..count {
                let props =
                    fedora::properties(&event, &format!("bench-{key}-{i}"), chrono::Utc::now());
                confirms.push(
                    channel
                        .basic_publish(
                            "amq.topic".into(),
                            key.into(),
                            BasicPublishOptions::default(),
                            BODY.as_bytes(),
                            props,
                        )
                        .await
                        .expect("publish"),
                );
            }
            for c in confirms {
                assert!(c.await.expect("confirm").is_ack());
            }
        }
    };
    let start = Instant::now();
    publish_raw("bench.raw.copr.build.end", n).await;
    let raw = rate(n, start.elapsed());

    // 2. fedora-messaging's own publisher (Python, one api.publish a message).
    let py_n = n.min(2000);
    let python =
        std::env::var("REPOBUS_ORACLE_PYTHON").unwrap_or_else(|_| ".tools/venv/bin/python".into());
    let out = std::process::Command::new(python)
        .args(["-c", PY_PUBLISH, &rabbit.url(), &py_n.to_string(), BODY])
        .output()
        .expect("run python (. scripts/tools.sh --oracle)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("rate");

    // 3. amqp-in: N messages waiting in a queue, drained into JetStream.
    publish_raw("in.copr.build.end", n).await;
    let mut config = InboundConfig::new(amqp.clone(), QueueSource::Existing("bench-in".into()));
    config.prefetch = 256;
    let inbound = Inbound::new(config, bus.clone());
    let stats = inbound.stats();
    let (stop_in, stopped_in) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let running = tokio::spawn(async move {
        inbound
            .run(async {
                let _ = stopped_in.await;
            })
            .await
    });
    while (stats.stored.load(Ordering::Relaxed) as usize) < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let inbound_rate = rate(n, start.elapsed());
    let _ = stop_in.send(());
    running.await.expect("join").expect("amqp-in");

    // 4. amqp-out: the N stored events published to AMQP with confirms.
    let mut config = OutboundConfig::new(amqp.clone(), "bench-out").topic_prefix("bench");
    config.window = 256;
    config.loop_source = "urn:none".into();
    let outbound = Outbound::new(config, bus.clone());
    let stats = outbound.stats();
    let (stop_out, stopped_out) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let running = tokio::spawn(async move {
        outbound
            .run(async {
                let _ = stopped_out.await;
            })
            .await
    });
    while (stats.sent.load(Ordering::Relaxed) as usize) < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let outbound_rate = rate(n, start.elapsed());
    let _ = stop_out.send(());
    running.await.expect("join").expect("amqp-out");

    println!("| path ({n} messages; Python: {py_n}) | messages/s | vs raw lapin |");
    println!("| --- | ---: | ---: |");
    for (name, r) in [
        ("raw lapin publish, persistent, confirms, pipelined", raw),
        ("fedora-messaging `api.publish` (Python, one at a time)", py),
        (
            "amqp-in: AMQP queue -> JetStream (ack after JetStream ack)",
            inbound_rate,
        ),
        (
            "amqp-out: JetStream -> AMQP (ack after publisher confirm)",
            outbound_rate,
        ),
    ] {
        println!("| {name} | {r:.0} | {:.2} |", r / raw);
    }
    let _ = connection.close(200, "done".into()).await;
    drop(rabbit);
}
