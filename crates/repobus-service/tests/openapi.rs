//! The OpenAPI document: committed at `docs/openapi.json` and identical to
//! what the code generates (drift check), served at `GET /openapi.json`,
//! and covering every route of [`ROUTES`].
//!
//! After changing a route or its annotations, regenerate the file with
//! `REPOBUS_BLESS=1 cargo test -p repobus-service --test openapi`.

use repobus::EventType;
use repobus_service::{ServiceConfig, ROUTES};
use serde_json::Value;

use repobus_testkit::*;

mod common;
use common::start_service;

fn committed_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn openapi_drift() {
    let generated = repobus_service::openapi::render();
    let path = committed_path();
    if std::env::var_os("REPOBUS_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("docs/")).expect("create docs/");
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is not what the code generates; regenerate it with \
         `REPOBUS_BLESS=1 cargo test -p repobus-service --test openapi` and commit it"
    );
}

#[test]
fn openapi_covers_every_route() {
    let doc = repobus_service::openapi::document();
    assert_eq!(doc["openapi"], "3.1.0");
    for route in ROUTES {
        let method = route.method.as_str().to_ascii_lowercase();
        let paths: Vec<String> = if route.path.contains("{type}") {
            EventType::ALL
                .iter()
                .map(|t| route.path.replace("{type}", t.as_str()))
                .collect()
        } else {
            vec![route.path.to_owned()]
        };
        for path in paths {
            let op = &doc["paths"][&path][&method];
            assert!(
                op.is_object(),
                "{method} {path} is not in the OpenAPI document"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
        }
    }
    // Each event path's body is that type's generated schema.
    for event_type in EventType::ALL {
        let id = event_type.as_str();
        let op = &doc["paths"][format!("/v1/events/{id}")]["post"];
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{id}")
        );
        let mut schema = event_type.schema();
        schema.as_object_mut().unwrap().remove("$schema");
        schema.as_object_mut().unwrap().remove("$id");
        assert_eq!(doc["components"]["schemas"][id], schema);
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["pulp2_basic"]["scheme"], "basic");
}

#[tokio::test]
async fn openapi_is_served() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(&bus, ServiceConfig::default()).await;
    let response = within(
        30,
        "GET /openapi.json",
        reqwest::get(service.url("/openapi.json")),
    )
    .await
    .expect("GET /openapi.json");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.expect("JSON");
    assert_eq!(served, repobus_service::openapi::document());
    service.stop().await;
}
