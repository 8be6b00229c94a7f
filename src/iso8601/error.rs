//! Why a duration or schedule was rejected.

use crate::time::TimestampError;

/// Why a duration or schedule was rejected.
///
/// The message names the part of the input that is wrong, for example
/// `"P": a duration needs at least one number and unit, like P1D`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Iso8601Error {
    /// A duration such as `P1D` is malformed.
    #[error("{part:?}: {reason}")]
    Duration {
        /// The duration text as given.
        part: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The recurrence part of a schedule (`R5`) is malformed.
    #[error("{part:?}: {reason}")]
    Recurrence {
        /// The recurrence text as given (`R0`, `Rx`).
        part: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The start of a schedule is not a valid UTC date or date-time.
    #[error("start {0}")]
    Start(TimestampError),
    /// The interval of a schedule is missing, zero, or not a duration.
    #[error("{part:?}: {reason}")]
    Interval {
        /// The interval text, or the whole schedule when it is missing.
        part: String,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The schedule as a whole has the wrong shape (empty, too many parts).
    #[error("{part:?}: {reason}")]
    Schedule {
        /// The schedule text as given.
        part: String,
        /// What is wrong with it, in words.
        reason: String,
    },
}

impl From<TimestampError> for Iso8601Error {
    fn from(err: TimestampError) -> Self {
        Iso8601Error::Start(err)
    }
}
