//! amqp-out against a private RabbitMQ node and a private nats-server; a
//! fedora-messaging consumer (Python, copr-messaging installed) receives
//! what it sends.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use repobus::Event;
use repobus_amqp::outbound::{Outbound, OutboundConfig, OutboundStats};
use repobus_amqp::AmqpConfig;
use repobus_testkit::rabbitmq::RabbitMq;
use repobus_testkit::{connect, connect_with, header, server, stream_messages, within};
use serde_json::{json, Value};

const PREFIX: &str = "org.fedoraproject.prod";

fn copr_events() -> Vec<Event> {
    common::copr_corpus()
        .into_iter()
        .map(|item| {
            Event::decode_value(item["topic"].as_str().expect("topic"), item["body"].clone())
                .expect("corpus event")
        })
        .collect()
}

async fn wait_for(stats: &OutboundStats, what: &str, done: impl Fn(&OutboundStats) -> bool) {
    within(60, what, async {
        while !done(stats) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copr_events_reach_a_fedora_messaging_consumer_as_copr_messaging_classes() {
    let rabbit = RabbitMq::shared();
    let nats = server().await;
    let bus = connect(&nats).await;
    let events = copr_events();
    let url = rabbit.url();
    let count = events.len();
    let consumer = tokio::task::spawn_blocking(move || {
        common::Consumer::start(&url, "fm-consumer-copr", &format!("{PREFIX}.copr.#"), count)
    })
    .await
    .expect("consumer");

    let publisher = bus.publisher();
    let mut ids = Vec::new();
    for event in &events {
        ids.push(publisher.publish(event).await.expect("publish").event_id);
    }
    // An event that amqp-in brought from this broker: not sent back.
    let looped_bus = connect_with(
        repobus_testkit::config(nats.url()).source(AmqpConfig::new(rabbit.url()).source()),
    )
    .await;
    looped_bus
        .publisher()
        .publish(&events[0])
        .await
        .expect("publish looped");

    let mut config =
        OutboundConfig::new(AmqpConfig::new(rabbit.url()), "amqp-out").topic_prefix(PREFIX);
    config.window = 4;
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
    let received = tokio::task::spawn_blocking(move || consumer.finish())
        .await
        .expect("consumer output");
    wait_for(
        &stats,
        "every event confirmed and the looped one skipped",
        |s| {
            s.sent.load(Ordering::Relaxed) as usize == events.len()
                && s.looped.load(Ordering::Relaxed) == 1
        },
    )
    .await;
    assert_eq!(received.len(), events.len());
    for ((message, event), id) in received.iter().zip(&events).zip(&ids) {
        let class = if event.event_type().as_str() == "build-chroot-started" {
            "copr_messaging.schema.BuildChrootStartedV1"
        } else {
            "copr_messaging.schema.BuildChrootEndedV1"
        };
        assert_eq!(message["class"], class, "{message}");
        assert_eq!(message["id"], json!(id));
        assert_eq!(message["summary"], json!(event.summary()));
        assert_eq!(message["usernames"], json!(event.usernames()));
        assert_eq!(message["agent_name"], json!(event.agent_name()));
        assert_eq!(message["severity"], json!(event.severity().level()));
        assert_eq!(message["body"], event.to_value());
        assert_eq!(message["content_type"], "application/json");
        assert_eq!(message["content_encoding"], "utf-8");
        assert_eq!(message["delivery_mode"], 2);
        let headers = &message["headers"];
        assert_eq!(headers["fedora_messaging_schema_package"], "copr_messaging");
        assert_eq!(headers["priority"], 0);
        assert!(headers["sent-at"]
            .as_str()
            .is_some_and(|s| s.ends_with("+00:00")));
        for user in event.usernames() {
            assert_eq!(headers[format!("fedora_messaging_user_{user}")], true);
        }
        for package in event.packages() {
            assert_eq!(headers[format!("fedora_messaging_rpm_{package}")], true);
        }
        assert_eq!(
            message["routing_key"],
            format!(
                "{PREFIX}.{}",
                repobus_amqp::fedora::topic(event.event_type())
            )
        );
    }
    let _ = stop.send(());
    within(30, "amqp-out stops", running)
        .await
        .expect("join")
        .expect("run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unroutable_events_are_retried_then_dead_lettered_never_dropped() {
    let rabbit = RabbitMq::shared();
    let nats = server().await;
    let bus = connect(&nats).await;
    let event = copr_events().remove(0);
    let id = bus
        .publisher()
        .publish(&event)
        .await
        .expect("publish")
        .event_id;
    let mut config = OutboundConfig::new(AmqpConfig::new(rabbit.url()), "amqp-out-unroutable")
        .topic_prefix("no.queue.is.bound.here");
    config.max_attempts = 3;
    config.retry_delay = Duration::from_millis(50);
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
    wait_for(&stats, "dead-lettered", |s| {
        s.dead_lettered.load(Ordering::Relaxed) == 1
    })
    .await;
    assert_eq!(stats.retries.load(Ordering::Relaxed), 2);
    assert_eq!(stats.sent.load(Ordering::Relaxed), 0);
    let dead = stream_messages(&bus, &bus.config().dead_letter_stream_name()).await;
    assert_eq!(dead.len(), 1);
    let (subject, headers, payload) = &dead[0];
    assert_eq!(subject, "repobus.dlq.amqp-unroutable");
    assert_eq!(header(headers, "ce-id"), id);
    assert!(
        header(headers, "Repobus-Error").contains("NO_ROUTE"),
        "{}",
        header(headers, "Repobus-Error")
    );
    assert_eq!(
        serde_json::from_slice::<Value>(payload).expect("body"),
        event.to_value()
    );
    let _ = stop.send(());
    within(30, "amqp-out stops", running)
        .await
        .expect("join")
        .expect("run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulp_events_reach_a_fedora_messaging_consumer_as_repobus_messages_classes() {
    let rabbit = RabbitMq::shared();
    let nats = server().await;
    let bus = connect(&nats).await;
    let events: Vec<Event> = repobus::EventType::ALL
        .into_iter()
        .filter(|t| !t.is_copr())
        .flat_map(|t| {
            t.examples()
                .into_iter()
                .map(move |body| Event::from_value(t, body).expect("example"))
        })
        .collect();
    let url = rabbit.url();
    let count = events.len();
    let consumer = tokio::task::spawn_blocking(move || {
        common::Consumer::start(&url, "fm-consumer-pulp", "pulp.repo.#", count)
    })
    .await
    .expect("consumer");
    for event in &events {
        bus.publisher().publish(event).await.expect("publish");
    }
    let outbound = Outbound::new(
        OutboundConfig::new(AmqpConfig::new(rabbit.url()), "amqp-out-pulp"),
        bus.clone(),
    );
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
    let received = tokio::task::spawn_blocking(move || consumer.finish())
        .await
        .expect("consumer output");
    assert_eq!(received.len(), events.len());
    for (message, event) in received.iter().zip(&events) {
        let class = match event.event_type().as_str() {
            "repo-sync-started" => "repobus_messages.RepoSyncStartedV1",
            "repo-sync-finished" => "repobus_messages.RepoSyncFinishedV1",
            "repo-publish-started" => "repobus_messages.RepoPublishStartedV1",
            "repo-publish-finished" => "repobus_messages.RepoPublishFinishedV1",
            "repo-sync-progress" => "repobus_messages.RepoSyncProgressV1",
            "repo-publish-progress" => "repobus_messages.RepoPublishProgressV1",
            other => panic!("no repobus_messages class expected for {other}"),
        };
        assert_eq!(message["class"], class, "{message}");
        assert_eq!(
            message["routing_key"],
            repobus_amqp::fedora::topic(event.event_type())
        );
        assert_eq!(message["summary"], json!(event.summary()));
        assert_eq!(message["text"], json!(event.to_string()));
        assert_eq!(message["usernames"], json!(event.usernames()));
        assert_eq!(message["packages"], json!(event.packages()));
        assert_eq!(message["severity"], json!(event.severity().level()));
        assert_eq!(
            message["headers"]["fedora_messaging_schema_package"],
            "repobus_messages"
        );
    }
    let _ = stop.send(());
    within(30, "amqp-out stops", running)
        .await
        .expect("join")
        .expect("run");
}
