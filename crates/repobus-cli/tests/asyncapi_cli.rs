//! `repobus schemas` writes `asyncapi.json` beside the schema files, and
//! `repobus schemas --check` fails (exit 1) naming it when it is stale.

use repobus_testkit::repobus_command;

const BIN: &str = env!("CARGO_BIN_EXE_repobus");

fn repobus(args: &[&str]) -> (i32, String, String) {
    let out = repobus_command(BIN)
        .args(args)
        .output()
        .expect("run repobus");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn schemas_writes_and_checks_the_asyncapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = repobus(&["schemas", "--out", out]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("asyncapi.json"), "{stdout}");
    let written = std::fs::read_to_string(dir.path().join("asyncapi.json")).unwrap();
    assert_eq!(written, repobus::asyncapi::render());
    let (code, stdout, _) = repobus(&["schemas", "--check", "--out", out]);
    assert_eq!(code, 0);
    assert!(stdout.contains("asyncapi.json are current"), "{stdout}");

    std::fs::write(dir.path().join("asyncapi.json"), "{}\n").unwrap();
    let (code, _, stderr) = repobus(&["schemas", "--check", "--out", out]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("asyncapi.json"), "{stderr}");
    assert!(stderr.contains("repobus schemas"), "{stderr}");
}
