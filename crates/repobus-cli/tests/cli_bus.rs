//! The `repobus` binary's NATS commands (`publish`, `tail`, `search`,
//! `serve`) and `schedule`, run as child processes against a private
//! nats-server.
//!
//! Every test starts its own `nats-server -js` on a free port and passes its
//! URL with `--nats-url`; the children never see the caller's `REPOBUS_*`
//! variables. Every wait is bounded.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use repobus::bus::Bus;
use repobus::{Event, EventType};
use serde_json::{json, Map, Value};
use tokio::io::AsyncWriteExt;

use repobus_testkit::*;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_repobus");

fn command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(repobus_command(BIN));
    command.args(args).kill_on_drop(true);
    command
}

#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<std::process::Output> for Out {
    fn from(output: std::process::Output) -> Self {
        Out {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

impl Out {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect()
    }
}

/// Runs the binary to completion (at most `secs` seconds).
async fn run_with(args: &[&str], stdin: &[u8], secs: u64) -> Out {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run repobus");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
        drop(input);
    });
    let output = within(
        secs,
        &format!("repobus {}", args.join(" ")),
        child.wait_with_output(),
    )
    .await
    .expect("wait for repobus");
    let _ = writer.await;
    Out::from(output)
}

async fn run(args: &[&str]) -> Out {
    run_with(args, b"", 60).await
}

/// Runs `repobus --nats-url URL <args>`.
async fn run_on(nats: &Nats, args: &[&str]) -> Out {
    let url = nats.url();
    let mut all = vec!["--nats-url", url.as_str()];
    all.extend_from_slice(args);
    run(&all).await
}

/// Runs `repobus --nats-url URL <args>` and expects exit 0.
async fn ok_on(nats: &Nats, args: &[&str]) -> Out {
    let out = run_on(nats, args).await;
    assert_eq!(out.code, 0, "repobus {args:?} failed: {out:?}");
    out
}

fn copr(event_type: EventType, build: u64) -> Value {
    let mut body = event_type.examples()[0].clone();
    body["build"] = json!(build);
    body
}

/// A stored event as the test published it.
#[derive(Debug, Clone)]
struct Published {
    event: Event,
    id: String,
    subject: String,
}

/// Publishes `(topic, body)` pairs with the library, in order.
async fn publish_all(bus: &Bus, items: &[(&str, Value)]) -> Vec<Published> {
    let publisher = bus.publisher();
    let mut out = Vec::new();
    for (topic, body) in items {
        let event = Event::decode(topic, body.to_string().as_bytes()).unwrap();
        let ack = within(30, "publish", publisher.publish(&event))
            .await
            .unwrap();
        out.push(Published {
            event,
            id: ack.event_id,
            subject: ack.subject,
        });
    }
    out
}

/// Two batches of events with an instant between them: the first batch is
/// before `mid`, the second after.
struct Fixture {
    before: Vec<Published>,
    after: Vec<Published>,
    mid: String,
}

impl Fixture {
    fn all(&self) -> Vec<Published> {
        self.before.iter().chain(&self.after).cloned().collect()
    }
}

async fn fixture(bus: &Bus) -> Fixture {
    let before = publish_all(
        bus,
        &[
            (
                "repo-sync-finished",
                sync_finished_body("repo-a", "success", 3),
            ),
            (
                "repo-sync-finished",
                sync_finished_body("repo-b", "failed", 0),
            ),
            ("repo-sync-started", json!({"repo_id": "repo-a"})),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mid = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = publish_all(
        bus,
        &[
            (
                "repo-sync-finished",
                sync_finished_body("repo-c", "success", 7),
            ),
            (
                "build-chroot-ended",
                EventType::BuildChrootEnded.examples()[0].clone(),
            ),
            (
                "build-chroot-started",
                EventType::BuildChrootStarted.examples()[0].clone(),
            ),
            (
                "repo-publish-finished",
                EventType::RepoPublishFinished.examples()[0].clone(),
            ),
        ],
    )
    .await;
    Fixture { before, after, mid }
}

fn ids_of(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            l["event_id"]
                .as_str()
                .unwrap_or_else(|| panic!("no id: {l}"))
                .to_owned()
        })
        .collect()
}

fn published_ids(events: &[Published]) -> Vec<String> {
    events.iter().map(|p| p.id.clone()).collect()
}

fn strs<'a>(lines: &'a [Value], key: &str) -> Vec<&'a str> {
    lines
        .iter()
        .map(|l| l[key].as_str().unwrap_or_else(|| panic!("no {key}: {l}")))
        .collect()
}

// ---------------------------------------------------------------------------
// 1. publish one body
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_one_body_prints_the_ack_and_an_id_is_stored_once() {
    let nats = server().await;
    let url = nats.url();
    let body = br#"{"repo_id": "pulp-f17"}"#;
    let out = run_with(
        &["--nats-url", &url, "publish", "repo-sync-started", "-"],
        body,
        60,
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    let lines = out.json_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["event_id", "subject", "stream", "seq"]);
    assert_eq!(lines[0]["subject"], "repobus.repo.sync.started.pulp-f17");
    assert_eq!(lines[0]["stream"], "REPOBUS");
    assert_eq!(lines[0]["seq"], 1);

    let args = [
        "--nats-url",
        url.as_str(),
        "publish",
        "repo-sync-started",
        "-",
        "--id",
        "order-42",
    ];
    let first = run_with(&args, body, 60).await;
    let second = run_with(&args, body, 60).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(second.code, 0, "{second:?}");
    let (first, second) = (&first.json_lines()[0], &second.json_lines()[0]);
    assert_eq!(first["event_id"], "order-42");
    assert_eq!(first["seq"], 2);
    assert!(first.get("duplicate").is_none(), "{first}");
    assert_eq!(second["seq"], first["seq"]);
    assert_eq!(second["duplicate"], true, "{second}");

    // A body file and a wire topic work too.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, copr(EventType::BuildChrootEnded, 5).to_string()).unwrap();
    let out = run_on(
        &nats,
        &[
            "publish",
            "org.fedoraproject.prod.copr.build.end",
            file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json_lines()[0]["seq"], 3);

    let bus = connect_default(&nats).await;
    let messages = stored(&bus).await;
    assert_eq!(messages.len(), 3);
    assert_eq!(header(&messages[1].headers, "ce-id"), "order-42");
    assert_eq!(
        header(&messages[2].headers, "ce-type"),
        "build-chroot-ended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_errors_exit_1_with_a_message_and_usage_errors_exit_2() {
    let nats = server().await;
    let url = nats.url();

    // A bad body names the field; nothing is stored.
    let out = run_with(
        &["--nats-url", &url, "publish", "repo-sync-started", "-"],
        br#"{"repo_id": "pulp f17"}"#,
        60,
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(out.stderr.contains("$.repo_id"), "{out:?}");
    let out = run_with(
        &["--nats-url", &url, "publish", "repo-sync-started", "-"],
        b"{not json",
        60,
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("malformed JSON"), "{out:?}");
    let out = run_with(
        &["--nats-url", &url, "publish", "repo-sync-exploded", "-"],
        br#"{"repo_id": "x"}"#,
        60,
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("repo-sync-exploded"), "{out:?}");
    let out = run_with(
        &[
            "--nats-url",
            &url,
            "publish",
            "repo-sync-started",
            "-",
            "--id",
            "has space",
        ],
        br#"{"repo_id": "x"}"#,
        60,
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("has space"), "{out:?}");

    // An unreachable server: exit 1 naming the URL.
    let closed = format!("nats://127.0.0.1:{}", closed_port());
    let out = run_with(
        &["--nats-url", &closed, "publish", "repo-sync-started", "-"],
        br#"{"repo_id": "pulp-f17"}"#,
        60,
    )
    .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains(&closed), "{out:?}");
    assert!(out.stdout.is_empty());

    // Missing type: usage, exit 2.
    let out = run_with(&["--nats-url", &url, "publish"], b"", 60).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("Usage"), "{out:?}");
    let out = run_with(&["--nats-url", &url, "publish", "--id", "x"], b"", 60).await;
    assert_eq!(out.code, 2, "{out:?}");

    let bus = connect_default(&nats).await;
    assert!(stored(&bus).await.is_empty(), "no error stored anything");
}

// ---------------------------------------------------------------------------
// 2. publish --jsonl
// ---------------------------------------------------------------------------

/// Line `i` of the big file: a mix of type IDs and wire topics, each with a
/// key (`repo_id` or build ID) unique to the line.
fn jsonl_line(i: usize) -> (String, Value) {
    let repo = format!("line-{i:03}");
    let build = 100_000 + i as u64;
    match i % 6 {
        0 => ("repo-sync-started".into(), json!({"repo_id": repo})),
        1 => (
            "repo.sync.finish".into(),
            sync_finished_body(&repo, "success", i as u64),
        ),
        2 => (
            "repo.publish.start".into(),
            json!({"repo_id": repo, "distributor_id": "yum_distributor"}),
        ),
        3 => (
            "copr.build.end".into(),
            copr(EventType::BuildChrootEnded, build),
        ),
        4 => (
            "org.fedoraproject.prod.copr.build.start".into(),
            json!({"msg": copr(EventType::BuildChrootStarted, build)}),
        ),
        _ => {
            let mut body = EventType::RepoPublishFinished.examples()[0].clone();
            body["repo_id"] = json!(repo);
            ("repo-publish-finished".into(), body)
        }
    }
}

fn line_key(i: usize) -> String {
    match i % 6 {
        3 | 4 => (100_000 + i as u64).to_string(),
        _ => format!("line-{i:03}"),
    }
}

fn event_key(event: &Event) -> String {
    match (event.repo_id(), event.build_chroot()) {
        (Some(repo), _) => repo.to_string(),
        (None, Some(build)) => build.build.to_string(),
        _ => panic!("no key"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_jsonl_survives_a_server_kill_and_restart() {
    // Enough lines that the kill lands mid-file although up to 256 are in
    // flight at once.
    const LINES: usize = 5_000;
    let mut nats = server().await;
    let bus = connect_default(&nats).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let text: String = (0..LINES)
        .map(|i| {
            let (topic, body) = jsonl_line(i);
            format!("{}\n", json!({"topic": topic, "body": body}))
        })
        .collect();
    std::fs::write(&file, text).unwrap();

    let url = nats.url();
    let child = command(&[
        "--nats-url",
        &url,
        "publish",
        "--jsonl",
        file.to_str().unwrap(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run repobus");

    // Kill the server once some lines are stored, restart it 0.5 s later.
    let deadline = Instant::now() + Duration::from_secs(30);
    let at_kill = loop {
        let n = tokio::time::timeout(Duration::from_secs(2), try_stream_len(&bus))
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
        if n >= 20 {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} lines stored after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    nats.kill();
    assert!(
        (at_kill as usize) < LINES,
        "the whole file was stored before the kill; the test proves nothing"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    within(30, "restart", nats.restart())
        .await
        .expect("restart nats-server");

    let output = within(120, "publish --jsonl", child.wait_with_output())
        .await
        .unwrap();
    let out = Out::from(output);
    assert_eq!(out.code, 0, "{out:?}");
    let lines = out.json_lines();
    assert_eq!(lines.len(), 1, "one count line: {out:?}");
    let count = &lines[0];
    assert_eq!(count["failed"], 0, "{count}");
    let published = count["published"].as_u64().unwrap();
    let duplicates = count["duplicates"].as_u64().unwrap();
    assert_eq!(published + duplicates, LINES as u64, "{count}");

    let messages = stored(&bus).await;
    assert_eq!(messages.len(), LINES, "exactly one message per line");
    let mut ids = ce_ids(&messages);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), LINES, "distinct ce-ids");
    let keys: Vec<String> = messages
        .iter()
        .map(|m| event_key(&decode_stored(&m.headers, &m.payload)))
        .collect();
    // File order, except that a line lost with the connection is sent
    // again after the lines that were in flight behind it: it moves by at
    // most the window (256).
    let position: std::collections::HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(at, key)| (key.as_str(), at))
        .collect();
    let line_of: std::collections::HashMap<String, usize> =
        (0..LINES).map(|i| (line_key(i), i)).collect();
    for i in 0..LINES {
        let at = position[line_key(i).as_str()];
        assert!(
            at.abs_diff(i) <= 256,
            "line {} stored at position {at}: out of file order by more than the window",
            i + 1
        );
    }
    let in_order = keys
        .iter()
        .zip((0..LINES).map(line_key))
        .filter(|(k, e)| **k == *e)
        .count();
    assert!(in_order > LINES / 2, "{in_order} of {LINES} in place");
    for (message, key) in messages.iter().zip(&keys) {
        let i = line_of[key.as_str()];
        let (topic, _) = jsonl_line(i);
        let want = repobus::events::wire::resolve_topic(&topic)
            .unwrap()
            .event_type();
        assert_eq!(
            header(&message.headers, "ce-type"),
            want.as_str(),
            "line {}",
            i + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_jsonl_reports_bad_lines_and_publishes_the_good_ones() {
    let nats = server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.jsonl");
    let lines = [
        json!({"topic": "repo.sync.start", "body": {"repo_id": "good-1"}}).to_string(),
        "{not json".to_owned(),
        json!({"topic": "repo-sync-started", "body": {"repo_id": "good-3"}}).to_string(),
        json!({"topic": "repo-sync-started", "body": {"repo_id": "good-4"}}).to_string(),
        json!({"topic": "repo-publish-started", "body": {"repo_id": "bad-5", "distributor_id": "a*b"}})
            .to_string(),
        json!({"topic": "repo-sync-started", "body": {"repo_id": "good-6"}}).to_string(),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = run_on(&nats, &["publish", "--jsonl", file.to_str().unwrap()]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.json_lines(),
        [json!({"published": 4, "duplicates": 0, "failed": 2})]
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("line "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", out.stderr);
    assert!(errors[0].starts_with("line 2: "), "{errors:?}");
    assert!(errors[0].contains("malformed JSON"), "{errors:?}");
    assert!(errors[1].starts_with("line 5: "), "{errors:?}");
    assert!(errors[1].contains("$.distributor_id"), "{errors:?}");

    let bus = connect_default(&nats).await;
    let keys: Vec<String> = stored(&bus)
        .await
        .iter()
        .map(|m| event_key(&decode_stored(&m.headers, &m.payload)))
        .collect();
    assert_eq!(keys, ["good-1", "good-3", "good-4", "good-6"]);

    // A missing file: exit 1 naming it.
    let missing = dir.path().join("missing.jsonl");
    let out = run_on(&nats, &["publish", "--jsonl", missing.to_str().unwrap()]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("missing.jsonl"), "{out:?}");
}

// ---------------------------------------------------------------------------
// 3. tail
// ---------------------------------------------------------------------------

/// `repobus tail --all --no-follow <args>` (exit 0): its JSON lines.
async fn tail_all_lines(nats: &Nats, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["tail", "--all", "--no-follow"];
    all.extend_from_slice(args);
    ok_on(nats, &all).await.json_lines()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_all_no_follow_prints_every_event_and_exits() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let fixture = fixture(&bus).await;
    let all = fixture.all();

    let lines = tail_all_lines(&nats, &[]).await;
    assert_eq!(ids_of(&lines), published_ids(&all));
    for (line, published) in lines.iter().zip(&all) {
        // Every accessor, then the envelope: event_id, time, source, subject, seq.
        let mut expected: Map<String, Value> = published.event.describe().to_map();
        expected.insert("event_id".into(), published.id.clone().into());
        let mut line = line.as_object().unwrap().clone();
        let time = line.remove("time").expect("time");
        let time = DateTime::parse_from_rfc3339(time.as_str().unwrap()).expect("RFC 3339 time");
        assert!(Utc::now().signed_duration_since(time).num_minutes() < 10);
        let source = line.remove("source").expect("source");
        assert!(
            source.as_str().is_some_and(|s| s.starts_with("urn:")),
            "{source}"
        );
        expected.insert("subject".into(), published.subject.clone().into());
        let seq = line.remove("seq").expect("seq");
        assert!(seq.as_u64().is_some_and(|s| s >= 1), "{seq}");
        assert_eq!(line, expected);
    }

    // --count 2 (following) exits after two events.
    let out = ok_on(&nats, &["tail", "--all", "--count", "2"]).await;
    assert_eq!(ids_of(&out.json_lines()), published_ids(&all[..2]));

    // --format text: one summary line per event.
    let text = ok_on(&nats, &["tail", "--all", "--no-follow", "--format", "text"]).await;
    let expected: Vec<String> = lines
        .iter()
        .zip(&all)
        .map(|(line, p)| format!("{} {}", line["time"].as_str().unwrap(), p.event))
        .collect();
    assert_eq!(text.lines(), expected);

    // --subject filters on the server.
    let lines = tail_all_lines(&nats, &["--subject", "repobus.build.>"]).await;
    assert_eq!(
        strs(&lines, "type"),
        ["build-chroot-ended", "build-chroot-started"]
    );
    let lines = tail_all_lines(&nats, &["--subject", "repobus.repo.sync.*.repo-a"]).await;
    assert_eq!(
        strs(&lines, "type"),
        ["repo-sync-finished", "repo-sync-started"]
    );

    // Criteria flags filter.
    let lines = tail_all_lines(&nats, &["--str-eq", "result=failed"]).await;
    assert_eq!(strs(&lines, "repo_id"), ["repo-b"]);
    let lines = tail_all_lines(
        &nats,
        &[
            "--str-eq",
            "type=repo-sync-finished",
            "--gt",
            "added_count=0",
        ],
    )
    .await;
    assert_eq!(strs(&lines, "repo_id"), ["repo-a", "repo-c"]);

    // --since starts at that time (every event here is recent).
    let out = ok_on(&nats, &["tail", "--since", "PT1H", "--no-follow"]).await;
    assert_eq!(ids_of(&out.json_lines()), published_ids(&all));
    let out = ok_on(
        &nats,
        &[
            "tail",
            "--since",
            "PT1H",
            "--no-follow",
            "--str-eq",
            "result=failed",
        ],
    )
    .await;
    assert_eq!(strs(&out.json_lines(), "repo_id"), ["repo-b"]);

    // Without --all, --no-follow on a stream with nothing new exits at once.
    let out = ok_on(&nats, &["tail", "--no-follow"]).await;
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_after_starts_at_the_given_instant() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let fixture = fixture(&bus).await;
    // The stream itself agrees: the first event after `mid` is the first of
    // the second batch.
    let mid = repobus::time::parse_datetime(&fixture.mid).unwrap();
    let messages = stored(&bus).await;
    let first_after = messages
        .iter()
        .position(|m| {
            let t = m.time.unix_timestamp_nanos();
            t >= i128::from(mid.timestamp_nanos_opt().unwrap())
        })
        .unwrap();
    assert_eq!(first_after, fixture.before.len());

    let out = ok_on(&nats, &["tail", "--after", &fixture.mid, "--no-follow"]).await;
    assert_eq!(
        ids_of(&out.json_lines()),
        published_ids(&fixture.after),
        "tail --after prints every event from that instant on"
    );
    let out = ok_on(&nats, &["tail", "--after", &fixture.mid, "--count", "1"]).await;
    assert_eq!(
        ids_of(&out.json_lines()),
        published_ids(&fixture.after[..1])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_durable_resumes_where_it_stopped() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let all = fixture(&bus).await.all();
    assert_eq!(all.len(), 7);

    let first = ok_on(
        &nats,
        &["tail", "--all", "--durable", "resume-me", "--count", "3"],
    )
    .await;
    assert_eq!(ids_of(&first.json_lines()), published_ids(&all[..3]));
    let second = ok_on(&nats, &["tail", "--durable", "resume-me", "--no-follow"]).await;
    assert_eq!(
        ids_of(&second.json_lines()),
        published_ids(&all[3..]),
        "the second tail prints exactly the remaining events (none lost, none repeated)"
    );
    let third = ok_on(&nats, &["tail", "--durable", "resume-me", "--no-follow"]).await;
    assert!(third.stdout.is_empty(), "{third:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_durable_acknowledges_every_printed_event_before_exiting() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let all = fixture(&bus).await.all();

    let first = ok_on(
        &nats,
        &["tail", "--all", "--durable", "acked", "--count", "3"],
    )
    .await;
    assert_eq!(ids_of(&first.json_lines()), published_ids(&all[..3]));
    // The server may take a moment to process an ack that was sent: poll.
    let stream = within(
        10,
        "get stream",
        bus.jetstream().get_stream(bus.config().stream_name()),
    )
    .await
    .unwrap();
    let mut consumer = within(
        10,
        "get consumer",
        stream.get_consumer::<async_nats::jetstream::consumer::pull::Config>("acked"),
    )
    .await
    .expect("the durable consumer exists");
    let deadline = Instant::now() + Duration::from_secs(3);
    let floor = loop {
        let info = within(10, "consumer info", consumer.info()).await.unwrap();
        let floor = info.ack_floor.stream_sequence;
        if floor >= 3 || Instant::now() > deadline {
            break floor;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        floor, 3,
        "the three printed events are acknowledged before tail exits (ack floor {floor})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_and_search_criteria_errors_exit_1_before_connecting() {
    let closed = format!("nats://127.0.0.1:{}", closed_port());
    let bad: [(&[&str], &[&str]); 8] = [
        (&["--filters", "{"], &["--filters", "not valid JSON"]),
        (&["--filters", r#"{"a": {"$foo": 1}}"#], &["$foo"]),
        (&["--match", "f=("], &["--match", "does not compile"]),
        (&["--sort", "a,sideways"], &["--sort", "sideways"]),
        (&["--after", "2012-13-01"], &["--after", "month 13"]),
        (&["--before", "yesterday"], &["--before", "yesterday"]),
        (&["--since", "P"], &["--since"]),
        (&["--fields", ""], &["--fields"]),
    ];
    for (args, needles) in bad {
        let mut all = vec!["--nats-url", closed.as_str(), "search"];
        all.extend_from_slice(args);
        let started = Instant::now();
        let out = run(&all).await;
        assert_eq!(out.code, 1, "search {args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(
            !out.stderr.contains("cannot connect"),
            "validated after connecting: {out:?}"
        );
        for needle in needles {
            assert!(
                out.stderr.contains(needle),
                "search {args:?}: {}",
                out.stderr
            );
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // tail shares the criteria flags (not --sort or --fields).
    for (args, needle) in [
        (["--match", "f=("], "does not compile"),
        (["--after", "2012-13-01"], "month 13"),
        (["--filters", "{"], "not valid JSON"),
    ] {
        let mut all = vec!["--nats-url", closed.as_str(), "tail", "--no-follow"];
        all.extend_from_slice(&args);
        let out = run(&all).await;
        assert_eq!(out.code, 1, "tail {args:?}: {out:?}");
        assert!(out.stderr.contains(needle), "tail {args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("cannot connect"), "{out:?}");
    }
    // With valid criteria the unreachable URL is what fails, and it is named.
    let out = run(&["--nats-url", &closed, "search", "--str-eq", "result=failed"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains(&closed), "{out:?}");
}

// ---------------------------------------------------------------------------
// 4. search
// ---------------------------------------------------------------------------

async fn search_lines(nats: &Nats, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    ok_on(nats, &all).await.json_lines()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_applies_pulp_criteria() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let fixture = fixture(&bus).await;
    let all = fixture.all();

    let everything = search_lines(&nats, &[]).await;
    assert_eq!(ids_of(&everything), published_ids(&all));
    for line in &everything {
        for key in [
            "type", "status", "summary", "severity", "event_id", "time", "source", "subject", "seq",
        ] {
            assert!(line.get(key).is_some(), "{key} missing: {line}");
        }
    }

    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--str-eq", "result=failed"], vec!["repo-b"]),
        (
            vec!["--match", "repo_id=^repo-[ab]$"],
            vec!["repo-a", "repo-b", "repo-a"],
        ),
        (
            vec![
                "--in",
                "result=failed,success",
                "--str-eq",
                "type=repo-sync-finished",
            ],
            vec!["repo-a", "repo-b", "repo-c"],
        ),
        (vec!["--gt", "added_count=2"], vec!["repo-a", "repo-c"]),
        (
            vec!["--gte", "added_count=0", "--lt", "added_count=7"],
            vec!["repo-a", "repo-b"],
        ),
        (
            vec![
                "--not",
                "repo_id=^repo-",
                "--str-eq",
                "type=repo-publish-finished",
            ],
            vec!["pulp-f16"],
        ),
        (
            vec![
                "--gte",
                "added_count=0",
                "--sort",
                "added_count",
                "--skip",
                "1",
                "--limit",
                "2",
            ],
            vec!["repo-a", "repo-c"],
        ),
        (
            vec!["--match", "repo_id=^repo-", "--limit", "2"],
            vec!["repo-a", "repo-b"],
        ),
        // --filters overrides the other filter flags.
        (
            vec![
                "--filters",
                r#"{"result": "failed"}"#,
                "--str-eq",
                "result=success",
            ],
            vec!["repo-b"],
        ),
        // The body's own timestamps compare as instants.
        (
            vec![
                "--str-eq",
                "repo_id=repo-c",
                "--gt",
                "started=2012-07-06T15:00Z",
            ],
            vec!["repo-c"],
        ),
        (
            vec![
                "--str-eq",
                "repo_id=repo-c",
                "--lt",
                "started=2012-07-06T15:00Z",
            ],
            vec![],
        ),
    ];
    for (args, want) in &cases {
        let lines = search_lines(&nats, args).await;
        let got: Vec<&str> = lines
            .iter()
            .map(|l| l["repo_id"].as_str().unwrap_or("-"))
            .collect();
        assert_eq!(&got, want, "search {args:?}");
    }

    // Two sort keys, in order, and field selection.
    let lines = search_lines(
        &nats,
        &[
            "--match",
            "repo_id=^repo-",
            "--sort",
            "type",
            "--sort",
            "repo_id,descending",
            "--fields",
            "type,repo_id",
        ],
    )
    .await;
    assert_eq!(
        lines,
        [
            json!({"type": "repo-sync-finished", "repo_id": "repo-c"}),
            json!({"type": "repo-sync-finished", "repo_id": "repo-b"}),
            json!({"type": "repo-sync-finished", "repo_id": "repo-a"}),
            json!({"type": "repo-sync-started", "repo_id": "repo-a"}),
        ]
    );
    let lines = search_lines(
        &nats,
        &[
            "--str-eq",
            "project_owner=@python",
            "--fields",
            "build_id,chroot",
        ],
    )
    .await;
    assert_eq!(
        lines,
        [json!({"build_id": 945012, "chroot": "fedora-rawhide-x86_64"})]
    );

    // Table format.
    let out = ok_on(
        &nats,
        &[
            "search",
            "--str-eq",
            "type=repo-sync-finished",
            "--sort",
            "repo_id",
            "--fields",
            "repo_id,result,added_count",
            "--format",
            "table",
        ],
    )
    .await;
    assert_eq!(
        out.lines(),
        [
            "repo_id  result   added_count",
            "repo-a   success  3",
            "repo-b   failed   0",
            "repo-c   success  7",
        ]
    );
    let out = ok_on(
        &nats,
        &["search", "--format", "table", "--str-eq", "result=failed"],
    )
    .await;
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["time", "type", "status", "summary"]);
    assert!(lines[1].contains("repo-sync-finished"), "{out:?}");
    assert!(lines[1].contains("failed"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_time_window_is_on_the_event_time() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let fixture = fixture(&bus).await;
    let all = fixture.all();
    // The time window is on `time`, the event's ce-time.
    let lines = search_lines(&nats, &["--after", &fixture.mid]).await;
    assert_eq!(ids_of(&lines), published_ids(&fixture.after));
    let lines = search_lines(&nats, &["--before", &fixture.mid]).await;
    assert_eq!(ids_of(&lines), published_ids(&fixture.before));
    let lines = search_lines(&nats, &["--since", "PT1H"]).await;
    assert_eq!(ids_of(&lines), published_ids(&all));
    let lines = search_lines(&nats, &["--since", "PT1H", "--after", &fixture.mid]).await;
    assert_eq!(ids_of(&lines), published_ids(&fixture.after));
    assert!(search_lines(&nats, &["--after", "2100-01-01"])
        .await
        .is_empty());
    assert!(search_lines(&nats, &["--before", "2000-01-01T00:00Z"])
        .await
        .is_empty());

    // Without push-down the same window is applied client-side.
    let lines = search_lines(&nats, &["--after", &fixture.mid, "--no-push-down"]).await;
    assert_eq!(ids_of(&lines), published_ids(&fixture.after));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_with_and_without_push_down_agree() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let fixture = fixture(&bus).await;
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["--str-eq", "type=repo-sync-finished"],
        vec![
            "--str-eq",
            "type=repo-sync-finished",
            "--str-eq",
            "repo_id=repo-a",
        ],
        vec!["--str-eq", "repo_id=repo-a"],
        vec!["--str-eq", "project_owner=kbaig"],
        vec![
            "--str-eq",
            "type=build-chroot-ended",
            "--str-eq",
            "chroot=fedora-29-x86_64",
        ],
        vec!["--str-eq", "type=no-such-type"],
        vec![
            "--filters",
            r#"{"$or": [{"repo_id": "repo-a"}, {"repo_id": "repo-c"}]}"#,
        ],
        vec!["--str-eq", "type=repo-sync-finished", "--limit", "1"],
        vec![
            "--str-eq",
            "type=repo-sync-finished",
            "--sort",
            "added_count,descending",
            "--limit",
            "2",
        ],
    ];
    let mut nonempty = 0;
    for args in &cases {
        let pushed = search_lines(&nats, args).await;
        let mut full_args = args.clone();
        full_args.push("--no-push-down");
        let full = search_lines(&nats, &full_args).await;
        assert_eq!(ids_of(&pushed), ids_of(&full), "search {args:?}");
        assert_eq!(pushed, full, "search {args:?}");
        if !pushed.is_empty() {
            nonempty += 1;
        }
    }
    assert!(nonempty >= 8, "the cases find something");
    let lines = search_lines(
        &nats,
        &[
            "--str-eq",
            "type=repo-sync-finished",
            "--str-eq",
            "repo_id=repo-a",
        ],
    )
    .await;
    assert_eq!(ids_of(&lines), [fixture.before[0].id.clone()]);
}

// ---------------------------------------------------------------------------
// 5. schedule
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_prints_the_next_runs() {
    let out = run(&[
        "schedule",
        "2012-01-01T00:00Z/P1M",
        "--now",
        "2012-04-15T12:00Z",
        "--count",
        "2",
    ])
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.lines(),
        ["2012-05-01T00:00:00Z", "2012-06-01T00:00:00Z"]
    );

    let out = run(&[
        "schedule",
        "R5/2007-07-05T23:16Z/P1D",
        "--now",
        "2007-07-01T00:00Z",
        "--count",
        "10",
    ])
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.lines(),
        [
            "2007-07-05T23:16:00Z",
            "2007-07-06T23:16:00Z",
            "2007-07-07T23:16:00Z",
            "2007-07-08T23:16:00Z",
            "2007-07-09T23:16:00Z",
        ],
        "R5 stops after five runs"
    );

    // No NATS is involved: an unreachable URL does not matter.
    let closed = format!("nats://127.0.0.1:{}", closed_port());
    let out = run(&["--nats-url", &closed, "schedule", "PT1H", "--count", "3"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.lines().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_errors_name_the_wrong_part() {
    let cases: [(&[&str], &[&str]); 6] = [
        (&["R-1/PT1H"], &["R-1", "negative"]),
        (&["P"], &["\"P\""]),
        (&["PT"], &["\"PT\"", "T must be followed"]),
        (&["R5/"], &["R5/", "interval"]),
        (&["2012-13-01/P1D"], &["2012-13-01", "month 13"]),
        (&["PT1H", "--now", "2012-02-30"], &["--now", "2012-02-30"]),
    ];
    for (args, needles) in cases {
        let mut all = vec!["schedule"];
        all.extend_from_slice(args);
        let out = run(&all).await;
        assert_eq!(out.code, 1, "schedule {args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        for needle in needles {
            assert!(
                out.stderr.contains(needle),
                "schedule {args:?}: {}",
                out.stderr
            );
        }
    }
    let out = run(&["schedule"]).await;
    assert_eq!(out.code, 2, "{out:?}");
}

// ---------------------------------------------------------------------------
// 6. serve
// ---------------------------------------------------------------------------

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_and_exits_0_on_sigterm() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let port = closed_port();
    let listen = format!("127.0.0.1:{port}");
    let url = nats.url();
    let mut child = command(&[
        "serve",
        "--listen",
        &listen,
        "--nats-url",
        &url,
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .expect("run repobus serve");
    let pid = child.id().expect("pid");
    let base = format!("http://{listen}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Up within 20 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited with {status}: {}", read_log(&log));
        }
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            assert_eq!(r.status().as_u16(), 200);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not answer in 20 s: {}",
            read_log(&log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = within(10, "readyz", client.get(format!("{base}/readyz")).send())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = within(
        10,
        "POST",
        client
            .post(format!("{base}/v1/events/repo-sync-started"))
            .json(&json!({"repo_id": "served"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let ack: Value = r.json().await.unwrap();
    let messages = stored(&bus).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        header(&messages[0].headers, "ce-id"),
        ack["event_id"].as_str().unwrap()
    );

    // SIGTERM: exit 0 within a few seconds.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = within(10, "serve exits after SIGTERM", child.wait())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{}", read_log(&log));
    assert!(
        !dir.path().join("data").exists(),
        "no local nats-server was started when --nats-url was given"
    );
    // The port is free again.
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_push_down_of_a_start_time_agrees_with_a_full_scan() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let fixture = fixture(&bus).await;
    let since_hour = ["--since", "PT1H"];
    let after_mid = ["--after", fixture.mid.as_str()];
    let after_mid_typed = [
        "--after",
        fixture.mid.as_str(),
        "--str-eq",
        "type=repo-sync-finished",
    ];
    let cases: [&[&str]; 3] = [&since_hour, &after_mid_typed, &after_mid];
    for args in cases {
        let pushed = search_lines(&nats, args).await;
        let mut full_args = args.to_vec();
        full_args.push("--no-push-down");
        let full = search_lines(&nats, &full_args).await;
        assert!(!full.is_empty(), "search {args:?}");
        assert_eq!(ids_of(&pushed), ids_of(&full), "search {args:?}");
    }
}
