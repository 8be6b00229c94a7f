//! [`Filter`], a checked and compiled query document, and its public API:
//! parsing from JSON or text, matching, combining, the push-down queries,
//! formatting and serde.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::clause::Clause;
use super::matching::all_match;
use super::parse::parse_document;
use super::pushdown::{visit_fields, visit_pins};
use super::CriteriaError;

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
/// [module documentation](crate::criteria) for how values compare.
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

    /// Every field the filter tests anywhere (also under `$or`, `$nor` and
    /// `$not`), each once, in the order they first appear: a search whose
    /// filter tests only fields that the NATS subject spells out can be
    /// answered from subjects alone.
    ///
    /// ```
    /// use repobus::criteria::Filter;
    ///
    /// let filter: Filter = r#"{"repo_id": "a", "$or": [{"result": "failed"}, {"repo_id": "b"}]}"#.parse()?;
    /// assert_eq!(filter.fields(), ["repo_id", "result"]);
    /// # Ok::<(), repobus::criteria::CriteriaError>(())
    /// ```
    pub fn fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        visit_fields(&self.clauses, &mut |name| {
            if !fields.iter().any(|seen| seen == name) {
                fields.push(name.to_owned());
            }
        });
        fields
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
