//! JSON in error messages: paths (`$.started`, `$.summary.items[0]`,
//! `$["odd key"]`) and the kinds of values (`a string`, `null`).

use serde_json::Value;

/// Renders a serde path as a JSON path: `$.started`, `$.summary.items[0]`.
pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> String {
    let mut out = String::from("$");
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => push_index(&mut out, *index),
            serde_path_to_error::Segment::Map { key } => push_key(&mut out, key),
            serde_path_to_error::Segment::Enum { variant } => push_key(&mut out, variant),
            serde_path_to_error::Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// The path of a top-level field: `$.repo_id`.
pub(crate) fn field(key: &str) -> String {
    let mut out = String::from("$");
    push_key(&mut out, key);
    out
}

/// Appends `.key`, or `["key"]` when the key is not a plain identifier.
pub(crate) fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        out.push('.');
        out.push_str(key);
    } else {
        out.push('[');
        out.push_str(&Value::from(key).to_string());
        out.push(']');
    }
}

/// Appends `[index]`.
pub(crate) fn push_index(out: &mut String, index: usize) {
    out.push('[');
    out.push_str(&index.to_string());
    out.push(']');
}

/// A JSON value's kind, as messages name it: `a string`, `null`, ...
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_identifiers_are_quoted() {
        let mut p = String::from("$");
        push_key(&mut p, "summary");
        push_index(&mut p, 0);
        push_key(&mut p, "a b");
        push_key(&mut p, "1x");
        assert_eq!(p, r#"$.summary[0]["a b"]["1x"]"#);
        assert_eq!(field("_ns"), "$._ns");
    }
}
