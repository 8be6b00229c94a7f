//! Long forward reads through an ordered pull consumer: the server pushes
//! batches ahead of the reader (the client keeps the next batch in flight
//! while the current one is decoded), which batched direct gets, one
//! request and answer after another, do not. Used once a read outgrows one
//! direct-get batch.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use chrono::DateTime;
use futures_util::StreamExt;

use crate::bus::Bus;

use super::direct::Stored;
use super::HistoryError;

/// How long the consumer may stay silent while messages are still pending
/// before the read fails (say, the messages were deleted meanwhile).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the messages on `subject` (every subject if `None`) from sequence
/// `first` to `last` (inclusive; also at most the stream's last sequence
/// when the read starts), in sequence order, handing each to `each` until
/// it returns `false`.
pub(super) async fn read(
    bus: &Bus,
    subject: Option<&str>,
    first: u64,
    last: u64,
    mut each: impl FnMut(Stored) -> bool,
) -> Result<(), HistoryError> {
    let name = bus.config().stream_name();
    let error = |reason: String| HistoryError::Read {
        stream: name.to_owned(),
        reason,
    };
    let stream = bus
        .jetstream()
        .get_stream(name)
        .await
        .map_err(|e| error(e.to_string()))?;
    let last = last.min(stream.cached_info().state.last_sequence);
    let first = first.max(1);
    if first > last {
        return Ok(());
    }
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: subject.unwrap_or_default().to_owned(),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: first,
            },
            ..OrderedConfig::default()
        })
        .await
        .map_err(|e| error(format!("cannot create an ordered consumer: {e}")))?;
    let consumer_name = consumer.cached_info().name.clone();
    let result = async {
        if consumer.cached_info().num_pending == 0 {
            return Ok(());
        }
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| error(format!("cannot read through an ordered consumer: {e}")))?;
        loop {
            let message = match tokio::time::timeout(IDLE_TIMEOUT, messages.next()).await {
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(e))) => return Err(error(format!("ordered consumer: {e}"))),
                Ok(None) => return Err(error("the ordered consumer ended early".to_owned())),
                Err(_) => {
                    return Err(error(format!(
                        "no message within {IDLE_TIMEOUT:?} although the consumer had some pending"
                    )))
                }
            };
            let (seq, pending, stored) = {
                let info = message
                    .info()
                    .map_err(|e| error(format!("a message without JetStream metadata: {e}")))?;
                let nanos = i64::try_from(info.published.unix_timestamp_nanos()).unwrap_or(0);
                (
                    info.stream_sequence,
                    info.pending,
                    DateTime::from_timestamp_nanos(nanos),
                )
            };
            if seq > last {
                return Ok(());
            }
            let message = message.message;
            let keep_going = each(Stored::new(
                message.subject.to_string(),
                seq,
                stored,
                Some(pending),
                message.headers.unwrap_or_default(),
                message.payload,
            ));
            if !keep_going || seq >= last || pending == 0 {
                return Ok(());
            }
        }
    }
    .await;
    // Ordered consumers expire on their own after 30 s idle; deleting it
    // now frees the server sooner (best effort).
    let _ = stream.delete_consumer(&consumer_name).await;
    result
}
