//! JSON Schemas of the six event types: generated from the Rust types,
//! written to `schemas/<type>.schema.json`, and compiled once to validate
//! untrusted bodies.
//!
//! The rules live in the schema itself as `pattern`, `minimum`, `minLength`
//! and `enum` (never `format`), so any language's validator accepts what
//! repobus accepts. The one rule a pattern cannot express, that a day exists
//! in its month (no February 30th), is checked by [`validate`] after the
//! schema.
//!
//! ```
//! use repobus::{schema, EventType};
//!
//! let s = schema::generate(EventType::RepoSyncStarted);
//! assert_eq!(s["$id"], schema::schema_id(EventType::RepoSyncStarted));
//! assert_eq!(s["properties"]["repo_id"]["pattern"], repobus::id::RESOURCE_ID_PATTERN);
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

use crate::error::{DecodeError, Violation};
use crate::events::{self, push_key, EventType};
use crate::id::{ResourceId, RESOURCE_ID_PATTERN};
use crate::time::{Timestamp, TIMESTAMP_PATTERN};

/// The stable `$id` of a type's schema (also the CloudEvents `dataschema`).
pub fn schema_id(event_type: EventType) -> &'static str {
    match event_type {
        EventType::RepoSyncStarted => {
            "https://repobus.dev/schemas/v1/repo-sync-started.schema.json"
        }
        EventType::RepoSyncFinished => {
            "https://repobus.dev/schemas/v1/repo-sync-finished.schema.json"
        }
        EventType::RepoPublishStarted => {
            "https://repobus.dev/schemas/v1/repo-publish-started.schema.json"
        }
        EventType::RepoPublishFinished => {
            "https://repobus.dev/schemas/v1/repo-publish-finished.schema.json"
        }
        EventType::BuildChrootStarted => {
            "https://repobus.dev/schemas/v1/build-chroot-started.schema.json"
        }
        EventType::BuildChrootEnded => {
            "https://repobus.dev/schemas/v1/build-chroot-ended.schema.json"
        }
    }
}

/// The schema's file name: `<type>.schema.json`.
pub fn file_name(event_type: EventType) -> String {
    format!("{event_type}.schema.json")
}

fn title_and_description(event_type: EventType) -> (&'static str, &'static str) {
    match event_type {
        EventType::RepoSyncStarted => (
            "Repository Sync Started",
            "Fired when a repository sync begins (Pulp 2 event type repo-sync-started). Contains the ID of the repository being synchronized.",
        ),
        EventType::RepoSyncFinished => (
            "Repository Sync Finished",
            "Fired when a repository sync completes, successfully or not (Pulp 2 event type repo-sync-finished). The body is Pulp 2's sync result document: every field is present, exception, traceback, error_message, summary and details may be null.",
        ),
        EventType::RepoPublishStarted => (
            "Repository Publish Started",
            "Fired when a repository publish begins, including an automatic publish after a sync (Pulp 2 event type repo-publish-started). Contains the IDs of the repository and of the distributor performing the publish.",
        ),
        EventType::RepoPublishFinished => (
            "Repository Publish Finished",
            "Fired when a repository publish completes, successfully or not (Pulp 2 event type repo-publish-finished). The body is Pulp 2's publish result document: every field is present, exception, traceback, error_message, summary and details may be null.",
        ),
        EventType::BuildChrootStarted => (
            "Build Chroot Started",
            "Sent by the Copr build system right before a worker starts a build in one mock chroot. Copr's fedmsg-era body of topic copr.build.start; every field is present, ip, user, pkg and version may be null.",
        ),
        EventType::BuildChrootEnded => (
            "Build Chroot Ended",
            "Sent by the Copr build system right after a worker finished a build in one mock chroot. Copr's fedmsg-era body of topic copr.build.end; every field is present, ip, user, pkg and version may be null.",
        ),
    }
}

/// The example bodies of a type: Pulp's documented examples and real Copr
/// messages.
pub fn examples(event_type: EventType) -> Vec<Value> {
    match event_type {
        EventType::RepoSyncStarted => vec![json!({"repo_id": "pulp-f17"})],
        EventType::RepoSyncFinished => vec![
            json!({
                "importer_type_id": "yum_importer", "importer_id": "yum_importer",
                "exception": null, "repo_id": "pulp-f16", "removed_count": 0,
                "started": "2012-07-06T15:49:11Z", "_ns": "repo_sync_results",
                "completed": "2012-07-06T15:49:14Z", "traceback": null, "summary": {},
                "added_count": 0, "error_message": null, "updated_count": 0, "details": {},
                "id": "4ff7413a8a905b777d000072", "result": "success"
            }),
            json!({
                "importer_type_id": "yum_importer", "importer_id": "yum_importer",
                "exception": null, "repo_id": "pulp-f17", "removed_count": 0,
                "started": "2012-07-06T12:06:02Z", "_ns": "repo_sync_results",
                "completed": "2012-07-06T12:06:02Z", "traceback": null, "summary": {},
                "added_count": 0, "error_message": null, "updated_count": 0, "details": null,
                "id": "4ff70cea8a905b777d00000c", "result": "failed"
            }),
        ],
        EventType::RepoPublishStarted => {
            vec![json!({"repo_id": "pulp-f16", "distributor_id": "yum_distributor"})]
        }
        EventType::RepoPublishFinished => vec![json!({
            "exception": null, "repo_id": "pulp-f16", "started": "2012-07-06T15:53:41Z",
            "_ns": "repo_publish_results", "completed": "2012-07-06T15:53:43Z",
            "traceback": null, "distributor_type_id": "yum_distributor", "summary": {},
            "error_message": null, "details": {}, "distributor_id": "yum_distributor",
            "id": "4ff742478a905b777d00008b", "result": "success"
        })],
        EventType::BuildChrootStarted => vec![json!({
            "status": 3,
            "what": "build start: user:churchyard copr:python3.8 pkg:python-hypothesis build:945012 ip:172.25.93.20 pid:3762",
            "chroot": "fedora-rawhide-x86_64", "ip": "172.25.93.20", "user": "churchyard",
            "who": "backend.worker-23551-PC", "pid": 3762, "copr": "python3.8",
            "version": "4.23.8-1.fc31", "build": 945012, "owner": "@python",
            "pkg": "python-hypothesis"
        })],
        EventType::BuildChrootEnded => vec![json!({
            "status": 0,
            "what": "build end: user:kbaig copr:test build:942697 pkg:tkn version:0.1.2-1.fc30 ip:172.25.91.143 pid:26197 status:0",
            "chroot": "fedora-29-x86_64", "ip": "172.25.91.143", "user": "kbaig",
            "who": "backend.worker-14783-PC", "pid": 26197, "copr": "test",
            "version": "0.1.2-1.fc30", "build": 942697, "owner": "kbaig", "pkg": "tkn"
        })],
    }
}

/// Generates the JSON Schema (2020-12) of a type from its Rust definition.
pub fn generate(event_type: EventType) -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let schema = match event_type {
        EventType::RepoSyncStarted => generator.into_root_schema_for::<events::RepoSyncStarted>(),
        EventType::RepoSyncFinished => generator.into_root_schema_for::<events::RepoSyncFinished>(),
        EventType::RepoPublishStarted => {
            generator.into_root_schema_for::<events::RepoPublishStarted>()
        }
        EventType::RepoPublishFinished => {
            generator.into_root_schema_for::<events::RepoPublishFinished>()
        }
        EventType::BuildChrootStarted => {
            generator.into_root_schema_for::<events::BuildChrootStarted>()
        }
        EventType::BuildChrootEnded => generator.into_root_schema_for::<events::BuildChrootEnded>(),
    };
    let mut generated = schema.to_value();
    strip_format(&mut generated);
    let (title, description) = title_and_description(event_type);
    let mut out = serde_json::Map::new();
    out.insert("$schema".into(), generated["$schema"].take());
    out.insert("$id".into(), schema_id(event_type).into());
    out.insert("title".into(), title.into());
    out.insert("description".into(), description.into());
    if let Value::Object(rest) = generated {
        for (key, value) in rest {
            if !matches!(key.as_str(), "$schema" | "$id" | "title" | "description") {
                out.insert(key, value);
            }
        }
    }
    out.insert("examples".into(), examples(event_type).into());
    Value::Object(out)
}

/// Removes `format` keywords (schemars adds `"format": "uint64"`): the rules
/// are in `minimum` and `pattern`, and strict validators reject unknown
/// formats.
fn strip_format(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("format").is_some_and(Value::is_string) && map.contains_key("type") {
                map.remove("format");
            }
            map.values_mut().for_each(strip_format);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_format),
        _ => {}
    }
}

/// The schema file's exact text (pretty JSON and a final newline).
pub fn render(event_type: EventType) -> String {
    let mut text = serde_json::to_string_pretty(&generate(event_type)).unwrap_or_default();
    text.push('\n');
    text
}

/// Errors writing or checking schema files.
#[derive(Debug, thiserror::Error)]
pub enum SchemaFileError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Committed files differ from what the types generate.
    #[error("schema files out of date (run `repobus schemas` to regenerate): {}", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Stale(Vec<PathBuf>),
}

/// Writes all six schema files into `dir` (created if missing) and returns
/// their paths.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>, SchemaFileError> {
    std::fs::create_dir_all(dir).map_err(|source| SchemaFileError::Io {
        path: dir.to_owned(),
        source,
    })?;
    EventType::ALL
        .into_iter()
        .map(|t| {
            let path = dir.join(file_name(t));
            std::fs::write(&path, render(t)).map_err(|source| SchemaFileError::Io {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        })
        .collect()
}

/// Compares the files in `dir` with what the types generate; names every
/// file that is missing or different.
pub fn check(dir: &Path) -> Result<(), SchemaFileError> {
    let stale: Vec<PathBuf> = EventType::ALL
        .into_iter()
        .map(|t| dir.join(file_name(t)))
        .zip(EventType::ALL)
        .filter(|(path, t)| std::fs::read_to_string(path).ok().as_deref() != Some(&render(*t)))
        .map(|(path, _)| path)
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(SchemaFileError::Stale(stale))
    }
}

struct Compiled {
    validator: Validator,
    /// Top-level properties whose values are timestamps.
    timestamp_fields: Vec<String>,
}

fn compiled(event_type: EventType) -> &'static Compiled {
    static COMPILED: OnceLock<Vec<Compiled>> = OnceLock::new();
    let all = COMPILED.get_or_init(|| {
        EventType::ALL
            .into_iter()
            .map(|t| {
                let schema = generate(t);
                let validator = jsonschema::draft202012::new(&schema).unwrap_or_else(|e| {
                    panic!("the generated schema of {t} does not compile: {e}")
                });
                let timestamp_fields = schema["properties"]
                    .as_object()
                    .map(|props| {
                        props
                            .iter()
                            .filter(|(_, s)| s["pattern"] == TIMESTAMP_PATTERN)
                            .map(|(k, _)| k.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                Compiled {
                    validator,
                    timestamp_fields,
                }
            })
            .collect()
    });
    &all[EventType::ALL
        .iter()
        .position(|t| *t == event_type)
        .unwrap_or_default()]
}

/// True when `body` passes the compiled schema of `event_type` (the
/// JSON Schema alone; [`validate`] also checks that days exist).
pub fn is_valid(event_type: EventType, body: &Value) -> bool {
    compiled(event_type).validator.is_valid(body)
}

/// Validates `body` against the compiled schema of `event_type`.
///
/// Every broken rule is reported with its JSON path.
pub fn validate(event_type: EventType, body: &Value) -> Result<(), DecodeError> {
    let compiled = compiled(event_type);
    // The common case, a valid body, takes the cheap check; errors are
    // collected (with paths and words) only for an invalid one.
    let mut violations: Vec<Violation> = if compiled.validator.is_valid(body) {
        Vec::new()
    } else {
        compiled
            .validator
            .iter_errors(body)
            .map(|e| violation(body, &e))
            .collect()
    };
    for field in &compiled.timestamp_fields {
        if let Some(Err(e)) = body
            .get(field)
            .and_then(Value::as_str)
            .map(Timestamp::parse)
        {
            let mut path = String::from("$");
            push_key(&mut path, field);
            if !violations.iter().any(|v| v.path == path) {
                violations.push(Violation {
                    path,
                    rule: e.to_string(),
                });
            }
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::Invalid {
            event_type,
            violations,
        })
    }
}

fn violation(body: &Value, error: &jsonschema::ValidationError<'_>) -> Violation {
    let mut path = String::from("$");
    let mut node = body;
    for segment in error.instance_path().to_string().split('/').skip(1) {
        let key = segment.replace("~1", "/").replace("~0", "~");
        match node {
            Value::Array(items) => {
                path.push_str(&format!("[{key}]"));
                node = key
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .unwrap_or(&Value::Null);
            }
            _ => {
                push_key(&mut path, &key);
                node = node.get(&key).unwrap_or(&Value::Null);
            }
        }
    }
    let instance = error.instance();
    let shown = short(instance);
    let rule = match error.kind() {
        ValidationErrorKind::Required { property } => {
            if let Some(name) = property.as_str() {
                push_key(&mut path, name);
            }
            "is required".to_owned()
        }
        ValidationErrorKind::Type { .. } => format!("{shown} must be {}", schema_types(error)),
        ValidationErrorKind::Pattern { pattern } => match instance.as_str() {
            Some(s) if pattern == TIMESTAMP_PATTERN => match Timestamp::parse(s) {
                Err(e) => e.to_string(),
                Ok(_) => {
                    format!("{shown} is not a UTC ISO 8601 date-time like 2012-07-06T15:49:11Z")
                }
            },
            Some(s) if pattern == RESOURCE_ID_PATTERN => match ResourceId::new(s) {
                Err(e) => e.to_string(),
                Ok(_) => format!("{shown} is not a resource ID"),
            },
            _ => format!("{shown} does not match the pattern {pattern}"),
        },
        ValidationErrorKind::Enum { options } => format!("{shown} is not one of {options}"),
        ValidationErrorKind::Minimum { limit } => {
            format!("{shown} is less than the minimum {limit} (must be a non-negative integer)")
        }
        ValidationErrorKind::MinLength { .. } => format!("{shown} must not be empty"),
        _ => error.to_string(),
    };
    Violation { path, rule }
}

/// The `type` keyword the error broke, in words: `an integer`, `a string
/// or null`.
fn schema_types(error: &jsonschema::ValidationError<'_>) -> String {
    // jsonschema writes `<value> is not of type "x"` or `... of types "x", "y"`.
    let text = error.to_string();
    let names: Vec<String> = text
        .rsplit_once(" of type")
        .map(|(_, tail)| {
            tail.trim_start_matches('s')
                .split(',')
                .map(|n| n.trim().trim_matches('"').to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let word = |n: &str| match n {
        "integer" => "an integer".to_owned(),
        "object" => "an object".to_owned(),
        "array" => "an array".to_owned(),
        "null" => "null".to_owned(),
        other => format!("a {other}"),
    };
    let mut words: Vec<String> = names.iter().map(|n| word(n)).collect();
    words.sort_by_key(|w| w == "null");
    if words.is_empty() {
        "of another type".to_owned()
    } else {
        words.join(" or ")
    }
}

/// A value for an error message, cut to a readable length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}
