//! `docs/grafana/repobus.json` against the metrics the code records: every
//! metric a panel queries exists (a renamed metric breaks this test, not an
//! on-call's dashboard), and every metric repobus records has a panel.

use std::collections::BTreeSet;

use repobus_service::metrics as m;
use serde_json::Value;

/// Recorded by the dashboard's `/v1/stream` (issue 9, the other half).
const RECORDED_ELSEWHERE: &[&str] = &["repobus_sse_clients"];

fn recorded() -> BTreeSet<&'static str> {
    repobus::telemetry::METRICS
        .iter()
        .map(|metric| metric.name)
        .chain([
            m::HTTP_REQUESTS,
            m::HTTP_REQUEST_DURATION,
            m::EVENTS_INGESTED,
            m::CONSUMER_NUM_PENDING,
            m::CONSUMER_NUM_ACK_PENDING,
            m::BUILD_INFO,
        ])
        .collect()
}

/// The `repobus_*` metric names in a PromQL expression, without the
/// histogram series suffixes.
fn names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("repobus_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| b.ends_with("_seconds")))
            .unwrap_or(name);
        out.push(base.to_owned());
        rest = &tail[end..];
    }
    out
}

#[test]
fn grafana_dashboard_queries_only_recorded_metrics_and_covers_them_all() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana/repobus.json"
    );
    let text = std::fs::read_to_string(path).expect("read docs/grafana/repobus.json");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "repobus");
    let recorded = recorded();
    let mut queried = BTreeSet::new();
    let panels = dashboard["panels"].as_array().expect("panels");
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap_or("?");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            let found = names(expr);
            assert!(
                !found.is_empty(),
                "panel {title}: {expr} queries no repobus metric"
            );
            for name in found {
                assert!(
                    recorded.contains(name.as_str()) || RECORDED_ELSEWHERE.contains(&name.as_str()),
                    "panel {title} queries {name}, which repobus does not record"
                );
                queried.insert(name);
            }
        }
    }
    for name in recorded {
        assert!(queried.contains(name), "no panel shows {name}");
    }
}
