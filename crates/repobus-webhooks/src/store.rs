//! Endpoints in a NATS KV bucket: every relay process sees the same set,
//! updates are compare-and-set, and changes are watched (no restart).
//!
//! Each endpoint has a durable JetStream consumer on the event stream,
//! created with the endpoint (so nothing published after the endpoint was
//! created is missed, even before a relay runs) and deleted with it.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::kv;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use repobus::bus::Bus;

use crate::endpoint::{Disabled, Endpoint, EndpointError, EndpointPatch, EndpointSpec, Replay};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A field was refused.
    #[error(transparent)]
    Invalid(#[from] EndpointError),
    /// No endpoint has this ID.
    #[error("no webhook endpoint {0:?}")]
    NotFound(String),
    /// An endpoint with this ID exists already.
    #[error("webhook endpoint {0:?} exists already")]
    Exists(String),
    /// NATS failed.
    #[error("{what}: {error}")]
    Nats {
        /// What was being done.
        what: String,
        /// The client's error.
        error: String,
    },
}

fn nats(
    what: impl Into<String>,
) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    let what = what.into();
    move |e| StoreError::Nats {
        what,
        error: e.to_string(),
    }
}

/// The endpoints of one bus.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus_webhooks::endpoint::EndpointSpec;
/// use repobus_webhooks::store::WebhookStore;
///
/// let store = WebhookStore::open(&bus).await?;
/// let endpoint = store
///     .create(EndpointSpec {
///         subjects: vec!["repobus.repo.publish.finished.>".into()],
///         ..EndpointSpec::new("cdn-purge", "https://hooks.example.com/purge")
///     })
///     .await?;
/// println!("secret (shown once): {}", endpoint.secret);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WebhookStore {
    bus: Bus,
    kv: kv::Store,
    allow_private_targets: bool,
}

impl WebhookStore {
    /// The KV bucket's name for `bus`: `<stream>_WEBHOOKS`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(bus: repobus::bus::Bus) {
    /// assert_eq!(repobus_webhooks::store::WebhookStore::bucket_name(&bus), "REPOBUS_WEBHOOKS");
    /// # }
    /// ```
    pub fn bucket_name(bus: &Bus) -> String {
        format!("{}_WEBHOOKS", bus.config().stream_name())
    }

    /// Opens (creating when missing) the endpoints bucket.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus_webhooks::store::StoreError> {
    /// let store = repobus_webhooks::store::WebhookStore::open(&bus).await?;
    /// for endpoint in store.list().await? {
    ///     println!("{} -> {}", endpoint.id, endpoint.url);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn open(bus: &Bus) -> Result<WebhookStore, StoreError> {
        let bucket = WebhookStore::bucket_name(bus);
        // Through the bus: the configured replicas and placement, also
        // for a bucket that exists already.
        let kv = bus
            .ensure_key_value(kv::Config {
                bucket: bucket.clone(),
                description: "repobus webhook endpoints".into(),
                history: 1,
                storage: async_nats::jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| StoreError::Nats {
                what: format!("opening KV bucket {bucket}"),
                error: e.to_string(),
            })?;
        Ok(WebhookStore {
            bus: bus.clone(),
            kv,
            allow_private_targets: false,
        })
    }

    /// Accepts loopback, link-local and private targets for every endpoint
    /// created or changed through this store (for a service whose relay
    /// runs with `--allow-private-targets`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus_webhooks::store::StoreError> {
    /// let store = repobus_webhooks::store::WebhookStore::open(&bus).await?.allow_private_targets(true);
    /// # Ok(()) }
    /// ```
    pub fn allow_private_targets(mut self, allow: bool) -> Self {
        self.allow_private_targets = allow;
        self
    }

    /// The bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Checks `spec`, stores the new endpoint and creates its consumer
    /// (delivering events published from now on). The returned endpoint
    /// holds the secret: show it once.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus_webhooks::endpoint::EndpointSpec;
    /// use repobus_webhooks::store::StoreError;
    ///
    /// match store.create(EndpointSpec::new("cdn-purge", "https://hooks.example.com/purge")).await {
    ///     Ok(endpoint) => println!("secret: {}", endpoint.secret),
    ///     Err(StoreError::Exists(id)) => eprintln!("{id} exists"),
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn create(&self, spec: EndpointSpec) -> Result<Endpoint, StoreError> {
        let endpoint = spec.build_allowing(self.bus.subjects(), self.allow_private_targets)?;
        let id = endpoint.id.to_string();
        // The consumer first: once the endpoint is visible, its events are
        // already being kept for it.
        self.ensure_consumer(&endpoint, DeliverPolicy::New, &consumer_name(&id))
            .await?;
        match self.kv.create(&id, encode(&endpoint)?).await {
            Ok(_) => Ok(endpoint),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Err(StoreError::Exists(id)),
            Err(e) => Err(nats(format!("storing endpoint {id}"))(e.into())),
        }
    }

    /// The endpoint `id`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let endpoint = store.get("cdn-purge").await?;
    /// if let Some(disabled) = &endpoint.disabled {
    ///     println!("disabled at {}: {}", disabled.at, disabled.reason);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, id: &str) -> Result<Endpoint, StoreError> {
        self.get_with_revision(id).await.map(|(e, _)| e)
    }

    async fn get_with_revision(&self, id: &str) -> Result<(Endpoint, u64), StoreError> {
        // No endpoint can have an ID that create refuses (and a KV read
        // of one would fail as a NATS error).
        if crate::endpoint::check_id(id).is_err() {
            return Err(StoreError::NotFound(crate::shorten(id)));
        }
        let entry = self
            .kv
            .entry(id)
            .await
            .map_err(|e| nats(format!("reading endpoint {id}"))(e.into()))?;
        match entry {
            Some(entry) if entry.operation == kv::Operation::Put => {
                Ok((decode(&entry.value)?, entry.revision))
            }
            _ => Err(StoreError::NotFound(id.to_owned())),
        }
    }

    /// Every endpoint, sorted by ID.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), repobus_webhooks::store::StoreError> {
    /// let disabled = store.list().await?.into_iter().filter(|e| !e.is_enabled()).count();
    /// # Ok(()) }
    /// ```
    pub async fn list(&self) -> Result<Vec<Endpoint>, StoreError> {
        let mut keys = match self.kv.keys().await {
            Ok(keys) => keys,
            Err(e) => return Err(nats("listing endpoints")(e.into())),
        };
        let mut ids = Vec::new();
        while let Some(key) = keys.next().await {
            ids.push(
                key.map_err(|e| nats("listing endpoints")(e.into()))?
                    .to_string(),
            );
        }
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            match self.get(&id).await {
                Ok(e) => out.push(e),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Applies `change` with compare-and-set, retrying when another writer
    /// got there first. `change` may refuse with an [`EndpointError`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), repobus_webhooks::store::StoreError> {
    /// store.modify("cdn-purge", |e| { e.headers.insert("X-Team".into(), "infra".into()); Ok(()) }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn modify(
        &self,
        id: &str,
        mut change: impl FnMut(&mut Endpoint) -> Result<(), EndpointError>,
    ) -> Result<Endpoint, StoreError> {
        for _ in 0..32 {
            let (mut endpoint, revision) = self.get_with_revision(id).await?;
            let before = endpoint.clone();
            change(&mut endpoint)?;
            if endpoint == before {
                return Ok(endpoint);
            }
            match self.kv.update(id, encode(&endpoint)?, revision).await {
                Ok(_) => {
                    if endpoint.subjects != before.subjects
                        || endpoint.concurrency != before.concurrency
                        || endpoint.timeout != before.timeout
                    {
                        self.ensure_consumer(&endpoint, DeliverPolicy::New, &consumer_name(id))
                            .await?;
                    }
                    return Ok(endpoint);
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(e) => return Err(nats(format!("updating endpoint {id}"))(e.into())),
            }
        }
        Err(StoreError::Nats {
            what: format!("updating endpoint {id}"),
            error: "too many concurrent updates".into(),
        })
    }

    /// Applies a patch (see [`Endpoint::apply`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), repobus_webhooks::store::StoreError> {
    /// use repobus_webhooks::endpoint::EndpointPatch;
    /// store.update("cdn-purge", EndpointPatch { retry_schedule: Some("1s,10s".into()), ..Default::default() }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn update(&self, id: &str, patch: EndpointPatch) -> Result<Endpoint, StoreError> {
        let subjects = self.bus.subjects().clone();
        let allow = self.allow_private_targets;
        self.modify(id, |e| {
            let patch = patch.clone();
            if allow && patch.allow_private_target.is_none() && !e.allow_private_target {
                // Checked as allowed, stored as it was.
                let mut probe = e.clone();
                probe.allow_private_target = true;
                probe.apply(patch.clone(), &subjects)?;
                probe.allow_private_target = false;
                *e = probe;
                return Ok(());
            }
            e.apply(patch, &subjects)
        })
        .await
    }

    /// Enables `id` (clearing why it was disabled); delivery resumes where
    /// it stopped.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), repobus_webhooks::store::StoreError> {
    /// store.enable("cdn-purge").await?;
    /// # Ok(()) }
    /// ```
    pub async fn enable(&self, id: &str) -> Result<Endpoint, StoreError> {
        self.modify(id, |e| {
            e.disabled = None;
            e.failing_since = None;
            Ok(())
        })
        .await
    }

    /// Disables `id` with `reason` (kept when already disabled).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), repobus_webhooks::store::StoreError> {
    /// store.disable("cdn-purge", "CDN migration").await?;
    /// # Ok(()) }
    /// ```
    pub async fn disable(&self, id: &str, reason: &str) -> Result<Endpoint, StoreError> {
        self.modify(id, |e| {
            if e.disabled.is_none() {
                e.disabled = Some(Disabled {
                    reason: reason.to_owned(),
                    at: Utc::now(),
                });
            }
            Ok(())
        })
        .await
    }

    /// Deletes `id` and its consumers.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), repobus_webhooks::store::StoreError> {
    /// store.remove("cdn-purge").await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove(&self, id: &str) -> Result<(), StoreError> {
        let endpoint = self.get(id).await?;
        self.kv
            .delete(id)
            .await
            .map_err(|e| nats(format!("deleting endpoint {id}"))(e.into()))?;
        let stream = self.stream().await?;
        let _ = stream.delete_consumer(&consumer_name(id)).await;
        if let Some(replay) = &endpoint.replay {
            let _ = stream
                .delete_consumer(&replay_consumer_name(id, replay))
                .await;
        }
        Ok(())
    }

    /// Delivers again, to `id` alone, every event from `from` on (and
    /// before `before`, when given), through a consumer of its own beside
    /// the endpoint's live one. A replay replaces one in progress.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(store: repobus_webhooks::store::WebhookStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let since = repobus::history::since("PT6H", chrono::Utc::now())?;
    /// store.replay("cdn-purge", since, None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn replay(
        &self,
        id: &str,
        from: DateTime<Utc>,
        before: Option<DateTime<Utc>>,
    ) -> Result<Endpoint, StoreError> {
        if let Some(b) = before {
            if b <= from {
                return Err(EndpointError::new("before", "must be later than the start").into());
            }
        }
        let old = self.get(id).await?;
        let replay = Replay {
            from,
            before,
            requested: Utc::now(),
        };
        let stream = self.stream().await?;
        if let Some(previous) = &old.replay {
            let _ = stream
                .delete_consumer(&replay_consumer_name(id, previous))
                .await;
        }
        let start = time_to_offset(from)?;
        self.ensure_consumer(
            &old,
            DeliverPolicy::ByStartTime { start_time: start },
            &replay_consumer_name(id, &replay),
        )
        .await?;
        self.modify(id, |e| {
            e.replay = Some(replay.clone());
            Ok(())
        })
        .await
    }

    /// Marks the replay that started at `requested` done and deletes its
    /// consumer.
    pub(crate) async fn finish_replay(&self, id: &str, replay: &Replay) -> Result<(), StoreError> {
        let stream = self.stream().await?;
        let _ = stream
            .delete_consumer(&replay_consumer_name(id, replay))
            .await;
        self.modify(id, |e| {
            if e.replay.as_ref() == Some(replay) {
                e.replay = None;
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Watches every endpoint change (the current set first).
    pub(crate) async fn watch(&self) -> Result<kv::Watch, StoreError> {
        self.kv
            .watch_with_history(">")
            .await
            .map_err(|e| nats("watching endpoints")(e.into()))
    }

    async fn stream(&self) -> Result<async_nats::jetstream::stream::Stream, StoreError> {
        let name = self.bus.config().stream_name();
        self.bus
            .jetstream()
            .get_stream(name)
            .await
            .map_err(|e| nats(format!("opening stream {name}"))(e.into()))
    }

    /// Creates or updates the consumer `name` for `endpoint`.
    pub(crate) async fn ensure_consumer(
        &self,
        endpoint: &Endpoint,
        deliver_policy: DeliverPolicy,
        name: &str,
    ) -> Result<async_nats::jetstream::consumer::Consumer<pull::Config>, StoreError> {
        let stream = self.stream().await?;
        let mut filters = endpoint.subjects.clone();
        let (filter_subject, filter_subjects) = if filters.len() <= 1 {
            (filters.pop().unwrap_or_default(), Vec::new())
        } else {
            (String::new(), filters)
        };
        let config = pull::Config {
            durable_name: Some(name.to_owned()),
            name: Some(name.to_owned()),
            description: Some(format!("repobus webhook {}", endpoint.id)),
            deliver_policy,
            ack_policy: AckPolicy::Explicit,
            ack_wait: ack_wait(endpoint),
            max_deliver: -1,
            max_ack_pending: max_ack_pending(endpoint),
            filter_subject,
            filter_subjects,
            ..Default::default()
        };
        // Creates, or updates a consumer of the same name (the start
        // policy of a live consumer never changes).
        stream
            .create_consumer(config)
            .await
            .map_err(|e| nats(format!("creating consumer {name}"))(e.into()))
    }
}

/// How many events an ordered endpoint's worker holds unacknowledged at
/// once: it POSTs them one after another, in stream order, and the server
/// sends the next ones meanwhile (one ack round trip per event would cap
/// delivery at a few thousand per second).
pub const ORDERED_WINDOW: i64 = 256;

/// The consumer's `max_ack_pending` for `endpoint`: the window when
/// ordered, the concurrency limit otherwise.
pub(crate) fn max_ack_pending(endpoint: &Endpoint) -> i64 {
    if endpoint.concurrency <= 1 {
        ORDERED_WINDOW
    } else {
        i64::from(endpoint.concurrency)
    }
}

/// How long the server waits for an answer before redelivering: the
/// request timeout plus a margin (a relay that died mid-request).
pub(crate) fn ack_wait(endpoint: &Endpoint) -> Duration {
    endpoint.timeout + Duration::from_secs(2)
}

fn time_to_offset(t: DateTime<Utc>) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()),
    )
    .map_err(|e| EndpointError::new("since", e).into())
}

/// The durable consumer of endpoint `id`: `webhook-` and the ID with `.`
/// and `_` spelled so that distinct IDs get distinct names.
///
/// # Examples
///
/// ```
/// use repobus_webhooks::store::consumer_name;
/// assert_eq!(consumer_name("cdn.purge_1"), "webhook-cdn_dpurge__1");
/// ```
pub fn consumer_name(id: &str) -> String {
    let mut out = String::from("webhook-");
    for c in id.chars() {
        match c {
            '.' => out.push_str("_d"),
            '_' => out.push_str("__"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn replay_consumer_name(id: &str, replay: &Replay) -> String {
    format!(
        "{}-replay-{}",
        consumer_name(id),
        replay.requested.timestamp_millis()
    )
}

fn encode(endpoint: &Endpoint) -> Result<Bytes, StoreError> {
    serde_json::to_vec(endpoint)
        .map(Bytes::from)
        .map_err(|e| StoreError::Nats {
            what: "encoding endpoint".into(),
            error: e.to_string(),
        })
}

pub(crate) fn decode(value: &[u8]) -> Result<Endpoint, StoreError> {
    serde_json::from_slice(value).map_err(|e| StoreError::Nats {
        what: "decoding a stored endpoint".into(),
        error: e.to_string(),
    })
}
