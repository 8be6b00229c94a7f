//! NATS subjects of the six event types, wildcard filters, and decoding a
//! subject back to its type and IDs.
//!
//! | type | subject |
//! | --- | --- |
//! | `repo-sync-started` | `<prefix>.repo.sync.started.<repo_id>` |
//! | `repo-sync-finished` | `<prefix>.repo.sync.finished.<repo_id>` |
//! | `repo-publish-started` | `<prefix>.repo.publish.started.<repo_id>` |
//! | `repo-publish-finished` | `<prefix>.repo.publish.finished.<repo_id>` |
//! | `build-chroot-started` | `<prefix>.build.chroot.started.<owner>.<project>.<chroot>` |
//! | `build-chroot-ended` | `<prefix>.build.chroot.ended.<owner>.<project>.<chroot>` |
//!
//! Each variable token is escaped so that an ID can never add, remove or
//! wildcard a token: every byte outside `[A-Za-z0-9_@-]` is written `%XX`
//! (uppercase hex), so `epel.7` becomes `epel%2E7`. The empty string, which
//! cannot be a token, is written `%`.
//!
//! ```
//! use repobus::subject::{Subjects, SubjectFilter};
//! use repobus::EventType;
//!
//! let subjects = Subjects::default();
//! assert_eq!(subjects.build_chroot(EventType::BuildChrootStarted, "@python", "python3.8", "fedora-rawhide-x86_64"),
//!            "repobus.build.chroot.started.@python.python3%2E8.fedora-rawhide-x86_64");
//! // All finished events of one repository:
//! assert_eq!(subjects.filter(&SubjectFilter::repo("epel.7").finished()), "repobus.repo.*.finished.epel%2E7");
//! ```

use std::fmt;

use crate::events::{Event, EventType};

/// The default subject prefix.
pub const DEFAULT_PREFIX: &str = "repobus";

/// Escapes one token: bytes outside `[A-Za-z0-9_@-]` become `%XX`.
///
/// # Examples
///
/// ```
/// use repobus::subject::escape_token;
///
/// assert_eq!(escape_token("epel.7"), "epel%2E7");
/// assert_eq!(escape_token("@python"), "@python");
/// assert_eq!(escape_token(""), "%");
/// ```
pub fn escape_token(raw: &str) -> String {
    if raw.is_empty() {
        return "%".to_owned();
    }
    crate::percent::encode(raw, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'-')
    })
}

/// Reverses [`escape_token`], accepting only the spelling it writes.
///
/// # Examples
///
/// ```
/// use repobus::subject::unescape_token;
///
/// assert_eq!(unescape_token("epel%2E7").unwrap(), "epel.7");
/// assert_eq!(unescape_token("%").unwrap(), "");
/// // Only the spelling `escape_token` writes: `%41` would be a second `A`.
/// assert!(unescape_token("%41").is_err());
/// ```
pub fn unescape_token(token: &str) -> Result<String, SubjectError> {
    if token == "%" {
        return Ok(String::new());
    }
    let bad = || SubjectError::BadToken(token.to_owned());
    // The empty ID is written `%`; an empty token is no ID.
    if token.is_empty() {
        return Err(bad());
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = token.get(i + 1..i + 3).ok_or_else(bad)?;
            if !hex
                .bytes()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h))
            {
                return Err(bad());
            }
            let byte = u8::from_str_radix(hex, 16).map_err(|_| bad())?;
            // `escape_token` writes these bytes as they are: `%41` for `A`
            // would be a second subject for the same ID.
            if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'@' | b'-') {
                return Err(bad());
            }
            out.push(byte);
            i += 3;
        } else if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'-') {
            out.push(b);
            i += 1;
        } else {
            return Err(bad());
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Why a subject could not be decoded.
///
/// # Examples
///
/// ```
/// use repobus::subject::{SubjectError, Subjects};
///
/// let subjects = Subjects::default();
/// assert!(matches!(
///     subjects.parse("other.repo.sync.started.pulp-f17"),
///     Err(SubjectError::WrongPrefix { .. })
/// ));
/// assert!(matches!(
///     subjects.parse("repobus.repo.sync.begun.pulp-f17"),
///     Err(SubjectError::NotAnEvent(_))
/// ));
/// assert!(matches!(Subjects::new("a..b"), Err(SubjectError::BadPrefix(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// The subject does not start with the configured prefix.
    #[error("subject {subject:?} does not start with the prefix {prefix:?}")]
    WrongPrefix {
        /// The subject.
        subject: String,
        /// The expected prefix.
        prefix: String,
    },
    /// The tokens after the prefix name no event type.
    #[error("subject {0:?} is not a repobus event subject")]
    NotAnEvent(String),
    /// A variable token is not a valid escaped ID.
    #[error("token {0:?} is not a valid escaped ID")]
    BadToken(String),
    /// The prefix itself is not a valid subject prefix.
    #[error("prefix {0:?} must be non-empty tokens of [A-Za-z0-9_-] separated by dots")]
    BadPrefix(String),
}

/// The IDs a subject carries.
///
/// # Examples
///
/// ```
/// use repobus::subject::{SubjectIds, Subjects};
///
/// let parsed = Subjects::default()
///     .parse("repobus.build.chroot.ended.@python.python3%2E8.fedora-rawhide-x86_64")
///     .unwrap();
/// match parsed.ids {
///     SubjectIds::BuildChroot { owner, project, chroot } => {
///         assert_eq!((owner.as_str(), project.as_str()), ("@python", "python3.8"));
///         assert_eq!(chroot, "fedora-rawhide-x86_64");
///     }
///     SubjectIds::Repo { .. } => unreachable!("a build subject"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectIds {
    /// A Pulp repository event.
    Repo {
        /// The repository ID.
        repo_id: String,
    },
    /// A Copr build-chroot event.
    BuildChroot {
        /// Project owner (`@group` or user).
        owner: String,
        /// Project name.
        project: String,
        /// Chroot name.
        chroot: String,
    },
}

/// A subject decoded into its event type and IDs.
///
/// # Examples
///
/// ```
/// use repobus::subject::{ParsedSubject, SubjectIds, Subjects};
/// use repobus::EventType;
///
/// let parsed = Subjects::default().parse("repobus.repo.sync.finished.epel%2E7").unwrap();
/// assert_eq!(
///     parsed,
///     ParsedSubject {
///         event_type: EventType::RepoSyncFinished,
///         ids: SubjectIds::Repo { repo_id: "epel.7".into() },
///     }
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSubject {
    /// The event type.
    pub event_type: EventType,
    /// The unescaped IDs.
    pub ids: SubjectIds,
}

/// Builds and parses subjects under one prefix.
///
/// # Examples
///
/// ```
/// use repobus::subject::Subjects;
/// use repobus::EventType;
///
/// let subjects = Subjects::new("acme.events").unwrap();
/// let subject = subjects.repo(EventType::RepoSyncStarted, "pulp-f17");
/// assert_eq!(subject, "acme.events.repo.sync.started.pulp-f17");
/// assert_eq!(subjects.parse(&subject).unwrap().event_type, EventType::RepoSyncStarted);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Default for Subjects {
    fn default() -> Self {
        Subjects {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

fn type_tokens(t: EventType) -> &'static str {
    t.subject_tokens()
}

impl Subjects {
    /// Subjects under `prefix` (one or more dot-separated tokens of
    /// `[A-Za-z0-9_-]`).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    ///
    /// let subjects = Subjects::new("acme.events").unwrap();
    /// assert_eq!(subjects.prefix(), "acme.events");
    /// assert!(Subjects::new("acme.*").is_err());
    /// ```
    pub fn new(prefix: impl Into<String>) -> Result<Self, SubjectError> {
        let prefix = prefix.into();
        let ok = !prefix.is_empty()
            && prefix.split('.').all(|t| {
                !t.is_empty()
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if ok {
            Ok(Subjects { prefix })
        } else {
            Err(SubjectError::BadPrefix(prefix))
        }
    }

    /// The prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    ///
    /// assert_eq!(Subjects::default().prefix(), "repobus");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every event subject: `<prefix>.repo.>` and `<prefix>.build.>` (the
    /// subjects of the event stream; dead letters live apart).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    ///
    /// assert_eq!(Subjects::default().event_subjects(), ["repobus.repo.>", "repobus.build.>"]);
    /// ```
    pub fn event_subjects(&self) -> Vec<String> {
        vec![
            format!("{}.repo.>", self.prefix),
            format!("{}.build.>", self.prefix),
        ]
    }

    /// The dead-letter subject for `reason`: `<prefix>.dlq.<reason>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    ///
    /// assert_eq!(Subjects::default().dead_letter("bad-envelope"), "repobus.dlq.bad-envelope");
    /// ```
    pub fn dead_letter(&self, reason: &str) -> String {
        format!("{}.dlq.{}", self.prefix, escape_token(reason))
    }

    /// All dead-letter subjects: `<prefix>.dlq.>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    ///
    /// assert_eq!(Subjects::default().dead_letters(), "repobus.dlq.>");
    /// ```
    pub fn dead_letters(&self) -> String {
        format!("{}.dlq.>", self.prefix)
    }

    /// The subject of a Pulp repository event.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    /// use repobus::EventType;
    ///
    /// assert_eq!(
    ///     Subjects::default().repo(EventType::RepoPublishFinished, "epel.7"),
    ///     "repobus.repo.publish.finished.epel%2E7"
    /// );
    /// ```
    pub fn repo(&self, event_type: EventType, repo_id: &str) -> String {
        format!(
            "{}.{}.{}",
            self.prefix,
            type_tokens(event_type),
            escape_token(repo_id)
        )
    }

    /// The subject of a Copr build-chroot event.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    /// use repobus::EventType;
    ///
    /// assert_eq!(
    ///     Subjects::default().build_chroot(EventType::BuildChrootEnded, "@python", "python3.8", "srpm-builds"),
    ///     "repobus.build.chroot.ended.@python.python3%2E8.srpm-builds"
    /// );
    /// ```
    pub fn build_chroot(
        &self,
        event_type: EventType,
        owner: &str,
        project: &str,
        chroot: &str,
    ) -> String {
        format!(
            "{}.{}.{}.{}.{}",
            self.prefix,
            type_tokens(event_type),
            escape_token(owner),
            escape_token(project),
            escape_token(chroot)
        )
    }

    /// The subject an event is published on: the prefix, the type's tokens
    /// and its escaped IDs.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    /// use repobus::Event;
    ///
    /// let event = Event::decode("repo-sync-started", br#"{"repo_id": "epel.7"}"#).unwrap();
    /// assert_eq!(Subjects::default().for_event(&event), "repobus.repo.sync.started.epel%2E7");
    /// ```
    pub fn for_event(&self, event: &Event) -> String {
        let mut subject = format!("{}.{}", self.prefix, type_tokens(event.event_type()));
        for id in event.subject_ids() {
            subject.push('.');
            subject.push_str(&escape_token(id));
        }
        subject
    }

    /// The wildcard subject for a filter.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::{SubjectFilter, Subjects};
    /// use repobus::EventType;
    ///
    /// let subjects = Subjects::default();
    /// assert_eq!(subjects.filter(&SubjectFilter::All), "repobus.>");
    /// assert_eq!(
    ///     subjects.filter(&SubjectFilter::Type(EventType::RepoSyncFinished)),
    ///     "repobus.repo.sync.finished.*"
    /// );
    /// assert_eq!(
    ///     subjects.filter(&SubjectFilter::repo("epel.7").finished()),
    ///     "repobus.repo.*.finished.epel%2E7"
    /// );
    /// ```
    pub fn filter(&self, filter: &SubjectFilter) -> String {
        let tok = |v: &Option<String>| v.as_deref().map_or("*".to_owned(), escape_token);
        match filter {
            SubjectFilter::All => format!("{}.>", self.prefix),
            SubjectFilter::Type(t) if t.is_pulp() => {
                format!("{}.{}.*", self.prefix, type_tokens(*t))
            }
            SubjectFilter::Type(t) => format!("{}.{}.*.*.*", self.prefix, type_tokens(*t)),
            SubjectFilter::Repo {
                operation,
                phase,
                repo_id,
            } => format!(
                "{}.repo.{}.{}.{}",
                self.prefix,
                operation.map_or("*", RepoOperation::token),
                phase.map_or("*", |p| p.repo_token()),
                tok(repo_id)
            ),
            SubjectFilter::Build {
                phase,
                owner,
                project,
                chroot,
            } => {
                let head = format!(
                    "{}.build.chroot.{}",
                    self.prefix,
                    phase.map_or("*", |p| p.build_token())
                );
                match (owner, project, chroot) {
                    (None, None, None) => format!("{head}.>"),
                    _ => format!("{head}.{}.{}.{}", tok(owner), tok(project), tok(chroot)),
                }
            }
        }
    }

    /// The subject filter of the given type tokens (`*` allowed) followed
    /// by IDs, each escaped, or `*` when `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::Subjects;
    ///
    /// let s = Subjects::default();
    /// assert_eq!(s.wildcard(&["repo", "*", "finished"], [Some("epel.7")]), "repobus.repo.*.finished.epel%2E7");
    /// ```
    pub fn wildcard<'a>(
        &self,
        type_tokens: &[&str],
        ids: impl IntoIterator<Item = Option<&'a str>>,
    ) -> String {
        let mut subject = self.prefix.clone();
        for token in type_tokens {
            subject.push('.');
            subject.push_str(token);
        }
        for id in ids {
            subject.push('.');
            subject.push_str(&id.map_or_else(|| "*".to_owned(), escape_token));
        }
        subject
    }

    /// Decodes a subject back to its event type and IDs.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::{SubjectIds, Subjects};
    /// use repobus::EventType;
    ///
    /// let parsed = Subjects::default().parse("repobus.repo.sync.started.epel%2E7").unwrap();
    /// assert_eq!(parsed.event_type, EventType::RepoSyncStarted);
    /// assert_eq!(parsed.ids, SubjectIds::Repo { repo_id: "epel.7".into() });
    /// assert!(Subjects::default().parse("repobus.repo.sync.started.a.b").is_err());
    /// ```
    pub fn parse(&self, subject: &str) -> Result<ParsedSubject, SubjectError> {
        let rest = subject
            .strip_prefix(&self.prefix)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(|| SubjectError::WrongPrefix {
                subject: subject.to_owned(),
                prefix: self.prefix.clone(),
            })?;
        let tokens: Vec<&str> = rest.split('.').collect();
        let not_event = || SubjectError::NotAnEvent(subject.to_owned());
        let head = tokens.get(..3).ok_or_else(not_event)?.join(".");
        let event_type = EventType::ALL
            .into_iter()
            .find(|t| type_tokens(*t) == head)
            .ok_or_else(not_event)?;
        let ids = match (event_type.is_pulp(), &tokens[3..]) {
            (true, [repo]) => SubjectIds::Repo {
                repo_id: unescape_token(repo)?,
            },
            (false, [owner, project, chroot]) => SubjectIds::BuildChroot {
                owner: unescape_token(owner)?,
                project: unescape_token(project)?,
                chroot: unescape_token(chroot)?,
            },
            _ => return Err(not_event()),
        };
        Ok(ParsedSubject { event_type, ids })
    }
}

impl fmt::Display for Subjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix)
    }
}

/// Pulp operations.
///
/// # Examples
///
/// ```
/// use repobus::subject::{RepoOperation, SubjectFilter, Subjects};
///
/// let syncs = SubjectFilter::repo("pulp-f17").operation(RepoOperation::Sync);
/// assert_eq!(Subjects::default().filter(&syncs), "repobus.repo.sync.*.pulp-f17");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoOperation {
    /// `sync`
    Sync,
    /// `publish`
    Publish,
}

impl RepoOperation {
    fn token(self) -> &'static str {
        match self {
            RepoOperation::Sync => "sync",
            RepoOperation::Publish => "publish",
        }
    }
}

/// Started or finished (Pulp) / ended (Copr).
///
/// # Examples
///
/// ```
/// use repobus::subject::{Phase, SubjectFilter, Subjects};
///
/// let ended = SubjectFilter::Build { phase: Some(Phase::Finished), owner: None, project: None, chroot: None };
/// assert_eq!(Subjects::default().filter(&ended), "repobus.build.chroot.ended.>");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `started`
    Started,
    /// `finished` for Pulp, `ended` for Copr.
    Finished,
}

impl Phase {
    fn repo_token(self) -> &'static str {
        match self {
            Phase::Started => "started",
            Phase::Finished => "finished",
        }
    }
    fn build_token(self) -> &'static str {
        match self {
            Phase::Started => "started",
            Phase::Finished => "ended",
        }
    }
}

/// What a subscriber wants: every event, one type, or some IDs of Pulp or
/// Copr events. Unset parts are wildcards.
///
/// # Examples
///
/// ```
/// use repobus::subject::{SubjectFilter, Subjects};
///
/// let subjects = Subjects::default();
/// // Every build of @python's python3.8 project, in any chroot:
/// let filter = SubjectFilter::Build {
///     phase: None,
///     owner: Some("@python".into()),
///     project: Some("python3.8".into()),
///     chroot: None,
/// };
/// assert_eq!(subjects.filter(&filter), "repobus.build.chroot.*.@python.python3%2E8.*");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectFilter {
    /// Every event.
    All,
    /// Every event of one type.
    Type(EventType),
    /// Pulp repository events.
    Repo {
        /// Sync or publish, or both.
        operation: Option<RepoOperation>,
        /// Started or finished, or both.
        phase: Option<Phase>,
        /// One repository, or all.
        repo_id: Option<String>,
    },
    /// Copr build-chroot events.
    Build {
        /// Started or ended, or both.
        phase: Option<Phase>,
        /// One owner, or all.
        owner: Option<String>,
        /// One project, or all.
        project: Option<String>,
        /// One chroot, or all.
        chroot: Option<String>,
    },
}

impl SubjectFilter {
    /// Every event of one repository.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::{SubjectFilter, Subjects};
    ///
    /// assert_eq!(
    ///     Subjects::default().filter(&SubjectFilter::repo("epel.7")),
    ///     "repobus.repo.*.*.epel%2E7"
    /// );
    /// ```
    pub fn repo(repo_id: impl Into<String>) -> Self {
        SubjectFilter::Repo {
            operation: None,
            phase: None,
            repo_id: Some(repo_id.into()),
        }
    }

    /// Every build event of one owner.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::{SubjectFilter, Subjects};
    ///
    /// assert_eq!(
    ///     Subjects::default().filter(&SubjectFilter::owner("@python")),
    ///     "repobus.build.chroot.*.@python.*.*"
    /// );
    /// ```
    pub fn owner(owner: impl Into<String>) -> Self {
        SubjectFilter::Build {
            phase: None,
            owner: Some(owner.into()),
            project: None,
            chroot: None,
        }
    }

    /// Narrows to finished (Pulp) or ended (Copr) events.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::{SubjectFilter, Subjects};
    ///
    /// let subjects = Subjects::default();
    /// assert_eq!(
    ///     subjects.filter(&SubjectFilter::repo("epel.7").finished()),
    ///     "repobus.repo.*.finished.epel%2E7"
    /// );
    /// assert_eq!(
    ///     subjects.filter(&SubjectFilter::owner("@python").finished()),
    ///     "repobus.build.chroot.ended.@python.*.*"
    /// );
    /// ```
    pub fn finished(self) -> Self {
        self.with_phase(Phase::Finished)
    }

    /// Narrows to started events.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::{SubjectFilter, Subjects};
    ///
    /// assert_eq!(
    ///     Subjects::default().filter(&SubjectFilter::repo("pulp-f17").started()),
    ///     "repobus.repo.*.started.pulp-f17"
    /// );
    /// ```
    pub fn started(self) -> Self {
        self.with_phase(Phase::Started)
    }

    fn with_phase(self, p: Phase) -> Self {
        match self {
            SubjectFilter::Repo {
                operation, repo_id, ..
            } => SubjectFilter::Repo {
                operation,
                phase: Some(p),
                repo_id,
            },
            SubjectFilter::Build {
                owner,
                project,
                chroot,
                ..
            } => SubjectFilter::Build {
                phase: Some(p),
                owner,
                project,
                chroot,
            },
            other => other,
        }
    }

    /// Narrows a repository filter to one operation.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::subject::{RepoOperation, SubjectFilter, Subjects};
    ///
    /// let filter = SubjectFilter::repo("pulp-f17").operation(RepoOperation::Publish).finished();
    /// assert_eq!(Subjects::default().filter(&filter), "repobus.repo.publish.finished.pulp-f17");
    /// ```
    pub fn operation(self, op: RepoOperation) -> Self {
        match self {
            SubjectFilter::Repo { phase, repo_id, .. } => SubjectFilter::Repo {
                operation: Some(op),
                phase,
                repo_id,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_the_examples() {
        assert_eq!(escape_token("epel.7"), "epel%2E7");
        assert_eq!(escape_token("python3.8"), "python3%2E8");
        assert_eq!(escape_token("@python"), "@python");
        assert_eq!(escape_token("a b"), "a%20b");
        assert_eq!(escape_token("*"), "%2A");
        assert_eq!(escape_token(">"), "%3E");
        assert_eq!(escape_token("%"), "%25");
        assert_eq!(escape_token("\u{e9}"), "%C3%A9");
        assert_eq!(escape_token(""), "%");
    }

    #[test]
    fn hostile_ids_stay_one_token_and_round_trip() {
        let s = Subjects::default();
        for id in [
            "a.b",
            "*",
            ">",
            "a b",
            "\u{e9}t\u{e9}",
            "",
            "%",
            "%2E",
            "a\tb\r\n",
            "..",
            "@",
        ] {
            let subject = s.build_chroot(EventType::BuildChrootEnded, id, id, id);
            assert_eq!(subject.split('.').count(), 7, "{subject}");
            assert!(
                !subject.contains(['*', '>', ' ', '\t', '\r', '\n']),
                "{subject}"
            );
            let parsed = s.parse(&subject).unwrap();
            assert_eq!(
                parsed.ids,
                SubjectIds::BuildChroot {
                    owner: id.into(),
                    project: id.into(),
                    chroot: id.into()
                }
            );
            let subject = s.repo(EventType::RepoSyncStarted, id);
            assert_eq!(subject.split('.').count(), 5, "{subject}");
            assert_eq!(
                s.parse(&subject).unwrap().ids,
                SubjectIds::Repo { repo_id: id.into() }
            );
        }
    }

    #[test]
    fn filters() {
        let s = Subjects::new("acme.events").unwrap();
        assert_eq!(s.filter(&SubjectFilter::All), "acme.events.>");
        assert_eq!(
            s.filter(&SubjectFilter::Type(EventType::RepoSyncFinished)),
            "acme.events.repo.sync.finished.*"
        );
        assert_eq!(
            s.filter(&SubjectFilter::Type(EventType::BuildChrootEnded)),
            "acme.events.build.chroot.ended.*.*.*"
        );
        assert_eq!(
            s.filter(&SubjectFilter::repo("epel.7").finished()),
            "acme.events.repo.*.finished.epel%2E7"
        );
        assert_eq!(
            s.filter(
                &SubjectFilter::repo("r")
                    .operation(RepoOperation::Sync)
                    .started()
            ),
            "acme.events.repo.sync.started.r"
        );
        assert_eq!(
            s.filter(&SubjectFilter::owner("@python")),
            "acme.events.build.chroot.*.@python.*.*"
        );
        assert_eq!(
            s.filter(&SubjectFilter::Build {
                phase: Some(Phase::Finished),
                owner: None,
                project: None,
                chroot: None
            }),
            "acme.events.build.chroot.ended.>"
        );
    }

    #[test]
    fn parse_rejects_foreign_subjects() {
        let s = Subjects::default();
        assert!(matches!(
            s.parse("other.repo.sync.started.x"),
            Err(SubjectError::WrongPrefix { .. })
        ));
        assert!(matches!(
            s.parse("repobus.repo.sync.begun.x"),
            Err(SubjectError::NotAnEvent(_))
        ));
        assert!(matches!(
            s.parse("repobus.repo.sync.started.x.y"),
            Err(SubjectError::NotAnEvent(_))
        ));
        assert!(matches!(
            s.parse("repobus.repo.sync.started.a%2"),
            Err(SubjectError::BadToken(_))
        ));
        assert!(matches!(
            s.parse("repobus.repo.sync.started.a%2e"),
            Err(SubjectError::BadToken(_))
        ));
        assert!(matches!(
            s.parse("repobus.repo.sync.started.%FF"),
            Err(SubjectError::BadToken(_))
        ));
        assert!(s.parse("repobus.repo").is_err());
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(Subjects::new("repobus").is_ok());
        assert!(Subjects::new("a.b-c_d").is_ok());
        for bad in ["", "a..b", "a.*", "a.>", "a b", ".a", "a."] {
            assert!(Subjects::new(bad).is_err(), "{bad}");
        }
    }
}
