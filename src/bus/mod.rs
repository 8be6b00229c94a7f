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

mod guard;
mod publisher;
mod subscriber;

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, stream};

pub use guard::{Operation, OperationError, PublishReport, SyncReport};
pub use publisher::{PublishAck, PublishError, PublishOptions, Publisher};
pub use subscriber::{
    ConsumerOptions, Deliver, Delivery, SubscribeError, Subscriber, Subscription,
};

use crate::subject::{SubjectError, Subjects, DEFAULT_PREFIX};

/// The default NATS URL.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// How to authenticate to NATS.
#[derive(Debug, Clone, Default)]
pub struct NatsAuth {
    /// User name (with `password`).
    pub user: Option<String>,
    /// Password (with `user`).
    pub password: Option<String>,
    /// Token.
    pub token: Option<String>,
    /// A `.creds` file (JWT and NKey seed).
    pub credentials_file: Option<PathBuf>,
    /// CA certificate(s) to verify the server's TLS certificate.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate for mutual TLS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// Client key for mutual TLS (with `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// Require TLS even when no certificate is given.
    pub require_tls: bool,
}

/// Everything the bus needs to know.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// NATS server URL(s), comma-separated.
    pub nats_url: String,
    /// Authentication and TLS.
    pub auth: NatsAuth,
    /// Subject prefix (default `repobus`).
    pub prefix: String,
    /// Name of the event stream (default `REPOBUS`).
    pub stream: String,
    /// Name of the dead-letter stream (default `REPOBUS_DLQ`).
    pub dead_letter_stream: String,
    /// The window in which a repeated `Nats-Msg-Id` is stored once
    /// (default 2 minutes; must cover the publish deadline).
    pub duplicate_window: Duration,
    /// Discard events older than this (default: keep forever).
    pub max_age: Option<Duration>,
    /// Keep at most this many bytes in the stream (default: no limit).
    pub max_bytes: Option<i64>,
    /// Keep at most this many events (default: no limit).
    pub max_messages: Option<i64>,
    /// `ce-source` of published events.
    pub source: String,
    /// How long one publish may keep retrying through disconnects (default
    /// 90 s).
    pub publish_deadline: Duration,
    /// How long to wait for one JetStream ack before retrying (default 5 s).
    pub ack_timeout: Duration,
    /// Most publishes awaiting their ack at once; one more is refused with
    /// [`PublishError::BufferFull`] (default 4096).
    pub max_in_flight: usize,
    /// How long the first connection may take (default 5 s).
    pub connect_timeout: Duration,
    /// Client name shown by the server.
    pub client_name: String,
}

impl BusConfig {
    /// Defaults for a server at `nats_url`.
    pub fn new(nats_url: impl Into<String>) -> Self {
        BusConfig {
            nats_url: nats_url.into(),
            auth: NatsAuth::default(),
            prefix: DEFAULT_PREFIX.to_owned(),
            stream: "REPOBUS".to_owned(),
            dead_letter_stream: "REPOBUS_DLQ".to_owned(),
            duplicate_window: Duration::from_secs(120),
            max_age: None,
            max_bytes: None,
            max_messages: None,
            source: crate::envelope::default_source(),
            publish_deadline: Duration::from_secs(90),
            ack_timeout: Duration::from_secs(5),
            max_in_flight: 4096,
            connect_timeout: Duration::from_secs(5),
            client_name: "repobus".to_owned(),
        }
    }
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig::new(DEFAULT_NATS_URL)
    }
}

/// Why the bus could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The subject prefix is invalid.
    #[error(transparent)]
    Subject(#[from] SubjectError),
    /// The credentials file could not be read.
    #[error("credentials file {path}: {source}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
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
}

/// A connection to NATS with the repobus streams in place.
#[derive(Debug, Clone)]
pub struct Bus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    subjects: Subjects,
    config: BusConfig,
}

impl Bus {
    /// Connects and creates or updates the event and dead-letter streams.
    pub async fn connect(config: BusConfig) -> Result<Bus, BusError> {
        let bus = Bus::connect_core(config).await?;
        bus.ensure_streams().await?;
        Ok(bus)
    }

    /// Connects without touching JetStream: for fire-and-forget producers
    /// that use [`Publisher::publish_core`] only (no acks, no retries, no
    /// stream needed on the server).
    pub async fn connect_core(config: BusConfig) -> Result<Bus, BusError> {
        let subjects = Subjects::new(config.prefix.clone())?;
        if config.publish_deadline > config.duplicate_window {
            return Err(BusError::Config(format!(
                "the publish deadline ({:?}) is longer than the duplicate window ({:?}); a late retry could be stored twice",
                config.publish_deadline, config.duplicate_window
            )));
        }
        if config.max_in_flight == 0 {
            return Err(BusError::Config("max_in_flight must be at least 1".into()));
        }
        let client = connect_client(&config).await?;
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
            name: c.stream.clone(),
            description: Some("repobus events (Pulp repository and Copr build)".into()),
            subjects: self.subjects.event_subjects(),
            storage: stream::StorageType::File,
            duplicate_window: c.duplicate_window,
            max_age: c.max_age.unwrap_or_default(),
            max_bytes: c.max_bytes.unwrap_or(-1),
            max_messages: c.max_messages.unwrap_or(-1),
            ..Default::default()
        };
        let dead_letters = stream::Config {
            name: c.dead_letter_stream.clone(),
            description: Some(
                "repobus dead letters: messages that failed validation or decoding".into(),
            ),
            subjects: vec![self.subjects.dead_letters()],
            storage: stream::StorageType::File,
            duplicate_window: c.duplicate_window,
            ..Default::default()
        };
        for config in [events, dead_letters] {
            let name = config.name.clone();
            self.jetstream
                .create_or_update_stream(config)
                .await
                .map_err(|source| BusError::Stream {
                    stream: name,
                    source,
                })?;
        }
        Ok(())
    }

    /// A publisher of typed events.
    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.clone())
    }

    /// A subscriber to typed events.
    pub fn subscriber(&self) -> Subscriber {
        Subscriber::new(self.clone())
    }

    /// The subjects in use.
    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    /// The configuration.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// The underlying NATS client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// True when connected and the event stream answers (what `/readyz`
    /// reports).
    pub async fn is_ready(&self) -> bool {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return false;
        }
        matches!(
            tokio::time::timeout(
                Duration::from_secs(2),
                self.jetstream.get_stream(&self.config.stream)
            )
            .await,
            Ok(Ok(_))
        )
    }
}

async fn connect_client(config: &BusConfig) -> Result<async_nats::Client, BusError> {
    let auth = &config.auth;
    let mut options = async_nats::ConnectOptions::new()
        .name(&config.client_name)
        .connection_timeout(config.connect_timeout)
        .reconnect_delay_callback(|attempt| Duration::from_millis((50 * attempt as u64).min(1000)))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Disconnected => {
                    tracing::warn!("disconnected from NATS; reconnecting")
                }
                async_nats::Event::Connected => tracing::info!("connected to NATS"),
                other => tracing::debug!("NATS client event: {other}"),
            }
        });
    match (&auth.user, &auth.password) {
        (Some(user), Some(password)) => {
            options = options.user_and_password(user.clone(), password.clone())
        }
        (None, None) => {}
        _ => {
            return Err(BusError::Config(
                "NATS user and password must be given together".into(),
            ))
        }
    }
    if let Some(token) = &auth.token {
        options = options.token(token.clone());
    }
    if let Some(path) = &auth.credentials_file {
        options = options
            .credentials_file(path)
            .await
            .map_err(|source| BusError::Credentials {
                path: path.clone(),
                source,
            })?;
    }
    if let Some(ca) = &auth.tls_ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    match (&auth.tls_cert, &auth.tls_key) {
        (Some(cert), Some(key)) => {
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true)
        }
        (None, None) => {}
        _ => {
            return Err(BusError::Config(
                "a TLS client certificate and its key must be given together".into(),
            ))
        }
    }
    if auth.require_tls {
        options = options.require_tls(true);
    }
    options
        .connect(config.nats_url.as_str())
        .await
        .map_err(|source| BusError::Connect {
            url: config.nats_url.clone(),
            source,
        })
}
