//! Bulk import: `repobus publish --jsonl` of a large file against raw
//! async-nats publishing the same bodies with acks, in one run on one
//! server, and the CLI's peak memory for two file sizes.
//!
//! ```text
//! cargo build --release -p repobus-cli
//! cargo bench --bench bulk -- --lines 1000000
//! cargo bench --bench bulk -- --lines 1000000 --repobus target/release/repobus
//! ```
//!
//! Phases, each on a purged stream:
//!
//! - raw: async-nats `jetstream.publish` of the bodies, `--window` acks in
//!   flight (no headers: the bare client);
//! - one at a time: the library's typed publish, each after the previous
//!   ack (what `publish --jsonl` did before it pipelined), on
//!   `--sequential-lines` lines only, as a reference;
//! - CLI: `/usr/bin/time -v repobus publish --jsonl FILE` for `--lines / 10`
//!   and `--lines` lines (read, decoded, validated, published in order with
//!   acks), with its wall time and peak resident memory (`Maximum resident
//!   set size`).
//!
//! The last line is one JSON object with the rates and ratios.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use repobus::bus::Bus;
use repobus::{Event, EventType};

#[derive(Parser)]
struct Args {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Lines in the large file (the small one has a tenth).
    #[arg(long, default_value_t = 1_000_000)]
    lines: usize,
    /// NATS server to use (default: start a private one).
    #[arg(long)]
    nats_url: Option<String>,
    /// Raw publishes in flight at once (the CLI's window is 256).
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Lines for the one-at-a-time reference.
    #[arg(long, default_value_t = 20_000)]
    sequential_lines: usize,
    /// The `repobus` binary (default: target/release/repobus).
    #[arg(long)]
    repobus: Option<PathBuf>,
}

#[path = "support/mod.rs"]
mod support;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Distinct bodies, cycled: line `i` carries `bodies[i % len]`.
const DISTINCT: usize = 1000;

fn bodies() -> BenchResult<Vec<(Event, Bytes)>> {
    let example = EventType::RepoSyncFinished
        .examples()
        .into_iter()
        .next()
        .ok_or("no example")?;
    (0..DISTINCT)
        .map(|i| {
            let mut body = example.clone();
            body["repo_id"] = format!("repo-{}", i % 100).into();
            body["added_count"] = i.into();
            let event = Event::from_value(EventType::RepoSyncFinished, body)?;
            let bytes = Bytes::from(event.to_vec());
            Ok((event, bytes))
        })
        .collect()
}

fn write_file(path: &Path, lines: usize, bodies: &[(Event, Bytes)]) -> BenchResult<u64> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for i in 0..lines {
        out.write_all(br#"{"topic":"repo-sync-finished","body":"#)?;
        out.write_all(&bodies[i % bodies.len()].1)?;
        out.write_all(b"}\n")?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Runs the CLI under `/usr/bin/time -v`: (seconds, peak RSS in KiB).
fn run_cli(
    repobus: &Path,
    url: &str,
    prefix: &str,
    stream: &str,
    file: &Path,
) -> BenchResult<(f64, u64)> {
    let start = Instant::now();
    let output = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(repobus)
        .args(["--nats-url", url, "--prefix", prefix, "--stream", stream])
        .arg("publish")
        .arg("--jsonl")
        .arg(file)
        .stdin(Stdio::null())
        .output()?;
    let seconds = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "repobus publish --jsonl failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr.lines().take(20).collect::<Vec<_>>().join("\n")
        )
        .into());
    }
    let rss = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no 'Maximum resident set size' in /usr/bin/time's output")?;
    Ok((seconds, rss))
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    let n = args.lines.max(10);
    let small = n / 10;
    let window = args.window.max(1);
    let repobus = args.repobus.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/repobus")
    });
    if !repobus.exists() {
        return Err(format!(
            "{} is missing: build it with `cargo build --release -p repobus-cli` or pass --repobus",
            repobus.display()
        )
        .into());
    }
    let server = support::server(args.nats_url.as_deref()).await?;
    let url = server.url.clone();
    let config = support::config(&url, "bulk");
    let prefix = config.subject_prefix().to_owned();
    let stream_name = config.stream_name().to_owned();
    let bus = Bus::connect(config.clone()).await?;
    let js = bus.jetstream().clone();
    let bodies = bodies()?;
    let subjects: Vec<String> = bodies
        .iter()
        .map(|(e, _)| bus.subjects().for_event(e))
        .collect();

    let dir = tempfile::tempdir()?;
    let big = dir.path().join("big.jsonl");
    let little = dir.path().join("small.jsonl");
    let big_bytes = write_file(&big, n, &bodies)?;
    write_file(&little, small, &bodies)?;
    println!(
        "{n} lines ({:.0} MB), bodies ~{} bytes, server {url}",
        big_bytes as f64 / 1e6,
        bodies[0].1.len()
    );
    let purge = || async {
        js.get_stream(&stream_name).await?.purge().await?;
        BenchResult::Ok(())
    };

    // Raw async-nats, the same bodies, acked, `window` in flight.
    purge().await?;
    let start = Instant::now();
    let acked = futures_util::stream::iter(0..n)
        .map(|i| {
            let js = js.clone();
            let subject = subjects[i % DISTINCT].clone();
            let body = bodies[i % DISTINCT].1.clone();
            async move { js.publish(subject, body).await?.await }
        })
        .buffered(window)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    let raw_seconds = start.elapsed().as_secs_f64();
    if acked != n {
        return Err(format!("raw: {acked} of {n} acked").into());
    }
    let raw_rate = n as f64 / raw_seconds;

    // The typed publish one at a time: the old `publish --jsonl`.
    purge().await?;
    let publisher = bus.publisher();
    let m = args.sequential_lines.max(1);
    let start = Instant::now();
    for i in 0..m {
        publisher.publish(&bodies[i % DISTINCT].0).await?;
    }
    let sequential_rate = m as f64 / start.elapsed().as_secs_f64();

    // The CLI, small file then large.
    purge().await?;
    let (small_seconds, small_rss) = run_cli(&repobus, &url, &prefix, &stream_name, &little)?;
    purge().await?;
    let (big_seconds, big_rss) = run_cli(&repobus, &url, &prefix, &stream_name, &big)?;
    let stored = js
        .get_stream(&stream_name)
        .await?
        .info()
        .await?
        .state
        .messages;
    if stored != n as u64 {
        return Err(format!("the CLI stored {stored} of {n} lines").into());
    }
    let cli_rate = n as f64 / big_seconds;
    let small_rate = small as f64 / small_seconds;

    publisher.close().await;
    for name in [stream_name.clone(), config.dead_letter_stream_name()] {
        let _ = js.delete_stream(&name).await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;

    println!(
        "{:<44} {:>10} {:>12} {:>14}",
        "phase", "lines/s", "vs raw", "peak RSS (MB)"
    );
    println!(
        "{:<44} {raw_rate:>10.0} {:>12} {:>14}",
        "raw async-nats, acked", "1.000", "-"
    );
    println!(
        "{:<44} {sequential_rate:>10.0} {:>12.3} {:>14}",
        format!("typed, one at a time ({m} lines)"),
        sequential_rate / raw_rate,
        "-"
    );
    println!(
        "{:<44} {small_rate:>10.0} {:>12.3} {:>14.1}",
        format!("repobus publish --jsonl ({small} lines)"),
        small_rate / raw_rate,
        small_rss as f64 / 1024.0
    );
    println!(
        "{:<44} {cli_rate:>10.0} {:>12.3} {:>14.1}",
        format!("repobus publish --jsonl ({n} lines)"),
        cli_rate / raw_rate,
        big_rss as f64 / 1024.0
    );
    println!(
        "{}",
        serde_json::json!({
            "lines": n,
            "raw_acked_per_s": raw_rate,
            "sequential_typed_per_s": sequential_rate,
            "cli_jsonl_per_s": cli_rate,
            "cli_jsonl_small_per_s": small_rate,
            "bulk_import_ratio": cli_rate / raw_rate,
            "sequential_ratio": sequential_rate / raw_rate,
            "cli_peak_rss_kib_small": small_rss,
            "cli_peak_rss_kib_large": big_rss,
            "peak_rss_large_over_small": big_rss as f64 / small_rss as f64,
        })
    );
    Ok(())
}
