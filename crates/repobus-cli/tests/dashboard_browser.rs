//! The dashboard in a real browser: a private nats-server, `repobus serve
//! --base-path /repobus`, and headless Chromium (Debian's) driven by
//! playwright-core through `tests/browser/dashboard.mjs`, which publishes
//! with `repobus publish` and checks the live feed (within 2 s, no
//! reload), the repositories view (new result, sync in progress), builds,
//! trends, search, the detail's wire body, dark mode, and no console
//! errors. Screenshots land in `target/dashboard-screenshots/`.
//!
//! Needs `. scripts/tools.sh --oracle` (scripts/tools.d/browser.sh installs
//! chromium and playwright-core); without them the test fails saying so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use repobus::events::{BuildChroot, CoprStatus};
use repobus::{Event, EventType};
use repobus_testkit::*;
use serde_json::{json, Value};

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

    for part in 0..3 {
        let mut load =
            std::fs::File::create(dir.path().join(format!("load-{part}.jsonl"))).unwrap();
        for i in 0..1000 {
            let body = json!({"repo_id": format!("load-{part}-{i}")});
            writeln!(
                load,
                "{}",
                json!({"topic": "repo-sync-started", "body": body})
            )
            .unwrap();
        }
    }

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
    let output = tokio::task::spawn_blocking({
        let (base, nats_url, fixtures, shots) = (
            base.clone(),
            nats.url(),
            dir.path().to_owned(),
            shots.clone(),
        );
        move || {
            std::process::Command::new("node")
                .arg(script)
                .env("DASHBOARD_URL", base)
                .env("READ_TOKEN", READ_TOKEN)
                .env("REPOBUS_BIN", bin)
                .env("NATS_URL", nats_url)
                .env("FIXTURES", fixtures)
                .env("SHOTS", shots)
                .env("REPOBUS_NODE_MODULES", modules)
                .env("REPOBUS_CHROMIUM", chromium)
                .output()
                .expect("run node (is nodejs installed?)")
        }
    });
    let output = within(120, "the browser test", output).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
    for check in [
        "appeared in the live feed",
        "asked for the read token",
        "shows pulp-f17's new result",
        "shows as in progress",
        "returns its 2 events",
        "shows the wire body",
        "bounded number of rows under load",
        "stays responsive under load",
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
