//! Prometheus metrics: the process-wide recorder, `GET /metrics`, the HTTP
//! request middleware, consumer lag polling and a stand-alone `/metrics`
//! listener for long-running commands other than `serve`.
//!
//! The library records what it does through the `metrics` facade
//! ([`repobus::telemetry`]); this module installs the one recorder that
//! keeps those numbers ([`install_recorder`], `metrics-exporter-prometheus`)
//! and adds what only a service knows:
//!
//! | metric | kind | labels | meaning |
//! | --- | --- | --- | --- |
//! | `repobus_http_requests_total` | counter | `method`, `route`, `status_class` | HTTP requests answered, by route template (`/v1/events/{type}`) and `2xx`..`5xx` |
//! | `repobus_http_request_duration_seconds` | histogram | `method`, `route`, `status_class` | time to answer them |
//! | `repobus_events_ingested_total` | counter | `type`, `outcome` | events POSTed to the ingest routes, by type (`unknown` for none of the six) and [`IngestOutcome`] |
//! | `repobus_consumer_num_pending` | gauge | `consumer` | messages a durable consumer of the event stream has not yet been delivered |
//! | `repobus_consumer_num_ack_pending` | gauge | `consumer` | messages delivered to it and not yet acknowledged |
//! | `repobus_http_write_timeouts_total` | counter | | connections closed because the client read nothing for [`crate::ServiceConfig::write_timeout`] |
//! | `repobus_build_info` | gauge | `version` | always 1; the version of the running binary |
//!
//! `GET /metrics` is [`crate::Access::Public`]: it holds counts by bounded
//! labels only (no repository, build or event ID, no payload), and
//! Prometheus scrapers usually reach it over a private network without
//! credentials. Put the service behind a proxy that hides `/metrics` when
//! that is not wanted.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::StreamExt;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use repobus::bus::{Bus, PublishAck, PublishError};
use repobus::EventType;

/// `repobus_http_requests_total{method, route, status_class}`.
pub const HTTP_REQUESTS: &str = "repobus_http_requests_total";
/// `repobus_http_request_duration_seconds{method, route, status_class}`.
pub const HTTP_REQUEST_DURATION: &str = "repobus_http_request_duration_seconds";
/// `repobus_events_ingested_total{type, outcome}`.
pub const EVENTS_INGESTED: &str = "repobus_events_ingested_total";
/// `repobus_consumer_num_pending{consumer}`.
pub const CONSUMER_NUM_PENDING: &str = "repobus_consumer_num_pending";
/// `repobus_consumer_num_ack_pending{consumer}`.
pub const CONSUMER_NUM_ACK_PENDING: &str = "repobus_consumer_num_ack_pending";
/// `repobus_build_info{version}`.
pub const BUILD_INFO: &str = "repobus_build_info";
/// `repobus_http_write_timeouts_total`.
pub const HTTP_WRITE_TIMEOUTS: &str = "repobus_http_write_timeouts_total";

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram buckets in seconds, from 0.5 ms to 10 s: publish acks on a
/// local server take well under a millisecond, a search can take seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder for the whole process (once; later
/// calls return the same handle), describes every metric and sets
/// `repobus_build_info`. `None` when the process already has another
/// recorder (an application embedding repobus with its own): its recorder
/// then gets the numbers and `/metrics` answers `503`.
///
/// # Examples
///
/// ```
/// let handle = repobus_service::metrics::install_recorder().expect("no other recorder");
/// assert!(handle.render().contains("repobus_build_info"));
/// ```
pub fn install_recorder() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot install the Prometheus recorder; /metrics is off");
                    None
                }
            }
        })
        .as_ref()
}

/// Describes the library's and the service's metrics and sets
/// `repobus_build_info`.
fn describe() {
    repobus::telemetry::describe();
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status class."
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Seconds to answer an HTTP request, by method, route template and status class."
    );
    metrics::describe_counter!(
        EVENTS_INGESTED,
        "Events POSTed to the ingest routes, by event type and outcome."
    );
    metrics::describe_gauge!(
        CONSUMER_NUM_PENDING,
        "Messages of the event stream not yet delivered to a durable consumer."
    );
    metrics::describe_gauge!(
        CONSUMER_NUM_ACK_PENDING,
        "Messages delivered to a durable consumer and not yet acknowledged."
    );
    metrics::describe_counter!(
        HTTP_WRITE_TIMEOUTS,
        "Connections closed because the client read nothing for the write timeout."
    );
    metrics::describe_gauge!(
        BUILD_INFO,
        "Always 1; the label version is the running repobus version."
    );
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// The current metrics in the Prometheus text format, or `None` without
/// the recorder ([`install_recorder`]).
///
/// # Examples
///
/// ```
/// repobus_service::metrics::install_recorder();
/// let text = repobus_service::metrics::render().unwrap_or_default();
/// assert!(text.contains("# TYPE repobus_build_info gauge"));
/// ```
pub fn render() -> Option<String> {
    let handle = install_recorder()?;
    handle.run_upkeep();
    Some(handle.render())
}

/// The metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "get_metrics",
    responses(
        (status = 200, description = "The metrics in the Prometheus text format 0.0.4", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 503, description = "Another metrics recorder is installed in the process", body = crate::openapi::ErrorDoc),
    ),
)]
pub(crate) async fn get_metrics() -> Response {
    match render() {
        Some(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            text,
        )
            .into_response(),
        None => crate::ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder is installed in this process; repobus cannot serve /metrics",
        )
        .into_response(),
    }
}

/// The `status_class` label: `1xx` .. `5xx`.
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// The `method` label: the standard methods, anything else `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts every request and times it, by its route template
/// (never the raw path, which would be an unbounded label); requests that
/// match no route count as `route="unmatched"`.
pub(crate) async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let class = status_class(response.status());
    let elapsed = started.elapsed().as_secs_f64();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let (counter, histogram) = request_handles(method, route, class);
    histogram.record(elapsed);
    counter.increment(1);
    response
}

/// The counter and histogram of one `(method, route, status_class)`.
type RequestHandles = (metrics::Counter, metrics::Histogram);

/// The handles of [`track_requests`]'s series, registered once each and
/// kept: looking a series up by its labels on every request (building the
/// key, hashing it, searching the registry) cost more than recording.
/// The labels are bounded (route templates, standard methods, five
/// classes), so is this table. Handles come from the process's global
/// recorder, which [`install_recorder`] sets before the first request.
fn request_handles(method: &'static str, route: &str, class: &'static str) -> RequestHandles {
    type Table = HashMap<String, Vec<(&'static str, &'static str, RequestHandles)>>;
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    let table = TABLE.get_or_init(RwLock::default);
    let find = |table: &Table| {
        table.get(route).and_then(|series| {
            series
                .iter()
                .find(|(m, c, _)| *m == method && *c == class)
                .map(|(_, _, handles)| handles.clone())
        })
    };
    if let Some(handles) = find(&table.read().unwrap_or_else(PoisonError::into_inner)) {
        return handles;
    }
    let mut table = table.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(handles) = find(&table) {
        return handles;
    }
    let owned = route.to_owned();
    let handles = (
        metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => owned.clone(), "status_class" => class),
        metrics::histogram!(HTTP_REQUEST_DURATION, "method" => method, "route" => owned.clone(), "status_class" => class),
    );
    table
        .entry(owned)
        .or_default()
        .push((method, class, handles.clone()));
    handles
}

/// How a POST to an ingest route ended: the `outcome` label of
/// `repobus_events_ingested_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored (`accepted`).
    Accepted,
    /// Already stored under this ID (`duplicate`).
    Duplicate,
    /// The body or the type is bad (`invalid`): 400 or 404.
    Invalid,
    /// NATS refused it for good (`rejected`): 422.
    Rejected,
    /// NATS could not take it now (`unavailable`): 503.
    Unavailable,
}

impl IngestOutcome {
    /// The label value.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_service::metrics::IngestOutcome;
    ///
    /// assert_eq!(IngestOutcome::Unavailable.as_str(), "unavailable");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            IngestOutcome::Accepted => "accepted",
            IngestOutcome::Duplicate => "duplicate",
            IngestOutcome::Invalid => "invalid",
            IngestOutcome::Rejected => "rejected",
            IngestOutcome::Unavailable => "unavailable",
        }
    }

    /// The outcome of a publish result.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::PublishError;
    /// use repobus_service::metrics::IngestOutcome;
    ///
    /// let closed: Result<repobus::bus::PublishAck, _> = Err(PublishError::Closed);
    /// assert_eq!(IngestOutcome::of(&closed), IngestOutcome::Unavailable);
    /// ```
    pub fn of(result: &Result<PublishAck, PublishError>) -> Self {
        match result {
            Ok(ack) if ack.duplicate => IngestOutcome::Duplicate,
            Ok(_) => IngestOutcome::Accepted,
            Err(PublishError::Envelope(_)) => IngestOutcome::Invalid,
            Err(PublishError::Rejected { .. }) => IngestOutcome::Rejected,
            Err(_) => IngestOutcome::Unavailable,
        }
    }
}

/// Counts one POSTed event; `event_type` is `None` when the body or path
/// named none of the types.
/// The counter of each `(type, outcome)` is registered on first use and
/// kept (see [`request_handles`] for why).
pub(crate) fn record_ingest(event_type: Option<EventType>, outcome: IngestOutcome) {
    const TYPES: usize = EventType::ALL.len() + 1;
    const OUTCOMES: usize = 5;
    static COUNTERS: [OnceLock<metrics::Counter>; TYPES * OUTCOMES] =
        [const { OnceLock::new() }; TYPES * OUTCOMES];
    let type_index = event_type
        .and_then(|t| EventType::ALL.iter().position(|&u| u == t))
        .map_or(0, |i| i + 1);
    let outcome_index = match outcome {
        IngestOutcome::Accepted => 0,
        IngestOutcome::Duplicate => 1,
        IngestOutcome::Invalid => 2,
        IngestOutcome::Rejected => 3,
        IngestOutcome::Unavailable => 4,
    };
    COUNTERS[type_index * OUTCOMES + outcome_index]
        .get_or_init(|| {
            let event_type = event_type.map_or("unknown", EventType::as_str);
            metrics::counter!(EVENTS_INGESTED, "type" => event_type, "outcome" => outcome.as_str())
        })
        .increment(1);
}

/// The shortest interval [`spawn_consumer_lag`] polls at: 100 ms.
pub const MIN_LAG_INTERVAL: Duration = Duration::from_millis(100);

/// Polls the lag of every durable consumer of `bus`'s event stream every
/// `interval` into `repobus_consumer_num_pending` and
/// `repobus_consumer_num_ack_pending` (labelled by durable name; ephemeral
/// consumers are skipped, their names being unbounded), until the returned
/// task is aborted. A failed poll is logged and retried at the next tick.
/// An interval under [`MIN_LAG_INTERVAL`] is taken as that.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use repobus::bus::{Bus, BusConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let bus = Bus::connect(BusConfig::new("nats://127.0.0.1:4222")).await?;
/// let poller = repobus_service::metrics::spawn_consumer_lag(bus, Duration::from_secs(15));
/// // ... serve ...
/// poller.abort();
/// # Ok(())
/// # }
/// ```
pub fn spawn_consumer_lag(bus: Bus, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // A zero period would panic; a tiny one would only load the server.
        let mut ticker = tokio::time::interval(interval.max(MIN_LAG_INTERVAL));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = poll_consumer_lag(&bus).await {
                tracing::debug!(error = %e, "cannot read consumer lag");
            }
        }
    })
}

/// One poll of [`spawn_consumer_lag`]; returns how many consumers it read.
///
/// # Examples
///
/// ```no_run
/// # async fn run(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let n = repobus_service::metrics::poll_consumer_lag(&bus).await?;
/// println!("{n} durable consumers");
/// # Ok(())
/// # }
/// ```
pub async fn poll_consumer_lag(
    bus: &Bus,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await?;
    let mut consumers = stream.consumers();
    let mut n = 0;
    while let Some(info) = consumers.next().await {
        let info = info?;
        let Some(durable) = info.config.durable_name.clone() else {
            continue;
        };
        metrics::gauge!(CONSUMER_NUM_PENDING, "consumer" => durable.clone())
            .set(info.num_pending as f64);
        metrics::gauge!(CONSUMER_NUM_ACK_PENDING, "consumer" => durable)
            .set(info.num_ack_pending as f64);
        n += 1;
    }
    Ok(n)
}

/// A router answering only `GET /metrics`, for long-running commands
/// other than `serve` (`repobus tail --metrics-listen`).
///
/// # Examples
///
/// ```
/// let app: axum::Router = repobus_service::metrics::metrics_router();
/// ```
pub fn metrics_router() -> Router {
    install_recorder();
    Router::new()
        .route("/metrics", get(get_metrics))
        .fallback(|| async { crate::ApiError::new(StatusCode::NOT_FOUND, "no such route") })
}

/// Serves [`metrics_router`] on `listener` in a background task, so that
/// any long-running process exposes `/metrics` with one call. Binding is
/// the caller's (so a bad address fails before the work starts); the task
/// runs until aborted or the runtime stops.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
/// let server = repobus_service::metrics::spawn_metrics_listener(listener);
/// // ... do the long-running work ...
/// server.abort();
/// # Ok(())
/// # }
/// ```
pub fn spawn_metrics_listener(listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let app = metrics_router();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the /metrics listener stopped");
        }
    })
}
