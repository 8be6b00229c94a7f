//! Tests of `flags.rs`: each `pulp-admin` flag, alone and together.

use super::*;

fn flag(f: FilterFlag, arg: &str) -> Value {
    f.clause(arg).unwrap_or_else(|e| panic!("{arg}: {e}"))
}

fn flag_error(f: FilterFlag, arg: &str) -> String {
    f.to_filter(arg).unwrap_err().to_string()
}

#[test]
fn str_eq_flag() {
    assert_eq!(
        flag(FilterFlag::StrEq, "result=failed"),
        json!({"result": "failed"})
    );
    // Only the first '=' splits; the value may be empty or contain '='.
    assert_eq!(
        flag(FilterFlag::StrEq, "summary=a=b"),
        json!({"summary": "a=b"})
    );
    assert_eq!(flag(FilterFlag::StrEq, "summary="), json!({"summary": ""}));
    // Numbers stay strings.
    assert_eq!(
        flag(FilterFlag::StrEq, "build_id=5"),
        json!({"build_id": "5"})
    );
    let f = FilterFlag::StrEq.to_filter("status=succeeded").unwrap();
    assert!(f.matches(&obj(build_event())));
}

#[test]
fn int_eq_flag() {
    assert_eq!(
        flag(FilterFlag::IntEq, "build_id=945012"),
        json!({"build_id": 945012})
    );
    assert_eq!(flag(FilterFlag::IntEq, "n=-3"), json!({"n": -3}));
    assert_eq!(
        flag(FilterFlag::IntEq, "n=18446744073709551615"),
        json!({"n": u64::MAX})
    );
    assert!(FilterFlag::IntEq
        .to_filter("build_id=945012")
        .unwrap()
        .matches(&obj(build_event())));
    for bad in [
        "n=1.5",
        "n=abc",
        "n=",
        "n=1e3",
        "n= 1",
        "n=99999999999999999999",
    ] {
        let e = flag_error(FilterFlag::IntEq, bad);
        assert!(
            e.contains("--int-eq") && e.contains("is not an integer"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn match_flag() {
    assert_eq!(
        flag(FilterFlag::Match, "repo_id=^pulp-"),
        json!({"repo_id": {"$regex": "^pulp-"}})
    );
    let f = FilterFlag::Match.to_filter("chroot=rawhide").unwrap();
    assert!(f.matches(&obj(build_event())));
    let e = flag_error(FilterFlag::Match, "repo_id=pulp-(");
    assert!(
        e.contains("--match") && e.contains("does not compile"),
        "{e}"
    );
}

#[test]
fn not_flag() {
    assert_eq!(
        flag(FilterFlag::Not, "repo_id=^epel"),
        json!({"repo_id": {"$not": {"$regex": "^epel"}}})
    );
    let f = FilterFlag::Not.to_filter("chroot=rawhide").unwrap();
    assert!(!f.matches(&obj(build_event())));
    assert!(f.matches(&obj(sync_event())));
    let e = flag_error(FilterFlag::Not, "repo_id=[");
    assert!(e.contains("--not") && e.contains("does not compile"), "{e}");
}

#[test]
fn in_flag_reads_one_csv_row() {
    assert_eq!(
        flag(FilterFlag::In, "status=failed,succeeded"),
        json!({"status": {"$in": ["failed", "succeeded"]}})
    );
    assert_eq!(
        flag(FilterFlag::In, "s=one"),
        json!({"s": {"$in": ["one"]}})
    );
    assert_eq!(
        flag(FilterFlag::In, r#"s="a,b",c"#),
        json!({"s": {"$in": ["a,b", "c"]}})
    );
    assert_eq!(
        flag(FilterFlag::In, r#"s="say ""hi""",x"#),
        json!({"s": {"$in": ["say \"hi\"", "x"]}})
    );
    assert_eq!(
        flag(FilterFlag::In, r#"s="""""#),
        json!({"s": {"$in": ["\""]}})
    );
    assert_eq!(
        flag(FilterFlag::In, r#"s="",x"#),
        json!({"s": {"$in": ["", "x"]}})
    );
    assert_eq!(
        flag(FilterFlag::In, "s=a,"),
        json!({"s": {"$in": ["a", ""]}})
    );
    assert_eq!(flag(FilterFlag::In, "s="), json!({"s": {"$in": [""]}}));
    assert_eq!(
        flag(FilterFlag::In, "s=a, b"),
        json!({"s": {"$in": ["a", " b"]}})
    );
    // A quote inside an unquoted value is literal.
    assert_eq!(
        flag(FilterFlag::In, r#"s=a"b,c"#),
        json!({"s": {"$in": ["a\"b", "c"]}})
    );
    let e = flag_error(FilterFlag::In, r#"s="abc"#);
    assert!(e.contains("--in") && e.contains("no closing"), "{e}");
    let e = flag_error(FilterFlag::In, r#"s="ab"c,d"#);
    assert!(e.contains("--in") && e.contains("after the closing"), "{e}");
    let f = FilterFlag::In
        .to_filter(r#"usernames=praiskup,"churchyard""#)
        .unwrap();
    assert!(f.matches(&obj(build_event())));
}

#[test]
fn range_flags_type_their_values() {
    assert_eq!(
        flag(FilterFlag::Gt, "added_count=3"),
        json!({"added_count": {"$gt": 3}})
    );
    assert_eq!(
        flag(FilterFlag::Gte, "x=-1.5"),
        json!({"x": {"$gte": -1.5}})
    );
    assert_eq!(flag(FilterFlag::Lt, "x=1e3"), json!({"x": {"$lt": 1000.0}}));
    assert_eq!(flag(FilterFlag::Lte, "x=01"), json!({"x": {"$lte": "01"}}));
    assert_eq!(flag(FilterFlag::Lte, "x= 1"), json!({"x": {"$lte": " 1"}}));
    assert_eq!(
        flag(FilterFlag::Gt, "x=1.5.2"),
        json!({"x": {"$gt": "1.5.2"}})
    );
    assert_eq!(flag(FilterFlag::Gt, "x=-"), json!({"x": {"$gt": "-"}}));
    assert_eq!(flag(FilterFlag::Gt, "x="), json!({"x": {"$gt": ""}}));
    assert_eq!(
        flag(FilterFlag::Gt, "repo_id=pulp"),
        json!({"repo_id": {"$gt": "pulp"}})
    );
    assert_eq!(
        flag(FilterFlag::Gte, "started=2012-07-06"),
        json!({"started": {"$gte": "2012-07-06"}})
    );
    let e = obj(sync_event());
    // Number.
    assert!(FilterFlag::Gte
        .to_filter("duration_seconds=3")
        .unwrap()
        .matches(&e));
    assert!(!FilterFlag::Gt
        .to_filter("duration_seconds=3")
        .unwrap()
        .matches(&e));
    assert!(FilterFlag::Lt
        .to_filter("duration_seconds=10")
        .unwrap()
        .matches(&e));
    // Timestamp, compared as an instant.
    assert!(FilterFlag::Gt
        .to_filter("started=2012-07-06")
        .unwrap()
        .matches(&e));
    assert!(FilterFlag::Lte
        .to_filter("started=2012-07-06T15:49:11+00:00")
        .unwrap()
        .matches(&e));
    assert!(!FilterFlag::Lt
        .to_filter("started=2012-07-06T15:49:11+00:00")
        .unwrap()
        .matches(&e));
    // Text.
    assert!(FilterFlag::Gt
        .to_filter("repo_id=pulp-f15")
        .unwrap()
        .matches(&e));
    assert!(!FilterFlag::Lt
        .to_filter("repo_id=pulp-f15")
        .unwrap()
        .matches(&e));
    // A numeric value never matches a string field.
    assert!(!FilterFlag::Gt.to_filter("repo_id=1").unwrap().matches(&e));
}

#[test]
fn malformed_flag_arguments_name_the_flag() {
    for f in [
        FilterFlag::StrEq,
        FilterFlag::IntEq,
        FilterFlag::Match,
        FilterFlag::In,
        FilterFlag::Not,
        FilterFlag::Gt,
        FilterFlag::Gte,
        FilterFlag::Lt,
        FilterFlag::Lte,
    ] {
        let e = flag_error(f, "result");
        assert!(e.contains(f.flag()) && e.contains("FIELD=VALUE"), "{e}");
        let e = flag_error(f, "=failed");
        assert!(e.contains(f.flag()) && e.contains("field name"), "{e}");
        let e = flag_error(f, "$or=1");
        assert!(e.contains(f.flag()) && e.contains("'$'"), "{e}");
        assert!(matches!(
            f.clause(""),
            Err(CriteriaError::InvalidFlag { .. })
        ));
    }
}

#[test]
fn flag_filters_are_anded() {
    assert!(FlagFilters::default().is_empty());
    assert_eq!(FlagFilters::default().to_filter().unwrap(), None);
    let one = FlagFilters {
        str_eq: vec!["type=build-chroot-ended".into()],
        ..FlagFilters::default()
    };
    assert!(!one.is_empty());
    assert_eq!(
        one.to_filter().unwrap().unwrap().as_json(),
        &json!({"type": "build-chroot-ended"})
    );
    let flags = FlagFilters {
        str_eq: vec!["type=build-chroot-ended".into(), "status=succeeded".into()],
        int_eq: vec!["build_id=945012".into()],
        match_: vec!["package_name=^python-".into()],
        in_: vec!["usernames=churchyard,praiskup".into()],
        not: vec!["chroot=^epel".into()],
        gt: vec!["build_id=945000".into()],
        gte: vec!["build_id=945012".into()],
        lt: vec!["build_id=946000".into()],
        lte: vec!["build_id=945012".into()],
    };
    let f = flags.to_filter().unwrap().unwrap();
    assert!(f.matches(&obj(build_event())));
    // Each condition is required.
    let mut stricter = flags.clone();
    stricter.lt.push("build_id=945012".into());
    assert!(!stricter
        .to_filter()
        .unwrap()
        .unwrap()
        .matches(&obj(build_event())));
    let mut other = flags.clone();
    other.not.push("chroot=rawhide".into());
    assert!(!other
        .to_filter()
        .unwrap()
        .unwrap()
        .matches(&obj(build_event())));
    // And the equalities pin the subject.
    assert_eq!(f.equality_on("type"), Some(&json!("build-chroot-ended")));
    assert_eq!(f.equality_on("build_id"), Some(&json!(945012)));
    assert_eq!(f.equality_on("usernames"), None);
}

#[test]
fn flag_filters_report_the_first_bad_argument() {
    let flags = FlagFilters {
        str_eq: vec!["type=x".into()],
        int_eq: vec!["build_id=x".into()],
        ..FlagFilters::default()
    };
    let e = flags.to_filter().unwrap_err();
    assert!(
        matches!(&e, CriteriaError::InvalidFlag { flag, .. } if flag == "--int-eq"),
        "{e}"
    );
    assert!(e.to_string().contains("\"build_id=x\""), "{e}");
}

#[test]
fn in_flag_pins_a_single_value() {
    let f = FilterFlag::In.to_filter("repo_id=pulp-f16").unwrap();
    assert_eq!(f.equality_on("repo_id"), Some(&json!("pulp-f16")));
    let f = FilterFlag::In.to_filter("repo_id=a,b").unwrap();
    assert_eq!(f.equality_on("repo_id"), None);
}
