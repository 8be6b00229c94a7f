//! Why a filter, sort key or search flag was rejected, and the wording that
//! the messages share.

/// Why a filter, sort key or search flag was rejected.
///
/// Every problem is found while parsing; matching never fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CriteriaError {
    /// The filter text is not JSON.
    #[error("the filter is not valid JSON: {message}")]
    Json {
        /// What the JSON parser reported.
        message: String,
    },
    /// A filter (or a member of `$and`, `$or`, `$nor`) is not a JSON object.
    #[error("{context} must be a JSON object, found {found}")]
    NotAnObject {
        /// Which part of the filter (`the filter`, `element 2 of $or`).
        context: String,
        /// The kind of JSON value found instead (`array`, `string`, ...).
        found: String,
    },
    /// An operator that this module does not know (`$foo`, `$where`).
    #[error("unknown operator {operator} {}", field_phrase(.field))]
    UnknownOperator {
        /// The operator as written.
        operator: String,
        /// The field it was applied to; `None` at the top level.
        field: Option<String>,
    },
    /// A known operator with an operand of the wrong shape (`$in` with a
    /// string, `$exists` with a number, ...).
    #[error("{operator} {}: {problem}", field_phrase(.field))]
    InvalidOperand {
        /// The operator as written.
        operator: String,
        /// The field it was applied to; `None` at the top level.
        field: Option<String>,
        /// What is wrong, in words.
        problem: String,
    },
    /// A `$regex` (or `$not` pattern) that does not compile.
    #[error("$regex {pattern:?} on field {field:?} does not compile: {message}")]
    InvalidRegex {
        /// The field the pattern was applied to.
        field: String,
        /// The pattern as written.
        pattern: String,
        /// What the regular expression compiler reported.
        message: String,
    },
    /// `$and`, `$or`, `$nor` and `$not` nest deeper than
    /// [`MAX_FILTER_DEPTH`](super::MAX_FILTER_DEPTH).
    #[error("the filter nests $and/$or/$nor/$not more than {limit} levels deep")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// A `--sort` value that is not `field[,ascending|descending]`.
    #[error("invalid --sort {input:?}: {problem}")]
    InvalidSort {
        /// The value as given.
        input: String,
        /// What is wrong, in words.
        problem: String,
    },
    /// A search flag value (`--str-eq`, `--in`, `--fields`, ...) that is
    /// malformed.
    #[error("invalid {flag} {input:?}: {problem}")]
    InvalidFlag {
        /// The flag, with its dashes (`--int-eq`).
        flag: String,
        /// The value as given.
        input: String,
        /// What is wrong, in words.
        problem: String,
    },
}

fn field_phrase(field: &Option<String>) -> String {
    match field {
        Some(field) => format!("on field {field:?}"),
        None => "at the top level of the filter".to_owned(),
    }
}

/// The kind of a JSON value as the messages name it (`a string`, `null`).
pub(super) use crate::json_path::kind_of;
