//! fedora-messaging's wire format, both ways.
//!
//! What fedora-messaging's `Message._build_properties` puts on an AMQP
//! message, and what its consumers read back:
//!
//! | AMQP | value |
//! | --- | --- |
//! | exchange | `amq.topic` (configurable) |
//! | routing key | `<topic_prefix>.<topic>`, e.g. `org.fedoraproject.prod.copr.build.end` |
//! | body | the message body as UTF-8 JSON |
//! | `content_type`, `content_encoding`, `delivery_mode` | `application/json`, `utf-8`, `2` |
//! | `message_id` | a UUID (repobus: the event ID) |
//! | header `fedora_messaging_schema` | the entry-point name of the message class ([`schema_name`]) |
//! | header `fedora_messaging_schema_package` | the distribution that provides the class ([`schema_package`]) |
//! | header `sent-at` | ISO 8601 in UTC without fractions ([`format_sent_at`]) |
//! | header `fedora_messaging_severity` | 10, 20, 30 or 40 |
//! | header `priority` | `0` |
//! | headers `fedora_messaging_user_<name>`, `fedora_messaging_rpm_<name>` | `true`, one per `usernames()` / `packages()` |
//!
//! Copr events use copr-messaging's topics and classes (`copr.build.start`,
//! `copr.build.end`); the Pulp events use the classes of the
//! `repobus-messages` Python package in this repository, on the topics
//! `pulp.repo.sync.start`, `pulp.repo.sync.finish`, `pulp.repo.publish.start`
//! and `pulp.repo.publish.finish`, and the progress reports on
//! `pulp.repo.sync.progress` and `pulp.repo.publish.progress`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use repobus::{DecodeError, Event, EventType};

/// The Python distribution of the Pulp event classes.
pub const REPOBUS_SCHEMA_PACKAGE: &str = "repobus_messages";
/// The Python distribution of Copr's classes.
pub const COPR_SCHEMA_PACKAGE: &str = "copr_messaging";

/// The fedora-messaging topic (without prefix) an event type goes out on.
///
/// ```
/// use repobus::EventType;
/// use repobus_amqp::fedora::topic;
///
/// assert_eq!(topic(EventType::BuildChrootEnded), "copr.build.end");
/// assert_eq!(topic(EventType::RepoSyncFinished), "pulp.repo.sync.finish");
/// ```
pub fn topic(event_type: EventType) -> &'static str {
    match event_type {
        EventType::RepoSyncStarted => "pulp.repo.sync.start",
        EventType::RepoSyncFinished => "pulp.repo.sync.finish",
        EventType::RepoPublishStarted => "pulp.repo.publish.start",
        EventType::RepoPublishFinished => "pulp.repo.publish.finish",
        EventType::RepoSyncProgress => "pulp.repo.sync.progress",
        EventType::RepoPublishProgress => "pulp.repo.publish.progress",
        EventType::BuildChrootStarted => "copr.build.start",
        EventType::BuildChrootEnded => "copr.build.end",
    }
}

/// The entry-point name of the message class (`fedora_messaging_schema`):
/// copr-messaging's for Copr, `repobus-messages`' for Pulp. They are the
/// topics themselves, as in copr-messaging.
///
/// ```
/// use repobus::EventType;
/// use repobus_amqp::fedora::schema_name;
///
/// assert_eq!(schema_name(EventType::BuildChrootStarted), "copr.build.start");
/// assert_eq!(schema_name(EventType::RepoPublishStarted), "pulp.repo.publish.start");
/// ```
pub fn schema_name(event_type: EventType) -> &'static str {
    topic(event_type)
}

/// The distribution providing [`schema_name`]'s class
/// (`fedora_messaging_schema_package`).
///
/// ```
/// use repobus::EventType;
/// use repobus_amqp::fedora::schema_package;
///
/// assert_eq!(schema_package(EventType::BuildChrootEnded), "copr_messaging");
/// assert_eq!(schema_package(EventType::RepoSyncStarted), "repobus_messages");
/// ```
pub fn schema_package(event_type: EventType) -> &'static str {
    if event_type.is_copr() {
        COPR_SCHEMA_PACKAGE
    } else {
        REPOBUS_SCHEMA_PACKAGE
    }
}

/// The routing key: `<prefix>.<topic>`, or the topic alone when the prefix
/// is empty.
///
/// ```
/// use repobus::EventType;
/// use repobus_amqp::fedora::routing_key;
///
/// assert_eq!(routing_key("org.fedoraproject.prod", EventType::BuildChrootEnded), "org.fedoraproject.prod.copr.build.end");
/// assert_eq!(routing_key("", EventType::BuildChrootEnded), "copr.build.end");
/// ```
pub fn routing_key(prefix: &str, event_type: EventType) -> String {
    let prefix = prefix.trim_end_matches('.');
    if prefix.is_empty() {
        topic(event_type).to_owned()
    } else {
        format!("{prefix}.{}", topic(event_type))
    }
}

/// Decodes an AMQP message body on its routing key with the event model's
/// wire-form decoder: every Copr topic with or without an
/// `org.fedoraproject.<env>.` prefix, every topic `repobus::Event::decode`
/// knows, and the Pulp topics [`topic`] sends (with any prefix).
///
/// ```
/// use repobus_amqp::fedora::decode;
///
/// let event = decode("org.fedoraproject.stg.pulp.repo.sync.start", br#"{"repo_id": "pulp-f17"}"#).unwrap();
/// assert_eq!(event.summary(), r#"Pulp repository "pulp-f17": sync started."#);
/// assert!(matches!(decode("org.fedoraproject.prod.bodhi.update.comment", b"{}"), Err(repobus::DecodeError::UnknownTopic(_))));
/// ```
pub fn decode(routing_key: &str, body: &[u8]) -> Result<Event, DecodeError> {
    match Event::decode(routing_key, body) {
        Err(DecodeError::UnknownTopic(t)) => {
            for event_type in EventType::ALL.into_iter().filter(|t| !t.is_copr()) {
                let ours = topic(event_type);
                let matches = routing_key == ours
                    || routing_key
                        .strip_suffix(ours)
                        .is_some_and(|p| p.len() > 1 && p.ends_with('.'));
                if matches {
                    return Event::decode(event_type.as_str(), body);
                }
            }
            Err(DecodeError::UnknownTopic(t))
        }
        other => other,
    }
}

/// Formats `sent-at` as fedora-messaging does (`datetime.isoformat()` of
/// the UTC time without microseconds).
///
/// ```
/// use repobus_amqp::fedora::format_sent_at;
///
/// let time = "2026-11-24T04:33:36.789Z".parse().unwrap();
/// assert_eq!(format_sent_at(time), "2026-11-24T04:33:36+00:00");
/// ```
pub fn format_sent_at(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Parses a `sent-at` header: ISO 8601 with an offset (fedora-messaging 2
/// and 3) or without one (read as UTC), with or without fractions.
///
/// ```
/// use repobus_amqp::fedora::parse_sent_at;
///
/// let t = parse_sent_at("2026-11-24T05:33:36+01:00").unwrap();
/// assert_eq!(t.to_rfc3339(), "2026-11-24T04:33:36+00:00");
/// assert_eq!(parse_sent_at("2026-11-24T04:33:36.5").unwrap().timestamp_millis() % 1000, 500);
/// assert!(parse_sent_at("yesterday").is_none());
/// ```
pub fn parse_sent_at(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .into_iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

/// The headers fedora-messaging's publisher sets for `event`, sent at
/// `sent_at`.
///
/// ```
/// use repobus_amqp::fedora::headers;
/// use lapin::types::AMQPValue;
///
/// let body = br#"{"status": 1, "what": "build end", "chroot": "fedora-rawhide-x86_64", "ip": null,
///     "user": "churchyard", "who": "worker", "pid": 1, "copr": "python3.8", "version": "4.23.8-1.fc31",
///     "build": 945012, "owner": "@python", "pkg": "python-hypothesis"}"#;
/// let event = repobus::Event::decode("copr.build.end", body).unwrap();
/// let headers = headers(&event, "2026-11-24T04:33:36Z".parse().unwrap());
/// let get = |k: &str| headers.inner().get(k).cloned();
/// assert_eq!(get("fedora_messaging_schema"), Some(AMQPValue::LongString("copr.build.end".into())));
/// assert_eq!(get("fedora_messaging_severity"), Some(AMQPValue::LongInt(20)));
/// assert_eq!(get("fedora_messaging_rpm_python-hypothesis"), Some(AMQPValue::Boolean(true)));
/// ```
pub fn headers(event: &Event, sent_at: DateTime<Utc>) -> FieldTable {
    let event_type = event.event_type();
    let mut table = FieldTable::default();
    let mut put = |k: String, v: AMQPValue| {
        table.insert(ShortString::from(k), v);
    };
    put(
        "fedora_messaging_schema".into(),
        long_string(schema_name(event_type)),
    );
    put(
        "fedora_messaging_schema_package".into(),
        long_string(schema_package(event_type)),
    );
    put("sent-at".into(), long_string(&format_sent_at(sent_at)));
    put(
        "fedora_messaging_severity".into(),
        AMQPValue::LongInt(i32::from(event.severity().level())),
    );
    put("priority".into(), AMQPValue::LongInt(0));
    for user in event.usernames() {
        put(
            format!("fedora_messaging_user_{user}"),
            AMQPValue::Boolean(true),
        );
    }
    for package in event.packages() {
        put(
            format!("fedora_messaging_rpm_{package}"),
            AMQPValue::Boolean(true),
        );
    }
    table
}

/// The AMQP properties fedora-messaging's publisher sets: JSON in UTF-8,
/// persistent, `message_id` = `id`, and [`headers`].
///
/// ```
/// let event = repobus::Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
/// let props = repobus_amqp::fedora::properties(&event, "0190b1c2-7d1e-7c3a-9d2e-5b6f1a2b3c4d", chrono::Utc::now());
/// assert_eq!(props.delivery_mode(), &Some(2));
/// assert_eq!(props.message_id().as_ref().map(|s| s.as_str()), Some("0190b1c2-7d1e-7c3a-9d2e-5b6f1a2b3c4d"));
/// ```
pub fn properties(event: &Event, id: &str, sent_at: DateTime<Utc>) -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(2)
        .with_message_id(id.into())
        .with_headers(headers(event, sent_at))
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

/// A header as text, for the dead-letter copy and `sent-at`.
pub(crate) fn header_text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The headers of an AMQP message as a JSON object (for the dead-letter
/// copy): strings, numbers and booleans as themselves, anything else in
/// its debug form.
pub fn headers_json(table: Option<&FieldTable>) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    if let Some(table) = table {
        for (k, v) in table.inner() {
            map.insert(k.as_str().to_owned(), value_json(v));
        }
    }
    serde_json::Value::Object(map)
}

fn value_json(v: &AMQPValue) -> serde_json::Value {
    use serde_json::Value;
    match v {
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(n) => (*n).into(),
        AMQPValue::ShortShortUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::Float(n) => serde_json::json!(n),
        AMQPValue::Double(n) => serde_json::json!(n),
        AMQPValue::Void => Value::Null,
        other => match header_text(other) {
            Some(s) => Value::String(s),
            None => Value::String(format!("{other:?}")),
        },
    }
}
