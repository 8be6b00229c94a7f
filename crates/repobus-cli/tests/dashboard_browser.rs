//! The dashboard in a real browser: a private nats-server, `repobus serve
//! --base-path /repobus`, and headless Chromium (Debian's) driven by
//! playwright-core through `tests/browser/dashboard.mjs`, which publishes
//! with `repobus publish` and checks the live feed (within 2 s, no
//! reload), the repositories view (new result, sync in progress), builds,
//! trends, search, the detail's wire body, dark mode, and no console
//! errors. Screenshots land in `target/dashboard-screenshots/`.
//!
//! Load: when the script prints `load: ready` (the page is on the live
//! feed, measuring), this test publishes [`LOAD_RATE`] events/s for
//! [`LOAD_SECS`] s with the library's publisher, many publishes in flight,
//! and writes a line of JSON to the script's stdin (how many, the last
//! stream sequence, the achieved rate). The script meanwhile switches
//! tabs and opens details, and then checks that the page kept answering,
//! kept a bounded number of rows and showed every event. The achieved
//! rate must be at least [`MIN_RATE`] events/s.
//!
//! Needs `. scripts/tools.sh --oracle` (scripts/tools.d/browser.sh installs
//! chromium and playwright-core); without them the test fails saying so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{stream, StreamExt};
use repobus::bus::Bus;
use repobus::events::{BuildChroot, CoprStatus};
use repobus::{Event, EventType};
use repobus_testkit::*;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build(id: u64, project: &str, chroot: &str, status: Option<CoprStatus>) -> Value {
    let b = BuildChroot::builder(id, "@python", project, chroot)
        .package("python-requests", "2.32.3-1")
        .user("churchyard");
    let event: Event = match status {
        None => b.started().into(),
        Some(s) => b.ended(s).into(),
    };
    event.to_value()
}

fn publish_body(repo: &str, result: &str) -> Value {
    let mut body = EventType::RepoPublishFinished.examples()[0].clone();
    body["repo_id"] = json!(repo);
    body["result"] = json!(result);
    body
}

/// Events already stored when the page opens, for views worth looking at.
fn seed() -> Vec<Value> {
    let line = |topic: &str, body: Value| json!({"topic": topic, "body": body});
    let mut lines = vec![
        line("repo-sync-started", json!({"repo_id": "pulp-f16"})),
        line(
            "repo-sync-finished",
            sync_finished_body("pulp-f16", "success", 40),
        ),
        line("repo-sync-started", json!({"repo_id": "epel-8"})),
        line(
            "repo-sync-finished",
            sync_finished_body("epel-8", "failed", 0),
        ),
        line("repo-sync-started", json!({"repo_id": "fedora-updates"})),
        line(
            "repo-sync-finished",
            sync_finished_body("fedora-updates", "success", 311),
        ),
        line(
            "repo-publish-started",
            json!({"repo_id": "fedora-updates", "distributor_id": "yum_distributor"}),
        ),
        line(
            "repo-publish-started",
            json!({"repo_id": "centos-stream", "distributor_id": "yum_distributor"}),
        ),
        line(
            "repo-publish-finished",
            publish_body("centos-stream", "success"),
        ),
        line("repo-sync-started", json!({"repo_id": "pulp-f17"})),
    ];
    let chroots = ["fedora-40-x86_64", "fedora-rawhide-x86_64", "epel-9-x86_64"];
    for (i, id) in (9100..9105).enumerate() {
        for (j, chroot) in chroots.iter().enumerate() {
            lines.push(line(
                "build-chroot-started",
                build(id, "python3.12", chroot, None),
            ));
            let status = match (i + j) % 5 {
                _ if id == 9104 && j == 2 => None,
                1 => Some(CoprStatus::Failed),
                _ => Some(CoprStatus::Succeeded),
            };
            if let Some(s) = status {
                lines.push(line(
                    "build-chroot-ended",
                    build(id, "python3.12", chroot, Some(s)),
                ));
            }
        }
    }
    lines.push(line(
        "build-chroot-ended",
        build(
            77,
            "pytest",
            "fedora-40-x86_64",
            Some(CoprStatus::Succeeded),
        ),
    ));
    lines
}

/// `serve --read-token`: the page asks for it before showing anything.
const READ_TOKEN: &str = "r3ad-only-t0ken";

/// The load phase publishes this many events per second...
const LOAD_RATE: u64 = 1500;
/// ...for this many seconds...
const LOAD_SECS: u64 = 5;
/// ...and must achieve at least this rate (the 1,000 events/s).
const MIN_RATE: f64 = 1000.0;
/// The load's events are syncs of this many repositories (so that the
/// repositories view, checked afterwards, stays a realistic size).
const LOAD_REPOS: u64 = 200;

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Publishes `LOAD_RATE * LOAD_SECS` `repo-sync-started` events (of
/// `LOAD_REPOS` repositories), each sent at its slot on a `LOAD_RATE`/s
/// schedule, many in flight at once, and returns what the script checks:
/// how many, the highest stream sequence (the event the page shows last),
/// the achieved rate (events over the time from the first slot to the last
/// ack), events acked in each second, and when the last ack came (ms since
/// the epoch).
async fn publish_load(bus: &Bus) -> Value {
    let publisher = bus.publisher();
    let count = LOAD_RATE * LOAD_SECS;
    let start = tokio::time::Instant::now();
    let acks: Vec<(u64, Duration)> = within(
        LOAD_SECS + 30,
        "publishing the load",
        stream::iter(0..count)
            .map(|i| {
                let publisher = publisher.clone();
                async move {
                    let slot = Duration::from_secs_f64(i as f64 / LOAD_RATE as f64);
                    tokio::time::sleep_until(start + slot).await;
                    let ack = publisher
                        .publish(&sync_started(&format!("load-{}", i % LOAD_REPOS)))
                        .await
                        .unwrap_or_else(|e| panic!("load event {i}: {e}"));
                    (ack.seq, start.elapsed())
                }
            })
            .buffer_unordered(1024)
            .collect(),
    )
    .await;
    let ended_at_ms = epoch_ms();
    let elapsed = acks.iter().map(|(_, t)| *t).max().unwrap();
    let last_seq = acks.iter().map(|(seq, _)| *seq).max().unwrap();
    let mut per_second = vec![0u64; elapsed.as_secs() as usize + 1];
    for (_, t) in &acks {
        per_second[t.as_secs() as usize] += 1;
    }
    let rate = count as f64 / elapsed.as_secs_f64();
    json!({
        "count": count,
        "last_seq": last_seq,
        "seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "rate": rate.round(),
        "per_second": per_second,
        "ended_at_ms": ended_at_ms,
    })
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    let root = root();
    let chromium = std::env::var("REPOBUS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let modules = std::env::var("REPOBUS_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join(".tools/node/node_modules"));
    assert!(
        Path::new(&chromium).exists() && modules.join("playwright-core").exists(),
        "chromium ({chromium}) or playwright-core ({}) is missing: run `. scripts/tools.sh --oracle` first",
        modules.display()
    );
    let bin = env!("CARGO_BIN_EXE_repobus");
    let nats = server().await;
    let dir = tempfile::tempdir().unwrap();

    // Seed the stream with `repobus publish --jsonl`.
    let seed_file = dir.path().join("seed.jsonl");
    let mut file = std::fs::File::create(&seed_file).unwrap();
    for line in seed() {
        writeln!(file, "{line}").unwrap();
    }
    drop(file);
    let out = repobus_command(bin)
        .args(["publish", "--nats-url", &nats.url(), "--jsonl"])
        .arg(&seed_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "seeding: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        dir.path().join("started.json"),
        json!({"repo_id": "epel-9-everything"}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("finished.json"),
        sync_finished_body("pulp-f17", "success", 12).to_string(),
    )
    .unwrap();

    let port = closed_port();
    let log = dir.path().join("serve.log");
    let serve = Serve(
        repobus_command(bin)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--nats-url",
                &nats.url(),
            ])
            .args([
                "--base-path",
                "/repobus",
                "--read-token",
                READ_TOKEN,
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}/repobus/");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{base}healthz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "serve did not come up: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let shots = root.join("target/dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = root.join("tests/browser/dashboard.mjs");
    // Connected before the browser starts, so the load starts at once; the
    // library's default ack timeout (the test kit's 1 s turns a busy moment
    // into a storm of retries).
    let bus = connect_with(config(nats.url()).ack_timeout(Duration::from_secs(5))).await;
    let mut node = tokio::process::Command::new("node")
        .arg(script)
        .env("DASHBOARD_URL", &base)
        .env("READ_TOKEN", READ_TOKEN)
        .env("REPOBUS_BIN", bin)
        .env("NATS_URL", nats.url())
        .env("FIXTURES", dir.path())
        .env("SHOTS", &shots)
        .env("REPOBUS_NODE_MODULES", modules)
        .env("REPOBUS_CHROMIUM", chromium)
        .env("LOAD_RATE", LOAD_RATE.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node (is nodejs installed?)");
    let mut stdin = node.stdin.take().unwrap();
    let mut node_err = node.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = node_err.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    let mut load = None;
    let status = within(100, "the browser test", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            eprintln!("{line}");
            stdout.push_str(&line);
            stdout.push('\n');
            if line == "load: ready" {
                let report = publish_load(&bus).await;
                eprintln!("load: published {report}");
                stdin
                    .write_all(format!("{report}\n").as_bytes())
                    .await
                    .unwrap();
                stdin.flush().await.unwrap();
                load = Some(report);
            }
        }
        node.wait().await.unwrap()
    })
    .await;
    let stderr = stderr.await.unwrap();
    eprintln!("{stderr}");
    assert!(
        status.success(),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
    let load = load.expect("the script never reached the load phase");
    let rate = load["rate"].as_f64().unwrap();
    assert!(
        rate >= MIN_RATE,
        "the load phase published at {rate:.0} events/s, below {MIN_RATE}/s: {load}"
    );
    for check in [
        "appeared in the live feed",
        "asked for the read token",
        "shows pulp-f17's new result",
        "shows as in progress",
        "returns its 2 events",
        "shows the wire body",
        "bounded number of rows under load",
        "batches its rendering under load",
        "stays responsive under load",
        "answers interactions under load",
        "shows every event published under load",
        "no console errors",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("ok: ") && l.contains(check)),
            "missing check {check:?}:\n{stdout}"
        );
    }
    assert!(shots.join("dashboard.png").exists());
    drop(serve);
}

#[test]
fn serve_refuses_bad_read_credentials_and_base_paths_as_usage_errors() {
    let bin = env!("CARGO_BIN_EXE_repobus");
    for (args, needle) in [
        (["--read-basic-auth", "viewer"], "USER:PASS"),
        (["--read-basic-auth", ":secret"], "USER:PASS"),
        (["--base-path", "repobus"], "/repobus"),
        (["--base-path", "/a/../b"], "/repobus"),
        (["--base-path", "/a b"], "/repobus"),
    ] {
        let out = repobus_command(bin)
            .arg("serve")
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
