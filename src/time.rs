//! UTC timestamps as Pulp writes them (`2012-07-06T15:49:11Z`).
//!
//! Input may use the minute form (`2005-05-28T01:45Z`), fractional seconds
//! (`2012-07-06T15:49:11.250Z`) and a zero UTC offset (`+00:00`, `-00:00`,
//! `+0000`) instead of `Z`. Timestamps that repobus creates are written with
//! seconds precision. A decoded timestamp remembers its original text, so a
//! body that is decoded and encoded again is unchanged.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The regular expression that the JSON Schemas use for a timestamp.
///
/// It rules out what a pattern can (month 13, hour 99, a non-UTC offset);
/// day-of-month limits such as February 30th are checked by
/// [`Timestamp::parse`].
pub const TIMESTAMP_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?(Z|[+-]00:?00)$";

/// Cuts text quoted in an error message to 64 characters.
pub(crate) fn shorten(text: &str) -> String {
    if text.chars().count() <= 64 {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(61).collect();
        format!("{cut}...")
    }
}

/// Why a timestamp was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a UTC ISO 8601 date-time like 2012-07-06T15:49:11Z: {reason}")]
pub struct TimestampError {
    input: String,
    reason: String,
}

impl TimestampError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        TimestampError {
            input: shorten(input),
            reason: reason.into(),
        }
    }

    /// The part of the input that is wrong, in words (`month 13 is out of range`).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A point in time, always UTC.
///
/// ```
/// use repobus::Timestamp;
///
/// let t: Timestamp = "2005-05-28T01:45Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2005-05-28T01:45:00Z");
/// assert!("2005-13-28T01:45Z".parse::<Timestamp>().is_err());
/// ```
#[derive(Clone)]
pub struct Timestamp {
    instant: DateTime<Utc>,
    /// The text this timestamp was parsed from, kept so that re-encoding a
    /// decoded body gives back exactly what was received.
    original: Option<Box<str>>,
}

impl Timestamp {
    /// The current time, truncated to whole seconds.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// A timestamp for `instant`, truncated to whole seconds.
    pub fn from_datetime(instant: DateTime<Utc>) -> Self {
        Timestamp {
            instant: instant.trunc_subsecs(0),
            original: None,
        }
    }

    /// Parses a UTC ISO 8601 date-time (`YYYY-MM-DDTHH:MM[:SS[.fff]]Z`).
    pub fn parse(input: &str) -> Result<Self, TimestampError> {
        let instant = parse_datetime(input)?;
        Ok(Timestamp {
            instant,
            original: Some(input.into()),
        })
    }

    /// The instant, with whatever sub-second precision the input had.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.instant
    }

    /// Seconds since the Unix epoch (whole seconds, rounded down).
    pub fn unix_seconds(&self) -> i64 {
        self.instant.timestamp()
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.instant == other.instant
    }
}
impl Eq for Timestamp {}
impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.instant.cmp(&other.instant)
    }
}
impl std::hash::Hash for Timestamp {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.instant.hash(state)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// Formats with seconds precision: `2012-07-06T15:49:11Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.instant.format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(instant: DateTime<Utc>) -> Self {
        Timestamp::from_datetime(instant)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.original {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": TIMESTAMP_PATTERN,
        })
    }
}

/// Parses a UTC ISO 8601 date (`2005-05-28`, taken as midnight) or date-time
/// (`2005-05-28T01:45Z`, seconds and fractions optional).
///
/// This is the one date-time parser of the crate: timestamps in event bodies,
/// criteria (`--after`) and schedules all go through it.
pub fn parse_datetime(input: &str) -> Result<DateTime<Utc>, TimestampError> {
    let err = |reason: String| TimestampError::new(input, reason);
    if input.len() > 64 {
        return Err(err("longer than any date-time".to_owned()));
    }
    let (date_part, time_part) = match input.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (input, None),
    };
    let date = parse_date_part(date_part).map_err(err)?;
    let Some(time_part) = time_part else {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    };
    let clock = strip_utc_designator(time_part).map_err(err)?;
    let time = parse_time_part(clock).map_err(err)?;
    Ok(NaiveDateTime::new(date, time).and_utc())
}

fn digits(s: &str, what: &str, len: usize) -> Result<u32, String> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {s:?} must be {len} digits"));
    }
    s.parse::<u32>()
        .map_err(|_| format!("{what} {s:?} must be {len} digits"))
}

fn parse_date_part(s: &str) -> Result<NaiveDate, String> {
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("date {s:?} must be YYYY-MM-DD"));
    };
    let year = digits(y, "year", 4)?;
    let month = digits(m, "month", 2)?;
    let day = digits(d, "day", 2)?;
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is out of range 01-12"));
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or_else(|| format!("day {day} does not exist in {year:04}-{month:02}"))
}

fn strip_utc_designator(s: &str) -> Result<&str, String> {
    if let Some(clock) = s.strip_suffix('Z') {
        return Ok(clock);
    }
    for suffix in ["+00:00", "-00:00", "+0000", "-0000"] {
        if let Some(clock) = s.strip_suffix(suffix) {
            return Ok(clock);
        }
    }
    // `get`, not indexing: the last six bytes may start inside a character.
    let offset = s.get(s.len().saturating_sub(6)..).unwrap_or_default();
    if s.len() > 6 && offset.starts_with(['+', '-']) {
        return Err(format!(
            "offset {offset:?} is not UTC; write times in UTC with a trailing Z"
        ));
    }
    Err("the time must end in Z (UTC)".to_owned())
}

fn parse_time_part(s: &str) -> Result<NaiveTime, String> {
    let (clock, fraction) = match s.split_once('.') {
        Some((c, f)) => (c, Some(f)),
        None => (s, None),
    };
    let mut parts = clock.split(':');
    let (Some(h), Some(m)) = (parts.next(), parts.next()) else {
        return Err(format!("time {s:?} must be HH:MM or HH:MM:SS"));
    };
    let sec = parts.next();
    if parts.next().is_some() {
        return Err(format!("time {s:?} must be HH:MM or HH:MM:SS"));
    }
    let hour = digits(h, "hour", 2)?;
    let minute = digits(m, "minute", 2)?;
    let second = match sec {
        Some(sec) => digits(sec, "second", 2)?,
        None if fraction.is_some() => return Err("a fraction needs seconds".to_owned()),
        None => 0,
    };
    if hour > 23 {
        return Err(format!("hour {hour} is out of range 00-23"));
    }
    if minute > 59 {
        return Err(format!("minute {minute} is out of range 00-59"));
    }
    if second > 59 {
        return Err(format!("second {second} is out of range 00-59"));
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let mut digits9: String = f.chars().take(9).collect();
            while digits9.len() < 9 {
                digits9.push('0');
            }
            digits9.parse::<u32>().unwrap_or(0)
        }
        Some(f) => return Err(format!("fraction {f:?} must be digits")),
    };
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
        .ok_or_else(|| format!("time {s:?} does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pulp_form_round_trips() {
        let t = Timestamp::parse("2012-07-06T15:49:11Z").unwrap();
        assert_eq!(t.to_string(), "2012-07-06T15:49:11Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2012-07-06T15:49:11Z\""
        );
    }

    #[test]
    fn minute_form_is_accepted_and_emitted_with_seconds() {
        let t = Timestamp::parse("2005-05-28T01:45Z").unwrap();
        assert_eq!(t.to_string(), "2005-05-28T01:45:00Z");
        // The original text survives re-encoding.
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2005-05-28T01:45Z\"");
    }

    #[test]
    fn fractional_seconds_are_accepted_and_truncated_on_display() {
        let t = Timestamp::parse("2012-07-06T15:49:11.987654Z").unwrap();
        assert_eq!(t.to_string(), "2012-07-06T15:49:11Z");
        assert_eq!(t.as_datetime().timestamp_subsec_micros(), 987654);
        let created = Timestamp::from_datetime(t.as_datetime());
        assert_eq!(
            serde_json::to_string(&created).unwrap(),
            "\"2012-07-06T15:49:11Z\""
        );
    }

    #[test]
    fn zero_offsets_mean_utc() {
        for s in [
            "2012-07-06T15:49:11+00:00",
            "2012-07-06T15:49:11-00:00",
            "2012-07-06T15:49:11+0000",
        ] {
            assert_eq!(
                Timestamp::parse(s).unwrap().to_string(),
                "2012-07-06T15:49:11Z"
            );
        }
    }

    #[test]
    fn impossible_dates_name_the_part() {
        let cases = [
            ("2012-13-06T15:49:11Z", "month 13"),
            ("2012-07-06T99:49:11Z", "hour 99"),
            ("2012-07-06T15:60Z", "minute 60"),
            ("2012-07-06T15:49:61Z", "second 61"),
            ("2011-02-29T00:00Z", "day 29 does not exist in 2011-02"),
            ("2012-07-06T15:49:11+02:00", "not UTC"),
            ("2012-07-06T15:49:11", "must end in Z"),
            ("12-07-06T15:49Z", "year"),
            ("2012-07-06T15:49:11.Z", "fraction"),
            ("", "date"),
        ];
        for (input, needle) in cases {
            let err = Timestamp::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn leap_day_exists_in_leap_years() {
        assert!(Timestamp::parse("2012-02-29T00:00Z").is_ok());
        assert!(Timestamp::parse("2000-02-29T00:00Z").is_ok());
        assert!(Timestamp::parse("1900-02-29T00:00Z").is_err());
    }

    #[test]
    fn bare_dates_are_midnight() {
        assert_eq!(
            parse_datetime("2005-05-28").unwrap().to_rfc3339(),
            "2005-05-28T00:00:00+00:00"
        );
    }

    #[test]
    fn pattern_agrees_with_parser_on_shape() {
        let re = regex::Regex::new(TIMESTAMP_PATTERN).unwrap();
        for ok in [
            "2012-07-06T15:49:11Z",
            "2005-05-28T01:45Z",
            "2012-07-06T15:49:11.5Z",
            "2012-07-06T15:49:11+00:00",
        ] {
            assert!(re.is_match(ok), "{ok}");
            assert!(Timestamp::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2012-13-06T15:49:11Z",
            "2012-07-06T99:49:11Z",
            "2012-07-06",
            "2012-07-06T15:49:11+02:00",
        ] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }
}
