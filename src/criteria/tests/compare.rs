//! Tests of `compare.rs`: how values compare in a filter.

use super::*;

#[test]
fn timestamps_compare_as_instants() {
    let e = sync_event();
    assert!(hits(
        json!({"started": "2012-07-06T15:49:11+00:00"}),
        e.clone()
    ));
    assert!(hits(
        json!({"started": "2012-07-06T15:49:11.000Z"}),
        e.clone()
    ));
    assert!(hits(
        json!({"started": {"$in": ["2012-07-06T15:49:11+0000"]}}),
        e.clone()
    ));
    assert!(!hits(
        json!({"started": {"$ne": "2012-07-06T15:49:11-00:00"}}),
        e.clone()
    ));
    assert!(hits(json!({"started": {"$gt": "2012-07-06"}}), e.clone()));
    assert!(!hits(json!({"started": {"$gt": "2012-07-07"}}), e.clone()));
    assert!(hits(
        json!({"started": {"$lt": "2012-07-06T15:50Z"}}),
        e.clone()
    ));
    // Text order would say "...15:49:11Z" > "...15:49:11.5Z"; instants disagree.
    assert!(hits(
        json!({"started": {"$lt": "2012-07-06T15:49:11.5Z"}}),
        e.clone()
    ));
    assert!(hits(
        json!({"completed": {"$gte": "2012-07-06T15:49:14+00:00"}}),
        e.clone()
    ));
    // A date alone is midnight.
    assert!(hits(
        json!({"d": "2012-07-06"}),
        json!({"d": "2012-07-06T00:00:00Z"})
    ));
    assert!(hits(
        json!({"started": {"$gt": "2012-07-06", "$lt": "2012-07-07"}}),
        e
    ));
}

#[test]
fn a_timestamp_and_other_text_compare_lexically() {
    let e = json!({"s": "2012-07-06 later"});
    assert!(hits(json!({"s": {"$gt": "2012-07-06"}}), e.clone()));
    assert!(!hits(json!({"s": "2012-07-06"}), e.clone()));
    // Invalid dates are just text.
    assert!(hits(
        json!({"s": {"$gt": "2012-13-01"}}),
        json!({"s": "2012-14-01"})
    ));
    assert!(!hits(
        json!({"s": "2012-13-01T00:00Z"}),
        json!({"s": "2012-13-01T00:00:00Z"})
    ));
}

#[test]
fn numbers_compare_by_value_across_kinds() {
    assert!(hits(json!({"n": 1}), json!({"n": 1.0})));
    assert!(hits(json!({"n": 1.0}), json!({"n": 1})));
    assert!(hits(json!({"n": {"$gt": 1}}), json!({"n": 1.5})));
    assert!(hits(json!({"n": {"$lt": 2}}), json!({"n": 1.5})));
    assert!(hits(json!({"n": {"$lt": -1.5}}), json!({"n": -2})));
    assert!(hits(json!({"n": {"$gt": -2.5}}), json!({"n": -2})));
    assert!(hits(json!({"n": {"$gt": -1}}), json!({"n": u64::MAX})));
    assert!(hits(
        json!({"n": {"$lt": u64::MAX}}),
        json!({"n": i64::MIN})
    ));
    assert!(hits(
        json!({"n": {"$gt": i64::MAX}}),
        json!({"n": u64::MAX})
    ));
    assert!(!hits(json!({"n": u64::MAX}), json!({"n": u64::MAX - 1})));
    // u64::MAX as f64 rounds to 2^64, which is greater.
    assert!(hits(
        json!({"n": {"$lt": 1.8446744073709552e19}}),
        json!({"n": u64::MAX})
    ));
    assert!(hits(json!({"n": {"$lt": 1e300}}), json!({"n": u64::MAX})));
    assert!(hits(json!({"n": {"$gt": -1e300}}), json!({"n": i64::MIN})));
    assert!(hits(json!({"n": 0.0}), json!({"n": -0.0})));
}

#[test]
fn different_kinds_never_compare() {
    assert!(!hits(json!({"n": "5"}), json!({"n": 5})));
    assert!(!hits(json!({"n": 5}), json!({"n": "5"})));
    assert!(!hits(json!({"n": {"$gt": "3"}}), json!({"n": 5})));
    assert!(!hits(json!({"n": {"$lt": "3"}}), json!({"n": 5})));
    assert!(!hits(json!({"n": {"$gte": 3}}), json!({"n": "5"})));
    assert!(!hits(json!({"b": true}), json!({"b": 1})));
    assert!(!hits(json!({"b": {"$gte": false}}), json!({"b": 0})));
    assert!(hits(json!({"n": {"$ne": "5"}}), json!({"n": 5})));
}

#[test]
fn booleans_and_objects_compare_for_equality() {
    assert!(hits(json!({"ok": true}), json!({"ok": true})));
    assert!(!hits(json!({"ok": true}), json!({"ok": false})));
    assert!(hits(json!({"o": {"a": 1}}), json!({"o": {"a": 1}})));
    assert!(!hits(json!({"o": {"a": 1}}), json!({"o": {"a": 2}})));
    assert!(hits(json!({"o": {}}), json!({"o": {}})));
}
