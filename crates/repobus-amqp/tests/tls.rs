//! amqps with a private CA and client certificates (as Fedora's public
//! broker requires), against a private RabbitMQ node with a TLS listener
//! that demands a client certificate: the right files connect, a missing
//! client certificate or a broker signed by another CA is a clear error.

use std::path::Path;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use repobus_amqp::AmqpConfig;
use repobus_testkit::rabbitmq::{free_port, RabbitMq};

struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct subjects: Erlang's TLS takes a certificate whose subject is
    // its issuer's for a self-signed one and refuses it.
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "repobus test CA");
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("ca");
    let server_key = KeyPair::generate().expect("key");
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("params");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let server_cert = server_params
        .signed_by(&server_key, &ca)
        .expect("server cert");
    let client_key = KeyPair::generate().expect("key");
    let mut client_params =
        CertificateParams::new(vec!["repobus-client".to_owned()]).expect("params");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client_params
        .distinguished_name
        .push(DnType::CommonName, "repobus-client");
    let client_cert = client_params
        .signed_by(&client_key, &ca)
        .expect("client cert");
    Pki {
        ca: ca.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test]
async fn client_certificates_connect_and_wrong_ones_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = pki();
    let other = pki();
    let d = dir.path();
    let ca = write(d, "ca.pem", &good.ca);
    let other_ca = write(d, "other-ca.pem", &other.ca);
    let client_cert = write(d, "client.pem", &good.client_cert);
    let client_key = write(d, "client-key.pem", &good.client_key);
    let port = free_port();
    let extra = format!(
        "listeners.ssl.default = 127.0.0.1:{port}\n\
         ssl_options.cacertfile = {}\n\
         ssl_options.certfile = {}\n\
         ssl_options.keyfile = {}\n\
         ssl_options.verify = verify_peer\n\
         ssl_options.fail_if_no_peer_cert = true\n",
        ca,
        write(d, "server.pem", &good.server_cert),
        write(d, "server-key.pem", &good.server_key),
    );
    let rabbit = tokio::task::spawn_blocking(move || RabbitMq::start_with_config(&extra))
        .await
        .expect("rabbitmq");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "no TLS listener on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("amqps://guest:guest@127.0.0.1:{port}/%2F");

    let connection = AmqpConfig::new(&url)
        .ca(&ca)
        .client_cert(&client_cert, &client_key)
        .connect()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the right CA and client certificate connect: {e}\n{}",
                rabbit.log()
            )
        });
    assert!(connection.status().connected());
    let _ = connection.close(200, "done".into()).await;

    let err = AmqpConfig::new(&url)
        .ca(&ca)
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("connecting"),
        "without a client certificate: {err}"
    );

    let err = AmqpConfig::new(&url)
        .ca(&other_ca)
        .client_cert(&client_cert, &client_key)
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("connecting"),
        "a broker signed by another CA: {err}"
    );
    drop(rabbit);
}
