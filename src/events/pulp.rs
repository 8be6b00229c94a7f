//! Pulp 2's repository sync and publish events, with the bodies Pulp sends.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::events::{first_line, Extra, Severity};
use crate::{ResourceId, Timestamp};

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

    pub(crate) fn summary(&self) -> String {
        format!("Pulp repository \"{}\": sync started.", self.repo_id)
    }

    pub(crate) fn describe_into(&self, out: &mut Map<String, Value>) {
        out.insert("repo_id".into(), self.repo_id.as_str().into());
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

    pub(crate) fn summary(&self) -> String {
        format!(
            "Pulp repository \"{}\": publish by distributor \"{}\" started.",
            self.repo_id, self.distributor_id
        )
    }

    pub(crate) fn describe_into(&self, out: &mut Map<String, Value>) {
        out.insert("repo_id".into(), self.repo_id.as_str().into());
        out.insert("distributor_id".into(), self.distributor_id.as_str().into());
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

    fn describe_into(&self, out: &mut Map<String, Value>) {
        out.insert("id".into(), self.id.as_str().into());
        out.insert("result".into(), self.result.as_str().into());
        out.insert("started".into(), self.started.to_string().into());
        out.insert("completed".into(), self.completed.to_string().into());
        out.insert("duration_seconds".into(), self.duration_seconds().into());
        out.insert("exception".into(), self.exception.clone().into());
        out.insert("traceback".into(), self.traceback.clone().into());
        out.insert("error_message".into(), self.error_message.clone().into());
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

impl RepoSyncFinished {
    pub(crate) fn summary(&self) -> String {
        format!(
            "Pulp repository \"{}\": sync {} ({} added, {} updated, {} removed).",
            self.repo_id,
            self.outcome.summary_tail(),
            self.added_count,
            self.updated_count,
            self.removed_count
        )
    }

    pub(crate) fn severity(&self) -> Severity {
        self.outcome.result.severity()
    }

    pub(crate) fn describe_into(&self, out: &mut Map<String, Value>) {
        out.insert("repo_id".into(), self.repo_id.as_str().into());
        self.outcome.describe_into(out);
        out.insert(
            "importer_type_id".into(),
            self.importer_type_id.as_str().into(),
        );
        out.insert("importer_id".into(), self.importer_id.as_str().into());
        out.insert("added_count".into(), self.added_count.into());
        out.insert("updated_count".into(), self.updated_count.into());
        out.insert("removed_count".into(), self.removed_count.into());
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

impl RepoPublishFinished {
    pub(crate) fn summary(&self) -> String {
        format!(
            "Pulp repository \"{}\": publish by distributor \"{}\" {}.",
            self.repo_id,
            self.distributor_id,
            self.outcome.summary_tail()
        )
    }

    pub(crate) fn severity(&self) -> Severity {
        self.outcome.result.severity()
    }

    pub(crate) fn describe_into(&self, out: &mut Map<String, Value>) {
        out.insert("repo_id".into(), self.repo_id.as_str().into());
        out.insert("distributor_id".into(), self.distributor_id.as_str().into());
        self.outcome.describe_into(out);
        out.insert(
            "distributor_type_id".into(),
            self.distributor_type_id.as_str().into(),
        );
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
