//! Attempt records: one per delivery attempt, in a stream with bounded
//! retention (`<stream>_WEBHOOK_ATTEMPTS`, 7 days, at most 10,000 messages
//! per endpoint), and the dead letters of each endpoint beside them.
//!
//! Records are written by one task per [`AttemptLog`], in batches: a
//! message holds the records of one endpoint (JSON Lines, oldest first)
//! queued within [`LINGER`] of each other. Storing a record per delivery
//! cost nats-server more CPU than the delivery itself (measured with
//! `bench_relay`: 23 of 41 us per delivery); a batch costs it about as
//! much as one record. A failed attempt's record (which a relay resuming
//! after a crash reads) is written at once, with whatever is queued.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use repobus::bus::Bus;
use repobus::subject::escape_token;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;

/// How long attempt records are kept.
pub const RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// Most messages kept per endpoint (attempts and dead letters each); a
/// message holds one record, or several when attempts come faster than
/// they are written.
pub const MAX_PER_ENDPOINT: i64 = 10_000;
/// Largest batch message, well under nats-server's default 1 MiB payload.
const BATCH_BYTES: usize = 256 * 1024;
/// How long a delivered attempt's record may wait for others to share its
/// message: a relay killed with SIGKILL loses at most this much of them.
pub const LINGER: Duration = Duration::from_millis(20);
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
    /// To the task that writes the records.
    queue: mpsc::Sender<Queued>,
}

/// What the writing task is given.
#[derive(Debug)]
enum Queued {
    Record {
        subject: String,
        body: Vec<u8>,
        /// Written at once (a failed attempt), not after [`LINGER`].
        urgent: bool,
    },
    /// Answered once everything queued before is written and flushed.
    Flush(oneshot::Sender<()>),
}

impl Queued {
    fn is_urgent(&self) -> bool {
        match self {
            Queued::Record { urgent, .. } => *urgent,
            Queued::Flush(_) => true,
        }
    }
}

/// Writes queued records in batches until every [`AttemptLog`] is gone.
async fn write(client: async_nats::Client, mut queue: mpsc::Receiver<Queued>) {
    let mut taken = Vec::with_capacity(1024);
    // Batches in the order they were opened; per subject, the open one.
    let mut batches: Vec<(String, Vec<u8>)> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    while queue.recv_many(&mut taken, 1024).await > 0 {
        // A server may be configured with a smaller payload limit.
        let limit = BATCH_BYTES.min(
            client
                .server_info()
                .max_payload
                .saturating_sub(1024)
                .max(4096),
        );
        // Let others join, for at most LINGER, unless one is urgent.
        let deadline = tokio::time::Instant::now() + LINGER;
        let mut from = 0;
        while taken.len() < 1024 && !taken[from..].iter().any(Queued::is_urgent) {
            from = taken.len();
            let more = 1024 - taken.len();
            match tokio::time::timeout_at(deadline, queue.recv_many(&mut taken, more)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let mut flushed = Vec::new();
        for item in taken.drain(..) {
            match item {
                Queued::Record { subject, body, .. } => match open.get(&subject) {
                    Some(&i) if batches[i].1.len() + 1 + body.len() <= limit => {
                        batches[i].1.push(b'\n');
                        batches[i].1.extend_from_slice(&body);
                    }
                    _ => {
                        open.insert(subject.clone(), batches.len());
                        batches.push((subject, body));
                    }
                },
                Queued::Flush(done) => flushed.push(done),
            }
        }
        open.clear();
        for (subject, lines) in batches.drain(..) {
            // A core publish on the stream's subject: stored all the same,
            // without a reply inbox and an ack per batch.
            if let Err(e) = client.publish(subject, lines.into()).await {
                tracing::warn!(error = %e, "cannot record webhook attempts");
            }
        }
        if !flushed.is_empty() {
            if let Err(e) = client.flush().await {
                tracing::warn!(error = %e, "cannot flush webhook attempt records");
            }
            for done in flushed {
                let _ = done.send(());
            }
        }
    }
}

/// The records in one stored message (one, or several as JSON Lines: a
/// serialized record has no raw newline); unreadable lines are skipped.
fn records(payload: &[u8]) -> impl Iterator<Item = Attempt> + '_ {
    payload
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
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
        let (queue, queued) = mpsc::channel(4096);
        tokio::spawn(write(bus.client().clone(), queued));
        Ok(AttemptLog {
            bus: bus.clone(),
            stream: name,
            queue,
        })
    }

    fn subject(&self, kind: &str, endpoint: &str) -> String {
        format!(
            "{}.webhooks.{kind}.{}",
            self.bus.subjects().prefix(),
            escape_token(endpoint)
        )
    }

    /// Records `attempt`: queued for the writing task, which never slows
    /// delivery (a failure is logged). Written within moments; see
    /// [`AttemptLog::flush`].
    pub(crate) async fn record(&self, attempt: &Attempt) {
        let Ok(body) = serde_json::to_vec(attempt) else {
            return;
        };
        let urgent = attempt.outcome != Outcome::Delivered;
        if attempt.outcome == Outcome::DeadLetter {
            self.queue(self.subject("dead", &attempt.endpoint), body.clone(), true)
                .await;
        }
        self.queue(self.subject("attempt", &attempt.endpoint), body, urgent)
            .await;
    }

    async fn queue(&self, subject: String, body: Vec<u8>, urgent: bool) {
        if self
            .queue
            .send(Queued::Record {
                subject,
                body,
                urgent,
            })
            .await
            .is_err()
        {
            tracing::warn!("cannot record a webhook attempt: the writer stopped");
        }
    }

    /// Waits until every attempt recorded through this log (or a clone)
    /// so far is written to the server.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(log: repobus_webhooks::attempts::AttemptLog) {
    /// // Before exiting, so that the last records are not lost with the process.
    /// log.flush().await;
    /// # }
    /// ```
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Queued::Flush(done)).await.is_ok() {
            let _ = written.await;
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
        records(&message.payload).last()
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
            for attempt in records(&message.payload) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(number: u64) -> Attempt {
        Attempt {
            endpoint: "cdn".into(),
            event_id: format!("evt-{number}"),
            event_type: "repo-sync-started".into(),
            stream_sequence: number,
            attempt: 1,
            time: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            status: Some(200),
            error: None,
            latency_ms: 1.5,
            // A newline in a field is escaped: lines stay records.
            response: "ok\nfine".into(),
            outcome: Outcome::Delivered,
            retry_in_ms: None,
            replay: false,
        }
    }

    #[test]
    fn a_message_holds_one_record_or_several_and_bad_lines_are_skipped() {
        let one = serde_json::to_vec(&attempt(1)).unwrap();
        assert_eq!(records(&one).collect::<Vec<_>>(), [attempt(1)]);
        let mut batch = one.clone();
        for line in [&b"{not json"[..], &serde_json::to_vec(&attempt(2)).unwrap()] {
            batch.push(b'\n');
            batch.extend_from_slice(line);
        }
        let read: Vec<u64> = records(&batch).map(|a| a.stream_sequence).collect();
        assert_eq!(read, [1, 2]);
    }
}
