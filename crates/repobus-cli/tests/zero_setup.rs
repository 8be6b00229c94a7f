//! `repobus serve` with no NATS URL on a machine where nothing listens on
//! localhost:4222: it starts and supervises its own `nats-server -js`.
//!
//! This machine runs its own NATS on 4222, so the test runs `serve` in a new
//! network namespace (`unshare -n`, as root), whose loopback has nothing on
//! it: exactly a fresh machine's situation.

use std::path::PathBuf;
use std::process::Command;

fn nats_server_dir() -> PathBuf {
    let binary = repobus_local::default_binary();
    let resolved = if binary.is_absolute() {
        binary
    } else {
        let out = Command::new("sh")
            .args(["-c", "command -v nats-server"])
            .output()
            .expect("sh");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    };
    resolved.parent().map(PathBuf::from).unwrap_or_default()
}

#[test]
#[ignore = "needs root (a network namespace, unshare -n); scripts/test.sh runs it with --include-ignored when it runs as root"]
fn serve_starts_its_own_nats_server_when_none_is_given_or_listening() {
    let dir = tempfile::tempdir().unwrap();
    let repobus = env!("CARGO_BIN_EXE_repobus");
    let script = format!(
        r#"
set -u
ip link set lo up
export PATH="{nats_dir}:$PATH"
unset REPOBUS_NATS_URL
"{repobus}" serve --listen 127.0.0.1:18080 > serve.log 2>&1 &
pid=$!
for i in $(seq 1 100); do
  curl -s -o /dev/null http://127.0.0.1:18080/healthz && break
  sleep 0.1
done
curl -s -w ' %{{http_code}}\n' -X POST http://127.0.0.1:18080/v1/events/repo-sync-started -d '{{"repo_id": "zero-setup"}}'
curl -s -w ' %{{http_code}}\n' http://127.0.0.1:18080/readyz
"{repobus}" tail --all --no-follow --format text
kill -TERM $pid
wait $pid
echo "serve exited $?"
"#,
        nats_dir = nats_server_dir().display(),
    );
    let out = Command::new("timeout")
        .args(["60", "unshare", "-n", "sh", "-c", &script])
        .current_dir(dir.path())
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}\nserve.log:\n{log}");
    assert!(out.status.success(), "{context}");
    assert!(
        stdout.contains(
            r#""subject":"repobus.repo.sync.started.zero-setup","stream":"REPOBUS","seq":1} 202"#
        ),
        "{context}"
    );
    assert!(stdout.contains(r#"{"status":"ready"} 200"#), "{context}");
    assert!(
        stdout.contains(r#"Pulp repository "zero-setup": sync started."#),
        "{context}"
    );
    assert!(stdout.contains("serve exited 0"), "{context}");
    assert!(
        log.contains("started a local nats-server -js"),
        "the log says so: {context}"
    );
    let data = dir.path().join(".repobus/nats");
    assert!(
        data.join("jetstream").is_dir(),
        "data under .repobus/nats: {context}"
    );
    assert!(data.join("nats-server.log").is_file(), "{context}");
}
