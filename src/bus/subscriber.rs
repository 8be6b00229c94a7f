//! The typed subscriber: JetStream pull consumers yielding decoded events.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::Bus;
use crate::envelope::{header_safe, Envelope};
use crate::record::Record;

const CE_TYPE: async_nats::header::HeaderName =
    async_nats::header::HeaderName::from_static("ce-type");
use crate::events::Event;

/// Where a new consumer starts reading.
///
/// # Examples
///
/// ```
/// use repobus::bus::{ConsumerOptions, Deliver};
///
/// assert_eq!(Deliver::default(), Deliver::New);
/// // Replay the last day:
/// let since = repobus::history::since("P1D", chrono::Utc::now())?;
/// let options = ConsumerOptions { deliver: Deliver::FromTime(since), ..ConsumerOptions::default() };
/// # Ok::<(), repobus::history::HistoryError>(())
/// ```
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
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use repobus::bus::{ConsumerOptions, Deliver};
/// use repobus::subject::{SubjectFilter, Subjects};
/// use repobus::EventType;
///
/// // With a bus, take the subjects from `bus.subjects()` (its prefix).
/// let subjects = Subjects::default();
/// let options = ConsumerOptions {
///     durable: Some("sync-failure-mailer".into()),
///     filter_subjects: vec![subjects.filter(&SubjectFilter::Type(EventType::RepoSyncFinished))],
///     deliver: Deliver::All,
///     max_deliver: 5,
///     backoff: vec![Duration::from_secs(1), Duration::from_secs(10), Duration::from_secs(60)],
///     ..ConsumerOptions::default()
/// };
/// assert_eq!(options.filter_subjects, ["repobus.repo.sync.finished.*"]);
/// assert!(options.explicit_ack);
/// ```
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

/// Why a subscription failed. Each variant keeps the client's error as its
/// [`std::error::Error::source`].
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::bus::{ConsumerOptions, SubscribeError};
///
/// let options = ConsumerOptions { durable: Some("mailer".into()), ..ConsumerOptions::default() };
/// let subscription = match bus.subscriber().subscribe(options).await {
///     Ok(subscription) => subscription,
///     Err(SubscribeError::Stream { stream, .. }) => {
///         return Err(format!("stream {stream} is missing: was it created with Bus::connect?").into())
///     }
///     Err(e) => return Err(e.into()),
/// };
/// # Ok(()) }
/// ```
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
    /// The start time cannot be given to the server.
    #[error("start time {time}: {source}")]
    StartTime {
        /// The requested start.
        time: DateTime<Utc>,
        /// Why it is out of range.
        source: time::error::ComponentRange,
    },
    /// The consumer could not be created or opened.
    #[error("cannot create consumer: {0}")]
    Consumer(#[source] jetstream::stream::ConsumerError),
    /// The consumer's messages could not be requested.
    #[error("cannot request messages: {0}")]
    Messages(#[source] jetstream::consumer::StreamError),
    /// The consumer's state could not be read.
    #[error("cannot read the consumer's state: {0}")]
    Info(#[source] jetstream::context::ConsumerInfoError),
    /// Receiving failed.
    #[error("receiving: {0}")]
    Receive(#[source] async_nats::Error),
    /// An ack, nak or term could not be sent.
    #[error("acknowledging: {0}")]
    Ack(#[source] async_nats::Error),
    /// Acks could not be flushed to the server.
    #[error("flushing acknowledgements: {0}")]
    Flush(#[source] async_nats::client::FlushError),
}

/// Opens typed subscriptions.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::bus::ConsumerOptions;
///
/// let subscriber = bus.subscriber();
/// let mut events = subscriber.subscribe(ConsumerOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Subscriber {
    bus: Bus,
}

impl Subscriber {
    pub(super) fn new(bus: Bus) -> Self {
        Subscriber { bus }
    }

    /// Creates (or, for a durable name, opens) a pull consumer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::{ConsumerOptions, Deliver};
    /// use repobus::subject::SubjectFilter;
    ///
    /// // A durable consumer of one repository's finished events: after a restart
    /// // it resumes after the last event it acknowledged.
    /// let mut events = bus
    ///     .subscriber()
    ///     .subscribe(ConsumerOptions {
    ///         durable: Some("pulp-f17-watcher".into()),
    ///         filter_subjects: vec![bus.subjects().filter(&SubjectFilter::repo("pulp-f17").finished())],
    ///         deliver: Deliver::All,
    ///         ..ConsumerOptions::default()
    ///     })
    ///     .await?;
    /// while let Some(delivery) = events.next().await {
    ///     let delivery = delivery?;
    ///     println!("{}", delivery.event.summary());
    ///     delivery.ack().await?;
    /// }
    /// # Ok(()) }
    /// ```
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
        let stream_name = self.bus.config.stream_name().to_owned();
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
                .map_err(|source| SubscribeError::StartTime { time: t, source })?,
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
        .map_err(SubscribeError::Consumer)?;
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
                    .map_err(SubscribeError::Messages)?,
            ),
            Some(_) => Source::Fetch { batch: None },
        };
        let consumer_label = crate::telemetry::consumer_label(options.durable.as_deref());
        let shared = Arc::new(Shared {
            prefetch: AtomicUsize::new(options.prefetch.unwrap_or(1).max(1)),
            dead_lettered: AtomicU64::new(0),
            consumed: metrics::counter!(
                crate::telemetry::EVENTS_CONSUMED,
                "consumer" => consumer_label.clone()
            ),
            consumer_label,
        });
        Ok(Subscription {
            bus: self.bus.clone(),
            consumer: consumer.clone(),
            shared: shared.clone(),
            receiver: Receiver {
                bus: self.bus.clone(),
                consumer,
                source,
                explicit_ack: options.explicit_ack,
                shared,
                busy: None,
            },
            caught_up: CatchUp::Unknown,
        })
    }
}

/// Where a subscription's messages come from.
enum Source {
    /// A continuous pull stream with prefetch.
    Stream(pull::Stream),
    /// One bounded fetch at a time, of at most `Shared::prefetch` events.
    Fetch { batch: Option<pull::Batch> },
}

/// What a subscription and its receiver share while a receive is in flight.
struct Shared {
    prefetch: AtomicUsize,
    dead_lettered: AtomicU64,
    /// `repobus_events_consumed_total` of this consumer, registered once.
    consumed: metrics::Counter,
    /// The `consumer` label of this subscription's metrics.
    consumer_label: metrics::SharedString,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("prefetch", &self.prefetch)
            .field("dead_lettered", &self.dead_lettered)
            .field("consumer", &self.consumer_label)
            .finish_non_exhaustive()
    }
}

/// The receiving half: polls the consumer's messages and decodes them
/// without an allocation per message; only fetching a new batch and
/// dead-lettering a poison message run as (boxed) futures. It is kept in
/// the subscription between polls, so a receive interrupted by a timeout
/// resumes where it was instead of losing a message.
struct Receiver {
    bus: Bus,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    source: Source,
    explicit_ack: bool,
    shared: Arc<Shared>,
    /// Work in progress that must finish before the next message.
    busy: Option<Busy>,
}

type FetchFuture = Pin<Box<dyn Future<Output = Result<pull::Batch, pull::BatchError>> + Send>>;
type DeadLetterFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a receiver is waiting for besides the next message.
enum Busy {
    /// A new batch (bounded fetches only).
    Fetching(FetchFuture),
    /// A poison message being copied to the dead-letter stream.
    DeadLettering(DeadLetterFuture),
}

/// Whether the subscription has read everything the stream had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CatchUp {
    /// Not known: ask the server before waiting.
    Unknown,
    /// The last delivery said nothing more was waiting: ask the server.
    MaybeDone,
    /// More is waiting.
    Behind,
}

/// How long [`Subscription::next_until_caught_up`] waits for a message
/// before asking the server whether anything is left for this consumer.
pub const CATCH_UP_POLL: Duration = Duration::from_secs(1);

/// A stream of typed events from one consumer.
///
/// Implements [`futures_util::Stream`]; [`Subscription::next`] is the same
/// as `StreamExt::next`. Poison messages (that fail validation or
/// decoding) are dead-lettered and skipped, never yielded.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::StreamExt;
/// use repobus::bus::{ConsumerOptions, Deliver};
///
/// let subscription = bus.subscriber().subscribe(ConsumerOptions {
///     deliver: Deliver::All,
///     ..ConsumerOptions::default()
/// }).await?;
/// let summaries: Vec<String> = subscription
///     .take(10)
///     .filter_map(|d| async move { d.ok() })
///     .then(|d| async move { let _ = d.ack().await; d.event.summary() })
///     .collect()
///     .await;
/// # Ok(()) }
/// ```
pub struct Subscription {
    bus: Bus,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    shared: Arc<Shared>,
    receiver: Receiver,
    caught_up: CatchUp,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("stream", &self.bus.config.stream_name())
            .field("dead_lettered", &self.dead_lettered())
            .finish()
    }
}

/// One received event with its envelope, to acknowledge when handled.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(mut events: repobus::bus::Subscription) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::Event;
///
/// while let Some(delivery) = events.next().await {
///     let delivery = delivery?;
///     if let Event::RepoSyncFinished(finished) = &delivery.event {
///         println!("#{} {}: {} added", delivery.stream_sequence, finished.repo_id, finished.added_count);
///     }
///     if delivery.delivered > 1 {
///         eprintln!("{} redelivered ({} times)", delivery.envelope.event_id, delivery.delivered);
///     }
///     delivery.ack().await?;
/// }
/// # Ok(()) }
/// ```
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(delivery: repobus::bus::Delivery) -> Result<(), repobus::bus::SubscribeError> {
    /// println!("{}", delivery.event);
    /// delivery.ack().await?;
    /// # Ok(()) }
    /// ```
    pub async fn ack(&self) -> Result<(), SubscribeError> {
        self.acknowledge(AckKind::Ack).await
    }

    /// Asks for redelivery, after `delay` if given.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn handle(_: &repobus::Event) -> Result<(), std::io::Error> { Ok(()) }
    /// # async fn demo(delivery: repobus::bus::Delivery) -> Result<(), repobus::bus::SubscribeError> {
    /// use std::time::Duration;
    ///
    /// match handle(&delivery.event).await {
    ///     Ok(()) => delivery.ack().await?,
    ///     // The mail server is down: try again in a minute.
    ///     Err(_) => delivery.nak(Some(Duration::from_secs(60))).await?,
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn nak(&self, delay: Option<Duration>) -> Result<(), SubscribeError> {
        self.acknowledge(AckKind::Nak(delay)).await
    }

    /// Stops redelivery without handling the event.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(delivery: repobus::bus::Delivery) -> Result<(), repobus::bus::SubscribeError> {
    /// // An event this consumer can never handle: no point in redelivering it.
    /// if delivery.event.repo_id().is_none() {
    ///     delivery.term().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn term(&self) -> Result<(), SubscribeError> {
        self.acknowledge(AckKind::Term).await
    }

    /// Tells the server the event is still being worked on.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn mirror(_: &repobus::Event) {}
    /// # async fn demo(delivery: repobus::bus::Delivery) -> Result<(), repobus::bus::SubscribeError> {
    /// use std::time::Duration;
    ///
    /// let work = mirror(&delivery.event);
    /// tokio::pin!(work);
    /// loop {
    ///     tokio::select! {
    ///         () = &mut work => break,
    ///         // Longer than the ack wait: keep the server from redelivering.
    ///         _ = tokio::time::sleep(Duration::from_secs(10)) => delivery.in_progress().await?,
    ///     }
    /// }
    /// delivery.ack().await?;
    /// # Ok(()) }
    /// ```
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
            .map_err(SubscribeError::Ack)
    }

    /// What `repobus tail` prints: the event's accessors and its envelope
    /// (see [`crate::record`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(delivery: repobus::bus::Delivery) -> Result<(), Box<dyn std::error::Error>> {
    /// // One JSON line per event, as `repobus tail --json` prints it:
    /// println!("{}", serde_json::to_string(&delivery.record())?);
    /// # Ok(()) }
    /// ```
    pub fn record(&self) -> Record {
        Record::new(
            &self.event,
            &self.envelope,
            &self.subject,
            self.stream_sequence,
        )
    }
}

impl futures_util::Stream for Subscription {
    type Item = Result<Delivery, SubscribeError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_next(cx)
    }
}

impl Subscription {
    /// The next event; `None` only when the server closed the consumer.
    /// The same as [`futures_util::StreamExt::next`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut subscription: repobus::bus::Subscription) -> Result<(), repobus::bus::SubscribeError> {
    /// while let Some(delivery) = subscription.next().await {
    ///     let delivery = delivery?;
    ///     println!("{}", delivery.event);
    ///     delivery.ack().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next(&mut self) -> Option<Result<Delivery, SubscribeError>> {
        futures_util::StreamExt::next(self).await
    }

    /// The next event, or `None` once this consumer has read everything
    /// the stream holds for it (caught up): the one rule `tail --no-follow`
    /// and [`crate::history::search`] stop by.
    ///
    /// Caught up means the server counts nothing waiting and nothing
    /// delivered but unacknowledged for this consumer. When no message
    /// comes for [`CATCH_UP_POLL`] the server is asked, so poison messages
    /// (dead-lettered, never yielded) and events removed by retention
    /// cannot keep it waiting.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus::bus::SubscribeError> {
    /// use repobus::bus::{ConsumerOptions, Deliver};
    ///
    /// let mut history = bus.subscriber().subscribe(ConsumerOptions {
    ///     deliver: Deliver::All,
    ///     explicit_ack: false,
    ///     ..ConsumerOptions::default()
    /// }).await?;
    /// let mut count = 0;
    /// while let Some(delivery) = history.next_until_caught_up().await {
    ///     delivery?;
    ///     count += 1;
    /// }
    /// println!("{count} events stored");
    /// # Ok(()) }
    /// ```
    pub async fn next_until_caught_up(&mut self) -> Option<Result<Delivery, SubscribeError>> {
        loop {
            if self.caught_up != CatchUp::Behind && self.receiver.busy.is_none() {
                match self.unhandled().await {
                    Ok(0) => return None,
                    Ok(_) => self.caught_up = CatchUp::Behind,
                    Err(e) => return Some(Err(e)),
                }
            }
            match tokio::time::timeout(CATCH_UP_POLL, self.next()).await {
                Ok(Some(Ok(delivery))) => {
                    self.caught_up = if delivery.pending == 0 {
                        CatchUp::MaybeDone
                    } else {
                        CatchUp::Behind
                    };
                    return Some(Ok(delivery));
                }
                Ok(other) => return other,
                // Nothing came: ask the server what is left (the receive
                // in flight is kept and resumes on the next call).
                Err(_) => match self.unhandled().await {
                    Ok(0) => return None,
                    Ok(_) => continue,
                    Err(e) => return Some(Err(e)),
                },
            }
        }
    }

    /// Bounds how many events the next fetch may bring ahead of the caller
    /// (subscriptions opened with [`ConsumerOptions::prefetch`] only). A
    /// caller that will stop after `n` more events sets `n`, so that nothing
    /// is left fetched and unacknowledged.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus::bus::SubscribeError> {
    /// use repobus::bus::ConsumerOptions;
    ///
    /// // Handle exactly 10 events and leave the rest for the next run.
    /// let mut events = bus.subscriber().subscribe(ConsumerOptions {
    ///     durable: Some("nightly-report".into()),
    ///     prefetch: Some(10),
    ///     ..ConsumerOptions::default()
    /// }).await?;
    /// for left in (1..=10).rev() {
    ///     events.set_prefetch(left);
    ///     let Some(delivery) = events.next_until_caught_up().await else { break };
    ///     delivery?.ack().await?;
    /// }
    /// events.flush().await?;
    /// # Ok(()) }
    /// ```
    pub fn set_prefetch(&mut self, n: usize) {
        self.shared.prefetch.store(n.max(1), Ordering::Relaxed);
    }

    // The three queries below return futures that do not borrow the
    // subscription: a receive in flight makes it `Send` but not `Sync`, and
    // a future holding `&Subscription` would not be `Send`.

    /// Waits until every ack, nak and term sent so far has reached the
    /// server. Call before exiting.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut events: repobus::bus::Subscription) -> Result<(), repobus::bus::SubscribeError> {
    /// if let Some(delivery) = events.next().await {
    ///     delivery?.ack().await?;
    /// }
    /// events.flush().await?; // the ack has reached the server; safe to exit
    /// # Ok(()) }
    /// ```
    pub fn flush(&self) -> impl Future<Output = Result<(), SubscribeError>> + Send + 'static {
        let client = self.bus.client.clone();
        async move { client.flush().await.map_err(SubscribeError::Flush) }
    }

    /// Events not yet handled by this consumer: still waiting, plus
    /// delivered and not yet acknowledged (those come back after the ack
    /// wait).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(events: repobus::bus::Subscription) -> Result<(), repobus::bus::SubscribeError> {
    /// let left = events.unhandled().await?;
    /// println!("{left} events not yet acknowledged by this consumer");
    /// # Ok(()) }
    /// ```
    pub fn unhandled(&self) -> impl Future<Output = Result<u64, SubscribeError>> + Send + 'static {
        let consumer = self.consumer.clone();
        async move {
            consumer
                .get_info()
                .await
                .map(|info| info.num_pending + u64::try_from(info.num_ack_pending).unwrap_or(0))
                .map_err(SubscribeError::Info)
        }
    }

    /// Events still waiting for this consumer, as the server counts them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(events: repobus::bus::Subscription) -> Result<(), repobus::bus::SubscribeError> {
    /// println!("{} events waiting", events.pending().await?);
    /// # Ok(()) }
    /// ```
    pub fn pending(&self) -> impl Future<Output = Result<u64, SubscribeError>> + Send + 'static {
        let consumer = self.consumer.clone();
        async move {
            consumer
                .get_info()
                .await
                .map(|info| info.num_pending)
                .map_err(SubscribeError::Info)
        }
    }

    /// How many poison messages this subscription dead-lettered.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut events: repobus::bus::Subscription) -> Result<(), repobus::bus::SubscribeError> {
    /// while let Some(delivery) = events.next_until_caught_up().await {
    ///     delivery?;
    /// }
    /// if events.dead_lettered() > 0 {
    ///     eprintln!("{} poison messages moved to the dead-letter stream", events.dead_lettered());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn dead_lettered(&self) -> u64 {
        self.shared.dead_lettered.load(Ordering::Relaxed)
    }
}

impl Receiver {
    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Delivery, SubscribeError>>> {
        loop {
            match &mut self.busy {
                Some(Busy::DeadLettering(work)) => {
                    std::task::ready!(work.as_mut().poll(cx));
                    self.busy = None;
                }
                Some(Busy::Fetching(fetch)) => {
                    let fetched = std::task::ready!(fetch.as_mut().poll(cx));
                    self.busy = None;
                    match fetched {
                        Ok(batch) => self.source = Source::Fetch { batch: Some(batch) },
                        Err(e) => {
                            return Poll::Ready(Some(Err(SubscribeError::Receive(Box::new(e)))))
                        }
                    }
                }
                None => {}
            }
            let message = match &mut self.source {
                Source::Stream(messages) => match std::task::ready!(messages.poll_next_unpin(cx)) {
                    Some(Ok(message)) => message,
                    // A missed heartbeat (the server failed over, or was slow)
                    // is not the end: the client pulls again by itself, so
                    // the subscription goes on instead of ending its user.
                    Some(Err(e))
                        if e.kind()
                            == jetstream::consumer::pull::MessagesErrorKind::MissingHeartbeat =>
                    {
                        tracing::warn!(error = %e, "missed the consumer's heartbeat; pulling again");
                        continue;
                    }
                    Some(Err(e)) => {
                        return Poll::Ready(Some(Err(SubscribeError::Receive(Box::new(e)))))
                    }
                    None => return Poll::Ready(None),
                },
                Source::Fetch { batch: Some(batch) } => {
                    match std::task::ready!(batch.poll_next_unpin(cx)) {
                        Some(Ok(message)) => message,
                        Some(Err(e)) => return Poll::Ready(Some(Err(SubscribeError::Receive(e)))),
                        None => {
                            self.source = Source::Fetch { batch: None };
                            continue;
                        }
                    }
                }
                Source::Fetch { batch: None } => {
                    let consumer = self.consumer.clone();
                    let prefetch = self.shared.prefetch.load(Ordering::Relaxed);
                    self.busy = Some(Busy::Fetching(Box::pin(async move {
                        consumer
                            .batch()
                            .max_messages(prefetch)
                            .expires(Duration::from_secs(5))
                            .messages()
                            .await
                    })));
                    continue;
                }
            };
            match self.decode(message) {
                Ok(delivery) => {
                    self.shared.consumed.increment(1);
                    return Poll::Ready(Some(Ok(delivery)));
                }
                Err(poison) => {
                    self.busy = Some(Busy::DeadLettering(Box::pin(dead_letter(
                        self.bus.clone(),
                        self.shared.clone(),
                        self.explicit_ack,
                        poison,
                    ))));
                }
            }
        }
    }

    /// Reads the envelope and decodes the body; a message that cannot be
    /// read is poison, for the dead-letter stream.
    fn decode(&self, message: jetstream::Message) -> Result<Delivery, Box<Poison>> {
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
        let stream = self.bus.config.stream_name();
        let envelope = match Envelope::from_headers(
            message.headers.as_ref(),
            parsed_type,
            || format!("{stream}:{stream_sequence}"),
            published,
        ) {
            Ok(envelope) => envelope,
            Err(e) => {
                return Err(Box::new(Poison {
                    message,
                    reason: "bad-envelope",
                    error: e.to_string(),
                    seq: stream_sequence,
                }))
            }
        };
        match Event::decode(envelope.event_type.as_str(), &message.payload) {
            Ok(event) => Ok(Delivery {
                event,
                envelope,
                subject,
                stream_sequence,
                delivered,
                pending,
                explicit_ack: self.explicit_ack,
                message,
            }),
            Err(e) => Err(Box::new(Poison {
                reason: e.reason(),
                error: e.to_string(),
                message,
                seq: stream_sequence,
            })),
        }
    }
}

/// A message that cannot be read as an event.
struct Poison {
    message: jetstream::Message,
    /// The dead-letter subject's last token.
    reason: &'static str,
    /// The error, for the `Repobus-Error` header.
    error: String,
    /// Its stream sequence.
    seq: u64,
}

/// Copies a poison message to `<prefix>.dlq.<reason>` with the error in the
/// `Repobus-Error` header, then terminates it. If the copy cannot be stored,
/// the message is nak'ed for a later retry instead: it is never dropped.
async fn dead_letter(bus: Bus, shared: Arc<Shared>, explicit_ack: bool, poison: Box<Poison>) {
    let Poison {
        message,
        reason,
        error,
        seq,
    } = *poison;
    let error = error.as_str();
    {
        let dlq_subject = bus.subjects.dead_letter(reason);
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
        headers.insert("Repobus-Original-Stream", bus.config.stream_name());
        headers.insert("Repobus-Original-Sequence", seq.to_string().as_str());
        headers.insert(
            "Nats-Msg-Id",
            format!("dlq:{}:{}", bus.config.stream_name(), seq).as_str(),
        );
        let stored = async {
            bus.jetstream
                .publish_with_headers(dlq_subject.clone(), headers, message.payload.clone())
                .await?
                .await
        }
        .await;
        match stored {
            Ok(_) => {
                shared.dead_lettered.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(
                    crate::telemetry::EVENTS_DEAD_LETTERED,
                    "consumer" => shared.consumer_label.clone(),
                    "reason" => reason
                )
                .increment(1);
                if explicit_ack {
                    if let Err(e) = message.ack_with(AckKind::Term).await {
                        tracing::warn!(error = %e, "could not terminate a dead-lettered message; it may be dead-lettered again (deduplicated)");
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, seq, "could not store the dead letter; asking for redelivery");
                if explicit_ack {
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
        }
    }
}
