//! pulp-admin's search flags and the query string of `GET /v1/events`:
//! `FlagFilters::to_filter`, `FilterFlag::to_filter`, `SortKey` and
//! `parse_fields`, and `HistoryQuery::from_pairs(pairs).to_search()`.
//!
//! Input: NUL-separated arguments, each a selector byte and its text. As
//! flags, the selector (modulo 9) picks `--str-eq`, `--int-eq`, `--match`,
//! `--in`, `--not`, `--gt`, `--gte`, `--lt` or `--lte`. As query pairs, the
//! selector (modulo 9) picks `filters`, `sort`, `limit`, `skip`, `fields`,
//! `after`, `before` or `since`, or (8) takes `key=value` from the text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use repobus::criteria::{parse_fields, FilterFlag, FlagFilters, SortKey};
use repobus::history::{pushed_down_subject, start_at, HistoryQuery};
use repobus::subject::Subjects;
use serde_json::json;

const FLAGS: [FilterFlag; 9] = [
    FilterFlag::StrEq,
    FilterFlag::IntEq,
    FilterFlag::Match,
    FilterFlag::In,
    FilterFlag::Not,
    FilterFlag::Gt,
    FilterFlag::Gte,
    FilterFlag::Lt,
    FilterFlag::Lte,
];

const KEYS: [&str; 8] = [
    "filters", "sort", "limit", "skip", "fields", "after", "before", "since",
];

fuzz_target!(|data: &[u8]| {
    let args: Vec<(usize, String)> = data
        .split(|&b| b == 0)
        .take(16)
        .filter_map(|arg| {
            let (&selector, text) = arg.split_first()?;
            Some((
                usize::from(selector) % 9,
                String::from_utf8(text.to_vec()).ok()?,
            ))
        })
        .collect();

    // As pulp-admin flags.
    let mut flags = FlagFilters::default();
    for (selector, text) in &args {
        let flag = FLAGS[*selector];
        if let Ok(filter) = flag.to_filter(text) {
            let _ = filter.to_string();
            let _ = filter.equality_on("type");
        }
        let _ = flag.clause(text);
        let _ = text.parse::<SortKey>().map(|k| k.to_string());
        let _ = parse_fields(text);
        let list = match flag {
            FilterFlag::StrEq => &mut flags.str_eq,
            FilterFlag::IntEq => &mut flags.int_eq,
            FilterFlag::Match => &mut flags.match_,
            FilterFlag::In => &mut flags.in_,
            FilterFlag::Not => &mut flags.not,
            FilterFlag::Gt => &mut flags.gt,
            FilterFlag::Gte => &mut flags.gte,
            FilterFlag::Lt => &mut flags.lt,
            FilterFlag::Lte => &mut flags.lte,
        };
        list.push(text.clone());
    }
    let _ = flags.is_empty();
    if let Ok(Some(filter)) = flags.to_filter() {
        let object = json!({"type": "repo-sync-finished", "repo_id": "pulp-f16",
                            "added_count": 3, "usernames": ["a", "b"], "url": null});
        let _ = filter.matches(object.as_object().unwrap_or(&serde_json::Map::new()));
        let written = filter.to_string();
        assert!(
            written.parse::<repobus::criteria::Filter>().is_ok(),
            "the flags' filter {written} does not parse back"
        );
    }

    // As the query string of GET /v1/events.
    let pairs: Vec<(String, String)> = args
        .iter()
        .map(|(selector, text)| match KEYS.get(*selector) {
            Some(key) => ((*key).to_owned(), text.clone()),
            None => match text.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (text.clone(), String::new()),
            },
        })
        .collect();
    if let Ok(search) = HistoryQuery::from_pairs(pairs).to_search() {
        let criteria = &search.criteria;
        let _ = pushed_down_subject(&Subjects::default(), criteria);
        if let Some(after) = criteria.after {
            let _ = start_at(after);
        }
        let object = json!({"type": "build-chroot-ended", "build_id": 945012,
                            "time": "2026-11-23T18:00:00Z", "usernames": ["x"]});
        let object = object.as_object().cloned().unwrap_or_default();
        let _ = criteria.apply([object.clone(), object], "time");
    }
});
