//! The endpoint model: where to deliver, what, and how; validated field by
//! field, with errors that name the field.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use repobus::criteria::Filter;
use repobus::subject::Subjects;
use repobus::ResourceId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schedule::{duration_text, parse_duration, RetrySchedule};
use crate::signing::Secret;
use crate::target::check_url;

/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Shortest request timeout accepted.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// Longest request timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// Most concurrent deliveries one endpoint may ask for.
pub const MAX_CONCURRENCY: u32 = 1000;
/// Most requests per second a rate limit may allow.
pub const MAX_RATE_LIMIT: u32 = 100_000;

/// A field of an endpoint that was refused, and why.
///
/// # Examples
///
/// ```
/// use repobus_webhooks::endpoint::EndpointSpec;
/// use repobus::subject::Subjects;
///
/// let spec = EndpointSpec {
///     retry_schedule: Some("5s,soon".into()),
///     ..EndpointSpec::new("cdn-purge", "https://hooks.example.com/purge")
/// };
/// let error = spec.build(&Subjects::default()).unwrap_err();
/// assert_eq!(error.field, "retry_schedule");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct EndpointError {
    /// The field, as the HTTP API and the library name it (`url`,
    /// `retry_schedule`, `headers.X-Token`, ...).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl EndpointError {
    pub(crate) fn new(field: impl Into<String>, reason: impl ToString) -> Self {
        EndpointError {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// The body a receiver gets.
///
/// # Examples
///
/// ```
/// use repobus_webhooks::endpoint::Format;
/// assert_eq!("cloudevents".parse::<Format>().unwrap(), Format::CloudEvents);
/// assert_eq!(Format::default(), Format::Wire);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The event's wire body, exactly as stored.
    #[default]
    Wire,
    /// A structured-mode CloudEvents JSON object whose `data` is the body.
    #[serde(rename = "cloudevents")]
    CloudEvents,
    /// `{"text": "<summary line>"}` for Slack, Mattermost and Matrix bridges.
    Text,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "wire" => Ok(Format::Wire),
            "cloudevents" => Ok(Format::CloudEvents),
            "text" => Ok(Format::Text),
            other => Err(format!(
                "{:?} is not a format (wire, cloudevents or text)",
                crate::shorten(other)
            )),
        }
    }
}

/// Why and when an endpoint was disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Disabled {
    /// Why (`410 Gone from ...`, `failing since ...`, `disabled by an operator`).
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A replay in progress: events from `from` on (and before `before`, when
/// given) are delivered again through a consumer of their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Replay {
    /// First event time replayed.
    pub from: DateTime<Utc>,
    /// Events at or after this time are not replayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<DateTime<Utc>>,
    /// When the replay was asked for (names its consumer).
    pub requested: DateTime<Utc>,
}

/// Checks an endpoint ID: Pulp's resource-ID rule, at most 128
/// characters, and usable as a NATS KV key (so no `.` first, last, or
/// twice in a row).
///
/// # Examples
///
/// ```
/// use repobus_webhooks::endpoint::check_id;
/// assert!(check_id("cdn-purge.v2").is_ok());
/// assert!(check_id(".exe").is_err());
/// assert!(check_id("a..b").is_err());
/// ```
pub fn check_id(id: &str) -> Result<ResourceId, String> {
    let resource_id = ResourceId::new(id).map_err(|e| e.to_string())?;
    if id.len() > 128 {
        return Err("longer than 128 characters".to_owned());
    }
    if id.starts_with('.') || id.ends_with('.') || id.contains("..") {
        return Err(format!(
            "{}: a `.` may not come first, last or twice in a row",
            crate::shorten(id)
        ));
    }
    Ok(resource_id)
}

/// A webhook endpoint, as stored in the KV bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Endpoint {
    /// Its ID (resource-ID rules).
    #[schema(value_type = String)]
    pub id: ResourceId,
    /// The target URL (http or https).
    pub url: String,
    /// NATS subject filters of the events it gets (empty: every event).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Pulp criteria filter over the event's record (as `search` uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Value>,
    /// The signing secret (`whsec_...`; shown only on creation).
    #[schema(value_type = String)]
    pub secret: Secret,
    /// Secrets being rotated out: requests are signed with these too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub previous_secrets: Vec<Secret>,
    /// Extra static headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request timeout.
    #[serde(with = "duration_text")]
    #[schema(value_type = String, example = "15s")]
    pub timeout: Duration,
    /// Delays between attempts.
    #[schema(value_type = String, example = "5s,5m,30m,2h,5h,10h,10h")]
    pub retry_schedule: RetrySchedule,
    /// Body format.
    pub format: Format,
    /// Most requests per second, when limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// Deliveries in flight at once (1: in stream order).
    pub concurrency: u32,
    /// Deliver even to loopback, link-local and private addresses.
    #[serde(default)]
    pub allow_private_target: bool,
    /// Set when disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Disabled>,
    /// Since when every attempt has failed (cleared by a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
    /// A replay in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
    /// When it was created.
    pub created: DateTime<Utc>,
}

impl Endpoint {
    /// True unless disabled.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::endpoint::EndpointSpec;
    /// let endpoint = EndpointSpec::new("a", "https://example.com/").build(&Default::default()).unwrap();
    /// assert!(endpoint.is_enabled());
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.disabled.is_none()
    }

    /// The endpoint without its secrets (what listings show).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::endpoint::EndpointSpec;
    /// let endpoint = EndpointSpec::new("a", "https://example.com/").build(&Default::default()).unwrap();
    /// assert!(endpoint.public_view().get("secret").is_none());
    /// ```
    pub fn public_view(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.remove("secret");
            map.remove("previous_secrets");
        }
        value
    }

    /// The parsed criteria filter, when there is one.
    pub(crate) fn criteria(&self) -> Option<Filter> {
        self.filters
            .as_ref()
            .and_then(|f| Filter::from_json(f).ok())
    }

    /// Applies `patch`, checking every field it changes.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::endpoint::{EndpointPatch, EndpointSpec};
    /// let subjects = Default::default();
    /// let mut endpoint = EndpointSpec::new("a", "https://example.com/").build(&subjects).unwrap();
    /// endpoint.apply(EndpointPatch { timeout: Some("2s".into()), ..Default::default() }, &subjects).unwrap();
    /// assert_eq!(endpoint.timeout.as_secs(), 2);
    /// ```
    pub fn apply(
        &mut self,
        patch: EndpointPatch,
        subjects: &Subjects,
    ) -> Result<(), EndpointError> {
        let mut next = self.clone();
        if let Some(allow) = patch.allow_private_target {
            next.allow_private_target = allow;
        }
        if let Some(url) = patch.url {
            next.url = url;
        }
        check_url(&next.url, next.allow_private_target)
            .map_err(|e| EndpointError::new("url", e))?;
        if let Some(list) = patch.subjects {
            next.subjects = check_subjects(list, subjects)?;
        }
        if let Some(filters) = patch.filters {
            next.filters = check_filters(filters)?;
        }
        if let Some(secret) = patch.secret {
            let secret = parse_secret(&secret)?;
            if secret != next.secret {
                let old = std::mem::replace(&mut next.secret, secret);
                next.previous_secrets.insert(0, old);
                next.previous_secrets.truncate(2);
            }
        }
        if patch.drop_previous_secrets == Some(true) {
            next.previous_secrets.clear();
        }
        if let Some(headers) = patch.headers {
            next.headers = check_headers(headers)?;
        }
        if let Some(timeout) = patch.timeout {
            next.timeout = parse_timeout(&timeout)?;
        }
        if let Some(schedule) = patch.retry_schedule {
            next.retry_schedule = schedule
                .parse()
                .map_err(|e| EndpointError::new("retry_schedule", e))?;
        }
        if let Some(format) = patch.format {
            next.format = format
                .parse()
                .map_err(|e| EndpointError::new("format", e))?;
        }
        if let Some(rate) = patch.rate_limit {
            next.rate_limit = check_rate_limit(rate)?;
        }
        if let Some(n) = patch.concurrency {
            next.concurrency = check_concurrency(n)?;
        }
        match patch.enabled {
            Some(true) => {
                next.disabled = None;
                next.failing_since = None;
            }
            Some(false) if next.disabled.is_none() => {
                next.disabled = Some(Disabled {
                    reason: "disabled by an operator".into(),
                    at: Utc::now(),
                });
            }
            _ => {}
        }
        *self = next;
        Ok(())
    }
}

/// What a new endpoint is made of: every field but the ID and URL is
/// optional, and checked by [`EndpointSpec::build`].
///
/// # Examples
///
/// ```
/// use repobus_webhooks::endpoint::{EndpointSpec, Format};
/// use repobus::subject::Subjects;
///
/// let endpoint = EndpointSpec {
///     subjects: vec!["repobus.repo.sync.finished.>".into()],
///     filters: Some(serde_json::json!({"result": "failed"})),
///     format: Some("text".into()),
///     ..EndpointSpec::new("sync-failures", "https://chat.example.com/hooks/abc")
/// }
/// .build(&Subjects::default())?;
/// assert_eq!(endpoint.format, Format::Text);
/// assert_eq!(endpoint.timeout.as_secs(), 15);
/// assert_eq!(endpoint.concurrency, 1);
/// # Ok::<(), repobus_webhooks::endpoint::EndpointError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    /// ID (resource-ID rules: letters, digits, `_`, `.`, `-`; at most 128
    /// characters; a `.` only between other characters, never two in a
    /// row, as the ID is a NATS KV key).
    #[schema(
        pattern = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        min_length = 1,
        max_length = 128
    )]
    pub id: String,
    /// Target URL.
    pub url: String,
    /// NATS subject filters under the bus's prefix (default: every event).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// A Pulp criteria filter (mongo syntax, as `search --filters`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Value>,
    /// `whsec_...` secret (default: generated).
    #[serde(default)]
    pub secret: Option<String>,
    /// Extra static headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request timeout like `15s` (default 15 s).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Retry delays like `5s,5m,30m` (default Svix's).
    #[serde(default)]
    pub retry_schedule: Option<String>,
    /// `wire` (default), `cloudevents` or `text`.
    #[serde(default)]
    pub format: Option<String>,
    /// Most requests per second.
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// Deliveries in flight at once (default 1: in order).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Allow loopback, link-local and private targets for this endpoint.
    #[serde(default)]
    pub allow_private_target: bool,
}

impl EndpointSpec {
    /// A spec with every optional field at its default.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::endpoint::EndpointSpec;
    /// let spec = EndpointSpec::new("cdn-purge", "https://hooks.example.com/purge");
    /// assert!(spec.secret.is_none());
    /// ```
    pub fn new(id: impl Into<String>, url: impl Into<String>) -> Self {
        EndpointSpec {
            id: id.into(),
            url: url.into(),
            ..Default::default()
        }
    }

    /// Checks every field and builds the endpoint (generating the secret
    /// when none is given). `subjects` is the bus's, whose prefix every
    /// subject filter must be under.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::endpoint::EndpointSpec;
    ///
    /// let error = EndpointSpec::new("metadata", "http://169.254.169.254/")
    ///     .build(&Default::default())
    ///     .unwrap_err();
    /// assert_eq!(error.field, "url");
    /// ```
    pub fn build(self, subjects: &Subjects) -> Result<Endpoint, EndpointError> {
        self.build_allowing(subjects, false)
    }

    /// [`EndpointSpec::build`], accepting loopback, link-local and private
    /// targets when `allow_private_targets` (a relay or service that
    /// allows them for every endpoint).
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus_webhooks::endpoint::EndpointSpec;
    /// let spec = EndpointSpec::new("local", "http://127.0.0.1:9000/hook");
    /// assert!(spec.clone().build_allowing(&Default::default(), true).is_ok());
    /// assert!(spec.build(&Default::default()).is_err());
    /// ```
    pub fn build_allowing(
        self,
        subjects: &Subjects,
        allow_private_targets: bool,
    ) -> Result<Endpoint, EndpointError> {
        let id = check_id(&self.id).map_err(|e| EndpointError::new("id", e))?;
        check_url(
            &self.url,
            self.allow_private_target || allow_private_targets,
        )
        .map_err(|e| EndpointError::new("url", e))?;
        let secret = match &self.secret {
            Some(s) => parse_secret(s)?,
            None => Secret::generate(),
        };
        Ok(Endpoint {
            id,
            url: self.url,
            subjects: check_subjects(self.subjects, subjects)?,
            filters: check_filters(self.filters.unwrap_or(Value::Null))?,
            secret,
            previous_secrets: Vec::new(),
            headers: check_headers(self.headers)?,
            timeout: match &self.timeout {
                Some(t) => parse_timeout(t)?,
                None => DEFAULT_TIMEOUT,
            },
            retry_schedule: match &self.retry_schedule {
                Some(s) => s
                    .parse()
                    .map_err(|e| EndpointError::new("retry_schedule", e))?,
                None => RetrySchedule::default(),
            },
            format: match &self.format {
                Some(f) => f.parse().map_err(|e| EndpointError::new("format", e))?,
                None => Format::default(),
            },
            rate_limit: match self.rate_limit {
                Some(r) => check_rate_limit(r)?,
                None => None,
            },
            concurrency: check_concurrency(self.concurrency.unwrap_or(1))?,
            allow_private_target: self.allow_private_target,
            disabled: None,
            failing_since: None,
            replay: None,
            created: Utc::now(),
        })
    }
}

/// Changes to an endpoint: each field given replaces the stored one.
/// A new `secret` keeps the old one valid too (signatures carry both)
/// until `drop_previous_secrets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    /// New URL.
    #[serde(default)]
    pub url: Option<String>,
    /// New subject filters.
    #[serde(default)]
    pub subjects: Option<Vec<String>>,
    /// New criteria filter (`null` removes it).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Value>,
    /// New secret (rotation).
    #[serde(default)]
    pub secret: Option<String>,
    /// Stop signing with rotated-out secrets.
    #[serde(default)]
    pub drop_previous_secrets: Option<bool>,
    /// New headers.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// New timeout.
    #[serde(default)]
    pub timeout: Option<String>,
    /// New retry schedule.
    #[serde(default)]
    pub retry_schedule: Option<String>,
    /// New format.
    #[serde(default)]
    pub format: Option<String>,
    /// New rate limit (0 removes it).
    #[serde(default)]
    pub rate_limit: Option<u32>,
    /// New concurrency.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Allow private targets.
    #[serde(default)]
    pub allow_private_target: Option<bool>,
    /// Enable (clearing the disabled reason) or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
}

fn parse_secret(text: &str) -> Result<Secret, EndpointError> {
    text.parse().map_err(|e| EndpointError::new("secret", e))
}

fn parse_timeout(text: &str) -> Result<Duration, EndpointError> {
    let d = parse_duration(text).map_err(|e| EndpointError::new("timeout", e))?;
    if !(MIN_TIMEOUT..=MAX_TIMEOUT).contains(&d) {
        return Err(EndpointError::new(
            "timeout",
            format!("{text} is outside 10ms..5m"),
        ));
    }
    Ok(d)
}

fn check_rate_limit(n: u32) -> Result<Option<u32>, EndpointError> {
    match n {
        0 => Ok(None),
        n if n > MAX_RATE_LIMIT => Err(EndpointError::new(
            "rate_limit",
            format!("{n} is more than {MAX_RATE_LIMIT} requests per second"),
        )),
        n => Ok(Some(n)),
    }
}

fn check_concurrency(n: u32) -> Result<u32, EndpointError> {
    if n == 0 || n > MAX_CONCURRENCY {
        return Err(EndpointError::new(
            "concurrency",
            format!("{n} is outside 1..{MAX_CONCURRENCY}"),
        ));
    }
    Ok(n)
}

fn check_filters(filters: Value) -> Result<Option<Value>, EndpointError> {
    if filters.is_null() {
        return Ok(None);
    }
    Filter::from_json(&filters).map_err(|e| EndpointError::new("filters", e))?;
    Ok(Some(filters))
}

/// Each filter must be a valid NATS subject filter under the bus's event
/// subjects (`<prefix>.repo.…`, `<prefix>.build.…` or `<prefix>.>`).
fn check_subjects(list: Vec<String>, subjects: &Subjects) -> Result<Vec<String>, EndpointError> {
    let prefix = subjects.prefix();
    for (i, s) in list.iter().enumerate() {
        let field = format!("subjects[{i}]");
        let tokens: Vec<&str> = s.split('.').collect();
        if s.is_empty()
            || tokens.iter().any(|t| {
                t.is_empty()
                    || t.bytes()
                        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
            })
        {
            return Err(EndpointError::new(
                field,
                format!("{:?} is not a NATS subject filter", crate::shorten(s)),
            ));
        }
        if let Some(pos) = tokens.iter().position(|t| t.contains('>')) {
            if tokens[pos] != ">" || pos + 1 != tokens.len() {
                return Err(EndpointError::new(
                    field,
                    format!(
                        "{:?}: '>' may only be the whole last token",
                        crate::shorten(s)
                    ),
                ));
            }
        }
        if tokens.iter().any(|t| t.contains('*') && *t != "*") {
            return Err(EndpointError::new(
                field,
                format!("{:?}: '*' must be a whole token", crate::shorten(s)),
            ));
        }
        let under = s == &format!("{prefix}.>")
            || s.starts_with(&format!("{prefix}.repo."))
            || s.starts_with(&format!("{prefix}.build."))
            || s.starts_with(&format!("{prefix}.*."));
        if !under {
            return Err(EndpointError::new(
                field,
                format!(
                    "{:?} is not under the event subjects {prefix}.repo.> and {prefix}.build.>",
                    crate::shorten(s)
                ),
            ));
        }
    }
    Ok(list)
}

const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
];

fn check_headers(
    headers: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, EndpointError> {
    for (name, value) in &headers {
        let field = format!("headers.{}", crate::shorten(name));
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(EndpointError::new(field, "not a valid HTTP header name"));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str())
            || lower.starts_with("webhook-")
            || lower.starts_with("ce-")
        {
            return Err(EndpointError::new(
                field,
                "set by the relay itself (content-type, user-agent, webhook-*, ce-*, ...)",
            ));
        }
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(EndpointError::new(
                field,
                "the value holds control characters",
            ));
        }
        if http::HeaderValue::from_str(value).is_err() {
            return Err(EndpointError::new(field, "not a valid header value"));
        }
    }
    Ok(headers)
}
