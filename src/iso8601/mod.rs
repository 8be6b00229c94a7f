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

mod duration;
mod error;
mod parse;
mod schedule;

pub use duration::Duration;
pub use error::Iso8601Error;
pub use schedule::Schedule;

#[cfg(test)]
mod tests;
