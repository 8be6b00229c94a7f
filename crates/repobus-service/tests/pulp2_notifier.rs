//! `POST /v1/pulp2` against Pulp 2's HTTP notifier as it really is: a
//! Python script makes Pulp 2's own call with the real `requests` library
//! and the service behind basic auth answers it; the stream then holds the
//! typed events with the Pulp task ID as `ce-pulptaskid`.
//!
//! Pulp 2's `server/pulp/server/event/http.py` has posted in two ways:
//!
//! - 2.8.0 (`json=json_body`): `json_body` is already
//!   `json.dumps(event.data(), default=json_util.default)`, so requests
//!   encodes it a second time and the body is a JSON string holding the
//!   document;
//! - 2.8.1 and later (`data=json_body`, `Content-Type: application/json`,
//!   `timeout=15`): the document, encoded once.
//!
//! Both log `Received HTTP <code> from HTTP notifier` for any status but
//! 200. The `call_report` is `task_serializer(TaskStatus)`: the task status
//! document with `_id` as an ObjectId (written `{"$oid": ...}` by bson's
//! `json_util.default`), `_href` and the spawned tasks as links.
//!
//! The interpreter is `$REPOBUS_ORACLE_PYTHON` (`. scripts/tools.sh
//! --oracle`), which has `requests`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use repobus::bus::Bus;
use repobus::EventType;
use repobus_service::ServiceConfig;
use serde_json::{json, Value};

use repobus_testkit::*;

mod common;
use common::{start_service, Service};

const USER: &str = "pulp-notifier";
const PASSWORD: &str = "n0t1fier-secret";

/// Pulp 2's HTTP notifier, as a script: for each case on stdin it builds
/// `event.data()` the way `pulp.server.event.data.Event` does, serializes
/// it as `handle_event` does and posts it as `_send_post` does, then prints
/// one JSON line with the status, the answer and the bytes it sent.
const NOTIFIER: &str = r#"
import json
import sys

import requests
from requests import post
from requests.auth import HTTPBasicAuth


class ObjectId(object):
    """Stands in for bson.ObjectId (not installed): the task status `_id`."""

    def __init__(self, oid):
        self.oid = oid


def json_util_default(obj):
    """bson.json_util.default for the BSON type a serialized task holds."""
    if isinstance(obj, ObjectId):
        return {"$oid": obj.oid}
    raise TypeError("%r is not JSON serializable" % obj)


def task_serializer(task_id, event_type):
    """What pulp.server.webservices.views.tasks.task_serializer returns for
    the TaskStatus of the task the event fired in (serializers/dispatch.py)."""
    sync = event_type.startswith("repo.sync")
    spawned = ["c3e7aa81-0f4e-4c50-9a4b-3b1d2e9f6a10"] if event_type.endswith("finish") else []
    task = {
        "task_id": task_id,
        "worker_name": "reserved_resource_worker-0@pulp.example.com",
        "tags": ["pulp:repository:pulp-f16", "pulp:action:" + ("sync" if sync else "publish")],
        "state": "running",
        "error": None,
        "spawned_tasks": [
            {"_href": "/pulp/api/v2/tasks/%s/" % s, "task_id": s} for s in spawned
        ],
        "progress_report": {
            "yum_importer": {
                "content": {"state": "FINISHED", "items_total": 0, "items_left": 0,
                            "size_total": 0, "size_left": 0, "error_details": [],
                            "details": {"rpm_total": 0, "rpm_done": 0,
                                        "drpm_total": 0, "drpm_done": 0}},
                "comps": {"state": "FINISHED"},
                "distribution": {"state": "FINISHED", "items_total": 0,
                                 "items_left": 0, "error_details": []},
                "errata": {"state": "FINISHED"},
                "metadata": {"state": "FINISHED"},
            }
        } if sync else {"yum_distributor": []},
        "task_type": "pulp.server.managers.repo.%s.%s" % (
            ("sync", "sync") if sync else ("publish", "publish")),
        "start_time": "2016-03-15T10:21:52Z",
        "finish_time": None,
        "result": None,
        "exception": None,
        "traceback": None,
        "_ns": "task_status",
        "_id": ObjectId("56e7e2b0e779897c86b1b64e"),
        "id": "56e7e2b0e779897c86b1b64e",
        "_href": "/pulp/api/v2/tasks/%s/" % task_id,
    }
    return task


url, user = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    case = json.loads(line)
    task_id = case["task_id"]
    data = {
        "event_type": case["event_type"],
        "payload": case["payload"],
        "call_report": task_serializer(task_id, case["event_type"]) if task_id else None,
    }
    # handle_event
    json_body = json.dumps(data, default=json_util_default)
    auth = HTTPBasicAuth(user, case["password"])
    # _send_post
    if case["pulp"] == "2.8.0":
        response = requests.post(url, json=json_body, auth=auth)
    else:
        response = post(url, data=json_body, auth=auth,
                        headers={"Content-Type": "application/json"},
                        verify=True, timeout=15)
    try:
        answer = response.json()
    except ValueError:
        answer = response.text
    sent = response.request.body
    if isinstance(sent, bytes):
        sent = sent.decode("utf-8")
    print(json.dumps({
        "status": response.status_code,
        "answer": answer,
        "www_authenticate": response.headers.get("WWW-Authenticate"),
        "content_type": response.request.headers.get("Content-Type"),
        "sent": sent,
    }))
    sys.stdout.flush()
"#;

/// The service in a task of this test, behind Pulp 2's basic auth.
async fn start_pulp2_service(bus: &Bus) -> Service {
    let config = ServiceConfig {
        pulp2_basic_auth: Some((USER.into(), PASSWORD.into())),
        ..ServiceConfig::default()
    };
    start_service(bus, config).await
}

/// The oracle interpreter, or a failure saying how to get it.
fn oracle_python() -> String {
    std::env::var("REPOBUS_ORACLE_PYTHON").unwrap_or_else(|_| {
        panic!(
            "REPOBUS_ORACLE_PYTHON is not set: this test runs Pulp 2's HTTP notifier with Python's \
             requests; run `. scripts/tools.sh --oracle` first (it installs requests into .tools/venv)"
        )
    })
}

/// Runs the notifier script on `cases` (one JSON object per case) and
/// returns one answer per case.
async fn run_notifier(url: &str, cases: &[Value]) -> Vec<Value> {
    let python = oracle_python();
    let input: String = cases.iter().map(|c| format!("{c}\n")).collect();
    let url = url.to_owned();
    let output = within(
        120,
        "the Python notifier",
        tokio::task::spawn_blocking(move || {
            let mut child = Command::new(&python)
                .args(["-c", NOTIFIER, &url, USER])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run {python} (REPOBUS_ORACLE_PYTHON): {e}; run `. scripts/tools.sh --oracle`"
                    )
                });
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .expect("write the cases");
            child.wait_with_output().expect("wait for the notifier")
        }),
    )
    .await
    .expect("notifier task");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the notifier script failed ({}); if requests is missing, run `. scripts/tools.sh --oracle`:\n{stderr}",
        output.status
    );
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(answers.len(), cases.len(), "one answer per case\n{stderr}");
    answers
}

fn pulp2_name(event_type: EventType) -> &'static str {
    event_type.pulp2_name().expect("a Pulp event type")
}

const PULP_TYPES: [EventType; 4] = [
    EventType::RepoSyncStarted,
    EventType::RepoSyncFinished,
    EventType::RepoPublishStarted,
    EventType::RepoPublishFinished,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulp2_http_notifier_posts_are_stored_with_the_pulp_task_id() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_pulp2_service(&bus).await;

    // Each of the four types from each Pulp version's notifier; one event
    // per version fires outside a task (call_report null).
    let mut cases = Vec::new();
    for pulp in ["2.8.0", "2.8.1"] {
        for (i, event_type) in PULP_TYPES.into_iter().enumerate() {
            let outside_a_task = (pulp == "2.8.0" && i == 0) || (pulp == "2.8.1" && i == 3);
            let task_id = (!outside_a_task)
                .then(|| format!("0b3cf1e4-5a0d-4a4b-8c2f-{:012x}", cases.len() + 1));
            let payload = event_type.examples()[0].clone();
            cases.push(json!({
                "pulp": pulp,
                "event_type": pulp2_name(event_type),
                "payload": payload,
                "task_id": task_id,
                "password": PASSWORD,
            }));
        }
    }
    // The same call with a wrong password.
    let mut wrong = cases[1].clone();
    wrong["password"] = json!("not-the-password");
    cases.push(wrong);

    let answers = run_notifier(&service.url("/v1/pulp2"), &cases).await;

    for (case, answer) in cases.iter().zip(&answers).take(8) {
        let what = format!("Pulp {} {}", case["pulp"], case["event_type"]);
        assert_eq!(
            answer["status"], 200,
            "{what}: Pulp would log `Received HTTP {} from HTTP notifier`: {answer}",
            answer["status"]
        );
        let ack = &answer["answer"];
        let keys: Vec<&str> = ack
            .as_object()
            .unwrap_or_else(|| panic!("{what}: {answer}"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["event_id", "subject", "stream", "seq"], "{what}");
        // What went over the wire is what each version sends.
        assert_eq!(answer["content_type"], "application/json", "{what}");
        let sent: Value = serde_json::from_str(answer["sent"].as_str().unwrap()).unwrap();
        let document: Value = if case["pulp"] == "2.8.0" {
            let inner = sent
                .as_str()
                .unwrap_or_else(|| panic!("{what}: 2.8.0 sends a JSON string: {sent}"));
            serde_json::from_str(inner).unwrap()
        } else {
            assert!(sent.is_object(), "{what}: 2.8.1 sends the object: {sent}");
            sent
        };
        assert_eq!(document["event_type"], case["event_type"], "{what}");
        assert_eq!(document["payload"], case["payload"], "{what}");
        if case["task_id"].is_null() {
            assert!(document["call_report"].is_null(), "{what}");
        } else {
            assert_eq!(document["call_report"]["task_id"], case["task_id"]);
            assert_eq!(document["call_report"]["_ns"], "task_status");
            assert_eq!(
                document["call_report"]["_id"],
                json!({"$oid": "56e7e2b0e779897c86b1b64e"})
            );
        }
    }

    // The wrong password: 401 with a Basic challenge, which Pulp logs.
    let refused = &answers[8];
    assert_eq!(refused["status"], 401, "{refused}");
    assert!(
        refused["www_authenticate"]
            .as_str()
            .is_some_and(|c| c.starts_with("Basic ")),
        "{refused}"
    );
    assert_eq!(refused["answer"]["error"], "wrong user or password");

    // The stream holds the eight events, in order, each with its task ID.
    let messages = stored(&bus).await;
    assert_eq!(messages.len(), 8, "one event per 200, none for the 401");
    for ((case, answer), message) in cases.iter().zip(&answers).zip(&messages) {
        let what = format!("Pulp {} {}", case["pulp"], case["event_type"]);
        let ack = &answer["answer"];
        let headers = &message.headers;
        let expected_type = pulp_type(case["event_type"].as_str().unwrap());
        assert_eq!(header(headers, "ce-type"), expected_type.as_str(), "{what}");
        assert_eq!(header(headers, "ce-id"), ack["event_id"].as_str().unwrap());
        assert_eq!(message.sequence, ack["seq"].as_u64().unwrap(), "{what}");
        assert_eq!(message.subject.as_str(), ack["subject"].as_str().unwrap());
        assert_eq!(
            header(headers, "ce-subject"),
            case["payload"]["repo_id"].as_str().unwrap()
        );
        let body: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(body, case["payload"], "{what}: the payload is stored");
        match case["task_id"].as_str() {
            Some(task_id) => assert_eq!(header(headers, "ce-pulptaskid"), task_id, "{what}"),
            None => assert!(
                headers.get("ce-pulptaskid").is_none(),
                "{what}: no call report, no ce-pulptaskid: {headers:?}"
            ),
        }
        assert_eq!(
            decode_stored(headers, &message.payload).event_type(),
            expected_type
        );
    }
    service.stop().await;
}

fn pulp_type(name: &str) -> EventType {
    PULP_TYPES
        .into_iter()
        .find(|t| t.pulp2_name() == Some(name))
        .unwrap_or_else(|| panic!("{name} is not a Pulp 2 event type"))
}

/// A body encoded as Pulp 2.8.0 does: the JSON string holding `document`.
fn twice(document: &Value) -> String {
    serde_json::to_string(&document.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulp2_bodies_that_are_not_a_notifier_document_are_400_naming_the_problem() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_pulp2_service(&bus).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut bad_payload = sync_finished_body("pulp-f16", "success", 0);
    bad_payload["added_count"] = json!(-1);
    let bad_payload_doc = json!({
        "event_type": "repo.sync.finish",
        "payload": bad_payload,
        "call_report": null,
    });
    let missing_type = json!({"payload": {"repo_id": "pulp-f17"}, "call_report": null});
    let unknown_type = json!({
        "event_type": "repo.delete",
        "payload": {"repo_id": "pulp-f17"},
        "call_report": null,
    });
    // (what, body, words the error must contain)
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "a JSON string holding a string",
            r#""\"hello\"""#.to_owned(),
            vec!["must hold the notifier document", "holds a string"],
        ),
        (
            "a JSON string holding an array",
            r#""[1]""#.to_owned(),
            vec!["must hold the notifier document", "holds an array"],
        ),
        (
            "a JSON string holding no JSON",
            r#""hello, Pulp""#.to_owned(),
            vec!["must hold the notifier document", "not JSON"],
        ),
        (
            "malformed JSON",
            r#"{"event_type": "repo.sync.start", "payload": "#.to_owned(),
            vec!["malformed JSON"],
        ),
        (
            "a number",
            "42".to_owned(),
            vec!["must be the notifier document", "a number"],
        ),
        (
            "no event_type",
            missing_type.to_string(),
            vec!["$.event_type", "is required"],
        ),
        (
            "no event_type, encoded twice",
            twice(&missing_type),
            vec!["$.event_type", "is required"],
        ),
        (
            "an unknown event_type",
            unknown_type.to_string(),
            vec!["$.event_type", "repo.delete", "repo.sync.finish"],
        ),
        (
            "an unknown event_type, encoded twice",
            twice(&unknown_type),
            vec!["$.event_type", "repo.delete"],
        ),
        (
            "a payload breaking the schema",
            bad_payload_doc.to_string(),
            vec!["repo-sync-finished", "$.payload.added_count"],
        ),
        (
            "a payload breaking the schema, encoded twice",
            twice(&bad_payload_doc),
            vec!["repo-sync-finished", "$.payload.added_count"],
        ),
    ];
    for (what, body, needles) in cases {
        let response = within(
            30,
            what,
            client
                .post(service.url("/v1/pulp2"))
                .basic_auth(USER, Some(PASSWORD))
                .header("content-type", "application/json")
                .body(body.clone())
                .send(),
        )
        .await
        .expect(what);
        let status = response.status().as_u16();
        let answer: Value = response.json().await.expect("a JSON answer");
        assert_eq!(status, 400, "{what}: {body} -> {answer}");
        let error = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no error in {answer}"));
        for needle in needles {
            assert!(
                error.contains(needle),
                "{what}: {needle:?} not in {error:?}"
            );
        }
    }
    assert_eq!(stored(&bus).await.len(), 0, "no 400 stores anything");
    service.stop().await;
}
