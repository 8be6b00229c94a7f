//! Reading the text of durations (`P1DT12H`) and schedules
//! (`R5/2007-07-05T23:16Z/P1D`), with errors that name the faulty part.

use std::str::FromStr;

use super::{Duration, Iso8601Error, Schedule};
use crate::time::parse_datetime;

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
