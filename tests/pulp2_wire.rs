//! Pulp 2's notifier document on the wire, decoded by the event model.
//!
//! Pulp 2 (`server/pulp/server/event/`) builds every notification as
//! `event.data()`: `{"event_type": "repo.sync.finish", "payload": {...},
//! "call_report": ...}`, where `call_report` is the task status of the task
//! the event fired in (`task_serializer(TaskStatus)`) or null. The AMQP
//! notifier (`TopicPublishManager.publish`) sends `json.dumps(event.data(),
//! default=json_util.default)` on the subject `pulp.server.<event_type>`;
//! the HTTP notifier sends the same document, encoded twice by Pulp 2.8.0
//! (`requests.post(url, json=json_body)`) and once since 2.8.1.

use repobus::events::wire::{resolve_topic, Pulp2Notification, WireForm};
use repobus::inspect::inspect_line;
use repobus::{DecodeError, Event, EventType};
use serde_json::{json, Value};

const TASK_ID: &str = "4a0b6d3e-8f21-4b7c-9d5e-2c1f0a9b8e77";

const PULP_TYPES: [(EventType, &str); 4] = [
    (EventType::RepoSyncStarted, "repo.sync.start"),
    (EventType::RepoSyncFinished, "repo.sync.finish"),
    (EventType::RepoPublishStarted, "repo.publish.start"),
    (EventType::RepoPublishFinished, "repo.publish.finish"),
];

/// The task status document as Pulp 2's `task_serializer` writes it, after
/// `json_util.default` (`_id` is an ObjectId).
fn call_report(task_id: &str) -> Value {
    json!({
        "task_id": task_id,
        "worker_name": "reserved_resource_worker-0@pulp.example.com",
        "tags": ["pulp:repository:pulp-f16", "pulp:action:sync"],
        "state": "running",
        "error": null,
        "spawned_tasks": [],
        "progress_report": {"yum_importer": {"content": {"state": "FINISHED"}}},
        "task_type": "pulp.server.managers.repo.sync.sync",
        "start_time": "2016-03-15T10:21:52Z",
        "finish_time": null,
        "result": null,
        "exception": null,
        "traceback": null,
        "_ns": "task_status",
        "_id": {"$oid": "56e7e2b0e779897c86b1b64e"},
        "id": "56e7e2b0e779897c86b1b64e",
        "_href": format!("/pulp/api/v2/tasks/{task_id}/"),
    })
}

/// `event.data()` of a notifier event.
fn document(pulp_type: &str, payload: Value, call_report: Value) -> Value {
    json!({"event_type": pulp_type, "payload": payload, "call_report": call_report})
}

fn example(event_type: EventType) -> Value {
    event_type.examples()[0].clone()
}

fn bad_sync_result() -> Value {
    let mut payload = example(EventType::RepoSyncFinished);
    payload["added_count"] = json!(-1);
    payload
}

// ---------------------------------------------------------------------------
// The AMQP notifier: subject pulp.server.<event_type>, the document once
// ---------------------------------------------------------------------------

#[test]
fn amqp_subjects_resolve_to_the_four_pulp_types() {
    for (event_type, pulp_type) in PULP_TYPES {
        let subject = format!("pulp.server.{pulp_type}");
        assert_eq!(
            resolve_topic(&subject).unwrap(),
            WireForm::Pulp2Amqp(event_type),
            "{subject}"
        );
    }
    for bad in ["pulp.server.repo.delete", "pulp.server.", "pulp.server"] {
        let err = resolve_topic(bad).unwrap_err();
        assert!(matches!(err, DecodeError::UnknownTopic(_)), "{bad}: {err}");
    }
}

#[test]
fn amqp_notifier_documents_decode_onto_the_payload_event() {
    for (event_type, pulp_type) in PULP_TYPES {
        let payload = example(event_type);
        let body = document(pulp_type, payload.clone(), call_report(TASK_ID)).to_string();
        let subject = format!("pulp.server.{pulp_type}");
        let event =
            Event::decode(&subject, body.as_bytes()).unwrap_or_else(|e| panic!("{subject}: {e}"));
        assert_eq!(event.event_type(), event_type, "{subject}");
        assert_eq!(
            event.to_value(),
            payload,
            "{subject}: the payload is the event"
        );
        // The same as decoding the bare payload on the Pulp 2 event type.
        let bare = Event::decode(pulp_type, payload.to_string().as_bytes()).unwrap();
        assert_eq!(event, bare, "{subject}");
        // call_report null (an event outside a task) is just as good.
        let body = document(pulp_type, payload.clone(), Value::Null).to_string();
        assert_eq!(Event::decode(&subject, body.as_bytes()).unwrap(), bare);
    }
}

#[test]
fn amqp_payloads_are_validated_like_any_body() {
    let body = document("repo.sync.finish", bad_sync_result(), call_report(TASK_ID));
    let err =
        Event::decode("pulp.server.repo.sync.finish", body.to_string().as_bytes()).unwrap_err();
    let message = err.to_string();
    assert_eq!(err.reason(), "schema-violation", "{message}");
    assert_eq!(err.violations().len(), 1, "{message}");
    // The path is the field's path in the body as received, the notifier
    // document (the same as Pulp2Notification::decode reports).
    assert_eq!(
        err.violations()[0].path,
        "$.payload.added_count",
        "{message}"
    );
    assert!(
        message.starts_with("repo-sync-finished: $.payload.added_count: "),
        "{message}"
    );
    let bare =
        Event::decode("repo.sync.finish", bad_sync_result().to_string().as_bytes()).unwrap_err();
    assert_eq!(message, bare.to_string().replace("$.", "$.payload."));
}

#[test]
fn amqp_subject_and_document_must_name_the_same_event_type() {
    let body = document(
        "repo.sync.finish",
        example(EventType::RepoSyncFinished),
        Value::Null,
    );
    let err =
        Event::decode("pulp.server.repo.sync.start", body.to_string().as_bytes()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DecodeError::Notification { .. }), "{message}");
    assert!(
        message.contains("$.event_type")
            && message.contains("repo.sync.finish")
            && message.contains("repo.sync.start"),
        "{message}"
    );
}

#[test]
fn amqp_bodies_that_are_not_the_document_are_errors() {
    let cases: [(&str, &[u8], &[&str]); 4] = [
        (
            "bare payload",
            br#"{"repo_id": "pulp-f17"}"#,
            &["$.event_type", "is required"],
        ),
        (
            "no payload",
            br#"{"event_type": "repo.sync.start", "call_report": null}"#,
            &["$.payload", "is required"],
        ),
        (
            "an array",
            b"[1]",
            &["must be the notifier document", "an array"],
        ),
        (
            "malformed",
            b"{\"event_type\": ",
            &["malformed JSON", "pulp.server.repo.sync.start"],
        ),
    ];
    for (what, body, needles) in cases {
        let message = Event::decode("pulp.server.repo.sync.start", body)
            .unwrap_err()
            .to_string();
        for needle in needles {
            assert!(
                message.contains(needle),
                "{what}: {needle:?} not in {message:?}"
            );
        }
    }
}

#[test]
fn inspect_reads_captured_amqp_notifications() {
    let payload = example(EventType::RepoPublishFinished);
    let line = json!({
        "topic": "pulp.server.repo.publish.finish",
        "body": document("repo.publish.finish", payload.clone(), call_report(TASK_ID)),
    })
    .to_string();
    let described = inspect_line(line.as_bytes()).unwrap().to_map();
    assert_eq!(described["type"], "repo-publish-finished");
    assert_eq!(described["repo_id"], payload["repo_id"]);
    assert_eq!(described["status"], "success");
    let expected = Event::decode("repo-publish-finished", payload.to_string().as_bytes())
        .unwrap()
        .describe();
    assert_eq!(described, expected.to_map());

    // A mismatching line is an error naming both types.
    let line = json!({
        "topic": "pulp.server.repo.publish.start",
        "body": document("repo.publish.finish", payload, Value::Null),
    })
    .to_string();
    let message = inspect_line(line.as_bytes()).unwrap_err().to_string();
    assert!(
        message.contains("repo.publish.finish") && message.contains("repo.publish.start"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------
// Pulp2Notification: the HTTP notifier's body, either encoding
// ---------------------------------------------------------------------------

/// The body as Pulp 2.8.0 sends it: the JSON string holding the document.
fn twice(document: &Value) -> Vec<u8> {
    serde_json::to_vec(&document.to_string()).unwrap()
}

#[test]
fn notifications_decode_in_the_object_and_the_string_form() {
    for (event_type, pulp_type) in PULP_TYPES {
        let payload = example(event_type);
        let doc = document(pulp_type, payload.clone(), call_report(TASK_ID));
        let once = Pulp2Notification::decode(doc.to_string().as_bytes()).unwrap();
        let string = Pulp2Notification::decode(&twice(&doc)).unwrap();
        assert_eq!(once, string, "{pulp_type}");
        assert_eq!(once.event.event_type(), event_type);
        assert_eq!(once.event.to_value(), payload);
        assert_eq!(once.task_id.as_deref(), Some(TASK_ID));
        assert_eq!(Pulp2Notification::from_value(doc).unwrap(), once);
    }
}

#[test]
fn the_call_report_never_rejects_a_notification() {
    let payload = json!({"repo_id": "pulp-f17"});
    let mut without_task_id = call_report(TASK_ID);
    without_task_id.as_object_mut().unwrap().remove("task_id");
    let mut numeric_task_id = call_report(TASK_ID);
    numeric_task_id["task_id"] = json!(42);
    let absent = json!({"event_type": "repo.sync.start", "payload": payload});
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        (
            "a task status",
            document("repo.sync.start", payload.clone(), call_report(TASK_ID)),
            Some(TASK_ID),
        ),
        (
            "null",
            document("repo.sync.start", payload.clone(), Value::Null),
            None,
        ),
        ("absent", absent, None),
        (
            "without task_id",
            document("repo.sync.start", payload.clone(), without_task_id),
            None,
        ),
        (
            "a numeric task_id",
            document("repo.sync.start", payload.clone(), numeric_task_id),
            None,
        ),
        (
            "a string",
            document("repo.sync.start", payload.clone(), json!("running")),
            None,
        ),
        (
            "an array",
            document("repo.sync.start", payload.clone(), json!([TASK_ID])),
            None,
        ),
    ];
    for (what, doc, task_id) in cases {
        for body in [doc.to_string().into_bytes(), twice(&doc)] {
            let notification = Pulp2Notification::decode(&body)
                .unwrap_or_else(|e| panic!("call_report {what}: {e}"));
            assert_eq!(
                notification.task_id.as_deref(),
                task_id,
                "call_report {what}"
            );
            assert_eq!(notification.event.event_type(), EventType::RepoSyncStarted);
        }
    }
}

#[test]
fn notification_errors_name_the_problem() {
    let unknown = document("repo.delete", json!({"repo_id": "x"}), Value::Null);
    let native = document("repo-sync-started", json!({"repo_id": "x"}), Value::Null);
    let bad = document("repo.sync.finish", bad_sync_result(), call_report(TASK_ID));
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "string holding a string",
            br#""\"hello\"""#.to_vec(),
            vec!["$", "must hold the notifier document", "holds a string"],
        ),
        (
            "string holding an array",
            br#""[1]""#.to_vec(),
            vec!["must hold the notifier document", "holds an array"],
        ),
        (
            "string holding no JSON",
            br#""hello""#.to_vec(),
            vec!["must hold the notifier document", "not JSON"],
        ),
        (
            "malformed JSON",
            b"{\"event_type\"".to_vec(),
            vec!["malformed JSON"],
        ),
        (
            "null",
            b"null".to_vec(),
            vec!["must be the notifier document", "null"],
        ),
        (
            "unknown event_type",
            unknown.to_string().into_bytes(),
            vec!["$.event_type", "repo.delete"],
        ),
        (
            "unknown event_type, twice",
            twice(&unknown),
            vec!["$.event_type", "repo.delete"],
        ),
        (
            "a repobus type name",
            native.to_string().into_bytes(),
            vec!["$.event_type", "repo-sync-started"],
        ),
        (
            "event_type not a string",
            br#"{"event_type": 1, "payload": {}}"#.to_vec(),
            vec!["$.event_type", "a number"],
        ),
        (
            "no event_type",
            br#"{"payload": {"repo_id": "x"}}"#.to_vec(),
            vec!["$.event_type", "is required"],
        ),
        (
            "no payload",
            br#"{"event_type": "repo.sync.start"}"#.to_vec(),
            vec!["$.payload", "is required"],
        ),
        (
            "payload breaking the schema",
            bad.to_string().into_bytes(),
            vec!["repo-sync-finished: $.payload.added_count: "],
        ),
        (
            "payload breaking the schema, twice",
            twice(&bad),
            vec!["repo-sync-finished: $.payload.added_count: "],
        ),
    ];
    for (what, body, needles) in cases {
        let message = match Pulp2Notification::decode(&body) {
            Ok(n) => panic!("{what}: decoded as {n:?}"),
            Err(e) => e.to_string(),
        };
        for needle in needles {
            assert!(
                message.contains(needle),
                "{what}: {needle:?} not in {message:?}"
            );
        }
    }
    // The schema violation keeps its path under $.payload.
    let err = Pulp2Notification::decode(bad.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.violations()[0].path, "$.payload.added_count");
}
