//! Tests of `parse.rs`: the forms of durations and schedules, and what a
//! malformed one is reported as.

use super::*;

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
