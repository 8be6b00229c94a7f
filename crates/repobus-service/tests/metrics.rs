//! `GET /metrics` read by a real Prometheus parser (Python
//! `prometheus_client.parser`, installed by `. scripts/tools.sh --oracle`)
//! while events flow through the service, the publisher, a durable
//! subscriber, the dead-letter path and an operation guard: every counter
//! the issue names moves by exactly what happened.
//!
//! The recorder is process-wide, so the test compares values before and
//! after, never absolute counts.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use repobus::bus::{ConsumerOptions, Deliver};
use repobus_service::ServiceConfig;
use serde_json::{json, Value};

use repobus_testkit::*;

mod common;
use common::start_service;

/// The oracle interpreter, or a failure saying how to get it.
fn oracle_python() -> String {
    let python = std::env::var("REPOBUS_ORACLE_PYTHON").unwrap_or_else(|_| {
        panic!("REPOBUS_ORACLE_PYTHON is not set: run `. scripts/tools.sh --oracle` first")
    });
    let ok = Command::new(&python)
        .args(["-c", "import prometheus_client.parser"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{python} has no prometheus_client: run `. scripts/tools.sh --oracle` (scripts/tools.d/observability.sh installs it)"
    );
    python
}

/// Samples by `name{label="value",...}` (labels sorted), and the `# TYPE`
/// of each family, as prometheus_client parses `text`.
struct Parsed {
    samples: BTreeMap<String, f64>,
    types: BTreeMap<String, String>,
}

impl Parsed {
    fn get(&self, key: &str) -> f64 {
        self.samples.get(key).copied().unwrap_or(0.0)
    }
}

fn parse(text: &str) -> Parsed {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics/parse.py");
    let mut child = Command::new(oracle_python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the parser");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to the parser");
    let output = child.wait_with_output().expect("run the parser");
    assert!(
        output.status.success(),
        "prometheus_client cannot parse /metrics: {}\n--- text ---\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Value = serde_json::from_slice(&output.stdout).expect("parser output");
    let mut samples = BTreeMap::new();
    for sample in parsed["samples"].as_array().expect("samples") {
        let labels = sample[1].as_object().expect("labels");
        let mut labels: Vec<_> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
            .collect();
        labels.sort();
        let key = format!(
            "{}{{{}}}",
            sample[0].as_str().unwrap_or(""),
            labels.join(",")
        );
        samples.insert(key, sample[2].as_f64().unwrap_or(f64::NAN));
    }
    let types = parsed["types"]
        .as_object()
        .expect("types")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    Parsed { samples, types }
}

async fn scrape(client: &reqwest::Client, url: &str) -> Parsed {
    let response = within(30, "GET /metrics", client.get(url).send())
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse(&response.text().await.expect("body"))
}

#[tokio::test]
async fn metrics_parse_and_counters_move_when_events_flow() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = reqwest::Client::new();
    let metrics_url = service.url("/metrics");

    // A durable consumer created before the events, so that it sees them all.
    let mut subscription = bus
        .subscriber()
        .subscribe(ConsumerOptions {
            durable: Some("metrics-test".into()),
            deliver: Deliver::All,
            ..ConsumerOptions::default()
        })
        .await
        .expect("subscribe");

    let before = scrape(&client, &metrics_url).await;

    // A poison message (not JSON) the subscriber must dead-letter.
    bus.jetstream()
        .publish("repobus.repo.sync.started.poison", "not json".into())
        .await
        .expect("publish poison")
        .await
        .expect("poison ack");
    // Three good POSTs, one schema violation, one unknown type.
    for repo in ["m1", "m2", "m3"] {
        let r = client
            .post(service.url("/v1/events/repo-sync-started"))
            .json(&json!({"repo_id": repo}))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 202);
    }
    let r = client
        .post(service.url("/v1/events/repo-sync-started"))
        .json(&json!({"repo_id": "a b"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 400);
    let r = client
        .post(service.url("/v1/events/repo-sync-exploded"))
        .json(&json!({}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 404);

    // An operation in progress, held while we scrape.
    let sync = bus
        .publisher()
        .start_sync(rid("m4"), rid("yum_importer"), rid("yum_importer"))
        .await
        .expect("start_sync");

    // The subscriber yields the four good events, dead-lettering the poison.
    for _ in 0..4 {
        let delivery = within(30, "a delivery", subscription.next())
            .await
            .expect("stream ended")
            .expect("delivery");
        delivery.ack().await.expect("ack");
    }
    assert_eq!(subscription.dead_lettered(), 1);
    let polled = within(
        30,
        "consumer lag",
        repobus_service::metrics::poll_consumer_lag(&bus),
    )
    .await
    .expect("poll consumer lag");
    assert!(polled >= 1);

    let during = scrape(&client, &metrics_url).await;
    let delta = |key: &str| during.get(key) - before.get(key);

    assert_eq!(
        delta(r#"repobus_events_published_total{outcome="stored",type="repo-sync-started"}"#),
        4.0
    );
    assert_eq!(
        delta(r#"repobus_events_ingested_total{outcome="accepted",type="repo-sync-started"}"#),
        3.0
    );
    assert_eq!(
        delta(r#"repobus_events_ingested_total{outcome="invalid",type="repo-sync-started"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"repobus_events_ingested_total{outcome="invalid",type="unknown"}"#),
        1.0
    );
    assert_eq!(
        delta(
            r#"repobus_http_requests_total{method="POST",route="/v1/events/{type}",status_class="2xx"}"#
        ),
        3.0
    );
    assert_eq!(
        delta(
            r#"repobus_http_requests_total{method="POST",route="/v1/events/{type}",status_class="4xx"}"#
        ),
        2.0
    );
    assert_eq!(
        delta(
            r#"repobus_http_request_duration_seconds_count{method="POST",route="/v1/events/{type}",status_class="2xx"}"#
        ),
        3.0
    );
    assert!(
        delta(r#"repobus_publish_duration_seconds_count{type="repo-sync-started"}"#) >= 4.0,
        "publish latency histogram did not move"
    );
    assert_eq!(
        delta(r#"repobus_events_consumed_total{consumer="metrics-test"}"#),
        4.0
    );
    let dead: f64 = during
        .samples
        .iter()
        .filter(|(k, _)| {
            k.starts_with("repobus_events_dead_lettered_total{")
                && k.contains(r#"consumer="metrics-test""#)
        })
        .map(|(k, v)| v - before.get(k))
        .sum();
    assert_eq!(dead, 1.0, "dead letters of metrics-test");
    assert_eq!(
        during.get(r#"repobus_operations_in_progress{kind="sync"}"#)
            - before.get(r#"repobus_operations_in_progress{kind="sync"}"#),
        1.0
    );
    assert_eq!(
        during.get(r#"repobus_consumer_num_pending{consumer="metrics-test"}"#),
        0.0
    );
    assert!(during
        .samples
        .contains_key(r#"repobus_consumer_num_ack_pending{consumer="metrics-test"}"#));
    assert_eq!(
        during.get(&format!(
            "repobus_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    // The kinds Prometheus reads from `# TYPE`.
    for (family, kind) in [
        ("repobus_events_published", "counter"),
        ("repobus_http_requests", "counter"),
        ("repobus_http_request_duration_seconds", "histogram"),
        ("repobus_publish_duration_seconds", "histogram"),
        ("repobus_operations_in_progress", "gauge"),
        ("repobus_build_info", "gauge"),
    ] {
        assert_eq!(
            during.types.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
    }
    // No unbounded label: no repository ID anywhere in the text.
    assert!(!during.samples.keys().any(|k| k.contains("m1")));

    // The guard finishing takes the operation off the gauge.
    sync.finish(Default::default()).await.expect("finish");
    let after = scrape(&client, &metrics_url).await;
    assert_eq!(
        after.get(r#"repobus_operations_in_progress{kind="sync"}"#),
        before.get(r#"repobus_operations_in_progress{kind="sync"}"#)
    );
    service.stop().await;
}

#[tokio::test]
async fn metrics_listener_serves_only_metrics() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = repobus_service::metrics::spawn_metrics_listener(listener);
    let client = reqwest::Client::new();
    let parsed = scrape(&client, &format!("http://{addr}/metrics")).await;
    assert_eq!(
        parsed.types.get("repobus_build_info").map(String::as_str),
        Some("gauge")
    );
    let r = within(
        30,
        "GET /nope",
        client.get(format!("http://{addr}/nope")).send(),
    )
    .await
    .expect("GET");
    assert_eq!(r.status(), 404);
    server.abort();
}

/// A publish whose ack never comes (the stream is gone, so every send is
/// answered "no responders") is retried with the same ID until the
/// deadline: each retry and the final outcome are counted.
#[tokio::test]
async fn publish_retries_and_failures_are_counted() {
    let nats = server().await;
    let bus = connect_with(config(nats.url()).publish_deadline(Duration::from_millis(800))).await;
    repobus_service::metrics::install_recorder().expect("the Prometheus recorder");
    let before = parse(&repobus_service::metrics::render().expect("render"));
    bus.jetstream()
        .delete_stream(bus.config().stream_name())
        .await
        .expect("delete the stream");
    let error = bus
        .publisher()
        .publish(&build_ended("metrics", "retries", "fedora-rawhide-x86_64"))
        .await
        .expect_err("no stream: no ack");
    assert!(
        matches!(error, repobus::bus::PublishError::Deadline { .. }),
        "{error}"
    );
    let after = parse(&repobus_service::metrics::render().expect("render"));
    let delta = |key: &str| after.get(key) - before.get(key);
    assert_eq!(
        delta(r#"repobus_events_published_total{outcome="deadline",type="build-chroot-ended"}"#),
        1.0
    );
    assert!(
        delta(r#"repobus_jetstream_publish_retries_total{type="build-chroot-ended"}"#) >= 1.0,
        "no retry counted"
    );
}
