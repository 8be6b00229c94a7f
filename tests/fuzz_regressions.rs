//! Inputs the fuzz targets (`fuzz/fuzz_targets/`, run by `scripts/fuzz.sh`)
//! found to panic repobus or break one of its round trips, minimized, each
//! fed through the same public API as the target that found it. One test per
//! finding; the comment names the target and what went wrong.

use repobus::criteria::Filter;
use repobus::iso8601::Schedule;
use repobus::subject::{unescape_token, SubjectError, Subjects};
use repobus::time::parse_datetime;
use repobus::Timestamp;
use serde_json::json;

/// Targets `iso8601` and `criteria_filter`: a time part longer than six
/// bytes whose last six bytes begin inside a character (here U+0325 or
/// U+018F) panicked while looking for a UTC offset (a string sliced off a
/// character boundary), in `parse_datetime` and so everywhere a date-time is
/// read: schedules, event bodies, filters and their comparisons.
#[test]
fn datetime_cut_inside_a_character_before_the_offset_is_an_error() {
    for input in ["2012-07-06T\u{325}/PT1H", "2027-11-21T23\u{18f}59:Z("] {
        let err = parse_datetime(input).unwrap_err();
        assert!(
            err.to_string().contains("must end in Z"),
            "{input:?}: {err}"
        );
        assert!(Timestamp::parse(input).is_err(), "{input:?}");
    }
    assert!("2012-07-06T\u{325}/PT1H".parse::<Schedule>().is_err());
    // A filter operand that is no date-time compares as text.
    let filter: Filter = r#"{"t":"2027-11-21T23Ə59:Z("}"#.parse().unwrap();
    let event = json!({"t": "2027-11-21T23Ə59:Z("});
    assert!(filter.matches(event.as_object().unwrap()));
    // A real non-UTC offset is still named.
    let err = parse_datetime("2012-07-06T15:49:11+02:00").unwrap_err();
    assert!(err.to_string().contains("\"+02:00\" is not UTC"), "{err}");
}

/// Target `subject`: `%4E` (an escaped `N`) was accepted, so
/// `repobus.repo.sync.started.a%4E` parsed to repository `aN`, whose subject
/// is `repobus.repo.sync.started.aN`: two subjects for one event, and a
/// subscription to the repository's subject misses the message. Only the
/// spelling `escape_token` writes is accepted now, as lower-case hex already
/// was refused.
#[test]
fn escaped_byte_that_needs_no_escape_is_a_bad_token() {
    let subjects = Subjects::default();
    assert!(matches!(
        subjects.parse("repobus.repo.sync.started.a%4E"),
        Err(SubjectError::BadToken(token)) if token == "a%4E"
    ));
    for token in ["%41", "%5F", "%40", "%2D", "%30"] {
        assert!(unescape_token(token).is_err(), "{token}");
    }
    // What escape_token writes still reads back.
    assert_eq!(
        subjects
            .parse("repobus.repo.sync.started.a%2EN")
            .unwrap()
            .ids,
        repobus::subject::SubjectIds::Repo {
            repo_id: "a.N".into()
        }
    );
    assert_eq!(unescape_token("%25%C3%A9").unwrap(), "%\u{e9}");
}

/// Target `subject`: an empty last token (`repobus.repo.sync.started.`)
/// parsed to repository `""`, whose subject is
/// `repobus.repo.sync.started.%`. The empty ID is written `%`; an empty
/// token is not an ID.
#[test]
fn empty_token_is_a_bad_token() {
    let subjects = Subjects::default();
    assert!(matches!(
        subjects.parse("repobus.repo.sync.started."),
        Err(SubjectError::BadToken(token)) if token.is_empty()
    ));
    assert!(subjects
        .parse("repobus.build.chroot.ended.@python..fedora-rawhide-x86_64")
        .is_err());
    assert!(unescape_token("").is_err());
    assert_eq!(unescape_token("%").unwrap(), "");
    assert_eq!(
        subjects.parse("repobus.repo.sync.started.%").unwrap().ids,
        repobus::subject::SubjectIds::Repo {
            repo_id: String::new()
        }
    );
}

/// Found while writing the `envelope_headers` target's round trip: a
/// `ce-time` that is year 10000 in UTC was accepted, but RFC 3339 cannot
/// write it back, so the record's `time` could not be read by `after` and
/// `before`. It is a bad header now (the message is dead-lettered).
#[test]
fn ce_time_beyond_year_9999_in_utc_is_a_bad_header() {
    use async_nats::HeaderMap;
    use repobus::envelope::{Envelope, EnvelopeError};
    use repobus::EventType;

    let mut headers = HeaderMap::new();
    headers.insert("ce-type", "repo-sync-started");
    headers.insert("ce-time", "9999-12-31T23:59:59-01:00");
    let err = Envelope::from_headers(Some(&headers), None, || "x".into(), chrono::Utc::now())
        .unwrap_err();
    assert!(
        matches!(
            err,
            EnvelopeError::BadHeader {
                header: "ce-time",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("years 0000-9999"), "{err}");

    // The last instant that can be written still round-trips.
    headers.insert("ce-time", "9999-12-31T23:59:59Z");
    let envelope = Envelope::from_headers(
        Some(&headers),
        Some(EventType::RepoSyncStarted),
        || "x".into(),
        chrono::Utc::now(),
    )
    .unwrap();
    let back = Envelope::from_headers(
        Some(&envelope.to_headers()),
        None,
        || "x".into(),
        chrono::Utc::now(),
    )
    .unwrap();
    assert_eq!(back.time, envelope.time);
}
