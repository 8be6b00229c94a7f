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

mod clause;
mod compare;
mod error;
mod fields;
mod filter;
mod flags;
mod matching;
mod parse;
mod pushdown;
mod query;
mod sort;

pub use error::CriteriaError;
pub use fields::parse_fields;
pub use filter::Filter;
pub use flags::{FilterFlag, FlagFilters};
pub use parse::MAX_FILTER_DEPTH;
pub use query::Criteria;
pub use sort::{compare_values, sort_objects, Direction, SortKey};

#[cfg(test)]
mod tests;
