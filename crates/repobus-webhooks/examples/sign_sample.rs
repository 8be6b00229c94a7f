//! Prints requests the relay would send, one JSON line each (secrets,
//! headers, body), for `scripts/checks.d/50-webhooks.sh` to verify with
//! PyPI's `standardwebhooks`.

use repobus::envelope::Envelope;
use repobus::{Event, EventType};
use repobus_webhooks::endpoint::{EndpointPatch, EndpointSpec};
use repobus_webhooks::payload::request;
use repobus_webhooks::signing::Secret;

fn main() {
    let subjects = repobus::subject::Subjects::default();
    for format in ["wire", "cloudevents", "text"] {
        for event_type in EventType::ALL {
            let body = event_type.examples()[0].clone();
            let wire = serde_json::to_vec(&body).unwrap_or_default();
            let Ok(event) = Event::from_value(event_type, body) else {
                continue;
            };
            let Ok(envelope) = Envelope::new(&event, "urn:repobus:sample", None) else {
                continue;
            };
            let Ok(mut endpoint) = EndpointSpec {
                format: Some(format.into()),
                ..EndpointSpec::new("sample", "https://example.com/hook")
            }
            .build(&subjects) else {
                continue;
            };
            let old = endpoint.secret.clone();
            let new = Secret::generate();
            let rotated = endpoint.apply(
                EndpointPatch {
                    secret: Some(new.to_string()),
                    ..Default::default()
                },
                &subjects,
            );
            if rotated.is_err() {
                continue;
            }
            let now = chrono::Utc::now().timestamp();
            let req = request(&endpoint, &wire, &envelope, &event.summary(), now);
            let headers: Vec<(&str, &str)> = req
                .headers
                .iter()
                .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "secrets": [new.to_string(), old.to_string()],
                    "headers": headers,
                    "body": String::from_utf8_lossy(&req.body),
                })
            );
        }
    }
}
