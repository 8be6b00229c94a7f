//! [`BusConfig`]: where NATS is, how to connect, and how the streams are
//! named and kept. Decisions that follow from one another (the dead-letter
//! stream's name from the stream's, the duplicate window from the publish
//! deadline) are made here, so every user of the library gets them.

use std::time::Duration;

use async_nats::ConnectOptions;

use super::BusError;
use crate::subject::DEFAULT_PREFIX;

/// The default NATS URL.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// The default event stream name.
pub const DEFAULT_STREAM: &str = "REPOBUS";

/// The shortest duplicate window: two minutes, JetStream's default.
const MIN_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Everything the bus needs to know, set with builder methods.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use repobus::bus::BusConfig;
///
/// let config = BusConfig::new("nats://nats.example:4222")
///     .stream("PULP")
///     .prefix("pulp")
///     .publish_deadline(Duration::from_secs(600));
/// assert_eq!(config.stream_name(), "PULP");
/// assert_eq!(config.dead_letter_stream_name(), "PULP_DLQ");
/// // A retry until the deadline must still be de-duplicated:
/// assert_eq!(config.effective_duplicate_window(), Duration::from_secs(600));
/// ```
#[derive(Debug, Clone)]
pub struct BusConfig {
    pub(super) nats_url: String,
    pub(super) connect_options: Option<ConnectOptions>,
    pub(super) prefix: String,
    pub(super) stream: String,
    pub(super) dead_letter_stream: Option<String>,
    pub(super) duplicate_window: Option<Duration>,
    pub(super) max_age: Option<Duration>,
    pub(super) max_bytes: Option<i64>,
    pub(super) max_messages: Option<i64>,
    pub(super) source: String,
    pub(super) publish_deadline: Duration,
    pub(super) ack_timeout: Duration,
    pub(super) max_in_flight: usize,
    pub(super) connect_timeout: Duration,
    pub(super) client_name: String,
    pub(super) replicas: usize,
    pub(super) placement_cluster: Option<String>,
    pub(super) placement_tags: Vec<String>,
}

/// Most replicas JetStream keeps of one stream.
pub const MAX_REPLICAS: usize = 5;

impl BusConfig {
    /// Defaults for a server at `nats_url` (one or more URLs,
    /// comma-separated).
    ///
    /// # Examples
    ///
    /// ```
    /// let config = repobus::bus::BusConfig::new("nats://127.0.0.1:4222");
    /// assert_eq!(config.stream_name(), "REPOBUS");
    /// ```
    pub fn new(nats_url: impl Into<String>) -> Self {
        BusConfig {
            nats_url: nats_url.into(),
            connect_options: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            stream: DEFAULT_STREAM.to_owned(),
            dead_letter_stream: None,
            duplicate_window: None,
            max_age: None,
            max_bytes: None,
            max_messages: None,
            source: crate::envelope::default_source(),
            publish_deadline: Duration::from_secs(90),
            ack_timeout: Duration::from_secs(5),
            max_in_flight: 4096,
            connect_timeout: Duration::from_secs(5),
            client_name: "repobus".to_owned(),
            replicas: 1,
            placement_cluster: None,
            placement_tags: Vec::new(),
        }
    }

    /// Connects with these async-nats options (credentials, NKeys, a JWT
    /// callback, TLS, ...) instead of repobus's defaults. Start from
    /// [`BusConfig::default_connect_options`] to keep repobus's client
    /// name, timeouts and connection logging.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::new("tls://nats.example:4222");
    /// let options = config
    ///     .default_connect_options()
    ///     .user_and_password("repobus".into(), "secret".into())
    ///     .require_tls(true);
    /// let config = config.connect_options(options);
    /// ```
    pub fn connect_options(mut self, options: ConnectOptions) -> Self {
        self.connect_options = Some(options);
        self
    }

    /// The subject prefix (default `repobus`): one or more dot-separated
    /// tokens of `[A-Za-z0-9_-]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().prefix("acme.events");
    /// assert_eq!(config.subject_prefix(), "acme.events");
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The event stream's name (default `REPOBUS`). The dead-letter stream
    /// is named after it (`<stream>_DLQ`) unless set with
    /// [`BusConfig::dead_letter_stream`].
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().stream("PULP");
    /// assert_eq!(config.stream_name(), "PULP");
    /// assert_eq!(config.dead_letter_stream_name(), "PULP_DLQ");
    /// ```
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// The dead-letter stream's name (default `<stream>_DLQ`).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().stream("PULP").dead_letter_stream("PULP_POISON");
    /// assert_eq!(config.dead_letter_stream_name(), "PULP_POISON");
    /// ```
    pub fn dead_letter_stream(mut self, name: impl Into<String>) -> Self {
        self.dead_letter_stream = Some(name.into());
        self
    }

    /// The window in which a repeated `Nats-Msg-Id` is stored once. The
    /// default is two minutes or the publish deadline, whichever is longer,
    /// so a publish retried until its deadline is still stored once; a
    /// shorter window than the deadline is refused when connecting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default()
    ///     .publish_deadline(Duration::from_secs(60))
    ///     .duplicate_window(Duration::from_secs(3600));
    /// assert_eq!(config.effective_duplicate_window(), Duration::from_secs(3600));
    /// ```
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = Some(window);
        self
    }

    /// Discard events older than this (default: keep forever).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus::bus::BusConfig;
    ///
    /// // Keep thirty days of events:
    /// let config = BusConfig::default().max_age(Duration::from_secs(30 * 86400));
    /// ```
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Keep at most this many bytes in the event stream (default: no
    /// limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().max_bytes(10 * 1024 * 1024 * 1024); // 10 GiB
    /// ```
    pub fn max_bytes(mut self, bytes: i64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Keep at most this many events (default: no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().max_messages(1_000_000);
    /// ```
    pub fn max_messages(mut self, messages: i64) -> Self {
        self.max_messages = Some(messages);
        self
    }

    /// `ce-source` of published events (default
    /// `urn:repobus:<host>:<program>`).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().source("urn:pulp:pulp.example.org");
    /// assert_eq!(config.event_source(), "urn:pulp:pulp.example.org");
    /// ```
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// How long one publish may keep retrying through disconnects (default
    /// 90 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().publish_deadline(Duration::from_secs(600));
    /// // The duplicate window follows, so a late retry is still stored once:
    /// assert_eq!(config.effective_duplicate_window(), Duration::from_secs(600));
    /// ```
    pub fn publish_deadline(mut self, deadline: Duration) -> Self {
        self.publish_deadline = deadline;
        self
    }

    /// How long to wait for one JetStream ack before retrying (default 5 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().ack_timeout(Duration::from_secs(2));
    /// ```
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// Most publishes awaiting their ack at once; one more is refused with
    /// [`super::PublishError::BufferFull`] (default 4096).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().max_in_flight(256);
    /// ```
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// How long the first connection may take (default 5 s; with
    /// [`BusConfig::connect_options`], the options' own setting applies).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().connect_timeout(Duration::from_secs(30));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Client name shown by the server (default `repobus`; with
    /// [`BusConfig::connect_options`], the options' own setting applies).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().client_name("pulp-worker-3");
    /// ```
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }

    /// How many copies of every stream and KV bucket repobus creates the
    /// servers keep (default 1; 3 on a cluster, so one server may die
    /// without losing or stopping anything). Applies to the event stream,
    /// the dead-letter stream and every bucket and stream created through
    /// [`super::Bus::ensure_stream`] and [`super::Bus::ensure_key_value`];
    /// an existing stream with another count is updated to this one.
    /// 1 to 5 ([`MAX_REPLICAS`]); the cluster needs at least this many
    /// JetStream servers.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::new("nats://n1:4222,nats://n2:4222,nats://n3:4222").replicas(3);
    /// assert_eq!(config.replica_count(), 3);
    /// ```
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// Where the streams and buckets are placed: in the named cluster
    /// (`None`: wherever the server chooses) on servers carrying every one
    /// of `tags` (the servers' `server_tags`). Default: no placement.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let config = BusConfig::default().replicas(3).placement(Some("east"), ["ssd"]);
    /// let placement = config.stream_placement().unwrap();
    /// assert_eq!(placement.cluster.as_deref(), Some("east"));
    /// assert_eq!(placement.tags, vec!["ssd".to_owned()]);
    /// ```
    pub fn placement<C, T>(mut self, cluster: Option<C>, tags: T) -> Self
    where
        C: Into<String>,
        T: IntoIterator,
        T::Item: Into<String>,
    {
        self.placement_cluster = cluster.map(Into::into).filter(|c| !c.is_empty());
        self.placement_tags = tags
            .into_iter()
            .map(Into::into)
            .filter(|t: &String| !t.is_empty())
            .collect();
        self
    }

    /// The replica count streams and buckets are created with.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// assert_eq!(BusConfig::default().replica_count(), 1);
    /// ```
    pub fn replica_count(&self) -> usize {
        self.replicas
    }

    /// The placement streams and buckets are created with, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// assert!(BusConfig::default().stream_placement().is_none());
    /// let tagged = BusConfig::default().placement(None::<String>, ["edge"]);
    /// assert_eq!(tagged.stream_placement().unwrap().tags, vec!["edge".to_owned()]);
    /// ```
    pub fn stream_placement(&self) -> Option<async_nats::jetstream::stream::Placement> {
        if self.placement_cluster.is_none() && self.placement_tags.is_empty() {
            return None;
        }
        Some(async_nats::jetstream::stream::Placement {
            cluster: self.placement_cluster.clone(),
            tags: self.placement_tags.clone(),
        })
    }

    /// The NATS URL(s).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::{BusConfig, DEFAULT_NATS_URL};
    ///
    /// assert_eq!(BusConfig::default().nats_url(), DEFAULT_NATS_URL);
    /// let cluster = BusConfig::new("nats://a.example:4222,nats://b.example:4222");
    /// assert_eq!(cluster.nats_url(), "nats://a.example:4222,nats://b.example:4222");
    /// ```
    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }

    /// The servers of [`BusConfig::nats_url`], split at commas (spaces
    /// around them ignored): the client connects to one and fails over to
    /// the others.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// let cluster = BusConfig::new("nats://a:4222, nats://b:4222,nats://c:4222");
    /// assert_eq!(cluster.server_urls(), ["nats://a:4222", "nats://b:4222", "nats://c:4222"]);
    /// ```
    pub fn server_urls(&self) -> Vec<&str> {
        self.nats_url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect()
    }

    /// The subject prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// assert_eq!(BusConfig::default().subject_prefix(), "repobus");
    /// ```
    pub fn subject_prefix(&self) -> &str {
        &self.prefix
    }

    /// The event stream's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::{BusConfig, DEFAULT_STREAM};
    ///
    /// assert_eq!(BusConfig::default().stream_name(), DEFAULT_STREAM);
    /// assert_eq!(BusConfig::default().stream("PULP").stream_name(), "PULP");
    /// ```
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The dead-letter stream's name: as set, or `<stream>_DLQ`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// assert_eq!(BusConfig::default().dead_letter_stream_name(), "REPOBUS_DLQ");
    /// assert_eq!(BusConfig::default().stream("PULP").dead_letter_stream_name(), "PULP_DLQ");
    /// ```
    pub fn dead_letter_stream_name(&self) -> String {
        self.dead_letter_stream
            .clone()
            .unwrap_or_else(|| format!("{}_DLQ", self.stream))
    }

    /// `ce-source` of published events.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::BusConfig;
    ///
    /// assert!(BusConfig::default().event_source().starts_with("urn:repobus:"));
    /// ```
    pub fn event_source(&self) -> &str {
        &self.source
    }

    /// The duplicate window the streams get: as set, or the longer of two
    /// minutes and the publish deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus::bus::BusConfig;
    ///
    /// // The default deadline (90 s) is shorter than two minutes:
    /// assert_eq!(BusConfig::default().effective_duplicate_window(), Duration::from_secs(120));
    /// let patient = BusConfig::default().publish_deadline(Duration::from_secs(600));
    /// assert_eq!(patient.effective_duplicate_window(), Duration::from_secs(600));
    /// ```
    pub fn effective_duplicate_window(&self) -> Duration {
        self.duplicate_window
            .unwrap_or_else(|| MIN_DUPLICATE_WINDOW.max(self.publish_deadline))
    }

    /// repobus's connection settings: the client name, the connection
    /// timeout, a reconnect delay growing to one second, and connection
    /// events logged with `tracing`. Extend them with credentials and pass
    /// them to [`BusConfig::connect_options`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::{Bus, BusConfig};
    ///
    /// let config = BusConfig::new("tls://nats.example:4222").client_name("pulp-worker-3");
    /// let options = config
    ///     .default_connect_options()
    ///     .credentials_file("/etc/repobus/repobus.creds")
    ///     .await?;
    /// let bus = Bus::connect(config.connect_options(options)).await?;
    /// # Ok(()) }
    /// ```
    pub fn default_connect_options(&self) -> ConnectOptions {
        ConnectOptions::new()
            .name(&self.client_name)
            .connection_timeout(self.connect_timeout)
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis((50 * attempt as u64).min(1000))
            })
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Disconnected => {
                        tracing::warn!("disconnected from NATS; reconnecting")
                    }
                    async_nats::Event::Connected => tracing::info!("connected to NATS"),
                    other => tracing::debug!("NATS client event: {other}"),
                }
            })
    }

    /// The options the bus connects with.
    pub(super) fn options_to_connect(&self) -> ConnectOptions {
        self.connect_options
            .clone()
            .unwrap_or_else(|| self.default_connect_options())
    }

    /// Refuses settings that contradict each other.
    pub(super) fn check(&self) -> Result<(), BusError> {
        crate::subject::Subjects::new(self.prefix.clone())?;
        if let Some(window) = self.duplicate_window {
            if self.publish_deadline > window {
                return Err(BusError::Config(format!(
                    "the publish deadline ({:?}) is longer than the duplicate window ({:?}); a late retry could be stored twice",
                    self.publish_deadline, window
                )));
            }
        }
        if !(1..=MAX_REPLICAS).contains(&self.replicas) {
            return Err(BusError::Config(format!(
                "replicas must be 1 to {MAX_REPLICAS} (JetStream's limit), not {}",
                self.replicas
            )));
        }
        if self.max_in_flight == 0 {
            return Err(BusError::Config("max_in_flight must be at least 1".into()));
        }
        if self.dead_letter_stream_name() == self.stream {
            return Err(BusError::Config(format!(
                "the dead-letter stream must not be the event stream ({})",
                self.stream
            )));
        }
        Ok(())
    }
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig::new(DEFAULT_NATS_URL)
    }
}
