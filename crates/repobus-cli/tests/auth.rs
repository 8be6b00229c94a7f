//! NATS authentication against real servers through the command line's
//! flags: user and password, token, TLS with a private CA and a client
//! certificate (mutual TLS). The flags become async-nats connect options
//! in the CLI; the library takes those options as they are (see
//! `tests/connect.rs` at the root for NKeys and a ready client).

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use repobus_local::{LocalNats, LocalNatsOptions};
use repobus_testkit::*;

async fn server_with(dir: &Path, extra_config: String) -> LocalNats {
    let mut options = LocalNatsOptions::new(dir);
    options.extra_config = extra_config;
    within(30, "starting nats-server", LocalNats::start(options))
        .await
        .expect("start nats-server")
}

/// Runs `repobus --nats-url URL publish repo-sync-started -` with `flags`
/// and a body on standard input; Ok(stdout) on exit 0, Err(stderr) on 1.
async fn publish_with(url: &str, flags: &[&str]) -> Result<String, String> {
    let url = url.to_owned();
    let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = repobus_command(env!("CARGO_BIN_EXE_repobus"));
        command
            .args(["--nats-url", &url, "publish", "repo-sync-started", "-"])
            .args(&flags)
            .env("REPOBUS_PUBLISH_DEADLINE", "5");
        output_with_stdin(command, br#"{"repo_id": "cli-auth"}"#)
    });
    let output = within(30, "repobus publish", output).await.expect("join");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    match output.status.code() {
        Some(0) => {
            assert!(stdout.contains("\"stream\":\"REPOBUS\""), "{stdout}");
            Ok(stdout)
        }
        Some(1) => Err(stderr),
        other => panic!("exit {other:?}: {stderr}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn user_and_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(
        dir.path(),
        "authorization { user: repobus, password: \"s3cret pass\" }".into(),
    )
    .await;
    let url = server.url();
    publish_with(
        &url,
        &["--nats-user", "repobus", "--nats-password", "s3cret pass"],
    )
    .await
    .expect("right password");

    let error = publish_with(&url, &["--nats-user", "repobus", "--nats-password", "nope"])
        .await
        .unwrap_err();
    assert!(error.contains(&url), "{error}");
    assert!(error.to_lowercase().contains("auth"), "{error}");
    let error = publish_with(&url, &[]).await.unwrap_err();
    assert!(error.to_lowercase().contains("auth"), "{error}");

    // A user without a password is a configuration error, not a connection attempt.
    let error = publish_with(&url, &["--nats-user", "repobus"])
        .await
        .unwrap_err();
    assert!(
        error.contains("user and password must be given together"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(dir.path(), "authorization { token: \"t0ken\" }".into()).await;
    let url = server.url();
    publish_with(&url, &["--nats-token", "t0ken"])
        .await
        .expect("right token");
    let error = publish_with(&url, &["--nats-token", "other"])
        .await
        .unwrap_err();
    assert!(error.to_lowercase().contains("auth"), "{error}");
}

struct Pki {
    ca: std::path::PathBuf,
    server_cert: std::path::PathBuf,
    server_key: std::path::PathBuf,
    client_cert: std::path::PathBuf,
    client_key: std::path::PathBuf,
}

/// A private CA, a server certificate for 127.0.0.1 and a client certificate.
fn pki(dir: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["repobus-client".to_owned()]).unwrap();
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();

    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        server_cert: write("server.pem", server_cert.pem()),
        server_key: write("server-key.pem", server_key.serialize_pem()),
        client_cert: write("client.pem", client_cert.pem()),
        client_key: write("client-key.pem", client_key.serialize_pem()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(dir.path());
    let server = server_with(
        &dir.path().join("nats"),
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: true\n}}",
            pki.server_cert, pki.server_key, pki.ca
        ),
    )
    .await;
    let url = format!("tls://127.0.0.1:{}", server.port());
    let (ca, cert, key) = (
        pki.ca.to_str().unwrap(),
        pki.client_cert.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
    );
    publish_with(
        &url,
        &[
            "--nats-tls-ca",
            ca,
            "--nats-tls-cert",
            cert,
            "--nats-tls-key",
            key,
        ],
    )
    .await
    .expect("mutual TLS");

    // The server demands a client certificate.
    assert!(publish_with(&url, &["--nats-tls-ca", ca]).await.is_err());

    // Without the private CA the server's certificate is not trusted.
    assert!(
        publish_with(&url, &["--nats-tls-cert", cert, "--nats-tls-key", key])
            .await
            .is_err()
    );

    // A certificate without its key is a configuration error.
    let error = publish_with(&url, &["--nats-tls-ca", ca, "--nats-tls-cert", cert])
        .await
        .unwrap_err();
    assert!(error.contains("must be given together"), "{error}");
}
