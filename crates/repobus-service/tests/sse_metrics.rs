//! The gauge `repobus_sse_clients` follows the connected `/v1/stream`
//! clients (a test binary of its own: it installs the global recorder).

mod common;

use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use repobus_service::ServiceConfig;
use repobus_testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The gauge's value: the debugging recorder's snapshot swaps a gauge to
/// zero as it reads it, so the value is the sum of what the snapshots saw.
struct Gauge {
    snapshotter: Snapshotter,
    value: f64,
}

impl Gauge {
    fn read(&mut self) -> f64 {
        let delta: f64 = self
            .snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(key, _, _, _)| key.key().name() == "repobus_sse_clients")
            .map(|(_, _, _, value)| match value {
                DebugValue::Gauge(v) => v.into_inner(),
                _ => 0.0,
            })
            .sum();
        self.value += delta;
        self.value
    }

    async fn wait_for(&mut self, want: f64, poke: impl Fn() -> tokio::task::JoinHandle<()>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.read() != want {
            assert!(
                Instant::now() < deadline,
                "repobus_sse_clients is {}, not {want}",
                self.value
            );
            let _ = poke().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_gauge_counts_connected_streams() {
    let recorder = DebuggingRecorder::new();
    let mut gauge = Gauge {
        snapshotter: recorder.snapshotter(),
        value: 0.0,
    };
    recorder
        .install()
        .expect("the only recorder of this test binary");
    let nats = server().await;
    let bus = connect(&nats).await;
    let service = common::start_service(&bus, ServiceConfig::default()).await;
    let addr = service.url("").trim_start_matches("http://").to_owned();
    let open = || async {
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        stream
            .write_all(b"GET /v1/stream HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        stream
    };
    let first = open().await;
    let second = open().await;
    let nothing = || tokio::spawn(async {});
    gauge.wait_for(2.0, nothing).await;
    drop(first);
    // The server notices a closed connection when it next writes to it.
    let publisher = bus.publisher();
    let poke = || {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let _ = publisher.publish(&sync_started("poke")).await;
        })
    };
    gauge.wait_for(1.0, poke).await;
    drop(second);
    gauge.wait_for(0.0, poke).await;
    service.stop().await;
}
