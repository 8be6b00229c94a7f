//! The questions a monitoring view asks, answered from the stream: what
//! each repository did last and what is running now ([`repos`]), how Copr
//! builds are going per project and chroot ([`builds`]), how many events
//! arrive and how many fail ([`stats`]), and one stored event in full
//! ([`event_at`]).
//!
//! [`repos`] reads only the last message of each repository subject
//! (JetStream's last-by-subject direct get), never the history, so it costs
//! four small reads per repository whatever the stream's length. [`builds`]
//! and [`stats`] read a time window, starting the consumer at the window's
//! start on the server (the same push-down as [`crate::history`]).
//!
//! ```no_run
//! # async fn demo(bus: repobus::bus::Bus) -> Result<(), Box<dyn std::error::Error>> {
//! use repobus::overview;
//!
//! for repo in overview::repos(&bus).await? {
//!     if repo.sync.in_progress {
//!         println!("{} has been syncing for {:?} s", repo.repo_id, repo.sync.running_seconds);
//!     }
//! }
//! let day = overview::stats(&bus, "P1D").await?;
//! println!("{} events, {:.1} % of finished operations failed", day.total, day.failure_rate * 100.0);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::jetstream::message::StreamMessage;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::bus::{Bus, ConsumerOptions, Delivery, SubscribeError};
use crate::envelope::Envelope;
use crate::events::{Event, EventType};
use crate::history::{since, start_at, HistoryError};
use crate::record::Record;
use crate::subject::{RepoOperation, SubjectFilter, SubjectIds};

/// Most last-by-subject reads in flight at once.
const CONCURRENT_GETS: usize = 64;

/// Why an overview could not be answered.
///
/// # Examples
///
/// ```
/// use repobus::overview::OverviewError;
///
/// let e = OverviewError::NotFound(7);
/// assert_eq!(e.to_string(), "no event with stream sequence 7");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    /// The window or another parameter is malformed.
    #[error(transparent)]
    Query(#[from] HistoryError),
    /// Reading the stream through a consumer failed.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// NATS did not answer a read of the stream.
    #[error("cannot read stream {stream}: {reason}")]
    Stream {
        /// The stream.
        stream: String,
        /// The server's or client's answer.
        reason: String,
    },
    /// No stored event has this sequence (never stored, expired or deleted).
    #[error("no event with stream sequence {0}")]
    NotFound(u64),
}

/// The last event of one kind: its record (every accessor and the
/// envelope, see [`crate::record`]).
pub type Latest = Option<Map<String, Value>>;

/// One repository operation (sync or publish): what it did last and
/// whether it is running now.
///
/// # Examples
///
/// ```
/// use repobus::overview::OperationState;
///
/// let idle = OperationState::default();
/// assert!(!idle.in_progress && idle.last_finished.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OperationState {
    /// The last `...-started` event.
    pub last_started: Latest,
    /// The last `...-finished` event (`result`, `started`, `completed`,
    /// `duration_seconds`, counts, ...).
    pub last_finished: Latest,
    /// A started event is newer than any finished one.
    pub in_progress: bool,
    /// How long the operation in progress has run (from its started
    /// event's time), in seconds.
    pub running_seconds: Option<i64>,
    /// The latest `...-progress` report of the operation in progress
    /// (`None` once a finished event is newer, or when it never reported).
    pub last_progress: Latest,
}

impl OperationState {
    fn settle(&mut self, now: DateTime<Utc>) {
        let seq = |m: &Latest| {
            m.as_ref()
                .and_then(|m| m.get("seq"))
                .and_then(Value::as_u64)
        };
        let started = seq(&self.last_started);
        self.in_progress = started.is_some() && started > seq(&self.last_finished);
        if !self.in_progress || seq(&self.last_progress) < started {
            self.last_progress = None;
        }
        self.running_seconds = if self.in_progress {
            self.last_started
                .as_ref()
                .and_then(|m| m.get("time"))
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| (now - t.with_timezone(&Utc)).num_seconds().max(0))
        } else {
            None
        };
    }
}

/// One repository's row: its latest sync and publish.
///
/// # Examples
///
/// ```
/// use repobus::overview::RepoOverview;
///
/// let row = RepoOverview { repo_id: "pulp-f17".into(), ..RepoOverview::default() };
/// assert_eq!(serde_json::to_value(&row).unwrap()["sync"]["in_progress"], false);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RepoOverview {
    /// The repository ID.
    pub repo_id: String,
    /// Its syncs.
    pub sync: OperationState,
    /// Its publishes.
    pub publish: OperationState,
}

fn chrono_time(t: time::OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond()).unwrap_or_else(Utc::now)
}

/// A stored message decoded: the event, its envelope and its record.
fn decode_stored(bus: &Bus, message: &StreamMessage) -> Option<(Event, Envelope, Record)> {
    let subject = message.subject.to_string();
    let parsed = bus.subjects().parse(&subject).ok()?;
    let event = Event::decode(parsed.event_type.as_str(), &message.payload).ok()?;
    let stream = bus.config().stream_name();
    let envelope = Envelope::from_headers(
        Some(&message.headers),
        Some(parsed.event_type),
        || format!("{stream}:{}", message.sequence),
        chrono_time(message.time),
    )
    .ok()?;
    let record = Record::new(&event, &envelope, &subject, message.sequence);
    Some((event, envelope, record))
}

fn stream_error(bus: &Bus, e: impl std::fmt::Display) -> OverviewError {
    OverviewError::Stream {
        stream: bus.config().stream_name().to_owned(),
        reason: e.to_string(),
    }
}

/// Every repository that has events, sorted by ID, with its latest sync and
/// publish and what is in progress. Answered from the last message of each
/// subject (direct get), not by reading the history.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus::overview::OverviewError> {
/// let running: Vec<_> = repobus::overview::repos(&bus)
///     .await?
///     .into_iter()
///     .filter(|r| r.sync.in_progress || r.publish.in_progress)
///     .collect();
/// # Ok(()) }
/// ```
pub async fn repos(bus: &Bus) -> Result<Vec<RepoOverview>, OverviewError> {
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await
        .map_err(|e| stream_error(bus, e))?;
    let filter = bus.subjects().filter(&SubjectFilter::Repo {
        operation: None,
        phase: None,
        repo_id: None,
    });
    let subjects: Vec<String> = stream
        .info_with_subjects(&filter)
        .await
        .map_err(|e| stream_error(bus, e))?
        .map_ok(|(subject, _count)| subject)
        .try_collect()
        .await
        .map_err(|e| stream_error(bus, e))?;
    let stream = &stream;
    let messages: Vec<Option<StreamMessage>> = futures_util::stream::iter(subjects)
        .map(|subject| async move {
            match stream.direct_get_last_for_subject(&subject).await {
                Ok(message) => Ok(Some(message)),
                // Deleted or expired since the subjects were listed.
                Err(e)
                    if e.kind() == async_nats::jetstream::stream::DirectGetErrorKind::NotFound =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(CONCURRENT_GETS)
        .try_collect()
        .await
        .map_err(|e| stream_error(bus, e))?;
    let now = Utc::now();
    let mut rows: BTreeMap<String, RepoOverview> = BTreeMap::new();
    for message in messages.into_iter().flatten() {
        let Some((event, _, record)) = decode_stored(bus, &message) else {
            continue;
        };
        let Some(repo_id) = event.repo_id().map(ToString::to_string) else {
            continue;
        };
        let row = rows.entry(repo_id.clone()).or_insert_with(|| RepoOverview {
            repo_id,
            ..RepoOverview::default()
        });
        let map = Some(record.to_map());
        match event.event_type() {
            EventType::RepoSyncStarted => row.sync.last_started = map,
            EventType::RepoSyncFinished => row.sync.last_finished = map,
            EventType::RepoPublishStarted => row.publish.last_started = map,
            EventType::RepoPublishFinished => row.publish.last_finished = map,
            EventType::RepoSyncProgress => row.sync.last_progress = map,
            EventType::RepoPublishProgress => row.publish.last_progress = map,
            EventType::BuildChrootStarted | EventType::BuildChrootEnded => {}
        }
    }
    Ok(rows
        .into_values()
        .map(|mut row| {
            row.sync.settle(now);
            row.publish.settle(now);
            row
        })
        .collect())
}

/// Counts of operations in progress, by operation (what a gauge of
/// "operations in progress" reports).
///
/// # Examples
///
/// ```
/// use repobus::overview::{in_progress, RepoOverview};
///
/// let mut busy = RepoOverview { repo_id: "a".into(), ..Default::default() };
/// busy.sync.in_progress = true;
/// assert_eq!(in_progress(&[busy]), (1, 0));
/// ```
pub fn in_progress(repos: &[RepoOverview]) -> (usize, usize) {
    (
        repos.iter().filter(|r| r.sync.in_progress).count(),
        repos.iter().filter(|r| r.publish.in_progress).count(),
    )
}

/// Reads every event on `subject` stored from `after` (less the clock-skew
/// margin) to the end of the stream, calling `each` with those whose
/// `ce-time` is at or after `after`.
async fn scan(
    bus: &Bus,
    subject: String,
    after: DateTime<Utc>,
    mut each: impl FnMut(&Delivery),
) -> Result<(), OverviewError> {
    let mut subscription = bus
        .subscriber()
        .subscribe(ConsumerOptions {
            filter_subjects: vec![subject],
            deliver: start_at(after),
            explicit_ack: false,
            max_ack_pending: -1,
            ..ConsumerOptions::default()
        })
        .await?;
    while let Some(delivery) = subscription.next_until_caught_up().await {
        let delivery = delivery?;
        if delivery.envelope.time >= after {
            each(&delivery);
        }
    }
    Ok(())
}

/// Which Copr builds to show: a project, an owner's projects, or all, over
/// a window.
///
/// # Examples
///
/// ```
/// use repobus::overview::BuildsQuery;
///
/// let query = BuildsQuery { owner: Some("@python".into()), ..BuildsQuery::default() };
/// assert_eq!((query.since.as_str(), query.builds), ("P7D", 20));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildsQuery {
    /// Only this project owner.
    pub owner: Option<String>,
    /// Only projects of this name.
    pub project: Option<String>,
    /// The window, an ISO 8601 duration before now (default `P7D`).
    pub since: String,
    /// Most recent builds per project in the matrix (default 20).
    pub builds: usize,
}

impl Default for BuildsQuery {
    fn default() -> Self {
        BuildsQuery {
            owner: None,
            project: None,
            since: "P7D".to_owned(),
            builds: 20,
        }
    }
}

/// One chroot of one build: its latest status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChrootCell {
    /// Copr's status name (`running`, `succeeded`, `failed`, ...).
    pub status: String,
    /// When, RFC 3339.
    pub time: String,
    /// The stream sequence of the event (for its detail).
    pub seq: u64,
}

/// One build: a row of the chroot-by-build matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildRow {
    /// Copr's build ID.
    pub build_id: u64,
    /// The package (`name-version-release` when known).
    pub package: Option<String>,
    /// Who submitted it.
    pub submitter: Option<String>,
    /// The time of its latest event.
    pub time: String,
    /// Chroot name to latest status.
    pub chroots: BTreeMap<String, ChrootCell>,
}

/// One Copr project: its recent builds and failures per chroot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectBuilds {
    /// The owner (`@group` or user).
    pub owner: String,
    /// The project name.
    pub project: String,
    /// Every chroot seen in the window, sorted (the matrix's columns).
    pub chroots: Vec<String>,
    /// The most recent builds, newest first (the matrix's rows).
    pub builds: Vec<BuildRow>,
    /// Builds whose chroot ended as `failed`, per chroot, in the window.
    pub failures: BTreeMap<String, u64>,
    /// Build-chroots that ended, in the window.
    pub ended: u64,
}

/// The answer of [`builds`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildsOverview {
    /// The window's start, RFC 3339.
    pub since: String,
    /// Projects, sorted by owner and name.
    pub projects: Vec<ProjectBuilds>,
}

/// Copr builds by owner and project over a window: a chroot-by-build
/// status matrix of each project's recent builds, and failure counts per
/// chroot. Reads the build subjects of the window only.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus::overview::OverviewError> {
/// use repobus::overview::{self, BuildsQuery};
///
/// let query = BuildsQuery { owner: Some("@python".into()), since: "P1D".into(), ..BuildsQuery::default() };
/// for project in overview::builds(&bus, &query).await?.projects {
///     for (chroot, failed) in &project.failures {
///         println!("{}/{} {chroot}: {failed} failed", project.owner, project.project);
///     }
/// }
/// # Ok(()) }
/// ```
pub async fn builds(bus: &Bus, query: &BuildsQuery) -> Result<BuildsOverview, OverviewError> {
    let after = since(&query.since, Utc::now())?;
    let subject = bus.subjects().filter(&SubjectFilter::Build {
        phase: None,
        owner: query.owner.clone(),
        project: query.project.clone(),
        chroot: None,
    });
    struct Acc {
        chroots: std::collections::BTreeSet<String>,
        builds: HashMap<u64, BuildRow>,
        failures: BTreeMap<String, u64>,
        ended: u64,
    }
    let mut projects: BTreeMap<(String, String), Acc> = BTreeMap::new();
    scan(bus, subject, after, |delivery| {
        let Some(build) = delivery.event.build_chroot() else {
            return;
        };
        let SubjectIds::BuildChroot {
            owner,
            project,
            chroot,
        } = build_ids(build)
        else {
            return;
        };
        let record = delivery.record();
        let d = record.description.to_map();
        let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
        let build_id = d.get("build_id").and_then(Value::as_u64).unwrap_or(0);
        let acc = projects.entry((owner, project)).or_insert_with(|| Acc {
            chroots: Default::default(),
            builds: HashMap::new(),
            failures: BTreeMap::new(),
            ended: 0,
        });
        acc.chroots.insert(chroot.clone());
        let status = delivery.event.status();
        if delivery.event.event_type() == EventType::BuildChrootEnded {
            acc.ended += 1;
            if status == "failed" {
                *acc.failures.entry(chroot.clone()).or_insert(0) += 1;
            }
        }
        let row = acc.builds.entry(build_id).or_insert_with(|| BuildRow {
            build_id,
            package: None,
            submitter: None,
            time: record.time.clone(),
            chroots: BTreeMap::new(),
        });
        row.package = text("package_full_name").or(row.package.take());
        row.submitter = text("submitter").or(row.submitter.take());
        row.time = record.time.clone();
        row.chroots.insert(
            chroot,
            ChrootCell {
                status: status.to_owned(),
                time: record.time.clone(),
                seq: record.seq,
            },
        );
    })
    .await?;
    let projects = projects
        .into_iter()
        .map(|((owner, project), acc)| {
            let mut builds: Vec<BuildRow> = acc.builds.into_values().collect();
            builds.sort_by_key(|b| std::cmp::Reverse(b.build_id));
            builds.truncate(query.builds);
            ProjectBuilds {
                owner,
                project,
                chroots: acc.chroots.into_iter().collect(),
                builds,
                failures: acc.failures,
                ended: acc.ended,
            }
        })
        .collect();
    Ok(BuildsOverview {
        since: after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        projects,
    })
}

fn build_ids(build: &crate::events::BuildChroot) -> SubjectIds {
    let d = build.details();
    SubjectIds::BuildChroot {
        owner: d.project_owner,
        project: d.project_name,
        chroot: d.chroot,
    }
}

/// Events in one time bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bucket {
    /// The bucket's start, RFC 3339.
    pub start: String,
    /// Events in it.
    pub events: u64,
    /// Finished operations (`repo-*-finished`, `build-chroot-ended`).
    pub finished: u64,
    /// Of those, failed (`failed` or `error`).
    pub failed: u64,
}

/// Events and failures over a window.
///
/// # Examples
///
/// ```
/// use repobus::overview::Stats;
///
/// // What `GET /v1/stats` answers, as JSON:
/// let stats = Stats { total: 3, finished: 2, failed: 1, failure_rate: 0.5, ..Stats::default() };
/// assert_eq!(serde_json::to_value(&stats).unwrap()["failure_rate"], 0.5);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// The window's start, RFC 3339.
    pub since: String,
    /// The window's end (now), RFC 3339.
    pub until: String,
    /// The bucket width: 3600 (an hour), or 86400 for windows over 14 days.
    pub bucket_seconds: u64,
    /// Events in the window.
    pub total: u64,
    /// Finished operations in the window.
    pub finished: u64,
    /// Failed operations in the window.
    pub failed: u64,
    /// `failed / finished` (0 when nothing finished).
    pub failure_rate: f64,
    /// Events per type.
    pub by_type: BTreeMap<String, u64>,
    /// Buckets from the window's start to now, oldest first.
    pub buckets: Vec<Bucket>,
}

/// True when `status` (an event's [`Event::status`]) is a failure.
///
/// # Examples
///
/// ```
/// assert!(repobus::overview::is_failure("failed"));
/// assert!(repobus::overview::is_failure("error"));
/// assert!(!repobus::overview::is_failure("canceled"));
/// ```
pub fn is_failure(status: &str) -> bool {
    matches!(status, "failed" | "error")
}

/// Events per hour (or day) and the failure rate over `window`, an ISO 8601
/// duration before now (`P1D`). The read starts at the window on the
/// server, so a day of stats does not scan older history.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus::overview::OverviewError> {
/// let week = repobus::overview::stats(&bus, "P7D").await?;
/// for bucket in &week.buckets {
///     println!("{} {} events, {} failed", bucket.start, bucket.events, bucket.failed);
/// }
/// # Ok(()) }
/// ```
pub async fn stats(bus: &Bus, window: &str) -> Result<Stats, OverviewError> {
    let now = Utc::now();
    let after = since(window, now)?;
    let span = (now - after).num_seconds().max(1);
    let bucket_seconds: i64 = if span > 14 * 86400 { 86400 } else { 3600 };
    let first = after.timestamp().div_euclid(bucket_seconds) * bucket_seconds;
    let count = usize::try_from((now.timestamp() - first) / bucket_seconds + 1).unwrap_or(1);
    let mut buckets: Vec<Bucket> = (0..count)
        .map(|i| Bucket {
            start: DateTime::from_timestamp(first + bucket_seconds * i as i64, 0)
                .unwrap_or(now)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ..Bucket::default()
        })
        .collect();
    let mut stats = Stats {
        since: after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        until: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        bucket_seconds: bucket_seconds as u64,
        ..Stats::default()
    };
    let subject = bus.subjects().filter(&SubjectFilter::All);
    scan(bus, subject, after, |delivery| {
        let index = usize::try_from((delivery.envelope.time.timestamp() - first) / bucket_seconds)
            .unwrap_or(0)
            .min(buckets.len().saturating_sub(1));
        let event_type = delivery.event.event_type();
        let finished = matches!(
            event_type,
            EventType::RepoSyncFinished
                | EventType::RepoPublishFinished
                | EventType::BuildChrootEnded
        );
        let failed = finished && is_failure(delivery.event.status());
        stats.total += 1;
        *stats.by_type.entry(event_type.to_string()).or_insert(0) += 1;
        if let Some(bucket) = buckets.get_mut(index) {
            bucket.events += 1;
            bucket.finished += u64::from(finished);
            bucket.failed += u64::from(failed);
        }
        stats.finished += u64::from(finished);
        stats.failed += u64::from(failed);
    })
    .await?;
    stats.failure_rate = if stats.finished == 0 {
        0.0
    } else {
        stats.failed as f64 / stats.finished as f64
    };
    stats.buckets = buckets;
    Ok(stats)
}

/// One stored event in full: its record, its CloudEvents headers and its
/// wire body exactly as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventDetail {
    /// Every accessor and the envelope (see [`crate::record`]).
    pub record: Map<String, Value>,
    /// The message's headers (`ce-*`, `Nats-Msg-Id`), sorted by name.
    pub headers: BTreeMap<String, String>,
    /// The wire body, as stored (UTF-8, lossy).
    pub body: String,
}

/// The stored event with stream sequence `seq` (direct get).
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus::overview::OverviewError> {
/// let detail = repobus::overview::event_at(&bus, 42).await?;
/// println!("{}\n{}", detail.record["summary"], detail.body);
/// # Ok(()) }
/// ```
pub async fn event_at(bus: &Bus, seq: u64) -> Result<EventDetail, OverviewError> {
    // Stream sequences start at 1; the server answers 0 with an error that
    // is no "not found".
    if seq == 0 {
        return Err(OverviewError::NotFound(seq));
    }
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await
        .map_err(|e| stream_error(bus, e))?;
    let message = match tokio::time::timeout(Duration::from_secs(10), stream.direct_get(seq)).await
    {
        Ok(Ok(message)) => message,
        Ok(Err(e)) if e.kind() == async_nats::jetstream::stream::DirectGetErrorKind::NotFound => {
            return Err(OverviewError::NotFound(seq))
        }
        Ok(Err(e)) => return Err(stream_error(bus, e)),
        Err(_) => return Err(stream_error(bus, "timed out")),
    };
    let (_, _, record) = decode_stored(bus, &message).ok_or(OverviewError::NotFound(seq))?;
    let headers = message
        .headers
        .iter()
        .map(|(name, values)| {
            let value = values
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect::<Vec<_>>()
                .join(", ");
            (name.to_string(), value)
        })
        .collect();
    Ok(EventDetail {
        record: record.to_map(),
        headers,
        body: String::from_utf8_lossy(&message.payload).into_owned(),
    })
}

/// The repository operation a type belongs to, if it is a Pulp type.
///
/// # Examples
///
/// ```
/// use repobus::overview::operation_of;
/// use repobus::subject::RepoOperation;
/// use repobus::EventType;
///
/// assert_eq!(operation_of(EventType::RepoSyncFinished), Some(RepoOperation::Sync));
/// assert_eq!(operation_of(EventType::BuildChrootEnded), None);
/// ```
pub fn operation_of(event_type: EventType) -> Option<RepoOperation> {
    match event_type {
        EventType::RepoSyncStarted | EventType::RepoSyncFinished | EventType::RepoSyncProgress => {
            Some(RepoOperation::Sync)
        }
        EventType::RepoPublishStarted
        | EventType::RepoPublishFinished
        | EventType::RepoPublishProgress => Some(RepoOperation::Publish),
        EventType::BuildChrootStarted | EventType::BuildChrootEnded => None,
    }
}
