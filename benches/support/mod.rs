//! What the benchmarks share: a server to run against and a private corner
//! of it. `--cluster` runs on a private three-node cluster instead of one
//! server (the cluster the tests use, from `dist/nats/cluster-node.conf`),
//! with every stream at `--replicas` (3 by default there).

#![allow(dead_code)]

use repobus::bus::BusConfig;
use repobus_local::{LocalNats, LocalNatsOptions};
use repobus_testkit::cluster::Cluster;

/// Where a benchmark runs: one server (default) or a three-node cluster.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Topology {
    /// Run on a private 3-node nats-server cluster (routes on loopback)
    /// instead of one server; ignored with --nats-url.
    #[arg(long)]
    pub cluster: bool,
    /// Replicas of the benchmark's streams (default: 3 with --cluster, else 1).
    #[arg(long)]
    pub replicas: Option<usize>,
}

/// The server a benchmark runs against: `url` if given, else a private
/// `nats-server -js` (or cluster) in a temporary directory (no fsync per
/// write on the single server, so the numbers measure repobus and not the
/// disk).
pub struct BenchServer {
    /// The URL(s) to connect to (comma-separated for a cluster).
    pub url: String,
    /// Replicas of the streams.
    pub replicas: usize,
    _local: Option<LocalNats>,
    _cluster: Option<Cluster>,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// [`config`] with this server's replica count.
    pub fn config(&self, name: &str) -> BusConfig {
        config(&self.url, name).replicas(self.replicas)
    }
}

/// One private server, or `url`.
pub async fn server(
    url: Option<&str>,
) -> Result<BenchServer, Box<dyn std::error::Error + Send + Sync>> {
    start(url, &Topology::default()).await
}

/// `url`, or a private server or cluster as `topology` says; prints which.
pub async fn start(
    url: Option<&str>,
    topology: &Topology,
) -> Result<BenchServer, Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let replicas = topology
        .replicas
        .unwrap_or(if topology.cluster { 3 } else { 1 });
    let (url, local, cluster) = match url {
        Some(url) => (url.to_owned(), None, None),
        None if topology.cluster => {
            let cluster = Cluster::start(3).await?;
            (cluster.urls(), None, Some(cluster))
        }
        None => {
            let mut options = LocalNatsOptions::new(dir.path());
            options.sync_always = false;
            let local = LocalNats::start(options).await?;
            (local.url(), Some(local), None)
        }
    };
    println!(
        "topology: {}, replicas {replicas}",
        if cluster.is_some() {
            "private 3-node cluster"
        } else if local.is_some() {
            "private single server"
        } else {
            "given server"
        }
    );
    Ok(BenchServer {
        url,
        replicas,
        _local: local,
        _cluster: cluster,
        _dir: dir,
    })
}

/// A configuration with its own prefix and streams (`<name><pid>`), so a
/// benchmark on a shared server touches nothing else; delete its streams
/// when done.
pub fn config(url: &str, name: &str) -> BusConfig {
    let tag = format!("{name}{}", std::process::id());
    BusConfig::new(url)
        .prefix(tag.clone())
        .stream(tag.to_uppercase())
}
