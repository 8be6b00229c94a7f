//! Tests of `query.rs`: the whole search, its window and projection.

use chrono::{DateTime, Utc};

use super::*;
use crate::time::parse_datetime;

fn numbered(n: i64) -> Vec<Map<String, Value>> {
    (0..n)
        .map(|i| {
            obj(json!({
                "i": i,
                "parity": if i % 2 == 0 { "even" } else { "odd" },
                "time": format!("2026-11-23T18:00:{:02}Z", i),
            }))
        })
        .collect()
}

fn indexes(objects: &[Map<String, Value>]) -> Vec<i64> {
    objects.iter().map(|o| o["i"].as_i64().unwrap()).collect()
}

#[test]
fn default_criteria_keep_everything() {
    let events = numbered(5);
    assert_eq!(Criteria::new().apply(events.clone(), "time"), events);
    assert!(Criteria::default().matches(&obj(json!({})), "time"));
}

#[test]
fn skip_and_limit() {
    let c = Criteria::new().with_skip(2).with_limit(3);
    assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![2, 3, 4]);
    let c = Criteria::new().with_skip(8).with_limit(3);
    assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![8, 9]);
    let c = Criteria::new().with_skip(20);
    assert!(c.apply(numbered(10), "time").is_empty());
    let c = Criteria::new().with_limit(0);
    assert!(c.apply(numbered(10), "time").is_empty());
}

#[test]
fn filter_then_sort_then_skip_then_limit() {
    let c = Criteria::new()
        .with_filter(filter(json!({"parity": "odd"})))
        .with_sort(SortKey::new("i", Direction::Descending))
        .with_skip(1)
        .with_limit(2);
    assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![7, 5]);
}

#[test]
fn limit_without_sort_stops_reading() {
    let endless = (0..).map(|i: i64| obj(json!({"i": i, "time": "2026-11-23T18:00:00Z"})));
    let c = Criteria::new()
        .with_filter(filter(json!({"i": {"$gte": 5}})))
        .with_limit(3);
    assert_eq!(indexes(&c.apply(endless, "time")), vec![5, 6, 7]);
}

#[test]
fn fields_are_projected_in_order() {
    let c = Criteria::new().with_fields(["time", "nope", "i", "time"]);
    let out = c.apply(numbered(2), "time");
    assert_eq!(
        out,
        vec![
            obj(json!({"time": "2026-11-23T18:00:00Z", "i": 0})),
            obj(json!({"time": "2026-11-23T18:00:01Z", "i": 1})),
        ]
    );
    let keys: Vec<&String> = out[0].keys().collect();
    assert_eq!(keys, ["time", "i"]);
    let one = c.project(&obj(json!({"i": 5, "x": 1, "time": "t"})));
    assert_eq!(one.keys().collect::<Vec<_>>(), ["time", "i"]);
    assert_eq!(
        Criteria::new().project(&obj(json!({"a": 1}))),
        obj(json!({"a": 1}))
    );
    let empty = Criteria::new().with_fields(Vec::<String>::new());
    assert_eq!(empty.project(&obj(json!({"a": 1}))), Map::new());
    // Projection comes after filtering and sorting on other fields.
    let c = Criteria::new()
        .with_filter(filter(json!({"parity": "even"})))
        .with_sort(SortKey::new("i", Direction::Descending))
        .with_fields(["time"]);
    assert_eq!(
        c.apply(numbered(3), "time"),
        vec![
            obj(json!({"time": "2026-11-23T18:00:02Z"})),
            obj(json!({"time": "2026-11-23T18:00:00Z"}))
        ]
    );
}

fn at(s: &str) -> DateTime<Utc> {
    parse_datetime(s).unwrap()
}

#[test]
fn after_is_inclusive_and_before_is_exclusive() {
    let c = Criteria::new()
        .with_after(at("2026-11-23T18:00:02Z"))
        .with_before(at("2026-11-23T18:00:05Z"));
    assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![2, 3, 4]);
    let c = Criteria::new().with_after(at("2026-11-23T18:00:08Z"));
    assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![8, 9]);
    let c = Criteria::new().with_before(at("2026-11-23T18:00:02Z"));
    assert_eq!(indexes(&c.apply(numbered(10), "time")), vec![0, 1]);
    // Other spellings of the instant are read as instants.
    let c = Criteria::new().with_after(at("2026-11-23"));
    assert!(c.matches(&obj(json!({"time": "2026-11-23T00:00:00+00:00"})), "time"));
    assert!(!c.matches(&obj(json!({"time": "2026-11-22T23:59:59.9Z"})), "time"));
}

#[test]
fn window_uses_the_named_time_field_and_drops_unreadable_times() {
    let c = Criteria::new().with_after(at("2012-07-06T15:49:12Z"));
    assert!(!c.matches(&obj(sync_event()), "started"));
    assert!(c.matches(&obj(sync_event()), "completed"));
    assert!(!c.matches(&obj(sync_event()), "missing"));
    assert!(!c.matches(&obj(sync_event()), "repo_id"));
    assert!(!c.matches(&obj(sync_event()), "added_count"));
    assert!(!c.matches(&obj(sync_event()), "url"));
    // Without a window the time field is not read at all.
    assert!(Criteria::new().matches(&obj(sync_event()), "missing"));
}

#[test]
fn matches_combines_filter_and_window() {
    let c = Criteria::new()
        .with_filter(filter(json!({"result": "success"})))
        .with_before(at("2013-01-01"));
    assert!(c.matches(&obj(sync_event()), "started"));
    let mut failed = obj(sync_event());
    failed.insert("result".into(), json!("failed"));
    assert!(!c.matches(&failed, "started"));
    let late = Criteria {
        before: Some(at("2012-01-01")),
        ..c
    };
    assert!(!late.matches(&obj(sync_event()), "started"));
}

#[test]
fn criteria_fields_can_be_set_directly() {
    let c = Criteria {
        filter: Some(filter(json!({"parity": "even"}))),
        sort: vec!["i,descending".parse().unwrap()],
        skip: 1,
        limit: Some(2),
        fields: Some(vec!["i".into()]),
        after: Some(at("2026-11-23T18:00:01Z")),
        before: None,
    };
    assert_eq!(
        c.apply(numbered(10), "time"),
        vec![obj(json!({"i": 6})), obj(json!({"i": 4}))]
    );
}
