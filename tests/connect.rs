//! How a library user connects: their own async-nats `ConnectOptions`
//! (here NKey authentication, which repobus's command line has no flag
//! for) or a client they connected themselves, against real servers.

use std::time::Duration;

use repobus::bus::{Bus, BusConfig, BusError};
use repobus_local::{LocalNats, LocalNatsOptions};
use repobus_testkit::*;

async fn nkey_server(dir: &std::path::Path, public_key: &str) -> LocalNats {
    let mut options = LocalNatsOptions::new(dir);
    options.extra_config = format!("authorization {{ users = [ {{ nkey: {public_key} }} ] }}");
    within(30, "starting nats-server", LocalNats::start(options))
        .await
        .expect("start nats-server")
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_options_carry_nkey_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let server = nkey_server(dir.path(), &user.public_key()).await;

    let config = config(server.url());
    let options = config
        .default_connect_options()
        .nkey(seed)
        .connection_timeout(Duration::from_secs(3));
    let bus = within(20, "connect", Bus::connect(config.connect_options(options)))
        .await
        .expect("NKey authentication through ConnectOptions");
    let ack = within(
        20,
        "publish",
        bus.publisher().publish(&sync_started("nkey")),
    )
    .await
    .expect("publish");
    assert_eq!(ack.stream, "REPOBUS");

    // Without the key the same server refuses, and the error names the URL.
    let error = within(20, "connect", Bus::connect(self::config(server.url())))
        .await
        .expect_err("connected without the NKey");
    assert!(matches!(error, BusError::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains(&server.url()), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ready_client_is_used_as_it_is() {
    let server = server().await;
    let client = async_nats::connect(server.url()).await.expect("connect");
    let bus = within(
        20,
        "with_client",
        Bus::with_client(client, BusConfig::new("unused://").stream("OWN")),
    )
    .await
    .expect("streams created over the caller's client");
    assert_eq!(bus.config().dead_letter_stream_name(), "OWN_DLQ");
    for stream in ["OWN", "OWN_DLQ"] {
        bus.jetstream()
            .get_stream(stream)
            .await
            .unwrap_or_else(|e| panic!("stream {stream}: {e}"));
    }
    let ack = within(20, "publish", bus.publisher().publish(&sync_started("own")))
        .await
        .expect("publish");
    assert_eq!(ack.stream, "OWN");
}

#[tokio::test(flavor = "multi_thread")]
async fn contradicting_settings_are_refused_before_connecting() {
    let url = format!("nats://127.0.0.1:{}", closed_port());
    let short_window = BusConfig::new(&url)
        .publish_deadline(Duration::from_secs(300))
        .duplicate_window(Duration::from_secs(60));
    let error = Bus::connect(short_window).await.unwrap_err();
    assert!(matches!(error, BusError::Config(_)), "{error:?}");
    assert!(error.to_string().contains("duplicate window"), "{error}");

    let same = BusConfig::new(&url).stream("X").dead_letter_stream("X");
    let error = Bus::connect(same).await.unwrap_err();
    assert!(
        error.to_string().contains("must not be the event stream"),
        "{error}"
    );

    let bad_prefix = BusConfig::new(&url).prefix("a..b");
    let error = Bus::connect(bad_prefix).await.unwrap_err();
    assert!(matches!(error, BusError::Subject(_)), "{error:?}");

    // The default window follows the deadline, so a long deadline alone is fine.
    let long = BusConfig::new(&url).publish_deadline(Duration::from_secs(300));
    assert_eq!(long.effective_duplicate_window(), Duration::from_secs(300));
}
