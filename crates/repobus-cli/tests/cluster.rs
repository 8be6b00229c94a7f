//! `repobus serve` and `repobus tail` on a three-node NATS cluster
//! (`--replicas 3`, all three URLs): when the server each is connected to
//! is killed with SIGKILL, the client fails over to another node and both
//! keep working; nothing posted is lost on the way to tail.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use repobus_testkit::cluster::{wait_stream_current, Cluster};
use repobus_testkit::{closed_port, config, connect_with, repobus_command, within};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_repobus");

fn command(urls: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(repobus_command(BIN));
    command
        .args([
            "--nats-url",
            urls,
            "--replicas",
            "3",
            "--stream",
            "FAILOVER",
        ])
        .args(args)
        .kill_on_drop(true);
    command
}

/// The client port of the NATS server process `pid` is connected to (its
/// sockets' remote ports, from /proc), among `ports`.
fn connected_port(pid: u32, ports: &[u16]) -> Option<u16> {
    let mut inodes = HashSet::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            {
                inodes.insert(inode.to_owned());
            }
        }
    }
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        if fields.len() < 10 || fields[3] != "01" || !inodes.contains(fields[9]) {
            continue;
        }
        let remote = fields[2].rsplit(':').next()?;
        let port = u16::from_str_radix(remote, 16).ok()?;
        if ports.contains(&port) {
            return Some(port);
        }
    }
    None
}

async fn post(client: &reqwest::Client, base: &str, repo: &str) -> String {
    let response = within(
        60,
        "POST through a failover",
        client
            .post(format!("{base}/v1/events/repo-sync-started"))
            .json(&json!({ "repo_id": repo }))
            .send(),
    )
    .await
    .unwrap_or_else(|e| panic!("POST {repo}: {e}"));
    let status = response.status().as_u16();
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("POST {repo} answer: {e}"));
    assert_eq!(status, 202, "POST {repo}: {body}");
    body["event_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no event_id in {body}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_tail_fail_over_when_their_server_dies() {
    let mut cluster = within(60, "starting the cluster", Cluster::start(3))
        .await
        .unwrap_or_else(|e| panic!("cluster: {e}"));
    let urls = cluster.urls();
    let ports: Vec<u16> = cluster.nodes().iter().map(|n| n.client_port).collect();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let log = dir.path().join("serve.log");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let listen = format!("127.0.0.1:{}", closed_port());
    let mut serve = command(&urls, &["serve", "--listen", &listen])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap_or_else(|e| panic!("log: {e}")))
        .spawn()
        .unwrap_or_else(|e| panic!("run repobus serve: {e}"));
    let base = format!("http://{listen}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(50))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = serve.try_wait() {
            panic!("serve exited with {status}: {}", read_log());
        }
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "serve not ready in 30 s: {}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // serve created the stream with three replicas.
    let bus = connect_with(config(urls.clone()).stream("FAILOVER").replicas(3)).await;
    let js = bus.jetstream().clone();
    let info = js
        .get_stream("FAILOVER")
        .await
        .unwrap_or_else(|e| panic!("stream: {e}"));
    assert_eq!(info.cached_info().config.num_replicas, 3);

    let tail_log = dir.path().join("tail.log");
    let mut tail = command(&urls, &["tail", "--all"])
        .env("REPOBUS_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&tail_log).unwrap_or_else(|e| panic!("log: {e}")))
        .spawn()
        .unwrap_or_else(|e| panic!("run repobus tail: {e}"));
    let tail_pid = tail.id().unwrap_or_else(|| panic!("tail has no pid"));
    let stdout = tail.stdout.take().unwrap_or_else(|| panic!("tail stdout"));
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                if let Some(id) = value["event_id"].as_str() {
                    let _ = seen_tx.send(id.to_owned());
                }
            }
        }
    });
    let mut posted = Vec::new();
    for i in 0..5 {
        posted.push(post(&client, &base, &format!("before-{i}")).await);
    }
    // tail is running (it has printed what was posted) before any server dies.
    let mut tailed = HashSet::new();
    within(30, "tail prints the first events", async {
        while !posted.iter().all(|id| tailed.contains(id)) {
            match seen.recv().await {
                Some(id) => {
                    tailed.insert(id);
                }
                None => panic!(
                    "tail stopped printing: {}",
                    std::fs::read_to_string(&tail_log).unwrap_or_default()
                ),
            }
        }
    })
    .await;
    let serve_pid = serve.id().unwrap_or_else(|| panic!("serve has no pid"));
    let mut killed = Vec::new();
    // Kill the node serve is connected to, then (if tail is still on a
    // node that has not died) tail's: each client loses its server once.
    for (who, pid) in [("serve", serve_pid), ("tail", tail_pid)] {
        let started = Instant::now();
        let port = loop {
            if let Some(port) = connected_port(pid, &ports) {
                break port;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{who} is connected to no node; serve: {}\ntail: {}",
                read_log(),
                std::fs::read_to_string(&tail_log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let index = ports
            .iter()
            .position(|p| *p == port)
            .unwrap_or_else(|| panic!("port {port} is no node"));
        if killed.contains(&index) {
            continue;
        }
        within(
            40,
            "stream current",
            wait_stream_current(&js, "FAILOVER", 3, Duration::from_secs(35)),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        cluster.kill(index);
        killed.push(index);
        eprintln!("killed {} ({who}'s server)", cluster.nodes()[index].name);
        for i in 0..5 {
            posted.push(post(&client, &base, &format!("after-{who}-{i}")).await);
        }
        let r = within(30, "readyz", client.get(format!("{base}/readyz")).send())
            .await
            .unwrap_or_else(|e| panic!("readyz: {e}"));
        assert!(r.status().is_success(), "serve not ready after failover");
        cluster
            .restart(index)
            .await
            .unwrap_or_else(|e| panic!("restart: {e}"));
    }
    let wanted: HashSet<String> = posted.iter().cloned().collect();
    within(60, "tail prints every posted event", async {
        while !wanted.is_subset(&tailed) {
            match seen.recv().await {
                Some(id) => {
                    tailed.insert(id);
                }
                None => panic!(
                    "tail stopped printing: {}",
                    std::fs::read_to_string(&tail_log).unwrap_or_default()
                ),
            }
        }
    })
    .await;
    assert!(
        serve.try_wait().ok().flatten().is_none(),
        "serve exited: {}",
        read_log()
    );
    assert!(tail.try_wait().ok().flatten().is_none(), "tail exited");
    // Each event stored once.
    let stored = repobus_testkit::stream_len(&bus, "FAILOVER").await;
    assert_eq!(stored as usize, posted.len(), "stored events");
}
