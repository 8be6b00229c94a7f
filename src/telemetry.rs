//! The metrics the library records, through the [`metrics`] facade.
//!
//! The library never installs a recorder: a process that wants the numbers
//! installs one (repobus's own service and commands use
//! `metrics-exporter-prometheus` and serve them at `GET /metrics`); without
//! one, recording costs a few nanoseconds and keeps nothing.
//!
//! Every name has the one `repobus_` prefix, base units (seconds) and a
//! `_total` suffix on counters; every label has a bounded set of values
//! (an event type, an outcome, a reason, a consumer's durable name): never
//! a repository, build or event ID.
//!
//! | metric | kind | labels | meaning |
//! | --- | --- | --- | --- |
//! | `repobus_events_published_total` | counter | `type`, `outcome` | publishes by the library's [`crate::bus::Publisher`], by [`PublishOutcome`] |
//! | `repobus_publish_duration_seconds` | histogram | `type` | from the publish call to the JetStream ack (or the failure) |
//! | `repobus_jetstream_publish_retries_total` | counter | `type` | sends repeated after a failed or missing ack (same `Nats-Msg-Id`) |
//! | `repobus_events_consumed_total` | counter | `consumer` | events a [`crate::bus::Subscription`] decoded and yielded |
//! | `repobus_events_dead_lettered_total` | counter | `consumer`, `reason` | poison messages copied to the dead-letter stream |
//! | `repobus_operations_in_progress` | gauge | `kind` | sync/publish guards started and not yet finished |
//!
//! `consumer` is the durable name, or `ephemeral` for an unnamed consumer
//! (whose generated name would be an unbounded label).
//!
//! Install the recorder before subscribing: a subscription registers its
//! `repobus_events_consumed_total` counter once, when it is created, so
//! that counting a consumed event costs one atomic add.
//!
//! # Examples
//!
//! ```
//! use repobus::telemetry;
//!
//! // Attach the descriptions (`# HELP` lines) to whatever recorder is installed:
//! telemetry::describe();
//! assert!(telemetry::METRICS.iter().all(|m| m.name.starts_with("repobus_")));
//! ```

use std::time::Duration;

use crate::bus::PublishError;
use crate::events::EventType;

/// `repobus_events_published_total{type, outcome}`.
pub const EVENTS_PUBLISHED: &str = "repobus_events_published_total";
/// `repobus_publish_duration_seconds{type}`.
pub const PUBLISH_DURATION: &str = "repobus_publish_duration_seconds";
/// `repobus_jetstream_publish_retries_total{type}`.
pub const PUBLISH_RETRIES: &str = "repobus_jetstream_publish_retries_total";
/// `repobus_events_consumed_total{consumer}`.
pub const EVENTS_CONSUMED: &str = "repobus_events_consumed_total";
/// `repobus_events_dead_lettered_total{consumer, reason}`.
pub const EVENTS_DEAD_LETTERED: &str = "repobus_events_dead_lettered_total";
/// `repobus_operations_in_progress{kind}`.
pub const OPERATIONS_IN_PROGRESS: &str = "repobus_operations_in_progress";

/// The kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (`_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of observations (seconds).
    Histogram,
}

/// One metric the library records: its name, kind, labels and meaning.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The Prometheus name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The label names.
    pub labels: &'static [&'static str],
    /// What it counts (the `# HELP` line).
    pub help: &'static str,
}

/// Every metric the library records.
pub const METRICS: &[Metric] = &[
    Metric {
        name: EVENTS_PUBLISHED,
        kind: MetricKind::Counter,
        labels: &["type", "outcome"],
        help: "Events published through the repobus publisher, by event type and outcome.",
    },
    Metric {
        name: PUBLISH_DURATION,
        kind: MetricKind::Histogram,
        labels: &["type"],
        help: "Seconds from a publish call to its JetStream ack or failure.",
    },
    Metric {
        name: PUBLISH_RETRIES,
        kind: MetricKind::Counter,
        labels: &["type"],
        help: "JetStream publishes sent again after a failed or missing ack.",
    },
    Metric {
        name: EVENTS_CONSUMED,
        kind: MetricKind::Counter,
        labels: &["consumer"],
        help: "Events decoded and handed to a subscriber, by durable consumer name.",
    },
    Metric {
        name: EVENTS_DEAD_LETTERED,
        kind: MetricKind::Counter,
        labels: &["consumer", "reason"],
        help: "Poison messages copied to the dead-letter stream, by consumer and reason.",
    },
    Metric {
        name: OPERATIONS_IN_PROGRESS,
        kind: MetricKind::Gauge,
        labels: &["kind"],
        help: "Sync and publish operations started and not yet finished in this process.",
    },
];

/// Registers the `# HELP` text of every metric in [`METRICS`] with the
/// installed recorder. Call it after installing one; it does nothing
/// without.
///
/// # Examples
///
/// ```
/// repobus::telemetry::describe();
/// ```
pub fn describe() {
    for metric in METRICS {
        match metric.kind {
            MetricKind::Counter => metrics::describe_counter!(metric.name, metric.help),
            MetricKind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            MetricKind::Histogram => {
                metrics::describe_histogram!(metric.name, metrics::Unit::Seconds, metric.help)
            }
        }
    }
}

/// How a publish ended: the `outcome` label of
/// `repobus_events_published_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Stored by the stream (`stored`).
    Stored,
    /// The stream already had an event with this ID (`duplicate`).
    Duplicate,
    /// Sent on core NATS without an ack (`sent_core`).
    SentCore,
    /// A producer-given ID that is not usable (`bad_id`).
    BadId,
    /// Too many publishes waiting for acks (`buffer_full`).
    BufferFull,
    /// The publisher was closed (`closed`).
    Closed,
    /// NATS refused the event for good (`rejected`).
    Rejected,
    /// A core-NATS send failed (`send_failed`).
    SendFailed,
    /// NATS unreachable until the deadline; never sent (`unreachable`).
    Unreachable,
    /// No ack before the deadline; maybe stored (`deadline`).
    Deadline,
}

impl PublishOutcome {
    /// The label value.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::telemetry::PublishOutcome;
    ///
    /// assert_eq!(PublishOutcome::BufferFull.as_str(), "buffer_full");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            PublishOutcome::Stored => "stored",
            PublishOutcome::Duplicate => "duplicate",
            PublishOutcome::SentCore => "sent_core",
            PublishOutcome::BadId => "bad_id",
            PublishOutcome::BufferFull => "buffer_full",
            PublishOutcome::Closed => "closed",
            PublishOutcome::Rejected => "rejected",
            PublishOutcome::SendFailed => "send_failed",
            PublishOutcome::Unreachable => "unreachable",
            PublishOutcome::Deadline => "deadline",
        }
    }

    /// The outcome of a failed publish.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::bus::PublishError;
    /// use repobus::telemetry::PublishOutcome;
    ///
    /// assert_eq!(PublishOutcome::of_error(&PublishError::Closed), PublishOutcome::Closed);
    /// ```
    pub fn of_error(error: &PublishError) -> Self {
        match error {
            PublishError::Envelope(_) => PublishOutcome::BadId,
            PublishError::BufferFull { .. } => PublishOutcome::BufferFull,
            PublishError::Closed => PublishOutcome::Closed,
            PublishError::Rejected { .. } => PublishOutcome::Rejected,
            PublishError::Send { .. } => PublishOutcome::SendFailed,
            PublishError::Unreachable { .. } => PublishOutcome::Unreachable,
            PublishError::Deadline { .. } => PublishOutcome::Deadline,
        }
    }
}

/// The counter of one event type and outcome, with static labels: no
/// allocation per publish (the label values are literals, so the
/// `metrics` macros build the key in a `static`).
macro_rules! published_counter {
    ($id:literal, $outcome:expr) => {
        match $outcome {
            PublishOutcome::Stored => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "stored"),
            PublishOutcome::Duplicate => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "duplicate"),
            PublishOutcome::SentCore => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "sent_core"),
            PublishOutcome::BadId => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "bad_id"),
            PublishOutcome::BufferFull => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "buffer_full"),
            PublishOutcome::Closed => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "closed"),
            PublishOutcome::Rejected => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "rejected"),
            PublishOutcome::SendFailed => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "send_failed"),
            PublishOutcome::Unreachable => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "unreachable"),
            PublishOutcome::Deadline => metrics::counter!(EVENTS_PUBLISHED, "type" => $id, "outcome" => "deadline"),
        }
    };
}

/// The publisher's metric handles of each event type, from the one list
/// of types.
macro_rules! define_publish_metrics {
    ($($variant:ident = $id:literal,)*) => {
        fn published(event_type: EventType, outcome: PublishOutcome) -> metrics::Counter {
            match event_type {
                $(EventType::$variant => published_counter!($id, outcome),)*
            }
        }

        fn publish_duration(event_type: EventType) -> metrics::Histogram {
            match event_type {
                $(EventType::$variant => metrics::histogram!(PUBLISH_DURATION, "type" => $id),)*
            }
        }

        fn publish_retries(event_type: EventType) -> metrics::Counter {
            match event_type {
                $(EventType::$variant => metrics::counter!(PUBLISH_RETRIES, "type" => $id),)*
            }
        }
    };
}
crate::event_type::with_event_types!(define_publish_metrics);

/// Records one publish: its outcome and, for JetStream publishes, how long
/// it took.
pub(crate) fn record_publish(
    event_type: EventType,
    outcome: PublishOutcome,
    elapsed: Option<Duration>,
) {
    published(event_type, outcome).increment(1);
    if let Some(elapsed) = elapsed {
        publish_duration(event_type).record(elapsed.as_secs_f64());
    }
}

/// Records a JetStream publish sent again.
pub(crate) fn record_retry(event_type: EventType) {
    publish_retries(event_type).increment(1);
}

/// The `consumer` label of a subscription: its durable name, or
/// `ephemeral`.
pub(crate) fn consumer_label(durable: Option<&str>) -> metrics::SharedString {
    match durable {
        Some(name) => metrics::SharedString::from(name.to_owned()),
        None => metrics::SharedString::const_str("ephemeral"),
    }
}

/// The `kind` label of an operation guard.
pub(crate) fn operations_in_progress(kind: &'static str) -> metrics::Gauge {
    metrics::gauge!(OPERATIONS_IN_PROGRESS, "kind" => kind)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use super::*;

    /// Keeps the keys registered through it.
    #[derive(Default)]
    struct Keys(Mutex<Vec<Key>>);

    impl Recorder for Keys {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.0.lock().unwrap().push(key.clone());
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.0.lock().unwrap().push(key.clone());
            Gauge::noop()
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            self.0.lock().unwrap().push(key.clone());
            Histogram::noop()
        }
    }

    fn labels(key: &Key) -> Vec<(String, String)> {
        key.labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect()
    }

    /// The static label tables say exactly what `as_str` says, for every
    /// type and outcome.
    #[test]
    fn publish_labels_are_the_type_and_outcome_names() {
        use PublishOutcome::*;
        let outcomes = [
            Stored,
            Duplicate,
            SentCore,
            BadId,
            BufferFull,
            Closed,
            Rejected,
            SendFailed,
            Unreachable,
            Deadline,
        ];
        for event_type in EventType::ALL {
            for outcome in outcomes {
                let keys = Keys::default();
                metrics::with_local_recorder(&keys, || {
                    record_publish(event_type, outcome, Some(Duration::from_millis(1)));
                    record_retry(event_type);
                });
                let keys = keys.0.into_inner().unwrap();
                let found: Vec<_> = keys
                    .iter()
                    .map(|k| (k.name().to_owned(), labels(k)))
                    .collect();
                let ty = ("type".to_owned(), event_type.as_str().to_owned());
                assert_eq!(
                    found,
                    [
                        (
                            EVENTS_PUBLISHED.to_owned(),
                            vec![
                                ty.clone(),
                                ("outcome".to_owned(), outcome.as_str().to_owned())
                            ]
                        ),
                        (PUBLISH_DURATION.to_owned(), vec![ty.clone()]),
                        (PUBLISH_RETRIES.to_owned(), vec![ty]),
                    ]
                );
            }
        }
    }
}
