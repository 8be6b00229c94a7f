//! The delivery engine.
//!
//! One worker per enabled endpoint pulls from the endpoint's durable
//! consumer. Each endpoint has its own consumer and task, so one slow
//! endpoint delays no other.
//!
//! # Ordered endpoints (the default, `concurrency` 1)
//!
//! The consumer lets [`ORDERED_WINDOW`] events be unacknowledged at once
//! (endpoints created before the window have their consumer updated when
//! a worker opens it). The worker POSTs them one after the other in stream
//! order over one keep-alive connection and acknowledges each after its
//! 2xx, without waiting for the server: the next events are already in
//! hand, so an event costs one HTTP round trip, not an HTTP and a NATS one.
//!
//! The guarantee: **an event is POSTed only after every earlier event of
//! the endpoint's stream was delivered (2xx), dead-lettered, filtered out
//! or skipped as undecodable; delivery is at least once, and every repeat
//! carries the same `webhook-id`.**
//!
//! - When event *k* fails, *k* is retried on the schedule by the worker,
//!   and *k* and everything held after it stay unacknowledged, kept alive
//!   with in-progress acks; nothing after *k* is sent before *k* is
//!   delivered, dead-lettered or the endpoint is disabled (410, or failing
//!   for [`RelayOptions::disable_after`]: *k* and the window are handed
//!   back, in order, so enabling resumes with *k*).
//! - Retry state survives a crash: a failed attempt's record is handed to
//!   the attempts writer before the worker waits, and written at once
//!   (not batched, see [`crate::attempts`]); a redelivered event's
//!   attempt number and remaining delay come from the last record of that
//!   event (one direct read, only for redeliveries) and the message's
//!   delivery count. After a crash the unacknowledged window comes back in
//!   order once `ack_wait` (the request timeout + 2 s) expires.
//! - One relay at a time holds an ordered endpoint: a lease in the
//!   `<stream>_WEBHOOK_LEASES` KV bucket (see [`crate::lease`]), renewed
//!   every third of [`RelayOptions::lease_ttl`]. The others stand by and
//!   take over when the owner stops (it hands its window back and releases
//!   the lease) or dies (the lease expires). A new holder sends nothing
//!   while the consumer counts more unacknowledged events than it holds:
//!   the previous holder's window is redelivered first, in order.
//!   Several relays still share the work: each holds some endpoints.
//!
//! # Concurrent endpoints (`concurrency` > 1)
//!
//! Every relay pulls from the shared consumer, at most `concurrency`
//! events in flight; a failed attempt is a nak with the schedule's delay
//! (the retry state lives in the server).
//!
//! # Outcomes
//!
//! 2xx delivered; 410 Gone disables the endpoint at once (the event stays
//! first in line for when it is enabled again); 429 and 503 honour
//! `Retry-After` clamped to the schedule's bounds; anything else (other
//! statuses, timeouts, connection and TLS errors, refused targets) is
//! retried on the schedule, and dead-lettered for the endpoint when it
//! runs out. An endpoint whose attempts have all failed for
//! [`RelayOptions::disable_after`] (5 days) is disabled.
//!
//! # Per-event work
//!
//! The stored body goes out as it is: the event is decoded (and its schema
//! checked) only when a criteria filter or the `text` format needs it.
//! Otherwise the envelope headers must name a known type and the body must
//! be JSON (the stream is open to any client with publish rights, so that
//! much is checked); repobus's publishers validated the schema already.
//! The endpoint's URL is checked once per change, not per event; attempt
//! records are written in batches by [`AttemptLog`]'s own task.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, FromConsumer};
use async_nats::jetstream::kv::Operation;
use async_nats::jetstream::message::Info;
use async_nats::jetstream::{self, AckKind};
use chrono::{DateTime, Utc};
use futures_util::{FutureExt, StreamExt};
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
use crate::lease::{Leases, DEFAULT_LEASE_TTL};
use crate::store::{
    consumer_name, decode, max_ack_pending, replay_consumer_name, StoreError, WebhookStore,
    ORDERED_WINDOW,
};
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
    /// How long an ordered endpoint's lease lasts unless renewed (whole
    /// seconds): a relay that dies hands its endpoints over within this
    /// and a third of it.
    pub lease_ttl: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            allow_private_targets: false,
            disable_after: DEFAULT_DISABLE_AFTER,
            lease_ttl: DEFAULT_LEASE_TTL,
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
    leases: Leases,
    options: RelayOptions,
    /// Refuses forbidden addresses after DNS.
    safe: HttpClient,
    /// For endpoints (or relays) that allow private targets.
    open: HttpClient,
}

struct Prepared {
    endpoint: Endpoint,
    filter: Option<Filter>,
    /// Whether private targets are allowed (the relay's option or the
    /// endpoint's opt-in).
    allow: bool,
    /// The URL checked (and parsed for the client) once per change, not
    /// per event.
    uri: Result<http::Uri, String>,
}

impl Prepared {
    fn new(endpoint: Endpoint, options: &RelayOptions) -> Arc<Prepared> {
        let allow = options.allow_private_targets || endpoint.allow_private_target;
        Arc::new(Prepared {
            filter: endpoint.criteria(),
            uri: check_url(&endpoint.url, allow)
                .map_err(|e| e.to_string())
                .and_then(|url| {
                    url.as_str()
                        .parse::<http::Uri>()
                        .map_err(|e| format!("{:?} is not a URI: {e}", url.as_str()))
                }),
            allow,
            endpoint,
        })
    }

    /// The event must be decoded (and validated) to filter it or to write
    /// its summary; otherwise its stored body goes out as it is.
    fn needs_event(&self) -> bool {
        self.filter.is_some() || self.endpoint.format == crate::endpoint::Format::Text
    }
}

/// A running worker and what it was started with.
struct Worker {
    sender: watch::Sender<Arc<Prepared>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// Changing any of these restarts the worker.
    key: (Vec<String>, u32, Duration),
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The worker hands its window back and releases its lease.
        let _ = self.stop.send(true);
    }
}

struct ReplayWorker {
    replay: Replay,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Drop for ReplayWorker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
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
        let leases = Leases::open(bus, options.lease_ttl).await?;
        Ok(Relay {
            shared: Arc::new(Shared {
                bus: bus.clone(),
                store,
                log,
                leases,
                options,
                safe: HttpClient::new(true),
                open: HttpClient::new(false),
            }),
        })
    }

    /// Delivers until `shutdown` completes, following endpoint changes as
    /// they are stored. On shutdown each ordered endpoint's worker hands
    /// its unacknowledged events back (in order) and releases its lease,
    /// so another relay takes over at once.
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
                () = &mut shutdown => break,
                w = self.shared.store.watch() => match w {
                    Ok(w) => w,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot watch webhook endpoints; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            let stopping = loop {
                let entry = tokio::select! {
                    () = &mut shutdown => break true,
                    entry = watch.next() => entry,
                };
                let entry = match entry {
                    Some(Ok(entry)) => entry,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "watching webhook endpoints");
                        break false;
                    }
                    None => break false,
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
            };
            if stopping {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Let the workers hand back their windows and leases (bounded).
        let tasks: Vec<JoinHandle<()>> = workers
            .drain()
            .filter_map(|(_, mut w)| w.task.take())
            .chain(replays.drain().filter_map(|(_, mut r)| r.task.take()))
            .collect();
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            for task in tasks {
                let _ = task.await;
            }
            // The last attempt records, before the process may exit.
            self.shared.log.flush().await;
        })
        .await;
        Ok(())
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
        let options = &self.shared.options;
        match (&endpoint.replay, replays.get(id)) {
            (Some(r), Some(running)) if running.replay == *r => {}
            (Some(r), _) => {
                let (stop, stopped) = watch::channel(false);
                let task = tokio::spawn(worker(
                    self.shared.clone(),
                    watch::channel(Prepared::new(endpoint.clone(), options)).1,
                    replay_consumer_name(id, r),
                    Some(r.clone()),
                    stopped,
                ));
                replays.insert(
                    id.to_owned(),
                    ReplayWorker {
                        replay: r.clone(),
                        stop,
                        task: Some(task),
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
        let prepared = Prepared::new(endpoint, options);
        if let Some(running) = workers.get(id) {
            if running.key == key && running.task.as_ref().is_some_and(|t| !t.is_finished()) {
                running.sender.send_replace(prepared);
                return;
            }
        }
        let (sender, receiver) = watch::channel(prepared);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker(
            self.shared.clone(),
            receiver,
            consumer_name(id),
            None,
            stopped,
        ));
        workers.insert(
            id.to_owned(),
            Worker {
                sender,
                stop,
                task: Some(task),
                key,
            },
        );
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

/// What became of one attempt at one event, for the caller to acknowledge.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Delivered or filtered out: acknowledge.
    Ack,
    /// Never deliverable (undecodable) or dead-lettered: terminate.
    Term,
    /// Failed: try again after this delay.
    Retry(Duration),
    /// The endpoint was disabled: keep the event first in line.
    Disabled,
    /// A replay reached its `before`: acknowledge and finish it.
    ReplayEnd,
}

/// How an ordered worker's run ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Told to stop (the endpoint changed, was removed, or the relay stops).
    Stop,
    /// The endpoint was disabled: idle until told to stop.
    Disabled,
    /// The replay is done.
    ReplayDone,
    /// The lease was lost or the consumer failed: start over.
    Again,
}

async fn worker(
    shared: Arc<Shared>,
    endpoint: watch::Receiver<Arc<Prepared>>,
    consumer: String,
    replay: Option<Replay>,
    stop: watch::Receiver<bool>,
) {
    let pacer = Pacer {
        next: Mutex::new(Instant::now()),
    };
    let id = endpoint.borrow().endpoint.id.to_string();
    if endpoint.borrow().endpoint.concurrency <= 1 {
        ordered(&shared, endpoint, &consumer, replay.as_ref(), stop, &pacer).await;
    } else {
        let stopped = stop_signal(stop);
        tokio::select! {
            () = concurrent(shared.clone(), endpoint, &consumer, replay.as_ref(), Arc::new(pacer)) => {}
            () = stopped => {}
        }
    }
    tracing::debug!(endpoint = %id, consumer = %consumer, "worker stopped");
}

/// Completes when `stop` turns true (or its sender is gone).
async fn stop_signal(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Opens `name`, setting its `max_ack_pending` to `want` when it differs
/// (endpoints created before the ordered window), and reports whether it
/// had nothing pending and how many events it had unacknowledged.
async fn open_consumer(
    shared: &Shared,
    name: &str,
    want: i64,
) -> Result<(jetstream::consumer::Consumer<pull::Config>, bool, usize), String> {
    let stream = shared
        .bus
        .jetstream()
        .get_stream(shared.bus.config().stream_name())
        .await
        .map_err(|e| e.to_string())?;
    let mut consumer: jetstream::consumer::Consumer<pull::Config> =
        stream.get_consumer(name).await.map_err(|e| e.to_string())?;
    let info = consumer.info().await.map_err(|e| e.to_string())?.clone();
    if info.config.max_ack_pending != want {
        let mut config: pull::Config = pull::Config::try_from_consumer_config(info.config.clone())
            .map_err(|e| e.to_string())?;
        config.max_ack_pending = want;
        consumer = stream
            .update_consumer(config)
            .await
            .map_err(|e| format!("setting max_ack_pending of {name}: {e}"))?;
    }
    let idle = info.num_pending == 0 && info.num_ack_pending == 0;
    Ok((consumer, idle, info.num_ack_pending))
}

/// Concurrent delivery (`concurrency > 1`): the consumer is shared by
/// every relay; a failure is a nak with the schedule's delay.
async fn concurrent(
    shared: Arc<Shared>,
    endpoint: watch::Receiver<Arc<Prepared>>,
    consumer: &str,
    replay: Option<&Replay>,
    pacer: Arc<Pacer>,
) {
    let id = endpoint.borrow().endpoint.id.to_string();
    let mut backoff = Duration::from_millis(100);
    loop {
        let current = endpoint.borrow().clone();
        let concurrency = current.endpoint.concurrency.max(1) as usize;
        let opened = async {
            let (consumer, idle, _) =
                open_consumer(&shared, consumer, max_ack_pending(&current.endpoint)).await?;
            let messages = consumer
                .stream()
                .max_messages_per_batch(concurrency.clamp(100, 500))
                .heartbeat(Duration::from_secs(5))
                .messages()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((messages, idle))
        }
        .await;
        let (mut messages, idle) = match opened {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(endpoint = %id, consumer = %consumer, error = %e, "cannot consume; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        if let (Some(r), true) = (replay, idle) {
            finish_replay(&shared, &id, r).await;
            return;
        }
        backoff = Duration::from_millis(100);
        let mut tasks = JoinSet::new();
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Verdict>();
        loop {
            let message = tokio::select! {
                m = messages.next() => m,
                v = done_rx.recv() => match v {
                    Some(Verdict::Disabled) => return std::future::pending().await,
                    Some(Verdict::ReplayEnd) => {
                        if let Some(r) = replay {
                            finish_replay(&shared, &id, r).await;
                        }
                        return;
                    }
                    _ => continue,
                },
            };
            let Some(message) = message else { break };
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(endpoint = %id, error = %e, "receiving");
                    continue;
                }
            };
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break;
            };
            while tasks.try_join_next().is_some() {}
            let prepared = endpoint.borrow().clone();
            let (shared, pacer, replay, done) = (
                shared.clone(),
                pacer.clone(),
                replay.cloned(),
                done_tx.clone(),
            );
            tasks.spawn(async move {
                let (verdict, last) = match message.info() {
                    Ok(info) => {
                        let number = u64::try_from(info.delivered).unwrap_or(1).max(1);
                        let verdict = attempt(
                            &shared,
                            &prepared,
                            &pacer,
                            &message,
                            &info,
                            replay.as_ref(),
                            number,
                        )
                        .await;
                        (verdict, replay.is_some() && info.pending == 0)
                    }
                    // Not a JetStream delivery: nothing to deliver.
                    Err(_) => (Verdict::Term, false),
                };
                let _ = match &verdict {
                    Verdict::Ack => message.ack().await,
                    Verdict::Term => message.ack_with(AckKind::Term).await,
                    Verdict::Retry(delay) => message.ack_with(AckKind::Nak(Some(*delay))).await,
                    Verdict::Disabled => message.ack_with(AckKind::Nak(None)).await,
                    Verdict::ReplayEnd => message.ack().await,
                };
                let report = match verdict {
                    Verdict::Ack | Verdict::Term if last => Verdict::ReplayEnd,
                    v => v,
                };
                let _ = done.send(report);
                drop(permit);
            });
        }
        tokio::time::sleep(backoff).await;
    }
}

/// Ordered delivery (`concurrency` 1): one relay at a time holds the
/// endpoint's lease and its window.
async fn ordered(
    shared: &Shared,
    endpoint: watch::Receiver<Arc<Prepared>>,
    consumer: &str,
    replay: Option<&Replay>,
    mut stop: watch::Receiver<bool>,
    pacer: &Pacer,
) {
    let id = endpoint.borrow().endpoint.id.to_string();
    let leases = shared.leases.clone();
    let mut backoff = Duration::from_millis(100);
    loop {
        // Stand by until this relay holds the endpoint.
        let held = loop {
            if *stop.borrow() {
                return;
            }
            match leases.acquire(consumer).await {
                Ok(Some(held)) => break held,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(endpoint = %id, error = %e, "cannot take the endpoint's lease")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(leases.period()) => {}
                _ = stop.changed() => {}
            }
        };
        tracing::debug!(endpoint = %id, consumer = %consumer, "holding the endpoint's lease");
        let (lost_tx, lost) = watch::channel(false);
        let (quit, mut quitting) = tokio::sync::oneshot::channel::<()>();
        let renewing = {
            let leases = leases.clone();
            tokio::spawn(async move {
                let mut held = held;
                loop {
                    tokio::select! {
                        _ = &mut quitting => {
                            leases.release(held).await;
                            return;
                        }
                        () = tokio::time::sleep(leases.period()) => {
                            if !leases.renew(&mut held).await {
                                let _ = lost_tx.send(true);
                                return;
                            }
                        }
                    }
                }
            })
        };
        let end = window(
            shared,
            &endpoint,
            consumer,
            replay,
            stop.clone(),
            lost,
            pacer,
        )
        .await;
        if end == End::Disabled {
            // Keep the lease (no standby should try) until the change
            // that disabled the endpoint stops this worker.
            stop_signal(stop.clone()).await;
        }
        let _ = quit.send(());
        let _ = renewing.await;
        match end {
            End::Stop | End::Disabled => return,
            End::ReplayDone => {
                if let Some(r) = replay {
                    finish_replay(shared, &id, r).await;
                }
                return;
            }
            End::Again => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// The events an ordered worker holds, by stream sequence.
type Held = BTreeMap<u64, jetstream::Message>;

/// Keeps every held event (and `current`) from being redelivered.
async fn keep_alive(held: &Held, current: Option<&jetstream::Message>) {
    for message in current.into_iter().chain(held.values()) {
        let _ = message.ack_with(AckKind::Progress).await;
    }
}

/// Hands `current` and every held event back, in stream order, for
/// whoever delivers next.
async fn hand_back(held: &mut Held, current: Option<&jetstream::Message>) {
    for message in current.into_iter().chain(held.values()) {
        let _ = message.ack_with(AckKind::Nak(None)).await;
    }
    held.clear();
}

/// Takes `message` into `held`, unless it is the redelivery of an event
/// already delivered (acknowledged again).
async fn take(held: &mut Held, message: jetstream::Message, done_upto: u64) {
    let Ok(sequence) = message.info().map(|i| i.stream_sequence) else {
        let _ = message.ack_with(AckKind::Term).await;
        return;
    };
    if sequence <= done_upto {
        let _ = message.ack().await;
    } else {
        // A redelivery replaces the copy held (either reply works).
        held.insert(sequence, message);
    }
}

/// One run of an ordered endpoint while holding its lease: events in a
/// window of [`ORDERED_WINDOW`], POSTed one after the other in stream
/// order; the next is never sent before the previous one is delivered,
/// dead-lettered or the endpoint disabled.
async fn window(
    shared: &Shared,
    endpoint: &watch::Receiver<Arc<Prepared>>,
    consumer: &str,
    replay: Option<&Replay>,
    mut stop: watch::Receiver<bool>,
    mut lost: watch::Receiver<bool>,
    pacer: &Pacer,
) -> End {
    let id = endpoint.borrow().endpoint.id.to_string();
    let (consumer_handle, idle, leftovers) = match open_consumer(shared, consumer, ORDERED_WINDOW)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(endpoint = %id, consumer = %consumer, error = %e, "cannot consume; retrying");
            return End::Again;
        }
    };
    if replay.is_some() && idle {
        return End::ReplayDone;
    }
    let mut messages = match consumer_handle
        .stream()
        .max_messages_per_batch(ORDERED_WINDOW as usize)
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
    {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(endpoint = %id, error = %e, "cannot consume; retrying");
            return End::Again;
        }
    };
    let ack_wait = crate::store::ack_wait(&endpoint.borrow().endpoint);
    let mut keep = tokio::time::interval(ack_wait / 3);
    keep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    keep.tick().await;
    // Events another holder left unacknowledged come back (after
    // `ack_wait`, or at once when handed back) before anything newer can
    // be sent; until every unacknowledged event is in hand, the smallest
    // held may not be the next. Checked against the consumer's count.
    let mut gated = leftovers > 0;
    let mut recheck = tokio::time::interval(Duration::from_millis(250));
    let mut held: Held = BTreeMap::new();
    let mut done_upto = 0u64;
    let mut open = true;
    loop {
        // Wait for something to deliver.
        while open && (held.is_empty() || gated) {
            tokio::select! {
                m = messages.next() => match m {
                    Some(Ok(m)) => take(&mut held, m, done_upto).await,
                    Some(Err(e)) => tracing::warn!(endpoint = %id, error = %e, "receiving"),
                    None => open = false,
                },
                _ = recheck.tick(), if gated => {
                    let mut handle = consumer_handle.clone();
                    if let Ok(info) = handle.info().await {
                        gated = info.num_ack_pending > held.len();
                    }
                }
                _ = keep.tick() => keep_alive(&held, None).await,
                _ = stop.changed() => {
                    hand_back(&mut held, None).await;
                    return End::Stop;
                }
                _ = lost.changed() => {
                    hand_back(&mut held, None).await;
                    return End::Again;
                }
            }
        }
        if gated {
            // The consumer's stream ended before the window was whole.
            hand_back(&mut held, None).await;
            return End::Again;
        }
        // Take whatever else has arrived, without waiting.
        while open {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => take(&mut held, m, done_upto).await,
                Some(Some(Err(e))) => tracing::warn!(endpoint = %id, error = %e, "receiving"),
                Some(None) => open = false,
                None => break,
            }
        }
        let Some((sequence, message)) = held.pop_first() else {
            // The consumer's stream ended: open it again.
            return End::Again;
        };
        let Ok(info) = message.info() else {
            let _ = message.ack_with(AckKind::Term).await;
            continue;
        };
        let last_of_replay = replay.is_some() && info.pending == 0;
        let mut number = u64::try_from(info.delivered).unwrap_or(1).max(1);
        let mut wait = None;
        if number > 1 {
            // A redelivery: resume the schedule where the attempts log
            // says it was (a crash or a takeover since).
            if let Some(last) = shared.log.last(&id).await {
                if last.stream_sequence == sequence
                    && last.replay == replay.is_some()
                    && last.outcome == Outcome::Retry
                {
                    number = number.max(last.attempt + 1);
                    let due = last.time
                        + chrono::Duration::milliseconds(
                            (last.latency_ms as i64)
                                .saturating_add(last.retry_in_ms.unwrap_or(0) as i64),
                        );
                    wait = (due - Utc::now()).to_std().ok();
                }
            }
        }
        let verdict = loop {
            // The schedule's wait (if any), then the attempt: one future, so
            // the window keeps filling and staying alive while either runs.
            // Moved in: the wait and the attempt number of this round, and
            // references to what outlives it.
            let (delay, this_number) = (wait.take(), number);
            let (this_message, this_info, this_endpoint) = (&message, &info, &endpoint);
            let trying = async move {
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                let prepared = this_endpoint.borrow().clone();
                attempt(
                    shared,
                    &prepared,
                    pacer,
                    this_message,
                    this_info,
                    replay,
                    this_number,
                )
                .await
            };
            tokio::pin!(trying);
            let verdict = loop {
                tokio::select! {
                    v = &mut trying => break v,
                    m = messages.next(), if open => match m {
                        Some(Ok(m)) => take(&mut held, m, done_upto).await,
                        Some(Err(e)) => tracing::warn!(endpoint = %id, error = %e, "receiving"),
                        None => open = false,
                    },
                    _ = keep.tick() => keep_alive(&held, Some(&message)).await,
                    _ = stop.changed() => {
                        hand_back(&mut held, Some(&message)).await;
                        return End::Stop;
                    }
                    _ = lost.changed() => {
                        hand_back(&mut held, Some(&message)).await;
                        return End::Again;
                    }
                }
            };
            match verdict {
                Verdict::Retry(delay) => {
                    wait = Some(delay);
                    number += 1;
                }
                v => break v,
            }
        };
        match verdict {
            Verdict::Ack | Verdict::Retry(_) => {
                let _ = message.ack().await;
            }
            Verdict::Term => {
                let _ = message.ack_with(AckKind::Term).await;
            }
            Verdict::ReplayEnd => {
                let _ = message.ack().await;
                hand_back(&mut held, None).await;
                return End::ReplayDone;
            }
            Verdict::Disabled => {
                hand_back(&mut held, Some(&message)).await;
                return End::Disabled;
            }
        }
        done_upto = sequence;
        // A copy of this event redelivered while it was being attempted
        // (its ack_wait ran out) is not sent again.
        while let Some(entry) = held.first_entry() {
            if *entry.key() > done_upto {
                break;
            }
            let _ = entry.remove().ack().await;
        }
        if last_of_replay {
            hand_back(&mut held, None).await;
            return End::ReplayDone;
        }
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

/// The event's envelope and, when `needs_event`, the decoded event.
fn read_event(
    shared: &Shared,
    message: &jetstream::Message,
    sequence: u64,
    published: DateTime<Utc>,
    needs_event: bool,
) -> Result<(Envelope, Option<Event>), String> {
    let stream = shared.bus.config().stream_name();
    let envelope = Envelope::from_headers(
        message.headers.as_ref(),
        None,
        || format!("{stream}:{sequence}"),
        published,
    )
    .map_err(|e| e.to_string())?;
    if needs_event {
        let event = Event::decode(envelope.event_type.as_str(), &message.payload)
            .map_err(|e| e.to_string())?;
        return Ok((envelope, Some(event)));
    }
    // Delivered as stored: the envelope names a known type and the body
    // is JSON. The stream is open to any client with publish rights, so
    // something is checked, but the full schema check (which repobus's
    // publishers ran already) is skipped.
    serde_json::from_slice::<serde::de::IgnoredAny>(&message.payload)
        .map_err(|e| format!("the body is not JSON: {e}"))?;
    Ok((envelope, None))
}

/// One attempt at `message` (whose reply subject says `info`; attempt
/// `number`), recorded; the caller
/// acknowledges per the verdict.
async fn attempt(
    shared: &Shared,
    prepared: &Prepared,
    pacer: &Pacer,
    message: &jetstream::Message,
    info: &Info<'_>,
    replay: Option<&Replay>,
    number: u64,
) -> Verdict {
    let endpoint = &prepared.endpoint;
    let sequence = info.stream_sequence;
    let published = DateTime::<Utc>::from_timestamp(
        info.published.unix_timestamp(),
        info.published.nanosecond(),
    )
    .unwrap_or_else(Utc::now);
    let (envelope, event) = match read_event(
        shared,
        message,
        sequence,
        published,
        prepared.needs_event(),
    ) {
        Ok(d) => d,
        Err(e) => {
            // Nothing to deliver: such a message never decodes.
            tracing::warn!(endpoint = %endpoint.id, sequence, error = %e, "skipping an undecodable event");
            metrics::counter!("repobus_webhook_undecodable_total").increment(1);
            return Verdict::Term;
        }
    };
    if let Some(r) = replay {
        if r.before.is_some_and(|before| envelope.time >= before) {
            return Verdict::ReplayEnd;
        }
    }
    if let (Some(filter), Some(event)) = (&prepared.filter, &event) {
        let record = Record::new(event, &envelope, &message.subject, sequence);
        if !filter.matches(&record.to_map()) {
            return Verdict::Ack;
        }
    }
    pacer.wait(endpoint.rate_limit).await;
    let started = Utc::now();
    let clock = Instant::now();
    let summary = event.as_ref().map(Event::summary).unwrap_or_default();
    let result = post(shared, prepared, &message.payload, &envelope, &summary).await;
    let latency = clock.elapsed();
    metrics::histogram!("repobus_webhook_request_seconds").record(latency.as_secs_f64());
    let mut record = Attempt {
        endpoint: endpoint.id.to_string(),
        event_id: envelope.event_id.clone(),
        event_type: envelope.event_type.as_str().to_owned(),
        stream_sequence: sequence,
        attempt: number,
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
            count(Outcome::Delivered);
            tracing::debug!(endpoint = %endpoint.id, event = %envelope.event_id, attempt = number, status, "delivered");
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
            return Verdict::Ack;
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
            return Verdict::Disabled;
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
        .jittered_delay_after(number)
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
            tracing::info!(endpoint = %endpoint.id, event = %envelope.event_id, attempt = number, error = %failure.error, retry_in = ?delay, "delivery failed; will retry");
            count(Outcome::Retry);
            shared.log.record(&record).await;
            Verdict::Retry(delay)
        }
        None => {
            record.outcome = Outcome::DeadLetter;
            tracing::warn!(endpoint = %endpoint.id, event = %envelope.event_id, attempt = number, error = %failure.error, "retry schedule exhausted: dead-lettered");
            count(Outcome::DeadLetter);
            shared.log.record(&record).await;
            Verdict::Term
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
    prepared: &Prepared,
    wire: &[u8],
    envelope: &Envelope,
    summary: &str,
) -> Result<(u16, String), Failure> {
    let endpoint = &prepared.endpoint;
    let fail = |error: String| Failure {
        status: None,
        error,
        retry_after: None,
        response: String::new(),
    };
    let uri = prepared.uri.as_ref().map_err(|e| fail(e.clone()))?;
    let timestamp = Utc::now().timestamp();
    let request = crate::payload::request(endpoint, wire, envelope, summary, timestamp);
    let client = if prepared.allow {
        &shared.open
    } else {
        &shared.safe
    };
    let exchange = async {
        let answer = client
            .post(
                uri,
                request.headers,
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
