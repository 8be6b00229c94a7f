//! A private RabbitMQ node for the AMQP bridge's tests: its own node name,
//! AMQP and distribution ports, data, log and configuration in a temporary
//! directory, no plugins. Never the machine's broker on 5672.
//!
//! The node boots in a few seconds, so a test binary shares one
//! ([`RabbitMq::shared`]) unless a test restarts it ([`RabbitMq::start`]).
//! A watchdog process stops the node when the test process exits, so a
//! shared node (a `static`, never dropped) does not outlive its tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A running private RabbitMQ node; stopped when dropped.
pub struct RabbitMq {
    dir: TempDir,
    node: String,
    port: u16,
    dist_port: u16,
    child: Option<Child>,
}

/// A free TCP port on 127.0.0.1 (for a node's extra listeners).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

/// The `rabbitmq-server` start script: `$REPOBUS_RABBITMQ_SERVER`, or
/// Debian's (the one that does not switch users).
fn server_script() -> PathBuf {
    if let Some(path) = std::env::var_os("REPOBUS_RABBITMQ_SERVER") {
        return path.into();
    }
    let debian = PathBuf::from("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if debian.exists() {
        return debian;
    }
    panic!("rabbitmq-server is not installed: run `. scripts/tools.sh --oracle`")
}

impl RabbitMq {
    /// The node shared by the tests of this binary (started on first use).
    pub fn shared() -> &'static RabbitMq {
        static SHARED: OnceLock<RabbitMq> = OnceLock::new();
        SHARED.get_or_init(RabbitMq::start)
    }

    /// Starts a fresh node and waits until it accepts AMQP connections.
    pub fn start() -> RabbitMq {
        RabbitMq::start_with_config("")
    }

    /// Starts a fresh node with `extra` appended to its `rabbitmq.conf`
    /// (e.g. a TLS listener), and waits until it accepts AMQP connections
    /// on its plain port.
    pub fn start_with_config(extra: &str) -> RabbitMq {
        let dir = tempfile::Builder::new()
            .prefix("repobus-rabbitmq-")
            .tempdir()
            .expect("temporary directory");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut node = RabbitMq {
            node: format!("repobus-test-{}-{n}@localhost", std::process::id()),
            port: free_port(),
            dist_port: free_port(),
            dir,
            child: None,
        };
        std::fs::write(node.dir.path().join("enabled_plugins"), "[].\n").expect("plugins file");
        std::fs::write(
            node.dir.path().join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{}\nloopback_users = none\n{extra}\n",
                node.port
            ),
        )
        .expect("config file");
        node.boot();
        node
    }

    fn boot(&mut self) {
        let dir = self.dir.path();
        let log = std::fs::File::create(dir.join("server.out")).expect("log file");
        let child = Command::new(server_script())
            .env("HOME", dir)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", dir.join("pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start rabbitmq-server (run `. scripts/tools.sh --oracle`): {e}")
            });
        // Stops the node when the test process exits, even if it is
        // never dropped (a shared node) or the test panics.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {test} 2>/dev/null && kill -0 {child} 2>/dev/null; do sleep 1; done; \
                 kill -0 {test} 2>/dev/null && exit 0; \
                 [ -f '{pid}' ] && kill -TERM $(cat '{pid}') 2>/dev/null; kill -TERM {child} 2>/dev/null; \
                 sleep 3; rm -rf '{dir}'; true",
                test = std::process::id(),
                child = child.id(),
                pid = dir.join("pid").display(),
                dir = dir.display(),
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                let out = std::fs::read_to_string(dir.join("server.out")).unwrap_or_default();
                panic!(
                    "rabbitmq node {} did not listen on {} in 60 s:\n{out}",
                    self.node, self.port
                );
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let out = std::fs::read_to_string(dir.join("server.out")).unwrap_or_default();
                panic!("rabbitmq node {} exited with {status}:\n{out}", self.node);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2F`.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2F", self.port)
    }

    /// What the node logged so far (its log files), for failure messages.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path().join("log")) {
            for entry in entries.flatten() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }

    /// The AMQP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The Erlang node name (for `rabbitmqctl -n`).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Stops the node (SIGTERM to the Erlang VM: a clean shutdown that
    /// keeps durable queues and persistent messages) and waits for it.
    pub fn stop(&mut self) {
        let pid_file = self.dir.path().join("pid");
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let _ = Command::new("kill").arg("-TERM").arg(pid.trim()).status();
        }
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        let _ = std::fs::remove_file(pid_file);
    }

    /// Stops the node and starts it again on the same ports with the same
    /// data.
    pub fn restart(&mut self) {
        self.stop();
        self.boot();
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        self.stop();
    }
}
