//! Flags every NATS-using command shares, and the bus configuration they
//! describe. Turning flags into async-nats's `ConnectOptions` is all this
//! does; every decision about streams and windows is the library's
//! ([`repobus::bus::BusConfig`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use repobus::bus::{Bus, BusConfig, DEFAULT_NATS_URL, DEFAULT_STREAM};

use crate::error::CliError;

/// How to reach NATS and name things on it.
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// NATS server URL.
    #[arg(long, env = "REPOBUS_NATS_URL", global = true)]
    pub nats_url: Option<String>,
    /// NATS user (with --nats-password).
    #[arg(long, env = "REPOBUS_NATS_USER", global = true)]
    pub nats_user: Option<String>,
    /// NATS password (with --nats-user).
    #[arg(
        long,
        env = "REPOBUS_NATS_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub nats_password: Option<String>,
    /// NATS token.
    #[arg(
        long,
        env = "REPOBUS_NATS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub nats_token: Option<String>,
    /// NATS credentials file (.creds).
    #[arg(long, env = "REPOBUS_NATS_CREDS", global = true)]
    pub nats_creds: Option<PathBuf>,
    /// CA certificate to verify the NATS server (turns TLS on).
    #[arg(long, env = "REPOBUS_NATS_TLS_CA", global = true)]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate for mutual TLS (with --nats-tls-key).
    #[arg(long, env = "REPOBUS_NATS_TLS_CERT", global = true)]
    pub nats_tls_cert: Option<PathBuf>,
    /// Client key for mutual TLS (with --nats-tls-cert).
    #[arg(long, env = "REPOBUS_NATS_TLS_KEY", global = true)]
    pub nats_tls_key: Option<PathBuf>,
    /// Subject prefix.
    #[arg(long, env = "REPOBUS_PREFIX", default_value = "repobus", global = true)]
    pub prefix: String,
    /// Event stream name (dead letters go to the stream NAME_DLQ).
    #[arg(long, env = "REPOBUS_STREAM", default_value = DEFAULT_STREAM, global = true)]
    pub stream: String,
    /// How long a publish may keep retrying through disconnects, in seconds.
    #[arg(
        long,
        env = "REPOBUS_PUBLISH_DEADLINE",
        default_value_t = 90,
        global = true
    )]
    pub publish_deadline: u64,
    /// Copies of every stream and KV bucket repobus creates (1 to 5; 3 on
    /// a 3-node cluster). An existing stream is changed to this count.
    #[arg(long, env = "REPOBUS_REPLICAS", default_value_t = 1, global = true)]
    pub replicas: usize,
    /// Place streams and buckets in this NATS cluster (JetStream placement).
    #[arg(long, env = "REPOBUS_PLACEMENT_CLUSTER", global = true)]
    pub placement_cluster: Option<String>,
    /// Place streams and buckets on servers with all these server_tags
    /// (comma-separated).
    #[arg(
        long,
        env = "REPOBUS_PLACEMENT_TAGS",
        value_delimiter = ',',
        global = true
    )]
    pub placement_tags: Vec<String>,
}

impl NatsArgs {
    /// The URL to use: the flag, `REPOBUS_NATS_URL`, or the default.
    pub fn url(&self) -> String {
        self.nats_url
            .clone()
            .unwrap_or_else(|| DEFAULT_NATS_URL.to_owned())
    }

    /// The bus configuration these flags describe, with the credentials
    /// and TLS settings as async-nats connect options.
    pub async fn config(&self) -> Result<BusConfig, CliError> {
        let config = BusConfig::new(self.url())
            .prefix(self.prefix.clone())
            .stream(self.stream.clone())
            .publish_deadline(Duration::from_secs(self.publish_deadline))
            .replicas(self.replicas)
            .placement(self.placement_cluster.clone(), self.placement_tags.clone());
        let mut options = config.default_connect_options();
        match (&self.nats_user, &self.nats_password) {
            (Some(user), Some(password)) => {
                options = options.user_and_password(user.clone(), password.clone())
            }
            (None, None) => {}
            _ => {
                return Err(CliError::Flag {
                    flag: "--nats-user/--nats-password",
                    message: "the NATS user and password must be given together".into(),
                })
            }
        }
        if let Some(token) = &self.nats_token {
            options = options.token(token.clone());
        }
        if let Some(path) = &self.nats_creds {
            options = options
                .credentials_file(path)
                .await
                .map_err(CliError::io(format!("credentials file {}", path.display())))?;
        }
        if let Some(ca) = &self.nats_tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        match (&self.nats_tls_cert, &self.nats_tls_key) {
            (Some(cert), Some(key)) => {
                options = options
                    .add_client_certificate(cert.clone(), key.clone())
                    .require_tls(true)
            }
            (None, None) => {}
            _ => {
                return Err(CliError::Flag {
                    flag: "--nats-tls-cert/--nats-tls-key",
                    message: "a TLS client certificate and its key must be given together".into(),
                })
            }
        }
        Ok(config.connect_options(options))
    }

    /// Connects with these flags.
    pub async fn connect(&self) -> Result<Bus, CliError> {
        Ok(Bus::connect(self.config().await?).await?)
    }
}
