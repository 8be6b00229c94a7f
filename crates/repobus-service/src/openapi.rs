//! The OpenAPI 3.1 description of the HTTP API, generated from the
//! handlers' `#[utoipa::path]` annotations, served at `GET /openapi.json`
//! and committed as `docs/openapi.json` (the test `openapi_drift` in
//! `crates/repobus-service/tests/openapi.rs` fails when the two differ;
//! `REPOBUS_BLESS=1 cargo test -p repobus-service --test openapi` rewrites
//! the file).
//!
//! `POST /v1/events/{type}` is described as one path per event type
//! (`/v1/events/repo-sync-started`, ...), each with the request body
//! referencing that type's generated JSON Schema (the same schema the
//! service validates with, as in `schemas/`), so a client generator or a
//! fuzzer gets the exact body of every type.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use repobus::EventType;

/// The answer to a stored event: `202` of `POST /v1/events/{type}`, `200`
/// of `POST /v1/pulp2` (the library's [`repobus::bus::PublishAck`]).
#[derive(ToSchema)]
#[schema(as = PublishAck)]
#[allow(dead_code)] // a description only
pub(crate) struct PublishAckDoc {
    /// The event ID (`ce-id` and `Nats-Msg-Id`).
    event_id: String,
    /// The subject it was published on.
    subject: String,
    /// The stream that stored it.
    stream: String,
    /// Its sequence number in that stream.
    #[schema(minimum = 0)]
    seq: u64,
    /// Present and true when the stream already had an event with this ID.
    #[schema(nullable = false)]
    duplicate: Option<bool>,
}

/// Every error answer: `{"error": "..."}`.
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // a description only
pub(crate) struct ErrorDoc {
    /// What is wrong.
    error: String,
}

/// `GET /healthz` and `GET /readyz`: `{"status": "ok"|"ready"}`.
#[derive(ToSchema)]
#[schema(as = Status)]
#[allow(dead_code)] // a description only
pub(crate) struct StatusDoc {
    /// `ok` or `ready`.
    status: String,
}

/// Adds the security schemes the annotations name.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`--bearer-token`: required by the ingest and management routes when configured",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "read_bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`--read-token`: required by the read routes when configured (also accepted as `?access_token=`, for EventSource)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "read_basic",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "`--read-basic-auth USER:PASS`: the read routes' alternative to the read token",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "pulp2_basic",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "`--pulp2-user`/`--pulp2-password`: Pulp 2's notifier, when configured",
                    ))
                    .build(),
            ),
        );
    }
}

/// The routes of `lib.rs` and this crate's modules.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "repobus",
        description = "Typed Pulp and Copr repository and build events on NATS JetStream: HTTP ingest, Pulp 2's notifier endpoint, history search, health and metrics.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        crate::post_event,
        crate::get_events,
        crate::post_pulp2,
        crate::healthz,
        crate::readyz,
        crate::metrics::get_metrics,
        get_openapi,
    ),
    components(schemas(PublishAckDoc, ErrorDoc, StatusDoc)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "bearer", description = "Routes that need `--bearer-token` when one is configured: ingest and management"),
        (name = "read", description = "Routes that need `--read-token` or `--read-basic-auth` when configured: history, views and the live stream"),
        (name = "pulp2", description = "Pulp 2's HTTP notifier, with `--pulp2-user`/`--pulp2-password` when configured"),
        (name = "public", description = "Routes anyone may call: health, metrics, this document and the dashboard's page"),
    )
)]
pub(crate) struct CoreApi;

/// The whole API as utoipa's document, before the event paths are
/// expanded ([`document`]).
///
/// Other modules of this crate describe their routes in a
/// `pub(crate) struct XxxApi` deriving [`utoipa::OpenApi`]; each is merged
/// here with one line, e.g.
/// `api.merge(crate::webhooks::WebhooksApi::openapi());`.
pub(crate) fn api() -> utoipa::openapi::OpenApi {
    #[allow(unused_mut)]
    let mut api = CoreApi::openapi();
    // Merge the other modules' documents here, one line each:
    api.merge(crate::views::DashboardApi::openapi());
    api.merge(crate::webhooks::WebhooksApi::openapi());
    api.merge(crate::operations::OperationsApi::openapi());
    api
}

/// The OpenAPI 3.1 document of the service, as served at `/openapi.json`.
///
/// # Examples
///
/// ```
/// let doc = repobus_service::openapi::document();
/// assert_eq!(doc["openapi"], "3.1.0");
/// assert!(doc["paths"]["/v1/events/repo-sync-started"]["post"].is_object());
/// ```
pub fn document() -> Value {
    let mut doc = serde_json::to_value(api()).unwrap_or_else(|_| json!({}));
    expand_event_paths(&mut doc);
    apply_access(&mut doc);
    doc
}

/// [`document`] as pretty JSON with a final newline: the bytes of
/// `docs/openapi.json`.
///
/// # Examples
///
/// ```
/// let text = repobus_service::openapi::render();
/// assert!(text.ends_with("}\n"));
/// ```
pub fn render() -> String {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
        text.push('\n');
        text
    })
    .clone()
}

/// Sets every operation's `security` and its one tag from the route's
/// [`Access`](crate::Access) in [`ROUTES`](crate::ROUTES), the table the
/// router enforces, so the document cannot promise other credentials than
/// the layers check. Credentials are needed only when configured, hence the
/// empty requirement `{}` beside the scheme.
fn apply_access(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for route in crate::ROUTES {
        let (tag, schemes): (&str, &[&str]) = match route.access {
            crate::Access::Public => ("public", &[]),
            crate::Access::Bearer => ("bearer", &["bearer"]),
            crate::Access::Read => ("read", &["read_bearer", "read_basic"]),
            crate::Access::Pulp2Basic => ("pulp2", &["pulp2_basic"]),
        };
        let method = route.method.as_str().to_ascii_lowercase();
        let targets: Vec<String> = if route.path.contains("{type}") {
            EventType::ALL
                .iter()
                .map(|t| route.path.replace("{type}", t.as_str()))
                .collect()
        } else {
            vec![route.path.to_owned()]
        };
        for path in targets {
            let Some(op) = paths
                .get_mut(&path)
                .and_then(|item| item.get_mut(&method))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            op.insert("tags".into(), json!([tag]));
            if schemes.is_empty() {
                op.remove("security");
            } else {
                let mut security = vec![json!({})];
                security.extend(schemes.iter().map(|s| json!({ *s: [] })));
                op.insert("security".into(), Value::Array(security));
            }
        }
    }
}

/// Replaces `/v1/events/{type}` by one path per event type whose request
/// body references that type's schema, and adds the schemas.
fn expand_event_paths(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(template) = paths.get("/v1/events/{type}").cloned() else {
        return;
    };
    let mut expanded = Map::new();
    for (path, item) in std::mem::take(paths) {
        if path != "/v1/events/{type}" {
            expanded.insert(path, item);
            continue;
        }
        for event_type in EventType::ALL {
            let id = event_type.as_str();
            let mut item = template.clone();
            if let Some(post) = item.get_mut("post").and_then(Value::as_object_mut) {
                post.insert(
                    "operationId".into(),
                    json!(format!("post_{}", id.replace('-', "_"))),
                );
                post.insert("summary".into(), json!(format!("Publish one `{id}` event")));
                if let Some(params) = post.get_mut("parameters").and_then(Value::as_array_mut) {
                    params.retain(|p| p["in"] != "path");
                }
                post.insert(
                    "requestBody".into(),
                    json!({
                        "description": format!("The wire body of a `{id}` event (schemas/{}).", repobus::schema::file_name(event_type)),
                        "required": true,
                        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{id}")}}}
                    }),
                );
            }
            expanded.insert(format!("/v1/events/{id}"), item);
        }
    }
    *paths = expanded;
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for event_type in EventType::ALL {
            let mut schema = event_type.schema();
            if let Some(object) = schema.as_object_mut() {
                object.remove("$schema");
                object.remove("$id");
            }
            schemas.insert(event_type.as_str().to_owned(), schema);
        }
    }
}

/// This document: the OpenAPI 3.1 description of the HTTP API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "get_openapi",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object)),
)]
pub(crate) async fn get_openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        render(),
    )
        .into_response()
}
