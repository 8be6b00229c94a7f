//! amqp-in against a private RabbitMQ node and a private nats-server, with
//! messages published by fedora-messaging's real `api.publish` and
//! copr-messaging's real classes.

mod common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use repobus_amqp::inbound::{Inbound, InboundConfig, InboundStats, QueueSource};
use repobus_amqp::AmqpConfig;
use repobus_testkit::rabbitmq::RabbitMq;
use repobus_testkit::{connect, header, server, stream_messages, within};
use serde_json::{json, Value};

const PREFIX: &str = "org.fedoraproject.prod";

fn config(rabbit: &RabbitMq, queue: &str) -> InboundConfig {
    let mut config = InboundConfig::new(
        AmqpConfig::new(rabbit.url()),
        QueueSource::Declare {
            queue: queue.into(),
            exchange: "amq.topic".into(),
            topics: vec![format!("{PREFIX}.copr.#"), format!("{PREFIX}.bodhi.#")],
        },
    );
    config.prefetch = 20;
    config.backoff.min = Duration::from_millis(100);
    config.backoff.max = Duration::from_millis(500);
    config
}

async fn wait_for(stats: &InboundStats, what: &str, done: impl Fn(&InboundStats) -> bool) {
    within(60, what, async {
        while !done(stats) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedora_messaging_messages_arrive_typed_once_and_poison_is_dead_lettered() {
    let rabbit = RabbitMq::shared();
    let nats = server().await;
    let bus = connect(&nats).await;
    let inbound = Inbound::new(config(rabbit, "repobus-in-typed"), bus.clone());
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
    assert!(corpus.len() >= 5, "the corpus has valid Copr messages");
    let mut items: Vec<Value> = corpus.clone();
    // The same message twice (a redelivery): stored once.
    let mut dup = corpus[0].clone();
    dup["id"] = json!("6f1c7a52-0c55-4f0e-9d5f-0d7f1c2e3a41");
    items.insert(1, dup.clone());
    items.insert(2, dup);
    // A poison message on a Copr topic, then more good ones after it.
    items.insert(3, json!({"topic": "copr.build.end", "body": {"build": "not a number"}, "class": "base", "id": "poison-1"}));
    // A topic repobus does not know: skipped.
    items.insert(
        4,
        json!({"topic": "bodhi.update.comment", "body": {"comment": "hi"}, "class": "base"}),
    );
    let url = rabbit.url();
    let published = tokio::task::spawn_blocking(move || common::fm_publish(&url, PREFIX, &items))
        .await
        .expect("publisher");
    let good = corpus.len() + 1;
    wait_for(&stats, "every message handled", |s| {
        s.stored.load(Ordering::Relaxed) as usize == good
            && s.duplicates.load(Ordering::Relaxed) == 1
            && s.dead_lettered.load(Ordering::Relaxed) == 1
            && s.skipped.load(Ordering::Relaxed) == 1
    })
    .await;

    let stored = stream_messages(&bus, bus.config().stream_name()).await;
    assert_eq!(stored.len(), good, "each message stored once");
    let by_id: HashMap<String, (String, _, _)> = stored
        .into_iter()
        .map(|(subject, headers, payload)| (header(&headers, "ce-id"), (subject, headers, payload)))
        .collect();
    for expected in published.iter().filter(|p| p.get("summary").is_some()) {
        let id = expected["id"].as_str().expect("id");
        let (_, headers, payload) = by_id
            .get(id)
            .unwrap_or_else(|| panic!("message {id} is stored under its AMQP message_id"));
        let event = repobus_testkit::decode_stored(headers, payload);
        assert_eq!(json!(event.summary()), expected["summary"], "{id}");
        assert_eq!(json!(event.usernames()), expected["usernames"], "{id}");
        // copr-messaging 1.3 defines neither `packages` nor `url`
        // (fedora-messaging's defaults: none); repobus answers both.
        assert_eq!(expected["packages"], json!([]), "{id}");
        assert_eq!(expected["url"], Value::Null, "{id}");
        assert_eq!(json!(event.agent_name()), expected["agent_name"], "{id}");
        assert_eq!(
            header(headers, "ce-source"),
            format!("amqp://127.0.0.1:{}/%2F", rabbit.port())
        );
        // ce-time is the sent-at header: whole seconds, recent.
        let time: chrono::DateTime<chrono::Utc> =
            header(headers, "ce-time").parse().expect("ce-time");
        assert_eq!(time.timestamp_subsec_millis(), 0, "ce-time from sent-at");
        assert!((chrono::Utc::now() - time).num_seconds().abs() < 120);
    }

    let dead = stream_messages(&bus, &bus.config().dead_letter_stream_name()).await;
    assert_eq!(dead.len(), 1, "the poison message is dead-lettered once");
    let (subject, headers, payload) = &dead[0];
    assert!(subject.starts_with("repobus.dlq."), "{subject}");
    assert_eq!(
        header(headers, "Repobus-Amqp-Routing-Key"),
        format!("{PREFIX}.copr.build.end")
    );
    assert_eq!(header(headers, "Repobus-Amqp-Message-Id"), "poison-1");
    assert!(header(headers, "Repobus-Amqp-Headers").contains("fedora_messaging_schema"));
    assert!(!header(headers, "Repobus-Error").is_empty());
    assert_eq!(
        serde_json::from_slice::<Value>(payload).expect("body")["build"],
        "not a number"
    );

    let _ = stop.send(());
    within(30, "amqp-in stops", running)
        .await
        .expect("join")
        .expect("run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_reconnects_and_loses_nothing() {
    let mut rabbit = RabbitMq::start();
    let nats = server().await;
    let bus = connect(&nats).await;
    let inbound = Inbound::new(config(&rabbit, "repobus-in-restart"), bus.clone());
    inbound.declare().await.expect("declare");
    let stats: Arc<InboundStats> = inbound.stats();
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
    let url = rabbit.url();
    let first = corpus.clone();
    tokio::task::spawn_blocking(move || common::fm_publish(&url, PREFIX, &first))
        .await
        .expect("publisher");
    wait_for(&stats, "first batch stored", |s| {
        s.stored.load(Ordering::Relaxed) as usize == corpus.len()
    })
    .await;

    // Published while the bridge is cut off from the restarted broker: the
    // durable queue keeps them, and the bridge reconnects to fetch them.
    tokio::task::block_in_place(|| rabbit.restart());
    let url = rabbit.url();
    let second = corpus.clone();
    tokio::task::spawn_blocking(move || common::fm_publish(&url, PREFIX, &second))
        .await
        .expect("publisher");
    wait_for(&stats, "second batch stored after reconnecting", |s| {
        s.stored.load(Ordering::Relaxed) as usize == 2 * corpus.len()
    })
    .await;
    assert!(stats.sessions.load(Ordering::Relaxed) >= 2, "reconnected");
    let stored = stream_messages(&bus, bus.config().stream_name()).await;
    assert_eq!(stored.len(), 2 * corpus.len());
    let _ = stop.send(());
    within(30, "amqp-in stops", running)
        .await
        .expect("join")
        .expect("run");
}

#[tokio::test]
async fn bad_credentials_and_missing_queue_are_clear_errors() {
    let rabbit = RabbitMq::shared();
    let nats = server().await;
    let bus = connect(&nats).await;
    let wrong = rabbit.url().replace("guest:guest", "guest:wrong");
    let inbound = Inbound::new(config(rabbit, "repobus-in-bad"), bus.clone());
    let mut bad = config(rabbit, "x");
    bad.amqp = AmqpConfig::new(wrong);
    let err = Inbound::new(bad, bus.clone())
        .declare()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("connecting") && err.contains("***"), "{err}");
    assert!(!err.contains("wrong"), "the password is not printed: {err}");

    let mut missing = config(rabbit, "x");
    missing.queue = QueueSource::Existing("no-such-queue".into());
    let err = Inbound::new(missing, bus.clone())
        .run(std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("existing queue") && err.contains("no-such-queue"),
        "{err}"
    );

    let mut closed = config(rabbit, "x");
    closed.amqp = AmqpConfig::new(format!(
        "amqp://guest:guest@127.0.0.1:{}/%2F",
        repobus_testkit::closed_port()
    ));
    let err = Inbound::new(closed, bus)
        .declare()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("connecting"), "{err}");
    drop(inbound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_is_rejected_to_a_configured_dead_letter_exchange() {
    use lapin::options::{
        BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    };
    use lapin::types::FieldTable;

    let rabbit = RabbitMq::shared();
    let nats = server().await;
    let bus = connect(&nats).await;
    let connection = AmqpConfig::new(rabbit.url())
        .connect()
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .exchange_declare(
            "repobus-test-dlx".into(),
            lapin::ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("dlx");
    channel
        .queue_declare(
            "dlx-poison".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("dlx queue");
    channel
        .queue_bind(
            "dlx-poison".into(),
            "repobus-test-dlx".into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    let mut config = config(rabbit, "repobus-in-dlx");
    config.dead_letter_exchange = Some("repobus-test-dlx".into());
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
    let url = rabbit.url();
    tokio::task::spawn_blocking(move || {
        common::fm_publish(
            &url,
            PREFIX,
            &[json!({"topic": "copr.build.start", "body": {"build": []}, "class": "base", "id": "poison-dlx"})],
        )
    })
    .await
    .expect("publisher");
    wait_for(&stats, "rejected", |s| {
        s.dead_lettered.load(Ordering::Relaxed) == 1
    })
    .await;
    let got = within(10, "the DLX queue gets it", async {
        loop {
            if let Some(message) = channel
                .basic_get("dlx-poison".into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get")
            {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        got.delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str()),
        Some("poison-dlx")
    );
    let dead = stream_messages(&bus, &bus.config().dead_letter_stream_name()).await;
    assert!(
        dead.is_empty(),
        "rejected to the DLX, not copied to repobus's DLQ"
    );
    let _ = stop.send(());
    within(30, "amqp-in stops", running)
        .await
        .expect("join")
        .expect("run");
}
