//! `body.parse::<Filter>()`: the `filters` query parameter of
//! `GET /v1/events` and `--filters` of the CLI, a MongoDB-style document.
//!
//! Input: the filter text, then optionally NUL-separated sort keys
//! (`field[,ascending|descending]`). A filter that parses is matched against
//! the schema examples as records (what a history search matches), and a search (filter, sort, skip, limit)
//! runs over them; its result must be sorted, and the subject the search
//! pushes down to the server must let every matching event through.

#![no_main]

use std::cmp::Ordering;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use repobus::criteria::{compare_values, Criteria, Direction, Filter, SortKey};
use repobus::envelope::Envelope;
use repobus::record::Record;
use repobus::subject::Subjects;
use repobus::time::parse_datetime;
use repobus::{Event, EventType};
use serde_json::{Map, Value};

/// The schema examples as a history search sees them (records: every
/// accessor plus the envelope's fields), each with its subject.
fn events() -> &'static [(Map<String, Value>, String)] {
    static EVENTS: OnceLock<Vec<(Map<String, Value>, String)>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let subjects = Subjects::default();
        let mut out = Vec::new();
        for t in EventType::ALL {
            for example in t.examples() {
                let event = Event::decode(t.as_str(), example.to_string().as_bytes())
                    .expect("a schema example decodes");
                let seq = out.len() as u64;
                let mut envelope =
                    Envelope::new(&event, "urn:repobus:fuzz", Some(&format!("evt-{seq}")))
                        .expect("a valid event ID");
                envelope.time = parse_datetime(&format!("2026-11-2{seq}T18:00:00Z"))
                    .expect("a valid date-time");
                let subject = subjects.for_event(&event);
                let record = Record::new(&event, &envelope, &subject, seq).to_map();
                out.push((record, subject));
            }
        }
        out
    })
}

/// NATS subject matching: `*` is one token, `>` one or more at the end.
fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for token in filter.split('.') {
        match (token, subject_tokens.next()) {
            (">", Some(_)) => return true,
            (_, None) => return false,
            ("*", Some(_)) => {}
            (want, Some(got)) if want == got => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let Ok(text) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
        return;
    };
    let Ok(filter) = text.parse::<Filter>() else {
        return;
    };
    let _ = filter.equality_on("type");
    let _ = filter.pinned_equalities();

    // The document written back parses to the same filter.
    let written = filter.to_string();
    let again: Filter = written
        .parse()
        .unwrap_or_else(|e| panic!("the filter's own text {written} does not parse: {e}"));
    assert_eq!(again, filter);

    let events = events();
    let matched: Vec<bool> = events.iter().map(|(e, _)| filter.matches(e)).collect();
    assert_eq!(
        events
            .iter()
            .map(|(e, _)| again.matches(e))
            .collect::<Vec<_>>(),
        matched,
        "the re-parsed filter matches other events"
    );

    let sort: Vec<SortKey> = parts
        .take(4)
        .filter_map(|key| std::str::from_utf8(key).ok()?.parse().ok())
        .collect();
    let criteria = Criteria {
        filter: Some(filter),
        sort,
        skip: data.len() % 3,
        limit: (data.len() % 5 != 0).then_some(data.len() % 7),
        ..Criteria::default()
    };
    let found = criteria.apply(events.iter().map(|(e, _)| e.clone()), "time");
    let expected = matched
        .iter()
        .filter(|m| **m)
        .count()
        .saturating_sub(criteria.skip)
        .min(criteria.limit.unwrap_or(usize::MAX));
    assert_eq!(found.len(), expected, "skip and limit");
    for pair in found.windows(2) {
        let order = criteria
            .sort
            .iter()
            .map(|key| {
                let o = compare_values(pair[0].get(&key.field), pair[1].get(&key.field));
                match key.direction {
                    Direction::Ascending => o,
                    Direction::Descending => o.reverse(),
                }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal);
        assert_ne!(
            order,
            Ordering::Greater,
            "not sorted by {:?}",
            criteria.sort
        );
    }

    // Push-down may narrow what the server sends, never drop a match.
    if let Some(pushed) = repobus::history::pushed_down_subject(&Subjects::default(), &criteria) {
        for ((event, subject), hit) in events.iter().zip(&matched) {
            if *hit {
                assert!(
                    subject_matches(&pushed, subject),
                    "pushed-down subject {pushed} drops {subject}, which the filter matches: {event:?}"
                );
            }
        }
    }
});
