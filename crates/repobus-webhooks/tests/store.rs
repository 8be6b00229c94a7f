//! Endpoint management and hostile input, against a private nats-server.

use repobus_testkit::{connect, server};
use repobus_webhooks::endpoint::{EndpointPatch, EndpointSpec};
use repobus_webhooks::signing::Secret;
use repobus_webhooks::store::{StoreError, WebhookStore};

fn field_of(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Invalid(e)) => {
            assert!(!e.reason.is_empty());
            e.field
        }
        other => panic!("expected a refused field, got {other:?}"),
    }
}

#[tokio::test]
async fn hostile_input_is_refused_naming_the_field() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let spec = |url: &str| EndpointSpec::new("x", url);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://10.1.2.3/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "not a url",
        "http://user:pw@example.com/",
    ] {
        assert_eq!(field_of(store.create(spec(url)).await), "url", "{url}");
    }
    let err = store
        .create(spec("http://169.254.169.254/"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("link-local") && err.contains("allow"), "{err}");
    let cases: Vec<(EndpointSpec, &str)> = vec![
        (
            EndpointSpec {
                secret: Some("whsec_!!!".into()),
                ..spec("https://example.com/")
            },
            "secret",
        ),
        (
            EndpointSpec {
                secret: Some("plain".into()),
                ..spec("https://example.com/")
            },
            "secret",
        ),
        (
            EndpointSpec {
                retry_schedule: Some("5s,,5m".into()),
                ..spec("https://example.com/")
            },
            "retry_schedule",
        ),
        (
            EndpointSpec {
                retry_schedule: Some("5x".into()),
                ..spec("https://example.com/")
            },
            "retry_schedule",
        ),
        (
            EndpointSpec {
                filters: Some(serde_json::json!({"$bogus": 1})),
                ..spec("https://example.com/")
            },
            "filters",
        ),
        (
            EndpointSpec {
                subjects: vec!["other.>".into()],
                ..spec("https://example.com/")
            },
            "subjects[0]",
        ),
        (
            EndpointSpec {
                subjects: vec!["repobus.repo.>.x".into()],
                ..spec("https://example.com/")
            },
            "subjects[0]",
        ),
        (
            EndpointSpec {
                timeout: Some("0ms".into()),
                ..spec("https://example.com/")
            },
            "timeout",
        ),
        (
            EndpointSpec {
                format: Some("xml".into()),
                ..spec("https://example.com/")
            },
            "format",
        ),
        (
            EndpointSpec {
                concurrency: Some(0),
                ..spec("https://example.com/")
            },
            "concurrency",
        ),
        (
            EndpointSpec {
                headers: [("webhook-id".to_string(), "x".to_string())].into(),
                ..spec("https://example.com/")
            },
            "headers.webhook-id",
        ),
        (
            EndpointSpec {
                headers: [("X-A".to_string(), "a\r\nb".to_string())].into(),
                ..spec("https://example.com/")
            },
            "headers.X-A",
        ),
        (EndpointSpec::new("../etc", "https://example.com/"), "id"),
        (EndpointSpec::new("", "https://example.com/"), "id"),
    ];
    for (spec, field) in cases {
        assert_eq!(
            field_of(store.create(spec.clone()).await),
            field,
            "{spec:?}"
        );
    }
    assert!(
        store.list().await.unwrap().is_empty(),
        "nothing refused was stored"
    );
    // Allowed per endpoint:
    store
        .create(EndpointSpec {
            allow_private_target: true,
            ..spec("http://127.0.0.1:9/")
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn endpoints_are_created_once_listed_updated_and_removed() {
    let nats = server().await;
    let bus = connect(&nats).await;
    let store = WebhookStore::open(&bus).await.unwrap();
    let secret = Secret::generate();
    let created = store
        .create(EndpointSpec {
            secret: Some(secret.to_string()),
            ..EndpointSpec::new("cdn.purge", "https://hooks.example.com/purge")
        })
        .await
        .unwrap();
    assert_eq!(created.secret, secret);
    assert!(matches!(
        store.create(EndpointSpec::new("cdn.purge", "https://example.com/")).await,
        Err(StoreError::Exists(id)) if id == "cdn.purge"
    ));
    let generated = store
        .create(EndpointSpec::new("other", "https://example.com/"))
        .await
        .unwrap();
    assert!(generated.secret.to_string().starts_with("whsec_"));
    let ids: Vec<String> = store
        .list()
        .await
        .unwrap()
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(ids, ["cdn.purge", "other"]);
    // A second store (another process) sees the same set.
    let other_process = WebhookStore::open(&connect(&nats).await).await.unwrap();
    assert_eq!(other_process.get("other").await.unwrap(), generated);
    let rotated = Secret::generate();
    let updated = store
        .update(
            "cdn.purge",
            EndpointPatch {
                secret: Some(rotated.to_string()),
                timeout: Some("3s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.secret, rotated);
    assert_eq!(updated.previous_secrets, [secret]);
    assert_eq!(updated.timeout.as_secs(), 3);
    assert_eq!(
        field_of(
            store
                .update(
                    "cdn.purge",
                    EndpointPatch {
                        retry_schedule: Some("x".into()),
                        ..Default::default()
                    }
                )
                .await
        ),
        "retry_schedule"
    );
    let disabled = store.disable("cdn.purge", "maintenance").await.unwrap();
    assert_eq!(disabled.disabled.unwrap().reason, "maintenance");
    assert!(store.enable("cdn.purge").await.unwrap().is_enabled());
    store.remove("cdn.purge").await.unwrap();
    assert!(matches!(
        store.get("cdn.purge").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.remove("cdn.purge").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get("../x").await,
        Err(StoreError::NotFound(_))
    ));
}
