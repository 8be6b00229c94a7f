//! The HTTP ingest service: producers in any language POST events; repobus
//! answers only after the JetStream ack.
//!
//! | route | who may call | what |
//! | --- | --- | --- |
//! | `POST /v1/events/{type}` | bearer token | publish one event; body = the wire body; `202` |
//! | `GET /v1/events?filters=...` | read credentials | search the history (see [`repobus::history`]) |
//! | `GET /v1/repos`, `/v1/builds`, `/v1/stats`, `/v1/detail/{seq}` | read credentials | the dashboard's views (see [`repobus::overview`]) |
//! | `GET /v1/stream` | read credentials | live events as server-sent events, resumable with `Last-Event-ID` |
//! | `GET /`, `GET /assets/{file}` | anyone | the dashboard page (it holds no data; its API calls need read credentials) |
//! | `POST /v1/pulp2` | basic auth | what Pulp 2's http notifier POSTs; `200` |
//! | `POST /v1/operations`, `GET /v1/operations[/{id}]`, `POST /v1/operations/{id}/lease\|progress\|finish\|cancel` | bearer token | reservations, progress and cancellation ([`repobus::operations`]) |
//! | `GET /healthz` | anyone | the process is up |
//! | `GET /readyz` | anyone | NATS connected and the stream reachable |
//! | `GET /metrics` | anyone | Prometheus metrics ([`metrics`]) |
//! | `GET /openapi.json` | anyone | the OpenAPI 3.1 description ([`openapi`]) |
//!
//! [`ROUTES`] is that table in code: [`router`] is built from it, and the
//! credentials a route needs are checked by a layer over its whole group,
//! never by the handler. A route needs credentials only when they are
//! configured ([`ServiceConfig::bearer_token`],
//! [`ServiceConfig::pulp2_basic_auth`]).
//!
//! `POST /v1/pulp2` takes the body exactly as Pulp 2's http notifier sends
//! it: the notifier document `{"event_type", "payload", "call_report"}`,
//! as a JSON object or as the JSON string holding it (Pulp 2.8.0 encodes it
//! twice); see [`repobus::events::wire::Pulp2Notification`]. It answers
//! `200` (Pulp logs an error for any other status) and carries the
//! `call_report`'s `task_id` on the stored event as the CloudEvents
//! extension `pulptaskid` (NATS header `ce-pulptaskid`).
//!
//! Both POSTs answer the same JSON object, [`repobus::bus::PublishAck`]:
//! `{"event_id", "subject", "stream", "seq"}`, plus `"duplicate": true`
//! when the stream already had the event. An `Idempotency-Key` header sets
//! the event ID, so a retried POST is stored once.
//!
//! Errors are `{"error": "..."}` ([`ApiError`]) with status 400 (malformed
//! JSON, schema violation, bad criteria or parameters), 401 (missing or
//! wrong credentials, with `WWW-Authenticate`), 404 (unknown type or
//! route), 413 (body over the limit), 422 (NATS refused the event for good)
//! or 503 (NATS cannot take the event or answer the search).

#![warn(missing_docs)]

mod operations;

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

use repobus::bus::{PublishAck, PublishError, PublishOptions, Publisher};
use repobus::events::wire::Pulp2Notification;
use repobus::events::{EventType, UnknownEventType};
use repobus::history::{self, HistoryError, HistoryQuery};
use repobus::overview::OverviewError;
use repobus::{DecodeError, Event};

mod connection;
mod dashboard;
pub mod metrics;
pub mod openapi;
mod sse;
mod views;

mod webhooks;

pub use connection::DEFAULT_WRITE_TIMEOUT;
pub use sse::{DEFAULT_SSE_BUFFER, STALL_TIMEOUT};

/// The default largest request body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Settings of the HTTP service.
///
/// # Examples
///
/// ```
/// use repobus_service::{ServiceConfig, DEFAULT_BODY_LIMIT};
///
/// let config = ServiceConfig {
///     bearer_token: Some("s3cret-token".into()),
///     pulp2_basic_auth: Some(("pulp".into(), "n0tifier".into())),
///     ..ServiceConfig::default()
/// };
/// assert_eq!(config.body_limit, DEFAULT_BODY_LIMIT);
/// ```
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// When set, the [`Access::Bearer`] routes (`/v1/events`) require
    /// `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// When set, the [`Access::Pulp2Basic`] route (`/v1/pulp2`) requires
    /// HTTP basic auth with this user and password (what Pulp 2's notifier
    /// sends when its `username` and `password` are configured).
    pub pulp2_basic_auth: Option<(String, String)>,
    /// When set, the [`Access::Read`] routes (history, overview views, the
    /// live stream) accept `Authorization: Bearer <token>` (or
    /// `?access_token=<token>`, for `EventSource`). Separate from
    /// [`ServiceConfig::bearer_token`]: neither grants the other.
    pub read_token: Option<String>,
    /// When set, the [`Access::Read`] routes accept HTTP basic auth with
    /// this user and password (what a browser asks for).
    pub read_basic_auth: Option<(String, String)>,
    /// The path prefix the service is mounted under behind a reverse proxy
    /// (`/repobus`), or empty for the root.
    pub base_path: String,
    /// Events buffered per `/v1/stream` client: a client that falls this
    /// far behind is disconnected (it resumes with `Last-Event-ID`).
    pub sse_buffer: usize,
    /// Accept loopback, link-local and private webhook targets on
    /// `POST /v1/webhooks` (when the relay allows them too).
    pub webhooks_allow_private_targets: bool,
    /// [`serve`] closes a connection whose writes make no progress for
    /// this long (a client that stopped reading; the clock restarts with
    /// every byte written, so a slow reader is not affected). Default
    /// [`DEFAULT_WRITE_TIMEOUT`]; zero turns it off. Not applied by
    /// [`router`], which leaves the connections to whoever serves it.
    pub write_timeout: std::time::Duration,
}

impl Default for ServiceConfig {
    /// The default body limit, no credentials required.
    fn default() -> Self {
        ServiceConfig {
            body_limit: DEFAULT_BODY_LIMIT,
            bearer_token: None,
            pulp2_basic_auth: None,
            read_token: None,
            read_basic_auth: None,
            base_path: String::new(),
            sse_buffer: sse::DEFAULT_SSE_BUFFER,
            webhooks_allow_private_targets: false,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the health checks. A route here is a deliberate choice.
    Public,
    /// Holders of [`ServiceConfig::bearer_token`], when one is configured.
    Bearer,
    /// Pulp 2's notifier with [`ServiceConfig::pulp2_basic_auth`], when
    /// configured.
    Pulp2Basic,
    /// Readers of the history and the views: holders of
    /// [`ServiceConfig::read_token`] or [`ServiceConfig::read_basic_auth`],
    /// when either is configured.
    Read,
}

/// One route of the service: its method, its path (axum syntax, `{type}`
/// is a path parameter) and who may call it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path, with `{name}` for a path parameter.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The handler, given the method filter made from `method`.
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

/// Every route of the service. [`router`] is built from this table, and
/// each route goes into the group of its [`Access`], whose layer checks
/// the credentials before any handler runs: a route cannot be added
/// without saying who may call it.
///
/// # Examples
///
/// ```
/// use repobus_service::{Access, ROUTES};
///
/// let public: Vec<_> = ROUTES
///     .iter()
///     .filter(|r| r.access == Access::Public)
///     .map(|r| r.path)
///     .collect();
/// assert_eq!(public, ["/", "/assets/{file}", "/healthz", "/readyz", "/metrics", "/openapi.json"]);
/// ```
pub const ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/v1/events/{type}",
        access: Access::Bearer,
        handler: |m| on(m, post_event),
    },
    Route {
        method: Method::GET,
        path: "/v1/events",
        access: Access::Read,
        handler: |m| on(m, get_events),
    },
    Route {
        method: Method::GET,
        path: "/v1/repos",
        access: Access::Read,
        handler: |m| on(m, views::get_repos),
    },
    Route {
        method: Method::GET,
        path: "/v1/builds",
        access: Access::Read,
        handler: |m| on(m, views::get_builds),
    },
    Route {
        method: Method::GET,
        path: "/v1/stats",
        access: Access::Read,
        handler: |m| on(m, views::get_stats),
    },
    Route {
        method: Method::GET,
        path: "/v1/detail/{seq}",
        access: Access::Read,
        handler: |m| on(m, views::get_detail),
    },
    Route {
        method: Method::GET,
        path: "/v1/stream",
        access: Access::Read,
        handler: |m| on(m, sse::get_stream),
    },
    Route {
        method: Method::GET,
        path: "/",
        access: Access::Public,
        handler: |m| on(m, dashboard::index),
    },
    Route {
        method: Method::GET,
        path: "/assets/{file}",
        access: Access::Public,
        handler: |m| on(m, dashboard::asset),
    },
    Route {
        method: Method::POST,
        path: "/v1/pulp2",
        access: Access::Pulp2Basic,
        handler: |m| on(m, post_pulp2),
    },
    Route {
        method: Method::POST,
        path: "/v1/webhooks",
        access: Access::Bearer,
        handler: |m| on(m, webhooks::create),
    },
    Route {
        method: Method::GET,
        path: "/v1/webhooks",
        access: Access::Bearer,
        handler: |m| on(m, webhooks::list),
    },
    Route {
        method: Method::GET,
        path: "/v1/webhooks/{id}",
        access: Access::Bearer,
        handler: |m| on(m, webhooks::show),
    },
    Route {
        method: Method::PATCH,
        path: "/v1/webhooks/{id}",
        access: Access::Bearer,
        handler: |m| on(m, webhooks::patch),
    },
    Route {
        method: Method::DELETE,
        path: "/v1/webhooks/{id}",
        access: Access::Bearer,
        handler: |m| on(m, webhooks::remove),
    },
    Route {
        method: Method::POST,
        path: "/v1/webhooks/{id}/replay",
        access: Access::Bearer,
        handler: |m| on(m, webhooks::replay),
    },
    Route {
        method: Method::GET,
        path: "/v1/webhooks/{id}/attempts",
        access: Access::Bearer,
        handler: |m| on(m, webhooks::attempts),
    },
    Route {
        method: Method::POST,
        path: "/v1/operations",
        access: Access::Bearer,
        handler: |m| on(m, operations::post_operation),
    },
    Route {
        method: Method::GET,
        path: "/v1/operations",
        access: Access::Bearer,
        handler: |m| on(m, operations::get_operations),
    },
    Route {
        method: Method::GET,
        path: "/v1/operations/{id}",
        access: Access::Bearer,
        handler: |m| on(m, operations::get_operation),
    },
    Route {
        method: Method::POST,
        path: "/v1/operations/{id}/lease",
        access: Access::Bearer,
        handler: |m| on(m, operations::post_lease),
    },
    Route {
        method: Method::POST,
        path: "/v1/operations/{id}/progress",
        access: Access::Bearer,
        handler: |m| on(m, operations::post_progress),
    },
    Route {
        method: Method::POST,
        path: "/v1/operations/{id}/finish",
        access: Access::Bearer,
        handler: |m| on(m, operations::post_finish),
    },
    Route {
        method: Method::POST,
        path: "/v1/operations/{id}/cancel",
        access: Access::Bearer,
        handler: |m| on(m, operations::post_cancel),
    },
    Route {
        method: Method::GET,
        path: "/healthz",
        access: Access::Public,
        handler: |m| on(m, healthz),
    },
    Route {
        method: Method::GET,
        path: "/readyz",
        access: Access::Public,
        handler: |m| on(m, readyz),
    },
    // Public: bounded labels only, no IDs or payloads; see `metrics`.
    Route {
        method: Method::GET,
        path: "/metrics",
        access: Access::Public,
        handler: |m| on(m, metrics::get_metrics),
    },
    Route {
        method: Method::GET,
        path: "/openapi.json",
        access: Access::Public,
        handler: |m| on(m, openapi::get_openapi),
    },
];

/// What every handler shares. Handlers and layers take it by value
/// (`State<AppState>` clones it for each request, once per extractor), so
/// it is one `Arc`: cloning the publisher's bus configuration, its NATS
/// client handles and the stores' handles on every request cost more than
/// the rest of the ingest path's bookkeeping.
#[derive(Clone)]
struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

struct Shared {
    publisher: Publisher,
    config: Arc<ServiceConfig>,
    /// Becomes true when [`serve`] shuts down: live streams end then, so
    /// that the graceful shutdown does not wait for them forever.
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// The webhook endpoints' store, opened on first use.
    webhooks: Arc<webhooks::WebhookState>,
    /// Operations claimed over HTTP, held for their clients.
    operations: operations::OperationsState,
}

/// The service's routes over `publisher`, as an axum [`Router`] to serve or
/// to nest in a larger application. [`serve`] runs it and also closes the
/// publisher on shutdown; with `router`, call [`Publisher::close`] yourself
/// after the server stops so that every accepted event is flushed.
///
/// # Examples
///
/// ```no_run
/// use repobus::bus::{Bus, BusConfig};
/// use repobus_service::{router, ServiceConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let bus = Bus::connect(BusConfig::new("nats://127.0.0.1:4222")).await?;
/// let publisher = bus.publisher();
/// let app = axum::Router::new().nest("/repobus", router(publisher.clone(), ServiceConfig::default()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await?;
/// publisher.close().await;
/// # Ok(())
/// # }
/// ```
pub fn router(publisher: Publisher, config: ServiceConfig) -> Router {
    // Never shut down from here: the sender is dropped at once, and the
    // live streams stop watching for a shutdown that cannot come.
    let (_, shutdown) = tokio::sync::watch::channel(false);
    router_with(publisher, config, shutdown)
}

fn router_with(
    publisher: Publisher,
    config: ServiceConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Router {
    metrics::install_recorder();
    let limit = config.body_limit;
    let state = AppState(Arc::new(Shared {
        webhooks: Arc::new(webhooks::WebhookState::new(
            publisher.bus().clone(),
            config.webhooks_allow_private_targets,
        )),
        publisher,
        config: Arc::new(config),
        shutdown,
        operations: operations::OperationsState::default(),
    }));
    let group = |access: Access| {
        ROUTES
            .iter()
            .filter(|route| route.access == access)
            .fold(Router::new(), |group, route| {
                let filter = MethodFilter::try_from(route.method.clone())
                    .unwrap_or_else(|e| panic!("{} {}: {e}", route.method, route.path));
                group.route(route.path, (route.handler)(filter))
            })
    };
    let public = group(Access::Public);
    let bearer = group(Access::Bearer).route_layer(middleware::from_fn_with_state(
        state.clone(),
        require_bearer,
    ));
    let pulp2 = group(Access::Pulp2Basic)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_basic));
    let read = group(Access::Read)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_read));
    let base = dashboard::normalize_base_path(&state.config.base_path);
    let app = Router::new()
        .merge(public)
        .merge(bearer)
        .merge(pulp2)
        .merge(read);
    let app = if base.is_empty() {
        app
    } else {
        // `/repobus/` as well as `/repobus` opens the dashboard.
        Router::new()
            .route(&format!("{base}/"), axum::routing::get(dashboard::index))
            .nest(&base, app)
    };
    app.fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(metrics::track_requests))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then finishes
/// the requests in progress and flushes every accepted event
/// ([`Publisher::close`]). A connection whose writes stall for
/// [`ServiceConfig::write_timeout`] is closed.
///
/// # Examples
///
/// ```no_run
/// use repobus::bus::{Bus, BusConfig};
/// use repobus_service::{serve, ServiceConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let bus = Bus::connect(BusConfig::new("nats://127.0.0.1:4222")).await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let config = ServiceConfig {
///     bearer_token: Some("s3cret-token".into()),
///     pulp2_basic_auth: Some(("pulp".into(), "n0tifier".into())),
///     ..ServiceConfig::default()
/// };
/// let shutdown = async {
///     let _ = tokio::signal::ctrl_c().await;
/// };
/// serve(listener, bus.publisher(), config, shutdown).await?;
/// # Ok(())
/// # }
/// ```
pub async fn serve(
    listener: tokio::net::TcpListener,
    publisher: Publisher,
    config: ServiceConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_streams, streams_stop) = tokio::sync::watch::channel(false);
    let listener = connection::TimeoutListener {
        inner: listener,
        write_timeout: config.write_timeout,
    };
    let app = router_with(publisher.clone(), config, streams_stop);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_streams.send(true);
        })
        .await;
    publisher.close().await;
    result
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// An error answer: a status and the body `{"error": message}`.
///
/// Every error a handler meets converts into one with `?`; the status is
/// decided here, by the error's kind, not in the handlers.
///
/// # Examples
///
/// ```
/// use axum::http::StatusCode;
/// use repobus::{Event, EventType};
/// use repobus_service::ApiError;
///
/// let bad = Event::decode("repo-sync-started", br#"{"repo_id": "a b"}"#).unwrap_err();
/// let error = ApiError::from(bad);
/// assert_eq!(error.status(), StatusCode::BAD_REQUEST);
/// assert!(error.message().contains("$.repo_id"));
///
/// let unknown = "repo-sync-exploded".parse::<EventType>().unwrap_err();
/// assert_eq!(ApiError::from(unknown).status(), StatusCode::NOT_FOUND);
/// ```
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// The `WWW-Authenticate` challenge of a 401.
    challenge: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            challenge: None,
        }
    }

    fn unauthorized(challenge: &'static str, message: &str) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: message.to_owned(),
            challenge: Some(challenge),
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message of the answer's `error` member.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// A body that does not decode: 400.
impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
    }
}

/// An event type in the path that is none of the six: 404.
impl From<UnknownEventType> for ApiError {
    fn from(e: UnknownEventType) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, e.to_string())
    }
}

/// Bad criteria or parameters: 400; NATS cannot answer: 503.
impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> Self {
        let status = match &e {
            HistoryError::Criteria(_)
            | HistoryError::Time { .. }
            | HistoryError::Since(_)
            | HistoryError::Number { .. } => StatusCode::BAD_REQUEST,
            HistoryError::Subscribe(_) | HistoryError::Read { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        ApiError::new(status, e.to_string())
    }
}

/// A bad event ID: 400; refused for good by NATS: 422; NATS busy,
/// unreachable or too slow: 503.
impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        let status = match &e {
            PublishError::Envelope(_) => StatusCode::BAD_REQUEST,
            PublishError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PublishError::Send { .. } => StatusCode::SERVICE_UNAVAILABLE,
            PublishError::BufferFull { .. }
            | PublishError::Closed
            | PublishError::Deadline { .. }
            | PublishError::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

/// A bad window or parameter: 400; no such event: 404; NATS cannot
/// answer: 503.
impl From<OverviewError> for ApiError {
    fn from(e: OverviewError) -> Self {
        let status = match &e {
            OverviewError::Query(_) => StatusCode::BAD_REQUEST,
            OverviewError::NotFound(_) => StatusCode::NOT_FOUND,
            OverviewError::Subscribe(_) | OverviewError::Stream { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        ApiError::new(status, e.to_string())
    }
}

/// A path that does not parse (axum's status, our body).
impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(rejection.status(), rejection.body_text())
    }
}

/// A query string that does not parse (axum's status, our body).
impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(rejection.status(), rejection.body_text())
    }
}

// ---------------------------------------------------------------------------
// Authentication: layers over the groups of ROUTES
// ---------------------------------------------------------------------------

const BEARER_CHALLENGE: &str = "Bearer";
const BASIC_CHALLENGE: &str = "Basic realm=\"repobus pulp2\", charset=\"UTF-8\"";

async fn require_bearer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check_bearer(&state.config, request.headers())?;
    Ok(next.run(request).await)
}

async fn require_basic(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check_basic(&state.config, request.headers())?;
    Ok(next.run(request).await)
}

async fn require_read(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    check_read(&state.config, request.headers(), request.uri().query())?;
    let mut request = request;
    strip_access_token(&mut request);
    Ok(next.run(request).await)
}

const READ_CHALLENGE: &str = "Basic realm=\"repobus read\", charset=\"UTF-8\"";

/// The read routes: open unless a read token or read basic auth is
/// configured; then either one (the ingest token never).
fn check_read(
    config: &ServiceConfig,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), ApiError> {
    if config.read_token.is_none() && config.read_basic_auth.is_none() {
        return Ok(());
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = &config.read_token {
        let given = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)
            .or_else(|| query_param(query?, "access_token"));
        if given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return Ok(());
        }
    }
    if let Some((user, password)) = &config.read_basic_auth {
        let expected = format!("{user}:{password}");
        if basic_credentials(headers)
            .is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes()))
        {
            return Ok(());
        }
    }
    let challenge = if config.read_basic_auth.is_some() {
        READ_CHALLENGE
    } else {
        BEARER_CHALLENGE
    };
    Err(ApiError::unauthorized(
        challenge,
        if authorization.is_some() {
            "wrong read token or basic auth credentials"
        } else {
            "missing read credentials (read token or basic auth)"
        },
    ))
}

/// Removes `access_token` from the query, so that a handler's own
/// parameters are all it sees.
fn strip_access_token(request: &mut Request) {
    let Some(query) = request.uri().query() else {
        return;
    };
    if !query
        .split('&')
        .any(|p| p.split('=').next() == Some("access_token"))
    {
        return;
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| p.split('=').next() != Some("access_token"))
        .collect();
    let path = request.uri().path();
    let rebuilt = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    if let Ok(uri) = rebuilt.parse() {
        *request.uri_mut() = uri;
    }
}

/// One parameter of a query string, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query);
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(&format!("/?{query}").parse().unwrap_or_default())
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}

fn basic_credentials(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
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
        None => Err(ApiError::unauthorized(
            BEARER_CHALLENGE,
            "missing bearer token",
        )),
        Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            BEARER_CHALLENGE,
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
        None => Err(ApiError::unauthorized(
            BASIC_CHALLENGE,
            "missing basic auth credentials",
        )),
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            BASIC_CHALLENGE,
            "wrong user or password",
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---------------------------------------------------------------------------
// Extractors
// ---------------------------------------------------------------------------

/// The request body, within [`ServiceConfig::body_limit`].
struct Body(Bytes);

impl FromRequest<AppState> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        format!(
                            "request body is larger than the limit of {} bytes",
                            state.config.body_limit
                        ),
                    )
                } else {
                    ApiError::new(status, rejection.body_text())
                }
            })
    }
}

/// The `Idempotency-Key` header: the event ID to publish with.
struct IdempotencyKey(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get("idempotency-key") {
            None => Ok(IdempotencyKey(None)),
            Some(value) => value
                .to_str()
                .map(|key| IdempotencyKey(Some(key.to_owned())))
                .map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Idempotency-Key must be printable ASCII",
                    )
                }),
        }
    }
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

#[utoipa::path(
    post,
    path = "/v1/events/{type}",
    tag = "events",
    operation_id = "post_event",
    description = "Publishes one event; answers after the JetStream ack.",
    params(
        ("type" = String, Path, description = "The event type"),
        ("Idempotency-Key" = Option<String>, Header, description = "The event ID: a retried POST with the same key is stored once"),
    ),
    responses(
        (status = 202, description = "Stored (or already stored: `duplicate`)", body = openapi::PublishAckDoc),
        (status = 400, description = "Malformed JSON, schema violation or bad Idempotency-Key", body = openapi::ErrorDoc),
        (status = 401, description = "Missing or wrong bearer token", body = openapi::ErrorDoc),
        (status = 404, description = "Unknown event type", body = openapi::ErrorDoc),
        (status = 413, description = "Body over the limit", body = openapi::ErrorDoc),
        (status = 422, description = "NATS refused the event for good", body = openapi::ErrorDoc),
        (status = 503, description = "NATS cannot take the event now", body = openapi::ErrorDoc),
    ),
    security((), ("bearer" = [])),
)]
async fn post_event(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    IdempotencyKey(id): IdempotencyKey,
    Body(body): Body,
) -> Result<(StatusCode, Json<PublishAck>), ApiError> {
    let Path(event_type) = path?;
    let event_type: EventType = event_type.parse().inspect_err(|_| {
        metrics::record_ingest(None, metrics::IngestOutcome::Invalid);
    })?;
    let event = Event::decode(event_type.as_str(), &body).inspect_err(|_| {
        metrics::record_ingest(Some(event_type), metrics::IngestOutcome::Invalid);
    })?;
    let options = PublishOptions {
        id,
        ..PublishOptions::default()
    };
    let result = state.publisher.publish_with(&event, options).await;
    metrics::record_ingest(Some(event_type), metrics::IngestOutcome::of(&result));
    Ok((StatusCode::ACCEPTED, Json(result?)))
}

#[utoipa::path(
    post,
    path = "/v1/pulp2",
    tag = "pulp2",
    operation_id = "post_pulp2",
    description = "What Pulp 2's http notifier POSTs: the notifier document, as a JSON object or as the JSON string holding it (Pulp 2.8.0 encodes it twice).",
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "The event ID: a retried POST with the same key is stored once"),
    ),
    request_body(
        content = Object,
        content_type = "application/json",
        description = "`{\"event_type\", \"payload\", \"call_report\"}` (or a JSON string holding it)",
    ),
    responses(
        (status = 200, description = "Stored (Pulp logs an error for any other status)", body = openapi::PublishAckDoc),
        (status = 400, description = "Not a notifier document of a known event type", body = openapi::ErrorDoc),
        (status = 401, description = "Missing or wrong basic auth credentials", body = openapi::ErrorDoc),
        (status = 413, description = "Body over the limit", body = openapi::ErrorDoc),
        (status = 422, description = "NATS refused the event for good", body = openapi::ErrorDoc),
        (status = 503, description = "NATS cannot take the event now", body = openapi::ErrorDoc),
    ),
    security((), ("pulp2_basic" = [])),
)]
async fn post_pulp2(
    State(state): State<AppState>,
    IdempotencyKey(id): IdempotencyKey,
    Body(body): Body,
) -> Result<Json<PublishAck>, ApiError> {
    let notification = Pulp2Notification::decode(&body).inspect_err(|_| {
        metrics::record_ingest(None, metrics::IngestOutcome::Invalid);
    })?;
    let options = PublishOptions {
        id,
        pulp_task_id: notification.task_id,
    };
    let event_type = notification.event.event_type();
    let result = state
        .publisher
        .publish_with(&notification.event, options)
        .await;
    metrics::record_ingest(Some(event_type), metrics::IngestOutcome::of(&result));
    // 200: Pulp 2's notifier logs an error for any other status.
    Ok(Json(result?))
}

#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    operation_id = "get_events",
    description = "Searches the history (the criteria language of `repobus search`); answers the stored events as records.",
    params(
        ("filters" = Option<String>, Query, description = "JSON criteria, e.g. `{\"result\": \"failed\"}`"),
        ("sort" = Option<String>, Query, description = "`field[,ascending|descending]`; repeatable"),
        ("limit" = Option<String>, Query, pattern = "^[0-9]+$", description = "At most this many events (a number)"),
        ("skip" = Option<String>, Query, pattern = "^[0-9]+$", description = "Skip this many matches first (a number)"),
        ("fields" = Option<String>, Query, description = "Only these fields: `a,b,c`"),
        ("after" = Option<String>, Query, description = "ISO 8601 date-time: events after it"),
        ("before" = Option<String>, Query, description = "ISO 8601 date-time: events before it"),
        ("since" = Option<String>, Query, description = "ISO 8601 duration such as `P1D`: events since then"),
        ("latest_per" = Option<String>, Query, description = "A field such as `repo_id`: only the latest matching event of each of its values"),
    ),
    responses(
        (status = 200, description = "The matching events, as record objects", body = Vec<Object>),
        (status = 400, description = "Bad criteria or parameters", body = openapi::ErrorDoc),
        (status = 401, description = "Missing or wrong bearer token", body = openapi::ErrorDoc),
        (status = 503, description = "NATS cannot answer the search", body = openapi::ErrorDoc),
    ),
    security((), ("bearer" = [])),
)]
async fn get_events(
    State(state): State<AppState>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query?;
    let criteria = query.to_search()?;
    let events = history::search(state.publisher.bus(), &criteria, None).await?;
    Ok(Json(Value::Array(
        events.into_iter().map(Value::Object).collect(),
    )))
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses((status = 200, description = "The process is up", body = openapi::StatusDoc)),
)]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    responses(
        (status = 200, description = "NATS connected and the stream reachable", body = openapi::StatusDoc),
        (status = 503, description = "NATS not connected or the stream not reachable", body = openapi::ErrorDoc),
    ),
)]
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if state.publisher.bus().is_ready().await {
        Ok(Json(json!({"status": "ready"})))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NATS is not connected or the event stream is not reachable",
        ))
    }
}
