//! Flags every NATS-using command shares.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use repobus::bus::{Bus, BusConfig, NatsAuth, DEFAULT_NATS_URL};

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
    /// Event stream name.
    #[arg(long, env = "REPOBUS_STREAM", default_value = "REPOBUS", global = true)]
    pub stream: String,
    /// How long a publish may keep retrying through disconnects, in seconds.
    #[arg(
        long,
        env = "REPOBUS_PUBLISH_DEADLINE",
        default_value_t = 90,
        global = true
    )]
    pub publish_deadline: u64,
}

impl NatsArgs {
    /// The URL to use: the flag, `REPOBUS_NATS_URL`, or the default.
    pub fn url(&self) -> String {
        self.nats_url
            .clone()
            .unwrap_or_else(|| DEFAULT_NATS_URL.to_owned())
    }

    /// The bus configuration these flags describe.
    pub fn config(&self) -> BusConfig {
        let mut config = BusConfig::new(self.url());
        config.auth = NatsAuth {
            user: self.nats_user.clone(),
            password: self.nats_password.clone(),
            token: self.nats_token.clone(),
            credentials_file: self.nats_creds.clone(),
            tls_ca: self.nats_tls_ca.clone(),
            tls_cert: self.nats_tls_cert.clone(),
            tls_key: self.nats_tls_key.clone(),
            require_tls: false,
        };
        config.prefix = self.prefix.clone();
        config.stream = self.stream.clone();
        config.dead_letter_stream = format!("{}_DLQ", self.stream);
        config.publish_deadline = Duration::from_secs(self.publish_deadline);
        config.duplicate_window = config.duplicate_window.max(config.publish_deadline);
        config
    }

    /// Connects with these flags.
    pub async fn connect(&self) -> Result<Bus, String> {
        self.connect_with(self.config()).await
    }

    /// Connects with a configuration derived from these flags.
    pub async fn connect_with(&self, config: BusConfig) -> Result<Bus, String> {
        Bus::connect(config).await.map_err(|e| e.to_string())
    }
}
