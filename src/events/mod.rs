//! The six event types, their wire bodies and the consumer accessors.
//!
//! Every type's body is the original system's body, unchanged: Pulp 2's
//! notifier documents for the `repo-*` events and Copr's fedmsg-era body for
//! the `build-chroot-*` events. [`Event::decode`] takes a topic (any of the
//! real wire topics, see [`wire`]) and body bytes, validates the body against
//! the type's JSON Schema and returns the typed event.
//!
//! ```
//! use repobus::Event;
//!
//! let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
//! assert_eq!(event.summary(), r#"Pulp repository "pulp-f17": sync started."#);
//! assert_eq!(event.status(), "running");
//! ```

mod copr;
mod pulp;
pub mod wire;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use copr::{BuildChroot, BuildChrootBuilder, BuildChrootEnded, BuildChrootStarted, CoprStatus};
pub use pulp::{
    Outcome, PublishResultsNs, PulpResult, RepoPublishFinished, RepoPublishStarted,
    RepoSyncFinished, RepoSyncStarted, SyncResultsNs,
};

use crate::error::DecodeError;

/// Unknown fields of a body, kept in their original order so that decoding
/// and encoding again gives back the same JSON.
pub type Extra = Map<String, Value>;

/// One of the six event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    /// `repo-sync-started`
    RepoSyncStarted,
    /// `repo-sync-finished`
    RepoSyncFinished,
    /// `repo-publish-started`
    RepoPublishStarted,
    /// `repo-publish-finished`
    RepoPublishFinished,
    /// `build-chroot-started`
    BuildChrootStarted,
    /// `build-chroot-ended`
    BuildChrootEnded,
}

impl EventType {
    /// All six types.
    pub const ALL: [EventType; 6] = [
        EventType::RepoSyncStarted,
        EventType::RepoSyncFinished,
        EventType::RepoPublishStarted,
        EventType::RepoPublishFinished,
        EventType::BuildChrootStarted,
        EventType::BuildChrootEnded,
    ];

    /// The type ID, e.g. `repo-sync-finished`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::RepoSyncStarted => "repo-sync-started",
            EventType::RepoSyncFinished => "repo-sync-finished",
            EventType::RepoPublishStarted => "repo-publish-started",
            EventType::RepoPublishFinished => "repo-publish-finished",
            EventType::BuildChrootStarted => "build-chroot-started",
            EventType::BuildChrootEnded => "build-chroot-ended",
        }
    }

    /// Pulp 2's own name of the type (`repo.sync.finish`), as its notifiers
    /// send it; `None` for the Copr types.
    pub fn pulp2_name(self) -> Option<&'static str> {
        match self {
            EventType::RepoSyncStarted => Some("repo.sync.start"),
            EventType::RepoSyncFinished => Some("repo.sync.finish"),
            EventType::RepoPublishStarted => Some("repo.publish.start"),
            EventType::RepoPublishFinished => Some("repo.publish.finish"),
            EventType::BuildChrootStarted | EventType::BuildChrootEnded => None,
        }
    }

    /// True for the four Pulp repository events.
    pub fn is_pulp(self) -> bool {
        !self.is_copr()
    }

    /// True for the two Copr build-chroot events.
    pub fn is_copr(self) -> bool {
        matches!(
            self,
            EventType::BuildChrootStarted | EventType::BuildChrootEnded
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a name that is not one of the six event types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}; expected one of repo-sync-started, repo-sync-finished, repo-publish-started, repo-publish-finished, build-chroot-started, build-chroot-ended")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// fedora-messaging's severity levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// 10
    Debug,
    /// 20
    Info,
    /// 30
    Warning,
    /// 40
    Error,
}

impl Severity {
    /// The lower-case name: `debug`, `info`, `warning`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// fedora-messaging's number for the level (10, 20, 30, 40).
    pub fn level(self) -> u8 {
        match self {
            Severity::Debug => 10,
            Severity::Info => 20,
            Severity::Warning => 30,
            Severity::Error => 40,
        }
    }
}

/// A decoded event of any of the six types.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `repo-sync-started`
    RepoSyncStarted(RepoSyncStarted),
    /// `repo-sync-finished`
    RepoSyncFinished(RepoSyncFinished),
    /// `repo-publish-started`
    RepoPublishStarted(RepoPublishStarted),
    /// `repo-publish-finished`
    RepoPublishFinished(RepoPublishFinished),
    /// `build-chroot-started`
    BuildChrootStarted(BuildChrootStarted),
    /// `build-chroot-ended`
    BuildChrootEnded(BuildChrootEnded),
}

macro_rules! impl_from {
    ($($t:ident),*) => {$(
        impl From<$t> for Event {
            fn from(e: $t) -> Event {
                Event::$t(e)
            }
        }
    )*};
}
impl_from!(
    RepoSyncStarted,
    RepoSyncFinished,
    RepoPublishStarted,
    RepoPublishFinished,
    BuildChrootStarted,
    BuildChrootEnded
);

impl Event {
    /// Decodes a body received on `topic`.
    ///
    /// `topic` is a type ID (`repo-sync-finished`) or any real wire topic that
    /// maps onto one (see [`wire::resolve_topic`]). The body is validated
    /// against the type's JSON Schema first, so an error names the field (as
    /// a JSON path) and the rule it breaks.
    pub fn decode(topic: &str, body: &[u8]) -> Result<Event, DecodeError> {
        let form = wire::resolve_topic(topic)?;
        let value: Value = serde_json::from_slice(body).map_err(|source| DecodeError::Json {
            topic: topic.to_owned(),
            source,
        })?;
        Event::from_wire_value(form, value)
    }

    /// Decodes an already-parsed body received on `topic`.
    pub fn decode_value(topic: &str, body: Value) -> Result<Event, DecodeError> {
        Event::from_wire_value(wire::resolve_topic(topic)?, body)
    }

    /// Decodes a body of a known type, in the type's own (repobus) form.
    pub fn from_value(event_type: EventType, body: Value) -> Result<Event, DecodeError> {
        Event::from_wire_value(wire::WireForm::Native(event_type), body)
    }

    pub(crate) fn from_wire_value(form: wire::WireForm, body: Value) -> Result<Event, DecodeError> {
        let event_type = form.event_type();
        let body = wire::normalize(form, body)?;
        // The common case: the body passes the compiled schema and decodes.
        if crate::schema::is_valid(event_type, &body) {
            if let Ok(event) = Event::typed(event_type, &body) {
                return Ok(event);
            }
        }
        // Otherwise collect every violation with its path and rule; the
        // typed decode (with path tracking) catches what no schema can say,
        // such as a number written `1.0` where an integer is due.
        crate::schema::validate(event_type, &body)?;
        let typed = |e: serde_path_to_error::Error<serde_json::Error>| {
            DecodeError::invalid(event_type, json_path(e.path()), e.inner().to_string())
        };
        Ok(match event_type {
            EventType::RepoSyncStarted => {
                Event::RepoSyncStarted(serde_path_to_error::deserialize(body).map_err(typed)?)
            }
            EventType::RepoSyncFinished => {
                Event::RepoSyncFinished(serde_path_to_error::deserialize(body).map_err(typed)?)
            }
            EventType::RepoPublishStarted => {
                Event::RepoPublishStarted(serde_path_to_error::deserialize(body).map_err(typed)?)
            }
            EventType::RepoPublishFinished => {
                Event::RepoPublishFinished(serde_path_to_error::deserialize(body).map_err(typed)?)
            }
            EventType::BuildChrootStarted => {
                Event::BuildChrootStarted(serde_path_to_error::deserialize(body).map_err(typed)?)
            }
            EventType::BuildChrootEnded => {
                Event::BuildChrootEnded(serde_path_to_error::deserialize(body).map_err(typed)?)
            }
        })
    }

    /// Decodes a schema-valid body without path tracking.
    fn typed(event_type: EventType, body: &Value) -> Result<Event, serde_json::Error> {
        Ok(match event_type {
            EventType::RepoSyncStarted => Event::RepoSyncStarted(Deserialize::deserialize(body)?),
            EventType::RepoSyncFinished => Event::RepoSyncFinished(Deserialize::deserialize(body)?),
            EventType::RepoPublishStarted => {
                Event::RepoPublishStarted(Deserialize::deserialize(body)?)
            }
            EventType::RepoPublishFinished => {
                Event::RepoPublishFinished(Deserialize::deserialize(body)?)
            }
            EventType::BuildChrootStarted => {
                Event::BuildChrootStarted(Deserialize::deserialize(body)?)
            }
            EventType::BuildChrootEnded => Event::BuildChrootEnded(Deserialize::deserialize(body)?),
        })
    }

    /// The event's type.
    pub fn event_type(&self) -> EventType {
        match self {
            Event::RepoSyncStarted(_) => EventType::RepoSyncStarted,
            Event::RepoSyncFinished(_) => EventType::RepoSyncFinished,
            Event::RepoPublishStarted(_) => EventType::RepoPublishStarted,
            Event::RepoPublishFinished(_) => EventType::RepoPublishFinished,
            Event::BuildChrootStarted(_) => EventType::BuildChrootStarted,
            Event::BuildChrootEnded(_) => EventType::BuildChrootEnded,
        }
    }

    /// The wire body as JSON.
    pub fn to_value(&self) -> Value {
        let result = match self {
            Event::RepoSyncStarted(e) => serde_json::to_value(e),
            Event::RepoSyncFinished(e) => serde_json::to_value(e),
            Event::RepoPublishStarted(e) => serde_json::to_value(e),
            Event::RepoPublishFinished(e) => serde_json::to_value(e),
            Event::BuildChrootStarted(e) => serde_json::to_value(e),
            Event::BuildChrootEnded(e) => serde_json::to_value(e),
        };
        // Every field is a string, number, null or JSON value with string
        // keys, so serialization to a Value cannot fail.
        result.unwrap_or(Value::Null)
    }

    /// The wire body as JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let result = match self {
            Event::RepoSyncStarted(e) => serde_json::to_vec(e),
            Event::RepoSyncFinished(e) => serde_json::to_vec(e),
            Event::RepoPublishStarted(e) => serde_json::to_vec(e),
            Event::RepoPublishFinished(e) => serde_json::to_vec(e),
            Event::BuildChrootStarted(e) => serde_json::to_vec(e),
            Event::BuildChrootEnded(e) => serde_json::to_vec(e),
        };
        result.unwrap_or_default()
    }

    /// The repository ID of a Pulp event, `None` for Copr events.
    pub fn repo_id(&self) -> Option<&crate::ResourceId> {
        match self {
            Event::RepoSyncStarted(e) => Some(&e.repo_id),
            Event::RepoSyncFinished(e) => Some(&e.repo_id),
            Event::RepoPublishStarted(e) => Some(&e.repo_id),
            Event::RepoPublishFinished(e) => Some(&e.repo_id),
            Event::BuildChrootStarted(_) | Event::BuildChrootEnded(_) => None,
        }
    }

    /// The Copr body of a build-chroot event, `None` for Pulp events.
    pub fn build_chroot(&self) -> Option<&BuildChroot> {
        match self {
            Event::BuildChrootStarted(e) => Some(&e.0),
            Event::BuildChrootEnded(e) => Some(&e.0),
            _ => None,
        }
    }

    /// One human-readable line (also what `Display` prints).
    ///
    /// For Copr events this is copr-messaging's text, character for
    /// character: `Copr Message in project "@python/python3.8": build 945012: chroot "fedora-rawhide-x86_64" started.`
    pub fn summary(&self) -> String {
        match self {
            Event::RepoSyncStarted(e) => e.summary(),
            Event::RepoSyncFinished(e) => e.summary(),
            Event::RepoPublishStarted(e) => e.summary(),
            Event::RepoPublishFinished(e) => e.summary(),
            Event::BuildChrootStarted(e) => e.summary(),
            Event::BuildChrootEnded(e) => e.summary(),
        }
    }

    /// `running` for Pulp's started events, the result (`success`, `failed`,
    /// `error`, `canceled`) for finished ones, and Copr's status name for
    /// build-chroot events.
    pub fn status(&self) -> &'static str {
        match self {
            Event::RepoSyncStarted(_) | Event::RepoPublishStarted(_) => "running",
            Event::RepoSyncFinished(e) => e.outcome.result.as_str(),
            Event::RepoPublishFinished(e) => e.outcome.result.as_str(),
            Event::BuildChrootStarted(e) => e.status.as_str(),
            Event::BuildChrootEnded(e) => e.status.as_str(),
        }
    }

    /// Users affected by the event (copr-messaging's rule for Copr; Pulp's
    /// bodies name no user, so empty).
    pub fn usernames(&self) -> Vec<String> {
        self.build_chroot()
            .map(BuildChroot::usernames)
            .unwrap_or_default()
    }

    /// Packages the event is about: the Copr package name when known.
    pub fn packages(&self) -> Vec<String> {
        self.build_chroot()
            .map(BuildChroot::packages)
            .unwrap_or_default()
    }

    /// A page about the event: the Copr build's page. Pulp's bodies do not
    /// name their server, so `None` for Pulp events.
    pub fn url(&self) -> Option<String> {
        self.build_chroot().map(BuildChroot::url)
    }

    /// The user who caused the event: the submitter of a started Copr build;
    /// `None` otherwise (a build ends or is canceled by the system or any
    /// admin, and Pulp's bodies name no user).
    pub fn agent_name(&self) -> Option<String> {
        match self {
            Event::BuildChrootStarted(e) => e.agent_name(),
            _ => None,
        }
    }

    /// How much attention the event deserves: `error` for failed or errored
    /// Pulp operations, `warning` for canceled ones, `info` otherwise (as
    /// copr-messaging, which leaves every build message at `info`).
    pub fn severity(&self) -> Severity {
        match self {
            Event::RepoSyncFinished(e) => e.severity(),
            Event::RepoPublishFinished(e) => e.severity(),
            _ => Severity::Info,
        }
    }

    /// Every accessor of this type as one JSON object, `type` first: what
    /// `repobus inspect` prints for a message.
    pub fn describe(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("type".into(), self.event_type().as_str().into());
        match self {
            Event::RepoSyncStarted(e) => e.describe_into(&mut out),
            Event::RepoSyncFinished(e) => e.describe_into(&mut out),
            Event::RepoPublishStarted(e) => e.describe_into(&mut out),
            Event::RepoPublishFinished(e) => e.describe_into(&mut out),
            Event::BuildChrootStarted(e) => e.describe_into(&mut out),
            Event::BuildChrootEnded(e) => e.describe_into(&mut out),
        }
        out.insert("status".into(), self.status().into());
        out.insert("summary".into(), self.summary().into());
        out.insert("usernames".into(), self.usernames().into());
        out.insert("packages".into(), self.packages().into());
        out.insert("url".into(), self.url().into());
        out.insert("agent_name".into(), self.agent_name().into());
        out.insert("severity".into(), self.severity().as_str().into());
        out
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Event::RepoSyncStarted(e) => e.serialize(serializer),
            Event::RepoSyncFinished(e) => e.serialize(serializer),
            Event::RepoPublishStarted(e) => e.serialize(serializer),
            Event::RepoPublishFinished(e) => e.serialize(serializer),
            Event::BuildChrootStarted(e) => e.serialize(serializer),
            Event::BuildChrootEnded(e) => e.serialize(serializer),
        }
    }
}

/// Deserializes a JSON integer, with a clear message for a negative number
/// or a number written with a fraction or exponent (`1.0`, `1e3`).
pub(crate) fn integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i128, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = i128;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i128, E> {
            Err(E::custom(format!(
                "{v:?} must be written as an integer, without a fraction or exponent"
            )))
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// [`integer`] for fields that must be non-negative and fit in 64 bits.
pub(crate) fn non_negative<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u64, D::Error> {
    let n = integer(deserializer)?;
    u64::try_from(n)
        .map_err(|_| serde::de::Error::custom(format!("{n} must be a non-negative integer")))
}

/// Schema of a field that must be present and holds a string or null.
pub(crate) fn nullable_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": ["string", "null"] })
}

/// Implements `JsonSchema` for a unit-variant enum as a string `enum`.
macro_rules! string_enum_schema {
    ($t:ty, [$($name:literal),*]) => {
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "enum": [$($name),*] })
            }
        }
    };
}
pub(crate) use string_enum_schema;

/// The first line of a possibly multi-line message.
pub(crate) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim_end()
}

/// Renders a serde path as a JSON path: `$.started`, `$.summary.items[0]`.
pub(crate) fn json_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::from("$");
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => push_key(&mut out, key),
            serde_path_to_error::Segment::Enum { variant } => push_key(&mut out, variant),
            serde_path_to_error::Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// Appends `.key`, or `["key"]` when the key is not a plain identifier.
pub(crate) fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        out.push('.');
        out.push_str(key);
    } else {
        out.push('[');
        out.push_str(&Value::from(key).to_string());
        out.push(']');
    }
}
