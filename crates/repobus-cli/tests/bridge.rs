//! `repobus bridge amqp-in|amqp-out` as processes: bad input exits 1 with
//! a clear error before anything is consumed, and a bridge killed with
//! SIGKILL mid-stream and restarted loses nothing and stores nothing twice.
//! A private RabbitMQ node and private nats-servers; never the machine's.

#[path = "../../repobus-amqp/tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use repobus_testkit::rabbitmq::RabbitMq;
use repobus_testkit::{connect, header, repobus_command, server, stream_messages, within};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_repobus");
const PREFIX: &str = "org.fedoraproject.prod";

fn run(args: &[&str]) -> std::process::Output {
    repobus_command(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run repobus")
}

/// Starts a bridge and waits for its readiness line on stderr.
fn start_bridge(args: &[String]) -> Child {
    let mut child = repobus_command(BIN)
        .args(args)
        .env("REPOBUS_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the bridge");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = stderr.read_line(&mut line).expect("bridge stderr");
        assert!(n > 0, "the bridge exited before it was ready");
        if line.contains("consuming") || line.contains("publishing") {
            break;
        }
    }
    // Keep draining stderr so the bridge never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stderr.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    child
}

#[test]
fn bad_broker_settings_exit_1_naming_the_problem() {
    let rabbit = RabbitMq::shared();
    let nats_url = "nats://127.0.0.1:1";
    let base = [
        "--nats-url",
        nats_url,
        "bridge",
        "amqp-in",
        "--topic",
        "copr.#",
    ];

    let out = run(&[&base[..], &["--amqp-url", "http://localhost/"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("amqp:// or amqps://"), "{err}");

    let out = run(&[
        &base[..],
        &[
            "--amqp-url",
            "amqps://localhost/",
            "--amqp-ca",
            "/nonexistent/ca.pem",
        ],
    ]
    .concat());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CA certificate /nonexistent/ca.pem"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "not a key").expect("key");
    let out = run(&[
        &base[..],
        &[
            "--amqp-url",
            "amqps://localhost/",
            "--amqp-cert",
            "/nonexistent/cert.pem",
            "--amqp-key",
            key.to_str().expect("utf-8"),
        ],
    ]
    .concat());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("client certificate /nonexistent/cert.pem"),
        "{err}"
    );

    // Wrong credentials on a live broker (with a live NATS): exit 1, the
    // password is not printed.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let nats = runtime.block_on(server());
    let wrong = rabbit.url().replace("guest:guest", "guest:sesame");
    for direction in ["amqp-in", "amqp-out"] {
        let mut args = vec![
            "--nats-url".to_owned(),
            nats.url(),
            "bridge".into(),
            direction.into(),
            "--amqp-url".into(),
            wrong.clone(),
        ];
        if direction == "amqp-in" {
            args.extend(["--topic".into(), "copr.#".into()]);
        }
        let out = repobus_command(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{direction}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("connecting") && !err.contains("sesame"),
            "{direction}: {err}"
        );
    }

    // Neither --topic nor --queue: a usage error.
    let out = run(&["bridge", "amqp-in", "--amqp-url", &rabbit.url()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn amqp_in_killed_mid_stream_stores_every_message_exactly_once() {
    let rabbit = RabbitMq::shared();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let nats = runtime.block_on(server());
    let bus = runtime.block_on(connect(&nats));
    let args: Vec<String> = [
        "--nats-url",
        &nats.url(),
        "bridge",
        "amqp-in",
        "--amqp-url",
        &rabbit.url(),
        "--queue",
        "cli-in-sigkill",
        "--topic",
        &format!("{PREFIX}.copr.#"),
        "--prefetch",
        "10",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let corpus = common::copr_corpus();
    let items: Vec<_> = (0..4).flat_map(|_| corpus.clone()).collect();
    let total = items.len();
    // The queue exists before anything is published; the messages wait in it.
    let mut bridge = start_bridge(&args);
    bridge.kill().expect("SIGKILL");
    bridge.wait().expect("reap");
    let published = common::fm_publish(&rabbit.url(), PREFIX, &items);
    assert_eq!(published.len(), total);
    let mut bridge = start_bridge(&args);
    // Kill it once some, not all, are stored.
    runtime.block_on(within(60, "some messages stored", async {
        while repobus_testkit::try_stream_len(&bus).await.unwrap_or(0) < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }));
    bridge.kill().expect("SIGKILL");
    bridge.wait().expect("reap");
    let partial = runtime
        .block_on(repobus_testkit::try_stream_len(&bus))
        .unwrap_or(0);
    eprintln!("{partial} of {total} stored when the bridge was killed");
    let mut bridge = start_bridge(&args);
    runtime.block_on(within(60, "every message stored", async {
        while repobus_testkit::try_stream_len(&bus).await.unwrap_or(0) < total as u64 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }));
    std::thread::sleep(Duration::from_millis(500));
    let stored = runtime.block_on(stream_messages(&bus, bus.config().stream_name()));
    let ids: HashSet<String> = stored.iter().map(|(_, h, _)| header(h, "ce-id")).collect();
    let expected: HashSet<String> = published
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(stored.len(), total, "nothing stored twice");
    assert_eq!(ids, expected, "every message stored");
    let _ = bridge.kill();
    let _ = bridge.wait();
}

#[test]
fn amqp_out_killed_mid_stream_loses_nothing() {
    let rabbit = RabbitMq::shared();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let nats = runtime.block_on(server());
    let total = 300;
    let dir = tempfile::tempdir().expect("tempdir");
    let jsonl = dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..total)
        .map(|i| {
            json!({"topic": "repo-sync-started", "body": {"repo_id": format!("repo-{i}")}})
                .to_string()
        })
        .collect();
    std::fs::write(&jsonl, lines.join("\n")).expect("jsonl");
    let out = repobus_command(BIN)
        .args([
            "--nats-url",
            &nats.url(),
            "publish",
            "--jsonl",
            jsonl.to_str().expect("utf-8"),
        ])
        .output()
        .expect("repobus publish");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = rabbit.url();
    let consumer = common::Consumer::start(&url, "cli-out-sigkill", "pulp.repo.#", total);
    let args: Vec<String> = [
        "--nats-url",
        &nats.url(),
        "bridge",
        "amqp-out",
        "--amqp-url",
        &rabbit.url(),
        "--durable",
        "out-sigkill",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut bridge = start_bridge(&args);
    std::thread::sleep(Duration::from_millis(150));
    bridge.kill().expect("SIGKILL");
    bridge.wait().expect("reap");
    let mut bridge = start_bridge(&args);
    let received = consumer.finish();
    let repos: HashSet<String> = received
        .iter()
        .map(|m| m["body"]["repo_id"].as_str().expect("repo_id").to_owned())
        .collect();
    assert_eq!(
        repos.len(),
        total,
        "every event arrived (redeliveries repeat, never lose)"
    );
    for m in &received {
        assert_eq!(m["class"], "repobus_messages.RepoSyncStartedV1");
    }
    let _ = bridge.kill();
    let _ = bridge.wait();
}
