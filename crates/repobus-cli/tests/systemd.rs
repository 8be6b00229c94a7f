//! `repobus serve` as a `Type=notify` systemd service, with a fake systemd:
//! a Unix datagram socket in a temporary directory passed as
//! `NOTIFY_SOCKET`, the way systemd passes its own.
//!
//! Every test starts its own `nats-server -js` on a free port and runs the
//! real binary with `--nats-url`; the child never sees the caller's
//! `REPOBUS_*` or systemd variables. Every wait is bounded. That `serve`
//! runs as before without `NOTIFY_SOCKET` is `cli_bus`'s
//! `serve_answers_and_exits_0_on_sigterm`.

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use repobus_testkit::{closed_port, repobus_command, server, within};
use tempfile::TempDir;
use tokio::net::UnixDatagram;
use tokio::process::Child;

const BIN: &str = env!("CARGO_BIN_EXE_repobus");

/// The fake systemd end: a bound Unix datagram socket.
struct NotifySocket {
    /// The bound socket.
    socket: UnixDatagram,
    /// Its path, the value of `NOTIFY_SOCKET`.
    path: PathBuf,
    /// The directory holding it, removed on drop.
    _dir: TempDir,
}

impl NotifySocket {
    /// Binds `notify.sock` in a fresh temporary directory.
    fn bind() -> NotifySocket {
        let dir = tempfile::Builder::new()
            .prefix("repobus-notify-")
            .tempdir()
            .expect("temporary directory");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket {
            socket,
            path,
            _dir: dir,
        }
    }

    /// The next datagram, or `None` after `timeout`.
    async fn recv_within(&self, timeout: Duration) -> Option<String> {
        let mut buf = vec![0u8; 4096];
        match tokio::time::timeout(timeout, self.socket.recv(&mut buf)).await {
            Ok(Ok(n)) => Some(String::from_utf8(buf[..n].to_vec()).expect("UTF-8 notification")),
            Ok(Err(e)) => panic!("reading the notify socket: {e}"),
            Err(_) => None,
        }
    }

    /// Every datagram up to and including the first with the line `line`;
    /// fails the test when `serve` exits without having sent it or `secs`
    /// seconds pass.
    async fn until(&self, serve: &mut Serve, line: &str, secs: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        loop {
            // Checked before reading: whatever an exited child sent is
            // already queued on the socket.
            let exited = serve.child.try_wait().ok().flatten();
            let message = if exited.is_some() {
                self.try_recv()
            } else {
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(
                    !left.is_zero(),
                    "no {line} in {secs} s; got {seen:?}; log:\n{}",
                    serve.log()
                );
                // Short slices, so that an early exit is noticed.
                self.recv_within(left.min(Duration::from_millis(500))).await
            };
            match (message, exited) {
                (Some(message), _) => {
                    let done = has_line(&message, line);
                    seen.push(message);
                    if done {
                        return seen;
                    }
                }
                (None, Some(status)) => panic!(
                    "serve exited with {status} without sending {line}; got {seen:?}; log:\n{}",
                    serve.log()
                ),
                (None, None) => {}
            }
        }
    }

    /// A datagram already queued, if any.
    fn try_recv(&self) -> Option<String> {
        let mut buf = vec![0u8; 4096];
        match self.socket.try_recv(&mut buf) {
            Ok(n) => Some(String::from_utf8(buf[..n].to_vec()).expect("UTF-8 notification")),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => panic!("reading the notify socket: {e}"),
        }
    }
}

/// True when `message` (newline-separated assignments) has the line `line`.
fn has_line(message: &str, line: &str) -> bool {
    message.lines().any(|l| l == line)
}

/// A running `repobus serve` child.
struct Serve {
    /// The process, killed on drop.
    child: Child,
    /// Its process ID.
    pid: u32,
    /// `127.0.0.1:<port>` it listens on.
    listen: String,
    /// The file its standard error goes to.
    log: PathBuf,
    /// Holds the log and `--data-dir`.
    _dir: TempDir,
}

impl Serve {
    /// Runs `repobus --nats-url URL serve --listen 127.0.0.1:<free port>`
    /// with `env` added to a clean environment.
    fn start(nats_url: &str, env: &[(&str, &str)]) -> Serve {
        let dir = tempfile::tempdir().expect("temporary directory");
        let log = dir.path().join("serve.log");
        let listen = format!("127.0.0.1:{}", closed_port());
        let mut command = tokio::process::Command::from(repobus_command(BIN));
        command
            .args(["--nats-url", nats_url, "serve", "--listen", &listen])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .kill_on_drop(true)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log"));
        command.envs(env.iter().copied());
        let child = command.spawn().expect("run repobus serve");
        let pid = child.id().expect("pid");
        Serve {
            child,
            pid,
            listen,
            log,
            _dir: dir,
        }
    }

    /// What the child wrote to standard error so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The HTTP status of `GET <path>`.
    async fn get(&self, path: &str) -> reqwest::Result<u16> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        let response = client
            .get(format!("http://{}{path}", self.listen))
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// Sends SIGTERM, as `systemctl stop` does.
    fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.pid);
    }

    /// Waits (at most `secs` seconds) for the child to exit.
    async fn exit(&mut self, secs: u64) -> ExitStatus {
        within(secs, "serve exits", self.child.wait())
            .await
            .expect("wait for serve")
    }
}

/// True when the server has stream `name` (asked with async-nats directly,
/// not through repobus).
async fn stream_exists(js: &async_nats::jetstream::Context, name: &str) -> bool {
    within(10, "stream info", js.get_stream(name)).await.is_ok()
}

/// `READY=1` with a `STATUS=` naming the listen address, the NATS URL and
/// the stream arrives only once the stream exists and `/readyz` answers 200;
/// SIGTERM brings `STOPPING=1` and exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_only_once_the_stream_exists_and_stopping_on_sigterm() {
    let nats = server().await;
    let url = nats.url();
    let client = within(10, "connecting", async_nats::connect(&url))
        .await
        .expect("connect to nats-server");
    let js = async_nats::jetstream::new(client);
    assert!(
        !stream_exists(&js, "REPOBUS").await,
        "a fresh server has no stream yet"
    );
    let notify = NotifySocket::bind();
    let mut serve = Serve::start(&url, &[("NOTIFY_SOCKET", notify.path.to_str().unwrap())]);

    let messages = notify.until(&mut serve, "READY=1", 30).await;
    // Right when READY=1 arrives: the stream exists and /readyz says 200.
    assert!(
        stream_exists(&js, "REPOBUS").await,
        "READY=1 came before the stream existed"
    );
    let readyz = within(10, "GET /readyz", serve.get("/readyz")).await;
    assert_eq!(readyz.ok(), Some(200), "log:\n{}", serve.log());
    assert_eq!(messages.len(), 1, "nothing before READY=1: {messages:?}");
    let ready = &messages[0];
    let status = ready
        .lines()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap_or_else(|| panic!("no STATUS= with READY=1: {ready:?}"));
    assert!(
        status.contains(&format!("serving on {}", serve.listen)),
        "{status:?} names the listen address {}",
        serve.listen
    );
    assert!(status.contains(&url), "{status:?} names the NATS URL {url}");
    assert!(
        status.contains("stream REPOBUS"),
        "{status:?} names the stream"
    );

    serve.sigterm();
    let messages = notify.until(&mut serve, "STOPPING=1", 10).await;
    assert!(
        messages.iter().all(|m| !has_line(m, "WATCHDOG=1")),
        "no watchdog pings when systemd asks for none: {messages:?}"
    );
    let exit = serve.exit(30).await;
    assert_eq!(exit.code(), Some(0), "log:\n{}", serve.log());
}

/// With `WATCHDOG_USEC`, `WATCHDOG=1` comes every half interval while NATS
/// answers, stops while it is down (serve itself keeps running) and resumes
/// when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_pings_only_while_nats_answers() {
    let mut nats = server().await;
    let url = nats.url();
    let notify = NotifySocket::bind();
    // A 1 s watchdog: a ping every 0.5 s while healthy.
    let mut serve = Serve::start(
        &url,
        &[
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    notify.until(&mut serve, "READY=1", 30).await;
    for _ in 0..3 {
        notify.until(&mut serve, "WATCHDOG=1", 10).await;
    }

    // NATS goes away: the pings stop (2 s, four intervals, without one).
    nats.kill();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "watchdog pings went on for 20 s with NATS down; log:\n{}",
            serve.log()
        );
        match notify.recv_within(Duration::from_secs(2)).await {
            None => break,
            Some(message) => assert!(
                !has_line(&message, "STOPPING=1"),
                "serve stopped when NATS went away; log:\n{}",
                serve.log()
            ),
        }
    }
    assert!(
        matches!(serve.child.try_wait(), Ok(None)),
        "serve keeps running while NATS is down; log:\n{}",
        serve.log()
    );

    // NATS comes back on the same port: the pings resume.
    within(30, "restarting nats-server", nats.restart())
        .await
        .expect("restart nats-server");
    notify.until(&mut serve, "WATCHDOG=1", 20).await;

    serve.sigterm();
    notify.until(&mut serve, "STOPPING=1", 10).await;
    let exit = serve.exit(30).await;
    assert_eq!(exit.code(), Some(0), "log:\n{}", serve.log());
}

/// A `NOTIFY_SOCKET` nobody listens on: serve logs a warning for each
/// notification, gets ready and exits 0 on SIGTERM all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_socket_nobody_reads_is_a_warning_not_a_failure() {
    let nats = server().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("nobody-listens.sock");
    let mut serve = Serve::start(&nats.url(), &[("NOTIFY_SOCKET", missing.to_str().unwrap())]);

    // Up and ready within 30 s, polling /readyz.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = serve.child.try_wait() {
            panic!("serve exited with {status}; log:\n{}", serve.log());
        }
        if let Ok(200) = serve.get("/readyz").await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve was not ready in 30 s; log:\n{}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        serve.log().contains("cannot send READY=1 to systemd"),
        "the failed notification is logged; log:\n{}",
        serve.log()
    );

    serve.sigterm();
    let exit = serve.exit(30).await;
    assert_eq!(exit.code(), Some(0), "log:\n{}", serve.log());
    assert!(
        serve.log().contains("cannot send STOPPING=1 to systemd"),
        "log:\n{}",
        serve.log()
    );
}
