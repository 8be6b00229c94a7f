//! Shared harness of the bus integration tests: a private `nats-server -js`
//! per test, a configuration with short timings, sample events, and a reader
//! of everything a stream stores that does not go through repobus's own
//! subscriber.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use repobus::bus::{Bus, BusConfig};
use repobus::events::{BuildChroot, CoprStatus, RepoSyncStarted};
use repobus::local::{LocalNats, LocalNatsOptions};
use repobus::{Event, ResourceId};

/// `ce-source` of every event the tests publish.
pub const SOURCE: &str = "urn:repobus:test";

/// The build ID of [`build_ended`] events.
pub const BUILD_ID: u64 = 4242;

/// Starts a private `nats-server -js` on a free port with its store in a
/// fresh temporary directory (`$REPOBUS_NATS_SERVER` or `nats-server` on
/// `PATH`). Keep the `TempDir` alive as long as the server.
pub async fn server() -> (LocalNats, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("repobus-bus-test-")
        .tempdir()
        .expect("temporary directory");
    let server = within(
        30,
        "starting nats-server",
        LocalNats::start(LocalNatsOptions::new(dir.path())),
    )
    .await
    .unwrap_or_else(|e| panic!("cannot start nats-server: {e}"));
    (server, dir)
}

/// A configuration for `url` with timings short enough for tests.
pub fn config(url: impl Into<String>) -> BusConfig {
    let mut config = BusConfig::new(url);
    config.source = SOURCE.to_owned();
    config.publish_deadline = Duration::from_secs(20);
    config.duplicate_window = Duration::from_secs(60);
    config.ack_timeout = Duration::from_secs(1);
    config.connect_timeout = Duration::from_secs(2);
    config.client_name = "repobus-test".to_owned();
    config
}

/// Connects to `server` with [`config`].
pub async fn connect(server: &LocalNats) -> Bus {
    connect_with(config(server.url())).await
}

/// Connects with `config`, bounded in time.
pub async fn connect_with(config: BusConfig) -> Bus {
    let url = config.nats_url.clone();
    within(30, "connecting", Bus::connect(config))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// Runs `future`, failing the test if it takes more than `secs` seconds.
pub async fn within<F: Future>(secs: u64, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {secs} s: {what}"),
    }
}

/// A resource ID, panicking on an invalid one.
pub fn rid(id: &str) -> ResourceId {
    ResourceId::new(id).unwrap_or_else(|e| panic!("{id:?}: {e}"))
}

/// `repo-sync-started` for `repo_id`.
pub fn sync_started(repo_id: &str) -> Event {
    RepoSyncStarted::new(rid(repo_id)).into()
}

/// `build-chroot-ended` (succeeded) of build [`BUILD_ID`] in
/// `owner/project`, `chroot`.
pub fn build_ended(owner: &str, project: &str, chroot: &str) -> Event {
    BuildChroot::builder(BUILD_ID, owner, project, chroot)
        .package("hello", "2.10-1.fc40")
        .user("alice")
        .ip("10.0.0.7")
        .ended(CoprStatus::Succeeded)
        .into()
}

/// One message as a stream stores it.
pub type Stored = (String, HeaderMap, Bytes);

/// Every message of `stream`, in sequence order, read with the JetStream
/// API directly (not through repobus's subscriber).
pub async fn stream_messages(bus: &Bus, stream: &str) -> Vec<Stored> {
    stream_messages_with_seq(bus, stream)
        .await
        .into_iter()
        .map(|(_, subject, headers, payload)| (subject, headers, payload))
        .collect()
}

/// Like [`stream_messages`], with each message's stream sequence first.
pub async fn stream_messages_with_seq(
    bus: &Bus,
    stream: &str,
) -> Vec<(u64, String, HeaderMap, Bytes)> {
    within(60, "reading the stream", async {
        let mut handle = bus
            .jetstream()
            .get_stream(stream)
            .await
            .unwrap_or_else(|e| panic!("stream {stream}: {e}"));
        let state = handle
            .info()
            .await
            .unwrap_or_else(|e| panic!("info of stream {stream}: {e}"))
            .state
            .clone();
        let mut out = Vec::new();
        if state.messages == 0 {
            return out;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let message = handle
                .get_raw_message(seq)
                .await
                .unwrap_or_else(|e| panic!("message {seq} of stream {stream}: {e}"));
            out.push((
                message.sequence,
                message.subject.to_string(),
                message.headers,
                message.payload,
            ));
        }
        assert_eq!(
            out.len() as u64,
            state.messages,
            "stream {stream} has gaps in its sequences"
        );
        out
    })
    .await
}

/// The number of messages `stream` holds, as the server counts them.
pub async fn stream_len(bus: &Bus, stream: &str) -> u64 {
    within(30, "stream info", async {
        let mut handle = bus
            .jetstream()
            .get_stream(stream)
            .await
            .unwrap_or_else(|e| panic!("stream {stream}: {e}"));
        handle
            .info()
            .await
            .unwrap_or_else(|e| panic!("info of stream {stream}: {e}"))
            .state
            .messages
    })
    .await
}

/// The value of header `name`, panicking when it is missing.
pub fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("header {name} missing from {headers:?}"))
        .as_str()
        .to_owned()
}

/// Decodes a stored message with its `ce-type` header.
pub fn decode_stored(headers: &HeaderMap, payload: &[u8]) -> Event {
    let event_type = header(headers, "ce-type");
    Event::decode(&event_type, payload).unwrap_or_else(|e| {
        panic!(
            "stored {event_type} does not decode: {e}\npayload: {}",
            String::from_utf8_lossy(payload)
        )
    })
}

/// A TCP port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    port
}
