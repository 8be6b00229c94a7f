//! The HTTP ingest service (feature `server`): producers in any language
//! POST events; repobus answers `202` only after the JetStream ack.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/events/{type}` | publish one event; body = the wire body |
//! | `POST /v1/pulp2` | what Pulp 2's http notifier POSTs |
//! | `GET /v1/events?filters=...` | search the history (see [`repobus::history`]) |
//! | `GET /healthz` | the process is up |
//! | `GET /readyz` | NATS connected and the stream reachable |
//!
//! Errors are `{"error": "..."}` with status 400 (malformed JSON, schema
//! violation, bad criteria), 401 (missing or wrong credentials), 404
//! (unknown type), 413 (body over the limit) or 503 (NATS cannot take the
//! event). An `Idempotency-Key` header sets the event ID, so a retried POST
//! is stored once.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

use repobus::bus::{Bus, PublishError, PublishOptions, Publisher};
use repobus::events::wire::{resolve_topic, WireForm};
use repobus::events::{Event, EventType};
use repobus::history::{self, HistoryQuery};

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Settings of the HTTP service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// When set, `/v1/events` requires `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// When set, `/v1/pulp2` requires HTTP basic auth with this user and
    /// password (what Pulp 2's notifier sends).
    pub pulp2_basic_auth: Option<(String, String)>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            body_limit: DEFAULT_BODY_LIMIT,
            bearer_token: None,
            pulp2_basic_auth: None,
        }
    }
}

#[derive(Clone)]
struct AppState {
    publisher: Publisher,
    config: Arc<ServiceConfig>,
}

/// An error answer: a status and `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer, Basic"),
            );
        }
        response
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        let status = match &e {
            PublishError::Envelope(_) => StatusCode::BAD_REQUEST,
            PublishError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PublishError::BufferFull { .. }
            | PublishError::Closed
            | PublishError::Deadline { .. }
            | PublishError::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The service's routes over `publisher`.
pub fn router(publisher: Publisher, config: ServiceConfig) -> Router {
    let limit = config.body_limit;
    let state = AppState {
        publisher,
        config: Arc::new(config),
    };
    Router::new()
        .route("/v1/events/{type}", post(post_event))
        .route("/v1/events", get(get_events))
        .route("/v1/pulp2", post(post_pulp2))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes
/// the requests in progress and flushes every accepted event.
pub async fn serve(
    listener: tokio::net::TcpListener,
    publisher: Publisher,
    config: ServiceConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(publisher.clone(), config);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    publisher.close().await;
    result
}

fn body_or_error(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!("request body is larger than the limit of {limit} bytes"),
            )
        } else {
            ApiError::new(status, rejection.body_text())
        }
    })
}

fn check_bearer(config: &ServiceConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &config.bearer_token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing bearer token",
        )),
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong bearer token",
        )),
    }
}

fn check_basic(config: &ServiceConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some((user, password)) = &config.pulp2_basic_auth else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    let expected = format!("{user}:{password}");
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing basic auth credentials",
        )),
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user or password",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value.to_str().map(|s| Some(s.to_owned())).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key must be printable ASCII",
            )
        }),
    }
}

async fn publish(
    state: &AppState,
    event: Event,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let options = PublishOptions {
        id: idempotency_key(headers)?,
        ..PublishOptions::default()
    };
    let ack = state.publisher.publish_with(&event, options).await?;
    Ok((StatusCode::ACCEPTED, Json(ack)).into_response())
}

async fn post_event(
    State(state): State<AppState>,
    Path(event_type): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_bearer(&state.config, &headers)?;
    let event_type: EventType =
        event_type
            .parse()
            .map_err(|e: repobus::events::UnknownEventType| {
                ApiError::new(StatusCode::NOT_FOUND, e.to_string())
            })?;
    let body = body_or_error(body, state.config.body_limit)?;
    let event = Event::decode(event_type.as_str(), &body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    publish(&state, event, &headers).await
}

async fn post_pulp2(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_basic(&state.config, &headers)?;
    let body = body_or_error(body, state.config.body_limit)?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let mut notice: Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("malformed JSON: {e}")))?;
    let event_type = notice
        .get("event_type")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad("$.event_type is required: a Pulp 2 event type such as repo.sync.finish".into())
        })?
        .to_owned();
    match resolve_topic(&event_type) {
        Ok(WireForm::Pulp2(_)) => {}
        _ => {
            return Err(bad(format!(
                "$.event_type: {event_type:?} is not one of repo.sync.start, repo.sync.finish, repo.publish.start, repo.publish.finish"
            )))
        }
    }
    let payload = notice
        .get_mut("payload")
        .map(Value::take)
        .ok_or_else(|| bad("$.payload is required".into()))?;
    let event =
        Event::decode_value(&event_type, payload).map_err(|e| bad(format!("$.payload: {e}")))?;
    publish(&state, event, &headers).await
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.publisher.bus().is_ready().await {
        Json(json!({"status": "ready"})).into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NATS is not connected or the event stream is not reachable",
        )
        .into_response()
    }
}

async fn get_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    check_bearer(&state.config, &headers)?;
    let criteria = query
        .to_search()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let bus: &Bus = state.publisher.bus();
    let events = history::search(bus, &criteria, None)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(Value::Array(
        events.into_iter().map(Value::Object).collect(),
    ))
    .into_response())
}
