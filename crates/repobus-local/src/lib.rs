//! A local `nats-server -js` that repobus starts and supervises itself.
//!
//! `repobus serve` uses it when no NATS URL is given and nothing listens on
//! localhost:4222; the integration tests use it to get a private server on a
//! free port with a temporary store, and to kill and restart it.
//!
//! The binary is `$REPOBUS_NATS_SERVER` if set, else `nats-server` on `PATH`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), repobus_local::LocalNatsError> {
//! use repobus_local::{LocalNats, LocalNatsOptions};
//!
//! let dir = std::env::temp_dir().join("repobus-demo");
//! let server = LocalNats::start(LocalNatsOptions::new(&dir)).await?;
//! println!("NATS with JetStream at {}", server.url());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the local server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalNatsError {
    /// The binary could not be run.
    #[error("cannot run {binary}: {source} (install nats-server 2.11 or newer, or set REPOBUS_NATS_SERVER to its path)")]
    Spawn {
        /// The binary that was tried.
        binary: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The binary is older than 2.11.
    #[error("{binary} is nats-server {version}; repobus needs 2.11 or newer")]
    TooOld {
        /// The binary.
        binary: String,
        /// Its version.
        version: String,
    },
    /// The server exited or did not listen in time.
    #[error("nats-server did not start: {0}")]
    NotReady(String),
    /// Files of the store could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// How to start a local server.
#[derive(Debug, Clone)]
pub struct LocalNatsOptions {
    /// Directory for the JetStream store, the config and the log.
    pub dir: PathBuf,
    /// Port to listen on; `None` picks a free one.
    pub port: Option<u16>,
    /// The binary; `None` uses `$REPOBUS_NATS_SERVER` or `nats-server`.
    pub binary: Option<PathBuf>,
    /// fsync every write (`sync_interval: always`), so an acknowledged
    /// message survives even SIGKILL of the server. On by default.
    pub sync_always: bool,
    /// More server configuration, appended to the generated file (for
    /// example an `authorization { ... }` or `tls { ... }` block).
    pub extra_config: String,
}

impl LocalNatsOptions {
    /// A server with its files under `dir`, on a free port.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalNatsOptions {
            dir: dir.into(),
            port: None,
            binary: None,
            sync_always: true,
            extra_config: String::new(),
        }
    }
}

/// A running `nats-server -js`, killed when dropped.
#[derive(Debug)]
pub struct LocalNats {
    child: Option<Child>,
    stopped: bool,
    options: LocalNatsOptions,
    binary: PathBuf,
    port: u16,
}

/// The nats-server binary repobus would run.
pub fn default_binary() -> PathBuf {
    std::env::var_os("REPOBUS_NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"))
}

/// The version `binary --version` reports, as (major, minor, patch).
pub fn server_version(binary: &Path) -> Result<(u32, u32, u32), LocalNatsError> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|source| LocalNatsError::Spawn {
            binary: binary.display().to_string(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix('v'))
        .unwrap_or("");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    Ok((
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    ))
}

fn free_port() -> Result<u16, LocalNatsError> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|source| LocalNatsError::Io {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| LocalNatsError::Io {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })
}

impl LocalNats {
    /// Starts the server and waits until it accepts connections.
    pub async fn start(options: LocalNatsOptions) -> Result<Self, LocalNatsError> {
        let binary = options.binary.clone().unwrap_or_else(default_binary);
        let (major, minor, patch) = server_version(&binary)?;
        if (major, minor) < (2, 11) {
            return Err(LocalNatsError::TooOld {
                binary: binary.display().to_string(),
                version: format!("{major}.{minor}.{patch}"),
            });
        }
        let port = match options.port {
            Some(port) => port,
            None => free_port()?,
        };
        let mut server = LocalNats {
            child: None,
            stopped: false,
            options,
            binary,
            port,
        };
        server.spawn().await?;
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process ID while it runs (benchmarks read its CPU time
    /// from `/proc/<pid>/stat`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.options.dir.join("nats-server.log")
    }

    async fn spawn(&mut self) -> Result<(), LocalNatsError> {
        let dir = &self.options.dir;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LocalNatsError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let store = dir.join("jetstream");
        let config = dir.join("nats-server.conf");
        let sync = if self.options.sync_always {
            "  sync_interval: always\n"
        } else {
            ""
        };
        let text = format!(
            "listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: {store:?}\n{sync}}}\n{extra}\n",
            port = self.port,
            store = store.display().to_string(),
            extra = self.options.extra_config,
        );
        std::fs::write(&config, text).map_err(io(&config))?;
        let log_path = self.log_path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        let log_err = log.try_clone().map_err(io(&log_path))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| LocalNatsError::Spawn {
                binary: self.binary.display().to_string(),
                source,
            })?;
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), LocalNatsError> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(5).collect();
                    return Err(LocalNatsError::NotReady(format!(
                        "exited with {status}; log: {}",
                        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                    )));
                }
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalNatsError::NotReady(format!(
                    "nothing listens on port {} after 20 s (log: {})",
                    self.port,
                    self.log_path().display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server with SIGKILL and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 10 s).
    pub fn stop(&mut self) {
        self.stopped = true;
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// True after [`LocalNats::stop`].
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Starts the server again on the same port with the same store.
    pub async fn restart(&mut self) -> Result<(), LocalNatsError> {
        self.kill();
        self.spawn().await
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        self.kill();
    }
}
