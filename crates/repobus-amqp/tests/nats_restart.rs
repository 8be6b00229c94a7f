//! FAULT: the NATS server under a running bridge is SIGKILLed and restarted
//! on the same port and store mid-stream, with a private RabbitMQ node and
//! a private nats-server.
//!
//! - amqp-in: messages published to RabbitMQ (by fedora-messaging's real
//!   `api.publish`) before, during and after the outage are each stored in
//!   JetStream exactly once: the bridge acknowledges AMQP only after the
//!   JetStream ack (nothing lost) and stores with `ce-id` = the AMQP
//!   `message_id` (a retried store is deduplicated), and it keeps running.
//! - amqp-out: events stored before the outage, published while the server
//!   is down (retried by repobus's publisher until it is back) and after it
//!   all reach AMQP; none is lost. Delivery is at least once: the
//!   consumer's acks of the last moments before the SIGKILL are not on
//!   disk, so those events are sent again, with the same `message_id`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use repobus::Event;
use repobus_amqp::inbound::{Inbound, InboundConfig, InboundStats, QueueSource};
use repobus_amqp::outbound::{Outbound, OutboundConfig, OutboundStats};
use repobus_amqp::AmqpConfig;
use repobus_testkit::rabbitmq::RabbitMq;
use repobus_testkit::{connect, header, server, stream_messages, sync_started, within};
use serde_json::{json, Value};

const PREFIX: &str = "org.fedoraproject.prod";
/// amqp-out's routing-key prefix: apart from amqp-in's messages.
const OUT_PREFIX: &str = "org.repobus.natsrestart";

/// `n` valid Copr messages (the corpus, cycled), each with its own
/// `message_id` `<tag>-<i>`.
fn copr_batch(corpus: &[Value], tag: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut item = corpus[i % corpus.len()].clone();
            item["id"] = json!(format!("{tag}-{i:03}"));
            item
        })
        .collect()
}

async fn publish_to_amqp(rabbit: &RabbitMq, items: Vec<Value>) -> Vec<Value> {
    let url = rabbit.url();
    tokio::task::spawn_blocking(move || common::fm_publish(&url, PREFIX, &items))
        .await
        .expect("publisher")
}

async fn until(what: &str, secs: u64, done: impl Fn() -> bool) {
    within(secs, what, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn handled(stats: &InboundStats) -> u64 {
    stats.stored.load(Ordering::Relaxed) + stats.duplicates.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn amqp_in_stores_every_message_once_across_a_nats_kill_and_restart() {
    const BEFORE: usize = 120;
    const DURING: usize = 40;
    const AFTER: usize = 40;
    let rabbit = RabbitMq::shared();
    let mut nats = server().await;
    let bus = connect(&nats).await;
    let queue = "repobus-in-nats-restart";
    let mut config = InboundConfig::new(
        AmqpConfig::new(rabbit.url()),
        QueueSource::Declare {
            queue: queue.into(),
            exchange: "amq.topic".into(),
            topics: vec![format!("{PREFIX}.copr.#")],
        },
    );
    config.prefetch = 20;
    config.backoff.min = Duration::from_millis(100);
    config.backoff.max = Duration::from_millis(500);
    let inbound = Inbound::new(config, bus.clone());
    inbound.declare().await.expect("declare");
    let stats = inbound.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let inbound = inbound.clone();
        async move {
            inbound
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });

    let corpus = common::copr_corpus();
    assert!(!corpus.is_empty(), "the corpus has valid Copr messages");
    let before = copr_batch(&corpus, "before", BEFORE);
    let during = copr_batch(&corpus, "during", DURING);
    let after = copr_batch(&corpus, "after", AFTER);
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for item in before.iter().chain(&during).chain(&after) {
        expected.insert(item["id"].as_str().expect("id").to_owned());
    }
    let total = expected.len();

    // Kill the server while the first batch is still being published and
    // stored: some stores are in flight, more messages keep coming.
    let publishing = tokio::spawn({
        let url = rabbit.url();
        async move {
            tokio::task::spawn_blocking(move || common::fm_publish(&url, PREFIX, &before))
                .await
                .expect("publisher")
        }
    });
    until("the first messages stored", 30, || {
        stats.stored.load(Ordering::Relaxed) >= 10
    })
    .await;
    nats.kill();
    assert!(!nats.is_running());
    // A store acknowledged just before the kill is counted a moment later.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let handled_at_kill = handled(&stats);
    assert!(
        handled_at_kill < BEFORE as u64,
        "the kill must land mid-stream ({handled_at_kill} handled)"
    );

    // While the server is down: the rest of the first batch and a second
    // one. Nothing can be stored; nothing may be acknowledged to AMQP.
    let published_before = within(60, "the first batch published", publishing)
        .await
        .expect("publisher task");
    assert_eq!(published_before.len(), BEFORE);
    let published_during = publish_to_amqp(rabbit, during).await;
    assert_eq!(published_during.len(), DURING);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        handled(&stats),
        handled_at_kill,
        "nothing is stored (nor acknowledged) while NATS is down"
    );
    assert!(!running.is_finished(), "amqp-in keeps running without NATS");

    within(30, "restarting nats-server", nats.restart())
        .await
        .expect("restart");
    let published_after = publish_to_amqp(rabbit, after).await;
    assert_eq!(published_after.len(), AFTER);

    until("every message handled", 30, || {
        handled(&stats) >= total as u64
    })
    .await;
    // Let anything that would be stored twice show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        handled(&stats),
        total as u64,
        "each message handled once (stored, or found stored after a lost ack)"
    );
    let stored = stream_messages(&bus, bus.config().stream_name()).await;
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for (subject, headers, _) in &stored {
        assert!(subject.starts_with("repobus.build.chroot."), "{subject}");
        *ids.entry(header(headers, "ce-id")).or_default() += 1;
    }
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let got: BTreeSet<String> = ids.into_keys().collect();
    let lost: Vec<_> = expected.difference(&got).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert_eq!(got, expected);
    assert_eq!(stored.len(), total);
    assert!(!running.is_finished(), "amqp-in keeps running");
    assert_eq!(
        stats.dead_lettered.load(Ordering::Relaxed) + stats.skipped.load(Ordering::Relaxed),
        0
    );

    let _ = stop.send(());
    within(30, "amqp-in stops", running)
        .await
        .expect("join")
        .expect("run");
    // Every message was acknowledged: once the bridge is gone (and with
    // it anything unacknowledged, back to the queue), the queue is empty.
    let connection = AmqpConfig::new(rabbit.url())
        .connect()
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let left = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("passive declare")
        .message_count();
    assert_eq!(left, 0, "every AMQP message acknowledged");
}

fn sent(stats: &OutboundStats) -> u64 {
    stats.sent.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn amqp_out_sends_every_event_across_a_nats_kill_and_restart() {
    const BEFORE: usize = 150;
    const DURING: usize = 20;
    const AFTER: usize = 30;
    let rabbit = RabbitMq::shared();
    let mut nats = server().await;
    let bus = connect(&nats).await;

    // A queue bound to everything amqp-out sends (and nothing the other
    // test publishes on the shared node), read as it goes.
    let connection = AmqpConfig::new(rabbit.url())
        .connect()
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let queue = "amqp-out-nats-restart";
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue");
    channel
        .queue_bind(
            queue.into(),
            "amq.topic".into(),
            format!("{OUT_PREFIX}.#").as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let reading = tokio::spawn({
        let received = received.clone();
        async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let id = delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default();
                received.lock().expect("lock").push(id);
            }
        }
    });

    let publisher = bus.publisher();
    let event = |tag: &str, i: usize| -> Event { sync_started(&format!("{tag}-{i:03}")) };
    let mut expected = BTreeSet::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..BEFORE {
        let ack = publisher
            .publish(&event("before", i))
            .await
            .expect("publish");
        names.insert(ack.event_id.clone(), format!("before-{i:03}"));
        expected.insert(ack.event_id);
    }

    let mut config = OutboundConfig::new(AmqpConfig::new(rabbit.url()), "amqp-out-nats-restart")
        .topic_prefix(OUT_PREFIX);
    config.window = 8;
    let outbound = Outbound::new(config, bus.clone());
    let stats = outbound.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let outbound = outbound.clone();
        async move {
            outbound
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    until("the first events sent", 30, || sent(&stats) >= 16).await;
    nats.kill();
    let sent_at_kill = sent(&stats);
    assert!(
        sent_at_kill < BEFORE as u64,
        "the kill must land mid-stream ({sent_at_kill} sent)"
    );

    // Published while the server is down: repobus's publisher retries
    // until it is back.
    let publishing = tokio::spawn({
        let publisher = publisher.clone();
        async move {
            let mut ids = Vec::new();
            for i in 0..DURING {
                let ack = publisher
                    .publish(&event("during", i))
                    .await
                    .expect("publish during the outage");
                ids.push(ack.event_id);
            }
            ids
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !running.is_finished(),
        "amqp-out keeps running without NATS"
    );
    within(30, "restarting nats-server", nats.restart())
        .await
        .expect("restart");
    expected.extend(
        within(30, "the events published during the outage", publishing)
            .await
            .expect("publisher task"),
    );
    for i in 0..AFTER {
        let ack = publisher
            .publish(&event("after", i))
            .await
            .expect("publish after the restart");
        expected.insert(ack.event_id);
    }
    assert_eq!(expected.len(), BEFORE + DURING + AFTER);

    let arrived =
        || -> BTreeSet<String> { received.lock().expect("lock").iter().cloned().collect() };
    within(45, "every event on AMQP", async {
        while !expected.is_subset(&arrived()) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let got = arrived();
    let unknown: Vec<_> = got.difference(&expected).collect();
    assert!(
        unknown.is_empty(),
        "sent what was never published: {unknown:?}"
    );
    assert!(!running.is_finished(), "amqp-out keeps running");
    // At least once: an event whose NATS ack the kill lost may be sent
    // again, with the same message_id; none is lost.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for id in received.lock().expect("lock").iter() {
        *counts.entry(id.clone()).or_default() += 1;
    }
    let again: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| names.get(id).map_or("during/after", String::as_str))
        .collect();
    eprintln!(
        "amqp-out: {} events, {} sent again after the restart ({:?}...), {sent_at_kill} sent before the kill",
        expected.len(),
        again.len(),
        again.iter().take(4).collect::<Vec<_>>(),
    );
    assert!(
        again.iter().all(|name| name.starts_with("before-")),
        "only events delivered before the kill are sent again: {again:?}"
    );
    assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 0);

    let _ = stop.send(());
    within(30, "amqp-out stops", running)
        .await
        .expect("join")
        .expect("run");
    let _ = connection.close(200, "done".into()).await;
    reading.abort();
}
