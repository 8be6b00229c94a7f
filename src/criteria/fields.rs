//! `pulp-admin`'s `--fields` list.

use super::CriteriaError;

/// Parses `pulp-admin`'s `--fields a,b,c` into field names (spaces around
/// each name are ignored; an empty name is an error).
pub fn parse_fields(list: &str) -> Result<Vec<String>, CriteriaError> {
    list.split(',')
        .map(|name| {
            let name = name.trim();
            if name.is_empty() {
                Err(CriteriaError::InvalidFlag {
                    flag: "--fields".to_owned(),
                    input: list.to_owned(),
                    problem: "a field name is empty".to_owned(),
                })
            } else {
                Ok(name.to_owned())
            }
        })
        .collect()
}
