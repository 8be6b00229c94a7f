//! `GET /v1/stream`: the live feed as server-sent events.
//!
//! Each client gets its own ephemeral consumer, so a client reads at its
//! own pace and nothing it does reaches the publishers or the other
//! clients. Between the consumer and the connection sits a buffer of
//! [`crate::ServiceConfig::sse_buffer`] events: when it stays full for
//! [`STALL_TIMEOUT`] (the client stopped reading), the consumer is dropped
//! and the stream ends; the client reconnects with `Last-Event-ID` and
//! resumes with no gap.
//!
//! Every event's `id` is its stream sequence, its `event` is `event`, and
//! its data is the event's record (what `repobus tail` prints). A reconnect
//! with `Last-Event-ID: n` resumes at sequence `n + 1`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use repobus::bus::{ConsumerOptions, Deliver};
use repobus::history::{pushed_down_subject, start_at, HistoryQuery};
use repobus::record::field;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::{ApiError, AppState};

/// The default [`crate::ServiceConfig::sse_buffer`]: 1024 events.
pub const DEFAULT_SSE_BUFFER: usize = 1024;

/// How long a client's full buffer may stay full before the client is
/// cut off: long enough for a burst (a catch-up batch) to drain, short
/// enough that a stalled client holds its consumer only briefly.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Counts connected clients in the gauge `repobus_sse_clients` while it
/// lives.
struct ClientGauge;

impl ClientGauge {
    fn new() -> Self {
        metrics::gauge!("repobus_sse_clients").increment(1.0);
        ClientGauge
    }
}

impl Drop for ClientGauge {
    fn drop(&mut self) {
        metrics::gauge!("repobus_sse_clients").decrement(1.0);
    }
}

/// The query of `GET /v1/stream`: `subject` (a NATS subject filter) and the
/// criteria of `GET /v1/events` that apply to a live feed (`filters`,
/// `after`, `before`, `since`), plus `last_event_id` for clients that
/// cannot set the header.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read as pairs; this struct documents them.
pub(crate) struct StreamParams {
    /// A NATS subject filter, e.g. `repobus.repo.*.finished.>`.
    subject: Option<String>,
    /// Criteria filter (JSON), as in `GET /v1/events`.
    filters: Option<String>,
    /// Start at events at or after this time (ISO 8601).
    after: Option<String>,
    /// Start this long ago (ISO 8601 duration).
    since: Option<String>,
    /// Resume after this stream sequence (the `Last-Event-ID` header wins).
    last_event_id: Option<u64>,
}

/// Events as they are stored, as server-sent events.
#[utoipa::path(
    get,
    path = "/v1/stream",
    params(StreamParams, ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this stream sequence")),
    responses(
        (status = 200, description = "text/event-stream; each event's id is its stream sequence and its data the event's record", content_type = "text/event-stream", body = String),
        (status = 400, description = "Bad filter or parameter"),
        (status = 503, description = "NATS cannot answer"),
    )
)]
pub(crate) async fn get_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(pairs) = query?;
    let bad = |message: String| ApiError::new(axum::http::StatusCode::BAD_REQUEST, message);
    let mut subject = None;
    let mut last_id = None;
    let mut criteria_pairs = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            "subject" => subject = Some(value),
            "last_event_id" => last_id = Some(value),
            "access_token" => {}
            "filters" | "after" | "before" | "since" => criteria_pairs.push((key, value)),
            other => {
                return Err(bad(format!(
                    "unknown parameter {other:?}; expected subject, filters, after, before, since or last_event_id"
                )))
            }
        }
    }
    if let Some(header) = headers.get("last-event-id") {
        let text = header
            .to_str()
            .map_err(|_| bad("Last-Event-ID must be a stream sequence".into()))?;
        last_id = Some(text.to_owned());
    }
    let last_id = match last_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            bad(format!(
                "Last-Event-ID {text:?} is not a stream sequence (a non-negative integer)"
            ))
        })?),
    };
    let criteria = HistoryQuery::from_pairs(criteria_pairs)
        .to_search()?
        .criteria;
    let bus = state.publisher.bus().clone();
    if let Some(s) = &subject {
        if s.is_empty() || s.contains(char::is_whitespace) || s.split('.').any(str::is_empty) {
            return Err(bad(format!("subject {s:?} is not a NATS subject filter")));
        }
        let prefix = bus.subjects().prefix();
        let under_prefix = s == ">"
            || s.split('.')
                .zip(prefix.split('.'))
                .all(|(given, wanted)| given == wanted || given == "*" || given == ">");
        if !under_prefix {
            return Err(bad(format!(
                "subject {s:?} is outside this bus's subjects ({prefix}.>)"
            )));
        }
    }
    let subject = subject.or_else(|| pushed_down_subject(bus.subjects(), &criteria));
    let deliver = match (last_id, criteria.after) {
        (Some(n), _) => Deliver::FromSequence(n.saturating_add(1)),
        (None, Some(after)) => start_at(after),
        (None, None) => Deliver::New,
    };
    let mut subscription = bus
        .subscriber()
        .subscribe(ConsumerOptions {
            filter_subjects: subject.into_iter().collect(),
            deliver,
            explicit_ack: false,
            max_ack_pending: -1,
            ..ConsumerOptions::default()
        })
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot follow the stream: {e}"),
            )
        })?;
    let (tx, rx) = mpsc::channel::<Event>(state.config.sse_buffer.max(1));
    let gauge = ClientGauge::new();
    let mut shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        // False once the sender is gone (a `router` without `serve`): no
        // shutdown will come, and the stream goes on without watching.
        let mut watching = true;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let next = tokio::select! {
                next = subscription.next() => next,
                () = tx.closed() => break,
                changed = shutdown.changed(), if watching => {
                    watching = changed.is_ok();
                    continue;
                }
            };
            let delivery = match next {
                Some(Ok(delivery)) => delivery,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "SSE client's consumer failed; closing its stream");
                    metrics::counter!("repobus_sse_disconnects_total", "reason" => "consumer")
                        .increment(1);
                    break;
                }
                None => break,
            };
            let record = delivery.record().to_map();
            if !criteria.matches(&record, field::TIME) {
                continue;
            }
            let data = serde_json::Value::Object(record).to_string();
            let event = Event::default()
                .id(delivery.stream_sequence.to_string())
                .event("event")
                .data(data);
            match tx.send_timeout(event, STALL_TIMEOUT).await {
                Ok(()) => {}
                Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                    tracing::info!("SSE client stalled with a full buffer; disconnecting it");
                    metrics::counter!("repobus_sse_disconnects_total", "reason" => "slow")
                        .increment(1);
                    break;
                }
                Err(mpsc::error::SendTimeoutError::Closed(_)) => break,
            }
        }
    });
    let stream = ReceiverStream::new(rx).map(move |event| {
        let _alive = &gauge;
        Ok::<_, Infallible>(event)
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
