//! Copr's build-chroot events, with the fedmsg-era body Copr publishes on
//! `copr.build.start` and `copr.build.end`.
//!
//! The accessors answer what copr-messaging 1.3 answers for the same body,
//! character for character, including its summary text. Where copr-messaging
//! raises an exception (a `version` without a release, say), repobus answers
//! with what it can know and leaves the rest `None`.

use std::fmt;
use std::ops::{Deref, DerefMut};

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::events::pulp::required_nullable;
use crate::events::{EventKind, Extra};
use crate::EventType;

/// Copr's `StatusEnum`: the integer `status` of a build-chroot body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoprStatus {
    /// 0: the build failed.
    Failed,
    /// 1: the build succeeded.
    Succeeded,
    /// 2: the build was canceled.
    Canceled,
    /// 3: the SRPM or RPM build is running.
    Running,
    /// 4: the build is waiting to be picked.
    Pending,
    /// 5: skipped, the package was built already.
    Skipped,
    /// 6: picked by a worker, no VM initialized yet.
    Starting,
    /// 7: the SRPM is being imported into dist-git.
    Importing,
    /// 8: the build was forked.
    Forked,
    /// 9: waiting for something else to finish.
    Waiting,
    /// 1000: undefined.
    Unknown,
}

impl CoprStatus {
    /// Every status, in Copr's order.
    pub const ALL: [CoprStatus; 11] = [
        CoprStatus::Failed,
        CoprStatus::Succeeded,
        CoprStatus::Canceled,
        CoprStatus::Running,
        CoprStatus::Pending,
        CoprStatus::Skipped,
        CoprStatus::Starting,
        CoprStatus::Importing,
        CoprStatus::Forked,
        CoprStatus::Waiting,
        CoprStatus::Unknown,
    ];

    /// The integer on the wire.
    pub fn code(self) -> i64 {
        match self {
            CoprStatus::Failed => 0,
            CoprStatus::Succeeded => 1,
            CoprStatus::Canceled => 2,
            CoprStatus::Running => 3,
            CoprStatus::Pending => 4,
            CoprStatus::Skipped => 5,
            CoprStatus::Starting => 6,
            CoprStatus::Importing => 7,
            CoprStatus::Forked => 8,
            CoprStatus::Waiting => 9,
            CoprStatus::Unknown => 1000,
        }
    }

    /// The status for a wire integer, if Copr defines one.
    pub fn from_code(code: i64) -> Option<Self> {
        CoprStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Copr's name: `failed`, `succeeded`, ..., `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            CoprStatus::Failed => "failed",
            CoprStatus::Succeeded => "succeeded",
            CoprStatus::Canceled => "canceled",
            CoprStatus::Running => "running",
            CoprStatus::Pending => "pending",
            CoprStatus::Skipped => "skipped",
            CoprStatus::Starting => "starting",
            CoprStatus::Importing => "importing",
            CoprStatus::Forked => "forked",
            CoprStatus::Waiting => "waiting",
            CoprStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CoprStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CoprStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.code())
    }
}

impl<'de> Deserialize<'de> for CoprStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = crate::events::integer(deserializer)?;
        i64::try_from(code)
            .ok()
            .and_then(CoprStatus::from_code)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{code} is not one of Copr's StatusEnum values (0-9 or 1000)"
                ))
            })
    }
}

impl JsonSchema for CoprStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CoprStatus".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<i64> = CoprStatus::ALL.iter().map(|s| s.code()).collect();
        schemars::json_schema!({ "type": "integer", "enum": codes })
    }
}

/// The fedmsg-era body shared by both build-chroot events: the twelve fields
/// Copr sends, plus any field it may add later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildChroot {
    /// Build status as an integer of Copr's StatusEnum (failed 0, succeeded 1, canceled 2, running 3, pending 4, skipped 5, starting 6, importing 7, forked 8, waiting 9, unknown 1000).
    pub status: CoprStatus,
    /// Human-readable combination of the other fields, written by the sender.
    pub what: String,
    /// Mock chroot of the build, e.g. `fedora-rawhide-x86_64`; `srpm-builds` for source builds.
    pub chroot: String,
    /// IP address of the builder (usually not public), or null.
    #[serde(with = "required_nullable")]
    #[schemars(schema_with = "crate::events::nullable_string")]
    #[schemars(required)]
    pub ip: Option<String>,
    /// Copr user who submitted the build (may be namespaced, like `github.com:someone`), or null.
    #[serde(with = "required_nullable")]
    #[schemars(schema_with = "crate::events::nullable_string")]
    #[schemars(required)]
    pub user: Option<String>,
    /// The program that sent this message.
    pub who: String,
    /// Process ID of the sender.
    #[serde(deserialize_with = "crate::events::non_negative")]
    pub pid: u64,
    /// Name of the Copr project.
    pub copr: String,
    /// Package `[epoch:]version-release`, or null when unknown.
    #[serde(with = "required_nullable")]
    #[schemars(schema_with = "crate::events::nullable_string")]
    #[schemars(required)]
    pub version: Option<String>,
    /// Copr build ID.
    #[serde(deserialize_with = "crate::events::non_negative")]
    pub build: u64,
    /// Owner of the project: a user name, or `@group` for a group.
    pub owner: String,
    /// Package name, or null when unknown (source builds).
    #[serde(with = "required_nullable")]
    #[schemars(schema_with = "crate::events::nullable_string")]
    #[schemars(required)]
    pub pkg: Option<String>,
    /// Fields this version of repobus does not know, kept for re-encoding.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `(epoch, version, release)` of a package, each `None` when unknown.
type Evr<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);

impl BuildChroot {
    /// Starts a body for build `build` of project `owner/copr` in `chroot`.
    ///
    /// `who` is the running program's name and `pid` its process ID; `what`
    /// is written when the event is finished with
    /// [`BuildChrootBuilder::started`] or [`BuildChrootBuilder::ended`].
    ///
    /// ```
    /// use repobus::events::{BuildChroot, CoprStatus};
    ///
    /// let ended = BuildChroot::builder(942697, "kbaig", "test", "fedora-29-x86_64")
    ///     .package("tkn", "0.1.2-1.fc30")
    ///     .user("kbaig")
    ///     .ip("172.25.91.143")
    ///     .ended(CoprStatus::Succeeded);
    /// assert_eq!(ended.package_version(), Some("0.1.2"));
    /// assert!(ended.what.starts_with("build end: user:kbaig copr:test build:942697 pkg:tkn version:0.1.2-1.fc30"));
    /// ```
    pub fn builder(
        build: u64,
        owner: impl Into<String>,
        copr: impl Into<String>,
        chroot: impl Into<String>,
    ) -> BuildChrootBuilder {
        BuildChrootBuilder {
            body: BuildChroot {
                status: CoprStatus::Running,
                what: String::new(),
                chroot: chroot.into(),
                ip: None,
                user: None,
                who: default_who(),
                pid: u64::from(std::process::id()),
                copr: copr.into(),
                version: None,
                build,
                owner: owner.into(),
                pkg: None,
                extra: Extra::new(),
            },
        }
    }

    /// Copr build ID.
    pub fn build_id(&self) -> u64 {
        self.build
    }

    /// Chroot name, `srpm-builds` for source builds.
    pub fn chroot(&self) -> &str {
        &self.chroot
    }

    /// Package name, `None` when unknown.
    pub fn package_name(&self) -> Option<&str> {
        self.pkg.as_deref()
    }

    fn evr(&self) -> Evr<'_> {
        let Some(evr) = self.version.as_deref().filter(|v| !v.is_empty()) else {
            return (None, None, None);
        };
        let (epoch, v_r) = match evr.split_once(':') {
            Some((epoch, v_r)) => (Some(epoch), v_r),
            None => (None, evr),
        };
        match v_r.split_once('-') {
            Some((version, release)) => (epoch, Some(version), Some(release)),
            // copr-messaging raises here; repobus keeps what it can read.
            None => (epoch, Some(v_r).filter(|v| !v.is_empty()), None),
        }
    }

    /// Package epoch as written (a string), `None` if unset.
    pub fn package_epoch(&self) -> Option<&str> {
        self.evr().0
    }

    /// Package version, `None` when unknown.
    pub fn package_version(&self) -> Option<&str> {
        self.evr().1
    }

    /// Package release, `None` when unknown.
    pub fn package_release(&self) -> Option<&str> {
        self.evr().2
    }

    /// Human-readable `name-[epoch:]version-release`, `None` when the name is
    /// unknown. Like copr-messaging, an unknown version reads `None`:
    /// `foo-None-None`.
    pub fn package_full_name(&self) -> Option<String> {
        let name = self.pkg.as_deref().filter(|n| !n.is_empty())?;
        let (epoch, version, release) = self.evr();
        let epoch = match epoch {
            Some(e) if !e.is_empty() => format!("{e}:"),
            _ => String::new(),
        };
        Some(match (version, release) {
            // No release at all: copr-messaging raises; print what is known.
            (Some(v), None) => format!("{name}-{epoch}{v}"),
            _ => format!("{name}-{epoch}{}-{}", py(version), py(release)),
        })
    }

    /// Owner of the project: `user` or `@group`.
    pub fn project_owner(&self) -> &str {
        &self.owner
    }

    /// Name of the project.
    pub fn project_name(&self) -> &str {
        &self.copr
    }

    /// `owner/project`.
    pub fn project_full_name(&self) -> String {
        format!("{}/{}", self.owner, self.copr)
    }

    /// The status name, e.g. `succeeded`.
    pub fn status(&self) -> CoprStatus {
        self.status
    }

    /// The submitter's user name; `None` when unknown or namespaced
    /// (`github.com:someone`).
    pub fn submitter(&self) -> Option<&str> {
        self.user.as_deref().filter(|u| !u.contains(':'))
    }

    /// Users affected: the submitter and the owner, groups left out, sorted
    /// and without duplicates.
    pub fn usernames(&self) -> Vec<String> {
        let mut names: Vec<String> = [self.submitter(), Some(self.owner.as_str())]
            .into_iter()
            .flatten()
            .filter(|u| !u.starts_with('@'))
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The package name as a one-element list, empty when unknown.
    pub fn packages(&self) -> Vec<String> {
        self.pkg.iter().filter(|p| !p.is_empty()).cloned().collect()
    }

    /// The build's page on Fedora's Copr.
    pub fn url(&self) -> String {
        let owner_path = match self.owner.strip_prefix('@') {
            Some(group) => format!("g/{}", url_segment(group)),
            None => url_segment(&self.owner),
        };
        format!(
            "https://copr.fedorainfracloud.org/coprs/{owner_path}/{}/build/{}/",
            url_segment(&self.copr),
            self.build
        )
    }

    fn summary_prefix(&self) -> String {
        format!(
            "Copr Message in project \"{}\": build {}",
            self.project_full_name(),
            self.build
        )
    }

    /// Every accessor copr-messaging has beyond the common ones.
    pub fn details(&self) -> BuildChrootDetails {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        BuildChrootDetails {
            build_id: self.build,
            chroot: self.chroot.clone(),
            package_name: owned(self.package_name()),
            package_epoch: owned(self.package_epoch()),
            package_version: owned(self.package_version()),
            package_release: owned(self.package_release()),
            package_full_name: self.package_full_name(),
            project_owner: self.owner.clone(),
            project_name: self.copr.clone(),
            project_full_name: self.project_full_name(),
            submitter: owned(self.submitter()),
        }
    }

    fn subject_ids(&self) -> Vec<&str> {
        vec![&self.owner, &self.copr, &self.chroot]
    }
}

/// The accessors of a build-chroot event beyond the common ones, named as
/// copr-messaging names them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildChrootDetails {
    /// See [`BuildChroot::build_id`].
    pub build_id: u64,
    /// See [`BuildChroot::chroot`].
    pub chroot: String,
    /// See [`BuildChroot::package_name`].
    pub package_name: Option<String>,
    /// See [`BuildChroot::package_epoch`].
    pub package_epoch: Option<String>,
    /// See [`BuildChroot::package_version`].
    pub package_version: Option<String>,
    /// See [`BuildChroot::package_release`].
    pub package_release: Option<String>,
    /// See [`BuildChroot::package_full_name`].
    pub package_full_name: Option<String>,
    /// See [`BuildChroot::project_owner`].
    pub project_owner: String,
    /// See [`BuildChroot::project_name`].
    pub project_name: String,
    /// See [`BuildChroot::project_full_name`].
    pub project_full_name: String,
    /// See [`BuildChroot::submitter`].
    pub submitter: Option<String>,
}

fn default_who() -> String {
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "repobus".to_owned());
    format!("repobus.{program}")
}

use crate::percent::url_segment;

/// Python's `str.format` of an optional value: `None` for `None`.
fn py(value: Option<&str>) -> &str {
    value.unwrap_or("None")
}

/// Builds a [`BuildChroot`] body, filling `what`, `who` and `pid` as Copr does.
#[derive(Debug, Clone)]
pub struct BuildChrootBuilder {
    body: BuildChroot,
}

impl BuildChrootBuilder {
    /// Sets the package name and its `[epoch:]version-release`.
    pub fn package(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.body.pkg = Some(name.into());
        self.body.version = Some(version.into());
        self
    }

    /// Sets the submitting user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.body.user = Some(user.into());
        self
    }

    /// Sets the builder's IP address.
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.body.ip = Some(ip.into());
        self
    }

    /// Overrides the sender name (default `repobus.<program>`).
    pub fn who(mut self, who: impl Into<String>) -> Self {
        self.body.who = who.into();
        self
    }

    /// Finishes a `build-chroot-started` event; the status is `running`.
    pub fn started(self) -> BuildChrootStarted {
        let mut body = self.body;
        body.status = CoprStatus::Running;
        body.what = format!(
            "build start: user:{} copr:{} pkg:{} build:{} ip:{} pid:{}",
            py(body.user.as_deref()),
            body.copr,
            py(body.pkg.as_deref()),
            body.build,
            py(body.ip.as_deref()),
            body.pid
        );
        BuildChrootStarted(body)
    }

    /// Finishes a `build-chroot-ended` event with the final `status`.
    pub fn ended(self, status: CoprStatus) -> BuildChrootEnded {
        let mut body = self.body;
        body.status = status;
        body.what = format!(
            "build end: user:{} copr:{} build:{} pkg:{} version:{} ip:{} pid:{} status:{}",
            py(body.user.as_deref()),
            body.copr,
            body.build,
            py(body.pkg.as_deref()),
            py(body.version.as_deref()),
            py(body.ip.as_deref()),
            body.pid,
            status.code()
        );
        BuildChrootEnded(body)
    }
}

/// `build-chroot-started`: a Copr worker is about to build in one chroot.
///
/// Serializes as its [`BuildChroot`] body. A body that carries an unknown
/// `msg` field is written inside a fedmsg envelope `{"msg": body}`, since
/// Copr's decoders (and repobus's) unwrap any top-level `msg`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct BuildChrootStarted(pub BuildChroot);

/// `build-chroot-ended`: a Copr worker finished a build in one chroot.
///
/// Serializes like [`BuildChrootStarted`].
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct BuildChrootEnded(pub BuildChroot);

fn serialize_copr<S: Serializer>(body: &BuildChroot, serializer: S) -> Result<S::Ok, S::Error> {
    if body.extra.contains_key("msg") {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("msg", body)?;
        map.end()
    } else {
        body.serialize(serializer)
    }
}

impl Serialize for BuildChrootStarted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_copr(&self.0, serializer)
    }
}

impl Serialize for BuildChrootEnded {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_copr(&self.0, serializer)
    }
}

/// The parts of [`EventKind`] both build-chroot events share.
macro_rules! build_chroot_kind {
    () => {
        const SUBJECT_IDS: &'static [&'static str] = &["project_owner", "project_name", "chroot"];
        type Details = BuildChrootDetails;

        fn subject_ids(&self) -> Vec<&str> {
            self.0.subject_ids()
        }

        fn ce_subject(&self) -> String {
            self.build.to_string()
        }

        fn status(&self) -> &'static str {
            self.status.as_str()
        }

        fn usernames(&self) -> Vec<String> {
            self.0.usernames()
        }

        fn packages(&self) -> Vec<String> {
            self.0.packages()
        }

        fn url(&self) -> Option<String> {
            Some(self.0.url())
        }

        fn details(&self) -> BuildChrootDetails {
            self.0.details()
        }

        fn build_chroot(&self) -> Option<&BuildChroot> {
            Some(&self.0)
        }
    };
}

impl EventKind for BuildChrootStarted {
    const TYPE: EventType = EventType::BuildChrootStarted;
    const TITLE: &'static str = "Build Chroot Started";
    const DESCRIPTION: &'static str = "Sent by the Copr build system right before a worker starts a build in one mock chroot. Copr's fedmsg-era body of topic copr.build.start; every field is present, ip, user, pkg and version may be null.";
    const SUBJECT_TOKENS: &'static str = "build.chroot.started";
    build_chroot_kind!();

    fn examples() -> Vec<Value> {
        vec![serde_json::json!({
            "status": 3,
            "what": "build start: user:churchyard copr:python3.8 pkg:python-hypothesis build:945012 ip:172.25.93.20 pid:3762",
            "chroot": "fedora-rawhide-x86_64", "ip": "172.25.93.20", "user": "churchyard",
            "who": "backend.worker-23551-PC", "pid": 3762, "copr": "python3.8",
            "version": "4.23.8-1.fc31", "build": 945012, "owner": "@python",
            "pkg": "python-hypothesis"
        })]
    }

    /// copr-messaging's summary: `Copr Message in project "o/p": build N: chroot "c" started.`
    fn summary(&self) -> String {
        format!(
            "{}: chroot \"{}\" started.",
            self.summary_prefix(),
            self.chroot
        )
    }

    /// Who caused the start: the submitter.
    fn agent_name(&self) -> Option<String> {
        self.submitter().map(str::to_owned)
    }
}

impl EventKind for BuildChrootEnded {
    const TYPE: EventType = EventType::BuildChrootEnded;
    const TITLE: &'static str = "Build Chroot Ended";
    const DESCRIPTION: &'static str = "Sent by the Copr build system right after a worker finished a build in one mock chroot. Copr's fedmsg-era body of topic copr.build.end; every field is present, ip, user, pkg and version may be null.";
    const SUBJECT_TOKENS: &'static str = "build.chroot.ended";
    build_chroot_kind!();

    fn examples() -> Vec<Value> {
        vec![serde_json::json!({
            "status": 0,
            "what": "build end: user:kbaig copr:test build:942697 pkg:tkn version:0.1.2-1.fc30 ip:172.25.91.143 pid:26197 status:0",
            "chroot": "fedora-29-x86_64", "ip": "172.25.91.143", "user": "kbaig",
            "who": "backend.worker-14783-PC", "pid": 26197, "copr": "test",
            "version": "0.1.2-1.fc30", "build": 942697, "owner": "kbaig", "pkg": "tkn"
        })]
    }

    /// copr-messaging's summary: `... chroot "c" ended as "succeeded".`
    fn summary(&self) -> String {
        format!(
            "{}: chroot \"{}\" ended as \"{}\".",
            self.summary_prefix(),
            self.chroot,
            self.status
        )
    }
}

macro_rules! deref_body {
    ($($t:ty),*) => {$(
        impl Deref for $t {
            type Target = BuildChroot;
            fn deref(&self) -> &BuildChroot {
                &self.0
            }
        }
        impl DerefMut for $t {
            fn deref_mut(&mut self) -> &mut BuildChroot {
                &mut self.0
            }
        }
    )*};
}
deref_body!(BuildChrootStarted, BuildChrootEnded);
