//! The AsyncAPI 3.0 description of the NATS side, generated from the event
//! type list: one channel per event type with its subject pattern and
//! parameters, the CloudEvents binary-mode headers as the messages'
//! headers schema, and payloads referencing the generated JSON Schema
//! files beside it (`schemas/<type>.schema.json`).
//!
//! `repobus schemas` writes it as `schemas/asyncapi.json` ([`write()`]) and
//! `repobus schemas --check` compares it ([`check()`]); the test suite
//! validates it with `@asyncapi/parser` (`tests/asyncapi/validate.mjs`).
//!
//! # Examples
//!
//! ```
//! use repobus::{asyncapi, EventType};
//!
//! let doc = asyncapi::document();
//! assert_eq!(doc["asyncapi"], "3.0.0");
//! let channel = &doc["channels"]["build-chroot-ended"];
//! assert_eq!(channel["address"], "repobus.build.chroot.ended.{project_owner}.{project_name}.{chroot}");
//! assert_eq!(
//!     doc["components"]["messages"]["build-chroot-ended"]["payload"]["$ref"],
//!     "./build-chroot-ended.schema.json"
//! );
//! assert_eq!(doc["channels"].as_object().unwrap().len(), EventType::ALL.len() + 1);
//! ```

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::schema::{file_name, schema_id};
use crate::schema_files::SchemaFileError;
use crate::subject::DEFAULT_PREFIX;
use crate::EventType;

/// The file name of the document: `asyncapi.json`, beside the schema files.
pub const FILE_NAME: &str = "asyncapi.json";

/// What a subject parameter holds.
fn parameter_description(name: &str) -> String {
    let what = match name {
        "repo_id" => "The Pulp repository ID",
        "project_owner" => "The Copr project owner (a user, or `@group`)",
        "project_name" => "The Copr project name",
        "chroot" => "The Copr chroot, e.g. `fedora-rawhide-x86_64`",
        other => other,
    };
    format!(
        "{what}, escaped as one subject token: every byte outside `[A-Za-z0-9_@-]` is written `%XX` (uppercase hex), so `epel.7` is `epel%2E7`; the empty string is `%`."
    )
}

/// The CloudEvents NATS binding headers (binary mode) every event carries.
fn headers_schema() -> Value {
    json!({
        "type": "object",
        "description": "CloudEvents 1.0 attributes in binary mode (the CloudEvents NATS protocol binding): the body is the event's wire body, the attributes are `ce-*` headers.",
        "required": ["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-subject", "ce-dataschema", "ce-datacontenttype", "Nats-Msg-Id"],
        "properties": {
            "ce-specversion": {"type": "string", "const": "1.0", "description": "CloudEvents version."},
            "ce-id": {"type": "string", "minLength": 1, "maxLength": crate::envelope::MAX_ID_LEN, "description": "Event ID: a UUIDv7 unless the producer gives one (an `Idempotency-Key`)."},
            "ce-source": {"type": "string", "minLength": 1, "description": "The producer (configurable), e.g. `urn:repobus:pulp.example.org`."},
            "ce-type": {"type": "string", "enum": EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>(), "description": "The event type."},
            "ce-time": {"type": "string", "format": "date-time", "description": "When the event happened, RFC 3339 in UTC."},
            "ce-subject": {"type": "string", "description": "The `repo_id`, or the Copr build ID."},
            "ce-dataschema": {"type": "string", "format": "uri", "description": "The `$id` of the payload's JSON Schema."},
            "ce-datacontenttype": {"type": "string", "const": "application/json"},
            "ce-pulptaskid": {"type": "string", "description": "Extension: the Pulp task the event fired in, when known (`call_report.task_id`)."},
            "Nats-Msg-Id": {"type": "string", "description": "Equal to `ce-id`: JetStream de-duplicates on it."}
        }
    })
}

/// The document for subjects under `prefix` (`repobus` by default, see
/// [`crate::subject::Subjects`]).
///
/// # Examples
///
/// ```
/// let doc = repobus::asyncapi::document_for_prefix("pulp");
/// assert_eq!(doc["channels"]["repo-sync-started"]["address"], "pulp.repo.sync.started.{repo_id}");
/// ```
pub fn document_for_prefix(prefix: &str) -> Value {
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    for event_type in EventType::ALL {
        let id = event_type.as_str();
        let ids = event_type.subject_ids();
        let address = std::iter::once(format!("{prefix}.{}", event_type.subject_tokens()))
            .chain(ids.iter().map(|name| format!("{{{name}}}")))
            .collect::<Vec<_>>()
            .join(".");
        let parameters: Map<String, Value> = ids
            .iter()
            .map(|name| {
                (
                    (*name).to_owned(),
                    json!({"description": parameter_description(name)}),
                )
            })
            .collect();
        channels.insert(
            id.to_owned(),
            json!({
                "address": address,
                "title": event_type.title(),
                "description": event_type.description(),
                "parameters": parameters,
                "messages": {id: {"$ref": format!("#/components/messages/{id}")}}
            }),
        );
        let examples: Vec<Value> = event_type
            .examples()
            .into_iter()
            .take(1)
            .map(|payload| json!({"name": format!("{id}-example"), "payload": payload}))
            .collect();
        messages.insert(
            id.to_owned(),
            json!({
                "name": id,
                "title": event_type.title(),
                "summary": event_type.description(),
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
                "payload": {"$ref": format!("./{}", file_name(event_type))},
                "correlationId": {"location": "$message.header#/ce-id"},
                "externalDocs": {"url": schema_id(event_type)},
                "examples": examples
            }),
        );
        for (action, verb) in [("send", "publish"), ("receive", "receive")] {
            operations.insert(
                format!("{verb}-{id}"),
                json!({
                    "action": action,
                    "channel": {"$ref": format!("#/channels/{id}")},
                    "summary": format!("{} `{id}` events (JetStream stream `REPOBUS` stores them).", if action == "send" { "Publish" } else { "Receive" }),
                    "messages": [{"$ref": format!("#/channels/{id}/messages/{id}")}]
                }),
            );
        }
    }
    channels.insert(
        "dead-letters".to_owned(),
        json!({
            "address": format!("{prefix}.dlq.{{reason}}"),
            "title": "Dead letters",
            "description": "Messages a subscriber could not read, copied with their original headers plus `Repobus-Error`, `Repobus-Original-Subject`, `Repobus-Original-Stream` and `Repobus-Original-Sequence` (stream `REPOBUS_DLQ` by default).",
            "parameters": {"reason": {"description": "Why the message could not be read, `bad-envelope`, `unknown-topic`, `malformed-json`, `malformed-notification` or `schema-violation`."}},
            "messages": {"dead-letter": {"$ref": "#/components/messages/dead-letter"}}
        }),
    );
    messages.insert(
        "dead-letter".to_owned(),
        json!({
            "name": "dead-letter",
            "title": "Dead letter",
            "summary": "The original payload, unchanged (it may be any bytes).",
            "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
            "payload": {}
        }),
    );
    operations.insert(
        "receive-dead-letters".to_owned(),
        json!({
            "action": "receive",
            "channel": {"$ref": "#/channels/dead-letters"},
            "messages": [{"$ref": "#/channels/dead-letters/messages/dead-letter"}]
        }),
    );
    json!({
        "asyncapi": "3.0.0",
        "id": "urn:repobus:events",
        "info": {
            "title": "repobus events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Typed Pulp and Copr repository and build events on NATS JetStream. Every event is one message: the body is the event's wire body (the same JSON Pulp 2's notifier and Copr's fedora-messaging schemas carry), the metadata are CloudEvents headers. Subscribe with a wildcard filter, e.g. `repobus.repo.*.finished.>`.",
            "license": {"name": "MIT OR Apache-2.0"}
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "A NATS server with JetStream (`nats-server -js`); repobus creates the streams on connect."
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {
                "CloudEventsHeaders": headers_schema(),
                "DeadLetterHeaders": {
                    "type": "object",
                    "required": ["Repobus-Error", "Repobus-Original-Subject", "Repobus-Original-Stream", "Repobus-Original-Sequence"],
                    "properties": {
                        "Repobus-Error": {"type": "string", "description": "Why the message could not be read."},
                        "Repobus-Original-Subject": {"type": "string"},
                        "Repobus-Original-Stream": {"type": "string"},
                        "Repobus-Original-Sequence": {"type": "string", "pattern": "^[0-9]+$"}
                    }
                }
            }
        }
    })
}

/// The document for the default subject prefix `repobus`.
///
/// # Examples
///
/// ```
/// let doc = repobus::asyncapi::document();
/// assert_eq!(doc["channels"]["repo-sync-started"]["address"], "repobus.repo.sync.started.{repo_id}");
/// ```
pub fn document() -> Value {
    document_for_prefix(DEFAULT_PREFIX)
}

/// The file's exact text (pretty JSON and a final newline).
///
/// # Examples
///
/// ```
/// assert!(repobus::asyncapi::render().ends_with("}\n"));
/// ```
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes `dir/asyncapi.json` (creating `dir`) and returns its path.
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("repobus-asyncapi-doc-{}", std::process::id()));
/// let path = repobus::asyncapi::write(&dir).unwrap();
/// assert!(repobus::asyncapi::check(&dir).is_ok());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write(dir: &Path) -> Result<PathBuf, SchemaFileError> {
    std::fs::create_dir_all(dir).map_err(|source| SchemaFileError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, render()).map_err(|source| SchemaFileError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Compares `dir/asyncapi.json` with what the types generate; a missing or
/// different file is [`SchemaFileError::Stale`].
///
/// # Examples
///
/// ```
/// use repobus::schema_files::SchemaFileError;
///
/// let missing = std::path::Path::new("/nonexistent-repobus-dir");
/// assert!(matches!(repobus::asyncapi::check(missing), Err(SchemaFileError::Stale(_))));
/// ```
pub fn check(dir: &Path) -> Result<(), SchemaFileError> {
    let path = dir.join(FILE_NAME);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(render().as_str()) {
        Ok(())
    } else {
        Err(SchemaFileError::Stale(vec![path]))
    }
}
