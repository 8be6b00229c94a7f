//! What the ordered window and the lease must keep: two relays on one
//! ordered endpoint deliver in order, and the standby takes over when the
//! owner stops; a TLS error is retried and recorded; a replay with
//! `before` stops there; a nats-server restart mid-stream loses nothing.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, publish, Behaviour, Receiver};
use repobus::bus::Bus;
use repobus_testkit::{connect, server, within};
use repobus_webhooks::attempts::{AttemptLog, Outcome};
use repobus_webhooks::endpoint::EndpointSpec;
use repobus_webhooks::relay::RelayOptions;
use repobus_webhooks::store::WebhookStore;

/// A relay with a 3 s lease; stopping it through the returned sender
/// waits until it has handed its window and lease back.
async fn relay(
    bus: &Bus,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let options = RelayOptions {
        allow_private_targets: true,
        lease_ttl: Duration::from_secs(3),
        ..RelayOptions::default()
    };
    common::relay_with(bus, options).await
}

/// An ordered endpoint `id` to `receiver`: 2 s timeout, `schedule`.
async fn ordered_endpoint(store: &WebhookStore, id: &str, receiver: &Receiver, schedule: &str) {
    store
        .create(EndpointSpec {
            allow_private_target: true,
            timeout: Some("2s".into()),
            retry_schedule: Some(schedule.into()),
            ..EndpointSpec::new(id, receiver.url())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn two_relays_on_one_ordered_endpoint_keep_order_and_the_standby_takes_over() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    // Slow enough that the owner is stopped mid-stream.
    let receiver = Receiver::start(Behaviour::Delay(5)).await;
    ordered_endpoint(&store, "shared", &receiver, "100ms").await;
    let (stop_first, first) = relay(&bus).await;
    // The first relay owns the endpoint once it has delivered.
    let warmup = publish(&bus, 1, "warm").await;
    within(10, "warm-up", receiver.wait_for(1, 8)).await;
    let (stop_second, second) = relay(&bus).await;
    let published = publish(&bus, 300, "pair").await;
    eventually(10, "the owner mid-stream", || async {
        receiver.unique_ids().len() > 60
    })
    .await;
    stop_first.send(()).unwrap();
    within(5, "the owner stops", first).await.unwrap();
    let stopped_at = receiver.unique_ids().len();
    assert!(
        stopped_at < 301,
        "the owner delivered everything before it stopped"
    );
    let got = within(30, "deliveries by the standby", receiver.wait_for(301, 25)).await;
    let mut expected = warmup;
    expected.extend(published);
    assert_eq!(got, expected, "every event, first received in stream order");
    // Repeats (an event in flight when the owner stopped) come back in
    // place: no event was ever received before an earlier one was.
    let ids: Vec<String> = receiver.received().iter().map(|r| r.id()).collect();
    let position = |id: &String| expected.iter().position(|e| e == id).unwrap();
    for pair in ids.windows(2) {
        assert!(
            position(&pair[1]) <= position(&pair[0]) + 1,
            "{} after {}: out of order",
            pair[1],
            pair[0]
        );
    }
    stop_second.send(()).unwrap();
    within(5, "the standby stops", second).await.unwrap();
}

/// An https server whose certificate no root vouches for: counts the
/// handshakes it is offered.
async fn self_signed_server() -> (u16, Arc<AtomicUsize>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    (port, handshakes)
}

#[tokio::test]
async fn a_certificate_no_root_vouches_for_is_retried_recorded_and_dead_lettered() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let (port, handshakes) = self_signed_server().await;
    store
        .create(EndpointSpec {
            allow_private_target: true,
            retry_schedule: Some("100ms,100ms".into()),
            ..EndpointSpec::new("tls", format!("https://127.0.0.1:{port}/hook"))
        })
        .await
        .unwrap();
    let _relay = relay(&bus).await;
    let published = publish(&bus, 1, "tls").await;
    let log = AttemptLog::open(&bus).await.unwrap();
    eventually(15, "dead-lettered", || {
        let log = log.clone();
        async move { log.dead_letters("tls", 10).await.unwrap().len() == 1 }
    })
    .await;
    let attempts = log.attempts("tls", 10).await.unwrap();
    let numbers: Vec<u64> = attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [1, 2, 3], "{attempts:?}");
    for a in &attempts {
        assert_eq!(a.event_id, published[0]);
        assert_eq!(a.status, None);
        let error = a.error.clone().unwrap_or_default();
        assert!(
            error.contains("certificate") && error.contains("UnknownIssuer"),
            "a clear TLS error: {error}"
        );
    }
    assert_eq!(attempts[0].outcome, Outcome::Retry);
    assert_eq!(attempts[2].outcome, Outcome::DeadLetter);
    assert!(
        handshakes.load(Ordering::SeqCst) >= 3,
        "one handshake per attempt"
    );
}

#[tokio::test]
async fn a_replay_with_before_stops_there() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Ok).await;
    store
        .create(EndpointSpec {
            allow_private_target: true,
            ..EndpointSpec::new("bounded", receiver.url())
        })
        .await
        .unwrap();
    let _relay = relay(&bus).await;
    let from = chrono::Utc::now() - chrono::Duration::seconds(1);
    let early = publish(&bus, 3, "early").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let late = publish(&bus, 3, "late").await;
    let got = within(10, "live deliveries", receiver.wait_for(6, 8)).await;
    assert_eq!(got[..3], early[..]);
    assert_eq!(got[3..], late[..]);
    store.replay("bounded", from, Some(before)).await.unwrap();
    eventually(10, "the replay is marked done", || async {
        store.get("bounded").await.unwrap().replay.is_none()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let replayed: Vec<String> = receiver.received()[6..].iter().map(|r| r.id()).collect();
    assert_eq!(
        replayed, early,
        "the events before `before`, and nothing after"
    );
}

#[tokio::test]
async fn a_relay_taking_over_a_retry_continues_its_attempt_numbers() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::FailFirst(3)).await;
    store
        .create(EndpointSpec {
            allow_private_target: true,
            timeout: Some("1s".into()),
            // Two attempts in the owner (one delivery by the server), then
            // a long wait during which it stops.
            retry_schedule: Some("200ms,1500ms,1500ms,1500ms".into()),
            ..EndpointSpec::new("handover", receiver.url())
        })
        .await
        .unwrap();
    let (stop_first, first) = relay(&bus).await;
    let published = publish(&bus, 1, "handover").await;
    eventually(10, "two attempts", || async {
        receiver.received().len() == 2
    })
    .await;
    // The owner stops while it waits to retry; the standby resumes.
    let (_stop_second, _second) = relay(&bus).await;
    stop_first.send(()).unwrap();
    within(5, "the owner stops", first).await.unwrap();
    let got = within(20, "delivery by the standby", receiver.wait_for(1, 18)).await;
    assert_eq!(got, published);
    let log = AttemptLog::open(&bus).await.unwrap();
    eventually(10, "four attempts recorded", || {
        let log = log.clone();
        async move { log.attempts("handover", 10).await.unwrap().len() >= 4 }
    })
    .await;
    assert_eq!(receiver.received().len(), 4);
    let attempts = log.attempts("handover", 10).await.unwrap();
    let numbers: Vec<u64> = attempts.iter().map(|a| a.attempt).collect();
    // The server delivered the event twice; the numbers come from the
    // attempts stream, not from the delivery count.
    assert_eq!(
        numbers,
        [1, 2, 3, 4],
        "the schedule continued: {attempts:?}"
    );
    assert_eq!(attempts[3].outcome, Outcome::Delivered);
    // The standby waited out the delay the owner had started.
    let r = receiver.received();
    assert!(
        r[2].at - r[1].at >= Duration::from_millis(1200),
        "{:?}",
        r[2].at - r[1].at
    );
}

#[tokio::test]
async fn an_endpoint_from_before_the_window_gets_its_consumer_widened() {
    use async_nats::jetstream::consumer::{pull, FromConsumer};
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Ok).await;
    store
        .create(EndpointSpec {
            allow_private_target: true,
            ..EndpointSpec::new("old", receiver.url())
        })
        .await
        .unwrap();
    // As the first version created it: one unacknowledged event at a time.
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await
        .unwrap();
    let name = repobus_webhooks::store::consumer_name("old");
    let mut consumer: async_nats::jetstream::consumer::Consumer<pull::Config> =
        stream.get_consumer(&name).await.unwrap();
    let mut config =
        pull::Config::try_from_consumer_config(consumer.info().await.unwrap().config.clone())
            .unwrap();
    config.max_ack_pending = 1;
    stream.update_consumer(config).await.unwrap();
    let _relay = relay(&bus).await;
    let published = publish(&bus, 20, "old").await;
    let got = within(10, "deliveries", receiver.wait_for(20, 8)).await;
    assert_eq!(got, published);
    let mut consumer: async_nats::jetstream::consumer::Consumer<pull::Config> =
        stream.get_consumer(&name).await.unwrap();
    assert_eq!(
        consumer.info().await.unwrap().config.max_ack_pending,
        repobus_webhooks::store::ORDERED_WINDOW
    );
}

#[tokio::test]
async fn a_nats_server_restart_mid_stream_loses_no_event_and_keeps_order() {
    let mut nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    // Slow enough that the server restarts mid-stream.
    let receiver = Receiver::start(Behaviour::Delay(3)).await;
    ordered_endpoint(&store, "restart", &receiver, "100ms,200ms").await;
    let (stop, running) = relay(&bus).await;
    let mut expected = publish(&bus, 200, "before").await;
    eventually(10, "deliveries under way", || async {
        receiver.unique_ids().len() > 40
    })
    .await;
    // SIGKILL, then the same port and store: the relay's consumer, lease
    // and attempt records all go through the reconnect.
    nats.restart().await.unwrap();
    let at_restart = receiver.unique_ids().len();
    assert!(at_restart < 200, "restarted too late ({at_restart})");
    let after = publish(&bus, 100, "after").await;
    expected.extend(after.iter().cloned());
    let got = within(
        60,
        "every event after the restart",
        receiver.wait_for(300, 55),
    )
    .await;
    assert_eq!(got, expected, "every event, first received in stream order");
    eprintln!(
        "{at_restart} of 300 delivered at the restart; {} requests in all",
        receiver.received().len()
    );
    // Records in flight at the kill may be lost with the server; those of
    // the deliveries after it are all there.
    let log = AttemptLog::open(&bus).await.unwrap();
    eventually(10, "the deliveries after the restart recorded", || {
        let (log, after) = (log.clone(), after.clone());
        async move {
            let records = log.attempts("restart", 1000).await.unwrap();
            after.iter().all(|id| {
                records
                    .iter()
                    .any(|a| &a.event_id == id && a.outcome == Outcome::Delivered)
            })
        }
    })
    .await;
    stop.send(()).unwrap();
    within(5, "the relay stops", running).await.unwrap();
}
