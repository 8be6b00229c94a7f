//! Questions of the past: search the stored events with Pulp's criteria.
//!
//! [`search`] returns the matching events as records (every accessor plus
//! the envelope's `event_id`, `time`, `source`, `subject` and `seq`: see
//! [`crate::record`]), sorted, skipped, limited and projected: exactly what
//! reading every stored event and applying the criteria gives. It reads as
//! little of the stream as that allows: narrow reads with JetStream's
//! direct gets, long forward reads (past one direct-get batch, and a full
//! scan) through an ordered consumer from the planned first sequence:
//!
//! * a filter that pins `type`, `repo_id`, `project_owner`, `project_name`
//!   or `chroot` to one value reads only that subject
//!   ([`pushed_down_subject`]);
//! * a limit without sort, or sorted by `seq`, stops once enough events
//!   matched (read backwards from the end for `seq,descending`);
//! * `after`, `before` and a limit sorted by `time` use the stream's time
//!   order, within [`Search::time_tolerance`] (see there for the exact
//!   guarantee);
//! * [`Search::latest_per`] on a field the subject spells out reads only the
//!   last message of each subject.
//!
//! A time window (`after`, `before`) rejects an event from its envelope's
//! time before its body is decoded and validated; the answer is the same,
//! since a record's `time` is its envelope's.
//!
//! The planner lives in `plan.rs`, the direct gets in `direct.rs`, the
//! ordered-consumer reads in `ordered.rs`.

mod direct;
mod ordered;
mod plan;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::bus::{Bus, Deliver, SubscribeError};
use crate::criteria::{Criteria, CriteriaError, Filter, SortKey};
use crate::events::EventType;
use crate::iso8601::{Duration as IsoDuration, Iso8601Error};
use crate::record::field;
use crate::subject::Subjects;
use crate::time::{parse_datetime, TimestampError};

/// A history question: criteria, and how the server may narrow the read.
///
/// # Time order and what can be missed
///
/// Events are stored in arrival order; `time` (`ce-time`) is the
/// producer's clock. With `time_tolerance: Some(t)` (the default, 5
/// minutes) the search assumes the stored events' times are in stream
/// order within `t`: **no event's time is more than `t` later than the time
/// of an event stored after it.** repobus's publisher stamps `ce-time` when
/// it publishes, so its events satisfy this whenever the producers' clocks
/// (and publish delays) differ by less than `t` together; an import of
/// older events appended in time order does too.
///
/// Under that assumption the answer is exact. `after` and `before` become a
/// first and last stream sequence, found by a binary search over stored
/// times (a few direct gets), and a limit sorted by `time` stops reading
/// once no unread event can rank; the bound on `time` itself is always
/// applied exactly to each event read. If the assumption does not hold, an
/// event can be missed only when its time is more than `t` later than
/// that of some event stored after it (say, events stored before a late
/// import of much older ones): the binary search may then start after it.
/// `time_tolerance: None` assumes nothing and reads the whole stream (or
/// subject) for time bounds and time sorts.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use repobus::criteria::Criteria;
/// use repobus::history::Search;
///
/// // Read every stored event, for criteria the server cannot narrow anyway:
/// let search = Search {
///     push_down: false,
///     ..Search::new(Criteria::new().with_limit(100))
/// };
/// assert_eq!(search.criteria.limit, Some(100));
/// // Producers whose clocks may be an hour apart:
/// let search = Search::new(Criteria::new()).with_time_tolerance(Some(Duration::from_secs(3600)));
/// // The latest event of every repository:
/// let search = Search::new(Criteria::new()).with_latest_per("repo_id");
/// assert_eq!(search.latest_per.as_deref(), Some("repo_id"));
/// ```
#[derive(Debug, Clone)]
pub struct Search {
    /// Filter, sort, skip, limit, fields, after and before (on `time`).
    pub criteria: Criteria,
    /// Narrow the subjects, sequences and reading order on the server
    /// (default true). `false` reads every stored event.
    pub push_down: bool,
    /// How far out of stream order event times may be (default
    /// [`CLOCK_SKEW_MARGIN`]); `None` assumes no order (see above).
    pub time_tolerance: Option<Duration>,
    /// Keep only the latest (last stored) matching event of each value of
    /// this field, before sorting, skipping and limiting: `repo_id` gives
    /// each repository's latest event. Events without the field form one
    /// group.
    pub latest_per: Option<String>,
}

impl Search {
    /// A search with push-down.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::criteria::Criteria;
    /// use repobus::history::Search;
    ///
    /// let search = Search::new(Criteria::new().with_filter(r#"{"repo_id": "pulp-f17"}"#.parse()?));
    /// assert!(search.push_down);
    /// # Ok::<(), repobus::criteria::CriteriaError>(())
    /// ```
    pub fn new(criteria: Criteria) -> Self {
        Search {
            criteria,
            push_down: true,
            time_tolerance: Some(CLOCK_SKEW_MARGIN),
            latest_per: None,
        }
    }

    /// Sets [`Search::time_tolerance`].
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::criteria::Criteria;
    /// use repobus::history::Search;
    ///
    /// // Assume nothing about event times: time bounds read everything.
    /// let search = Search::new(Criteria::new()).with_time_tolerance(None);
    /// assert_eq!(search.time_tolerance, None);
    /// ```
    pub fn with_time_tolerance(mut self, tolerance: Option<Duration>) -> Self {
        self.time_tolerance = tolerance;
        self
    }

    /// Sets [`Search::latest_per`].
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::criteria::Criteria;
    /// use repobus::history::Search;
    ///
    /// let search = Search::new(Criteria::new()).with_latest_per("project_owner");
    /// assert_eq!(search.latest_per.as_deref(), Some("project_owner"));
    /// ```
    pub fn with_latest_per(mut self, field: impl Into<String>) -> Self {
        self.latest_per = Some(field.into());
        self
    }
}

/// Why a history question could not be answered.
///
/// # Examples
///
/// ```
/// use repobus::history::{HistoryError, HistoryQuery};
///
/// let query = HistoryQuery::from_pairs(vec![("limit".into(), "ten".into())]);
/// match query.to_search() {
///     Err(HistoryError::Number { field, value }) => assert_eq!((field, value.as_str()), ("limit", "ten")),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The criteria are malformed.
    #[error(transparent)]
    Criteria(#[from] CriteriaError),
    /// A date-time is malformed.
    #[error("{field}: {source}")]
    Time {
        /// The parameter (`after`, `before`).
        field: &'static str,
        /// The parse error.
        source: TimestampError,
    },
    /// A duration is malformed.
    #[error("since: {0}")]
    Since(Iso8601Error),
    /// A number parameter is malformed.
    #[error("{field}: {value:?} is not a non-negative integer")]
    Number {
        /// The parameter.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// Reading the stream failed.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// The server did not answer a read of the stream.
    #[error("cannot read stream {stream}: {reason}")]
    Read {
        /// The stream.
        stream: String,
        /// The server's or client's answer.
        reason: String,
    },
}

/// Resolves `--since P1D` against `now`: the instant one day before.
///
/// # Examples
///
/// ```
/// use repobus::history::since;
/// use repobus::time::parse_datetime;
///
/// let now = parse_datetime("2012-03-31T12:00Z")?;
/// assert_eq!(since("P1D", now)?, parse_datetime("2012-03-30T12:00Z")?);
/// // Calendar-aware: one month before March 31 is February 29 (a leap year).
/// assert_eq!(since("P1M", now)?, parse_datetime("2012-02-29T12:00Z")?);
/// assert!(since("one day", now).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn since(duration: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, HistoryError> {
    let d: IsoDuration = duration.parse().map_err(HistoryError::Since)?;
    d.subtract_from(now).ok_or_else(|| {
        HistoryError::Since(Iso8601Error::Duration {
            part: duration.to_owned(),
            reason: "reaches before the start of the calendar".to_owned(),
        })
    })
}

/// Parses an `after`/`before` date-time.
///
/// # Examples
///
/// ```
/// use repobus::history::{instant, HistoryError};
///
/// let after = instant("after", "2012-07-06T15:49Z").unwrap();
/// assert_eq!(after.to_rfc3339(), "2012-07-06T15:49:00+00:00");
/// assert!(matches!(
///     instant("before", "2012-13-01"),
///     Err(HistoryError::Time { field: "before", .. })
/// ));
/// ```
pub fn instant(field: &'static str, text: &str) -> Result<DateTime<Utc>, HistoryError> {
    parse_datetime(text).map_err(|source| HistoryError::Time { field, source })
}

/// The query string of `GET /v1/events`: `filters` (JSON), `sort` (repeatable
/// `field[,ascending|descending]`), `limit`, `skip`, `fields` (`a,b,c`),
/// `after`, `before` (ISO 8601), `since` (a duration such as `P1D`) and
/// `latest_per` (a field: the latest event of each of its values).
///
/// # Examples
///
/// ```
/// use repobus::history::HistoryQuery;
///
/// // `?filters={"result":"failed"}&sort=time,descending&limit=10`, as a web
/// // framework's query extractor hands it over:
/// let query: HistoryQuery = serde_json::from_value(serde_json::json!([
///     ["filters", r#"{"result": "failed"}"#],
///     ["sort", "time,descending"],
///     ["limit", "10"],
/// ]))?;
/// let search = query.to_search()?;
/// assert_eq!(search.criteria.limit, Some(10));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "Vec<(String, String)>")]
pub struct HistoryQuery {
    pairs: Vec<(String, String)>,
}

impl From<Vec<(String, String)>> for HistoryQuery {
    fn from(pairs: Vec<(String, String)>) -> Self {
        HistoryQuery { pairs }
    }
}

impl HistoryQuery {
    /// A query from its key/value pairs (keys may repeat).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::history::HistoryQuery;
    ///
    /// let query = HistoryQuery::from_pairs(vec![
    ///     ("filters".into(), r#"{"repo_id": "pulp-f17"}"#.into()),
    ///     ("since".into(), "P1D".into()),
    /// ]);
    /// assert!(query.to_search().unwrap().criteria.after.is_some());
    /// ```
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        HistoryQuery { pairs }
    }

    /// Validates the parameters into a [`Search`]; unknown parameters are
    /// errors too, so a typo is not silently ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::history::HistoryQuery;
    ///
    /// let pairs = |p: &[(&str, &str)]| {
    ///     HistoryQuery::from_pairs(p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    /// };
    /// let search = pairs(&[("filters", r#"{"result": "failed"}"#), ("skip", "20"), ("limit", "10")])
    ///     .to_search()
    ///     .unwrap();
    /// assert_eq!((search.criteria.skip, search.criteria.limit), (20, Some(10)));
    /// // A typo is an error, not an ignored parameter:
    /// assert!(pairs(&[("limt", "10")]).to_search().is_err());
    /// ```
    pub fn to_search(&self) -> Result<Search, HistoryError> {
        let mut criteria = Criteria::new();
        let mut latest_per = None;
        let number = |field: &'static str, value: &str| {
            value.parse::<usize>().map_err(|_| HistoryError::Number {
                field,
                value: value.to_owned(),
            })
        };
        for (key, value) in &self.pairs {
            match key.as_str() {
                "filters" => {
                    let filter: Filter = value.parse()?;
                    criteria.filter = Some(match criteria.filter.take() {
                        Some(f) => f.and(filter),
                        None => filter,
                    });
                }
                "sort" => criteria.sort.push(value.parse::<SortKey>()?),
                "limit" => criteria.limit = Some(number("limit", value)?),
                "skip" => criteria.skip = number("skip", value)?,
                "fields" => criteria.fields = Some(crate::criteria::parse_fields(value)?),
                "after" => criteria.after = Some(latest(criteria.after, instant("after", value)?)),
                "before" => criteria.before = Some(instant("before", value)?),
                "since" => criteria.after = Some(latest(criteria.after, since(value, Utc::now())?)),
                "latest_per" => latest_per = Some(value.clone()),
                other => {
                    return Err(HistoryError::Criteria(CriteriaError::InvalidFlag {
                        flag: other.to_owned(),
                        input: value.clone(),
                        problem: "unknown parameter; expected filters, sort, limit, skip, fields, after, before, since or latest_per".to_owned(),
                    }))
                }
            }
        }
        Ok(Search {
            latest_per,
            ..Search::new(criteria)
        })
    }
}

/// The default [`Search::time_tolerance`], and how far before `after` a
/// live read ([`start_at`], for `tail` and the overviews) starts by the
/// server's clock. The server knows when an event arrived, the criteria
/// compare `ce-time`, the producer's clock; starting early and filtering
/// exactly keeps an event whose producer clock runs ahead of the server's.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(300);

/// Where a read for events at or after `after` starts on the server.
///
/// # Examples
///
/// ```
/// use repobus::bus::Deliver;
/// use repobus::history::start_at;
/// use repobus::time::parse_datetime;
///
/// let after = parse_datetime("2012-07-06T15:49:11Z")?;
/// // Five minutes early (CLOCK_SKEW_MARGIN); the criteria filter exactly.
/// assert_eq!(start_at(after), Deliver::FromTime(parse_datetime("2012-07-06T15:44:11Z")?));
/// # Ok::<(), repobus::time::TimestampError>(())
/// ```
pub fn start_at(after: DateTime<Utc>) -> Deliver {
    let margin = chrono::Duration::from_std(CLOCK_SKEW_MARGIN).unwrap_or_default();
    Deliver::FromTime(after.checked_sub_signed(margin).unwrap_or(after))
}

/// The later of two optional bounds.
///
/// # Examples
///
/// ```
/// use repobus::history::latest;
/// use repobus::time::parse_datetime;
///
/// let (a, b) = (parse_datetime("2012-07-01")?, parse_datetime("2012-07-06")?);
/// assert_eq!(latest(Some(a), b), b);
/// assert_eq!(latest(Some(b), a), b);
/// assert_eq!(latest(None, a), a);
/// # Ok::<(), repobus::time::TimestampError>(())
/// ```
pub fn latest(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> DateTime<Utc> {
    a.map_or(b, |a| a.max(b))
}

fn pinned_str<'a>(filter: Option<&'a Filter>, field: &str) -> Option<&'a str> {
    filter
        .and_then(|f| f.equality_on(field))
        .and_then(Value::as_str)
}

/// The subject filter a search can be narrowed to, from the equalities its
/// filter pins (`type`, `repo_id`, `project_owner`, `project_name`,
/// `chroot`).
///
/// # Examples
///
/// ```
/// use repobus::criteria::Criteria;
/// use repobus::history::pushed_down_subject;
/// use repobus::subject::Subjects;
///
/// let subjects = Subjects::default();
/// let narrow = Criteria::new()
///     .with_filter(r#"{"type": "repo-sync-finished", "repo_id": "epel.7"}"#.parse()?);
/// assert_eq!(
///     pushed_down_subject(&subjects, &narrow).as_deref(),
///     Some("repobus.repo.sync.finished.epel%2E7")
/// );
/// // Nothing pinned to one subject: the whole stream is read.
/// let wide = Criteria::new().with_filter(r#"{"result": "failed"}"#.parse()?);
/// assert_eq!(pushed_down_subject(&subjects, &wide), None);
/// # Ok::<(), repobus::criteria::CriteriaError>(())
/// ```
pub fn pushed_down_subject(subjects: &Subjects, criteria: &Criteria) -> Option<String> {
    let filter = criteria.filter.as_ref();
    let pinned_type = pinned_str(filter, field::TYPE);
    // Which subject IDs (named as the record's fields) the filter pins.
    let id_names: Vec<&str> = EventType::ALL
        .into_iter()
        .flat_map(|t| t.subject_ids().iter().copied())
        .collect();
    let pinned_ids: Vec<&str> = id_names
        .iter()
        .copied()
        .filter(|name| pinned_str(filter, name).is_some())
        .collect();
    if pinned_type.is_none() && pinned_ids.is_empty() {
        return None;
    }
    // The types an event matching the filter can have.
    let candidates: Vec<EventType> = EventType::ALL
        .into_iter()
        .filter(|t| pinned_type.is_none_or(|name| t.as_str() == name))
        .filter(|t| pinned_ids.iter().all(|id| t.subject_ids().contains(id)))
        .collect();
    let Some(first) = candidates.first() else {
        // No type has these IDs (or the type does not exist): nothing can
        // match, and any narrow subject reads nothing.
        return Some(format!("{}.none", subjects.prefix()));
    };
    // One wildcard subject covers them when they have the same shape: the
    // same number of type tokens and the same IDs after them.
    let tokens = |t: EventType| t.subject_tokens().split('.').collect::<Vec<_>>();
    let shape = (tokens(*first).len(), first.subject_ids());
    if candidates
        .iter()
        .any(|t| (tokens(*t).len(), t.subject_ids()) != shape)
    {
        return None;
    }
    let type_tokens: Vec<&str> = (0..shape.0)
        .map(|i| {
            let token = tokens(*first)[i];
            if candidates.iter().all(|t| tokens(*t)[i] == token) {
                token
            } else {
                "*"
            }
        })
        .collect();
    let ids = shape.1.iter().map(|name| pinned_str(filter, name));
    Some(subjects.wildcard(&type_tokens, ids))
}

/// Progress of a scan: events read so far and the total to read.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Answers a history question. `progress`, if given, is called as events
/// are read with (read, total).
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::criteria::Criteria;
/// use repobus::history::{self, Search};
///
/// let criteria = Criteria::new()
///     .with_filter(r#"{"result": "failed"}"#.parse()?)
///     .with_sort("time,descending".parse()?)
///     .with_limit(10);
/// for record in history::search(&bus, &Search::new(criteria), None).await? {
///     println!("{} {}", record["time"], record["summary"]);
/// }
/// # Ok(()) }
/// ```
pub async fn search(
    bus: &Bus,
    search: &Search,
    progress: Option<Progress<'_>>,
) -> Result<Vec<Map<String, Value>>, HistoryError> {
    plan::run(bus, search, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criteria(filter: &str) -> Criteria {
        Criteria::new().with_filter(filter.parse().unwrap())
    }

    #[test]
    fn push_down_narrows_the_subject() {
        let s = Subjects::default();
        let cases = [
            (
                r#"{"type": "repo-sync-finished"}"#,
                Some("repobus.repo.sync.finished.*"),
            ),
            (
                r#"{"type": "repo-sync-finished", "repo_id": "epel.7"}"#,
                Some("repobus.repo.sync.finished.epel%2E7"),
            ),
            (
                r#"{"repo_id": "r1", "result": "failed"}"#,
                Some("repobus.repo.*.*.r1"),
            ),
            (
                r#"{"project_owner": "@python"}"#,
                Some("repobus.build.chroot.*.@python.*.*"),
            ),
            (
                r#"{"type": "build-chroot-ended", "chroot": "srpm-builds"}"#,
                Some("repobus.build.chroot.ended.*.*.srpm-builds"),
            ),
            (r#"{"$or": [{"repo_id": "a"}, {"repo_id": "b"}]}"#, None),
            (r#"{"result": "failed"}"#, None),
            (r#"{"type": "nope"}"#, Some("repobus.none")),
            // No type has both IDs: nothing can match.
            (
                r#"{"repo_id": "a", "project_owner": "b"}"#,
                Some("repobus.none"),
            ),
            (
                r#"{"type": "repo-sync-started", "chroot": "x"}"#,
                Some("repobus.none"),
            ),
            (
                r#"{"project_name": "python3.8", "chroot": "epel-7"}"#,
                Some("repobus.build.chroot.*.*.python3%2E8.epel-7"),
            ),
        ];
        for (filter, want) in cases {
            assert_eq!(
                pushed_down_subject(&s, &criteria(filter)).as_deref(),
                want,
                "{filter}"
            );
        }
    }

    #[test]
    fn query_parameters_are_validated() {
        let q = |pairs: &[(&str, &str)]| {
            HistoryQuery::from_pairs(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
            .to_search()
        };
        let s = q(&[
            ("filters", r#"{"result": "failed"}"#),
            ("sort", "time,descending"),
            ("limit", "10"),
            ("since", "P1D"),
        ])
        .unwrap();
        assert_eq!(s.criteria.limit, Some(10));
        assert_eq!(s.criteria.sort.len(), 1);
        assert!(s.criteria.after.is_some());
        for bad in [
            vec![("filters", "{")],
            vec![("filters", r#"{"a": {"$foo": 1}}"#)],
            vec![("limit", "-1")],
            vec![("after", "2012-13-01")],
            vec![("since", "P")],
            vec![("sort", "a,sideways")],
            vec![("colour", "red")],
        ] {
            assert!(q(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pushed_down_reads_start_a_margin_early() {
        let after = parse_datetime("2012-07-06T15:49:11Z").unwrap();
        assert_eq!(
            start_at(after),
            Deliver::FromTime(parse_datetime("2012-07-06T15:44:11Z").unwrap())
        );
    }

    #[test]
    fn since_is_calendar_aware() {
        let now = parse_datetime("2012-03-31T12:00Z").unwrap();
        assert_eq!(
            since("P1M", now).unwrap(),
            parse_datetime("2012-02-29T12:00Z").unwrap()
        );
        assert_eq!(
            since("PT6H", now).unwrap(),
            parse_datetime("2012-03-31T06:00Z").unwrap()
        );
    }
}
