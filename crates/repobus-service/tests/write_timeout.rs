//! `serve` closes a connection whose client stopped reading: a live stream
//! whose client never reads again is cut off (its consumer released), and
//! then the socket itself is closed after `write_timeout`, instead of
//! staying open with megabytes queued for as long as the client lives.
//!
//! This binary installs a global metrics recorder: it waits on the
//! server's own count of connections it closed.

mod common;

use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use repobus_service::ServiceConfig;
use repobus_testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use common::start_service;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_again_loses_its_connection() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this binary");
    let mut closed = 0u64;
    let mut read_closed = move || {
        closed += snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(key, _, _, _)| key.key().name() == "repobus_http_write_timeouts_total")
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => n,
                _ => 0,
            })
            .sum::<u64>();
        closed
    };

    let nats = server().await;
    let bus = connect(&nats).await;
    let timeout = Duration::from_secs(1);
    let service = start_service(
        &bus,
        ServiceConfig {
            sse_buffer: 16,
            write_timeout: timeout,
            ..ServiceConfig::default()
        },
    )
    .await;
    let addr = service.addr();
    // A keep-alive request (no `Connection: close`) from a socket with a
    // small receive buffer, and then nothing is read.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = within(10, "connect", socket.connect(addr)).await.unwrap();
    stalled
        .write_all(b"GET /v1/stream?last_event_id=0 HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    // More than every buffer on the way holds.
    common::publish_large(&bus, 3000).await;
    let started = Instant::now();
    within(60, "the server to close the stalled connection", async {
        while read_closed() < 1 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    eprintln!(
        "closed {:?} after the last publish (write timeout {timeout:?})",
        started.elapsed()
    );
    // The client reads again: what was in flight, then the end of the
    // connection. Had the server only ended the response, this keep-alive
    // connection would stay open and the read would never end.
    let mut sink = Vec::new();
    let end = within(20, "the end of the connection", async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) => break "eof".to_owned(),
                Ok(n) => sink.extend_from_slice(&buf[..n]),
                Err(e) => break e.to_string(),
            }
        }
    })
    .await;
    assert!(sink.starts_with(b"HTTP/1.1 200"), "the stream had begun");
    assert!(
        !sink.ends_with(b"0\r\n\r\n"),
        "the response was not finished: the connection was cut ({end})"
    );
    assert_eq!(read_closed(), 1, "one connection closed for not reading");
    service.stop().await;
}
