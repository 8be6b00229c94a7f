//! Edge paths of `repobus run` as separate processes against a private
//! nats-server: `--wait-timeout`, cancel escalating to SIGKILL after
//! `--grace`, a holder that loses its lease while running (SIGSTOP), and
//! several waiters noticing one abandoned operation.

use std::path::Path;
use std::time::{Duration, Instant};

use repobus::bus::Bus;
use repobus::events::PulpResult;
use repobus::operations::{OperationState, Operations, ABANDONED_MESSAGE};
use repobus::Event;
use repobus_testkit::*;

mod run_harness;
use run_harness::*;

/// `(kind, result, error_message)` of each sync started/finished event.
async fn timeline(bus: &Bus) -> Vec<(&'static str, Option<PulpResult>, Option<String>)> {
    stored(bus)
        .await
        .iter()
        .map(|m| decode_stored(&m.headers, &m.payload))
        .filter_map(|e| match e {
            Event::RepoSyncStarted(_) => Some(("started", None, None)),
            Event::RepoSyncFinished(f) => Some((
                "finished",
                Some(f.outcome.result),
                f.outcome.error_message.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn finished_results(line: &[(&str, Option<PulpResult>, Option<String>)]) -> Vec<PulpResult> {
    line.iter()
        .filter(|t| t.0 == "finished")
        .filter_map(|t| t.1)
        .collect()
}

async fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kill(signal: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

#[tokio::test]
async fn a_wait_timeout_exits_1_runs_nothing_and_leaves_no_claim_behind() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("timed-out-ran");
    let holder = tokio::spawn(output(run_command(
        nats.url(),
        &["run", "sync", "f17", "--", "sleep", "3"],
    )));
    let holder_id = wait_for_state(&ops, OperationState::Running, 1)
        .await
        .remove(0)
        .id;

    let touch = format!("touch {}", marker.display());
    let begun = Instant::now();
    let (code, _, stderr) = output(run_command(
        nats.url(),
        &[
            "run",
            "sync",
            "f17",
            "--wait-timeout",
            "1s",
            "--",
            "sh",
            "-c",
            &touch,
        ],
    ))
    .await;
    let waited = begun.elapsed();
    assert_eq!(code, 1, "the documented exit code: {stderr}");
    assert!(
        stderr.contains("without getting its reservations")
            && stderr.contains("the command was not run"),
        "{stderr}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "gave up after {waited:?} (timeout 1 s)"
    );
    assert!(!marker.exists(), "the timed-out command ran");
    // Its record is finished, never started, while the holder still runs.
    let records = ops.list().await.unwrap();
    let timed_out = records
        .iter()
        .find(|r| r.id != holder_id)
        .expect("the timed-out operation's record");
    assert_eq!(timed_out.state, OperationState::Finished, "{timed_out:?}");
    assert!(timed_out.started.is_none(), "{timed_out:?}");
    assert_eq!(
        ops.get(&holder_id).await.unwrap().unwrap().state,
        OperationState::Running,
        "the holder was still running when the waiter gave up"
    );

    let (code, _, stderr) = within(20, "holder", holder).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    // No claim left behind: a third run gets the repository at once.
    let begun = Instant::now();
    let (code, _, stderr) = output(run_command(
        nats.url(),
        &[
            "run",
            "sync",
            "f17",
            "--wait-timeout",
            "3s",
            "--",
            "sh",
            "-c",
            &touch,
        ],
    ))
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        begun.elapsed() < Duration::from_secs(2),
        "the third run took {:?}",
        begun.elapsed()
    );
    assert!(marker.exists());
    let line = timeline(&bus).await;
    let kinds: Vec<&str> = line.iter().map(|t| t.0).collect();
    assert_eq!(
        kinds,
        ["started", "finished", "started", "finished"],
        "{line:?}"
    );
    assert_eq!(
        finished_results(&line),
        [PulpResult::Success, PulpResult::Success]
    );
}

#[tokio::test]
async fn cancel_escalates_to_sigkill_after_the_grace_period_for_a_command_ignoring_sigterm() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    // The trap is set before `ready` appears; `sleep` inherits the ignored
    // SIGTERM.
    let script = format!("trap '' TERM; touch {}; sleep 30", ready.display());
    let holder = tokio::spawn(output(run_command(
        nats.url(),
        &[
            "run", "sync", "f17", "--grace", "1s", "--", "bash", "-c", &script,
        ],
    )));
    let id = wait_for_state(&ops, OperationState::Running, 1)
        .await
        .remove(0)
        .id;
    wait_for_file(&ready).await;

    let begun = Instant::now();
    let (code, _, stderr) = output(run_command(nats.url(), &["cancel", &id])).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = within(15, "holder", holder).await.unwrap();
    let took = begun.elapsed();
    assert_eq!(code, 128 + 9, "the command got SIGKILL: {stderr}");
    assert!(stderr.contains("operation canceled"), "{stderr}");
    assert!(stderr.contains("outlived its grace period"), "{stderr}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "SIGKILL {took:?} after the cancel (grace 1 s)"
    );

    let line = timeline(&bus).await;
    assert_eq!(finished_results(&line), [PulpResult::Canceled], "{line:?}");
    let record = ops.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, OperationState::Finished);
    assert_eq!(record.result, Some(PulpResult::Canceled));
}

#[tokio::test]
async fn a_holder_that_loses_its_lease_while_stopped_stops_its_command_and_one_finished_event_is_stored(
) {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let holder = run_command(
        nats.url(),
        &["run", "sync", "f17", "--lease", "2s", "--", "sleep", "30"],
    )
    .spawn()
    .unwrap();
    let holder_pid = holder.id().unwrap();
    let holder_id = wait_for_state(&ops, OperationState::Running, 1)
        .await
        .remove(0)
        .id;
    let script = recorded(&log, "waiter", "true");
    let waiter = tokio::spawn(output(run_command(
        nats.url(),
        &[
            "run", "sync", "f17", "--lease", "2s", "--", "sh", "-c", &script,
        ],
    )));
    wait_for_state(&ops, OperationState::Waiting, 1).await;

    // Only `repobus run` stops (its command is in a process group of its
    // own): its renewals stop, its lease lapses, the waiter finishes the
    // abandoned operation and runs.
    kill("-STOP", holder_pid);
    let stopped = Instant::now();
    let waited = within(20, "waiter", waiter).await;
    let resumed_after = stopped.elapsed();
    kill("-CONT", holder_pid);
    let (code, _, stderr) = waited.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        // The last renewal was up to a third of the lease before the stop.
        resumed_after > Duration::from_millis(1200),
        "the waiter ran {resumed_after:?} after the SIGSTOP (lease 2 s)"
    );
    let record = ops.get(&holder_id).await.unwrap().unwrap();
    assert_eq!(record.state, OperationState::Finished);
    assert_eq!(record.result, Some(PulpResult::Error));

    // The resumed holder notices, stops its command, and its own finished
    // event is a duplicate of the abandonment.
    let begun = Instant::now();
    let (code, _, stderr) = child_output(holder).await;
    assert!(
        begun.elapsed() < Duration::from_secs(8),
        "the resumed holder took {:?}",
        begun.elapsed()
    );
    assert_ne!(code, 0, "{stderr}");
    assert_eq!(code, 128 + 15, "the command got SIGTERM: {stderr}");
    assert!(stderr.contains("lease was lost"), "{stderr}");
    assert!(
        stderr.contains("another process already published"),
        "{stderr}"
    );

    let line = timeline(&bus).await;
    assert_eq!(
        finished_results(&line),
        [PulpResult::Error, PulpResult::Success],
        "exactly one finished event for the holder: {line:?}"
    );
    let message = line
        .iter()
        .find(|t| t.1 == Some(PulpResult::Error))
        .and_then(|t| t.2.clone())
        .unwrap();
    assert!(message.starts_with(ABANDONED_MESSAGE), "{message}");
    // The registry still says error (the late canceled finish did not win).
    let record = ops.get(&holder_id).await.unwrap().unwrap();
    assert_eq!(record.result, Some(PulpResult::Error), "{record:?}");
}

#[tokio::test]
async fn three_waiters_noticing_one_abandoned_holder_store_one_error_and_then_run_one_at_a_time() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut holder = run_command(
        nats.url(),
        &["run", "sync", "f17", "--lease", "2s", "--", "sleep", "30"],
    )
    .spawn()
    .unwrap();
    let holder_id = wait_for_state(&ops, OperationState::Running, 1)
        .await
        .remove(0)
        .id;
    let tags = ["w1", "w2", "w3"];
    let waiters: Vec<_> = tags
        .iter()
        .map(|tag| {
            let script = recorded(&log, tag, "sleep 0.5");
            tokio::spawn(output(run_command(
                nats.url(),
                &[
                    "run", "sync", "f17", "--lease", "2s", "--", "sh", "-c", &script,
                ],
            )))
        })
        .collect();
    wait_for_state(&ops, OperationState::Waiting, 3).await;
    holder.start_kill().unwrap(); // SIGKILL
    holder.wait().await.unwrap();
    for waiter in waiters {
        let (code, _, stderr) = within(30, "waiter", waiter).await.unwrap();
        assert_eq!(code, 0, "{stderr}");
    }

    let all = intervals(&log);
    let mut spans: Vec<(u128, u128)> = tags.iter().map(|t| all[*t]).collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "waiters overlapped: {all:?}");
    }
    let line = timeline(&bus).await;
    let results = finished_results(&line);
    assert_eq!(
        results.iter().filter(|r| **r == PulpResult::Error).count(),
        1,
        "exactly one abandonment stored: {line:?}"
    );
    assert_eq!(
        results,
        [
            PulpResult::Error,
            PulpResult::Success,
            PulpResult::Success,
            PulpResult::Success
        ],
        "{line:?}"
    );
    assert_eq!(line.iter().filter(|t| t.0 == "started").count(), 4);
    let record = ops.get(&holder_id).await.unwrap().unwrap();
    assert_eq!(record.result, Some(PulpResult::Error));
}
