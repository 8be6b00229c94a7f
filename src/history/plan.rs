//! The planner: which JetStream reads answer a search exactly, and the
//! reads themselves.
//!
//! * Every read is narrowed to the subject the filter pins
//!   ([`super::pushed_down_subject`]). A forward read starts with one
//!   batched direct get (`next_by_subj` from a sequence) and goes on, if
//!   it needs more, through an ordered consumer from the next sequence
//!   (a full scan starts with the consumer); backward windows, the binary
//!   search and `multi_last` are direct gets.
//! * `after`/`before` become a first and last sequence, found by a binary
//!   search over the stored events' `ce-time` (see [`super::Search::time_tolerance`]).
//! * A limit without sort (or sorted by `seq` ascending) stops as soon as
//!   enough events matched; sorted by `seq` descending, the stream is read
//!   backwards in growing windows until enough matched; sorted by `time`
//!   (either way) it stops once no unread event can still rank.
//! * [`super::Search::latest_per`] on a field the subject spells out is
//!   answered from the last message of each subject (`multi_last`).

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use crate::bus::Bus;
use crate::criteria::{Criteria, Direction};
use crate::record::field;
use crate::time::parse_datetime;

use super::direct::{Direct, Stored, MAX_BATCH, MAX_MULTI_LAST};
use super::ordered;
use super::{pushed_down_subject, HistoryError, Progress, Search};

/// Fields whose value the NATS subject decides: every event on one subject
/// has the same value (or lacks the field alike).
pub(super) const SUBJECT_FIELDS: [&str; 6] = [
    field::TYPE,
    field::SUBJECT,
    field::REPO_ID,
    field::PROJECT_OWNER,
    field::PROJECT_NAME,
    field::CHROOT,
];

type Record = Map<String, Value>;

/// How the answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Forward, to the end (or the last sequence).
    All,
    /// Forward, stopping after `n` matches.
    FirstN(usize),
    /// Backward, stopping once the `n` latest matches are in.
    LastN(usize),
    /// Forward, stopping once the `n` earliest by `time` are certain.
    EarliestN(usize),
    /// Backward, stopping once the `n` latest by `time` are certain.
    LatestN(usize),
}

/// What a search reads: the subject, the sequences and the order.
struct Plan<'a> {
    subject: Option<String>,
    first: u64,
    /// Exclusive.
    end: u64,
    order: Order,
    tolerance: Option<TimeDelta>,
    criteria: &'a Criteria,
    /// The criteria's time window alone (`after`, `before`), when it may
    /// reject an event from its envelope before the body is decoded.
    window: Option<Criteria>,
}

impl<'a> Plan<'a> {
    fn new(
        subject: Option<String>,
        (first, end): (u64, u64),
        order: Order,
        tolerance: Option<TimeDelta>,
        criteria: &'a Criteria,
    ) -> Self {
        // A record's `time` is its envelope's `time_rfc3339()`, and the
        // criteria match only inside the window: an envelope outside it
        // cannot give a match, whatever the body. Orders that stop by the
        // times read (`EarliestN`, `LatestN`) count every valid event's
        // time, so they decode all.
        let by_time = matches!(order, Order::EarliestN(_) | Order::LatestN(_));
        let window =
            (!by_time && (criteria.after.is_some() || criteria.before.is_some())).then(|| {
                let mut window = Criteria::new();
                window.after = criteria.after;
                window.before = criteria.before;
                window
            });
        Plan {
            subject,
            first,
            end,
            order,
            tolerance,
            criteria,
            window,
        }
    }
}

fn time_of(record: &Record) -> Option<DateTime<Utc>> {
    record
        .get(field::TIME)
        .and_then(Value::as_str)
        .and_then(|t| parse_datetime(t).ok())
}

fn seq_of(record: &Record) -> u64 {
    record.get(field::SEQ).and_then(Value::as_u64).unwrap_or(0)
}

/// Milliseconds: a record's `time` is `ce-time` cut to milliseconds.
const MS: TimeDelta = TimeDelta::milliseconds(1);

pub(super) async fn run(
    bus: &Bus,
    search: &Search,
    progress: Option<Progress<'_>>,
) -> Result<Vec<Record>, HistoryError> {
    let criteria = &search.criteria;
    let direct = Direct::new(bus);
    let latest_per = search.latest_per.as_deref();
    if !search.push_down {
        let plan = Plan::new(None, (1, u64::MAX), Order::All, None, criteria);
        return Ok(finish(
            criteria,
            latest_per,
            forward(&direct, bus, &plan, progress).await?,
        ));
    }
    let subject = pushed_down_subject(bus.subjects(), criteria);
    if let Some(field) = latest_per {
        if let Some(found) =
            latest_from_subjects(&direct, bus, search, field, &subject, progress).await?
        {
            return Ok(finish(criteria, latest_per, found));
        }
    }
    let tolerance = search
        .time_tolerance
        .and_then(|t| TimeDelta::from_std(t).ok());
    let (mut first, mut end) = (1, u64::MAX);
    if let Some(tolerance) = tolerance {
        if criteria.after.is_some() || criteria.before.is_some() {
            let (stream_first, stream_last) = stream_bounds(bus).await?;
            if let Some(after) = criteria.after {
                first = start_after(&direct, stream_first, stream_last, after - tolerance).await?;
            }
            if let Some(before) = criteria.before {
                end =
                    end_before(&direct, stream_first, stream_last, before + tolerance + MS).await?;
            }
        }
    }
    let wanted = criteria.limit.map(|l| l.saturating_add(criteria.skip));
    let order = match (wanted, criteria.sort.as_slice(), latest_per) {
        (Some(n), [], None) => Order::FirstN(n),
        (Some(n), [key], None) if key.field == field::SEQ => match key.direction {
            Direction::Ascending => Order::FirstN(n),
            Direction::Descending => Order::LastN(n),
        },
        (Some(n), [key], None) if key.field == field::TIME && tolerance.is_some() => {
            match key.direction {
                Direction::Ascending => Order::EarliestN(n),
                Direction::Descending => Order::LatestN(n),
            }
        }
        _ => Order::All,
    };
    let plan = Plan::new(subject, (first, end), order, tolerance, criteria);
    let found = match order {
        Order::LastN(_) | Order::LatestN(_) => backward(&direct, bus, &plan, progress).await?,
        _ => forward(&direct, bus, &plan, progress).await?,
    };
    Ok(finish(criteria, latest_per, found))
}

/// Keeps the latest of each group if asked, then sorts, skips, limits and
/// projects. `found` is in stream order.
fn finish(criteria: &Criteria, latest_per: Option<&str>, found: Vec<Record>) -> Vec<Record> {
    match latest_per {
        None => criteria.arrange(found),
        Some(field) => criteria.arrange(latest_of_each(field, found)),
    }
}

/// The last (highest sequence) record of each value of `field`, in stream
/// order.
fn latest_of_each(field: &str, found: Vec<Record>) -> Vec<Record> {
    let mut latest: HashMap<String, Record> = HashMap::new();
    for record in found {
        let key = record.get(field).unwrap_or(&Value::Null).to_string();
        match latest.get(&key) {
            Some(kept) if seq_of(kept) > seq_of(&record) => {}
            _ => {
                latest.insert(key, record);
            }
        }
    }
    let mut kept: Vec<Record> = latest.into_values().collect();
    kept.sort_by_key(seq_of);
    kept
}

async fn stream_bounds(bus: &Bus) -> Result<(u64, u64), HistoryError> {
    let name = bus.config().stream_name();
    let info = async {
        let mut stream = bus
            .jetstream()
            .get_stream(name)
            .await
            .map_err(|e| e.to_string())?;
        stream
            .info()
            .await
            .map(|i| (i.state.first_sequence, i.state.last_sequence))
            .map_err(|e| e.to_string())
    }
    .await;
    info.map_err(|reason| HistoryError::Read {
        stream: name.to_owned(),
        reason,
    })
}

/// The first sequence that can hold an event at or after `bound` plus the
/// tolerance: one past the latest probed event whose time is before
/// `bound` (a binary search over the stream).
async fn start_after(
    direct: &Direct<'_>,
    first: u64,
    last: u64,
    bound: DateTime<Utc>,
) -> Result<u64, HistoryError> {
    let (mut lo, mut hi, mut start) = (first.max(1), last, first.max(1));
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        match direct.next_at(mid, None).await? {
            Some(m) if m.event_time() < bound => {
                start = start.max(m.seq + 1);
                lo = m.seq + 1;
            }
            _ => match mid.checked_sub(1) {
                Some(h) => hi = h,
                None => break,
            },
        }
    }
    Ok(start)
}

/// The first sequence from which no event can be before `bound` less the
/// tolerance: the earliest probed event whose time is at or after `bound`.
async fn end_before(
    direct: &Direct<'_>,
    first: u64,
    last: u64,
    bound: DateTime<Utc>,
) -> Result<u64, HistoryError> {
    let (mut lo, mut hi, mut end) = (first.max(1), last, u64::MAX);
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        match direct.next_at(mid, None).await? {
            Some(m) if m.event_time() >= bound => {
                end = end.min(m.seq);
                match mid.checked_sub(1) {
                    Some(h) => hi = h,
                    None => break,
                }
            }
            Some(m) => lo = m.seq + 1,
            None => match mid.checked_sub(1) {
                Some(h) => hi = h,
                None => break,
            },
        }
    }
    Ok(end)
}

/// What reading has seen so far.
#[derive(Default)]
struct Reading {
    read: u64,
    total: u64,
    matched: Vec<Record>,
    /// Earliest and latest event time read (matching or not).
    earliest: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
}

impl Reading {
    fn take(&mut self, bus: &Bus, plan: &Plan<'_>, m: &Stored, progress: Option<Progress<'_>>) {
        self.read += 1;
        if let Some(pending) = m.pending {
            self.total = self.total.max(self.read + pending);
        }
        if let Some(report) = progress {
            if self.read % 1024 == 0 || m.pending == Some(0) {
                report(self.read, self.total.max(self.read));
            }
        }
        let Some(envelope) = m.envelope(bus) else {
            return;
        };
        if let Some(window) = &plan.window {
            let mut time = Record::new();
            time.insert(field::TIME.to_owned(), envelope.time_rfc3339().into());
            if !window.matches(&time, field::TIME) {
                return;
            }
        }
        let Some(record) = m.record_with(&envelope) else {
            return;
        };
        if plan.tolerance.is_some() {
            if let Some(t) = time_of(&record) {
                self.earliest = Some(self.earliest.map_or(t, |e| e.min(t)));
                self.latest = Some(self.latest.map_or(t, |l| l.max(t)));
            }
        }
        if plan.criteria.matches(&record, field::TIME) {
            self.matched.push(record);
        }
    }

    /// The `n`th time among the matches, earliest first or latest first.
    fn nth_time(&self, n: usize, latest_first: bool) -> Option<DateTime<Utc>> {
        let mut times: Vec<DateTime<Utc>> = self.matched.iter().filter_map(time_of).collect();
        if n == 0 || times.len() < n {
            return None;
        }
        times.sort_unstable();
        if latest_first {
            times.reverse();
        }
        times.get(n - 1).copied()
    }

    /// Whether no unread event can change the answer.
    fn done(&self, plan: &Plan<'_>) -> bool {
        let slack = plan.tolerance.unwrap_or(TimeDelta::MAX / 2) + MS;
        match plan.order {
            Order::All => false,
            Order::FirstN(n) | Order::LastN(n) => self.matched.len() >= n,
            // Every later event has a time at or after (latest read -
            // tolerance); a tie sorts after the ones read.
            Order::EarliestN(n) => match (self.nth_time(n, false), self.latest) {
                (Some(nth), Some(latest)) => latest - slack >= nth,
                _ => n == 0,
            },
            // Every earlier event has a time at most (earliest read +
            // tolerance); a tie would sort before the ones read.
            Order::LatestN(n) => match (self.nth_time(n, true), self.earliest) {
                (Some(nth), Some(earliest)) => earliest + slack < nth,
                _ => n == 0,
            },
        }
    }
}

/// Reads forward from `plan.first` to the end (or until done): the first
/// [`MAX_BATCH`] messages with one batched direct get (a narrow or early
/// stopping read ends there, at the cost of one request), the rest, if any,
/// through an ordered consumer (see `ordered.rs`), which keeps the next
/// batch in flight while this one is decoded. A search with push-down
/// turned off reads everything, so it starts with the consumer.
async fn forward(
    direct: &Direct<'_>,
    bus: &Bus,
    plan: &Plan<'_>,
    progress: Option<Progress<'_>>,
) -> Result<Vec<Record>, HistoryError> {
    let mut reading = Reading::default();
    let mut next = plan.first;
    let check_each = matches!(plan.order, Order::FirstN(_));
    if reading.done(plan) {
        return Ok(reading.matched);
    }
    let everything = plan.subject.is_none() && plan.order == Order::All && plan.first <= 1;
    let mut finished = false;
    if !everything {
        let mut got = 0usize;
        let end = direct
            .batch(next, plan.subject.as_deref(), MAX_BATCH, |m| {
                if m.seq >= plan.end {
                    finished = true;
                    return false;
                }
                got += 1;
                next = m.seq + 1;
                reading.take(bus, plan, &m, progress);
                if check_each && reading.done(plan) {
                    finished = true;
                    return false;
                }
                true
            })
            .await?;
        finished |= got == 0 || end.pending == 0 || reading.done(plan);
    }
    if !finished {
        let check_every = if check_each { 1 } else { MAX_BATCH as u64 };
        ordered::read(
            bus,
            plan.subject.as_deref(),
            next,
            plan.end.saturating_sub(1),
            |m| {
                reading.take(bus, plan, &m, progress);
                !(reading.read % check_every == 0 && reading.done(plan))
            },
        )
        .await?;
    }
    if let Some(report) = progress {
        report(reading.read, reading.total.max(reading.read));
    }
    Ok(reading.matched)
}

/// Reads backward from the end in growing windows (each read forward:
/// one direct-get batch, the rest of a larger window through an ordered
/// consumer) until done or at `plan.first`.
async fn backward(
    direct: &Direct<'_>,
    bus: &Bus,
    plan: &Plan<'_>,
    progress: Option<Progress<'_>>,
) -> Result<Vec<Record>, HistoryError> {
    let (_, stream_last) = stream_bounds(bus).await?;
    let mut hi = stream_last.min(plan.end.saturating_sub(1));
    let lowest = plan.first.max(1);
    let wanted = match plan.order {
        Order::LastN(n) | Order::LatestN(n) => n,
        _ => 0,
    };
    let mut window = (wanted as u64).saturating_mul(64).max(1024);
    let mut reading = Reading::default();
    // Windows read, latest first; each in stream order.
    let mut windows: Vec<Vec<Record>> = Vec::new();
    // Matches per sequence seen so far, to size the next batch.
    let (mut seen_seqs, mut seen_matches) = (0u64, 0u64);
    while hi >= lowest && !reading.done(plan) {
        let lo = hi.saturating_sub(window - 1).max(lowest);
        let before = reading.matched.len();
        let mut next = lo;
        let mut in_window = 0u64;
        loop {
            // As many as the density seen so far predicts, and half again.
            let expected = (hi - next + 1)
                .saturating_mul(seen_matches)
                .checked_div(seen_seqs)
                .map_or(MAX_BATCH as u64, |n| n * 3 / 2 + 16);
            let batch = expected.min(hi - next + 1).min(MAX_BATCH as u64) as usize;
            let mut past = false;
            let mut got = 0usize;
            let end = direct
                .batch(next, plan.subject.as_deref(), batch, |m| {
                    if m.seq > hi {
                        past = true;
                        return false;
                    }
                    got += 1;
                    next = m.seq + 1;
                    reading.take(bus, plan, &m, progress);
                    true
                })
                .await?;
            in_window += got as u64;
            if past || got == 0 || end.pending == 0 || next > hi {
                break;
            }
            // More than a batch of sequences left in this window: the rest
            // through an ordered consumer, as a forward read does.
            if hi - next + 1 > MAX_BATCH as u64 {
                ordered::read(bus, plan.subject.as_deref(), next, hi, |m| {
                    in_window += 1;
                    reading.take(bus, plan, &m, progress);
                    true
                })
                .await?;
                break;
            }
        }
        seen_seqs += hi - lo + 1;
        seen_matches += in_window;
        windows.push(reading.matched.split_off(before));
        // `done` counts what is in `matched`: put the windows back.
        reading.matched = windows.iter().rev().flatten().cloned().collect();
        if lo <= lowest {
            break;
        }
        hi = lo - 1;
        window = window.saturating_mul(4);
    }
    if let Some(report) = progress {
        report(reading.read, reading.read);
    }
    Ok(reading.matched)
}

/// Answers a latest-per search from the last message of each subject,
/// when that is exact: `field` and every field the filter tests are
/// decided by the subject, there is no time window, and every last message
/// is a valid event. `None` otherwise (the caller reads the history).
async fn latest_from_subjects(
    direct: &Direct<'_>,
    bus: &Bus,
    search: &Search,
    field: &str,
    subject: &Option<String>,
    progress: Option<Progress<'_>>,
) -> Result<Option<Vec<Record>>, HistoryError> {
    let criteria = &search.criteria;
    let by_subject = |f: &str| SUBJECT_FIELDS.contains(&f);
    let filter_ok = criteria
        .filter
        .as_ref()
        .is_none_or(|f| f.fields().iter().all(|f| by_subject(f)));
    if !by_subject(field) || !filter_ok || criteria.after.is_some() || criteria.before.is_some() {
        return Ok(None);
    }
    let filters = match subject {
        Some(s) => vec![s.clone()],
        None => bus.subjects().event_subjects(),
    };
    let lasts = match direct.multi_last(&filters).await? {
        Some(lasts) => lasts,
        None => {
            // More subjects than one answer may hold: list them and ask
            // for their last messages in groups.
            let mut lasts = Vec::new();
            for chunk in list_subjects(bus, &filters).await?.chunks(MAX_MULTI_LAST) {
                match direct.multi_last(chunk).await? {
                    Some(found) => lasts.extend(found),
                    None => return Ok(None),
                }
            }
            lasts
        }
    };
    let mut found = Vec::with_capacity(lasts.len());
    for last in &lasts {
        // A last message that is not a valid event: the history decides.
        let Some(record) = last.record(bus) else {
            return Ok(None);
        };
        if criteria.matches(&record, field::TIME) {
            found.push(record);
        }
    }
    found.sort_by_key(seq_of);
    if let Some(report) = progress {
        report(lasts.len() as u64, lasts.len() as u64);
    }
    Ok(Some(found))
}

async fn list_subjects(bus: &Bus, filters: &[String]) -> Result<Vec<String>, HistoryError> {
    use futures_util::TryStreamExt;
    let name = bus.config().stream_name();
    let error = |e: &dyn std::fmt::Display| HistoryError::Read {
        stream: name.to_owned(),
        reason: e.to_string(),
    };
    let stream = bus
        .jetstream()
        .get_stream(name)
        .await
        .map_err(|e| error(&e))?;
    let mut subjects = Vec::new();
    for filter in filters {
        let listed: Vec<String> = stream
            .info_with_subjects(filter)
            .await
            .map_err(|e| error(&e))?
            .map_ok(|(subject, _count)| subject)
            .try_collect()
            .await
            .map_err(|e| error(&e))?;
        subjects.extend(listed);
    }
    Ok(subjects)
}
