//! `Event::decode(topic, body)` on every topic form a peer can send on.
//!
//! Input: the first byte picks the topic from `TOPICS` (byte modulo its
//! length), the rest is the body. A first byte of 0xF0 or more instead takes
//! the topic from the input itself: the bytes up to the first newline are the
//! topic (lossily UTF-8), the rest the body.
//!
//! When the body decodes, every accessor runs, and the event must survive a
//! round trip: its `to_vec()` decodes again under its type ID to an equal
//! event, and its subject parses back to its type and IDs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use repobus::subject::{SubjectIds, Subjects};
use repobus::Event;

// `fuzz/seed.py` reads this list to write the topic byte of each seed: keep
// one string literal per line and add new topics at the end.
const TOPICS: &[&str] = &[
    "repo-sync-started",
    "repo-sync-finished",
    "repo-publish-started",
    "repo-publish-finished",
    "build-chroot-started",
    "build-chroot-ended",
    "repo.sync.start",
    "repo.sync.finish",
    "repo.publish.start",
    "repo.publish.finish",
    "pulp.server.repo.sync.start",
    "pulp.server.repo.sync.finish",
    "pulp.server.repo.publish.start",
    "pulp.server.repo.publish.finish",
    "copr.build.start",
    "copr.chroot.start",
    "copr.build.end",
    "org.fedoraproject.prod.copr.build.start",
    "org.fedoraproject.prod.copr.chroot.start",
    "org.fedoraproject.prod.copr.build.end",
    "build.start",
    "build.end",
];

/// First bytes from this value on take the topic from the input.
const RAW_TOPIC: u8 = 0xF0;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let raw_topic;
    let (topic, body): (&str, &[u8]) = if selector >= RAW_TOPIC {
        let cut = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        raw_topic = String::from_utf8_lossy(&rest[..cut]).into_owned();
        (&raw_topic, rest.get(cut + 1..).unwrap_or_default())
    } else {
        (TOPICS[usize::from(selector) % TOPICS.len()], rest)
    };

    let Ok(event) = Event::decode(topic, body) else {
        return;
    };
    exercise(&event);

    // Round trip: what repobus writes, repobus reads back the same.
    let type_id = event.event_type().as_str();
    let encoded = event.to_vec();
    let again = Event::decode(type_id, &encoded).unwrap_or_else(|e| {
        panic!(
            "the re-encoded body does not decode as {type_id}: {e}\nbody: {}",
            String::from_utf8_lossy(&encoded)
        )
    });
    assert_eq!(
        again,
        event,
        "decoding the re-encoded body gives another event\nbody: {}",
        String::from_utf8_lossy(&encoded)
    );
    assert_eq!(again.to_vec(), encoded, "encoding is not stable");

    // The subject an event is published on names its type and IDs.
    let subjects = Subjects::default();
    let subject = subjects.for_event(&event);
    let parsed = subjects
        .parse(&subject)
        .unwrap_or_else(|e| panic!("the event's own subject {subject:?} does not parse: {e}"));
    assert_eq!(parsed.event_type, event.event_type(), "{subject}");
    match (&parsed.ids, event.repo_id(), event.build_chroot()) {
        (SubjectIds::Repo { repo_id }, Some(id), _) => assert_eq!(repo_id, id.as_str()),
        (
            SubjectIds::BuildChroot {
                owner,
                project,
                chroot,
            },
            None,
            Some(b),
        ) => {
            assert_eq!(owner, b.project_owner());
            assert_eq!(project, b.project_name());
            assert_eq!(chroot, b.chroot());
        }
        (ids, _, _) => panic!("subject {subject:?} gives {ids:?} for {event:?}"),
    }
});

/// Calls every accessor; none may panic.
fn exercise(event: &Event) {
    let _ = event.summary();
    let _ = event.to_string();
    let _ = event.status();
    let _ = event.usernames();
    let _ = event.packages();
    let _ = event.url();
    let _ = event.agent_name();
    let _ = event.severity().level();
    let _ = event.describe();
    let _ = event.to_value();
    let _ = event.repo_id();
    let _ = event.ce_subject();
    let _ = event.subject_ids();
    if let Some(b) = event.build_chroot() {
        let _ = b.package_name();
        let _ = b.package_epoch();
        let _ = b.package_version();
        let _ = b.package_release();
        let _ = b.package_full_name();
        let _ = b.project_full_name();
        let _ = b.submitter();
        let _ = b.status().code();
    }
}
