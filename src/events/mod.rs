//! The event types, their wire bodies and the consumer accessors.
//!
//! Every type's body is the original system's body, unchanged: Pulp 2's
//! notifier documents for the `repo-*` events and Copr's fedmsg-era body for
//! the `build-chroot-*` events. [`Event::decode`] takes a topic (any of the
//! real wire topics, see [`wire`]) and body bytes, validates the body against
//! the type's JSON Schema and returns the typed event.
//!
//! Each body struct implements [`EventKind`], the one contract of a type:
//! its name, schema metadata, subject, summary and accessors. [`Event`] is
//! the enum of all of them, generated with its dispatch from the one list
//! in [`crate::event_type`]; a new type is one line there and one
//! `impl EventKind`.
//!
//! ```
//! use repobus::Event;
//!
//! let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
//! assert_eq!(event.summary(), r#"Pulp repository "pulp-f17": sync started."#);
//! assert_eq!(event.status(), "running");
//! ```

mod copr;
mod describe;
mod progress;
mod pulp;
pub mod wire;

use std::fmt;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use copr::{
    BuildChroot, BuildChrootBuilder, BuildChrootDetails, BuildChrootEnded, BuildChrootStarted,
    CoprStatus,
};
pub use describe::Description;
pub use progress::{
    RepoPublishProgress, RepoPublishProgressDetails, RepoSyncProgress, RepoSyncProgressDetails,
};
pub use pulp::{
    Outcome, OutcomeDetails, PublishResultsNs, PulpResult, RepoPublishFinished,
    RepoPublishFinishedDetails, RepoPublishStarted, RepoPublishStartedDetails, RepoSyncFinished,
    RepoSyncFinishedDetails, RepoSyncStarted, RepoSyncStartedDetails, SyncResultsNs,
};

use crate::error::DecodeError;
use crate::event_type::with_event_types;
pub use crate::event_type::{EventType, UnknownEventType};
use crate::schema::{self, Compiled};

/// Unknown fields of a body, kept in their original order so that decoding
/// and encoding again gives back the same JSON.
pub type Extra = Map<String, Value>;

/// fedora-messaging's severity levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// The contract of one event type, implemented by its body struct.
///
/// Everything repobus knows about a type is here or derived from here: its
/// JSON Schema (from the struct, with [`EventKind::TITLE`],
/// [`EventKind::DESCRIPTION`] and [`EventKind::examples`]), its NATS
/// subject ([`EventKind::SUBJECT_TOKENS`] and
/// [`EventKind::subject_ids`]), the CloudEvents `subject`, and the
/// accessors a consumer reads.
///
/// ```
/// use repobus::events::{EventKind, RepoSyncStarted};
/// use repobus::EventType;
///
/// let event = RepoSyncStarted::new("pulp-f17".parse().unwrap());
/// assert_eq!(RepoSyncStarted::TYPE, EventType::RepoSyncStarted);
/// assert_eq!(event.subject_ids(), ["pulp-f17"]);
/// assert_eq!(event.status(), "running");
/// ```
pub trait EventKind:
    Serialize + DeserializeOwned + JsonSchema + Clone + fmt::Debug + PartialEq + Into<Event>
{
    /// The type this struct is the body of.
    const TYPE: EventType;
    /// The schema's `title`.
    const TITLE: &'static str;
    /// The schema's `description`: when the event fires and what it holds.
    const DESCRIPTION: &'static str;
    /// The subject tokens after the prefix that name the type
    /// (`repo.sync.started`); the IDs of [`EventKind::subject_ids`] follow.
    const SUBJECT_TOKENS: &'static str;
    /// What each of [`EventKind::subject_ids`] is, named as the accessor
    /// that answers it (`["repo_id"]`), so that a search pinning those
    /// accessors is narrowed to the subject.
    const SUBJECT_IDS: &'static [&'static str];

    /// Example bodies for the schema: the source documents' own examples.
    fn examples() -> Vec<Value>;

    /// The IDs the subject carries after the type tokens, unescaped, in the
    /// order of [`EventKind::SUBJECT_IDS`].
    fn subject_ids(&self) -> Vec<&str>;

    /// The CloudEvents `subject`: what the event is about (the repository
    /// ID, the Copr build ID).
    fn ce_subject(&self) -> String;

    /// One human-readable line.
    fn summary(&self) -> String;

    /// The state the event reports (`running`, `success`, `succeeded`, ...).
    fn status(&self) -> &'static str;

    /// The accessors only this type has (`repo_id`, `result`, ...), as a
    /// struct whose field names are the names `inspect` prints.
    type Details: Serialize + fmt::Debug + Clone + PartialEq;

    /// The accessors only this type has.
    fn details(&self) -> Self::Details;

    /// Users affected by the event.
    fn usernames(&self) -> Vec<String> {
        Vec::new()
    }

    /// Packages the event is about.
    fn packages(&self) -> Vec<String> {
        Vec::new()
    }

    /// A page about the event.
    fn url(&self) -> Option<String> {
        None
    }

    /// The user who caused the event.
    fn agent_name(&self) -> Option<String> {
        None
    }

    /// How much attention the event deserves.
    fn severity(&self) -> Severity {
        Severity::Info
    }

    /// The Pulp repository the event is about, if it is about one.
    fn repo_id(&self) -> Option<&crate::ResourceId> {
        None
    }

    /// The Copr build-chroot body, if the event has one.
    fn build_chroot(&self) -> Option<&BuildChroot> {
        None
    }
}

/// Generates [`Event`] and every function that dispatches over the types,
/// from the one list in [`crate::event_type`]. This is the only place that
/// matches on all the types.
macro_rules! define_event {
    ($($variant:ident = $id:literal,)*) => {
        /// A decoded event of any type.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $(
                #[doc = concat!("`", $id, "`")]
                $variant($variant),
            )*
        }

        /// The accessors only some types have: one variant per type,
        /// serialized as the type's own fields (see [`Description`]).
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Details {
            $(
                #[doc = concat!("`", $id, "`")]
                $variant(<$variant as EventKind>::Details),
            )*
        }

        impl Event {
            /// The accessors only this event's type has.
            pub fn details(&self) -> Details {
                match self {
                    $(Event::$variant(e) => Details::$variant(e.details()),)*
                }
            }
        }

        $(
            impl From<$variant> for Event {
                fn from(e: $variant) -> Event {
                    Event::$variant(e)
                }
            }
        )*

        /// Runs `$body` with `$e` bound to the event's typed body.
        macro_rules! dispatch {
            ($event:expr, $e:ident => $body:expr) => {
                match $event {
                    $(Event::$variant($e) => $body,)*
                }
            };
        }

        impl EventType {
            /// The schema's title.
            pub fn title(self) -> &'static str {
                match self {
                    $(EventType::$variant => <$variant as EventKind>::TITLE,)*
                }
            }

            /// The schema's description.
            pub fn description(self) -> &'static str {
                match self {
                    $(EventType::$variant => <$variant as EventKind>::DESCRIPTION,)*
                }
            }

            /// The subject tokens naming the type (`repo.sync.started`).
            pub fn subject_tokens(self) -> &'static str {
                match self {
                    $(EventType::$variant => <$variant as EventKind>::SUBJECT_TOKENS,)*
                }
            }

            /// What the IDs after the type tokens are (`["repo_id"]`).
            pub fn subject_ids(self) -> &'static [&'static str] {
                match self {
                    $(EventType::$variant => <$variant as EventKind>::SUBJECT_IDS,)*
                }
            }

            /// The example bodies of the type's schema.
            pub fn examples(self) -> Vec<Value> {
                match self {
                    $(EventType::$variant => <$variant as EventKind>::examples(),)*
                }
            }

            /// The type's JSON Schema, generated from its body struct.
            pub fn schema(self) -> Value {
                match self {
                    $(EventType::$variant => schema::generate::<$variant>(
                        self,
                        <$variant as EventKind>::TITLE,
                        <$variant as EventKind>::DESCRIPTION,
                        <$variant as EventKind>::examples(),
                    ),)*
                }
            }

            /// The type's compiled schema (compiled once per process).
            pub(crate) fn compiled(self) -> &'static Compiled {
                static COMPILED: std::sync::OnceLock<Vec<Compiled>> = std::sync::OnceLock::new();
                let all = COMPILED.get_or_init(|| {
                    EventType::ALL.into_iter().map(|t| Compiled::new(t, &t.schema())).collect()
                });
                // The variants are numbered in the order of `EventType::ALL`.
                &all[self as usize]
            }

            /// Decodes a schema-valid body of this type; `serde_path_to_error`
            /// names the path of what the schema cannot say (`1.0` where an
            /// integer is due).
            fn deserialize(self, body: Value) -> Result<Event, DecodeError> {
                let typed = |e: serde_path_to_error::Error<serde_json::Error>| {
                    DecodeError::invalid(self, crate::json_path::from_serde(e.path()), e.inner().to_string())
                };
                match self {
                    $(EventType::$variant => serde_path_to_error::deserialize::<_, $variant>(body)
                        .map(Event::$variant)
                        .map_err(typed),)*
                }
            }

            /// Decodes a schema-valid body without path tracking.
            fn deserialize_fast(self, body: &Value) -> Result<Event, serde_json::Error> {
                match self {
                    $(EventType::$variant => $variant::deserialize(body).map(Event::$variant),)*
                }
            }
        }
    };
}
with_event_types!(define_event);

impl Event {
    /// Decodes a body received on `topic`.
    ///
    /// `topic` is a type ID (`repo-sync-finished`) or any real wire topic that
    /// maps onto one (see [`wire::resolve_topic`]). The body is validated
    /// against the type's JSON Schema first, so an error names the field (as
    /// a JSON path) and the rule it breaks.
    ///
    /// ```
    /// use repobus::Event;
    ///
    /// let event = Event::decode("repo.sync.start", br#"{"repo_id": "pulp-f17"}"#).unwrap();
    /// assert_eq!(event.event_type().as_str(), "repo-sync-started");
    /// let err = Event::decode("repo-sync-started", br#"{"repo_id": 7}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "repo-sync-started: $.repo_id: 7 must be a string");
    /// ```
    pub fn decode(topic: &str, body: &[u8]) -> Result<Event, DecodeError> {
        let form = wire::resolve_topic(topic)?;
        let value: Value = serde_json::from_slice(body).map_err(|source| DecodeError::Json {
            topic: topic.to_owned(),
            source,
        })?;
        Event::from_wire_value(form, value)
    }

    /// Decodes an already-parsed body received on `topic`.
    ///
    /// ```
    /// use repobus::Event;
    ///
    /// let body = serde_json::json!({"repo_id": "pulp-f17"});
    /// assert!(Event::decode_value("repo-sync-started", body).is_ok());
    /// ```
    pub fn decode_value(topic: &str, body: Value) -> Result<Event, DecodeError> {
        Event::from_wire_value(wire::resolve_topic(topic)?, body)
    }

    /// Decodes a body of a known type, in the type's own (repobus) form.
    ///
    /// ```
    /// use repobus::{Event, EventType};
    ///
    /// let body = serde_json::json!({"repo_id": "pulp-f17"});
    /// assert!(Event::from_value(EventType::RepoSyncStarted, body).is_ok());
    /// ```
    pub fn from_value(event_type: EventType, body: Value) -> Result<Event, DecodeError> {
        Event::from_wire_value(wire::WireForm::Native(event_type), body)
    }

    pub(crate) fn from_wire_value(form: wire::WireForm, body: Value) -> Result<Event, DecodeError> {
        if let wire::WireForm::Pulp2Amqp(_) = form {
            // The body is the notifier document: a rule broken in its
            // payload is reported at `$.payload...`, as received.
            let event_type = form.event_type();
            let payload = wire::normalize(form, body)?;
            return Event::from_wire_value(wire::WireForm::Pulp2(event_type), payload)
                .map_err(|e| e.under_path("$.payload"));
        }
        let event_type = form.event_type();
        let body = wire::normalize(form, body)?;
        let compiled = event_type.compiled();
        // The common case: the body passes the compiled schema and decodes.
        if compiled.is_valid(&body) {
            if let Ok(event) = event_type.deserialize_fast(&body) {
                return Ok(event);
            }
        }
        // Otherwise collect every violation with its path and rule; the
        // typed decode (with path tracking) catches what no schema can say,
        // such as a number written `1.0` where an integer is due.
        compiled.validate(&body)?;
        event_type.deserialize(body)
    }

    /// The event's type.
    pub fn event_type(&self) -> EventType {
        dispatch!(self, e => kind_of(e))
    }

    /// The wire body as JSON.
    pub fn to_value(&self) -> Value {
        // Every field is a string, number, null or JSON value with string
        // keys, so serialization to a Value cannot fail.
        dispatch!(self, e => serde_json::to_value(e)).unwrap_or(Value::Null)
    }

    /// The wire body as JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        // Most bodies are a few hundred bytes: starting there saves the
        // six or seven reallocations of growing from nothing.
        let mut out = Vec::with_capacity(512);
        match dispatch!(self, e => serde_json::to_writer(&mut out, e)) {
            Ok(()) => out,
            Err(_) => Vec::new(),
        }
    }

    /// The repository ID of a Pulp event, `None` for Copr events.
    pub fn repo_id(&self) -> Option<&crate::ResourceId> {
        dispatch!(self, e => e.repo_id())
    }

    /// The Copr body of a build-chroot event, `None` for Pulp events.
    pub fn build_chroot(&self) -> Option<&BuildChroot> {
        dispatch!(self, e => e.build_chroot())
    }

    /// The IDs the subject carries after the type tokens.
    pub fn subject_ids(&self) -> Vec<&str> {
        dispatch!(self, e => e.subject_ids())
    }

    /// The CloudEvents `subject`: the repository ID, or the Copr build ID.
    pub fn ce_subject(&self) -> String {
        dispatch!(self, e => e.ce_subject())
    }

    /// One human-readable line (also what `Display` prints).
    ///
    /// For Copr events this is copr-messaging's text, character for
    /// character: `Copr Message in project "@python/python3.8": build 945012: chroot "fedora-rawhide-x86_64" started.`
    pub fn summary(&self) -> String {
        dispatch!(self, e => e.summary())
    }

    /// `running` for Pulp's started events, the result (`success`, `failed`,
    /// `error`, `canceled`) for finished ones, and Copr's status name for
    /// build-chroot events.
    pub fn status(&self) -> &'static str {
        dispatch!(self, e => e.status())
    }

    /// Users affected by the event (copr-messaging's rule for Copr; Pulp's
    /// bodies name no user, so empty).
    pub fn usernames(&self) -> Vec<String> {
        dispatch!(self, e => e.usernames())
    }

    /// Packages the event is about: the Copr package name when known.
    pub fn packages(&self) -> Vec<String> {
        dispatch!(self, e => e.packages())
    }

    /// A page about the event: the Copr build's page. Pulp's bodies do not
    /// name their server, so `None` for Pulp events.
    pub fn url(&self) -> Option<String> {
        dispatch!(self, e => e.url())
    }

    /// The user who caused the event: the submitter of a started Copr build;
    /// `None` otherwise (a build ends or is canceled by the system or any
    /// admin, and Pulp's bodies name no user).
    pub fn agent_name(&self) -> Option<String> {
        dispatch!(self, e => e.agent_name())
    }

    /// How much attention the event deserves: `error` for failed or errored
    /// Pulp operations, `warning` for canceled ones, `info` otherwise (as
    /// copr-messaging, which leaves every build message at `info`).
    pub fn severity(&self) -> Severity {
        dispatch!(self, e => e.severity())
    }

    /// Every accessor as one typed value: what `repobus inspect` prints.
    ///
    /// ```
    /// use repobus::Event;
    ///
    /// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
    /// let text = serde_json::to_string(&event.describe()).unwrap();
    /// assert!(text.starts_with(r#"{"type":"repo-sync-started","repo_id":"pulp-f17","status":"running""#), "{text}");
    /// ```
    pub fn describe(&self) -> Description {
        Description {
            event_type: self.event_type(),
            details: self.details(),
            status: self.status(),
            summary: self.summary(),
            usernames: self.usernames(),
            packages: self.packages(),
            url: self.url(),
            agent_name: self.agent_name(),
            severity: self.severity(),
        }
    }
}

/// The type of a typed body, as a function so that `dispatch!` can use it.
fn kind_of<T: EventKind>(_: &T) -> EventType {
    T::TYPE
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        dispatch!(self, e => e.serialize(serializer))
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
