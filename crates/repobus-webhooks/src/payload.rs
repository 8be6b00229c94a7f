//! What a receiver gets: the body in the endpoint's format and the
//! headers (Standard Webhooks, CloudEvents HTTP binary mode, User-Agent).

use http::{HeaderMap, HeaderName, HeaderValue};
use repobus::envelope::Envelope;
use serde_json::{json, Value};

use crate::endpoint::{Endpoint, Format};
use crate::signing::signature_header;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("repobus/", env!("CARGO_PKG_VERSION"));

/// One event ready to POST: its body and headers.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The body.
    pub body: Vec<u8>,
    /// The headers, the endpoint's own extra headers last (appended, so
    /// a name the relay sends too is sent twice).
    pub headers: HeaderMap,
}

/// The body of `wire` (the stored body) in `format`; `summary` is the
/// event's summary line (for [`Format::Text`]).
///
/// # Examples
///
/// ```
/// use repobus::{envelope::Envelope, Event};
/// use repobus_webhooks::endpoint::Format;
/// use repobus_webhooks::payload::body;
///
/// let wire = br#"{"repo_id": "pulp-f17"}"#;
/// let event = Event::decode("repo-sync-started", wire).unwrap();
/// let envelope = Envelope::new(&event, "urn:example", Some("evt-1")).unwrap();
/// assert_eq!(body(Format::Wire, wire, &envelope, "x"), wire);
/// let ce: serde_json::Value = serde_json::from_slice(&body(Format::CloudEvents, wire, &envelope, "x")).unwrap();
/// assert_eq!(ce["data"]["repo_id"], "pulp-f17");
/// assert_eq!(ce["id"], "evt-1");
/// assert_eq!(body(Format::Text, wire, &envelope, "sync of pulp-f17 started"), br#"{"text":"sync of pulp-f17 started"}"#);
/// ```
pub fn body(format: Format, wire: &[u8], envelope: &Envelope, summary: &str) -> Vec<u8> {
    match format {
        Format::Wire => wire.to_vec(),
        Format::Text => serde_json::to_vec(&json!({ "text": summary })).unwrap_or_default(),
        Format::CloudEvents => {
            let data: Value = serde_json::from_slice(wire)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(wire).into_owned()));
            let mut object = json!({
                "specversion": "1.0",
                "id": envelope.event_id,
                "source": envelope.source,
                "type": envelope.event_type.as_str(),
                "time": envelope.time_rfc3339(),
                "subject": envelope.subject,
                "dataschema": envelope.dataschema,
                "datacontenttype": "application/json",
                "data": data,
            });
            if let (Some(task), Value::Object(map)) = (&envelope.pulp_task_id, &mut object) {
                map.insert("pulptaskid".into(), Value::String(task.clone()));
            }
            serde_json::to_vec(&object).unwrap_or_default()
        }
    }
}

/// The request for `endpoint` of the event with `envelope` and stored
/// body `wire`, signed at Unix second `timestamp`.
///
/// Values are sent as they are when they are visible ASCII; control
/// characters become spaces ([`repobus::envelope::header_safe`]); a value
/// that is still not visible ASCII is left out.
///
/// # Examples
///
/// ```
/// use repobus::{envelope::Envelope, Event};
/// use repobus_webhooks::endpoint::EndpointSpec;
/// use repobus_webhooks::payload::request;
///
/// let wire = br#"{"repo_id": "pulp-f17"}"#;
/// let event = Event::decode("repo-sync-started", wire).unwrap();
/// let envelope = Envelope::new(&event, "urn:example", Some("evt-1")).unwrap();
/// let endpoint = EndpointSpec::new("a", "https://example.com/").build(&Default::default()).unwrap();
/// let request = request(&endpoint, wire, &envelope, "summary", 1_700_000_000);
/// assert_eq!(request.headers["webhook-id"], "evt-1");
/// assert_eq!(request.headers["webhook-timestamp"], "1700000000");
/// assert_eq!(request.headers["ce-type"], "repo-sync-started");
/// assert!(request.headers["webhook-signature"].to_str().unwrap().starts_with("v1,"));
/// ```
pub fn request(
    endpoint: &Endpoint,
    wire: &[u8],
    envelope: &Envelope,
    summary: &str,
    timestamp: i64,
) -> Request {
    let body = body(endpoint.format, wire, envelope, summary);
    let id = &envelope.event_id;
    let signature = signature_header(
        std::iter::once(&endpoint.secret).chain(&endpoint.previous_secrets),
        id,
        timestamp,
        &body,
    );
    let content_type = match endpoint.format {
        Format::CloudEvents => "application/cloudevents+json; charset=utf-8",
        _ => "application/json",
    };
    // Names and fixed values are static: nothing is parsed or copied for
    // them per request.
    let mut headers = HeaderMap::with_capacity(16 + endpoint.headers.len());
    let mut put = |name: &'static str, value: Option<HeaderValue>| {
        if let Some(value) = value {
            headers.append(HeaderName::from_static(name), value);
        }
    };
    put("content-type", Some(HeaderValue::from_static(content_type)));
    put("user-agent", Some(HeaderValue::from_static(USER_AGENT)));
    put("webhook-id", value(id));
    put("webhook-timestamp", Some(HeaderValue::from(timestamp)));
    put("webhook-signature", value(&signature));
    if endpoint.format != Format::CloudEvents {
        // Binary mode: the attributes in headers, the data as the body.
        put("ce-specversion", Some(HeaderValue::from_static("1.0")));
        put("ce-id", value(id));
        put("ce-source", value(&envelope.source));
        put(
            "ce-type",
            Some(HeaderValue::from_static(envelope.event_type.as_str())),
        );
        put("ce-time", value(&envelope.time_rfc3339()));
        put("ce-subject", value(&envelope.subject));
        put("ce-dataschema", value(&envelope.dataschema));
    }
    for (name, text) in &endpoint.headers {
        // Checked when the endpoint was stored.
        if let (Ok(name), Some(v)) = (HeaderName::from_bytes(name.as_bytes()), value(text)) {
            headers.append(name, v);
        }
    }
    Request { body, headers }
}

/// `text` as a header value: as it is when it is visible ASCII, with
/// control characters replaced otherwise, or `None`.
fn value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text)
        .or_else(|_| HeaderValue::from_str(&repobus::envelope::header_safe(text)))
        .ok()
}
