//! Retry schedules: the delays between attempts of one event.
//!
//! A schedule is written as a comma-separated list of durations
//! (`5s,5m,30m`); each is a number followed by `ms`, `s`, `m`, `h` or `d`.
//! The first attempt is always immediate; the schedule lists the delays
//! before each retry, so `5s,5m` means three attempts in all. The default
//! is Svix's: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most retries a schedule may list.
pub const MAX_RETRIES: usize = 100;

/// Longest single delay a schedule may hold (JetStream's redelivery delay is
/// kept well inside what a consumer can hold): 7 days.
pub const MAX_DELAY: Duration = Duration::from_secs(7 * 86_400);

/// Why a schedule or a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScheduleError(String);

/// The delays before each retry of an event.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use repobus_webhooks::schedule::RetrySchedule;
///
/// let schedule: RetrySchedule = "100ms,200ms,400ms".parse()?;
/// assert_eq!(schedule.attempts(), 4);
/// assert_eq!(schedule.delay_after(1), Some(Duration::from_millis(100)));
/// assert_eq!(schedule.delay_after(4), None); // exhausted: dead-letter
/// assert_eq!(RetrySchedule::default().to_string(), "5s,5m,30m,2h,5h,10h,10h");
/// assert!("5s,soon".parse::<RetrySchedule>().is_err());
/// # Ok::<(), repobus_webhooks::schedule::ScheduleError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    fn default() -> Self {
        let m = 60;
        let h = 3600;
        RetrySchedule(
            [5, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }
}

impl RetrySchedule {
    /// A schedule of `delays` (checked like a parsed one).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus_webhooks::schedule::RetrySchedule;
    ///
    /// let s = RetrySchedule::new(vec![Duration::from_secs(1)])?;
    /// assert_eq!(s.to_string(), "1s");
    /// # Ok::<(), repobus_webhooks::schedule::ScheduleError>(())
    /// ```
    pub fn new(delays: Vec<Duration>) -> Result<Self, ScheduleError> {
        if delays.len() > MAX_RETRIES {
            return Err(ScheduleError(format!(
                "{} retries is more than the {MAX_RETRIES} allowed",
                delays.len()
            )));
        }
        if let Some(d) = delays.iter().find(|d| **d > MAX_DELAY) {
            return Err(ScheduleError(format!(
                "{} is longer than the longest delay allowed, {}",
                format_duration(*d),
                format_duration(MAX_DELAY)
            )));
        }
        Ok(RetrySchedule(delays))
    }

    /// The delays, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::schedule::RetrySchedule;
    /// assert_eq!(RetrySchedule::default().delays().len(), 7);
    /// ```
    pub fn delays(&self) -> &[Duration] {
        &self.0
    }

    /// Attempts in all: the first plus one per delay.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::schedule::RetrySchedule;
    /// assert_eq!(RetrySchedule::default().attempts(), 8);
    /// ```
    pub fn attempts(&self) -> u64 {
        self.0.len() as u64 + 1
    }

    /// The delay after failed attempt `attempt` (1-based), or `None` when
    /// the schedule is exhausted.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus_webhooks::schedule::RetrySchedule;
    /// let s = RetrySchedule::default();
    /// assert_eq!(s.delay_after(1), Some(Duration::from_secs(5)));
    /// assert_eq!(s.delay_after(8), None);
    /// ```
    pub fn delay_after(&self, attempt: u64) -> Option<Duration> {
        let index = usize::try_from(attempt.checked_sub(1)?).ok()?;
        self.0.get(index).copied()
    }

    /// [`RetrySchedule::delay_after`] with ±10 % jitter, so that retries of
    /// many events do not arrive at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus_webhooks::schedule::RetrySchedule;
    /// let d = RetrySchedule::default().jittered_delay_after(1).unwrap();
    /// assert!(d >= Duration::from_millis(4500) && d <= Duration::from_millis(5500));
    /// ```
    pub fn jittered_delay_after(&self, attempt: u64) -> Option<Duration> {
        self.delay_after(attempt).map(jitter)
    }

    /// The shortest and longest delay (zero when the schedule is empty):
    /// the bounds a `Retry-After` is clamped to.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use repobus_webhooks::schedule::RetrySchedule;
    /// let (min, max) = RetrySchedule::default().bounds();
    /// assert_eq!((min, max), (Duration::from_secs(5), Duration::from_secs(36000)));
    /// ```
    pub fn bounds(&self) -> (Duration, Duration) {
        let min = self.0.iter().min().copied().unwrap_or_default();
        let max = self.0.iter().max().copied().unwrap_or_default();
        (min, max)
    }
}

/// `delay` moved randomly by up to ±10 %.
fn jitter(delay: Duration) -> Duration {
    use rand::Rng;
    let factor = rand::thread_rng().gen_range(0.9..=1.1);
    delay.mul_f64(factor)
}

impl FromStr for RetrySchedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, ScheduleError> {
        let text = text.trim();
        if text.is_empty() {
            return RetrySchedule::new(Vec::new());
        }
        let delays = text
            .split(',')
            .map(|part| parse_duration(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        RetrySchedule::new(delays)
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|d| format_duration(*d)).collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for RetrySchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for RetrySchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses `100ms`, `5s`, `5m`, `2h`, `1d` (a whole number and a unit).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use repobus_webhooks::schedule::parse_duration;
/// assert_eq!(parse_duration("15s")?, Duration::from_secs(15));
/// assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
/// assert!(parse_duration("15").is_err());
/// # Ok::<(), repobus_webhooks::schedule::ScheduleError>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = |why: &str| {
        ScheduleError(format!(
            "{:?} is not a duration ({why}; write e.g. 100ms, 5s, 5m, 2h, 1d)",
            crate::shorten(text)
        ))
    };
    if number.is_empty() {
        return Err(bad("no number"));
    }
    let n: u64 = number.parse().map_err(|_| bad("number too large"))?;
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        "" => return Err(bad("no unit")),
        _ => return Err(bad("unknown unit")),
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| bad("too large"))
}

/// Writes a duration the way [`parse_duration`] reads it, in the largest
/// unit that divides it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use repobus_webhooks::schedule::format_duration;
/// assert_eq!(format_duration(Duration::from_secs(300)), "5m");
/// assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
/// ```
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Serde for a duration written like `15s`.
pub(crate) mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}
