//! One stored event as `tail`, `search` and `GET /v1/events` show it: every
//! accessor of the event ([`Description`]) and the envelope's fields, in
//! one flat object.
//!
//! The envelope's fields have names no accessor of any type has, so an
//! accessor keeps its meaning in every output (Pulp's result document has
//! an `id`, so the event's own ID is `event_id`):
//!
//! | field | what | from |
//! | --- | --- | --- |
//! | `event_id` | the event's ID | `ce-id` (also `Nats-Msg-Id`) |
//! | `time` | when the event happened, RFC 3339 UTC | `ce-time` |
//! | `source` | who produced it | `ce-source` |
//! | `subject` | the NATS subject it was published on | the message |
//! | `seq` | its sequence number in the stream | JetStream |
//! | `pulp_task_id` | the Pulp task it fired in (only when known) | `ce-pulptaskid` |
//!
//! Criteria (`search --filters`, `GET /v1/events?filters=`) filter and sort
//! on all of them, accessors and envelope alike; `after`/`before` compare
//! `time`.
//!
//! ```
//! use repobus::record::{field, Record};
//! use repobus::envelope::Envelope;
//! use repobus::Event;
//!
//! let body = repobus::EventType::RepoSyncFinished.examples().remove(0);
//! let event = Event::from_value(repobus::EventType::RepoSyncFinished, body).unwrap();
//! let envelope = Envelope::new(&event, "urn:example", Some("evt-1")).unwrap();
//! let record = Record::new(&event, &envelope, "repobus.repo.sync.finished.pulp-f16", 7).to_map();
//! assert_eq!(record[field::ID], "4ff7413a8a905b777d000072"); // Pulp's result id
//! assert_eq!(record[field::EVENT_ID], "evt-1");              // the envelope's
//! assert_eq!(record[field::SEQ], 7);
//! ```

use serde::Serialize;
use serde_json::{Map, Value};

use crate::envelope::Envelope;
use crate::events::{Description, Event};

/// Field names that code outside the types refers to (push-down, default
/// table columns, time windows). A test checks each against what the types
/// really serialize, so a rename cannot leave one behind.
pub mod field {
    /// The event type.
    pub const TYPE: &str = "type";
    /// [`crate::Event::status`].
    pub const STATUS: &str = "status";
    /// [`crate::Event::summary`].
    pub const SUMMARY: &str = "summary";
    /// Pulp's result document ID (finished Pulp events).
    pub const ID: &str = "id";
    /// Pulp's repository ID.
    pub const REPO_ID: &str = "repo_id";
    /// Copr's project owner.
    pub const PROJECT_OWNER: &str = "project_owner";
    /// Copr's project name.
    pub const PROJECT_NAME: &str = "project_name";
    /// Copr's chroot.
    pub const CHROOT: &str = "chroot";
    /// The envelope's event ID.
    pub const EVENT_ID: &str = "event_id";
    /// The envelope's time.
    pub const TIME: &str = "time";
    /// The envelope's source.
    pub const SOURCE: &str = "source";
    /// The NATS subject.
    pub const SUBJECT: &str = "subject";
    /// The stream sequence.
    pub const SEQ: &str = "seq";
    /// The Pulp task (extension attribute).
    pub const PULP_TASK_ID: &str = "pulp_task_id";
}

/// The names of the envelope's fields in a [`Record`]: none of them is the
/// name of an accessor of any type.
pub const ENVELOPE_FIELDS: [&str; 6] = [
    field::EVENT_ID,
    field::TIME,
    field::SOURCE,
    field::SUBJECT,
    field::SEQ,
    field::PULP_TASK_ID,
];

/// A stored event: its description and its envelope, flat.
///
/// # Examples
///
/// ```
/// use repobus::{envelope::Envelope, record::Record, Event};
///
/// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
/// let envelope = Envelope::new(&event, "urn:example", Some("evt-1")).unwrap();
/// let record = Record::new(&event, &envelope, "repobus.repo.sync.started.pulp-f17", 7);
/// assert_eq!(record.description.status, "running");
/// assert_eq!(record.event_id, "evt-1");
/// assert_eq!(record.seq, 7);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Every accessor of the event.
    #[serde(flatten)]
    pub description: Description,
    /// `ce-id`.
    pub event_id: String,
    /// `ce-time`, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// `ce-source`.
    pub source: String,
    /// The NATS subject.
    pub subject: String,
    /// The stream sequence (0 when not read from a stream).
    pub seq: u64,
    /// `ce-pulptaskid`, when the event carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulp_task_id: Option<String>,
}

impl Record {
    /// The record of `event` with `envelope`, received on `subject` as
    /// stream sequence `seq`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::{envelope::Envelope, record::Record, Event};
    ///
    /// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
    /// let envelope = Envelope::new(&event, "urn:example", None).unwrap();
    /// let record = Record::new(&event, &envelope, "repobus.repo.sync.started.pulp-f17", 0);
    /// assert_eq!(record.source, "urn:example");
    /// assert_eq!(record.time, envelope.time_rfc3339());
    /// ```
    pub fn new(event: &Event, envelope: &Envelope, subject: &str, seq: u64) -> Self {
        Record {
            description: event.describe(),
            event_id: envelope.event_id.clone(),
            time: envelope.time_rfc3339(),
            source: envelope.source.clone(),
            subject: subject.to_owned(),
            seq,
            pulp_task_id: envelope.pulp_task_id.clone(),
        }
    }

    /// The record as a JSON object (what criteria match against).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::criteria::Filter;
    /// use repobus::record::{field, Record};
    /// use repobus::{envelope::Envelope, Event};
    ///
    /// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
    /// let envelope = Envelope::new(&event, "urn:example", Some("evt-1")).unwrap();
    /// let map = Record::new(&event, &envelope, "repobus.repo.sync.started.pulp-f17", 7).to_map();
    /// assert_eq!(map[field::TYPE], "repo-sync-started");
    /// assert_eq!(map[field::REPO_ID], "pulp-f17");
    /// let filter: Filter = r#"{"repo_id": "pulp-f17", "seq": {"$gte": 5}}"#.parse().unwrap();
    /// assert!(filter.matches(&map));
    /// ```
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // A struct of strings, numbers and lists always serializes to
            // an object.
            _ => Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventType;

    fn records() -> Vec<Map<String, Value>> {
        EventType::ALL
            .into_iter()
            .flat_map(|t| t.examples().into_iter().map(move |body| (t, body)))
            .map(|(t, body)| {
                let event = Event::from_value(t, body).unwrap();
                let mut envelope = Envelope::new(&event, "urn:test", None).unwrap();
                envelope.pulp_task_id = Some("task".into());
                Record::new(&event, &envelope, "s", 1).to_map()
            })
            .collect()
    }

    #[test]
    fn no_envelope_name_is_an_accessor_name_of_any_type() {
        for t in EventType::ALL {
            for body in t.examples() {
                let accessors = Event::from_value(t, body).unwrap().describe().to_map();
                for name in ENVELOPE_FIELDS {
                    assert!(
                        !accessors.contains_key(name),
                        "{t}: the envelope's {name:?} would hide the accessor {name:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_envelope_field_is_in_every_record_after_the_accessors() {
        for record in records() {
            let keys: Vec<&str> = record.keys().map(String::as_str).collect();
            assert_eq!(keys[keys.len() - ENVELOPE_FIELDS.len()..], ENVELOPE_FIELDS);
        }
    }

    #[test]
    fn every_named_field_is_what_some_type_serializes() {
        let all: Vec<String> = records()
            .into_iter()
            .flat_map(|r| r.into_iter().map(|(k, _)| k))
            .collect();
        for name in [
            field::TYPE,
            field::STATUS,
            field::SUMMARY,
            field::ID,
            field::REPO_ID,
            field::PROJECT_OWNER,
            field::PROJECT_NAME,
            field::CHROOT,
        ]
        .into_iter()
        .chain(ENVELOPE_FIELDS)
        {
            assert!(all.iter().any(|k| k == name), "no type serializes {name:?}");
        }
    }
}
