//! Pulp-style search criteria over event descriptions: filters, sorting,
//! paging, field selection and a time window.
//!
//! An event is described by a flat JSON object (`serde_json::Map`) whose values
//! are strings, numbers, booleans, `null` and arrays of strings. This module
//! selects, orders and trims such objects the way Pulp's criteria (and
//! `pulp-admin`'s search flags) do:
//!
//! * [`Filter`] is a MongoDB-style query document (`{"result": "failed"}`,
//!   `{"added_count": {"$gte": 1}}`, `{"$or": [...]}`), checked and compiled
//!   once when it is parsed, so matching never fails.
//! * [`SortKey`] is one `--sort field[,ascending|descending]` key.
//! * [`FlagFilters`] turns `pulp-admin`'s `--str-eq`, `--int-eq`, `--match`,
//!   `--in`, `--not`, `--gt`, `--gte`, `--lt` and `--lte` flags into a
//!   [`Filter`].
//! * [`Criteria`] puts it all together: filter, `after`/`before` window, sort,
//!   skip, limit and field projection.
//!
//! # Comparison rules
//!
//! * Numbers compare by value, whatever their JSON representation (`1`, `1.0`,
//!   large unsigned integers and negative integers all compare exactly).
//! * Two strings that both read as UTC ISO 8601 dates or date-times (see
//!   [`crate::time::parse_datetime`]) compare as instants, so
//!   `"2012-07-06T15:49:11Z"` equals `"2012-07-06T15:49:11+00:00"` and
//!   `"2012-07-06"` means midnight. Other pairs of strings compare by their
//!   text (byte order).
//! * Values of different kinds (a number and a string, a string and a boolean)
//!   are never equal and never greater or less than each other in a filter,
//!   like MongoDB's type bracketing: `{"n": {"$gt": "3"}}` does not match
//!   `{"n": 5}`.
//! * A missing field counts as `null` for equality and for `$gte`/`$lte`
//!   (`{"url": null}` matches objects without `url`), but only `$exists` and
//!   the negative operators (`$ne`, `$nin`, `$not`) otherwise match it.
//! * When the object's value is an array, equality, `$in`, `$regex` and the
//!   range operators match if any element matches (so
//!   `{"usernames": "churchyard"}` finds events whose `usernames` list
//!   contains `churchyard`); an array operand also matches an equal array.
//! * Field names are literal keys: a dot in a name is not a path.
//!
//! # Example
//!
//! ```
//! use repobus::criteria::{Criteria, Filter, FlagFilters};
//! use serde_json::{json, Map, Value};
//!
//! fn event(v: Value) -> Map<String, Value> {
//!     v.as_object().cloned().unwrap()
//! }
//! let events = vec![
//!     event(json!({"type": "repo-sync-finished", "repo_id": "pulp-f16",
//!                  "result": "failed", "added_count": 0,
//!                  "time": "2026-11-23T18:00:00Z"})),
//!     event(json!({"type": "repo-sync-finished", "repo_id": "pulp-f17",
//!                  "result": "success", "added_count": 4,
//!                  "time": "2026-11-23T19:00:00Z"})),
//!     event(json!({"type": "repo-sync-finished", "repo_id": "pulp-f18",
//!                  "result": "success", "added_count": 9,
//!                  "time": "2026-11-23T20:00:00Z"})),
//! ];
//!
//! // `--filters '{"added_count": {"$gte": 1}}' --str-eq type=repo-sync-finished`
//! let filter: Filter = r#"{"added_count": {"$gte": 1}}"#.parse()?;
//! let flags = FlagFilters {
//!     str_eq: vec!["type=repo-sync-finished".into()],
//!     ..FlagFilters::default()
//! };
//! let filter = Filter::all([Some(filter), flags.to_filter()?].into_iter().flatten());
//!
//! // The subscriber can narrow its NATS subject to this event type.
//! let pinned = filter.as_ref().and_then(|f| f.equality_on("type"));
//! assert_eq!(pinned, Some(&json!("repo-sync-finished")));
//!
//! let criteria = Criteria {
//!     filter,
//!     sort: vec!["added_count,descending".parse()?],
//!     limit: Some(1),
//!     fields: Some(vec!["repo_id".into(), "added_count".into()]),
//!     ..Criteria::default()
//! };
//! let found = criteria.apply(events, "time");
//! assert_eq!(found, vec![event(json!({"repo_id": "pulp-f18", "added_count": 9}))]);
//! # Ok::<(), repobus::criteria::CriteriaError>(())
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

use crate::time::parse_datetime;

/// How deeply `$and`, `$or`, `$nor` and `$not` may nest in one filter.
pub const MAX_FILTER_DEPTH: usize = 64;

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
    /// `$and`, `$or`, `$nor` and `$not` nest deeper than [`MAX_FILTER_DEPTH`].
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

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------
// Filter
// ---------------------------------------------------------------------------

/// A MongoDB-style query document, checked and compiled.
///
/// Supported, as in Pulp's criteria:
///
/// * implicit equality: `{"result": "failed"}`;
/// * `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$in`, `$nin`;
/// * `$regex` with optional `$options` (any of `i`, `m`, `s`, `x`), using the
///   syntax of the [`regex`] crate (no look-around or back-references);
/// * `$exists` with `true` or `false`;
/// * `$not` with an operator object (`{"$not": {"$gt": 3}}`) or a regular
///   expression string (`{"$not": "^pulp-"}`);
/// * `$and`, `$or` and `$nor` with non-empty arrays of filters.
///
/// Several operators on one field, and several fields, are all AND-ed. An
/// object operand without `$` keys is a literal value for equality. See the
/// [module documentation](self) for how values compare.
///
/// ```
/// use repobus::criteria::Filter;
/// use serde_json::json;
///
/// let filter: Filter = r#"{"usernames": "churchyard", "build_id": {"$gt": 900000}}"#.parse()?;
/// let event = json!({"build_id": 945012, "usernames": ["churchyard"]});
/// assert!(filter.matches(event.as_object().unwrap()));
/// # Ok::<(), repobus::criteria::CriteriaError>(())
/// ```
#[derive(Clone)]
pub struct Filter {
    json: Value,
    clauses: Vec<Clause>,
}

/// One member of an implicit AND.
#[derive(Debug, Clone)]
enum Clause {
    Field {
        field: String,
        conditions: Vec<Condition>,
    },
    And(Vec<Vec<Clause>>),
    Or(Vec<Vec<Clause>>),
    Nor(Vec<Vec<Clause>>),
}

#[derive(Debug, Clone)]
enum Condition {
    Eq(Operand),
    Ne(Operand),
    Range(RangeOp, Operand),
    In(Vec<Operand>),
    Nin(Vec<Operand>),
    Regex(Regex),
    Exists(bool),
    Not(Vec<Condition>),
}

#[derive(Debug, Clone, Copy)]
enum RangeOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl RangeOp {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            RangeOp::Gt => ordering == Ordering::Greater,
            RangeOp::Gte => ordering != Ordering::Less,
            RangeOp::Lt => ordering == Ordering::Less,
            RangeOp::Lte => ordering != Ordering::Greater,
        }
    }
}

/// A value from the filter, with its instant worked out once if it is a
/// date-time string.
#[derive(Debug, Clone)]
struct Operand {
    value: Value,
    instant: Option<DateTime<Utc>>,
}

impl Operand {
    fn new(value: &Value) -> Self {
        let instant = value.as_str().and_then(|s| parse_datetime(s).ok());
        Operand {
            value: value.clone(),
            instant,
        }
    }
}

impl Filter {
    /// Parses a query document such as `{"result": "failed"}`.
    ///
    /// Every operator, operand and regular expression is checked here, so a
    /// filter that parses can be matched against any object.
    pub fn from_json(json: &Value) -> Result<Filter, CriteriaError> {
        let clauses = parse_document(json, "the filter", 0)?;
        Ok(Filter {
            json: json.clone(),
            clauses,
        })
    }

    /// The query document this filter was built from.
    pub fn as_json(&self) -> &Value {
        &self.json
    }

    /// Whether `obj` satisfies the filter.
    pub fn matches(&self, obj: &Map<String, Value>) -> bool {
        all_match(&self.clauses, obj)
    }

    /// A filter that matches what both `self` and `other` match
    /// (`{"$and": [self, other]}`).
    pub fn and(self, other: Filter) -> Filter {
        Filter {
            json: serde_json::json!({ "$and": [self.json, other.json] }),
            clauses: vec![Clause::And(vec![self.clauses, other.clauses])],
        }
    }

    /// AND-s any number of filters: `None` for none, the filter itself for
    /// one, and `{"$and": [...]}` for more.
    pub fn all(filters: impl IntoIterator<Item = Filter>) -> Option<Filter> {
        let mut filters: Vec<Filter> = filters.into_iter().collect();
        match filters.len() {
            0 => None,
            1 => filters.pop(),
            _ => {
                let json = Value::Array(filters.iter().map(|f| f.json.clone()).collect());
                let members = filters.into_iter().map(|f| f.clauses).collect();
                Some(Filter {
                    json: serde_json::json!({ "$and": json }),
                    clauses: vec![Clause::And(members)],
                })
            }
        }
    }

    /// The value that `field` must equal in every object this filter matches,
    /// if the filter requires one.
    ///
    /// A field is pinned by a top-level implicit equality
    /// (`{"type": "build-chroot-ended"}`), an `$eq`, or a one-element `$in`,
    /// directly or inside `$and` (at any depth). Nothing under `$or`, `$nor` or
    /// `$not` pins a field. Only plain values are reported: never `null`
    /// (which also matches a missing field), arrays, objects, or strings that
    /// read as date-times (those match other spellings of the same instant).
    /// A returned string therefore must appear verbatim in the object (or, if
    /// the field holds an array, among its elements), which makes it safe to
    /// put into a NATS subject token. If a filter pins a field to two
    /// different values it matches nothing, and either value may be returned.
    pub fn equality_on(&self, field: &str) -> Option<&Value> {
        let mut found = None;
        visit_pins(&self.clauses, &mut |name, value| {
            if found.is_none() && name == field {
                found = Some(value);
            }
        });
        found
    }

    /// Every field that [`equality_on`](Self::equality_on) would report, with
    /// its value, in the order the fields first appear in the filter.
    pub fn pinned_equalities(&self) -> Vec<(String, Value)> {
        let mut pins: Vec<(String, Value)> = Vec::new();
        visit_pins(&self.clauses, &mut |name, value| {
            if !pins.iter().any(|(seen, _)| seen == name) {
                pins.push((name.to_owned(), value.clone()));
            }
        });
        pins
    }
}

impl FromStr for Filter {
    type Err = CriteriaError;

    /// Parses the JSON text of a query document.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let json: Value = serde_json::from_str(s).map_err(|e| CriteriaError::Json {
            message: e.to_string(),
        })?;
        Filter::from_json(&json)
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Filter({})", self.json)
    }
}

/// Writes the query document as compact JSON.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.json)
    }
}

/// Two filters are equal when their query documents are.
impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

/// Serializes as the query document.
impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

/// Deserializes a query document, with the checks of [`Filter::from_json`].
impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(deserializer)?;
        Filter::from_json(&json).map_err(serde::de::Error::custom)
    }
}

// --- parsing ---------------------------------------------------------------

fn parse_document(json: &Value, context: &str, depth: usize) -> Result<Vec<Clause>, CriteriaError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(CriteriaError::TooDeep {
            limit: MAX_FILTER_DEPTH,
        });
    }
    let Value::Object(map) = json else {
        return Err(CriteriaError::NotAnObject {
            context: context.to_owned(),
            found: kind_of(json).to_owned(),
        });
    };
    let mut clauses = Vec::with_capacity(map.len());
    for (key, value) in map {
        let clause = match key.as_str() {
            "$and" => Clause::And(parse_list(key, value, depth)?),
            "$or" => Clause::Or(parse_list(key, value, depth)?),
            "$nor" => Clause::Nor(parse_list(key, value, depth)?),
            _ if key.starts_with('$') => {
                return Err(CriteriaError::UnknownOperator {
                    operator: key.clone(),
                    field: None,
                })
            }
            _ => Clause::Field {
                field: key.clone(),
                conditions: parse_field_condition(key, value, depth)?,
            },
        };
        clauses.push(clause);
    }
    Ok(clauses)
}

fn parse_list(
    operator: &str,
    value: &Value,
    depth: usize,
) -> Result<Vec<Vec<Clause>>, CriteriaError> {
    let invalid = |problem: String| CriteriaError::InvalidOperand {
        operator: operator.to_owned(),
        field: None,
        problem,
    };
    let Value::Array(members) = value else {
        return Err(invalid(format!(
            "needs a non-empty array of filter objects, found {}",
            kind_of(value)
        )));
    };
    if members.is_empty() {
        return Err(invalid(
            "needs a non-empty array of filter objects, found an empty array".to_owned(),
        ));
    }
    members
        .iter()
        .enumerate()
        .map(|(i, member)| parse_document(member, &format!("element {i} of {operator}"), depth + 1))
        .collect()
}

fn parse_field_condition(
    field: &str,
    value: &Value,
    depth: usize,
) -> Result<Vec<Condition>, CriteriaError> {
    match value {
        Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => {
            parse_operators(field, map, depth)
        }
        // A plain value (or an object without operators) is implicit equality.
        _ => Ok(vec![Condition::Eq(Operand::new(value))]),
    }
}

fn parse_operators(
    field: &str,
    map: &Map<String, Value>,
    depth: usize,
) -> Result<Vec<Condition>, CriteriaError> {
    let invalid = |operator: &str, problem: String| CriteriaError::InvalidOperand {
        operator: operator.to_owned(),
        field: Some(field.to_owned()),
        problem,
    };
    if let Some(plain) = map.keys().find(|k| !k.starts_with('$')) {
        let operator = map.keys().find(|k| k.starts_with('$')).map_or("", |k| k);
        return Err(invalid(
            operator,
            format!("operators cannot be mixed with the plain key {plain:?} in one object"),
        ));
    }
    let mut conditions = Vec::with_capacity(map.len());
    for (operator, operand) in map {
        let condition = match operator.as_str() {
            "$eq" => Condition::Eq(Operand::new(operand)),
            "$ne" => Condition::Ne(Operand::new(operand)),
            "$gt" => Condition::Range(RangeOp::Gt, Operand::new(operand)),
            "$gte" => Condition::Range(RangeOp::Gte, Operand::new(operand)),
            "$lt" => Condition::Range(RangeOp::Lt, Operand::new(operand)),
            "$lte" => Condition::Range(RangeOp::Lte, Operand::new(operand)),
            "$in" | "$nin" => {
                let Value::Array(items) = operand else {
                    return Err(invalid(
                        operator,
                        format!("needs an array of values, found {}", kind_of(operand)),
                    ));
                };
                let items = items.iter().map(Operand::new).collect();
                if operator == "$in" {
                    Condition::In(items)
                } else {
                    Condition::Nin(items)
                }
            }
            "$regex" => {
                let Value::String(pattern) = operand else {
                    return Err(invalid(
                        operator,
                        format!("needs a pattern string, found {}", kind_of(operand)),
                    ));
                };
                Condition::Regex(compile_regex(field, pattern, map.get("$options"))?)
            }
            "$options" => {
                if !map.contains_key("$regex") {
                    return Err(invalid(
                        operator,
                        "is only allowed next to $regex".to_owned(),
                    ));
                }
                // Read by the `$regex` arm.
                continue;
            }
            "$exists" => {
                let Value::Bool(wanted) = operand else {
                    return Err(invalid(
                        operator,
                        format!("needs true or false, found {}", kind_of(operand)),
                    ));
                };
                Condition::Exists(*wanted)
            }
            "$not" => Condition::Not(parse_not(field, operand, depth + 1)?),
            _ => {
                return Err(CriteriaError::UnknownOperator {
                    operator: operator.clone(),
                    field: Some(field.to_owned()),
                })
            }
        };
        conditions.push(condition);
    }
    Ok(conditions)
}

fn parse_not(field: &str, operand: &Value, depth: usize) -> Result<Vec<Condition>, CriteriaError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(CriteriaError::TooDeep {
            limit: MAX_FILTER_DEPTH,
        });
    }
    let invalid = |problem: String| CriteriaError::InvalidOperand {
        operator: "$not".to_owned(),
        field: Some(field.to_owned()),
        problem,
    };
    match operand {
        Value::String(pattern) => Ok(vec![Condition::Regex(compile_regex(field, pattern, None)?)]),
        Value::Object(map) if map.is_empty() => {
            Err(invalid("needs at least one operator, found {}".to_owned()))
        }
        Value::Object(map) if map.keys().all(|k| k.starts_with('$')) => {
            parse_operators(field, map, depth)
        }
        Value::Object(_) => Err(invalid(
            "needs an object of operators (such as {\"$gt\": 3}), found an object with plain keys"
                .to_owned(),
        )),
        other => Err(invalid(format!(
            "needs an object of operators or a regular expression string, found {}",
            kind_of(other)
        ))),
    }
}

fn compile_regex(
    field: &str,
    pattern: &str,
    options: Option<&Value>,
) -> Result<Regex, CriteriaError> {
    let mut builder = RegexBuilder::new(pattern);
    match options {
        None => {}
        Some(Value::String(letters)) => {
            for letter in letters.chars() {
                match letter {
                    'i' => builder.case_insensitive(true),
                    'm' => builder.multi_line(true),
                    's' => builder.dot_matches_new_line(true),
                    'x' => builder.ignore_whitespace(true),
                    other => {
                        return Err(CriteriaError::InvalidOperand {
                            operator: "$options".to_owned(),
                            field: Some(field.to_owned()),
                            problem: format!(
                                "unsupported option {other:?}; the options are i, m, s and x"
                            ),
                        })
                    }
                };
            }
        }
        Some(other) => {
            return Err(CriteriaError::InvalidOperand {
                operator: "$options".to_owned(),
                field: Some(field.to_owned()),
                problem: format!("needs a string of option letters, found {}", kind_of(other)),
            })
        }
    }
    builder.build().map_err(|e| CriteriaError::InvalidRegex {
        field: field.to_owned(),
        pattern: pattern.to_owned(),
        message: e.to_string(),
    })
}

// --- matching --------------------------------------------------------------

fn all_match(clauses: &[Clause], obj: &Map<String, Value>) -> bool {
    clauses.iter().all(|clause| clause_matches(clause, obj))
}

fn clause_matches(clause: &Clause, obj: &Map<String, Value>) -> bool {
    match clause {
        Clause::Field { field, conditions } => {
            let value = obj.get(field);
            conditions.iter().all(|c| condition_matches(c, value))
        }
        Clause::And(members) => members.iter().all(|m| all_match(m, obj)),
        Clause::Or(members) => members.iter().any(|m| all_match(m, obj)),
        Clause::Nor(members) => !members.iter().any(|m| all_match(m, obj)),
    }
}

fn condition_matches(condition: &Condition, value: Option<&Value>) -> bool {
    match condition {
        Condition::Eq(operand) => equals(value, operand),
        Condition::Ne(operand) => !equals(value, operand),
        Condition::Range(op, operand) => in_range(value, *op, operand),
        Condition::In(operands) => operands.iter().any(|o| equals(value, o)),
        Condition::Nin(operands) => !operands.iter().any(|o| equals(value, o)),
        Condition::Regex(regex) => match value {
            Some(Value::String(s)) => regex.is_match(s),
            Some(Value::Array(items)) => items
                .iter()
                .any(|item| item.as_str().is_some_and(|s| regex.is_match(s))),
            _ => false,
        },
        Condition::Exists(wanted) => value.is_some() == *wanted,
        Condition::Not(inner) => !inner.iter().all(|c| condition_matches(c, value)),
    }
}

/// MongoDB equality: a missing field equals `null`, and an array equals an
/// operand if one of its elements does (or the whole array does).
fn equals(value: Option<&Value>, operand: &Operand) -> bool {
    match value {
        None => operand.value.is_null(),
        Some(whole @ Value::Array(items)) => {
            items
                .iter()
                .any(|item| compare(item, operand) == Some(Ordering::Equal))
                || compare_same_kind(whole, &operand.value) == Some(Ordering::Equal)
        }
        Some(v) => compare(v, operand) == Some(Ordering::Equal),
    }
}

fn in_range(value: Option<&Value>, op: RangeOp, operand: &Operand) -> bool {
    let accepts = |v: &Value| compare(v, operand).is_some_and(|o| op.accepts(o));
    match value {
        None => accepts(&Value::Null),
        Some(Value::Array(items)) => items.iter().any(accepts),
        Some(v) => accepts(v),
    }
}

/// Compares an object's value with a filter operand, using the operand's
/// pre-parsed instant. `None` when the two are of different kinds.
fn compare(value: &Value, operand: &Operand) -> Option<Ordering> {
    if let (Value::String(text), Some(instant)) = (value, operand.instant) {
        if let Ok(own) = parse_datetime(text) {
            return Some(own.cmp(&instant));
        }
    }
    compare_same_kind(value, &operand.value)
}

/// Compares two values of the same kind; `None` for different kinds.
fn compare_same_kind(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::Number(y)) => Some(compare_numbers(x, y)),
        (Value::String(x), Value::String(y)) => match (parse_datetime(x), parse_datetime(y)) {
            (Ok(x), Ok(y)) => Some(x.cmp(&y)),
            _ => Some(x.cmp(y)),
        },
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return None;
            }
            let all_equal = x
                .iter()
                .zip(y)
                .all(|(x, y)| compare_same_kind(x, y) == Some(Ordering::Equal));
            all_equal.then_some(Ordering::Equal)
        }
        (Value::Object(x), Value::Object(y)) => (x == y).then_some(Ordering::Equal),
        _ => None,
    }
}

enum NumberRepr {
    Int(i128),
    Float(f64),
}

fn number_repr(n: &Number) -> NumberRepr {
    if let Some(i) = n.as_i64() {
        NumberRepr::Int(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        NumberRepr::Int(i128::from(u))
    } else {
        NumberRepr::Float(n.as_f64().unwrap_or(0.0))
    }
}

/// Exact numeric comparison of JSON numbers of any representation.
fn compare_numbers(a: &Number, b: &Number) -> Ordering {
    match (number_repr(a), number_repr(b)) {
        (NumberRepr::Int(x), NumberRepr::Int(y)) => x.cmp(&y),
        (NumberRepr::Int(x), NumberRepr::Float(y)) => compare_int_float(x, y),
        (NumberRepr::Float(x), NumberRepr::Int(y)) => compare_int_float(y, x).reverse(),
        (NumberRepr::Float(x), NumberRepr::Float(y)) => {
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

fn compare_int_float(int: i128, float: f64) -> Ordering {
    let floor = float.floor();
    // `as` saturates, which keeps the comparison right for floats far outside
    // the range of JSON integers.
    match int.cmp(&(floor as i128)) {
        Ordering::Equal if float > floor => Ordering::Less,
        ordering => ordering,
    }
}

// --- push-down -------------------------------------------------------------

fn visit_pins<'a>(clauses: &'a [Clause], visit: &mut dyn FnMut(&'a str, &'a Value)) {
    for clause in clauses {
        match clause {
            Clause::Field { field, conditions } => {
                for condition in conditions {
                    let operand = match condition {
                        Condition::Eq(operand) => Some(operand),
                        Condition::In(operands) if operands.len() == 1 => operands.first(),
                        _ => None,
                    };
                    if let Some(value) = operand.and_then(pinnable) {
                        visit(field, value);
                    }
                }
            }
            Clause::And(members) => {
                for member in members {
                    visit_pins(member, visit);
                }
            }
            Clause::Or(_) | Clause::Nor(_) => {}
        }
    }
}

fn pinnable(operand: &Operand) -> Option<&Value> {
    match &operand.value {
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        Value::String(_) if operand.instant.is_some() => None,
        value => Some(value),
    }
}

// ---------------------------------------------------------------------------
// Sorting
// ---------------------------------------------------------------------------

/// Which way a [`SortKey`] orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Smallest first (the default).
    #[default]
    Ascending,
    /// Largest first.
    Descending,
}

impl FromStr for Direction {
    type Err = CriteriaError;

    /// Parses `ascending` or `descending`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ascending" => Ok(Direction::Ascending),
            "descending" => Ok(Direction::Descending),
            other => Err(CriteriaError::InvalidSort {
                input: other.to_owned(),
                problem: format!("the direction must be ascending or descending, not {other:?}"),
            }),
        }
    }
}

/// Writes `ascending` or `descending`.
impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ascending => "ascending",
            Direction::Descending => "descending",
        })
    }
}

/// One sort key: a field and a direction.
///
/// Parsed from `pulp-admin`'s `--sort field[,ascending|descending]`; the
/// direction defaults to ascending.
///
/// Values order as: missing and `null` (equal to each other), then numbers
/// (by value), then strings that read as date-times (by instant), then other
/// strings (by text), then objects (all equal), then arrays (element by
/// element, a prefix first), then `false`, then `true`. Descending reverses
/// this, so missing values come last.
///
/// ```
/// use repobus::criteria::{Direction, SortKey};
///
/// let key: SortKey = "started,descending".parse()?;
/// assert_eq!(key, SortKey::new("started", Direction::Descending));
/// assert_eq!("repo_id".parse::<SortKey>()?.direction, Direction::Ascending);
/// assert!("repo_id,up".parse::<SortKey>().is_err());
/// # Ok::<(), repobus::criteria::CriteriaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// The field to sort by.
    pub field: String,
    /// Which way to sort.
    pub direction: Direction,
}

impl SortKey {
    /// A sort key on `field`.
    pub fn new(field: impl Into<String>, direction: Direction) -> Self {
        SortKey {
            field: field.into(),
            direction,
        }
    }
}

impl FromStr for SortKey {
    type Err = CriteriaError;

    /// Parses `field[,ascending|descending]`; spaces around either part are
    /// ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |problem: String| CriteriaError::InvalidSort {
            input: s.to_owned(),
            problem,
        };
        let (field, direction) = match s.split_once(',') {
            Some((field, direction)) => (field.trim(), Some(direction.trim())),
            None => (s.trim(), None),
        };
        if field.is_empty() {
            return Err(invalid("the field name is empty".to_owned()));
        }
        let direction = match direction {
            None => Direction::Ascending,
            Some("ascending") => Direction::Ascending,
            Some("descending") => Direction::Descending,
            Some(other) => {
                return Err(invalid(format!(
                    "the direction after the comma must be ascending or descending, not {other:?}"
                )))
            }
        };
        Ok(SortKey::new(field, direction))
    }
}

/// Writes `field,direction`, which parses back.
impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.field, self.direction)
    }
}

/// A value as it sorts (see [`SortKey`] for the order).
enum SortValue<'a> {
    Null,
    Number(&'a Number),
    Instant(DateTime<Utc>),
    Text(&'a str),
    Object,
    Array(&'a [Value]),
    Bool(bool),
}

impl<'a> SortValue<'a> {
    fn of(value: Option<&'a Value>) -> Self {
        match value {
            None | Some(Value::Null) => SortValue::Null,
            Some(Value::Number(n)) => SortValue::Number(n),
            Some(Value::String(s)) => match parse_datetime(s) {
                Ok(instant) => SortValue::Instant(instant),
                Err(_) => SortValue::Text(s),
            },
            Some(Value::Object(_)) => SortValue::Object,
            Some(Value::Array(items)) => SortValue::Array(items),
            Some(Value::Bool(b)) => SortValue::Bool(*b),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortValue::Null => 0,
            SortValue::Number(_) => 1,
            SortValue::Instant(_) => 2,
            SortValue::Text(_) => 3,
            SortValue::Object => 4,
            SortValue::Array(_) => 5,
            SortValue::Bool(_) => 6,
        }
    }

    fn compare(&self, other: &SortValue<'_>) -> Ordering {
        match (self, other) {
            (SortValue::Number(a), SortValue::Number(b)) => compare_numbers(a, b),
            (SortValue::Instant(a), SortValue::Instant(b)) => a.cmp(b),
            (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
            (SortValue::Bool(a), SortValue::Bool(b)) => a.cmp(b),
            (SortValue::Array(a), SortValue::Array(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    let ordering = SortValue::of(Some(x)).compare(&SortValue::of(Some(y)));
                    if ordering != Ordering::Equal {
                        return ordering;
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Orders two field values (`None` for a missing field) as an ascending
/// [`SortKey`] does. This is a total order.
pub fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    SortValue::of(a).compare(&SortValue::of(b))
}

/// Sorts objects by `keys`, the first key deciding first. The sort is stable:
/// objects that tie on every key keep their order.
pub fn sort_objects(objects: &mut [Map<String, Value>], keys: &[SortKey]) {
    if keys.is_empty() || objects.len() < 2 {
        return;
    }
    let order: Vec<usize> = {
        let decorated: Vec<Vec<SortValue<'_>>> = objects
            .iter()
            .map(|obj| {
                keys.iter()
                    .map(|k| SortValue::of(obj.get(&k.field)))
                    .collect()
            })
            .collect();
        let mut order: Vec<usize> = (0..objects.len()).collect();
        order.sort_by(|&a, &b| {
            keys.iter()
                .zip(decorated[a].iter().zip(&decorated[b]))
                .map(|(key, (x, y))| match key.direction {
                    Direction::Ascending => x.compare(y),
                    Direction::Descending => y.compare(x),
                })
                .find(|ordering| *ordering != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        order
    };
    let mut taken: Vec<Map<String, Value>> = objects.iter_mut().map(std::mem::take).collect();
    for (slot, index) in objects.iter_mut().zip(order) {
        *slot = std::mem::take(&mut taken[index]);
    }
}

// ---------------------------------------------------------------------------
// Criteria
// ---------------------------------------------------------------------------

/// A complete search: which events, in what order, how many, which fields.
///
/// Build it with the public fields (`Criteria { limit: Some(10),
/// ..Criteria::default() }`) or the `with_*` methods. The default selects
/// everything, unsorted and whole.
///
/// The time window is half-open: an event is inside it when its time is at
/// or after `after` and strictly before `before`, so consecutive windows
/// never share an event. The time is read from the field named by the
/// caller (`time_field`) and must be a date-time string; when `after` or
/// `before` is set, events whose time is missing or unreadable are left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Criteria {
    /// Which events to keep; `None` keeps all.
    pub filter: Option<Filter>,
    /// Sort keys, the first deciding first; empty keeps the input order.
    pub sort: Vec<SortKey>,
    /// How many of the sorted, filtered events to pass over.
    pub skip: usize,
    /// At most this many events are returned (`Some(0)` returns none).
    pub limit: Option<usize>,
    /// The fields to keep, in this order; `None` keeps each object whole.
    pub fields: Option<Vec<String>>,
    /// Keep only events at or after this instant (inclusive).
    pub after: Option<DateTime<Utc>>,
    /// Keep only events strictly before this instant (exclusive).
    pub before: Option<DateTime<Utc>>,
}

impl Criteria {
    /// Criteria that select every event, unsorted and whole.
    pub fn new() -> Self {
        Criteria::default()
    }

    /// Sets the filter.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Adds a sort key after those already set.
    pub fn with_sort(mut self, key: SortKey) -> Self {
        self.sort.push(key);
        self
    }

    /// Sets how many events to pass over.
    pub fn with_skip(mut self, skip: usize) -> Self {
        self.skip = skip;
        self
    }

    /// Sets the most events to return.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets the fields to keep, in order.
    pub fn with_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Keeps events at or after `instant` (for `--after` and `--since`).
    pub fn with_after(mut self, instant: DateTime<Utc>) -> Self {
        self.after = Some(instant);
        self
    }

    /// Keeps events strictly before `instant` (for `--before`).
    pub fn with_before(mut self, instant: DateTime<Utc>) -> Self {
        self.before = Some(instant);
        self
    }

    /// Whether one event passes the filter and the time window. Sorting,
    /// skipping, limiting and projection are not involved, so this suits
    /// events arriving one at a time (live tailing).
    pub fn matches(&self, obj: &Map<String, Value>, time_field: &str) -> bool {
        self.in_window(obj, time_field) && self.filter.as_ref().is_none_or(|f| f.matches(obj))
    }

    fn in_window(&self, obj: &Map<String, Value>, time_field: &str) -> bool {
        if self.after.is_none() && self.before.is_none() {
            return true;
        }
        let Some(time) = obj
            .get(time_field)
            .and_then(Value::as_str)
            .and_then(|s| parse_datetime(s).ok())
        else {
            return false;
        };
        self.after.is_none_or(|after| time >= after)
            && self.before.is_none_or(|before| time < before)
    }

    /// Runs the whole search: keeps matching events (filter and time
    /// window), sorts them, skips `skip`, keeps at most `limit`, and projects
    /// each onto `fields`.
    ///
    /// Without sort keys the input is read only as far as needed, so a
    /// `limit` stops an endless iterator.
    pub fn apply(
        &self,
        events: impl IntoIterator<Item = Map<String, Value>>,
        time_field: &str,
    ) -> Vec<Map<String, Value>> {
        self.arrange(
            events
                .into_iter()
                .filter(|event| self.matches(event, time_field)),
        )
    }

    /// Sorts, skips, limits and projects events that already match (the
    /// second half of [`Criteria::apply`], for a caller that filtered as it
    /// read).
    pub fn arrange(
        &self,
        matching: impl IntoIterator<Item = Map<String, Value>>,
    ) -> Vec<Map<String, Value>> {
        let limit = self.limit.unwrap_or(usize::MAX);
        let matching = matching.into_iter();
        if self.sort.is_empty() {
            return matching
                .skip(self.skip)
                .take(limit)
                .map(|event| self.project_owned(event))
                .collect();
        }
        let mut kept: Vec<Map<String, Value>> = matching.collect();
        sort_objects(&mut kept, &self.sort);
        kept.into_iter()
            .skip(self.skip)
            .take(limit)
            .map(|event| self.project_owned(event))
            .collect()
    }

    /// The object cut down to `fields`, in the order listed; a listed field
    /// that the object lacks is left out, and a field listed twice appears
    /// once. Without `fields`, a copy of the whole object.
    pub fn project(&self, obj: &Map<String, Value>) -> Map<String, Value> {
        match &self.fields {
            None => obj.clone(),
            Some(fields) => fields
                .iter()
                .filter_map(|f| obj.get(f).map(|v| (f.clone(), v.clone())))
                .collect(),
        }
    }

    fn project_owned(&self, mut obj: Map<String, Value>) -> Map<String, Value> {
        match &self.fields {
            None => obj,
            Some(fields) => fields
                .iter()
                .filter_map(|f| obj.remove(f).map(|v| (f.clone(), v)))
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------
// pulp-admin search flags
// ---------------------------------------------------------------------------

/// One of `pulp-admin`'s filter flags, each taking `FIELD=VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterFlag {
    /// `--str-eq F=V`: the field equals the string `V`.
    StrEq,
    /// `--int-eq F=V`: the field equals the integer `V` (which must be one).
    IntEq,
    /// `--match F=REGEX`: the field matches the regular expression.
    Match,
    /// `--in F=a,b,c`: the field equals one of the values, given as one CSV
    /// row (`"a,b",c` is two values; `""` inside quotes is a quote). The
    /// values are strings, taken exactly as written (spaces included).
    In,
    /// `--not F=REGEX`: the field does not match the regular expression
    /// (`{"F": {"$not": {"$regex": REGEX}}}`; a missing field counts as not
    /// matching, so it is kept).
    Not,
    /// `--gt F=V`: the field is greater than `V`.
    Gt,
    /// `--gte F=V`: the field is greater than or equal to `V`.
    Gte,
    /// `--lt F=V`: the field is less than `V`.
    Lt,
    /// `--lte F=V`: the field is less than or equal to `V`.
    Lte,
}

impl FilterFlag {
    /// The flag as typed, with its dashes (`--str-eq`).
    pub fn flag(self) -> &'static str {
        match self {
            FilterFlag::StrEq => "--str-eq",
            FilterFlag::IntEq => "--int-eq",
            FilterFlag::Match => "--match",
            FilterFlag::In => "--in",
            FilterFlag::Not => "--not",
            FilterFlag::Gt => "--gt",
            FilterFlag::Gte => "--gte",
            FilterFlag::Lt => "--lt",
            FilterFlag::Lte => "--lte",
        }
    }

    /// The query document for one `FIELD=VALUE` argument of this flag, such
    /// as `{"added_count": {"$gte": 1}}`.
    ///
    /// For `--gt`, `--gte`, `--lt` and `--lte`, a value written as a JSON
    /// number (`3`, `-1.5`, `1e3`) compares as a number; anything else is a
    /// string, which compares as an instant against date-time strings when it
    /// is one (`2012-07-06`, `2012-07-06T15:49:11Z`) and by text otherwise.
    pub fn clause(self, arg: &str) -> Result<Value, CriteriaError> {
        let invalid = |problem: String| CriteriaError::InvalidFlag {
            flag: self.flag().to_owned(),
            input: arg.to_owned(),
            problem,
        };
        let Some((field, value)) = arg.split_once('=') else {
            return Err(invalid(
                "expected FIELD=VALUE, but there is no '='".to_owned(),
            ));
        };
        if field.is_empty() {
            return Err(invalid("the field name before '=' is empty".to_owned()));
        }
        if field.starts_with('$') {
            return Err(invalid("a field name cannot start with '$'".to_owned()));
        }
        let condition = match self {
            FilterFlag::StrEq => Value::String(value.to_owned()),
            FilterFlag::IntEq => Value::Number(
                parse_integer(value)
                    .ok_or_else(|| invalid(format!("{value:?} is not an integer")))?,
            ),
            FilterFlag::Match => serde_json::json!({ "$regex": value }),
            FilterFlag::Not => serde_json::json!({ "$not": { "$regex": value } }),
            FilterFlag::In => {
                let values = parse_csv_row(value).map_err(invalid)?;
                serde_json::json!({ "$in": values })
            }
            FilterFlag::Gt => serde_json::json!({ "$gt": typed_value(value) }),
            FilterFlag::Gte => serde_json::json!({ "$gte": typed_value(value) }),
            FilterFlag::Lt => serde_json::json!({ "$lt": typed_value(value) }),
            FilterFlag::Lte => serde_json::json!({ "$lte": typed_value(value) }),
        };
        let mut clause = Map::new();
        clause.insert(field.to_owned(), condition);
        Ok(Value::Object(clause))
    }

    /// The filter for one `FIELD=VALUE` argument of this flag; a regular
    /// expression that does not compile is reported against the flag.
    pub fn to_filter(self, arg: &str) -> Result<Filter, CriteriaError> {
        let clause = self.clause(arg)?;
        Filter::from_json(&clause).map_err(|e| CriteriaError::InvalidFlag {
            flag: self.flag().to_owned(),
            input: arg.to_owned(),
            problem: e.to_string(),
        })
    }
}

fn parse_integer(text: &str) -> Option<Number> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Number::from(i));
    }
    text.parse::<u64>().ok().map(Number::from)
}

/// A JSON number if the text is written as one, else the text as a string.
fn typed_value(text: &str) -> Value {
    let looks_numeric = text
        .chars()
        .next()
        .is_some_and(|c| c == '-' || c.is_ascii_digit())
        && !text.chars().any(char::is_whitespace);
    if looks_numeric {
        if let Ok(number) = serde_json::from_str::<Number>(text) {
            return Value::Number(number);
        }
    }
    Value::String(text.to_owned())
}

/// Splits one CSV row into values, as Python's `csv` module does for
/// `pulp-admin --in`: values are separated by commas, a value that starts with
/// `"` runs to the closing `"` (commas included, `""` standing for one `"`),
/// and nothing is trimmed. An empty row is one empty value.
fn parse_csv_row(row: &str) -> Result<Vec<String>, String> {
    let mut values = Vec::new();
    let mut chars = row.chars().peekable();
    loop {
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted value has no closing '\"'".to_owned()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        value.push('"');
                    }
                    Some('"') => break,
                    Some(c) => value.push(c),
                }
            }
            match chars.next() {
                None => {
                    values.push(value);
                    return Ok(values);
                }
                Some(',') => values.push(value),
                Some(c) => {
                    return Err(format!(
                        "expected ',' after the closing '\"' of {value:?}, found {c:?}"
                    ))
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        values.push(value);
                        return Ok(values);
                    }
                    Some(',') => {
                        values.push(value);
                        break;
                    }
                    Some(c) => value.push(c),
                }
            }
        }
    }
}

/// The values of `pulp-admin`'s filter flags, each flag possibly repeated;
/// every argument is `FIELD=VALUE` (see [`FilterFlag`] for each flag's
/// meaning). All the conditions are AND-ed.
///
/// ```
/// use repobus::criteria::FlagFilters;
/// use serde_json::json;
///
/// let flags = FlagFilters {
///     in_: vec![r#"chroot=fedora-rawhide-x86_64,"epel-9,x86_64""#.into()],
///     gte: vec!["build_id=945000".into()],
///     ..FlagFilters::default()
/// };
/// let filter = flags.to_filter()?.unwrap();
/// let event = json!({"build_id": 945012, "chroot": "epel-9,x86_64"});
/// assert!(filter.matches(event.as_object().unwrap()));
/// # Ok::<(), repobus::criteria::CriteriaError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagFilters {
    /// `--str-eq F=V`.
    pub str_eq: Vec<String>,
    /// `--int-eq F=V`.
    pub int_eq: Vec<String>,
    /// `--match F=REGEX`.
    pub match_: Vec<String>,
    /// `--in F=a,b,c`.
    pub in_: Vec<String>,
    /// `--not F=REGEX`.
    pub not: Vec<String>,
    /// `--gt F=V`.
    pub gt: Vec<String>,
    /// `--gte F=V`.
    pub gte: Vec<String>,
    /// `--lt F=V`.
    pub lt: Vec<String>,
    /// `--lte F=V`.
    pub lte: Vec<String>,
}

impl FlagFilters {
    /// Whether no flag was given.
    pub fn is_empty(&self) -> bool {
        self.groups().iter().all(|(_, args)| args.is_empty())
    }

    /// The AND of every flag's condition, or `None` when no flag was given.
    /// The first malformed argument is reported, naming its flag.
    pub fn to_filter(&self) -> Result<Option<Filter>, CriteriaError> {
        let mut filters = Vec::new();
        for (flag, args) in self.groups() {
            for arg in args {
                filters.push(flag.to_filter(arg)?);
            }
        }
        Ok(Filter::all(filters))
    }

    fn groups(&self) -> [(FilterFlag, &[String]); 9] {
        [
            (FilterFlag::StrEq, &self.str_eq),
            (FilterFlag::IntEq, &self.int_eq),
            (FilterFlag::Match, &self.match_),
            (FilterFlag::In, &self.in_),
            (FilterFlag::Not, &self.not),
            (FilterFlag::Gt, &self.gt),
            (FilterFlag::Gte, &self.gte),
            (FilterFlag::Lt, &self.lt),
            (FilterFlag::Lte, &self.lte),
        ]
    }
}

/// Parses `pulp-admin`'s `--fields a,b,c` into field names (spaces around
/// each name are ignored; an empty name is an error).
pub fn parse_fields(list: &str) -> Result<Vec<String>, CriteriaError> {
    list.split(',')
        .map(|name| {
            let name = name.trim();
            if name.is_empty() {
                Err(CriteriaError::InvalidFlag {
                    flag: "--fields".to_owned(),
                    input: list.to_owned(),
                    problem: "a field name is empty".to_owned(),
                })
            } else {
                Ok(name.to_owned())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    // --- operators ----------------------------------------------------------

    #[test]
    fn implicit_equality() {
        assert!(hits(json!({"result": "success"}), sync_event()));
        assert!(!hits(json!({"result": "failed"}), sync_event()));
        assert!(hits(json!({"build_id": 945012}), build_event()));
        assert!(!hits(json!({"build_id": 945013}), build_event()));
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert!(hits(json!({}), sync_event()));
        assert!(hits(json!({}), json!({})));
    }

    #[test]
    fn eq_operator() {
        assert!(hits(json!({"result": {"$eq": "success"}}), sync_event()));
        assert!(!hits(json!({"result": {"$eq": "failed"}}), sync_event()));
    }

    #[test]
    fn ne_operator() {
        assert!(hits(json!({"result": {"$ne": "failed"}}), sync_event()));
        assert!(!hits(json!({"result": {"$ne": "success"}}), sync_event()));
        // A missing field is "not equal".
        assert!(hits(json!({"nothing": {"$ne": "x"}}), sync_event()));
    }

    #[test]
    fn gt_gte_lt_lte_on_numbers() {
        let e = json!({"n": 5});
        assert!(hits(json!({"n": {"$gt": 4}}), e.clone()));
        assert!(!hits(json!({"n": {"$gt": 5}}), e.clone()));
        assert!(hits(json!({"n": {"$gte": 5}}), e.clone()));
        assert!(!hits(json!({"n": {"$gte": 6}}), e.clone()));
        assert!(hits(json!({"n": {"$lt": 6}}), e.clone()));
        assert!(!hits(json!({"n": {"$lt": 5}}), e.clone()));
        assert!(hits(json!({"n": {"$lte": 5}}), e.clone()));
        assert!(!hits(json!({"n": {"$lte": 4}}), e.clone()));
        // Missing fields are never in a numeric range.
        assert!(!hits(json!({"m": {"$lt": 6}}), e));
    }

    #[test]
    fn range_operators_on_strings_are_lexical() {
        let e = json!({"repo_id": "pulp-f16"});
        assert!(hits(json!({"repo_id": {"$gt": "pulp-f15"}}), e.clone()));
        assert!(!hits(json!({"repo_id": {"$gt": "pulp-f17"}}), e.clone()));
        assert!(hits(json!({"repo_id": {"$lte": "pulp-f16"}}), e.clone()));
        // Byte order: upper case sorts before lower case.
        assert!(hits(json!({"repo_id": {"$gt": "PULP"}}), e));
    }

    #[test]
    fn range_operators_on_booleans() {
        assert!(hits(json!({"b": {"$gt": false}}), json!({"b": true})));
        assert!(!hits(json!({"b": {"$gt": true}}), json!({"b": true})));
    }

    #[test]
    fn in_and_nin() {
        assert!(hits(
            json!({"result": {"$in": ["failed", "success"]}}),
            sync_event()
        ));
        assert!(!hits(
            json!({"result": {"$in": ["failed", "error"]}}),
            sync_event()
        ));
        assert!(!hits(json!({"result": {"$in": []}}), sync_event()));
        assert!(hits(
            json!({"result": {"$nin": ["failed", "error"]}}),
            sync_event()
        ));
        assert!(!hits(
            json!({"result": {"$nin": ["failed", "success"]}}),
            sync_event()
        ));
        assert!(hits(json!({"result": {"$nin": []}}), sync_event()));
        assert!(hits(
            json!({"build_id": {"$in": [1, 945012.0]}}),
            build_event()
        ));
    }

    #[test]
    fn regex_operator() {
        assert!(hits(
            json!({"repo_id": {"$regex": "^pulp-f1[0-9]$"}}),
            sync_event()
        ));
        assert!(!hits(json!({"repo_id": {"$regex": "^epel"}}), sync_event()));
        // Unanchored, like MongoDB.
        assert!(hits(json!({"repo_id": {"$regex": "f16"}}), sync_event()));
        // Non-strings never match.
        assert!(!hits(json!({"build_id": {"$regex": "945"}}), build_event()));
        assert!(!hits(json!({"url": {"$regex": ""}}), sync_event()));
        assert!(!hits(json!({"missing": {"$regex": ""}}), sync_event()));
    }

    #[test]
    fn regex_options() {
        let e = json!({"s": "Line one\nline TWO"});
        assert!(!hits(json!({"s": {"$regex": "two"}}), e.clone()));
        assert!(hits(
            json!({"s": {"$regex": "two", "$options": "i"}}),
            e.clone()
        ));
        assert!(!hits(json!({"s": {"$regex": "^line"}}), e.clone()));
        assert!(hits(
            json!({"s": {"$regex": "^line", "$options": "m"}}),
            e.clone()
        ));
        assert!(!hits(json!({"s": {"$regex": "one.line"}}), e.clone()));
        assert!(hits(
            json!({"s": {"$regex": "one.line", "$options": "s"}}),
            e.clone()
        ));
        assert!(!hits(json!({"s": {"$regex": "L i n e"}}), e.clone()));
        assert!(hits(
            json!({"s": {"$regex": "L i n e", "$options": "x"}}),
            e.clone()
        ));
        // Order of keys does not matter, and options combine.
        assert!(hits(
            json!({"s": {"$options": "im", "$regex": "^LINE two"}}),
            e.clone()
        ));
        assert!(hits(
            json!({"s": {"$regex": "x", "$options": ""}}),
            json!({"s": "x"})
        ));
    }

    #[test]
    fn exists_operator() {
        assert!(hits(json!({"url": {"$exists": true}}), sync_event()));
        assert!(!hits(json!({"url": {"$exists": false}}), sync_event()));
        assert!(hits(json!({"nothing": {"$exists": false}}), sync_event()));
        assert!(!hits(json!({"nothing": {"$exists": true}}), sync_event()));
    }

    #[test]
    fn not_operator_with_operators() {
        assert!(hits(
            json!({"added_count": {"$not": {"$gt": 5}}}),
            sync_event()
        ));
        assert!(!hits(
            json!({"added_count": {"$not": {"$lt": 5}}}),
            sync_event()
        ));
        // $not negates the AND of its operators.
        assert!(hits(
            json!({"added_count": {"$not": {"$gte": 0, "$lt": 0}}}),
            sync_event()
        ));
        // A missing field satisfies $not.
        assert!(hits(json!({"missing": {"$not": {"$gt": 5}}}), sync_event()));
        // Double negation.
        assert!(hits(
            json!({"result": {"$not": {"$not": {"$eq": "success"}}}}),
            sync_event()
        ));
    }

    #[test]
    fn not_operator_with_regex() {
        assert!(hits(json!({"repo_id": {"$not": "^epel"}}), sync_event()));
        assert!(!hits(json!({"repo_id": {"$not": "^pulp"}}), sync_event()));
        assert!(!hits(
            json!({"repo_id": {"$not": {"$regex": "PULP", "$options": "i"}}}),
            sync_event()
        ));
    }

    #[test]
    fn several_operators_on_one_field_are_anded() {
        let f = json!({"added_count": {"$gte": 1, "$lt": 10}});
        assert!(hits(f.clone(), json!({"added_count": 1})));
        assert!(hits(f.clone(), json!({"added_count": 9})));
        assert!(!hits(f.clone(), json!({"added_count": 0})));
        assert!(!hits(f, json!({"added_count": 10})));
    }

    #[test]
    fn several_fields_are_anded() {
        let f = json!({"type": "repo-sync-finished", "result": "success"});
        assert!(hits(f.clone(), sync_event()));
        assert!(!hits(
            f,
            json!({"type": "repo-sync-finished", "result": "failed"})
        ));
    }

    #[test]
    fn and_or_nor_nesting() {
        let f = json!({"$or": [
            {"result": "failed"},
            {"$and": [{"type": "repo-sync-finished"}, {"added_count": {"$lt": 1}}]},
        ]});
        assert!(hits(f.clone(), sync_event()));
        assert!(hits(f.clone(), json!({"result": "failed"})));
        assert!(!hits(
            f.clone(),
            json!({"type": "repo-sync-finished", "added_count": 3})
        ));
        assert!(!hits(
            json!({"$or": [{"a": 1}, {"b": 2}]}),
            json!({"a": 2, "b": 1})
        ));
        assert!(hits(
            json!({"$and": [{"a": 1}, {"b": 2}]}),
            json!({"a": 1, "b": 2})
        ));
        assert!(!hits(
            json!({"$and": [{"a": 1}, {"b": 2}]}),
            json!({"a": 1, "b": 3})
        ));
        assert!(hits(
            json!({"$nor": [{"a": 1}, {"b": 2}]}),
            json!({"a": 2, "b": 3})
        ));
        assert!(!hits(
            json!({"$nor": [{"a": 1}, {"b": 2}]}),
            json!({"a": 2, "b": 2})
        ));
        // $and and $or next to plain fields are AND-ed with them.
        let mixed = json!({"type": "build-chroot-ended", "$or": [{"status": "failed"}, {"build_id": {"$gt": 900000}}]});
        assert!(hits(mixed.clone(), build_event()));
        assert!(!hits(mixed, sync_event()));
        // $not inside $or inside $and.
        let deep = json!({"$and": [{"$or": [{"chroot": {"$not": "rawhide"}}, {"usernames": "churchyard"}]}]});
        assert!(hits(deep.clone(), build_event()));
        assert!(!hits(
            deep,
            json!({"chroot": "fedora-rawhide-aarch64", "usernames": []})
        ));
    }

    // --- arrays, null, missing ---------------------------------------------

    #[test]
    fn arrays_match_if_any_element_does() {
        let e = build_event();
        assert!(hits(json!({"usernames": "churchyard"}), e.clone()));
        assert!(hits(json!({"usernames": {"$eq": "frostyx"}}), e.clone()));
        assert!(!hits(json!({"usernames": "praiskup"}), e.clone()));
        assert!(hits(
            json!({"usernames": {"$in": ["praiskup", "frostyx"]}}),
            e.clone()
        ));
        assert!(!hits(
            json!({"usernames": {"$in": ["praiskup"]}}),
            e.clone()
        ));
        assert!(hits(json!({"usernames": {"$regex": "^church"}}), e.clone()));
        assert!(hits(json!({"usernames": {"$gt": "d"}}), e.clone()));
        assert!(!hits(json!({"usernames": {"$gt": "g"}}), e.clone()));
        // Negations need every element to differ.
        assert!(!hits(
            json!({"usernames": {"$ne": "churchyard"}}),
            e.clone()
        ));
        assert!(hits(json!({"usernames": {"$ne": "praiskup"}}), e.clone()));
        assert!(!hits(
            json!({"usernames": {"$nin": ["churchyard"]}}),
            e.clone()
        ));
        assert!(!hits(json!({"usernames": {"$not": "^frost"}}), e.clone()));
        // A whole array matches an equal array operand, in order.
        assert!(hits(
            json!({"usernames": ["churchyard", "frostyx"]}),
            e.clone()
        ));
        assert!(!hits(
            json!({"usernames": ["frostyx", "churchyard"]}),
            e.clone()
        ));
        assert!(!hits(json!({"usernames": ["churchyard"]}), e));
        // An empty array matches only an empty-array operand.
        assert!(hits(json!({"usernames": []}), sync_event()));
        assert!(!hits(json!({"usernames": "x"}), sync_event()));
        assert!(!hits(json!({"usernames": {"$regex": ""}}), sync_event()));
    }

    #[test]
    fn null_matches_null_and_missing() {
        assert!(hits(json!({"url": null}), sync_event()));
        assert!(hits(json!({"agent_name": null}), sync_event()));
        assert!(!hits(json!({"repo_id": null}), sync_event()));
        assert!(hits(json!({"url": {"$eq": null}}), sync_event()));
        assert!(hits(json!({"agent_name": {"$in": [null]}}), sync_event()));
        assert!(hits(json!({"l": null}), json!({"l": ["a", null]})));
        // $ne null means "present and not null".
        assert!(!hits(json!({"url": {"$ne": null}}), sync_event()));
        assert!(!hits(json!({"agent_name": {"$ne": null}}), sync_event()));
        assert!(hits(json!({"repo_id": {"$ne": null}}), sync_event()));
        assert!(!hits(json!({"agent_name": {"$nin": [null]}}), sync_event()));
        // A missing field is not equal to anything but null.
        assert!(!hits(json!({"agent_name": "x"}), sync_event()));
        assert!(!hits(json!({"agent_name": ""}), sync_event()));
    }

    #[test]
    fn null_in_range_operators() {
        assert!(hits(json!({"url": {"$gte": null}}), sync_event()));
        assert!(hits(json!({"agent_name": {"$lte": null}}), sync_event()));
        assert!(!hits(json!({"url": {"$gt": null}}), sync_event()));
        assert!(!hits(json!({"url": {"$lt": null}}), sync_event()));
        assert!(!hits(json!({"repo_id": {"$gte": null}}), sync_event()));
        assert!(!hits(json!({"url": {"$gte": 0}}), sync_event()));
    }

    // --- values --------------------------------------------------------------

    #[test]
    fn timestamps_compare_as_instants() {
        let e = sync_event();
        assert!(hits(
            json!({"started": "2012-07-06T15:49:11+00:00"}),
            e.clone()
        ));
        assert!(hits(
            json!({"started": "2012-07-06T15:49:11.000Z"}),
            e.clone()
        ));
        assert!(hits(
            json!({"started": {"$in": ["2012-07-06T15:49:11+0000"]}}),
            e.clone()
        ));
        assert!(!hits(
            json!({"started": {"$ne": "2012-07-06T15:49:11-00:00"}}),
            e.clone()
        ));
        assert!(hits(json!({"started": {"$gt": "2012-07-06"}}), e.clone()));
        assert!(!hits(json!({"started": {"$gt": "2012-07-07"}}), e.clone()));
        assert!(hits(
            json!({"started": {"$lt": "2012-07-06T15:50Z"}}),
            e.clone()
        ));
        // Text order would say "...15:49:11Z" > "...15:49:11.5Z"; instants disagree.
        assert!(hits(
            json!({"started": {"$lt": "2012-07-06T15:49:11.5Z"}}),
            e.clone()
        ));
        assert!(hits(
            json!({"completed": {"$gte": "2012-07-06T15:49:14+00:00"}}),
            e.clone()
        ));
        // A date alone is midnight.
        assert!(hits(
            json!({"d": "2012-07-06"}),
            json!({"d": "2012-07-06T00:00:00Z"})
        ));
        assert!(hits(
            json!({"started": {"$gt": "2012-07-06", "$lt": "2012-07-07"}}),
            e
        ));
    }

    #[test]
    fn a_timestamp_and_other_text_compare_lexically() {
        let e = json!({"s": "2012-07-06 later"});
        assert!(hits(json!({"s": {"$gt": "2012-07-06"}}), e.clone()));
        assert!(!hits(json!({"s": "2012-07-06"}), e.clone()));
        // Invalid dates are just text.
        assert!(hits(
            json!({"s": {"$gt": "2012-13-01"}}),
            json!({"s": "2012-14-01"})
        ));
        assert!(!hits(
            json!({"s": "2012-13-01T00:00Z"}),
            json!({"s": "2012-13-01T00:00:00Z"})
        ));
    }

    #[test]
    fn numbers_compare_by_value_across_kinds() {
        assert!(hits(json!({"n": 1}), json!({"n": 1.0})));
        assert!(hits(json!({"n": 1.0}), json!({"n": 1})));
        assert!(hits(json!({"n": {"$gt": 1}}), json!({"n": 1.5})));
        assert!(hits(json!({"n": {"$lt": 2}}), json!({"n": 1.5})));
        assert!(hits(json!({"n": {"$lt": -1.5}}), json!({"n": -2})));
        assert!(hits(json!({"n": {"$gt": -2.5}}), json!({"n": -2})));
        assert!(hits(json!({"n": {"$gt": -1}}), json!({"n": u64::MAX})));
        assert!(hits(
            json!({"n": {"$lt": u64::MAX}}),
            json!({"n": i64::MIN})
        ));
        assert!(hits(
            json!({"n": {"$gt": i64::MAX}}),
            json!({"n": u64::MAX})
        ));
        assert!(!hits(json!({"n": u64::MAX}), json!({"n": u64::MAX - 1})));
        // u64::MAX as f64 rounds to 2^64, which is greater.
        assert!(hits(
            json!({"n": {"$lt": 1.8446744073709552e19}}),
            json!({"n": u64::MAX})
        ));
        assert!(hits(json!({"n": {"$lt": 1e300}}), json!({"n": u64::MAX})));
        assert!(hits(json!({"n": {"$gt": -1e300}}), json!({"n": i64::MIN})));
        assert!(hits(json!({"n": 0.0}), json!({"n": -0.0})));
    }

    #[test]
    fn different_kinds_never_compare() {
        assert!(!hits(json!({"n": "5"}), json!({"n": 5})));
        assert!(!hits(json!({"n": 5}), json!({"n": "5"})));
        assert!(!hits(json!({"n": {"$gt": "3"}}), json!({"n": 5})));
        assert!(!hits(json!({"n": {"$lt": "3"}}), json!({"n": 5})));
        assert!(!hits(json!({"n": {"$gte": 3}}), json!({"n": "5"})));
        assert!(!hits(json!({"b": true}), json!({"b": 1})));
        assert!(!hits(json!({"b": {"$gte": false}}), json!({"b": 0})));
        assert!(hits(json!({"n": {"$ne": "5"}}), json!({"n": 5})));
    }

    #[test]
    fn booleans_and_objects_compare_for_equality() {
        assert!(hits(json!({"ok": true}), json!({"ok": true})));
        assert!(!hits(json!({"ok": true}), json!({"ok": false})));
        assert!(hits(json!({"o": {"a": 1}}), json!({"o": {"a": 1}})));
        assert!(!hits(json!({"o": {"a": 1}}), json!({"o": {"a": 2}})));
        assert!(hits(json!({"o": {}}), json!({"o": {}})));
    }

    #[test]
    fn dotted_names_are_literal_keys() {
        assert!(hits(json!({"a.b": 1}), json!({"a.b": 1})));
        assert!(!hits(json!({"a.b": 1}), json!({"a": {"b": 1}})));
    }

    // --- errors ----------------------------------------------------------------

    #[test]
    fn unknown_operators_are_named() {
        let e = error(json!({"result": {"$foo": 1}}));
        assert!(e.contains("$foo") && e.contains("\"result\""), "{e}");
        let e = error(json!({"$where": "1"}));
        assert!(e.contains("$where") && e.contains("top level"), "{e}");
        let e = error(json!({"n": {"$not": {"$size": 1}}}));
        assert!(e.contains("$size") && e.contains("\"n\""), "{e}");
        assert!(matches!(
            Filter::from_json(&json!({"a": {"$bar": 1}})),
            Err(CriteriaError::UnknownOperator { .. })
        ));
    }

    #[test]
    fn bad_regex_is_reported_at_parse_time() {
        let e = error(json!({"repo_id": {"$regex": "pulp-("}}));
        assert!(
            e.contains("pulp-(") && e.contains("repo_id") && e.contains("does not compile"),
            "{e}"
        );
        let e = error(json!({"repo_id": {"$not": "(?<=x)y"}}));
        assert!(e.contains("does not compile"), "{e}");
        let e = error(json!({"repo_id": {"$regex": 5}}));
        assert!(e.contains("$regex") && e.contains("a number"), "{e}");
    }

    #[test]
    fn bad_options_are_reported() {
        let e = error(json!({"r": {"$regex": "a", "$options": "ig"}}));
        assert!(
            e.contains("$options") && e.contains("'g'") && e.contains("\"r\""),
            "{e}"
        );
        let e = error(json!({"r": {"$regex": "a", "$options": 1}}));
        assert!(e.contains("$options") && e.contains("a number"), "{e}");
        let e = error(json!({"r": {"$options": "i"}}));
        assert!(e.contains("$options") && e.contains("$regex"), "{e}");
    }

    #[test]
    fn in_and_nin_need_arrays() {
        let e = error(json!({"result": {"$in": "failed"}}));
        assert!(
            e.contains("$in")
                && e.contains("\"result\"")
                && e.contains("array")
                && e.contains("a string"),
            "{e}"
        );
        let e = error(json!({"result": {"$nin": {"a": 1}}}));
        assert!(e.contains("$nin") && e.contains("an object"), "{e}");
    }

    #[test]
    fn and_or_nor_need_non_empty_arrays_of_objects() {
        let e = error(json!({"$and": {"a": 1}}));
        assert!(
            e.contains("$and") && e.contains("array") && e.contains("an object"),
            "{e}"
        );
        let e = error(json!({"$or": []}));
        assert!(e.contains("$or") && e.contains("empty"), "{e}");
        let e = error(json!({"$nor": "x"}));
        assert!(e.contains("$nor"), "{e}");
        let e = error(json!({"$or": [{"a": 1}, "b"]}));
        assert!(
            e.contains("element 1 of $or") && e.contains("a string"),
            "{e}"
        );
        let e = error(json!({"$and": [{"$or": [{"a": {"$in": 3}}]}]}));
        assert!(e.contains("$in") && e.contains("\"a\""), "{e}");
    }

    #[test]
    fn exists_needs_a_boolean() {
        let e = error(json!({"url": {"$exists": 1}}));
        assert!(
            e.contains("$exists") && e.contains("\"url\"") && e.contains("true or false"),
            "{e}"
        );
        let e = error(json!({"url": {"$exists": "true"}}));
        assert!(e.contains("a string"), "{e}");
    }

    #[test]
    fn not_needs_operators_or_a_pattern() {
        let e = error(json!({"a": {"$not": 5}}));
        assert!(
            e.contains("$not") && e.contains("\"a\"") && e.contains("a number"),
            "{e}"
        );
        let e = error(json!({"a": {"$not": {}}}));
        assert!(e.contains("$not") && e.contains("at least one"), "{e}");
        let e = error(json!({"a": {"$not": {"b": 1}}}));
        assert!(e.contains("$not") && e.contains("plain keys"), "{e}");
    }

    #[test]
    fn operators_cannot_mix_with_plain_keys() {
        let e = error(json!({"a": {"$gt": 1, "b": 2}}));
        assert!(
            e.contains("$gt") && e.contains("\"b\"") && e.contains("\"a\""),
            "{e}"
        );
    }

    #[test]
    fn top_level_must_be_an_object() {
        for (json, kind) in [
            (json!([]), "an array"),
            (json!("x"), "a string"),
            (json!(null), "null"),
            (json!(3), "a number"),
        ] {
            let e = error(json);
            assert!(
                e.contains("the filter must be a JSON object") && e.contains(kind),
                "{e}"
            );
        }
    }

    #[test]
    fn filter_text_must_be_json() {
        let e = "{result: 1}".parse::<Filter>().unwrap_err();
        assert!(matches!(e, CriteriaError::Json { .. }));
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        assert!("".parse::<Filter>().is_err());
        let f: Filter = r#"{"result": "failed"}"#.parse().unwrap();
        assert!(f.matches(&obj(json!({"result": "failed"}))));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut deep = json!({"a": 1});
        for _ in 0..(MAX_FILTER_DEPTH + 5) {
            deep = json!({"$and": [deep]});
        }
        assert!(error(deep).contains("levels deep"));
        let mut deep_not = json!({"$eq": 1});
        for _ in 0..(MAX_FILTER_DEPTH + 5) {
            deep_not = json!({"$not": deep_not});
        }
        assert!(error(json!({"a": deep_not})).contains("levels deep"));
        let mut ok = json!({"a": 1});
        for _ in 0..10 {
            ok = json!({"$or": [ok]});
        }
        assert!(hits(ok, json!({"a": 1})));
    }

    #[test]
    fn odd_inputs_never_panic() {
        let docs = [
            json!({"": ""}),
            json!({"a": {"$regex": "", "$options": ""}}),
            json!({"a": {"$in": [[], {}, null, 1.5, "x"]}}),
            json!({"a": {"$gt": []}}),
            json!({"a": {"$lt": {}}}),
            json!({"a": {"$eq": [1, [2]]}}),
            json!({"a": {"$regex": "\\p{Greek}+", "$options": "ixsm"}}),
            json!({"$and": [{}]}),
        ];
        let objects = [
            json!({}),
            json!({"a": null}),
            json!({"a": [[1], {"b": 2}, null, "x"]}),
            json!({"a": "2012-07-06"}),
            json!({"a": u64::MAX}),
            json!({"a": -1.5e300}),
            json!({"a": {"$gt": 1}}),
        ];
        for doc in &docs {
            let f = filter(doc.clone());
            for o in &objects {
                let _ = f.matches(o.as_object().unwrap());
            }
        }
        for text in [
            "{",
            "[",
            "null",
            "{\"a\":",
            "\u{0}",
            "{\"$\":1}",
            "{\"a\":{\"$\":1}}",
        ] {
            assert!(text.parse::<Filter>().is_err(), "{text}");
        }
    }

    // --- combinators, serde ------------------------------------------------

    #[test]
    fn and_and_all_combine_filters() {
        let a = filter(json!({"type": "build-chroot-ended"}));
        let b = filter(json!({"status": "failed"}));
        let both = a.clone().and(b.clone());
        assert_eq!(
            both.as_json(),
            &json!({"$and": [{"type": "build-chroot-ended"}, {"status": "failed"}]})
        );
        assert!(!both.matches(&obj(build_event())));
        assert!(both.matches(&obj(
            json!({"type": "build-chroot-ended", "status": "failed"})
        )));
        assert_eq!(Filter::all([]), None);
        assert_eq!(Filter::all([a.clone()]), Some(a.clone()));
        let all = Filter::all([a, b]).unwrap();
        assert_eq!(all, both);
        // The combined JSON parses back to an equivalent filter.
        assert_eq!(Filter::from_json(all.as_json()).unwrap(), all);
    }

    #[test]
    fn serde_round_trip_and_display() {
        let f = filter(json!({"added_count": {"$gte": 1}}));
        assert_eq!(f.to_string(), r#"{"added_count":{"$gte":1}}"#);
        assert_eq!(format!("{f:?}"), r#"Filter({"added_count":{"$gte":1}})"#);
        let text = serde_json::to_string(&f).unwrap();
        let back: Filter = serde_json::from_str(&text).unwrap();
        assert_eq!(back, f);
        let bad = serde_json::from_str::<Filter>(r#"{"a": {"$in": 1}}"#).unwrap_err();
        assert!(bad.to_string().contains("$in"), "{bad}");
    }

    // --- push-down -------------------------------------------------------

    #[test]
    fn equality_on_reports_pinned_values() {
        let f = filter(
            json!({"type": "build-chroot-ended", "chroot": {"$eq": "fedora-rawhide-x86_64"}}),
        );
        assert_eq!(f.equality_on("type"), Some(&json!("build-chroot-ended")));
        assert_eq!(
            f.equality_on("chroot"),
            Some(&json!("fedora-rawhide-x86_64"))
        );
        assert_eq!(f.equality_on("status"), None);
        let f = filter(
            json!({"$and": [{"repo_id": "pulp-f16"}, {"$and": [{"project_owner": {"$in": ["@python"]}}]}]}),
        );
        assert_eq!(f.equality_on("repo_id"), Some(&json!("pulp-f16")));
        assert_eq!(f.equality_on("project_owner"), Some(&json!("@python")));
        let f = filter(json!({"build_id": {"$gt": 1, "$eq": 945012}}));
        assert_eq!(f.equality_on("build_id"), Some(&json!(945012)));
    }

    #[test]
    fn equality_on_ignores_what_does_not_pin() {
        for doc in [
            json!({"$or": [{"type": "a"}]}),
            json!({"$or": [{"type": "a"}, {"type": "a"}]}),
            json!({"$nor": [{"type": "a"}]}),
            json!({"type": {"$not": {"$eq": "a"}}}),
            json!({"type": {"$in": ["a", "b"]}}),
            json!({"type": {"$in": []}}),
            json!({"type": {"$ne": "a"}}),
            json!({"type": {"$regex": "^a$"}}),
            json!({"type": {"$gte": "a", "$lte": "a"}}),
            json!({"type": null}),
            json!({"type": ["a"]}),
            json!({"type": {"a": 1}}),
            json!({"type": "2012-07-06"}),
            json!({"$and": [{"$or": [{"type": "a"}]}]}),
        ] {
            let f = filter(doc.clone());
            assert_eq!(f.equality_on("type"), None, "{doc}");
            assert!(f.pinned_equalities().is_empty(), "{doc}");
        }
    }

    #[test]
    fn pinned_equalities_lists_fields_once_in_order() {
        let f = filter(json!({
            "type": "build-chroot-ended",
            "$and": [{"project_owner": "@python"}, {"type": "other"}],
            "$or": [{"chroot": "x"}],
            "build_id": {"$in": [7]},
        }));
        assert_eq!(
            f.pinned_equalities(),
            vec![
                ("type".to_owned(), json!("build-chroot-ended")),
                ("project_owner".to_owned(), json!("@python")),
                ("build_id".to_owned(), json!(7)),
            ]
        );
        let combined = filter(json!({"a": "1"})).and(filter(json!({"b": "2"})));
        assert_eq!(combined.pinned_equalities().len(), 2);
    }

    // --- sorting ---------------------------------------------------------------

    fn field_values(objects: &[Map<String, Value>], field: &str) -> Vec<Value> {
        objects
            .iter()
            .map(|o| o.get(field).cloned().unwrap_or(json!("<missing>")))
            .collect()
    }

    #[test]
    fn sort_key_parsing() {
        assert_eq!(
            "started".parse::<SortKey>().unwrap(),
            SortKey::new("started", Direction::Ascending)
        );
        assert_eq!(
            "started,ascending".parse::<SortKey>().unwrap(),
            SortKey::new("started", Direction::Ascending)
        );
        assert_eq!(
            " started , descending ".parse::<SortKey>().unwrap(),
            SortKey::new("started", Direction::Descending)
        );
        for (bad, needle) in [
            ("started,up", "\"up\""),
            ("started,", "\"\""),
            ("started,Descending", "\"Descending\""),
            ("a,b,descending", "\"b,descending\""),
            ("", "field name is empty"),
            (",descending", "field name is empty"),
        ] {
            let e = bad.parse::<SortKey>().unwrap_err();
            assert!(matches!(e, CriteriaError::InvalidSort { .. }));
            let e = e.to_string();
            assert!(e.contains("--sort") && e.contains(needle), "{bad}: {e}");
        }
        let key = SortKey::new("started", Direction::Descending);
        assert_eq!(key.to_string().parse::<SortKey>().unwrap(), key);
        assert_eq!(
            "descending".parse::<Direction>().unwrap(),
            Direction::Descending
        );
        assert!("down".parse::<Direction>().is_err());
    }

    #[test]
    fn sort_ascending_and_descending() {
        let mut v: Vec<_> = [3, 1, 2].iter().map(|n| obj(json!({"n": n}))).collect();
        sort_objects(&mut v, &[SortKey::new("n", Direction::Ascending)]);
        assert_eq!(field_values(&v, "n"), vec![json!(1), json!(2), json!(3)]);
        sort_objects(&mut v, &[SortKey::new("n", Direction::Descending)]);
        assert_eq!(field_values(&v, "n"), vec![json!(3), json!(2), json!(1)]);
    }

    #[test]
    fn sort_multiple_keys_first_is_primary() {
        let mut v = vec![
            obj(json!({"repo": "b", "n": 1, "i": 0})),
            obj(json!({"repo": "a", "n": 1, "i": 1})),
            obj(json!({"repo": "b", "n": 2, "i": 2})),
            obj(json!({"repo": "a", "n": 3, "i": 3})),
        ];
        sort_objects(
            &mut v,
            &[
                SortKey::new("repo", Direction::Ascending),
                SortKey::new("n", Direction::Descending),
            ],
        );
        assert_eq!(
            field_values(&v, "i"),
            vec![json!(3), json!(1), json!(2), json!(0)]
        );
        sort_objects(
            &mut v,
            &[
                SortKey::new("n", Direction::Ascending),
                SortKey::new("repo", Direction::Descending),
            ],
        );
        assert_eq!(
            field_values(&v, "i"),
            vec![json!(0), json!(1), json!(2), json!(3)]
        );
    }

    #[test]
    fn sort_is_stable() {
        let mut v: Vec<_> = (0..20).map(|i| obj(json!({"k": i % 3, "i": i}))).collect();
        sort_objects(&mut v, &[SortKey::new("k", Direction::Descending)]);
        let order: Vec<i64> = v.iter().map(|o| o["i"].as_i64().unwrap()).collect();
        let mut expected: Vec<i64> = (0..20).filter(|i| i % 3 == 2).collect();
        expected.extend((0..20).filter(|i| i % 3 == 1));
        expected.extend((0..20).filter(|i| i % 3 == 0));
        assert_eq!(order, expected);
        // No keys: untouched.
        let before = v.clone();
        sort_objects(&mut v, &[]);
        assert_eq!(v, before);
    }

    #[test]
    fn sort_orders_kinds() {
        let values = [
            json!(true),
            json!("zebra"),
            json!(["a"]),
            json!("2012-07-06T15:49:11Z"),
            json!(2.5),
            json!(null),
            json!({"o": 1}),
            json!(false),
            json!(-7),
            json!("Apple"),
            json!("2012-07-06"),
        ];
        let mut v: Vec<_> = values.iter().map(|x| obj(json!({"f": x}))).collect();
        v.push(obj(json!({"other": 1})));
        sort_objects(&mut v, &[SortKey::new("f", Direction::Ascending)]);
        assert_eq!(
            field_values(&v, "f"),
            vec![
                json!(null),
                json!("<missing>"),
                json!(-7),
                json!(2.5),
                json!("2012-07-06"),
                json!("2012-07-06T15:49:11Z"),
                json!("Apple"),
                json!("zebra"),
                json!({"o": 1}),
                json!(["a"]),
                json!(false),
                json!(true),
            ]
        );
        sort_objects(&mut v, &[SortKey::new("f", Direction::Descending)]);
        let desc = field_values(&v, "f");
        assert_eq!(desc.first(), Some(&json!(true)));
        assert_eq!(&desc[10..], &[json!(null), json!("<missing>")]);
    }

    #[test]
    fn sort_compares_timestamps_as_instants() {
        let mut v = vec![
            obj(json!({"t": "2012-07-06T15:49:11.5Z"})),
            obj(json!({"t": "2012-07-06T15:49:12+00:00"})),
            obj(json!({"t": "2012-07-06T15:49:11Z"})),
            obj(json!({"t": "2012-07-06T15:49Z"})),
        ];
        sort_objects(&mut v, &[SortKey::new("t", Direction::Ascending)]);
        assert_eq!(
            field_values(&v, "t"),
            vec![
                json!("2012-07-06T15:49Z"),
                json!("2012-07-06T15:49:11Z"),
                json!("2012-07-06T15:49:11.5Z"),
                json!("2012-07-06T15:49:12+00:00"),
            ]
        );
    }

    #[test]
    fn sort_compares_numbers_across_kinds() {
        let mut v: Vec<_> = [
            json!(u64::MAX),
            json!(1.5),
            json!(-3),
            json!(1),
            json!(i64::MIN),
            json!(1e300),
        ]
        .iter()
        .map(|x| obj(json!({"n": x})))
        .collect();
        sort_objects(&mut v, &[SortKey::new("n", Direction::Ascending)]);
        assert_eq!(
            field_values(&v, "n"),
            vec![
                json!(i64::MIN),
                json!(-3),
                json!(1),
                json!(1.5),
                json!(u64::MAX),
                json!(1e300)
            ]
        );
    }

    #[test]
    fn compare_values_is_a_total_order() {
        let samples = [
            None,
            Some(json!(null)),
            Some(json!(0)),
            Some(json!(0.0)),
            Some(json!(-1)),
            Some(json!(u64::MAX)),
            Some(json!(0.5)),
            Some(json!("2012-07-06")),
            Some(json!("2012-07-06T00:00:00Z")),
            Some(json!("2012-07-06 x")),
            Some(json!("2012-07-06T01:00Z")),
            Some(json!("a")),
            Some(json!("")),
            Some(json!([])),
            Some(json!(["a", 1])),
            Some(json!(["a"])),
            Some(json!([1])),
            Some(json!({})),
            Some(json!(true)),
            Some(json!(false)),
        ];
        let values: Vec<Option<&Value>> = samples.iter().map(Option::as_ref).collect();
        for &a in &values {
            assert_eq!(compare_values(a, a), Ordering::Equal);
            for &b in &values {
                let ab = compare_values(a, b);
                assert_eq!(ab, compare_values(b, a).reverse(), "{a:?} {b:?}");
                for &c in &values {
                    let bc = compare_values(b, c);
                    if ab != Ordering::Greater && bc != Ordering::Greater {
                        assert_ne!(compare_values(a, c), Ordering::Greater, "{a:?} {b:?} {c:?}");
                    }
                }
            }
        }
    }

    // --- criteria ----------------------------------------------------------

    fn numbered(n: i64) -> Vec<Map<String, Value>> {
        (0..n)
            .map(|i| {
                obj(json!({
                    "i": i,
                    "parity": if i % 2 == 0 { "even" } else { "odd" },
                    "time": format!("2026-11-23T18:00:{:02}Z", i),
                }))
            })
            .collect()
    }

    fn indexes(objects: &[Map<String, Value>]) -> Vec<i64> {
        objects.iter().map(|o| o["i"].as_i64().unwrap()).collect()
    }

    #[test]
    fn default_criteria_keep_everything() {
        let events = numbered(5);
        assert_eq!(Criteria::new().apply(events.clone(), "time"), events);
        assert!(Criteria::default().matches(&obj(json!({})), "time"));
    }

    #[test]
    fn skip_and_limit() {
        let c = Criteria::new().with_skip(2).with_limit(3);
        assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![2, 3, 4]);
        let c = Criteria::new().with_skip(8).with_limit(3);
        assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![8, 9]);
        let c = Criteria::new().with_skip(20);
        assert!(c.apply(numbered(10), "time").is_empty());
        let c = Criteria::new().with_limit(0);
        assert!(c.apply(numbered(10), "time").is_empty());
    }

    #[test]
    fn filter_then_sort_then_skip_then_limit() {
        let c = Criteria::new()
            .with_filter(filter(json!({"parity": "odd"})))
            .with_sort(SortKey::new("i", Direction::Descending))
            .with_skip(1)
            .with_limit(2);
        assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![7, 5]);
    }

    #[test]
    fn limit_without_sort_stops_reading() {
        let endless = (0..).map(|i: i64| obj(json!({"i": i, "time": "2026-11-23T18:00:00Z"})));
        let c = Criteria::new()
            .with_filter(filter(json!({"i": {"$gte": 5}})))
            .with_limit(3);
        assert_eq!(indexes(&c.apply(endless, "time")), vec![5, 6, 7]);
    }

    #[test]
    fn fields_are_projected_in_order() {
        let c = Criteria::new().with_fields(["time", "nope", "i", "time"]);
        let out = c.apply(numbered(2), "time");
        assert_eq!(
            out,
            vec![
                obj(json!({"time": "2026-11-23T18:00:00Z", "i": 0})),
                obj(json!({"time": "2026-11-23T18:00:01Z", "i": 1})),
            ]
        );
        let keys: Vec<&String> = out[0].keys().collect();
        assert_eq!(keys, ["time", "i"]);
        let one = c.project(&obj(json!({"i": 5, "x": 1, "time": "t"})));
        assert_eq!(one.keys().collect::<Vec<_>>(), ["time", "i"]);
        assert_eq!(
            Criteria::new().project(&obj(json!({"a": 1}))),
            obj(json!({"a": 1}))
        );
        let empty = Criteria::new().with_fields(Vec::<String>::new());
        assert_eq!(empty.project(&obj(json!({"a": 1}))), Map::new());
        // Projection comes after filtering and sorting on other fields.
        let c = Criteria::new()
            .with_filter(filter(json!({"parity": "even"})))
            .with_sort(SortKey::new("i", Direction::Descending))
            .with_fields(["time"]);
        assert_eq!(
            c.apply(numbered(3), "time"),
            vec![
                obj(json!({"time": "2026-11-23T18:00:02Z"})),
                obj(json!({"time": "2026-11-23T18:00:00Z"}))
            ]
        );
    }

    fn at(s: &str) -> DateTime<Utc> {
        parse_datetime(s).unwrap()
    }

    #[test]
    fn after_is_inclusive_and_before_is_exclusive() {
        let c = Criteria::new()
            .with_after(at("2026-11-23T18:00:02Z"))
            .with_before(at("2026-11-23T18:00:05Z"));
        assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![2, 3, 4]);
        let c = Criteria::new().with_after(at("2026-11-23T18:00:08Z"));
        assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![8, 9]);
        let c = Criteria::new().with_before(at("2026-11-23T18:00:02Z"));
        assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![0, 1]);
        // Other spellings of the instant are read as instants.
        let c = Criteria::new().with_after(at("2026-11-23"));
        assert!(c.matches(&obj(json!({"time": "2026-11-23T00:00:00+00:00"})), "time"));
        assert!(!c.matches(&obj(json!({"time": "2026-11-22T23:59:59.9Z"})), "time"));
    }

    #[test]
    fn window_uses_the_named_time_field_and_drops_unreadable_times() {
        let c = Criteria::new().with_after(at("2012-07-06T15:49:12Z"));
        assert!(!c.matches(&obj(sync_event()), "started"));
        assert!(c.matches(&obj(sync_event()), "completed"));
        assert!(!c.matches(&obj(sync_event()), "missing"));
        assert!(!c.matches(&obj(sync_event()), "repo_id"));
        assert!(!c.matches(&obj(sync_event()), "added_count"));
        assert!(!c.matches(&obj(sync_event()), "url"));
        // Without a window the time field is not read at all.
        assert!(Criteria::new().matches(&obj(sync_event()), "missing"));
    }

    #[test]
    fn matches_combines_filter_and_window() {
        let c = Criteria::new()
            .with_filter(filter(json!({"result": "success"})))
            .with_before(at("2013-01-01"));
        assert!(c.matches(&obj(sync_event()), "started"));
        let mut failed = obj(sync_event());
        failed.insert("result".into(), json!("failed"));
        assert!(!c.matches(&failed, "started"));
        let late = Criteria {
            before: Some(at("2012-01-01")),
            ..c
        };
        assert!(!late.matches(&obj(sync_event()), "started"));
    }

    #[test]
    fn criteria_fields_can_be_set_directly() {
        let c = Criteria {
            filter: Some(filter(json!({"parity": "even"}))),
            sort: vec!["i,descending".parse().unwrap()],
            skip: 1,
            limit: Some(2),
            fields: Some(vec!["i".into()]),
            after: Some(at("2026-11-23T18:00:01Z")),
            before: None,
        };
        assert_eq!(
            c.apply(numbered(10), "time"),
            vec![obj(json!({"i": 6})), obj(json!({"i": 4}))]
        );
    }

    // --- flags -------------------------------------------------------------

    fn flag(f: FilterFlag, arg: &str) -> Value {
        f.clause(arg).unwrap_or_else(|e| panic!("{arg}: {e}"))
    }

    fn flag_error(f: FilterFlag, arg: &str) -> String {
        f.to_filter(arg).unwrap_err().to_string()
    }

    #[test]
    fn str_eq_flag() {
        assert_eq!(
            flag(FilterFlag::StrEq, "result=failed"),
            json!({"result": "failed"})
        );
        // Only the first '=' splits; the value may be empty or contain '='.
        assert_eq!(
            flag(FilterFlag::StrEq, "summary=a=b"),
            json!({"summary": "a=b"})
        );
        assert_eq!(flag(FilterFlag::StrEq, "summary="), json!({"summary": ""}));
        // Numbers stay strings.
        assert_eq!(
            flag(FilterFlag::StrEq, "build_id=5"),
            json!({"build_id": "5"})
        );
        let f = FilterFlag::StrEq.to_filter("status=succeeded").unwrap();
        assert!(f.matches(&obj(build_event())));
    }

    #[test]
    fn int_eq_flag() {
        assert_eq!(
            flag(FilterFlag::IntEq, "build_id=945012"),
            json!({"build_id": 945012})
        );
        assert_eq!(flag(FilterFlag::IntEq, "n=-3"), json!({"n": -3}));
        assert_eq!(
            flag(FilterFlag::IntEq, "n=18446744073709551615"),
            json!({"n": u64::MAX})
        );
        assert!(FilterFlag::IntEq
            .to_filter("build_id=945012")
            .unwrap()
            .matches(&obj(build_event())));
        for bad in [
            "n=1.5",
            "n=abc",
            "n=",
            "n=1e3",
            "n= 1",
            "n=99999999999999999999",
        ] {
            let e = flag_error(FilterFlag::IntEq, bad);
            assert!(
                e.contains("--int-eq") && e.contains("is not an integer"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn match_flag() {
        assert_eq!(
            flag(FilterFlag::Match, "repo_id=^pulp-"),
            json!({"repo_id": {"$regex": "^pulp-"}})
        );
        let f = FilterFlag::Match.to_filter("chroot=rawhide").unwrap();
        assert!(f.matches(&obj(build_event())));
        let e = flag_error(FilterFlag::Match, "repo_id=pulp-(");
        assert!(
            e.contains("--match") && e.contains("does not compile"),
            "{e}"
        );
    }

    #[test]
    fn not_flag() {
        assert_eq!(
            flag(FilterFlag::Not, "repo_id=^epel"),
            json!({"repo_id": {"$not": {"$regex": "^epel"}}})
        );
        let f = FilterFlag::Not.to_filter("chroot=rawhide").unwrap();
        assert!(!f.matches(&obj(build_event())));
        assert!(f.matches(&obj(sync_event())));
        let e = flag_error(FilterFlag::Not, "repo_id=[");
        assert!(e.contains("--not") && e.contains("does not compile"), "{e}");
    }

    #[test]
    fn in_flag_reads_one_csv_row() {
        assert_eq!(
            flag(FilterFlag::In, "status=failed,succeeded"),
            json!({"status": {"$in": ["failed", "succeeded"]}})
        );
        assert_eq!(
            flag(FilterFlag::In, "s=one"),
            json!({"s": {"$in": ["one"]}})
        );
        assert_eq!(
            flag(FilterFlag::In, r#"s="a,b",c"#),
            json!({"s": {"$in": ["a,b", "c"]}})
        );
        assert_eq!(
            flag(FilterFlag::In, r#"s="say ""hi""",x"#),
            json!({"s": {"$in": ["say \"hi\"", "x"]}})
        );
        assert_eq!(
            flag(FilterFlag::In, r#"s="""""#),
            json!({"s": {"$in": ["\""]}})
        );
        assert_eq!(
            flag(FilterFlag::In, r#"s="",x"#),
            json!({"s": {"$in": ["", "x"]}})
        );
        assert_eq!(
            flag(FilterFlag::In, "s=a,"),
            json!({"s": {"$in": ["a", ""]}})
        );
        assert_eq!(flag(FilterFlag::In, "s="), json!({"s": {"$in": [""]}}));
        assert_eq!(
            flag(FilterFlag::In, "s=a, b"),
            json!({"s": {"$in": ["a", " b"]}})
        );
        // A quote inside an unquoted value is literal.
        assert_eq!(
            flag(FilterFlag::In, r#"s=a"b,c"#),
            json!({"s": {"$in": ["a\"b", "c"]}})
        );
        let e = flag_error(FilterFlag::In, r#"s="abc"#);
        assert!(e.contains("--in") && e.contains("no closing"), "{e}");
        let e = flag_error(FilterFlag::In, r#"s="ab"c,d"#);
        assert!(e.contains("--in") && e.contains("after the closing"), "{e}");
        let f = FilterFlag::In
            .to_filter(r#"usernames=praiskup,"churchyard""#)
            .unwrap();
        assert!(f.matches(&obj(build_event())));
    }

    #[test]
    fn range_flags_type_their_values() {
        assert_eq!(
            flag(FilterFlag::Gt, "added_count=3"),
            json!({"added_count": {"$gt": 3}})
        );
        assert_eq!(
            flag(FilterFlag::Gte, "x=-1.5"),
            json!({"x": {"$gte": -1.5}})
        );
        assert_eq!(flag(FilterFlag::Lt, "x=1e3"), json!({"x": {"$lt": 1000.0}}));
        assert_eq!(flag(FilterFlag::Lte, "x=01"), json!({"x": {"$lte": "01"}}));
        assert_eq!(flag(FilterFlag::Lte, "x= 1"), json!({"x": {"$lte": " 1"}}));
        assert_eq!(
            flag(FilterFlag::Gt, "x=1.5.2"),
            json!({"x": {"$gt": "1.5.2"}})
        );
        assert_eq!(flag(FilterFlag::Gt, "x=-"), json!({"x": {"$gt": "-"}}));
        assert_eq!(flag(FilterFlag::Gt, "x="), json!({"x": {"$gt": ""}}));
        assert_eq!(
            flag(FilterFlag::Gt, "repo_id=pulp"),
            json!({"repo_id": {"$gt": "pulp"}})
        );
        assert_eq!(
            flag(FilterFlag::Gte, "started=2012-07-06"),
            json!({"started": {"$gte": "2012-07-06"}})
        );
        let e = obj(sync_event());
        // Number.
        assert!(FilterFlag::Gte
            .to_filter("duration_seconds=3")
            .unwrap()
            .matches(&e));
        assert!(!FilterFlag::Gt
            .to_filter("duration_seconds=3")
            .unwrap()
            .matches(&e));
        assert!(FilterFlag::Lt
            .to_filter("duration_seconds=10")
            .unwrap()
            .matches(&e));
        // Timestamp, compared as an instant.
        assert!(FilterFlag::Gt
            .to_filter("started=2012-07-06")
            .unwrap()
            .matches(&e));
        assert!(FilterFlag::Lte
            .to_filter("started=2012-07-06T15:49:11+00:00")
            .unwrap()
            .matches(&e));
        assert!(!FilterFlag::Lt
            .to_filter("started=2012-07-06T15:49:11+00:00")
            .unwrap()
            .matches(&e));
        // Text.
        assert!(FilterFlag::Gt
            .to_filter("repo_id=pulp-f15")
            .unwrap()
            .matches(&e));
        assert!(!FilterFlag::Lt
            .to_filter("repo_id=pulp-f15")
            .unwrap()
            .matches(&e));
        // A numeric value never matches a string field.
        assert!(!FilterFlag::Gt.to_filter("repo_id=1").unwrap().matches(&e));
    }

    #[test]
    fn malformed_flag_arguments_name_the_flag() {
        for f in [
            FilterFlag::StrEq,
            FilterFlag::IntEq,
            FilterFlag::Match,
            FilterFlag::In,
            FilterFlag::Not,
            FilterFlag::Gt,
            FilterFlag::Gte,
            FilterFlag::Lt,
            FilterFlag::Lte,
        ] {
            let e = flag_error(f, "result");
            assert!(e.contains(f.flag()) && e.contains("FIELD=VALUE"), "{e}");
            let e = flag_error(f, "=failed");
            assert!(e.contains(f.flag()) && e.contains("field name"), "{e}");
            let e = flag_error(f, "$or=1");
            assert!(e.contains(f.flag()) && e.contains("'$'"), "{e}");
            assert!(matches!(
                f.clause(""),
                Err(CriteriaError::InvalidFlag { .. })
            ));
        }
    }

    #[test]
    fn flag_filters_are_anded() {
        assert!(FlagFilters::default().is_empty());
        assert_eq!(FlagFilters::default().to_filter().unwrap(), None);
        let one = FlagFilters {
            str_eq: vec!["type=build-chroot-ended".into()],
            ..FlagFilters::default()
        };
        assert!(!one.is_empty());
        assert_eq!(
            one.to_filter().unwrap().unwrap().as_json(),
            &json!({"type": "build-chroot-ended"})
        );
        let flags = FlagFilters {
            str_eq: vec!["type=build-chroot-ended".into(), "status=succeeded".into()],
            int_eq: vec!["build_id=945012".into()],
            match_: vec!["package_name=^python-".into()],
            in_: vec!["usernames=churchyard,praiskup".into()],
            not: vec!["chroot=^epel".into()],
            gt: vec!["build_id=945000".into()],
            gte: vec!["build_id=945012".into()],
            lt: vec!["build_id=946000".into()],
            lte: vec!["build_id=945012".into()],
        };
        let f = flags.to_filter().unwrap().unwrap();
        assert!(f.matches(&obj(build_event())));
        // Each condition is required.
        let mut stricter = flags.clone();
        stricter.lt.push("build_id=945012".into());
        assert!(!stricter
            .to_filter()
            .unwrap()
            .unwrap()
            .matches(&obj(build_event())));
        let mut other = flags.clone();
        other.not.push("chroot=rawhide".into());
        assert!(!other
            .to_filter()
            .unwrap()
            .unwrap()
            .matches(&obj(build_event())));
        // And the equalities pin the subject.
        assert_eq!(f.equality_on("type"), Some(&json!("build-chroot-ended")));
        assert_eq!(f.equality_on("build_id"), Some(&json!(945012)));
        assert_eq!(f.equality_on("usernames"), None);
    }

    #[test]
    fn flag_filters_report_the_first_bad_argument() {
        let flags = FlagFilters {
            str_eq: vec!["type=x".into()],
            int_eq: vec!["build_id=x".into()],
            ..FlagFilters::default()
        };
        let e = flags.to_filter().unwrap_err();
        assert!(
            matches!(&e, CriteriaError::InvalidFlag { flag, .. } if flag == "--int-eq"),
            "{e}"
        );
        assert!(e.to_string().contains("\"build_id=x\""), "{e}");
    }

    #[test]
    fn in_flag_pins_a_single_value() {
        let f = FilterFlag::In.to_filter("repo_id=pulp-f16").unwrap();
        assert_eq!(f.equality_on("repo_id"), Some(&json!("pulp-f16")));
        let f = FilterFlag::In.to_filter("repo_id=a,b").unwrap();
        assert_eq!(f.equality_on("repo_id"), None);
    }

    #[test]
    fn parse_fields_list() {
        assert_eq!(
            parse_fields("repo_id,started").unwrap(),
            ["repo_id", "started"]
        );
        assert_eq!(
            parse_fields(" repo_id , started ").unwrap(),
            ["repo_id", "started"]
        );
        for bad in ["", "a,,b", "a,", " "] {
            let e = parse_fields(bad).unwrap_err().to_string();
            assert!(e.contains("--fields") && e.contains("empty"), "{bad}: {e}");
        }
    }
}
