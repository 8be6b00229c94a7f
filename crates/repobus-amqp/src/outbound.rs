//! amqp-out: repobus events from a durable JetStream consumer to AMQP,
//! exactly as fedora-messaging's publisher sends them ([`crate::fedora`]).
//!
//! Each event is published with the `mandatory` flag on a channel in
//! publisher-confirm mode; the NATS message is acknowledged only after the
//! broker's confirm. A message the broker returns (unroutable) or refuses
//! (nack) is retried, then copied to repobus's dead-letter stream
//! (`<prefix>.dlq.amqp-unroutable` / `amqp-refused`) and acknowledged:
//! never dropped. Events whose `ce-source` is the one amqp-in gives events
//! from this broker are not sent back (loop prevention).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Channel, Confirmation, Connection};
use repobus::bus::{Bus, ConsumerOptions, Deliver, Delivery, Subscription};
use repobus::criteria::Criteria;
use repobus::envelope::header_safe;
use repobus::record::field;

use crate::connection::{AmqpConfig, Backoff, BridgeError};
use crate::fedora;

/// What amqp-out does.
///
/// ```
/// use repobus_amqp::{AmqpConfig, outbound::OutboundConfig};
///
/// let config = OutboundConfig::new(AmqpConfig::new("amqp://guest:guest@localhost:5672/%2F"), "repobus-amqp-out")
///     .topic_prefix("org.fedoraproject.prod");
/// assert_eq!(config.exchange, "amq.topic");
/// // Events amqp-in brought from this broker are not sent back:
/// assert_eq!(config.loop_source, "amqp://localhost:5672/%2F");
/// ```
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// The broker.
    pub amqp: AmqpConfig,
    /// The exchange (fedora-messaging's default `amq.topic`).
    pub exchange: String,
    /// Prefix of routing keys (`org.fedoraproject.prod`); empty for none.
    pub topic_prefix: String,
    /// The durable JetStream consumer's name.
    pub durable: String,
    /// Subject filters, as for `tail` (empty: every event).
    pub filter_subjects: Vec<String>,
    /// pulp-admin-style criteria an event must match to be sent.
    pub criteria: Option<Criteria>,
    /// Where a new durable consumer starts.
    pub deliver: Deliver,
    /// Events with this `ce-source` are not sent (default: what amqp-in
    /// names this broker, [`AmqpConfig::source`]).
    pub loop_source: String,
    /// Most events published and awaiting their confirms at once.
    pub window: usize,
    /// Publishes of one event before it is dead-lettered.
    pub max_attempts: u32,
    /// Delay between attempts of a returned or refused event.
    pub retry_delay: Duration,
    /// Delays between reconnects.
    pub backoff: Backoff,
}

impl OutboundConfig {
    /// Defaults: `amq.topic`, no prefix, every event from the start of the
    /// stream, 5 attempts a second apart, 64 confirms in flight.
    pub fn new(amqp: AmqpConfig, durable: impl Into<String>) -> Self {
        OutboundConfig {
            loop_source: amqp.source(),
            amqp,
            exchange: "amq.topic".into(),
            topic_prefix: String::new(),
            durable: durable.into(),
            filter_subjects: Vec::new(),
            criteria: None,
            deliver: Deliver::All,
            window: 64,
            max_attempts: 5,
            retry_delay: Duration::from_secs(1),
            backoff: Backoff::default(),
        }
    }

    /// Sets the routing-key prefix.
    pub fn topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.topic_prefix = prefix.into();
        self
    }
}

/// Counts of what amqp-out did.
#[derive(Debug, Default)]
pub struct OutboundStats {
    /// Events confirmed by the broker.
    pub sent: AtomicU64,
    /// Events not sent because they came from this broker.
    pub looped: AtomicU64,
    /// Events not matching the criteria.
    pub filtered: AtomicU64,
    /// Events dead-lettered after every attempt failed.
    pub dead_lettered: AtomicU64,
    /// Publishes retried (returned, refused, or the connection lost).
    pub retries: AtomicU64,
    /// AMQP sessions opened (1 + reconnects).
    pub sessions: AtomicU64,
}

impl OutboundStats {
    fn count(&self, counter: &AtomicU64, outcome: &'static str) {
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("repobus_amqp_out_events_total", "outcome" => outcome).increment(1);
    }
}

/// The amqp-out bridge.
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus_amqp::BridgeError> {
/// use repobus_amqp::{AmqpConfig, outbound::{Outbound, OutboundConfig}};
///
/// let config = OutboundConfig::new(AmqpConfig::new("amqp://guest:guest@localhost:5672/%2F"), "to-fedora-messaging")
///     .topic_prefix("org.fedoraproject.prod");
/// Outbound::new(config, bus).run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Outbound {
    config: Arc<OutboundConfig>,
    bus: Bus,
    stats: Arc<OutboundStats>,
}

/// One event on its way out.
struct Pending {
    delivery: Delivery,
    attempts: u32,
}

enum Sent {
    Confirmed,
    Returned(String),
    Lost(String),
}

impl Outbound {
    /// A bridge out of `bus`.
    pub fn new(config: OutboundConfig, bus: Bus) -> Self {
        Outbound {
            config: Arc::new(config),
            bus,
            stats: Arc::default(),
        }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<OutboundStats> {
        self.stats.clone()
    }

    async fn open(&self) -> Result<(Connection, Channel), BridgeError> {
        let amqp = |action| {
            let url = self.config.amqp.redacted_url();
            move |source| BridgeError::Amqp {
                url,
                action,
                source,
            }
        };
        let connection = self.config.amqp.connect().await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(amqp("opening a channel"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(amqp("turning publisher confirms on"))?;
        Ok((connection, channel))
    }

    /// Connects to the broker with publisher confirms and disconnects:
    /// what can be wrong with the broker settings, before anything is
    /// consumed.
    ///
    /// ```no_run
    /// # async fn demo(outbound: repobus_amqp::outbound::Outbound) {
    /// if let Err(e) = outbound.check().await {
    ///     eprintln!("{e}");
    /// }
    /// # }
    /// ```
    pub async fn check(&self) -> Result<(), BridgeError> {
        let (connection, _channel) = self.open().await?;
        let _ = connection.close(200, "checked".into()).await;
        Ok(())
    }

    /// Opens the durable consumer: everything
    /// that can be wrong with the settings, before anything is consumed.
    async fn subscribe(&self) -> Result<Subscription, BridgeError> {
        self.bus
            .subscriber()
            .subscribe(ConsumerOptions {
                durable: Some(self.config.durable.clone()),
                filter_subjects: self.config.filter_subjects.clone(),
                deliver: self.config.deliver,
                explicit_ack: true,
                prefetch: Some(self.config.window.max(1)),
                max_ack_pending: i64::try_from(self.config.window.max(1) * 4).unwrap_or(1000),
                ..ConsumerOptions::default()
            })
            .await
            .map_err(|e| BridgeError::Nats(e.to_string()))
    }

    /// Runs until `shutdown` completes. Errors of the first connection are
    /// returned; a lost broker is reconnected with backoff and what was
    /// not confirmed is published again.
    ///
    /// ```no_run
    /// # async fn demo(outbound: repobus_amqp::outbound::Outbound) -> Result<(), repobus_amqp::BridgeError> {
    /// outbound.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<(), BridgeError> {
        tokio::pin!(shutdown);
        let (mut connection, mut channel) = self.open().await?;
        let mut subscription = self.subscribe().await?;
        self.stats.sessions.fetch_add(1, Ordering::Relaxed);
        tracing::info!(durable = %self.config.durable, "amqp-out: publishing");
        let mut batch: Vec<Pending> = Vec::new();
        loop {
            if batch.is_empty() {
                let first = tokio::select! {
                    next = subscription.next() => next,
                    () = &mut shutdown => break,
                };
                match first {
                    Some(Ok(delivery)) => {
                        let more = delivery.pending > 0;
                        batch.push(Pending {
                            delivery,
                            attempts: 0,
                        });
                        // Take what is already waiting, up to the window.
                        if more {
                            while batch.len() < self.config.window {
                                match subscription.next().await {
                                    Some(Ok(d)) => {
                                        let more = d.pending > 0;
                                        batch.push(Pending {
                                            delivery: d,
                                            attempts: 0,
                                        });
                                        if !more {
                                            break;
                                        }
                                    }
                                    Some(Err(e)) => {
                                        tracing::warn!(error = %e, "amqp-out: NATS");
                                        break;
                                    }
                                    None => break,
                                }
                            }
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "amqp-out: NATS; going on");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    None => return Err(BridgeError::Nats("the consumer ended".into())),
                }
            }
            batch = self.send_batch(&channel, batch).await;
            if !batch.is_empty() && !channel.status().connected() {
                // Lost the broker: reconnect, then publish the rest again.
                metrics::counter!("repobus_amqp_out_reconnects_total").increment(1);
                let mut delay = self.config.backoff.min;
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = &mut shutdown => return Ok(()),
                    }
                    match self.open().await {
                        Ok((c, ch)) => {
                            connection = c;
                            channel = ch;
                            self.stats.sessions.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "amqp-out: cannot reconnect; retrying in {delay:?}")
                        }
                    }
                    delay = self.config.backoff.next(delay);
                }
            } else if !batch.is_empty() {
                tokio::select! {
                    () = tokio::time::sleep(self.config.retry_delay) => {}
                    () = &mut shutdown => break,
                }
            }
        }
        let _ = subscription.flush().await;
        let _ = connection.close(200, "shutting down".into()).await;
        Ok(())
    }

    /// Publishes a batch and waits for the confirms; acknowledges what is
    /// confirmed (or skipped, or dead-lettered) and returns what must be
    /// tried again.
    async fn send_batch(&self, channel: &Channel, batch: Vec<Pending>) -> Vec<Pending> {
        let mut confirms = Vec::with_capacity(batch.len());
        for mut pending in batch {
            let d = &pending.delivery;
            if d.envelope.source == self.config.loop_source {
                self.stats.count(&self.stats.looped, "looped");
                self.ack(d).await;
                continue;
            }
            if let Some(criteria) = &self.config.criteria {
                if !criteria.matches(&d.record().to_map(), field::TIME) {
                    self.stats.count(&self.stats.filtered, "filtered");
                    self.ack(d).await;
                    continue;
                }
            }
            pending.attempts += 1;
            let event = &d.event;
            let properties = fedora::properties(event, &d.envelope.event_id, d.envelope.time);
            let routing_key = fedora::routing_key(&self.config.topic_prefix, event.event_type());
            let published = channel
                .basic_publish(
                    self.config.exchange.as_str().into(),
                    routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &event.to_vec(),
                    properties,
                )
                .await;
            confirms.push((pending, published));
        }
        let mut again = Vec::new();
        for (pending, published) in confirms {
            let sent = match published {
                Err(e) => Sent::Lost(e.to_string()),
                Ok(confirm) => match confirm.await {
                    Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => Sent::Confirmed,
                    Ok(Confirmation::Ack(Some(returned))) => Sent::Returned(format!(
                        "the broker returned it: {} {}",
                        returned.reply_code, returned.reply_text
                    )),
                    Ok(Confirmation::Nack(_)) => {
                        Sent::Returned("the broker refused it (nack)".into())
                    }
                    Err(e) => Sent::Lost(e.to_string()),
                },
            };
            match sent {
                Sent::Confirmed => {
                    self.stats.count(&self.stats.sent, "sent");
                    self.ack(&pending.delivery).await;
                }
                Sent::Returned(why) if pending.attempts >= self.config.max_attempts => {
                    let reason = if why.contains("nack") {
                        "amqp-refused"
                    } else {
                        "amqp-unroutable"
                    };
                    if self.dead_letter(&pending.delivery, reason, &why).await {
                        self.stats.count(&self.stats.dead_lettered, "dead_lettered");
                        self.ack(&pending.delivery).await;
                    } else {
                        again.push(pending);
                    }
                }
                Sent::Returned(why) | Sent::Lost(why) => {
                    tracing::warn!(id = %pending.delivery.envelope.event_id, attempt = pending.attempts, why, "amqp-out: not confirmed; will retry");
                    self.stats.count(&self.stats.retries, "retried");
                    again.push(pending);
                }
            }
        }
        again
    }

    async fn ack(&self, delivery: &Delivery) {
        if let Err(e) = delivery.ack().await {
            tracing::warn!(error = %e, "amqp-out: cannot acknowledge on NATS; the event may be sent again (same message_id)");
        }
    }

    /// Copies an event to the dead-letter stream; false if that failed.
    async fn dead_letter(&self, delivery: &Delivery, reason: &str, error: &str) -> bool {
        let stream = self.bus.config().stream_name().to_owned();
        let mut headers: HeaderMap = delivery.envelope.to_headers();
        headers.insert("Repobus-Error", header_safe(error).as_str());
        headers.insert("Repobus-Original-Subject", delivery.subject.as_str());
        headers.insert("Repobus-Original-Stream", stream.as_str());
        headers.insert(
            "Repobus-Original-Sequence",
            delivery.stream_sequence.to_string().as_str(),
        );
        headers.insert(
            "Nats-Msg-Id",
            format!("dlq:{stream}:{}", delivery.stream_sequence).as_str(),
        );
        let stored = async {
            self.bus
                .jetstream()
                .publish_with_headers(
                    self.bus.subjects().dead_letter(reason),
                    headers,
                    delivery.event.to_vec().into(),
                )
                .await?
                .await
        };
        match stored.await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %e, "amqp-out: cannot store the dead letter; will retry");
                false
            }
        }
    }
}
