//! Operations on a private nats-server: reservations (exclusive, shared,
//! fairness), leases and abandonment, cancellation, progress throttling.

use std::time::{Duration, Instant};

use repobus::bus::{Bus, SyncReport};
use repobus::events::PulpResult;
use repobus::operations::{
    CancelError, Finish, OperationRequest, OperationState, Operations, Running, WaitError, Waiting,
    ABANDONED_MESSAGE,
};
use repobus::Event;
use repobus_testkit::{connect, decode_stored, rid, server, stored, within};
use serde_json::json;

fn sync(repo: &str) -> OperationRequest {
    OperationRequest::sync(rid(repo), rid("yum_importer"), rid("yum_importer"))
        .lease(Duration::from_secs(2))
}

async fn open(bus: &Bus) -> Operations {
    within(10, "open", Operations::open(bus))
        .await
        .expect("operations bucket")
        .progress_interval(Duration::from_millis(200))
}

async fn request(ops: &Operations, r: OperationRequest) -> Waiting {
    within(10, "request", ops.request(r))
        .await
        .expect("request")
}

async fn granted(w: Waiting) -> Running {
    within(10, "grant", w.wait(None)).await.expect("granted")
}

/// Asserts that `w` is not granted within `wait`, and gives it back by
/// its id (a fresh `wait` call is not possible after a timeout, so the
/// check uses the registry).
async fn assert_waiting(ops: &Operations, id: &str) {
    tokio::time::sleep(Duration::from_millis(400)).await;
    let record = ops.get(id).await.expect("get").expect("record");
    assert_eq!(
        record.state,
        OperationState::Waiting,
        "{id} should still wait"
    );
}

/// Spawns the wait so that the registry can be checked meanwhile.
fn spawn_wait(w: Waiting) -> tokio::task::JoinHandle<Result<Running, WaitError>> {
    tokio::spawn(w.wait(Some(Duration::from_secs(15))))
}

fn finished_events(events: &[Event]) -> Vec<(String, PulpResult, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::RepoSyncFinished(f) => Some((
                f.repo_id.to_string(),
                f.outcome.result,
                f.outcome.error_message.clone(),
            )),
            _ => None,
        })
        .collect()
}

async fn events(bus: &Bus) -> Vec<Event> {
    stored(bus)
        .await
        .iter()
        .map(|m| decode_stored(&m.headers, &m.payload))
        .collect()
}

#[tokio::test]
async fn exclusive_claims_of_one_repo_run_one_after_the_other_and_other_repos_at_once() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = open(&bus).await;
    let a = granted(request(&ops, sync("f17")).await).await;
    let other = granted(request(&ops, sync("f18")).await).await;
    let b = request(&ops, sync("f17")).await;
    let b_id = b.id().to_owned();
    let b = spawn_wait(b);
    assert_waiting(&ops, &b_id).await;
    // The waiter renews its claim too: it is still waiting after the lease.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_waiting(&ops, &b_id).await;
    a.finish(Finish::Sync(SyncReport::default()))
        .await
        .expect("finish a");
    let b = within(10, "b granted", b).await.expect("join").expect("b");
    b.finish(Finish::Canceled).await.expect("finish b");
    other
        .finish(Finish::Sync(SyncReport::default()))
        .await
        .expect("finish other");
    let results: Vec<_> = finished_events(&events(&bus).await)
        .into_iter()
        .map(|(r, res, _)| (r, res))
        .collect();
    assert_eq!(
        results,
        [
            ("f17".into(), PulpResult::Success),
            ("f17".into(), PulpResult::Canceled),
            ("f18".into(), PulpResult::Success)
        ]
    );
}

#[tokio::test]
async fn shared_runs_together_exclusive_waits_and_a_waiting_writer_holds_back_later_readers() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = open(&bus).await;
    let shared = |repo: &str| sync(repo).shared("distributor:yum".parse().unwrap());
    let exclusive = |repo: &str| sync(repo).exclusive("distributor:yum".parse().unwrap());
    let reader1 = granted(request(&ops, shared("a")).await).await;
    let reader2 = granted(request(&ops, shared("b")).await).await;
    let writer = request(&ops, exclusive("c")).await;
    let writer_id = writer.id().to_owned();
    let writer = spawn_wait(writer);
    assert_waiting(&ops, &writer_id).await;
    let reader3 = request(&ops, shared("d")).await;
    let reader3_id = reader3.id().to_owned();
    let reader3 = spawn_wait(reader3);
    assert_waiting(&ops, &reader3_id).await;
    reader1.finish(Finish::Canceled).await.expect("finish");
    assert_waiting(&ops, &writer_id).await;
    reader2.finish(Finish::Canceled).await.expect("finish");
    let writer = within(10, "writer", writer)
        .await
        .expect("join")
        .expect("writer");
    assert_waiting(&ops, &reader3_id).await;
    writer.finish(Finish::Canceled).await.expect("finish");
    let reader3 = within(10, "reader3", reader3)
        .await
        .expect("join")
        .expect("reader3");
    reader3.finish(Finish::Canceled).await.expect("finish");
}

#[tokio::test]
async fn a_holder_that_stops_renewing_loses_its_reservation_and_its_operation_gets_one_error_event()
{
    let nats = server().await;
    let holder_bus = connect(&nats).await;
    let holder_ops = open(&holder_bus).await;
    let holder = granted(request(&holder_ops, sync("f17")).await).await;
    let holder_id = holder.id().to_owned();
    // Two other processes wait on the same repository.
    let bus = connect(&nats).await;
    let ops = open(&bus).await;
    let bus2 = connect(&nats).await;
    let ops2 = open(&bus2).await;
    let w1 = spawn_wait(request(&ops, sync("f17")).await);
    let w2 = spawn_wait(request(&ops2, sync("f17")).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The holder's process "dies": its connection goes, nothing finishes.
    let killed = Instant::now();
    std::mem::forget(holder);
    holder_bus.client().drain().await.expect("drain");
    let first = tokio::select! {
        r = w1 => r.expect("join").expect("w1"),
        r = w2 => r.expect("join").expect("w2"),
    };
    let waited = killed.elapsed();
    assert!(
        waited < Duration::from_secs(2) + Duration::from_millis(2500),
        "waiter started {waited:?} after the holder died (lease 2 s)"
    );
    first
        .finish(Finish::Sync(SyncReport::default()))
        .await
        .expect("finish");
    let record = ops.get(&holder_id).await.expect("get").expect("record");
    assert_eq!(record.state, OperationState::Finished);
    assert_eq!(record.result, Some(PulpResult::Error));
    let finished = finished_events(&events(&bus).await);
    let errors: Vec<_> = finished
        .iter()
        .filter(|f| f.1 == PulpResult::Error)
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "exactly one error finished event: {finished:?}"
    );
    let message = errors[0].2.clone().unwrap_or_default();
    assert!(message.starts_with(ABANDONED_MESSAGE), "{message}");
}

#[tokio::test]
async fn cancel_a_waiting_and_a_running_operation_and_refuse_finished_or_unknown_ones() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = open(&bus).await;
    let running = granted(request(&ops, sync("f17")).await).await;
    let token = running.cancellation();
    let waiting = request(&ops, sync("f17")).await;
    let waiting_id = waiting.id().to_owned();
    let waiting = spawn_wait(waiting);
    assert_waiting(&ops, &waiting_id).await;
    ops.cancel(&waiting_id).await.expect("cancel waiting");
    match within(10, "cancel", waiting).await.expect("join") {
        Err(WaitError::Canceled(id)) => assert_eq!(id, waiting_id),
        other => panic!("expected canceled, got {other:?}"),
    }
    let record = ops.get(&waiting_id).await.unwrap().unwrap();
    assert_eq!(record.state, OperationState::Finished);
    assert!(
        record.started.is_none(),
        "a canceled waiting operation never starts"
    );
    ops.cancel(running.id()).await.expect("cancel running");
    within(5, "token", token.cancelled()).await;
    let id = running.id().to_owned();
    running.finish(Finish::Canceled).await.expect("finish");
    assert!(matches!(
        ops.cancel(&id).await,
        Err(CancelError::Finished(_))
    ));
    assert!(matches!(
        ops.cancel("0000").await,
        Err(CancelError::Unknown(_))
    ));
    assert!(matches!(
        ops.cancel("../x y").await,
        Err(CancelError::Unknown(_))
    ));
    // One started, one finished (canceled) event: the waiting one never started.
    let all = events(&bus).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(finished_events(&all)[0].1, PulpResult::Canceled);
}

#[tokio::test]
async fn progress_is_throttled_and_the_last_report_is_kept() {
    use futures_util::StreamExt;
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = open(&bus).await;
    let running = granted(request(&ops, sync("f17")).await).await;
    let id = running.id().to_owned();
    // Every write of the record, seen live.
    let kv = bus.jetstream().get_key_value(ops.bucket()).await.unwrap();
    let mut watch = kv.watch(format!("op.{id}")).await.unwrap();
    let writes = tokio::spawn(async move {
        let mut progress_writes = 0;
        while let Some(Ok(entry)) = watch.next().await {
            let record: serde_json::Value = serde_json::from_slice(&entry.value).unwrap();
            if record["progress"].is_object() {
                progress_writes += 1;
            }
            if record["state"] == "finished" {
                break;
            }
        }
        progress_writes
    });
    let begun = Instant::now();
    for done in 1..=10_000u64 {
        running.progress(json!({"message": "Downloading", "total": 10_000, "done": done}));
        if done % 1000 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let elapsed = begun.elapsed();
    running
        .finish(Finish::Sync(SyncReport::default()))
        .await
        .expect("finish");
    let progress_writes = within(10, "watch", writes).await.unwrap();
    let record = ops.get(&id).await.unwrap().unwrap();
    assert_eq!(
        record.progress,
        Some(json!({"message": "Downloading", "total": 10_000, "done": 10_000}))
    );
    // One store per 200 ms interval at most, plus the last one before the
    // finish, plus the finishing write itself (which carries the report).
    let bound = (elapsed.as_millis() / 200) as usize + 3;
    assert!(
        (2..=bound).contains(&progress_writes),
        "{progress_writes} record writes with progress in {elapsed:?} (bound {bound})"
    );
    // The progress events: as many as the stores of the report, the last
    // one carrying the last report, before the finished event.
    let all = events(&bus).await;
    let progress: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::RepoSyncProgress(_)))
        .map(|(i, _)| i)
        .collect();
    assert!(
        (1..=bound).contains(&progress.len()),
        "{} progress events",
        progress.len()
    );
    let last = *progress.last().unwrap();
    match &all[last] {
        Event::RepoSyncProgress(p) => {
            assert_eq!(p.progress["done"], 10_000);
            assert_eq!(p.operation_id, id);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(all[last + 1], Event::RepoSyncFinished(_)),
        "{:?}",
        all[last + 1]
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_is_reserved() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = open(&bus).await;
    for lease in [Duration::ZERO, Duration::from_millis(1500)] {
        match ops.request(sync("f17").lease(lease)).await {
            Err(e) => assert!(e.to_string().contains("lease"), "{e}"),
            Ok(w) => panic!("lease {lease:?} accepted as {}", w.id()),
        }
    }
    assert!("repo:a b".parse::<repobus::operations::Resource>().is_err());
    assert!(ops.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_bucket_created_without_ttls_is_refused_with_the_reason() {
    let nats = server().await;
    let bus = connect(&nats).await;
    bus.jetstream()
        .create_key_value(async_nats::jetstream::kv::Config {
            bucket: format!("{}_OPERATIONS", bus.config().stream_name()),
            history: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let e = Operations::open(&bus).await.expect_err("refused");
    assert!(e.to_string().contains("#6920"), "{e}");
}

#[tokio::test]
async fn renewal_keeps_the_ttl_so_a_renewed_claim_still_lapses() {
    // A plain update would drop the TTL and the claim would never lapse:
    // hold a claim over several renewals, then stop renewing and see it go.
    let nats = server().await;
    let holder_bus = connect(&nats).await;
    let holder_ops = open(&holder_bus).await;
    let holder = granted(request(&holder_ops, sync("f17")).await).await;
    tokio::time::sleep(Duration::from_millis(3500)).await; // several renewals
    let bus = connect(&nats).await;
    let ops = open(&bus).await;
    let record = ops.get(holder.id()).await.unwrap().unwrap();
    assert_eq!(record.state, OperationState::Running, "renewed claim kept");
    std::mem::forget(holder);
    holder_bus.client().drain().await.expect("drain");
    let waiter = request(&ops, sync("f17")).await;
    let running = within(6, "claim lapses after renewals", waiter.wait(None))
        .await
        .expect("granted");
    running.finish(Finish::Canceled).await.unwrap();
}

#[tokio::test]
async fn operations_leave_no_consumers_behind_on_the_server() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = open(&bus).await;
    for _ in 0..40 {
        let running = granted(request(&ops, sync("f17")).await).await;
        running.finish(Finish::Canceled).await.expect("finish");
    }
    let mut stream = bus
        .jetstream()
        .get_stream(format!("KV_{}", ops.bucket()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let consumers = stream.info().await.unwrap().state.consumer_count;
        if consumers <= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{consumers} consumers left on the bucket after 40 operations"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
