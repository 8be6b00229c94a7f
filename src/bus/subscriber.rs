//! The typed subscriber: JetStream pull consumers yielding decoded events.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::Bus;
use crate::envelope::{header_safe, Envelope};

const CE_TYPE: async_nats::header::HeaderName =
    async_nats::header::HeaderName::from_static("ce-type");
use crate::events::Event;

/// Where a new consumer starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deliver {
    /// Only events published from now on.
    #[default]
    New,
    /// Every event in the stream.
    All,
    /// From this stream sequence on.
    FromSequence(u64),
    /// From this time on.
    FromTime(DateTime<Utc>),
}

/// How to consume.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// A durable consumer name: it survives restarts and resumes where the
    /// last acknowledged event was. `None` is an ephemeral consumer.
    pub durable: Option<String>,
    /// Subject filters (see [`crate::subject::Subjects::filter`]); empty
    /// means every event.
    pub filter_subjects: Vec<String>,
    /// Where to start (only used when the consumer is created).
    pub deliver: Deliver,
    /// Acknowledge explicitly (default). Without acks (`false`) events are
    /// delivered once and never redelivered.
    pub explicit_ack: bool,
    /// How long an unacknowledged event waits before redelivery.
    pub ack_wait: Duration,
    /// Most deliveries of one event (`-1`: unlimited).
    pub max_deliver: i64,
    /// Redelivery delays, one per attempt (the last repeats).
    pub backoff: Vec<Duration>,
    /// Most unacknowledged events at once: a consumer that falls behind
    /// stops receiving instead of losing events.
    pub max_ack_pending: i64,
    /// Fetch at most this many events ahead of the caller (see
    /// [`Subscription::set_prefetch`]). `None` streams in batches of up to
    /// 500; a bound matters for a durable consumer that stops after a few
    /// events, so that it leaves nothing fetched and unacknowledged.
    pub prefetch: Option<usize>,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            durable: None,
            filter_subjects: Vec::new(),
            deliver: Deliver::New,
            explicit_ack: true,
            ack_wait: Duration::from_secs(30),
            max_deliver: -1,
            backoff: Vec::new(),
            max_ack_pending: 1000,
            prefetch: None,
        }
    }
}

/// Why a subscription failed.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The durable name is not a valid consumer name.
    #[error("consumer name {0:?} must be letters, digits, '-' or '_'")]
    BadName(String),
    /// The event stream is missing.
    #[error("cannot open stream {stream}: {source}")]
    Stream {
        /// The stream.
        stream: String,
        /// The server's answer.
        source: jetstream::context::GetStreamError,
    },
    /// The consumer could not be created or opened.
    #[error("cannot create consumer: {0}")]
    Consumer(String),
    /// Receiving failed.
    #[error("receiving: {0}")]
    Receive(String),
    /// An ack, nak or term could not be sent.
    #[error("acknowledging: {0}")]
    Ack(String),
}

/// Opens typed subscriptions.
#[derive(Debug, Clone)]
pub struct Subscriber {
    bus: Bus,
}

impl Subscriber {
    pub(super) fn new(bus: Bus) -> Self {
        Subscriber { bus }
    }

    /// Creates (or, for a durable name, opens) a pull consumer.
    pub async fn subscribe(
        &self,
        options: ConsumerOptions,
    ) -> Result<Subscription, SubscribeError> {
        if let Some(name) = &options.durable {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(SubscribeError::BadName(name.clone()));
            }
        }
        let stream_name = self.bus.config.stream.clone();
        let stream = self
            .bus
            .jetstream
            .get_stream(&stream_name)
            .await
            .map_err(|source| SubscribeError::Stream {
                stream: stream_name.clone(),
                source,
            })?;
        let deliver_policy = match options.deliver {
            Deliver::New => DeliverPolicy::New,
            Deliver::All => DeliverPolicy::All,
            Deliver::FromSequence(start_sequence) => {
                DeliverPolicy::ByStartSequence { start_sequence }
            }
            Deliver::FromTime(t) => DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(t.timestamp()) * 1_000_000_000
                        + i128::from(t.timestamp_subsec_nanos()),
                )
                .map_err(|e| SubscribeError::Consumer(format!("start time {t}: {e}")))?,
            },
        };
        // No filter means the whole stream. (Not the stream's two subjects
        // as two filters: nats-server 2.15 then starts a by-time consumer
        // one message late.)
        let mut filters = options.filter_subjects.clone();
        let (filter_subject, filter_subjects) = if filters.len() <= 1 {
            (filters.pop().unwrap_or_default(), Vec::new())
        } else {
            (String::new(), filters)
        };
        let config = pull::Config {
            durable_name: options.durable.clone(),
            name: options.durable.clone(),
            deliver_policy,
            ack_policy: if options.explicit_ack {
                AckPolicy::Explicit
            } else {
                AckPolicy::None
            },
            ack_wait: options.ack_wait,
            max_deliver: options.max_deliver,
            backoff: options.backoff.clone(),
            max_ack_pending: options.max_ack_pending,
            filter_subject,
            filter_subjects,
            inactive_threshold: if options.durable.is_some() {
                Duration::ZERO
            } else {
                Duration::from_secs(300)
            },
            ..Default::default()
        };
        let consumer = match &options.durable {
            Some(name) => stream.get_or_create_consumer(name, config).await,
            None => stream.create_consumer(config).await,
        }
        .map_err(|e| SubscribeError::Consumer(e.to_string()))?;
        // Fetch in batches, never more than the consumer may have unacked.
        let batch = match options.max_ack_pending {
            limit if limit > 0 => usize::try_from(limit.min(500)).unwrap_or(500),
            _ => 500,
        };
        let source = match options.prefetch {
            None => Source::Stream(
                consumer
                    .stream()
                    .max_messages_per_batch(batch)
                    .heartbeat(Duration::from_secs(5))
                    .messages()
                    .await
                    .map_err(|e| SubscribeError::Consumer(e.to_string()))?,
            ),
            Some(prefetch) => Source::Fetch {
                batch: None,
                prefetch: prefetch.max(1),
            },
        };
        Ok(Subscription {
            bus: self.bus.clone(),
            consumer,
            source,
            explicit_ack: options.explicit_ack,
            dead_lettered: 0,
        })
    }
}

/// Where a subscription's messages come from.
enum Source {
    /// A continuous pull stream with prefetch.
    Stream(pull::Stream),
    /// One bounded fetch at a time.
    Fetch {
        batch: Option<pull::Batch>,
        prefetch: usize,
    },
}

/// A stream of typed events from one consumer.
pub struct Subscription {
    bus: Bus,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    source: Source,
    explicit_ack: bool,
    dead_lettered: u64,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("stream", &self.bus.config.stream)
            .field("dead_lettered", &self.dead_lettered)
            .finish()
    }
}

/// One received event with its envelope, to acknowledge when handled.
#[derive(Debug)]
pub struct Delivery {
    /// The decoded event.
    pub event: Event,
    /// Its CloudEvents attributes.
    pub envelope: Envelope,
    /// The NATS subject it arrived on.
    pub subject: String,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// How many times it has been delivered (1 the first time).
    pub delivered: i64,
    /// Events still waiting for this consumer after this one.
    pub pending: u64,
    message: jetstream::Message,
    explicit_ack: bool,
}

impl Delivery {
    /// Acknowledges: the event is handled and will not come again. A no-op
    /// on subscriptions without acks.
    pub async fn ack(&self) -> Result<(), SubscribeError> {
        self.acknowledge(AckKind::Ack).await
    }

    /// Asks for redelivery, after `delay` if given.
    pub async fn nak(&self, delay: Option<Duration>) -> Result<(), SubscribeError> {
        self.acknowledge(AckKind::Nak(delay)).await
    }

    /// Stops redelivery without handling the event.
    pub async fn term(&self) -> Result<(), SubscribeError> {
        self.acknowledge(AckKind::Term).await
    }

    /// Tells the server the event is still being worked on.
    pub async fn in_progress(&self) -> Result<(), SubscribeError> {
        self.acknowledge(AckKind::Progress).await
    }

    async fn acknowledge(&self, kind: AckKind) -> Result<(), SubscribeError> {
        if !self.explicit_ack {
            return Ok(());
        }
        self.message
            .ack_with(kind)
            .await
            .map_err(|e| SubscribeError::Ack(e.to_string()))
    }

    /// What `repobus tail` prints: the event's accessors plus `subject`,
    /// `id` and `time`.
    pub fn describe(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut out = self.event.describe();
        out.insert("subject".into(), self.subject.clone().into());
        out.insert("id".into(), self.envelope.event_id.clone().into());
        out.insert("time".into(), self.envelope.time_rfc3339().into());
        out
    }
}

impl Subscription {
    /// The next event. Poison messages (that fail validation or decoding)
    /// are dead-lettered and skipped; `None` only when the server closed
    /// the consumer.
    pub async fn next(&mut self) -> Option<Result<Delivery, SubscribeError>> {
        loop {
            let message = match self.next_message().await? {
                Ok(message) => message,
                Err(e) => return Some(Err(e)),
            };
            match self.decode(message).await {
                Some(delivery) => return Some(Ok(delivery)),
                None => continue,
            }
        }
    }

    async fn next_message(&mut self) -> Option<Result<jetstream::Message, SubscribeError>> {
        let receive = |e: &dyn std::fmt::Display| SubscribeError::Receive(e.to_string());
        match &mut self.source {
            Source::Stream(messages) => Some(messages.next().await?.map_err(|e| receive(&e))),
            Source::Fetch { batch, prefetch } => loop {
                if let Some(current) = batch {
                    match current.next().await {
                        Some(Ok(message)) => return Some(Ok(message)),
                        Some(Err(e)) => return Some(Err(receive(&e))),
                        None => *batch = None,
                    }
                }
                match self
                    .consumer
                    .batch()
                    .max_messages(*prefetch)
                    .expires(Duration::from_secs(5))
                    .messages()
                    .await
                {
                    Ok(next) => *batch = Some(next),
                    Err(e) => return Some(Err(receive(&e))),
                }
            },
        }
    }

    /// Bounds how many events the next fetch may bring ahead of the caller
    /// (subscriptions opened with [`ConsumerOptions::prefetch`] only). A
    /// caller that will stop after `n` more events sets `n`, so that nothing
    /// is left fetched and unacknowledged.
    pub fn set_prefetch(&mut self, n: usize) {
        if let Source::Fetch { prefetch, .. } = &mut self.source {
            *prefetch = n.max(1);
        }
    }

    /// Waits until every ack, nak and term sent so far has reached the
    /// server. Call before exiting.
    pub async fn flush(&self) -> Result<(), SubscribeError> {
        self.bus
            .client
            .flush()
            .await
            .map_err(|e| SubscribeError::Ack(e.to_string()))
    }

    /// Events not yet handled by this consumer: still waiting, plus
    /// delivered and not yet acknowledged (those come back after the ack
    /// wait).
    pub async fn unhandled(&mut self) -> Result<u64, SubscribeError> {
        self.consumer
            .info()
            .await
            .map(|info| info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(0))
            .map_err(|e| SubscribeError::Receive(e.to_string()))
    }

    /// Events still waiting for this consumer, as the server counts them.
    pub async fn pending(&mut self) -> Result<u64, SubscribeError> {
        self.consumer
            .info()
            .await
            .map(|info| info.num_pending)
            .map_err(|e| SubscribeError::Receive(e.to_string()))
    }

    /// How many poison messages this subscription dead-lettered.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered
    }

    async fn decode(&mut self, message: jetstream::Message) -> Option<Delivery> {
        let (stream_sequence, delivered, pending, published) = match message.info() {
            Ok(info) => (
                info.stream_sequence,
                info.delivered,
                info.pending,
                DateTime::<Utc>::from_timestamp(
                    info.published.unix_timestamp(),
                    info.published.nanosecond(),
                )
                .unwrap_or_else(Utc::now),
            ),
            Err(_) => (0, 1, 0, Utc::now()),
        };
        let subject = message.subject.to_string();
        let has_type = message
            .headers
            .as_ref()
            .is_some_and(|h| h.get(CE_TYPE).is_some());
        let parsed_type = if has_type {
            None
        } else {
            self.bus.subjects.parse(&subject).ok().map(|p| p.event_type)
        };
        let stream = &self.bus.config.stream;
        let envelope = match Envelope::from_headers(
            message.headers.as_ref(),
            parsed_type,
            || format!("{stream}:{stream_sequence}"),
            published,
        ) {
            Ok(envelope) => envelope,
            Err(e) => {
                self.dead_letter(&message, "bad-envelope", &e.to_string(), stream_sequence)
                    .await;
                return None;
            }
        };
        match Event::decode(envelope.event_type.as_str(), &message.payload) {
            Ok(event) => Some(Delivery {
                event,
                envelope,
                subject,
                stream_sequence,
                delivered,
                pending,
                explicit_ack: self.explicit_ack,
                message,
            }),
            Err(e) => {
                self.dead_letter(&message, e.reason(), &e.to_string(), stream_sequence)
                    .await;
                None
            }
        }
    }

    /// Copies a poison message to `<prefix>.dlq.<reason>` with the error in
    /// the `Repobus-Error` header, then terminates it. If the copy cannot be
    /// stored, the message is nak'ed for a later retry instead: it is never
    /// dropped.
    async fn dead_letter(
        &mut self,
        message: &jetstream::Message,
        reason: &str,
        error: &str,
        seq: u64,
    ) {
        let dlq_subject = self.bus.subjects.dead_letter(reason);
        tracing::warn!(subject = %message.subject, seq, reason, error, "poison message; dead-lettering to {dlq_subject}");
        // Keep the original's headers except JetStream's publish controls
        // (Nats-Expected-Stream, Nats-Rollup, Nats-TTL, ...), which would
        // make the dead-letter stream refuse the copy.
        let mut headers = async_nats::HeaderMap::new();
        if let Some(original) = &message.headers {
            for (name, values) in original.iter() {
                if name.to_string().to_ascii_lowercase().starts_with("nats-") {
                    continue;
                }
                for value in values {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
        headers.insert("Repobus-Error", header_safe(error).as_str());
        headers.insert("Repobus-Original-Subject", message.subject.as_str());
        headers.insert("Repobus-Original-Stream", self.bus.config.stream.as_str());
        headers.insert("Repobus-Original-Sequence", seq.to_string().as_str());
        headers.insert(
            "Nats-Msg-Id",
            format!("dlq:{}:{}", self.bus.config.stream, seq).as_str(),
        );
        let stored = async {
            self.bus
                .jetstream
                .publish_with_headers(dlq_subject.clone(), headers, message.payload.clone())
                .await?
                .await
        }
        .await;
        match stored {
            Ok(_) => {
                self.dead_lettered += 1;
                if self.explicit_ack {
                    if let Err(e) = message.ack_with(AckKind::Term).await {
                        tracing::warn!(error = %e, "could not terminate a dead-lettered message; it may be dead-lettered again (deduplicated)");
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, seq, "could not store the dead letter; asking for redelivery");
                if self.explicit_ack {
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
        }
    }
}
