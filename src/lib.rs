//! # repobus
//!
//! Typed Pulp repository events and Copr build events on NATS.
//!
//! repobus carries the six event types of Pulp 2 and Copr, each with its
//! original system's wire body unchanged, so existing Pulp and Copr
//! consumers keep working, plus the progress reports of running
//! operations ([`operations`]):
//!
//! | type | body |
//! | --- | --- |
//! | `repo-sync-started` | Pulp 2: `{"repo_id"}` |
//! | `repo-sync-finished` | Pulp 2's sync result document |
//! | `repo-publish-started` | Pulp 2: `{"repo_id", "distributor_id"}` |
//! | `repo-publish-finished` | Pulp 2's publish result document |
//! | `build-chroot-started` | Copr's fedmsg-era `copr.build.start` body |
//! | `build-chroot-ended` | Copr's fedmsg-era `copr.build.end` body |
//! | `repo-sync-progress` | `{"repo_id", "operation_id", "progress"}` (Pulp 2's `set_progress` report) |
//! | `repo-publish-progress` | `{"repo_id", "distributor_id", "operation_id", "progress"}` |
//!
//! [`Event::decode`] validates a body against the type's JSON Schema
//! ([`schema`]) and returns a typed [`Event`] whose accessors answer what
//! Pulp's and copr-messaging's libraries answer.
//!
//! ```
//! use repobus::Event;
//!
//! let body = br#"{"status": 3, "what": "build start", "chroot": "fedora-rawhide-x86_64",
//!     "ip": null, "user": "churchyard", "who": "worker", "pid": 1, "copr": "python3.8",
//!     "version": "4.23.8-1.fc31", "build": 945012, "owner": "@python", "pkg": "python-hypothesis"}"#;
//! let event = Event::decode("org.fedoraproject.prod.copr.build.start", body).unwrap();
//! assert_eq!(
//!     event.to_string(),
//!     r#"Copr Message in project "@python/python3.8": build 945012: chroot "fedora-rawhide-x86_64" started."#
//! );
//! assert_eq!(event.usernames(), ["churchyard"]);
//! ```

//! # The modules, in the order an event travels
//!
//! | step | module |
//! | --- | --- |
//! | a producer builds or decodes a typed event | [`events`] (one [`events::EventKind`] per type; [`event_type`] lists them; [`events::wire`] reads the real topics), checked by [`schema`] with [`id`] and [`time`] |
//! | it gets its CloudEvents envelope and its subject | [`envelope`], [`subject`] |
//! | it is stored in JetStream | [`bus`] (`Publisher`, operation guards, bulk publishing) |
//! | a subscriber reads it back, typed | [`bus`] (`Subscriber`, `Subscription`, `Delivery`) |
//! | a consumer reads its accessors, or the record tail and search print | [`events::Event`], [`record`] |
//! | questions of the past | [`history`] with [`criteria`] and [`iso8601`] |
//!
//! [`inspect`] reads captured messages, [`schema_files`] writes `schemas/`.
//! [`operations`] reserves resources for syncs and publishes across
//! processes, with progress and cancellation.

#![warn(missing_docs)]

pub mod asyncapi;
pub mod bus;
pub mod criteria;
pub mod envelope;
pub mod error;
pub mod event_type;
pub mod events;
pub mod history;
pub mod id;
pub mod inspect;
pub mod iso8601;
mod json_path;
pub mod operations;
pub mod overview;
mod percent;
pub mod record;
pub mod schema;
pub mod schema_files;
pub mod subject;
pub mod telemetry;
pub mod time;

pub use error::{DecodeError, Violation};
pub use events::{Event, EventType};
pub use id::ResourceId;
pub use time::Timestamp;
