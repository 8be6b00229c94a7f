//! `repo-sync-progress` and `repo-publish-progress`: the progress reports
//! of a running sync or publish (Pulp 2's `set_progress`), published by
//! [`crate::operations`], throttled.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{EventKind, EventType, Extra};
use crate::ResourceId;

/// `repo-sync-progress`: the latest progress report of a running sync.
///
/// ```
/// use repobus::events::RepoSyncProgress;
/// use serde_json::json;
///
/// let event = RepoSyncProgress::new(
///     "pulp-f17".parse().unwrap(),
///     "0192f3a0c1d97e6a9c3d5b7f1e2a4c6d".into(),
///     json!({"message": "Downloading", "total": 10, "done": 3}).as_object().unwrap().clone(),
/// );
/// assert_eq!(event.progress["done"], 3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepoSyncProgress {
    /// ID of the repository being synchronized.
    pub repo_id: ResourceId,
    /// ID of the operation (as `repobus operations` lists it).
    pub operation_id: String,
    /// The report: free-form JSON; recommended fields `message`, `code`,
    /// `state`, `total`, `done`, `suffix` (pulpcore's progress report).
    pub progress: Map<String, Value>,
    /// Fields this version of repobus does not know, kept for re-encoding.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RepoSyncProgress {
    /// A progress event of the sync `operation_id` of `repo_id`.
    pub fn new(repo_id: ResourceId, operation_id: String, progress: Map<String, Value>) -> Self {
        RepoSyncProgress {
            repo_id,
            operation_id,
            progress,
            extra: Extra::new(),
        }
    }
}

/// `repo-publish-progress`: the latest progress report of a running
/// publish.
///
/// ```
/// use repobus::events::RepoPublishProgress;
///
/// let event = RepoPublishProgress::new(
///     "pulp-f17".parse().unwrap(),
///     "yum_distributor".parse().unwrap(),
///     "0192f3a0c1d97e6a9c3d5b7f1e2a4c6d".into(),
///     serde_json::Map::new(),
/// );
/// assert_eq!(event.distributor_id.as_str(), "yum_distributor");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepoPublishProgress {
    /// ID of the repository being published.
    pub repo_id: ResourceId,
    /// ID of the distributor performing the publish.
    pub distributor_id: ResourceId,
    /// ID of the operation (as `repobus operations` lists it).
    pub operation_id: String,
    /// The report: free-form JSON; recommended fields `message`, `code`,
    /// `state`, `total`, `done`, `suffix` (pulpcore's progress report).
    pub progress: Map<String, Value>,
    /// Fields this version of repobus does not know, kept for re-encoding.
    #[serde(flatten)]
    pub extra: Extra,
}

impl RepoPublishProgress {
    /// A progress event of the publish `operation_id` of `repo_id`.
    pub fn new(
        repo_id: ResourceId,
        distributor_id: ResourceId,
        operation_id: String,
        progress: Map<String, Value>,
    ) -> Self {
        RepoPublishProgress {
            repo_id,
            distributor_id,
            operation_id,
            progress,
            extra: Extra::new(),
        }
    }
}

/// The accessors of `repo-sync-progress` beyond the common ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoSyncProgressDetails {
    /// The repository.
    pub repo_id: String,
    /// The operation.
    pub operation_id: String,
    /// The report.
    pub progress: Map<String, Value>,
}

/// The accessors of `repo-publish-progress` beyond the common ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoPublishProgressDetails {
    /// The repository.
    pub repo_id: String,
    /// The distributor.
    pub distributor_id: String,
    /// The operation.
    pub operation_id: String,
    /// The report.
    pub progress: Map<String, Value>,
}

/// `message (done/total suffix)` out of a report, as far as it has them.
fn describe(progress: &Map<String, Value>) -> String {
    let mut out = progress
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("in progress")
        .chars()
        .take(200)
        .collect::<String>();
    if let (Some(done), Some(total)) = (
        progress.get("done").and_then(Value::as_u64),
        progress.get("total").and_then(Value::as_u64),
    ) {
        out.push_str(&format!(" ({done}/{total}"));
        if let Some(suffix) = progress.get("suffix").and_then(Value::as_str) {
            out.push(' ');
            out.extend(suffix.chars().take(40));
        }
        out.push(')');
    }
    out
}

/// The parts of [`EventKind`] the progress events share with the other
/// repository events.
macro_rules! progress_repo_kind {
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

        fn status(&self) -> &'static str {
            "running"
        }
    };
}

impl EventKind for RepoSyncProgress {
    const TYPE: EventType = EventType::RepoSyncProgress;
    const TITLE: &'static str = "Repository Sync Progress";
    const DESCRIPTION: &'static str = "The latest progress report of a running repository sync (Pulp 2's set_progress), throttled to at most one per interval; the last one comes before repo-sync-finished. Contains the repository ID, the operation ID and the free-form report.";
    const SUBJECT_TOKENS: &'static str = "repo.sync.progress";
    type Details = RepoSyncProgressDetails;

    fn examples() -> Vec<Value> {
        vec![serde_json::json!({
            "repo_id": "pulp-f17",
            "operation_id": "0192f3a0c1d97e6a9c3d5b7f1e2a4c6d",
            "progress": {"message": "Downloading packages", "code": "sync.downloading.packages",
                         "state": "running", "total": 1200, "done": 340, "suffix": "packages"}
        })]
    }

    progress_repo_kind!();

    fn summary(&self) -> String {
        format!(
            "Pulp repository \"{}\": sync in progress: {}.",
            self.repo_id,
            describe(&self.progress)
        )
    }

    fn details(&self) -> RepoSyncProgressDetails {
        RepoSyncProgressDetails {
            repo_id: self.repo_id.to_string(),
            operation_id: self.operation_id.clone(),
            progress: self.progress.clone(),
        }
    }
}

impl EventKind for RepoPublishProgress {
    const TYPE: EventType = EventType::RepoPublishProgress;
    const TITLE: &'static str = "Repository Publish Progress";
    const DESCRIPTION: &'static str = "The latest progress report of a running repository publish (Pulp 2's set_progress), throttled to at most one per interval; the last one comes before repo-publish-finished. Contains the repository, distributor and operation IDs and the free-form report.";
    const SUBJECT_TOKENS: &'static str = "repo.publish.progress";
    type Details = RepoPublishProgressDetails;

    fn examples() -> Vec<Value> {
        vec![serde_json::json!({
            "repo_id": "pulp-f17",
            "distributor_id": "yum_distributor",
            "operation_id": "0192f3a0c1d97e6a9c3d5b7f1e2a4c6d",
            "progress": {"message": "Writing metadata", "state": "running", "total": 4, "done": 1}
        })]
    }

    progress_repo_kind!();

    fn summary(&self) -> String {
        format!(
            "Pulp repository \"{}\": publish by distributor \"{}\" in progress: {}.",
            self.repo_id,
            self.distributor_id,
            describe(&self.progress)
        )
    }

    fn details(&self) -> RepoPublishProgressDetails {
        RepoPublishProgressDetails {
            repo_id: self.repo_id.to_string(),
            distributor_id: self.distributor_id.to_string(),
            operation_id: self.operation_id.clone(),
            progress: self.progress.clone(),
        }
    }
}
