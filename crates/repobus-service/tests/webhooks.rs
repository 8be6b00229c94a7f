//! The webhook management API against a private nats-server, with a relay
//! and a real receiver for the end-to-end case.

use std::time::{Duration, Instant};

use repobus_service::ServiceConfig;
use repobus_testkit::*;
use serde_json::{json, Value};

mod common;
use common::start_service;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn error_of(body: &Value) -> String {
    body["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn endpoints_are_managed_over_http_with_clear_errors() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(
        &bus,
        ServiceConfig {
            bearer_token: Some("tok".into()),
            ..ServiceConfig::default()
        },
    )
    .await;
    let client = http();
    let post = |body: Value| {
        client
            .post(service.url("/v1/webhooks"))
            .bearer_auth("tok")
            .json(&body)
    };
    let (status, _) = send(client.get(service.url("/v1/webhooks"))).await;
    assert_eq!(status, 401, "bearer token required");
    let (status, created) = send(post(json!({
        "id": "cdn-purge",
        "url": "https://hooks.example.com/purge",
        "subjects": ["repobus.repo.publish.finished.>"],
        "retry_schedule": "5s,5m",
    })))
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["retry_schedule"], "5s,5m");
    assert_eq!(created["timeout"], "15s");
    let (status, body) = send(post(
        json!({"id": "cdn-purge", "url": "https://example.com/"}),
    ))
    .await;
    assert_eq!(status, 409, "{body}");
    for (body, field) in [
        (
            json!({"id": "m", "url": "http://169.254.169.254/latest"}),
            "url:",
        ),
        (json!({"id": "m", "url": "http://127.0.0.1/"}), "url:"),
        (
            json!({"id": "m", "url": "https://e.com/", "secret": "whsec_@@"}),
            "secret:",
        ),
        (
            json!({"id": "m", "url": "https://e.com/", "retry_schedule": "1y"}),
            "retry_schedule:",
        ),
        (
            json!({"id": "m", "url": "https://e.com/", "filters": {"$nope": 1}}),
            "filters:",
        ),
        (
            json!({"id": "m", "url": "https://e.com/", "subjects": ["x.>"]}),
            "subjects[0]:",
        ),
        (
            json!({"id": "m", "url": "https://e.com/", "colour": "blue"}),
            "colour",
        ),
        (
            json!({"id": "m", "url": "https://e.com/", "timeout": 15}),
            "timeout:",
        ),
        (json!({"id": "a/b", "url": "https://e.com/"}), "id:"),
        // IDs that cannot be NATS KV keys: a 400, not a NATS error (503).
        (json!({"id": ".exe", "url": "https://e.com/"}), "id:"),
        (json!({"id": "exe.", "url": "https://e.com/"}), "id:"),
        (json!({"id": "a..b", "url": "https://e.com/"}), "id:"),
    ] {
        let (status, answer) = send(post(body.clone())).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(error_of(&answer).contains(field), "{body} -> {answer}");
    }
    let (status, answer) = send(
        client
            .post(service.url("/v1/webhooks"))
            .bearer_auth("tok")
            .body("{not json"),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, list) = send(client.get(service.url("/v1/webhooks")).bearer_auth("tok")).await;
    assert_eq!(status, 200);
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1, "{list}");
    assert!(
        !list.to_string().contains(&secret),
        "listings never show the secret"
    );
    let one = service.url("/v1/webhooks/cdn-purge");
    let (status, shown) = send(client.get(&one).bearer_auth("tok")).await;
    assert_eq!(status, 200);
    assert!(shown.get("secret").is_none());
    let (status, answer) = send(
        client
            .patch(&one)
            .bearer_auth("tok")
            .json(&json!({"retry_schedule": "nope"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&answer).starts_with("retry_schedule:"), "{answer}");
    let (status, patched) = send(
        client
            .patch(&one)
            .bearer_auth("tok")
            .json(&json!({"enabled": false, "timeout": "2s"})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["timeout"], "2s");
    assert_eq!(patched["disabled"]["reason"], "disabled by an operator");
    let (status, _) = send(
        client
            .patch(&one)
            .bearer_auth("tok")
            .json(&json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let replay = service.url("/v1/webhooks/cdn-purge/replay");
    let (status, answer) = send(client.post(&replay).bearer_auth("tok").json(&json!({}))).await;
    assert_eq!(status, 400);
    assert!(error_of(&answer).starts_with("since:"), "{answer}");
    let (status, answer) = send(
        client
            .post(&replay)
            .bearer_auth("tok")
            .json(&json!({"after": "yesterday"})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = send(
        client
            .post(&replay)
            .bearer_auth("tok")
            .json(&json!({"since": "PT1H", "before": "2999-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert!(answer["replay"]["from"].is_string());
    let (status, answer) = send(
        client
            .get(service.url("/v1/webhooks/cdn-purge/attempts?limit=0"))
            .bearer_auth("tok"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_of(&answer).starts_with("limit:"), "{answer}");
    // The documented bounds are 1..10000; beyond them, and a limit that is
    // not a number, are 400s with a JSON error naming `limit`.
    for query in ["limit=10001", "limit=-1", "limit=many"] {
        let (status, answer) = send(
            client
                .get(service.url(&format!("/v1/webhooks/cdn-purge/attempts?{query}")))
                .bearer_auth("tok"),
        )
        .await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(error_of(&answer).contains("limit"), "{query}: {answer}");
    }
    let (status, answer) = send(
        client
            .get(service.url("/v1/webhooks/cdn-purge/attempts?limit=10000"))
            .bearer_auth("tok"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // No endpoint can have an ID that is not a KV key, so asking for one
    // is a 404 (it was a 503 carrying the KV client's error).
    for id in [".exe", "exe.", "a..b"] {
        let url = service.url(&format!("/v1/webhooks/{id}"));
        for request in [
            client.get(&url),
            client.delete(&url),
            client.patch(&url).json(&json!({})),
            client.get(format!("{url}/attempts")),
            client
                .post(format!("{url}/replay"))
                .json(&json!({"since": "PT1H"})),
        ] {
            let (status, answer) = send(request.bearer_auth("tok")).await;
            assert_eq!(status, 404, "{id}: {answer}");
        }
    }
    let (status, _) = send(client.delete(&one).bearer_auth("tok")).await;
    assert_eq!(status, 204);
    for request in [
        client.get(&one),
        client.delete(&one),
        client.patch(&one).json(&json!({})),
        client.get(service.url("/v1/webhooks/cdn-purge/attempts")),
        client.post(&replay).json(&json!({"since": "PT1H"})),
    ] {
        let (status, answer) = send(request.bearer_auth("tok")).await;
        assert_eq!(status, 404, "{answer}");
        assert!(error_of(&answer).contains("cdn-purge"), "{answer}");
    }
    service.stop().await;
}

#[tokio::test]
async fn an_endpoint_created_over_http_receives_events_and_its_attempts_are_readable() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(
        &bus,
        ServiceConfig {
            webhooks_allow_private_targets: true,
            ..ServiceConfig::default()
        },
    )
    .await;
    let relay = repobus_webhooks::relay::Relay::new(
        &bus,
        repobus_webhooks::relay::RelayOptions {
            allow_private_targets: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tokio::spawn(relay.run(std::future::pending()));
    // A receiver answering 503 with Retry-After 0 once, then 200.
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "0")],
                    "busy",
                )
            } else {
                (axum::http::StatusCode::OK, [("retry-after", "0")], "thanks")
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = http();
    let (status, created) = send(client.post(service.url("/v1/webhooks")).json(&json!({
        "id": "local",
        "url": format!("http://{addr}/hook"),
        "retry_schedule": "100ms,100ms",
    })))
    .await;
    assert_eq!(status, 201, "{created}");
    let ack = bus
        .publisher()
        .publish(&sync_started("pulp-f17"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let attempts = loop {
        let (status, answer) = send(client.get(service.url("/v1/webhooks/local/attempts"))).await;
        assert_eq!(status, 200);
        let attempts = answer["attempts"].as_array().cloned().unwrap_or_default();
        if attempts.len() == 2 {
            break attempts;
        }
        assert!(Instant::now() < deadline, "attempts: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(attempts[0]["event_id"], ack.event_id.as_str());
    assert_eq!(attempts[0]["status"], 503);
    assert_eq!(attempts[0]["outcome"], "retry");
    assert_eq!(attempts[0]["response"], "busy");
    assert_eq!(attempts[1]["attempt"], 2);
    assert_eq!(attempts[1]["status"], 200);
    assert_eq!(attempts[1]["outcome"], "delivered");
    service.stop().await;
}
