//! The service crate's test harness: the service running in a task of the
//! test, on 127.0.0.1 with a port the kernel picks.

use repobus::bus::Bus;
use repobus_service::ServiceConfig;
use repobus_testkit::within;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The service running in a task of this test, with its shutdown trigger.
pub struct Service {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Triggers the graceful shutdown (taken by `stop`).
    pub shutdown: Option<oneshot::Sender<()>>,
    /// The `serve` task.
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Service {
    /// `base` followed by `path`.
    #[allow(dead_code)] // not every binary makes URLs
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The address it listens on.
    #[allow(dead_code)] // used by the binaries with raw socket clients only
    pub fn addr(&self) -> std::net::SocketAddr {
        let text = self.base.trim_start_matches("http://");
        text.parse()
            .unwrap_or_else(|e| panic!("{text:?} is not an address: {e}"))
    }

    /// Triggers the shutdown and waits (bounded) for `serve` to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        within(30, "service shutdown", self.task)
            .await
            .expect("serve task panicked")
            .expect("serve returned an error");
    }
}

pub async fn start_service(bus: &Bus, config: ServiceConfig) -> Service {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(repobus_service::serve(
        listener,
        bus.publisher(),
        config,
        async move {
            let _ = rx.await;
        },
    ));
    Service {
        base: format!("http://{addr}"),
        shutdown: Some(tx),
        task,
    }
}

/// Publishes `n` `repo-sync-finished` events with a 4 KiB traceback each
/// (3,000 of them are more than the socket buffers between the service
/// and a client hold), 64 at a time; every publish must be acked.
#[allow(dead_code)] // used by the binaries that test stalled clients only
pub async fn publish_large(bus: &Bus, n: u64) {
    use futures_util::StreamExt;
    let publisher = bus.publisher();
    let results: Vec<_> = futures_util::stream::iter(0..n)
        .map(|i| {
            let publisher = publisher.clone();
            async move {
                let mut body =
                    repobus_testkit::sync_finished_body(&format!("repo-{i}"), "success", i);
                body["traceback"] = serde_json::Value::String("t".repeat(4096));
                let event =
                    repobus::Event::from_value(repobus::EventType::RepoSyncFinished, body).unwrap();
                publisher.publish(&event).await
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok), "every publish acked");
}
