//! JSON Schemas of the event types: generated from the Rust types (see
//! [`crate::events::EventKind`]) and compiled once to validate untrusted
//! bodies. The committed files under `schemas/` are written and checked by
//! [`crate::schema_files`].
//!
//! The rules live in the schema itself as `pattern`, `minimum`, `minLength`
//! and `enum` (never `format`), so any language's validator accepts what
//! repobus accepts. The one rule a pattern cannot express, that a day exists
//! in its month (no February 30th), is checked after the schema when a body
//! is decoded.
//!
//! ```
//! use repobus::{schema, EventType};
//!
//! let s = EventType::RepoSyncStarted.schema();
//! assert_eq!(s["$id"], schema::schema_id(EventType::RepoSyncStarted));
//! assert_eq!(s["properties"]["repo_id"]["pattern"], repobus::id::RESOURCE_ID_PATTERN);
//! ```

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::error::{DecodeError, Violation};
use crate::event_type::EventType;
use crate::id::{ResourceId, RESOURCE_ID_PATTERN};
use crate::json_path;
use crate::time::{Timestamp, TIMESTAMP_PATTERN};

/// The stable `$id` of a type's schema (also the CloudEvents `dataschema`).
///
/// ```
/// use repobus::{schema, EventType};
///
/// assert_eq!(schema::schema_id(EventType::RepoSyncStarted),
///            "https://repobus.dev/schemas/v1/repo-sync-started.schema.json");
/// ```
pub fn schema_id(event_type: EventType) -> String {
    format!("https://repobus.dev/schemas/v1/{event_type}.schema.json")
}

/// The schema's file name: `<type>.schema.json`.
pub fn file_name(event_type: EventType) -> String {
    format!("{event_type}.schema.json")
}

/// Generates the JSON Schema (2020-12) of a type from its Rust definition
/// `T`, with the type's `$id`, title, description and examples. Use
/// [`EventType::schema`], which calls this with the type's own metadata.
pub fn generate<T: schemars::JsonSchema>(
    event_type: EventType,
    title: &str,
    description: &str,
    examples: Vec<Value>,
) -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut generated = schema.to_value();
    strip_format(&mut generated);
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
    out.insert("examples".into(), examples.into());
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

/// A type's schema, compiled once, with what [`Compiled::validate`] checks
/// beyond it.
pub(crate) struct Compiled {
    event_type: EventType,
    validator: Validator,
    /// Top-level properties whose values are timestamps.
    timestamp_fields: Vec<String>,
}

impl Compiled {
    /// Compiles the generated `schema` of `event_type`.
    ///
    /// # Panics
    ///
    /// If the schema does not compile: it is generated from repobus's own
    /// types, so that is a bug in repobus, caught by every decode test.
    pub(crate) fn new(event_type: EventType, schema: &Value) -> Self {
        let validator = jsonschema::draft202012::new(schema).unwrap_or_else(|e| {
            panic!("the generated schema of {event_type} does not compile: {e}")
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
            event_type,
            validator,
            timestamp_fields,
        }
    }

    /// True when `body` passes the JSON Schema alone ([`Compiled::validate`]
    /// also checks that days exist).
    pub(crate) fn is_valid(&self, body: &Value) -> bool {
        self.validator.is_valid(body)
    }

    /// Validates `body`; every broken rule is reported with its JSON path.
    pub(crate) fn validate(&self, body: &Value) -> Result<(), DecodeError> {
        // The common case, a valid body, takes the cheap check; errors are
        // collected (with paths and words) only for an invalid one.
        let mut violations: Vec<Violation> = if self.validator.is_valid(body) {
            Vec::new()
        } else {
            self.validator
                .iter_errors(body)
                .map(|e| violation(body, &e))
                .collect()
        };
        for field in &self.timestamp_fields {
            if let Some(Err(e)) = body
                .get(field)
                .and_then(Value::as_str)
                .map(Timestamp::parse)
            {
                let path = json_path::field(field);
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
                event_type: self.event_type,
                violations,
            })
        }
    }
}

fn violation(body: &Value, error: &jsonschema::ValidationError<'_>) -> Violation {
    let mut path = String::from("$");
    let mut node = body;
    for segment in error.instance_path().to_string().split('/').skip(1) {
        let key = segment.replace("~1", "/").replace("~0", "~");
        match node {
            Value::Array(items) => {
                json_path::push_index(&mut path, key.parse().unwrap_or_default());
                node = key
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .unwrap_or(&Value::Null);
            }
            _ => {
                json_path::push_key(&mut path, &key);
                node = node.get(&key).unwrap_or(&Value::Null);
            }
        }
    }
    let instance = error.instance();
    let shown = short(instance);
    let rule = match error.kind() {
        ValidationErrorKind::Required { property } => {
            if let Some(name) = property.as_str() {
                json_path::push_key(&mut path, name);
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
