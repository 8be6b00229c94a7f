//! Tests of `matching.rs`: each operator, and arrays, `null` and missing
//! fields.

use super::*;

#[test]
fn implicit_equality() {
    assert!(hits(json!({"result": "success"}), sync_event()));
    assert!(!hits(json!({"result": "failed"}), sync_event()));
    assert!(hits(json!({"build_id": 945012}), build_event()));
    assert!(!hits(json!({"build_id": 945013}), build_event()));
}

#[test]
fn empty_filter_matches_everything() {
    assert!(hits(json!({}), sync_event()));
    assert!(hits(json!({}), json!({})));
}

#[test]
fn eq_operator() {
    assert!(hits(json!({"result": {"$eq": "success"}}), sync_event()));
    assert!(!hits(json!({"result": {"$eq": "failed"}}), sync_event()));
}

#[test]
fn ne_operator() {
    assert!(hits(json!({"result": {"$ne": "failed"}}), sync_event()));
    assert!(!hits(json!({"result": {"$ne": "success"}}), sync_event()));
    // A missing field is "not equal".
    assert!(hits(json!({"nothing": {"$ne": "x"}}), sync_event()));
}

#[test]
fn gt_gte_lt_lte_on_numbers() {
    let e = json!({"n": 5});
    assert!(hits(json!({"n": {"$gt": 4}}), e.clone()));
    assert!(!hits(json!({"n": {"$gt": 5}}), e.clone()));
    assert!(hits(json!({"n": {"$gte": 5}}), e.clone()));
    assert!(!hits(json!({"n": {"$gte": 6}}), e.clone()));
    assert!(hits(json!({"n": {"$lt": 6}}), e.clone()));
    assert!(!hits(json!({"n": {"$lt": 5}}), e.clone()));
    assert!(hits(json!({"n": {"$lte": 5}}), e.clone()));
    assert!(!hits(json!({"n": {"$lte": 4}}), e.clone()));
    // Missing fields are never in a numeric range.
    assert!(!hits(json!({"m": {"$lt": 6}}), e));
}

#[test]
fn range_operators_on_strings_are_lexical() {
    let e = json!({"repo_id": "pulp-f16"});
    assert!(hits(json!({"repo_id": {"$gt": "pulp-f15"}}), e.clone()));
    assert!(!hits(json!({"repo_id": {"$gt": "pulp-f17"}}), e.clone()));
    assert!(hits(json!({"repo_id": {"$lte": "pulp-f16"}}), e.clone()));
    // Byte order: upper case sorts before lower case.
    assert!(hits(json!({"repo_id": {"$gt": "PULP"}}), e));
}

#[test]
fn range_operators_on_booleans() {
    assert!(hits(json!({"b": {"$gt": false}}), json!({"b": true})));
    assert!(!hits(json!({"b": {"$gt": true}}), json!({"b": true})));
}

#[test]
fn in_and_nin() {
    assert!(hits(
        json!({"result": {"$in": ["failed", "success"]}}),
        sync_event()
    ));
    assert!(!hits(
        json!({"result": {"$in": ["failed", "error"]}}),
        sync_event()
    ));
    assert!(!hits(json!({"result": {"$in": []}}), sync_event()));
    assert!(hits(
        json!({"result": {"$nin": ["failed", "error"]}}),
        sync_event()
    ));
    assert!(!hits(
        json!({"result": {"$nin": ["failed", "success"]}}),
        sync_event()
    ));
    assert!(hits(json!({"result": {"$nin": []}}), sync_event()));
    assert!(hits(
        json!({"build_id": {"$in": [1, 945012.0]}}),
        build_event()
    ));
}

#[test]
fn regex_operator() {
    assert!(hits(
        json!({"repo_id": {"$regex": "^pulp-f1[0-9]$"}}),
        sync_event()
    ));
    assert!(!hits(json!({"repo_id": {"$regex": "^epel"}}), sync_event()));
    // Unanchored, like MongoDB.
    assert!(hits(json!({"repo_id": {"$regex": "f16"}}), sync_event()));
    // Non-strings never match.
    assert!(!hits(json!({"build_id": {"$regex": "945"}}), build_event()));
    assert!(!hits(json!({"url": {"$regex": ""}}), sync_event()));
    assert!(!hits(json!({"missing": {"$regex": ""}}), sync_event()));
}

#[test]
fn regex_options() {
    let e = json!({"s": "Line one\nline TWO"});
    assert!(!hits(json!({"s": {"$regex": "two"}}), e.clone()));
    assert!(hits(
        json!({"s": {"$regex": "two", "$options": "i"}}),
        e.clone()
    ));
    assert!(!hits(json!({"s": {"$regex": "^line"}}), e.clone()));
    assert!(hits(
        json!({"s": {"$regex": "^line", "$options": "m"}}),
        e.clone()
    ));
    assert!(!hits(json!({"s": {"$regex": "one.line"}}), e.clone()));
    assert!(hits(
        json!({"s": {"$regex": "one.line", "$options": "s"}}),
        e.clone()
    ));
    assert!(!hits(json!({"s": {"$regex": "L i n e"}}), e.clone()));
    assert!(hits(
        json!({"s": {"$regex": "L i n e", "$options": "x"}}),
        e.clone()
    ));
    // Order of keys does not matter, and options combine.
    assert!(hits(
        json!({"s": {"$options": "im", "$regex": "^LINE two"}}),
        e.clone()
    ));
    assert!(hits(
        json!({"s": {"$regex": "x", "$options": ""}}),
        json!({"s": "x"})
    ));
}

#[test]
fn exists_operator() {
    assert!(hits(json!({"url": {"$exists": true}}), sync_event()));
    assert!(!hits(json!({"url": {"$exists": false}}), sync_event()));
    assert!(hits(json!({"nothing": {"$exists": false}}), sync_event()));
    assert!(!hits(json!({"nothing": {"$exists": true}}), sync_event()));
}

#[test]
fn not_operator_with_operators() {
    assert!(hits(
        json!({"added_count": {"$not": {"$gt": 5}}}),
        sync_event()
    ));
    assert!(!hits(
        json!({"added_count": {"$not": {"$lt": 5}}}),
        sync_event()
    ));
    // $not negates the AND of its operators.
    assert!(hits(
        json!({"added_count": {"$not": {"$gte": 0, "$lt": 0}}}),
        sync_event()
    ));
    // A missing field satisfies $not.
    assert!(hits(json!({"missing": {"$not": {"$gt": 5}}}), sync_event()));
    // Double negation.
    assert!(hits(
        json!({"result": {"$not": {"$not": {"$eq": "success"}}}}),
        sync_event()
    ));
}

#[test]
fn not_operator_with_regex() {
    assert!(hits(json!({"repo_id": {"$not": "^epel"}}), sync_event()));
    assert!(!hits(json!({"repo_id": {"$not": "^pulp"}}), sync_event()));
    assert!(!hits(
        json!({"repo_id": {"$not": {"$regex": "PULP", "$options": "i"}}}),
        sync_event()
    ));
}

#[test]
fn several_operators_on_one_field_are_anded() {
    let f = json!({"added_count": {"$gte": 1, "$lt": 10}});
    assert!(hits(f.clone(), json!({"added_count": 1})));
    assert!(hits(f.clone(), json!({"added_count": 9})));
    assert!(!hits(f.clone(), json!({"added_count": 0})));
    assert!(!hits(f, json!({"added_count": 10})));
}

#[test]
fn several_fields_are_anded() {
    let f = json!({"type": "repo-sync-finished", "result": "success"});
    assert!(hits(f.clone(), sync_event()));
    assert!(!hits(
        f,
        json!({"type": "repo-sync-finished", "result": "failed"})
    ));
}

#[test]
fn and_or_nor_nesting() {
    let f = json!({"$or": [
        {"result": "failed"},
        {"$and": [{"type": "repo-sync-finished"}, {"added_count": {"$lt": 1}}]},
    ]});
    assert!(hits(f.clone(), sync_event()));
    assert!(hits(f.clone(), json!({"result": "failed"})));
    assert!(!hits(
        f.clone(),
        json!({"type": "repo-sync-finished", "added_count": 3})
    ));
    assert!(!hits(
        json!({"$or": [{"a": 1}, {"b": 2}]}),
        json!({"a": 2, "b": 1})
    ));
    assert!(hits(
        json!({"$and": [{"a": 1}, {"b": 2}]}),
        json!({"a": 1, "b": 2})
    ));
    assert!(!hits(
        json!({"$and": [{"a": 1}, {"b": 2}]}),
        json!({"a": 1, "b": 3})
    ));
    assert!(hits(
        json!({"$nor": [{"a": 1}, {"b": 2}]}),
        json!({"a": 2, "b": 3})
    ));
    assert!(!hits(
        json!({"$nor": [{"a": 1}, {"b": 2}]}),
        json!({"a": 2, "b": 2})
    ));
    // $and and $or next to plain fields are AND-ed with them.
    let mixed = json!({"type": "build-chroot-ended", "$or": [{"status": "failed"}, {"build_id": {"$gt": 900000}}]});
    assert!(hits(mixed.clone(), build_event()));
    assert!(!hits(mixed, sync_event()));
    // $not inside $or inside $and.
    let deep =
        json!({"$and": [{"$or": [{"chroot": {"$not": "rawhide"}}, {"usernames": "churchyard"}]}]});
    assert!(hits(deep.clone(), build_event()));
    assert!(!hits(
        deep,
        json!({"chroot": "fedora-rawhide-aarch64", "usernames": []})
    ));
}

// --- arrays, null, missing ---------------------------------------------

#[test]
fn arrays_match_if_any_element_does() {
    let e = build_event();
    assert!(hits(json!({"usernames": "churchyard"}), e.clone()));
    assert!(hits(json!({"usernames": {"$eq": "frostyx"}}), e.clone()));
    assert!(!hits(json!({"usernames": "praiskup"}), e.clone()));
    assert!(hits(
        json!({"usernames": {"$in": ["praiskup", "frostyx"]}}),
        e.clone()
    ));
    assert!(!hits(
        json!({"usernames": {"$in": ["praiskup"]}}),
        e.clone()
    ));
    assert!(hits(json!({"usernames": {"$regex": "^church"}}), e.clone()));
    assert!(hits(json!({"usernames": {"$gt": "d"}}), e.clone()));
    assert!(!hits(json!({"usernames": {"$gt": "g"}}), e.clone()));
    // Negations need every element to differ.
    assert!(!hits(
        json!({"usernames": {"$ne": "churchyard"}}),
        e.clone()
    ));
    assert!(hits(json!({"usernames": {"$ne": "praiskup"}}), e.clone()));
    assert!(!hits(
        json!({"usernames": {"$nin": ["churchyard"]}}),
        e.clone()
    ));
    assert!(!hits(json!({"usernames": {"$not": "^frost"}}), e.clone()));
    // A whole array matches an equal array operand, in order.
    assert!(hits(
        json!({"usernames": ["churchyard", "frostyx"]}),
        e.clone()
    ));
    assert!(!hits(
        json!({"usernames": ["frostyx", "churchyard"]}),
        e.clone()
    ));
    assert!(!hits(json!({"usernames": ["churchyard"]}), e));
    // An empty array matches only an empty-array operand.
    assert!(hits(json!({"usernames": []}), sync_event()));
    assert!(!hits(json!({"usernames": "x"}), sync_event()));
    assert!(!hits(json!({"usernames": {"$regex": ""}}), sync_event()));
}

#[test]
fn null_matches_null_and_missing() {
    assert!(hits(json!({"url": null}), sync_event()));
    assert!(hits(json!({"agent_name": null}), sync_event()));
    assert!(!hits(json!({"repo_id": null}), sync_event()));
    assert!(hits(json!({"url": {"$eq": null}}), sync_event()));
    assert!(hits(json!({"agent_name": {"$in": [null]}}), sync_event()));
    assert!(hits(json!({"l": null}), json!({"l": ["a", null]})));
    // $ne null means "present and not null".
    assert!(!hits(json!({"url": {"$ne": null}}), sync_event()));
    assert!(!hits(json!({"agent_name": {"$ne": null}}), sync_event()));
    assert!(hits(json!({"repo_id": {"$ne": null}}), sync_event()));
    assert!(!hits(json!({"agent_name": {"$nin": [null]}}), sync_event()));
    // A missing field is not equal to anything but null.
    assert!(!hits(json!({"agent_name": "x"}), sync_event()));
    assert!(!hits(json!({"agent_name": ""}), sync_event()));
}

#[test]
fn null_in_range_operators() {
    assert!(hits(json!({"url": {"$gte": null}}), sync_event()));
    assert!(hits(json!({"agent_name": {"$lte": null}}), sync_event()));
    assert!(!hits(json!({"url": {"$gt": null}}), sync_event()));
    assert!(!hits(json!({"url": {"$lt": null}}), sync_event()));
    assert!(!hits(json!({"repo_id": {"$gte": null}}), sync_event()));
    assert!(!hits(json!({"url": {"$gte": 0}}), sync_event()));
}

#[test]
fn dotted_names_are_literal_keys() {
    assert!(hits(json!({"a.b": 1}), json!({"a.b": 1})));
    assert!(!hits(json!({"a.b": 1}), json!({"a": {"b": 1}})));
}
