//! The relay end to end: a private nats-server, real HTTP receivers on
//! loopback, signatures checked by the independent `standardwebhooks`
//! crate.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, publish, relay, Behaviour, Receiver};
use repobus_testkit::{connect, server, within};
use repobus_webhooks::attempts::{AttemptLog, Outcome};
use repobus_webhooks::endpoint::{Endpoint, EndpointSpec};
use repobus_webhooks::store::WebhookStore;

async fn endpoint(store: &WebhookStore, id: &str, url: &str, schedule: &str) -> Endpoint {
    store
        .create(EndpointSpec {
            retry_schedule: Some(schedule.into()),
            allow_private_target: true,
            timeout: Some("2s".into()),
            ..EndpointSpec::new(id, url)
        })
        .await
        .expect("create endpoint")
}

#[tokio::test]
async fn delivers_in_order_with_signatures_an_independent_verifier_accepts() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Ok).await;
    let created = endpoint(&store, "hooks.a", &receiver.url(), "100ms").await;
    let _relay = relay(&bus, false).await;
    let published = publish(&bus, 20, "repo").await;
    let got = within(20, "deliveries", receiver.wait_for(20, 15)).await;
    assert_eq!(got, published, "in stream order");
    let verifier = standardwebhooks::Webhook::new(&created.secret.to_string()).unwrap();
    for r in receiver.received() {
        verifier
            .verify(&r.body, &r.headers)
            .unwrap_or_else(|e| panic!("standardwebhooks refuses {}: {e:?}", r.id()));
        assert_eq!(r.header("ce-id"), r.id());
        assert_eq!(r.header("ce-type"), "repo-sync-started");
        assert_eq!(r.header("ce-specversion"), "1.0");
        assert!(r.header("ce-subject").starts_with("repo-"));
        assert!(!r.header("ce-time").is_empty() && !r.header("ce-source").is_empty());
        assert_eq!(
            r.header("user-agent"),
            concat!("repobus/", env!("CARGO_PKG_VERSION"))
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body["repo_id"],
            r.header("ce-subject"),
            "the wire body as stored"
        );
    }
    // A tampered body fails the same verifier.
    let first = &receiver.received()[0];
    assert!(verifier.verify(b"{}", &first.headers).is_err());
    assert_eq!(receiver.received().len(), 20, "each event POSTed once");
}

#[tokio::test]
async fn failing_first_attempts_deliver_each_event_exactly_once_after_dedupe_and_record_attempts() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::FailFirst(2)).await;
    endpoint(&store, "flaky", &receiver.url(), "100ms,200ms,400ms").await;
    let _relay = relay(&bus, false).await;
    let published = publish(&bus, 8, "flaky").await;
    let got = within(30, "deliveries", receiver.wait_for(8, 25)).await;
    assert_eq!(got, published);
    // 2 failures then a success, per event.
    eventually(10, "three requests per event", || async {
        receiver.received().len() == 24
    })
    .await;
    let log = AttemptLog::open(&bus).await.unwrap();
    eventually(10, "24 attempt records", || {
        let log = log.clone();
        async move { log.attempts("flaky", 100).await.unwrap().len() == 24 }
    })
    .await;
    let attempts = log.attempts("flaky", 100).await.unwrap();
    for id in &published {
        let mine: Vec<_> = attempts.iter().filter(|a| &a.event_id == id).collect();
        let numbers: Vec<u64> = mine.iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, [1, 2, 3], "{id}");
        assert_eq!(mine[0].status, Some(500));
        assert_eq!(mine[0].outcome, Outcome::Retry);
        assert_eq!(mine[0].response, "try again");
        assert_eq!(mine[2].outcome, Outcome::Delivered);
        assert_eq!(mine[2].status, Some(200));
    }
    // Ordered: no event was first attempted before the previous was delivered.
    let requests = receiver.received();
    for pair in published.windows(2) {
        let last_of_prev = requests.iter().rposition(|r| r.id() == pair[0]).unwrap();
        let first_of_next = requests.iter().position(|r| r.id() == pair[1]).unwrap();
        assert!(last_of_prev < first_of_next, "{pair:?} interleaved");
    }
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_in_order() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let port = repobus_testkit::closed_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    endpoint(
        &store,
        "down",
        &url,
        "100ms,200ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
    )
    .await;
    let _relay = relay(&bus, false).await;
    let published = publish(&bus, 10, "down").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let log = AttemptLog::open(&bus).await.unwrap();
    let failed = log.attempts("down", 100).await.unwrap();
    assert!(!failed.is_empty(), "attempts while down are recorded");
    assert!(failed
        .iter()
        .all(|a| a.event_id == published[0] && a.status.is_none()));
    assert!(
        failed[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("error"),
        "{:?}",
        failed[0]
    );
    let receiver = Receiver::start_on(port, Behaviour::Ok).await;
    let got = within(30, "deliveries", receiver.wait_for(10, 25)).await;
    assert_eq!(got, published, "every event, in order");
    assert_eq!(receiver.received().len(), 10);
}

#[tokio::test]
async fn gone_disables_after_one_attempt_and_enabling_resumes_where_it_stopped() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Status(410)).await;
    endpoint(&store, "gone", &receiver.url(), "100ms,100ms").await;
    let _relay = relay(&bus, false).await;
    let published = publish(&bus, 5, "gone").await;
    eventually(10, "disabled", || async {
        store.get("gone").await.unwrap().disabled.is_some()
    })
    .await;
    let disabled = store.get("gone").await.unwrap().disabled.unwrap();
    assert!(disabled.reason.contains("410"), "{}", disabled.reason);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1, "one attempt, then nothing");
    receiver.set(Behaviour::Ok);
    store.enable("gone").await.unwrap();
    let got = within(20, "deliveries", receiver.wait_for(5, 15)).await;
    assert_eq!(got, published, "resumed with the event that got 410");
    assert!(store.get("gone").await.unwrap().is_enabled());
}

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_slow_the_other_endpoints() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let stuck = Receiver::start(Behaviour::Hang).await;
    let fine = Receiver::start(Behaviour::Ok).await;
    store
        .create(EndpointSpec {
            timeout: Some("300ms".into()),
            retry_schedule: Some("100ms,100ms,100ms,100ms".into()),
            allow_private_target: true,
            ..EndpointSpec::new("stuck", stuck.url())
        })
        .await
        .unwrap();
    endpoint(&store, "fine", &fine.url(), "100ms").await;
    let _relay = relay(&bus, false).await;
    let started = Instant::now();
    let published = publish(&bus, 30, "slow").await;
    let got = within(10, "deliveries", fine.wait_for(30, 5)).await;
    assert_eq!(got, published);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let log = AttemptLog::open(&bus).await.unwrap();
    eventually(10, "the stuck endpoint's timeouts recorded", || {
        let log = log.clone();
        async move {
            let attempts = log.attempts("stuck", 10).await.unwrap();
            attempts.len() >= 2
                && attempts.iter().all(|a| {
                    a.error.as_deref() == Some("no answer within 300ms") && a.latency_ms < 1500.0
                })
        }
    })
    .await;
}

#[tokio::test]
async fn an_exhausted_schedule_dead_letters_and_a_replay_delivers_again() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Status(500)).await;
    endpoint(&store, "dead", &receiver.url(), "50ms,50ms").await;
    let _relay = relay(&bus, false).await;
    let before_publish = chrono::Utc::now() - chrono::Duration::seconds(1);
    let published = publish(&bus, 3, "dead").await;
    let log = AttemptLog::open(&bus).await.unwrap();
    eventually(15, "three dead letters", || {
        let log = log.clone();
        async move { log.dead_letters("dead", 10).await.unwrap().len() == 3 }
    })
    .await;
    let dead = log.dead_letters("dead", 10).await.unwrap();
    let dead_ids: Vec<_> = dead.iter().map(|d| d.event_id.clone()).collect();
    assert_eq!(dead_ids, published);
    assert!(dead.iter().all(|d| d.attempt == 3 && d.status == Some(500)));
    assert_eq!(receiver.received().len(), 9);
    receiver.set(Behaviour::Ok);
    store.replay("dead", before_publish, None).await.unwrap();
    eventually(15, "replayed", || async { receiver.received().len() == 12 }).await;
    let replayed: Vec<String> = receiver.received()[9..].iter().map(|r| r.id()).collect();
    assert_eq!(replayed, published);
    eventually(10, "the replay is marked done", || async {
        store.get("dead").await.unwrap().replay.is_none()
    })
    .await;
}

#[tokio::test]
async fn retry_after_of_a_429_is_honoured_within_the_schedule_bounds() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    // Asks for 1 s: clamped to the schedule's longest delay, 300 ms.
    let receiver = Receiver::start(Behaviour::TooMany(1)).await;
    endpoint(&store, "busy", &receiver.url(), "100ms,300ms,300ms").await;
    let _relay = relay(&bus, false).await;
    publish(&bus, 1, "busy").await;
    eventually(10, "two attempts", || async {
        receiver.received().len() >= 2
    })
    .await;
    let r = receiver.received();
    let gap = r[1].at - r[0].at;
    assert!(
        gap >= Duration::from_millis(250) && gap < Duration::from_millis(900),
        "{gap:?}"
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_at_delivery_time() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Ok).await;
    // A name, not an IP literal: accepted when created, refused after DNS.
    let url = format!("http://localhost:{}/hook", receiver.addr.port());
    store
        .create(EndpointSpec {
            retry_schedule: Some("100ms".into()),
            ..EndpointSpec::new("sneaky", url)
        })
        .await
        .unwrap();
    let _relay = relay(&bus, false).await;
    publish(&bus, 1, "sneaky").await;
    let log = AttemptLog::open(&bus).await.unwrap();
    eventually(10, "dead-lettered", || {
        let log = log.clone();
        async move { log.dead_letters("sneaky", 10).await.unwrap().len() == 1 }
    })
    .await;
    let attempts = log.attempts("sneaky", 10).await.unwrap();
    assert_eq!(attempts.len(), 2);
    for a in &attempts {
        let error = a.error.clone().unwrap_or_default();
        assert!(error.contains("loopback"), "{error}");
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the loopback receiver"
    );
}

#[tokio::test]
async fn filters_select_by_subject_and_criteria_and_formats_shape_the_body() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let text = Receiver::start(Behaviour::Ok).await;
    let ce = Receiver::start(Behaviour::Ok).await;
    store
        .create(EndpointSpec {
            subjects: vec!["repobus.repo.sync.started.>".into()],
            filters: Some(serde_json::json!({"repo_id": {"$in": ["pick-1", "pick-3"]}})),
            format: Some("text".into()),
            allow_private_target: true,
            ..EndpointSpec::new("text", text.url())
        })
        .await
        .unwrap();
    store
        .create(EndpointSpec {
            subjects: vec!["repobus.build.>".into()],
            format: Some("cloudevents".into()),
            allow_private_target: true,
            ..EndpointSpec::new("ce", ce.url())
        })
        .await
        .unwrap();
    let _relay = relay(&bus, false).await;
    let published = publish(&bus, 4, "pick").await;
    let build = bus
        .publisher()
        .publish(&repobus_testkit::build_ended(
            "@python",
            "python3.8",
            "fedora-rawhide-x86_64",
        ))
        .await
        .unwrap();
    let got = within(10, "text deliveries", text.wait_for(2, 8)).await;
    assert_eq!(got, [published[1].clone(), published[3].clone()]);
    let body: serde_json::Value = serde_json::from_slice(&text.received()[0].body).unwrap();
    assert!(body["text"].as_str().unwrap().contains("pick-1"), "{body}");
    let got = within(10, "cloudevents deliveries", ce.wait_for(1, 8)).await;
    assert_eq!(got, std::slice::from_ref(&build.event_id));
    let r = &ce.received()[0];
    assert!(r
        .header("content-type")
        .starts_with("application/cloudevents+json"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["id"], build.event_id.as_str());
    assert_eq!(body["type"], "build-chroot-ended");
    assert_eq!(body["data"]["build"], repobus_testkit::BUILD_ID);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        text.received().len(),
        2,
        "nothing else reached the text endpoint"
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_longer_than_disable_after_is_disabled() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Status(502)).await;
    endpoint(
        &store,
        "failing",
        &receiver.url(),
        "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms",
    )
    .await;
    let relay = repobus_webhooks::relay::Relay::new(
        &bus,
        repobus_webhooks::relay::RelayOptions {
            allow_private_targets: false,
            disable_after: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tokio::spawn(relay.run(std::future::pending()));
    publish(&bus, 1, "failing").await;
    eventually(10, "disabled", || async {
        store.get("failing").await.unwrap().disabled.is_some()
    })
    .await;
    let endpoint = store.get("failing").await.unwrap();
    let reason = endpoint.disabled.unwrap().reason;
    assert!(
        reason.contains("every attempt failed since") && reason.contains("HTTP 502"),
        "{reason}"
    );
    let attempts = receiver.received().len();
    assert!(
        (3..=6).contains(&attempts),
        "{attempts} attempts before disabling"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        receiver.received().len(),
        attempts,
        "nothing after disabling"
    );
    // Enabled again and answered: the failing clock starts over.
    receiver.set(Behaviour::Ok);
    let enabled = store.enable("failing").await.unwrap();
    assert!(enabled.failing_since.is_none());
    eventually(10, "delivered", || async {
        let log = AttemptLog::open(&bus).await.unwrap();
        log.attempts("failing", 20)
            .await
            .unwrap()
            .iter()
            .any(|a| a.outcome == Outcome::Delivered)
    })
    .await;
}

#[tokio::test]
async fn a_rate_limit_spaces_requests_out() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Ok).await;
    store
        .create(EndpointSpec {
            rate_limit: Some(20),
            allow_private_target: true,
            ..EndpointSpec::new("paced", receiver.url())
        })
        .await
        .unwrap();
    let _relay = relay(&bus, false).await;
    let published = publish(&bus, 6, "paced").await;
    let got = within(10, "deliveries", receiver.wait_for(6, 8)).await;
    assert_eq!(got, published);
    let r = receiver.received();
    let span = r[5].at - r[0].at;
    // 20/s: five gaps of 50 ms.
    assert!(span >= Duration::from_millis(230), "{span:?}");
}

#[tokio::test]
async fn concurrent_delivery_is_opt_in_and_bounded() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let receiver = Receiver::start(Behaviour::Delay(200)).await;
    store
        .create(EndpointSpec {
            concurrency: Some(5),
            allow_private_target: true,
            ..EndpointSpec::new("parallel", receiver.url())
        })
        .await
        .unwrap();
    let _relay = relay(&bus, false).await;
    let started = Instant::now();
    let mut published = publish(&bus, 10, "parallel").await;
    let mut got = within(10, "deliveries", receiver.wait_for(10, 8)).await;
    let took = started.elapsed();
    // In order these would take 10 x 200 ms; five at a time, about 400 ms.
    assert!(took < Duration::from_millis(1500), "{took:?}");
    // Never more than five at once: the first six receipts span a second round.
    let r = receiver.received();
    let mut times: Vec<Instant> = r.iter().map(|x| x.at).collect();
    times.sort();
    assert!(
        times[5] - times[0] >= Duration::from_millis(150),
        "more than 5 in flight"
    );
    got.sort();
    published.sort();
    assert_eq!(got, published);
}
