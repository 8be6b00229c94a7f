//! `repobus schedule`: the next runs of an ISO 8601 schedule.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use repobus::iso8601::Schedule;

use crate::error::{print_line, CliError};

pub fn run(expression: &str, now: Option<&str>, count: usize) -> Result<ExitCode, CliError> {
    let now: DateTime<Utc> = match now {
        Some(text) => repobus::time::parse_datetime(text).map_err(|source| CliError::Time {
            flag: "--now",
            source,
        })?,
        None => Utc::now(),
    };
    let schedule: Schedule = expression.parse().map_err(|source| CliError::Schedule {
        expression: expression.to_owned(),
        source,
    })?;
    for occurrence in schedule.next_after(now, count) {
        print_line(occurrence.format("%Y-%m-%dT%H:%M:%SZ"))?;
    }
    Ok(ExitCode::SUCCESS)
}
