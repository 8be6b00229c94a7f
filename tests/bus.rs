//! The event bus against a real `nats-server -js`: publishing with acks and
//! CloudEvents headers, de-duplication, server crashes in the middle of a
//! stream of publishes, consumer crashes, poison messages, hostile IDs in
//! subjects, unreachable servers, deadlines and the bounded buffer,
//! operation guards, backpressure, and closing.
//!
//! Every test starts its own server on a free port with a temporary store
//! (`$REPOBUS_NATS_SERVER`, see `tests/common/mod.rs`) and bounds every wait.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use repobus::bus::{
    Bus, BusError, ConsumerOptions, Deliver, Delivery, OperationError, PublishError,
    PublishOptions, PublishReport, Subscription, SyncReport,
};
use repobus::envelope::EnvelopeError;
use repobus::events::PulpResult;
use repobus::subject::{SubjectFilter, SubjectIds};
use repobus::{schema, Event, EventType};
use serde_json::json;

use repobus_testkit::*;

/// The next delivery, failing the test if none comes within `secs`.
async fn next_delivery(sub: &mut Subscription, secs: u64) -> Delivery {
    within(secs, "waiting for a delivery", sub.next())
        .await
        .expect("the subscription ended")
        .unwrap_or_else(|e| panic!("receiving failed: {e}"))
}

/// Asserts that nothing is delivered within `wait`.
async fn assert_quiet(sub: &mut Subscription, wait: Duration) {
    if let Ok(next) = tokio::time::timeout(wait, sub.next()).await {
        match next {
            Some(Ok(d)) => panic!(
                "unexpected delivery #{} (delivered {}x) on {}: {:?}",
                d.stream_sequence, d.delivered, d.subject, d.event
            ),
            Some(Err(e)) => panic!("unexpected receive error: {e}"),
            None => panic!("the subscription ended"),
        }
    }
}

/// Flushes the bus's client (bounded), so that every ack sent has reached
/// the server.
async fn flush(bus: &Bus) {
    within(10, "flush", bus.client().flush())
        .await
        .expect("flush");
}

/// Flushes the acks sent, then asserts that nothing comes back within
/// `wait` and nothing is pending.
async fn assert_all_acked(bus: &Bus, sub: &mut Subscription, wait: Duration) {
    flush(bus).await;
    assert_quiet(sub, wait).await;
    assert_eq!(sub.pending().await.expect("pending"), 0);
}

fn consumer(durable: Option<&str>) -> ConsumerOptions {
    ConsumerOptions {
        durable: durable.map(str::to_owned),
        deliver: Deliver::All,
        explicit_ack: true,
        ..ConsumerOptions::default()
    }
}

async fn subscribe(bus: &Bus, options: ConsumerOptions) -> Subscription {
    within(30, "subscribing", bus.subscriber().subscribe(options))
        .await
        .unwrap_or_else(|e| panic!("cannot subscribe: {e}"))
}

fn repo_of(event: &Event) -> String {
    event
        .repo_id()
        .map(|r| r.as_str().to_owned())
        .expect("a Pulp event")
}

// ---------------------------------------------------------------------------
// 1. Publish, ack, headers, payload
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn publish_returns_after_the_ack_with_cloudevents_headers() {
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    let events = [
        sync_started("pulp-f17"),
        build_ended("@python", "python3.8", "fedora-rawhide-x86_64"),
        sync_started("epel.7"),
    ];
    let expected_subjects = [
        "repobus.repo.sync.started.pulp-f17",
        "repobus.build.chroot.ended.@python.python3%2E8.fedora-rawhide-x86_64",
        "repobus.repo.sync.started.epel%2E7",
    ];
    let expected_ce_subjects = ["pulp-f17", "4242", "epel.7"];

    let before = Utc::now();
    let mut acks = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let ack = within(30, "publish", publisher.publish(event))
            .await
            .unwrap_or_else(|e| panic!("publish {i}: {e}"));
        assert_eq!(ack.stream, "REPOBUS");
        assert_eq!(ack.seq, i as u64 + 1, "sequence of publish {i}");
        assert!(!ack.duplicate);
        assert_eq!(ack.subject, bus.subjects().for_event(event));
        assert_eq!(ack.subject, expected_subjects[i]);
        // The publish returned after the ack: the event is stored by now.
        assert_eq!(stream_len(&bus, "REPOBUS").await, i as u64 + 1);
        acks.push(ack);
    }
    let after = Utc::now();

    let stored = stream_messages(&bus, "REPOBUS").await;
    assert_eq!(stored.len(), events.len());
    let expected_headers: BTreeSet<&str> = [
        "ce-specversion",
        "ce-id",
        "ce-source",
        "ce-type",
        "ce-time",
        "ce-subject",
        "ce-dataschema",
        "ce-datacontenttype",
        "Nats-Msg-Id",
    ]
    .into();
    for (i, ((subject, headers, payload), (event, ack))) in
        stored.iter().zip(events.iter().zip(&acks)).enumerate()
    {
        assert_eq!(subject, &ack.subject, "subject of message {i}");
        let names: BTreeSet<&str> = headers.iter().map(|(name, _)| name.as_ref()).collect();
        assert_eq!(names, expected_headers, "header names of message {i}");

        assert_eq!(header(headers, "ce-specversion"), "1.0");
        let id = header(headers, "ce-id");
        assert_eq!(id, ack.event_id);
        let uuid = uuid::Uuid::parse_str(&id).unwrap_or_else(|e| panic!("ce-id {id:?}: {e}"));
        assert_eq!(uuid.get_version_num(), 7, "ce-id {id} is not a UUIDv7");
        assert_eq!(header(headers, "Nats-Msg-Id"), id);
        assert_eq!(header(headers, "ce-source"), SOURCE);
        assert_eq!(header(headers, "ce-type"), event.event_type().as_str());
        let time = header(headers, "ce-time");
        assert!(time.ends_with('Z'), "ce-time {time:?} is not UTC");
        let parsed =
            DateTime::parse_from_rfc3339(&time).unwrap_or_else(|e| panic!("ce-time {time:?}: {e}"));
        assert_eq!(parsed.offset().local_minus_utc(), 0, "ce-time {time:?}");
        let parsed = parsed.with_timezone(&Utc);
        assert!(
            parsed >= before - chrono::Duration::milliseconds(1)
                && parsed <= after + chrono::Duration::milliseconds(1),
            "ce-time {time} outside the publish window {before}..{after}"
        );
        assert_eq!(header(headers, "ce-subject"), expected_ce_subjects[i]);
        assert_eq!(
            header(headers, "ce-dataschema"),
            schema::schema_id(event.event_type())
        );
        assert_eq!(header(headers, "ce-datacontenttype"), "application/json");

        assert_eq!(payload.as_ref(), event.to_vec().as_slice());
        let decoded = Event::decode(event.event_type().as_str(), payload)
            .unwrap_or_else(|e| panic!("payload {i}: {e}"));
        assert_eq!(&decoded, event);
    }
    let ids: HashSet<&str> = acks.iter().map(|a| a.event_id.as_str()).collect();
    assert_eq!(ids.len(), acks.len(), "event IDs must be fresh");
}

// ---------------------------------------------------------------------------
// 2. Producer IDs: de-duplication and hostile IDs
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn same_id_is_stored_once_and_hostile_ids_are_refused() {
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    let event = sync_started("dedup-repo");
    let options = PublishOptions {
        id: Some("order-42".to_owned()),
        ..PublishOptions::default()
    };

    let first = within(
        30,
        "first publish",
        publisher.publish_with(&event, options.clone()),
    )
    .await
    .expect("first publish");
    let second = within(
        30,
        "second publish",
        publisher.publish_with(&event, options.clone()),
    )
    .await
    .expect("second publish");
    assert_eq!(first.event_id, "order-42");
    assert_eq!(second.event_id, "order-42");
    assert!(!first.duplicate);
    assert!(
        second.duplicate,
        "a repeated id must be reported as duplicate"
    );
    assert_eq!(first.seq, second.seq);
    assert_eq!(first.seq, 1);

    // Another body with the same id is also the same event to JetStream.
    let other = within(
        30,
        "third publish",
        publisher.publish_with(&sync_started("other-repo"), options),
    )
    .await
    .expect("third publish");
    assert!(other.duplicate);
    assert_eq!(other.seq, 1);

    let stored = stream_messages(&bus, "REPOBUS").await;
    assert_eq!(stored.len(), 1, "the event must be stored once");
    let (subject, headers, payload) = &stored[0];
    assert_eq!(subject, "repobus.repo.sync.started.dedup-repo");
    assert_eq!(header(headers, "ce-id"), "order-42");
    assert_eq!(header(headers, "Nats-Msg-Id"), "order-42");
    assert_eq!(decode_stored(headers, payload), event);

    let long = "x".repeat(201);
    for bad in [
        "a b",
        "x\r\nNats-Msg-Id: y",
        "",
        "\u{e9}t\u{e9}",
        "tab\there",
        &long,
    ] {
        let result = within(
            5,
            "hostile id publish",
            publisher.publish_with(
                &sync_started("hostile-id"),
                PublishOptions {
                    id: Some(bad.to_owned()),
                    ..PublishOptions::default()
                },
            ),
        )
        .await;
        match result {
            Err(e @ PublishError::Envelope(EnvelopeError::BadId { .. })) => {
                assert!(!e.is_transient(), "{bad:?}: a bad id is not transient");
            }
            other => panic!("id {bad:?}: expected PublishError::Envelope, got {other:?}"),
        }
    }
    // Nothing was sent for the refused IDs.
    assert_eq!(stream_len(&bus, "REPOBUS").await, 1);
    // The publisher still works.
    let ack = within(30, "publish", publisher.publish(&sync_started("after")))
        .await
        .expect("publish after refused ids");
    assert_eq!(ack.seq, 2);
}

// ---------------------------------------------------------------------------
// 3. FAULT: the server is SIGKILLed and restarted mid-stream
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn server_killed_and_restarted_mid_stream_loses_and_duplicates_nothing() {
    const TOTAL: usize = 300;
    let mut server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    let done = Arc::new(AtomicUsize::new(0));

    let task = {
        let publisher = publisher.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut results = Vec::with_capacity(TOTAL);
            for i in 0..TOTAL {
                let started = Instant::now();
                let result = publisher
                    .publish(&sync_started(&format!("fault-{i:03}")))
                    .await;
                done.fetch_add(1, Ordering::SeqCst);
                results.push((result, started.elapsed()));
            }
            results
        })
    };

    within(60, "the first 100 acks", async {
        while done.load(Ordering::SeqCst) < 100 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    server.kill();
    let done_at_kill = done.load(Ordering::SeqCst);
    assert!(!server.is_running());
    tokio::time::sleep(Duration::from_millis(300)).await;
    within(30, "restarting nats-server", server.restart())
        .await
        .expect("restart");
    assert!(
        done_at_kill < TOTAL - 50,
        "the kill must land mid-stream ({done_at_kill} publishes done)"
    );

    let results = within(120, "all publishes", task)
        .await
        .expect("publisher task");
    assert_eq!(results.len(), TOTAL);
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut seqs = BTreeSet::new();
    // At least one publish waited through the outage (it was retried).
    let slowest = results
        .iter()
        .map(|(_, took)| *took)
        .max()
        .unwrap_or_default();
    assert!(
        slowest >= Duration::from_millis(250),
        "no publish spanned the outage (slowest took {slowest:?})"
    );
    for (i, (result, _)) in results.into_iter().enumerate() {
        let ack = result.unwrap_or_else(|e| panic!("publish {i} failed: {e}"));
        assert_eq!(ack.stream, "REPOBUS");
        assert!(
            seqs.insert(ack.seq),
            "publish {i}: sequence {} acked twice",
            ack.seq
        );
        assert!(
            acked.insert(ack.event_id.clone(), ack.seq).is_none(),
            "id {} twice",
            ack.event_id
        );
    }

    let stored = stream_messages_with_seq(&bus, "REPOBUS").await;
    assert_eq!(
        stored.len(),
        TOTAL,
        "the stream must hold exactly {TOTAL} events"
    );
    let mut stored_ids = BTreeMap::new();
    let mut repos = BTreeSet::new();
    for (seq, _subject, headers, payload) in &stored {
        let id = header(headers, "ce-id");
        assert_eq!(header(headers, "Nats-Msg-Id"), id);
        assert!(
            stored_ids.insert(id.clone(), *seq).is_none(),
            "ce-id {id} stored twice"
        );
        assert!(repos.insert(repo_of(&decode_stored(headers, payload))));
    }
    assert_eq!(
        stored_ids, acked,
        "stored ids and sequences must be the acked ones"
    );
    let expected_repos: BTreeSet<String> = (0..TOTAL).map(|i| format!("fault-{i:03}")).collect();
    assert_eq!(repos, expected_repos);
    assert!(bus.is_ready().await);
}

// ---------------------------------------------------------------------------
// 4. FAULT: a durable consumer crashes mid-way
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn durable_consumer_resumes_after_a_crash_including_the_unacked_event() {
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    for i in 0..100 {
        within(
            30,
            "publish",
            publisher.publish(&sync_started(&format!("work-{i:03}"))),
        )
        .await
        .expect("publish");
    }
    let options = ConsumerOptions {
        ack_wait: Duration::from_secs(2),
        ..consumer(Some("worker"))
    };

    let mut acked: Vec<u64> = Vec::new();
    let mut sub = subscribe(&bus, options.clone()).await;
    for i in 0..40u64 {
        let d = next_delivery(&mut sub, 30).await;
        assert_eq!(d.stream_sequence, i + 1, "first pass is in order");
        assert_eq!(d.delivered, 1);
        assert_eq!(repo_of(&d.event), format!("work-{i:03}"));
        d.ack().await.expect("ack");
        acked.push(d.stream_sequence);
    }
    // Crash in the middle of handling the 41st event.
    let crashed = next_delivery(&mut sub, 30).await;
    assert_eq!(crashed.stream_sequence, 41);
    let crashed_id = crashed.envelope.event_id.clone();
    drop(crashed);
    drop(sub);
    flush(&bus).await;

    let mut sub = subscribe(&bus, options).await;
    let mut saw_crashed = false;
    while acked.len() < 100 {
        let d = next_delivery(&mut sub, 30).await;
        assert!(
            d.stream_sequence > 40,
            "event #{} was acked before the crash but came again",
            d.stream_sequence
        );
        assert_eq!(
            repo_of(&d.event),
            format!("work-{:03}", d.stream_sequence - 1)
        );
        if d.stream_sequence == 41 {
            saw_crashed = true;
            assert_eq!(d.envelope.event_id, crashed_id);
            assert!(d.delivered >= 2, "the unacked event is a redelivery");
        }
        d.ack().await.expect("ack");
        acked.push(d.stream_sequence);
    }
    assert!(
        saw_crashed,
        "the event being handled at the crash was not redelivered"
    );
    let union: BTreeSet<u64> = acked.iter().copied().collect();
    assert_eq!(union, (1..=100).collect::<BTreeSet<u64>>());
    assert_eq!(acked.len(), 100, "no event was acked twice");
    // Everything is acknowledged: nothing comes back after ack_wait.
    assert_all_acked(&bus, &mut sub, Duration::from_secs(3)).await;
}

// ---------------------------------------------------------------------------
// 5. Poison messages go to the dead-letter stream
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_are_dead_lettered_and_skipped() {
    let server = server().await;
    let bus = connect(&server).await;
    let js = bus.jetstream();
    let subject = "repobus.repo.sync.started.x";
    let invalid = Bytes::from_static(br#"{"repo_id": "a b"}"#);
    let malformed = Bytes::from_static(b"not json");
    for body in [invalid.clone(), malformed.clone()] {
        within(30, "raw publish", async {
            js.publish(subject, body)
                .await
                .expect("raw publish")
                .await
                .expect("raw publish ack")
        })
        .await;
    }
    let good = sync_started("good-repo");
    let good_ack = within(30, "publish", bus.publisher().publish(&good))
        .await
        .expect("publish");
    assert_eq!(good_ack.seq, 3);

    let mut sub = subscribe(
        &bus,
        ConsumerOptions {
            ack_wait: Duration::from_secs(1),
            ..consumer(None)
        },
    )
    .await;
    let d = next_delivery(&mut sub, 30).await;
    assert_eq!(d.event, good);
    assert_eq!(d.stream_sequence, 3);
    assert_eq!(d.envelope.event_id, good_ack.event_id);
    assert_eq!(sub.dead_lettered(), 2);
    d.ack().await.expect("ack");
    // The poison messages were terminated, not left for redelivery.
    assert_quiet(&mut sub, Duration::from_millis(2500)).await;
    assert_eq!(sub.dead_lettered(), 2);

    let dlq = stream_messages(&bus, "REPOBUS_DLQ").await;
    assert_eq!(dlq.len(), 2, "dead letters: {dlq:?}");
    let (s0, h0, p0) = &dlq[0];
    assert_eq!(s0, "repobus.dlq.schema-violation");
    let error = header(h0, "Repobus-Error");
    let expected = Event::decode("repo-sync-started", &invalid)
        .expect_err("invalid body")
        .to_string();
    assert_eq!(error, expected, "Repobus-Error is the decode error");
    assert!(error.contains("$.repo_id"), "Repobus-Error {error:?}");
    assert!(
        error.contains("repo-sync-started"),
        "Repobus-Error {error:?}"
    );
    assert_eq!(header(h0, "Repobus-Original-Sequence"), "1");
    assert_eq!(header(h0, "Repobus-Original-Subject"), subject);
    assert_eq!(header(h0, "Repobus-Original-Stream"), "REPOBUS");
    assert_eq!(p0, &invalid);

    let (s1, h1, p1) = &dlq[1];
    assert_eq!(s1, "repobus.dlq.malformed-json");
    let error = header(h1, "Repobus-Error");
    let expected = Event::decode("repo-sync-started", &malformed)
        .expect_err("malformed body")
        .to_string();
    assert_eq!(error, expected, "Repobus-Error is the decode error");
    assert!(error.contains("malformed JSON"), "Repobus-Error {error:?}");
    assert!(error.contains("line 1 column"), "Repobus-Error {error:?}");
    assert_eq!(header(h1, "Repobus-Original-Sequence"), "2");
    assert_eq!(header(h1, "Repobus-Original-Subject"), subject);
    assert_eq!(p1, &malformed);

    // The event stream itself is untouched.
    assert_eq!(stream_len(&bus, "REPOBUS").await, 3);
}

/// A poison message that carries a JetStream publish-control header (here
/// `Nats-Expected-Stream: REPOBUS`, which a producer may set when it
/// publishes to the event stream) must still reach the dead-letter stream.
#[tokio::test(flavor = "multi_thread")]
async fn poison_message_with_an_expected_stream_header_is_still_dead_lettered() {
    let server = server().await;
    let bus = connect(&server).await;
    let subject = "repobus.repo.sync.started.x";
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Expected-Stream", "REPOBUS");
    within(30, "raw publish", async {
        bus.jetstream()
            .publish_with_headers(subject, headers, Bytes::from_static(b"not json"))
            .await
            .expect("raw publish")
            .await
            .expect("raw publish ack")
    })
    .await;
    let good = sync_started("good-repo");
    within(30, "publish", bus.publisher().publish(&good))
        .await
        .expect("publish");

    let mut sub = subscribe(
        &bus,
        ConsumerOptions {
            ack_wait: Duration::from_secs(1),
            ..consumer(None)
        },
    )
    .await;
    let d = next_delivery(&mut sub, 30).await;
    assert_eq!(d.event, good);
    d.ack().await.expect("ack");
    assert_eq!(
        sub.dead_lettered(),
        1,
        "the poison message #1 was not dead-lettered"
    );
    let dlq = stream_messages(&bus, "REPOBUS_DLQ").await;
    assert_eq!(dlq.len(), 1, "dead letters: {dlq:?}");
    assert_eq!(dlq[0].0, "repobus.dlq.malformed-json");
    assert_eq!(header(&dlq[0].1, "Repobus-Original-Sequence"), "1");
    // Terminated, not redelivered again and again.
    assert_quiet(&mut sub, Duration::from_millis(2500)).await;
    assert_eq!(sub.dead_lettered(), 1);
}

// ---------------------------------------------------------------------------
// 6. Hostile IDs stay one token each
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn hostile_ids_stay_single_tokens_and_filter_exactly() {
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    let subjects = bus.subjects().clone();
    let hostile = ["a.b", "*", ">", "with space", "\u{fc}n\u{ef}c\u{f8}d\u{e9}"];

    let mut published: Vec<(Event, String)> = Vec::new();
    for id in hostile {
        let event = build_ended(id, id, id);
        let ack = within(30, "publish", publisher.publish(&event))
            .await
            .unwrap_or_else(|e| panic!("publish for {id:?}: {e}"));
        assert_eq!(ack.subject.split('.').count(), 7, "{}", ack.subject);
        assert!(
            !ack.subject.contains(['*', '>', ' ']) && ack.subject.is_ascii(),
            "{}",
            ack.subject
        );
        published.push((event, ack.subject));
    }
    let repo = sync_started("a.b");
    let ack = within(30, "publish", publisher.publish(&repo))
        .await
        .expect("publish repo a.b");
    assert_eq!(ack.subject, "repobus.repo.sync.started.a%2Eb");
    assert_eq!(ack.subject.split('.').count(), 5);
    published.push((repo, ack.subject));

    let stored = stream_messages(&bus, "REPOBUS").await;
    assert_eq!(stored.len(), published.len());
    for ((subject, headers, payload), (event, acked_subject)) in stored.iter().zip(&published) {
        assert_eq!(subject, acked_subject);
        assert_eq!(&decode_stored(headers, payload), event);
        let parsed = subjects
            .parse(subject)
            .unwrap_or_else(|e| panic!("{subject}: {e}"));
        assert_eq!(parsed.event_type, event.event_type());
        let expected = match (event.repo_id(), event.build_chroot()) {
            (Some(repo_id), _) => SubjectIds::Repo {
                repo_id: repo_id.to_string(),
            },
            (None, Some(b)) => SubjectIds::BuildChroot {
                owner: b.owner.clone(),
                project: b.copr.clone(),
                chroot: b.chroot.clone(),
            },
            (None, None) => unreachable!(),
        };
        assert_eq!(parsed.ids, expected, "{subject}");
    }

    // A filter on one owner gets exactly that owner's event, even when
    // other owners are wildcard characters.
    for (index, owner) in [(0, "a.b"), (1, "*"), (2, ">")] {
        let filter = subjects.filter(&SubjectFilter::owner(owner));
        let mut sub = subscribe(
            &bus,
            ConsumerOptions {
                filter_subjects: vec![filter.clone()],
                ..consumer(None)
            },
        )
        .await;
        let d = next_delivery(&mut sub, 30).await;
        assert_eq!(d.event, published[index].0, "filter {filter}");
        assert_eq!(d.subject, published[index].1);
        d.ack().await.expect("ack");
        assert_quiet(&mut sub, Duration::from_millis(1000)).await;
        assert_eq!(sub.pending().await.expect("pending"), 0, "filter {filter}");
    }
}

// ---------------------------------------------------------------------------
// 7. Unreachable server
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_fails_naming_the_url() {
    let url = format!("nats://127.0.0.1:{}", closed_port());
    // The test kit's configuration connects with a 2-second timeout.
    let config = config(url.clone());
    let bound = Duration::from_secs(2) + Duration::from_secs(2);
    let started = Instant::now();
    let result = tokio::time::timeout(bound, Bus::connect(config))
        .await
        .unwrap_or_else(|_| panic!("Bus::connect({url}) did not return within {bound:?}"));
    let err = result.expect_err("connected to a closed port");
    assert!(started.elapsed() < bound);
    assert!(matches!(err, BusError::Connect { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&url), "{message:?} does not name {url}");
}

// ---------------------------------------------------------------------------
// 8. Deadline and bounded buffer
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn deadline_passes_and_a_full_buffer_refuses_at_once() {
    let mut server = server().await;
    let config = config(server.url())
        .publish_deadline(Duration::from_secs(2))
        .duplicate_window(Duration::from_secs(30))
        .max_in_flight(1);
    let bus = connect_with(config).await;
    let publisher = bus.publisher();
    within(
        30,
        "publish",
        publisher.publish(&sync_started("before-kill")),
    )
    .await
    .expect("publish before the kill");

    server.kill();
    let in_flight = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = publisher.publish(&sync_started("during-outage")).await;
            (result, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !in_flight.is_finished(),
        "the first publish should still be retrying"
    );

    let started = Instant::now();
    let second = within(
        5,
        "second publish",
        publisher.publish(&sync_started("second")),
    )
    .await;
    let elapsed = started.elapsed();
    match &second {
        Err(e @ PublishError::BufferFull { capacity: 1 }) => assert!(e.is_transient()),
        other => panic!("expected BufferFull, got {other:?}"),
    }
    assert!(
        elapsed < Duration::from_millis(100),
        "BufferFull took {elapsed:?}"
    );

    let (first, elapsed) = within(10, "the in-flight publish", in_flight)
        .await
        .expect("publish task");
    let id = match first {
        Err(
            ref e @ PublishError::Deadline {
                ref id,
                attempts,
                deadline,
                ..
            },
        ) => {
            assert!(attempts >= 1);
            assert_eq!(deadline, Duration::from_secs(2));
            assert!(e.is_transient());
            let message = e.to_string();
            assert!(message.contains("may or may not be stored"), "{message}");
            assert!(message.contains(id.as_str()), "{message}");
            id.clone()
        }
        // The server was already down: the publish waited for a connection
        // and never sent, so it can say for sure that nothing is stored.
        Err(ref e @ PublishError::Unreachable { ref id, deadline }) => {
            assert_eq!(deadline, Duration::from_secs(2));
            assert!(e.is_transient());
            let message = e.to_string();
            assert!(message.contains("was not sent (not stored)"), "{message}");
            assert!(message.contains(id.as_str()), "{message}");
            id.clone()
        }
        other => panic!("expected PublishError::Deadline or Unreachable, got {other:?}"),
    };
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(3),
        "the deadline error came after {elapsed:?}"
    );

    // Retrying with the same id after the server is back stores it once.
    within(30, "restart", server.restart())
        .await
        .expect("restart");
    let retry = within(
        30,
        "retry",
        publisher.publish_with(
            &sync_started("during-outage"),
            PublishOptions {
                id: Some(id.clone()),
                ..PublishOptions::default()
            },
        ),
    )
    .await
    .expect("retry after restart");
    assert_eq!(retry.event_id, id);
    let stored = stream_messages(&bus, "REPOBUS").await;
    let copies = stored
        .iter()
        .filter(|(_, h, _)| header(h, "ce-id") == id)
        .count();
    assert_eq!(copies, 1, "the retried event must be stored exactly once");
    assert_eq!(stored.len(), 2, "before-kill and during-outage");
}

// ---------------------------------------------------------------------------
// 9. Operation guards
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn operation_guards_always_publish_the_finished_event() {
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    let yum = || rid("yum_importer");
    let dist = || rid("yum_distributor");

    // Explicit start and finish.
    let op = within(
        30,
        "start_sync",
        publisher.start_sync(rid("g-ok"), yum(), yum()),
    )
    .await
    .expect("start_sync");
    assert_eq!(op.repo_id().as_str(), "g-ok");
    within(
        30,
        "finish_sync",
        op.finish(SyncReport {
            added_count: 3,
            updated_count: 2,
            removed_count: 1,
            summary: json!({"packages": 3}),
            ..SyncReport::default()
        }),
    )
    .await
    .expect("finish_sync");

    // The guarded code returns an error.
    let result = within(
        30,
        "run_sync err",
        publisher.run_sync(rid("g-err"), yum(), yum(), || async {
            Err::<SyncReport, _>("boom")
        }),
    )
    .await;
    assert!(
        matches!(result, Err(OperationError::Failed("boom"))),
        "{result:?}"
    );

    // The guarded code panics.
    let result = within(
        30,
        "run_sync panic",
        publisher.run_sync(rid("g-panic"), yum(), yum(), || async {
            if rid("g-panic").as_str() == "g-panic" {
                panic!("kaboom in the importer");
            }
            Ok::<_, String>(SyncReport::default())
        }),
    )
    .await;
    match &result {
        Err(OperationError::Panicked(message)) => {
            assert!(message.contains("kaboom in the importer"), "{message}")
        }
        other => panic!("expected Panicked, got {other:?}"),
    }

    // The guarded code succeeds.
    let report = within(
        30,
        "run_sync ok",
        publisher.run_sync(rid("g-run"), yum(), yum(), || async {
            Ok::<_, String>(SyncReport {
                added_count: 7,
                ..SyncReport::default()
            })
        }),
    )
    .await
    .expect("run_sync ok");
    assert_eq!(report.added_count, 7);

    // Publishes: explicit start and failure, run_publish success and error.
    let op = within(
        30,
        "start_publish",
        publisher.start_publish(rid("p-fail"), dist(), dist()),
    )
    .await
    .expect("start_publish");
    within(30, "fail", op.fail("disk full"))
        .await
        .expect("fail");
    let report = within(
        30,
        "run_publish ok",
        publisher.run_publish(rid("p-ok"), dist(), dist(), || async {
            Ok::<_, String>(PublishReport {
                summary: json!({"ok": true}),
                ..PublishReport::default()
            })
        }),
    )
    .await
    .expect("run_publish ok");
    assert_eq!(report.summary, json!({"ok": true}));
    let result = within(
        30,
        "run_publish err",
        publisher.run_publish(rid("p-err"), dist(), dist(), || async {
            Err::<PublishReport, _>(String::from("rsync exited 23"))
        }),
    )
    .await;
    assert!(
        matches!(&result, Err(OperationError::Failed(m)) if m == "rsync exited 23"),
        "{result:?}"
    );

    // An operation dropped unfinished: a canceled result after close().
    let dropping = bus.publisher();
    let op = within(
        30,
        "start_sync",
        dropping.start_sync(rid("g-drop"), yum(), yum()),
    )
    .await
    .expect("start_sync");
    drop(op);
    within(30, "close", dropping.close()).await;

    // What the stream holds, per repository, in order.
    let stored = stream_messages(&bus, "REPOBUS").await;
    let mut by_repo: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for (subject, headers, payload) in &stored {
        let event = decode_stored(headers, payload);
        assert_eq!(subject, &bus.subjects().for_event(&event));
        by_repo.entry(repo_of(&event)).or_default().push(event);
    }
    assert_eq!(
        by_repo.keys().map(String::as_str).collect::<Vec<_>>(),
        ["g-drop", "g-err", "g-ok", "g-panic", "g-run", "p-err", "p-fail", "p-ok"]
    );
    let sync_finished = |repo: &str| {
        let events = &by_repo[repo];
        assert_eq!(events.len(), 2, "{repo}: {events:?}");
        assert_eq!(events[0].event_type(), EventType::RepoSyncStarted, "{repo}");
        match &events[1] {
            Event::RepoSyncFinished(f) => {
                assert_eq!(f.importer_type_id.as_str(), "yum_importer");
                assert!(
                    f.outcome.started.as_datetime() <= f.outcome.completed.as_datetime(),
                    "{repo}: started after completed"
                );
                f.clone()
            }
            other => panic!("{repo}: expected repo-sync-finished, got {other:?}"),
        }
    };
    let publish_finished = |repo: &str| {
        let events = &by_repo[repo];
        assert_eq!(events.len(), 2, "{repo}: {events:?}");
        match &events[0] {
            Event::RepoPublishStarted(s) => {
                assert_eq!(s.distributor_id.as_str(), "yum_distributor")
            }
            other => panic!("{repo}: expected repo-publish-started, got {other:?}"),
        }
        match &events[1] {
            Event::RepoPublishFinished(f) => {
                assert_eq!(f.distributor_type_id.as_str(), "yum_distributor");
                assert!(f.outcome.started.as_datetime() <= f.outcome.completed.as_datetime());
                f.clone()
            }
            other => panic!("{repo}: expected repo-publish-finished, got {other:?}"),
        }
    };

    let ok = sync_finished("g-ok");
    assert_eq!(ok.outcome.result, PulpResult::Success);
    assert_eq!(
        (ok.added_count, ok.updated_count, ok.removed_count),
        (3, 2, 1)
    );
    assert_eq!(ok.outcome.report_summary, json!({"packages": 3}));
    assert_eq!(ok.outcome.error_message, None);

    let err = sync_finished("g-err");
    assert_eq!(err.outcome.result, PulpResult::Error);
    assert_eq!(err.outcome.error_message.as_deref(), Some("boom"));
    assert!(err.outcome.exception.is_some());

    let panicked = sync_finished("g-panic");
    assert_eq!(panicked.outcome.result, PulpResult::Error);
    let message = panicked.outcome.error_message.clone().unwrap_or_default();
    assert!(message.contains("kaboom in the importer"), "{message:?}");

    let run = sync_finished("g-run");
    assert_eq!(run.outcome.result, PulpResult::Success);
    assert_eq!(run.added_count, 7);

    let dropped = sync_finished("g-drop");
    assert_eq!(dropped.outcome.result, PulpResult::Canceled);
    assert_eq!(
        dropped.outcome.error_message.as_deref(),
        Some("the operation was dropped before it finished")
    );

    let failed = publish_finished("p-fail");
    assert_eq!(failed.outcome.result, PulpResult::Failed);
    assert_eq!(failed.outcome.error_message.as_deref(), Some("disk full"));
    let ok = publish_finished("p-ok");
    assert_eq!(ok.outcome.result, PulpResult::Success);
    assert_eq!(ok.outcome.report_summary, json!({"ok": true}));
    let err = publish_finished("p-err");
    assert_eq!(err.outcome.result, PulpResult::Error);
    assert_eq!(
        err.outcome.error_message.as_deref(),
        Some("rsync exited 23")
    );

    // Finished events carry distinct result-document IDs.
    let outcome_ids: HashSet<String> = by_repo
        .values()
        .map(|events| match &events[1] {
            Event::RepoSyncFinished(f) => f.outcome.id.to_string(),
            Event::RepoPublishFinished(f) => f.outcome.id.to_string(),
            other => panic!("not a finished event: {other:?}"),
        })
        .collect();
    assert_eq!(outcome_ids.len(), by_repo.len());
}

/// `run_sync` whose closure itself panics (before it returns its future)
/// must publish an `error` result and return `OperationError::Panicked`,
/// like a panic inside the future.
#[tokio::test(flavor = "multi_thread")]
async fn run_sync_whose_closure_panics_synchronously_publishes_an_error_result() {
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    let task = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let result = publisher
                .run_sync(
                    rid("g-sync-panic"),
                    rid("yum_importer"),
                    rid("yum_importer"),
                    || -> std::future::Ready<Result<SyncReport, String>> {
                        panic!("config file unreadable")
                    },
                )
                .await;
            match result {
                Err(OperationError::Panicked(message)) => Ok(message),
                other => Err(format!("{other:?}")),
            }
        })
    };
    let outcome = within(30, "run_sync", task).await;
    match &outcome {
        Ok(Ok(message)) => assert!(message.contains("config file unreadable"), "{message}"),
        Ok(Err(other)) => panic!("expected OperationError::Panicked, got {other}"),
        Err(join) => panic!("run_sync let the closure's panic escape: {join}"),
    }
    within(30, "close", publisher.close()).await;

    let stored = stream_messages(&bus, "REPOBUS").await;
    let events: Vec<Event> = stored
        .iter()
        .map(|(_, headers, payload)| decode_stored(headers, payload))
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].event_type(), EventType::RepoSyncStarted);
    match &events[1] {
        Event::RepoSyncFinished(f) => {
            assert_eq!(f.outcome.result, PulpResult::Error, "{f:?}");
            let message = f.outcome.error_message.clone().unwrap_or_default();
            assert!(message.contains("config file unreadable"), "{message:?}");
        }
        other => panic!("expected repo-sync-finished, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// 10. Backpressure
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn slow_consumer_with_small_max_ack_pending_gets_everything_in_order() {
    const TOTAL: u64 = 200;
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    for i in 0..TOTAL {
        within(
            30,
            "publish",
            publisher.publish(&sync_started(&format!("slow-{i:03}"))),
        )
        .await
        .expect("publish");
    }
    let mut sub = subscribe(
        &bus,
        ConsumerOptions {
            max_ack_pending: 5,
            ack_wait: Duration::from_secs(10),
            ..consumer(Some("slow"))
        },
    )
    .await;
    let stream = within(10, "get stream", bus.jetstream().get_stream("REPOBUS"))
        .await
        .expect("stream");
    let mut max_ack_pending_seen = 0;
    for expected in 1..=TOTAL {
        let d = next_delivery(&mut sub, 30).await;
        assert_eq!(d.stream_sequence, expected, "gap or reordering");
        assert_eq!(d.delivered, 1, "event #{expected} was redelivered");
        assert_eq!(repo_of(&d.event), format!("slow-{:03}", expected - 1));
        assert_eq!(d.pending, TOTAL - expected);
        tokio::time::sleep(Duration::from_millis(10)).await;
        d.ack().await.expect("ack");
        if expected % 20 == 0 {
            let info = within(10, "consumer info", stream.consumer_info("slow"))
                .await
                .expect("consumer info");
            max_ack_pending_seen = max_ack_pending_seen.max(info.num_ack_pending);
            assert!(
                info.num_ack_pending <= 5,
                "{} unacknowledged events with max_ack_pending 5",
                info.num_ack_pending
            );
        }
    }
    assert!(max_ack_pending_seen <= 5);
    assert_all_acked(&bus, &mut sub, Duration::from_millis(500)).await;
}

// ---------------------------------------------------------------------------
// 11. close()
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn publishing_after_close_fails_with_closed() {
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    let clone = publisher.clone();
    within(
        30,
        "publish",
        publisher.publish(&sync_started("before-close")),
    )
    .await
    .expect("publish before close");
    within(30, "close", publisher.close()).await;

    for p in [&publisher, &clone] {
        let result = within(5, "publish after close", p.publish(&sync_started("late"))).await;
        match result {
            Err(e @ PublishError::Closed) => {
                assert!(!e.is_transient());
                assert_eq!(e.to_string(), "the publisher is closed");
            }
            other => panic!("expected PublishError::Closed, got {other:?}"),
        }
    }
    let result = within(
        5,
        "publish_with after close",
        clone.publish_with(
            &sync_started("late"),
            PublishOptions {
                id: Some("late-1".into()),
                ..PublishOptions::default()
            },
        ),
    )
    .await;
    assert!(matches!(result, Err(PublishError::Closed)), "{result:?}");
    let result = within(
        5,
        "start_sync after close",
        clone.start_sync(rid("late"), rid("i"), rid("i")),
    )
    .await;
    assert!(matches!(result, Err(PublishError::Closed)), "{result:?}");
    // Closing again returns.
    within(5, "second close", publisher.close()).await;

    assert_eq!(
        stream_len(&bus, "REPOBUS").await,
        1,
        "nothing after close is stored"
    );
    // Another publisher of the same bus is independent.
    let ack = within(30, "publish", bus.publisher().publish(&sync_started("new")))
        .await
        .expect("a new publisher works");
    assert_eq!(ack.seq, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_limits_keep_the_newest_events() {
    let server = server().await;
    let config = config(server.url()).max_messages(5);
    let bus = connect_with(config).await;
    let publisher = bus.publisher();
    for i in 0..8 {
        let event = sync_started(&format!("repo-{i}"));
        within(20, "publish", publisher.publish(&event))
            .await
            .expect("publish");
    }
    assert_eq!(stream_len(&bus, "REPOBUS").await, 5);
    let kept: Vec<Event> = stream_messages(&bus, "REPOBUS")
        .await
        .iter()
        .map(|(_, headers, payload)| decode_stored(headers, payload))
        .collect();
    let repos: Vec<String> = kept
        .iter()
        .map(|e| e.repo_id().expect("a repo event").to_string())
        .collect();
    assert_eq!(repos, ["repo-3", "repo-4", "repo-5", "repo-6", "repo-7"]);

    // Reconnecting with another limit updates the stream in place.
    let config = self::config(server.url()).max_messages(2);
    let bus = connect_with(config).await;
    assert_eq!(stream_len(&bus, "REPOBUS").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn pushed_down_search_keeps_events_whose_producer_clock_runs_ahead() {
    use repobus::criteria::Criteria;
    use repobus::envelope::Envelope;
    use repobus::history::{search, Search};

    let server = server().await;
    let bus = connect(&server).await;
    // The producer's clock is a minute ahead of the server's.
    let event = sync_started("clock-ahead");
    let mut envelope = Envelope::new(&event, "urn:test:skewed", None).expect("envelope");
    envelope.time += chrono::Duration::seconds(60);
    let subject = bus.subjects().for_event(&event);
    within(
        10,
        "raw publish",
        bus.jetstream()
            .publish_with_headers(subject, envelope.to_headers(), event.to_vec().into()),
    )
    .await
    .expect("publish")
    .await
    .expect("ack");

    // Events at or after 30 s from now (server time): only by its ce-time
    // does the event qualify.
    let after = chrono::Utc::now() + chrono::Duration::seconds(30);
    for push_down in [true, false] {
        let found = within(
            30,
            "search",
            search(
                &bus,
                &Search {
                    push_down,
                    ..Search::new(Criteria::new().with_after(after))
                },
                None,
            ),
        )
        .await
        .expect("search");
        assert_eq!(found.len(), 1, "push_down {push_down}: {found:?}");
        assert_eq!(found[0]["repo_id"], "clock-ahead");
    }
}

/// The next delivery within `millis` milliseconds, or `None` if none comes.
async fn next_within(
    sub: &mut repobus::bus::Subscription,
    millis: u64,
) -> Option<repobus::bus::Delivery> {
    match tokio::time::timeout(Duration::from_millis(millis), sub.next()).await {
        Ok(Some(Ok(delivery))) => Some(delivery),
        Ok(Some(Err(e))) => panic!("receive failed: {e}"),
        Ok(None) | Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nak_with_delay_redelivers_later_and_term_stops_redelivery() {
    use repobus::bus::{ConsumerOptions, Deliver};
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    for repo in ["nak-me", "term-me"] {
        within(20, "publish", publisher.publish(&sync_started(repo)))
            .await
            .expect("publish");
    }
    let mut sub = within(
        20,
        "subscribe",
        bus.subscriber().subscribe(ConsumerOptions {
            durable: Some("verbs".into()),
            deliver: Deliver::All,
            ack_wait: Duration::from_secs(1),
            ..ConsumerOptions::default()
        }),
    )
    .await
    .expect("subscribe");

    let first = next_within(&mut sub, 5000).await.expect("first delivery");
    assert_eq!(first.event.repo_id().unwrap().as_str(), "nak-me");
    let naked_at = std::time::Instant::now();
    first
        .nak(Some(Duration::from_millis(700)))
        .await
        .expect("nak");

    let second = next_within(&mut sub, 5000).await.expect("second delivery");
    assert_eq!(second.event.repo_id().unwrap().as_str(), "term-me");
    second.term().await.expect("term");

    let again = next_within(&mut sub, 5000)
        .await
        .expect("the nak'ed event again");
    assert_eq!(again.event.repo_id().unwrap().as_str(), "nak-me");
    assert_eq!(again.delivered, 2);
    assert!(
        naked_at.elapsed() >= Duration::from_millis(600),
        "redelivered after {:?}, before the nak delay",
        naked_at.elapsed()
    );
    again.ack().await.expect("ack");

    // The terminated event never comes back, not even after the ack wait.
    assert!(next_within(&mut sub, 2500).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn max_deliveries_with_backoff_then_no_more() {
    use repobus::bus::{ConsumerOptions, Deliver};
    let server = server().await;
    let bus = connect(&server).await;
    within(
        20,
        "publish",
        bus.publisher().publish(&sync_started("never-acked")),
    )
    .await
    .expect("publish");
    let backoff = [Duration::from_millis(400), Duration::from_millis(800)];
    let mut sub = within(
        20,
        "subscribe",
        bus.subscriber().subscribe(ConsumerOptions {
            durable: Some("backoff".into()),
            deliver: Deliver::All,
            max_deliver: 3,
            backoff: backoff.to_vec(),
            ..ConsumerOptions::default()
        }),
    )
    .await
    .expect("subscribe");

    let mut seen = Vec::new();
    let start = std::time::Instant::now();
    while let Some(delivery) = next_within(&mut sub, 3000).await {
        seen.push((delivery.delivered, start.elapsed()));
        // Never acknowledged: the server redelivers after each backoff step.
    }
    let counts: Vec<i64> = seen.iter().map(|(d, _)| *d).collect();
    assert_eq!(counts, [1, 2, 3], "{seen:?}");
    // Each redelivery waits at least its backoff step (with scheduling slack).
    assert!(
        seen[1].1 - seen[0].1 >= Duration::from_millis(300),
        "{seen:?}"
    );
    assert!(
        seen[2].1 - seen[1].1 >= Duration::from_millis(650),
        "{seen:?}"
    );
}

// publish_lines pipelines up to its window of acks and still stores the
// lines in file order; a bad line is counted and skipped. With a window of
// 1 (max_in_flight 1) it is one line at a time, in the same order.
#[tokio::test(flavor = "multi_thread")]
async fn publish_lines_pipelines_in_file_order() {
    const LINES: usize = 2_000;
    let server = server().await;
    let text: String = (0..LINES)
        .map(|i| {
            let line =
                json!({"topic": "repo-sync-started", "body": {"repo_id": format!("line-{i:04}")}});
            if i == 100 {
                format!("{{not json\n{line}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    for (max_in_flight, stream) in [(4096, "WIDE"), (1, "NARROW")] {
        let bus = connect_with(
            config(server.url())
                .prefix(stream.to_lowercase())
                .stream(stream)
                .max_in_flight(max_in_flight),
        )
        .await;
        let publisher = bus.publisher();
        let lines = if max_in_flight == 1 { 300 } else { LINES };
        let input: String = text
            .lines()
            .take(lines + 1)
            .map(|l| format!("{l}\n"))
            .collect();
        let mut failures = Vec::new();
        let report = within(
            60,
            "publish_lines",
            publisher.publish_lines(input.as_bytes(), |f| failures.push(f.to_string())),
        )
        .await;
        publisher.close().await;
        assert_eq!(report.published, lines as u64, "{report:?}");
        assert_eq!((report.failed, report.duplicates), (1, 0), "{report:?}");
        assert_eq!(report.stopped_at_line, None);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].starts_with("line 101: "), "{failures:?}");
        let keys: Vec<String> = stream_messages(&bus, stream)
            .await
            .iter()
            .map(|(_, headers, payload)| repo_of(&decode_stored(headers, payload)))
            .collect();
        let expected: Vec<String> = (0..lines).map(|i| format!("line-{i:04}")).collect();
        assert_eq!(
            keys, expected,
            "stored in file order (max_in_flight {max_in_flight})"
        );
    }
}
