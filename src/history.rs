//! Questions of the past: search the stored events with Pulp's criteria.
//!
//! [`search`] reads the event stream through a temporary consumer and
//! returns the matching events as records (every accessor plus the
//! envelope's `event_id`, `time`, `source`, `subject` and `seq`: see
//! [`crate::record`]), sorted, skipped, limited and projected. It pushes what
//! it can down to the server so that a narrow question does not read the
//! whole stream: a filter that pins `type`, `repo_id`, `project_owner`,
//! `project_name` or `chroot` to one value becomes a subject filter, and
//! `after` (or `since`) becomes the consumer's start time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::bus::{Bus, ConsumerOptions, Deliver, SubscribeError};
use crate::criteria::{Criteria, CriteriaError, Filter, SortKey};
use crate::events::EventType;
use crate::iso8601::{Duration as IsoDuration, Iso8601Error};
use crate::record::field;
use crate::subject::{Phase, RepoOperation, SubjectFilter, Subjects};
use crate::time::{parse_datetime, TimestampError};

/// A history question: criteria, and whether to push them down.
#[derive(Debug, Clone)]
pub struct Search {
    /// Filter, sort, skip, limit, fields, after and before (on `time`).
    pub criteria: Criteria,
    /// Narrow the subjects and start time on the server (default true).
    pub push_down: bool,
}

impl Search {
    /// A search with push-down.
    pub fn new(criteria: Criteria) -> Self {
        Search {
            criteria,
            push_down: true,
        }
    }
}

/// Why a history question could not be answered.
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
}

/// Resolves `--since P1D` against `now`: the instant one day before.
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
pub fn instant(field: &'static str, text: &str) -> Result<DateTime<Utc>, HistoryError> {
    parse_datetime(text).map_err(|source| HistoryError::Time { field, source })
}

/// The query string of `GET /v1/events`: `filters` (JSON), `sort` (repeatable
/// `field[,ascending|descending]`), `limit`, `skip`, `fields` (`a,b,c`),
/// `after`, `before` (ISO 8601) and `since` (a duration such as `P1D`).
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
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        HistoryQuery { pairs }
    }

    /// Validates the parameters into a [`Search`]; unknown parameters are
    /// errors too, so a typo is not silently ignored.
    pub fn to_search(&self) -> Result<Search, HistoryError> {
        let mut criteria = Criteria::new();
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
                other => {
                    return Err(HistoryError::Criteria(CriteriaError::InvalidFlag {
                        flag: other.to_owned(),
                        input: value.clone(),
                        problem: "unknown parameter; expected filters, sort, limit, skip, fields, after, before or since".to_owned(),
                    }))
                }
            }
        }
        Ok(Search::new(criteria))
    }
}

/// How far before `after` a pushed-down read starts. The server knows when
/// an event arrived, the criteria compare `ce-time`, the producer's clock;
/// starting early and filtering exactly here keeps an event whose producer
/// clock runs ahead of the server's.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(300);

/// Where a read for events at or after `after` starts on the server.
pub fn start_at(after: DateTime<Utc>) -> Deliver {
    let margin = chrono::Duration::from_std(CLOCK_SKEW_MARGIN).unwrap_or_default();
    Deliver::FromTime(after.checked_sub_signed(margin).unwrap_or(after))
}

/// The later of two optional bounds.
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
pub fn pushed_down_subject(subjects: &Subjects, criteria: &Criteria) -> Option<String> {
    let filter = criteria.filter.as_ref();
    let event_type = pinned_str(filter, field::TYPE).and_then(|t| t.parse::<EventType>().ok());
    if pinned_str(filter, field::TYPE).is_some() && event_type.is_none() {
        // A type no event has: nothing can match; any narrow subject works.
        return Some(format!("{}.none", subjects.prefix()));
    }
    let repo_id = pinned_str(filter, field::REPO_ID).map(str::to_owned);
    let owner = pinned_str(filter, field::PROJECT_OWNER).map(str::to_owned);
    let project = pinned_str(filter, field::PROJECT_NAME).map(str::to_owned);
    let chroot = pinned_str(filter, field::CHROOT).map(str::to_owned);
    let copr_ids = owner.is_some() || project.is_some() || chroot.is_some();
    let phase_of = |t: EventType| match t {
        EventType::RepoSyncStarted
        | EventType::RepoPublishStarted
        | EventType::BuildChrootStarted => Phase::Started,
        _ => Phase::Finished,
    };
    let built = match event_type {
        Some(t) if t.is_pulp() => SubjectFilter::Repo {
            operation: Some(match t {
                EventType::RepoSyncStarted | EventType::RepoSyncFinished => RepoOperation::Sync,
                _ => RepoOperation::Publish,
            }),
            phase: Some(phase_of(t)),
            repo_id,
        },
        Some(t) => SubjectFilter::Build {
            phase: Some(phase_of(t)),
            owner,
            project,
            chroot,
        },
        None if repo_id.is_some() && !copr_ids => SubjectFilter::Repo {
            operation: None,
            phase: None,
            repo_id,
        },
        None if copr_ids && repo_id.is_none() => SubjectFilter::Build {
            phase: None,
            owner,
            project,
            chroot,
        },
        None => return None,
    };
    Some(subjects.filter(&built))
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
    let criteria = &search.criteria;
    let (filter_subjects, deliver) = if search.push_down {
        (
            pushed_down_subject(bus.subjects(), criteria)
                .into_iter()
                .collect(),
            criteria.after.map_or(Deliver::All, start_at),
        )
    } else {
        (Vec::new(), Deliver::All)
    };
    let mut subscription = bus
        .subscriber()
        .subscribe(ConsumerOptions {
            filter_subjects,
            deliver,
            explicit_ack: false,
            max_ack_pending: -1,
            ..ConsumerOptions::default()
        })
        .await?;
    let total = subscription.pending().await?;
    let early_stop = criteria
        .sort
        .is_empty()
        .then(|| criteria.limit.map(|l| l + criteria.skip))
        .flatten();
    let mut matched = Vec::new();
    let mut read = 0u64;
    while let Some(delivery) = subscription.next_until_caught_up().await {
        let delivery = delivery?;
        read += 1;
        if let Some(report) = progress {
            if read % 1024 == 0 || delivery.pending == 0 {
                report(read, total.max(read));
            }
        }
        let record = delivery.record().to_map();
        if criteria.matches(&record, field::TIME) {
            matched.push(record);
            if early_stop.is_some_and(|n| matched.len() >= n) {
                break;
            }
        }
    }
    Ok(criteria.arrange(matched))
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
