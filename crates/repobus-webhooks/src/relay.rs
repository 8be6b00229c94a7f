//! The delivery engine.
//!
//! One worker per enabled endpoint pulls from the endpoint's durable
//! consumer; several relay processes may run at once and share each
//! consumer. With the default concurrency of 1 the consumer lets one event
//! be unacknowledged at a time, so events reach the endpoint in stream
//! order, and a retry holds back the events after it. A failed attempt is
//! a JetStream nak with the schedule's delay: the retry state lives in the
//! server, so a relay that restarts or crashes loses none. Each endpoint
//! has its own consumer and task, so one slow endpoint delays no other.
//!
//! Outcomes: 2xx delivered; 410 Gone disables the endpoint at once (the
//! event stays first in line for when it is enabled again); 429 and 503
//! honour `Retry-After` clamped to the schedule's bounds; anything else
//! (other statuses, timeouts, connection and TLS errors, refused targets)
//! is retried on the schedule, and dead-lettered for the endpoint when it
//! runs out. An endpoint whose attempts have all failed for
//! [`RelayOptions::disable_after`] (5 days) is disabled.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::kv::Operation;
use async_nats::jetstream::{self, AckKind};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use repobus::bus::Bus;
use repobus::criteria::Filter;
use repobus::envelope::Envelope;
use repobus::record::Record;
use repobus::Event;
use tokio::sync::{watch, Mutex};
use tokio::task::{JoinHandle, JoinSet};

use crate::attempts::{excerpt, Attempt, AttemptLog, Outcome};
use crate::client::HttpClient;
use crate::endpoint::{Disabled, Endpoint, Replay};
use crate::store::{consumer_name, decode, replay_consumer_name, StoreError, WebhookStore};
use crate::target::check_url;

/// Default of [`RelayOptions::disable_after`]: 5 days.
pub const DEFAULT_DISABLE_AFTER: Duration = Duration::from_secs(5 * 86_400);

/// How a relay runs.
///
/// # Examples
///
/// ```
/// use repobus_webhooks::relay::RelayOptions;
/// let options = RelayOptions { allow_private_targets: true, ..RelayOptions::default() };
/// assert_eq!(options.disable_after.as_secs(), 5 * 86_400);
/// ```
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Deliver to loopback, link-local and private addresses for every
    /// endpoint (tests, on-premise receivers).
    pub allow_private_targets: bool,
    /// Disable an endpoint whose attempts have all failed for this long.
    pub disable_after: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            allow_private_targets: false,
            disable_after: DEFAULT_DISABLE_AFTER,
        }
    }
}

/// The webhook relay of one bus.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus_webhooks::store::StoreError> {
/// use repobus_webhooks::relay::{Relay, RelayOptions};
///
/// let relay = Relay::new(&bus, RelayOptions::default()).await?;
/// // Runs until Ctrl-C; in-flight deliveries not acknowledged are redelivered later.
/// relay.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Relay {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("options", &self.shared.options)
            .finish()
    }
}

struct Shared {
    bus: Bus,
    store: WebhookStore,
    log: AttemptLog,
    options: RelayOptions,
    /// Refuses forbidden addresses after DNS.
    safe: HttpClient,
    /// For endpoints (or relays) that allow private targets.
    open: HttpClient,
}

/// An endpoint ready for delivery: its criteria parsed once.
struct Prepared {
    endpoint: Endpoint,
    filter: Option<Filter>,
}

impl Prepared {
    fn new(endpoint: Endpoint) -> Arc<Prepared> {
        Arc::new(Prepared {
            filter: endpoint.criteria(),
            endpoint,
        })
    }
}

/// A running worker and what it was started with.
struct Worker {
    sender: watch::Sender<Arc<Prepared>>,
    task: JoinHandle<()>,
    /// Changing any of these restarts the worker.
    key: (Vec<String>, u32, Duration),
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct ReplayWorker {
    replay: Replay,
    task: JoinHandle<()>,
}

impl Drop for ReplayWorker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Opens the endpoint store and the attempts stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(bus: repobus::bus::Bus) -> Result<(), repobus_webhooks::store::StoreError> {
    /// let relay = repobus_webhooks::relay::Relay::new(&bus, Default::default()).await?;
    /// tokio::spawn(relay.run(std::future::pending()));
    /// # Ok(()) }
    /// ```
    pub async fn new(bus: &Bus, options: RelayOptions) -> Result<Relay, StoreError> {
        let store = WebhookStore::open(bus).await?;
        let log = AttemptLog::open(bus).await?;
        Ok(Relay {
            shared: Arc::new(Shared {
                bus: bus.clone(),
                store,
                log,
                options,
                safe: HttpClient::new(true),
                open: HttpClient::new(false),
            }),
        })
    }

    /// Delivers until `shutdown` completes, following endpoint changes as
    /// they are stored.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(relay: repobus_webhooks::relay::Relay) -> Result<(), repobus_webhooks::store::StoreError> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let running = tokio::spawn(relay.run(async { let _ = stopped.await; }));
    /// // ...
    /// let _ = stop.send(());
    /// # Ok(()) }
    /// ```
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), StoreError> {
        tokio::pin!(shutdown);
        let mut workers: HashMap<String, Worker> = HashMap::new();
        let mut replays: HashMap<String, ReplayWorker> = HashMap::new();
        loop {
            let mut watch = tokio::select! {
                () = &mut shutdown => return Ok(()),
                w = self.shared.store.watch() => match w {
                    Ok(w) => w,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot watch webhook endpoints; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            loop {
                let entry = tokio::select! {
                    () = &mut shutdown => return Ok(()),
                    entry = watch.next() => entry,
                };
                let entry = match entry {
                    Some(Ok(entry)) => entry,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "watching webhook endpoints");
                        break;
                    }
                    None => break,
                };
                let id = entry.key.clone();
                let endpoint = match entry.operation {
                    Operation::Put => match decode(&entry.value) {
                        Ok(e) => Some(e),
                        Err(e) => {
                            tracing::error!(endpoint = %id, error = %e, "unreadable endpoint");
                            None
                        }
                    },
                    _ => None,
                };
                self.apply(&mut workers, &mut replays, &id, endpoint);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn apply(
        &self,
        workers: &mut HashMap<String, Worker>,
        replays: &mut HashMap<String, ReplayWorker>,
        id: &str,
        endpoint: Option<Endpoint>,
    ) {
        let Some(endpoint) = endpoint.filter(Endpoint::is_enabled) else {
            workers.remove(id);
            replays.remove(id);
            return;
        };
        match (&endpoint.replay, replays.get(id)) {
            (Some(r), Some(running)) if running.replay == *r => {}
            (Some(r), _) => {
                let task = tokio::spawn(worker(
                    self.shared.clone(),
                    watch::channel(Prepared::new(endpoint.clone())).1,
                    replay_consumer_name(id, r),
                    Some(r.clone()),
                ));
                replays.insert(
                    id.to_owned(),
                    ReplayWorker {
                        replay: r.clone(),
                        task,
                    },
                );
            }
            (None, _) => {
                replays.remove(id);
            }
        }
        let key = (
            endpoint.subjects.clone(),
            endpoint.concurrency,
            endpoint.timeout,
        );
        let prepared = Prepared::new(endpoint);
        if let Some(running) = workers.get(id) {
            if running.key == key && !running.task.is_finished() {
                running.sender.send_replace(prepared);
                return;
            }
        }
        let (sender, receiver) = watch::channel(prepared);
        let task = tokio::spawn(worker(
            self.shared.clone(),
            receiver,
            consumer_name(id),
            None,
        ));
        workers.insert(id.to_owned(), Worker { sender, task, key });
    }
}

/// Spaces requests out to a rate limit.
struct Pacer {
    next: Mutex<Instant>,
}

impl Pacer {
    async fn wait(&self, per_second: Option<u32>) {
        let Some(rate) = per_second.filter(|r| *r > 0) else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + Duration::from_secs(1) / rate;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// What the worker does after one message.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    /// The endpoint is being disabled: take nothing more.
    Stop,
    /// A replay reached its end.
    ReplayDone,
}

async fn worker(
    shared: Arc<Shared>,
    endpoint: watch::Receiver<Arc<Prepared>>,
    consumer: String,
    replay: Option<Replay>,
) {
    let pacer = Arc::new(Pacer {
        next: Mutex::new(Instant::now()),
    });
    let id = endpoint.borrow().endpoint.id.to_string();
    let mut backoff = Duration::from_millis(100);
    loop {
        let current = endpoint.borrow().clone();
        let concurrency = current.endpoint.concurrency.max(1) as usize;
        let messages = async {
            let stream = shared
                .bus
                .jetstream()
                .get_stream(shared.bus.config().stream_name())
                .await
                .map_err(|e| e.to_string())?;
            let mut consumer: jetstream::consumer::Consumer<pull::Config> = stream
                .get_consumer(&consumer)
                .await
                .map_err(|e| e.to_string())?;
            let info = consumer.info().await.map_err(|e| e.to_string())?;
            let idle = info.num_pending == 0 && info.num_ack_pending == 0;
            let messages = consumer
                .stream()
                // More than max_ack_pending: the server sends the next event as
                // soon as the previous is acknowledged, without a new pull.
                .max_messages_per_batch(concurrency.clamp(100, 500))
                .heartbeat(Duration::from_secs(5))
                .messages()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((messages, idle))
        }
        .await;
        let (mut messages, idle) = match messages {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(endpoint = %id, consumer = %consumer, error = %e, "cannot consume; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        if let (Some(r), true) = (&replay, idle) {
            finish_replay(&shared, &id, r).await;
            return;
        }
        backoff = Duration::from_millis(100);
        let mut tasks = JoinSet::new();
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
        while let Some(message) = messages.next().await {
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(endpoint = %id, error = %e, "receiving");
                    continue;
                }
            };
            let prepared = endpoint.borrow().clone();
            if concurrency == 1 {
                match deliver(&shared, &prepared, &pacer, message, replay.as_ref()).await {
                    Next::Continue => {}
                    Next::Stop => return std::future::pending().await,
                    Next::ReplayDone => {
                        if let Some(r) = &replay {
                            finish_replay(&shared, &id, r).await;
                        }
                        return;
                    }
                }
            } else {
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                while tasks.try_join_next().is_some() {}
                let (shared, pacer, replay) = (shared.clone(), pacer.clone(), replay.clone());
                tasks.spawn(async move {
                    let _ = deliver(&shared, &prepared, &pacer, message, replay.as_ref()).await;
                    drop(permit);
                });
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

async fn finish_replay(shared: &Shared, id: &str, replay: &Replay) {
    if let Err(e) = shared.store.finish_replay(id, replay).await {
        tracing::warn!(endpoint = %id, error = %e, "cannot mark the replay finished");
    }
}

/// Why an attempt failed, for the record and the retry decision.
struct Failure {
    status: Option<u16>,
    error: String,
    retry_after: Option<Duration>,
    response: String,
}

async fn deliver(
    shared: &Shared,
    prepared: &Prepared,
    pacer: &Pacer,
    message: jetstream::Message,
    replay: Option<&Replay>,
) -> Next {
    let endpoint = &prepared.endpoint;
    let Ok(info) = message.info() else {
        let _ = message.ack_with(AckKind::Term).await;
        return Next::Continue;
    };
    let (sequence, attempt, pending) = (
        info.stream_sequence,
        u64::try_from(info.delivered).unwrap_or(1).max(1),
        info.pending,
    );
    let published = DateTime::<Utc>::from_timestamp(
        info.published.unix_timestamp(),
        info.published.nanosecond(),
    )
    .unwrap_or_else(Utc::now);
    let stream = shared.bus.config().stream_name().to_owned();
    let decoded = Envelope::from_headers(
        message.headers.as_ref(),
        None,
        || format!("{stream}:{sequence}"),
        published,
    )
    .map_err(|e| e.to_string())
    .and_then(|envelope| {
        Event::decode(envelope.event_type.as_str(), &message.payload)
            .map(|event| (envelope, event))
            .map_err(|e| e.to_string())
    });
    let (envelope, event) = match decoded {
        Ok(d) => d,
        Err(e) => {
            // Nothing to deliver: such a message never decodes.
            tracing::warn!(endpoint = %endpoint.id, sequence, error = %e, "skipping an undecodable event");
            metrics::counter!("repobus_webhook_undecodable_total").increment(1);
            let _ = message.ack_with(AckKind::Term).await;
            return Next::Continue;
        }
    };
    if let Some(r) = replay {
        if r.before.is_some_and(|before| envelope.time >= before) {
            let _ = message.ack().await;
            return Next::ReplayDone;
        }
    }
    let done = |next: Next| {
        if replay.is_some() && pending == 0 && next == Next::Continue {
            Next::ReplayDone
        } else {
            next
        }
    };
    if let Some(filter) = &prepared.filter {
        let record = Record::new(&event, &envelope, &message.subject, sequence);
        if !filter.matches(&record.to_map()) {
            let _ = message.ack().await;
            return done(Next::Continue);
        }
    }
    pacer.wait(endpoint.rate_limit).await;
    let started = Utc::now();
    let clock = Instant::now();
    let result = post(shared, endpoint, &message.payload, &envelope, &event).await;
    let latency = clock.elapsed();
    metrics::histogram!("repobus_webhook_request_seconds").record(latency.as_secs_f64());
    let mut record = Attempt {
        endpoint: endpoint.id.to_string(),
        event_id: envelope.event_id.clone(),
        event_type: envelope.event_type.as_str().to_owned(),
        stream_sequence: sequence,
        attempt,
        time: started,
        status: None,
        error: None,
        latency_ms: latency.as_secs_f64() * 1000.0,
        response: String::new(),
        outcome: Outcome::Delivered,
        retry_in_ms: None,
        replay: replay.is_some(),
    };
    let failure = match result {
        Ok((status, response)) => {
            record.status = Some(status);
            record.response = response;
            let _ = message.ack().await;
            count(Outcome::Delivered);
            tracing::debug!(endpoint = %endpoint.id, event = %envelope.event_id, attempt, status, "delivered");
            shared.log.record(&record).await;
            if endpoint.failing_since.is_some() {
                let _ = shared
                    .store
                    .modify(endpoint.id.as_str(), |e| {
                        e.failing_since = None;
                        Ok(())
                    })
                    .await;
            }
            return done(Next::Continue);
        }
        Err(f) => f,
    };
    record.status = failure.status;
    record.error = Some(failure.error.clone());
    record.response = failure.response;
    let now = Utc::now();
    let failing_since = endpoint.failing_since.unwrap_or(now);
    let failing_for = (now - failing_since).to_std().unwrap_or_default();
    let disable_reason = if failure.status == Some(410) {
        Some(format!(
            "410 Gone from {} at {}",
            endpoint.url,
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
    } else if failing_for >= shared.options.disable_after {
        Some(format!(
            "every attempt failed since {} (last: {})",
            failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            failure.error
        ))
    } else {
        None
    };
    if let Some(reason) = disable_reason {
        let disabled = shared
            .store
            .modify(endpoint.id.as_str(), |e| {
                if e.disabled.is_none() {
                    e.disabled = Some(Disabled {
                        reason: reason.clone(),
                        at: now,
                    });
                }
                Ok(())
            })
            .await;
        if disabled.is_ok() {
            tracing::warn!(endpoint = %endpoint.id, %reason, "webhook endpoint disabled");
            let kind = if failure.status == Some(410) {
                "gone"
            } else {
                "failing"
            };
            metrics::counter!("repobus_webhook_endpoints_disabled_total", "reason" => kind)
                .increment(1);
            record.outcome = Outcome::Disabled;
            count(Outcome::Disabled);
            shared.log.record(&record).await;
            // Kept first in line for when the endpoint is enabled again.
            let _ = message.ack_with(AckKind::Nak(None)).await;
            return Next::Stop;
        }
    }
    if endpoint.failing_since.is_none() {
        let _ = shared
            .store
            .modify(endpoint.id.as_str(), |e| {
                if e.failing_since.is_none() {
                    e.failing_since = Some(now);
                }
                Ok(())
            })
            .await;
    }
    let schedule = &endpoint.retry_schedule;
    let delay = schedule
        .jittered_delay_after(attempt)
        .map(|d| match failure.retry_after {
            Some(asked) => {
                let (min, max) = schedule.bounds();
                asked.clamp(min, max)
            }
            None => d,
        });
    match delay {
        Some(delay) => {
            record.outcome = Outcome::Retry;
            record.retry_in_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
            tracing::info!(endpoint = %endpoint.id, event = %envelope.event_id, attempt, error = %failure.error, retry_in = ?delay, "delivery failed; will retry");
            count(Outcome::Retry);
            shared.log.record(&record).await;
            let _ = message.ack_with(AckKind::Nak(Some(delay))).await;
            Next::Continue
        }
        None => {
            record.outcome = Outcome::DeadLetter;
            tracing::warn!(endpoint = %endpoint.id, event = %envelope.event_id, attempt, error = %failure.error, "retry schedule exhausted: dead-lettered");
            count(Outcome::DeadLetter);
            shared.log.record(&record).await;
            let _ = message.ack_with(AckKind::Term).await;
            done(Next::Continue)
        }
    }
}

fn count(outcome: Outcome) {
    let label = match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry => "retry",
        Outcome::DeadLetter => "dead_letter",
        Outcome::Disabled => "disabled",
    };
    metrics::counter!("repobus_webhook_attempts_total", "outcome" => label).increment(1);
}

/// One POST: `Ok((status, body excerpt))` for a 2xx answer.
async fn post(
    shared: &Shared,
    endpoint: &Endpoint,
    wire: &[u8],
    envelope: &Envelope,
    event: &Event,
) -> Result<(u16, String), Failure> {
    let fail = |error: String| Failure {
        status: None,
        error,
        retry_after: None,
        response: String::new(),
    };
    let allow = shared.options.allow_private_targets || endpoint.allow_private_target;
    let url = check_url(&endpoint.url, allow).map_err(|e| fail(e.to_string()))?;
    let timestamp = Utc::now().timestamp();
    let request = crate::payload::request(endpoint, wire, envelope, &event.summary(), timestamp);
    let client = if allow { &shared.open } else { &shared.safe };
    let exchange = async {
        let answer = client
            .post(
                &url,
                &request.headers,
                request.body,
                crate::attempts::BODY_EXCERPT,
            )
            .await
            .map_err(fail)?;
        let status = answer.status;
        let text = excerpt(&answer.body);
        if (200..300).contains(&status) {
            return Ok((status, text));
        }
        let retry_after = answer
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        Err(Failure {
            status: Some(status),
            error: format!("HTTP {status}"),
            retry_after: if status == 429 || status == 503 {
                retry_after
            } else {
                None
            },
            response: text,
        })
    };
    match tokio::time::timeout(endpoint.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(fail(format!(
            "no answer within {}",
            crate::schedule::format_duration(endpoint.timeout)
        ))),
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((when - Utc::now()).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
