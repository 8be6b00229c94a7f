//! Shared by the webhook tests: a real HTTP receiver on loopback whose
//! answers a test sets, and a relay running in the test.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use repobus::bus::Bus;
use repobus_webhooks::relay::{Relay, RelayOptions};

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 at once.
    Ok,
    /// 500 to the first `n` requests of each `webhook-id`, then 200.
    FailFirst(usize),
    /// Always this status.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    TooMany(u64),
    /// Never answers.
    Hang,
    /// 200 after this many milliseconds.
    Delay(u64),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_owned()
    }

    pub fn id(&self) -> String {
        self.header("webhook-id")
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub behaviour: Arc<Mutex<Behaviour>>,
    pub log: Arc<Mutex<Vec<Received>>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port.
    pub async fn start(behaviour: Behaviour) -> Receiver {
        Receiver::start_on(0, behaviour).await
    }

    /// Starts a receiver on `port` (0: any free one).
    pub async fn start_on(port: u16, behaviour: Behaviour) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let receiver = ReceiverState {
            behaviour: Arc::new(Mutex::new(behaviour)),
            log: Arc::new(Mutex::new(Vec::new())),
            counts: Arc::new(Mutex::new(HashMap::new())),
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(receiver.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            addr,
            behaviour: receiver.behaviour,
            log: receiver.log,
            counts: receiver.counts,
            task: Arc::new(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// Stops listening (the port closes).
    pub fn stop(&self) {
        self.task.abort();
    }

    /// The distinct `webhook-id`s in the order first received (a receiver
    /// that de-duplicates).
    pub fn unique_ids(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.received()
            .iter()
            .map(Received::id)
            .filter(|id| seen.insert(id.clone()))
            .collect()
    }

    /// The ids of the 2xx-answered requests, in order.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let ids = self.unique_ids();
            if ids.len() >= n {
                return ids;
            }
            if Instant::now() > deadline {
                panic!(
                    "received {} of {n} events within {secs} s: {ids:?}",
                    ids.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[derive(Clone)]
struct ReceiverState {
    behaviour: Arc<Mutex<Behaviour>>,
    log: Arc<Mutex<Vec<Received>>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

async fn handle(State(state): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> Response {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let nth = {
        let mut counts = state.counts.lock().unwrap();
        let n = counts.entry(id).or_default();
        *n += 1;
        *n
    };
    let behaviour = *state.behaviour.lock().unwrap();
    if behaviour == Behaviour::Hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if let Behaviour::Delay(ms) = behaviour {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    state.log.lock().unwrap().push(Received {
        headers,
        body,
        at: Instant::now(),
    });
    match behaviour {
        Behaviour::Ok | Behaviour::Hang | Behaviour::Delay(_) => StatusCode::OK.into_response(),
        Behaviour::FailFirst(n) if nth <= n => {
            (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response()
        }
        Behaviour::FailFirst(_) => StatusCode::OK.into_response(),
        Behaviour::Status(s) => StatusCode::from_u16(s)
            .unwrap_or(StatusCode::IM_A_TEAPOT)
            .into_response(),
        Behaviour::TooMany(secs) => {
            let mut r = StatusCode::TOO_MANY_REQUESTS.into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
            r
        }
    }
}

/// A relay running until the returned sender is dropped or sent to.
pub async fn relay(bus: &Bus, allow_private: bool) -> tokio::sync::oneshot::Sender<()> {
    let options = RelayOptions {
        allow_private_targets: allow_private,
        ..RelayOptions::default()
    };
    relay_with(bus, options).await.0
}

/// A relay with `options`; stopping it through the returned sender and
/// awaiting the task waits until it has handed its windows and leases back.
pub async fn relay_with(
    bus: &Bus,
    options: RelayOptions,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let relay = Relay::new(bus, options).await.expect("relay");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        relay
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .expect("relay run");
    });
    (stop, task)
}

/// Publishes `n` sync-started events of repositories `<repo>-<i>`; their IDs.
pub async fn publish(bus: &Bus, n: usize, repo: &str) -> Vec<String> {
    let publisher = bus.publisher();
    let mut ids = Vec::new();
    for i in 0..n {
        let ack = publisher
            .publish(&repobus_testkit::sync_started(&format!("{repo}-{i}")))
            .await
            .expect("publish");
        ids.push(ack.event_id);
    }
    ids
}

/// Waits until `check` holds, for at most `secs`.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        if Instant::now() > deadline {
            panic!("not within {secs} s: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
