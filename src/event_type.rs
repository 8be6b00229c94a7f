//! The event type names: the one list of the types repobus carries.
//!
//! This module depends on nothing else in the crate, so every other module
//! (errors, schemas, subjects, the envelope) can name a type without
//! depending on the event bodies.
//!
//! Adding a type is one line in the `with_event_types!` list below (its
//! Rust name, which is also the name of its body struct, and its type ID)
//! plus one `impl EventKind` for the struct, in `events/`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Calls the macro `$m` with the list of event types, one
/// `Variant = "type-id"` per type. The struct holding a type's body has
/// the variant's name. [`EventType`] and the `Event` enum with its
/// dispatch are both generated from this one list.
macro_rules! with_event_types {
    ($m:ident) => {
        $m! {
            RepoSyncStarted = "repo-sync-started",
            RepoSyncFinished = "repo-sync-finished",
            RepoPublishStarted = "repo-publish-started",
            RepoPublishFinished = "repo-publish-finished",
            BuildChrootStarted = "build-chroot-started",
            BuildChrootEnded = "build-chroot-ended",
            RepoSyncProgress = "repo-sync-progress",
            RepoPublishProgress = "repo-publish-progress",
        }
    };
}
pub(crate) use with_event_types;

macro_rules! define_event_type {
    ($($variant:ident = $id:literal,)*) => {
        /// One of the event types.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum EventType {
            $(
                #[doc = concat!("`", $id, "`")]
                #[serde(rename = $id)]
                $variant,
            )*
        }

        impl EventType {
            /// Every type, in the order of the list.
            pub const ALL: [EventType; [$($id),*].len()] = [$(EventType::$variant),*];

            /// The type ID, e.g. `repo-sync-finished`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $id,)*
                }
            }
        }
    };
}
with_event_types!(define_event_type);

impl EventType {
    /// True for the Pulp repository events (`repo-*`).
    pub fn is_pulp(self) -> bool {
        self.as_str().starts_with("repo-")
    }

    /// True for the Copr build events (`build-*`).
    pub fn is_copr(self) -> bool {
        self.as_str().starts_with("build-")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a name that is not one of the event types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}; expected one of {list}", list = type_list())]
pub struct UnknownEventType(pub String);

/// `repo-sync-started, repo-sync-finished, ...`: every type ID, for messages.
pub(crate) fn type_list() -> String {
    EventType::ALL
        .into_iter()
        .map(EventType::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for EventType {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert!(t.is_pulp() != t.is_copr(), "{t}");
        }
        let err = "nope".parse::<EventType>().unwrap_err().to_string();
        assert!(
            err.contains("repo-sync-started, repo-sync-finished"),
            "{err}"
        );
    }
}
