//! The monitoring overview (`repobus::overview`) against a real
//! `nats-server -js`: latest operation per repository from last-by-subject
//! reads, operations in progress, the Copr build matrix, stats over a
//! window, one event's detail, and the stream's `allow_direct` turned on
//! for a stream an older repobus created.

use async_nats::jetstream::stream;
use repobus::events::{BuildChroot, CoprStatus, RepoPublishStarted};
use repobus::overview::{self, BuildsQuery, OverviewError};
use repobus::{Event, EventType};
use serde_json::json;

use repobus_testkit::*;

fn sync_finished(repo: &str, result: &str, added: u64) -> Event {
    Event::from_value(
        EventType::RepoSyncFinished,
        sync_finished_body(repo, result, added),
    )
    .unwrap()
}

fn build(id: u64, project: &str, chroot: &str, status: Option<CoprStatus>) -> Event {
    let builder = BuildChroot::builder(id, "@python", project, chroot)
        .package("hello", "2.10-1.fc40")
        .user("alice");
    match status {
        None => builder.started().into(),
        Some(s) => builder.ended(s).into(),
    }
}

#[tokio::test]
async fn repos_show_the_latest_result_and_what_is_in_progress() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let p = bus.publisher();
    p.publish(&sync_started("done")).await.unwrap();
    p.publish(&sync_finished("done", "success", 3))
        .await
        .unwrap();
    // An older failure of "again" is superseded by a new start.
    p.publish(&sync_started("again")).await.unwrap();
    p.publish(&sync_finished("again", "failed", 0))
        .await
        .unwrap();
    p.publish(&sync_started("again")).await.unwrap();
    p.publish(&RepoPublishStarted::new(rid("pub.lish"), rid("yum")).into())
        .await
        .unwrap();
    // Build events are not repositories.
    p.publish(&build(1, "proj", "fedora-40-x86_64", None))
        .await
        .unwrap();

    let repos = overview::repos(&bus).await.unwrap();
    let ids: Vec<&str> = repos.iter().map(|r| r.repo_id.as_str()).collect();
    assert_eq!(ids, ["again", "done", "pub.lish"]);

    let done = &repos[1];
    assert!(!done.sync.in_progress);
    assert_eq!(done.sync.running_seconds, None);
    let finished = done.sync.last_finished.as_ref().unwrap();
    assert_eq!(finished["result"], "success");
    assert_eq!(finished["added_count"], 3);
    assert!(finished["duration_seconds"].is_i64());
    assert!(done.publish.last_started.is_none());

    let again = &repos[0];
    assert!(again.sync.in_progress, "{again:?}");
    assert!(again.sync.running_seconds.is_some_and(|s| s >= 0));
    assert_eq!(
        again.sync.last_finished.as_ref().unwrap()["result"],
        "failed"
    );

    let publish = &repos[2];
    assert!(publish.publish.in_progress && !publish.sync.in_progress);
    assert_eq!(
        publish.publish.last_started.as_ref().unwrap()["distributor_id"],
        "yum"
    );
    assert_eq!(overview::in_progress(&repos), (1, 1));
}

#[tokio::test]
async fn builds_form_a_chroot_by_build_matrix_with_failures_per_chroot() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let p = bus.publisher();
    for event in [
        build(10, "py", "fedora-40-x86_64", None),
        build(10, "py", "fedora-40-x86_64", Some(CoprStatus::Succeeded)),
        build(10, "py", "epel-9-x86_64", Some(CoprStatus::Failed)),
        build(11, "py", "epel-9-x86_64", Some(CoprStatus::Failed)),
        build(11, "py", "fedora-40-x86_64", None),
        build(12, "other", "fedora-40-x86_64", Some(CoprStatus::Succeeded)),
    ] {
        p.publish(&event).await.unwrap();
    }
    p.publish(&sync_started("not-a-build")).await.unwrap();

    let all = overview::builds(&bus, &BuildsQuery::default())
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = all
        .projects
        .iter()
        .map(|p| (p.owner.as_str(), p.project.as_str()))
        .collect();
    assert_eq!(names, [("@python", "other"), ("@python", "py")]);

    let py = &all.projects[1];
    assert_eq!(py.chroots, ["epel-9-x86_64", "fedora-40-x86_64"]);
    let builds: Vec<u64> = py.builds.iter().map(|b| b.build_id).collect();
    assert_eq!(builds, [11, 10], "newest first");
    assert_eq!(py.builds[0].chroots["fedora-40-x86_64"].status, "running");
    assert_eq!(py.builds[0].chroots["epel-9-x86_64"].status, "failed");
    assert_eq!(py.builds[1].chroots["fedora-40-x86_64"].status, "succeeded");
    assert_eq!(py.builds[1].package.as_deref(), Some("hello-2.10-1.fc40"));
    assert_eq!(py.failures.get("epel-9-x86_64"), Some(&2));
    assert_eq!(py.failures.get("fedora-40-x86_64"), None);
    assert_eq!(py.ended, 3);

    let one = overview::builds(
        &bus,
        &BuildsQuery {
            project: Some("other".into()),
            builds: 1,
            ..BuildsQuery::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(one.projects.len(), 1);
    assert_eq!(one.projects[0].builds[0].build_id, 12);

    assert!(matches!(
        overview::builds(
            &bus,
            &BuildsQuery {
                since: "yesterday".into(),
                ..BuildsQuery::default()
            }
        )
        .await,
        Err(OverviewError::Query(_))
    ));
}

#[tokio::test]
async fn stats_count_events_and_failures_in_hourly_buckets() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let p = bus.publisher();
    p.publish(&sync_started("a")).await.unwrap();
    p.publish(&sync_finished("a", "failed", 0)).await.unwrap();
    p.publish(&sync_finished("b", "success", 1)).await.unwrap();
    p.publish(&sync_finished("c", "error", 0)).await.unwrap();
    p.publish(&build(1, "x", "c1", Some(CoprStatus::Succeeded)))
        .await
        .unwrap();

    let day = overview::stats(&bus, "P1D").await.unwrap();
    assert_eq!(day.total, 5);
    assert_eq!(day.finished, 4);
    assert_eq!(day.failed, 2);
    assert!((day.failure_rate - 0.5).abs() < 1e-9);
    assert_eq!(day.bucket_seconds, 3600);
    assert!(
        (24..=26).contains(&day.buckets.len()),
        "{}",
        day.buckets.len()
    );
    assert_eq!(day.buckets.iter().map(|b| b.events).sum::<u64>(), 5);
    assert_eq!(day.buckets.last().unwrap().events, 5, "all in this hour");
    assert_eq!(day.by_type["repo-sync-finished"], 3);

    let month = overview::stats(&bus, "P30D").await.unwrap();
    assert_eq!((month.bucket_seconds, month.total), (86400, 5));
    assert!(matches!(
        overview::stats(&bus, "P").await,
        Err(OverviewError::Query(_))
    ));
}

#[tokio::test]
async fn event_at_returns_the_record_headers_and_wire_body() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ack = bus
        .publisher()
        .publish(&sync_finished("epel.7", "success", 9))
        .await
        .unwrap();
    let detail = overview::event_at(&bus, ack.seq).await.unwrap();
    assert_eq!(detail.record["repo_id"], "epel.7");
    assert_eq!(detail.record["seq"], json!(ack.seq));
    assert_eq!(detail.headers["ce-type"], "repo-sync-finished");
    let body: serde_json::Value = serde_json::from_str(&detail.body).unwrap();
    assert_eq!(body["added_count"], 9);
    assert!(matches!(
        overview::event_at(&bus, ack.seq + 100).await,
        Err(OverviewError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_existing_stream_without_direct_get_is_updated() {
    let nats = server().await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.create_stream(stream::Config {
        name: "REPOBUS".into(),
        subjects: vec!["repobus.>".into()],
        allow_direct: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let bus = connect(&nats).await;
    let mut events = js.get_stream("REPOBUS").await.unwrap();
    assert!(events.info().await.unwrap().config.allow_direct);
    bus.publisher().publish(&sync_started("r")).await.unwrap();
    assert_eq!(overview::repos(&bus).await.unwrap().len(), 1);
}
