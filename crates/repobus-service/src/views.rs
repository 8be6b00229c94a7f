//! The overview views' JSON: `GET /v1/repos`, `/v1/builds`, `/v1/stats`
//! and `/v1/detail/{seq}`, thin layers over [`repobus::overview`].

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use repobus::overview::{self, BuildsOverview, BuildsQuery, EventDetail, RepoOverview, Stats};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

/// The answer of `GET /v1/repos`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ReposAnswer {
    /// One row per repository, sorted by ID: `repo_id`, and `sync` and
    /// `publish`, each `{last_started, last_finished, in_progress,
    /// running_seconds}` (the last events as records).
    #[schema(value_type = Vec<Object>)]
    repos: Vec<RepoOverview>,
    /// Syncs in progress.
    syncing: usize,
    /// Publishes in progress.
    publishing: usize,
}

/// Latest sync and publish per repository and what is in progress, from
/// the last message of each subject.
#[utoipa::path(
    get,
    path = "/v1/repos",
    responses(
        (status = 200, description = "Every repository with events", body = ReposAnswer),
        (status = 503, description = "NATS cannot answer"),
    )
)]
pub(crate) async fn get_repos(
    State(state): State<AppState>,
) -> Result<Json<ReposAnswer>, ApiError> {
    let repos = overview::repos(state.publisher.bus()).await?;
    let (syncing, publishing) = overview::in_progress(&repos);
    Ok(Json(ReposAnswer {
        repos,
        syncing,
        publishing,
    }))
}

/// The query of `GET /v1/builds`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct BuildsParams {
    /// Only this project owner.
    owner: Option<String>,
    /// Only projects of this name.
    project: Option<String>,
    /// The window, an ISO 8601 duration before now (default `P7D`).
    since: Option<String>,
    /// Most recent builds per project (default 20, at most 500).
    builds: Option<usize>,
}

/// Copr builds by owner and project: a chroot-by-build status matrix of
/// the recent builds and failures per chroot.
#[utoipa::path(
    get,
    path = "/v1/builds",
    params(BuildsParams),
    responses(
        (status = 200, description = "Projects with their build matrix", body = Object),
        (status = 400, description = "Bad parameter"),
        (status = 503, description = "NATS cannot answer"),
    )
)]
pub(crate) async fn get_builds(
    State(state): State<AppState>,
    query: Result<Query<BuildsParams>, QueryRejection>,
) -> Result<Json<BuildsOverview>, ApiError> {
    let Query(params) = query?;
    let defaults = BuildsQuery::default();
    let query = BuildsQuery {
        owner: params.owner,
        project: params.project,
        since: params.since.unwrap_or(defaults.since),
        builds: params.builds.unwrap_or(defaults.builds).min(500),
    };
    Ok(Json(overview::builds(state.publisher.bus(), &query).await?))
}

/// The query of `GET /v1/stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatsParams {
    /// The window, an ISO 8601 duration before now (default `P1D`).
    since: Option<String>,
}

/// Events per hour and the failure rate over a window.
#[utoipa::path(
    get,
    path = "/v1/stats",
    params(StatsParams),
    responses(
        (status = 200, description = "Counts and buckets", body = Object),
        (status = 400, description = "Bad window"),
        (status = 503, description = "NATS cannot answer"),
    )
)]
pub(crate) async fn get_stats(
    State(state): State<AppState>,
    query: Result<Query<StatsParams>, QueryRejection>,
) -> Result<Json<Stats>, ApiError> {
    let Query(params) = query?;
    let window = params.since.as_deref().unwrap_or("P1D");
    Ok(Json(overview::stats(state.publisher.bus(), window).await?))
}

/// One stored event in full: record, headers and wire body.
#[utoipa::path(
    get,
    path = "/v1/detail/{seq}",
    params(("seq" = u64, Path, description = "The event's stream sequence")),
    responses(
        (status = 200, description = "The event", body = Object),
        (status = 400, description = "Not a sequence number"),
        (status = 404, description = "No such event"),
        (status = 503, description = "NATS cannot answer"),
    )
)]
pub(crate) async fn get_detail(
    State(state): State<AppState>,
    path: Result<Path<u64>, PathRejection>,
) -> Result<Json<EventDetail>, ApiError> {
    let Path(seq) = path?;
    Ok(Json(overview::event_at(state.publisher.bus(), seq).await?))
}

/// The OpenAPI description of the views and the stream (merged into the
/// service's document by the OpenAPI work).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        get_repos,
        get_builds,
        get_stats,
        get_detail,
        crate::sse::get_stream,
        crate::dashboard::index,
        crate::dashboard::asset
    ),
    components(schemas(ReposAnswer))
)]
pub(crate) struct DashboardApi;

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_openapi_fragment_lists_every_dashboard_route() {
        let doc = super::DashboardApi::openapi();
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        for path in [
            "/v1/repos",
            "/v1/builds",
            "/v1/stats",
            "/v1/detail/{seq}",
            "/v1/stream",
            "/",
        ] {
            assert!(paths.contains(&path), "{path} missing from {paths:?}");
        }
    }
}
