//! What the AMQP bridge's tests share: the Python of `.tools/venv` with
//! fedora-messaging and copr-messaging, and Copr bodies from the
//! conformance corpus that copr-messaging validates.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with fedora-messaging, copr-messaging and repobus-messages.
pub fn python() -> PathBuf {
    let python = std::env::var_os("REPOBUS_ORACLE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/venv/bin/python"));
    let ok = Command::new(&python)
        .args(["-c", "import fedora_messaging, copr_messaging"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} lacks fedora-messaging or copr-messaging: run `. scripts/tools.sh --oracle`",
        python.display()
    );
    python
}

/// A script of `tests/py/`.
pub fn script(name: &str) -> PathBuf {
    root().join("crates/repobus-amqp/tests/py").join(name)
}

/// Runs `tests/py/fm_publish.py` (fedora-messaging's `api.publish`) with
/// `items` on stdin; returns one JSON object per item.
pub fn fm_publish(url: &str, prefix: &str, items: &[Value]) -> Vec<Value> {
    let mut child = Command::new(python())
        .arg(script("fm_publish.py"))
        .args([url, prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fm_publish.py");
    let mut stdin = child.stdin.take().expect("stdin");
    for item in items {
        writeln!(stdin, "{item}").expect("write to fm_publish.py");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("fm_publish.py output");
    assert!(
        out.status.success(),
        "fm_publish.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("fm_publish.py prints JSON"))
        .collect()
}

/// Copr messages of the conformance corpus that copr-messaging validates,
/// on fedmsg-era topics without prefix, as `{"topic", "body"}`.
pub fn copr_corpus() -> Vec<Value> {
    let dir = root().join("tests/conformance");
    let corpus = std::fs::read_to_string(dir.join("corpus.jsonl")).expect("corpus");
    let expected = std::fs::read_to_string(dir.join("expected.jsonl")).expect("expected");
    corpus
        .lines()
        .zip(expected.lines())
        .filter_map(|(c, e)| {
            let c: Value = serde_json::from_str(c).ok()?;
            let e: Value = serde_json::from_str(e).ok()?;
            let topic = c["topic"].as_str()?;
            let bare = ["copr.build.start", "copr.build.end"]
                .into_iter()
                .find(|s| topic.ends_with(s))?;
            (e["valid"] == true
                && repobus::Event::decode(topic, c["body"].to_string().as_bytes()).is_ok())
            .then(|| json!({"topic": bare, "body": c["body"]}))
        })
        .collect()
}

/// A fedora-messaging consumer (`tests/py/fm_consume.py`) that has declared
/// and bound its queue.
pub struct Consumer {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Consumer {
    /// Starts the consumer and waits until its queue is bound.
    pub fn start(url: &str, queue: &str, binding: &str, count: usize) -> Consumer {
        use std::io::BufRead;
        let mut child = Command::new(python())
            .arg(script("fm_consume.py"))
            .args([url, queue, binding, &count.to_string(), "60"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run fm_consume.py");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("fm_consume.py output");
        assert_eq!(line.trim(), "ready", "fm_consume.py did not start");
        Consumer { child, stdout }
    }

    /// Waits for every message; one JSON object each.
    pub fn finish(mut self) -> Vec<Value> {
        use std::io::BufRead;
        let mut messages = Vec::new();
        let mut line = String::new();
        while self.stdout.read_line(&mut line).expect("read") > 0 {
            messages.push(serde_json::from_str(line.trim()).expect("fm_consume.py prints JSON"));
            line.clear();
        }
        let status = self.child.wait().expect("fm_consume.py exit");
        assert!(
            status.success(),
            "fm_consume.py failed after {} messages",
            messages.len()
        );
        messages
    }
}
