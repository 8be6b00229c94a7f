//! Reading stored messages with JetStream's direct get (`allow_direct`,
//! which [`crate::bus::Bus::connect`] turns on): one message, a batch of
//! messages from a sequence on (`batch`, nats-server 2.11+), or the last
//! message of every subject matching a filter (`multi_last`, 2.11+). No
//! consumer is created, so a narrow question costs a few round trips.

use std::time::Duration;

use async_nats::header::HeaderMap;
use async_nats::{HeaderName, StatusCode};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use crate::bus::Bus;
use crate::envelope::Envelope;
use crate::events::Event;
use crate::record::Record;

use super::HistoryError;

/// How long one answer of the server may take before the read fails.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Most messages asked for in one batch: the client's subscription buffer
/// holds them all, so none can be dropped however slow the reader is.
pub(super) const MAX_BATCH: usize = 4096;

/// Most bytes one batch may bring.
const MAX_BATCH_BYTES: usize = 8 << 20;

/// Most subjects one `multi_last` answer may cover (the server's limit).
pub(super) const MAX_MULTI_LAST: usize = 1024;

const NATS_SUBJECT: HeaderName = HeaderName::from_static("Nats-Subject");
const NATS_SEQUENCE: HeaderName = HeaderName::from_static("Nats-Sequence");
const NATS_TIME_STAMP: HeaderName = HeaderName::from_static("Nats-Time-Stamp");
const NATS_NUM_PENDING: HeaderName = HeaderName::from_static("Nats-Num-Pending");
const CE_TIME: HeaderName = HeaderName::from_static("ce-time");
const CE_TYPE: HeaderName = HeaderName::from_static("ce-type");

/// One stored message as a direct get returns it.
pub(super) struct Stored {
    pub(super) subject: String,
    pub(super) seq: u64,
    /// When the server stored it.
    pub(super) stored: DateTime<Utc>,
    /// Messages matching the request after this one (batches only).
    pub(super) pending: Option<u64>,
    headers: HeaderMap,
    payload: Bytes,
}

impl Stored {
    pub(super) fn new(
        subject: String,
        seq: u64,
        stored: DateTime<Utc>,
        pending: Option<u64>,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Self {
        Stored {
            subject,
            seq,
            stored,
            pending,
            headers,
            payload,
        }
    }

    /// The event's own time (`ce-time`, else the stored time, as the
    /// envelope reads it), without decoding the body.
    pub(super) fn event_time(&self) -> DateTime<Utc> {
        self.headers
            .get(CE_TIME)
            .and_then(|t| DateTime::parse_from_rfc3339(t.as_str()).ok())
            .map_or(self.stored, |t| t.with_timezone(&Utc))
    }

    /// The record criteria match against, or `None` for a message that is
    /// not a valid event (a subscriber dead-letters those; a search, which
    /// only reads, passes over them as a subscriber never yields them).
    pub(super) fn record(&self, bus: &Bus) -> Option<Map<String, Value>> {
        let envelope = self.envelope(bus)?;
        self.record_with(&envelope)
    }

    /// The envelope, or `None` for a message without a valid one.
    pub(super) fn envelope(&self, bus: &Bus) -> Option<Envelope> {
        let parsed_type = if self.headers.get(CE_TYPE).is_some() {
            None
        } else {
            bus.subjects()
                .parse(&self.subject)
                .ok()
                .map(|p| p.event_type)
        };
        let stream = bus.config().stream_name();
        Envelope::from_headers(
            Some(&self.headers),
            parsed_type,
            || format!("{stream}:{}", self.seq),
            self.stored,
        )
        .ok()
    }

    /// The record with `envelope` (this message's), or `None` if the body
    /// is not a valid event of its type.
    pub(super) fn record_with(&self, envelope: &Envelope) -> Option<Map<String, Value>> {
        let event = Event::decode(envelope.event_type.as_str(), &self.payload).ok()?;
        Some(Record::new(&event, envelope, &self.subject, self.seq).to_map())
    }
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BatchEnd {
    /// Messages matching the request after the last one sent (0 also when
    /// the reader stopped the batch).
    pub(super) pending: u64,
}

/// Direct gets on the event stream.
pub(super) struct Direct<'a> {
    bus: &'a Bus,
    api: String,
}

fn header_u64(headers: &HeaderMap, name: HeaderName) -> Option<u64> {
    headers.get(name).and_then(|v| v.as_str().parse().ok())
}

impl<'a> Direct<'a> {
    pub(super) fn new(bus: &'a Bus) -> Self {
        Direct {
            bus,
            api: format!("$JS.API.DIRECT.GET.{}", bus.config().stream_name()),
        }
    }

    fn error(&self, reason: impl Into<String>) -> HistoryError {
        HistoryError::Read {
            stream: self.bus.config().stream_name().to_owned(),
            reason: reason.into(),
        }
    }

    /// Sends `request` and hands each message of the answer to `each` until
    /// it returns `false` or the server ends the answer. A 404 (nothing
    /// there) is an empty answer.
    async fn answer(
        &self,
        request: &Value,
        mut each: impl FnMut(Stored) -> bool,
    ) -> Result<BatchEnd, HistoryError> {
        let client = self.bus.client();
        let inbox = client.new_inbox();
        let mut answers = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| self.error(format!("cannot subscribe to an inbox: {e}")))?;
        let body = Bytes::from(request.to_string());
        client
            .publish_with_reply(self.api.clone(), inbox, body)
            .await
            .map_err(|e| self.error(format!("cannot send a direct get: {e}")))?;
        let batched = request.get("batch").is_some() || request.get("multi_last").is_some();
        loop {
            let message = match tokio::time::timeout(ANSWER_TIMEOUT, answers.next()).await {
                Ok(Some(message)) => message,
                Ok(None) => return Err(self.error("the connection closed during a direct get")),
                Err(_) => {
                    return Err(self.error(format!(
                        "no answer to a direct get within {ANSWER_TIMEOUT:?} (is the stream's allow_direct on?)"
                    )))
                }
            };
            match message.status {
                Some(StatusCode::NOT_FOUND) => return Ok(BatchEnd::default()),
                // 204: the end of a batch.
                Some(status) if status.as_u16() == 204 => {
                    let pending = message
                        .headers
                        .as_ref()
                        .and_then(|h| header_u64(h, NATS_NUM_PENDING))
                        .unwrap_or(0);
                    return Ok(BatchEnd { pending });
                }
                Some(StatusCode::NO_RESPONDERS) => {
                    return Err(self.error("no server answers direct gets on this stream"))
                }
                Some(status) if status != StatusCode::OK => {
                    return Err(self.error(format!(
                        "direct get refused: {status} {}",
                        message.description.as_deref().unwrap_or_default()
                    )))
                }
                _ => {}
            }
            let Some(headers) = message.headers else {
                return Err(self.error("a direct get answer without headers"));
            };
            let subject = headers
                .get(NATS_SUBJECT)
                .map(|v| v.as_str().to_owned())
                .ok_or_else(|| self.error("a direct get answer without Nats-Subject"))?;
            let seq = header_u64(&headers, NATS_SEQUENCE)
                .ok_or_else(|| self.error("a direct get answer without Nats-Sequence"))?;
            let stored = headers
                .get(NATS_TIME_STAMP)
                .and_then(|t| DateTime::parse_from_rfc3339(t.as_str()).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| self.error("a direct get answer without Nats-Time-Stamp"))?;
            let pending = header_u64(&headers, NATS_NUM_PENDING);
            let keep_going = each(Stored {
                subject,
                seq,
                stored,
                pending,
                headers,
                payload: message.payload,
            });
            if !batched {
                return Ok(BatchEnd::default());
            }
            if !keep_going {
                // The rest of the answer goes to an inbox nobody reads any
                // more (unsubscribed when `answers` drops).
                return Ok(BatchEnd { pending: 0 });
            }
        }
    }

    /// The first message at or after `seq` (on `filter` if given).
    pub(super) async fn next_at(
        &self,
        seq: u64,
        filter: Option<&str>,
    ) -> Result<Option<Stored>, HistoryError> {
        let mut request = json!({ "seq": seq.max(1) });
        request["next_by_subj"] = Value::from(filter.unwrap_or(">"));
        let mut found = None;
        self.answer(&request, |m| {
            found = Some(m);
            false
        })
        .await?;
        Ok(found)
    }

    /// Up to `batch` messages from `seq` on (on `filter` if given), in
    /// sequence order, each handed to `each` until it returns `false`.
    pub(super) async fn batch(
        &self,
        seq: u64,
        filter: Option<&str>,
        batch: usize,
        each: impl FnMut(Stored) -> bool,
    ) -> Result<BatchEnd, HistoryError> {
        let mut request = json!({
            "seq": seq.max(1),
            "batch": batch.clamp(1, MAX_BATCH),
            "max_bytes": MAX_BATCH_BYTES,
        });
        if let Some(filter) = filter {
            request["next_by_subj"] = Value::from(filter);
        }
        self.answer(&request, each).await
    }

    /// The last message of every subject matching one of `filters`, at most
    /// [`MAX_MULTI_LAST`] subjects; `Ok(None)` when more subjects match.
    pub(super) async fn multi_last(
        &self,
        filters: &[String],
    ) -> Result<Option<Vec<Stored>>, HistoryError> {
        let request = json!({ "multi_last": filters, "batch": MAX_MULTI_LAST });
        let mut found = Vec::new();
        match self
            .answer(&request, |m| {
                found.push(m);
                true
            })
            .await
        {
            Ok(_) => Ok(Some(found)),
            Err(HistoryError::Read { reason, .. }) if reason.contains("413") => Ok(None),
            Err(e) => Err(e),
        }
    }
}
