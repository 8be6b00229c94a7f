//! The HTTP ingest service, in-process, against a private nats-server.
//!
//! Every test starts its own `nats-server -js` on a free port (via
//! `repobus_local::LocalNats`), its own service on 127.0.0.1:0, and talks
//! to it with reqwest. Every wait is bounded.

use std::time::{Duration, Instant};

use repobus::bus::BusConfig;
use repobus::{schema, Event, EventType};
use repobus_service::{Access, ServiceConfig, ROUTES};
use serde_json::{json, Value};

use repobus_testkit::*;

mod common;
use common::{start_service, Service};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// Status and JSON body of a response (`Value::Null` when not JSON).
async fn answer(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("read the response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, body)
}

/// Sends `request` (bounded: `what` names it in a timeout) and reads the
/// answer.
async fn send(
    what: &str,
    request: reqwest::RequestBuilder,
) -> (u16, reqwest::header::HeaderMap, Value) {
    answer(within(30, what, request.send()).await.expect(what)).await
}

async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let (status, _, body) = send("POST", client.post(url).json(body)).await;
    (status, body)
}

async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    let (status, _, body) = send("POST", request).await;
    (status, body)
}

/// POSTs `body` as JSON with an `Idempotency-Key` header.
async fn post_keyed(client: &reqwest::Client, url: &str, key: &str, body: &Value) -> (u16, Value) {
    let request = client.post(url).header("Idempotency-Key", key).json(body);
    let (status, _, body) = send("POST", request).await;
    (status, body)
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let (status, _, body) = send("GET", client.get(url)).await;
    (status, body)
}

fn error_of(body: &Value) -> &str {
    body.get("error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {{\"error\": ...}} in {body}"))
}

// ---------------------------------------------------------------------------
// 1. POST /v1/events/{type}
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_example_is_accepted_and_stored_with_cloudevents_headers() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();
    let mut acks = Vec::new();
    for event_type in EventType::ALL {
        for example in event_type.examples() {
            let (status, ack) = post_json(
                &client,
                &service.url(&format!("/v1/events/{event_type}")),
                &example,
            )
            .await;
            assert_eq!(status, 202, "{event_type}: {ack}");
            let keys: Vec<&str> = ack
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["event_id", "subject", "stream", "seq"], "{ack}");
            assert_eq!(ack["stream"], "REPOBUS");
            assert!(ack["seq"].as_u64().unwrap() >= 1);
            let subject = ack["subject"].as_str().unwrap();
            assert!(subject.starts_with("repobus."), "{subject}");
            acks.push((event_type, example, ack));
        }
    }
    let messages = stored(&bus).await;
    assert_eq!(messages.len(), acks.len(), "one stored message per 202");
    for (event_type, example, ack) in &acks {
        let seq = ack["seq"].as_u64().unwrap();
        let message = messages
            .iter()
            .find(|m| m.sequence == seq)
            .unwrap_or_else(|| panic!("seq {seq} not in the stream"));
        assert_eq!(message.subject.as_str(), ack["subject"].as_str().unwrap());
        let id = ack["event_id"].as_str().unwrap();
        let headers = &message.headers;
        assert_eq!(header(headers, "ce-id"), id);
        assert_eq!(header(headers, "Nats-Msg-Id"), id);
        assert_eq!(header(headers, "ce-type"), event_type.as_str());
        assert_eq!(header(headers, "ce-specversion"), "1.0");
        assert_eq!(header(headers, "ce-datacontenttype"), "application/json");
        assert_eq!(
            header(headers, "ce-dataschema"),
            schema::schema_id(*event_type).to_string()
        );
        assert!(headers.get("ce-source").is_some());
        assert!(header(headers, "ce-time").ends_with('Z'));
        let expected_subject = if event_type.is_pulp() {
            example["repo_id"].as_str().unwrap().to_owned()
        } else {
            example["build"].to_string()
        };
        assert_eq!(header(headers, "ce-subject"), expected_subject);
        // The body is the wire body, unchanged in meaning.
        let body: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(&body, example, "{event_type}");
        // A generated ID is a UUID (v7).
        assert_eq!(id.len(), 36, "{id}");
    }
    // The same events through the typed subscriber, in order.
    let mut subscription = within(
        10,
        "subscribe",
        bus.subscriber().subscribe(repobus::bus::ConsumerOptions {
            deliver: repobus::bus::Deliver::All,
            explicit_ack: false,
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    for (event_type, _, ack) in &acks {
        let delivery = within(10, "next delivery", subscription.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            delivery.envelope.event_id,
            ack["event_id"].as_str().unwrap()
        );
        assert_eq!(delivery.event.event_type(), *event_type);
    }
    service.stop().await;
}

// ---------------------------------------------------------------------------
// 2. Idempotency-Key
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_stores_a_retried_post_once_and_bad_keys_are_400() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();
    let url = service.url("/v1/events/repo-sync-started");
    let body = json!({"repo_id": "pulp-f17"});
    let mut answers = Vec::new();
    for _ in 0..2 {
        let (status, ack) = post_keyed(&client, &url, "order-42", &body).await;
        assert_eq!(status, 202, "{ack}");
        assert_eq!(ack["event_id"], "order-42");
        answers.push(ack);
    }
    assert_eq!(
        answers[0]["seq"], answers[1]["seq"],
        "same seq: {answers:?}"
    );
    assert!(answers[0].get("duplicate").is_none(), "{}", answers[0]);
    assert_eq!(answers[1]["duplicate"], true, "{}", answers[1]);
    let messages = stored(&bus).await;
    assert_eq!(ce_ids(&messages), ["order-42"]);

    let long = "k".repeat(300);
    for bad in ["has space", long.as_str()] {
        let (status, error) = post_keyed(&client, &url, bad, &body).await;
        assert_eq!(status, 400, "key {bad:?}: {error}");
        let message = error_of(&error);
        assert!(message.contains("not allowed"), "{message}");
    }
    assert_eq!(stored(&bus).await.len(), 1, "bad keys store nothing");
    service.stop().await;
}

// ---------------------------------------------------------------------------
// 3. Errors
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_the_right_status() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();

    // 400 malformed JSON.
    let (status, error) = post_raw(
        &client,
        &service.url("/v1/events/repo-sync-started"),
        r#"{"repo_id": "#,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert!(error_of(&error).contains("malformed JSON"), "{error}");

    // 400 schema violation naming the path and the rule.
    let mut body = sync_finished_body("pulp-f16", "success", 0);
    body["started"] = json!("2012-13-06T15:49:11Z");
    let (status, error) = post_json(
        &client,
        &service.url("/v1/events/repo-sync-finished"),
        &body,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    let message = error_of(&error);
    assert!(
        message.contains("$.started") && message.contains("month 13"),
        "{message}"
    );
    let (status, error) = post_json(
        &client,
        &service.url("/v1/events/repo-sync-started"),
        &json!({"repo_id": "a b"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&error).contains("$.repo_id"), "{error}");

    // 404 unknown type, 404 unknown route.
    let (status, error) = post_json(
        &client,
        &service.url("/v1/events/repo-sync-exploded"),
        &json!({"repo_id": "x"}),
    )
    .await;
    assert_eq!(status, 404, "{error}");
    assert!(error_of(&error).contains("repo-sync-exploded"), "{error}");
    let (status, error) = get(&client, &service.url("/v2/nothing")).await;
    assert_eq!(status, 404, "{error}");
    error_of(&error);
    let (status, error) = post_json(&client, &service.url("/v1/nothing"), &json!({})).await;
    assert_eq!(status, 404, "{error}");
    error_of(&error);

    // Under the default limit of 1 MiB, a ~500 KiB valid body is stored.
    let mut big = sync_finished_body("pulp-big", "success", 1);
    let packages: serde_json::Map<String, Value> = (0..10_000)
        .map(|i| (format!("package-{i:05}"), json!("x".repeat(32))))
        .collect();
    big["summary"] = Value::Object(packages);
    let big_text = serde_json::to_string(&big).unwrap();
    assert!(
        (450_000..700_000).contains(&big_text.len()),
        "{}",
        big_text.len()
    );
    let (status, ack) = post_raw(
        &client,
        &service.url("/v1/events/repo-sync-finished"),
        big_text.clone(),
    )
    .await;
    assert_eq!(status, 202, "{ack}");
    let messages = stored(&bus).await;
    assert_eq!(messages.len(), 1);
    let stored_body: Value = serde_json::from_slice(&messages[0].payload).unwrap();
    assert_eq!(stored_body, big);
    service.stop().await;

    // 413 over a small limit.
    let small = start_service(
        &bus,
        ServiceConfig {
            body_limit: 1024,
            ..ServiceConfig::default()
        },
    )
    .await;
    let mut body = sync_finished_body("pulp-f16", "success", 0);
    body["summary"] = json!({"padding": "p".repeat(2000)});
    let text = serde_json::to_string(&body).unwrap();
    assert!(text.len() > 2000);
    let (status, error) = post_raw(
        &client,
        &small.url("/v1/events/repo-sync-finished"),
        text.clone(),
    )
    .await;
    assert_eq!(status, 413, "{error}");
    assert!(error_of(&error).contains("1024"), "{error}");
    // Also on the Pulp 2 route.
    let notice = json!({"event_type": "repo.sync.finish", "payload": body});
    let (status, error) = post_json(&client, &small.url("/v1/pulp2"), &notice).await;
    assert_eq!(status, 413, "{error}");
    error_of(&error);
    // A small body still passes.
    let (status, ack) = post_json(
        &client,
        &small.url("/v1/events/repo-sync-started"),
        &json!({"repo_id": "pulp-f17"}),
    )
    .await;
    assert_eq!(status, 202, "{ack}");
    assert_eq!(stored(&bus).await.len(), 2, "the 413s stored nothing");
    small.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_is_required_when_configured() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let service = start_service(
        &bus,
        ServiceConfig {
            bearer_token: Some("s3cret-token".into()),
            ..ServiceConfig::default()
        },
    )
    .await;
    let client = http();
    let url = service.url("/v1/events/repo-sync-started");
    let body = json!({"repo_id": "pulp-f17"});
    let cases: [(Option<&str>, u16); 4] = [
        (None, 401),
        (Some("Bearer wrong"), 401),
        (Some("Basic czNjcmV0LXRva2Vu"), 401),
        (Some("Bearer s3cret-token"), 202),
    ];
    for (authorization, want) in cases {
        let mut request = client.post(&url).json(&body);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let (status, headers, answer_body) = send("POST", request).await;
        assert_eq!(status, want, "{authorization:?}: {answer_body}");
        if want == 401 {
            error_of(&answer_body);
            assert_eq!(
                headers.get("www-authenticate").map(|v| v.to_str().unwrap()),
                Some("Bearer"),
                "401 without a Bearer challenge"
            );
        }
    }
    // The ingest token guards ingest only: reading the history is
    // `Access::Read`, open unless read credentials are configured (see
    // tests/dashboard.rs for read protection).
    let (status, events) = get(&client, &service.url("/v1/events")).await;
    assert_eq!(status, 200, "{events}");
    assert_eq!(events.as_array().unwrap().len(), 1);
    // Health checks are open.
    assert_eq!(get(&client, &service.url("/healthz")).await.0, 200);
    assert_eq!(stored(&bus).await.len(), 1, "only the authorized POST");
    service.stop().await;
}

/// A concrete path for a route's pattern (its path parameters filled in).
fn concrete(path: &str) -> String {
    path.replace("{type}", "repo-sync-started")
        .replace("{seq}", "1")
        .replace("{file}", "app.js")
        .replace("{id}", "0123456789abcdef")
}

/// The `Authorization` values a route's group accepts, and a wrong one of
/// the same scheme.
fn credentials(access: Access) -> (&'static str, &'static str) {
    match access {
        // base64("pulp:n0tifier"), base64("pulp:wrong")
        Access::Pulp2Basic => ("Basic cHVscDpuMHRpZmllcg==", "Basic cHVscDp3cm9uZw=="),
        Access::Bearer => ("Bearer s3cret-token", "Bearer wrong"),
        Access::Read => ("Bearer r3ad-token", "Bearer wrong"),
        Access::Public => ("", ""),
    }
}

/// Every route of the protected groups, whatever it is, answers 401 without
/// its credentials (or with another group's); the public group is exactly
/// the health checks, so adding to it means changing this test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protected_route_answers_401_without_its_credentials() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let service = start_service(
        &bus,
        ServiceConfig {
            bearer_token: Some("s3cret-token".into()),
            pulp2_basic_auth: Some(("pulp".into(), "n0tifier".into())),
            read_token: Some("r3ad-token".into()),
            ..ServiceConfig::default()
        },
    )
    .await;
    let client = http();

    let public: Vec<String> = ROUTES
        .iter()
        .filter(|r| r.access == Access::Public)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        public,
        [
            "GET /",
            "GET /assets/{file}",
            "GET /healthz",
            "GET /readyz",
            "GET /metrics",
            "GET /openapi.json"
        ],
        "a route without credentials must be a deliberate choice"
    );
    for route in ROUTES.iter().filter(|r| r.access == Access::Public) {
        let request = client.request(route.method.clone(), service.url(&concrete(route.path)));
        let (status, _, body) = send(route.path, request).await;
        assert_eq!(status, 200, "{} {}: {body}", route.method, route.path);
    }

    let protected: Vec<_> = ROUTES
        .iter()
        .filter(|r| r.access != Access::Public)
        .collect();
    assert!(protected.len() >= 3, "{protected:?}");
    // A body the route would take, so that only the credentials are wrong.
    let body_for = |access: Access| match access {
        Access::Pulp2Basic => pulp2_notice("repo.sync.start", json!({"repo_id": "pulp-f17"})),
        _ => json!({"repo_id": "pulp-f17"}),
    };
    for route in &protected {
        let what = format!("{} {}", route.method, route.path);
        let url = service.url(&concrete(route.path));
        assert!(
            !url.contains('{'),
            "{what}: fill its parameter in concrete()"
        );
        let (_, wrong) = credentials(route.access);
        let others = protected
            .iter()
            .filter(|r| r.access != route.access)
            .map(|r| credentials(r.access).0);
        let attempts: Vec<Option<&str>> = [None, Some(wrong)]
            .into_iter()
            .chain(others.map(Some))
            .collect();
        for authorization in attempts {
            let mut request = client
                .request(route.method.clone(), &url)
                .json(&body_for(route.access));
            if let Some(value) = authorization {
                request = request.header("Authorization", value);
            }
            let (status, headers, answer) = send(&what, request).await;
            assert_eq!(status, 401, "{what} with {authorization:?}: {answer}");
            assert!(
                error_of(&answer).contains("bearer token")
                    || error_of(&answer).contains("basic auth")
                    || error_of(&answer).contains("user or password"),
                "{what}: {answer}"
            );
            let challenge = headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_else(|| panic!("{what}: 401 without WWW-Authenticate"));
            match route.access {
                Access::Bearer | Access::Read => assert_eq!(challenge, "Bearer", "{what}"),
                Access::Pulp2Basic => assert!(challenge.starts_with("Basic "), "{what}"),
                Access::Public => unreachable!(),
            }
        }
    }
    assert_eq!(stored(&bus).await.len(), 0, "no 401 stores anything");

    // With the right credentials each one gets past the layer.
    for route in &protected {
        let what = format!("{} {}", route.method, route.path);
        let request = client
            .request(route.method.clone(), service.url(&concrete(route.path)))
            .header("Authorization", credentials(route.access).0)
            .json(&body_for(route.access));
        if route.path == "/v1/stream" {
            // A live stream never ends: its status is the answer.
            let response = within(30, &what, request.send()).await.expect(&what);
            assert_eq!(response.status(), 200, "{what}");
            continue;
        }
        let (status, _, answer) = send(&what, request).await;
        if route.path.starts_with("/v1/webhooks") || route.path.starts_with("/v1/operations") {
            // The handler answered (the body is no endpoint spec or claim,
            // and the endpoint or operation does not exist): past the layer
            // all the same.
            assert!(status != 401 && status != 403, "{what}: {status} {answer}");
            continue;
        }
        assert!((200..300).contains(&status), "{what}: {status} {answer}");
    }
    service.stop().await;
}

// ---------------------------------------------------------------------------
// 4. NATS down: 503, readiness
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_gives_503_naming_the_deadline_and_readyz_follows() {
    let mut nats = server().await;
    let config = BusConfig::new(nats.url())
        .publish_deadline(Duration::from_secs(2))
        .duplicate_window(Duration::from_secs(120));
    let bus = connect_with(config).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();
    let url = service.url("/v1/events/repo-sync-started");
    let body = json!({"repo_id": "pulp-f17"});

    assert_eq!(get(&client, &service.url("/readyz")).await.0, 200);
    let (status, ack) = post_json(&client, &url, &body).await;
    assert_eq!(status, 202, "{ack}");
    let before_id = ack["event_id"].as_str().unwrap().to_owned();

    nats.kill();

    // Readiness goes down, health stays up.
    let (status, error) = get(&client, &service.url("/readyz")).await;
    assert_eq!(status, 503, "{error}");
    error_of(&error);
    assert_eq!(get(&client, &service.url("/healthz")).await.0, 200);

    // A POST after the kill: 503 within ~5 s, naming the deadline.
    let started = Instant::now();
    let (status, error) = post_keyed(&client, &url, "while-down-1", &body).await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{error}");
    assert!(took < Duration::from_secs(5), "503 took {took:?}");
    assert!(
        took >= Duration::from_millis(1900),
        "the publish retried until the deadline: {took:?}"
    );
    let message = error_of(&error);
    assert!(
        message.contains("2s") && message.contains("while-down-1"),
        "the error names the deadline and the event: {message}"
    );
    // One without a key: its generated ID is in the message.
    let (status, error) = post_json(&client, &url, &body).await;
    assert_eq!(status, 503, "{error}");
    // The server was down before the POST: the event was never sent.
    let message = error_of(&error);
    assert!(message.contains("not stored"), "{message}");
    let unkeyed = message
        .split_once("event ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no event id in {error}"))
        .to_owned();
    assert_eq!(get(&client, &service.url("/healthz")).await.0, 200);
    assert_eq!(get(&client, &service.url("/readyz")).await.0, 503);
    // The history cannot be read either: 503, not 400.
    let (status, error) = get(&client, &service.url("/v1/events")).await;
    assert_eq!(status, 503, "{error}");
    error_of(&error);

    within(30, "restart nats-server", nats.restart())
        .await
        .expect("restart");

    // Ready again within 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = get(&client, &service.url("/readyz")).await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {status} 10 s after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(&client, &service.url("/healthz")).await.0, 200);

    // The retry with the same key is safe: exactly one copy in the stream.
    let (status, ack) = post_keyed(&client, &url, "while-down-1", &body).await;
    assert_eq!(status, 202, "{ack}");
    // Give anything the client had buffered while disconnected time to land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored_ids = ce_ids(&stored(&bus).await);
    assert_eq!(
        stored_ids
            .iter()
            .filter(|id| **id == "while-down-1")
            .count(),
        1,
        "{stored_ids:?}"
    );
    assert!(
        stored_ids.contains(&before_id),
        "the 202 before the kill survives SIGKILL: {stored_ids:?}"
    );
    // The POSTs were sent only after the kill, so an event answered with
    // 503 must not show up in the stream later.
    assert!(
        !stored_ids.contains(&unkeyed),
        "event {unkeyed} was answered 503 but is stored: {stored_ids:?}"
    );
    service.stop().await;
}

// ---------------------------------------------------------------------------
// 5. POST /v1/pulp2
// ---------------------------------------------------------------------------

const PULP_TASK_ID: &str = "7744e2df-39b9-46f0-bb10-feffa2f7014b";

fn pulp2_notice(event_type: &str, payload: Value) -> Value {
    json!({
        "event_type": event_type,
        "payload": payload,
        "call_report": {
            "task_id": PULP_TASK_ID,
            "state": "finished",
            "spawned_tasks": [],
            "result": null
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulp2_notifier_bodies_become_typed_events() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();
    let url = service.url("/v1/pulp2");
    let cases = [
        ("repo.sync.start", EventType::RepoSyncStarted),
        ("repo.sync.finish", EventType::RepoSyncFinished),
        ("repo.publish.start", EventType::RepoPublishStarted),
        ("repo.publish.finish", EventType::RepoPublishFinished),
    ];
    let mut acks = Vec::new();
    for (pulp_type, event_type) in cases {
        let payload = event_type.examples()[0].clone();
        let (status, ack) =
            post_json(&client, &url, &pulp2_notice(pulp_type, payload.clone())).await;
        assert_eq!(
            status, 200,
            "{pulp_type}: Pulp 2 logs anything but 200: {ack}"
        );
        let keys: Vec<&str> = ack
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["event_id", "subject", "stream", "seq"], "{ack}");
        acks.push((event_type, payload, ack));
    }
    let messages = stored(&bus).await;
    assert_eq!(messages.len(), 4);
    for (message, (event_type, payload, ack)) in messages.iter().zip(&acks) {
        assert_eq!(header(&message.headers, "ce-type"), event_type.as_str());
        assert_eq!(
            Some(header(&message.headers, "ce-id").as_str()),
            ack["event_id"].as_str()
        );
        assert_eq!(message.sequence, ack["seq"].as_u64().unwrap());
        assert_eq!(
            header(&message.headers, "ce-pulptaskid"),
            PULP_TASK_ID,
            "call_report.task_id is the pulptaskid extension"
        );
        let body: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(&body, payload, "the payload is stored, not the notice");
        let event = Event::decode(event_type.as_str(), &message.payload).unwrap();
        assert_eq!(event.event_type(), *event_type);
    }

    // Pulp 2.8.0's double encoding, with an Idempotency-Key: stored once.
    let notice = pulp2_notice("repo.sync.start", json!({"repo_id": "pulp-f18"}));
    let twice = serde_json::to_string(&notice.to_string()).unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let request = client
            .post(&url)
            .header("Idempotency-Key", "pulp2-retry-1")
            .header("content-type", "application/json")
            .body(twice.clone());
        let (status, _, ack) = send("POST", request).await;
        assert_eq!(status, 200, "{ack}");
        assert_eq!(ack["event_id"], "pulp2-retry-1");
        answers.push(ack);
    }
    assert!(answers[0].get("duplicate").is_none(), "{}", answers[0]);
    assert_eq!(answers[1]["duplicate"], true, "{}", answers[1]);
    assert_eq!(answers[0]["seq"], answers[1]["seq"]);
    let messages = stored(&bus).await;
    assert_eq!(messages.len(), 5);
    assert_eq!(header(&messages[4].headers, "ce-id"), "pulp2-retry-1");
    assert_eq!(header(&messages[4].headers, "ce-subject"), "pulp-f18");

    // Unknown event type, missing payload, invalid payload, malformed JSON.
    let (status, error) = post_json(
        &client,
        &url,
        &pulp2_notice("repo.delete", json!({"repo_id": "x"})),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error_of(&error).contains("repo.delete") && error_of(&error).contains("$.event_type"),
        "{error}"
    );
    let (status, error) = post_json(
        &client,
        &url,
        &pulp2_notice("repo-sync-started", json!({"repo_id": "x"})),
    )
    .await;
    assert_eq!(
        status, 400,
        "a repobus type is not a Pulp 2 event type: {error}"
    );
    let (status, error) = post_json(&client, &url, &json!({"event_type": "repo.sync.start"})).await;
    assert_eq!(status, 400, "{error}");
    assert!(error_of(&error).contains("$.payload"), "{error}");
    let (status, error) = post_json(&client, &url, &json!({"payload": {"repo_id": "x"}})).await;
    assert_eq!(status, 400, "{error}");
    assert!(error_of(&error).contains("$.event_type"), "{error}");
    let mut bad = sync_finished_body("pulp-f16", "exploded", 0);
    bad["added_count"] = json!(-1);
    let (status, error) = post_json(&client, &url, &pulp2_notice("repo.sync.finish", bad)).await;
    assert_eq!(status, 400, "{error}");
    let message = error_of(&error);
    assert!(
        message.starts_with("repo-sync-finished: ") && message.contains("$.payload.result"),
        "{message}"
    );
    let (status, error) = post_raw(&client, &url, "{not json").await;
    assert_eq!(status, 400, "{error}");
    assert!(error_of(&error).contains("malformed JSON"), "{error}");
    assert_eq!(stored(&bus).await.len(), 5, "errors store nothing");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulp2_basic_auth_is_required_when_configured() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let service = start_service(
        &bus,
        ServiceConfig {
            pulp2_basic_auth: Some(("pulp".into(), "n0tifier".into())),
            ..ServiceConfig::default()
        },
    )
    .await;
    let client = http();
    let url = service.url("/v1/pulp2");
    let notice = pulp2_notice("repo.sync.start", json!({"repo_id": "pulp-f17"}));
    let attempts: [(Option<(&str, &str)>, u16); 4] = [
        (None, 401),
        (Some(("pulp", "wrong")), 401),
        (Some(("other", "n0tifier")), 401),
        (Some(("pulp", "n0tifier")), 200),
    ];
    for (credentials, want) in attempts {
        let mut request = client.post(&url).json(&notice);
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        let (status, headers, body) = send("POST", request).await;
        assert_eq!(status, want, "{credentials:?}: {body}");
        if want == 401 {
            error_of(&body);
            let challenge = headers.get("www-authenticate").map(|v| v.to_str().unwrap());
            assert!(
                challenge.is_some_and(|c| c.starts_with("Basic ")),
                "{challenge:?}"
            );
        }
    }
    // A bearer token is not basic auth.
    let (status, _, body) = send(
        "POST",
        client.post(&url).bearer_auth("n0tifier").json(&notice),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    // /v1/events is not behind the Pulp 2 credentials.
    let (status, ack) = post_json(
        &client,
        &service.url("/v1/events/repo-sync-started"),
        &json!({"repo_id": "pulp-f18"}),
    )
    .await;
    assert_eq!(status, 202, "{ack}");
    assert_eq!(stored(&bus).await.len(), 2);
    service.stop().await;
}

// ---------------------------------------------------------------------------
// 6. GET /v1/events
// ---------------------------------------------------------------------------

fn events_url(service: &Service, pairs: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params(&service.url("/v1/events"), pairs)
        .unwrap()
        .to_string()
}

async fn search(client: &reqwest::Client, service: &Service, pairs: &[(&str, &str)]) -> Vec<Value> {
    let (status, body) = get(client, &events_url(service, pairs)).await;
    assert_eq!(status, 200, "{pairs:?}: {body}");
    body.as_array()
        .unwrap_or_else(|| panic!("not an array: {body}"))
        .clone()
}

/// Query parameters and the words the error must contain.
type BadQuery = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

fn field<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().map(|e| &e[name]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_search_over_http() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let publisher = bus.publisher();
    let bodies: Vec<(&str, Value)> = vec![
        (
            "repo-sync-finished",
            sync_finished_body("repo-a", "success", 3),
        ),
        (
            "repo-sync-finished",
            sync_finished_body("repo-b", "failed", 0),
        ),
        (
            "repo-sync-finished",
            sync_finished_body("repo-c", "success", 7),
        ),
        ("repo-sync-started", json!({"repo_id": "repo-a"})),
        (
            "build-chroot-ended",
            EventType::BuildChrootEnded.examples()[0].clone(),
        ),
        (
            "repo-publish-finished",
            EventType::RepoPublishFinished.examples()[0].clone(),
        ),
    ];
    for (topic, body) in &bodies {
        let event = Event::decode(topic, body.to_string().as_bytes()).unwrap();
        within(30, "publish", publisher.publish(&event))
            .await
            .unwrap();
    }
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();

    let all = search(&client, &service, &[]).await;
    assert_eq!(all.len(), 6);
    for event in &all {
        for key in ["type", "status", "summary", "subject", "event_id", "time"] {
            assert!(event.get(key).is_some(), "{key} missing in {event}");
        }
    }

    let found = search(
        &client,
        &service,
        &[
            (
                "filters",
                r#"{"type": "repo-sync-finished", "result": "success"}"#,
            ),
            ("sort", "added_count,descending"),
            ("limit", "1"),
            ("fields", "repo_id,added_count"),
        ],
    )
    .await;
    assert_eq!(found, [json!({"repo_id": "repo-c", "added_count": 7})]);

    let found = search(
        &client,
        &service,
        &[
            ("filters", r#"{"repo_id": {"$regex": "^repo-"}}"#),
            ("sort", "type,ascending"),
            ("sort", "repo_id,descending"),
            ("fields", "type,repo_id"),
        ],
    )
    .await;
    assert_eq!(
        found,
        [
            json!({"type": "repo-sync-finished", "repo_id": "repo-c"}),
            json!({"type": "repo-sync-finished", "repo_id": "repo-b"}),
            json!({"type": "repo-sync-finished", "repo_id": "repo-a"}),
            json!({"type": "repo-sync-started", "repo_id": "repo-a"}),
        ]
    );

    let found = search(
        &client,
        &service,
        &[
            ("filters", r#"{"added_count": {"$gte": 1}}"#),
            ("skip", "1"),
            ("sort", "added_count"),
        ],
    )
    .await;
    assert_eq!(field(&found, "repo_id"), [&json!("repo-c")]);

    let found = search(
        &client,
        &service,
        &[("filters", r#"{"project_owner": "kbaig"}"#)],
    )
    .await;
    assert_eq!(field(&found, "type"), [&json!("build-chroot-ended")]);

    assert_eq!(
        search(&client, &service, &[("since", "P1D")]).await.len(),
        6
    );
    assert_eq!(
        search(
            &client,
            &service,
            &[("since", "PT1H"), ("filters", r#"{"result": "failed"}"#)]
        )
        .await
        .len(),
        1
    );
    assert!(search(&client, &service, &[("after", "2100-01-01T00:00Z")])
        .await
        .is_empty());
    assert!(search(&client, &service, &[("before", "2000-01-01")])
        .await
        .is_empty());
    assert_eq!(
        search(
            &client,
            &service,
            &[
                ("after", "2000-01-01T00:00Z"),
                ("before", "2100-01-01T00:00Z")
            ]
        )
        .await
        .len(),
        6
    );

    let bad: [BadQuery; 7] = [
        (&[("filters", "{")], &["not valid JSON"]),
        (&[("filters", r#"{"a": {"$foo": 1}}"#)], &["$foo"]),
        (
            &[("filters", r#"{"repo_id": {"$regex": "("}}"#)],
            &["does not compile"],
        ),
        (&[("after", "2012-13-01")], &["after", "month 13"]),
        (&[("colour", "red")], &["colour", "unknown parameter"]),
        (&[("sort", "a,sideways")], &["sideways"]),
        (&[("limit", "-1")], &["limit"]),
    ];
    for (pairs, needles) in bad {
        let (status, error) = get(&client, &events_url(&service, pairs)).await;
        assert_eq!(status, 400, "{pairs:?}: {error}");
        let message = error_of(&error);
        for needle in needles {
            assert!(message.contains(needle), "{pairs:?}: {message}");
        }
    }
    service.stop().await;
}

// ---------------------------------------------------------------------------
// 7. Graceful shutdown
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_posts_in_flight() {
    let mut nats = server().await;
    let config = BusConfig::new(nats.url()).publish_deadline(Duration::from_secs(20));
    let bus = connect_with(config).await;
    let mut service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();
    let url = service.url("/v1/events/repo-sync-started");

    // Some POSTs stored before anything happens.
    for i in 0..3 {
        let (status, ack) =
            post_json(&client, &url, &json!({"repo_id": format!("early-{i}")})).await;
        assert_eq!(status, 202, "{ack}");
    }

    // Hold the next POSTs in flight: NATS is down, so they retry.
    nats.kill();
    let mut in_flight = Vec::new();
    for i in 0..5 {
        let client = client.clone();
        let url = url.clone();
        in_flight.push(tokio::spawn(async move {
            let response = client
                .post(&url)
                .json(&json!({"repo_id": format!("in-flight-{i}")}))
                .send()
                .await;
            match response {
                Ok(r) => {
                    let (status, _, body) = answer(r).await;
                    Some((status, body))
                }
                Err(_) => None,
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Shut down while they wait, then let NATS come back.
    let _ = service.shutdown.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !service.task.is_finished(),
        "serve returned while requests were in flight"
    );
    within(30, "restart nats-server", nats.restart())
        .await
        .unwrap();

    let mut accepted = Vec::new();
    for task in in_flight {
        let result = within(40, "in-flight POST", task).await.unwrap();
        let (status, body) = result.expect("an in-flight POST got no answer");
        assert_eq!(status, 202, "in-flight POSTs are finished: {body}");
        accepted.push(body["event_id"].as_str().unwrap().to_owned());
    }
    within(30, "serve returns", &mut service.task)
        .await
        .unwrap()
        .unwrap();
    // New connections are refused once it stopped.
    assert!(within(
        10,
        "POST after shutdown",
        client.post(&url).json(&json!({"repo_id": "late"})).send()
    )
    .await
    .is_err());

    let stored_ids = ce_ids(&stored(&bus).await);
    assert_eq!(stored_ids.len(), 8, "{stored_ids:?}");
    for id in &accepted {
        assert!(stored_ids.contains(id), "202 for {id} but not stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_a_burst_loses_no_accepted_event() {
    let nats = server().await;
    let bus = connect_default(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();
    let url = service.url("/v1/events/repo-sync-started");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 2)).await;
            match client
                .post(&url)
                .json(&json!({"repo_id": format!("burst-{i}")}))
                .send()
                .await
            {
                Ok(r) => Some(answer(r).await),
                Err(_) => None,
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    service.stop().await;
    let mut accepted = Vec::new();
    for task in tasks {
        if let Some((status, _, body)) = within(30, "POST", task).await.unwrap() {
            assert_eq!(status, 202, "{body}");
            accepted.push(body["event_id"].as_str().unwrap().to_owned());
        }
    }
    let stored_ids = ce_ids(&stored(&bus).await);
    for id in &accepted {
        assert!(stored_ids.contains(id), "202 for {id} but not stored");
    }
    assert_eq!(
        stored_ids.len(),
        accepted.len(),
        "nothing stored without a 202"
    );
}
