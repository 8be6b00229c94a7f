//! What a receiver gets: the body in the endpoint's format and the
//! headers (Standard Webhooks, CloudEvents HTTP binary mode, User-Agent).

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
    /// The headers, the endpoint's own extra headers last.
    pub headers: Vec<(String, String)>,
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
/// let header = |name: &str| request.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
/// assert_eq!(header("webhook-id").as_deref(), Some("evt-1"));
/// assert_eq!(header("webhook-timestamp").as_deref(), Some("1700000000"));
/// assert_eq!(header("ce-type").as_deref(), Some("repo-sync-started"));
/// assert!(header("webhook-signature").unwrap().starts_with("v1,"));
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
    let safe = repobus::envelope::header_safe;
    let mut headers = vec![
        ("content-type".to_owned(), content_type.to_owned()),
        ("user-agent".to_owned(), USER_AGENT.to_owned()),
        ("webhook-id".to_owned(), safe(id)),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), signature),
    ];
    if endpoint.format != Format::CloudEvents {
        // Binary mode: the attributes in headers, the data as the body.
        headers.extend([
            ("ce-specversion".to_owned(), "1.0".to_owned()),
            ("ce-id".to_owned(), safe(id)),
            ("ce-source".to_owned(), safe(&envelope.source)),
            (
                "ce-type".to_owned(),
                envelope.event_type.as_str().to_owned(),
            ),
            ("ce-time".to_owned(), envelope.time_rfc3339()),
            ("ce-subject".to_owned(), safe(&envelope.subject)),
            ("ce-dataschema".to_owned(), safe(&envelope.dataschema)),
        ]);
    }
    headers.extend(endpoint.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    Request { body, headers }
}
