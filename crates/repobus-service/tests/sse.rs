//! `GET /v1/stream` against a real nats-server and the real service, read
//! by a raw HTTP/1.1 client on a TCP socket: live events with their stream
//! sequence as `id`, resumption after `Last-Event-ID` with no gap or
//! repeat, the filters of `tail`, bad parameters, a stalled client cut
//! off after its bounded buffer while ingest and another client go on, and
//! the stream in a `router` nested in another app (no shutdown signal).
//!
//! This binary installs a global metrics recorder (in the stalled-client
//! test): that test waits on the server's own count of slow clients it
//! cut off. Nothing else here reads metrics.

mod common;

use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use repobus::bus::Bus;
use repobus_service::ServiceConfig;
use repobus_testkit::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

use common::{start_service, Service};

/// One server-sent event.
#[derive(Debug)]
struct Sse {
    id: u64,
    data: Value,
}

/// A raw SSE client: HTTP/1.1 over TCP, chunked body decoded by hand.
struct SseClient {
    reader: BufReader<TcpStream>,
    pending: Vec<u8>,
    done: bool,
}

impl SseClient {
    /// Opens `path` and reads the status; `recv_buffer` shrinks the
    /// socket's receive buffer (a slow client).
    async fn open(
        service: &Service,
        path: &str,
        last_id: Option<&str>,
        recv_buffer: Option<u32>,
    ) -> Result<SseClient, (u16, String)> {
        let addr = service.addr();
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = within(10, "connect", socket.connect(addr)).await.unwrap();
        let mut reader = BufReader::new(stream);
        let last = last_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n{last}Connection: close\r\n\r\n"
        );
        reader
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut status_line = String::new();
        within(10, "status line", reader.read_line(&mut status_line))
            .await
            .unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut chunked = false;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            within(10, "headers", reader.read_line(&mut line))
                .await
                .unwrap();
            if line.trim().is_empty() {
                break;
            }
            if line
                .to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
            {
                chunked = true;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut client = SseClient {
            reader,
            pending: Vec::new(),
            done: false,
        };
        if status != 200 {
            let mut body = vec![0; length];
            within(10, "error body", client.reader.read_exact(&mut body))
                .await
                .unwrap();
            return Err((status, String::from_utf8_lossy(&body).into_owned()));
        }
        assert!(chunked, "a stream is sent chunked");
        Ok(client)
    }

    /// The next chunk of the body, `None` at its end.
    async fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut size_line = String::new();
        let n = self.reader.read_line(&mut size_line).await.ok()?;
        if n == 0 {
            return None;
        }
        let size = usize::from_str_radix(size_line.trim(), 16).ok()?;
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).await.ok()?;
        data.truncate(size);
        (size > 0).then_some(data)
    }

    /// The next event (comments and keep-alives skipped), `None` when the
    /// server ended the stream.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.pending.drain(..end + 2).collect();
                let text = String::from_utf8(block).unwrap();
                let (mut id, mut data) = (None, String::new());
                for line in text.lines() {
                    if let Some(v) = line
                        .strip_prefix("id: ")
                        .or_else(|| line.strip_prefix("id:"))
                    {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line
                        .strip_prefix("data: ")
                        .or_else(|| line.strip_prefix("data:"))
                    {
                        data.push_str(v);
                    }
                }
                if let Some(id) = id {
                    return Some(Sse {
                        id,
                        data: serde_json::from_str(&data).unwrap(),
                    });
                }
                continue;
            }
            if self.done {
                return None;
            }
            match self.chunk().await {
                Some(chunk) => self.pending.extend(chunk),
                None => self.done = true,
            }
        }
    }

    /// The next `n` events, failing after `secs`.
    async fn take(&mut self, n: usize, secs: u64) -> Vec<Sse> {
        within(secs, "events on the stream", async {
            let mut events = Vec::new();
            while events.len() < n {
                match self.next().await {
                    Some(e) => events.push(e),
                    None => panic!("stream ended after {} of {n} events", events.len()),
                }
            }
            events
        })
        .await
    }
}

/// The server's count of clients it cut off for not reading,
/// `repobus_sse_disconnects_total{reason="slow"}`: the debugging
/// recorder's snapshot swaps a counter to zero as it reads it, so the
/// count is the sum of what the snapshots saw.
struct SlowDisconnects {
    snapshotter: Snapshotter,
    count: u64,
}

impl SlowDisconnects {
    /// Installs the global recorder (once per binary: only one test may
    /// call this).
    fn install() -> Self {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("the only recorder of this test binary");
        SlowDisconnects {
            snapshotter,
            count: 0,
        }
    }

    fn read(&mut self) -> u64 {
        let delta: u64 = self
            .snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(key, _, _, _)| {
                let key = key.key();
                key.name() == "repobus_sse_disconnects_total"
                    && key
                        .labels()
                        .any(|l| l.key() == "reason" && l.value() == "slow")
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => n,
                _ => 0,
            })
            .sum();
        self.count += delta;
        self.count
    }

    /// Waits (bounded) until the count reaches `want`.
    async fn wait_for(&mut self, want: u64, secs: u64) {
        within(secs, "the server to cut the stalled client off", async {
            while self.read() < want {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
}

async fn setup(config: ServiceConfig) -> (Nats, Bus, Service) {
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = start_service(&bus, config).await;
    (nats, bus, service)
}

/// Publishes a `repo-sync-started` per repository, one after the other;
/// their stream sequences.
async fn publish_started(bus: &Bus, repos: &[&str]) -> Vec<u64> {
    let mut acks = Vec::new();
    for repo in repos {
        acks.push(
            bus.publisher()
                .publish(&sync_started(repo))
                .await
                .unwrap()
                .seq,
        );
    }
    acks
}

fn seqs(events: &[Sse]) -> Vec<u64> {
    events.iter().map(|e| e.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_carry_their_stream_sequence_as_id() {
    let (_nats, bus, service) = setup(ServiceConfig::default()).await;
    bus.publisher()
        .publish(&sync_started("before"))
        .await
        .unwrap();
    let mut client = SseClient::open(&service, "/v1/stream", None, None)
        .await
        .unwrap();
    // Only events published after connecting (like `tail`).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let acks = publish_started(&bus, &["r1", "r2", "r3"]).await;
    let events = client.take(3, 10).await;
    assert_eq!(seqs(&events), acks);
    assert_eq!(events[0].data["repo_id"], "r1");
    assert_eq!(events[2].data["seq"], acks[2]);
    assert_eq!(events[1].data["type"], "repo-sync-started");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_works_in_a_router_nested_without_serve() {
    // `router` has no shutdown to follow (its sender is dropped at once):
    // the live stream must go on regardless.
    let nats = server().await;
    let bus = connect(&nats).await;
    let app = axum::Router::new().nest(
        "/repobus",
        repobus_service::router(bus.publisher(), ServiceConfig::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    let service = Service {
        base: format!("http://{addr}"),
        shutdown: Some(tx),
        task,
    };
    let mut client = SseClient::open(&service, "/repobus/v1/stream", None, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let acks = publish_started(&bus, &["n1", "n2"]).await;
    assert_eq!(seqs(&client.take(2, 10).await), acks);
    drop(client);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_resumes_with_no_gap_and_no_repeat() {
    let (_nats, bus, service) = setup(ServiceConfig::default()).await;
    let p = bus.publisher();
    for i in 0..10 {
        p.publish(&sync_started(&format!("r{i}"))).await.unwrap();
    }
    let mut client = SseClient::open(&service, "/v1/stream", Some("4"), None)
        .await
        .unwrap();
    let events = client.take(6, 10).await;
    assert_eq!(seqs(&events), (5..=10).collect::<Vec<_>>());
    // Then live, still in order.
    p.publish(&sync_started("r10")).await.unwrap();
    assert_eq!(seqs(&client.take(1, 10).await), [11]);

    // A reconnect after the last event it saw gets the next one only.
    drop(client);
    p.publish(&sync_started("r11")).await.unwrap();
    let mut again = SseClient::open(&service, "/v1/stream", Some("11"), None)
        .await
        .unwrap();
    assert_eq!(seqs(&again.take(1, 10).await), [12]);
    // The query parameter works for clients that cannot set the header.
    let mut by_query = SseClient::open(&service, "/v1/stream?last_event_id=10", None, None)
        .await
        .unwrap();
    assert_eq!(seqs(&by_query.take(2, 10).await), [11, 12]);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_and_criteria_filter_the_stream_like_tail() {
    let (_nats, bus, service) = setup(ServiceConfig::default()).await;
    let p = bus.publisher();
    let finished = |repo: &str, result: &str| {
        repobus::Event::from_value(
            repobus::EventType::RepoSyncFinished,
            sync_finished_body(repo, result, 1),
        )
        .unwrap()
    };
    p.publish(&sync_started("a")).await.unwrap(); // 1
    p.publish(&finished("a", "success")).await.unwrap(); // 2
    p.publish(&finished("b", "failed")).await.unwrap(); // 3
    p.publish(&build_ended("@o", "p", "c")).await.unwrap(); // 4
    p.publish(&finished("c", "failed")).await.unwrap(); // 5

    let filters = "%7B%22result%22%3A%22failed%22%7D"; // {"result":"failed"}
    let mut failed = SseClient::open(
        &service,
        &format!("/v1/stream?filters={filters}"),
        Some("0"),
        None,
    )
    .await
    .unwrap();
    let events = failed.take(2, 10).await;
    assert_eq!(seqs(&events), [3, 5]);
    assert_eq!(events[1].data["repo_id"], "c");

    let mut builds = SseClient::open(
        &service,
        "/v1/stream?subject=repobus.build.%3E",
        Some("0"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(seqs(&builds.take(1, 10).await), [4]);

    // A filter that pins the repository is pushed down to the subject.
    let pinned = "%7B%22repo_id%22%3A%22a%22%7D";
    let mut one = SseClient::open(
        &service,
        &format!("/v1/stream?filters={pinned}&since=P1D"),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(seqs(&one.take(2, 10).await), [1, 2]);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_naming_the_problem() {
    let (_nats, _bus, service) = setup(ServiceConfig::default()).await;
    for (path, last, needle) in [
        ("/v1/stream", Some("abc"), "Last-Event-ID"),
        ("/v1/stream?last_event_id=-1", None, "Last-Event-ID"),
        ("/v1/stream?filters=%7B", None, "filter"),
        ("/v1/stream?colour=red", None, "unknown parameter"),
        ("/v1/stream?since=yesterday", None, "since"),
        ("/v1/stream?subject=a..b", None, "subject"),
        ("/v1/stream?subject=other.%3E", None, "outside"),
    ] {
        match SseClient::open(&service, path, last, None).await {
            Ok(_) => panic!("{path} {last:?}: accepted"),
            Err((status, body)) => {
                assert_eq!(status, 400, "{path}: {body}");
                assert!(body.contains(needle), "{path}: {body}");
            }
        }
    }
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_is_cut_off_and_slows_neither_ingest_nor_others() {
    let mut slow = SlowDisconnects::install();
    let (_nats, bus, service) = setup(ServiceConfig {
        sse_buffer: 16,
        ..ServiceConfig::default()
    })
    .await;
    const N: u64 = 3000;
    // Both start at the beginning of the stream.
    let mut stalled = SseClient::open(&service, "/v1/stream?last_event_id=0", None, Some(4096))
        .await
        .unwrap();
    let mut fast = SseClient::open(&service, "/v1/stream?last_event_id=0", None, None)
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        let events = fast.take(N as usize, 120).await;
        seqs(&events)
    });
    let started = Instant::now();
    common::publish_large(&bus, N).await;
    let ingest = started.elapsed();
    // The fast client got everything, in order, while the other stalled.
    let fast_seqs = within(120, "fast client", reader).await.unwrap();
    assert_eq!(fast_seqs, (1..=N).collect::<Vec<_>>());

    // The stalled client stays stalled until the server cuts it off: the
    // N events are more than its buffers (the channel, hyper's and the
    // kernel's) hold, so its buffer stays full and STALL_TIMEOUT later the
    // server gives up on it. (Reading as soon as the fast client is done
    // would race that: on an idle machine ingest can finish first, and a
    // client that reads again in time is only slow, not cut off.)
    slow.wait_for(1, 60).await;
    // The stalled client now reads: it gets what was buffered, then the
    // server's end of the stream, well before all N.
    let mut seen = Vec::new();
    within(30, "the stalled client's stream to end", async {
        while let Some(event) = stalled.next().await {
            seen.push(event.id);
        }
    })
    .await;
    assert!(
        !seen.is_empty() && (seen.len() as u64) < N,
        "got {} of {N}",
        seen.len()
    );
    assert_eq!(
        seen,
        (1..=seen.len() as u64).collect::<Vec<_>>(),
        "no gap before the cut"
    );
    // It resumes where it stopped, with no gap and no repeat.
    let last = seen.last().copied().unwrap_or(0);
    let mut resumed = SseClient::open(&service, "/v1/stream", Some(&last.to_string()), None)
        .await
        .unwrap();
    let rest = resumed.take((N - last) as usize, 60).await;
    assert_eq!(seqs(&rest), (last + 1..=N).collect::<Vec<_>>());
    // Only the stalled client was cut off: not the fast one, not the
    // resumed one.
    assert_eq!(slow.read(), 1, "clients cut off as slow");
    eprintln!(
        "{N} events ingested in {ingest:?} with a stalled SSE client; it was cut off after {} events",
        seen.len()
    );
    service.stop().await;
}
