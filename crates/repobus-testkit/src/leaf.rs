//! An edge site and its hub: a central `nats-server` (JetStream domain
//! `hub`) and a leaf node with its own JetStream domain that connects to
//! it, each configured from the templates committed as
//! `dist/nats/hub-leaf.conf` and `dist/nats/leaf-edge.conf`. Either can be
//! killed with SIGKILL and restarted on the same store and ports.

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cluster::ClusterError;

/// The hub template (`dist/nats/hub-leaf.conf`).
pub const HUB_TEMPLATE: &str = include_str!("../../../dist/nats/hub-leaf.conf");
/// The edge template (`dist/nats/leaf-edge.conf`).
pub const EDGE_TEMPLATE: &str = include_str!("../../../dist/nats/leaf-edge.conf");

/// One server started from a configuration file.
pub struct Server {
    /// Where clients connect.
    pub client_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// `nats://127.0.0.1:<client_port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    fn spawn(&mut self) -> Result<(), ClusterError> {
        let io = |e: std::io::Error| ClusterError(format!("{}: {e}", self.log.display()));
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io)?;
        let err = log.try_clone().map_err(io)?;
        let binary = repobus_local::default_binary();
        self.child = Some(
            Command::new(&binary)
                .arg("-c")
                .arg(&self.config)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .spawn()
                .map_err(|e| ClusterError(format!("cannot run {}: {e}", binary.display())))?,
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.client_port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(ClusterError(format!(
                    "{} did not listen: {}",
                    self.config.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(())
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts it on the same store and ports.
    pub fn restart(&mut self) -> Result<(), ClusterError> {
        self.kill();
        self.spawn()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A hub and one edge (domain `edge`) linked as a leaf node.
pub struct EdgeSite {
    /// The central server (JetStream domain `hub`).
    pub hub: Server,
    /// The edge's leaf node (JetStream domain [`EdgeSite::DOMAIN`]).
    pub edge: Server,
    _dir: TempDir,
}

impl EdgeSite {
    /// The edge's JetStream domain.
    pub const DOMAIN: &'static str = "edge";

    /// Starts the hub, then the edge linked to it.
    pub fn start() -> Result<EdgeSite, ClusterError> {
        let dir = tempfile::Builder::new()
            .prefix("repobus-leaf-")
            .tempdir()
            .map_err(|e| ClusterError(format!("temporary directory: {e}")))?;
        let listeners = (0..3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClusterError(format!("no free port: {e}")))?;
        let ports = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClusterError(format!("no free port: {e}")))?;
        drop(listeners);
        let (hub_port, leaf_port, edge_port) = (ports[0], ports[1], ports[2]);
        let write = |name: &str, text: String| -> Result<(PathBuf, PathBuf), ClusterError> {
            let config = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config, text)
                .map_err(|e| ClusterError(format!("{}: {e}", config.display())))?;
            Ok((config, dir.path().join(format!("{name}.log"))))
        };
        let store = |name: &str| dir.path().join(name).display().to_string();
        let (config, log) = write(
            "hub",
            HUB_TEMPLATE
                .replace("{{host}}", "127.0.0.1")
                .replace("{{client_port}}", &hub_port.to_string())
                .replace("{{leaf_port}}", &leaf_port.to_string())
                .replace("{{store_dir}}", &store("hub")),
        )?;
        let mut hub = Server {
            client_port: hub_port,
            config,
            log,
            child: None,
        };
        let (config, log) = write(
            "edge",
            EDGE_TEMPLATE
                .replace("{{name}}", "edge")
                .replace("{{host}}", "127.0.0.1")
                .replace("{{client_port}}", &edge_port.to_string())
                .replace("{{hub_leaf_port}}", &leaf_port.to_string())
                .replace("{{domain}}", Self::DOMAIN)
                .replace("{{store_dir}}", &store("edge")),
        )?;
        let mut edge = Server {
            client_port: edge_port,
            config,
            log,
            child: None,
        };
        hub.spawn()?;
        edge.spawn()?;
        Ok(EdgeSite {
            hub,
            edge,
            _dir: dir,
        })
    }
}
