//! Tests of `sort.rs`: sort keys and the order of values.

use std::cmp::Ordering;

use super::*;

fn field_values(objects: &[Map<String, Value>], field: &str) -> Vec<Value> {
    objects
        .iter()
        .map(|o| o.get(field).cloned().unwrap_or(json!("<missing>")))
        .collect()
}

#[test]
fn sort_key_parsing() {
    assert_eq!(
        "started".parse::<SortKey>().unwrap(),
        SortKey::new("started", Direction::Ascending)
    );
    assert_eq!(
        "started,ascending".parse::<SortKey>().unwrap(),
        SortKey::new("started", Direction::Ascending)
    );
    assert_eq!(
        " started , descending ".parse::<SortKey>().unwrap(),
        SortKey::new("started", Direction::Descending)
    );
    for (bad, needle) in [
        ("started,up", "\"up\""),
        ("started,", "\"\""),
        ("started,Descending", "\"Descending\""),
        ("a,b,descending", "\"b,descending\""),
        ("", "field name is empty"),
        (",descending", "field name is empty"),
    ] {
        let e = bad.parse::<SortKey>().unwrap_err();
        assert!(matches!(e, CriteriaError::InvalidSort { .. }));
        let e = e.to_string();
        assert!(e.contains("--sort") && e.contains(needle), "{bad}: {e}");
    }
    let key = SortKey::new("started", Direction::Descending);
    assert_eq!(key.to_string().parse::<SortKey>().unwrap(), key);
    assert_eq!(
        "descending".parse::<Direction>().unwrap(),
        Direction::Descending
    );
    assert!("down".parse::<Direction>().is_err());
}

#[test]
fn sort_ascending_and_descending() {
    let mut v: Vec<_> = [3, 1, 2].iter().map(|n| obj(json!({"n": n}))).collect();
    sort_objects(&mut v, &[SortKey::new("n", Direction::Ascending)]);
    assert_eq!(field_values(&v, "n"), vec![json!(1), json!(2), json!(3)]);
    sort_objects(&mut v, &[SortKey::new("n", Direction::Descending)]);
    assert_eq!(field_values(&v, "n"), vec![json!(3), json!(2), json!(1)]);
}

#[test]
fn sort_multiple_keys_first_is_primary() {
    let mut v = vec![
        obj(json!({"repo": "b", "n": 1, "i": 0})),
        obj(json!({"repo": "a", "n": 1, "i": 1})),
        obj(json!({"repo": "b", "n": 2, "i": 2})),
        obj(json!({"repo": "a", "n": 3, "i": 3})),
    ];
    sort_objects(
        &mut v,
        &[
            SortKey::new("repo", Direction::Ascending),
            SortKey::new("n", Direction::Descending),
        ],
    );
    assert_eq!(
        field_values(&v, "i"),
        vec![json!(3), json!(1), json!(2), json!(0)]
    );
    sort_objects(
        &mut v,
        &[
            SortKey::new("n", Direction::Ascending),
            SortKey::new("repo", Direction::Descending),
        ],
    );
    assert_eq!(
        field_values(&v, "i"),
        vec![json!(0), json!(1), json!(2), json!(3)]
    );
}

#[test]
fn sort_is_stable() {
    let mut v: Vec<_> = (0..20).map(|i| obj(json!({"k": i % 3, "i": i}))).collect();
    sort_objects(&mut v, &[SortKey::new("k", Direction::Descending)]);
    let order: Vec<i64> = v.iter().map(|o| o["i"].as_i64().unwrap()).collect();
    let mut expected: Vec<i64> = (0..20).filter(|i| i % 3 == 2).collect();
    expected.extend((0..20).filter(|i| i % 3 == 1));
    expected.extend((0..20).filter(|i| i % 3 == 0));
    assert_eq!(order, expected);
    // No keys: untouched.
    let before = v.clone();
    sort_objects(&mut v, &[]);
    assert_eq!(v, before);
}

#[test]
fn sort_orders_kinds() {
    let values = [
        json!(true),
        json!("zebra"),
        json!(["a"]),
        json!("2012-07-06T15:49:11Z"),
        json!(2.5),
        json!(null),
        json!({"o": 1}),
        json!(false),
        json!(-7),
        json!("Apple"),
        json!("2012-07-06"),
    ];
    let mut v: Vec<_> = values.iter().map(|x| obj(json!({"f": x}))).collect();
    v.push(obj(json!({"other": 1})));
    sort_objects(&mut v, &[SortKey::new("f", Direction::Ascending)]);
    assert_eq!(
        field_values(&v, "f"),
        vec![
            json!(null),
            json!("<missing>"),
            json!(-7),
            json!(2.5),
            json!("2012-07-06"),
            json!("2012-07-06T15:49:11Z"),
            json!("Apple"),
            json!("zebra"),
            json!({"o": 1}),
            json!(["a"]),
            json!(false),
            json!(true),
        ]
    );
    sort_objects(&mut v, &[SortKey::new("f", Direction::Descending)]);
    let desc = field_values(&v, "f");
    assert_eq!(desc.first(), Some(&json!(true)));
    assert_eq!(&desc[10..], &[json!(null), json!("<missing>")]);
}

#[test]
fn sort_compares_timestamps_as_instants() {
    let mut v = vec![
        obj(json!({"t": "2012-07-06T15:49:11.5Z"})),
        obj(json!({"t": "2012-07-06T15:49:12+00:00"})),
        obj(json!({"t": "2012-07-06T15:49:11Z"})),
        obj(json!({"t": "2012-07-06T15:49Z"})),
    ];
    sort_objects(&mut v, &[SortKey::new("t", Direction::Ascending)]);
    assert_eq!(
        field_values(&v, "t"),
        vec![
            json!("2012-07-06T15:49Z"),
            json!("2012-07-06T15:49:11Z"),
            json!("2012-07-06T15:49:11.5Z"),
            json!("2012-07-06T15:49:12+00:00"),
        ]
    );
}

#[test]
fn sort_compares_numbers_across_kinds() {
    let mut v: Vec<_> = [
        json!(u64::MAX),
        json!(1.5),
        json!(-3),
        json!(1),
        json!(i64::MIN),
        json!(1e300),
    ]
    .iter()
    .map(|x| obj(json!({"n": x})))
    .collect();
    sort_objects(&mut v, &[SortKey::new("n", Direction::Ascending)]);
    assert_eq!(
        field_values(&v, "n"),
        vec![
            json!(i64::MIN),
            json!(-3),
            json!(1),
            json!(1.5),
            json!(u64::MAX),
            json!(1e300)
        ]
    );
}

#[test]
fn compare_values_is_a_total_order() {
    let samples = [
        None,
        Some(json!(null)),
        Some(json!(0)),
        Some(json!(0.0)),
        Some(json!(-1)),
        Some(json!(u64::MAX)),
        Some(json!(0.5)),
        Some(json!("2012-07-06")),
        Some(json!("2012-07-06T00:00:00Z")),
        Some(json!("2012-07-06 x")),
        Some(json!("2012-07-06T01:00Z")),
        Some(json!("a")),
        Some(json!("")),
        Some(json!([])),
        Some(json!(["a", 1])),
        Some(json!(["a"])),
        Some(json!([1])),
        Some(json!({})),
        Some(json!(true)),
        Some(json!(false)),
    ];
    let values: Vec<Option<&Value>> = samples.iter().map(Option::as_ref).collect();
    for &a in &values {
        assert_eq!(compare_values(a, a), Ordering::Equal);
        for &b in &values {
            let ab = compare_values(a, b);
            assert_eq!(ab, compare_values(b, a).reverse(), "{a:?} {b:?}");
            for &c in &values {
                let bc = compare_values(b, c);
                if ab != Ordering::Greater && bc != Ordering::Greater {
                    assert_ne!(compare_values(a, c), Ordering::Greater, "{a:?} {b:?} {c:?}");
                }
            }
        }
    }
}
