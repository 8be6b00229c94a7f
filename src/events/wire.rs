//! The real wire forms that decode onto the six event types.
//!
//! | topic | type | body |
//! | --- | --- | --- |
//! | `repo-sync-started`, `repo.sync.start` | `repo-sync-started` | Pulp 2 |
//! | `repo-sync-finished`, `repo.sync.finish` | `repo-sync-finished` | Pulp 2 |
//! | `repo-publish-started`, `repo.publish.start` | `repo-publish-started` | Pulp 2 |
//! | `repo-publish-finished`, `repo.publish.finish` | `repo-publish-finished` | Pulp 2 |
//! | `build-chroot-started`, `[<prefix>.]copr.build.start`, `[<prefix>.]copr.chroot.start` | `build-chroot-started` | Copr fedmsg-era |
//! | `build-chroot-ended`, `[<prefix>.]copr.build.end` | `build-chroot-ended` | Copr fedmsg-era |
//! | `build.start` | `build-chroot-started` | Copr STOMP-era |
//! | `build.end` | `build-chroot-ended` | Copr STOMP-era |
//! | `pulp.server.repo.sync.start`, ... `pulp.server.repo.publish.finish` | the four `repo-*` types | Pulp 2's notifier document |
//!
//! `<prefix>` is a fedora-messaging prefix such as `org.fedoraproject.prod`.
//! Copr bodies may come wrapped in a fedmsg envelope `{"msg": {...}}`; like
//! copr-messaging, a body with a `msg` key is replaced by its value.
//!
//! Pulp 2's notifiers do not send the bare body: they send the document
//! `{"event_type": "repo.sync.finish", "payload": {...}, "call_report": ...}`
//! (`pulp/server/event/data.py`). The AMQP notifier sends it as JSON with the
//! subject `pulp.server.<event_type>`; the HTTP notifier encodes it twice
//! (`requests.post(url, json=json.dumps(data))`), so its body is a JSON
//! string whose content is the document. [`Pulp2Notification`] reads both,
//! and keeps the Pulp task ID of the `call_report` when there is one.

use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::events::{Event, EventType};
use crate::json_path::kind_of;

/// How a body on a topic is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireForm {
    /// The repobus type ID as topic, with the type's own body.
    Native(EventType),
    /// A Pulp 2 server event type (`repo.sync.finish`).
    Pulp2(EventType),
    /// Copr's fedmsg-era topics (`copr.build.start`), optionally prefixed.
    CoprFedmsg(EventType),
    /// Copr's STOMP-era topics (`build.start`, `build.end`).
    CoprStomp(EventType),
    /// Pulp 2's AMQP notifier (`pulp.server.repo.sync.finish`): the body is
    /// the notifier document, see [`Pulp2Notification`].
    Pulp2Amqp(EventType),
}

impl WireForm {
    /// The event type this form decodes to.
    pub fn event_type(self) -> EventType {
        match self {
            WireForm::Native(t)
            | WireForm::Pulp2(t)
            | WireForm::CoprFedmsg(t)
            | WireForm::CoprStomp(t)
            | WireForm::Pulp2Amqp(t) => t,
        }
    }
}

/// Maps a topic onto its wire form, or explains which topics are known.
///
/// ```
/// use repobus::events::{wire::{resolve_topic, WireForm}, EventType};
///
/// assert_eq!(
///     resolve_topic("org.fedoraproject.prod.copr.build.end").unwrap(),
///     WireForm::CoprFedmsg(EventType::BuildChrootEnded)
/// );
/// assert!(resolve_topic("copr.build.ended").is_err());
/// ```
pub fn resolve_topic(topic: &str) -> Result<WireForm, DecodeError> {
    if let Ok(t) = topic.parse::<EventType>() {
        return Ok(WireForm::Native(t));
    }
    if let Some(event_type) = topic
        .strip_prefix(PULP2_AMQP_PREFIX)
        .and_then(pulp2_event_type)
    {
        return Ok(WireForm::Pulp2Amqp(event_type));
    }
    if let Some(event_type) = pulp2_event_type(topic) {
        return Ok(WireForm::Pulp2(event_type));
    }
    let form = match topic {
        "build.start" => WireForm::CoprStomp(EventType::BuildChrootStarted),
        "build.end" => WireForm::CoprStomp(EventType::BuildChrootEnded),
        _ => {
            let bare = copr_suffix(topic);
            match bare {
                Some("copr.build.start") | Some("copr.chroot.start") => {
                    WireForm::CoprFedmsg(EventType::BuildChrootStarted)
                }
                Some("copr.build.end") => WireForm::CoprFedmsg(EventType::BuildChrootEnded),
                _ => return Err(DecodeError::UnknownTopic(topic.to_owned())),
            }
        }
    };
    Ok(form)
}

/// The subject prefix of Pulp 2's AMQP notifier.
const PULP2_AMQP_PREFIX: &str = "pulp.server.";

/// The type of one of Pulp 2's event type names (`repo.sync.finish`).
fn pulp2_event_type(name: &str) -> Option<EventType> {
    EventType::ALL
        .into_iter()
        .find(|t| t.pulp2_name() == Some(name))
}

impl EventType {
    /// Pulp 2's own name of the type (`repo.sync.finish`), as its notifiers
    /// send it; `None` for the Copr types.
    ///
    /// ```
    /// use repobus::EventType;
    ///
    /// assert_eq!(EventType::RepoSyncFinished.pulp2_name(), Some("repo.sync.finish"));
    /// assert_eq!(EventType::BuildChrootEnded.pulp2_name(), None);
    /// ```
    pub fn pulp2_name(self) -> Option<&'static str> {
        match self {
            EventType::RepoSyncStarted => Some("repo.sync.start"),
            EventType::RepoSyncFinished => Some("repo.sync.finish"),
            EventType::RepoPublishStarted => Some("repo.publish.start"),
            EventType::RepoPublishFinished => Some("repo.publish.finish"),
            _ => None,
        }
    }
}

/// Pulp 2's name of a `repo-*` type, or the type ID of another, for
/// messages.
fn pulp2_name(event_type: EventType) -> &'static str {
    event_type.pulp2_name().unwrap_or(event_type.as_str())
}

/// `copr.build.start` out of `copr.build.start` or `<prefix>.copr.build.start`.
fn copr_suffix(topic: &str) -> Option<&str> {
    ["copr.build.start", "copr.chroot.start", "copr.build.end"]
        .into_iter()
        .find(|suffix| {
            topic == *suffix
                || topic
                    .strip_suffix(suffix)
                    .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        })
}

/// Turns a body in `form` into the body of its event type.
pub(crate) fn normalize(form: WireForm, body: Value) -> Result<Value, DecodeError> {
    match form {
        WireForm::Native(t) | WireForm::CoprFedmsg(t) if t.is_copr() => Ok(unwrap_envelope(body)),
        WireForm::CoprStomp(t) => stomp_to_fedmsg(t, unwrap_envelope(body)),
        WireForm::Pulp2Amqp(t) => {
            let (event_type, notification) = Pulp2Notification::unpack(body)?;
            if event_type != t {
                return Err(DecodeError::Notification {
                    path: "$.event_type".into(),
                    rule: format!(
                        "{} does not match the subject's event type {}",
                        pulp2_name(event_type),
                        pulp2_name(t)
                    ),
                });
            }
            Ok(notification.payload)
        }
        _ => Ok(body),
    }
}

/// What Pulp 2's notifiers send: the event and the Pulp task it fired in.
///
/// Accepts the document `{"event_type", "payload", "call_report"}` as a
/// JSON object (the AMQP notifier) or as a JSON string whose content is
/// that object (the HTTP notifier's double encoding). `call_report` may be
/// null, absent, or Pulp's task status document; its `task_id`, when it is
/// a string, becomes [`Pulp2Notification::task_id`].
///
/// ```
/// use repobus::events::wire::Pulp2Notification;
///
/// // What Pulp 2's HTTP notifier puts on the wire: a JSON string.
/// let body = br#""{\"event_type\": \"repo.sync.start\", \"payload\": {\"repo_id\": \"pulp-f17\"}, \"call_report\": {\"task_id\": \"7d1b6a\"}}""#;
/// let notification = Pulp2Notification::decode(body).unwrap();
/// assert_eq!(notification.event.summary(), r#"Pulp repository "pulp-f17": sync started."#);
/// assert_eq!(notification.task_id.as_deref(), Some("7d1b6a"));
///
/// let err = Pulp2Notification::decode(br#""not a document""#).unwrap_err();
/// assert!(err.to_string().contains("a JSON string must hold the notifier document"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Pulp2Notification {
    /// The decoded event.
    pub event: Event,
    /// `call_report.task_id`: the Pulp task the event fired in.
    pub task_id: Option<String>,
}

/// The parts of a notifier document before the payload is decoded.
struct Unpacked {
    payload: Value,
    task_id: Option<String>,
}

impl Pulp2Notification {
    /// Decodes a notifier body (bytes as received).
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let value: Value = serde_json::from_slice(body).map_err(|source| DecodeError::Json {
            topic: "Pulp 2 notification".to_owned(),
            source,
        })?;
        Pulp2Notification::from_value(value)
    }

    /// Decodes an already-parsed notifier body.
    pub fn from_value(body: Value) -> Result<Self, DecodeError> {
        let (event_type, unpacked) = Pulp2Notification::unpack(body)?;
        let event = Event::from_wire_value(WireForm::Pulp2(event_type), unpacked.payload)
            .map_err(|e| e.under_path("$.payload"))?;
        Ok(Pulp2Notification {
            event,
            task_id: unpacked.task_id,
        })
    }

    fn unpack(body: Value) -> Result<(EventType, Unpacked), DecodeError> {
        let bad = |path: &str, rule: String| DecodeError::Notification {
            path: path.to_owned(),
            rule,
        };
        let document = match body {
            Value::String(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(document)) => document,
                Ok(other) => {
                    return Err(bad(
                        "$",
                        format!(
                            "a JSON string must hold the notifier document {{\"event_type\", \"payload\", \"call_report\"}} (Pulp 2's HTTP notifier encodes it twice); this one holds {}",
                            kind_of(&other)
                        ),
                    ))
                }
                Err(e) => {
                    return Err(bad(
                        "$",
                        format!("a JSON string must hold the notifier document {{\"event_type\", \"payload\", \"call_report\"}} (Pulp 2's HTTP notifier encodes it twice); its content is not JSON: {e}"),
                    ))
                }
            },
            Value::Object(document) => document,
            other => {
                return Err(bad(
                    "$",
                    format!(
                        "must be the notifier document {{\"event_type\", \"payload\", \"call_report\"}}, or a JSON string holding it; got {}",
                        kind_of(&other)
                    ),
                ))
            }
        };
        let mut document = document;
        let event_type = match document.get("event_type") {
            Some(Value::String(name)) => pulp2_event_type(name).ok_or_else(|| {
                bad(
                    "$.event_type",
                    format!("{name:?} is not one of repo.sync.start, repo.sync.finish, repo.publish.start, repo.publish.finish"),
                )
            })?,
            Some(other) => {
                return Err(bad(
                    "$.event_type",
                    format!("must be a string such as repo.sync.finish; got {}", kind_of(other)),
                ))
            }
            None => {
                return Err(bad(
                    "$.event_type",
                    "is required: a Pulp 2 event type such as repo.sync.finish".into(),
                ))
            }
        };
        let payload = document
            .remove("payload")
            .ok_or_else(|| bad("$.payload", "is required: the event's body".into()))?;
        // Never reject a body because of its call report: it is Pulp's task
        // document, or null; only its task ID is read.
        let task_id = document
            .get("call_report")
            .and_then(|report| report.get("task_id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((event_type, Unpacked { payload, task_id }))
    }
}

/// copr-messaging's rule: a body with a `msg` key is replaced by its value,
/// and a falsy value (`null`, `""`, `0`, `[]`, `{}`) by an empty object.
fn unwrap_envelope(body: Value) -> Value {
    match body {
        Value::Object(mut map) if map.contains_key("msg") => {
            let inner = map.remove("msg").unwrap_or(Value::Null);
            if is_falsy(&inner) {
                Value::Object(Map::new())
            } else {
                inner
            }
        }
        other => other,
    }
}

fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// The STOMP-era fields and whether each may be null.
const STOMP_FIELDS: [(&str, bool); 9] = [
    ("build", false),
    ("owner", false),
    ("copr", false),
    ("submitter", true),
    ("package", true),
    ("chroot", false),
    ("builder", true),
    ("status", false),
    ("status_int", false),
];

/// Converts Copr's STOMP-era body (`build` and `status_int` as strings, NVR
/// `package`) into the fedmsg-era body, so that every accessor answers what
/// copr-messaging answers for the original message.
fn stomp_to_fedmsg(event_type: EventType, body: Value) -> Result<Value, DecodeError> {
    let bad = |path: &str, rule: String| DecodeError::invalid(event_type, path.to_owned(), rule);
    let Value::Object(mut map) = body else {
        return Err(bad(
            "$",
            "a STOMP-era Copr body must be a JSON object".into(),
        ));
    };
    for (field, nullable) in STOMP_FIELDS {
        let path = format!("$.{field}");
        match map.get(field) {
            None => return Err(bad(&path, "is required (STOMP-era Copr body)".into())),
            Some(Value::String(_)) => {}
            Some(Value::Null) if nullable => {}
            Some(other) => {
                let expected = if nullable {
                    "a string or null"
                } else {
                    "a string"
                };
                return Err(bad(&path, format!("{other} must be {expected}")));
            }
        }
    }
    let text = |map: &Map<String, Value>, field: &str| {
        map.get(field).and_then(Value::as_str).map(str::to_owned)
    };
    let build_text = text(&map, "build").unwrap_or_default();
    let build = python_int(&build_text).filter(|n| *n >= 0).ok_or_else(|| {
        bad(
            "$.build",
            format!("{build_text:?} is not a non-negative integer build ID"),
        )
    })?;
    let status_text = text(&map, "status_int").unwrap_or_default();
    let status = python_int(&status_text)
        .ok_or_else(|| bad("$.status_int", format!("{status_text:?} is not an integer")))?;
    if crate::events::CoprStatus::from_code(status).is_none() {
        return Err(bad(
            "$.status_int",
            format!("{status_text:?} is not one of Copr's StatusEnum values (0-9 or 1000)"),
        ));
    }
    let (pkg, version) = match map.get("package").and_then(Value::as_str) {
        None | Some("None-None") => (Value::Null, Value::Null),
        Some(nevr) => split_nevr(nevr),
    };
    let submitter = map.remove("submitter").unwrap_or(Value::Null);
    let builder = map.remove("builder").unwrap_or(Value::Null);
    let owner = map.remove("owner").unwrap_or(Value::Null);
    let copr = map.remove("copr").unwrap_or(Value::Null);
    let chroot = map.remove("chroot").unwrap_or(Value::Null);
    for field in ["build", "package", "status", "status_int"] {
        map.remove(field);
    }
    let what = format!(
        "{} (STOMP-era message imported by repobus): user:{} copr:{} build:{} pkg:{} version:{} ip:{} status:{}",
        if event_type == EventType::BuildChrootStarted { "build start" } else { "build end" },
        submitter.as_str().unwrap_or("None"),
        copr.as_str().unwrap_or("None"),
        build,
        pkg.as_str().unwrap_or("None"),
        version.as_str().unwrap_or("None"),
        builder.as_str().unwrap_or("None"),
        status
    );
    let mut out = Map::new();
    out.insert("status".into(), status.into());
    out.insert("what".into(), what.into());
    out.insert("chroot".into(), chroot);
    out.insert("ip".into(), builder);
    out.insert("user".into(), submitter);
    out.insert("who".into(), "copr.stomp".into());
    out.insert("pid".into(), 0.into());
    out.insert("copr".into(), copr);
    out.insert("version".into(), version);
    out.insert("build".into(), build.into());
    out.insert("owner".into(), owner);
    out.insert("pkg".into(), pkg);
    out.extend(map);
    Ok(Value::Object(out))
}

/// Splits a STOMP `package` NVR the way copr-messaging does (two right
/// splits on `-`, then the epoch on `:`), into fedmsg's `pkg` and
/// `[epoch:]version-release`. A string without that shape is kept whole as
/// the package name with an unknown version (copr-messaging raises there).
fn split_nevr(nevr: &str) -> (Value, Value) {
    let Some((nev, release)) = nevr.rsplit_once('-') else {
        return (nevr.into(), Value::Null);
    };
    let Some((name, e_v)) = nev.rsplit_once('-') else {
        return (nevr.into(), Value::Null);
    };
    let mut parts = e_v.split(':');
    let first = parts.next().unwrap_or("");
    let version = match parts.next() {
        None => format!("{first}-{release}"),
        // copr-messaging keeps the epoch and the second part only.
        Some(second) => format!("{first}:{second}-{release}"),
    };
    (name.into(), version.into())
}

/// Python's `int(str)` for the forms Copr sends: surrounding whitespace, an
/// optional sign, ASCII digits with single underscores between them.
fn python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let n: i64 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn topics_resolve() {
        use EventType::*;
        let cases = [
            ("repo-sync-started", WireForm::Native(RepoSyncStarted)),
            ("repo.sync.finish", WireForm::Pulp2(RepoSyncFinished)),
            ("repo.publish.start", WireForm::Pulp2(RepoPublishStarted)),
            ("repo.publish.finish", WireForm::Pulp2(RepoPublishFinished)),
            ("copr.build.start", WireForm::CoprFedmsg(BuildChrootStarted)),
            (
                "copr.chroot.start",
                WireForm::CoprFedmsg(BuildChrootStarted),
            ),
            (
                "org.fedoraproject.prod.copr.build.end",
                WireForm::CoprFedmsg(BuildChrootEnded),
            ),
            ("build.start", WireForm::CoprStomp(BuildChrootStarted)),
            ("build.end", WireForm::CoprStomp(BuildChrootEnded)),
        ];
        for (topic, form) in cases {
            assert_eq!(resolve_topic(topic).unwrap(), form, "{topic}");
        }
        for bad in [
            "",
            "xcopr.build.start",
            ".copr.build.start",
            "repo.sync",
            "copr.build.started",
        ] {
            assert!(resolve_topic(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn envelope_unwraps_like_copr_messaging() {
        assert_eq!(
            unwrap_envelope(json!({"msg": {"a": 1}, "topic": "x"})),
            json!({"a": 1})
        );
        assert_eq!(unwrap_envelope(json!({"msg": null})), json!({}));
        assert_eq!(unwrap_envelope(json!({"msg": "hello"})), json!("hello"));
        assert_eq!(unwrap_envelope(json!({"a": 1})), json!({"a": 1}));
    }

    #[test]
    fn nevr_splits_like_copr_messaging() {
        assert_eq!(
            split_nevr("foo-1.2-3.fc30"),
            (json!("foo"), json!("1.2-3.fc30"))
        );
        assert_eq!(
            split_nevr("foo-bar-2:1.0-1"),
            (json!("foo-bar"), json!("2:1.0-1"))
        );
        assert_eq!(split_nevr("foo-1:2:3-4"), (json!("foo"), json!("1:2-4")));
        assert_eq!(split_nevr("-1.0-1"), (json!(""), json!("1.0-1")));
        assert_eq!(split_nevr("foo"), (json!("foo"), Value::Null));
        assert_eq!(split_nevr("foo-1.0"), (json!("foo-1.0"), Value::Null));
    }

    #[test]
    fn python_int_accepts_what_copr_sends() {
        assert_eq!(python_int("38492"), Some(38492));
        assert_eq!(python_int(" 4 "), Some(4));
        assert_eq!(python_int("1_000"), Some(1000));
        assert_eq!(python_int("-0"), Some(0));
        for bad in [
            "",
            "abc",
            "1.0",
            "_1",
            "1__0",
            "1_",
            "+",
            "99999999999999999999",
        ] {
            assert_eq!(python_int(bad), None, "{bad}");
        }
    }
}
