//! Tests of `fields.rs`.

use super::*;

#[test]
fn parse_fields_list() {
    assert_eq!(
        parse_fields("repo_id,started").unwrap(),
        ["repo_id", "started"]
    );
    assert_eq!(
        parse_fields(" repo_id , started ").unwrap(),
        ["repo_id", "started"]
    );
    for bad in ["", "a,,b", "a,", " "] {
        let e = parse_fields(bad).unwrap_err().to_string();
        assert!(e.contains("--fields") && e.contains("empty"), "{bad}: {e}");
    }
}
