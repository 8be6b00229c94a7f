//! Pulp 2's repository sync and publish events, with the bodies Pulp sends.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::events::{first_line, EventKind, Extra, Severity};
use crate::{EventType, ResourceId, Timestamp};

/// How a Pulp sync or publish ended: the `result` field of a finished event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PulpResult {
    /// The operation completed.
    Success,
    /// The importer or distributor reported a failure.
    Failed,
    /// The operation raised an unexpected error.
    Error,
    /// The operation was canceled.
    Canceled,
}

impl PulpResult {
    /// The wire name: `success`, `failed`, `error` or `canceled`.
    pub fn as_str(self) -> &'static str {
        match self {
            PulpResult::Success => "success",
            PulpResult::Failed => "failed",
            PulpResult::Error => "error",
            PulpResult::Canceled => "canceled",
        }
    }

    fn severity(self) -> Severity {
        match self {
            PulpResult::Success => Severity::Info,
            PulpResult::Canceled => Severity::Warning,
            PulpResult::Failed | PulpResult::Error => Severity::Error,
        }
    }
}

impl fmt::Display for PulpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `_ns` tag of a sync result document; always `repo_sync_results`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SyncResultsNs {
    /// `repo_sync_results`
    #[default]
    #[serde(rename = "repo_sync_results")]
    RepoSyncResults,
}

/// The `_ns` tag of a publish result document; always `repo_publish_results`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PublishResultsNs {
    /// `repo_publish_results`
    #[default]
    #[serde(rename = "repo_publish_results")]
    RepoPublishResults,
}

crate::events::string_enum_schema!(PulpResult, ["success", "failed", "error", "canceled"]);
crate::events::string_enum_schema!(SyncResultsNs, ["repo_sync_results"]);
crate::events::string_enum_schema!(PublishResultsNs, ["repo_publish_results"]);

/// `repo-sync-started`: fired when a repository sync begins.
///
/// ```
/// use repobus::events::RepoSyncStarted;
///
/// let event = RepoSyncStarted::new("pulp-f17".parse().unwrap());
/// assert_eq!(serde_json::to_string(&event).unwrap(), r#"{"repo_id":"pulp-f17"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepoSyncStarted {
    /// ID of the repository being synchronized.
    pub repo_id: ResourceId,
    /// Fields this version of repobus does not know, kept for re-encoding.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RepoSyncStarted {
    /// A sync-started event for `repo_id`.
    pub fn new(repo_id: ResourceId) -> Self {
        RepoSyncStarted {
            repo_id,
            extra: Extra::new(),
        }
    }
}

/// The parts of [`EventKind`] every Pulp repository event shares: its
/// subject carries the repository ID, which is also its CloudEvents subject.
macro_rules! repo_kind {
    () => {
        const SUBJECT_IDS: &'static [&'static str] = &["repo_id"];

        fn subject_ids(&self) -> Vec<&str> {
            vec![self.repo_id.as_str()]
        }

        fn ce_subject(&self) -> String {
            self.repo_id.to_string()
        }

        fn repo_id(&self) -> Option<&ResourceId> {
            Some(&self.repo_id)
        }
    };
}

/// The accessors of `repo-sync-started` beyond the common ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoSyncStartedDetails {
    /// The repository.
    pub repo_id: String,
}

impl EventKind for RepoSyncStarted {
    const TYPE: EventType = EventType::RepoSyncStarted;
    const TITLE: &'static str = "Repository Sync Started";
    const DESCRIPTION: &'static str = "Fired when a repository sync begins (Pulp 2 event type repo-sync-started). Contains the ID of the repository being synchronized.";
    const SUBJECT_TOKENS: &'static str = "repo.sync.started";
    type Details = RepoSyncStartedDetails;

    fn examples() -> Vec<Value> {
        vec![serde_json::json!({"repo_id": "pulp-f17"})]
    }

    repo_kind!();

    fn summary(&self) -> String {
        format!("Pulp repository \"{}\": sync started.", self.repo_id)
    }

    fn status(&self) -> &'static str {
        "running"
    }

    fn details(&self) -> RepoSyncStartedDetails {
        RepoSyncStartedDetails {
            repo_id: self.repo_id.to_string(),
        }
    }
}

/// `repo-publish-started`: fired when a repository publish begins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepoPublishStarted {
    /// ID of the repository being published.
    pub repo_id: ResourceId,
    /// ID of the distributor performing the publish.
    pub distributor_id: ResourceId,
    /// Fields this version of repobus does not know, kept for re-encoding.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RepoPublishStarted {
    /// A publish-started event for `repo_id` by `distributor_id`.
    pub fn new(repo_id: ResourceId, distributor_id: ResourceId) -> Self {
        RepoPublishStarted {
            repo_id,
            distributor_id,
            extra: Extra::new(),
        }
    }
}

/// The accessors of `repo-publish-started` beyond the common ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoPublishStartedDetails {
    /// The repository.
    pub repo_id: String,
    /// The distributor.
    pub distributor_id: String,
}

impl EventKind for RepoPublishStarted {
    const TYPE: EventType = EventType::RepoPublishStarted;
    const TITLE: &'static str = "Repository Publish Started";
    const DESCRIPTION: &'static str = "Fired when a repository publish begins, including an automatic publish after a sync (Pulp 2 event type repo-publish-started). Contains the IDs of the repository and of the distributor performing the publish.";
    const SUBJECT_TOKENS: &'static str = "repo.publish.started";
    type Details = RepoPublishStartedDetails;

    fn examples() -> Vec<Value> {
        vec![serde_json::json!({"repo_id": "pulp-f16", "distributor_id": "yum_distributor"})]
    }

    repo_kind!();

    fn summary(&self) -> String {
        format!(
            "Pulp repository \"{}\": publish by distributor \"{}\" started.",
            self.repo_id, self.distributor_id
        )
    }

    fn status(&self) -> &'static str {
        "running"
    }

    fn details(&self) -> RepoPublishStartedDetails {
        RepoPublishStartedDetails {
            repo_id: self.repo_id.to_string(),
            distributor_id: self.distributor_id.to_string(),
        }
    }
}

/// The part of Pulp 2's result document that sync and publish share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Outcome {
    /// ID of the result document in Pulp's database.
    pub id: ResourceId,
    /// How the operation ended: success, failed, error or canceled.
    pub result: PulpResult,
    /// When the operation started (UTC ISO 8601).
    pub started: Timestamp,
    /// When the operation completed (UTC ISO 8601).
    pub completed: Timestamp,
    /// The exception raised by the operation, or null.
    #[serde(with = "required_nullable")]
    #[schemars(schema_with = "crate::events::nullable_string")]
    #[schemars(required)]
    pub exception: Option<String>,
    /// The traceback of that exception, or null.
    #[serde(with = "required_nullable")]
    #[schemars(schema_with = "crate::events::nullable_string")]
    #[schemars(required)]
    pub traceback: Option<String>,
    /// A human-readable error message, or null.
    #[serde(with = "required_nullable")]
    #[schemars(schema_with = "crate::events::nullable_string")]
    #[schemars(required)]
    pub error_message: Option<String>,
    /// The plugin's summary report: opaque JSON kept verbatim, may be null.
    #[serde(rename = "summary")]
    pub report_summary: Value,
    /// The plugin's detailed report: opaque JSON kept verbatim, may be null.
    #[serde(rename = "details")]
    pub report_details: Value,
}

impl Outcome {
    /// A successful outcome between `started` and `completed`, with an `id`
    /// for the result document.
    pub fn success(id: ResourceId, started: Timestamp, completed: Timestamp) -> Self {
        Outcome {
            id,
            result: PulpResult::Success,
            started,
            completed,
            exception: None,
            traceback: None,
            error_message: None,
            report_summary: Value::Object(Map::new()),
            report_details: Value::Object(Map::new()),
        }
    }

    /// Seconds from `started` to `completed`.
    pub fn duration_seconds(&self) -> i64 {
        (self.completed.as_datetime() - self.started.as_datetime()).num_seconds()
    }

    fn summary_tail(&self) -> String {
        match self
            .error_message
            .as_deref()
            .map(|m| first_line(m).trim_end_matches('.'))
        {
            Some(message) if !message.is_empty() => {
                format!("finished as \"{}\": {}", self.result, message)
            }
            _ => format!("finished as \"{}\"", self.result),
        }
    }

    fn details(&self) -> OutcomeDetails {
        OutcomeDetails {
            id: self.id.to_string(),
            result: self.result,
            started: self.started.to_string(),
            completed: self.completed.to_string(),
            duration_seconds: self.duration_seconds(),
            exception: self.exception.clone(),
            traceback: self.traceback.clone(),
            error_message: self.error_message.clone(),
        }
    }
}

/// The accessors of a Pulp result document that sync and publish share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeDetails {
    /// Pulp's ID of the result document (`4ff7413a8a905b777d000072`).
    pub id: String,
    /// `success`, `failed`, `error` or `canceled`.
    pub result: PulpResult,
    /// When the operation started, as written in the body.
    pub started: String,
    /// When it completed, as written in the body.
    pub completed: String,
    /// Seconds from `started` to `completed`.
    pub duration_seconds: i64,
    /// The exception, or null.
    pub exception: Option<String>,
    /// Its traceback, or null.
    pub traceback: Option<String>,
    /// The error message, or null.
    pub error_message: Option<String>,
}

/// The finished-event parts of [`EventKind`] that sync and publish share.
impl Outcome {
    fn status(&self) -> &'static str {
        self.result.as_str()
    }
}

/// `repo-sync-finished`: Pulp 2's sync result document.
///
/// Fired for successful and failed syncs alike; [`Outcome::result`] says which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepoSyncFinished {
    /// ID of the repository that was synchronized.
    pub repo_id: ResourceId,
    /// Type of the importer that ran the sync (e.g. `yum_importer`).
    pub importer_type_id: ResourceId,
    /// ID of the importer that ran the sync.
    pub importer_id: ResourceId,
    /// Number of units added to the repository.
    #[serde(deserialize_with = "crate::events::non_negative")]
    pub added_count: u64,
    /// Number of units updated in the repository.
    #[serde(deserialize_with = "crate::events::non_negative")]
    pub updated_count: u64,
    /// Number of units removed from the repository.
    #[serde(deserialize_with = "crate::events::non_negative")]
    pub removed_count: u64,
    /// Pulp's document namespace: always `repo_sync_results`.
    #[serde(rename = "_ns")]
    pub ns: SyncResultsNs,
    /// Result, times, error and reports.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Fields this version of repobus does not know, kept for re-encoding.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The accessors of `repo-sync-finished` beyond the common ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoSyncFinishedDetails {
    /// The repository.
    pub repo_id: String,
    /// The result document's ID, result, times and error.
    #[serde(flatten)]
    pub outcome: OutcomeDetails,
    /// The importer's type.
    pub importer_type_id: String,
    /// The importer.
    pub importer_id: String,
    /// Units added.
    pub added_count: u64,
    /// Units updated.
    pub updated_count: u64,
    /// Units removed.
    pub removed_count: u64,
}

impl EventKind for RepoSyncFinished {
    const TYPE: EventType = EventType::RepoSyncFinished;
    const TITLE: &'static str = "Repository Sync Finished";
    const DESCRIPTION: &'static str = "Fired when a repository sync completes, successfully or not (Pulp 2 event type repo-sync-finished). The body is Pulp 2's sync result document: every field is present, exception, traceback, error_message, summary and details may be null.";
    const SUBJECT_TOKENS: &'static str = "repo.sync.finished";
    type Details = RepoSyncFinishedDetails;

    fn examples() -> Vec<Value> {
        vec![
            serde_json::json!({
                "importer_type_id": "yum_importer", "importer_id": "yum_importer",
                "exception": null, "repo_id": "pulp-f16", "removed_count": 0,
                "started": "2012-07-06T15:49:11Z", "_ns": "repo_sync_results",
                "completed": "2012-07-06T15:49:14Z", "traceback": null, "summary": {},
                "added_count": 0, "error_message": null, "updated_count": 0, "details": {},
                "id": "4ff7413a8a905b777d000072", "result": "success"
            }),
            serde_json::json!({
                "importer_type_id": "yum_importer", "importer_id": "yum_importer",
                "exception": null, "repo_id": "pulp-f17", "removed_count": 0,
                "started": "2012-07-06T12:06:02Z", "_ns": "repo_sync_results",
                "completed": "2012-07-06T12:06:02Z", "traceback": null, "summary": {},
                "added_count": 0, "error_message": null, "updated_count": 0, "details": null,
                "id": "4ff70cea8a905b777d00000c", "result": "failed"
            }),
        ]
    }

    repo_kind!();

    fn summary(&self) -> String {
        format!(
            "Pulp repository \"{}\": sync {} ({} added, {} updated, {} removed).",
            self.repo_id,
            self.outcome.summary_tail(),
            self.added_count,
            self.updated_count,
            self.removed_count
        )
    }

    fn status(&self) -> &'static str {
        self.outcome.status()
    }

    fn severity(&self) -> Severity {
        self.outcome.result.severity()
    }

    fn details(&self) -> RepoSyncFinishedDetails {
        RepoSyncFinishedDetails {
            repo_id: self.repo_id.to_string(),
            outcome: self.outcome.details(),
            importer_type_id: self.importer_type_id.to_string(),
            importer_id: self.importer_id.to_string(),
            added_count: self.added_count,
            updated_count: self.updated_count,
            removed_count: self.removed_count,
        }
    }
}

/// `repo-publish-finished`: Pulp 2's publish result document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepoPublishFinished {
    /// ID of the repository that was published.
    pub repo_id: ResourceId,
    /// Type of the distributor that ran the publish (e.g. `yum_distributor`).
    pub distributor_type_id: ResourceId,
    /// ID of the distributor that ran the publish.
    pub distributor_id: ResourceId,
    /// Pulp's document namespace: always `repo_publish_results`.
    #[serde(rename = "_ns")]
    pub ns: PublishResultsNs,
    /// Result, times, error and reports.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Fields this version of repobus does not know, kept for re-encoding.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The accessors of `repo-publish-finished` beyond the common ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoPublishFinishedDetails {
    /// The repository.
    pub repo_id: String,
    /// The distributor.
    pub distributor_id: String,
    /// The result document's ID, result, times and error.
    #[serde(flatten)]
    pub outcome: OutcomeDetails,
    /// The distributor's type.
    pub distributor_type_id: String,
}

impl EventKind for RepoPublishFinished {
    const TYPE: EventType = EventType::RepoPublishFinished;
    const TITLE: &'static str = "Repository Publish Finished";
    const DESCRIPTION: &'static str = "Fired when a repository publish completes, successfully or not (Pulp 2 event type repo-publish-finished). The body is Pulp 2's publish result document: every field is present, exception, traceback, error_message, summary and details may be null.";
    const SUBJECT_TOKENS: &'static str = "repo.publish.finished";
    type Details = RepoPublishFinishedDetails;

    fn examples() -> Vec<Value> {
        vec![serde_json::json!({
            "exception": null, "repo_id": "pulp-f16", "started": "2012-07-06T15:53:41Z",
            "_ns": "repo_publish_results", "completed": "2012-07-06T15:53:43Z",
            "traceback": null, "distributor_type_id": "yum_distributor", "summary": {},
            "error_message": null, "details": {}, "distributor_id": "yum_distributor",
            "id": "4ff742478a905b777d00008b", "result": "success"
        })]
    }

    repo_kind!();

    fn summary(&self) -> String {
        format!(
            "Pulp repository \"{}\": publish by distributor \"{}\" {}.",
            self.repo_id,
            self.distributor_id,
            self.outcome.summary_tail()
        )
    }

    fn status(&self) -> &'static str {
        self.outcome.status()
    }

    fn severity(&self) -> Severity {
        self.outcome.result.severity()
    }

    fn details(&self) -> RepoPublishFinishedDetails {
        RepoPublishFinishedDetails {
            repo_id: self.repo_id.to_string(),
            distributor_id: self.distributor_id.to_string(),
            outcome: self.outcome.details(),
            distributor_type_id: self.distributor_type_id.to_string(),
        }
    }
}

/// Serde for `Option<T>` fields that must be present but may be null.
///
/// Plain `Option` fields are silently `None` when missing; Pulp's result
/// document requires every field, so a missing one is an error.
pub(crate) mod required_nullable {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(serializer)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<T>::deserialize(deserializer)
    }
}
