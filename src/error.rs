//! Errors of decoding and validating event bodies.

use std::fmt;

use crate::event_type::EventType;

/// One broken rule: where in the body (a JSON path such as `$.started`) and
/// what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON path of the offending value (`$` for the body itself).
    pub path: String,
    /// The rule it breaks, in words.
    pub rule: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.rule)
    }
}

/// Why a body could not be decoded into an event.
///
/// The message names the event type, the field as a JSON path and the rule:
///
/// ```
/// use repobus::Event;
///
/// let err = Event::decode("repo-sync-started", br#"{"repo_id": "a b"}"#).unwrap_err();
/// assert!(err.to_string().starts_with("repo-sync-started: $.repo_id: "), "{err}");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The topic is none of the six types nor a known wire topic.
    #[error("unknown topic {0:?}: expected one of the event types (repo-sync-started, repo-sync-finished, repo-publish-started, repo-publish-finished, build-chroot-started, build-chroot-ended), a Pulp 2 event type (repo.sync.start, repo.sync.finish, repo.publish.start, repo.publish.finish, optionally as pulp.server.<event type>) or a Copr topic (copr.build.start, copr.chroot.start, copr.build.end, optionally prefixed, or build.start, build.end)")]
    UnknownTopic(String),
    /// The body is not JSON.
    #[error("{topic}: malformed JSON: {source}")]
    Json {
        /// The topic the body came with.
        topic: String,
        /// The parser's error, with line and column.
        source: serde_json::Error,
    },
    /// A Pulp 2 notifier document is not `{"event_type", "payload",
    /// "call_report"}` (see [`crate::events::wire::Pulp2Notification`]).
    #[error("Pulp 2 notification: {path}: {rule}")]
    Notification {
        /// JSON path of the offending part (`$.event_type`).
        path: String,
        /// What is wrong there.
        rule: String,
    },
    /// The body is JSON but breaks the type's rules.
    #[error("{event_type}: {}", join(.violations))]
    Invalid {
        /// The type the body was decoded as.
        event_type: EventType,
        /// Every rule broken, in document order (at least one).
        violations: Vec<Violation>,
    },
}

impl DecodeError {
    pub(crate) fn invalid(event_type: EventType, path: String, rule: String) -> Self {
        DecodeError::Invalid {
            event_type,
            violations: vec![Violation { path, rule }],
        }
    }

    /// The same error for a body found at `prefix` inside a larger document:
    /// `$.repo_id` becomes `$.payload.repo_id`.
    pub(crate) fn under_path(mut self, prefix: &str) -> Self {
        if let DecodeError::Invalid { violations, .. } = &mut self {
            for v in violations {
                v.path = format!("{prefix}{}", v.path.trim_start_matches('$'));
            }
        }
        self
    }

    /// The broken rules, empty unless this is [`DecodeError::Invalid`].
    pub fn violations(&self) -> &[Violation] {
        match self {
            DecodeError::Invalid { violations, .. } => violations,
            _ => &[],
        }
    }

    /// A short machine-friendly reason: `unknown-topic`, `malformed-json` or
    /// `schema-violation` (used for dead-letter subjects).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::UnknownTopic(_) => "unknown-topic",
            DecodeError::Json { .. } => "malformed-json",
            DecodeError::Notification { .. } => "malformed-notification",
            DecodeError::Invalid { .. } => "schema-violation",
        }
    }
}

fn join(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(Violation::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
