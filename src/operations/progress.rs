//! Progress reports and their throttling.
//!
//! A report is free-form JSON, as Pulp 2's `set_progress` allows. The
//! recommended shape is pulpcore's progress report:
//!
//! ```json
//! {"message": "Downloading packages", "code": "sync.downloading.packages",
//!  "state": "running", "total": 1200, "done": 340, "suffix": "packages"}
//! ```
//!
//! Reports are throttled: at most one is stored per interval (2 s by
//! default); the last one is always stored before the operation finishes.

use std::time::Duration;

/// The default throttling interval: at most one report stored per 2 s.
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(2);

/// The recommended fields of a progress report (pulpcore's).
///
/// # Examples
///
/// ```
/// use repobus::operations::ProgressReport;
///
/// let report = ProgressReport {
///     message: Some("Downloading packages".into()),
///     total: Some(1200),
///     done: Some(340),
///     ..ProgressReport::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&report).unwrap(),
///     r#"{"message":"Downloading packages","total":1200,"done":340}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProgressReport {
    /// What is being done, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What is being done, for programs (`sync.downloading.packages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `waiting`, `running`, `completed`, `failed`, `canceled` or `skipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// How many items there are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// How many items are done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<u64>,
    /// The unit of `total` and `done`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}
