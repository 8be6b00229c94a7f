//! Tests of `filter.rs`: combining filters, formatting and serde.

use super::*;

#[test]
fn and_and_all_combine_filters() {
    let a = filter(json!({"type": "build-chroot-ended"}));
    let b = filter(json!({"status": "failed"}));
    let both = a.clone().and(b.clone());
    assert_eq!(
        both.as_json(),
        &json!({"$and": [{"type": "build-chroot-ended"}, {"status": "failed"}]})
    );
    assert!(!both.matches(&obj(build_event())));
    assert!(both.matches(&obj(
        json!({"type": "build-chroot-ended", "status": "failed"})
    )));
    assert_eq!(Filter::all([]), None);
    assert_eq!(Filter::all([a.clone()]), Some(a.clone()));
    let all = Filter::all([a, b]).unwrap();
    assert_eq!(all, both);
    // The combined JSON parses back to an equivalent filter.
    assert_eq!(Filter::from_json(all.as_json()).unwrap(), all);
}

#[test]
fn serde_round_trip_and_display() {
    let f = filter(json!({"added_count": {"$gte": 1}}));
    assert_eq!(f.to_string(), r#"{"added_count":{"$gte":1}}"#);
    assert_eq!(format!("{f:?}"), r#"Filter({"added_count":{"$gte":1}})"#);
    let text = serde_json::to_string(&f).unwrap();
    let back: Filter = serde_json::from_str(&text).unwrap();
    assert_eq!(back, f);
    let bad = serde_json::from_str::<Filter>(r#"{"a": {"$in": 1}}"#).unwrap_err();
    assert!(bad.to_string().contains("$in"), "{bad}");
}
