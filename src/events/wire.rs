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
//!
//! `<prefix>` is a fedora-messaging prefix such as `org.fedoraproject.prod`.
//! Copr bodies may come wrapped in a fedmsg envelope `{"msg": {...}}`; like
//! copr-messaging, a body with a `msg` key is replaced by its value.

use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::events::EventType;

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
}

impl WireForm {
    /// The event type this form decodes to.
    pub fn event_type(self) -> EventType {
        match self {
            WireForm::Native(t) | WireForm::Pulp2(t) | WireForm::CoprFedmsg(t) => t,
            WireForm::CoprStomp(t) => t,
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
    let form = match topic {
        "repo.sync.start" => WireForm::Pulp2(EventType::RepoSyncStarted),
        "repo.sync.finish" => WireForm::Pulp2(EventType::RepoSyncFinished),
        "repo.publish.start" => WireForm::Pulp2(EventType::RepoPublishStarted),
        "repo.publish.finish" => WireForm::Pulp2(EventType::RepoPublishFinished),
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
        _ => Ok(body),
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
