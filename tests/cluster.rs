//! repobus on a three-node NATS cluster with replicas 3 (the cluster from
//! `repobus_testkit::cluster`, configured by `dist/nats/cluster-node.conf`):
//! every stream and bucket gets the configured replicas; publishing while the
//! stream's leader is killed with SIGKILL stores every event exactly once; a
//! durable consumer reading through a leader change loses nothing. Plus the
//! clear errors for a replica count out of range or beyond the servers.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull::OrderedConfig;
use futures_util::StreamExt;
use repobus::bus::{Bus, BusConfig, BusError, ConsumerOptions, Deliver};
use repobus::Event;
use repobus_testkit::cluster::{stream_leader, wait_stream_current, Cluster};
use repobus_testkit::{config, connect_with, server, sync_started, within};

const REPLICAS: usize = 3;

async fn cluster() -> Cluster {
    within(60, "starting the cluster", Cluster::start(3))
        .await
        .unwrap_or_else(|e| panic!("cannot start the 3-node cluster: {e}"))
}

/// A configuration for the whole cluster (every URL), replicas 3, and a
/// publish deadline long enough for a leader election.
fn cluster_config(cluster: &Cluster, stream: &str) -> BusConfig {
    config(cluster.urls())
        .stream(stream)
        .replicas(REPLICAS)
        .publish_deadline(Duration::from_secs(40))
        .duplicate_window(Duration::from_secs(120))
        .ack_timeout(Duration::from_secs(2))
        .max_in_flight(1024)
}

/// Every stored event's `Nats-Msg-Id`, read with an ordered consumer (the
/// raw client, not repobus's subscriber).
async fn stored_ids(bus: &Bus) -> Vec<String> {
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await
        .unwrap_or_else(|e| panic!("event stream: {e}"));
    let total = stream.cached_info().state.messages as usize;
    let consumer = stream
        .create_consumer(OrderedConfig::default())
        .await
        .unwrap_or_else(|e| panic!("ordered consumer: {e}"));
    let mut messages = consumer
        .messages()
        .await
        .unwrap_or_else(|e| panic!("ordered consumer messages: {e}"));
    let mut ids = Vec::with_capacity(total);
    while ids.len() < total {
        let message = within(20, "reading the stream", messages.next())
            .await
            .unwrap_or_else(|| panic!("the stream ended after {} of {total}", ids.len()))
            .unwrap_or_else(|e| panic!("reading the stream: {e}"));
        let headers = message
            .headers
            .as_ref()
            .unwrap_or_else(|| panic!("a message without headers"));
        let id = headers
            .get("Nats-Msg-Id")
            .unwrap_or_else(|| panic!("a message without Nats-Msg-Id"));
        ids.push(id.as_str().to_owned());
    }
    ids
}

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| sync_started(&format!("repo-{}", i % 500)))
        .collect()
}

#[test]
fn replicas_out_of_range_are_refused_before_connecting() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    for replicas in [0, 6] {
        // Nothing listens there: the check comes first.
        let config = BusConfig::new("nats://127.0.0.1:1").replicas(replicas);
        let error = runtime
            .block_on(Bus::connect(config))
            .err()
            .unwrap_or_else(|| panic!("replicas {replicas} accepted"));
        assert!(matches!(error, BusError::Config(_)), "{error:?}");
        assert!(
            error.to_string().contains("replicas must be 1 to 5"),
            "{error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn more_replicas_than_servers_says_so() {
    let nats = server().await;
    let error = within(
        30,
        "connecting",
        Bus::connect(config(nats.url()).replicas(3)),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("replicas 3 accepted by one server"));
    let text = error.to_string();
    eprintln!("{text}");
    assert!(
        matches!(error, BusError::Replicas { replicas: 3, .. }),
        "{error:?}"
    );
    assert!(
        text.contains("at least 3 JetStream servers") && text.contains("REPOBUS"),
        "{text}"
    );
}

/// 100,000 events published with the library's publisher while the
/// stream's leader is killed with SIGKILL and then restarted: every publish
/// is acknowledged and the stream holds each event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_through_a_leader_kill_stores_every_event_once() {
    const N: usize = 100_000;
    let mut cluster = cluster().await;
    let bus = connect_with(cluster_config(&cluster, "KILLPUB")).await;
    // Every stream repobus created on connecting has three replicas.
    for name in ["KILLPUB", "KILLPUB_DLQ"] {
        let info = bus
            .jetstream()
            .get_stream(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.cached_info().config.num_replicas, REPLICAS, "{name}");
    }
    let js = bus.jetstream().clone();
    let leader = within(
        30,
        "stream current",
        wait_stream_current(&js, "KILLPUB", REPLICAS, Duration::from_secs(25)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let leader_index = cluster
        .index_of(&leader)
        .unwrap_or_else(|| panic!("leader {leader} is not a node"));

    let publisher = bus.publisher();
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let publishing = {
        let acked = acked.clone();
        tokio::spawn(async move {
            futures_util::stream::iter(events(N))
                .map(|event| {
                    let publisher = publisher.clone();
                    let acked = acked.clone();
                    async move {
                        let ack = publisher.publish(&event).await;
                        acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        ack
                    }
                })
                .buffer_unordered(512)
                .collect::<Vec<_>>()
                .await
        })
    };
    // Kill the leader a fifth of the way in, restart it a moment later.
    within(60, "the first fifth acked", async {
        while acked.load(std::sync::atomic::Ordering::Relaxed) < N / 5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    cluster.kill(leader_index);
    let killed_at = Instant::now();
    let acked_at_kill = acked.load(std::sync::atomic::Ordering::Relaxed);
    // A new leader among the two survivors.
    let new_leader = within(30, "a new leader", async {
        loop {
            if let Ok(name) = stream_leader(&js, "KILLPUB").await {
                if name != leader {
                    return name;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let elected_after = killed_at.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster
        .restart(leader_index)
        .await
        .unwrap_or_else(|e| panic!("restarting {leader}: {e}"));

    let results = within(120, "publishing 100,000 events", publishing)
        .await
        .unwrap_or_else(|e| panic!("publishing task: {e}"));
    let mut acked_ids = HashSet::with_capacity(N);
    for result in results {
        let ack = result.unwrap_or_else(|e| panic!("a publish failed through the failover: {e}"));
        acked_ids.insert(ack.event_id);
    }
    assert_eq!(
        acked_ids.len(),
        N,
        "every publish acknowledged with its own id"
    );
    eprintln!(
        "leader {leader} killed after {acked_at_kill} acks; {new_leader} elected in {elected_after:?}"
    );

    // The restarted node catches up; then read everything back.
    within(
        60,
        "stream current again",
        wait_stream_current(&js, "KILLPUB", REPLICAS, Duration::from_secs(50)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let ids = within(60, "reading back", stored_ids(&bus)).await;
    assert_eq!(ids.len(), N, "stored events");
    let unique: HashSet<String> = ids.into_iter().collect();
    assert_eq!(unique.len(), N, "an event stored twice");
    assert_eq!(
        unique, acked_ids,
        "the stored events are the acknowledged ones"
    );
}

/// A durable consumer (the library's subscriber) reads 20,000 events
/// while the stream's leader is killed and restarted: every event is
/// processed, none lost (redeliveries allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_consumer_reads_through_a_leader_change() {
    const N: usize = 20_000;
    let mut cluster = cluster().await;
    let bus = connect_with(cluster_config(&cluster, "KILLSUB")).await;
    let js = bus.jetstream().clone();
    let publisher = bus.publisher();
    let published: HashSet<String> = within(
        60,
        "publishing",
        futures_util::stream::iter(events(N))
            .map(|event| {
                let publisher = publisher.clone();
                async move { publisher.publish(&event).await }
            })
            .buffer_unordered(512)
            .map(|r| r.unwrap_or_else(|e| panic!("publish: {e}")).event_id)
            .collect(),
    )
    .await;
    let leader = within(
        30,
        "stream current",
        wait_stream_current(&js, "KILLSUB", REPLICAS, Duration::from_secs(25)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let leader_index = cluster
        .index_of(&leader)
        .unwrap_or_else(|| panic!("leader {leader} is not a node"));

    let options = ConsumerOptions {
        durable: Some("through-failover".into()),
        deliver: Deliver::All,
        ack_wait: Duration::from_secs(3),
        ..ConsumerOptions::default()
    };
    let mut subscription = within(30, "subscribing", bus.subscriber().subscribe(options))
        .await
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let consumer_replicas = js
        .get_stream("KILLSUB")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .consumer_info("through-failover")
        .await
        .unwrap_or_else(|e| panic!("consumer info: {e}"))
        .cluster
        .map(|c| c.replicas.len() + 1);
    assert_eq!(
        consumer_replicas,
        Some(REPLICAS),
        "the durable consumer is replicated too"
    );

    let mut processed = HashSet::with_capacity(N);
    let mut deliveries = 0usize;
    let mut killed = false;
    let mut restarted = false;
    within(90, "processing every event", async {
        while processed.len() < N {
            // Kill the leader a third of the way in, keep reading while it
            // is down, and bring it back half way.
            if deliveries >= N / 3 && !killed {
                cluster.kill(leader_index);
                killed = true;
            }
            if killed && !restarted && deliveries >= N / 2 {
                restarted = true;
                cluster
                    .restart(leader_index)
                    .await
                    .unwrap_or_else(|e| panic!("restarting {leader}: {e}"));
            }
            let next = tokio::time::timeout(Duration::from_secs(5), subscription.next()).await;
            let Ok(next) = next else {
                eprintln!(
                    "no delivery in 5 s after {deliveries} deliveries, {} processed",
                    processed.len()
                );
                continue;
            };
            match next {
                Some(Ok(delivery)) => {
                    deliveries += 1;
                    // Processing succeeded when the ack is accepted; an ack lost in the
                    // failover brings the event again, which the set absorbs.
                    let id = delivery.envelope.event_id.clone();
                    if delivery.ack().await.is_ok() {
                        processed.insert(id);
                    }
                }
                Some(Err(e)) => eprintln!("subscription error (retried): {e}"),
                None => panic!("the subscription ended after {deliveries} deliveries"),
            }
        }
    })
    .await;
    assert_eq!(processed, published, "every published event processed");
    let new_leader = wait_stream_current(&js, "KILLSUB", REPLICAS, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{deliveries} deliveries for {N} events; leader {leader} -> {new_leader}");
}

/// An edge site: repobus publishes to a leaf node with its own JetStream
/// domain; the hub's stream sources the edge's stream through the edge
/// domain's API, and catches up after the hub (so the leaf link) was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_at_the_edge_arrive_centrally_also_after_the_link_was_down() {
    use async_nats::jetstream::stream::{Config, External, Source};
    use repobus_testkit::leaf::EdgeSite;

    let mut site = EdgeSite::start().unwrap_or_else(|e| panic!("edge site: {e}"));
    let edge = connect_with(config(site.edge.url())).await;
    let edge_stream = edge.config().stream_name().to_owned();
    let hub_js = |url: String| async move {
        let client = async_nats::connect(url)
            .await
            .unwrap_or_else(|e| panic!("hub: {e}"));
        async_nats::jetstream::new(client)
    };
    let js = hub_js(site.hub.url()).await;
    within(
        30,
        "creating the central stream",
        js.create_stream(Config {
            name: "REPOBUS_ALL".into(),
            sources: Some(vec![Source {
                name: edge_stream.clone(),
                external: Some(External {
                    api_prefix: format!("$JS.{}.API", EdgeSite::DOMAIN),
                    delivery_prefix: None,
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("central stream: {e}"));
    let central_len = |js: async_nats::jetstream::Context| async move {
        match js.get_stream("REPOBUS_ALL").await {
            Ok(mut stream) => stream.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        }
    };
    let publisher = edge.publisher();
    let mut ids = HashSet::new();
    for event in events(100) {
        let ack = publisher
            .publish(&event)
            .await
            .unwrap_or_else(|e| panic!("edge publish: {e}"));
        ids.insert(ack.event_id);
    }
    within(30, "the first 100 arrive centrally", async {
        while central_len(js.clone()).await < 100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;

    // The link is down (the hub is killed): the edge keeps storing. After
    // the restart the hub's source retries with the server's own backoff:
    // about 40 s here (nats-server 2.15), which is what this test waits.
    site.hub.kill();
    for event in events(100) {
        let ack = publisher
            .publish(&event)
            .await
            .unwrap_or_else(|e| panic!("edge publish while the hub is down: {e}"));
        ids.insert(ack.event_id);
    }
    site.hub
        .restart()
        .unwrap_or_else(|e| panic!("restarting the hub: {e}"));
    let js = hub_js(site.hub.url()).await;
    within(90, "the other 100 arrive after the link returns", async {
        let started = Instant::now();
        loop {
            let n = central_len(js.clone()).await;
            if n >= 200 {
                eprintln!("caught up {:?} after the hub restarted", started.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let stream = js
        .get_stream("REPOBUS_ALL")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let consumer = stream
        .create_consumer(OrderedConfig::default())
        .await
        .unwrap_or_else(|e| panic!("ordered consumer: {e}"));
    let mut messages = consumer.messages().await.unwrap_or_else(|e| panic!("{e}"));
    let mut central = HashSet::new();
    while central.len() < 200 {
        let message = within(20, "reading centrally", messages.next())
            .await
            .unwrap_or_else(|| panic!("central stream ended"))
            .unwrap_or_else(|e| panic!("{e}"));
        let headers = message.headers.clone().unwrap_or_default();
        let id = headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        assert!(central.insert(id), "an event arrived twice centrally");
    }
    assert_eq!(
        central, ids,
        "the central stream holds exactly the edge's events"
    );
    assert_eq!(central_len(js.clone()).await, 200);
}
