//! repobus against copr-messaging 1.3's real outputs.
//!
//! `tests/conformance/expected.jsonl` was produced by
//! `tests/conformance/generate_expected.py` running copr-messaging 1.3 on
//! `tests/conformance/corpus.jsonl`. For every line:
//! - a body copr-messaging rejects is rejected here;
//! - a body it accepts decodes here, and every accessor answers exactly what
//!   copr-messaging answers;
//! - where copr-messaging's accessors raise, repobus either answers the
//!   accessors that do not raise identically, or rejects the body, and then
//!   the line must be listed in `REJECTED_WHERE_COPR_RAISES` with the reason.

use std::collections::BTreeMap;

use repobus::Event;
use serde_json::Value;

/// Bodies copr-messaging's schema accepts but repobus rejects, each because
/// copr-messaging itself cannot read it (an accessor raises) or because the
/// value is not an integer where Copr's database has one.
const REJECTED_WHERE_COPR_RAISES: &[(usize, &str)] = &[
    (45, "build 942697.0 is a float; Copr build IDs are integers"),
    (46, "build 1.5 is not an integer"),
    (47, "status 1.0: copr-messaging raises KeyError"),
    (50, "status 42: copr-messaging raises KeyError"),
    (
        51,
        "status 42 on a start message: copr-messaging raises KeyError",
    ),
    (
        76,
        "status_int in Arabic-Indic digits: not an ASCII integer",
    ),
    (82, "status_int \"abc\": copr-messaging raises ValueError"),
    (83, "status_int \"1.0\": copr-messaging raises ValueError"),
    (84, "status_int \"42\": copr-messaging raises KeyError"),
    (
        85,
        "status_int \"1_0\" = 10: copr-messaging raises KeyError",
    ),
    (86, "build \"abc\": copr-messaging raises ValueError"),
];

fn lines(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}")))
        .collect()
}

#[test]
fn repobus_answers_what_copr_messaging_answers() {
    let corpus = lines("tests/conformance/corpus.jsonl");
    let expected = lines("tests/conformance/expected.jsonl");
    assert_eq!(corpus.len(), expected.len());
    assert!(corpus.len() >= 80, "the corpus shrank to {}", corpus.len());

    let allowed: BTreeMap<usize, &str> = REJECTED_WHERE_COPR_RAISES.iter().copied().collect();
    let mut rejected_where_raising = Vec::new();
    let mut compared = 0;
    for (input, want) in corpus.iter().zip(&expected) {
        let line = want["line"].as_u64().unwrap() as usize;
        let topic = input["topic"].as_str().unwrap();
        let body = serde_json::to_vec(&input["body"]).unwrap();
        let decoded = Event::decode(topic, &body);
        if want["valid"] == false {
            assert!(
                decoded.is_err(),
                "line {line}: copr-messaging rejects ({}), repobus accepted",
                want["validation_error"]
            );
            continue;
        }
        let accessors = want["accessors"].as_object().unwrap();
        let raises = accessors.values().any(|v| v.get("raises").is_some());
        let event = match decoded {
            Ok(event) => event,
            Err(e) if raises || allowed.contains_key(&line) => {
                rejected_where_raising.push(line);
                assert!(!e.to_string().is_empty());
                continue;
            }
            Err(e) => panic!("line {line}: copr-messaging accepts, repobus rejects: {e}"),
        };
        let got = event.describe().to_map();
        for (name, want_value) in accessors {
            if want_value.get("raises").is_some() {
                continue;
            }
            let got_value = got
                .get(name)
                .unwrap_or_else(|| panic!("no accessor {name}"));
            assert_eq!(got_value, want_value, "line {line} ({topic}): {name}");
            compared += 1;
        }
    }
    let listed: Vec<usize> = allowed.keys().copied().collect();
    assert_eq!(
        rejected_where_raising, listed,
        "the list of rejected lines changed; update REJECTED_WHERE_COPR_RAISES with reasons"
    );
    assert!(compared > 900, "compared only {compared} accessor values");
}

#[test]
fn bodies_built_by_repobus_are_valid_for_copr_messaging_rules() {
    // copr-messaging's body_schema for copr.build.start / copr.build.end:
    // twelve required fields with these JSON types. Checked here field by
    // field; `.ci/run` also validates these bodies with copr-messaging itself.
    use repobus::events::{BuildChroot, CoprStatus};
    let started = BuildChroot::builder(945012, "@python", "python3.8", "fedora-rawhide-x86_64")
        .package("python-hypothesis", "4.23.8-1.fc31")
        .user("churchyard")
        .started();
    let ended = BuildChroot::builder(1, "someone", "proj", "srpm-builds").ended(CoprStatus::Failed);
    let canceled = BuildChroot::builder(7, "@group", "p", "epel-7-x86_64")
        .package("foo", "2:1.0-1.el7")
        .user("github.com:someone")
        .ip("10.0.0.1")
        .ended(CoprStatus::Canceled);
    let mut written = String::new();
    for (topic, body) in [
        ("copr.build.start", serde_json::to_value(&started).unwrap()),
        ("copr.build.end", serde_json::to_value(&ended).unwrap()),
        ("copr.build.end", serde_json::to_value(&canceled).unwrap()),
    ] {
        let rules: [(&str, &[&str]); 12] = [
            ("status", &["number"]),
            ("chroot", &["string"]),
            ("owner", &["string"]),
            ("copr", &["string"]),
            ("build", &["number"]),
            ("pkg", &["string", "null"]),
            ("version", &["string", "null"]),
            ("user", &["string", "null"]),
            ("what", &["string"]),
            ("ip", &["string", "null"]),
            ("who", &["string"]),
            ("pid", &["number"]),
        ];
        for (field, types) in rules {
            let value = &body[field];
            let kind = match value {
                Value::Null => "null",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                _ => "other",
            };
            assert!(types.contains(&kind), "{field}: {value} in {body}");
        }
        written.push_str(&serde_json::json!({"topic": topic, "body": body}).to_string());
        written.push('\n');
    }
    // scripts/test.sh hands this file to copr-messaging (validate_built.py).
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("copr-built-bodies.jsonl");
    std::fs::write(&out, written).unwrap();
}
