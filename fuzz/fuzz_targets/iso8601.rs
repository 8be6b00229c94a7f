//! ISO 8601 text from peers and users: `iso8601::Duration` and `Schedule`
//! (`since=P1D`, `--schedule R5/2012-01-01T00:00Z/P1M`), `time::parse_datetime`
//! (`after`, `before`), `Timestamp::parse` (event bodies) and `ResourceId::new`.
//!
//! Input: up to four lines; each line goes through every parser. What parses
//! is then computed with (added to and subtracted from fixed instants, the
//! extremes of chrono's range among them, and every date-time the input
//! holds; schedules evaluated a bounded number of times), so that arithmetic
//! overflow is reached. Documented properties are checked: the canonical
//! text parses back to the same value, and `next_after` gives at most
//! `count` occurrences, strictly after `now`, in increasing order.

#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use repobus::iso8601::{Duration, Schedule};
use repobus::time::parse_datetime;
use repobus::{ResourceId, Timestamp};

fn fixed_instants() -> Vec<DateTime<Utc>> {
    vec![
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::UNIX_EPOCH,
        parse_datetime("2012-01-31T23:59:59Z").expect("a valid date-time"),
        parse_datetime("2012-02-29T12:00Z").expect("a valid date-time"),
        DateTime::<Utc>::MAX_UTC,
    ]
}

const FACTORS: [u64; 7] = [0, 1, 2, 12, 1 << 20, 1 << 32, u64::MAX];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.split('\n').take(4).collect();
    let mut instants = fixed_instants();
    let mut durations = Vec::new();
    let mut schedules = Vec::new();
    for line in &lines {
        if let Ok(t) = parse_datetime(line) {
            instants.push(t);
        }
        if let Ok(t) = Timestamp::parse(line) {
            let shown = t.to_string();
            let back = Timestamp::parse(&shown).unwrap_or_else(|e| {
                panic!("{line:?} shows as {shown:?}, which does not parse: {e}")
            });
            assert_eq!(
                back.unix_seconds(),
                t.unix_seconds(),
                "{line:?} -> {shown:?}"
            );
            assert_eq!(Some(t.as_datetime()), parse_datetime(line).ok());
        }
        if let Ok(id) = ResourceId::new(line) {
            assert_eq!(id.as_str(), *line);
        }
        if let Ok(d) = line.parse::<Duration>() {
            let shown = d.to_string();
            assert_eq!(
                shown.parse::<Duration>().ok(),
                Some(d),
                "{line:?} -> {shown:?}"
            );
            durations.push(d);
        }
        if let Ok(s) = line.parse::<Schedule>() {
            let shown = s.to_string();
            assert_eq!(
                shown.parse::<Schedule>().ok(),
                Some(s),
                "{line:?} -> {shown:?}"
            );
            durations.push(s.interval);
            schedules.push(s);
        }
    }

    for d in &durations {
        let _ = d.is_zero();
        let _ = d.approx_seconds();
        for &t in &instants {
            let _ = d.add_to(t);
            let _ = d.subtract_from(t);
            for k in FACTORS {
                let _ = d.checked_mul_add(t, k);
            }
        }
    }

    for s in &schedules {
        for &now in &instants {
            let anchored = s.anchored_at(now);
            for k in FACTORS {
                let _ = s.occurrence(k, now);
                let _ = anchored.occurrence(k, now);
            }
            let next = s.next_after(now, 4);
            assert!(next.len() <= 4);
            let mut previous = now;
            for t in &next {
                assert!(*t > previous, "{s}: next_after({now}) gives {next:?}");
                previous = *t;
            }
            let _ = anchored.next_after(now, 2);
        }
    }
});
