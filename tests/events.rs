//! The event model through its public API: round trips, Pulp accessors, the
//! validation rules and their error messages, Copr edge cases that the
//! copr-messaging conformance corpus (`tests/conformance.rs`) does not pin
//! down, the generated schemas, and hostile input.
//!

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use repobus::events::{BuildChroot, CoprStatus, Severity};
use repobus::{schema, schema_files, DecodeError, Event, EventType, Timestamp, Violation};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The first example body of a type (Pulp's documented example, or a real
/// Copr message).
fn example(t: EventType) -> Value {
    t.examples().remove(0)
}

fn decode(topic: &str, body: &Value) -> Result<Event, DecodeError> {
    Event::decode(topic, body.to_string().as_bytes())
}

fn ok(topic: &str, body: &Value) -> Event {
    decode(topic, body).unwrap_or_else(|e| panic!("{topic}: {e}\nbody: {body}"))
}

fn err(topic: &str, body: &Value) -> DecodeError {
    match decode(topic, body) {
        Ok(event) => panic!("{topic}: accepted {body}\nas {event:?}"),
        Err(e) => e,
    }
}

/// `body` with `key` set to `value`.
fn with(body: &Value, key: &str, value: Value) -> Value {
    let mut out = body.clone();
    out[key] = value;
    out
}

/// `body` without `key`.
fn without(body: &Value, key: &str) -> Value {
    let mut out = body.clone();
    out.as_object_mut()
        .expect("an object body")
        .remove(key)
        .unwrap_or_else(|| panic!("{key} is not in {body}"));
    out
}

fn describe(event: &Event) -> Map<String, Value> {
    event.describe().to_map()
}

/// Decodes `body` as `t`, expects a schema violation at `path` whose rule
/// contains every one of `words`, and checks the human-readable message
/// names the type, the path and the words.
fn assert_rejected(t: EventType, body: &Value, path: &str, words: &[&str]) -> DecodeError {
    let e = err(t.as_str(), body);
    let message = e.to_string();
    assert!(
        message.starts_with(&format!("{t}: ")),
        "the message does not start with the type: {message}"
    );
    assert!(
        message.contains(&format!("{path}: ")),
        "the message does not name {path}: {message}"
    );
    for word in words {
        assert!(
            message.contains(word),
            "the message lacks {word:?}: {message}"
        );
    }
    assert_eq!(e.reason(), "schema-violation", "{message}");
    assert!(
        e.violations()
            .iter()
            .any(|v| v.path == path && words.iter().all(|w| v.rule.contains(w))),
        "no structured violation at {path} with {words:?}: {:?}",
        e.violations()
    );
    e
}

const PULP_ID_FIELDS: [(EventType, &[&str]); 6] = [
    (EventType::RepoSyncStarted, &["repo_id"]),
    (
        EventType::RepoSyncFinished,
        &["repo_id", "importer_type_id", "importer_id", "id"],
    ),
    (
        EventType::RepoPublishStarted,
        &["repo_id", "distributor_id"],
    ),
    (
        EventType::RepoPublishFinished,
        &["repo_id", "distributor_type_id", "distributor_id", "id"],
    ),
    (EventType::RepoSyncProgress, &["repo_id"]),
    (
        EventType::RepoPublishProgress,
        &["repo_id", "distributor_id"],
    ),
];

const COUNTS: [&str; 3] = ["added_count", "updated_count", "removed_count"];

const FINISHED: [EventType; 2] = [EventType::RepoSyncFinished, EventType::RepoPublishFinished];

// ---------------------------------------------------------------------------
// 1. Round trips
// ---------------------------------------------------------------------------

#[test]
fn every_example_decodes_and_reencodes_unchanged() {
    let mut count = 0;
    for t in EventType::ALL {
        let examples = t.examples();
        assert!(!examples.is_empty(), "{t} has no example");
        for body in examples {
            let bytes = serde_json::to_vec(&body).unwrap();
            let event = Event::decode(t.as_str(), &bytes)
                .unwrap_or_else(|e| panic!("{t}: example rejected: {e}\n{body}"));
            assert_eq!(event.event_type(), t);
            assert_eq!(event.to_value(), body, "{t}: to_value differs");
            let reparsed: Value = serde_json::from_slice(&event.to_vec()).unwrap();
            assert_eq!(reparsed, body, "{t}: to_vec differs");
            assert_eq!(
                serde_json::to_value(&event).unwrap(),
                body,
                "{t}: Serialize"
            );
            // The same body decodes identically from a Value and by type.
            assert_eq!(
                Event::decode_value(t.as_str(), body.clone()).unwrap(),
                event
            );
            assert_eq!(Event::from_value(t, body.clone()).unwrap(), event);
            // And re-decoding the encoding is a fixed point.
            assert_eq!(Event::decode(t.as_str(), &event.to_vec()).unwrap(), event);
            count += 1;
        }
    }
    assert!(count >= 7, "only {count} examples");
}

#[test]
fn unknown_extra_fields_are_kept() {
    let extra = json!({
        "x_new_field": {"nested": [1, null, "s", {"deep": true}]},
        "another": 7,
        "n": null,
        "ns": "not the _ns field",
        "report_summary": "not the summary field",
        "ünïcode key": "värde",
    });
    for t in EventType::ALL {
        let mut body = example(t);
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let event = ok(t.as_str(), &body);
        assert_eq!(event.to_value(), body, "{t}");
        let reparsed: Value = serde_json::from_slice(&event.to_vec()).unwrap();
        assert_eq!(reparsed, body, "{t}");
    }
    // The extra fields are reachable on the typed event too.
    let body = with(
        &example(EventType::RepoSyncStarted),
        "x_new_field",
        json!([1, 2]),
    );
    match ok("repo-sync-started", &body) {
        Event::RepoSyncStarted(e) => assert_eq!(e.extra["x_new_field"], json!([1, 2])),
        other => panic!("{other:?}"),
    }
    let body = with(&example(EventType::BuildChrootEnded), "x_new", json!("v"));
    match ok("build-chroot-ended", &body) {
        Event::BuildChrootEnded(e) => assert_eq!(e.extra["x_new"], json!("v")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn timestamps_are_reencoded_verbatim() {
    let forms = [
        ("2005-05-28T01:45Z", "2005-05-28T01:45:00Z"),
        ("2012-07-06T15:49:11.250Z", "2012-07-06T15:49:11Z"),
        ("2012-07-06T15:49:11.987654321Z", "2012-07-06T15:49:11Z"),
        ("2012-07-06T15:49:11+00:00", "2012-07-06T15:49:11Z"),
        ("2012-07-06T15:49:11-00:00", "2012-07-06T15:49:11Z"),
        ("2012-07-06T15:49:11+0000", "2012-07-06T15:49:11Z"),
        ("2012-02-29T23:59:59Z", "2012-02-29T23:59:59Z"),
    ];
    for t in FINISHED {
        for (input, printed) in forms {
            let body = with(
                &with(&example(t), "started", json!(input)),
                "completed",
                json!(input),
            );
            let event = ok(t.as_str(), &body);
            assert_eq!(event.to_value(), body, "{t} {input}");
            let text = String::from_utf8(event.to_vec()).unwrap();
            assert!(
                text.contains(&format!("\"started\":\"{input}\"")),
                "{t} {input}: {text}"
            );
            assert!(
                text.contains(&format!("\"completed\":\"{input}\"")),
                "{t} {input}: {text}"
            );
            // Accessors print seconds precision, always with Z.
            let d = describe(&event);
            assert_eq!(d["started"], json!(printed), "{t} {input}");
            assert_eq!(d["completed"], json!(printed), "{t} {input}");
            assert_eq!(d["duration_seconds"], json!(0), "{t} {input}");
        }
    }
}

#[test]
fn opaque_summary_and_details_are_kept() {
    let mut deep = json!("bottom");
    for i in 0..100 {
        deep = if i % 2 == 0 {
            json!([deep])
        } else {
            json!({ "k": deep })
        };
    }
    let values = [
        Value::Null,
        json!({}),
        json!([]),
        json!([1, 2.5, -3, 0, null, "x", true, false, [], {}]),
        json!({"a": {"b": [{"c": null, "d": [1, [2, [3]]]}]}, "e": "f"}),
        json!("plain text\nwith newline and \"quotes\" and \u{0}"),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(true),
        json!({"errors": [{"code": "E1", "message": "bad ✓ 😀"}], "items_total": 12}),
        deep,
    ];
    for t in FINISHED {
        for summary in &values {
            for details in [&Value::Null, summary] {
                let body = with(
                    &with(&example(t), "summary", summary.clone()),
                    "details",
                    details.clone(),
                );
                let event = ok(t.as_str(), &body);
                assert_eq!(event.to_value(), body, "{t}: {summary}");
                let reparsed: Value = serde_json::from_slice(&event.to_vec()).unwrap();
                assert_eq!(reparsed, body, "{t}: {summary}");
                match &event {
                    Event::RepoSyncFinished(e) => {
                        assert_eq!(&e.outcome.report_summary, summary);
                        assert_eq!(&e.outcome.report_details, details);
                    }
                    Event::RepoPublishFinished(e) => {
                        assert_eq!(&e.outcome.report_summary, summary);
                        assert_eq!(&e.outcome.report_details, details);
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
    }
}

#[test]
fn opaque_numbers_are_kept_as_written() {
    // Ordinary numbers come back with the same text.
    for t in FINISHED {
        for text in [
            "0",
            "-7",
            "1.5",
            "18446744073709551615",
            "-9223372036854775808",
        ] {
            let raw = example(t).to_string().replacen(
                "\"summary\":{}",
                &format!("\"summary\":{{\"n\":{text}}}"),
                1,
            );
            assert!(raw.contains(text), "{raw}");
            let event = Event::decode(t.as_str(), raw.as_bytes()).unwrap();
            let out = String::from_utf8(event.to_vec()).unwrap();
            assert!(
                out.contains(&format!("\"summary\":{{\"n\":{text}}}")),
                "{t}: {text} came back as {out}"
            );
        }
    }
}

#[test]
fn opaque_integers_are_kept_up_to_64_bits() {
    // Documented limit (README, "Known limits"): summary/details are kept
    // verbatim except integers beyond 64 bits, which serde_json holds as
    // floats (its arbitrary_precision mode breaks #[serde(flatten)]).
    let t = EventType::RepoSyncFinished;
    for (written, read_back) in [
        ("18446744073709551615", "18446744073709551615"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("0.1", "0.1"),
        ("18446744073709551617", "1.8446744073709552e+19"),
    ] {
        let raw = example(t).to_string().replacen(
            "\"summary\":{}",
            &format!("\"summary\":{{\"n\":{written}}}"),
            1,
        );
        let event = Event::decode(t.as_str(), raw.as_bytes()).unwrap();
        let out = String::from_utf8(event.to_vec()).unwrap();
        assert!(
            out.contains(&format!("\"summary\":{{\"n\":{read_back}}}")),
            "{written} came back as {out}"
        );
    }
}

// ---------------------------------------------------------------------------
// 2. Pulp accessors
// ---------------------------------------------------------------------------

/// The accessors every Pulp event answers the same way.
fn assert_pulp_common(event: &Event) {
    assert!(event.event_type().is_pulp());
    assert!(event.usernames().is_empty(), "{event:?}");
    assert!(event.packages().is_empty(), "{event:?}");
    assert_eq!(event.url(), None);
    assert_eq!(event.agent_name(), None);
    assert!(event.build_chroot().is_none());
    assert_eq!(event.to_string(), event.summary());
    let d = describe(event);
    assert_eq!(d["type"], json!(event.event_type().as_str()));
    assert_eq!(d["status"], json!(event.status()));
    assert_eq!(d["summary"], json!(event.summary()));
    assert_eq!(d["usernames"], json!([]));
    assert_eq!(d["packages"], json!([]));
    assert_eq!(d["url"], Value::Null);
    assert_eq!(d["agent_name"], Value::Null);
    assert_eq!(d["severity"], json!(event.severity().as_str()));
    assert_eq!(
        event.repo_id().map(|r| r.as_str().to_owned()),
        d["repo_id"].as_str().map(str::to_owned)
    );
}

#[test]
fn repo_sync_started_accessors() {
    let event = ok("repo-sync-started", &json!({"repo_id": "pulp-f17"}));
    assert_pulp_common(&event);
    assert_eq!(event.event_type(), EventType::RepoSyncStarted);
    assert_eq!(event.status(), "running");
    assert_eq!(event.severity(), Severity::Info);
    assert_eq!(event.severity().level(), 20);
    assert_eq!(
        event.summary(),
        r#"Pulp repository "pulp-f17": sync started."#
    );
    assert_eq!(
        event.to_string(),
        r#"Pulp repository "pulp-f17": sync started."#
    );
    assert_eq!(event.repo_id().unwrap().as_str(), "pulp-f17");
    let d = describe(&event);
    assert_eq!(d["repo_id"], json!("pulp-f17"));
    assert_eq!(d["status"], json!("running"));
    assert_eq!(d["severity"], json!("info"));
}

#[test]
fn repo_publish_started_accessors() {
    let event = ok(
        "repo-publish-started",
        &json!({"repo_id": "pulp-f16", "distributor_id": "yum_distributor"}),
    );
    assert_pulp_common(&event);
    assert_eq!(event.event_type(), EventType::RepoPublishStarted);
    assert_eq!(event.status(), "running");
    assert_eq!(event.severity(), Severity::Info);
    assert_eq!(
        event.summary(),
        r#"Pulp repository "pulp-f16": publish by distributor "yum_distributor" started."#
    );
    assert_eq!(event.to_string(), event.summary());
    let d = describe(&event);
    assert_eq!(d["repo_id"], json!("pulp-f16"));
    assert_eq!(d["distributor_id"], json!("yum_distributor"));
    assert_eq!(d["status"], json!("running"));
}

#[test]
fn repo_sync_finished_success_accessors() {
    let event = ok("repo-sync-finished", &example(EventType::RepoSyncFinished));
    assert_pulp_common(&event);
    assert_eq!(event.status(), "success");
    assert_eq!(event.severity(), Severity::Info);
    assert_eq!(
        event.summary(),
        r#"Pulp repository "pulp-f16": sync finished as "success" (0 added, 0 updated, 0 removed)."#
    );
    let d = describe(&event);
    let expected = json!({
        "type": "repo-sync-finished",
        "repo_id": "pulp-f16",
        "id": "4ff7413a8a905b777d000072",
        "result": "success",
        "started": "2012-07-06T15:49:11Z",
        "completed": "2012-07-06T15:49:14Z",
        "duration_seconds": 3,
        "exception": null,
        "traceback": null,
        "error_message": null,
        "importer_type_id": "yum_importer",
        "importer_id": "yum_importer",
        "added_count": 0,
        "updated_count": 0,
        "removed_count": 0,
        "status": "success",
        "summary": "Pulp repository \"pulp-f16\": sync finished as \"success\" (0 added, 0 updated, 0 removed).",
        "usernames": [],
        "packages": [],
        "url": null,
        "agent_name": null,
        "severity": "info",
    });
    assert_eq!(Value::Object(d.clone()), expected);
    assert_eq!(d.keys().next().map(String::as_str), Some("type"));
    match &event {
        Event::RepoSyncFinished(e) => {
            assert_eq!(e.outcome.duration_seconds(), 3);
            assert_eq!(e.outcome.started.to_string(), "2012-07-06T15:49:11Z");
            assert_eq!(e.outcome.completed.unix_seconds(), 1341589754);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn repo_sync_finished_seed_failure_example() {
    let body = EventType::RepoSyncFinished.examples().remove(1);
    let event = ok("repo-sync-finished", &body);
    assert_pulp_common(&event);
    assert_eq!(event.status(), "failed");
    assert_eq!(event.severity(), Severity::Error);
    assert_eq!(event.severity().level(), 40);
    assert_eq!(
        event.summary(),
        r#"Pulp repository "pulp-f17": sync finished as "failed" (0 added, 0 updated, 0 removed)."#
    );
    let d = describe(&event);
    assert_eq!(d["duration_seconds"], json!(0));
    assert_eq!(d["repo_id"], json!("pulp-f17"));
    assert_eq!(d["id"], json!("4ff70cea8a905b777d00000c"));
}

#[test]
fn minute_form_timestamps_print_with_seconds() {
    let body = with(
        &with(
            &example(EventType::RepoSyncFinished),
            "started",
            json!("2005-05-28T01:45Z"),
        ),
        "completed",
        json!("2005-05-28T01:47:30.900Z"),
    );
    let event = ok("repo-sync-finished", &body);
    let d = describe(&event);
    assert_eq!(d["started"], json!("2005-05-28T01:45:00Z"));
    assert_eq!(d["completed"], json!("2005-05-28T01:47:30Z"));
    assert_eq!(d["duration_seconds"], json!(150));
    // The body itself is unchanged.
    assert_eq!(event.to_value()["started"], json!("2005-05-28T01:45Z"));
    assert_eq!(
        event.to_value()["completed"],
        json!("2005-05-28T01:47:30.900Z")
    );
}

#[test]
fn every_result_gives_status_summary_and_severity() {
    let cases = [
        ("success", Severity::Info),
        ("failed", Severity::Error),
        ("error", Severity::Error),
        ("canceled", Severity::Warning),
    ];
    for (result, severity) in cases {
        let sync = ok(
            "repo-sync-finished",
            &with(
                &example(EventType::RepoSyncFinished),
                "result",
                json!(result),
            ),
        );
        assert_pulp_common(&sync);
        assert_eq!(sync.status(), result);
        assert_eq!(sync.severity(), severity, "{result}");
        assert_eq!(describe(&sync)["result"], json!(result));
        assert_eq!(describe(&sync)["status"], json!(result));
        assert_eq!(
            sync.summary(),
            format!(
                r#"Pulp repository "pulp-f16": sync finished as "{result}" (0 added, 0 updated, 0 removed)."#
            )
        );
        let publish = ok(
            "repo-publish-finished",
            &with(
                &example(EventType::RepoPublishFinished),
                "result",
                json!(result),
            ),
        );
        assert_pulp_common(&publish);
        assert_eq!(publish.status(), result);
        assert_eq!(publish.severity(), severity, "{result}");
        assert_eq!(
            publish.summary(),
            format!(
                r#"Pulp repository "pulp-f16": publish by distributor "yum_distributor" finished as "{result}"."#
            )
        );
        assert_eq!(publish.to_string(), publish.summary());
    }
    assert_eq!(Severity::Warning.level(), 30);
    assert_eq!(Severity::Warning.as_str(), "warning");
    assert_eq!(Severity::Error.as_str(), "error");
}

#[test]
fn failed_sync_summary_shows_only_the_first_line_of_the_error() {
    let body = json!({
        "importer_type_id": "yum_importer", "importer_id": "yum_importer",
        "exception": "ConnectionError('refused')",
        "repo_id": "pulp-f17", "removed_count": 1,
        "started": "2012-07-06T12:06:02Z", "_ns": "repo_sync_results",
        "completed": "2012-07-06T12:07:03Z",
        "traceback": "Traceback (most recent call last):\n  File \"sync.py\", line 3\nConnectionError",
        "summary": {"errors": 1},
        "added_count": 5,
        "error_message": "Connection refused\n  while fetching repodata/repomd.xml\nretry later",
        "updated_count": 2, "details": null,
        "id": "4ff70cea8a905b777d00000c", "result": "failed"
    });
    let event = ok("repo-sync-finished", &body);
    assert_pulp_common(&event);
    assert_eq!(
        event.summary(),
        r#"Pulp repository "pulp-f17": sync finished as "failed": Connection refused (5 added, 2 updated, 1 removed)."#
    );
    assert_eq!(event.to_string(), event.summary());
    assert_eq!(event.severity(), Severity::Error);
    let d = describe(&event);
    assert_eq!(d["error_message"], body["error_message"]);
    assert_eq!(d["exception"], body["exception"]);
    assert_eq!(d["traceback"], body["traceback"]);
    assert_eq!(d["added_count"], json!(5));
    assert_eq!(d["updated_count"], json!(2));
    assert_eq!(d["removed_count"], json!(1));
    assert_eq!(d["duration_seconds"], json!(61));

    // CRLF line ends and trailing blanks are not part of the first line.
    let crlf = with(&body, "error_message", json!("Disk full   \r\nsecond"));
    assert_eq!(
        ok("repo-sync-finished", &crlf).summary(),
        r#"Pulp repository "pulp-f17": sync finished as "failed": Disk full (5 added, 2 updated, 1 removed)."#
    );
    // An empty or blank first line leaves the message out.
    for blank in ["", "\nsecond line", "   \nsecond"] {
        let b = with(&body, "error_message", json!(blank));
        assert_eq!(
            ok("repo-sync-finished", &b).summary(),
            r#"Pulp repository "pulp-f17": sync finished as "failed" (5 added, 2 updated, 1 removed)."#,
            "{blank:?}"
        );
    }

    // Same rule for a failed publish.
    let publish = json!({
        "exception": "OSError(28)", "repo_id": "pulp-f16",
        "started": "2012-07-06T15:53:41Z", "_ns": "repo_publish_results",
        "completed": "2012-07-06T15:53:43Z", "traceback": "Traceback\nOSError",
        "distributor_type_id": "yum_distributor", "summary": null,
        "error_message": "No space left on device\n/var/lib/pulp", "details": null,
        "distributor_id": "yum_distributor", "id": "4ff742478a905b777d00008b",
        "result": "error"
    });
    let event = ok("repo-publish-finished", &publish);
    assert_eq!(
        event.summary(),
        r#"Pulp repository "pulp-f16": publish by distributor "yum_distributor" finished as "error": No space left on device."#
    );
    assert_eq!(event.severity(), Severity::Error);
}

#[test]
fn repo_publish_finished_accessors() {
    let event = ok(
        "repo-publish-finished",
        &example(EventType::RepoPublishFinished),
    );
    assert_pulp_common(&event);
    assert_eq!(event.status(), "success");
    let d = describe(&event);
    let expected = json!({
        "type": "repo-publish-finished",
        "repo_id": "pulp-f16",
        "distributor_id": "yum_distributor",
        "id": "4ff742478a905b777d00008b",
        "result": "success",
        "started": "2012-07-06T15:53:41Z",
        "completed": "2012-07-06T15:53:43Z",
        "duration_seconds": 2,
        "exception": null,
        "traceback": null,
        "error_message": null,
        "distributor_type_id": "yum_distributor",
        "status": "success",
        "summary": "Pulp repository \"pulp-f16\": publish by distributor \"yum_distributor\" finished as \"success\".",
        "usernames": [],
        "packages": [],
        "url": null,
        "agent_name": null,
        "severity": "info",
    });
    assert_eq!(Value::Object(d), expected);
}

#[test]
fn large_counts_are_accepted_and_summarized() {
    let body = with(
        &with(
            &with(
                &example(EventType::RepoSyncFinished),
                "added_count",
                json!(u64::MAX),
            ),
            "updated_count",
            json!(12345),
        ),
        "removed_count",
        json!(1),
    );
    let event = ok("repo-sync-finished", &body);
    assert_eq!(
        event.summary(),
        format!(
            r#"Pulp repository "pulp-f16": sync finished as "success" ({} added, 12345 updated, 1 removed)."#,
            u64::MAX
        )
    );
    assert_eq!(describe(&event)["added_count"], json!(u64::MAX));
    assert_eq!(event.to_value(), body);
}

// ---------------------------------------------------------------------------
// 5. Pulp 2 server event types
// ---------------------------------------------------------------------------

#[test]
fn pulp2_event_types_decode_to_the_right_types() {
    let cases = [
        ("repo.sync.start", EventType::RepoSyncStarted),
        ("repo.sync.finish", EventType::RepoSyncFinished),
        ("repo.publish.start", EventType::RepoPublishStarted),
        ("repo.publish.finish", EventType::RepoPublishFinished),
    ];
    for (topic, t) in cases {
        let body = example(t);
        let event = ok(topic, &body);
        assert_eq!(event.event_type(), t, "{topic}");
        assert_eq!(event, ok(t.as_str(), &body), "{topic}");
        assert_eq!(event.to_value(), body, "{topic}");
        // A body of the wrong shape on a Pulp 2 topic is rejected as that type.
        let e = err(topic, &json!({}));
        assert!(
            e.to_string()
                .starts_with(&format!("{t}: $.repo_id: is required")),
            "{e}"
        );
    }
    // Pulp bodies are never unwrapped from a fedmsg envelope.
    let e = err("repo.sync.start", &json!({"msg": {"repo_id": "pulp-f17"}}));
    assert!(e.to_string().contains("$.repo_id: is required"), "{e}");
}

// ---------------------------------------------------------------------------
// 3. Rules and clear errors
// ---------------------------------------------------------------------------

#[test]
fn every_missing_field_of_repo_sync_finished_is_named() {
    let t = EventType::RepoSyncFinished;
    let body = example(t);
    let keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 16);
    assert!(keys.iter().any(|k| k == "_ns"));
    for key in &keys {
        let path = format!("$.{key}");
        let e = assert_rejected(t, &without(&body, key), &path, &["is required"]);
        assert_eq!(
            e.violations(),
            [Violation {
                path: path.clone(),
                rule: "is required".into()
            }],
            "{key}"
        );
        assert_eq!(
            e.to_string(),
            format!("repo-sync-finished: {path}: is required")
        );
    }
}

#[test]
fn every_missing_field_of_every_type_is_named() {
    for t in EventType::ALL {
        let body = example(t);
        for key in body.as_object().unwrap().keys() {
            assert_rejected(
                t,
                &without(&body, key),
                &format!("$.{key}"),
                &["is required"],
            );
        }
    }
}

#[test]
fn null_is_not_accepted_for_required_non_nullable_fields() {
    let t = EventType::RepoSyncFinished;
    for key in [
        "repo_id",
        "importer_id",
        "added_count",
        "_ns",
        "id",
        "result",
        "started",
        "completed",
    ] {
        assert_rejected(
            t,
            &with(&example(t), key, Value::Null),
            &format!("$.{key}"),
            &["null"],
        );
    }
    // ... but it is for the nullable ones.
    for key in [
        "exception",
        "traceback",
        "error_message",
        "summary",
        "details",
    ] {
        ok(t.as_str(), &with(&example(t), key, Value::Null));
    }
}

#[test]
fn wrong_ns_is_rejected() {
    assert_rejected(
        EventType::RepoSyncFinished,
        &with(
            &example(EventType::RepoSyncFinished),
            "_ns",
            json!("repo_publish_results"),
        ),
        "$._ns",
        &[
            "\"repo_publish_results\"",
            "is not one of",
            "repo_sync_results",
        ],
    );
    assert_rejected(
        EventType::RepoPublishFinished,
        &with(
            &example(EventType::RepoPublishFinished),
            "_ns",
            json!("repo_sync_results"),
        ),
        "$._ns",
        &[
            "\"repo_sync_results\"",
            "is not one of",
            "repo_publish_results",
        ],
    );
}

#[test]
fn result_outside_the_enum_is_rejected() {
    for t in FINISHED {
        for bad in [
            json!("succeeded"),
            json!("SUCCESS"),
            json!(""),
            json!("cancelled"),
        ] {
            assert_rejected(
                t,
                &with(&example(t), "result", bad.clone()),
                "$.result",
                &[
                    &bad.to_string(),
                    "is not one of",
                    "success",
                    "failed",
                    "error",
                    "canceled",
                ],
            );
        }
        assert_rejected(
            t,
            &with(&example(t), "result", json!(1)),
            "$.result",
            &["must be a string"],
        );
    }
}

#[test]
fn counts_must_be_non_negative_integers() {
    let t = EventType::RepoSyncFinished;
    for count in COUNTS {
        let path = format!("$.{count}");
        assert_rejected(
            t,
            &with(&example(t), count, json!(-1)),
            &path,
            &["-1", "minimum", "non-negative integer"],
        );
        assert_rejected(
            t,
            &with(&example(t), count, json!("5")),
            &path,
            &["\"5\"", "must be an integer"],
        );
        assert_rejected(
            t,
            &with(&example(t), count, json!(1.5)),
            &path,
            &["1.5", "must be an integer"],
        );
        // An integral float passes the schema but is not an integer count.
        let e = err(t.as_str(), &with(&example(t), count, json!(3.0)));
        assert!(e.to_string().contains(&path), "{e}");
        assert_eq!(e.violations()[0].path, path);
    }
}

#[test]
fn bad_resource_ids_are_rejected_naming_the_character() {
    let bad = [
        ("a b", "' '"),
        ("a/b", "'/'"),
        ("repo*", "'*'"),
        ("repo>", "'>'"),
        ("dépôt", "'é'"),
        ("abc\n", "'\\n'"),
        ("a.b:c", "':'"),
    ];
    for (t, fields) in PULP_ID_FIELDS {
        for field in fields {
            let path = format!("$.{field}");
            for (id, character) in bad {
                assert_rejected(
                    t,
                    &with(&example(t), field, json!(id)),
                    &path,
                    &["is not a resource ID", character, "is not allowed"],
                );
            }
            let e = assert_rejected(
                t,
                &with(&example(t), field, json!("")),
                &path,
                &["must not be empty"],
            );
            assert!(e.violations().iter().all(|v| v.path == path), "{e}");
            assert_rejected(
                t,
                &with(&example(t), field, json!(42)),
                &path,
                &["42 must be a string"],
            );
        }
    }
    // Everything Pulp allows is accepted.
    let event = ok(
        "repo-publish-started",
        &json!({"repo_id": "A-Z_a.z-0.9", "distributor_id": "x"}),
    );
    assert_eq!(event.repo_id().unwrap().as_str(), "A-Z_a.z-0.9");
}

#[test]
fn impossible_or_non_utc_timestamps_are_rejected() {
    let cases: [(&str, &[&str]); 9] = [
        ("2012-13-06T15:49:11Z", &["month 13 is out of range"]),
        ("2012-00-06T15:49:11Z", &["month 0 is out of range"]),
        ("2012-07-06T99:49:11Z", &["hour 99 is out of range"]),
        ("2012-07-06T15:60Z", &["minute 60 is out of range"]),
        ("2012-02-30T00:00Z", &["day 30 does not exist in 2012-02"]),
        ("2011-02-29T00:00Z", &["day 29 does not exist in 2011-02"]),
        (
            "2012-04-31T00:00:00Z",
            &["day 31 does not exist in 2012-04"],
        ),
        ("2012-07-06T15:49:11+02:00", &["\"+02:00\"", "not UTC"]),
        ("2012-07-06", &["is not a UTC ISO 8601 date-time"]),
    ];
    for t in FINISHED {
        for field in ["started", "completed"] {
            let path = format!("$.{field}");
            for (input, words) in cases {
                let mut words = words.to_vec();
                words.push(input);
                let e = assert_rejected(t, &with(&example(t), field, json!(input)), &path, &words);
                assert_eq!(e.violations().len(), 1, "{e}");
            }
            for other in [
                "2012-07-06T15:49:11",
                "2012-07-06 15:49:11Z",
                "2012-07-06T15:49:11z",
                "1341589751",
                "",
                "2012-07-06T15:49:11Z\n",
            ] {
                assert_rejected(t, &with(&example(t), field, json!(other)), &path, &["UTC"]);
            }
            assert_rejected(
                t,
                &with(&example(t), field, json!(1341589751)),
                &path,
                &["must be a string"],
            );
        }
    }
    // The checks agree with Timestamp::parse.
    for (input, _) in cases {
        assert!(
            input.parse::<Timestamp>().is_err() || input == "2012-07-06",
            "{input}"
        );
    }
}

#[test]
fn malformed_json_is_named_as_such() {
    for t in EventType::ALL {
        for body in [
            "",
            "{",
            "{\"repo_id\": }",
            "{'repo_id': 'x'}",
            "[1,]",
            "nul",
            "{} x",
        ] {
            let e = Event::decode(t.as_str(), body.as_bytes()).unwrap_err();
            let message = e.to_string();
            assert!(
                message.starts_with(&format!("{t}: malformed JSON: ")),
                "{body:?}: {message}"
            );
            assert!(message.contains("line 1 column"), "{message}");
            assert_eq!(e.reason(), "malformed-json");
            assert!(e.violations().is_empty());
        }
    }
    // The topic as received is named, not the type it maps to.
    let e = Event::decode("org.fedoraproject.prod.copr.build.end", b"{").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("org.fedoraproject.prod.copr.build.end: malformed JSON"),
        "{e}"
    );
}

#[test]
fn a_body_that_is_not_an_object_is_rejected() {
    for t in EventType::ALL {
        for body in [
            json!([]),
            json!("text"),
            Value::Null,
            json!(1),
            json!(true),
            json!([{}]),
        ] {
            assert_rejected(t, &body, "$", &[&body.to_string(), "must be an object"]);
        }
    }
    // A fedmsg envelope whose msg is not an object is rejected the same way.
    assert_rejected(
        EventType::BuildChrootStarted,
        &json!({"msg": "hello"}),
        "$",
        &["\"hello\" must be an object"],
    );
}

#[test]
fn unknown_topics_are_rejected_listing_the_known_ones() {
    for topic in [
        "",
        "repo-sync-start",
        "repo.sync",
        "REPO-SYNC-STARTED",
        "copr.build.started",
        "xcopr.build.start",
        ".copr.build.start",
        "copr.build",
        "build.started",
    ] {
        let e = Event::decode(topic, br#"{"repo_id": "x"}"#).unwrap_err();
        let message = e.to_string();
        assert!(
            message.starts_with(&format!("unknown topic {topic:?}")),
            "{message}"
        );
        for known in [
            "repo-sync-started",
            "repo.sync.finish",
            "copr.build.start",
            "build.end",
        ] {
            assert!(message.contains(known), "{message}");
        }
        assert_eq!(e.reason(), "unknown-topic");
        assert!(e.violations().is_empty());
        assert!(matches!(e, DecodeError::UnknownTopic(ref t) if t == topic));
    }
    // An unknown topic is reported before the body is even parsed.
    assert_eq!(
        Event::decode("nope", b"{").unwrap_err().reason(),
        "unknown-topic"
    );
}

#[test]
fn several_violations_are_reported_together() {
    let t = EventType::RepoSyncFinished;
    let body = with(
        &with(&example(t), "repo_id", json!("a b")),
        "added_count",
        json!(-1),
    );
    let e = err(t.as_str(), &body);
    let message = e.to_string();
    assert!(message.starts_with("repo-sync-finished: "), "{message}");
    assert!(message.contains("$.repo_id: "), "{message}");
    assert!(message.contains("$.added_count: "), "{message}");
    assert!(
        message.contains("; "),
        "violations are joined with '; ': {message}"
    );
    let paths: Vec<&str> = e.violations().iter().map(|v| v.path.as_str()).collect();
    assert!(
        paths.contains(&"$.repo_id") && paths.contains(&"$.added_count"),
        "{paths:?}"
    );
    assert_eq!(paths.len(), 2, "{paths:?}");

    // Three problems of three kinds: missing, enum, type.
    let body = with(
        &with(&without(&example(t), "importer_id"), "result", json!("ok")),
        "exception",
        json!(5),
    );
    let e = err(t.as_str(), &body);
    let paths: Vec<&str> = e.violations().iter().map(|v| v.path.as_str()).collect();
    for p in ["$.importer_id", "$.result", "$.exception"] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
        assert!(e.to_string().contains(p), "{e}");
    }
    // Every violation's Display is "path: rule", and the error joins them.
    let joined: Vec<String> = e.violations().iter().map(ToString::to_string).collect();
    assert_eq!(
        e.to_string(),
        format!("repo-sync-finished: {}", joined.join("; "))
    );
}

#[test]
fn an_impossible_day_is_reported_with_other_violations() {
    // Every broken rule is reported, the day-of-month check included.
    let t = EventType::RepoSyncFinished;
    let body = with(
        &with(&example(t), "added_count", json!(-1)),
        "started",
        json!("2012-02-30T00:00Z"),
    );
    let e = err(t.as_str(), &body);
    let paths: Vec<&str> = e.violations().iter().map(|v| v.path.as_str()).collect();
    assert!(paths.contains(&"$.added_count"), "{e}");
    assert!(paths.contains(&"$.started"), "{e}");
}

#[test]
fn violations_are_structured() {
    let t = EventType::RepoPublishFinished;
    let body = with(
        &with(&example(t), "distributor_id", json!("a/b")),
        "completed",
        json!("2012-07-06T25:00Z"),
    );
    let e = err(t.as_str(), &body);
    match &e {
        DecodeError::Invalid {
            event_type,
            violations,
        } => {
            assert_eq!(*event_type, t);
            assert_eq!(violations.as_slice(), e.violations());
        }
        other => panic!("{other:?}"),
    }
    let mut paths: Vec<&str> = e.violations().iter().map(|v| v.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["$.completed", "$.distributor_id"]);
    let completed = e
        .violations()
        .iter()
        .find(|v| v.path == "$.completed")
        .unwrap();
    assert!(
        completed.rule.contains("hour 25 is out of range"),
        "{}",
        completed.rule
    );
    assert_eq!(
        completed.to_string(),
        format!("$.completed: {}", completed.rule)
    );
    let id = e
        .violations()
        .iter()
        .find(|v| v.path == "$.distributor_id")
        .unwrap();
    assert!(
        id.rule
            .starts_with("\"a/b\" is not a resource ID: '/' at byte 1"),
        "{}",
        id.rule
    );
}

#[test]
fn type_errors_on_nullable_fields_read_well() {
    let t = EventType::RepoSyncFinished;
    let e = assert_rejected(
        t,
        &with(&example(t), "exception", json!(5)),
        "$.exception",
        &["5 must be a string or null"],
    );
    let rule = &e.violations()[0].rule;
    assert_eq!(
        rule.matches('(').count(),
        rule.matches(')').count(),
        "unbalanced parentheses: {rule}"
    );
    assert!(rule.contains("string") && rule.contains("null"), "{rule}");
}

#[test]
fn copr_status_of_the_wrong_type_is_named() {
    let t = EventType::BuildChrootEnded;
    assert_rejected(
        t,
        &with(&example(t), "status", json!("1")),
        "$.status",
        &["\"1\" must be an integer"],
    );
}

// ---------------------------------------------------------------------------
// 4. Copr
// ---------------------------------------------------------------------------

fn copr_body(owner: &str, user: Value, pkg: Value, version: Value, chroot: &str) -> Value {
    json!({
        "status": 3,
        "what": "build start: ...",
        "chroot": chroot,
        "ip": "172.25.93.20",
        "user": user,
        "who": "backend.worker-23551-PC",
        "pid": 3762,
        "copr": "python3.8",
        "version": version,
        "build": 945012,
        "owner": owner,
        "pkg": pkg,
    })
}

#[test]
fn builder_started_writes_copr_style_what() {
    let pid = std::process::id();
    let started = BuildChroot::builder(945012, "@python", "python3.8", "fedora-rawhide-x86_64")
        .package("python-hypothesis", "4.23.8-1.fc31")
        .user("churchyard")
        .ip("172.25.93.20")
        .started();
    assert_eq!(
        started.what,
        format!("build start: user:churchyard copr:python3.8 pkg:python-hypothesis build:945012 ip:172.25.93.20 pid:{pid}")
    );
    assert!(!started.who.is_empty());
    assert!(started.who.starts_with("repobus."), "{}", started.who);
    assert_eq!(started.pid, u64::from(pid));
    assert_eq!(started.status, CoprStatus::Running);
    assert_eq!(started.build, 945012);
    assert_eq!(started.chroot(), "fedora-rawhide-x86_64");
    assert_eq!(started.version.as_deref(), Some("4.23.8-1.fc31"));

    let event = Event::from(started.clone());
    assert_eq!(event.status(), "running");
    assert_eq!(event.agent_name().as_deref(), Some("churchyard"));
    assert_eq!(
        event.summary(),
        r#"Copr Message in project "@python/python3.8": build 945012: chroot "fedora-rawhide-x86_64" started."#
    );

    let bytes = event.to_vec();
    let decoded = Event::decode("build-chroot-started", &bytes).unwrap();
    assert_eq!(decoded, event);
    assert_eq!(decoded.to_vec(), bytes);
    // The real wire topic decodes it too.
    assert_eq!(
        Event::decode("org.fedoraproject.prod.copr.build.start", &bytes).unwrap(),
        event
    );
    // And every field Copr sends is present.
    let value = event.to_value();
    for key in example(EventType::BuildChrootStarted)
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(value.get(key).is_some(), "{key} missing from {value}");
    }
}

#[test]
fn builder_ended_writes_copr_style_what() {
    let pid = std::process::id();
    for status in CoprStatus::ALL {
        let ended = BuildChroot::builder(942697, "kbaig", "test", "fedora-29-x86_64")
            .package("tkn", "0.1.2-1.fc30")
            .user("kbaig")
            .ip("172.25.91.143")
            .ended(status);
        assert_eq!(
            ended.what,
            format!(
                "build end: user:kbaig copr:test build:942697 pkg:tkn version:0.1.2-1.fc30 ip:172.25.91.143 pid:{pid} status:{}",
                status.code()
            )
        );
        assert_eq!(ended.status, status);
        assert_eq!(ended.pid, u64::from(pid));
        let event = Event::from(ended);
        assert_eq!(event.status(), status.as_str());
        assert_eq!(event.agent_name(), None);
        assert_eq!(
            event.summary(),
            format!(
                r#"Copr Message in project "kbaig/test": build 942697: chroot "fedora-29-x86_64" ended as "{}"."#,
                status.as_str()
            )
        );
        let decoded = Event::decode("build-chroot-ended", &event.to_vec()).unwrap();
        assert_eq!(decoded, event);
    }
}

#[test]
fn builder_without_optional_fields_writes_none() {
    let pid = std::process::id();
    let started = BuildChroot::builder(7, "owner", "proj", "srpm-builds")
        .who("copr-backend")
        .started();
    assert_eq!(
        started.what,
        format!("build start: user:None copr:proj pkg:None build:7 ip:None pid:{pid}")
    );
    assert_eq!(started.who, "copr-backend");
    let event = Event::from(started);
    let value = event.to_value();
    for key in ["ip", "user", "pkg", "version"] {
        assert_eq!(value[key], Value::Null, "{key}");
    }
    assert_eq!(
        Event::decode("build-chroot-started", &event.to_vec()).unwrap(),
        event
    );
    assert_eq!(event.agent_name(), None);
    assert_eq!(event.usernames(), ["owner"]);
    assert!(event.packages().is_empty());

    let ended = BuildChroot::builder(7, "owner", "proj", "srpm-builds").ended(CoprStatus::Failed);
    assert_eq!(
        ended.what,
        format!("build end: user:None copr:proj build:7 pkg:None version:None ip:None pid:{pid} status:0")
    );
}

#[test]
fn srpm_builds_have_no_package() {
    for t in ["build-chroot-started", "build-chroot-ended"] {
        let body = copr_body(
            "kbaig",
            json!("kbaig"),
            Value::Null,
            Value::Null,
            "srpm-builds",
        );
        let event = ok(t, &body);
        let b = event.build_chroot().unwrap();
        assert_eq!(b.chroot(), "srpm-builds");
        assert_eq!(b.package_name(), None);
        assert_eq!(b.package_version(), None);
        assert_eq!(b.package_release(), None);
        assert_eq!(b.package_epoch(), None);
        assert_eq!(b.package_full_name(), None);
        assert!(event.packages().is_empty());
        let d = describe(&event);
        for key in [
            "package_name",
            "package_epoch",
            "package_version",
            "package_release",
            "package_full_name",
        ] {
            assert_eq!(d[key], Value::Null, "{t} {key}");
        }
        assert_eq!(d["packages"], json!([]));
        assert_eq!(event.to_value(), body);
    }
}

#[test]
fn epoch_is_split_off_the_version() {
    let body = copr_body(
        "@copr",
        json!("praiskup"),
        json!("copr-frontend"),
        json!("10:20190626_1356-0"),
        "fedora-30-x86_64",
    );
    let event = ok("build-chroot-started", &body);
    let b = event.build_chroot().unwrap();
    assert_eq!(b.package_name(), Some("copr-frontend"));
    assert_eq!(b.package_epoch(), Some("10"));
    assert_eq!(b.package_version(), Some("20190626_1356"));
    assert_eq!(b.package_release(), Some("0"));
    assert_eq!(
        b.package_full_name().as_deref(),
        Some("copr-frontend-10:20190626_1356-0")
    );
    assert_eq!(event.packages(), ["copr-frontend"]);
    // Without an epoch, none.
    let plain = ok(
        "build-chroot-started",
        &with(&body, "version", json!("1.0-1.fc30")),
    );
    assert_eq!(plain.build_chroot().unwrap().package_epoch(), None);
    assert_eq!(
        plain.build_chroot().unwrap().package_full_name().as_deref(),
        Some("copr-frontend-1.0-1.fc30")
    );
}

#[test]
fn group_owners_are_not_usernames() {
    let body = copr_body(
        "@copr",
        json!("praiskup"),
        json!("p"),
        json!("1-1"),
        "fedora-30-x86_64",
    );
    let event = ok("build-chroot-started", &body);
    assert_eq!(event.usernames(), ["praiskup"]);
    assert_eq!(event.build_chroot().unwrap().project_owner(), "@copr");
    assert_eq!(
        event.build_chroot().unwrap().project_full_name(),
        "@copr/python3.8"
    );

    // A user owner is listed with the submitter, sorted, once.
    let body = copr_body("zoe", json!("adam"), json!("p"), json!("1-1"), "c");
    assert_eq!(ok("build-chroot-ended", &body).usernames(), ["adam", "zoe"]);
    let body = copr_body("kbaig", json!("kbaig"), json!("p"), json!("1-1"), "c");
    assert_eq!(ok("build-chroot-ended", &body).usernames(), ["kbaig"]);
    // Group owner and no user: nobody.
    let body = copr_body("@copr", Value::Null, json!("p"), json!("1-1"), "c");
    assert!(ok("build-chroot-ended", &body).usernames().is_empty());
}

#[test]
fn namespaced_submitters_are_not_users() {
    let body = copr_body(
        "@python",
        json!("github.com:someone"),
        json!("p"),
        json!("1-1"),
        "c",
    );
    let event = ok("build-chroot-started", &body);
    assert_eq!(event.build_chroot().unwrap().submitter(), None);
    assert_eq!(event.agent_name(), None);
    assert!(event.usernames().is_empty(), "{:?}", event.usernames());
    assert_eq!(describe(&event)["submitter"], Value::Null);
    assert_eq!(describe(&event)["agent_name"], Value::Null);
    // The body keeps the namespaced name.
    assert_eq!(event.to_value()["user"], json!("github.com:someone"));

    let body = copr_body(
        "owner",
        json!("github.com:someone"),
        json!("p"),
        json!("1-1"),
        "c",
    );
    assert_eq!(ok("build-chroot-started", &body).usernames(), ["owner"]);
}

#[test]
fn ended_events_have_no_agent() {
    let event = ok("build-chroot-ended", &example(EventType::BuildChrootEnded));
    assert_eq!(event.build_chroot().unwrap().submitter(), Some("kbaig"));
    assert_eq!(event.agent_name(), None);
    assert_eq!(describe(&event)["agent_name"], Value::Null);
    assert_eq!(event.status(), "failed");
    // Copr build messages stay at info, even for failures.
    assert_eq!(event.severity(), Severity::Info);
    assert_eq!(
        event.summary(),
        r#"Copr Message in project "kbaig/test": build 942697: chroot "fedora-29-x86_64" ended as "failed"."#
    );
}

#[test]
fn every_copr_status_round_trips() {
    let names = [
        (0, "failed"),
        (1, "succeeded"),
        (2, "canceled"),
        (3, "running"),
        (4, "pending"),
        (5, "skipped"),
        (6, "starting"),
        (7, "importing"),
        (8, "forked"),
        (9, "waiting"),
        (1000, "unknown"),
    ];
    assert_eq!(CoprStatus::ALL.len(), names.len());
    for (status, (code, name)) in CoprStatus::ALL.into_iter().zip(names) {
        assert_eq!(status.code(), code);
        assert_eq!(status.as_str(), name);
        assert_eq!(status.to_string(), name);
        assert_eq!(CoprStatus::from_code(code), Some(status));
        for t in [EventType::BuildChrootStarted, EventType::BuildChrootEnded] {
            let body = with(&example(t), "status", json!(code));
            let event = ok(t.as_str(), &body);
            assert_eq!(event.status(), name, "{t} {code}");
            assert_eq!(event.build_chroot().unwrap().status(), status);
            assert_eq!(describe(&event)["status"], json!(name));
            assert_eq!(event.to_value()["status"], json!(code));
            assert_eq!(event.to_value(), body);
        }
    }
    for code in [-1, 10, 42, 999, 1001] {
        assert_eq!(CoprStatus::from_code(code), None, "{code}");
    }
}

#[test]
fn unknown_copr_status_is_rejected() {
    for t in [EventType::BuildChrootStarted, EventType::BuildChrootEnded] {
        for code in [json!(42), json!(-1), json!(10), json!(1001)] {
            assert_rejected(
                t,
                &with(&example(t), "status", code.clone()),
                "$.status",
                &[&code.to_string(), "is not one of", "1000"],
            );
        }
        // Wrapped in an envelope and on the fedmsg topic, same message.
        let topic = if t == EventType::BuildChrootStarted {
            "copr.build.start"
        } else {
            "copr.build.end"
        };
        let e = err(
            topic,
            &json!({"msg": with(&example(t), "status", json!(42))}),
        );
        assert!(
            e.to_string()
                .starts_with(&format!("{t}: $.status: 42 is not one of")),
            "{e}"
        );
    }
}

#[test]
fn copr_urls_for_user_and_group_owners() {
    let user = ok("build-chroot-ended", &example(EventType::BuildChrootEnded));
    assert_eq!(
        user.url().as_deref(),
        Some("https://copr.fedorainfracloud.org/coprs/kbaig/test/build/942697/")
    );
    let group = ok(
        "build-chroot-started",
        &example(EventType::BuildChrootStarted),
    );
    assert_eq!(
        group.url().as_deref(),
        Some("https://copr.fedorainfracloud.org/coprs/g/python/python3.8/build/945012/")
    );
    assert_eq!(describe(&group)["url"], json!(group.url().unwrap()));
    // Characters outside the URL's unreserved set are escaped.
    let odd = with(
        &with(
            &example(EventType::BuildChrootEnded),
            "copr",
            json!("a b/c"),
        ),
        "owner",
        json!("@g?x"),
    );
    assert_eq!(
        ok("build-chroot-ended", &odd).url().as_deref(),
        Some("https://copr.fedorainfracloud.org/coprs/g/g%3Fx/a%20b%2Fc/build/942697/")
    );
}

#[test]
fn copr_summary_from_the_issue() {
    let event = ok(
        "build-chroot-started",
        &example(EventType::BuildChrootStarted),
    );
    let expected = r#"Copr Message in project "@python/python3.8": build 945012: chroot "fedora-rawhide-x86_64" started."#;
    assert_eq!(event.summary(), expected);
    assert_eq!(event.to_string(), expected);
    assert_eq!(event.usernames(), ["churchyard"]);
    assert_eq!(event.packages(), ["python-hypothesis"]);
    assert_eq!(event.agent_name().as_deref(), Some("churchyard"));
    assert_eq!(event.severity(), Severity::Info);
    assert!(event.event_type().is_copr());
    assert!(event.repo_id().is_none());
}

#[test]
fn fedmsg_envelopes_are_unwrapped() {
    let inner = example(EventType::BuildChrootStarted);
    let envelope = json!({
        "msg": inner,
        "topic": "org.fedoraproject.prod.copr.build.start",
        "i": 1,
        "timestamp": 1561545908.0,
        "username": "copr",
        "crypto": "x509",
    });
    let expected = ok("build-chroot-started", &inner);
    for topic in [
        "copr.build.start",
        "org.fedoraproject.prod.copr.build.start",
        "org.fedoraproject.stg.copr.build.start",
        "build-chroot-started",
        "copr.chroot.start",
        "org.fedoraproject.prod.copr.chroot.start",
    ] {
        let event = ok(topic, &envelope);
        assert_eq!(event.event_type(), EventType::BuildChrootStarted, "{topic}");
        assert_eq!(event, expected, "{topic}");
        // The envelope is gone from the re-encoded body.
        assert_eq!(event.to_value(), inner, "{topic}");
        // And bare bodies decode on the same topics.
        assert_eq!(ok(topic, &inner), expected, "{topic}");
    }
    let inner = example(EventType::BuildChrootEnded);
    let envelope = json!({"msg": inner, "topic": "org.fedoraproject.prod.copr.build.end"});
    for topic in [
        "org.fedoraproject.prod.copr.build.end",
        "copr.build.end",
        "build-chroot-ended",
    ] {
        let event = ok(topic, &envelope);
        assert_eq!(event.event_type(), EventType::BuildChrootEnded, "{topic}");
        assert_eq!(event.to_value(), inner, "{topic}");
        assert_eq!(event.status(), "failed");
    }
    // An empty envelope is an empty body: every field is missing.
    let e = err("copr.build.end", &json!({"msg": null}));
    assert!(e.to_string().contains("$.status: is required"), "{e}");
    assert_eq!(e.violations().len(), 12, "{e}");
}

#[test]
fn copr_extra_msg_field_survives_a_round_trip() {
    // A body carrying an extra `msg` key is written inside an envelope, so
    // that its own encoding decodes again (Copr unwraps any top-level `msg`).
    let inner = with(&example(EventType::BuildChrootEnded), "msg", json!("note"));
    let event = ok("copr.build.end", &json!({ "msg": inner }));
    assert_eq!(event.to_value(), json!({ "msg": inner }));
    assert_eq!(event.build_chroot().unwrap().extra["msg"], json!("note"));
    let again = Event::decode("build-chroot-ended", &event.to_vec());
    assert_eq!(again.ok(), Some(event));
}

fn stomp(build: &str, package: Value, status: &str, status_int: &str) -> Value {
    json!({
        "build": build,
        "owner": "@copr",
        "copr": "copr-dev",
        "submitter": "praiskup",
        "package": package,
        "chroot": "fedora-30-x86_64",
        "builder": "10.0.0.1",
        "status": status,
        "status_int": status_int,
    })
}

#[test]
fn stomp_era_bodies_map_onto_the_types() {
    let start = ok(
        "build.start",
        &stomp("38492", json!("foo-bar-2:1.0-1"), "running", "3"),
    );
    assert_eq!(start.event_type(), EventType::BuildChrootStarted);
    assert_eq!(start.status(), "running");
    let b = start.build_chroot().unwrap();
    assert_eq!(b.build_id(), 38492);
    assert_eq!(b.package_name(), Some("foo-bar"));
    assert_eq!(b.package_epoch(), Some("2"));
    assert_eq!(b.package_version(), Some("1.0"));
    assert_eq!(b.package_release(), Some("1"));
    assert_eq!(b.package_full_name().as_deref(), Some("foo-bar-2:1.0-1"));
    assert_eq!(b.project_full_name(), "@copr/copr-dev");
    assert_eq!(b.submitter(), Some("praiskup"));
    assert_eq!(b.ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(b.chroot(), "fedora-30-x86_64");
    assert_eq!(start.agent_name().as_deref(), Some("praiskup"));
    assert_eq!(start.usernames(), ["praiskup"]);
    assert_eq!(start.packages(), ["foo-bar"]);
    assert_eq!(
        start.url().as_deref(),
        Some("https://copr.fedorainfracloud.org/coprs/g/copr/copr-dev/build/38492/")
    );
    assert_eq!(
        start.summary(),
        r#"Copr Message in project "@copr/copr-dev": build 38492: chroot "fedora-30-x86_64" started."#
    );
    // The converted body is a valid fedmsg-era body.
    let converted = start.to_value();
    assert_eq!(converted["build"], json!(38492));
    assert_eq!(converted["status"], json!(3));
    assert!(converted.get("status_int").is_none());
    assert!(converted.get("package").is_none());
    assert_eq!(ok("build-chroot-started", &converted), start);

    let end = ok(
        "build.end",
        &stomp("38492", json!("None-None"), "succeeded", "1"),
    );
    assert_eq!(end.event_type(), EventType::BuildChrootEnded);
    assert_eq!(end.status(), "succeeded");
    let b = end.build_chroot().unwrap();
    assert_eq!(b.package_name(), None);
    assert_eq!(b.package_version(), None);
    assert_eq!(b.package_full_name(), None);
    assert!(end.packages().is_empty());
    assert_eq!(end.agent_name(), None);
    assert_eq!(
        end.summary(),
        r#"Copr Message in project "@copr/copr-dev": build 38492: chroot "fedora-30-x86_64" ended as "succeeded"."#
    );

    // A null package and a null submitter are unknown.
    let mut body = stomp("1", Value::Null, "failed", "0");
    body["submitter"] = Value::Null;
    let end = ok("build.end", &body);
    assert_eq!(end.build_chroot().unwrap().package_name(), None);
    assert_eq!(end.build_chroot().unwrap().submitter(), None);
    assert_eq!(end.status(), "failed");

    // A STOMP field of the wrong type is named.
    let e = err(
        "build.end",
        &with(&stomp("1", Value::Null, "x", "0"), "build", json!(1)),
    );
    assert!(
        e.to_string()
            .starts_with("build-chroot-ended: $.build: 1 must be a string"),
        "{e}"
    );
    let e = err(
        "build.start",
        &without(&stomp("1", Value::Null, "x", "0"), "owner"),
    );
    assert!(e.to_string().contains("$.owner: is required"), "{e}");
    let e = err("build.start", &stomp("-5", Value::Null, "x", "3"));
    assert!(e.to_string().contains("$.build: "), "{e}");
}

// ---------------------------------------------------------------------------
// 6. Schemas
// ---------------------------------------------------------------------------

fn id_fields(t: EventType) -> &'static [&'static str] {
    match t {
        EventType::BuildChrootStarted | EventType::BuildChrootEnded => &[],
        _ => PULP_ID_FIELDS.iter().find(|(ty, _)| *ty == t).unwrap().1,
    }
}

#[test]
fn generated_schemas_describe_the_rules() {
    for t in EventType::ALL {
        let s = t.schema();
        assert_eq!(
            s["$schema"],
            json!("https://json-schema.org/draft/2020-12/schema"),
            "{t}"
        );
        assert_eq!(s["$id"], json!(schema::schema_id(t)), "{t}");
        assert_eq!(
            schema::schema_id(t),
            format!("https://repobus.dev/schemas/v1/{t}.schema.json")
        );
        assert_eq!(schema::file_name(t), format!("{t}.schema.json"));
        assert!(s["title"].as_str().is_some_and(|x| !x.is_empty()), "{t}");
        assert!(
            s["description"].as_str().is_some_and(|x| x.len() > 20),
            "{t}"
        );
        assert_eq!(s["type"], json!("object"), "{t}");
        assert_eq!(s["examples"], json!(t.examples()), "{t}");

        let props = s["properties"].as_object().unwrap_or_else(|| panic!("{t}"));
        for (name, p) in props {
            assert!(
                p["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{t}.{name} has no description"
            );
        }
        let required: Vec<&str> = s["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for example in t.examples() {
            for key in example.as_object().unwrap().keys() {
                assert!(required.contains(&key.as_str()), "{t}: {key} not required");
                assert!(props.contains_key(key), "{t}: {key} has no property");
            }
        }
        for name in props.keys() {
            assert!(
                required.contains(&name.as_str()),
                "{t}: property {name} not required"
            );
        }

        for field in id_fields(t) {
            assert_eq!(
                props[*field]["pattern"],
                json!(repobus::id::RESOURCE_ID_PATTERN),
                "{t}.{field}"
            );
            // The pattern's `+` requires one character; no minLength, so an
            // empty ID is reported once.
            assert_eq!(props[*field].get("minLength"), None, "{t}.{field}");
            assert_eq!(props[*field]["type"], json!("string"), "{t}.{field}");
        }
        if FINISHED.contains(&t) {
            for field in ["started", "completed"] {
                assert_eq!(
                    props[field]["pattern"],
                    json!(repobus::time::TIMESTAMP_PATTERN),
                    "{t}.{field}"
                );
            }
            assert_eq!(
                props["result"]["enum"],
                json!(["success", "failed", "error", "canceled"])
            );
            let ns = if t == EventType::RepoSyncFinished {
                "repo_sync_results"
            } else {
                "repo_publish_results"
            };
            assert_eq!(props["_ns"]["enum"], json!([ns]), "{t}");
            for field in ["exception", "traceback", "error_message"] {
                assert_eq!(
                    props[field]["type"],
                    json!(["string", "null"]),
                    "{t}.{field}"
                );
            }
        }
        if t == EventType::RepoSyncFinished {
            for field in COUNTS {
                assert_eq!(props[field]["minimum"], json!(0), "{field}");
                assert_eq!(props[field]["type"], json!("integer"), "{field}");
            }
        }
        if t.is_copr() {
            assert_eq!(
                props["status"]["enum"],
                json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1000])
            );
            for field in ["build", "pid"] {
                assert_eq!(props[field]["minimum"], json!(0), "{t}.{field}");
            }
            for field in ["ip", "user", "version", "pkg"] {
                assert_eq!(
                    props[field]["type"],
                    json!(["string", "null"]),
                    "{t}.{field}"
                );
            }
        }

        // The rendered text is the pretty JSON of the schema plus a newline.
        let text = schema_files::render(t);
        assert!(text.ends_with("}\n"), "{t}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), s, "{t}");
    }
}

#[test]
fn generated_schemas_validate_like_decode() {
    // An independent validator on the rendered schema agrees with decode on
    // the examples and on bodies that break a pattern, enum or minimum.
    for t in EventType::ALL {
        let s: Value = serde_json::from_str(&schema_files::render(t)).unwrap();
        let validator = jsonschema::draft202012::new(&s).unwrap();
        for example in t.examples() {
            assert!(validator.is_valid(&example), "{t}: {example}");
        }
        let body = example(t);
        for key in body.as_object().unwrap().keys() {
            let missing = without(&body, key);
            assert!(!validator.is_valid(&missing), "{t}: without {key}");
            assert!(decode(t.as_str(), &missing).is_err(), "{t}: without {key}");
        }
        for field in id_fields(t) {
            let bad = with(&body, field, json!("a b"));
            assert!(!validator.is_valid(&bad), "{t}.{field}");
        }
        if FINISHED.contains(&t) {
            assert!(!validator.is_valid(&with(&body, "result", json!("ok"))));
            assert!(!validator.is_valid(&with(&body, "started", json!("2012-13-01T00:00Z"))));
        }
    }
}

#[test]
fn schemas_use_no_format_keyword() {
    // The rules are in pattern/minimum/enum; no `format` keyword anywhere.
    for t in EventType::ALL {
        let text = schema_files::render(t);
        let uses: Vec<&str> = text.lines().filter(|l| l.contains("\"format\"")).collect();
        assert!(uses.is_empty(), "{t} uses format: {uses:?}");
    }
}

#[test]
fn committed_schema_files_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    if let Err(e) = schema_files::check(&dir) {
        panic!("{e}");
    }
    for t in EventType::ALL {
        let text = std::fs::read_to_string(dir.join(schema::file_name(t))).unwrap();
        assert_eq!(text, schema_files::render(t), "{t}");
    }
}

#[test]
fn schema_check_names_stale_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let written = schema_files::write_all(dir.path()).unwrap();
    assert_eq!(written.len(), EventType::ALL.len());
    schema_files::check(dir.path()).unwrap();
    std::fs::write(dir.path().join("repo-sync-started.schema.json"), "{}\n").unwrap();
    std::fs::remove_file(dir.path().join("build-chroot-ended.schema.json")).unwrap();
    let message = schema_files::check(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("repo-sync-started.schema.json"),
        "{message}"
    );
    assert!(
        message.contains("build-chroot-ended.schema.json"),
        "{message}"
    );
    assert!(
        !message.contains("repo-sync-finished.schema.json"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------
// 7. Hostile input
// ---------------------------------------------------------------------------

const ALL_TOPICS: [&str; 15] = [
    "repo-sync-started",
    "repo-sync-finished",
    "repo-publish-started",
    "repo-publish-finished",
    "build-chroot-started",
    "build-chroot-ended",
    "repo.sync.start",
    "repo.sync.finish",
    "repo.publish.start",
    "repo.publish.finish",
    "copr.build.start",
    "org.fedoraproject.prod.copr.build.end",
    "copr.chroot.start",
    "build.start",
    "build.end",
];

/// Decodes without panicking; when a body is accepted, its encoding must
/// decode again to the same event on the type's own topic.
fn decode_survives(topic: &str, body: &[u8]) -> Result<Event, String> {
    let result = catch_unwind(AssertUnwindSafe(|| Event::decode(topic, body)));
    let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
    match result {
        Err(_) => panic!("{topic}: decode panicked on {shown}"),
        Ok(Err(e)) => {
            let message = catch_unwind(AssertUnwindSafe(|| e.to_string()))
                .unwrap_or_else(|_| panic!("{topic}: Display panicked on {shown}"));
            assert!(!message.is_empty());
            Err(message)
        }
        Ok(Ok(event)) => {
            let again = catch_unwind(AssertUnwindSafe(|| {
                let _ = event.describe();
                let _ = event.summary();
                Event::decode(event.event_type().as_str(), &event.to_vec())
            }))
            .unwrap_or_else(|_| panic!("{topic}: accessors panicked on {shown}"));
            assert_eq!(again.as_ref().ok(), Some(&event), "{topic}: {shown}");
            Ok(event)
        }
    }
}

fn hostile_bodies() -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = [
        "",
        " ",
        "\n\t",
        "null",
        "true",
        "0",
        "-0",
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551616",
        "340282366920938463463374607431768211456",
        "NaN",
        "Infinity",
        "\"string\"",
        "[]",
        "{}",
        "{\"msg\": {}}",
        "{\"msg\": 0}",
        "{\"msg\": {\"msg\": {\"msg\": null}}}",
        "{} {}",
        "{}x",
        "{\"repo_id\": \"\\ud800\"}",
        "{\"repo_id\": \"a\\u0000b\"}",
        "{\"repo_id\": \"x\", \"repo_id\": \"y\"}",
        "{\"repo_id\": \"\u{202e}\u{1f600}\"}",
        "{\"\": \"\", \"\u{1f600}\": [1e308, -1e308, 5e-324]}",
        "\u{feff}{\"repo_id\": \"x\"}",
        "{\"repo_id\": 18446744073709551616}",
        "{\"build\": 18446744073709551616, \"status\": 1e400}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bodies.push(vec![0xff, 0xfe, b'{', b'}']);
    bodies.push(b"{\"repo_id\": \"\xc3\x28\"}".to_vec());
    bodies.push(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes());
    bodies.push(format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes());
    bodies.push("[".repeat(100_000).into_bytes());
    bodies.push(format!("{{\"repo_id\": \"{}\"}}", "a".repeat(1 << 18)).into_bytes());
    bodies.push(format!("{{\"repo_id\": \"{} \"}}", "a".repeat(1 << 18)).into_bytes());
    bodies.push(format!("{{\"{}\": 1}}", "k".repeat(1 << 18)).into_bytes());
    bodies.push(format!("\"{}\"", "\\u00e9".repeat(100_000)).into_bytes());
    // Just under serde_json's recursion limit, inside an opaque field.
    for t in FINISHED {
        let mut body = example(t);
        body["summary"] =
            serde_json::from_str(&format!("{}{}", "[".repeat(120), "]".repeat(120))).unwrap();
        bodies.push(serde_json::to_vec(&body).unwrap());
    }
    bodies
}

#[test]
fn hostile_bodies_never_panic() {
    let bodies = hostile_bodies();
    assert!(bodies.len() >= 30);
    let mut accepted = Vec::new();
    for topic in ALL_TOPICS {
        for (i, body) in bodies.iter().enumerate() {
            if decode_survives(topic, body).is_ok() {
                accepted.push((topic, i));
            }
        }
    }
    // Accepted: the duplicate-key body (#24, last key wins) and the long
    // repo_id (#35) as sync-started; the deep opaque bodies (#39 sync, #40
    // publish) as their own type and, extra fields being kept, as any
    // started type whose fields they carry.
    let mut expected = Vec::new();
    for (native, pulp2) in [
        ("repo-sync-started", "repo.sync.start"),
        ("repo-sync-finished", "repo.sync.finish"),
        ("repo-publish-started", "repo.publish.start"),
        ("repo-publish-finished", "repo.publish.finish"),
    ] {
        let which: &[usize] = match native {
            "repo-sync-started" => &[24, 35, 39, 40],
            "repo-sync-finished" => &[39],
            _ => &[40],
        };
        for topic in [native, pulp2] {
            expected.extend(which.iter().map(|i| (topic, *i)));
        }
    }
    expected.sort();
    accepted.sort();
    assert_eq!(accepted, expected);
    let dup = Event::decode("repo-sync-started", &bodies[24]).unwrap();
    assert_eq!(dup.repo_id().unwrap().as_str(), "y");
    let long = Event::decode("repo-sync-started", &bodies[35]).unwrap();
    assert_eq!(long.repo_id().unwrap().as_str().len(), 1 << 18);
    // Deep nesting is an error, not a crash.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = Event::decode("repo-sync-started", deep.as_bytes()).unwrap_err();
    assert_eq!(e.reason(), "malformed-json");
    assert!(e.to_string().contains("recursion limit"), "{e}");
    let e = Event::decode("repo-sync-started", b"1e400").unwrap_err();
    assert!(e.to_string().contains("number out of range"), "{e}");
}

#[test]
fn hostile_field_values_never_panic() {
    let big = "x".repeat(1 << 16);
    let values = [
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(-0.0),
        json!(1.0),
        json!(0.5),
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(18446744073709551616.0f64),
        json!(""),
        json!(" "),
        json!(big),
        json!(format!("{big} ")),
        json!("\u{0}"),
        json!("é\u{1f600}\u{202e}"),
        json!("..--__"),
        json!("2012-02-30T00:00Z"),
        json!("9999-12-31T23:59:59.999999999999Z"),
        json!("0000-01-01T00:00Z"),
        json!([]),
        json!({}),
        json!([[[[]]]]),
        json!({"msg": {}}),
    ];
    let mut decoded = 0;
    for t in EventType::ALL {
        let body = example(t);
        for key in body.as_object().unwrap().keys() {
            for value in &values {
                let b = with(&body, key, value.clone());
                if decode_survives(t.as_str(), &serde_json::to_vec(&b).unwrap()).is_ok() {
                    decoded += 1;
                }
            }
        }
        // The whole body replaced by each value.
        for value in &values {
            let _ = decode_survives(t.as_str(), &serde_json::to_vec(value).unwrap());
        }
    }
    assert!(decoded > 50, "only {decoded} variants decoded");
    // Extreme but valid values are accepted.
    let far = with(
        &with(
            &example(EventType::RepoSyncFinished),
            "started",
            json!("0000-01-01T00:00Z"),
        ),
        "completed",
        json!("9999-12-31T23:59:59.999999999999Z"),
    );
    let event = ok("repo-sync-finished", &far);
    assert_eq!(describe(&event)["completed"], json!("9999-12-31T23:59:59Z"));
    assert!(describe(&event)["duration_seconds"].as_i64().unwrap() > 0);
    // Completed before started gives a negative duration, not a panic.
    let backwards = with(
        &example(EventType::RepoSyncFinished),
        "completed",
        json!("2012-07-06T15:49:01Z"),
    );
    assert_eq!(
        describe(&ok("repo-sync-finished", &backwards))["duration_seconds"],
        json!(-10)
    );
}

#[test]
fn decode_value_accepts_what_decode_accepts() {
    for t in EventType::ALL {
        for body in t.examples() {
            assert_eq!(
                Event::decode_value(t.as_str(), body.clone()).unwrap(),
                Event::decode(t.as_str(), body.to_string().as_bytes()).unwrap()
            );
        }
        let e = Event::decode_value(t.as_str(), json!([])).unwrap_err();
        assert_eq!(e.reason(), "schema-violation");
    }
    assert_eq!(
        Event::decode_value("nope", json!({})).unwrap_err().reason(),
        "unknown-topic"
    );
}
