//! amqp-out with subject filters and Pulp-style criteria, as `repobus
//! bridge amqp-out` builds them from the same flags as `tail`, against a
//! private RabbitMQ node and a private nats-server: exactly the matching
//! events reach AMQP; the others are acknowledged on NATS (skipped), so
//! nothing stays pending.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::Channel;
use repobus::bus::{Bus, Deliver};
use repobus::criteria::{Criteria, Filter, FlagFilters};
use repobus::history::pushed_down_subject;
use repobus::subject::{SubjectFilter, Subjects};
use repobus::{Event, EventType};
use repobus_amqp::outbound::{Outbound, OutboundConfig, OutboundStats};
use repobus_amqp::AmqpConfig;
use repobus_testkit::rabbitmq::RabbitMq;
use repobus_testkit::{build_ended, connect, server, sync_finished_body, sync_started, within};
use tokio::sync::oneshot;

fn sync_finished(repo_id: &str, result: &str, added: u64) -> Event {
    Event::from_value(
        EventType::RepoSyncFinished,
        sync_finished_body(repo_id, result, added),
    )
    .expect("repo-sync-finished")
}

/// Events, each under a name.
type Named = Vec<(&'static str, Event)>;

/// The events of the test, each under a name: published in two halves,
/// before amqp-out starts and while it runs.
fn events() -> (Named, Named) {
    let first = vec![
        ("epel9-ok", sync_finished("epel-9", "success", 10)),
        ("epel8-failed", sync_finished("epel-8", "failed", 0)),
        ("f40-ok", sync_finished("fedora-40", "success", 3)),
        ("epel9-started", sync_started("epel-9")),
        (
            "python-f40",
            build_ended("@python", "python3.12", "fedora-40-x86_64"),
        ),
        (
            "python-epel9",
            build_ended("@python", "python3.12", "epel-9-x86_64"),
        ),
        (
            "alice-f40",
            build_ended("alice", "hello", "fedora-40-x86_64"),
        ),
    ];
    let second = vec![
        ("epel10-ok", sync_finished("epel-10", "success", 1)),
        ("centos-failed", sync_finished("centos-stream", "failed", 0)),
        ("f41-ok", sync_finished("fedora-41", "success", 2)),
        ("f41-started", sync_started("fedora-41")),
        (
            "python-f41",
            build_ended("@python", "numpy", "fedora-41-aarch64"),
        ),
        (
            "alice-f41",
            build_ended("alice", "hello", "fedora-41-x86_64"),
        ),
        (
            "python-epel10",
            build_ended("@python", "numpy", "epel-10-x86_64"),
        ),
    ];
    (first, second)
}

/// A queue bound to `<prefix>.#` on `amq.topic`.
async fn bind_queue(channel: &Channel, queue: &str, prefix: &str) {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue");
    channel
        .queue_bind(
            queue.into(),
            "amq.topic".into(),
            format!("{prefix}.#").as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
}

/// Everything in `queue`: (message_id, routing key) each.
async fn drain(channel: &Channel, queue: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        let id = message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        out.push((id, message.delivery.routing_key.as_str().to_owned()));
    }
    out
}

/// A running amqp-out, stopped by [`Running::stop`].
struct Running {
    stats: Arc<OutboundStats>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), repobus_amqp::BridgeError>>,
}

impl Running {
    fn start(config: OutboundConfig, bus: &Bus) -> Running {
        let outbound = Outbound::new(config, bus.clone());
        let stats = outbound.stats();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            outbound
                .run(async {
                    let _ = stopped.await;
                })
                .await
        });
        Running { stats, stop, task }
    }

    fn sent(&self) -> u64 {
        self.stats.sent.load(Ordering::Relaxed)
    }

    fn filtered(&self) -> u64 {
        self.stats.filtered.load(Ordering::Relaxed)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        within(30, "amqp-out stops", self.task)
            .await
            .expect("join")
            .expect("run");
    }
}

/// Waits until the durable consumer has nothing left to deliver and
/// nothing delivered but unacknowledged.
async fn wait_all_acked(bus: &Bus, durable: &str, delivered: u64) {
    let stream = bus
        .jetstream()
        .get_stream(bus.config().stream_name())
        .await
        .expect("stream");
    within(20, &format!("{durable}: everything acknowledged"), async {
        loop {
            let info = stream.consumer_info(durable).await.expect("consumer info");
            if info.num_pending == 0
                && info.num_ack_pending == 0
                && info.ack_floor.stream_sequence == info.delivered.stream_sequence
                && info.delivered.consumer_sequence >= delivered
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_out_forwards_exactly_the_events_its_subjects_and_criteria_match() {
    let rabbit = RabbitMq::shared();
    let nats = server().await;
    let bus = connect(&nats).await;
    let subjects: &Subjects = bus.subjects();
    let connection = AmqpConfig::new(rabbit.url())
        .connect()
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");

    // 1. Explicit subject filters (`--subject`, twice) and a query
    //    document (`--filters`).
    let subject_filters = vec![
        subjects.filter(&SubjectFilter::Type(EventType::RepoSyncFinished)),
        subjects.filter(&SubjectFilter::owner("@python")),
    ];
    assert_eq!(
        subject_filters,
        [
            "repobus.repo.sync.finished.*",
            "repobus.build.chroot.*.@python.*.*"
        ]
    );
    let filters: Filter = r#"{"$or": [
            {"repo_id": {"$regex": "^epel-"}, "result": "success"},
            {"result": "failed"},
            {"project_owner": "@python", "chroot": {"$regex": "^fedora-"}}
        ]}"#
    .parse()
    .expect("--filters");
    let by_filters = Criteria::new().with_filter(filters);
    // Delivered by the subject filters: every sync-finished and @python's
    // builds; sent: those the document matches.
    let by_filters_sent = [
        "epel9-ok",
        "epel8-failed",
        "python-f40",
        "epel10-ok",
        "centos-failed",
        "python-f41",
    ];
    let by_filters_skipped = ["f40-ok", "python-epel9", "f41-ok", "python-epel10"];

    // 2. Flag filters (`--str-eq`, `--match`, `--not`) and no subject: the
    //    subject is pushed down from the pinned equality, as the CLI does.
    let flags = FlagFilters {
        str_eq: vec!["project_owner=@python".into()],
        match_: vec!["chroot=^(fedora|epel)-".into()],
        not: vec!["chroot=^epel-9-".into()],
        ..FlagFilters::default()
    };
    let by_flags = Criteria {
        filter: flags.to_filter().expect("flags"),
        ..Criteria::default()
    };
    let pushed = pushed_down_subject(subjects, &by_flags);
    assert_eq!(
        pushed.as_deref(),
        Some("repobus.build.chroot.*.@python.*.*"),
        "the pinned owner narrows the consumer"
    );
    let by_flags_sent = ["python-f40", "python-f41", "python-epel10"];
    let by_flags_skipped = ["python-epel9"];

    bind_queue(&channel, "criteria-filters", "org.repobus.filters").await;
    bind_queue(&channel, "criteria-flags", "org.repobus.flags").await;
    let amqp = AmqpConfig::new(rabbit.url());
    let mut first_config =
        OutboundConfig::new(amqp.clone(), "out-filters").topic_prefix("org.repobus.filters");
    first_config.filter_subjects = subject_filters;
    first_config.criteria = Some(by_filters);
    first_config.deliver = Deliver::All;
    first_config.window = 3;
    let mut second_config =
        OutboundConfig::new(amqp, "out-flags").topic_prefix("org.repobus.flags");
    second_config.filter_subjects = pushed.into_iter().collect();
    second_config.criteria = Some(by_flags);
    second_config.deliver = Deliver::All;

    let (first, second) = events();
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let publisher = bus.publisher();
    for (name, event) in &first {
        let ack = publisher.publish(event).await.expect("publish");
        names.insert(ack.event_id, name);
    }
    let by_filters_run = Running::start(first_config, &bus);
    let by_flags_run = Running::start(second_config, &bus);
    // The second half arrives while both run.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (name, event) in &second {
        let ack = publisher.publish(event).await.expect("publish");
        names.insert(ack.event_id, name);
    }

    let total = |sent: &[&str], skipped: &[&str]| (sent.len() + skipped.len()) as u64;
    wait_all_acked(
        &bus,
        "out-filters",
        total(&by_filters_sent, &by_filters_skipped),
    )
    .await;
    wait_all_acked(&bus, "out-flags", total(&by_flags_sent, &by_flags_skipped)).await;

    for (run, queue, prefix, sent, skipped) in [
        (
            &by_filters_run,
            "criteria-filters",
            "org.repobus.filters",
            &by_filters_sent[..],
            &by_filters_skipped[..],
        ),
        (
            &by_flags_run,
            "criteria-flags",
            "org.repobus.flags",
            &by_flags_sent[..],
            &by_flags_skipped[..],
        ),
    ] {
        assert_eq!(run.sent(), sent.len() as u64, "{queue}: sent");
        assert_eq!(run.filtered(), skipped.len() as u64, "{queue}: skipped");
        assert_eq!(run.stats.looped.load(Ordering::Relaxed), 0);
        assert_eq!(run.stats.dead_lettered.load(Ordering::Relaxed), 0);
        let received = drain(&channel, queue).await;
        let got: Vec<&str> = received
            .iter()
            .map(|(id, _)| {
                *names
                    .get(id)
                    .unwrap_or_else(|| panic!("{queue}: unknown message_id {id}"))
            })
            .collect();
        let want: BTreeSet<&str> = sent.iter().copied().collect();
        assert_eq!(got.len(), sent.len(), "{queue}: each once, got {got:?}");
        assert_eq!(
            got.iter().copied().collect::<BTreeSet<_>>(),
            want,
            "{queue}"
        );
        for ((id, routing_key), name) in received.iter().zip(&got) {
            let event = first
                .iter()
                .chain(&second)
                .find(|(n, _)| n == name)
                .map(|(_, e)| e)
                .expect("event");
            assert_eq!(
                routing_key,
                &repobus_amqp::fedora::routing_key(prefix, event.event_type()),
                "{queue}: {id}"
            );
        }
    }

    // Restarted on the same durables: what was skipped is not offered
    // again, and nothing is sent twice.
    by_filters_run.stop().await;
    by_flags_run.stop().await;
    let mut again = OutboundConfig::new(AmqpConfig::new(rabbit.url()), "out-filters")
        .topic_prefix("org.repobus.filters");
    again.filter_subjects = vec![
        subjects.filter(&SubjectFilter::Type(EventType::RepoSyncFinished)),
        subjects.filter(&SubjectFilter::owner("@python")),
    ];
    again.criteria = Some(Criteria::new());
    let rerun = Running::start(again, &bus);
    let late = sync_finished("epel-11", "failed", 0);
    let late_id = publisher.publish(&late).await.expect("publish").event_id;
    within(20, "the new event sent", async {
        while rerun.sent() < 1 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rerun.sent(), 1, "only the new event");
    assert_eq!(rerun.filtered(), 0);
    let received = drain(&channel, "criteria-filters").await;
    assert_eq!(
        received.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        [&late_id]
    );
    rerun.stop().await;
    let _ = connection.close(200, "done".into()).await;
}
