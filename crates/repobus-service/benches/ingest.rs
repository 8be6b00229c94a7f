//! HTTP ingest (`POST /v1/events/{type}`) against the library's JetStream
//! publish, in one run on one private nats-server, for the same body:
//!
//! - library: `Publisher::publish` of the typed event (decoded once), with
//!   `--connections` publishes in flight, as `--connections` tasks that each
//!   publish, wait for the ack and publish again (the shape of keep-alive
//!   HTTP clients), and as one `buffer_unordered` window of the same size;
//!   the faster of the two is the reference;
//! - HTTP: the service's router ([`repobus_service::serve`], bearer token
//!   on, metrics on) in this process, loaded by `wrk` with `--connections`
//!   keep-alive connections POSTing the same body for `--seconds`; events/s
//!   and p50/p99 latency as wrk measures them.
//!
//! ```text
//! . scripts/tools.sh               # nats-server >= 2.11 on PATH
//! sudo apt-get install -y wrk      # the load generator (Debian's wrk 4.x)
//! cargo bench -p repobus-service --bench ingest -- --messages 100000 --seconds 10
//! ```
//!
//! After the HTTP phase the bench checks that the stream holds every event
//! answered 202 (nothing accepted is lost) and that wrk saw no error. The
//! last line is one JSON object with the rates and the ratio.

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use repobus::{Event, EventType};
use repobus_testkit::{connect_default, stream_len, sync_finished_body};
use serde_json::{json, Value};

const TOKEN: &str = "bench-token";
const TYPE: EventType = EventType::RepoSyncFinished;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn wrk_available() -> bool {
    // `wrk -v` prints its version and exits 1: found is what matters.
    Command::new("wrk").arg("-v").output().is_ok()
}

/// wrk's Lua script: POST `body` with the bearer token; at the end, one
/// line `REPOBUS_WRK {json}` with the counts and latency percentiles (us).
fn lua_script(body: &str) -> String {
    format!(
        r#"wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {TOKEN}"
done = function(summary, latency, requests)
  io.write(string.format('REPOBUS_WRK {{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
"#
    )
}

/// Runs wrk against `url` and returns its `REPOBUS_WRK` summary.
fn run_wrk(script: &std::path::Path, url: &str, connections: usize, seconds: usize) -> Value {
    let threads = arg("--wrk-threads", 1).max(1);
    let output = Command::new("wrk")
        .args([
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run wrk: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("REPOBUS_WRK "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no summary (status {}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
    serde_json::from_str(line).unwrap_or_else(|e| panic!("wrk summary {line:?}: {e}"))
}

/// `n` publishes of `event` by `window` tasks, each waiting for its ack
/// before the next; returns events/s.
async fn library_tasks(
    publisher: &repobus::bus::Publisher,
    event: &Event,
    n: usize,
    window: usize,
) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..window)
        .map(|_| {
            let (publisher, event, next) = (publisher.clone(), event.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    publisher.publish(&event).await.expect("library publish");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("publisher task");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// `n` publishes of `event`, `window` in flight in one task; events/s.
async fn library_window(
    publisher: &repobus::bus::Publisher,
    event: &Event,
    n: usize,
    window: usize,
) -> f64 {
    let started = Instant::now();
    let mut acks = futures_util::stream::iter(0..n)
        .map(|_| publisher.publish(event))
        .buffer_unordered(window);
    while let Some(ack) = acks.next().await {
        ack.expect("library publish");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let messages = arg("--messages", 100_000);
    let seconds = arg("--seconds", 10);
    let connections = arg("--connections", 64);
    let rounds = arg("--rounds", 1).max(1);
    if !wrk_available() {
        eprintln!(
            "this benchmark needs wrk (the HTTP load generator) on PATH: \
             `sudo apt-get install -y wrk` on Debian/Ubuntu, `dnf install wrk` on Fedora"
        );
        std::process::exit(2);
    }
    // JetStream's default durability (the store syncs on its interval, not
    // on every write), as in the project's `bus` bench.
    let dir = tempfile_dir();
    let mut options = repobus_local::LocalNatsOptions::new(dir.join("nats"));
    options.sync_always = false;
    let nats = repobus_local::LocalNats::start(options)
        .await
        .unwrap_or_else(|e| panic!("cannot start nats-server (. scripts/tools.sh): {e}"));
    let bus = connect_default(&nats).await;
    let publisher = bus.publisher();
    let body_value = sync_finished_body("pulp-f17", "success", 42);
    let body = serde_json::to_string(&body_value).expect("body");
    let event = Event::from_value(TYPE, body_value).expect("valid body");

    let script = dir.join("post.lua");
    std::fs::File::create(&script)
        .and_then(|mut f| f.write_all(lua_script(&body).as_bytes()))
        .expect("write the wrk script");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/v1/events/{}",
        listener.local_addr().expect("addr"),
        TYPE.as_str()
    );
    let config = repobus_service::ServiceConfig {
        bearer_token: Some(TOKEN.into()),
        ..repobus_service::ServiceConfig::default()
    };
    tokio::spawn(repobus_service::serve(
        listener,
        bus.publisher(),
        config,
        std::future::pending(),
    ));

    // Warm up both paths (stream files, connections, allocator).
    // `--messages 0` or `--seconds 0` skips that side (to profile the
    // other one alone under callgrind).
    let warm = messages.min(10_000);
    library_window(&publisher, &event, warm, connections).await;
    let mut sent_library = warm as u64;
    let mut answered_http = if seconds > 0 {
        run_wrk(&script, &url, connections, 1)["requests"]
            .as_u64()
            .unwrap_or(0)
    } else {
        0
    };

    let (mut best_tasks, mut best_window, mut best_http): (f64, f64, Option<Value>) =
        (0.0, 0.0, None);
    for round in 1..=rounds {
        let tasks = library_tasks(&publisher, &event, messages, connections).await;
        let window = library_window(&publisher, &event, messages, connections).await;
        let http = if seconds > 0 {
            run_wrk(&script, &url, connections, seconds)
        } else {
            json!({"requests": 0, "duration_us": 1})
        };
        sent_library += 2 * messages as u64;
        answered_http += http["requests"].as_u64().unwrap_or(0);
        let http_rate = http["requests"].as_f64().unwrap_or(0.0) * 1e6
            / http["duration_us"].as_f64().unwrap_or(1.0);
        eprintln!(
            "round {round}: library {tasks:.0}/s ({connections} tasks), {window:.0}/s (window {connections}); HTTP {http_rate:.0}/s p50 {} us p99 {} us",
            http["p50_us"], http["p99_us"]
        );
        let errors: u64 = [
            "connect_errors",
            "read_errors",
            "write_errors",
            "status_errors",
            "timeouts",
        ]
        .iter()
        .map(|k| http[*k].as_u64().unwrap_or(0))
        .sum();
        assert_eq!(errors, 0, "wrk saw errors or non-2xx answers: {http}");
        best_tasks = best_tasks.max(tasks);
        best_window = best_window.max(window);
        let rate_of = |v: &Value| {
            v["requests"].as_f64().unwrap_or(0.0) * 1e6 / v["duration_us"].as_f64().unwrap_or(1.0)
        };
        if best_http.as_ref().is_none_or(|b| rate_of(b) < http_rate) {
            best_http = Some(http);
        }
    }
    let http = best_http.unwrap_or_default();

    // Nothing accepted is lost: every 202 wrk counted is in the stream
    // (wrk stops with requests in flight, which the server still stores).
    tokio::time::sleep(Duration::from_millis(200)).await;
    publisher.close().await;
    let stored = stream_len(&bus, bus.config().stream_name()).await;
    eprintln!("stream holds {stored} events; {sent_library} library publishes and {answered_http} HTTP 202s");
    assert!(
        stored >= sent_library + answered_http,
        "events lost: the stream holds {stored}, {sent_library} + {answered_http} were acknowledged"
    );

    let library = best_tasks.max(best_window);
    let http_rate = http["requests"].as_f64().unwrap_or(0.0) * 1e6
        / http["duration_us"].as_f64().unwrap_or(1.0);
    let ratio = http_rate / library;
    let ms = |us: &Value| us.as_f64().unwrap_or(0.0) / 1000.0;
    println!(
        "| path ({} byte body, {connections} in flight) | events/s | p50 ms | p99 ms | / library |",
        body.len()
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| library `Publisher::publish`, {connections} tasks | {best_tasks:.0} | | | {:.3} |",
        best_tasks / library
    );
    println!(
        "| library `Publisher::publish`, window of {connections} | {best_window:.0} | | | {:.3} |",
        best_window / library
    );
    println!(
        "| HTTP `POST /v1/events/{}` (wrk, {connections} keep-alive connections) | {http_rate:.0} | {:.2} | {:.2} | **{ratio:.3}** |",
        TYPE.as_str(),
        ms(&http["p50_us"]),
        ms(&http["p99_us"])
    );
    let summary = json!({
        "body_bytes": body.len(),
        "connections": connections,
        "library_tasks_per_s": best_tasks.round(),
        "library_window_per_s": best_window.round(),
        "http_per_s": http_rate.round(),
        "http_p50_ms": ms(&http["p50_us"]),
        "http_p99_ms": ms(&http["p99_us"]),
        "http_requests": http["requests"],
        "stored_events": stored,
        "ingest_vs_library": (ratio * 1000.0).round() / 1000.0,
    });
    println!("{summary}");
    drop(nats);
    let _ = std::fs::remove_dir_all(&dir);
    std::process::exit(0);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("repobus-bench-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}
