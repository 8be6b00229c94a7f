//! A three-node `nats-server` cluster with JetStream on loopback, for the
//! cluster tests and `cargo bench -- --cluster`: routes between private
//! free ports, a temporary store per node, each node's configuration made
//! from the template committed as `dist/nats/cluster-node.conf` (so the
//! documentation shows exactly what the tests run). A node can be killed
//! with SIGKILL and restarted on the same store and ports.
//!
//! ```no_run
//! # async fn demo() -> Result<(), repobus_testkit::cluster::ClusterError> {
//! use repobus_testkit::cluster::Cluster;
//!
//! let mut cluster = Cluster::start(3).await?;
//! let config = repobus::bus::BusConfig::new(cluster.urls()).replicas(3);
//! // ... connect, create the stream, then:
//! cluster.kill(0);
//! cluster.restart(0).await?;
//! # Ok(()) }
//! ```

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use tempfile::TempDir;

/// The node configuration template (`dist/nats/cluster-node.conf`).
pub const NODE_TEMPLATE: &str = include_str!("../../../dist/nats/cluster-node.conf");

/// The cluster's name in the nodes' configuration.
pub const CLUSTER_NAME: &str = "repobus";

/// What went wrong starting or watching the cluster.
#[derive(Debug)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClusterError {}

fn error(text: impl Into<String>) -> ClusterError {
    ClusterError(text.into())
}

/// One server of the cluster.
#[derive(Debug)]
pub struct Node {
    /// Its `server_name` (`n1`, `n2`, ...): what stream info reports as
    /// leader.
    pub name: String,
    /// Where clients connect.
    pub client_port: u16,
    /// Where the other nodes connect.
    pub route_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// `nats://127.0.0.1:<client_port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }
}

/// A running cluster; dropping it kills every node and removes the stores.
pub struct Cluster {
    nodes: Vec<Node>,
    binary: PathBuf,
    _dir: TempDir,
}

/// Fills in the template for one node.
pub fn node_config(
    name: &str,
    client_port: u16,
    route_port: u16,
    store_dir: &Path,
    route_ports: &[u16],
) -> String {
    let routes = route_ports
        .iter()
        .map(|p| format!("    nats-route://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join("\n");
    NODE_TEMPLATE
        .replace("{{name}}", name)
        .replace("{{host}}", "127.0.0.1")
        .replace("{{client_port}}", &client_port.to_string())
        .replace("{{route_port}}", &route_port.to_string())
        .replace("{{store_dir}}", &store_dir.display().to_string())
        .replace("{{cluster_name}}", CLUSTER_NAME)
        .replace("{{routes}}", &routes)
}

fn free_ports(n: usize) -> Result<Vec<u16>, ClusterError> {
    // Hold every listener until all ports are known, so none repeats.
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("no free port: {e}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(format!("no free port: {e}")))
}

impl Cluster {
    /// Starts `size` nodes (3 for the tests) and waits until the cluster
    /// has a JetStream meta leader. The binary is `$REPOBUS_NATS_SERVER`
    /// or `nats-server` on `PATH`.
    pub async fn start(size: usize) -> Result<Cluster, ClusterError> {
        let dir = tempfile::Builder::new()
            .prefix("repobus-cluster-")
            .tempdir()
            .map_err(|e| error(format!("temporary directory: {e}")))?;
        let ports = free_ports(size * 2)?;
        let (client_ports, route_ports) = ports.split_at(size);
        let mut nodes = Vec::with_capacity(size);
        for i in 0..size {
            let name = format!("n{}", i + 1);
            let store = dir.path().join(&name);
            std::fs::create_dir_all(&store)
                .map_err(|e| error(format!("{}: {e}", store.display())))?;
            let config = dir.path().join(format!("{name}.conf"));
            let text = node_config(&name, client_ports[i], route_ports[i], &store, route_ports);
            std::fs::write(&config, text)
                .map_err(|e| error(format!("{}: {e}", config.display())))?;
            nodes.push(Node {
                log: dir.path().join(format!("{name}.log")),
                name,
                client_port: client_ports[i],
                route_port: route_ports[i],
                config,
                child: None,
            });
        }
        let mut cluster = Cluster {
            nodes,
            binary: repobus_local::default_binary(),
            _dir: dir,
        };
        for i in 0..size {
            cluster.spawn(i)?;
        }
        for i in 0..size {
            cluster.wait_listening(i).await?;
        }
        cluster.wait_meta_leader(Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> Result<(), ClusterError> {
        let node = &mut self.nodes[i];
        let log = File::options()
            .create(true)
            .append(true)
            .open(&node.log)
            .map_err(|e| error(format!("{}: {e}", node.log.display())))?;
        let err = log
            .try_clone()
            .map_err(|e| error(format!("{}: {e}", node.log.display())))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                error(format!(
                    "cannot run {} (set REPOBUS_NATS_SERVER or put nats-server 2.11+ on PATH): {e}",
                    self.binary.display()
                ))
            })?;
        node.child = Some(child);
        Ok(())
    }

    async fn wait_listening(&mut self, i: usize) -> Result<(), ClusterError> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.nodes[i].client_port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if !self.nodes[i].is_running() || Instant::now() > deadline {
                return Err(error(format!(
                    "node {} did not listen on {}: {}",
                    self.nodes[i].name,
                    self.nodes[i].client_port,
                    self.log_tail(i)
                )));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The last lines of node `i`'s log (for error messages).
    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Every node's client URL, comma-separated: what repobus's
    /// `--nats-url` takes so the client can fail over.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(Node::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The index of the node named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Kills node `i` with SIGKILL (no lame duck, no flush) and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts node `i` on the same store and ports and waits until it
    /// listens.
    pub async fn restart(&mut self, i: usize) -> Result<(), ClusterError> {
        self.kill(i);
        self.spawn(i)?;
        self.wait_listening(i).await
    }

    /// Waits until the JetStream API answers through a client connected to
    /// every node (which needs a meta leader).
    pub async fn wait_meta_leader(&self, timeout: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            let urls: Vec<String> = self.nodes.iter().map(Node::url).collect();
            match async_nats::connect(urls).await {
                Ok(client) => {
                    let js = jetstream::new(client);
                    match tokio::time::timeout(Duration::from_secs(2), js.query_account()).await {
                        Ok(Ok(_)) => return Ok(()),
                        Ok(Err(e)) => last = e.to_string(),
                        Err(_) => last = "no answer in 2 s".into(),
                    }
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(error(format!(
            "no JetStream meta leader after {timeout:?}: {last}"
        )))
    }
}

/// The server name of `stream`'s leader (stream info `cluster.leader`).
pub async fn stream_leader(js: &jetstream::Context, stream: &str) -> Result<String, ClusterError> {
    let mut handle = js
        .get_stream(stream)
        .await
        .map_err(|e| error(format!("stream {stream}: {e}")))?;
    let info = handle
        .info()
        .await
        .map_err(|e| error(format!("info of stream {stream}: {e}")))?;
    info.cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .ok_or_else(|| error(format!("stream {stream} has no leader now")))
}

/// Waits until `stream` has a leader and `replicas - 1` followers that are
/// all current, and returns the leader's name.
pub async fn wait_stream_current(
    js: &jetstream::Context,
    stream: &str,
    replicas: usize,
    timeout: Duration,
) -> Result<String, ClusterError> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        match js.get_stream(stream).await {
            Ok(mut handle) => match handle.info().await {
                Ok(info) => {
                    if let Some(cluster) = &info.cluster {
                        let followers = &cluster.replicas;
                        let current = followers.iter().filter(|r| r.current).count();
                        match &cluster.leader {
                            Some(leader) if current + 1 >= replicas => {
                                return Ok(leader.clone());
                            }
                            leader => {
                                last = format!(
                                    "leader {leader:?}, {current} of {} followers current",
                                    replicas.saturating_sub(1)
                                )
                            }
                        }
                    } else {
                        last = "no cluster information".into();
                    }
                }
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(error(format!(
        "stream {stream} not current with {replicas} replicas after {timeout:?}: {last}"
    )))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
