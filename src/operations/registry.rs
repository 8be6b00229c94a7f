//! The registry: one record per waiting, running or recently finished
//! operation, under `op.<operation id>` in the operations bucket, with its
//! resources, times and latest progress report. Reading it is a KV read,
//! not a history scan.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Resource;
use crate::events::PulpResult;
use crate::{ResourceId, Timestamp};

/// Sync or publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationKind {
    /// A repository sync (`repo-sync-*` events).
    Sync,
    /// A repository publish (`repo-publish-*` events).
    Publish,
}

/// Where an operation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationState {
    /// Its reservations are not granted yet.
    Waiting,
    /// It started (its started event is published).
    Running,
    /// It finished, was canceled while waiting, or was abandoned.
    Finished,
}

/// What the registry knows of one operation.
///
/// # Examples
///
/// ```
/// use repobus::operations::{OperationRecord, OperationState};
///
/// let record: OperationRecord = serde_json::from_str(r#"{
///     "id": "0192f3", "kind": "sync", "repo_id": "pulp-f17",
///     "type_id": "yum_importer", "component_id": "yum_importer",
///     "exclusive": ["repo:pulp-f17"], "shared": [], "state": "waiting",
///     "holder": "build1:4242", "lease_seconds": 30,
///     "requested": "2026-11-24T05:00:00Z"
/// }"#).unwrap();
/// assert_eq!(record.state, OperationState::Waiting);
/// assert!(record.progress.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationRecord {
    /// The operation ID (32 hex digits, a UUIDv7).
    pub id: String,
    /// Sync or publish.
    pub kind: OperationKind,
    /// The repository.
    pub repo_id: ResourceId,
    /// The importer type (sync) or distributor type (publish).
    pub type_id: ResourceId,
    /// The importer (sync) or distributor (publish).
    pub component_id: ResourceId,
    /// Resources reserved alone.
    pub exclusive: Vec<Resource>,
    /// Resources reserved shared.
    pub shared: Vec<Resource>,
    /// Waiting, running or finished.
    pub state: OperationState,
    /// The process holding the reservation (`host:pid` or what the
    /// producer said).
    pub holder: String,
    /// The lease, in seconds.
    pub lease_seconds: u64,
    /// When the reservation was asked for.
    pub requested: Timestamp,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Timestamp>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    /// How it finished (absent when canceled before it started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<PulpResult>,
    /// Why it failed, errored or was abandoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The latest progress report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Value>,
}
