//! Unit tests of the iso8601 module: one file per concern file beside
//! `mod.rs`, sharing the helpers below.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::time::parse_datetime;

mod duration;
mod parse;
mod schedule;

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
