//! Reaching the broker: the URL, client certificates, and the errors that
//! name what is wrong.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Connection, ConnectionProperties};

/// Why the bridge cannot run.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The AMQP URL does not parse.
    #[error("bad AMQP URL {url:?}: {reason}")]
    Url {
        /// The URL with its password hidden.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A certificate or key file cannot be read.
    #[error("cannot read {what} {path}: {source}")]
    File {
        /// Which file (`CA certificate`, `client certificate`, `client key`).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A bad combination of settings.
    #[error("{0}")]
    Config(String),
    /// The broker cannot be reached, refused the login, or refused a
    /// declaration.
    #[error("AMQP broker {url}: {action}: {source}")]
    Amqp {
        /// The URL with its password hidden.
        url: String,
        /// What was being done.
        action: &'static str,
        /// lapin's error.
        source: lapin::Error,
    },
    /// NATS could not be set up.
    #[error("NATS: {0}")]
    Nats(String),
}

/// How to reach the broker.
///
/// ```
/// use repobus_amqp::AmqpConfig;
///
/// let config = AmqpConfig::new("amqps://fedora:@rabbitmq.fedoraproject.org/%2Fpublic_pubsub")
///     .ca("/etc/fedora-messaging/cacert.pem")
///     .client_cert("/etc/fedora-messaging/fedora-cert.pem", "/etc/fedora-messaging/fedora-key.pem");
/// assert_eq!(config.source(), "amqps://rabbitmq.fedoraproject.org/%2Fpublic_pubsub");
/// ```
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// `amqp://` or `amqps://` URL (user, password, host, port, vhost).
    pub url: String,
    /// CA certificate(s) in PEM to verify the broker (amqps).
    pub ca: Option<PathBuf>,
    /// Client certificate in PEM (with `key`).
    pub cert: Option<PathBuf>,
    /// Client private key in PEM, PKCS#8 (with `cert`).
    pub key: Option<PathBuf>,
    /// How long connecting may take.
    pub connect_timeout: Duration,
}

impl AmqpConfig {
    /// A configuration for `url` without client certificates.
    pub fn new(url: impl Into<String>) -> Self {
        AmqpConfig {
            url: url.into(),
            ca: None,
            cert: None,
            key: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Verifies the broker with this CA file.
    pub fn ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(path.into());
        self
    }

    /// Authenticates with this client certificate and key.
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.cert = Some(cert.into());
        self.key = Some(key.into());
        self
    }

    /// The URL without user, password or query: it names the broker and
    /// vhost (the default `ce-source` of bridged events). A URL without a
    /// vhost names the default vhost `/` as `%2F`.
    pub fn source(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(u) => {
                let host = u.host_str().unwrap_or("localhost");
                let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                let vhost = u.path().trim_start_matches('/');
                let vhost = if vhost.is_empty() { "%2F" } else { vhost };
                format!("{}://{host}{port}/{vhost}", u.scheme())
            }
            Err(_) => "amqp://invalid".to_owned(),
        }
    }

    /// The URL with its password replaced by `***`, for messages.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                u.to_string()
            }
            Err(_) => "<unparsable URL>".to_owned(),
        }
    }

    /// Checks the URL and reads the certificate files: what can be wrong
    /// before the network is touched.
    ///
    /// ```
    /// use repobus_amqp::AmqpConfig;
    ///
    /// let err = AmqpConfig::new("http://localhost").check().unwrap_err();
    /// assert!(err.to_string().contains("amqp:// or amqps://"), "{err}");
    /// let err = AmqpConfig::new("amqps://localhost").ca("/nonexistent/ca.pem").check().unwrap_err();
    /// assert!(err.to_string().contains("CA certificate /nonexistent/ca.pem"), "{err}");
    /// ```
    pub fn check(&self) -> Result<Option<OwnedTLSConfig>, BridgeError> {
        let bad = |reason: &str| BridgeError::Url {
            url: self.redacted_url(),
            reason: reason.to_owned(),
        };
        let parsed = url::Url::parse(&self.url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "amqp" | "amqps") {
            return Err(bad("the scheme must be amqp:// or amqps://"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        self.url
            .parse::<lapin::uri::AMQPUri>()
            .map_err(|e| bad(&e))?;
        if self.cert.is_some() != self.key.is_some() {
            return Err(BridgeError::Config(
                "a client certificate needs both --amqp-cert and --amqp-key".into(),
            ));
        }
        let read = |what: &'static str, path: &Path| {
            std::fs::read(path).map_err(|source| BridgeError::File {
                what,
                path: path.to_owned(),
                source,
            })
        };
        let ca = match &self.ca {
            Some(p) => Some(String::from_utf8(read("CA certificate", p)?).map_err(|_| {
                BridgeError::Config(format!("CA certificate {} is not PEM text", p.display()))
            })?),
            None => None,
        };
        let identity = match (&self.cert, &self.key) {
            (Some(c), Some(k)) => Some(OwnedIdentity::PKCS8 {
                pem: read("client certificate", c)?,
                key: read("client key", k)?,
            }),
            _ => None,
        };
        if (ca.is_some() || identity.is_some()) && parsed.scheme() != "amqps" {
            return Err(bad(
                "certificates are given but the URL is not amqps:// (TLS)",
            ));
        }
        Ok(if ca.is_some() || identity.is_some() {
            Some(OwnedTLSConfig {
                identity,
                cert_chain: ca,
            })
        } else {
            None
        })
    }

    /// Connects (checking everything first).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), repobus_amqp::BridgeError> {
    /// let connection = repobus_amqp::AmqpConfig::new("amqp://guest:guest@localhost:5672/%2F").connect().await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(&self) -> Result<Connection, BridgeError> {
        let tls = self.check()?;
        let amqp = |source| BridgeError::Amqp {
            url: self.redacted_url(),
            action: "connecting",
            source,
        };
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("repobus-amqp {}", env!("CARGO_PKG_VERSION")).into());
        let connect = async {
            match tls {
                Some(tls) => {
                    let runtime = lapin::runtime::default_runtime().map_err(amqp)?;
                    Connection::connect_with_config(&self.url, properties, tls, runtime)
                        .await
                        .map_err(amqp)
                }
                None => Connection::connect(&self.url, properties)
                    .await
                    .map_err(amqp),
            }
        };
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(result) => result,
            Err(_) => Err(BridgeError::Config(format!(
                "AMQP broker {}: no connection within {:?}",
                self.redacted_url(),
                self.connect_timeout
            ))),
        }
    }
}

/// Exponential backoff between reconnects.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first delay.
    pub min: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(200),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    pub(crate) fn next(&self, current: Duration) -> Duration {
        (current * 2).clamp(self.min, self.max)
    }
}
