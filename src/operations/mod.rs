//! Operations: syncs and publishes that reserve resources across
//! processes, report progress and can be canceled, on NATS.
//!
//! This is pulpcore's `dispatch(func, exclusive_resources=...,
//! shared_resources=...)` and Pulp 2's `set_progress` and
//! `cancel_sync_repo` / `cancel_publish_repo`, for any process that can
//! reach NATS:
//!
//! - [`Operations::request`] writes a claim into the operations bucket
//!   (`<stream>_OPERATIONS`, JetStream KV with per-key TTL) and returns a
//!   [`Waiting`] operation; [`Waiting::wait`] returns when pulpcore's
//!   unblocking walk over all claims (see [`Claims`]) lets it run, and
//!   publishes its started event then, as Pulp 2 does.
//! - The claim is a lease: renewed every third of the lease with
//!   compare-and-set on its revision and a fresh TTL. A process that stops
//!   renewing (SIGKILL, machine loss, partition) loses its reservation when
//!   the TTL lapses; the server then writes a marker that every process
//!   watching the claims sees, and whichever sees it first publishes the
//!   abandoned operation's finished event (result `error`). That event's
//!   ID is `finished-<operation id>`, the same ID the holder itself would
//!   have used, so JetStream's duplicate window stores exactly one.
//! - [`Running::progress`] stores the latest progress report in the
//!   registry ([`OperationRecord`]) and publishes it as a
//!   `repo-sync-progress` / `repo-publish-progress` event, throttled (at
//!   most one per interval, the last one always before the finished
//!   event).
//! - [`Operations::cancel`] asks a waiting operation never to start and a
//!   running one to stop ([`Running::cancellation`]).
//!
//! ```no_run
//! # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
//! use repobus::bus::SyncReport;
//! use repobus::operations::{Finish, OperationRequest, Operations};
//!
//! let operations = Operations::open(&bus).await?;
//! let request = OperationRequest::sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?)
//!     .shared("distributor:yum".parse()?);
//! let running = operations.request(request).await?.wait(None).await?;
//! running.progress(serde_json::json!({"message": "Downloading", "total": 10, "done": 3}));
//! running.finish(Finish::Sync(SyncReport { added_count: 10, ..SyncReport::default() })).await?;
//! # Ok(()) }
//! ```

mod progress;
mod registry;
mod reservation;
mod resource;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use progress::{ProgressReport, DEFAULT_PROGRESS_INTERVAL};
pub use registry::{OperationKind, OperationRecord, OperationState};
pub use reservation::{Claim, Claims};
pub use resource::{Resource, ResourceError, MAX_RESOURCE_LEN};

use crate::bus::operation::{orphan_finished_event, Ending};
use crate::bus::{
    Bus, PublishAck, PublishError, PublishOperation, PublishOptions, PublishReport, Publisher,
    SyncOperation, SyncReport,
};
use crate::events::{PulpResult, RepoPublishProgress, RepoSyncProgress};
use crate::{ResourceId, Timestamp};

/// The default lease: a holder that stops renewing loses its reservation
/// within 30 s.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The longest lease: one day. A lease is how long a holder may go
/// without renewing; NATS refuses per-message TTLs far beyond this (an
/// unbounded lease would also keep a dead holder's reservation forever).
pub const MAX_LEASE: Duration = Duration::from_secs(86_400);

/// Checks a lease: a whole number of seconds from 1 s to [`MAX_LEASE`]
/// (NATS TTLs are whole seconds). [`Operations::request`] applies it; the
/// CLI's `--lease` and the HTTP API's `lease_seconds` share it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use repobus::operations::{check_lease, MAX_LEASE};
///
/// assert!(check_lease(Duration::from_secs(30)).is_ok());
/// assert!(check_lease(MAX_LEASE).is_ok());
/// assert!(check_lease(Duration::ZERO).is_err());
/// assert!(check_lease(Duration::from_millis(1500)).is_err());
/// assert!(check_lease(MAX_LEASE + Duration::from_secs(1)).is_err());
/// ```
pub fn check_lease(lease: Duration) -> Result<(), OperationsError> {
    if lease < Duration::from_secs(1) || lease > MAX_LEASE || lease.subsec_nanos() != 0 {
        return Err(OperationsError::Invalid(format!(
            "lease {:?}: a lease is a whole number of seconds from 1 s to {} s (NATS TTLs are whole seconds)",
            lease,
            MAX_LEASE.as_secs()
        )));
    }
    Ok(())
}

/// How long finished operations stay in the registry by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);

/// The error message of an abandoned operation's finished event starts
/// with this.
pub const ABANDONED_MESSAGE: &str =
    "abandoned: the operation's process stopped renewing its reservation";

/// Why an operations call failed.
#[derive(Debug, thiserror::Error)]
pub enum OperationsError {
    /// The request is not valid (nothing was reserved).
    #[error("invalid operation request: {0}")]
    Invalid(String),
    /// NATS refused or did not answer.
    #[error("operations bucket {bucket}: {message}")]
    Nats {
        /// The bucket.
        bucket: String,
        /// What failed.
        message: String,
    },
    /// The bucket exists without per-key TTL support.
    #[error("operations bucket {0} exists without per-key TTLs (limit markers); nats-server ignores TTLs added to an existing bucket (nats-server #6920): delete it (`nats kv del {0}`) and let repobus create it")]
    BucketWithoutTtl(String),
    /// The server is older than 2.11 (no per-key TTL).
    #[error("nats-server {0} has no per-key TTLs; operations need nats-server 2.11 or later")]
    ServerTooOld(String),
    /// A started or finished event could not be published.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Why [`Waiting::wait`] returned without starting the operation. The
/// claim is released and the registry says the operation finished.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The operation was canceled while it waited; it never started.
    #[error("operation {0} was canceled while waiting; it never started")]
    Canceled(String),
    /// The wait timeout passed first.
    #[error("operation {id} waited {waited:?} without getting its reservations")]
    Timeout {
        /// The operation.
        id: String,
        /// How long it waited.
        waited: Duration,
    },
    /// The claim could not be renewed.
    #[error("operation {0} lost its claim while waiting (lease not renewed in time)")]
    LeaseLost(String),
    /// NATS failed.
    #[error(transparent)]
    Operations(#[from] OperationsError),
}

/// Why [`Operations::cancel`] refused.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// No such operation (or it finished longer ago than the retention).
    #[error("no operation {0} (unknown, or finished longer ago than the registry keeps)")]
    Unknown(String),
    /// The operation already finished.
    #[error("operation {0} already finished; there is nothing to cancel")]
    Finished(String),
    /// NATS failed.
    #[error(transparent)]
    Operations(#[from] OperationsError),
}

/// Why a running operation was told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Someone canceled it.
    Canceled,
    /// Its lease could not be renewed: another process may already hold
    /// its resources and may have published its finished event.
    LeaseLost,
}

/// A sync or publish to reserve resources for.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use repobus::operations::OperationRequest;
///
/// let request = OperationRequest::sync("pulp-f17".parse().unwrap(), "yum_importer".parse().unwrap(), "yum_importer".parse().unwrap())
///     .exclusive("path:/srv/f17".parse().unwrap())
///     .shared("distributor:yum".parse().unwrap())
///     .lease(Duration::from_secs(10));
/// let names: Vec<&str> = request.exclusive_resources().iter().map(|r| r.as_str()).collect();
/// assert_eq!(names, ["repo:pulp-f17", "path:/srv/f17"]);
/// ```
#[derive(Debug, Clone)]
pub struct OperationRequest {
    kind: OperationKind,
    repo_id: ResourceId,
    type_id: ResourceId,
    component_id: ResourceId,
    exclusive: Vec<Resource>,
    shared: Vec<Resource>,
    lease: Duration,
    holder: Option<String>,
}

impl OperationRequest {
    /// A sync of `repo_id`, reserving `repo:<repo_id>` exclusively.
    ///
    /// # Examples
    ///
    /// See [`OperationRequest`].
    pub fn sync(
        repo_id: ResourceId,
        importer_type_id: ResourceId,
        importer_id: ResourceId,
    ) -> Self {
        Self::new(OperationKind::Sync, repo_id, importer_type_id, importer_id)
    }

    /// A publish of `repo_id` by a distributor, reserving `repo:<repo_id>`
    /// exclusively.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::OperationRequest;
    ///
    /// let request = OperationRequest::publish("pulp-f17".parse().unwrap(), "yum_distributor".parse().unwrap(), "yum".parse().unwrap());
    /// assert_eq!(request.exclusive_resources()[0].as_str(), "repo:pulp-f17");
    /// ```
    pub fn publish(
        repo_id: ResourceId,
        distributor_type_id: ResourceId,
        distributor_id: ResourceId,
    ) -> Self {
        Self::new(
            OperationKind::Publish,
            repo_id,
            distributor_type_id,
            distributor_id,
        )
    }

    fn new(
        kind: OperationKind,
        repo_id: ResourceId,
        type_id: ResourceId,
        component_id: ResourceId,
    ) -> Self {
        OperationRequest {
            kind,
            exclusive: vec![Resource::repo(&repo_id)],
            repo_id,
            type_id,
            component_id,
            shared: Vec::new(),
            lease: DEFAULT_LEASE,
            holder: None,
        }
    }

    /// Also reserves `resource` alone.
    ///
    /// # Examples
    ///
    /// See [`OperationRequest`].
    pub fn exclusive(mut self, resource: Resource) -> Self {
        self.shared.retain(|r| r != &resource);
        if !self.exclusive.contains(&resource) {
            self.exclusive.push(resource);
        }
        self
    }

    /// Reserves `resource` shared (naming the repository's own
    /// `repo:<repo_id>` here makes it shared instead of exclusive).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::OperationRequest;
    ///
    /// let request = OperationRequest::sync("f17".parse().unwrap(), "t".parse().unwrap(), "i".parse().unwrap())
    ///     .shared("repo:f17".parse().unwrap());
    /// assert!(request.exclusive_resources().is_empty());
    /// assert_eq!(request.shared_resources()[0].as_str(), "repo:f17");
    /// ```
    pub fn shared(mut self, resource: Resource) -> Self {
        self.exclusive.retain(|r| r != &resource);
        if !self.shared.contains(&resource) {
            self.shared.push(resource);
        }
        self
    }

    /// The lease (whole seconds, from 1 s to [`MAX_LEASE`]; 30 s by
    /// default; see [`check_lease`]).
    ///
    /// # Examples
    ///
    /// See [`OperationRequest`].
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Who holds the reservation, as shown by the registry (`host:pid` by
    /// default).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::OperationRequest;
    ///
    /// let request = OperationRequest::sync("f17".parse().unwrap(), "t".parse().unwrap(), "i".parse().unwrap())
    ///     .holder("cron@build1");
    /// # let _ = request;
    /// ```
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = Some(holder.into());
        self
    }

    /// The exclusive resources.
    ///
    /// # Examples
    ///
    /// See [`OperationRequest`].
    pub fn exclusive_resources(&self) -> &[Resource] {
        &self.exclusive
    }

    /// The shared resources.
    ///
    /// # Examples
    ///
    /// See [`OperationRequest::shared`].
    pub fn shared_resources(&self) -> &[Resource] {
        &self.shared
    }

    /// Checks what the server cannot: the lease.
    fn check(&self) -> Result<(), OperationsError> {
        check_lease(self.lease)?;
        if self.exclusive.is_empty() && self.shared.is_empty() {
            return Err(OperationsError::Invalid(
                "an operation must reserve at least one resource".into(),
            ));
        }
        Ok(())
    }
}

/// How a running operation ends.
#[derive(Debug, Clone)]
pub enum Finish {
    /// A sync succeeded with this report.
    Sync(SyncReport),
    /// A publish succeeded with this report.
    Publish(PublishReport),
    /// The importer or distributor reported failure.
    Failed {
        /// Why.
        error_message: String,
        /// Diagnostic output (such as the tail of stderr).
        traceback: Option<String>,
    },
    /// An unexpected error.
    Error {
        /// Why.
        error_message: String,
        /// The exception's name.
        exception: Option<String>,
        /// The traceback.
        traceback: Option<String>,
    },
    /// Canceled.
    Canceled,
}

impl Finish {
    fn ending(self) -> Ending {
        match self {
            Finish::Sync(r) => Ending {
                counts: (r.added_count, r.updated_count, r.removed_count),
                summary: r.summary,
                details: r.details,
                ..Ending::bare(PulpResult::Success)
            },
            Finish::Publish(r) => Ending {
                summary: r.summary,
                details: r.details,
                ..Ending::bare(PulpResult::Success)
            },
            Finish::Failed {
                error_message,
                traceback,
            } => Ending {
                error_message: Some(error_message),
                traceback,
                ..Ending::bare(PulpResult::Failed)
            },
            Finish::Error {
                error_message,
                exception,
                traceback,
            } => Ending {
                error_message: Some(error_message),
                exception,
                traceback,
                ..Ending::bare(PulpResult::Error)
            },
            Finish::Canceled => Ending::bare(PulpResult::Canceled),
        }
    }
}

/// The operations bucket of a bus: requests, the registry and
/// cancellation.
#[derive(Debug, Clone)]
pub struct Operations {
    bus: Bus,
    publisher: Publisher,
    kv: kv::Store,
    stream: async_nats::jetstream::stream::Stream,
    bucket: String,
    retention: Duration,
    progress_interval: Duration,
}

fn nats_error(bucket: &str, what: &str, e: impl std::fmt::Display) -> OperationsError {
    OperationsError::Nats {
        bucket: bucket.to_owned(),
        message: format!("{what}: {e}"),
    }
}

fn claim_key(id: &str) -> String {
    format!("claim.{id}")
}
fn record_key(id: &str) -> String {
    format!("op.{id}")
}
fn cancel_key(id: &str) -> String {
    format!("cancel.{id}")
}
fn finished_id(id: &str) -> String {
    format!("finished-{id}")
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs().max(1)
}

impl Operations {
    /// Opens (creating when missing) the operations bucket
    /// `<stream>_OPERATIONS`. Needs nats-server 2.11+ (per-key TTL).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// let operations = repobus::operations::Operations::open(&bus).await?;
    /// for record in operations.list().await? {
    ///     println!("{} {:?} {}", record.id, record.state, record.repo_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn open(bus: &Bus) -> Result<Operations, OperationsError> {
        let bucket = format!("{}_OPERATIONS", bus.config().stream_name());
        let js = bus.jetstream();
        // Through the bus, so the bucket gets the configured replicas and
        // placement (and an existing one is brought to them).
        let kv = bus
            .ensure_key_value(kv::Config {
                bucket: bucket.clone(),
                description: "repobus operations: claims, registry, cancel requests".into(),
                history: 1,
                storage: async_nats::jetstream::stream::StorageType::File,
                limit_markers: Some(Duration::from_secs(24 * 3600)),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                let text = e.to_string();
                if text.contains("not supported") && !text.contains("non-clustered")
                    || text.contains("LimitMarkers")
                {
                    OperationsError::ServerTooOld(bus.client().server_info().version)
                } else {
                    nats_error(&bucket, "opening or creating", e)
                }
            })?;
        let mut stream = js
            .get_stream(format!("KV_{bucket}"))
            .await
            .map_err(|e| nats_error(&bucket, "opening the bucket's stream", e))?;
        let info = stream
            .info()
            .await
            .map_err(|e| nats_error(&bucket, "reading the bucket", e))?;
        if !info.config.allow_message_ttl {
            return Err(OperationsError::BucketWithoutTtl(bucket));
        }
        Ok(Operations {
            bus: bus.clone(),
            publisher: bus.publisher(),
            kv,
            stream,
            bucket,
            retention: DEFAULT_RETENTION,
            progress_interval: DEFAULT_PROGRESS_INTERVAL,
        })
    }

    /// Sets how long finished operations stay in the registry (1 h by
    /// default).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let operations = repobus::operations::Operations::open(&bus).await?.retention(Duration::from_secs(600));
    /// # Ok(()) }
    /// ```
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention.max(Duration::from_secs(1));
        self
    }

    /// Sets the progress throttling interval (2 s by default).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let operations = repobus::operations::Operations::open(&bus).await?.progress_interval(Duration::from_millis(500));
    /// # Ok(()) }
    /// ```
    pub fn progress_interval(mut self, interval: Duration) -> Self {
        self.progress_interval = interval;
        self
    }

    /// The bucket's name.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
    /// let operations = repobus::operations::Operations::open(&bus).await?;
    /// assert_eq!(operations.bucket(), "REPOBUS_OPERATIONS");
    /// # Ok(()) }
    /// ```
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Writes `value` under `key` with a raw publish, so that the
    /// expected revision and a TTL can go together (`Store::update` drops
    /// a TTL).
    async fn write(
        &self,
        key: &str,
        value: Bytes,
        expected: Option<u64>,
        ttl: Option<Duration>,
        delete: bool,
    ) -> Result<u64, OperationsError> {
        let mut headers = HeaderMap::new();
        if let Some(revision) = expected {
            headers.insert(
                async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                revision.to_string().as_str(),
            );
        }
        if let Some(ttl) = ttl {
            headers.insert(
                async_nats::header::NATS_MESSAGE_TTL,
                whole_seconds(ttl).to_string().as_str(),
            );
        }
        if delete {
            headers.insert("KV-Operation", "DEL");
        }
        let subject = format!("$KV.{}.{}", self.bucket, key);
        let ack = self
            .bus
            .jetstream()
            .publish_with_headers(subject, headers, value)
            .await
            .map_err(|e| nats_error(&self.bucket, key, e))?
            .await
            .map_err(|e| nats_error(&self.bucket, key, e))?;
        Ok(ack.sequence)
    }

    /// A watch of every claim, latest value per key first, then live (an
    /// ordered consumer; [`ConsumerCleanup`] deletes it when the wait
    /// ends, rather than leaving it to the server's 30 s inactivity
    /// threshold, which lets thousands pile up at high operation rates).
    async fn watch_claims(
        &self,
    ) -> Result<async_nats::jetstream::consumer::push::Ordered, OperationsError> {
        use async_nats::jetstream::consumer::{push, DeliverPolicy, ReplayPolicy};
        self.stream
            .create_consumer(push::OrderedConfig {
                deliver_subject: self.bus.client().new_inbox(),
                filter_subject: format!("$KV.{}.claim.>", self.bucket),
                deliver_policy: DeliverPolicy::LastPerSubject,
                replay_policy: ReplayPolicy::Instant,
                ..Default::default()
            })
            .await
            .map_err(|e| nats_error(&self.bucket, "watching claims", e))?
            .messages()
            .await
            .map_err(|e| nats_error(&self.bucket, "watching claims", e))
    }

    async fn read_record(
        &self,
        id: &str,
    ) -> Result<Option<(OperationRecord, u64)>, OperationsError> {
        let entry = self
            .kv
            .entry(record_key(id))
            .await
            .map_err(|e| nats_error(&self.bucket, "reading a record", e))?;
        Ok(match entry {
            Some(e) if e.operation == kv::Operation::Put => serde_json::from_slice(&e.value)
                .ok()
                .map(|r| (r, e.revision)),
            _ => None,
        })
    }

    /// Claims the request's resources and returns the waiting operation
    /// (registered as `waiting`; its lease is renewed from now on).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(operations: repobus::operations::Operations) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::operations::OperationRequest;
    ///
    /// let waiting = operations
    ///     .request(OperationRequest::publish("pulp-f17".parse()?, "yum_distributor".parse()?, "yum".parse()?))
    ///     .await?;
    /// println!("waiting as {}", waiting.id());
    /// let running = waiting.wait(Some(std::time::Duration::from_secs(600))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn request(&self, request: OperationRequest) -> Result<Waiting, OperationsError> {
        request.check()?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let holder = request.holder.clone().unwrap_or_else(default_holder);
        let record = OperationRecord {
            id: id.clone(),
            kind: request.kind,
            repo_id: request.repo_id.clone(),
            type_id: request.type_id.clone(),
            component_id: request.component_id.clone(),
            exclusive: request.exclusive.clone(),
            shared: request.shared.clone(),
            state: OperationState::Waiting,
            holder,
            lease_seconds: request.lease.as_secs(),
            requested: Timestamp::now(),
            started: None,
            finished: None,
            result: None,
            error_message: None,
            progress: None,
        };
        let record_revision = self
            .write(
                &record_key(&id),
                Bytes::from(serde_json::to_vec(&record).unwrap_or_default()),
                Some(0),
                None,
                false,
            )
            .await?;
        let claim = Claim {
            id: id.clone(),
            order: None,
            exclusive: request.exclusive.clone(),
            shared: request.shared.clone(),
        };
        let claim_revision = self
            .write(
                &claim_key(&id),
                Bytes::from(serde_json::to_vec(&claim).unwrap_or_default()),
                Some(0),
                Some(request.lease),
                false,
            )
            .await?;
        let claim = Claim {
            order: Some(claim_revision),
            ..claim
        };
        metrics::counter!("repobus_operations_requested_total").increment(1);
        let inner = Arc::new(Inner {
            ops: self.clone(),
            id: id.clone(),
            lease: request.lease,
            claim,
            claim_revision: AtomicU64::new(claim_revision),
            record: tokio::sync::Mutex::new((record, record_revision)),
            token: CancellationToken::new(),
            reason: StdMutex::new(None),
            released: std::sync::atomic::AtomicBool::new(false),
            tasks: StdMutex::new(Vec::new()),
        });
        inner.spawn_renewal();
        inner.spawn_cancel_watch();
        Ok(Waiting { inner })
    }

    /// Every operation in the registry: waiting, running and recently
    /// finished, oldest request first. Publishes the finished event of any
    /// running operation whose lease lapsed (and marks a waiting one whose
    /// lease lapsed finished).
    ///
    /// # Examples
    ///
    /// See [`Operations::open`].
    pub async fn list(&self) -> Result<Vec<OperationRecord>, OperationsError> {
        let mut keys = self
            .kv
            .keys()
            .await
            .map_err(|e| nats_error(&self.bucket, "listing", e))?;
        let mut ids = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| nats_error(&self.bucket, "listing", e))?;
            if let Some(id) = key.strip_prefix("op.") {
                ids.push(id.to_owned());
            }
        }
        let mut records = Vec::new();
        for id in ids {
            if let Some((record, _)) = self.read_record(&id).await? {
                if record.state != OperationState::Finished {
                    if let Some(swept) = self.sweep(&id).await? {
                        records.push(swept);
                        continue;
                    }
                }
                records.push(record);
            }
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }

    /// One operation from the registry.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(operations: repobus::operations::Operations) -> Result<(), Box<dyn std::error::Error>> {
    /// if let Some(record) = operations.get("0192f3a0c1d97e6a9c3d5b7f1e2a4c6d").await? {
    ///     println!("{:?}, latest progress {:?}", record.state, record.progress);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, id: &str) -> Result<Option<OperationRecord>, OperationsError> {
        if !valid_id(id) {
            return Ok(None);
        }
        match self.read_record(id).await? {
            Some((record, _)) if record.state != OperationState::Finished => {
                Ok(Some(self.sweep(id).await?.unwrap_or(record)))
            }
            other => Ok(other.map(|(r, _)| r)),
        }
    }

    /// Cancels an operation: a waiting one never starts, a running one is
    /// told through its cancellation token. Returns its record as it was.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(operations: repobus::operations::Operations) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::operations::CancelError;
    ///
    /// match operations.cancel("0192f3a0c1d97e6a9c3d5b7f1e2a4c6d").await {
    ///     Ok(record) => println!("asked {} ({:?}) to stop", record.id, record.state),
    ///     Err(CancelError::Finished(id)) => eprintln!("{id} already finished"),
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn cancel(&self, id: &str) -> Result<OperationRecord, CancelError> {
        let record = match self.get(id).await? {
            None => return Err(CancelError::Unknown(id.to_owned())),
            Some(r) if r.state == OperationState::Finished => {
                return Err(CancelError::Finished(id.to_owned()))
            }
            Some(r) => r,
        };
        let ttl = Duration::from_secs(record.lease_seconds.max(1)) + self.retention;
        match self
            .write(
                &cancel_key(id),
                Bytes::from_static(b"{}"),
                Some(0),
                Some(ttl),
                false,
            )
            .await
        {
            Ok(_) => {}
            // Already asked: canceling twice is the same request.
            Err(OperationsError::Nats { message, .. })
                if message.contains("wrong last sequence") => {}
            Err(e) => return Err(e.into()),
        }
        metrics::counter!("repobus_operations_cancel_requests_total").increment(1);
        Ok(record)
    }

    /// If operation `id` is registered as running or waiting but its claim
    /// lapsed, finishes it: publishes the `error` finished event of a
    /// running one (ID `finished-<id>`, so several processes doing this
    /// store one event) and marks the record finished. Returns the new
    /// record when it did.
    async fn sweep(&self, id: &str) -> Result<Option<OperationRecord>, OperationsError> {
        let claim = self
            .kv
            .get(claim_key(id))
            .await
            .map_err(|e| nats_error(&self.bucket, "reading a claim", e))?;
        if claim.is_some() {
            return Ok(None);
        }
        // The claim is gone; the holder marks its record finished before
        // it releases its claim, so a record still unfinished now was
        // abandoned.
        let Some((mut record, revision)) = self.read_record(id).await? else {
            return Ok(None);
        };
        let message = format!(
            "{ABANDONED_MESSAGE} (holder {}, lease {} s lapsed)",
            record.holder, record.lease_seconds
        );
        match record.state {
            OperationState::Finished => return Ok(None),
            OperationState::Running => {
                let event = orphan_finished_event(
                    &self.publisher,
                    record.repo_id.clone(),
                    record.kind == OperationKind::Sync,
                    record.type_id.clone(),
                    record.component_id.clone(),
                    record
                        .started
                        .clone()
                        .unwrap_or_else(|| record.requested.clone()),
                    finished_id(id),
                    Ending {
                        error_message: Some(message.clone()),
                        exception: Some("LeaseExpired".into()),
                        ..Ending::bare(PulpResult::Error)
                    },
                );
                let ack = self
                    .publisher
                    .publish_with(
                        &event,
                        PublishOptions {
                            id: Some(finished_id(id)),
                            ..PublishOptions::default()
                        },
                    )
                    .await?;
                if !ack.duplicate {
                    metrics::counter!("repobus_operations_abandoned_total").increment(1);
                    tracing::warn!(operation = id, "{message}; published its finished event");
                }
                record.result = Some(PulpResult::Error);
            }
            OperationState::Waiting => {}
        }
        record.state = OperationState::Finished;
        record.finished = Some(Timestamp::now());
        record.error_message = Some(message);
        let body = Bytes::from(serde_json::to_vec(&record).unwrap_or_default());
        // Another process may have done it first: that is fine.
        let _ = self
            .write(
                &record_key(id),
                body,
                Some(revision),
                Some(self.retention),
                false,
            )
            .await;
        Ok(Some(record))
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn default_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// What a waiting and then running operation shares with its background
/// tasks.
#[derive(Debug)]
struct Inner {
    ops: Operations,
    id: String,
    lease: Duration,
    claim: Claim,
    claim_revision: AtomicU64,
    record: tokio::sync::Mutex<(OperationRecord, u64)>,
    token: CancellationToken,
    reason: StdMutex<Option<StopReason>>,
    released: std::sync::atomic::AtomicBool,
    tasks: StdMutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Inner {
    fn stop(&self, reason: StopReason) {
        if let Ok(mut r) = self.reason.lock() {
            r.get_or_insert(reason);
        }
        self.token.cancel();
    }

    fn reason(&self) -> Option<StopReason> {
        self.reason.lock().ok().and_then(|r| *r)
    }

    fn spawn_renewal(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let every = self.lease / 3;
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.released.load(Ordering::SeqCst) {
                    return;
                }
                let expected = inner.claim_revision.load(Ordering::SeqCst);
                let body = Bytes::from(serde_json::to_vec(&inner.claim).unwrap_or_default());
                match inner
                    .ops
                    .write(
                        &claim_key(&inner.id),
                        body,
                        Some(expected),
                        Some(inner.lease),
                        false,
                    )
                    .await
                {
                    Ok(revision) => {
                        // Only if nobody released it meanwhile.
                        let _ = inner.claim_revision.compare_exchange(
                            expected,
                            revision,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        );
                    }
                    Err(e) => {
                        if inner.released.load(Ordering::SeqCst) {
                            return;
                        }
                        let message = e.to_string();
                        if message.contains("wrong last sequence") {
                            tracing::error!(operation = %inner.id, "lease lost: the claim lapsed or changed ({message})");
                            metrics::counter!("repobus_operations_lease_lost_total").increment(1);
                            inner.stop(StopReason::LeaseLost);
                            return;
                        }
                        // A transient failure: try again sooner.
                        tracing::warn!(operation = %inner.id, "cannot renew the lease yet: {message}");
                    }
                }
            }
        });
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(task);
        }
    }

    /// Watches `cancel.<id>` with a plain core subscription to the KV
    /// subject (no consumer on the server), after a first read of the key.
    fn spawn_cancel_watch(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let client = self.ops.bus.client().clone();
        let kv = self.ops.kv.clone();
        let key = cancel_key(&self.id);
        let subject = format!("$KV.{}.{}", self.ops.bucket, key);
        let task = tokio::spawn(async move {
            let Ok(mut subscription) = client.subscribe(subject).await else {
                return;
            };
            let already = matches!(kv.get(&key).await, Ok(Some(_)));
            if !already {
                loop {
                    let Some(message) = subscription.next().await else {
                        return;
                    };
                    let deleted = message
                        .headers
                        .as_ref()
                        .and_then(|h| h.get("KV-Operation"))
                        .is_some();
                    if !deleted {
                        break;
                    }
                }
            }
            if let Some(inner) = weak.upgrade() {
                inner.stop(StopReason::Canceled);
            }
        });
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(task);
        }
    }

    /// Writes the record through `change`, with the expected revision.
    async fn update_record(
        &self,
        change: impl FnOnce(&mut OperationRecord),
        ttl: Option<Duration>,
    ) -> Result<(), OperationsError> {
        let mut guard = self.record.lock().await;
        let (record, revision) = &mut *guard;
        change(record);
        let body = Bytes::from(serde_json::to_vec(&*record).unwrap_or_default());
        let new = self
            .ops
            .write(&record_key(&self.id), body, Some(*revision), ttl, false)
            .await?;
        *revision = new;
        Ok(())
    }

    /// Releases the claim (with its expected revision) and stops the
    /// background tasks.
    async fn release(&self) {
        if self.released.swap(true, Ordering::SeqCst) {
            return;
        }
        let revision = self.claim_revision.load(Ordering::SeqCst);
        if let Err(e) = self
            .ops
            .write(
                &claim_key(&self.id),
                Bytes::new(),
                Some(revision),
                Some(self.ops.retention),
                true,
            )
            .await
        {
            tracing::warn!(operation = %self.id, "claim not released (it lapses with its lease): {e}");
        }
        self.abort_tasks();
    }

    fn abort_tasks(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.abort_tasks();
    }
}

/// An operation waiting for its reservations.
#[derive(Debug)]
pub struct Waiting {
    inner: Arc<Inner>,
}

enum Guard {
    Sync(SyncOperation),
    Publish(PublishOperation),
}

impl Waiting {
    /// The operation ID (what `repobus cancel` takes).
    ///
    /// # Examples
    ///
    /// See [`Operations::request`].
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Fires when the operation is canceled or loses its lease.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(waiting: repobus::operations::Waiting) {
    /// let token = waiting.cancellation();
    /// assert!(!token.is_cancelled());
    /// # }
    /// ```
    pub fn cancellation(&self) -> CancellationToken {
        self.inner.token.clone()
    }

    /// Waits until the walk over all claims lets this operation run, then
    /// marks it running and publishes its started event. `timeout` bounds
    /// the wait (`None`: wait as long as it takes).
    ///
    /// # Examples
    ///
    /// See [`Operations::request`].
    pub async fn wait(self, timeout: Option<Duration>) -> Result<Running, WaitError> {
        let inner = self.inner;
        let begun = Instant::now();
        let outcome = wait_for_grant(&inner, timeout).await;
        if let Err(e) = outcome {
            let canceled = matches!(e, WaitError::Canceled(_));
            let message = e.to_string();
            let _ = inner
                .update_record(
                    |r| {
                        r.state = OperationState::Finished;
                        r.finished = Some(Timestamp::now());
                        r.result = canceled.then_some(PulpResult::Canceled);
                        r.error_message = Some(message);
                    },
                    Some(inner.ops.retention),
                )
                .await;
            inner.release().await;
            return Err(e);
        }
        metrics::histogram!("repobus_operations_wait_seconds")
            .record(begun.elapsed().as_secs_f64());
        let started = Timestamp::now();
        inner
            .update_record(
                |r| {
                    r.state = OperationState::Running;
                    r.started = Some(started.clone());
                },
                None,
            )
            .await?;
        let record = inner.record.lock().await.0.clone();
        let publisher = &inner.ops.publisher;
        let guard = match record.kind {
            OperationKind::Sync => {
                let mut op = publisher
                    .start_sync(
                        record.repo_id.clone(),
                        record.type_id.clone(),
                        record.component_id.clone(),
                    )
                    .await
                    .map_err(OperationsError::from)?;
                op.set_finished_id(finished_id(&inner.id));
                Guard::Sync(op)
            }
            OperationKind::Publish => {
                let mut op = publisher
                    .start_publish(
                        record.repo_id.clone(),
                        record.type_id.clone(),
                        record.component_id.clone(),
                    )
                    .await
                    .map_err(OperationsError::from)?;
                op.set_finished_id(finished_id(&inner.id));
                Guard::Publish(op)
            }
        };
        let progress = Arc::new(ProgressState::default());
        let running = Running {
            inner,
            guard: Some(guard),
            progress,
        };
        running.spawn_progress();
        Ok(running)
    }
}

async fn wait_for_grant(inner: &Arc<Inner>, timeout: Option<Duration>) -> Result<(), WaitError> {
    let ops = &inner.ops;
    let mut watch = ops.watch_claims().await?;
    let mut cleanup = ConsumerCleanup {
        stream: ops.stream.clone(),
        name: None,
    };
    let key_prefix = format!("$KV.{}.", ops.bucket);
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let begun = Instant::now();
    let mut claims = Claims::default();
    let mut seen_mine = false;
    loop {
        let next = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d, watch.next()).await.ok(),
                None => Some(watch.next().await),
            }
        };
        let entry = tokio::select! {
            entry = next => entry,
            _ = inner.token.cancelled() => {
                return Err(match inner.reason() {
                    Some(StopReason::LeaseLost) => WaitError::LeaseLost(inner.id.clone()),
                    _ => WaitError::Canceled(inner.id.clone()),
                });
            }
        };
        let Some(entry) = entry else {
            return Err(WaitError::Timeout {
                id: inner.id.clone(),
                waited: begun.elapsed(),
            });
        };
        let Some(entry) = entry else {
            return Err(nats_error(&ops.bucket, "watching claims", "the watch ended").into());
        };
        let message = entry.map_err(|e| nats_error(&ops.bucket, "watching claims", e))?;
        let Some(id) = message
            .subject
            .as_str()
            .strip_prefix(&key_prefix)
            .and_then(|k| k.strip_prefix("claim."))
            .map(str::to_owned)
        else {
            continue;
        };
        let id = id.as_str();
        let revision = match message.info() {
            Ok(info) => {
                if cleanup.name.as_deref() != Some(info.consumer) {
                    cleanup.name = Some(info.consumer.to_owned());
                }
                info.stream_sequence
            }
            Err(_) => 0,
        };
        match entry_operation(message.headers.as_ref()) {
            kv::Operation::Put => {
                if let Ok(claim) = serde_json::from_slice::<Claim>(&message.payload) {
                    if claim.id == inner.id {
                        seen_mine = true;
                    }
                    claims.insert(claim, revision);
                }
            }
            kv::Operation::Delete => claims.remove(id),
            kv::Operation::Purge => {
                // A lapsed lease (the server's MaxAge marker): finish the
                // abandoned operation if nobody did yet.
                claims.remove(id);
                if id != inner.id {
                    if let Err(e) = ops.sweep(id).await {
                        tracing::warn!(
                            operation = id,
                            "cannot finish the abandoned operation yet: {e}"
                        );
                    }
                }
            }
        }
        if seen_mine && !claims.contains(&inner.id) {
            return Err(WaitError::LeaseLost(inner.id.clone()));
        }
        if seen_mine && claims.may_run(&inner.id) {
            return Ok(());
        }
    }
}

/// Deletes the claims watch's consumer when the wait ends.
struct ConsumerCleanup {
    stream: async_nats::jetstream::stream::Stream,
    name: Option<String>,
}

impl Drop for ConsumerCleanup {
    fn drop(&mut self) {
        if let (Some(name), Ok(handle)) = (self.name.take(), tokio::runtime::Handle::try_current())
        {
            let stream = self.stream.clone();
            handle.spawn(async move {
                let _ = stream.delete_consumer(&name).await;
            });
        }
    }
}

/// What a KV message is: its `KV-Operation` header, or the reason of a
/// server marker (`MaxAge` when a TTL lapsed), else a put.
fn entry_operation(headers: Option<&HeaderMap>) -> kv::Operation {
    let Some(headers) = headers else {
        return kv::Operation::Put;
    };
    if let Some(op) = headers.get("KV-Operation") {
        return match op.as_str() {
            "DEL" => kv::Operation::Delete,
            "PURGE" => kv::Operation::Purge,
            _ => kv::Operation::Put,
        };
    }
    match headers.get("Nats-Marker-Reason").map(|r| r.as_str()) {
        Some("MaxAge") | Some("Purge") => kv::Operation::Purge,
        Some("Remove") => kv::Operation::Delete,
        _ => kv::Operation::Put,
    }
}

#[derive(Debug, Default)]
struct ProgressState {
    latest: StdMutex<(u64, Option<Value>)>,
    sent: AtomicU64,
    notify: tokio::sync::Notify,
    sending: tokio::sync::Mutex<()>,
}

/// A running operation: its reservations are granted and its started event
/// is published; it owes its finished event.
pub struct Running {
    inner: Arc<Inner>,
    guard: Option<Guard>,
    progress: Arc<ProgressState>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("id", &self.inner.id)
            .finish()
    }
}

impl Running {
    /// The operation ID.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(running: repobus::operations::Running) {
    /// println!("running as {}", running.id());
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Fires when the operation is canceled ([`Operations::cancel`]) or
    /// its lease is lost; [`Running::stop_reason`] says which. The guarded
    /// work should stop and [`Running::finish`] with [`Finish::Canceled`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn work() {}
    /// # async fn demo(running: repobus::operations::Running) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::operations::Finish;
    /// let token = running.cancellation();
    /// tokio::select! {
    ///     _ = work() => running.finish(Finish::Sync(Default::default())).await?,
    ///     _ = token.cancelled() => running.finish(Finish::Canceled).await?,
    /// };
    /// # Ok(()) }
    /// ```
    pub fn cancellation(&self) -> CancellationToken {
        self.inner.token.clone()
    }

    /// Why the cancellation token fired, if it did.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(running: repobus::operations::Running) {
    /// assert!(running.stop_reason().is_none());
    /// # }
    /// ```
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.inner.reason()
    }

    /// Reports progress (free-form JSON; see [`ProgressReport`] for the
    /// recommended shape). Throttled: at most one report per interval is
    /// stored; the last one is always stored before the finish.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn demo(running: repobus::operations::Running) {
    /// running.progress(serde_json::json!({"message": "Downloading", "total": 1200, "done": 340}));
    /// # }
    /// ```
    pub fn progress(&self, report: Value) {
        if let Ok(mut latest) = self.progress.latest.lock() {
            latest.0 += 1;
            latest.1 = Some(report);
        }
        self.progress.notify.notify_one();
    }

    fn spawn_progress(&self) {
        let weak = Arc::downgrade(&self.inner);
        let progress = self.progress.clone();
        let interval = self.inner.ops.progress_interval;
        let task = tokio::spawn(async move {
            loop {
                progress.notify.notified().await;
                let Some(inner) = weak.upgrade() else { return };
                send_progress(&inner, &progress).await;
                drop(inner);
                tokio::time::sleep(interval).await;
            }
        });
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.push(task);
        }
    }

    /// Publishes the finished event (after the last progress report),
    /// marks the operation finished and releases its reservations. When
    /// the lease was lost and another process already published the
    /// abandonment, the returned ack says `duplicate`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(running: repobus::operations::Running) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::operations::Finish;
    /// running
    ///     .finish(Finish::Failed { error_message: "rsync: connection refused".into(), traceback: None })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn finish(mut self, finish: Finish) -> Result<PublishAck, OperationsError> {
        let inner = self.inner.clone();
        // Stop the throttled sender, then store the last report.
        {
            let _sending = self.progress.sending.lock().await;
            if let Ok(mut tasks) = inner.tasks.lock() {
                if let Some(task) = tasks.pop() {
                    task.abort();
                }
            }
        }
        send_progress(&inner, &self.progress).await;
        let ending = finish.ending();
        let result = ending.result;
        let error_message = ending.error_message.clone();
        let ack = match self.guard.take() {
            Some(Guard::Sync(op)) => op.end_with(ending).await?,
            Some(Guard::Publish(op)) => op.end_with(ending).await?,
            None => {
                return Err(OperationsError::Invalid(
                    "operation already finished".into(),
                ))
            }
        };
        metrics::counter!("repobus_operations_finished_total", "result" => result.as_str())
            .increment(1);
        let _ = inner
            .update_record(
                |r| {
                    r.state = OperationState::Finished;
                    r.finished = Some(Timestamp::now());
                    r.result = Some(result);
                    r.error_message = error_message;
                },
                Some(inner.ops.retention),
            )
            .await;
        inner.release().await;
        Ok(ack)
    }
}

async fn send_progress(inner: &Inner, progress: &ProgressState) {
    let _sending = progress.sending.lock().await;
    let (seq, report) = match progress.latest.lock() {
        Ok(latest) => (latest.0, latest.1.clone()),
        Err(_) => return,
    };
    if seq == 0 || seq <= progress.sent.load(Ordering::SeqCst) {
        return;
    }
    let event = {
        let record = &inner.record.lock().await.0;
        let body = match &report {
            Some(Value::Object(map)) => map.clone(),
            Some(other) => {
                let mut map = serde_json::Map::new();
                map.insert("value".into(), other.clone());
                map
            }
            None => serde_json::Map::new(),
        };
        match record.kind {
            OperationKind::Sync => crate::Event::from(RepoSyncProgress::new(
                record.repo_id.clone(),
                inner.id.clone(),
                body,
            )),
            OperationKind::Publish => crate::Event::from(RepoPublishProgress::new(
                record.repo_id.clone(),
                record.component_id.clone(),
                inner.id.clone(),
                body,
            )),
        }
    };
    match inner.update_record(|r| r.progress = report, None).await {
        Ok(()) => {
            progress.sent.store(seq, Ordering::SeqCst);
            metrics::counter!("repobus_operations_progress_reports_total").increment(1);
        }
        Err(e) => tracing::warn!(operation = %inner.id, "progress not stored: {e}"),
    }
    if let Err(e) = inner.ops.publisher.publish(&event).await {
        tracing::warn!(operation = %inner.id, "progress event not published: {e}");
    }
}
