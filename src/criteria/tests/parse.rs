//! Tests of `parse.rs`: what a malformed filter is reported as.

use super::*;

#[test]
fn unknown_operators_are_named() {
    let e = error(json!({"result": {"$foo": 1}}));
    assert!(e.contains("$foo") && e.contains("\"result\""), "{e}");
    let e = error(json!({"$where": "1"}));
    assert!(e.contains("$where") && e.contains("top level"), "{e}");
    let e = error(json!({"n": {"$not": {"$size": 1}}}));
    assert!(e.contains("$size") && e.contains("\"n\""), "{e}");
    assert!(matches!(
        Filter::from_json(&json!({"a": {"$bar": 1}})),
        Err(CriteriaError::UnknownOperator { .. })
    ));
}

#[test]
fn bad_regex_is_reported_at_parse_time() {
    let e = error(json!({"repo_id": {"$regex": "pulp-("}}));
    assert!(
        e.contains("pulp-(") && e.contains("repo_id") && e.contains("does not compile"),
        "{e}"
    );
    let e = error(json!({"repo_id": {"$not": "(?<=x)y"}}));
    assert!(e.contains("does not compile"), "{e}");
    let e = error(json!({"repo_id": {"$regex": 5}}));
    assert!(e.contains("$regex") && e.contains("a number"), "{e}");
}

#[test]
fn bad_options_are_reported() {
    let e = error(json!({"r": {"$regex": "a", "$options": "ig"}}));
    assert!(
        e.contains("$options") && e.contains("'g'") && e.contains("\"r\""),
        "{e}"
    );
    let e = error(json!({"r": {"$regex": "a", "$options": 1}}));
    assert!(e.contains("$options") && e.contains("a number"), "{e}");
    let e = error(json!({"r": {"$options": "i"}}));
    assert!(e.contains("$options") && e.contains("$regex"), "{e}");
}

#[test]
fn in_and_nin_need_arrays() {
    let e = error(json!({"result": {"$in": "failed"}}));
    assert!(
        e.contains("$in")
            && e.contains("\"result\"")
            && e.contains("array")
            && e.contains("a string"),
        "{e}"
    );
    let e = error(json!({"result": {"$nin": {"a": 1}}}));
    assert!(e.contains("$nin") && e.contains("an object"), "{e}");
}

#[test]
fn and_or_nor_need_non_empty_arrays_of_objects() {
    let e = error(json!({"$and": {"a": 1}}));
    assert!(
        e.contains("$and") && e.contains("array") && e.contains("an object"),
        "{e}"
    );
    let e = error(json!({"$or": []}));
    assert!(e.contains("$or") && e.contains("empty"), "{e}");
    let e = error(json!({"$nor": "x"}));
    assert!(e.contains("$nor"), "{e}");
    let e = error(json!({"$or": [{"a": 1}, "b"]}));
    assert!(
        e.contains("element 1 of $or") && e.contains("a string"),
        "{e}"
    );
    let e = error(json!({"$and": [{"$or": [{"a": {"$in": 3}}]}]}));
    assert!(e.contains("$in") && e.contains("\"a\""), "{e}");
}

#[test]
fn exists_needs_a_boolean() {
    let e = error(json!({"url": {"$exists": 1}}));
    assert!(
        e.contains("$exists") && e.contains("\"url\"") && e.contains("true or false"),
        "{e}"
    );
    let e = error(json!({"url": {"$exists": "true"}}));
    assert!(e.contains("a string"), "{e}");
}

#[test]
fn not_needs_operators_or_a_pattern() {
    let e = error(json!({"a": {"$not": 5}}));
    assert!(
        e.contains("$not") && e.contains("\"a\"") && e.contains("a number"),
        "{e}"
    );
    let e = error(json!({"a": {"$not": {}}}));
    assert!(e.contains("$not") && e.contains("at least one"), "{e}");
    let e = error(json!({"a": {"$not": {"b": 1}}}));
    assert!(e.contains("$not") && e.contains("plain keys"), "{e}");
}

#[test]
fn operators_cannot_mix_with_plain_keys() {
    let e = error(json!({"a": {"$gt": 1, "b": 2}}));
    assert!(
        e.contains("$gt") && e.contains("\"b\"") && e.contains("\"a\""),
        "{e}"
    );
}

#[test]
fn top_level_must_be_an_object() {
    for (json, kind) in [
        (json!([]), "an array"),
        (json!("x"), "a string"),
        (json!(null), "null"),
        (json!(3), "a number"),
    ] {
        let e = error(json);
        assert!(
            e.contains("the filter must be a JSON object") && e.contains(kind),
            "{e}"
        );
    }
}

#[test]
fn filter_text_must_be_json() {
    let e = "{result: 1}".parse::<Filter>().unwrap_err();
    assert!(matches!(e, CriteriaError::Json { .. }));
    assert!(e.to_string().contains("not valid JSON"), "{e}");
    assert!("".parse::<Filter>().is_err());
    let f: Filter = r#"{"result": "failed"}"#.parse().unwrap();
    assert!(f.matches(&obj(json!({"result": "failed"}))));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let mut deep = json!({"a": 1});
    for _ in 0..(MAX_FILTER_DEPTH + 5) {
        deep = json!({"$and": [deep]});
    }
    assert!(error(deep).contains("levels deep"));
    let mut deep_not = json!({"$eq": 1});
    for _ in 0..(MAX_FILTER_DEPTH + 5) {
        deep_not = json!({"$not": deep_not});
    }
    assert!(error(json!({"a": deep_not})).contains("levels deep"));
    let mut ok = json!({"a": 1});
    for _ in 0..10 {
        ok = json!({"$or": [ok]});
    }
    assert!(hits(ok, json!({"a": 1})));
}

#[test]
fn odd_inputs_never_panic() {
    let docs = [
        json!({"": ""}),
        json!({"a": {"$regex": "", "$options": ""}}),
        json!({"a": {"$in": [[], {}, null, 1.5, "x"]}}),
        json!({"a": {"$gt": []}}),
        json!({"a": {"$lt": {}}}),
        json!({"a": {"$eq": [1, [2]]}}),
        json!({"a": {"$regex": "\\p{Greek}+", "$options": "ixsm"}}),
        json!({"$and": [{}]}),
    ];
    let objects = [
        json!({}),
        json!({"a": null}),
        json!({"a": [[1], {"b": 2}, null, "x"]}),
        json!({"a": "2012-07-06"}),
        json!({"a": u64::MAX}),
        json!({"a": -1.5e300}),
        json!({"a": {"$gt": 1}}),
    ];
    for doc in &docs {
        let f = filter(doc.clone());
        for o in &objects {
            let _ = f.matches(o.as_object().unwrap());
        }
    }
    for text in [
        "{",
        "[",
        "null",
        "{\"a\":",
        "\u{0}",
        "{\"$\":1}",
        "{\"a\":{\"$\":1}}",
    ] {
        assert!(text.parse::<Filter>().is_err(), "{text}");
    }
}
