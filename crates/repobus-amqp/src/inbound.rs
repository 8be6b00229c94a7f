//! amqp-in: fedora-messaging messages from an AMQP queue into JetStream.
//!
//! Each message is decoded on its routing key ([`crate::fedora::decode`])
//! and stored with `ce-id` = the AMQP `message_id` (so a redelivered message
//! is stored once), `ce-time` = its `sent-at` header and `ce-source` = the
//! broker and vhost. The AMQP message is acknowledged only after the
//! JetStream ack. A message that does not decode is copied to repobus's
//! dead-letter stream (`<prefix>.dlq.<reason>`, with the routing key, the
//! AMQP headers and the error in headers) and then acknowledged, or, when a
//! dead-letter exchange is configured, rejected to it; a message of a topic
//! repobus does not know is acknowledged and counted as skipped.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, Consumer};
use repobus::bus::Bus;
use repobus::envelope::{header_safe, Envelope};
use repobus::{DecodeError, Event};
use tokio::task::JoinSet;

use crate::connection::{AmqpConfig, Backoff, BridgeError};
use crate::fedora;

/// Where amqp-in reads from.
#[derive(Debug, Clone)]
pub enum QueueSource {
    /// Declare a durable queue and bind it to `exchange` with each of
    /// `topics` (routing-key patterns such as `org.fedoraproject.prod.copr.#`).
    Declare {
        /// The queue's name.
        queue: String,
        /// The exchange (fedora-messaging's is `amq.topic`).
        exchange: String,
        /// Routing-key patterns; at least one.
        topics: Vec<String>,
    },
    /// Consume an existing queue (declared passively: it must exist).
    Existing(String),
}

impl QueueSource {
    /// The queue's name.
    pub fn queue(&self) -> &str {
        match self {
            QueueSource::Declare { queue, .. } | QueueSource::Existing(queue) => queue,
        }
    }
}

/// What amqp-in does.
///
/// ```
/// use repobus_amqp::{AmqpConfig, inbound::{InboundConfig, QueueSource}};
///
/// let config = InboundConfig::new(
///     AmqpConfig::new("amqp://guest:guest@localhost:5672/%2F"),
///     QueueSource::Declare {
///         queue: "repobus-copr".into(),
///         exchange: "amq.topic".into(),
///         topics: vec!["org.fedoraproject.prod.copr.#".into()],
///     },
/// );
/// assert_eq!(config.source, "amqp://localhost:5672/%2F");
/// assert_eq!(config.prefetch, 100);
/// ```
#[derive(Debug, Clone)]
pub struct InboundConfig {
    /// The broker.
    pub amqp: AmqpConfig,
    /// The queue.
    pub queue: QueueSource,
    /// `basic.qos` prefetch: most messages received and not yet stored.
    pub prefetch: u16,
    /// `ce-source` of bridged events (default: [`AmqpConfig::source`]).
    pub source: String,
    /// An AMQP dead-letter exchange: undecodable messages are rejected to
    /// it (a declared queue gets `x-dead-letter-exchange`) instead of
    /// being copied to repobus's dead-letter stream.
    pub dead_letter_exchange: Option<String>,
    /// Delays between reconnects.
    pub backoff: Backoff,
}

impl InboundConfig {
    /// Defaults: prefetch 100, `ce-source` naming the broker and vhost.
    pub fn new(amqp: AmqpConfig, queue: QueueSource) -> Self {
        InboundConfig {
            source: amqp.source(),
            amqp,
            queue,
            prefetch: 100,
            dead_letter_exchange: None,
            backoff: Backoff::default(),
        }
    }
}

/// Counts of what amqp-in did, shared with the running bridge.
#[derive(Debug, Default)]
pub struct InboundStats {
    /// Events stored for the first time.
    pub stored: AtomicU64,
    /// Messages already stored (a redelivery): acknowledged, stored once.
    pub duplicates: AtomicU64,
    /// Undecodable messages dead-lettered (or rejected to the DLX).
    pub dead_lettered: AtomicU64,
    /// Messages of topics repobus does not know.
    pub skipped: AtomicU64,
    /// Sessions opened (1 + reconnects).
    pub sessions: AtomicU64,
}

impl InboundStats {
    fn count(&self, counter: &AtomicU64, outcome: &'static str) {
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("repobus_amqp_in_messages_total", "outcome" => outcome).increment(1);
    }
}

/// The amqp-in bridge.
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus_amqp::BridgeError> {
/// use repobus_amqp::{AmqpConfig, inbound::{Inbound, InboundConfig, QueueSource}};
///
/// let config = InboundConfig::new(
///     AmqpConfig::new("amqp://guest:guest@localhost:5672/%2F"),
///     QueueSource::Existing("copr-events".into()),
/// );
/// let inbound = Inbound::new(config, bus);
/// inbound.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Inbound {
    config: Arc<InboundConfig>,
    bus: Bus,
    stats: Arc<InboundStats>,
}

impl Inbound {
    /// A bridge into `bus`.
    pub fn new(config: InboundConfig, bus: Bus) -> Self {
        Inbound {
            config: Arc::new(config),
            bus,
            stats: Arc::default(),
        }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<InboundStats> {
        self.stats.clone()
    }

    /// Connects, declares (or checks) the queue and its bindings, and
    /// disconnects: everything that can be wrong with the settings, before
    /// anything is consumed.
    ///
    /// ```no_run
    /// # async fn demo(inbound: repobus_amqp::inbound::Inbound) {
    /// if let Err(e) = inbound.declare().await {
    ///     eprintln!("{e}");
    ///     std::process::exit(1);
    /// }
    /// # }
    /// ```
    pub async fn declare(&self) -> Result<(), BridgeError> {
        let connection = self.config.amqp.connect().await?;
        let result = self.setup(&connection).await.map(|_| ());
        let _ = connection.close(200, "declared".into()).await;
        result
    }

    fn amqp_error(&self, action: &'static str) -> impl Fn(lapin::Error) -> BridgeError + '_ {
        move |source| BridgeError::Amqp {
            url: self.config.amqp.redacted_url(),
            action,
            source,
        }
    }

    async fn setup(&self, connection: &Connection) -> Result<(Channel, Consumer), BridgeError> {
        let channel = connection
            .create_channel()
            .await
            .map_err(self.amqp_error("opening a channel"))?;
        channel
            .basic_qos(self.config.prefetch, BasicQosOptions::default())
            .await
            .map_err(self.amqp_error("setting the prefetch (basic.qos)"))?;
        let queue = self.config.queue.queue().to_owned();
        match &self.config.queue {
            QueueSource::Declare {
                exchange, topics, ..
            } => {
                if topics.is_empty() {
                    return Err(BridgeError::Config(
                        "declaring a queue needs at least one --topic".into(),
                    ));
                }
                let mut arguments = FieldTable::default();
                if let Some(dlx) = &self.config.dead_letter_exchange {
                    arguments.insert(
                        "x-dead-letter-exchange".into(),
                        AMQPValue::LongString(dlx.as_str().into()),
                    );
                }
                channel
                    .queue_declare(
                        queue.as_str().into(),
                        QueueDeclareOptions {
                            durable: true,
                            ..QueueDeclareOptions::default()
                        },
                        arguments,
                    )
                    .await
                    .map_err(self.amqp_error("declaring the queue"))?;
                for topic in topics {
                    channel
                        .queue_bind(
                            queue.as_str().into(),
                            exchange.as_str().into(),
                            topic.as_str().into(),
                            QueueBindOptions::default(),
                            FieldTable::default(),
                        )
                        .await
                        .map_err(self.amqp_error("binding the queue"))?;
                }
            }
            QueueSource::Existing(_) => {
                channel
                    .queue_declare(
                        queue.as_str().into(),
                        QueueDeclareOptions {
                            passive: true,
                            ..QueueDeclareOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await
                    .map_err(self.amqp_error("opening the existing queue (passive declare)"))?;
            }
        }
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(self.amqp_error("consuming"))?;
        Ok((channel, consumer))
    }

    /// Runs until `shutdown` completes. Errors of the first connection
    /// (bad URL, credentials, certificates, queue) are returned; later
    /// losses of the broker are retried with backoff. Messages received but
    /// not yet stored when it stops are not acknowledged, so the broker
    /// delivers them again.
    ///
    /// ```no_run
    /// # async fn demo(inbound: repobus_amqp::inbound::Inbound) -> Result<(), repobus_amqp::BridgeError> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let running = tokio::spawn(async move { inbound.run(async { let _ = stopped.await; }).await });
    /// // ...
    /// let _ = stop.send(());
    /// # Ok(()) }
    /// ```
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), BridgeError> {
        tokio::pin!(shutdown);
        let mut first = true;
        let mut delay = self.config.backoff.min;
        loop {
            let opened = async {
                let connection = self.config.amqp.connect().await?;
                let (channel, consumer) = self.setup(&connection).await?;
                Ok::<_, BridgeError>((connection, channel, consumer))
            };
            let opened = tokio::select! {
                opened = opened => opened,
                () = &mut shutdown => return Ok(()),
            };
            match opened {
                Err(e) if first => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "amqp-in: cannot reconnect; retrying in {delay:?}");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = &mut shutdown => return Ok(()),
                    }
                    delay = self.config.backoff.next(delay);
                }
                Ok((connection, _channel, consumer)) => {
                    first = false;
                    delay = self.config.backoff.min;
                    self.stats.sessions.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(queue = self.config.queue.queue(), "amqp-in: consuming");
                    let stopped = self.consume(consumer, &mut shutdown).await;
                    if stopped {
                        let _ = connection.close(200, "shutting down".into()).await;
                        return Ok(());
                    }
                    metrics::counter!("repobus_amqp_in_reconnects_total").increment(1);
                    tracing::warn!("amqp-in: lost the broker; reconnecting");
                }
            }
        }
    }

    /// Consumes until the consumer ends (false) or shutdown (true).
    async fn consume(
        &self,
        mut consumer: Consumer,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> bool {
        let mut handling = JoinSet::new();
        let stopped = loop {
            tokio::select! {
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let this = self.clone();
                        handling.spawn(async move { this.handle(delivery).await });
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "amqp-in: consumer failed");
                        break false;
                    }
                    None => break false,
                },
                Some(_) = handling.join_next(), if !handling.is_empty() => {}
                () = shutdown.as_mut() => break true,
            }
        };
        // Let what is being stored finish (its ack may still reach the
        // broker); anything left is delivered again.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while handling.join_next().await.is_some() {}
        })
        .await;
        handling.abort_all();
        stopped
    }

    /// Stores or dead-letters one message, then acknowledges it.
    async fn handle(&self, delivery: Delivery) {
        let routing_key = delivery.routing_key.as_str().to_owned();
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_owned());
        let headers = delivery.properties.headers().clone();
        let sent_at = headers
            .as_ref()
            .and_then(|h| h.inner().get("sent-at"))
            .and_then(fedora::header_text)
            .and_then(|t| fedora::parse_sent_at(&t));
        let outcome = match fedora::decode(&routing_key, &delivery.data) {
            Ok(event) => match Envelope::new(&event, &self.config.source, message_id.as_deref()) {
                Ok(mut envelope) => {
                    if let Some(t) = sent_at {
                        envelope.time = t;
                    }
                    Ok((event, envelope))
                }
                Err(e) => Err(("bad-envelope", format!("message_id: {e}"))),
            },
            Err(DecodeError::UnknownTopic(_)) => {
                self.stats.count(&self.stats.skipped, "skipped");
                tracing::debug!(routing_key, "amqp-in: unknown topic; skipped");
                self.ack(&delivery).await;
                return;
            }
            Err(e) => Err((e.reason(), e.to_string())),
        };
        match outcome {
            Ok((event, envelope)) => {
                let duplicate = self.store(&event, &envelope).await;
                if duplicate {
                    self.stats.count(&self.stats.duplicates, "duplicate");
                } else {
                    self.stats.count(&self.stats.stored, "stored");
                }
                self.ack(&delivery).await;
            }
            Err((reason, error)) => {
                tracing::warn!(routing_key, reason, error, "amqp-in: undecodable message");
                if self.config.dead_letter_exchange.is_some() {
                    let _ = delivery
                        .acker
                        .reject(BasicRejectOptions { requeue: false })
                        .await;
                    self.stats.count(&self.stats.dead_lettered, "rejected");
                    return;
                }
                let dead = DeadLetter {
                    routing_key: &routing_key,
                    exchange: delivery.exchange.as_str(),
                    message_id: message_id.as_deref(),
                    headers: headers.as_ref(),
                    reason,
                    error: &error,
                    body: &delivery.data,
                };
                self.dead_letter(dead).await;
                self.stats.count(&self.stats.dead_lettered, "dead_lettered");
                self.ack(&delivery).await;
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) {
        if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
            // The broker will deliver it again; the event ID stores it once.
            tracing::warn!(error = %e, "amqp-in: cannot acknowledge; it will come again");
        }
    }

    /// Publishes until the JetStream ack; true when it was a duplicate.
    async fn store(&self, event: &Event, envelope: &Envelope) -> bool {
        let subject = self.bus.subjects().for_event(event);
        let payload = Bytes::from(event.to_vec());
        self.publish_until_acked(subject, envelope.to_headers(), payload)
            .await
    }

    async fn publish_until_acked(
        &self,
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
    ) -> bool {
        let mut delay = Duration::from_millis(50);
        loop {
            let attempt = async {
                self.bus
                    .jetstream()
                    .send_publish(
                        subject.clone(),
                        PublishMessage::build()
                            .payload(payload.clone())
                            .headers(headers.clone()),
                    )
                    .await?
                    .await
            };
            match tokio::time::timeout(Duration::from_secs(5), attempt).await {
                Ok(Ok(ack)) => return ack.duplicate,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, subject, "amqp-in: JetStream did not store; retrying")
                }
                Err(_) => tracing::warn!(subject, "amqp-in: no JetStream ack in 5 s; retrying"),
            }
            metrics::counter!("repobus_amqp_in_nats_retries_total").increment(1);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn dead_letter(&self, dead: DeadLetter<'_>) {
        let subject = self.bus.subjects().dead_letter(dead.reason);
        let mut headers = HeaderMap::new();
        headers.insert("Repobus-Error", header_safe(dead.error).as_str());
        headers.insert(
            "Repobus-Amqp-Routing-Key",
            header_safe(dead.routing_key).as_str(),
        );
        headers.insert("Repobus-Amqp-Exchange", header_safe(dead.exchange).as_str());
        headers.insert(
            "Repobus-Amqp-Headers",
            header_safe(&fedora::headers_json(dead.headers).to_string()).as_str(),
        );
        headers.insert(
            "Repobus-Original-Source",
            header_safe(&self.config.source).as_str(),
        );
        if let Some(id) = dead.message_id {
            headers.insert("Repobus-Amqp-Message-Id", header_safe(id).as_str());
            headers.insert(
                "Nats-Msg-Id",
                format!("dlq:amqp:{}", header_safe(id)).as_str(),
            );
        }
        self.publish_until_acked(subject, headers, Bytes::copy_from_slice(dead.body))
            .await;
    }
}

/// An undecodable message on its way to the dead-letter stream.
struct DeadLetter<'a> {
    routing_key: &'a str,
    exchange: &'a str,
    message_id: Option<&'a str>,
    headers: Option<&'a FieldTable>,
    reason: &'static str,
    error: &'a str,
    body: &'a [u8],
}
