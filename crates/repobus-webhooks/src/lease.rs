//! One owner at a time for each ordered endpoint: a lease in NATS KV.
//!
//! An ordered endpoint's worker holds a window of unacknowledged events;
//! two relay processes pulling from the same consumer would each hold part
//! of it and deliver out of order. So each ordered consumer has a lease,
//! a key in the `<stream>_WEBHOOK_LEASES` bucket written with a per-key
//! TTL (NATS 2.11 message TTLs) and renewed every third of it with a
//! compare-and-set. The other relays stand by and try again every third
//! of the TTL: when the owner stops it deletes the key (a standby takes
//! over within a third of the TTL); when it dies the key expires (within
//! the TTL and a third). Concurrent endpoints share their consumer and
//! take no lease.

use std::time::Duration;

use async_nats::jetstream::kv;
use async_nats::HeaderMap;
use bytes::Bytes;
use repobus::bus::Bus;

use crate::store::StoreError;

/// Default lease TTL: a dead owner's endpoints move within about 13 s.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);

/// The lease bucket of one bus.
#[derive(Debug, Clone)]
pub(crate) struct Leases {
    bus: Bus,
    kv: kv::Store,
    bucket: String,
    /// This relay's identity, the value of the keys it holds.
    owner: Bytes,
    ttl: Duration,
}

/// A lease held: its key and revision.
#[derive(Debug)]
pub(crate) struct Held {
    key: String,
    revision: u64,
}

fn nats(what: impl Into<String>, e: impl std::fmt::Display) -> StoreError {
    StoreError::Nats {
        what: what.into(),
        error: e.to_string(),
    }
}

impl Leases {
    /// Opens (creating when missing) the lease bucket; leases last `ttl`
    /// (whole seconds, at least one).
    pub(crate) async fn open(bus: &Bus, ttl: Duration) -> Result<Leases, StoreError> {
        let bucket = format!("{}_WEBHOOK_LEASES", bus.config().stream_name());
        // Through the bus: the configured replicas and placement.
        let kv = bus
            .ensure_key_value(kv::Config {
                bucket: bucket.clone(),
                description: "repobus webhook relay: one owner per ordered endpoint".into(),
                history: 1,
                storage: async_nats::jetstream::stream::StorageType::File,
                limit_markers: Some(Duration::from_secs(60)),
                ..Default::default()
            })
            .await
            .map_err(|e| StoreError::Nats {
                what: format!("opening KV bucket {bucket}"),
                error: e.to_string(),
            })?;
        let owner = format!(
            "{}-{}-{:016x}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "relay".into()),
            std::process::id(),
            rand::random::<u64>()
        );
        Ok(Leases {
            bus: bus.clone(),
            kv,
            bucket,
            owner: Bytes::from(owner),
            ttl: Duration::from_secs(ttl.as_secs().max(1)),
        })
    }

    /// How often a holder renews and a standby tries.
    pub(crate) fn period(&self) -> Duration {
        self.ttl / 3
    }

    /// A raw write of `key` expecting `revision` (0: absent), with the TTL.
    async fn write(&self, key: &str, revision: u64) -> Result<u64, String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            revision.to_string().as_str(),
        );
        headers.insert(
            async_nats::header::NATS_MESSAGE_TTL,
            self.ttl.as_secs().to_string().as_str(),
        );
        let ack = self
            .bus
            .jetstream()
            .publish_with_headers(
                format!("$KV.{}.{key}", self.bucket),
                headers,
                self.owner.clone(),
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        Ok(ack.sequence)
    }

    /// Takes `key` when nobody holds it (or this relay did); `None` when
    /// another relay holds it.
    pub(crate) async fn acquire(&self, key: &str) -> Result<Option<Held>, StoreError> {
        if let Ok(revision) = self.write(key, 0).await {
            return Ok(Some(Held {
                key: key.to_owned(),
                revision,
            }));
        }
        let entry = self
            .kv
            .entry(key)
            .await
            .map_err(|e| nats(format!("reading lease {key}"), e))?;
        let revision = match entry {
            None => 0,
            Some(e) if e.operation != kv::Operation::Put || e.value == self.owner => e.revision,
            Some(_) => return Ok(None),
        };
        Ok(self.write(key, revision).await.ok().map(|revision| Held {
            key: key.to_owned(),
            revision,
        }))
    }

    /// Extends `held`; false when it was lost (taken or expired).
    pub(crate) async fn renew(&self, held: &mut Held) -> bool {
        match self.write(&held.key, held.revision).await {
            Ok(revision) => {
                held.revision = revision;
                true
            }
            Err(e) => {
                tracing::warn!(lease = %held.key, error = %e, "webhook lease lost");
                false
            }
        }
    }

    /// Gives `held` up at once (a standby takes over on its next try).
    pub(crate) async fn release(&self, held: Held) {
        if let Err(e) = self
            .kv
            .delete_expect_revision(&held.key, Some(held.revision))
            .await
        {
            tracing::debug!(lease = %held.key, error = %e, "releasing a webhook lease");
        }
    }
}
