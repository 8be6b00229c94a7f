//! Tests of `pushdown.rs`: which fields a filter pins.

use super::*;

#[test]
fn equality_on_reports_pinned_values() {
    let f =
        filter(json!({"type": "build-chroot-ended", "chroot": {"$eq": "fedora-rawhide-x86_64"}}));
    assert_eq!(f.equality_on("type"), Some(&json!("build-chroot-ended")));
    assert_eq!(
        f.equality_on("chroot"),
        Some(&json!("fedora-rawhide-x86_64"))
    );
    assert_eq!(f.equality_on("status"), None);
    let f = filter(
        json!({"$and": [{"repo_id": "pulp-f16"}, {"$and": [{"project_owner": {"$in": ["@python"]}}]}]}),
    );
    assert_eq!(f.equality_on("repo_id"), Some(&json!("pulp-f16")));
    assert_eq!(f.equality_on("project_owner"), Some(&json!("@python")));
    let f = filter(json!({"build_id": {"$gt": 1, "$eq": 945012}}));
    assert_eq!(f.equality_on("build_id"), Some(&json!(945012)));
}

#[test]
fn equality_on_ignores_what_does_not_pin() {
    for doc in [
        json!({"$or": [{"type": "a"}]}),
        json!({"$or": [{"type": "a"}, {"type": "a"}]}),
        json!({"$nor": [{"type": "a"}]}),
        json!({"type": {"$not": {"$eq": "a"}}}),
        json!({"type": {"$in": ["a", "b"]}}),
        json!({"type": {"$in": []}}),
        json!({"type": {"$ne": "a"}}),
        json!({"type": {"$regex": "^a$"}}),
        json!({"type": {"$gte": "a", "$lte": "a"}}),
        json!({"type": null}),
        json!({"type": ["a"]}),
        json!({"type": {"a": 1}}),
        json!({"type": "2012-07-06"}),
        json!({"$and": [{"$or": [{"type": "a"}]}]}),
    ] {
        let f = filter(doc.clone());
        assert_eq!(f.equality_on("type"), None, "{doc}");
        assert!(f.pinned_equalities().is_empty(), "{doc}");
    }
}

#[test]
fn pinned_equalities_lists_fields_once_in_order() {
    let f = filter(json!({
        "type": "build-chroot-ended",
        "$and": [{"project_owner": "@python"}, {"type": "other"}],
        "$or": [{"chroot": "x"}],
        "build_id": {"$in": [7]},
    }));
    assert_eq!(
        f.pinned_equalities(),
        vec![
            ("type".to_owned(), json!("build-chroot-ended")),
            ("project_owner".to_owned(), json!("@python")),
            ("build_id".to_owned(), json!(7)),
        ]
    );
    let combined = filter(json!({"a": "1"})).and(filter(json!({"b": "2"})));
    assert_eq!(combined.pinned_equalities().len(), 2);
}
