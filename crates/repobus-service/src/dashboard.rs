//! The dashboard page: hand-written HTML, CSS and JavaScript from
//! `assets/`, compiled into the binary (no Node build, no CDN).
//!
//! The page reads the JSON APIs (`/v1/repos`, `/v1/builds`, `/v1/stats`,
//! `/v1/events`, `/v1/detail/{seq}`) and the live feed (`/v1/stream`)
//! relative to its `<base href>`, which carries
//! [`crate::ServiceConfig::base_path`], so it works behind a reverse proxy
//! under a path prefix.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

const INDEX: &str = include_str!("../assets/index.html");
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
];

/// `/repobus/`, `repobus`, `/repobus` all become `/repobus`; `/` and the
/// empty string become empty (the root).
pub(crate) fn normalize_base_path(base: &str) -> String {
    let trimmed = base.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

fn html_attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn with_headers(content_type: &'static str, body: String) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The dashboard page.
#[utoipa::path(
    get,
    path = "/",
    responses((status = 200, description = "The dashboard (HTML)", content_type = "text/html", body = String))
)]
pub(crate) async fn index(State(state): State<AppState>) -> Response {
    let base = normalize_base_path(&state.config.base_path);
    let page = INDEX.replace("{{BASE}}", &html_attr(&format!("{base}/")));
    with_headers("text/html; charset=utf-8", page)
}

/// A compiled-in asset (`app.js`, `app.css`).
#[utoipa::path(
    get,
    path = "/assets/{file}",
    params(("file" = String, Path, description = "The asset's name, such as `app.js` or `app.css`")),
    responses(
        (status = 200, description = "The asset (JavaScript or CSS)", body = String),
        (status = 404, description = "No such asset", body = crate::openapi::ErrorDoc)
    )
)]
pub(crate) async fn asset(path: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(name) = path?;
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no asset {name:?}")))?;
    let mut response = with_headers(content_type, (*body).to_owned());
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalized() {
        for (given, want) in [
            ("", ""),
            ("/", ""),
            ("/repobus", "/repobus"),
            ("repobus/", "/repobus"),
            ("/a/b/", "/a/b"),
        ] {
            assert_eq!(normalize_base_path(given), want, "{given:?}");
        }
    }

    #[test]
    fn the_page_links_only_compiled_in_assets() {
        for asset in ["assets/app.js", "assets/app.css"] {
            assert!(INDEX.contains(asset), "{asset}");
        }
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
    }
}
