//! The Rust side of the Python conformance test: what repobus's accessors
//! answer for a corpus of Pulp events, written to
//! `python/repobus-messages/tests/expected.jsonl`, which pytest compares
//! with the `repobus_messages` classes. This test fails when the committed
//! file is stale; `REPOBUS_BLESS=1` rewrites it.

use repobus::{Event, EventType};
use serde_json::{json, Value};

fn corpus() -> Vec<(EventType, Value)> {
    let mut items = Vec::new();
    for t in EventType::ALL.into_iter().filter(|t| !t.is_copr()) {
        for body in t.examples() {
            items.push((t, body));
        }
    }
    // Every result, and error messages the summary cuts to a first line.
    let finished = [EventType::RepoSyncFinished, EventType::RepoPublishFinished];
    let variants: [(&str, Value); 7] = [
        ("success", Value::Null),
        ("canceled", Value::Null),
        ("failed", json!("Connection refused.\nTraceback: ...")),
        ("error", json!("Disk full...")),
        ("failed", json!("")),
        ("error", json!("  \r\nsecond line")),
        ("failed", json!("crlf line\r\nnext")),
    ];
    for t in finished {
        let base = t.examples().remove(0);
        for (result, message) in &variants {
            let mut body = base.clone();
            body["result"] = json!(result);
            body["error_message"] = message.clone();
            items.push((t, body));
        }
    }
    items
}

fn expected() -> String {
    let mut out = String::new();
    for (t, body) in corpus() {
        let event = Event::from_value(t, body.clone()).expect("corpus event decodes");
        let line = json!({
            "topic": repobus_amqp::fedora::topic(t),
            "body": body,
            "accessors": {
                "summary": event.summary(),
                "str": event.to_string(),
                "usernames": event.usernames(),
                "packages": event.packages(),
                "url": event.url(),
                "agent_name": event.agent_name(),
                "severity": event.severity().level(),
            }
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

#[test]
fn python_expected_accessors_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../python/repobus-messages/tests/expected.jsonl");
    let fresh = expected();
    if std::env::var_os("REPOBUS_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write expected.jsonl");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: run `REPOBUS_BLESS=1 cargo test -p repobus-amqp --test python_conformance`",
        path.display()
    );
}
