//! Attempt records: one per delivery attempt, in a stream with bounded
//! retention (`<stream>_WEBHOOK_ATTEMPTS`, 7 days, at most 10,000 per
//! endpoint), and the dead letters of each endpoint beside them.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use repobus::bus::Bus;
use repobus::subject::escape_token;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// How long attempt records are kept.
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// Most records kept per endpoint (attempts and dead letters each).
pub const MAX_PER_ENDPOINT: i64 = 10_000;
/// Most response-body bytes kept in a record.
pub const BODY_EXCERPT: usize = 1024;

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx: delivered.
    Delivered,
    /// Failed; retried later.
    Retry,
    /// Failed and the schedule is exhausted: dead-lettered.
    DeadLetter,
    /// 410 Gone (or failing too long): the endpoint was disabled.
    Disabled,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// The endpoint.
    pub endpoint: String,
    /// The event's ID (`webhook-id`).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The event's sequence in the event stream.
    pub stream_sequence: u64,
    /// 1 for the first attempt.
    pub attempt: u64,
    /// When the attempt started.
    pub time: DateTime<Utc>,
    /// The HTTP status, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error, when there was no (good) answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds from sending to the answer (or the failure).
    pub latency_ms: f64,
    /// The first KiB of the response body.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The delay before the next attempt, when retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// True when delivered by a replay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
}

/// The attempt records of one bus.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus_webhooks::store::StoreError> {
/// let log = repobus_webhooks::attempts::AttemptLog::open(&bus).await?;
/// for attempt in log.attempts("cdn-purge", 20).await? {
///     println!("{} #{} {:?} {:?}", attempt.event_id, attempt.attempt, attempt.status, attempt.outcome);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AttemptLog {
    bus: Bus,
    stream: String,
}

impl AttemptLog {
    /// Opens (creating or updating) the attempts stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus_webhooks::store::StoreError> {
    /// let log = repobus_webhooks::attempts::AttemptLog::open(&bus).await?;
    /// # Ok(()) }
    /// ```
    pub async fn open(bus: &Bus) -> Result<AttemptLog, StoreError> {
        let name = format!("{}_WEBHOOK_ATTEMPTS", bus.config().stream_name());
        let prefix = bus.subjects().prefix();
        // Through the bus: the configured replicas and placement.
        bus.ensure_stream(stream::Config {
            name: name.clone(),
            description: Some("repobus webhook delivery attempts and dead letters".into()),
            subjects: vec![format!("{prefix}.webhooks.>")],
            storage: stream::StorageType::File,
            max_age: RETENTION,
            max_messages_per_subject: MAX_PER_ENDPOINT,
            ..Default::default()
        })
        .await
        .map_err(|e| StoreError::Nats {
            what: format!("creating stream {name}"),
            error: e.to_string(),
        })?;
        Ok(AttemptLog {
            bus: bus.clone(),
            stream: name,
        })
    }

    fn subject(&self, kind: &str, endpoint: &str) -> String {
        format!(
            "{}.webhooks.{kind}.{}",
            self.bus.subjects().prefix(),
            escape_token(endpoint)
        )
    }

    /// Records `attempt` (without waiting for the server's ack: recording
    /// never slows delivery; a failure is logged).
    pub(crate) async fn record(&self, attempt: &Attempt) {
        let kind = if attempt.outcome == Outcome::DeadLetter {
            "dead"
        } else {
            "attempt"
        };
        self.publish(self.subject("attempt", &attempt.endpoint), attempt)
            .await;
        if kind == "dead" {
            self.publish(self.subject("dead", &attempt.endpoint), attempt)
                .await;
        }
    }

    async fn publish(&self, subject: String, attempt: &Attempt) {
        let Ok(body) = serde_json::to_vec(attempt) else {
            return;
        };
        // A core publish on the stream's subject: stored all the same,
        // without a reply inbox and an ack per attempt (measured: a
        // JetStream publish per attempt cut ordered delivery to a tenth).
        if let Err(e) = self.bus.client().publish(subject, body.into()).await {
            tracing::warn!(error = %e, "cannot record a webhook attempt");
        }
    }

    /// The latest attempt at `endpoint` (a direct read of the last record
    /// on its subject), to resume an ordered endpoint's retry after a
    /// crash: `None` when there is none or it cannot be read.
    pub(crate) async fn last(&self, endpoint: &str) -> Option<Attempt> {
        let stream = self.bus.jetstream().get_stream(&self.stream).await.ok()?;
        let message = stream
            .get_last_raw_message_by_subject(&self.subject("attempt", endpoint))
            .await
            .ok()?;
        serde_json::from_slice(&message.payload).ok()
    }

    /// The last `limit` attempts at `endpoint`, oldest first.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(log: repobus_webhooks::attempts::AttemptLog) -> Result<(), repobus_webhooks::store::StoreError> {
    /// let failed = log.attempts("cdn-purge", 100).await?.into_iter().filter(|a| a.status != Some(200)).count();
    /// # Ok(()) }
    /// ```
    pub async fn attempts(&self, endpoint: &str, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        self.read(self.subject("attempt", endpoint), limit).await
    }

    /// The last `limit` dead letters of `endpoint` (the final attempt of
    /// each event whose schedule ran out), oldest first.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(log: repobus_webhooks::attempts::AttemptLog) -> Result<(), repobus_webhooks::store::StoreError> {
    /// for dead in log.dead_letters("cdn-purge", 100).await? {
    ///     println!("{} gave up: {:?}", dead.event_id, dead.error);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn dead_letters(
        &self,
        endpoint: &str,
        limit: usize,
    ) -> Result<Vec<Attempt>, StoreError> {
        self.read(self.subject("dead", endpoint), limit).await
    }

    async fn read(&self, subject: String, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        let fail = |what: &str, e: String| StoreError::Nats {
            what: what.to_owned(),
            error: e,
        };
        let stream = self
            .bus
            .jetstream()
            .get_stream(&self.stream)
            .await
            .map_err(|e| fail("opening the attempts stream", e.to_string()))?;
        let consumer = stream
            .create_consumer(pull::Config {
                filter_subject: subject,
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|e| fail("reading attempts", e.to_string()))?;
        let mut consumer = consumer;
        let pending = consumer
            .info()
            .await
            .map_err(|e| fail("reading attempts", e.to_string()))?
            .num_pending;
        let mut out = std::collections::VecDeque::new();
        if pending == 0 {
            return Ok(Vec::new());
        }
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(500)
            .messages()
            .await
            .map_err(|e| fail("reading attempts", e.to_string()))?;
        let mut seen = 0u64;
        while seen < pending {
            let next = tokio::time::timeout(Duration::from_secs(5), messages.next()).await;
            let Ok(Some(Ok(message))) = next else { break };
            seen += 1;
            if let Ok(attempt) = serde_json::from_slice::<Attempt>(&message.payload) {
                out.push_back(attempt);
                if out.len() > limit {
                    out.pop_front();
                }
            }
        }
        Ok(out.into())
    }
}

/// The first [`BODY_EXCERPT`] bytes of `body`, as text.
pub(crate) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT)]).into_owned()
}
