//! `repobus tail --metrics-listen ADDR`: a long-running command other than
//! `serve` exposes `/metrics` (the same recorder and names as `serve`), and
//! its counters follow what it consumes. Bad addresses are usage errors
//! (exit 2); a taken port fails (exit 1) naming the address.

use std::process::Stdio;
use std::time::{Duration, Instant};

use repobus_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_repobus");

fn command(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(repobus_command(BIN));
    command.args(args).kill_on_drop(true);
    command
}

/// The value of the sample line `key value` in Prometheus text, if any.
fn sample(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn tail_serves_metrics_that_follow_what_it_consumes() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let publisher = bus.publisher();
    for repo in ["t1", "t2", "t3"] {
        publisher
            .publish(&sync_started(repo))
            .await
            .expect("publish");
    }
    let port = closed_port();
    let addr = format!("127.0.0.1:{port}");
    let url = nats.url();
    let mut child = command(&[
        "tail",
        "--all",
        "--durable",
        "metrics-tail",
        "--metrics-listen",
        &addr,
        "--nats-url",
        &url,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start repobus tail");

    let key = r#"repobus_events_consumed_total{consumer="metrics-tail"}"#;
    let lag = r#"repobus_consumer_num_pending{consumer="metrics-tail"}"#;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = match client.get(format!("http://{addr}/metrics")).send().await {
            Ok(r) if r.status() == 200 => r.text().await.unwrap_or_default(),
            _ => String::new(),
        };
        if sample(&text, key) == Some(3.0) && sample(&text, lag).is_some() {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "tail's /metrics never showed 3 consumed events and its lag:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(text.contains("# TYPE repobus_build_info gauge"), "{text}");

    // One more event moves the counter while tail runs.
    publisher
        .publish(&sync_started("t4"))
        .await
        .expect("publish");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("body");
        if sample(&text, key) == Some(4.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the counter did not move:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().await.expect("kill tail");
}

#[tokio::test]
async fn metrics_listen_errors() {
    // Not an address: a usage error.
    let out = command(&["tail", "--metrics-listen", "not-an-address"])
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--metrics-listen"));

    // A port already taken: a failure naming it, before connecting anywhere.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = within(
        30,
        "tail with a taken port",
        command(&[
            "tail",
            "--metrics-listen",
            &addr,
            "--nats-url",
            &format!("nats://127.0.0.1:{}", closed_port()),
        ])
        .output(),
    )
    .await
    .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&addr), "{stderr}");
}

/// `repobus serve` polls the lag of the stream's durable consumers into
/// `/metrics` (the first poll runs at start, then every `--lag-interval`)
/// and serves its OpenAPI document.
#[tokio::test]
async fn serve_reports_consumer_lag_and_serves_openapi() {
    use async_nats::jetstream::consumer::pull;

    let nats = server().await;
    let bus = connect(&nats).await;
    let publisher = bus.publisher();
    for repo in ["l1", "l2"] {
        publisher
            .publish(&sync_started(repo))
            .await
            .expect("publish");
    }
    // A durable consumer that has read nothing: two messages pending.
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await
        .expect("stream");
    stream
        .create_consumer(pull::Config {
            durable_name: Some("lagger".into()),
            ..Default::default()
        })
        .await
        .expect("create consumer");

    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", closed_port());
    let url = nats.url();
    let mut child = command(&[
        "serve",
        "--listen",
        &addr,
        "--nats-url",
        &url,
        "--data-dir",
        dir.path().to_str().expect("utf-8 path"),
        "--lag-interval",
        "300ms",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start repobus serve");

    let client = reqwest::Client::new();
    let key = r#"repobus_consumer_num_pending{consumer="lagger"}"#;
    let wait_for_lag = |want: f64, secs: u64| {
        let (client, addr) = (client.clone(), addr.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(secs);
            loop {
                let text = match client.get(format!("http://{addr}/metrics")).send().await {
                    Ok(r) if r.status() == 200 => r.text().await.unwrap_or_default(),
                    _ => String::new(),
                };
                if sample(&text, key) == Some(want) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "serve's /metrics never showed a lag of {want} for `lagger`:\n{text}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait_for_lag(2.0, 20).await;
    // Polled again within the interval, not the default 15 s.
    publisher
        .publish(&sync_started("l3"))
        .await
        .expect("publish");
    wait_for_lag(3.0, 5).await;
    let doc: serde_json::Value = client
        .get(format!("http://{addr}/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    child.kill().await.expect("kill serve");
}
