//! Shared harness of the integration tests that talk to NATS (`bus`,
//! `service`, `cli_bus`): a private `nats-server -js` per test, a
//! configuration with short timings, sample events, and a reader of
//! everything a stream stores that does not go through repobus's own
//! subscriber.

#![warn(missing_docs)]

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{State, Stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use repobus::bus::{Bus, BusConfig};
use repobus::events::{BuildChroot, CoprStatus, RepoSyncStarted};
use repobus::{Event, EventType, ResourceId};
use repobus_local::{LocalNats, LocalNatsOptions};
use serde_json::{json, Value};
use tempfile::TempDir;

/// `ce-source` of every event the tests publish.
pub const SOURCE: &str = "urn:repobus:test";

/// The build ID of [`build_ended`] events.
pub const BUILD_ID: u64 = 4242;

/// A private `nats-server -js` with its store directory: the directory
/// lives as long as the server (fields drop in order: the server is killed
/// before the directory goes). Derefs to [`LocalNats`].
pub struct Nats {
    server: LocalNats,
    _dir: TempDir,
}

impl Deref for Nats {
    type Target = LocalNats;

    fn deref(&self) -> &LocalNats {
        &self.server
    }
}

impl DerefMut for Nats {
    fn deref_mut(&mut self) -> &mut LocalNats {
        &mut self.server
    }
}

/// Starts a private `nats-server -js` on a free port with its store in a
/// fresh temporary directory (`$REPOBUS_NATS_SERVER` or `nats-server` on
/// `PATH`).
pub async fn server() -> Nats {
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
    .unwrap_or_else(|e| panic!("cannot start nats-server (set REPOBUS_NATS_SERVER): {e}"));
    Nats { server, _dir: dir }
}

/// A configuration for `url` with timings short enough for tests.
pub fn config(url: impl Into<String>) -> BusConfig {
    BusConfig::new(url)
        .source(SOURCE)
        .publish_deadline(Duration::from_secs(20))
        .duplicate_window(Duration::from_secs(60))
        .ack_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(2))
        .client_name("repobus-test")
}

/// Connects to `server` with [`config`].
pub async fn connect(server: &LocalNats) -> Bus {
    connect_with(config(server.url())).await
}

/// Connects to `server` with the library's default configuration: the same
/// stream settings as the `repobus` binary's defaults.
pub async fn connect_default(server: &LocalNats) -> Bus {
    connect_with(BusConfig::new(server.url())).await
}

/// Connects with `config`, bounded in time.
pub async fn connect_with(config: BusConfig) -> Bus {
    let url = config.nats_url().to_owned();
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

/// The JSON body of a `repo-sync-finished` (the schema's first example)
/// for `repo_id` with `result` and `added_count`.
pub fn sync_finished_body(repo_id: &str, result: &str, added: u64) -> Value {
    let mut body = EventType::RepoSyncFinished.examples()[0].clone();
    body["repo_id"] = json!(repo_id);
    body["result"] = json!(result);
    body["added_count"] = json!(added);
    body
}

/// One message as a stream stores it.
pub type Stored = (String, HeaderMap, Bytes);

/// Every message of `stream`, in sequence order, read with the JetStream
/// API directly (not through repobus's subscriber). Fails the test when a
/// sequence cannot be read.
pub async fn raw_messages(bus: &Bus, stream: &str) -> Vec<StreamMessage> {
    within(60, "reading the stream", async {
        let (handle, state) = stream_state(bus, stream).await;
        let mut out = Vec::new();
        if state.messages == 0 {
            return out;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let message = handle
                .get_raw_message(seq)
                .await
                .unwrap_or_else(|e| panic!("message {seq} of stream {stream}: {e}"));
            out.push(message);
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

/// Every message of the bus's event stream (`bus.config().stream_name()`), in
/// sequence order, as [`raw_messages`] reads them.
pub async fn stored(bus: &Bus) -> Vec<StreamMessage> {
    raw_messages(bus, bus.config().stream_name()).await
}

/// Every message of `stream`, in sequence order, as [`raw_messages`] reads
/// them.
pub async fn stream_messages(bus: &Bus, stream: &str) -> Vec<Stored> {
    raw_messages(bus, stream)
        .await
        .into_iter()
        .map(|m| (m.subject.to_string(), m.headers, m.payload))
        .collect()
}

/// Like [`stream_messages`], with each message's stream sequence first.
pub async fn stream_messages_with_seq(
    bus: &Bus,
    stream: &str,
) -> Vec<(u64, String, HeaderMap, Bytes)> {
    raw_messages(bus, stream)
        .await
        .into_iter()
        .map(|m| (m.sequence, m.subject.to_string(), m.headers, m.payload))
        .collect()
}

/// The number of messages `stream` holds, as the server counts them.
pub async fn stream_len(bus: &Bus, stream: &str) -> u64 {
    within(30, "stream info", stream_state(bus, stream))
        .await
        .1
        .messages
}

/// The handle of `stream` and its state as the server reports it now,
/// panicking when the server does not answer.
async fn stream_state(bus: &Bus, stream: &str) -> (Stream, State) {
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
    (handle, state)
}

/// The number of messages in the bus's event stream, or `None` when the
/// server cannot tell (for polling while it may be going down).
pub async fn try_stream_len(bus: &Bus) -> Option<u64> {
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await
        .ok()?;
    stream.get_info().await.ok().map(|i| i.state.messages)
}

/// The value of header `name`, panicking when it is missing.
pub fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("header {name} missing from {headers:?}"))
        .as_str()
        .to_owned()
}

/// The `ce-id` of each message, in order (panicking when one has none).
pub fn ce_ids(messages: &[StreamMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| header(&m.headers, "ce-id"))
        .collect()
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

/// Every environment variable the `repobus` binary reads, and systemd's
/// notification variables: a test of the binary inherits none of them.
pub const REPOBUS_VARS: &[&str] = &[
    "REPOBUS_NATS_URL",
    "REPOBUS_NATS_USER",
    "REPOBUS_NATS_PASSWORD",
    "REPOBUS_NATS_TOKEN",
    "REPOBUS_NATS_CREDS",
    "REPOBUS_NATS_TLS_CA",
    "REPOBUS_NATS_TLS_CERT",
    "REPOBUS_NATS_TLS_KEY",
    "REPOBUS_PREFIX",
    "REPOBUS_STREAM",
    "REPOBUS_PUBLISH_DEADLINE",
    "REPOBUS_REPLICAS",
    "REPOBUS_PLACEMENT_CLUSTER",
    "REPOBUS_PLACEMENT_TAGS",
    "REPOBUS_LISTEN",
    "REPOBUS_NO_RELAY",
    "REPOBUS_ALLOW_PRIVATE_TARGETS",
    "REPOBUS_WEBHOOK_DISABLE_AFTER",
    "REPOBUS_WEBHOOK_LEASE_TTL",
    "REPOBUS_BEARER_TOKEN",
    "REPOBUS_PULP2_USER",
    "REPOBUS_PULP2_PASSWORD",
    "REPOBUS_READ_TOKEN",
    "REPOBUS_READ_BASIC_AUTH",
    "REPOBUS_BASE_PATH",
    "REPOBUS_BODY_LIMIT",
    "REPOBUS_SOURCE",
    "REPOBUS_MAX_AGE",
    "REPOBUS_MAX_BYTES",
    "REPOBUS_MAX_MESSAGES",
    "REPOBUS_DATA_DIR",
    "REPOBUS_LOG",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
];

/// A command running `binary` (the test's `env!("CARGO_BIN_EXE_repobus")`)
/// with none of [`REPOBUS_VARS`] inherited from the caller.
pub fn repobus_command(binary: &str) -> std::process::Command {
    let mut command = std::process::Command::new(binary);
    for var in REPOBUS_VARS {
        command.env_remove(var);
    }
    command
}

/// Runs `command` with `stdin` as its standard input and returns its exit
/// status and output (blocking: call it from `spawn_blocking` in async
/// tests).
pub fn output_with_stdin(mut command: std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin is piped");
    // A command that exits before reading everything closes the pipe: not
    // the test's failure.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("output of the command")
}
pub mod cluster;
pub mod leaf;
pub mod rabbitmq;
