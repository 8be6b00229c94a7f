//! The dashboard's JSON APIs and page over HTTP against a real
//! nats-server: `/v1/repos`, `/v1/builds`, `/v1/stats`, `/v1/detail/{seq}`,
//! the page and its assets, read protection separate from ingest, and the
//! base path.

mod common;

use std::time::Duration;

use repobus::events::{BuildChroot, CoprStatus};
use repobus::{Event, EventType};
use repobus_service::ServiceConfig;
use repobus_testkit::*;
use serde_json::{json, Value};

use common::start_service;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn get(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = within(30, "GET", request.send()).await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn finished(repo: &str, result: &str) -> Event {
    Event::from_value(
        EventType::RepoSyncFinished,
        sync_finished_body(repo, result, 2),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_answer_repos_builds_stats_and_detail() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let p = bus.publisher();
    p.publish(&sync_started("f40")).await.unwrap();
    p.publish(&finished("f40", "failed")).await.unwrap();
    p.publish(&sync_started("busy")).await.unwrap();
    let ended = BuildChroot::builder(7, "@copr", "tools", "fedora-40-x86_64")
        .package("pkg", "1-1")
        .ended(CoprStatus::Failed);
    let build_ack = p.publish(&ended.into()).await.unwrap();
    let client = http();

    let (status, repos) = get(client.get(service.url("/v1/repos"))).await;
    assert_eq!(status, 200, "{repos}");
    assert_eq!(
        (repos["syncing"].as_u64(), repos["publishing"].as_u64()),
        (Some(1), Some(0))
    );
    let rows = repos["repos"].as_array().unwrap();
    assert_eq!(rows[0]["repo_id"], "busy");
    assert_eq!(rows[0]["sync"]["in_progress"], true);
    assert_eq!(rows[1]["sync"]["last_finished"]["result"], "failed");

    let (status, builds) = get(client.get(service.url("/v1/builds?owner=@copr&since=P1D"))).await;
    assert_eq!(status, 200, "{builds}");
    let project = &builds["projects"][0];
    assert_eq!(project["project"], "tools");
    assert_eq!(project["failures"]["fedora-40-x86_64"], 1);
    assert_eq!(
        project["builds"][0]["chroots"]["fedora-40-x86_64"]["status"],
        "failed"
    );

    let (status, stats) = get(client.get(service.url("/v1/stats?since=P1D"))).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["total"], 4);
    assert_eq!(stats["failed"], 2);
    assert_eq!(stats["failure_rate"], 1.0);
    let (_, default) = get(client.get(service.url("/v1/stats"))).await;
    assert_eq!(default["bucket_seconds"], 3600);

    let (status, detail) =
        get(client.get(service.url(&format!("/v1/detail/{}", build_ack.seq)))).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["record"]["build_id"], 7);
    let body: Value = serde_json::from_str(detail["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["build"], 7, "the wire body, as Copr sends it");

    // Bad input: 400 or 404 with a message naming what is wrong.
    for (path, want, needle) in [
        ("/v1/stats?since=yesterday", 400, "since"),
        ("/v1/stats?window=P1D", 400, "window"),
        ("/v1/builds?since=P", 400, "since"),
        ("/v1/builds?builds=many", 400, "builds"),
        ("/v1/detail/abc", 400, "abc"),
        ("/v1/detail/99999", 404, "99999"),
        // Found by schemathesis: NATS answers sequence 0 with an error.
        ("/v1/detail/0", 404, "0"),
    ] {
        let (status, error) = get(client.get(service.url(path))).await;
        assert_eq!(status, want, "{path}: {error}");
        let message = error["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {error}"));
        assert!(message.contains(needle), "{path}: {message}");
    }
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_compiled_in() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let client = http();
    let page = client.get(service.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.headers().contains_key("content-security-policy"));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<base href="/">"#), "{html}");
    for (asset, kind) in [("app.js", "text/javascript"), ("app.css", "text/css")] {
        let response = client
            .get(service.url(&format!("/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        let text = response.text().await.unwrap();
        assert!(text.len() > 1000, "{asset} is the real asset");
        assert!(
            !text.contains("https://") || asset == "app.js",
            "no CDN in {asset}"
        );
    }
    let (status, error) = get(client.get(service.url("/assets/../lib.rs"))).await;
    assert_eq!(status, 404, "{error}");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_access_is_separate_from_ingest() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(
        &bus,
        ServiceConfig {
            bearer_token: Some("ingest-token".into()),
            read_token: Some("read-token".into()),
            read_basic_auth: Some(("viewer".into(), "s3e".into())),
            ..ServiceConfig::default()
        },
    )
    .await;
    let client = http();
    let post = |token: &str| {
        client
            .post(service.url("/v1/events/repo-sync-started"))
            .bearer_auth(token)
            .json(&json!({"repo_id": "r"}))
    };
    // The read token does not grant ingest.
    assert_eq!(get(post("read-token")).await.0, 401);
    assert_eq!(get(post("ingest-token")).await.0, 202);
    for path in [
        "/v1/events",
        "/v1/repos",
        "/v1/builds",
        "/v1/stats",
        "/v1/detail/1",
    ] {
        // Neither nothing nor the ingest token grants read.
        let (status, error) = get(client.get(service.url(path))).await;
        assert_eq!(status, 401, "{path}: {error}");
        let (status, _) = get(client.get(service.url(path)).bearer_auth("ingest-token")).await;
        assert_eq!(status, 401, "{path} with the ingest token");
        let (status, _) = get(client
            .get(service.url(path))
            .basic_auth("viewer", Some("wrong")))
        .await;
        assert_eq!(status, 401, "{path} with a wrong password");
        // The read token, as a header or (for EventSource) a parameter, or
        // the read basic auth does.
        let (status, body) = get(client.get(service.url(path)).bearer_auth("read-token")).await;
        assert_eq!(status, 200, "{path}: {body}");
        let (status, body) =
            get(client.get(service.url(&format!("{path}?access_token=read-token")))).await;
        assert_eq!(status, 200, "{path}: {body}");
        let (status, body) = get(client
            .get(service.url(path))
            .basic_auth("viewer", Some("s3e")))
        .await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    // The live stream too (its status; the body never ends).
    let stream = |request: reqwest::RequestBuilder| async move {
        within(30, "stream", request.send())
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(stream(client.get(service.url("/v1/stream"))).await, 401);
    assert_eq!(
        stream(
            client
                .get(service.url("/v1/stream"))
                .bearer_auth("ingest-token")
        )
        .await,
        401
    );
    assert_eq!(
        stream(client.get(service.url("/v1/stream?access_token=read-token"))).await,
        200
    );
    // The page holds no data: it is open, and asks for the token.
    assert_eq!(get(client.get(service.url("/"))).await.0, 200);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_moves_under_the_base_path() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(
        &bus,
        ServiceConfig {
            base_path: "/repobus/".into(),
            ..ServiceConfig::default()
        },
    )
    .await;
    let client = http();
    for page in ["/repobus", "/repobus/"] {
        let (status, html) = get(client.get(service.url(page))).await;
        assert_eq!(status, 200, "{page}");
        assert!(html
            .as_str()
            .unwrap()
            .contains(r#"<base href="/repobus/">"#));
    }
    assert_eq!(
        get(client.get(service.url("/repobus/assets/app.js")))
            .await
            .0,
        200
    );
    assert_eq!(
        get(client.get(service.url("/repobus/v1/repos"))).await.0,
        200
    );
    assert_eq!(
        get(client.get(service.url("/repobus/healthz"))).await.0,
        200
    );
    let (status, ack) = get(client
        .post(service.url("/repobus/v1/events/repo-sync-started"))
        .json(&json!({"repo_id": "r"})))
    .await;
    assert_eq!(status, 202, "{ack}");
    assert_eq!(get(client.get(service.url("/v1/repos"))).await.0, 404);
    assert_eq!(get(client.get(service.url("/"))).await.0, 404);
    service.stop().await;
}
