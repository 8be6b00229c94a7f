//! [`Description`]: every accessor of one event as one typed value, what
//! `repobus inspect` prints and what `tail` and `search` extend with the
//! envelope (see [`crate::record`]).

use serde::Serialize;

use super::{Details, EventType, Severity};

/// Every accessor of one event, in the order `inspect` prints them: `type`,
/// the type's own accessors ([`Details`]), then the ones every type has.
///
/// Serializes as one flat JSON object. Its field names are the accessor
/// names, defined once here and in the types' `Details` structs; the
/// envelope's names never collide with them (see [`crate::record`]).
///
/// ```
/// use repobus::Event;
///
/// let event = Event::decode("repo-publish-started",
///     br#"{"repo_id": "pulp-f16", "distributor_id": "yum_distributor"}"#).unwrap();
/// let d = event.describe();
/// assert_eq!(d.status, "running");
/// let json = serde_json::to_value(&d).unwrap();
/// assert_eq!(json["distributor_id"], "yum_distributor");
/// assert_eq!(json["severity"], "info");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Description {
    /// The type ID.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The accessors only this type has.
    #[serde(flatten)]
    pub details: Details,
    /// See [`super::Event::status`].
    pub status: &'static str,
    /// See [`super::Event::summary`].
    pub summary: String,
    /// See [`super::Event::usernames`].
    pub usernames: Vec<String>,
    /// See [`super::Event::packages`].
    pub packages: Vec<String>,
    /// See [`super::Event::url`].
    pub url: Option<String>,
    /// See [`super::Event::agent_name`].
    pub agent_name: Option<String>,
    /// See [`super::Event::severity`].
    pub severity: Severity,
}

impl Description {
    /// The description as a JSON object (what criteria match against).
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            // A struct of strings, numbers and lists always serializes to
            // an object.
            _ => serde_json::Map::new(),
        }
    }
}
