//! Unit tests of the criteria module: one file per concern file beside
//! `mod.rs`, sharing the helpers and sample events below.

use serde_json::{json, Map, Value};

use super::*;

mod compare;
mod fields;
mod filter;
mod flags;
mod matching;
mod parse;
mod pushdown;
mod query;
mod sort;

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn filter(json: Value) -> Filter {
    Filter::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn hits(f: Value, o: Value) -> bool {
    filter(f).matches(&obj(o))
}

fn error(json: Value) -> String {
    Filter::from_json(&json).unwrap_err().to_string()
}

fn sync_event() -> Value {
    json!({
        "type": "repo-sync-finished",
        "repo_id": "pulp-f16",
        "result": "success",
        "started": "2012-07-06T15:49:11Z",
        "completed": "2012-07-06T15:49:14Z",
        "duration_seconds": 3,
        "added_count": 0,
        "usernames": [],
        "url": null,
    })
}

fn build_event() -> Value {
    json!({
        "type": "build-chroot-ended",
        "build_id": 945012,
        "chroot": "fedora-rawhide-x86_64",
        "package_name": "python-hypothesis",
        "project_owner": "@python",
        "status": "succeeded",
        "usernames": ["churchyard", "frostyx"],
    })
}
