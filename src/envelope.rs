//! Event metadata in NATS headers, per the CloudEvents NATS protocol binding
//! (binary mode): the body is the event's wire body, unchanged, and the
//! attributes travel as `ce-*` headers.
//!
//! | header | value |
//! | --- | --- |
//! | `ce-specversion` | `1.0` |
//! | `ce-id` | a UUIDv7 unless the producer gives one |
//! | `ce-source` | the producer (configurable) |
//! | `ce-type` | the event type, e.g. `repo-sync-finished` |
//! | `ce-time` | RFC 3339, UTC |
//! | `ce-subject` | the `repo_id`, or the Copr build ID |
//! | `ce-dataschema` | the schema's `$id` |
//! | `ce-datacontenttype` | `application/json` |
//! | `Nats-Msg-Id` | equal to `ce-id` (JetStream de-duplication) |
//! | `ce-pulptaskid` | extension: the Pulp task the event fired in, when known |
//!
//! `pulptaskid` is a CloudEvents extension attribute (lower-case letters
//! and digits, as the spec asks): the `task_id` of the `call_report` that
//! Pulp 2's notifiers send, so a consumer can tie the event to its task.
//!
//! ```
//! use repobus::{envelope::Envelope, Event};
//!
//! let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
//! let envelope = Envelope::new(&event, "urn:example:producer", None).unwrap();
//! let headers = envelope.to_headers();
//! assert_eq!(headers.get("ce-type").unwrap().as_str(), "repo-sync-started");
//! assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), envelope.event_id);
//! ```

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

use crate::events::{Event, EventType};
use crate::schema;

/// The longest event ID accepted.
pub const MAX_ID_LEN: usize = 200;

/// Why an envelope could not be built or read.
///
/// # Examples
///
/// ```
/// use repobus::envelope::{check_id, EnvelopeError};
///
/// match check_id("order 42") {
///     Err(EnvelopeError::BadId { id, reason }) => {
///         assert_eq!(id, "order 42");
///         assert_eq!(reason, "only printable ASCII without spaces is allowed");
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A producer-given event ID is not usable.
    #[error("event id {id:?} is not allowed: {reason}")]
    BadId {
        /// The rejected ID (cut to 64 characters).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A received message has a malformed `ce-*` header.
    #[error("header {header}: {reason}")]
    BadHeader {
        /// The header name.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Checks a producer-given event ID: 1 to 200 printable ASCII characters
/// (no spaces or control characters), so it is safe as a NATS header value.
///
/// # Examples
///
/// ```
/// use repobus::envelope::check_id;
///
/// assert!(check_id("order-42").is_ok());
/// assert!(check_id("").is_err());
/// assert!(check_id("a\r\nNats-Msg-Id: x").is_err());
/// ```
pub fn check_id(id: &str) -> Result<(), EnvelopeError> {
    let bad = |reason| EnvelopeError::BadId {
        id: id.chars().take(64).collect(),
        reason,
    };
    if id.is_empty() {
        return Err(bad("it is empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(bad("it is longer than 200 characters"));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("only printable ASCII without spaces is allowed"));
    }
    Ok(())
}

/// The CloudEvents attributes of one event.
///
/// # Examples
///
/// ```
/// use repobus::{envelope::Envelope, Event, EventType};
///
/// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
/// let mut envelope = Envelope::new(&event, "urn:example:producer", Some("order-42")).unwrap();
/// envelope.pulp_task_id = Some("6ad6b3ba-55f8-4fd1-ba6c-2b0e3a1f0f3c".into());
/// assert_eq!(envelope.event_type, EventType::RepoSyncStarted);
/// assert_eq!(envelope.subject, "pulp-f17");
/// assert_eq!(envelope.to_headers().get("ce-pulptaskid").unwrap().as_str(), "6ad6b3ba-55f8-4fd1-ba6c-2b0e3a1f0f3c");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `ce-id`, also the JetStream `Nats-Msg-Id`.
    pub event_id: String,
    /// `ce-source`: who produced the event.
    pub source: String,
    /// `ce-type`.
    pub event_type: EventType,
    /// `ce-time`.
    pub time: DateTime<Utc>,
    /// `ce-subject`: the repository ID or the Copr build ID.
    pub subject: String,
    /// `ce-dataschema`: the `$id` of the body's schema.
    pub dataschema: String,
    /// `ce-pulptaskid` (extension): the Pulp task the event fired in.
    pub pulp_task_id: Option<String>,
}

const CE_SPECVERSION: HeaderName = HeaderName::from_static("ce-specversion");
const CE_ID: HeaderName = HeaderName::from_static("ce-id");
const CE_SOURCE: HeaderName = HeaderName::from_static("ce-source");
const CE_TYPE: HeaderName = HeaderName::from_static("ce-type");
const CE_TIME: HeaderName = HeaderName::from_static("ce-time");
const CE_SUBJECT: HeaderName = HeaderName::from_static("ce-subject");
const CE_DATASCHEMA: HeaderName = HeaderName::from_static("ce-dataschema");
const CE_DATACONTENTTYPE: HeaderName = HeaderName::from_static("ce-datacontenttype");
const NATS_MSG_ID: HeaderName = HeaderName::from_static("Nats-Msg-Id");
const CE_PULPTASKID: HeaderName = HeaderName::from_static("ce-pulptaskid");

/// A header value; control characters (which NATS headers cannot hold)
/// become spaces.
fn value(text: String) -> HeaderValue {
    // Bytes below 0x20 and DEL are the only control characters in ASCII;
    // a multi-byte character may still be one (U+0080-U+009F), so only a
    // string with a non-ASCII byte pays for the `char` scan.
    let ascii_clean = text.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !ascii_clean && text.chars().any(char::is_control) {
        HeaderValue::from(header_safe(&text))
    } else {
        HeaderValue::from(text)
    }
}

/// `https://repobus.dev/schemas/v1/<type>.schema.json` without `format!`'s
/// machinery (the publish path builds it for every event).
fn dataschema_value(event_type: EventType) -> HeaderValue {
    const PREFIX: &str = "https://repobus.dev/schemas/v1/";
    const SUFFIX: &str = ".schema.json";
    let name = event_type.as_str();
    let mut text = String::with_capacity(PREFIX.len() + name.len() + SUFFIX.len());
    text.push_str(PREFIX);
    text.push_str(name);
    text.push_str(SUFFIX);
    HeaderValue::from(text)
}

/// A time written as `ce-time` is: RFC 3339, UTC, milliseconds
/// (`2012-07-06T15:49:11.500Z`), formatted by hand into 24 bytes. The same
/// text as `to_rfc3339_opts(SecondsFormat::Millis, true)` for the years
/// 0000-9999, at a fraction of the cost (chrono's formatter goes through
/// `fmt`, about a tenth of a publish's own time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeText([u8; 24]);

impl TimeText {
    /// `time` as `ce-time` text, or `None` outside the years 0000-9999.
    pub(crate) fn new(time: DateTime<Utc>) -> Option<Self> {
        let year = u32::try_from(time.year()).ok().filter(|y| *y <= 9999)?;
        let (month, day) = (time.month(), time.day());
        let seconds = time.num_seconds_from_midnight();
        let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        // A leap second's nanoseconds run past 10^9; chrono writes it as :60.
        let nanos = time.nanosecond();
        let (second, millis) = if nanos >= 1_000_000_000 {
            (second + 1, (nanos - 1_000_000_000) / 1_000_000)
        } else {
            (second, nanos / 1_000_000)
        };
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, hour);
        put(14, 2, minute);
        put(17, 2, second);
        put(20, 3, millis);
        Some(TimeText(out))
    }

    /// Reads the exact form [`TimeText::new`] writes
    /// (`2012-07-06T15:49:11.500Z`) without chrono's general RFC 3339
    /// parser; `None` for any other form, which the caller then reads with
    /// chrono. Every received repobus event's `ce-time` takes this path.
    pub(crate) fn parse(text: &str) -> Option<DateTime<Utc>> {
        let b = text.as_bytes();
        if b.len() != 24
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[23] != b'Z'
        {
            return None;
        }
        let num = |from: usize, to: usize| {
            b[from..to].iter().try_fold(0u32, |n, d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        let year = i32::try_from(num(0, 4)?).ok()?;
        let date = chrono::NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?;
        let (hour, minute, second, millis) =
            (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
        // A leap second (:60) is left to chrono.
        let time = chrono::NaiveTime::from_hms_milli_opt(hour, minute, second, millis)
            .filter(|_| second < 60)?;
        Some(date.and_time(time).and_utc())
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&self.0).unwrap_or("1970-01-01T00:00:00.000Z")
    }
}

/// What every event a publisher sends shares, computed once per publisher:
/// for each event type, a header map holding every header, the per-event
/// ones still empty.
///
/// Cloning it costs one table allocation and no rehashing, where building
/// the map header by header grows (and rehashes) async-nats's `HashMap`
/// three times: callgrind counted 13,000 instructions per map built that
/// way, of which a third was `reserve_rehash`.
#[derive(Debug, Clone)]
pub(crate) struct PublishHeaders {
    source: HeaderValue,
    templates: Vec<(EventType, HeaderMap)>,
}

impl PublishHeaders {
    /// For events from `source`.
    pub(crate) fn new(source: &str) -> Self {
        let source = value(source.to_owned());
        let templates = EventType::ALL
            .iter()
            .map(|&event_type| (event_type, Self::template(&source, event_type)))
            .collect();
        PublishHeaders { source, templates }
    }

    /// Every header of an event of `event_type` from `source`, the
    /// per-event ones empty.
    fn template(source: &HeaderValue, event_type: EventType) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CE_SPECVERSION, "1.0");
        headers.insert(CE_ID, "");
        headers.insert(CE_SOURCE, source.clone());
        headers.insert(CE_TYPE, event_type.as_str());
        headers.insert(CE_TIME, "");
        headers.insert(CE_SUBJECT, "");
        headers.insert(CE_DATASCHEMA, dataschema_value(event_type));
        headers.insert(CE_DATACONTENTTYPE, "application/json");
        headers.insert(NATS_MSG_ID, "");
        headers
    }

    /// The headers of a new event, built straight from the typed event
    /// (valid by construction, so nothing is checked twice): the same
    /// headers as [`Envelope::to_headers`] for the envelope
    /// [`Envelope::new`] would build with this `id` and `time`. `id` must
    /// have passed [`check_id`] or be a UUID.
    pub(crate) fn build(
        &self,
        event: &Event,
        id: &str,
        time: &TimeText,
        pulp_task_id: Option<&str>,
    ) -> HeaderMap {
        let event_type = event.event_type();
        let mut headers = match self.templates.iter().find(|(t, _)| *t == event_type) {
            Some((_, template)) => template.clone(),
            None => Self::template(&self.source, event_type),
        };
        // `check_id` allows printable ASCII only: no control characters.
        headers.insert(CE_ID, id);
        headers.insert(CE_TIME, time.as_str());
        headers.insert(CE_SUBJECT, value(event.ce_subject()));
        headers.insert(NATS_MSG_ID, id);
        if let Some(task_id) = pulp_task_id {
            headers.insert(CE_PULPTASKID, value(task_id.to_owned()));
        }
        headers
    }
}

/// A fresh event ID: a UUIDv7, written without `fmt`.
pub(crate) fn new_event_id() -> String {
    let mut buffer = uuid::Uuid::encode_buffer();
    uuid::Uuid::now_v7()
        .hyphenated()
        .encode_lower(&mut buffer)
        .to_owned()
}

impl Envelope {
    /// The envelope for a new event: `id` if given (checked with
    /// [`check_id`]) or a fresh UUIDv7, and the current time.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::{envelope::Envelope, Event};
    ///
    /// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
    /// let fresh = Envelope::new(&event, "urn:example:producer", None).unwrap();
    /// assert_eq!(fresh.event_id.len(), 36); // a UUIDv7
    /// let given = Envelope::new(&event, "urn:example:producer", Some("order-42")).unwrap();
    /// assert_eq!(given.event_id, "order-42");
    /// assert!(Envelope::new(&event, "urn:example:producer", Some("order 42")).is_err());
    /// ```
    pub fn new(event: &Event, source: &str, id: Option<&str>) -> Result<Self, EnvelopeError> {
        let id = match id {
            Some(id) => {
                check_id(id)?;
                id.to_owned()
            }
            None => new_event_id(),
        };
        Ok(Envelope {
            event_id: id,
            source: source.to_owned(),
            event_type: event.event_type(),
            time: Utc::now(),
            subject: event.ce_subject(),
            dataschema: schema::schema_id(event.event_type()),
            pulp_task_id: None,
        })
    }

    /// `ce-time` as written: RFC 3339 in UTC with milliseconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::{envelope::Envelope, Event};
    ///
    /// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
    /// let mut envelope = Envelope::new(&event, "urn:example", None).unwrap();
    /// envelope.time = "2012-07-06T15:49:11.5Z".parse().unwrap();
    /// assert_eq!(envelope.time_rfc3339(), "2012-07-06T15:49:11.500Z");
    /// ```
    pub fn time_rfc3339(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// The NATS headers carrying this envelope.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::{envelope::Envelope, Event};
    ///
    /// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
    /// let envelope = Envelope::new(&event, "urn:example", Some("order-42")).unwrap();
    /// let headers = envelope.to_headers();
    /// assert_eq!(headers.get("ce-id").unwrap().as_str(), "order-42");
    /// assert_eq!(headers.get("Nats-Msg-Id").unwrap().as_str(), "order-42");
    /// assert_eq!(headers.get("ce-subject").unwrap().as_str(), "pulp-f17");
    /// ```
    pub fn to_headers(&self) -> HeaderMap {
        let id = value(self.event_id.clone());
        let mut headers: HeaderMap = [
            (CE_SPECVERSION, HeaderValue::from("1.0")),
            (CE_ID, id.clone()),
            (CE_SOURCE, value(self.source.clone())),
            (CE_TYPE, HeaderValue::from(self.event_type.as_str())),
            (
                CE_TIME,
                TimeText::new(self.time).map_or_else(
                    || value(self.time_rfc3339()),
                    |t| HeaderValue::from(t.as_str()),
                ),
            ),
            (CE_SUBJECT, value(self.subject.clone())),
            (CE_DATASCHEMA, value(self.dataschema.clone())),
            (CE_DATACONTENTTYPE, HeaderValue::from("application/json")),
            (NATS_MSG_ID, id),
        ]
        .into_iter()
        .collect();
        if let Some(task_id) = &self.pulp_task_id {
            headers.insert(CE_PULPTASKID, value(task_id.clone()));
        }
        headers
    }

    /// Reads the envelope of a received message.
    ///
    /// Messages from producers that do not set every attribute are still
    /// read: the type falls back to `fallback_type` (from the subject), the
    /// ID to `Nats-Msg-Id` or `fallback_id`, the time to `fallback_time`
    /// (the stream's time), the source to `unknown`.
    ///
    /// # Examples
    ///
    /// ```
    /// use chrono::Utc;
    /// use repobus::{envelope::Envelope, Event, EventType};
    ///
    /// // A message repobus published: every attribute comes back.
    /// let event = Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap();
    /// let sent = Envelope::new(&event, "urn:example", Some("order-42")).unwrap();
    /// let read = Envelope::from_headers(Some(&sent.to_headers()), None, || unreachable!(), Utc::now()).unwrap();
    /// assert_eq!(read.event_id, "order-42");
    /// assert_eq!(read.source, "urn:example");
    ///
    /// // A bare message from another producer: the fallbacks fill in.
    /// let now = Utc::now();
    /// let read = Envelope::from_headers(None, Some(EventType::RepoSyncStarted), || "REPOBUS:7".into(), now).unwrap();
    /// assert_eq!((read.event_id.as_str(), read.source.as_str()), ("REPOBUS:7", "unknown"));
    /// assert_eq!(read.time, now);
    /// ```
    pub fn from_headers(
        headers: Option<&HeaderMap>,
        fallback_type: Option<EventType>,
        fallback_id: impl FnOnce() -> String,
        fallback_time: DateTime<Utc>,
    ) -> Result<Self, EnvelopeError> {
        // Static names: looking up by `&str` would allocate a name each time.
        let get_str = |name: &HeaderName| {
            headers
                .and_then(|h| h.get(name.clone()))
                .map(HeaderValue::as_str)
        };
        let get = |name: &HeaderName| get_str(name).map(str::to_owned);
        if let Some(version) = get_str(&CE_SPECVERSION) {
            if version != "1.0" {
                return Err(EnvelopeError::BadHeader {
                    header: "ce-specversion",
                    reason: format!("{version:?} is not 1.0"),
                });
            }
        }
        let event_type = match get_str(&CE_TYPE) {
            Some(t) => t
                .parse::<EventType>()
                .map_err(|e| EnvelopeError::BadHeader {
                    header: "ce-type",
                    reason: e.to_string(),
                })?,
            None => fallback_type.ok_or(EnvelopeError::BadHeader {
                header: "ce-type",
                reason: "missing, and the subject names no event type".to_owned(),
            })?,
        };
        let time = match headers
            .and_then(|h| h.get(CE_TIME))
            .map(HeaderValue::as_str)
        {
            Some(t) => match TimeText::parse(t) {
                Some(time) => time,
                None => DateTime::parse_from_rfc3339(t)
                    .map_err(|e| EnvelopeError::BadHeader {
                        header: "ce-time",
                        reason: format!("{t:?} is not an RFC 3339 time: {e}"),
                    })?
                    .with_timezone(&Utc),
            },
            None => fallback_time,
        };
        // RFC 3339 writes years 0000-9999 only: a time that leaves them in
        // UTC (9999-12-31T23:59:59-01:00) could not be written back.
        if !(0..=9999).contains(&time.year()) {
            return Err(EnvelopeError::BadHeader {
                header: "ce-time",
                reason: format!(
                    "{} is outside the years 0000-9999 in UTC",
                    get(&CE_TIME).unwrap_or_default()
                ),
            });
        }
        Ok(Envelope {
            event_id: get(&CE_ID)
                .or_else(|| get(&NATS_MSG_ID))
                .unwrap_or_else(fallback_id),
            source: get(&CE_SOURCE).unwrap_or_else(|| "unknown".to_owned()),
            event_type,
            time,
            subject: get(&CE_SUBJECT).unwrap_or_default(),
            dataschema: get(&CE_DATASCHEMA).unwrap_or_else(|| schema::schema_id(event_type)),
            pulp_task_id: get(&CE_PULPTASKID),
        })
    }
}

/// A header value cannot hold CR or LF; they become spaces.
///
/// # Examples
///
/// ```
/// use repobus::envelope::header_safe;
///
/// assert_eq!(header_safe("line one\r\nline two"), "line one  line two");
/// ```
pub fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The default `ce-source`: `urn:repobus:<host>:<program>`.
///
/// # Examples
///
/// ```
/// let source = repobus::envelope::default_source();
/// assert!(source.starts_with("urn:repobus:"));
/// ```
pub fn default_source() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "repobus".to_owned());
    format!("urn:repobus:{host}:{program}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event::decode("repo-sync-started", br#"{"repo_id": "pulp-f17"}"#).unwrap()
    }

    #[test]
    fn headers_follow_the_cloudevents_binding() {
        let e = Envelope::new(&event(), "urn:test", None).unwrap();
        let h = e.to_headers();
        let get = |n: &str| h.get(n).unwrap().as_str().to_owned();
        assert_eq!(get("ce-specversion"), "1.0");
        assert_eq!(
            uuid::Uuid::parse_str(&get("ce-id"))
                .unwrap()
                .get_version_num(),
            7
        );
        assert_eq!(get("Nats-Msg-Id"), get("ce-id"));
        assert_eq!(get("ce-type"), "repo-sync-started");
        assert_eq!(get("ce-subject"), "pulp-f17");
        assert_eq!(get("ce-source"), "urn:test");
        assert_eq!(get("ce-datacontenttype"), "application/json");
        assert_eq!(
            get("ce-dataschema"),
            schema::schema_id(EventType::RepoSyncStarted)
        );
        assert!(get("ce-time").ends_with('Z'));
        let back = Envelope::from_headers(Some(&h), None, || "x".into(), Utc::now()).unwrap();
        assert_eq!(back.event_id, e.event_id);
        assert_eq!(back.time_rfc3339(), e.time_rfc3339());
    }

    #[test]
    fn time_text_is_chronos_rfc3339_with_millis() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut times: Vec<DateTime<Utc>> = vec![
            "0000-01-01T00:00:00Z".parse().unwrap(),
            "9999-12-31T23:59:59.999999999Z".parse().unwrap(),
            "2012-07-06T15:49:11.5Z".parse().unwrap(),
            "2016-12-31T23:59:60.250Z".parse().unwrap(), // a leap second
            Utc::now(),
        ];
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let secs = i64::try_from(seed % 253_402_300_800).unwrap() - 62_167_219_200;
            let nanos = u32::try_from(seed % 1_000_000_000).unwrap();
            times.push(DateTime::from_timestamp(secs, nanos).unwrap());
        }
        for time in times {
            assert_eq!(
                TimeText::new(time).unwrap().as_str(),
                time.to_rfc3339_opts(SecondsFormat::Millis, true),
                "{time:?}"
            );
        }
        for text in [
            "2012-07-06T15:49:11.500Z",
            "0000-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let parsed = TimeText::parse(text).unwrap();
            assert_eq!(parsed, DateTime::parse_from_rfc3339(text).unwrap());
            assert_eq!(TimeText::new(parsed).unwrap().as_str(), text);
        }
        for other in [
            "2012-07-06T15:49:11Z",
            "2012-07-06T15:49:11.500+00:00",
            "2012-02-30T15:49:11.500Z",
            "2016-12-31T23:59:60.250Z",
            "2012-07-06T15:49:1x.500Z",
            "2012-07-06 15:49:11.500Z",
        ] {
            assert!(TimeText::parse(other).is_none(), "{other}");
        }
        let too_late = DateTime::from_timestamp(253_402_300_800, 0).unwrap();
        assert!(TimeText::new(too_late).is_none());
    }

    #[test]
    fn publish_headers_equal_the_envelopes() {
        let event = event();
        let mut envelope = Envelope::new(&event, "urn:te\nst", Some("order-42")).unwrap();
        envelope.pulp_task_id = Some("task\r1".into());
        let time = TimeText::new(envelope.time).unwrap();
        let built =
            PublishHeaders::new("urn:te\nst").build(&event, "order-42", &time, Some("task\r1"));
        assert_eq!(built, envelope.to_headers());
        assert_eq!(built.get("ce-source").unwrap().as_str(), "urn:te st");
        assert_eq!(new_event_id().len(), 36);
    }

    #[test]
    fn producer_ids_are_checked() {
        assert!(Envelope::new(&event(), "s", Some("order-42")).is_ok());
        for bad in ["", "a b", "a\r\nNats-Msg-Id: x", "\u{e9}", &"x".repeat(201)] {
            assert!(Envelope::new(&event(), "s", Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn foreign_messages_fall_back_to_the_subject_and_stream() {
        let now = Utc::now();
        let e = Envelope::from_headers(
            None,
            Some(EventType::RepoSyncStarted),
            || "REPOBUS:7".into(),
            now,
        )
        .unwrap();
        assert_eq!(e.event_id, "REPOBUS:7");
        assert_eq!(e.time, now);
        assert!(Envelope::from_headers(None, None, || "x".into(), now).is_err());
        let mut h = HeaderMap::new();
        h.insert("ce-type", "nope");
        assert!(Envelope::from_headers(
            Some(&h),
            Some(EventType::RepoSyncStarted),
            || "x".into(),
            now
        )
        .is_err());
    }
}
