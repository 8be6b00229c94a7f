//! [`Schedule`]: a recurrence, an optional start and an interval, and the
//! occurrences they produce.

use std::fmt;

use chrono::{DateTime, Utc};

use super::Duration;

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
