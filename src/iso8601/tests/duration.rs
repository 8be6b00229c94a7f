//! Tests of `duration.rs`: the canonical text and calendar arithmetic.

use super::*;

#[test]
fn display_is_canonical_and_round_trips() {
    for (input, canonical) in [
        ("P3D", "P3D"),
        ("P2W", "P2W"),
        ("PT30M", "PT30M"),
        ("P1DT12H", "P1DT12H"),
        ("P1Y2M3DT4H5M6S", "P1Y2M3DT4H5M6S"),
        ("P1Y2M1W3DT4H5M6S", "P1Y2M1W3DT4H5M6S"),
        ("P01D", "P1D"),
        ("P0Y1D", "P1D"),
        ("P1DT0H", "P1D"),
        ("P0D", "PT0S"),
        ("PT0S", "PT0S"),
    ] {
        let parsed = dur(input);
        assert_eq!(parsed.to_string(), canonical, "{input}");
        assert_eq!(dur(canonical), parsed, "{input}");
    }
}

#[test]
fn approx_seconds_uses_mean_lengths() {
    assert_eq!(dur("PT1H").approx_seconds(), 3600);
    assert_eq!(dur("P1DT1S").approx_seconds(), 86_401);
    assert_eq!(dur("P2W").approx_seconds(), 14 * 86_400);
    assert_eq!(dur("P1Y").approx_seconds(), 31_556_952);
    assert_eq!(dur("P12M").approx_seconds(), 31_556_952);
    let max = d(
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
        u32::MAX,
    );
    assert!(max.approx_seconds() > 0);
}

#[test]
fn add_to_is_calendar_aware() {
    let jan31 = utc(2012, 1, 31, 0, 0, 0);
    assert_eq!(dur("P1M").add_to(jan31), Some(utc(2012, 2, 29, 0, 0, 0)));
    assert_eq!(
        dur("P1M").add_to(utc(2011, 1, 31, 0, 0, 0)),
        Some(utc(2011, 2, 28, 0, 0, 0))
    );
    assert_eq!(
        dur("P1Y").add_to(utc(2012, 2, 29, 0, 0, 0)),
        Some(utc(2013, 2, 28, 0, 0, 0))
    );
    // Months first, then days, then time.
    assert_eq!(
        dur("P1M1DT1H").add_to(jan31),
        Some(utc(2012, 3, 1, 1, 0, 0))
    );
    assert_eq!(
        dur("P1Y2M3DT4H5M6S").add_to(utc(2011, 10, 10, 0, 0, 0)),
        Some(utc(2012, 12, 13, 4, 5, 6))
    );
    assert_eq!(
        dur("PT36H").add_to(utc(2012, 12, 31, 0, 0, 0)),
        Some(utc(2013, 1, 1, 12, 0, 0))
    );
}

#[test]
fn checked_mul_add_does_not_accumulate_clamping() {
    let p1m = dur("P1M");
    let jan31 = utc(2012, 1, 31, 0, 0, 0);
    assert_eq!(p1m.checked_mul_add(jan31, 0), Some(jan31));
    assert_eq!(
        p1m.checked_mul_add(jan31, 1),
        Some(utc(2012, 2, 29, 0, 0, 0))
    );
    assert_eq!(
        p1m.checked_mul_add(jan31, 2),
        Some(utc(2012, 3, 31, 0, 0, 0))
    );
    assert_eq!(
        p1m.checked_mul_add(jan31, 3),
        Some(utc(2012, 4, 30, 0, 0, 0))
    );
    // Adding one month at a time would have given March 29th.
    let stepped = p1m.add_to(p1m.add_to(jan31).unwrap()).unwrap();
    assert_eq!(stepped, utc(2012, 3, 29, 0, 0, 0));
    assert_eq!(
        dur("P1DT1H").checked_mul_add(jan31, 3),
        Some(utc(2012, 2, 3, 3, 0, 0))
    );
}

#[test]
fn arithmetic_overflow_is_none() {
    let late = utc(262_000, 1, 1, 0, 0, 0);
    assert_eq!(dur("P1000Y").add_to(late), None);
    assert_eq!(dur("P4294967295D").checked_mul_add(late, u64::MAX), None);
    assert_eq!(dur("PT1S").checked_mul_add(late, u64::MAX), None);
    assert_eq!(
        dur("P1M").checked_mul_add(late, u64::from(u32::MAX) + 1),
        None
    );
    let early = utc(-262_000, 1, 1, 0, 0, 0);
    assert_eq!(dur("P1000Y").subtract_from(early), None);
    assert_eq!(dur("P4294967295W").subtract_from(early), None);
}

#[test]
fn subtract_from_is_calendar_aware() {
    let now = utc(2012, 3, 31, 12, 0, 0);
    assert_eq!(
        dur("P1D").subtract_from(now),
        Some(utc(2012, 3, 30, 12, 0, 0))
    );
    assert_eq!(
        dur("P1M").subtract_from(now),
        Some(utc(2012, 2, 29, 12, 0, 0))
    );
    assert_eq!(
        dur("P1Y1M").subtract_from(now),
        Some(utc(2011, 2, 28, 12, 0, 0))
    );
    assert_eq!(
        dur("PT13H").subtract_from(now),
        Some(utc(2012, 3, 30, 23, 0, 0))
    );
    assert_eq!(
        dur("P2W").subtract_from(now),
        Some(utc(2012, 3, 17, 12, 0, 0))
    );
    // Same order as add_to: months, then days, then time.
    assert_eq!(
        dur("P1M1D").subtract_from(now),
        Some(utc(2012, 2, 28, 12, 0, 0))
    );
}
