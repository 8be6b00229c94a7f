//! `repobus webhooks` and `repobus relay` as child processes against a
//! private nats-server, with a real HTTP receiver on loopback.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use repobus_testkit::*;
use repobus_webhooks::endpoint::EndpointSpec;
use repobus_webhooks::store::WebhookStore;

const BIN: &str = env!("CARGO_BIN_EXE_repobus");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn repobus(args: &[&str]) -> Out {
    let mut command = tokio::process::Command::from(repobus_command(BIN));
    command.args(args).kill_on_drop(true);
    let output = within(60, "repobus", command.output())
        .await
        .expect("run repobus");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn malformed_fields_exit_2_naming_the_field_even_without_nats() {
    let url = format!("nats://127.0.0.1:{}", closed_port());
    let cases: &[(&[&str], &str)] = &[
        (&["http://169.254.169.254/latest/meta-data"], "url"),
        (&["http://127.0.0.1:9000/"], "url"),
        (&["ftp://example.com/"], "url"),
        (&["https://example.com/", "--secret", "whsec_%%%"], "secret"),
        (
            &["https://example.com/", "--retry-schedule", "5s,soon"],
            "retry_schedule",
        ),
        (&["https://example.com/", "--filters", "{"], "filters"),
        (
            &["https://example.com/", "--filters", r#"{"$where": 1}"#],
            "filters",
        ),
        (
            &["https://example.com/", "--subject", "elsewhere.>"],
            "subjects[0]",
        ),
        (&["https://example.com/", "--timeout", "forever"], "timeout"),
        (&["https://example.com/", "--format", "xml"], "format"),
        (&["https://example.com/", "--header", "nocolon"], "header"),
    ];
    for (extra, field) in cases {
        let mut args = vec!["--nats-url", &url, "webhooks", "add", "hook"];
        args.extend_from_slice(extra);
        let out = repobus(&args).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{field}:")),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = repobus(&[
        "--nats-url",
        &url,
        "webhooks",
        "add",
        "bad id!",
        "https://example.com/",
    ])
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("id:"), "{}", out.stderr);
    let out = repobus(&["--nats-url", &url, "relay", "--disable-after", "often"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--disable-after"), "{}", out.stderr);
    let out = repobus(&["--nats-url", &url, "relay", "--lease-ttl", "0s"]).await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--lease-ttl"), "{}", out.stderr);
}

#[tokio::test]
async fn endpoints_are_managed_from_the_command_line() {
    let nats = server().await;
    let url = nats.url();
    let run = |args: Vec<&str>| {
        let mut all = vec!["--nats-url", url.as_str(), "webhooks"];
        all.extend(args);
        let all: Vec<String> = all.into_iter().map(str::to_owned).collect();
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            repobus(&refs).await
        }
    };
    let out = run(vec![
        "add",
        "cdn.purge",
        "https://hooks.example.com/purge",
        "--subject",
        "repobus.repo.publish.finished.>",
        "--retry-schedule",
        "1s,10s",
        "--timeout",
        "3s",
        "--format",
        "text",
        "--header",
        "X-Team: infra",
        "--rate-limit",
        "50",
    ])
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_"),
        "the secret is shown once on creation"
    );
    assert_eq!(created["retry_schedule"], "1s,10s");
    assert_eq!(created["headers"]["X-Team"], "infra");
    let again = run(vec!["add", "cdn.purge", "https://example.com/"]).await;
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    let shown = run(vec!["show", "cdn.purge"]).await;
    assert_eq!(shown.code, 0);
    assert!(
        !shown.stdout.contains(secret),
        "show never prints the secret"
    );
    assert!(shown.stdout.contains("\"format\":\"text\""));
    let listed = run(vec!["list"]).await;
    assert_eq!(listed.stdout.lines().count(), 1);
    let disabled = run(vec!["disable", "cdn.purge", "--reason", "CDN migration"]).await;
    assert_eq!(disabled.code, 0);
    assert!(disabled.stdout.contains("CDN migration"));
    let enabled = run(vec!["enable", "cdn.purge"]).await;
    assert!(!enabled.stdout.contains("disabled"), "{}", enabled.stdout);
    let replay = run(vec!["replay", "cdn.purge", "--since", "PT1H"]).await;
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert!(replay.stdout.contains("\"replay\""));
    let bad = run(vec!["replay", "cdn.purge", "--since", "yesterday"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let attempts = run(vec!["attempts", "cdn.purge"]).await;
    assert_eq!((attempts.code, attempts.stdout.as_str()), (0, ""));
    assert_eq!(run(vec!["remove", "cdn.purge"]).await.code, 0);
    let gone = run(vec!["show", "cdn.purge"]).await;
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("no webhook endpoint"),
        "{}",
        gone.stderr
    );
    assert_eq!(run(vec!["attempts", "cdn.purge"]).await.code, 1);
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

async fn receive(State(seen): State<Seen>, headers: HeaderMap, _body: Bytes) -> StatusCode {
    // Slow enough that the relay is killed with deliveries in flight.
    tokio::time::sleep(Duration::from_millis(5)).await;
    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
        seen.0.lock().unwrap().push(id.to_owned());
    }
    StatusCode::OK
}

/// Serves `app` on a free loopback port.
async fn serve_receiver(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// An ordered endpoint `id` to `addr`, 1 s timeout, retried on `schedule`.
async fn add_endpoint(
    bus: &repobus::bus::Bus,
    id: &str,
    addr: std::net::SocketAddr,
    schedule: &str,
) {
    WebhookStore::open(bus)
        .await
        .unwrap()
        .create(EndpointSpec {
            timeout: Some("1s".into()),
            retry_schedule: Some(schedule.into()),
            allow_private_target: true,
            ..EndpointSpec::new(id, format!("http://{addr}/hook"))
        })
        .await
        .unwrap();
}

fn spawn_relay(url: &str) -> tokio::process::Child {
    let mut command = tokio::process::Command::from(repobus_command(BIN));
    command
        // A short lease: the restarted relay takes the killed one's
        // endpoint within 4 s (then its window comes back after ack_wait).
        .args([
            "--nats-url",
            url,
            "relay",
            "--allow-private-targets",
            "--lease-ttl",
            "3s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command.spawn().expect("start repobus relay")
}

#[tokio::test]
async fn a_relay_killed_with_sigkill_and_restarted_loses_no_event() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let seen = Seen::default();
    let addr = serve_receiver(
        axum::Router::new()
            .fallback(receive)
            .with_state(seen.clone()),
    )
    .await;
    add_endpoint(&bus, "kill-test", addr, "100ms,200ms").await;
    let mut relay = spawn_relay(&nats.url());
    let publisher = bus.publisher();
    let mut published = Vec::new();
    for i in 0..300 {
        let ack = publisher
            .publish(&sync_started(&format!("kill-{i}")))
            .await
            .unwrap();
        published.push(ack.event_id);
    }
    // Kill it in the middle of the stream of deliveries.
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.0.lock().unwrap().len() < 60 {
        assert!(Instant::now() < deadline, "the relay delivered nothing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    relay.start_kill().unwrap(); // SIGKILL
    relay.wait().await.unwrap();
    let at_kill = seen.0.lock().unwrap().len();
    assert!(
        at_kill < 300,
        "killed too late to test anything ({at_kill})"
    );
    let mut relay = spawn_relay(&nats.url());
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let unique: HashSet<String> = seen.0.lock().unwrap().iter().cloned().collect();
        if unique.len() == 300 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of 300 delivered after the restart",
            unique.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.start_kill().unwrap();
    let all = seen.0.lock().unwrap().clone();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique, published.iter().collect::<HashSet<_>>());
    // First receipts are in stream order: ordered delivery survived the kill.
    let mut first = Vec::new();
    let mut known = HashSet::new();
    for id in &all {
        if known.insert(id) {
            first.push(id.clone());
        }
    }
    assert_eq!(first, published);
    eprintln!(
        "{} requests for 300 events ({} repeats, deduplicated by webhook-id)",
        all.len(),
        all.len() - 300
    );
}

/// Answers 500 to the first `failures` requests, then 200; counts them.
async fn fail_first(
    State((failures, count)): State<(usize, Arc<std::sync::atomic::AtomicUsize>)>,
) -> StatusCode {
    let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if n < failures {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

#[tokio::test]
async fn a_relay_killed_while_retrying_resumes_the_attempt_numbers() {
    use repobus_webhooks::attempts::{AttemptLog, Outcome};
    let nats = server().await;
    let bus = connect(&nats).await;
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let addr = serve_receiver(
        axum::Router::new()
            .fallback(fail_first)
            .with_state((5usize, count.clone())),
    )
    .await;
    let schedule = "300ms,300ms,300ms,300ms,300ms,300ms,300ms";
    add_endpoint(&bus, "retry-kill", addr, schedule).await;
    let log = AttemptLog::open(&bus).await.unwrap();
    let mut relay = spawn_relay(&nats.url());
    bus.publisher()
        .publish(&sync_started("retried"))
        .await
        .unwrap();
    // Kill it between attempts, once two are recorded.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let recorded = log.attempts("retry-kill", 100).await.unwrap().len();
        if recorded >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{recorded} attempts recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.start_kill().unwrap(); // SIGKILL
    relay.wait().await.unwrap();
    let before = log.attempts("retry-kill", 100).await.unwrap();
    assert!(
        before.iter().all(|a| a.outcome == Outcome::Retry),
        "{before:?}"
    );
    let mut relay = spawn_relay(&nats.url());
    let deadline = Instant::now() + Duration::from_secs(40);
    let attempts = loop {
        let attempts = log.attempts("retry-kill", 100).await.unwrap();
        if attempts.iter().any(|a| a.outcome == Outcome::Delivered) {
            break attempts;
        }
        assert!(Instant::now() < deadline, "not delivered: {attempts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    relay.start_kill().unwrap();
    // One numbering across the kill: 1, 2, ... with no number reused and
    // none restarted at 1, ending with the delivery.
    let numbers: Vec<u64> = attempts.iter().map(|a| a.attempt).collect();
    let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
    assert_eq!(numbers, expected, "{attempts:?}");
    assert!(before.len() < numbers.len(), "{before:?} {attempts:?}");
    assert_eq!(attempts.last().map(|a| a.status), Some(Some(200)));
    // Six requests reached the receiver (five 500s, then the 200); one
    // more than recorded only if the kill fell between an answer and its
    // record, whose number the next attempt then takes.
    let requests = count.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(requests, 6);
    assert!(
        numbers.len() == 6 || numbers.len() == 5,
        "{requests} requests, attempts {numbers:?}"
    );
}

#[tokio::test]
async fn serve_runs_the_relay_and_manages_endpoints_over_http() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(seen.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let port = closed_port();
    let listen = format!("127.0.0.1:{port}");
    let mut command = tokio::process::Command::from(repobus_command(BIN));
    command
        .args([
            "--nats-url",
            &nats.url(),
            "serve",
            "--listen",
            &listen,
            "--allow-private-targets",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut serve = command.spawn().expect("start repobus serve");
    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(Instant::now() < deadline, "serve did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A loopback target is accepted because serve allows private targets.
    let created = client
        .post(format!("{base}/v1/webhooks"))
        .body(
            serde_json::json!({"id": "served", "url": format!("http://{addr}/hook"), "retry_schedule": "100ms"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let ack = bus
        .publisher()
        .publish(&sync_started("served-1"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.0.lock().unwrap().contains(&ack.event_id) {
        assert!(
            Instant::now() < deadline,
            "the relay inside serve delivered nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serve.start_kill().unwrap();
    let _ = serve.wait().await;
}
