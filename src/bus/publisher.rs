//! The typed publisher.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::HeaderMap;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::Bus;
use crate::envelope::{check_id, new_event_id, EnvelopeError, PublishHeaders, TimeText};
use crate::events::Event;
use crate::telemetry::{self, PublishOutcome};

/// What the server answered for a stored event: the same object as the
/// ingest API's `202` body and `repobus publish`'s output.
///
/// # Examples
///
/// ```
/// use repobus::bus::PublishAck;
///
/// let ack = PublishAck {
///     event_id: "0190b1c2-7d1e-7c3a-9d2e-5b6f1a2b3c4d".into(),
///     subject: "repobus.repo.sync.started.pulp-f17".into(),
///     stream: "REPOBUS".into(),
///     seq: 42,
///     duplicate: false,
/// };
/// // `duplicate` is written only when true:
/// assert_eq!(
///     serde_json::to_string(&ack)?,
///     r#"{"event_id":"0190b1c2-7d1e-7c3a-9d2e-5b6f1a2b3c4d","subject":"repobus.repo.sync.started.pulp-f17","stream":"REPOBUS","seq":42}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishAck {
    /// The event ID (`ce-id` and `Nats-Msg-Id`).
    pub event_id: String,
    /// The subject it was published on.
    pub subject: String,
    /// The stream that stored it.
    pub stream: String,
    /// Its sequence number in that stream.
    pub seq: u64,
    /// True when the stream already had an event with this ID (a retry):
    /// `seq` is then the original's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// Options of one publish.
///
/// # Examples
///
/// ```
/// use repobus::bus::PublishOptions;
///
/// // An ID derived from the task makes a retried publish safe:
/// let options = PublishOptions {
///     id: Some("pulp-task-6ad6b3ba-sync-finished".into()),
///     pulp_task_id: Some("6ad6b3ba-55f8-4fd1-ba6c-2b0e3a1f0f3c".into()),
/// };
/// assert!(PublishOptions::default().id.is_none()); // a fresh UUIDv7
/// ```
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// The event ID; a UUIDv7 when `None`. Publishing the same ID again
    /// within the duplicate window stores the event once.
    pub id: Option<String>,
    /// The Pulp task the event fired in (the `ce-pulptaskid` extension);
    /// see [`crate::events::wire::Pulp2Notification::task_id`].
    pub pulp_task_id: Option<String>,
}

/// Why a publish failed. The event is not stored unless the message says
/// it may have been (a deadline passed after a send).
///
/// # Examples
///
/// ```no_run
/// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::bus::PublishError;
/// use repobus::events::RepoSyncStarted;
///
/// let event = RepoSyncStarted::new("pulp-f17".parse()?).into();
/// match publisher.publish(&event).await {
///     Ok(ack) => println!("stored as #{}", ack.seq),
///     Err(e) if e.is_transient() => eprintln!("NATS is not taking events; retry later: {e}"),
///     Err(PublishError::Rejected { id, source }) => eprintln!("{id} refused for good: {source}"),
///     Err(e) => return Err(e.into()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The producer-given ID is not usable.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Too many publishes are waiting for their acks.
    #[error("publish buffer full: {capacity} publishes are waiting for acks; retry later")]
    BufferFull {
        /// The configured bound.
        capacity: usize,
    },
    /// The publisher is closed.
    #[error("the publisher is closed")]
    Closed,
    /// The server refused the event for good (too large, stream limits).
    #[error("NATS refused event {id}: {source}")]
    Rejected {
        /// The event ID.
        id: String,
        /// The server's answer.
        source: async_nats::jetstream::context::PublishError,
    },
    /// A core-NATS publish ([`Publisher::publish_core`]) could not be sent.
    #[error("cannot send event {id} on core NATS: {source}")]
    Send {
        /// The event ID.
        id: String,
        /// The client's error.
        source: async_nats::client::PublishError,
    },
    /// NATS stayed unreachable until the deadline; the event was never sent,
    /// so it is not stored.
    #[error("NATS was unreachable for {deadline:?}; event {id} was not sent (not stored)")]
    Unreachable {
        /// The event ID.
        id: String,
        /// The configured deadline.
        deadline: Duration,
    },
    /// No ack arrived before the deadline; a retry with the same ID is safe.
    #[error("no JetStream ack for event {id} after {attempts} attempts in {deadline:?} (last error: {}); it may or may not be stored, and publishing it again with the same id is safe", last_error.as_ref().map_or_else(|| "none".to_owned(), ToString::to_string))]
    Deadline {
        /// The event ID.
        id: String,
        /// How many times it was sent.
        attempts: u32,
        /// The configured deadline.
        deadline: Duration,
        /// The last error seen, if a send failed before the deadline.
        #[source]
        last_error: Option<async_nats::jetstream::context::PublishError>,
    },
}

impl PublishError {
    /// True when the same publish may succeed later (the server is
    /// unreachable or busy), as opposed to a bad event or ID.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::PublishError;
    ///
    /// assert!(PublishError::BufferFull { capacity: 1 }.is_transient());
    /// assert!(!PublishError::Closed.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PublishError::BufferFull { .. }
                | PublishError::Deadline { .. }
                | PublishError::Unreachable { .. }
        )
    }

    /// True when publishing more events after this one is pointless: NATS
    /// is not taking events (a transient error) or the publisher is
    /// closed. A publish of many events in order stops here; an error
    /// about this one event (a bad ID, a refusal by the server) does not
    /// stop the others. The rule [`Publisher::publish_lines`] and the
    /// HTTP service follow.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::PublishError;
    ///
    /// assert!(PublishError::Closed.stops_batch());
    /// assert!(PublishError::BufferFull { capacity: 1 }.stops_batch());
    /// ```
    pub fn stops_batch(&self) -> bool {
        self.is_transient() || matches!(self, PublishError::Closed)
    }
}

/// Publishes typed events and returns after the JetStream ack.
///
/// Cheap to clone; all clones share the bounded buffer of unacknowledged
/// publishes. Call [`Publisher::close`] before exiting so that nothing
/// accepted is dropped.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::events::RepoSyncStarted;
///
/// let publisher = bus.publisher();
/// let worker = publisher.clone(); // shares the bound on publishes awaiting acks
/// let event = RepoSyncStarted::new("pulp-f17".parse()?).into();
/// let ack = tokio::spawn(async move { worker.publish(&event).await }).await??;
/// println!("stored as {} #{}", ack.stream, ack.seq);
/// publisher.close().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Publisher {
    bus: Bus,
    pub(super) in_flight: Arc<Semaphore>,
    background: TaskTracker,
    headers: Arc<PublishHeaders>,
}

/// One event ready to send.
#[derive(Clone)]
pub(super) struct Prepared {
    pub(super) event_id: String,
    time: TimeText,
    pub(super) subject: String,
    pub(super) payload: Bytes,
}

impl Prepared {
    /// What a publish returns once the server stored it.
    pub(super) fn acked(self, ack: async_nats::jetstream::publish::PublishAck) -> PublishAck {
        PublishAck {
            event_id: self.event_id,
            subject: self.subject,
            stream: ack.stream,
            seq: ack.sequence,
            duplicate: ack.duplicate,
        }
    }
}

/// Where a publish's retry loop starts: its deadline, how often it was
/// sent already, and the last error seen.
pub(super) struct Retry {
    pub(super) deadline: Instant,
    pub(super) attempts: u32,
    pub(super) last_error: Option<async_nats::jetstream::context::PublishError>,
    /// Back off before the next send (after a failed attempt, unless the
    /// caller knows the connection was just re-established).
    pub(super) pause: bool,
}

impl Retry {
    /// Not sent yet.
    pub(super) fn first(deadline: Instant) -> Self {
        Retry {
            deadline,
            attempts: 0,
            last_error: None,
            pause: false,
        }
    }
}

/// True when the server refused the event for good: sending it again
/// cannot succeed.
pub(super) fn is_refusal(e: &async_nats::jetstream::context::PublishError) -> bool {
    matches!(
        e.kind(),
        PublishErrorKind::MaxPayloadExceeded
            | PublishErrorKind::WrongLastMessageId
            | PublishErrorKind::WrongLastSequence
    )
}

impl Publisher {
    pub(super) fn new(bus: Bus) -> Self {
        let capacity = bus.config.max_in_flight;
        Publisher {
            in_flight: Arc::new(Semaphore::new(capacity)),
            background: TaskTracker::new(),
            headers: Arc::new(PublishHeaders::new(&bus.config.source)),
            bus,
        }
    }

    /// The bus this publisher uses.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(publisher: repobus::bus::Publisher) {
    /// println!("publishing to stream {}", publisher.bus().config().stream_name());
    /// # }
    /// ```
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Publishes `event` with a fresh ID.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::events::RepoSyncStarted;
    ///
    /// let ack = publisher.publish(&RepoSyncStarted::new("pulp-f17".parse()?).into()).await?;
    /// println!("{} stored as {} #{}", ack.event_id, ack.stream, ack.seq);
    /// # Ok(()) }
    /// ```
    pub async fn publish(&self, event: &Event) -> Result<PublishAck, PublishError> {
        self.publish_with(event, PublishOptions::default()).await
    }

    /// Publishes `event`, retrying through disconnects with the same
    /// `Nats-Msg-Id` until the ack arrives or the deadline passes.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::PublishOptions;
    /// use repobus::events::RepoSyncStarted;
    ///
    /// let event = RepoSyncStarted::new("pulp-f17".parse()?).into();
    /// let options = PublishOptions {
    ///     id: Some("pulp-task-6ad6b3ba-sync-started".into()),
    ///     ..PublishOptions::default()
    /// };
    /// let ack = publisher.publish_with(&event, options.clone()).await?;
    /// // Publishing the same ID again within the duplicate window stores nothing new:
    /// let again = publisher.publish_with(&event, options).await?;
    /// assert!(again.duplicate && again.seq == ack.seq);
    /// # Ok(()) }
    /// ```
    pub async fn publish_with(
        &self,
        event: &Event,
        options: PublishOptions,
    ) -> Result<PublishAck, PublishError> {
        let permit = self
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|e| match e {
                tokio::sync::TryAcquireError::Closed => PublishError::Closed,
                tokio::sync::TryAcquireError::NoPermits => PublishError::BufferFull {
                    capacity: self.bus.config.max_in_flight,
                },
            });
        let _permit = match permit {
            Ok(permit) => permit,
            Err(e) => {
                telemetry::record_publish(event.event_type(), PublishOutcome::of_error(&e), None);
                return Err(e);
            }
        };
        self.send(event, &options).await
    }

    /// What every publish sends, built straight from the typed event (valid
    /// by construction: nothing is validated again): the ID (`id` or a new
    /// UUIDv7), the time, the subject and the body bytes.
    pub(super) fn prepare(
        &self,
        event: &Event,
        options: &PublishOptions,
    ) -> Result<Prepared, EnvelopeError> {
        let event_id = match &options.id {
            Some(id) => {
                check_id(id)?;
                id.clone()
            }
            None => new_event_id(),
        };
        let now = chrono::Utc::now();
        let time = TimeText::new(now).ok_or_else(|| EnvelopeError::BadHeader {
            header: "ce-time",
            reason: format!("the clock reads {now}, outside the years 0000-9999"),
        })?;
        Ok(Prepared {
            event_id,
            time,
            subject: self.bus.subjects.for_event(event),
            payload: Bytes::from(event.to_vec()),
        })
    }

    /// The headers of a prepared event (built again for a retry rather than
    /// every publish paying for a copy).
    pub(super) fn headers(
        &self,
        event: &Event,
        prepared: &Prepared,
        options: &PublishOptions,
    ) -> HeaderMap {
        self.headers.build(
            event,
            &prepared.event_id,
            &prepared.time,
            options.pulp_task_id.as_deref(),
        )
    }

    /// Sends until the JetStream ack arrives or the deadline passes; the
    /// caller holds an in-flight permit.
    async fn send(
        &self,
        event: &Event,
        options: &PublishOptions,
    ) -> Result<PublishAck, PublishError> {
        let started = Instant::now();
        let result = self.send_until_acked(event, options).await;
        let outcome = match &result {
            Ok(ack) if ack.duplicate => PublishOutcome::Duplicate,
            Ok(_) => PublishOutcome::Stored,
            Err(e) => PublishOutcome::of_error(e),
        };
        telemetry::record_publish(event.event_type(), outcome, Some(started.elapsed()));
        result
    }

    /// [`Publisher::send`] without the metrics.
    async fn send_until_acked(
        &self,
        event: &Event,
        options: &PublishOptions,
    ) -> Result<PublishAck, PublishError> {
        let prepared = self.prepare(event, options)?;
        let headers = self.headers(event, &prepared, options);
        let deadline = Instant::now() + self.bus.config.publish_deadline;
        self.deliver(
            event,
            options,
            prepared,
            Some(headers),
            Retry::first(deadline),
        )
        .await
    }

    /// Sends `prepared` (again, when `retry` says it was sent before) until
    /// its ack arrives or the deadline passes. `headers` are the prepared
    /// event's headers when already built.
    pub(super) async fn deliver(
        &self,
        event: &Event,
        options: &PublishOptions,
        prepared: Prepared,
        mut headers: Option<HeaderMap>,
        retry: Retry,
    ) -> Result<PublishAck, PublishError> {
        let Retry {
            deadline,
            mut attempts,
            mut last_error,
            mut pause,
        } = retry;
        let deadline_after = self.bus.config.publish_deadline;
        let mut backoff = Duration::from_millis(50);
        for _ in 1..attempts {
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
        loop {
            if pause {
                if Instant::now() + backoff >= deadline {
                    tokio::time::sleep_until(deadline).await;
                } else {
                    tokio::time::sleep(backoff).await;
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            // Send only while connected: the client queues what is sent while
            // disconnected and delivers it after reconnecting, which would
            // store an event long after its publish reported failure.
            if !self.wait_connected(deadline).await {
                return Err(if attempts == 0 {
                    PublishError::Unreachable {
                        id: prepared.event_id,
                        deadline: deadline_after,
                    }
                } else {
                    PublishError::Deadline {
                        id: prepared.event_id,
                        attempts,
                        deadline: deadline_after,
                        last_error,
                    }
                });
            }
            attempts += 1;
            if attempts > 1 {
                telemetry::record_retry(event.event_type());
            }
            let attempt =
                async {
                    let ack =
                        self.bus
                            .jetstream
                            .send_publish(
                                prepared.subject.clone(),
                                PublishMessage::build()
                                    .payload(prepared.payload.clone())
                                    .headers(headers.take().unwrap_or_else(|| {
                                        self.headers(event, &prepared, options)
                                    })),
                            )
                            .await?;
                    ack.await
                };
            match tokio::time::timeout_at(deadline, attempt).await {
                Ok(Ok(ack)) => {
                    if attempts > 1 {
                        tracing::info!(id = %prepared.event_id, attempts, duplicate = ack.duplicate, "event stored after retries");
                    }
                    return Ok(prepared.acked(ack));
                }
                Ok(Err(e)) => {
                    if is_refusal(&e) {
                        return Err(PublishError::Rejected {
                            id: prepared.event_id,
                            source: e,
                        });
                    }
                    tracing::warn!(id = %prepared.event_id, attempt = attempts, error = %e, "publish not acknowledged; retrying with the same id");
                    last_error = Some(e);
                    pause = true;
                }
                Err(_) => {
                    return Err(PublishError::Deadline {
                        id: prepared.event_id,
                        attempts,
                        deadline: deadline_after,
                        last_error,
                    })
                }
            }
        }
    }

    /// Waits until the client is connected, or the deadline passes (false).
    pub(super) async fn wait_connected(&self, deadline: Instant) -> bool {
        use async_nats::connection::State;
        while self.bus.client.connection_state() != State::Connected {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Publishes on core NATS, fire-and-forget: no JetStream ack and no
    /// retry, so the event is lost if no one (no stream, no subscriber) is
    /// listening or the connection drops. Returns the event ID. Prefer
    /// [`Publisher::publish`] unless losing events is acceptable.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::PublishOptions;
    /// use repobus::events::RepoSyncStarted;
    ///
    /// let event = RepoSyncStarted::new("pulp-f17".parse()?).into();
    /// let id = publisher.publish_core(&event, PublishOptions::default()).await?;
    /// println!("sent {id} (no ack: it may be lost)");
    /// # Ok(()) }
    /// ```
    pub async fn publish_core(
        &self,
        event: &Event,
        options: PublishOptions,
    ) -> Result<String, PublishError> {
        let result = async {
            let prepared = self.prepare(event, &options)?;
            let headers = self.headers(event, &prepared, &options);
            match self
                .bus
                .client
                .publish_with_headers(prepared.subject, headers, prepared.payload)
                .await
            {
                Ok(()) => Ok(prepared.event_id),
                Err(source) => Err(PublishError::Send {
                    id: prepared.event_id,
                    source,
                }),
            }
        }
        .await;
        let outcome = match &result {
            Ok(_) => PublishOutcome::SentCore,
            Err(e) => PublishOutcome::of_error(e),
        };
        telemetry::record_publish(event.event_type(), outcome, None);
        result
    }

    /// Publishes in the background (used where no one can await, such as a
    /// guard's `Drop`); [`Publisher::close`] waits for it.
    /// `id` is the event's ID (a fresh UUIDv7 when `None`).
    pub(crate) fn publish_detached_with(&self, event: Event, id: Option<String>) {
        let options = PublishOptions {
            id,
            ..PublishOptions::default()
        };
        let publisher = self.clone();
        let spawn = tokio::runtime::Handle::try_current();
        match spawn {
            Ok(handle) => {
                self.background.spawn_on(
                    async move {
                        // Wait for room rather than fail: this event was
                        // already promised to the producer.
                        let Ok(_permit) = publisher.in_flight.clone().acquire_owned().await else {
                            tracing::error!(summary = %event, "publisher closed; event not published");
                            return;
                        };
                        if let Err(e) = publisher.send(&event, &options).await {
                            tracing::error!(error = %e, summary = %event, "background publish failed");
                        }
                    },
                    &handle,
                );
            }
            Err(_) => {
                tracing::error!(summary = %event, "no tokio runtime to publish from; event not published");
            }
        }
    }

    /// Waits until every accepted publish (including background ones) has
    /// its ack or has failed, then flushes the connection. Later publishes
    /// on any clone fail with [`PublishError::Closed`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::PublishError;
    /// use repobus::events::RepoSyncStarted;
    ///
    /// let publisher = bus.publisher();
    /// let event = RepoSyncStarted::new("pulp-f17".parse()?).into();
    /// publisher.publish(&event).await?;
    /// publisher.close().await;
    /// assert!(matches!(publisher.publish(&event).await, Err(PublishError::Closed)));
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) {
        self.background.close();
        self.background.wait().await;
        let capacity = u32::try_from(self.bus.config.max_in_flight).unwrap_or(u32::MAX);
        if let Ok(all) = self.in_flight.acquire_many(capacity).await {
            all.forget();
        }
        self.in_flight.close();
        if let Err(e) = self.bus.client.flush().await {
            tracing::warn!(error = %e, "flush on close failed");
        }
    }
}
