//! # repobus-webhooks
//!
//! The webhook relay: repobus events POSTed to HTTP endpoints, signed per
//! the [Standard Webhooks](https://www.standardwebhooks.com/)
//! specification, filtered by subject and by Pulp criteria, retried on a
//! schedule, and never lost.
//!
//! | concern | module |
//! | --- | --- |
//! | an endpoint and the checks of its fields | [`endpoint`] |
//! | retry schedules (`5s,5m,30m`) | [`schedule`] |
//! | `whsec_` secrets and `v1,` signatures | [`signing`] |
//! | which addresses may be targets | [`target`] |
//! | the body and headers a receiver gets | [`payload`] |
//! | endpoints in NATS KV, their consumers, replay | [`store`] |
//! | the record of every attempt, dead letters | [`attempts`] |
//! | the delivery engine | [`relay`] |
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use repobus::bus::{Bus, BusConfig};
//! use repobus_webhooks::endpoint::EndpointSpec;
//! use repobus_webhooks::relay::{Relay, RelayOptions};
//! use repobus_webhooks::store::WebhookStore;
//!
//! let bus = Bus::connect(BusConfig::new("nats://127.0.0.1:4222")).await?;
//! let store = WebhookStore::open(&bus).await?;
//! let endpoint = store
//!     .create(EndpointSpec {
//!         subjects: vec!["repobus.repo.publish.finished.>".into()],
//!         retry_schedule: Some("5s,5m,30m".into()),
//!         ..EndpointSpec::new("cdn-purge", "https://hooks.example.com/purge")
//!     })
//!     .await?;
//! println!("signing secret (shown once): {}", endpoint.secret);
//! Relay::new(&bus, RelayOptions::default()).await?.run(std::future::pending()).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod attempts;
mod client;
pub mod endpoint;
pub mod lease;
pub mod payload;
pub mod relay;
pub mod schedule;
pub mod signing;
pub mod store;
pub mod target;

/// At most 64 characters of `text`, for error messages about input.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
