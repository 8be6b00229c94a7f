//! `repobus schedule`: the next runs of an ISO 8601 schedule.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use repobus::iso8601::Schedule;

pub fn run(expression: &str, now: Option<&str>, count: usize) -> Result<ExitCode, String> {
    let now: DateTime<Utc> = match now {
        Some(text) => repobus::time::parse_datetime(text).map_err(|e| format!("--now: {e}"))?,
        None => Utc::now(),
    };
    let schedule: Schedule = expression
        .parse()
        .map_err(|e| format!("{expression}: {e}"))?;
    for occurrence in schedule.next_after(now, count) {
        println!("{}", occurrence.format("%Y-%m-%dT%H:%M:%SZ"));
    }
    Ok(ExitCode::SUCCESS)
}
