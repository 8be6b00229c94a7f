//! A reader that stops early (`repobus search | head`) is not a failure:
//! repobus exits 0 quietly, with no panic and no error message.

use std::process::Command;

use repobus_testkit::*;

/// Runs `repobus ARGS | head -n 1` in bash and returns (repobus's exit
/// status, what head printed, repobus's standard error).
fn into_head(args: &str, stdin: Option<&str>) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let err = dir.path().join("stderr");
    let input = match stdin {
        Some(text) => {
            let path = dir.path().join("stdin");
            std::fs::write(&path, text).unwrap();
            format!("< {path:?}")
        }
        None => "< /dev/null".to_owned(),
    };
    let script =
        format!("\"$REPOBUS\" {args} {input} 2> {err:?} | head -n 1; exit ${{PIPESTATUS[0]}}",);
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("REPOBUS", env!("CARGO_BIN_EXE_repobus"))
        .env_remove("REPOBUS_NATS_URL")
        .output()
        .expect("bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(err).unwrap_or_default(),
    )
}

#[test]
fn schedule_into_head_exits_0() {
    let (code, out, err) = into_head(
        "schedule PT1S --now 2012-01-01T00:00Z --count 1000000",
        None,
    );
    assert_eq!(out, "2012-01-01T00:00:01Z\n");
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn inspect_into_head_exits_0() {
    let line = r#"{"topic": "repo-sync-started", "body": {"repo_id": "pulp-f17"}}"#;
    let input = format!("{line}\n").repeat(200_000);
    let (code, out, err) = into_head("inspect -", Some(&input));
    assert!(out.starts_with(r#"{"type":"repo-sync-started""#), "{out}");
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_into_head_exits_0() {
    let server = server().await;
    let bus = connect(&server).await;
    let publisher = bus.publisher();
    for i in 0..3000 {
        within(
            20,
            "publish",
            publisher.publish(&sync_started(&format!("r{i}"))),
        )
        .await
        .expect("publish");
    }
    let args = format!("--nats-url {} search", server.url());
    let (code, out, err) = tokio::task::spawn_blocking(move || into_head(&args, None))
        .await
        .unwrap();
    assert!(out.contains(r#""repo_id":"r0""#), "{out}");
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("repobus:") && !err.contains("panicked"),
        "{err}"
    );
}
