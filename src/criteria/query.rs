//! [`Criteria`], a whole search: filter, time window, sort, skip, limit and
//! field projection, applied to a sequence of events.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{sort_objects, Filter, SortKey};
use crate::time::parse_datetime;

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
