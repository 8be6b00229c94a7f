//! The event bus on NATS JetStream: connection, streams, the typed
//! [`Publisher`] and [`Subscriber`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use repobus::bus::{Bus, BusConfig};
//! use repobus::events::RepoSyncStarted;
//!
//! let bus = Bus::connect(BusConfig::new("nats://127.0.0.1:4222")).await?;
//! let publisher = bus.publisher();
//! let ack = publisher.publish(&RepoSyncStarted::new("pulp-f17".parse()?).into()).await?;
//! println!("stored as {} #{}", ack.stream, ack.seq);
//! publisher.close().await;
//! # Ok(()) }
//! ```

mod bulk;
mod config;
pub(crate) mod operation;
mod publisher;
mod subscriber;

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};

pub use bulk::{BulkReport, LineFailure};
pub use config::{BusConfig, DEFAULT_NATS_URL, DEFAULT_STREAM, MAX_REPLICAS};
pub use operation::{OperationError, PublishOperation, PublishReport, SyncOperation, SyncReport};
pub use publisher::{PublishAck, PublishError, PublishOptions, Publisher};
pub use subscriber::{
    ConsumerOptions, Deliver, Delivery, SubscribeError, Subscriber, Subscription, CATCH_UP_POLL,
};

use crate::subject::{SubjectError, Subjects};

/// How long creating a stream is retried while the JetStream API times
/// out (a cluster electing a new leader).
const STREAM_RETRY_FOR: Duration = Duration::from_secs(15);

/// Why the bus could not be set up.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use repobus::bus::{Bus, BusConfig, BusError};
///
/// // Settings that contradict each other are refused before connecting:
/// let config = BusConfig::default()
///     .publish_deadline(Duration::from_secs(600))
///     .duplicate_window(Duration::from_secs(120));
/// match Bus::connect(config).await {
///     Err(BusError::Config(reason)) => assert!(reason.contains("duplicate window")),
///     other => panic!("unexpected {other:?}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The subject prefix is invalid.
    #[error(transparent)]
    Subject(#[from] SubjectError),
    /// The server could not be reached.
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// The client's error.
        source: async_nats::ConnectError,
    },
    /// A stream could not be created or updated.
    #[error(
        "cannot create or update stream {stream} (is JetStream enabled on the server?): {source}"
    )]
    Stream {
        /// The stream name.
        stream: String,
        /// The server's answer.
        source: async_nats::jetstream::context::CreateStreamError,
    },
    /// The servers cannot hold a stream or bucket with the configured
    /// replica count and placement ([`BusConfig::replicas`]).
    #[error(
        "cannot create or update {stream} with {replicas} replica(s){placement}: the NATS server answered \"{reason}\"; \
         {replicas} replicas need a NATS cluster with at least {replicas} JetStream servers{placement_needs} \
         (lower --replicas / REPOBUS_REPLICAS, or add servers)"
    )]
    Replicas {
        /// The stream (a bucket's stream is `KV_<bucket>`).
        stream: String,
        /// The configured replica count.
        replicas: usize,
        /// The placement as text (empty when none).
        placement: String,
        /// What the placement adds to the requirement (empty when none).
        placement_needs: String,
        /// The server's answer.
        reason: String,
    },
    /// A KV bucket could not be created, opened or updated.
    #[error(
        "cannot create or open KV bucket {bucket} (is JetStream enabled on the server?): {reason}"
    )]
    KeyValue {
        /// The bucket name.
        bucket: String,
        /// The server's or client's answer.
        reason: String,
    },
}

/// A connection to NATS with the repobus streams in place.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::bus::{Bus, BusConfig, ConsumerOptions};
///
/// let bus = Bus::connect(BusConfig::new("nats://127.0.0.1:4222")).await?;
/// // Cheap to clone: one connection for the publisher and the subscriber.
/// let publisher = bus.publisher();
/// let mut events = bus.subscriber().subscribe(ConsumerOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Bus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    subjects: Subjects,
    config: BusConfig,
}

impl Bus {
    /// Connects and creates or updates the event and dead-letter streams.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), repobus::bus::BusError> {
    /// use std::time::Duration;
    /// use repobus::bus::{Bus, BusConfig};
    ///
    /// let bus = Bus::connect(
    ///     BusConfig::new("nats://127.0.0.1:4222")
    ///         .stream("PULP")                 // dead letters go to PULP_DLQ
    ///         .max_age(Duration::from_secs(30 * 86400)),
    /// )
    /// .await?;
    /// assert_eq!(bus.config().dead_letter_stream_name(), "PULP_DLQ");
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: BusConfig) -> Result<Bus, BusError> {
        let bus = Bus::connect_core(config).await?;
        bus.ensure_streams().await?;
        Ok(bus)
    }

    /// Uses a client the caller already connected (with NKeys, a JWT
    /// callback, custom TLS, ...) and creates or updates the streams.
    /// Connection settings of `config` are ignored.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::{Bus, BusConfig};
    ///
    /// let client = async_nats::ConnectOptions::with_nkey("SUAM...".into())
    ///     .connect("nats://127.0.0.1:4222")
    ///     .await?;
    /// let bus = Bus::with_client(client, BusConfig::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_client(
        client: async_nats::Client,
        config: BusConfig,
    ) -> Result<Bus, BusError> {
        let bus = Bus::assemble(client, config)?;
        bus.ensure_streams().await?;
        Ok(bus)
    }

    /// Connects without touching JetStream: for fire-and-forget producers
    /// that use [`Publisher::publish_core`] only (no acks, no retries, no
    /// stream needed on the server).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::{Bus, BusConfig, PublishOptions};
    /// use repobus::events::RepoSyncStarted;
    ///
    /// let bus = Bus::connect_core(BusConfig::new("nats://127.0.0.1:4222")).await?;
    /// let event = RepoSyncStarted::new("pulp-f17".parse()?).into();
    /// bus.publisher().publish_core(&event, PublishOptions::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_core(config: BusConfig) -> Result<Bus, BusError> {
        config.check()?;
        let client = connect_client(&config).await?;
        Bus::assemble(client, config)
    }

    fn assemble(client: async_nats::Client, config: BusConfig) -> Result<Bus, BusError> {
        config.check()?;
        let subjects = Subjects::new(config.prefix.clone())?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.ack_timeout)
            .ack_timeout(config.ack_timeout)
            .max_ack_inflight(config.max_in_flight)
            .build(client.clone());
        Ok(Bus {
            client,
            jetstream,
            subjects,
            config,
        })
    }

    async fn ensure_streams(&self) -> Result<(), BusError> {
        let c = &self.config;
        let events = stream::Config {
            name: c.stream_name().to_owned(),
            description: Some("repobus events (Pulp repository and Copr build)".into()),
            subjects: self.subjects.event_subjects(),
            storage: stream::StorageType::File,
            duplicate_window: c.effective_duplicate_window(),
            max_age: c.max_age.unwrap_or_default(),
            max_bytes: c.max_bytes.unwrap_or(-1),
            max_messages: c.max_messages.unwrap_or(-1),
            // Direct gets (last message per subject) for `overview::repos`;
            // `create_or_update_stream` turns it on for an existing stream.
            allow_direct: true,
            ..Default::default()
        };
        let dead_letters = stream::Config {
            name: c.dead_letter_stream_name(),
            description: Some(
                "repobus dead letters: messages that failed validation or decoding".into(),
            ),
            subjects: vec![self.subjects.dead_letters()],
            storage: stream::StorageType::File,
            duplicate_window: c.effective_duplicate_window(),
            ..Default::default()
        };
        for config in [events, dead_letters] {
            self.ensure_stream(config).await?;
        }
        Ok(())
    }

    /// Creates the stream, or updates it to `config`, with the bus's
    /// replica count and placement ([`BusConfig::replicas`],
    /// [`BusConfig::placement`]) in place of `config`'s own, and returns
    /// what the server stored: every stream
    /// repobus creates goes through here, so none is left with one copy on
    /// a cluster. A stream that exists with another replica count is
    /// changed to the configured one (NATS adds or removes the copies).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use async_nats::jetstream::stream;
    /// use repobus::bus::{Bus, BusConfig};
    ///
    /// let bus = Bus::connect(BusConfig::new("nats://n1:4222,nats://n2:4222,nats://n3:4222").replicas(3)).await?;
    /// let audit = bus
    ///     .ensure_stream(stream::Config {
    ///         name: "REPOBUS_AUDIT".into(),
    ///         subjects: vec!["audit.>".into()],
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// assert_eq!(audit.config.num_replicas, 3);
    /// # Ok(()) }
    /// ```
    pub async fn ensure_stream(
        &self,
        mut config: stream::Config,
    ) -> Result<stream::Info, BusError> {
        config.num_replicas = self.config.replica_count();
        config.placement = self.config.stream_placement();
        let name = config.name.clone();
        // On a cluster the JetStream API is briefly unavailable while a
        // server dies and a new meta leader is elected: a request that timed
        // out or found no responder is retried for up to STREAM_RETRY_FOR,
        // so a process starting during a failover does not exit.
        let deadline = std::time::Instant::now() + STREAM_RETRY_FOR;
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.jetstream.create_or_update_stream(config.clone()).await {
                Ok(info) => return Ok(info),
                Err(source) => {
                    let reason = source.to_string();
                    let transient = reason.contains("timed out")
                        || reason.contains("no responders")
                        || reason.contains("temporarily unavailable");
                    if transient && std::time::Instant::now() + backoff < deadline {
                        tracing::warn!(stream = %name, error = %reason, "stream not created yet; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                    return Err(self
                        .replicas_error(&name, &reason)
                        .unwrap_or(BusError::Stream {
                            stream: name.clone(),
                            source,
                        }));
                }
            }
        }
    }

    /// Opens the KV bucket `config.bucket`, creating it from `config` when
    /// missing, with the bus's replica count and placement in place of
    /// `config`'s own (see [`Bus::ensure_stream`]); an existing bucket with
    /// another replica count is changed to the configured one. Two
    /// processes creating the same bucket at once both succeed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// use async_nats::jetstream::kv;
    ///
    /// let settings = bus
    ///     .ensure_key_value(kv::Config { bucket: "REPOBUS_SETTINGS".into(), ..Default::default() })
    ///     .await?;
    /// settings.put("mirror", "on".into()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn ensure_key_value(&self, mut config: kv::Config) -> Result<kv::Store, BusError> {
        let replicas = self.config.replica_count();
        config.num_replicas = replicas;
        config.placement = self.config.stream_placement();
        let bucket = config.bucket.clone();
        let stream_name = format!("KV_{bucket}");
        let kv_error = |reason: String| {
            self.replicas_error(&stream_name, &reason)
                .unwrap_or(BusError::KeyValue {
                    bucket: bucket.clone(),
                    reason,
                })
        };
        match self.jetstream.get_stream(&stream_name).await {
            Ok(stream) => {
                let existing = &stream.cached_info().config;
                if existing.num_replicas != replicas {
                    let mut changed = existing.clone();
                    changed.num_replicas = replicas;
                    self.jetstream
                        .update_stream(changed)
                        .await
                        .map_err(|e| kv_error(e.to_string()))?;
                }
                self.jetstream
                    .get_key_value(&bucket)
                    .await
                    .map_err(|e| kv_error(e.to_string()))
            }
            Err(_) => match self.jetstream.create_key_value(config).await {
                Ok(store) => Ok(store),
                // Another process may have created it meanwhile.
                Err(create) => match self.jetstream.get_key_value(&bucket).await {
                    Ok(store) => Ok(store),
                    Err(_) => Err(kv_error(create.to_string())),
                },
            },
        }
    }

    /// The clear error for a server refusing the replica count or
    /// placement; `None` for any other refusal.
    fn replicas_error(&self, stream: &str, reason: &str) -> Option<BusError> {
        let lower = reason.to_ascii_lowercase();
        let about_peers = lower.contains("insufficient resources")
            || lower.contains("not supported in non-clustered mode")
            || lower.contains("no suitable peers");
        if !about_peers {
            return None;
        }
        let (placement, placement_needs) = match self.config.stream_placement() {
            None => (String::new(), String::new()),
            Some(p) => {
                let mut text = Vec::new();
                if let Some(cluster) = &p.cluster {
                    text.push(format!("cluster {cluster}"));
                }
                if !p.tags.is_empty() {
                    text.push(format!("tags {}", p.tags.join(",")));
                }
                let text = text.join(", ");
                (format!(" placed in {text}"), format!(" in {text}"))
            }
        };
        Some(BusError::Replicas {
            stream: stream.to_owned(),
            replicas: self.config.replica_count(),
            placement,
            placement_needs,
            reason: reason.to_owned(),
        })
    }

    /// A publisher of typed events.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::events::RepoSyncStarted;
    ///
    /// let publisher = bus.publisher();
    /// publisher.publish(&RepoSyncStarted::new("pulp-f17".parse()?).into()).await?;
    /// publisher.close().await;
    /// # Ok(()) }
    /// ```
    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.clone())
    }

    /// A subscriber to typed events.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::ConsumerOptions;
    ///
    /// let mut events = bus.subscriber().subscribe(ConsumerOptions::default()).await?;
    /// if let Some(delivery) = events.next().await {
    ///     println!("{}", delivery?.event);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn subscriber(&self) -> Subscriber {
        Subscriber::new(self.clone())
    }

    /// The subjects in use.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(bus: repobus::bus::Bus) {
    /// use repobus::subject::SubjectFilter;
    ///
    /// // The filter for this bus's prefix (`repobus.repo.*.finished.pulp-f17` by default):
    /// let filter = bus.subjects().filter(&SubjectFilter::repo("pulp-f17").finished());
    /// # }
    /// ```
    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    /// The configuration.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(bus: repobus::bus::Bus) {
    /// println!("events in {}, dead letters in {}", bus.config().stream_name(), bus.config().dead_letter_stream_name());
    /// # }
    /// ```
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// The underlying NATS client.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(bus: repobus::bus::Bus) {
    /// let server = bus.client().server_info();
    /// println!("connected to nats-server {} (max payload {} bytes)", server.version, server.max_payload);
    /// # }
    /// ```
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// let dead_letters = bus.jetstream().get_stream(bus.config().dead_letter_stream_name()).await?;
    /// println!("{} dead letters", dead_letters.cached_info().state.messages);
    /// # Ok(()) }
    /// ```
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// True when connected and the event stream answers (what `/readyz`
    /// reports).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) {
    /// if !bus.is_ready().await {
    ///     eprintln!("NATS is down or the stream is gone");
    /// }
    /// # }
    /// ```
    pub async fn is_ready(&self) -> bool {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return false;
        }
        matches!(
            tokio::time::timeout(
                Duration::from_secs(2),
                self.jetstream.get_stream(self.config.stream_name())
            )
            .await,
            Ok(Ok(_))
        )
    }
}

async fn connect_client(config: &BusConfig) -> Result<async_nats::Client, BusError> {
    config
        .options_to_connect()
        // One or more URLs: the client fails over between them.
        .connect(config.server_urls())
        .await
        .map_err(|source| BusError::Connect {
            url: config.nats_url().to_owned(),
            source,
        })
}
