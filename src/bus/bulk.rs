//! Publishing a whole file of captured messages in order: what
//! `repobus publish --jsonl` does, as a library call.

use std::io::BufRead;

use async_nats::connection::State;
use async_nats::jetstream::context::{PublishAckFuture, PublishError as JsPublishError};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck as JsAck;
use futures_util::stream::{FuturesOrdered, StreamExt};
use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::publisher::{is_refusal, Prepared, Retry};
use super::{PublishAck, PublishError, PublishOptions, Publisher};
use crate::events::Event;
use crate::inspect::{parse_line, LineError};
use crate::telemetry::{self, PublishOutcome};

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

/// The most publishes a bulk publish keeps waiting for acks at once (fewer
/// when the bus's `max_in_flight` is lower).
const BULK_WINDOW: usize = 256;

/// A line sent, with what settling it needs.
struct Sent {
    line: u64,
    event: Event,
    prepared: Prepared,
    started: Instant,
    _permit: OwnedSemaphorePermit,
}

/// What became of a sent line's first attempt.
enum FirstAttempt {
    /// The ack, or why there is none.
    Ack(Result<JsAck, JsPublishError>),
    /// The full retry loop already ran (the client was not connected, or
    /// the send itself failed).
    Settled(Result<PublishAck, PublishError>),
}

/// How a line's first send went.
enum FirstStep {
    /// Handed to the client; the ack is on its way.
    Awaiting(PublishAckFuture),
    /// Already settled by the full retry loop.
    Settled(Result<PublishAck, PublishError>),
}

/// Waits for the ack of a line handed to the client. Every line's wait
/// runs at once (so their timeouts do too); the results come in order.
async fn ack_of(sent: Sent, step: FirstStep) -> (Sent, FirstAttempt) {
    match step {
        FirstStep::Awaiting(ack) => {
            let result = ack.await;
            (sent, FirstAttempt::Ack(result))
        }
        FirstStep::Settled(result) => (sent, FirstAttempt::Settled(result)),
    }
}

impl Publisher {
    /// Publishes every line of JSON Lines `{"topic", "body"}` in order and
    /// reports what happened.
    ///
    /// Lines are read as they are needed (the file is never held in memory)
    /// and sent in file order over the one connection, so the stream stores
    /// them in that order; up to 256 wait for their acks at
    /// once (fewer if the bus's `max_in_flight` is lower), which keeps
    /// memory flat however long the file. A line whose ack does not come is
    /// sent again with the same ID (stored once), and may then land after
    /// lines that were sent behind it.
    ///
    /// A line that does not decode, or that the server refuses for good,
    /// is counted as failed and reported to `on_failure`, and the rest go
    /// on. When NATS cannot take events any more
    /// ([`PublishError::stops_batch`]: unreachable past the deadline, or the
    /// publisher closed), it stops there, since every later line would fail
    /// the same way and order matters: [`BulkReport::stopped_at_line`] says
    /// where to resume. The lines already sent behind it (at most the
    /// window) are counted as their acks say, without retries. Retries
    /// reuse each event's ID, so a repeated run stores nothing twice within
    /// the duplicate window only when the lines carry their own IDs;
    /// otherwise resume from `stopped_at_line`.
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
        let window = self.bus().config().max_in_flight.clamp(1, BULK_WINDOW);
        let mut pending = FuturesOrdered::new();
        let mut report = BulkReport::default();
        let mut stopped = None;
        for (index, line) in input.split(b'\n').enumerate() {
            let number = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
            let line = match line {
                Ok(line) => line,
                Err(source) => {
                    report.failed += 1;
                    stopped = Some(number);
                    on_failure(LineFailure::Read {
                        line: number,
                        source,
                    });
                    break;
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
            if pending.len() >= window {
                if let Some((sent, first)) = pending.next().await {
                    stopped = self
                        .settle(sent, first, true, &mut report, &mut on_failure)
                        .await;
                    if stopped.is_some() {
                        break;
                    }
                }
            }
            match self.send_line(number, event).await {
                Ok((sent, step)) => pending.push_back(ack_of(sent, step)),
                Err(source) => {
                    report.failed += 1;
                    let stop = source.stops_batch();
                    on_failure(LineFailure::Publish {
                        line: number,
                        source,
                    });
                    if stop {
                        stopped = Some(number);
                        break;
                    }
                }
            }
        }
        // What is still in flight: settled in order; after a stop, without
        // retries (NATS is not taking events, waiting again is pointless).
        while let Some((sent, first)) = pending.next().await {
            let retry = stopped.is_none();
            let stop = self
                .settle(sent, first, retry, &mut report, &mut on_failure)
                .await;
            stopped = stopped.or(stop);
        }
        report.stopped_at_line = stopped;
        report
    }

    /// Sends one line's event without waiting for its ack. An error is one
    /// from before anything was sent.
    async fn send_line(&self, line: u64, event: Event) -> Result<(Sent, FirstStep), PublishError> {
        let options = PublishOptions::default();
        // Wait for room rather than fail: the window already bounds this
        // caller, so only other clones' publishes can make it wait.
        let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
            telemetry::record_publish(event.event_type(), PublishOutcome::Closed, None);
            return Err(PublishError::Closed);
        };
        let started = Instant::now();
        let prepared = match self.prepare(&event, &options) {
            Ok(prepared) => prepared,
            Err(e) => {
                let e = PublishError::from(e);
                telemetry::record_publish(event.event_type(), PublishOutcome::of_error(&e), None);
                return Err(e);
            }
        };
        let deadline = started + self.bus().config().publish_deadline;
        let step = if self.bus().client().connection_state() == State::Connected {
            let headers = self.headers(&event, &prepared, &options);
            let message = PublishMessage::build()
                .payload(prepared.payload.clone())
                .headers(headers);
            match self
                .bus()
                .jetstream()
                .send_publish(prepared.subject.clone(), message)
                .await
            {
                Ok(ack) => FirstStep::Awaiting(ack),
                Err(e) if is_refusal(&e) => FirstStep::Settled(Err(PublishError::Rejected {
                    id: prepared.event_id.clone(),
                    source: e,
                })),
                Err(e) => {
                    let retry = Retry {
                        deadline,
                        attempts: 1,
                        last_error: Some(e),
                        pause: true,
                    };
                    let result = self
                        .deliver(&event, &options, prepared.clone(), None, retry)
                        .await;
                    FirstStep::Settled(result)
                }
            }
        } else {
            let result = self
                .deliver(
                    &event,
                    &options,
                    prepared.clone(),
                    None,
                    Retry::first(deadline),
                )
                .await;
            FirstStep::Settled(result)
        };
        let sent = Sent {
            line,
            event,
            prepared,
            started,
            _permit: permit,
        };
        Ok((sent, step))
    }

    /// Counts a sent line's result, first retrying it (when `retry`) as
    /// [`Publisher::publish`] would. Returns the line when the batch must
    /// stop there.
    async fn settle(
        &self,
        sent: Sent,
        first: FirstAttempt,
        retry: bool,
        report: &mut BulkReport,
        on_failure: &mut impl FnMut(LineFailure),
    ) -> Option<u64> {
        let deadline_after = self.bus().config().publish_deadline;
        let result = match first {
            FirstAttempt::Settled(result) => result,
            FirstAttempt::Ack(Ok(ack)) => Ok(sent.prepared.acked(ack)),
            FirstAttempt::Ack(Err(e)) if is_refusal(&e) => Err(PublishError::Rejected {
                id: sent.prepared.event_id,
                source: e,
            }),
            FirstAttempt::Ack(Err(e)) if retry => {
                tracing::warn!(id = %sent.prepared.event_id, line = sent.line, error = %e, "publish not acknowledged; retrying with the same id");
                // Lines lost with a connection fail together: once it is
                // back, send each again at once rather than backing off
                // line by line.
                let connected = self.bus().client().connection_state() == State::Connected;
                let again = Retry {
                    deadline: sent.started + deadline_after,
                    attempts: 1,
                    last_error: Some(e),
                    pause: !connected,
                };
                self.deliver(
                    &sent.event,
                    &PublishOptions::default(),
                    sent.prepared,
                    None,
                    again,
                )
                .await
            }
            FirstAttempt::Ack(Err(e)) => Err(PublishError::Deadline {
                id: sent.prepared.event_id,
                attempts: 1,
                deadline: deadline_after,
                last_error: Some(e),
            }),
        };
        let outcome = match &result {
            Ok(ack) if ack.duplicate => PublishOutcome::Duplicate,
            Ok(_) => PublishOutcome::Stored,
            Err(e) => PublishOutcome::of_error(e),
        };
        telemetry::record_publish(
            sent.event.event_type(),
            outcome,
            Some(sent.started.elapsed()),
        );
        match result {
            Ok(ack) if ack.duplicate => report.duplicates += 1,
            Ok(_) => report.published += 1,
            Err(source) => {
                report.failed += 1;
                let stop = source.stops_batch();
                on_failure(LineFailure::Publish {
                    line: sent.line,
                    source,
                });
                if stop {
                    return Some(sent.line);
                }
            }
        }
        None
    }
}
