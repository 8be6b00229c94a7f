//! What the `repobus run` tests share: running `repobus` against a private
//! nats-server, reading its output, and recording when the wrapped commands
//! really ran.

#![allow(dead_code)] // each test file uses its own part

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use repobus::operations::{OperationRecord, OperationState, Operations};
use repobus_testkit::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_repobus");

pub fn run_command(url: impl AsRef<str>, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(repobus_command(BIN));
    command
        .arg("--nats-url")
        .arg(url.as_ref())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

pub async fn output(mut command: tokio::process::Command) -> (i32, String, String) {
    let out = within(60, "repobus", command.output())
        .await
        .expect("run repobus");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub async fn child_output(child: tokio::process::Child) -> (i32, String, String) {
    let out = within(30, "repobus", child.wait_with_output())
        .await
        .expect("wait for repobus");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A shell snippet that appends `<tag> start|end <ns>` around `body`.
pub fn recorded(log: &Path, tag: &str, body: &str) -> String {
    let log = log.display();
    format!(
        "echo \"{tag} start $(date +%s%N)\" >> {log}; {body}; echo \"{tag} end $(date +%s%N)\" >> {log}"
    )
}

/// `tag -> (start, end)` in nanoseconds from a log of [`recorded`] lines.
pub fn intervals(log: &Path) -> HashMap<String, (u128, u128)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out: HashMap<String, (u128, u128)> = HashMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let [tag, what, ns] = parts[..] else {
            panic!("bad log line {line:?}")
        };
        let ns: u128 = ns.parse().unwrap();
        let entry = out.entry(tag.to_owned()).or_default();
        if what == "start" {
            entry.0 = ns;
        } else {
            entry.1 = ns;
        }
    }
    out
}

pub async fn wait_for_state(
    ops: &Operations,
    state: OperationState,
    count: usize,
) -> Vec<OperationRecord> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let records: Vec<_> = ops
            .list()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.state == state)
            .collect();
        if records.len() >= count {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "no {count} operations {state:?}: {records:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
