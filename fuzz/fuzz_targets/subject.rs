//! Subjects of received messages: `Subjects::parse`, `Subjects::new(prefix)`
//! and `unescape_token`.
//!
//! Input: `subject`, or `prefix\nsubject`. The subject is parsed under the
//! default prefix and, when the first line is a valid prefix, under that one.
//! A subject that parses must be the subject built again from its type and
//! IDs, byte for byte: otherwise two subjects name one event, and a filter
//! built from the IDs misses the message. Every token escapes and unescapes
//! back to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use repobus::subject::{escape_token, unescape_token, SubjectFilter, SubjectIds, Subjects};

fn check(subjects: &Subjects, subject: &str) {
    let Ok(parsed) = subjects.parse(subject) else {
        return;
    };
    let rebuilt = match &parsed.ids {
        SubjectIds::Repo { repo_id } => subjects.repo(parsed.event_type, repo_id),
        SubjectIds::BuildChroot {
            owner,
            project,
            chroot,
        } => subjects.build_chroot(parsed.event_type, owner, project, chroot),
    };
    assert_eq!(
        rebuilt, subject,
        "{subject:?} parses to {parsed:?}, which is written {rebuilt:?}"
    );
    let _ = subjects.filter(&SubjectFilter::Type(parsed.event_type));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (prefix, subject) = match text.split_once('\n') {
        Some((prefix, subject)) => (Some(prefix), subject),
        None => (None, text),
    };

    check(&Subjects::default(), subject);
    if let Some(Ok(subjects)) = prefix.map(Subjects::new) {
        check(&subjects, subject);
        let _ = subjects.event_subjects();
        let _ = subjects.dead_letter(subject);
        let _ = subjects.filter(&SubjectFilter::repo(subject).finished());
        let _ = subjects.filter(&SubjectFilter::owner(subject).started());
    }

    for token in subject.split('.') {
        let _ = unescape_token(token);
        let escaped = escape_token(token);
        assert_eq!(
            unescape_token(&escaped).as_deref(),
            Ok(token),
            "{token:?} escapes to {escaped:?}"
        );
    }
});
