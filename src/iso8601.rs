//! ISO 8601 durations, intervals and recurrences, as Pulp's schedules use them.
//!
//! Three kinds of text are understood:
//!
//! * a [`Duration`]: `P3D`, `P2W`, `P1M`, `PT6H`, `P1DT12H`, `P1Y2M3DT4H5M6S`;
//! * a [`Schedule`]: an optional recurrence `R<n>/` (or `R/` for no limit), an
//!   optional UTC start date or date-time, and an interval duration:
//!   `PT1H`, `2011-10-10/P1D`, `R7/P1D`, `R5/2007-07-05T23:16Z/P1D`;
//! * start date-times, which go through [`crate::time::parse_datetime`].
//!
//! Month and year units are calendar units: one month after January 31st is
//! the last day of February. Occurrence `k` of a schedule is always computed
//! from the start in one step (start + k × interval), so clamping at the end
//! of a short month never accumulates.
//!
//! Choices where ISO 8601 leaves room:
//!
//! * Weeks may be combined with other units (`P1W2D` is nine days); ISO
//!   allows `W` only alone. They are kept apart, so `P1W2D` is displayed as
//!   `P1W2D` again.
//! * Numbers are whole and non-negative; fractions (`PT1.5H`) are refused.
//! * A schedule without `R` repeats without limit, exactly like `R/`.
//! * `R0` is refused: it would allow no occurrence at all.
//! * A zero interval (`PT0S`) is refused in a schedule: it would repeat the
//!   same instant forever.
//! * Without a start, the schedule starts at the `now` passed to
//!   [`Schedule::next_after`], as Pulp takes the request time as the start.
//!   Occurrence 0 is then `now` itself, which is not strictly after `now`, so
//!   the first occurrence reported is `now` + interval.
//! * Only `<start>/<duration>` intervals are understood, not
//!   `<start>/<end>` or `<duration>/<end>`.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use repobus::iso8601::{Duration, Schedule};
//!
//! let every_month: Schedule = "2012-01-01T00:00Z/P1M".parse()?;
//! let now = Utc.with_ymd_and_hms(2012, 4, 15, 12, 0, 0).unwrap();
//! let next = every_month.next_after(now, 2);
//! assert_eq!(next[0], Utc.with_ymd_and_hms(2012, 5, 1, 0, 0, 0).unwrap());
//! assert_eq!(next[1], Utc.with_ymd_and_hms(2012, 6, 1, 0, 0, 0).unwrap());
//!
//! let d: Duration = "P1DT12H".parse()?;
//! assert_eq!(d.days, 1);
//! assert_eq!(d.hours, 12);
//! assert_eq!(d.to_string(), "P1DT12H");
//!
//! let err = "P".parse::<Duration>().unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     r#""P": a duration needs at least one number and unit, like P1D"#
//! );
//! # Ok::<(), repobus::iso8601::Iso8601Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, Months, TimeDelta, Utc};

use crate::time::{parse_datetime, TimestampError};

/// Mean length of a Gregorian year in seconds (365.2425 days).
const MEAN_YEAR_SECONDS: u64 = 31_556_952;
/// Mean length of a Gregorian month in seconds (a twelfth of a mean year).
const MEAN_MONTH_SECONDS: u64 = MEAN_YEAR_SECONDS / 12;

/// Why a duration or schedule was rejected.
///
/// The message names the part of the input that is wrong, for example
/// `"P": a duration needs at least one number and unit, like P1D`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Iso8601Error {
    /// A duration such as `P1D` is malformed.
    #[error("{part:?}: {reason}")]
    Duration {
        /// The duration text as given.
        part: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The recurrence part of a schedule (`R5`) is malformed.
    #[error("{part:?}: {reason}")]
    Recurrence {
        /// The recurrence text as given (`R0`, `Rx`).
        part: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The start of a schedule is not a valid UTC date or date-time.
    #[error("start {0}")]
    Start(TimestampError),
    /// The interval of a schedule is missing, zero, or not a duration.
    #[error("{part:?}: {reason}")]
    Interval {
        /// The interval text, or the whole schedule when it is missing.
        part: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The schedule as a whole has the wrong shape (empty, too many parts).
    #[error("{part:?}: {reason}")]
    Schedule {
        /// The schedule text as given.
        part: String,
        /// What is wrong with it, in words.
        reason: String,
    },
}

impl From<TimestampError> for Iso8601Error {
    fn from(err: TimestampError) -> Self {
        Iso8601Error::Start(err)
    }
}

/// An ISO 8601 duration such as `P1Y2M3DT4H5M6S`.
///
/// Years and months are calendar units (see [`Duration::add_to`]); weeks,
/// days, hours, minutes and seconds are fixed lengths (all times are UTC, so a
/// day is always 24 hours). Weeks may be combined with the other units.
///
/// ```
/// use repobus::iso8601::Duration;
///
/// let d: Duration = "P2W".parse().unwrap();
/// assert_eq!(d.weeks, 2);
/// assert_eq!(d.to_string(), "P2W");
/// assert!("P1H".parse::<Duration>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Duration {
    /// Calendar years (`Y` before `T`).
    pub years: u32,
    /// Calendar months (`M` before `T`).
    pub months: u32,
    /// Weeks of seven days (`W`).
    pub weeks: u32,
    /// Days of 24 hours (`D`).
    pub days: u32,
    /// Hours (`H`, after `T`).
    pub hours: u32,
    /// Minutes (`M` after `T`).
    pub minutes: u32,
    /// Seconds (`S`, after `T`).
    pub seconds: u32,
}

/// The units before `T`, in the order they must appear.
const DATE_UNITS: [(char, &str); 4] = [
    ('Y', "Y (years)"),
    ('M', "M (months)"),
    ('W', "W (weeks)"),
    ('D', "D (days)"),
];
/// The units after `T`, in the order they must appear.
const TIME_UNITS: [(char, &str); 3] = [
    ('H', "H (hours)"),
    ('M', "M (minutes)"),
    ('S', "S (seconds)"),
];

impl Duration {
    /// True when every part is zero (`PT0S`).
    pub fn is_zero(&self) -> bool {
        *self == Duration::default()
    }

    /// Years and months together, in months.
    fn total_months(&self) -> u64 {
        u64::from(self.years) * 12 + u64::from(self.months)
    }

    /// Weeks and days together, in days.
    fn total_days(&self) -> u64 {
        u64::from(self.weeks) * 7 + u64::from(self.days)
    }

    /// Hours, minutes and seconds together, in seconds.
    fn time_seconds(&self) -> u64 {
        u64::from(self.hours) * 3600 + u64::from(self.minutes) * 60 + u64::from(self.seconds)
    }

    /// The approximate length in seconds, taking a year as 365.2425 days and
    /// a month as a twelfth of that.
    ///
    /// Exact for durations without years and months. Useful for estimates and
    /// ordering, never for computing dates.
    pub fn approx_seconds(&self) -> u64 {
        // Every term is below 2^57, so the sum cannot overflow.
        u64::from(self.years) * MEAN_YEAR_SECONDS
            + u64::from(self.months) * MEAN_MONTH_SECONDS
            + self.total_days() * 86_400
            + self.time_seconds()
    }

    /// `t` plus this duration: years and months first (calendar months,
    /// clamped to the end of a shorter month), then weeks and days, then
    /// hours, minutes and seconds.
    ///
    /// `None` when the result is out of chrono's range.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use repobus::iso8601::Duration;
    ///
    /// let d: Duration = "P1M".parse().unwrap();
    /// let jan31 = Utc.with_ymd_and_hms(2012, 1, 31, 0, 0, 0).unwrap();
    /// let feb29 = Utc.with_ymd_and_hms(2012, 2, 29, 0, 0, 0).unwrap();
    /// assert_eq!(d.add_to(jan31), Some(feb29));
    /// ```
    pub fn add_to(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.checked_mul_add(t, 1)
    }

    /// `start` plus `k` times this duration, in one step: `k` × months are
    /// added as calendar months at once, then `k` × days, then `k` × the time
    /// part. Clamping at the end of a month therefore happens once and does
    /// not accumulate: from January 31st, `k = 2` months is March 31st, not
    /// March 29th.
    ///
    /// `None` when the result is out of chrono's range.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use repobus::iso8601::Duration;
    ///
    /// let d: Duration = "P1M".parse().unwrap();
    /// let jan31 = Utc.with_ymd_and_hms(2012, 1, 31, 0, 0, 0).unwrap();
    /// let mar31 = Utc.with_ymd_and_hms(2012, 3, 31, 0, 0, 0).unwrap();
    /// assert_eq!(d.checked_mul_add(jan31, 2), Some(mar31));
    /// ```
    pub fn checked_mul_add(&self, start: DateTime<Utc>, k: u64) -> Option<DateTime<Utc>> {
        let months = u32::try_from(self.total_months().checked_mul(k)?).ok()?;
        let days = self.total_days().checked_mul(k)?;
        let seconds = i64::try_from(self.time_seconds().checked_mul(k)?).ok()?;
        start
            .checked_add_months(Months::new(months))?
            .checked_add_days(Days::new(days))?
            .checked_add_signed(TimeDelta::try_seconds(seconds)?)
    }

    /// `t` minus this duration, for "since P1D": years and months first
    /// (calendar months, clamped to the end of a shorter month), then weeks
    /// and days, then hours, minutes and seconds, the same order as
    /// [`Duration::add_to`].
    ///
    /// `None` when the result is out of chrono's range.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use repobus::iso8601::Duration;
    ///
    /// let d: Duration = "P1M".parse().unwrap();
    /// let mar31 = Utc.with_ymd_and_hms(2012, 3, 31, 0, 0, 0).unwrap();
    /// let feb29 = Utc.with_ymd_and_hms(2012, 2, 29, 0, 0, 0).unwrap();
    /// assert_eq!(d.subtract_from(mar31), Some(feb29));
    /// ```
    pub fn subtract_from(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let months = u32::try_from(self.total_months()).ok()?;
        let seconds = i64::try_from(self.time_seconds()).ok()?;
        t.checked_sub_months(Months::new(months))?
            .checked_sub_days(Days::new(self.total_days()))?
            .checked_sub_signed(TimeDelta::try_seconds(seconds)?)
    }
}

/// Writes the canonical form: units in the order `Y M W D T H M S`, zero
/// parts left out, `PT0S` for a zero duration.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("PT0S");
        }
        f.write_str("P")?;
        for (value, unit) in [
            (self.years, 'Y'),
            (self.months, 'M'),
            (self.weeks, 'W'),
            (self.days, 'D'),
        ] {
            if value != 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        if self.time_seconds() != 0 {
            f.write_str("T")?;
            for (value, unit) in [(self.hours, 'H'), (self.minutes, 'M'), (self.seconds, 'S')] {
                if value != 0 {
                    write!(f, "{value}{unit}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for Duration {
    type Err = Iso8601Error;

    /// Parses `P[nY][nM][nW][nD][T[nH][nM][nS]]` with whole, non-negative
    /// numbers.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| Iso8601Error::Duration {
            part: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(err(
                "an empty string is not a duration; write one like P1D or PT1H".to_owned(),
            ));
        }
        let Some(body) = s.strip_prefix('P') else {
            return Err(err("a duration starts with P, like P1D or PT1H".to_owned()));
        };

        let mut duration = Duration::default();
        let mut in_time = false;
        let mut any_unit = false;
        let mut any_time_unit = false;
        // Index in DATE_UNITS or TIME_UNITS of the last unit of the section.
        let mut last: Option<usize> = None;
        let mut rest = body;
        while !rest.is_empty() {
            if let Some(after_t) = rest.strip_prefix('T') {
                if in_time {
                    return Err(err("T appears twice".to_owned()));
                }
                in_time = true;
                last = None;
                rest = after_t;
                continue;
            }
            let digit_count = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (number, after) = rest.split_at(digit_count);
            let Some(unit) = after.chars().next() else {
                let example = if in_time { "PT{n}H" } else { "P{n}D" };
                let example = example.replace("{n}", number);
                return Err(err(format!(
                    "the number {number} at the end needs a unit after it, like {example}"
                )));
            };
            if unit == '.' || unit == ',' {
                let fraction: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
                    .collect();
                return Err(err(format!(
                    "{fraction}: fractions are not allowed; use a smaller unit, like PT90M instead of PT1.5H"
                )));
            }
            if number.is_empty() {
                return Err(err(match unit {
                    '-' => "negative numbers are not allowed".to_owned(),
                    '+' => "write numbers without a sign".to_owned(),
                    c if is_unit(c) => format!("unit {c} needs a number before it, like 1{c}"),
                    c => unknown_unit(c),
                }));
            }
            let value: u32 = number
                .parse()
                .map_err(|_| err(format!("the number {number} is too large")))?;
            let (units, other_section) = if in_time {
                (&TIME_UNITS[..], &DATE_UNITS[..])
            } else {
                (&DATE_UNITS[..], &TIME_UNITS[..])
            };
            let Some(index) = units.iter().position(|(c, _)| *c == unit) else {
                if other_section.iter().any(|(c, _)| *c == unit) {
                    return Err(err(if in_time {
                        format!("{number}{unit}: {unit} is a date unit and must come before T, like P{number}{unit}")
                    } else {
                        format!("{number}{unit}: {unit} is a time unit and must come after T, like PT{number}{unit}")
                    }));
                }
                return Err(err(unknown_unit(unit)));
            };
            if let Some(last) = last {
                if index == last {
                    return Err(err(format!("unit {} appears twice", units[index].1)));
                }
                if index < last {
                    return Err(err(format!(
                        "{number}{unit}: {} must come before {}; the order is Y, M, W, D, then T, H, M, S",
                        units[index].1, units[last].1
                    )));
                }
            }
            let field = match (in_time, unit) {
                (false, 'Y') => &mut duration.years,
                (false, 'M') => &mut duration.months,
                (false, 'W') => &mut duration.weeks,
                (false, _) => &mut duration.days,
                (true, 'H') => &mut duration.hours,
                (true, 'M') => &mut duration.minutes,
                (true, _) => &mut duration.seconds,
            };
            *field = value;
            last = Some(index);
            any_unit = true;
            any_time_unit |= in_time;
            rest = &after[unit.len_utf8()..];
        }
        if in_time && !any_time_unit {
            return Err(err(
                "T must be followed by at least one number and time unit, like PT1H".to_owned(),
            ));
        }
        if !any_unit {
            return Err(err(
                "a duration needs at least one number and unit, like P1D".to_owned(),
            ));
        }
        Ok(duration)
    }
}

fn is_unit(c: char) -> bool {
    DATE_UNITS
        .iter()
        .chain(TIME_UNITS.iter())
        .any(|(u, _)| *u == c)
}

fn unknown_unit(c: char) -> String {
    let upper = c.to_ascii_uppercase();
    if upper != c && is_unit(upper) {
        format!("units are upper case: write {upper}, not {c}")
    } else {
        format!("unknown unit {c:?}; use Y, M, W or D before T and H, M or S after it")
    }
}

/// A schedule: `[R[n]/][start/]interval`, such as `PT1H`, `2011-10-10/P1D`,
/// `R7/P1D` or `R5/2007-07-05T23:16Z/P1D`.
///
/// Occurrence `k` (`k = 0, 1, 2, …`) is start + `k` × interval, computed
/// from the start in one step (see [`Duration::checked_mul_add`]).
/// Occurrence 0 is the start itself.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use repobus::iso8601::Schedule;
///
/// let s: Schedule = "R5/2007-07-05T23:16Z/P1D".parse().unwrap();
/// let now = Utc.with_ymd_and_hms(2007, 7, 7, 0, 0, 0).unwrap();
/// let left = s.next_after(now, 10);
/// assert_eq!(left.len(), 3); // July 7th, 8th and 9th at 23:16
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// How many occurrences there are in all, counted from the start and
    /// including past ones (`R5` → `Some(5)`). `None` means no limit: `R/` or
    /// no `R` at all.
    pub recurrences: Option<u32>,
    /// The first occurrence. `None` means "now": the time passed to
    /// [`Schedule::next_after`].
    pub start: Option<DateTime<Utc>>,
    /// The time between two occurrences. Never zero in a parsed schedule.
    pub interval: Duration,
}

impl Schedule {
    /// This schedule with `now` as its start when it has none, so that later
    /// evaluations keep counting from the same instant.
    pub fn anchored_at(self, now: DateTime<Utc>) -> Schedule {
        Schedule {
            start: Some(self.start.unwrap_or(now)),
            ..self
        }
    }

    /// Occurrence `k` (0 is the start), whether past or future; `now` stands
    /// in for a missing start.
    ///
    /// `None` when the recurrence allows fewer than `k + 1` occurrences or the
    /// date is out of chrono's range.
    pub fn occurrence(&self, k: u64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.recurrences.is_some_and(|n| k >= u64::from(n)) {
            return None;
        }
        if k > 0 && self.interval.is_zero() {
            return None;
        }
        self.interval.checked_mul_add(self.start.unwrap_or(now), k)
    }

    /// Up to `count` occurrences strictly after `now`, in order.
    ///
    /// A start in the past is fine: the first occurrence returned is the
    /// first one after `now`. Without a start the schedule starts at `now`,
    /// so the first occurrence returned is `now` + interval. Fewer than
    /// `count` are returned when the recurrence runs out or the dates leave
    /// chrono's range.
    ///
    /// The first occurrence is found by estimating its index from the
    /// elapsed time and the interval's mean length, then correcting, so a
    /// start far in the past costs a handful of date computations.
    pub fn next_after(&self, now: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut found = Vec::new();
        if count == 0 {
            return found;
        }
        let start = self.start.unwrap_or(now);
        let first = if self.interval.is_zero() {
            // Every occurrence is the start; report it once at most.
            if start > now {
                0
            } else {
                return found;
            }
        } else {
            self.first_index_after(start, now)
        };
        let mut k = first;
        while found.len() < count {
            match self.occurrence(k, now) {
                Some(t) => found.push(t),
                None => break,
            }
            if self.interval.is_zero() {
                break;
            }
            k = match k.checked_add(1) {
                Some(next) => next,
                None => break,
            };
        }
        found
    }

    /// The smallest `k` whose occurrence is after `now` or out of range,
    /// ignoring the recurrence limit. The interval must not be zero.
    fn first_index_after(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
        // `after(k)` is false for small k and true from some k on, because
        // occurrences strictly increase with k (months, days and seconds are
        // all added k times) and overflow only gets more likely as k grows.
        let after = |k: u64| match self.interval.checked_mul_add(start, k) {
            Some(t) => t > now,
            None => true,
        };
        if after(0) {
            return 0;
        }
        let elapsed = u64::try_from((now - start).num_seconds()).unwrap_or(0);
        let guess = (elapsed / self.interval.approx_seconds().max(1)).max(1);

        // Find lo < hi with after(lo) false and after(hi) true, stepping from
        // the guess by 1, 2, 4, … occurrences.
        let (mut lo, mut hi);
        if after(guess) {
            hi = guess;
            lo = 0;
            let mut step = 1u64;
            loop {
                let candidate = hi.saturating_sub(step);
                if candidate == 0 {
                    break;
                }
                if !after(candidate) {
                    lo = candidate;
                    break;
                }
                hi = candidate;
                step = step.saturating_mul(2);
            }
        } else {
            lo = guess;
            let mut step = 1u64;
            loop {
                let candidate = lo.saturating_add(step);
                // A nonzero interval overflows long before u64::MAX.
                if candidate == u64::MAX || after(candidate) {
                    hi = candidate;
                    break;
                }
                lo = candidate;
                step = step.saturating_mul(2);
            }
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if after(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }
}

/// Writes `[R<n>/][start/]interval`, the start with seconds precision (and a
/// fraction when it has one), for example `R5/2007-07-05T23:16:00Z/P1D`.
impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.recurrences {
            write!(f, "R{n}/")?;
        }
        if let Some(start) = self.start {
            write!(f, "{}/", start.format("%Y-%m-%dT%H:%M:%S%.fZ"))?;
        }
        write!(f, "{}", self.interval)
    }
}

impl FromStr for Schedule {
    type Err = Iso8601Error;

    /// Parses `[R[n]/][start/]interval`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = |reason: String| Iso8601Error::Schedule {
            part: s.to_owned(),
            reason,
        };
        let interval_err = |part: &str, reason: String| Iso8601Error::Interval {
            part: part.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(shape(
                "an empty string is not a schedule; write one like PT1H, R5/PT1H or 2012-01-01T00:00Z/P1M"
                    .to_owned(),
            ));
        }
        let parts: Vec<&str> = s.split('/').collect();
        let (recurrence, rest) = match parts.split_first() {
            Some((first, rest)) if first.starts_with('R') => (Some(parse_recurrence(first)?), rest),
            _ => (None, &parts[..]),
        };
        let (start, interval) = match rest {
            [] => {
                return Err(interval_err(
                    s,
                    format!("a recurrence needs an interval, like {s}/PT1H"),
                ))
            }
            [""] => {
                return Err(interval_err(
                    s,
                    "the interval after / is missing, like R5/PT1H".to_owned(),
                ))
            }
            [interval] if interval.starts_with('P') => (None, *interval),
            [start] if looks_like_date(start) => {
                parse_datetime(start)?;
                return Err(interval_err(
                    s,
                    format!("a schedule needs an interval after the start, like {s}/P1D"),
                ));
            }
            [other] => {
                // Neither a duration nor a date: report it as a duration.
                other.parse::<Duration>()?;
                return Err(shape("not a schedule".to_owned()));
            }
            ["", _] => {
                return Err(shape(
                    "the start before / is empty; write a date like 2012-01-01T00:00Z/P1M or leave out the /"
                        .to_owned(),
                ))
            }
            [first, _] if first.starts_with('P') => {
                return Err(shape(
                    "duration/end intervals are not supported; write start/duration, like 2012-01-01T00:00Z/P1M"
                        .to_owned(),
                ))
            }
            [start, ""] => {
                parse_datetime(start)?;
                return Err(interval_err(
                    s,
                    "the interval after the last / is missing, like P1D".to_owned(),
                ));
            }
            [start, interval] => {
                let start = parse_datetime(start)?;
                if !interval.starts_with('P') {
                    return Err(interval_err(
                        interval,
                        "the part after the start must be a duration, like P1D; start/end intervals are not supported"
                            .to_owned(),
                    ));
                }
                (Some(start), *interval)
            }
            _ => {
                return Err(shape(format!(
                    "too many parts ({} separated by /); a schedule is [R[n]/][start/]duration",
                    parts.len()
                )))
            }
        };
        let duration: Duration = interval.parse()?;
        if duration.is_zero() {
            return Err(interval_err(
                interval,
                "the interval must be longer than zero; a zero interval would repeat the same instant forever"
                    .to_owned(),
            ));
        }
        Ok(Schedule {
            recurrences: recurrence.flatten(),
            start,
            interval: duration,
        })
    }
}

/// Parses `R` (no limit) or `R<n>` with `n >= 1`.
fn parse_recurrence(part: &str) -> Result<Option<u32>, Iso8601Error> {
    let err = |reason: String| Iso8601Error::Recurrence {
        part: part.to_owned(),
        reason,
    };
    let digits = part.strip_prefix('R').unwrap_or(part);
    if digits.is_empty() {
        return Ok(None);
    }
    if digits.starts_with('-') {
        return Err(err(
            "the number of recurrences cannot be negative; write R5, or R alone for no limit"
                .to_owned(),
        ));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            "a recurrence is R followed by a whole number, like R5, or R alone for no limit"
                .to_owned(),
        ));
    }
    match digits.parse::<u32>() {
        Ok(0) => Err(err(
            "R0 allows no occurrence; write R1 or more, or R alone for no limit".to_owned(),
        )),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(err(format!(
            "the number {digits} is too large; write R alone for no limit"
        ))),
    }
}

/// True for text that is meant as a date (`2007-07-05…`), not a duration.
fn looks_like_date(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && (s.contains('-') || s.bytes().take(4).all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        parse_datetime(s).unwrap()
    }

    fn dur(s: &str) -> Duration {
        s.parse().unwrap()
    }

    fn sched(s: &str) -> Schedule {
        s.parse().unwrap()
    }

    fn d(
        years: u32,
        months: u32,
        weeks: u32,
        days: u32,
        hours: u32,
        minutes: u32,
        seconds: u32,
    ) -> Duration {
        Duration {
            years,
            months,
            weeks,
            days,
            hours,
            minutes,
            seconds,
        }
    }

    // ---- durations ----

    #[test]
    fn single_unit_durations() {
        assert_eq!(dur("P3D"), d(0, 0, 0, 3, 0, 0, 0));
        assert_eq!(dur("P2W"), d(0, 0, 2, 0, 0, 0, 0));
        assert_eq!(dur("P1M"), d(0, 1, 0, 0, 0, 0, 0));
        assert_eq!(dur("P1Y"), d(1, 0, 0, 0, 0, 0, 0));
        assert_eq!(dur("PT6H"), d(0, 0, 0, 0, 6, 0, 0));
        assert_eq!(dur("PT30M"), d(0, 0, 0, 0, 0, 30, 0));
        assert_eq!(dur("PT10S"), d(0, 0, 0, 0, 0, 0, 10));
    }

    #[test]
    fn combined_durations() {
        assert_eq!(dur("P1DT12H"), d(0, 0, 0, 1, 12, 0, 0));
        assert_eq!(dur("P1Y2M3DT4H5M6S"), d(1, 2, 0, 3, 4, 5, 6));
        assert_eq!(dur("PT1H30M"), d(0, 0, 0, 0, 1, 30, 0));
        assert_eq!(dur("P1MT1M"), d(0, 1, 0, 0, 0, 1, 0));
        assert_eq!(dur("P007D"), d(0, 0, 0, 7, 0, 0, 0));
        assert_eq!(dur("PT0S"), Duration::default());
        assert_eq!(dur("P4294967295D").days, u32::MAX);
    }

    #[test]
    fn weeks_combine_with_other_units() {
        assert_eq!(dur("P1W2D"), d(0, 0, 1, 2, 0, 0, 0));
        assert_eq!(dur("P1Y2W"), d(1, 0, 2, 0, 0, 0, 0));
        assert_eq!(dur("P2WT1H"), d(0, 0, 2, 0, 1, 0, 0));
        assert_eq!(
            dur("P1W2D").add_to(utc(2012, 1, 1, 0, 0, 0)),
            Some(utc(2012, 1, 10, 0, 0, 0))
        );
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for (input, canonical) in [
            ("P3D", "P3D"),
            ("P2W", "P2W"),
            ("PT30M", "PT30M"),
            ("P1DT12H", "P1DT12H"),
            ("P1Y2M3DT4H5M6S", "P1Y2M3DT4H5M6S"),
            ("P1Y2M1W3DT4H5M6S", "P1Y2M1W3DT4H5M6S"),
            ("P01D", "P1D"),
            ("P0Y1D", "P1D"),
            ("P1DT0H", "P1D"),
            ("P0D", "PT0S"),
            ("PT0S", "PT0S"),
        ] {
            let parsed = dur(input);
            assert_eq!(parsed.to_string(), canonical, "{input}");
            assert_eq!(dur(canonical), parsed, "{input}");
        }
    }

    #[test]
    fn duration_errors_name_the_part() {
        let cases = [
            ("", r#""": an empty string is not a duration"#),
            (
                "P",
                r#""P": a duration needs at least one number and unit, like P1D"#,
            ),
            (
                "PT",
                r#""PT": T must be followed by at least one number and time unit"#,
            ),
            ("P1DT", r#""P1DT": T must be followed"#),
            (
                "P1H",
                r#""P1H": 1H: H is a time unit and must come after T, like PT1H"#,
            ),
            ("P1S", "S is a time unit and must come after T"),
            (
                "PT1D",
                r#""PT1D": 1D: D is a date unit and must come before T, like P1D"#,
            ),
            ("PT1Y", "Y is a date unit"),
            ("PT1W", "W is a date unit"),
            ("P1D1D", "unit D (days) appears twice"),
            ("P1M2M", "unit M (months) appears twice"),
            ("PT1M2M", "unit M (minutes) appears twice"),
            ("P1D1Y", "1Y: Y (years) must come before D (days)"),
            ("P1W1M", "M (months) must come before W (weeks)"),
            ("PT1S1H", "H (hours) must come before S (seconds)"),
            ("PT1H1HT", "unit H (hours) appears twice"),
            ("P1DT1HT1M", "T appears twice"),
            ("PTT1H", "T appears twice"),
            ("P-1D", r#""P-1D": negative numbers are not allowed"#),
            ("PT-5M", "negative numbers are not allowed"),
            ("P+1D", "without a sign"),
            ("P1.5D", r#""P1.5D": 1.5: fractions are not allowed"#),
            ("PT0,5H", "fractions are not allowed"),
            ("P.5D", ".5: fractions are not allowed"),
            (
                "P1",
                "the number 1 at the end needs a unit after it, like P1D",
            ),
            ("PT5", "needs a unit after it, like PT5H"),
            ("PD", "unit D needs a number before it, like 1D"),
            ("PTH", "unit H needs a number before it"),
            ("P1X", "unknown unit 'X'"),
            ("P1d", "units are upper case: write D, not d"),
            ("P1D ", "unknown unit ' '"),
            ("1D", r#""1D": a duration starts with P"#),
            ("p1d", "a duration starts with P"),
            ("P4294967296D", "the number 4294967296 is too large"),
        ];
        for (input, needle) in cases {
            let err = input.parse::<Duration>().unwrap_err();
            assert!(
                matches!(err, Iso8601Error::Duration { .. }),
                "{input}: {err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains(needle), "{input}: {msg}");
        }
    }

    #[test]
    fn approx_seconds_uses_mean_lengths() {
        assert_eq!(dur("PT1H").approx_seconds(), 3600);
        assert_eq!(dur("P1DT1S").approx_seconds(), 86_401);
        assert_eq!(dur("P2W").approx_seconds(), 14 * 86_400);
        assert_eq!(dur("P1Y").approx_seconds(), 31_556_952);
        assert_eq!(dur("P12M").approx_seconds(), 31_556_952);
        let max = d(
            u32::MAX,
            u32::MAX,
            u32::MAX,
            u32::MAX,
            u32::MAX,
            u32::MAX,
            u32::MAX,
        );
        assert!(max.approx_seconds() > 0);
    }

    #[test]
    fn add_to_is_calendar_aware() {
        let jan31 = utc(2012, 1, 31, 0, 0, 0);
        assert_eq!(dur("P1M").add_to(jan31), Some(utc(2012, 2, 29, 0, 0, 0)));
        assert_eq!(
            dur("P1M").add_to(utc(2011, 1, 31, 0, 0, 0)),
            Some(utc(2011, 2, 28, 0, 0, 0))
        );
        assert_eq!(
            dur("P1Y").add_to(utc(2012, 2, 29, 0, 0, 0)),
            Some(utc(2013, 2, 28, 0, 0, 0))
        );
        // Months first, then days, then time.
        assert_eq!(
            dur("P1M1DT1H").add_to(jan31),
            Some(utc(2012, 3, 1, 1, 0, 0))
        );
        assert_eq!(
            dur("P1Y2M3DT4H5M6S").add_to(utc(2011, 10, 10, 0, 0, 0)),
            Some(utc(2012, 12, 13, 4, 5, 6))
        );
        assert_eq!(
            dur("PT36H").add_to(utc(2012, 12, 31, 0, 0, 0)),
            Some(utc(2013, 1, 1, 12, 0, 0))
        );
    }

    #[test]
    fn checked_mul_add_does_not_accumulate_clamping() {
        let p1m = dur("P1M");
        let jan31 = utc(2012, 1, 31, 0, 0, 0);
        assert_eq!(p1m.checked_mul_add(jan31, 0), Some(jan31));
        assert_eq!(
            p1m.checked_mul_add(jan31, 1),
            Some(utc(2012, 2, 29, 0, 0, 0))
        );
        assert_eq!(
            p1m.checked_mul_add(jan31, 2),
            Some(utc(2012, 3, 31, 0, 0, 0))
        );
        assert_eq!(
            p1m.checked_mul_add(jan31, 3),
            Some(utc(2012, 4, 30, 0, 0, 0))
        );
        // Adding one month at a time would have given March 29th.
        let stepped = p1m.add_to(p1m.add_to(jan31).unwrap()).unwrap();
        assert_eq!(stepped, utc(2012, 3, 29, 0, 0, 0));
        assert_eq!(
            dur("P1DT1H").checked_mul_add(jan31, 3),
            Some(utc(2012, 2, 3, 3, 0, 0))
        );
    }

    #[test]
    fn arithmetic_overflow_is_none() {
        let late = utc(262_000, 1, 1, 0, 0, 0);
        assert_eq!(dur("P1000Y").add_to(late), None);
        assert_eq!(dur("P4294967295D").checked_mul_add(late, u64::MAX), None);
        assert_eq!(dur("PT1S").checked_mul_add(late, u64::MAX), None);
        assert_eq!(
            dur("P1M").checked_mul_add(late, u64::from(u32::MAX) + 1),
            None
        );
        let early = utc(-262_000, 1, 1, 0, 0, 0);
        assert_eq!(dur("P1000Y").subtract_from(early), None);
        assert_eq!(dur("P4294967295W").subtract_from(early), None);
    }

    #[test]
    fn subtract_from_is_calendar_aware() {
        let now = utc(2012, 3, 31, 12, 0, 0);
        assert_eq!(
            dur("P1D").subtract_from(now),
            Some(utc(2012, 3, 30, 12, 0, 0))
        );
        assert_eq!(
            dur("P1M").subtract_from(now),
            Some(utc(2012, 2, 29, 12, 0, 0))
        );
        assert_eq!(
            dur("P1Y1M").subtract_from(now),
            Some(utc(2011, 2, 28, 12, 0, 0))
        );
        assert_eq!(
            dur("PT13H").subtract_from(now),
            Some(utc(2012, 3, 30, 23, 0, 0))
        );
        assert_eq!(
            dur("P2W").subtract_from(now),
            Some(utc(2012, 3, 17, 12, 0, 0))
        );
        // Same order as add_to: months, then days, then time.
        assert_eq!(
            dur("P1M1D").subtract_from(now),
            Some(utc(2012, 2, 28, 12, 0, 0))
        );
    }

    // ---- schedule parsing ----

    #[test]
    fn schedule_forms_parse() {
        assert_eq!(
            sched("PT1H"),
            Schedule {
                recurrences: None,
                start: None,
                interval: dur("PT1H")
            }
        );
        assert_eq!(
            sched("2011-10-10/P1D"),
            Schedule {
                recurrences: None,
                start: Some(utc(2011, 10, 10, 0, 0, 0)),
                interval: dur("P1D")
            }
        );
        assert_eq!(
            sched("R7/P1D"),
            Schedule {
                recurrences: Some(7),
                start: None,
                interval: dur("P1D")
            }
        );
        assert_eq!(
            sched("R5/2007-07-05T23:16Z/P1D"),
            Schedule {
                recurrences: Some(5),
                start: Some(utc(2007, 7, 5, 23, 16, 0)),
                interval: dur("P1D")
            }
        );
        assert_eq!(sched("R/PT1H"), sched("PT1H"));
        assert_eq!(sched("R/2012-01-01T00:00Z/P1M").recurrences, None);
        assert_eq!(sched("R1/PT1H").recurrences, Some(1));
        assert_eq!(
            sched("2012-07-06T15:49:11.250Z/PT1H").start,
            Some(t("2012-07-06T15:49:11.250Z"))
        );
    }

    #[test]
    fn schedule_display_round_trips() {
        for (input, shown) in [
            ("PT1H", "PT1H"),
            ("R/PT1H", "PT1H"),
            ("R7/P1D", "R7/P1D"),
            ("2011-10-10/P1D", "2011-10-10T00:00:00Z/P1D"),
            ("R5/2007-07-05T23:16Z/P1D", "R5/2007-07-05T23:16:00Z/P1D"),
            (
                "2012-07-06T15:49:11.25Z/PT1H",
                "2012-07-06T15:49:11.250Z/PT1H",
            ),
        ] {
            let s = sched(input);
            assert_eq!(s.to_string(), shown, "{input}");
            assert_eq!(sched(shown), s, "{input}");
        }
    }

    #[test]
    fn schedule_errors_name_the_part() {
        fn check(input: &str, needle: &str, kind: fn(&Iso8601Error) -> bool) {
            let err = input.parse::<Schedule>().unwrap_err();
            assert!(kind(&err), "{input}: wrong kind {err:?}");
            let msg = err.to_string();
            assert!(msg.contains(needle), "{input}: {msg}");
        }
        let recurrence = |e: &Iso8601Error| matches!(e, Iso8601Error::Recurrence { .. });
        let interval = |e: &Iso8601Error| matches!(e, Iso8601Error::Interval { .. });
        let duration = |e: &Iso8601Error| matches!(e, Iso8601Error::Duration { .. });
        let start = |e: &Iso8601Error| matches!(e, Iso8601Error::Start(_));
        let shape = |e: &Iso8601Error| matches!(e, Iso8601Error::Schedule { .. });

        check("R0/PT1H", r#""R0": R0 allows no occurrence"#, recurrence);
        check(
            "R-1/PT1H",
            r#""R-1": the number of recurrences cannot be negative"#,
            recurrence,
        );
        check(
            "Rx/PT1H",
            r#""Rx": a recurrence is R followed by a whole number"#,
            recurrence,
        );
        check("R1.5/PT1H", "whole number", recurrence);
        check("R99999999999/PT1H", "too large", recurrence);
        check("R5/", r#""R5/": the interval after / is missing"#, interval);
        check(
            "R5",
            r#""R5": a recurrence needs an interval, like R5/PT1H"#,
            interval,
        );
        check("R", "a recurrence needs an interval", interval);
        check(
            "R5/2007-07-05T23:16Z",
            r#""R5/2007-07-05T23:16Z": a schedule needs an interval after the start, like R5/2007-07-05T23:16Z/P1D"#,
            interval,
        );
        check(
            "2007-07-05T23:16Z",
            "needs an interval after the start",
            interval,
        );
        check(
            "R5/2007-07-05T23:16Z/",
            "the interval after the last / is missing",
            interval,
        );
        check(
            "R5/2007-13-05T23:16Z/P1D",
            "month 13 is out of range",
            start,
        );
        check("R5/2007-13-05T23:16Z", "month 13", start);
        check("2007-13-05T23:16Z", "month 13", start);
        check("2007-07-05T23:16+02:00/P1D", "not UTC", start);
        check("2011-02-29/P1D", "day 29 does not exist in 2011-02", start);
        check(
            "R5/PT0S",
            r#""PT0S": the interval must be longer than zero"#,
            interval,
        );
        check(
            "2012-01-01/P0D",
            r#""P0D": the interval must be longer than zero"#,
            interval,
        );
        check("PT0S", "longer than zero", interval);
        check(
            "R5/P",
            r#""P": a duration needs at least one number and unit"#,
            duration,
        );
        check(
            "R5/2007-07-05T23:16Z/P1H",
            r#""P1H": 1H: H is a time unit"#,
            duration,
        );
        check("2012-01-01/P1D1D", "appears twice", duration);
        check("1D", r#""1D": a duration starts with P"#, duration);
        check("", "an empty string is not a schedule", shape);
        check("/P1D", "the start before / is empty", shape);
        check("R5//P1D", "the start before / is empty", shape);
        check(
            "P1D/2012-01-01",
            "duration/end intervals are not supported",
            shape,
        );
        check(
            "2012-01-01/2012-02-01",
            r#""2012-02-01": the part after the start must be a duration"#,
            interval,
        );
        check("R5/2012-01-01/P1D/P1D", "too many parts", shape);
        check("2012-01-01/P1D/x", "too many parts", shape);
    }

    // ---- schedule semantics ----

    #[test]
    fn bare_duration_runs_every_hour_from_now() {
        let s = sched("PT1H");
        let now = utc(2026, 3, 14, 9, 26, 53);
        assert_eq!(
            s.next_after(now, 3),
            vec![
                utc(2026, 3, 14, 10, 26, 53),
                utc(2026, 3, 14, 11, 26, 53),
                utc(2026, 3, 14, 12, 26, 53)
            ]
        );
        // Occurrence 0 is now itself, which is not strictly after now.
        assert_eq!(s.occurrence(0, now), Some(now));
        // Anchoring keeps the schedule counting from the same instant.
        let anchored = s.anchored_at(now);
        assert_eq!(anchored.start, Some(now));
        assert_eq!(
            anchored.next_after(utc(2026, 3, 14, 11, 0, 0), 1),
            vec![utc(2026, 3, 14, 11, 26, 53)]
        );
        assert_eq!(anchored.anchored_at(utc(2030, 1, 1, 0, 0, 0)), anchored);
    }

    #[test]
    fn two_weeks_from_now() {
        let now = utc(2012, 12, 25, 8, 0, 0);
        assert_eq!(
            sched("P2W").next_after(now, 2),
            vec![utc(2013, 1, 8, 8, 0, 0), utc(2013, 1, 22, 8, 0, 0)]
        );
    }

    #[test]
    fn first_of_every_month_with_a_past_start() {
        let s = sched("2012-01-01T00:00Z/P1M");
        assert_eq!(
            s.next_after(utc(2012, 4, 15, 12, 0, 0), 3),
            vec![
                utc(2012, 5, 1, 0, 0, 0),
                utc(2012, 6, 1, 0, 0, 0),
                utc(2012, 7, 1, 0, 0, 0)
            ]
        );
        // Before the start, the start itself comes first.
        assert_eq!(
            s.next_after(utc(2011, 6, 1, 0, 0, 0), 2),
            vec![utc(2012, 1, 1, 0, 0, 0), utc(2012, 2, 1, 0, 0, 0)]
        );
        // Exactly on an occurrence: the next one, strictly after.
        assert_eq!(
            s.next_after(utc(2012, 5, 1, 0, 0, 0), 1),
            vec![utc(2012, 6, 1, 0, 0, 0)]
        );
        assert_eq!(
            s.next_after(utc(2012, 4, 30, 23, 59, 59), 1),
            vec![utc(2012, 5, 1, 0, 0, 0)]
        );
    }

    #[test]
    fn seven_daily_runs_starting_now() {
        let s = sched("R7/P1D");
        let now = utc(2012, 7, 6, 15, 49, 11);
        // Seven occurrences in all: now itself (occurrence 0) and six more.
        let occurrences: Vec<_> = (0..10).filter_map(|k| s.occurrence(k, now)).collect();
        assert_eq!(occurrences.len(), 7);
        assert_eq!(occurrences[0], now);
        assert_eq!(occurrences[6], utc(2012, 7, 12, 15, 49, 11));
        let next = s.next_after(now, 100);
        assert_eq!(next.len(), 6);
        assert_eq!(next[0], utc(2012, 7, 7, 15, 49, 11));
        assert_eq!(next[5], utc(2012, 7, 12, 15, 49, 11));
        // Anchored at the request time, the rest run out as time passes.
        let anchored = s.anchored_at(now);
        assert_eq!(anchored.next_after(utc(2012, 7, 10, 0, 0, 0), 100).len(), 3);
        assert!(anchored
            .next_after(utc(2012, 7, 12, 15, 49, 11), 100)
            .is_empty());
    }

    #[test]
    fn five_daily_runs_from_a_start() {
        let s = sched("R5/2007-07-05T23:16Z/P1D");
        let all = vec![
            utc(2007, 7, 5, 23, 16, 0),
            utc(2007, 7, 6, 23, 16, 0),
            utc(2007, 7, 7, 23, 16, 0),
            utc(2007, 7, 8, 23, 16, 0),
            utc(2007, 7, 9, 23, 16, 0),
        ];
        assert_eq!(s.next_after(utc(2007, 7, 1, 0, 0, 0), 10), all);
        assert_eq!(s.next_after(utc(2007, 7, 5, 23, 15, 59), 10), all);
        // The 5th and 6th have passed; the 7th, 8th and 9th remain.
        assert_eq!(
            s.next_after(utc(2007, 7, 7, 0, 0, 0), 10),
            all[2..].to_vec()
        );
        assert_eq!(
            s.next_after(utc(2007, 7, 7, 0, 0, 0), 2),
            all[2..4].to_vec()
        );
        assert_eq!(
            s.next_after(utc(2007, 7, 9, 23, 15, 0), 10),
            all[4..].to_vec()
        );
        // Exhausted: fewer items, then none.
        assert!(s.next_after(utc(2007, 7, 9, 23, 16, 0), 10).is_empty());
        assert!(s.next_after(utc(2026, 1, 1, 0, 0, 0), 10).is_empty());
        assert_eq!(s.occurrence(4, utc(2026, 1, 1, 0, 0, 0)), Some(all[4]));
        assert_eq!(s.occurrence(5, utc(2026, 1, 1, 0, 0, 0)), None);
    }

    #[test]
    fn exhausted_recurrence_returns_fewer_items() {
        let s = sched("R3/2020-01-01T00:00Z/PT1H");
        assert_eq!(s.next_after(utc(2019, 1, 1, 0, 0, 0), 10).len(), 3);
        assert_eq!(s.next_after(utc(2020, 1, 1, 0, 30, 0), 10).len(), 2);
        assert_eq!(
            sched("R1/2020-01-01T00:00Z/PT1H").next_after(utc(2019, 1, 1, 0, 0, 0), 10),
            vec![utc(2020, 1, 1, 0, 0, 0)]
        );
        assert!(sched("R1/PT1H")
            .next_after(utc(2019, 1, 1, 0, 0, 0), 10)
            .is_empty());
        assert!(sched("PT1H")
            .next_after(utc(2019, 1, 1, 0, 0, 0), 0)
            .is_empty());
    }

    #[test]
    fn daily_from_a_bare_date() {
        let s = sched("2011-10-10/P1D");
        assert_eq!(
            s.next_after(utc(2011, 10, 1, 0, 0, 0), 2),
            vec![utc(2011, 10, 10, 0, 0, 0), utc(2011, 10, 11, 0, 0, 0)]
        );
        assert_eq!(
            s.next_after(utc(2011, 10, 12, 6, 0, 0), 1),
            vec![utc(2011, 10, 13, 0, 0, 0)]
        );
    }

    #[test]
    fn month_end_is_clamped_without_accumulating() {
        let s = sched("2012-01-31T00:00Z/P1M");
        assert_eq!(
            s.next_after(utc(2012, 1, 31, 0, 0, 0), 4),
            vec![
                utc(2012, 2, 29, 0, 0, 0),
                utc(2012, 3, 31, 0, 0, 0),
                utc(2012, 4, 30, 0, 0, 0),
                utc(2012, 5, 31, 0, 0, 0)
            ]
        );
        // Far from the start the day of month still returns to the 31st.
        assert_eq!(
            s.next_after(utc(2030, 2, 15, 0, 0, 0), 3),
            vec![
                utc(2030, 2, 28, 0, 0, 0),
                utc(2030, 3, 31, 0, 0, 0),
                utc(2030, 4, 30, 0, 0, 0)
            ]
        );
    }

    #[test]
    fn leap_day_yearly() {
        let s = sched("2012-02-29T00:00Z/P1Y");
        assert_eq!(
            s.next_after(utc(2012, 2, 29, 0, 0, 0), 4),
            vec![
                utc(2013, 2, 28, 0, 0, 0),
                utc(2014, 2, 28, 0, 0, 0),
                utc(2015, 2, 28, 0, 0, 0),
                utc(2016, 2, 29, 0, 0, 0)
            ]
        );
        assert_eq!(
            s.next_after(utc(2099, 3, 1, 0, 0, 0), 2),
            vec![utc(2100, 2, 28, 0, 0, 0), utc(2101, 2, 28, 0, 0, 0)]
        );
        assert_eq!(
            s.next_after(utc(2396, 1, 1, 0, 0, 0), 1),
            vec![utc(2396, 2, 29, 0, 0, 0)]
        );
    }

    #[test]
    fn far_past_start_with_a_small_interval_is_fast() {
        let s = sched("1970-01-01T00:00Z/PT1S");
        let now = t("2026-03-14T09:26:53.589Z");
        assert_eq!(
            s.next_after(now, 3),
            vec![
                utc(2026, 3, 14, 9, 26, 54),
                utc(2026, 3, 14, 9, 26, 55),
                utc(2026, 3, 14, 9, 26, 56)
            ]
        );
        assert_eq!(
            s.next_after(utc(2026, 3, 14, 9, 26, 53), 1),
            vec![utc(2026, 3, 14, 9, 26, 54)]
        );
        // About 6.4e10 occurrences back; a step-by-step loop would never end.
        let s = sched("0001-01-01T00:00Z/PT1S");
        assert_eq!(
            s.next_after(utc(9999, 12, 31, 23, 59, 58), 5),
            vec![
                utc(9999, 12, 31, 23, 59, 59),
                utc(10_000, 1, 1, 0, 0, 0),
                utc(10_000, 1, 1, 0, 0, 1),
                utc(10_000, 1, 1, 0, 0, 2),
                utc(10_000, 1, 1, 0, 0, 3)
            ]
        );
        let s = sched("0001-01-31T00:00Z/P1MT1S");
        assert_eq!(
            s.next_after(utc(2026, 2, 1, 0, 0, 0), 1),
            vec![utc(2026, 2, 28, 6, 45, 1)]
        );
        // A bounded recurrence far in the past is exhausted just as quickly.
        assert!(sched("R1000/1970-01-01T00:00Z/PT1S")
            .next_after(now, 3)
            .is_empty());
    }

    #[test]
    fn estimate_correction_for_irregular_units() {
        // Compare the estimated search against counting one by one.
        for (text, now) in [
            ("2000-01-31T00:00Z/P1M", utc(2003, 3, 30, 0, 0, 0)),
            ("2000-02-29T12:00Z/P1Y", utc(2087, 2, 28, 12, 0, 0)),
            ("2000-01-31T00:00Z/P1M1D", utc(2010, 1, 1, 0, 0, 0)),
            ("2000-01-01T00:00Z/P1Y1W", utc(2050, 6, 1, 0, 0, 0)),
            ("2000-03-31T00:00Z/P3M", utc(2020, 9, 30, 0, 0, 0)),
            ("2000-03-31T00:00Z/P3M", utc(2020, 9, 29, 23, 59, 59)),
        ] {
            let s = sched(text);
            let start = s.start.unwrap();
            let slow = (0u64..)
                .map(|k| s.interval.checked_mul_add(start, k).unwrap())
                .find(|o| *o > now)
                .unwrap();
            assert_eq!(s.next_after(now, 1), vec![slow], "{text} at {now}");
        }
    }

    #[test]
    fn overflow_stops_occurrences_without_panicking() {
        let s = sched("9999-01-01T00:00Z/P100000Y");
        let got = s.next_after(utc(2026, 1, 1, 0, 0, 0), 10);
        assert_eq!(got.len(), 3); // 9999, 109999 and 209999; 309999 is out of range
        assert!(s.next_after(utc(262_000, 1, 1, 0, 0, 0), 10).is_empty());
        let huge = sched("P4294967295Y");
        assert!(huge.next_after(utc(2026, 1, 1, 0, 0, 0), 10).is_empty());
        // A huge count does not allocate up front.
        assert_eq!(
            sched("R2/PT1H")
                .next_after(utc(2026, 1, 1, 0, 0, 0), usize::MAX)
                .len(),
            1
        );
    }

    #[test]
    fn hand_built_zero_interval_does_not_loop() {
        let now = utc(2026, 1, 1, 0, 0, 0);
        let mut s = Schedule {
            recurrences: None,
            start: Some(utc(2027, 1, 1, 0, 0, 0)),
            interval: Duration::default(),
        };
        assert_eq!(s.next_after(now, 10), vec![utc(2027, 1, 1, 0, 0, 0)]);
        s.start = Some(utc(2025, 1, 1, 0, 0, 0));
        assert!(s.next_after(now, 10).is_empty());
        s.start = None;
        assert!(s.next_after(now, 10).is_empty());
        s.recurrences = Some(0);
        s.interval = dur("PT1H");
        assert!(s.next_after(now, 10).is_empty());
    }
}
