//! `repobus run`, `repobus operations` and `repobus cancel` as separate
//! processes against a private nats-server: reservations never overlap
//! across processes, a SIGKILLed holder's operation is finished by a
//! waiter, cancellation, progress, exit mapping and bad input.

use std::time::{Duration, Instant};

use repobus::bus::Bus;
use repobus::events::PulpResult;
use repobus::operations::{OperationState, Operations, ABANDONED_MESSAGE};
use repobus::Event;
use repobus_testkit::*;

mod run_harness;
use run_harness::*;

async fn events(bus: &Bus) -> Vec<Event> {
    stored(bus)
        .await
        .iter()
        .map(|m| decode_stored(&m.headers, &m.payload))
        .collect()
}

/// `(kind, repo, result, error_message, traceback)` of each sync/publish event.
fn timeline(events: &[Event]) -> Vec<(String, String, Option<PulpResult>, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::RepoSyncStarted(s) => {
                Some(("started".into(), s.repo_id.to_string(), None, None))
            }
            Event::RepoPublishStarted(s) => {
                Some(("started".into(), s.repo_id.to_string(), None, None))
            }
            Event::RepoSyncFinished(f) => Some((
                "finished".into(),
                f.repo_id.to_string(),
                Some(f.outcome.result),
                f.outcome.error_message.clone(),
            )),
            Event::RepoPublishFinished(f) => Some((
                "finished".into(),
                f.repo_id.to_string(),
                Some(f.outcome.result),
                f.outcome.error_message.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn overlap(a: (u128, u128), b: (u128, u128)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

#[tokio::test]
async fn two_syncs_of_one_repo_never_overlap_and_syncs_of_different_repos_do() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let url = nats.url().to_string();
    let run = |repo: &str, tag: &str| {
        let script = recorded(&log, tag, "sleep 1");
        output(run_command(
            &url,
            &["run", "sync", repo, "--", "sh", "-c", &script],
        ))
    };
    let (a, b) = tokio::join!(run("f17", "a"), run("f17", "b"));
    assert_eq!((a.0, b.0), (0, 0), "{a:?} {b:?}");
    let same = intervals(&log);
    assert!(
        !overlap(same["a"], same["b"]),
        "same repo overlapped: {same:?}"
    );
    // From the events too: started, finished, started, finished.
    let kinds: Vec<String> = timeline(&events(&bus).await)
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(kinds, ["started", "finished", "started", "finished"]);
    let (c, d) = tokio::join!(run("f18", "c"), run("f19", "d"));
    assert_eq!((c.0, d.0), (0, 0), "{c:?} {d:?}");
    let all = intervals(&log);
    assert!(
        overlap(all["c"], all["d"]),
        "different repos did not overlap: {all:?}"
    );
}

#[tokio::test]
async fn shared_runs_with_shared_but_not_with_exclusive() {
    let nats = server().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let url = nats.url().to_string();
    let run = |repo: &str, tag: &str, mode: &str| {
        let script = recorded(&log, tag, "sleep 1");
        output(run_command(
            &url,
            &[
                "run",
                "publish",
                repo,
                "--distributor-id",
                "yum",
                mode,
                "distributor:yum",
                "--",
                "sh",
                "-c",
                &script,
            ],
        ))
    };
    let (a, b) = tokio::join!(run("r1", "a", "--shared"), run("r2", "b", "--shared"));
    assert_eq!((a.0, b.0), (0, 0), "{a:?} {b:?}");
    let (c, d) = tokio::join!(run("r3", "c", "--shared"), run("r4", "d", "--exclusive"));
    assert_eq!((c.0, d.0), (0, 0), "{c:?} {d:?}");
    let all = intervals(&log);
    assert!(
        overlap(all["a"], all["b"]),
        "shared did not overlap: {all:?}"
    );
    assert!(
        !overlap(all["c"], all["d"]),
        "shared and exclusive overlapped: {all:?}"
    );
}

#[tokio::test]
async fn a_waiting_exclusive_claim_holds_back_a_later_shared_one() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let url = nats.url().to_string();
    let spawn = |repo: &str, tag: &str, mode: &str, sleep: &str| {
        let script = recorded(&log, tag, &format!("sleep {sleep}"));
        let command = run_command(
            &url,
            &["run", "sync", repo, mode, "lock", "--", "sh", "-c", &script],
        );
        tokio::spawn(output(command))
    };
    let reader1 = spawn("a", "reader1", "--shared", "1.5");
    wait_for_state(&ops, OperationState::Running, 1).await;
    let writer = spawn("b", "writer", "--exclusive", "0.5");
    wait_for_state(&ops, OperationState::Waiting, 1).await;
    let reader2 = spawn("c", "reader2", "--shared", "0.5");
    for task in [reader1, writer, reader2] {
        let (code, _, stderr) = task.await.unwrap();
        assert_eq!(code, 0, "{stderr}");
    }
    let all = intervals(&log);
    assert!(
        all["writer"].0 >= all["reader1"].1,
        "writer ran with reader1: {all:?}"
    );
    assert!(
        all["reader2"].0 >= all["writer"].1,
        "reader2 overtook the waiting writer: {all:?}"
    );
}

/// An operation of the contention test: its tag and its claims
/// `(resource, exclusive)`.
type Op = (String, Vec<(String, bool)>);

/// A small deterministic generator (no dependency): xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test]
async fn randomized_contention_three_processes_at_a_time_never_overlap_conflicting_claims() {
    const WORKERS: usize = 3;
    const PER_WORKER: usize = 100;
    let nats = server().await;
    let bus = connect(&nats).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("contention seed {seed}");
    let mut rng = Rng(seed);
    // (tag, [(resource, exclusive)])
    let mut plans: Vec<Vec<Op>> = vec![Vec::new(); WORKERS];
    for (w, plan) in plans.iter_mut().enumerate() {
        for i in 0..PER_WORKER {
            let n = 1 + rng.below(3);
            let mut claims: Vec<(String, bool)> = Vec::new();
            for _ in 0..n {
                let r = format!("res:{}", rng.below(10));
                if !claims.iter().any(|(c, _)| c == &r) {
                    claims.push((r, rng.below(2) == 0));
                }
            }
            plan.push((format!("w{w}o{i}"), claims));
        }
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, plan) in plans.clone().into_iter().enumerate() {
        let url = nats.url().to_owned();
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for (tag, claims) in plan {
                // Each worker's repo is shared so only the random claims conflict.
                let repo = format!("c{w}");
                let mut args: Vec<String> = vec![
                    "run".into(),
                    "sync".into(),
                    repo.clone(),
                    "--shared".into(),
                    format!("repo:{repo}"),
                ];
                for (r, exclusive) in &claims {
                    args.push(if *exclusive {
                        "--exclusive".into()
                    } else {
                        "--shared".into()
                    });
                    args.push(r.clone());
                }
                args.extend([
                    "--".into(),
                    "sh".into(),
                    "-c".into(),
                    recorded(&log, &tag, "true"),
                ]);
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                let (code, _, stderr) = output(run_command(&url, &refs)).await;
                assert_eq!(code, 0, "{tag}: {stderr}");
            }
        }));
    }
    for task in tasks {
        within(120, "contention", task).await.unwrap();
    }
    let elapsed = started.elapsed();
    let all = intervals(&log);
    let ops: Vec<Op> = plans.into_iter().flatten().collect();
    assert_eq!(all.len(), ops.len());
    let mut checked = 0;
    for (i, (a, ca)) in ops.iter().enumerate() {
        for (b, cb) in &ops[i + 1..] {
            let conflict = ca
                .iter()
                .any(|(r, x)| cb.iter().any(|(s, y)| r == s && (*x || *y)));
            if conflict {
                checked += 1;
                assert!(
                    !overlap(all[a], all[b]),
                    "{a} {ca:?} overlapped {b} {cb:?} (seed {seed})"
                );
            }
        }
    }
    let line = timeline(&events(&bus).await);
    let started_events = line.iter().filter(|t| t.0 == "started").count();
    let finished_events = line.iter().filter(|t| t.0 == "finished").count();
    assert_eq!((started_events, finished_events), (ops.len(), ops.len()));
    eprintln!(
        "{} operations, {checked} conflicting pairs checked, {elapsed:?}",
        ops.len()
    );
}

#[tokio::test]
async fn a_sigkilled_holder_loses_its_reservation_within_the_lease_and_its_operation_ends_in_error()
{
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut holder = run_command(
        nats.url(),
        &["run", "sync", "f17", "--lease", "2s", "--", "sleep", "5"],
    )
    .spawn()
    .unwrap();
    let holder_record = wait_for_state(&ops, OperationState::Running, 1)
        .await
        .remove(0);
    let script = recorded(&log, "waiter", "true");
    let waiter = tokio::spawn(output(run_command(
        nats.url(),
        &[
            "run", "sync", "f17", "--lease", "2s", "--", "sh", "-c", &script,
        ],
    )));
    wait_for_state(&ops, OperationState::Waiting, 1).await;
    let killed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    holder.start_kill().unwrap(); // SIGKILL
    holder.wait().await.unwrap();
    let (code, _, stderr) = within(20, "waiter", waiter).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    let waited = Duration::from_nanos((intervals(&log)["waiter"].0 - killed) as u64);
    assert!(
        waited < Duration::from_millis(2000 + 2500),
        "the waiter started {waited:?} after the SIGKILL (lease 2 s)"
    );
    let line = timeline(&events(&bus).await);
    let results: Vec<_> = line
        .iter()
        .filter(|t| t.0 == "finished")
        .map(|t| t.2)
        .collect();
    assert_eq!(
        results,
        [Some(PulpResult::Error), Some(PulpResult::Success)],
        "{line:?}"
    );
    let message = line.iter().find_map(|t| t.3.clone()).unwrap();
    assert!(message.starts_with(ABANDONED_MESSAGE), "{message}");
    let record = ops.get(&holder_record.id).await.unwrap().unwrap();
    assert_eq!(record.result, Some(PulpResult::Error));
}

#[tokio::test]
async fn cancel_stops_a_running_command_and_a_waiting_one_never_starts() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("waiter-ran");
    let holder = tokio::spawn(output(run_command(
        nats.url(),
        &["run", "sync", "f17", "--", "sleep", "30"],
    )));
    let holder_id = wait_for_state(&ops, OperationState::Running, 1)
        .await
        .remove(0)
        .id;
    let touch = format!("touch {}", marker.display());
    let waiter = tokio::spawn(output(run_command(
        nats.url(),
        &["run", "sync", "f17", "--", "sh", "-c", &touch],
    )));
    let waiter_id = wait_for_state(&ops, OperationState::Waiting, 1)
        .await
        .remove(0)
        .id;
    // `repobus operations` lists both, with their states and resources.
    let (code, stdout, stderr) = output(run_command(nats.url(), &["operations"])).await;
    assert_eq!(code, 0, "{stderr}");
    let listed: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let state_of = |id: &str| {
        listed
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| (r["state"].clone(), r["exclusive"].clone()))
    };
    assert_eq!(
        state_of(&holder_id),
        Some((
            serde_json::json!("running"),
            serde_json::json!(["repo:f17"])
        ))
    );
    assert_eq!(
        state_of(&waiter_id),
        Some((
            serde_json::json!("waiting"),
            serde_json::json!(["repo:f17"])
        ))
    );

    let (code, stdout, stderr) = output(run_command(nats.url(), &["cancel", &waiter_id])).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&waiter_id));
    let (code, _, stderr) = within(10, "waiter", waiter).await.unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("canceled while waiting"), "{stderr}");

    let begun = Instant::now();
    let (code, _, stderr) = output(run_command(nats.url(), &["cancel", &holder_id])).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = within(10, "holder", holder).await.unwrap();
    assert_eq!(code, 128 + 15, "sleep got SIGTERM: {stderr}");
    assert!(begun.elapsed() < Duration::from_secs(5));
    assert!(!marker.exists(), "the canceled waiting command ran");

    let line = timeline(&events(&bus).await);
    assert_eq!(line.len(), 2, "{line:?}");
    assert_eq!(line[1].2, Some(PulpResult::Canceled));

    let (code, _, stderr) = output(run_command(nats.url(), &["cancel", &holder_id])).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("already finished"), "{stderr}");
    let (code, _, stderr) = output(run_command(nats.url(), &["cancel", "0123456789abcdef"])).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("no operation"), "{stderr}");
}

#[tokio::test]
async fn progress_is_throttled_output_passes_through_and_the_final_report_is_used() {
    use futures_util::StreamExt;
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let kv = bus.jetstream().get_key_value(ops.bucket()).await.unwrap();
    let mut watch = kv.watch("op.>").await.unwrap();
    let writes = tokio::spawn(async move {
        let mut with_progress = 0;
        while let Some(Ok(entry)) = watch.next().await {
            let record: serde_json::Value = serde_json::from_slice(&entry.value).unwrap();
            if record["progress"].is_object() {
                with_progress += 1;
            }
            if record["state"] == "finished" {
                return (with_progress, record);
            }
        }
        panic!("watch ended");
    });
    let script = r#"
        echo "to stdout"
        echo "to stderr" >&2
        i=0
        { while [ $i -lt 10000 ]; do i=$((i+1)); echo "{\"message\": \"Downloading\", \"done\": $i, \"total\": 10000}"; done
          echo 'not json'
          echo '{"final": {"added_count": 7, "summary": {"packages": 7}}}'
        } >&$REPOBUS_PROGRESS_FD
    "#;
    let begun = Instant::now();
    let (code, stdout, stderr) = output(run_command(
        nats.url(),
        &[
            "run",
            "sync",
            "f17",
            "--progress-interval",
            "200ms",
            "--",
            "bash",
            "-c",
            script,
        ],
    ))
    .await;
    let elapsed = begun.elapsed();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "to stdout\n", "stdout passes through untouched");
    assert!(stderr.contains("to stderr\n"), "{stderr}");
    assert!(stderr.contains("not JSON"), "{stderr}");
    let (with_progress, record) = within(10, "record", writes).await.unwrap();
    assert_eq!(
        record["progress"]["done"], 10000,
        "the last report is kept: {record}"
    );
    let bound = (elapsed.as_millis() / 200) as usize + 3;
    assert!(
        with_progress <= bound,
        "{with_progress} progress writes in {elapsed:?} (bound {bound})"
    );
    let all = events(&bus).await;
    let progress: Vec<&repobus::events::RepoSyncProgress> = all
        .iter()
        .filter_map(|e| match e {
            Event::RepoSyncProgress(p) => Some(p),
            _ => None,
        })
        .collect();
    assert!(
        (1..=bound).contains(&progress.len()),
        "{} progress events for 10,000 reports in {elapsed:?} (bound {bound})",
        progress.len()
    );
    assert_eq!(progress.last().unwrap().progress["done"], 10000);
    assert!(
        matches!(all.last(), Some(Event::RepoSyncFinished(_))),
        "the finished event comes after the last progress event"
    );
    let finished = all.into_iter().find_map(|e| match e {
        Event::RepoSyncFinished(f) => Some(f),
        _ => None,
    });
    let finished = finished.expect("finished event");
    assert_eq!(finished.outcome.result, PulpResult::Success);
    assert_eq!(finished.added_count, 7);
    assert_eq!(
        finished.outcome.report_summary,
        serde_json::json!({"packages": 7})
    );
}

#[tokio::test]
async fn a_failing_command_is_failed_with_its_last_stderr_line_and_repobus_exits_with_its_status() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let script = "echo 'Traceback: first' >&2; echo 'rsync: connection refused' >&2; exit 3";
    let (code, _, stderr) = output(run_command(
        nats.url(),
        &[
            "run",
            "publish",
            "f17",
            "--distributor-id",
            "yum",
            "--",
            "sh",
            "-c",
            script,
        ],
    ))
    .await;
    assert_eq!(code, 3, "{stderr}");
    let finished = events(&bus).await.into_iter().find_map(|e| match e {
        Event::RepoPublishFinished(f) => Some(f),
        _ => None,
    });
    let outcome = finished.expect("finished").outcome;
    assert_eq!(outcome.result, PulpResult::Failed);
    assert_eq!(
        outcome.error_message.as_deref(),
        Some("rsync: connection refused")
    );
    assert!(outcome
        .traceback
        .unwrap_or_default()
        .contains("Traceback: first"));
}

#[tokio::test]
async fn bad_input_exits_2_with_a_clear_message_and_reserves_nothing() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "sync",
                "f17",
                "--exclusive",
                "repo:a b",
                "--",
                "true",
            ],
            "not a resource name",
        ),
        (
            &["run", "sync", "f17", "--lease", "-5s", "--", "true"],
            "negative",
        ),
        (
            &["run", "sync", "f17", "--lease", "0", "--", "true"],
            "whole number of seconds",
        ),
        (
            &["run", "sync", "f17", "--lease", "25h", "--", "true"],
            "from 1 s to 86400 s",
        ),
        (&["run", "sync", "f17", "--"], "COMMAND"),
        (&["run", "sync", "f17", "--", ""], "empty"),
        (
            &["run", "sync", "f17", "--", "/nonexistent/sync-tool"],
            "command not found",
        ),
        (
            &["run", "sync", "bad/repo", "--", "true"],
            "not a resource ID",
        ),
        (&["run", "publish", "f17", "--", "true"], "--distributor-id"),
    ];
    for (args, expected) in cases {
        let (code, _, stderr) = output(run_command(nats.url(), args)).await;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let (code, stdout, stderr) = output(run_command(nats.url(), &["operations"])).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "", "nothing was reserved");
    assert!(events(&bus).await.is_empty());
}

#[tokio::test]
async fn sigterm_to_a_waiting_run_withdraws_its_claim_and_runs_nothing() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let ops = Operations::open(&bus).await.unwrap();
    let holder = tokio::spawn(output(run_command(
        nats.url(),
        &["run", "sync", "f17", "--", "sleep", "2"],
    )));
    wait_for_state(&ops, OperationState::Running, 1).await;
    let waiter = run_command(nats.url(), &["run", "sync", "f17", "--", "true"])
        .spawn()
        .unwrap();
    let waiter_id = wait_for_state(&ops, OperationState::Waiting, 1)
        .await
        .remove(0)
        .id;
    let pid = waiter.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = within(10, "waiter", waiter.wait_with_output())
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record = ops.get(&waiter_id).await.unwrap().unwrap();
    assert_eq!(record.state, OperationState::Finished);
    assert!(record.started.is_none());
    let (code, _, stderr) = within(10, "holder", holder).await.unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        timeline(&events(&bus).await).len(),
        2,
        "only the holder ran"
    );
}

#[tokio::test]
async fn operations_watch_prints_each_change_as_a_json_line() {
    use tokio::io::AsyncBufReadExt;
    let nats = server().await;
    let mut watch = run_command(nats.url(), &["operations", "--watch"])
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    // Let the watcher open the bucket before the operation runs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, _, stderr) = output(run_command(
        nats.url(),
        &["run", "sync", "f17", "--", "sleep", "1.5"],
    ))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let mut states = Vec::new();
    while !states.contains(&"finished".to_owned()) {
        let line = within(10, "watch line", lines.next_line())
            .await
            .unwrap()
            .expect("a line");
        let record: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(record["repo_id"], "f17");
        states.push(record["state"].as_str().unwrap().to_owned());
    }
    assert!(states.contains(&"running".to_owned()), "{states:?}");
    watch.start_kill().unwrap();
    let _ = watch.wait().await;
}
