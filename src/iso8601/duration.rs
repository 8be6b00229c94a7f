//! [`Duration`]: the parts of an ISO 8601 duration, calendar-aware arithmetic
//! on instants, and the canonical text.

use std::fmt;

use chrono::{DateTime, Days, Months, TimeDelta, Utc};

/// Mean length of a Gregorian year in seconds (365.2425 days).
const MEAN_YEAR_SECONDS: u64 = 31_556_952;
/// Mean length of a Gregorian month in seconds (a twelfth of a mean year).
const MEAN_MONTH_SECONDS: u64 = MEAN_YEAR_SECONDS / 12;

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
