//! History search: every planned answer (subject narrowing, sequence
//! bounds from a binary search over event times, backward reads, early
//! stops, last-per-subject) equals the full scan's, on small streams whose
//! event times are spread out, dense, and out of order within the
//! tolerance.

use chrono::{DateTime, Duration as TimeDelta, Utc};
use repobus::bus::Bus;
use repobus::criteria::Criteria;
use repobus::envelope::Envelope;
use repobus::events::{BuildChroot, CoprStatus};
use repobus::history::{search, Search};
use repobus::{Event, EventType};
use serde_json::{Map, Value};

use repobus_testkit::*;

type Record = Map<String, Value>;

const EVENTS: usize = 240;

fn base() -> DateTime<Utc> {
    "2026-10-01T00:00:00Z".parse().expect("time")
}

/// Event `i`: syncs, publishes and starts of five repositories, builds of
/// three owners; one result in four a failure.
fn event(i: usize) -> Event {
    let repo = format!("repo-{}", i % 5);
    let result = if (i / 5) % 4 == 0 {
        "failed"
    } else {
        "success"
    };
    match i % 4 {
        0 => Event::from_value(
            EventType::RepoSyncFinished,
            sync_finished_body(&repo, result, (i % 7) as u64),
        )
        .expect("sync"),
        1 => {
            let mut body = EventType::RepoPublishFinished.examples().remove(0);
            body["repo_id"] = repo.into();
            body["result"] = result.into();
            Event::from_value(EventType::RepoPublishFinished, body).expect("publish")
        }
        2 => sync_started(&repo),
        _ => BuildChroot::builder(i as u64, format!("owner{}", i % 3), "proj", "fedora-40")
            .package("pkg", "1.0-1")
            .user("someone")
            .ended(if result == "failed" {
                CoprStatus::Failed
            } else {
                CoprStatus::Succeeded
            })
            .into(),
    }
}

/// Stores the events with the given times (as an import would: raw
/// publishes carrying their own `ce-time`), plus one message that is not
/// a valid event.
async fn store(bus: &Bus, times: &[DateTime<Utc>]) {
    let mut acks: Vec<async_nats::jetstream::context::PublishAckFuture> = Vec::new();
    for (i, time) in times.iter().enumerate() {
        // The client holds a bounded number of unacknowledged publishes.
        if acks.len() >= 256 {
            for ack in acks.drain(..) {
                ack.await.expect("ack");
            }
        }
        let event = event(i);
        let mut envelope = Envelope::new(&event, "urn:test:history", None).expect("envelope");
        envelope.time = *time;
        let subject = bus.subjects().for_event(&event);
        acks.push(
            bus.jetstream()
                .publish_with_headers(subject, envelope.to_headers(), event.to_vec().into())
                .await
                .expect("publish"),
        );
        if i == EVENTS / 2 {
            acks.push(
                bus.jetstream()
                    .publish(
                        bus.subjects().repo(EventType::RepoSyncFinished, "repo-1"),
                        "not json".into(),
                    )
                    .await
                    .expect("publish poison"),
            );
        }
    }
    for ack in acks {
        ack.await.expect("ack");
    }
}

async fn ask(bus: &Bus, search_: &Search) -> Vec<Record> {
    within(30, "search", search(bus, search_, None))
        .await
        .unwrap_or_else(|e| panic!("{search_:?}: {e}"))
}

fn criteria(filter: &str) -> Criteria {
    Criteria::new().with_filter(filter.parse().expect("filter"))
}

/// The questions: each asked planned and as a full scan.
fn questions(times: &[DateTime<Utc>]) -> Vec<(&'static str, Search)> {
    let mut sorted = times.to_vec();
    sorted.sort();
    let t = |q: usize| sorted[sorted.len() * q / 10];
    let s = |c: Criteria| Search::new(c);
    vec![
        ("everything", s(Criteria::new())),
        (
            "one repository's failed syncs",
            s(criteria(
                r#"{"type": "repo-sync-finished", "repo_id": "repo-2", "result": "failed"}"#,
            )),
        ),
        (
            "last 3 publishes of one repository by time",
            s(
                criteria(r#"{"type": "repo-publish-finished", "repo_id": "repo-3"}"#)
                    .with_sort("time,descending".parse().expect("sort"))
                    .with_limit(3),
            ),
        ),
        (
            "latest 5 after 2 by time",
            s(Criteria::new()
                .with_sort("time,descending".parse().expect("sort"))
                .with_skip(2)
                .with_limit(5)),
        ),
        (
            "earliest 4 failures after 1 by time",
            s(criteria(r#"{"result": "failed"}"#)
                .with_sort("time".parse().expect("sort"))
                .with_skip(1)
                .with_limit(4)),
        ),
        (
            "last 7 by sequence",
            s(Criteria::new()
                .with_sort("seq,descending".parse().expect("sort"))
                .with_limit(7)),
        ),
        (
            "first 3 by sequence",
            s(Criteria::new()
                .with_sort("seq".parse().expect("sort"))
                .with_limit(3)),
        ),
        (
            "after the 60th percentile",
            s(Criteria::new().with_after(t(6))),
        ),
        (
            "between the 30th and 50th percentiles, latest 3 by time",
            s(Criteria::new()
                .with_after(t(3))
                .with_before(t(5))
                .with_sort("time,descending".parse().expect("sort"))
                .with_limit(3)),
        ),
        (
            "before the 20th percentile",
            s(Criteria::new().with_before(t(2))),
        ),
        (
            "two repositories (several subjects) after a time, first 5",
            s(
                criteria(r#"{"$or": [{"repo_id": "repo-1"}, {"repo_id": "repo-4"}]}"#)
                    .with_after(t(4))
                    .with_limit(5),
            ),
        ),
        (
            "one owner's builds, skip 3, 2",
            s(criteria(r#"{"project_owner": "owner1"}"#)
                .with_skip(3)
                .with_limit(2)),
        ),
        (
            "one owner's builds by time, latest 2, some fields",
            s(criteria(r#"{"project_owner": "owner2"}"#)
                .with_sort("time,descending".parse().expect("sort"))
                .with_limit(2)
                .with_fields(["time", "seq", "status"])),
        ),
        ("limit 0", s(Criteria::new().with_limit(0))),
        ("no such type", s(criteria(r#"{"type": "nope"}"#))),
        (
            "latest event of every repository",
            s(criteria(r#"{"repo_id": {"$exists": true}}"#)).with_latest_per("repo_id"),
        ),
        (
            "latest sync of every repository, sorted by repository",
            s(criteria(r#"{"type": "repo-sync-finished"}"#)
                .with_sort("repo_id".parse().expect("sort")))
            .with_latest_per("repo_id"),
        ),
        (
            "latest failure of every owner (not decided by subjects)",
            s(criteria(r#"{"result": "failed"}"#)).with_latest_per("project_owner"),
        ),
        (
            "latest event of every type after a time",
            s(Criteria::new().with_after(t(5))).with_latest_per("type"),
        ),
    ]
}

async fn planned_equals_scan(times: Vec<DateTime<Utc>>) {
    let server = server().await;
    let bus = connect(&server).await;
    store(&bus, &times).await;
    for (name, planned) in questions(&times) {
        let scan = Search {
            push_down: false,
            ..planned.clone()
        };
        let want = ask(&bus, &scan).await;
        let got = ask(&bus, &planned).await;
        assert_eq!(got, want, "{name}");
        // Without any time assumption the answer is the same too.
        let untimed = ask(&bus, &planned.clone().with_time_tolerance(None)).await;
        assert_eq!(untimed, want, "{name} (no time tolerance)");
    }
}

/// Event times an hour apart, each shifted up to 4 minutes either way:
/// out of stream order, within the 5-minute tolerance.
fn spread_times() -> Vec<DateTime<Utc>> {
    (0..EVENTS)
        .map(|i| {
            let jitter = [0i64, 240, -240, 90, -30, 0, 200][i % 7];
            base() + TimeDelta::hours(i as i64) + TimeDelta::seconds(jitter)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn planned_answers_equal_the_scan_on_a_spread_stream() {
    planned_equals_scan(spread_times()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn planned_answers_equal_the_scan_on_a_dense_stream() {
    // Times as published: a millisecond apart, some identical.
    let now = Utc::now();
    planned_equals_scan(
        (0..EVENTS)
            .map(|i| now + TimeDelta::milliseconds((i / 2) as i64))
            .collect(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn events_out_of_order_within_the_tolerance_are_found() {
    let server = server().await;
    let bus = connect(&server).await;
    // Minutes apart; every tenth event's clock runs 4 minutes ahead, every
    // tenth plus five 4 minutes behind.
    let times: Vec<DateTime<Utc>> = (0..EVENTS)
        .map(|i| {
            let shift = match i % 10 {
                0 => 240,
                5 => -240,
                _ => 0,
            };
            base() + TimeDelta::minutes(i as i64) + TimeDelta::seconds(shift)
        })
        .collect();
    store(&bus, &times).await;
    for i in (0..EVENTS).filter(|i| i % 10 == 0 || i % 10 == 5) {
        let time = times[i];
        // From its own time on, it is there (and nothing earlier).
        let found = ask(&bus, &Search::new(Criteria::new().with_after(time))).await;
        assert!(
            found
                .iter()
                .any(|r| r["time"] == time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            "event {i} at {time} not found after its own time"
        );
        assert!(found.iter().all(|r| {
            r["time"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                .is_some_and(|t| t >= time)
        }));
        // And before a millisecond after it.
        let found = ask(
            &bus,
            &Search::new(Criteria::new().with_before(time + TimeDelta::milliseconds(1))),
        )
        .await;
        assert!(
            found.iter().any(|r| r["seq"].as_u64() == Some(seq_of(i))),
            "event {i} at {time} not found before a millisecond after it"
        );
    }
    // A tolerance smaller than the disorder may miss events: the guarantee
    // is stated for the tolerance, and a tolerance of zero is not enough
    // here for every event, but the scan always is.
    let zero = Search::new(Criteria::new().with_after(times[10]))
        .with_time_tolerance(Some(std::time::Duration::ZERO));
    let all = ask(
        &bus,
        &Search {
            push_down: false,
            ..zero.clone()
        },
    )
    .await;
    assert!(ask(&bus, &zero).await.len() <= all.len());
}

/// The stream sequence of event `i` (one poison message after event
/// `EVENTS / 2`).
fn seq_of(i: usize) -> u64 {
    i as u64 + 1 + u64::from(i > EVENTS / 2)
}

/// Reads longer than one direct-get batch (4,096 messages) go on through
/// an ordered consumer from where the batch stopped: the answers still
/// equal the full scan's, and the time windows hold exactly the events
/// stored with times inside them.
#[tokio::test(flavor = "multi_thread")]
async fn reads_longer_than_one_batch_equal_the_scan() {
    const MANY: usize = 4_600;
    let server = server().await;
    let bus = connect(&server).await;
    // A minute apart, every third shifted 2 minutes either way.
    let times: Vec<DateTime<Utc>> = (0..MANY)
        .map(|i| {
            let jitter = [0i64, 120, -120][i % 3];
            base() + TimeDelta::minutes(i as i64) + TimeDelta::seconds(jitter)
        })
        .collect();
    store(&bus, &times).await;
    let (early, late) = (times[MANY / 10], times[MANY * 9 / 10]);
    let in_window = |after: Option<DateTime<Utc>>, before: Option<DateTime<Utc>>| {
        times
            .iter()
            .filter(|t| after.is_none_or(|a| **t >= a) && before.is_none_or(|b| **t < b))
            .count()
    };
    let cases = [
        (
            "after the 10th percentile",
            Criteria::new().with_after(early),
            Some(in_window(Some(early), None)),
        ),
        (
            "before the 90th percentile",
            Criteria::new().with_before(late),
            Some(in_window(None, Some(late))),
        ),
        (
            "failures between the percentiles",
            criteria(r#"{"result": "failed"}"#)
                .with_after(early)
                .with_before(late),
            None,
        ),
        (
            "the first 1,100 failures (past the first batch)",
            criteria(r#"{"result": "failed"}"#).with_limit(1_100),
            None,
        ),
        (
            "the last 1,000 failures by sequence (a backward window past one batch)",
            criteria(r#"{"result": "failed"}"#)
                .with_sort("seq,descending".parse().expect("sort"))
                .with_limit(1_000),
            None,
        ),
        ("everything", Criteria::new(), Some(MANY)),
    ];
    for (name, criteria, count) in cases {
        let planned = Search::new(criteria);
        let scan = Search {
            push_down: false,
            ..planned.clone()
        };
        let want = ask(&bus, &scan).await;
        assert_eq!(ask(&bus, &planned).await, want, "{name}");
        if let Some(count) = count {
            assert_eq!(want.len(), count, "{name}");
        }
    }
}
