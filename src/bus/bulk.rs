//! Publishing a whole file of captured messages in order: what
//! `repobus publish --jsonl` does, as a library call.

use std::io::BufRead;

use serde::Serialize;

use super::{PublishError, Publisher};
use crate::inspect::{parse_line, LineError};

/// What a bulk publish did.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
/// let input = std::io::BufReader::new(std::fs::File::open("captured.jsonl")?);
/// let report = publisher.publish_lines(input, |_| {}).await;
/// if let Some(line) = report.stopped_at_line {
///     eprintln!("NATS stopped taking events at line {line}: resume from there");
/// }
/// println!("{}", serde_json::to_string(&report)?); // {"published":..,"duplicates":..,"failed":..}
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BulkReport {
    /// Events stored.
    pub published: u64,
    /// Events the stream already had (same ID within the duplicate window).
    pub duplicates: u64,
    /// Lines that were not stored (bad input, or refused by the server).
    pub failed: u64,
    /// The line the publish stopped at, when NATS could not take events any
    /// more: that line and every later one were not published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at_line: Option<u64>,
}

/// One line that was not published, and why.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(publisher: repobus::bus::Publisher) -> Result<(), Box<dyn std::error::Error>> {
/// use repobus::bus::LineFailure;
///
/// let input = std::io::BufReader::new(std::fs::File::open("captured.jsonl")?);
/// let mut bad_lines = Vec::new();
/// let report = publisher
///     .publish_lines(input, |failure| match failure {
///         LineFailure::Input { line, source } => bad_lines.push((line, source.to_string())),
///         other => eprintln!("{other}"),
///     })
///     .await;
/// for (line, why) in &bad_lines {
///     eprintln!("captured.jsonl:{line}: {why}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum LineFailure {
    /// The line could not be read from the input.
    #[error("reading line {line}: {source}")]
    Read {
        /// The 1-based line number.
        line: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The line is not a message that decodes.
    #[error("line {line}: {source}")]
    Input {
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        source: LineError,
    },
    /// The server did not store it.
    #[error("line {line}: {source}")]
    Publish {
        /// The 1-based line number.
        line: u64,
        /// Why.
        source: PublishError,
    },
}

impl Publisher {
    /// Publishes every line of JSON Lines `{"topic", "body"}` in order,
    /// each after the previous one's ack, and reports what happened.
    ///
    /// A line that does not decode, or that the server refuses for good,
    /// is counted as failed and reported to `on_failure`, and the rest go
    /// on. When NATS cannot take events any more
    /// ([`PublishError::stops_batch`]: unreachable past the deadline, or the
    /// publisher closed), it stops there, since every later line would fail
    /// the same way and order matters: [`BulkReport::stopped_at_line`] says
    /// where to resume. Retries reuse each event's ID, so a repeated run
    /// stores nothing twice within the duplicate window only when the lines
    /// carry their own IDs; otherwise resume from `stopped_at_line`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(publisher: repobus::bus::Publisher) {
    /// let input = std::io::BufReader::new(std::fs::File::open("captured.jsonl").unwrap());
    /// let report = publisher.publish_lines(input, |failure| eprintln!("{failure}")).await;
    /// println!("{} published, {} failed", report.published, report.failed);
    /// # }
    /// ```
    pub async fn publish_lines(
        &self,
        input: impl BufRead,
        mut on_failure: impl FnMut(LineFailure),
    ) -> BulkReport {
        let mut report = BulkReport::default();
        for (index, line) in input.split(b'\n').enumerate() {
            let number = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
            let line = match line {
                Ok(line) => line,
                Err(source) => {
                    report.failed += 1;
                    report.stopped_at_line = Some(number);
                    on_failure(LineFailure::Read {
                        line: number,
                        source,
                    });
                    return report;
                }
            };
            let event = match parse_line(&line).and_then(|c| Ok(c.decode()?)) {
                Ok(event) => event,
                Err(source) => {
                    report.failed += 1;
                    on_failure(LineFailure::Input {
                        line: number,
                        source,
                    });
                    continue;
                }
            };
            match self.publish(&event).await {
                Ok(ack) if ack.duplicate => report.duplicates += 1,
                Ok(_) => report.published += 1,
                Err(source) => {
                    report.failed += 1;
                    let stop = source.stops_batch();
                    on_failure(LineFailure::Publish {
                        line: number,
                        source,
                    });
                    if stop {
                        report.stopped_at_line = Some(number);
                        return report;
                    }
                }
            }
        }
        report
    }
}
