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
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
