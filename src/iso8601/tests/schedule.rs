//! Tests of `schedule.rs`: the text of a schedule and its occurrences.

use super::*;

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
