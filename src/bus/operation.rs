//! Operation guards: a started event always gets its finished event.
//!
//! [`Publisher::start_sync`] publishes `repo-sync-started` and returns a
//! [`SyncOperation`]; finishing it publishes `repo-sync-finished` with the
//! start and completion times, the counts and, on failure, the error
//! message, exception and traceback. An operation dropped without being
//! finished publishes a `canceled` result in the background, and
//! [`Publisher::run_sync`] turns an error or a panic of the guarded code
//! into an `error` result. The same holds for publishes, with a
//! [`PublishOperation`]: the two are separate types, so a sync cannot be
//! finished with a publish's results.
//!
//! ```no_run
//! # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
//! use repobus::bus::SyncReport;
//!
//! let report = publisher
//!     .run_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?, || async {
//!         // ... synchronize the repository ...
//!         Ok::<_, std::io::Error>(SyncReport { added_count: 12, ..SyncReport::default() })
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use serde_json::{Map, Value};

use super::publisher::{PublishAck, PublishError, PublishOptions, Publisher};
use crate::events::{
    Event, Extra, Outcome, PublishResultsNs, PulpResult, RepoPublishFinished, RepoPublishStarted,
    RepoSyncFinished, RepoSyncStarted, SyncResultsNs,
};
use crate::{ResourceId, Timestamp};

/// What a finished sync reports.
///
/// # Examples
///
/// ```
/// use repobus::bus::SyncReport;
/// use serde_json::json;
///
/// let report = SyncReport {
///     added_count: 12,
///     removed_count: 1,
///     summary: json!({"packages": {"state": "FINISHED"}}),
///     ..SyncReport::default()
/// };
/// assert_eq!(report.updated_count, 0);
/// assert_eq!(SyncReport::default().details, json!({}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SyncReport {
    /// Units added.
    pub added_count: u64,
    /// Units updated.
    pub updated_count: u64,
    /// Units removed.
    pub removed_count: u64,
    /// The importer's summary (opaque JSON).
    pub summary: Value,
    /// The importer's details (opaque JSON).
    pub details: Value,
}

impl Default for SyncReport {
    fn default() -> Self {
        SyncReport {
            added_count: 0,
            updated_count: 0,
            removed_count: 0,
            summary: Value::Object(Map::new()),
            details: Value::Object(Map::new()),
        }
    }
}

/// What a finished publish reports.
///
/// # Examples
///
/// ```
/// use repobus::bus::PublishReport;
/// use serde_json::json;
///
/// let report = PublishReport {
///     summary: json!({"num_package_units_published": 12}),
///     ..PublishReport::default()
/// };
/// assert_eq!(report.details, json!({}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PublishReport {
    /// The distributor's summary (opaque JSON).
    pub summary: Value,
    /// The distributor's details (opaque JSON).
    pub details: Value,
}

impl Default for PublishReport {
    fn default() -> Self {
        PublishReport {
            summary: Value::Object(Map::new()),
            details: Value::Object(Map::new()),
        }
    }
}

/// Why a guarded operation did not return its report.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::bus::{OperationError, SyncReport};
///
/// let outcome = publisher
///     .run_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?, || async {
///         Err::<SyncReport, _>(std::io::Error::other("the feed is unreachable"))
///     })
///     .await;
/// match outcome {
///     Ok(report) => println!("{} added", report.added_count),
///     // Either way, repo-sync-finished with result `error` was published.
///     Err(OperationError::Failed(e)) => eprintln!("sync failed: {e}"),
///     Err(OperationError::Panicked(message)) => eprintln!("sync panicked: {message}"),
///     Err(OperationError::Publish(e)) => return Err(e.into()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum OperationError<E> {
    /// The started or finished event could not be published.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The guarded code returned an error; an `error` result was published.
    #[error("the operation failed: {0}")]
    Failed(E),
    /// The guarded code panicked; an `error` result was published.
    #[error("the operation panicked: {0}")]
    Panicked(String),
}

#[derive(Debug, Clone)]
enum Kind {
    Sync {
        importer_type_id: ResourceId,
        importer_id: ResourceId,
    },
    Publish {
        distributor_type_id: ResourceId,
        distributor_id: ResourceId,
    },
}

/// A started sync or publish whose finished event is still owed: what
/// [`SyncOperation`] and [`PublishOperation`] share.
#[derive(Debug)]
struct Operation {
    publisher: Publisher,
    repo_id: ResourceId,
    kind: Kind,
    started: Timestamp,
    finished: bool,
    /// The finished event's ID when the operation has one fixed in advance
    /// (a reserved operation: `finished-<operation id>`, so that the holder
    /// and a process publishing its abandonment store one event between
    /// them); a fresh UUIDv7 otherwise.
    finished_id: Option<String>,
}

/// How an operation ends: the result and what the finished event reports.
/// Used by [`crate::operations`] to finish a reserved operation.
#[derive(Debug, Clone)]
pub(crate) struct Ending {
    pub(crate) result: PulpResult,
    pub(crate) counts: (u64, u64, u64),
    pub(crate) summary: Value,
    pub(crate) details: Value,
    pub(crate) error_message: Option<String>,
    pub(crate) exception: Option<String>,
    pub(crate) traceback: Option<String>,
}

impl Ending {
    pub(crate) fn bare(result: PulpResult) -> Self {
        Ending {
            result,
            counts: (0, 0, 0),
            summary: Value::Null,
            details: Value::Null,
            error_message: None,
            exception: None,
            traceback: None,
        }
    }
}

impl Operation {
    fn finished_event(&self, ending: Ending) -> Event {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let id = self
            .finished_id
            .as_deref()
            .and_then(|f| f.strip_prefix("finished-"))
            .map(str::to_owned)
            .unwrap_or(id);
        let outcome = Outcome {
            // A 32-digit hex string is always a valid resource ID.
            id: ResourceId::new(id).unwrap_or_else(|_| self.repo_id.clone()),
            result: ending.result,
            started: self.started.clone(),
            completed: Timestamp::now(),
            exception: ending.exception,
            traceback: ending.traceback,
            error_message: ending.error_message,
            report_summary: ending.summary,
            report_details: ending.details,
        };
        match &self.kind {
            Kind::Sync {
                importer_type_id,
                importer_id,
            } => Event::RepoSyncFinished(RepoSyncFinished {
                repo_id: self.repo_id.clone(),
                importer_type_id: importer_type_id.clone(),
                importer_id: importer_id.clone(),
                added_count: ending.counts.0,
                updated_count: ending.counts.1,
                removed_count: ending.counts.2,
                ns: SyncResultsNs::RepoSyncResults,
                outcome,
                extra: Extra::new(),
            }),
            Kind::Publish {
                distributor_type_id,
                distributor_id,
            } => Event::RepoPublishFinished(RepoPublishFinished {
                repo_id: self.repo_id.clone(),
                distributor_type_id: distributor_type_id.clone(),
                distributor_id: distributor_id.clone(),
                ns: PublishResultsNs::RepoPublishResults,
                outcome,
                extra: Extra::new(),
            }),
        }
    }

    async fn end(mut self, ending: Ending) -> Result<PublishAck, PublishError> {
        self.finished = true;
        let event = self.finished_event(ending);
        let options = PublishOptions {
            id: self.finished_id.clone(),
            ..PublishOptions::default()
        };
        self.publisher.publish_with(&event, options).await
    }
}

/// The methods both operation types have.
macro_rules! operation_methods {
    () => {
        /// When the operation started.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
        /// let sync = publisher
        ///     .start_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?)
        ///     .await?;
        /// println!("sync of {} started at {}", sync.repo_id(), sync.started());
        /// # sync.cancel().await?;
        /// # Ok(()) }
        /// ```
        pub fn started(&self) -> &Timestamp {
            &self.0.started
        }

        /// The repository.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
        /// let publish = publisher
        ///     .start_publish("pulp-f17".parse()?, "yum_distributor".parse()?, "yum_distributor".parse()?)
        ///     .await?;
        /// assert_eq!(publish.repo_id().as_str(), "pulp-f17");
        /// # publish.cancel().await?;
        /// # Ok(()) }
        /// ```
        pub fn repo_id(&self) -> &ResourceId {
            &self.0.repo_id
        }

        /// Finishes with `failed`: the importer or distributor reported
        /// failure.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
        /// let sync = publisher
        ///     .start_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?)
        ///     .await?;
        /// // The importer ran and reported failure:
        /// sync.fail("404 Not Found: https://mirror.example/f17/repodata/repomd.xml").await?;
        /// # Ok(()) }
        /// ```
        pub async fn fail(
            self,
            error_message: impl Into<String>,
        ) -> Result<PublishAck, PublishError> {
            self.0
                .end(Ending {
                    error_message: Some(error_message.into()),
                    ..Ending::bare(PulpResult::Failed)
                })
                .await
        }

        /// Finishes with `error`, an error message, and optionally the
        /// exception and traceback.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
        /// let publish = publisher
        ///     .start_publish("pulp-f17".parse()?, "yum_distributor".parse()?, "yum_distributor".parse()?)
        ///     .await?;
        /// publish
        ///     .error("disk full", Some("OSError".into()), Some("Traceback (most recent call last): ...".into()))
        ///     .await?;
        /// # Ok(()) }
        /// ```
        pub async fn error(
            self,
            error_message: impl Into<String>,
            exception: Option<String>,
            traceback: Option<String>,
        ) -> Result<PublishAck, PublishError> {
            self.0
                .end(Ending {
                    error_message: Some(error_message.into()),
                    exception,
                    traceback,
                    ..Ending::bare(PulpResult::Error)
                })
                .await
        }

        /// Finishes with `canceled`.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
        /// let sync = publisher
        ///     .start_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?)
        ///     .await?;
        /// // The user canceled the task:
        /// sync.cancel().await?;
        /// # Ok(()) }
        /// ```
        pub async fn cancel(self) -> Result<PublishAck, PublishError> {
            self.0.end(Ending::bare(PulpResult::Canceled)).await
        }
    };
}

/// A started sync whose `repo-sync-finished` is still owed.
///
/// Finish it with [`SyncOperation::finish`], [`SyncOperation::fail`],
/// [`SyncOperation::error`] or [`SyncOperation::cancel`]; dropped
/// unfinished, it publishes a `canceled` result in the background.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::bus::SyncReport;
///
/// let sync = publisher
///     .start_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?)
///     .await?;
/// // ... synchronize ...
/// sync.finish(SyncReport { added_count: 3, ..SyncReport::default() }).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SyncOperation(Operation);

impl SyncOperation {
    operation_methods!();

    /// Finishes with `success` and the sync's counts and reports.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::SyncReport;
    ///
    /// let sync = publisher
    ///     .start_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?)
    ///     .await?;
    /// let ack = sync.finish(SyncReport { added_count: 12, ..SyncReport::default() }).await?;
    /// println!("repo-sync-finished stored as #{}", ack.seq);
    /// # Ok(()) }
    /// ```
    pub async fn finish(self, report: SyncReport) -> Result<PublishAck, PublishError> {
        self.0
            .end(Ending {
                counts: (
                    report.added_count,
                    report.updated_count,
                    report.removed_count,
                ),
                summary: report.summary,
                details: report.details,
                ..Ending::bare(PulpResult::Success)
            })
            .await
    }
}

/// A started publish whose `repo-publish-finished` is still owed; like
/// [`SyncOperation`], finished with a [`PublishReport`].
///
/// # Examples
///
/// ```no_run
/// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::bus::PublishReport;
///
/// let publish = publisher
///     .start_publish("pulp-f17".parse()?, "yum_distributor".parse()?, "yum_distributor".parse()?)
///     .await?;
/// publish.finish(PublishReport::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PublishOperation(Operation);

impl PublishOperation {
    operation_methods!();

    /// Finishes with `success` and the publish's reports.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::PublishReport;
    ///
    /// let publish = publisher
    ///     .start_publish("pulp-f17".parse()?, "yum_distributor".parse()?, "yum_distributor".parse()?)
    ///     .await?;
    /// publish.finish(PublishReport::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn finish(self, report: PublishReport) -> Result<PublishAck, PublishError> {
        self.0
            .end(Ending {
                summary: report.summary,
                details: report.details,
                ..Ending::bare(PulpResult::Success)
            })
            .await
    }
}

impl Operation {
    /// The `kind` label of `repobus_operations_in_progress`.
    fn kind_label(&self) -> &'static str {
        match self.kind {
            Kind::Sync { .. } => "sync",
            Kind::Publish { .. } => "publish",
        }
    }

    /// Counts the guard as in progress until it drops.
    fn counted(self) -> Self {
        crate::telemetry::operations_in_progress(self.kind_label()).increment(1.0);
        self
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        crate::telemetry::operations_in_progress(self.kind_label()).decrement(1.0);
        if !self.finished {
            tracing::warn!(repo_id = %self.repo_id, "operation dropped unfinished; publishing a canceled result");
            let event = self.finished_event(Ending {
                error_message: Some("the operation was dropped before it finished".into()),
                ..Ending::bare(PulpResult::Canceled)
            });
            self.publisher
                .publish_detached_with(event, self.finished_id.clone());
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl Publisher {
    /// Publishes `repo-sync-started` and returns the guard that owes
    /// `repo-sync-finished`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::SyncReport;
    ///
    /// let sync = publisher
    ///     .start_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?)
    ///     .await?;
    /// // ... synchronize; returning early with `?` drops `sync`, which
    /// // publishes a `canceled` result ...
    /// sync.finish(SyncReport::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_sync(
        &self,
        repo_id: ResourceId,
        importer_type_id: ResourceId,
        importer_id: ResourceId,
    ) -> Result<SyncOperation, PublishError> {
        let started = Timestamp::now();
        self.publish(&RepoSyncStarted::new(repo_id.clone()).into())
            .await?;
        Ok(SyncOperation(
            Operation {
                publisher: self.clone(),
                repo_id,
                kind: Kind::Sync {
                    importer_type_id,
                    importer_id,
                },
                started,
                finished: false,
                finished_id: None,
            }
            .counted(),
        ))
    }

    /// Publishes `repo-publish-started` and returns the guard that owes
    /// `repo-publish-finished`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::PublishReport;
    ///
    /// let publish = publisher
    ///     .start_publish("pulp-f17".parse()?, "yum_distributor".parse()?, "yum_distributor".parse()?)
    ///     .await?;
    /// // ... write the repository out ...
    /// publish.finish(PublishReport::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_publish(
        &self,
        repo_id: ResourceId,
        distributor_type_id: ResourceId,
        distributor_id: ResourceId,
    ) -> Result<PublishOperation, PublishError> {
        let started = Timestamp::now();
        self.publish(&RepoPublishStarted::new(repo_id.clone(), distributor_id.clone()).into())
            .await?;
        Ok(PublishOperation(
            Operation {
                publisher: self.clone(),
                repo_id,
                kind: Kind::Publish {
                    distributor_type_id,
                    distributor_id,
                },
                started,
                finished: false,
                finished_id: None,
            }
            .counted(),
        ))
    }

    /// Runs a sync under a guard: `success` with the report when `work`
    /// returns it, `error` when it returns an error or panics.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn sync_repository() -> Result<u64, std::io::Error> { Ok(12) }
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::SyncReport;
    ///
    /// let report = publisher
    ///     .run_sync("pulp-f17".parse()?, "yum_importer".parse()?, "yum_importer".parse()?, || async {
    ///         let added_count = sync_repository().await?;
    ///         Ok::<_, std::io::Error>(SyncReport { added_count, ..SyncReport::default() })
    ///     })
    ///     .await?;
    /// println!("{} units added", report.added_count);
    /// # Ok(()) }
    /// ```
    pub async fn run_sync<F, Fut, E>(
        &self,
        repo_id: ResourceId,
        importer_type_id: ResourceId,
        importer_id: ResourceId,
        work: F,
    ) -> Result<SyncReport, OperationError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SyncReport, E>>,
        E: Display,
    {
        let op = self
            .start_sync(repo_id, importer_type_id, importer_id)
            .await?;
        guarded(op.0, work, |op, report: SyncReport| async move {
            SyncOperation(op).finish(report).await
        })
        .await
    }

    /// Runs a publish under a guard, like [`Publisher::run_sync`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
    /// use repobus::bus::PublishReport;
    ///
    /// publisher
    ///     .run_publish("pulp-f17".parse()?, "yum_distributor".parse()?, "yum_distributor".parse()?, || async {
    ///         // ... write the repository out ...
    ///         Ok::<_, std::io::Error>(PublishReport::default())
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_publish<F, Fut, E>(
        &self,
        repo_id: ResourceId,
        distributor_type_id: ResourceId,
        distributor_id: ResourceId,
        work: F,
    ) -> Result<PublishReport, OperationError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<PublishReport, E>>,
        E: Display,
    {
        let op = self
            .start_publish(repo_id, distributor_type_id, distributor_id)
            .await?;
        guarded(op.0, work, |op, report: PublishReport| async move {
            PublishOperation(op).finish(report).await
        })
        .await
    }
}

/// Runs `work` for a started operation and publishes how it ended: through
/// `finish` on success, as `error` on an error or a panic (a panic before
/// `work` returns its future included).
async fn guarded<R, F, Fut, E, Fin, FinFut>(
    op: Operation,
    work: F,
    finish: Fin,
) -> Result<R, OperationError<E>>
where
    R: Clone,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<R, E>>,
    E: Display,
    Fin: FnOnce(Operation, R) -> FinFut,
    FinFut: Future<Output = Result<PublishAck, PublishError>>,
{
    match AssertUnwindSafe(async move { work().await })
        .catch_unwind()
        .await
    {
        Ok(Ok(report)) => {
            finish(op, report.clone()).await?;
            Ok(report)
        }
        Ok(Err(e)) => {
            op.end(Ending {
                error_message: Some(e.to_string()),
                exception: Some(std::any::type_name::<E>().to_owned()),
                ..Ending::bare(PulpResult::Error)
            })
            .await?;
            Err(OperationError::Failed(e))
        }
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            op.end(Ending {
                error_message: Some(format!("panicked: {message}")),
                exception: Some("panic".to_owned()),
                ..Ending::bare(PulpResult::Error)
            })
            .await?;
            Err(OperationError::Panicked(message))
        }
    }
}

/// What [`crate::operations`] needs of the guards: start with a fixed
/// started time and finished-event ID, and end with any [`Ending`].
impl SyncOperation {
    pub(crate) fn set_finished_id(&mut self, id: String) {
        self.0.finished_id = Some(id);
    }

    pub(crate) async fn end_with(self, ending: Ending) -> Result<PublishAck, PublishError> {
        self.0.end(ending).await
    }
}

impl PublishOperation {
    pub(crate) fn set_finished_id(&mut self, id: String) {
        self.0.finished_id = Some(id);
    }

    pub(crate) async fn end_with(self, ending: Ending) -> Result<PublishAck, PublishError> {
        self.0.end(ending).await
    }
}

/// The finished event of an operation that never got to finish itself
/// (its holder stopped renewing its reservation): built from the details
/// kept in the operation registry.
#[allow(clippy::too_many_arguments)]
pub(crate) fn orphan_finished_event(
    publisher: &Publisher,
    repo_id: ResourceId,
    sync: bool,
    type_id: ResourceId,
    id: ResourceId,
    started: Timestamp,
    finished_id: String,
    ending: Ending,
) -> Event {
    let op = Operation {
        publisher: publisher.clone(),
        repo_id,
        kind: if sync {
            Kind::Sync {
                importer_type_id: type_id,
                importer_id: id,
            }
        } else {
            Kind::Publish {
                distributor_type_id: type_id,
                distributor_id: id,
            }
        },
        started,
        // Nothing is owed by this value: it only builds the event.
        finished: true,
        finished_id: Some(finished_id),
    };
    op.finished_event(ending)
}
