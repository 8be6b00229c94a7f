//! The `repobus` binary's offline commands: `inspect` and `schemas`.

use repobus_testkit::{output_with_stdin, repobus_command};

fn repobus(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut command = repobus_command(env!("CARGO_BIN_EXE_repobus"));
    command.args(args);
    let out = output_with_stdin(command, stdin.as_bytes());
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn inspect_prints_one_line_per_input_line_and_goes_on_after_errors() {
    let input = concat!(
        r#"{"topic": "repo.sync.start", "body": {"repo_id": "pulp-f17"}}"#,
        "\n",
        "not json\n",
        r#"{"topic": "repo-publish-started", "body": {"repo_id": "pulp-f16", "distributor_id": "a*b"}}"#,
        "\n",
        r#"{"topic": "copr.build.end", "body": {"msg": {"status": 1, "what": "w", "chroot": "srpm-builds", "ip": null, "user": null, "who": "x", "pid": 1, "copr": "p", "version": null, "build": 5, "owner": "o", "pkg": null}}}"#,
        "\n"
    );
    let (code, stdout, _) = repobus(&["inspect", "-"], input);
    assert_eq!(code, 1, "a failed line makes the exit code 1");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["type"], "repo-sync-started");
    assert_eq!(lines[0]["repo_id"], "pulp-f17");
    assert_eq!(lines[0]["status"], "running");
    assert_eq!(lines[0]["url"], serde_json::Value::Null);
    let error = lines[1]["error"].as_str().unwrap();
    assert!(error.starts_with("line 2: malformed JSON"), "{error}");
    let error = lines[2]["error"].as_str().unwrap();
    assert!(
        error.contains("repo-publish-started: $.distributor_id:") && error.contains("'*'"),
        "{error}"
    );
    assert_eq!(lines[3]["type"], "build-chroot-ended");
    assert_eq!(lines[3]["status"], "succeeded");
    assert_eq!(lines[3]["package_name"], serde_json::Value::Null);
    assert_eq!(lines[3]["package_full_name"], serde_json::Value::Null);
    assert_eq!(lines[3]["usernames"], serde_json::json!(["o"]));
}

#[test]
fn inspect_exits_zero_when_every_line_decodes() {
    let (code, stdout, _) = repobus(
        &["inspect"],
        "{\"topic\": \"repo-sync-started\", \"body\": {\"repo_id\": \"x\"}}\n",
    );
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 1);
}

#[test]
fn committed_schema_files_are_current() {
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas");
    let (code, stdout, stderr) = repobus(&["schemas", "--check", "--out", committed], "");
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn schemas_check_names_a_stale_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, _, _) = repobus(&["schemas", "--out", out], "");
    assert_eq!(code, 0);
    let (code, _, _) = repobus(&["schemas", "--check", "--out", out], "");
    assert_eq!(code, 0);
    let stale = dir.path().join("repo-sync-finished.schema.json");
    std::fs::write(&stale, "{}").unwrap();
    let (code, _, stderr) = repobus(&["schemas", "--check", "--out", out], "");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("repo-sync-finished.schema.json"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("repo-sync-started.schema.json"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, _) = repobus(&["no-such-command"], "");
    assert_eq!(code, 2);
}
