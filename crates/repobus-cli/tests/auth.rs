//! NATS authentication against real servers: user and password, token, TLS
//! with a private CA and a client certificate (mutual TLS), through the
//! library and through the command line's flags.

use std::path::Path;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use repobus::bus::{Bus, BusConfig, NatsAuth};
use repobus_local::{LocalNats, LocalNatsOptions};
use repobus_testkit::*;

async fn server_with(dir: &Path, extra_config: String) -> LocalNats {
    let mut options = LocalNatsOptions::new(dir);
    options.extra_config = extra_config;
    within(30, "starting nats-server", LocalNats::start(options))
        .await
        .expect("start nats-server")
}

fn auth_config(url: &str, auth: NatsAuth) -> BusConfig {
    let mut config = config(url);
    config.auth = auth;
    config.connect_timeout = Duration::from_secs(3);
    config
}

async fn connects(config: BusConfig) -> Result<Bus, String> {
    within(20, "connecting", Bus::connect(config))
        .await
        .map_err(|e| e.to_string())
}

async fn round_trip(bus: &Bus) {
    let ack = within(
        20,
        "publish",
        bus.publisher().publish(&sync_started("auth")),
    )
    .await
    .expect("publish over an authenticated connection");
    assert_eq!(ack.stream, "REPOBUS");
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
    let right = NatsAuth {
        user: Some("repobus".into()),
        password: Some("s3cret pass".into()),
        ..NatsAuth::default()
    };
    round_trip(
        &connects(auth_config(&url, right))
            .await
            .expect("right password"),
    )
    .await;

    let wrong = NatsAuth {
        user: Some("repobus".into()),
        password: Some("nope".into()),
        ..NatsAuth::default()
    };
    let error = connects(auth_config(&url, wrong)).await.unwrap_err();
    assert!(error.contains(&url), "{error}");
    assert!(error.to_lowercase().contains("auth"), "{error}");
    let error = connects(auth_config(&url, NatsAuth::default()))
        .await
        .unwrap_err();
    assert!(error.to_lowercase().contains("auth"), "{error}");

    // A user without a password is a configuration error, not a connection attempt.
    let half = NatsAuth {
        user: Some("repobus".into()),
        ..NatsAuth::default()
    };
    let error = connects(auth_config(&url, half)).await.unwrap_err();
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
    let right = NatsAuth {
        token: Some("t0ken".into()),
        ..NatsAuth::default()
    };
    round_trip(
        &connects(auth_config(&url, right))
            .await
            .expect("right token"),
    )
    .await;
    let wrong = NatsAuth {
        token: Some("other".into()),
        ..NatsAuth::default()
    };
    let error = connects(auth_config(&url, wrong)).await.unwrap_err();
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
    let full = NatsAuth {
        tls_ca: Some(pki.ca.clone()),
        tls_cert: Some(pki.client_cert.clone()),
        tls_key: Some(pki.client_key.clone()),
        ..NatsAuth::default()
    };
    round_trip(&connects(auth_config(&url, full)).await.expect("mutual TLS")).await;

    // The server demands a client certificate.
    let no_client_cert = NatsAuth {
        tls_ca: Some(pki.ca.clone()),
        ..NatsAuth::default()
    };
    assert!(connects(auth_config(&url, no_client_cert)).await.is_err());

    // Without the private CA the server's certificate is not trusted.
    let no_ca = NatsAuth {
        tls_cert: Some(pki.client_cert.clone()),
        tls_key: Some(pki.client_key.clone()),
        ..NatsAuth::default()
    };
    assert!(connects(auth_config(&url, no_ca)).await.is_err());

    // A certificate without its key is a configuration error.
    let half = NatsAuth {
        tls_ca: Some(pki.ca.clone()),
        tls_cert: Some(pki.client_cert.clone()),
        ..NatsAuth::default()
    };
    let error = connects(auth_config(&url, half)).await.unwrap_err();
    assert!(error.contains("must be given together"), "{error}");
}

/// The command line passes the same settings through its flags.
#[tokio::test(flavor = "multi_thread")]
async fn cli_flags_carry_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(
        dir.path(),
        "authorization { user: repobus, password: pw }".into(),
    )
    .await;
    let run = |extra: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_repobus"));
        command
            .args([
                "--nats-url",
                &server.url(),
                "publish",
                "repo-sync-started",
                "-",
            ])
            .args(extra)
            .env_remove("REPOBUS_NATS_URL")
            .env_remove("REPOBUS_NATS_USER")
            .env_remove("REPOBUS_NATS_PASSWORD")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("run repobus");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(br#"{"repo_id": "cli-auth"}"#)
            .unwrap();
        child.wait_with_output().expect("repobus output")
    };
    let ok = run(&["--nats-user", "repobus", "--nats-password", "pw"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("\"stream\":\"REPOBUS\""));
    let refused = run(&["--nats-user", "repobus", "--nats-password", "wrong"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&server.url()), "{stderr}");
}
