//! The operations API: reservations, progress, finish, lease renewal and
//! cancellation over HTTP, for producers in any language (the library's
//! [`repobus::operations`]).
//!
//! The service holds the claim for the HTTP client, with the client's
//! lease: the client renews with `POST /v1/operations/{id}/lease` at least
//! once per lease; a client that stops renewing has its operation finished
//! with result `error` (abandoned), exactly as a process that stops
//! renewing its own claim.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Mutex};

use repobus::bus::{PublishAck, PublishReport, SyncReport};
use repobus::events::PulpResult;
use repobus::operations::{
    check_lease, CancelError, Finish, OperationRecord, OperationRequest, OperationState,
    Operations, OperationsError, Resource, Running, ABANDONED_MESSAGE, DEFAULT_LEASE,
};
use repobus::ResourceId;

use super::{ApiError, AppState, Body};

/// The longest long-poll, in seconds (`wait_seconds`, `?wait=`); the
/// `maximum` of their OpenAPI annotations.
const MAX_WAIT_SECONDS: u64 = 60;

/// The longest lease in seconds ([`repobus::operations::MAX_LEASE`]); the
/// `maximum` of `lease_seconds` in the OpenAPI annotation.
const MAX_LEASE_SECONDS: u64 = 86_400;
const _: () = assert!(MAX_LEASE_SECONDS == repobus::operations::MAX_LEASE.as_secs());

/// A long-poll's wait: at most [`MAX_WAIT_SECONDS`], else 400 naming `field`.
fn wait_of(field: &str, seconds: u64) -> Result<Duration, ApiError> {
    if seconds > MAX_WAIT_SECONDS {
        return Err(bad(format!(
            "{field}: {seconds} is outside 0..={MAX_WAIT_SECONDS}"
        )));
    }
    Ok(Duration::from_secs(seconds))
}

/// What the service holds for one HTTP client's operation.
struct Held {
    /// The lease the client must renew within.
    lease: Duration,
    last_renewal: Instant,
    /// Set when the reservations are granted.
    running: Option<Running>,
    /// Changes when the operation starts or ends (for long-polls).
    changed: watch::Sender<u64>,
}

/// The operations the service holds for HTTP clients, and the bucket.
#[derive(Clone, Default)]
pub(crate) struct OperationsState {
    operations: Arc<tokio::sync::OnceCell<Operations>>,
    held: Arc<Mutex<HashMap<String, Held>>>,
}

impl OperationsState {
    async fn operations(&self, state: &AppState) -> Result<Operations, ApiError> {
        let ops = self
            .operations
            .get_or_try_init(|| async {
                let ops = Operations::open(state.publisher.bus()).await?;
                self.spawn_reaper();
                Ok::<_, OperationsError>(ops)
            })
            .await
            .map_err(from_operations)?;
        Ok(ops.clone())
    }

    /// Finishes the operations whose HTTP client stopped renewing.
    fn spawn_reaper(&self) {
        let held = self.held.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let lapsed: Vec<(String, Option<Running>)> = {
                    let mut map = held.lock().await;
                    let ids: Vec<String> = map
                        .iter()
                        .filter(|(_, h)| h.last_renewal.elapsed() > h.lease)
                        .map(|(id, _)| id.clone())
                        .collect();
                    ids.into_iter()
                        .filter_map(|id| map.remove(&id).map(|h| (id, h.running)))
                        .collect()
                };
                for (id, running) in lapsed {
                    metrics::counter!("repobus_http_operations_lapsed_total").increment(1);
                    if let Some(running) = running {
                        let _ = running
                            .finish(Finish::Error {
                                error_message: format!(
                                    "{ABANDONED_MESSAGE} (the HTTP client stopped renewing its lease)"
                                ),
                                exception: Some("LeaseExpired".into()),
                                traceback: None,
                            })
                            .await;
                    } else {
                        tracing::warn!(operation = %id, "HTTP client stopped renewing a waiting operation");
                    }
                }
            }
        });
    }
}

fn from_operations(e: OperationsError) -> ApiError {
    let status = match e {
        OperationsError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, e.to_string())
}

fn from_cancel(e: CancelError) -> ApiError {
    match e {
        CancelError::Unknown(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
        CancelError::Finished(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        CancelError::Operations(e) => from_operations(e),
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("request body: {e}")))
}

/// Sync or publish.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum KindDoc {
    /// A repository sync.
    Sync,
    /// A repository publish.
    Publish,
}

/// How an operation ended (`POST /v1/operations/{id}/finish`'s `result`).
#[derive(Debug, Clone, Copy, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // a description only
pub(crate) enum ResultDoc {
    /// It succeeded (the report's counts, summary and details apply).
    Success,
    /// It failed (`error_message`, `traceback`).
    Failed,
    /// It broke (`error_message`, `exception`, `traceback`).
    Error,
    /// It was canceled.
    Canceled,
}

/// `POST /v1/operations`: what to reserve.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimRequest {
    /// `sync` or `publish`.
    kind: KindDoc,
    /// The repository (reserved exclusively as `repo:<repo_id>` unless listed in `shared`).
    repo_id: String,
    /// Importer type (sync) or distributor type (publish); default `yum_importer` / `yum_distributor`.
    type_id: Option<String>,
    /// Importer (sync, default the type) or distributor (publish, required).
    component_id: Option<String>,
    /// More resources reserved alone.
    #[serde(default)]
    exclusive: Vec<String>,
    /// Resources reserved shared.
    #[serde(default)]
    shared: Vec<String>,
    /// The lease in whole seconds (default 30, from 1 to 86400): renew at least this often.
    #[schema(minimum = 1, maximum = 86400)]
    lease_seconds: Option<u64>,
    /// Answer as soon as the reservations are granted, or after this many seconds (at most 60) with the operation still waiting.
    #[schema(minimum = 0, maximum = 60)]
    wait_seconds: Option<u64>,
}

/// `GET /v1/operations/{id}?wait=N`: long-poll while it is waiting.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WaitQuery {
    /// Seconds to wait for a waiting operation to start or end (at most 60).
    #[param(minimum = 0, maximum = 60, nullable = false)]
    wait: Option<u64>,
}

/// `POST /v1/operations/{id}/finish`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FinishRequest {
    /// `success`, `failed`, `error` or `canceled`.
    #[schema(value_type = ResultDoc)]
    result: String,
    /// Sync counts.
    #[serde(default)]
    added_count: u64,
    /// Sync counts.
    #[serde(default)]
    updated_count: u64,
    /// Sync counts.
    #[serde(default)]
    removed_count: u64,
    /// The report's summary (opaque JSON).
    #[schema(value_type = Object, required = false)]
    summary: Option<Value>,
    /// The report's details (opaque JSON).
    #[schema(value_type = Object, required = false)]
    details: Option<Value>,
    /// Why it failed.
    error_message: Option<String>,
    /// The exception's name (result `error`).
    exception: Option<String>,
    /// Diagnostic output.
    traceback: Option<String>,
}

/// An operation as the registry knows it.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct OperationDoc {
    /// The operation ID.
    id: String,
    /// `sync` or `publish`.
    kind: String,
    /// The repository.
    repo_id: String,
    /// Importer or distributor type.
    type_id: String,
    /// Importer or distributor.
    component_id: String,
    /// Resources reserved alone.
    exclusive: Vec<String>,
    /// Resources reserved shared.
    shared: Vec<String>,
    /// `waiting`, `running` or `finished`.
    state: String,
    /// The holding process.
    holder: String,
    /// The lease in seconds.
    lease_seconds: u64,
    /// When it was asked for.
    requested: String,
    /// When it started (absent while waiting).
    #[schema(nullable = false)]
    started: Option<String>,
    /// When it finished (absent until then).
    #[schema(nullable = false)]
    finished: Option<String>,
    /// `success`, `failed`, `error` or `canceled` (absent until finished).
    #[schema(nullable = false)]
    result: Option<String>,
    /// Why it failed (absent unless it did).
    #[schema(nullable = false)]
    error_message: Option<String>,
    /// The latest progress report (absent until one is reported).
    #[schema(value_type = Object, required = false)]
    progress: Option<Value>,
}

fn id_of(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no operation {id:?}"),
        ));
    }
    Ok(id)
}

async fn record(ops: &Operations, id: &str) -> Result<OperationRecord, ApiError> {
    ops.get(id)
        .await
        .map_err(from_operations)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no operation {id}")))
}

/// Waits (at most `wait`) for the held operation `id` to change.
async fn long_poll(state: &AppState, id: &str, wait: Duration) {
    let receiver = {
        let held = state.operations.held.lock().await;
        held.get(id).map(|h| h.changed.subscribe())
    };
    if let Some(mut receiver) = receiver {
        let _ = tokio::time::timeout(wait, receiver.changed()).await;
    }
}

/// Claims resources; answers `201` with the running operation when granted
/// within `wait_seconds`, else `202` with the waiting one (poll or
/// long-poll `GET /v1/operations/{id}?wait=N`).
#[utoipa::path(post, path = "/v1/operations", request_body = ClaimRequest,
    responses((status = 201, description = "granted and started", body = OperationDoc),
              (status = 202, description = "waiting", body = OperationDoc),
              (status = 400, description = "bad request (body, resource, lease_seconds or wait_seconds); nothing reserved", body = crate::openapi::ErrorDoc),
              (status = 401, description = "Missing or wrong bearer token", body = crate::openapi::ErrorDoc),
              (status = 413, description = "Body over the limit", body = crate::openapi::ErrorDoc),
              (status = 503, description = "NATS cannot answer", body = crate::openapi::ErrorDoc)))]
pub(crate) async fn post_operation(
    State(state): State<AppState>,
    Body(body): Body,
) -> Result<(StatusCode, Json<OperationRecord>), ApiError> {
    let claim: ClaimRequest = json_body(&body)?;
    let lease = claim
        .lease_seconds
        .map_or(Ok(DEFAULT_LEASE), |s| {
            let lease = Duration::from_secs(s);
            check_lease(lease).map(|()| lease)
        })
        .map_err(|_| {
            bad(format!(
                "lease_seconds: {} is outside 1..={MAX_LEASE_SECONDS}",
                claim.lease_seconds.unwrap_or_default()
            ))
        })?;
    let wait = claim
        .wait_seconds
        .map(|s| wait_of("wait_seconds", s))
        .transpose()?;
    let id = |what: &str, v: &str| ResourceId::new(v).map_err(|e| bad(format!("{what}: {e}")));
    let repo_id = id("repo_id", &claim.repo_id)?;
    let mut request = match claim.kind {
        KindDoc::Sync => {
            let type_id = id(
                "type_id",
                claim.type_id.as_deref().unwrap_or("yum_importer"),
            )?;
            let component = claim
                .component_id
                .clone()
                .unwrap_or_else(|| type_id.to_string());
            OperationRequest::sync(repo_id, type_id, id("component_id", &component)?)
        }
        KindDoc::Publish => {
            let type_id = id(
                "type_id",
                claim.type_id.as_deref().unwrap_or("yum_distributor"),
            )?;
            let component = claim
                .component_id
                .as_deref()
                .ok_or_else(|| bad("component_id (the distributor) is required for a publish"))?;
            OperationRequest::publish(repo_id, type_id, id("component_id", component)?)
        }
    };
    for r in &claim.exclusive {
        request = request.exclusive(Resource::new(r).map_err(|e| bad(format!("exclusive: {e}")))?);
    }
    for r in &claim.shared {
        request = request.shared(Resource::new(r).map_err(|e| bad(format!("shared: {e}")))?);
    }
    request = request.lease(lease).holder("repobus-service (HTTP client)");
    let ops = state.operations.operations(&state).await?;
    let waiting = ops.request(request).await.map_err(from_operations)?;
    let op_id = waiting.id().to_owned();
    let (changed, _) = watch::channel(0u64);
    state.operations.held.lock().await.insert(
        op_id.clone(),
        Held {
            lease,
            last_renewal: Instant::now(),
            running: None,
            changed,
        },
    );
    let held = state.operations.held.clone();
    let task_id = op_id.clone();
    let mut receiver = {
        let map = held.lock().await;
        map.get(&op_id).map(|h| h.changed.subscribe())
    };
    tokio::spawn(async move {
        let outcome = waiting.wait(None).await;
        let mut map = held.lock().await;
        match outcome {
            Ok(running) => {
                match map.get_mut(&task_id) {
                    Some(h) => {
                        h.running = Some(running);
                        h.changed.send_modify(|n| *n += 1);
                    }
                    // The client went away meanwhile: its operation is abandoned.
                    None => {
                        drop(map);
                        let _ = running
                        .finish(Finish::Error {
                            error_message: format!("{ABANDONED_MESSAGE} (the HTTP client stopped renewing its lease)"),
                            exception: Some("LeaseExpired".into()),
                            traceback: None,
                        })
                        .await;
                    }
                }
            }
            Err(e) => {
                if let Some(h) = map.remove(&task_id) {
                    h.changed.send_modify(|n| *n += 1);
                }
                tracing::info!(operation = %task_id, "{e}");
            }
        }
    });
    if let (Some(wait), Some(receiver)) = (wait, receiver.as_mut()) {
        let _ = tokio::time::timeout(wait, receiver.changed()).await;
    }
    let record = record(&ops, &op_id).await?;
    let status = if record.state == OperationState::Waiting {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(record)))
}

/// Waiting, running and recently finished operations (of every process).
#[utoipa::path(get, path = "/v1/operations",
    responses((status = 200, description = "the registry", body = Vec<OperationDoc>),
              (status = 401, description = "Missing or wrong bearer token", body = crate::openapi::ErrorDoc),
              (status = 503, description = "NATS cannot answer", body = crate::openapi::ErrorDoc)))]
pub(crate) async fn get_operations(
    State(state): State<AppState>,
) -> Result<Json<Vec<OperationRecord>>, ApiError> {
    let ops = state.operations.operations(&state).await?;
    Ok(Json(ops.list().await.map_err(from_operations)?))
}

/// One operation; `?wait=N` long-polls a waiting operation this service holds.
#[utoipa::path(get, path = "/v1/operations/{id}", params(("id" = String, Path, description = "operation ID"), WaitQuery),
    responses((status = 200, description = "the operation", body = OperationDoc),
              (status = 400, description = "bad query (wait over 60 or not a number)", body = crate::openapi::ErrorDoc),
              (status = 401, description = "Missing or wrong bearer token", body = crate::openapi::ErrorDoc),
              (status = 404, description = "unknown", body = crate::openapi::ErrorDoc),
              (status = 503, description = "NATS cannot answer", body = crate::openapi::ErrorDoc)))]
pub(crate) async fn get_operation(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<WaitQuery>, QueryRejection>,
) -> Result<Json<OperationRecord>, ApiError> {
    let id = id_of(path)?;
    let Query(query) = query?;
    let wait = query.wait.map(|s| wait_of("wait", s)).transpose()?;
    let ops = state.operations.operations(&state).await?;
    let current = record(&ops, &id).await?;
    if let (Some(wait), OperationState::Waiting) = (wait, current.state) {
        long_poll(&state, &id, wait).await;
        return Ok(Json(record(&ops, &id).await?));
    }
    Ok(Json(current))
}

/// Renews the lease of an operation this service holds for the client.
#[utoipa::path(post, path = "/v1/operations/{id}/lease", params(("id" = String, Path, description = "operation ID")),
    responses((status = 200, description = "renewed", body = OperationDoc),
              (status = 401, description = "Missing or wrong bearer token", body = crate::openapi::ErrorDoc),
              (status = 404, description = "not held here, or lapsed", body = crate::openapi::ErrorDoc),
              (status = 503, description = "NATS cannot answer", body = crate::openapi::ErrorDoc)))]
pub(crate) async fn post_lease(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<OperationRecord>, ApiError> {
    let id = id_of(path)?;
    let ops = state.operations.operations(&state).await?;
    {
        let mut held = state.operations.held.lock().await;
        let Some(h) = held.get_mut(&id) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("operation {id} is not held by this service (unknown, finished, or its lease lapsed)"),
            ));
        };
        h.last_renewal = Instant::now();
    }
    Ok(Json(record(&ops, &id).await?))
}

/// Reports progress (any JSON object; throttled). Renews the lease too.
#[utoipa::path(post, path = "/v1/operations/{id}/progress", params(("id" = String, Path, description = "operation ID")),
    request_body(content = Object, description = "the report: message, code, state, total, done, suffix recommended"),
    responses((status = 202, description = "accepted", body = Object),
              (status = 400, description = "the body is not a JSON object", body = crate::openapi::ErrorDoc),
              (status = 401, description = "Missing or wrong bearer token", body = crate::openapi::ErrorDoc),
              (status = 404, description = "not held here, finished, or lapsed", body = crate::openapi::ErrorDoc),
              (status = 409, description = "still waiting", body = crate::openapi::ErrorDoc),
              (status = 413, description = "Body over the limit", body = crate::openapi::ErrorDoc)))]
pub(crate) async fn post_progress(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    Body(body): Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = id_of(path)?;
    let report: Map<String, Value> = json_body(&body)?;
    let mut held = state.operations.held.lock().await;
    let Some(h) = held.get_mut(&id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("operation {id} is not held by this service"),
        ));
    };
    let Some(running) = &h.running else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("operation {id} is still waiting; report progress once it runs"),
        ));
    };
    h.last_renewal = Instant::now();
    running.progress(Value::Object(report));
    Ok((StatusCode::ACCEPTED, Json(json!({"status": "accepted"}))))
}

/// Finishes a running operation: publishes its finished event and releases it.
#[utoipa::path(post, path = "/v1/operations/{id}/finish", params(("id" = String, Path, description = "operation ID")),
    request_body = FinishRequest,
    responses((status = 200, description = "the finished event's ack", body = crate::openapi::PublishAckDoc),
              (status = 400, description = "bad body or result", body = crate::openapi::ErrorDoc),
              (status = 401, description = "Missing or wrong bearer token", body = crate::openapi::ErrorDoc),
              (status = 404, description = "not held here, finished, or lapsed", body = crate::openapi::ErrorDoc),
              (status = 409, description = "still waiting", body = crate::openapi::ErrorDoc),
              (status = 413, description = "Body over the limit", body = crate::openapi::ErrorDoc),
              (status = 503, description = "NATS cannot answer", body = crate::openapi::ErrorDoc)))]
pub(crate) async fn post_finish(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    Body(body): Body,
) -> Result<Json<PublishAck>, ApiError> {
    let id = id_of(path)?;
    let request: FinishRequest = json_body(&body)?;
    let result: PulpResult = serde_json::from_value(Value::String(request.result.clone()))
        .map_err(|_| {
            bad(format!(
                "result {:?}: expected success, failed, error or canceled",
                request.result
            ))
        })?;
    let running = {
        let mut held = state.operations.held.lock().await;
        match held.get(&id).map(|h| h.running.is_some()) {
            None => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("operation {id} is not held by this service"),
                ))
            }
            Some(false) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("operation {id} is still waiting; cancel it instead"),
                ))
            }
            Some(true) => {}
        }
        let mut h = held
            .remove(&id)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "gone"))?;
        h.changed.send_modify(|n| *n += 1);
        h.running
            .take()
            .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "not running"))?
    };
    let object = |v: Option<Value>| v.unwrap_or_else(|| Value::Object(Map::new()));
    let sync = record(&state.operations.operations(&state).await?, &id)
        .await
        .map(|r| r.kind == repobus::operations::OperationKind::Sync)
        .unwrap_or(true);
    let finish = match result {
        PulpResult::Success if sync => Finish::Sync(SyncReport {
            added_count: request.added_count,
            updated_count: request.updated_count,
            removed_count: request.removed_count,
            summary: object(request.summary),
            details: object(request.details),
        }),
        PulpResult::Success => Finish::Publish(PublishReport {
            summary: object(request.summary),
            details: object(request.details),
        }),
        PulpResult::Failed => Finish::Failed {
            error_message: request.error_message.unwrap_or_else(|| "failed".into()),
            traceback: request.traceback,
        },
        PulpResult::Error => Finish::Error {
            error_message: request.error_message.unwrap_or_else(|| "error".into()),
            exception: request.exception,
            traceback: request.traceback,
        },
        PulpResult::Canceled => Finish::Canceled,
    };
    Ok(Json(running.finish(finish).await.map_err(from_operations)?))
}

/// Cancels an operation of any process: a waiting one never starts, a
/// running one is told to stop.
#[utoipa::path(post, path = "/v1/operations/{id}/cancel", params(("id" = String, Path, description = "operation ID")),
    responses((status = 202, description = "canceled (a running one is told to stop)", body = OperationDoc),
              (status = 401, description = "Missing or wrong bearer token", body = crate::openapi::ErrorDoc),
              (status = 404, description = "unknown", body = crate::openapi::ErrorDoc),
              (status = 409, description = "already finished", body = crate::openapi::ErrorDoc),
              (status = 503, description = "NATS cannot answer", body = crate::openapi::ErrorDoc)))]
pub(crate) async fn post_cancel(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<OperationRecord>), ApiError> {
    let id = id_of(path)?;
    let ops = state.operations.operations(&state).await?;
    let record = ops.cancel(&id).await.map_err(from_cancel)?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// The OpenAPI description of the operations routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        post_operation,
        get_operations,
        get_operation,
        post_lease,
        post_progress,
        post_finish,
        post_cancel
    ),
    components(schemas(ClaimRequest, FinishRequest, OperationDoc, KindDoc, ResultDoc))
)]
#[allow(dead_code)] // merged into the service's OpenAPI document by the lead
pub(crate) struct OperationsApi;
