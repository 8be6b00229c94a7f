//! `repobus serve`: the HTTP ingest service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use repobus::bus::Bus;
use repobus_local::{LocalNats, LocalNatsOptions};
use repobus_service::{ServiceConfig, DEFAULT_BODY_LIMIT};
use tokio::sync::Mutex;

use super::nats::NatsArgs;
use crate::error::CliError;
use crate::systemd;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REPOBUS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Require `Authorization: Bearer <TOKEN>` on /v1/events.
    #[arg(long, env = "REPOBUS_BEARER_TOKEN", hide_env_values = true)]
    bearer_token: Option<String>,
    /// Require this basic-auth user on /v1/pulp2 (with --pulp2-password).
    #[arg(long, env = "REPOBUS_PULP2_USER", requires = "pulp2_password")]
    pulp2_user: Option<String>,
    /// Password for --pulp2-user.
    #[arg(
        long,
        env = "REPOBUS_PULP2_PASSWORD",
        hide_env_values = true,
        requires = "pulp2_user"
    )]
    pulp2_password: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "REPOBUS_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// `ce-source` of the events this service publishes.
    #[arg(long, env = "REPOBUS_SOURCE")]
    source: Option<String>,
    /// Discard events older than this many seconds (default: keep forever).
    #[arg(long, env = "REPOBUS_MAX_AGE")]
    max_age: Option<u64>,
    /// Keep at most this many bytes of events, discarding the oldest.
    #[arg(long, env = "REPOBUS_MAX_BYTES")]
    max_bytes: Option<i64>,
    /// Keep at most this many events, discarding the oldest.
    #[arg(long, env = "REPOBUS_MAX_MESSAGES")]
    max_messages: Option<i64>,
    /// Require this token (`Authorization: Bearer`, or `?access_token=`) to
    /// read: the dashboard's data, /v1/events, /v1/stream. Separate from
    /// --bearer-token, which guards ingest only.
    #[arg(long, env = "REPOBUS_READ_TOKEN", hide_env_values = true)]
    read_token: Option<String>,
    /// Accept HTTP basic auth `USER:PASS` to read (what a browser asks for).
    #[arg(long, env = "REPOBUS_READ_BASIC_AUTH", hide_env_values = true, value_name = "USER:PASS", value_parser = parse_user_pass)]
    read_basic_auth: Option<(String, String)>,
    /// Serve everything under this path prefix (behind a reverse proxy),
    /// e.g. `/repobus`.
    #[arg(long, env = "REPOBUS_BASE_PATH", default_value = "", value_parser = parse_base_path)]
    base_path: String,
    /// Where the local nats-server keeps its data when repobus starts one.
    #[arg(long, env = "REPOBUS_DATA_DIR", default_value = ".repobus")]
    data_dir: PathBuf,
    /// Do not run the webhook relay in this process.
    #[arg(long, env = "REPOBUS_NO_RELAY")]
    no_relay: bool,
    /// Close a connection whose client has read nothing for this long
    /// (a stalled live stream); a slow reader is not affected. 0: never.
    #[arg(long, env = "REPOBUS_WRITE_TIMEOUT", default_value = "30s", value_parser = crate::run::parse_duration)]
    write_timeout: std::time::Duration,
    /// How often the consumers' lag is read into the metrics
    /// (`repobus_consumer_num_pending`, `..._num_ack_pending`).
    #[arg(long, env = "REPOBUS_LAG_INTERVAL", default_value = "15s", value_parser = crate::run::parse_interval)]
    lag_interval: std::time::Duration,
    #[command(flatten)]
    relay: crate::relay::RelayArgs,
}

pub async fn run(args: ServeArgs, nats: NatsArgs) -> Result<ExitCode, CliError> {
    let local = if nats.nats_url.is_none() && !something_listens_on_4222().await {
        let dir = args.data_dir.join("nats");
        let mut options = LocalNatsOptions::new(&dir);
        options.port = Some(4222);
        let server = LocalNats::start(options).await?;
        tracing::info!(
            url = %server.url(),
            data = %dir.display(),
            log = %server.log_path().display(),
            "no NATS URL given and nothing listening on localhost:4222: started a local nats-server -js"
        );
        Some(Arc::new(Mutex::new(server)))
    } else {
        None
    };
    if let Some(server) = &local {
        tokio::spawn(supervise(server.clone()));
    }
    let mut config = nats.config().await?;
    if let Some(source) = args.source {
        config = config.source(source);
    }
    if let Some(age) = args.max_age {
        config = config.max_age(Duration::from_secs(age));
    }
    if let Some(bytes) = args.max_bytes {
        config = config.max_bytes(bytes);
    }
    if let Some(messages) = args.max_messages {
        config = config.max_messages(messages);
    }
    let relay_options = args.relay.options()?;
    let bus = Bus::connect(config).await?;
    if !args.no_relay {
        crate::relay::spawn_in_serve(&bus, relay_options);
    }
    tracing::info!(nats = %bus.config().nats_url(), stream = %bus.config().stream_name(), "connected");
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(CliError::io(format!("cannot listen on {}", args.listen)))?;
    tracing::info!(listen = %args.listen, "repobus ingest API ready: POST /v1/events/{{type}}, POST /v1/pulp2, GET /v1/events, /healthz, /readyz, /metrics, /openapi.json; dashboard at {}/", args.base_path);
    let (addr, c) = (listener.local_addr().unwrap_or(args.listen), bus.config());
    systemd::ready(&format!(
        "serving on {addr}, NATS {}, stream {}",
        c.nats_url(),
        c.stream_name()
    ));
    let watchdog_bus = bus.clone();
    let _watchdog = systemd::spawn_watchdog(move || {
        let bus = watchdog_bus.clone();
        async move { bus.is_ready().await }
    });
    // repobus_consumer_num_pending / _num_ack_pending on /metrics.
    let lag = repobus_service::metrics::spawn_consumer_lag(bus.clone(), args.lag_interval);
    let service_config = ServiceConfig {
        body_limit: args.body_limit,
        bearer_token: args.bearer_token,
        pulp2_basic_auth: args.pulp2_user.zip(args.pulp2_password),
        read_token: args.read_token,
        read_basic_auth: args.read_basic_auth,
        base_path: args.base_path,
        webhooks_allow_private_targets: args.relay.allow_private_targets,
        write_timeout: args.write_timeout,
        ..ServiceConfig::default()
    };
    repobus_service::serve(listener, bus.publisher(), service_config, shutdown_signal())
        .await
        .map_err(CliError::io("HTTP server"))?;
    lag.abort();
    tracing::info!("stopped accepting; every accepted event is flushed");
    if let Some(server) = local {
        server.lock().await.stop();
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_user_pass(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
            Ok((user.to_owned(), pass.to_owned()))
        }
        _ => Err("expected USER:PASS with a non-empty user and password".to_owned()),
    }
}

fn parse_base_path(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    let ok = text.starts_with('/')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
        && !text.split('/').any(|seg| seg == ".." || seg == ".");
    if ok {
        Ok(text.trim_end_matches('/').to_owned())
    } else {
        Err("expected a path such as /repobus (letters, digits, - _ . ~ and /)".to_owned())
    }
}

async fn something_listens_on_4222() -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(("127.0.0.1", 4222))
        )
        .await,
        Ok(Ok(_))
    )
}

/// Restarts the local server if it dies.
async fn supervise(server: Arc<Mutex<LocalNats>>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        interval.tick().await;
        let mut server = server.lock().await;
        if server.is_stopped() {
            return;
        }
        if !server.is_running() {
            tracing::error!("the local nats-server exited; restarting it");
            if let Err(e) = server.restart().await {
                tracing::error!(error = %e, "could not restart the local nats-server");
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing requests in progress");
    systemd::stopping();
}
