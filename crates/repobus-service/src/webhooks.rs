//! The webhook management API: thin handlers over
//! `repobus_webhooks::store` and `repobus_webhooks::attempts`.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/webhooks` | create; `201` with the signing secret, shown only here |
//! | `GET /v1/webhooks` | list (without secrets) |
//! | `GET /v1/webhooks/{id}` | one endpoint, with why and when it was disabled |
//! | `PATCH /v1/webhooks/{id}` | change fields, rotate the secret, enable or disable |
//! | `DELETE /v1/webhooks/{id}` | remove; `204` |
//! | `POST /v1/webhooks/{id}/replay` | deliver again from `since`/`after`, up to `before`; `202` |
//! | `GET /v1/webhooks/{id}/attempts` | recent attempts (`?limit=`, `?dead_letters=true`) |
//!
//! Errors: 400 naming the field, 404 unknown endpoint, 409 the ID exists,
//! 503 NATS failed.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use repobus::bus::Bus;
use repobus_webhooks::attempts::{Attempt, AttemptLog, Outcome};
use repobus_webhooks::endpoint::{
    Disabled, Endpoint, EndpointError, EndpointPatch, EndpointSpec, Format, Replay,
};
use repobus_webhooks::store::{StoreError, WebhookStore};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::{ApiError, AppState};

/// The webhook API's share of the service state: the store and attempt
/// log, opened on first use (so the service starts even when the KV
/// bucket cannot be created yet).
#[derive(Debug)]
pub(crate) struct WebhookState {
    bus: Bus,
    allow_private_targets: bool,
    store: OnceCell<(WebhookStore, AttemptLog)>,
}

impl WebhookState {
    pub(crate) fn new(bus: Bus, allow_private_targets: bool) -> Self {
        WebhookState {
            bus,
            allow_private_targets,
            store: OnceCell::new(),
        }
    }

    async fn get(&self) -> Result<&(WebhookStore, AttemptLog), ApiError> {
        self.store
            .get_or_try_init(|| async {
                let store = WebhookStore::open(&self.bus)
                    .await?
                    .allow_private_targets(self.allow_private_targets);
                let log = AttemptLog::open(&self.bus).await?;
                Ok::<_, StoreError>((store, log))
            })
            .await
            .map_err(ApiError::from)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Exists(_) => StatusCode::CONFLICT,
            StoreError::Nats { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

fn bad(field: &str, reason: impl ToString) -> ApiError {
    ApiError::from(StoreError::Invalid(EndpointError {
        field: field.to_owned(),
        reason: reason.to_string(),
    }))
}

/// A JSON body, or 400 saying where it is wrong.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        bad(&field, e.into_inner())
    })
}

fn view(endpoint: &Endpoint) -> Json<Value> {
    Json(endpoint.public_view())
}

/// Creates an endpoint.
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "webhooks",
    request_body = EndpointSpec,
    responses(
        (status = 201, description = "Created; the body holds the signing secret, shown only here", body = Endpoint),
        (status = 400, description = "A field is invalid (the error names it)"),
        (status = 409, description = "An endpoint with this ID exists"),
        (status = 503, description = "NATS cannot answer"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let spec: EndpointSpec = body(&bytes)?;
    let (store, _) = state.webhooks.get().await?;
    let endpoint = store.create(spec).await?;
    let mut shown = endpoint.public_view();
    shown["secret"] = Value::String(endpoint.secret.to_string());
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// The list of endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EndpointList {
    /// Every endpoint, by ID, without secrets.
    #[schema(value_type = Vec<Endpoint>)]
    webhooks: Vec<Value>,
}

/// Lists endpoints.
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "webhooks",
    responses(
        (status = 200, description = "Every endpoint, without secrets", body = EndpointList),
        (status = 503, description = "NATS cannot answer"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<EndpointList>, ApiError> {
    let (store, _) = state.webhooks.get().await?;
    let webhooks = store
        .list()
        .await?
        .iter()
        .map(Endpoint::public_view)
        .collect();
    Ok(Json(EndpointList { webhooks }))
}

/// Shows one endpoint.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint ID")),
    responses(
        (status = 200, description = "The endpoint, without its secret", body = Endpoint),
        (status = 404, description = "No such endpoint"),
        (status = 503, description = "NATS cannot answer"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (store, _) = state.webhooks.get().await?;
    Ok(view(&store.get(&id).await?))
}

/// Changes an endpoint.
#[utoipa::path(
    patch,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint ID")),
    request_body = EndpointPatch,
    responses(
        (status = 200, description = "The changed endpoint", body = Endpoint),
        (status = 400, description = "A field is invalid (the error names it)"),
        (status = 404, description = "No such endpoint"),
        (status = 503, description = "NATS cannot answer"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    let patch: EndpointPatch = body(&bytes)?;
    let (store, _) = state.webhooks.get().await?;
    Ok(view(&store.update(&id, patch).await?))
}

/// Removes an endpoint.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint ID")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such endpoint"),
        (status = 503, description = "NATS cannot answer"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (store, _) = state.webhooks.get().await?;
    store.remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What to replay: `since` (an ISO 8601 duration back from now) or
/// `after` (a UTC date-time), and optionally `before`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayRequest {
    /// The last DURATION, e.g. `PT6H`.
    #[serde(default)]
    since: Option<String>,
    /// Events at or after this UTC date-time.
    #[serde(default)]
    after: Option<String>,
    /// Only events before this UTC date-time.
    #[serde(default)]
    before: Option<String>,
}

/// Delivers past events to one endpoint again.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/replay",
    tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint ID")),
    request_body = ReplayRequest,
    responses(
        (status = 202, description = "The replay runs; the endpoint shows it in `replay` until done", body = Endpoint),
        (status = 400, description = "since/after/before malformed or missing"),
        (status = 404, description = "No such endpoint"),
        (status = 503, description = "NATS cannot answer"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: ReplayRequest = body(&bytes)?;
    let now = chrono::Utc::now();
    let from = match (&request.since, &request.after) {
        (Some(_), Some(_)) => return Err(bad("since", "give since or after, not both")),
        (Some(since), None) => repobus::history::since(since, now).map_err(|e| bad("since", e))?,
        (None, Some(after)) => {
            repobus::history::instant("after", after).map_err(|e| bad("after", e))?
        }
        (None, None) => {
            return Err(bad(
                "since",
                "give since (a duration) or after (a date-time)",
            ))
        }
    };
    let before = request
        .before
        .as_deref()
        .map(|b| repobus::history::instant("before", b))
        .transpose()
        .map_err(|e| bad("before", e))?;
    let (store, _) = state.webhooks.get().await?;
    let endpoint = store.replay(&id, from, before).await?;
    Ok((StatusCode::ACCEPTED, view(&endpoint)).into_response())
}

/// Which attempts to show.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AttemptsQuery {
    /// At most this many, the latest (default 100; 1 to 10000, else 400).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
    /// Only dead letters (events whose retry schedule ran out).
    dead_letters: Option<bool>,
}

/// The attempts of one endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AttemptList {
    /// Oldest first.
    attempts: Vec<Attempt>,
}

/// Recent delivery attempts of one endpoint.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/attempts",
    tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint ID"), AttemptsQuery),
    responses(
        (status = 200, description = "Attempts, oldest first", body = AttemptList),
        (status = 400, description = "`limit` outside 1..10000, or a query parameter malformed (the error names it)"),
        (status = 404, description = "No such endpoint"),
        (status = 503, description = "NATS cannot answer"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn attempts(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<AttemptsQuery>, QueryRejection>,
) -> Result<Json<AttemptList>, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > 10_000 {
        return Err(bad("limit", format!("{limit} is outside 1..10000")));
    }
    let (store, log) = state.webhooks.get().await?;
    store.get(&id).await?;
    let attempts = if query.dead_letters.unwrap_or(false) {
        log.dead_letters(&id, limit).await?
    } else {
        log.attempts(&id, limit).await?
    };
    Ok(Json(AttemptList { attempts }))
}

/// The webhook API's OpenAPI paths and schemas, to merge into the
/// service's document.
#[allow(dead_code)]
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, list, show, patch, remove, replay, attempts),
    components(schemas(
        Endpoint,
        EndpointSpec,
        EndpointPatch,
        EndpointList,
        Disabled,
        Replay,
        Format,
        ReplayRequest,
        Attempt,
        AttemptList,
        Outcome
    ))
)]
pub(crate) struct WebhooksApi;

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_openapi_document_lists_every_webhook_route() {
        let doc = super::WebhooksApi::openapi();
        let paths: Vec<&String> = doc.paths.paths.keys().collect();
        assert_eq!(
            paths,
            [
                "/v1/webhooks",
                "/v1/webhooks/{id}",
                "/v1/webhooks/{id}/attempts",
                "/v1/webhooks/{id}/replay"
            ]
        );
        let schemas = doc.components.expect("components").schemas;
        assert!(schemas.contains_key("EndpointSpec") && schemas.contains_key("Attempt"));
    }
}
