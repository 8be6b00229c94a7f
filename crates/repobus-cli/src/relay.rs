//! `repobus relay`: the webhook relay alone (it also runs inside `repobus
//! serve`). Several may run at once: they share the work.

use std::process::ExitCode;

use clap::Args;
use repobus_webhooks::relay::{Relay, RelayOptions};

use super::nats::NatsArgs;
use crate::error::CliError;

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Deliver to loopback, link-local and private addresses for every endpoint.
    #[arg(long, env = "REPOBUS_ALLOW_PRIVATE_TARGETS")]
    pub allow_private_targets: bool,
    /// Disable an endpoint whose attempts have all failed for this long (e.g. 5d, 12h).
    #[arg(long, env = "REPOBUS_WEBHOOK_DISABLE_AFTER", default_value = "5d")]
    pub disable_after: String,
    /// How long an ordered endpoint's lease lasts unless renewed: a relay
    /// that dies hands its ordered endpoints to another within this and a
    /// third of it (whole seconds, e.g. 10s).
    #[arg(long, env = "REPOBUS_WEBHOOK_LEASE_TTL", default_value = "10s")]
    pub lease_ttl: String,
}

impl RelayArgs {
    /// The relay options, or a usage error naming the flag.
    pub fn options(&self) -> Result<RelayOptions, CliError> {
        let disable_after = repobus_webhooks::schedule::parse_duration(&self.disable_after)
            .map_err(|e| CliError::Flag {
                flag: "--disable-after",
                message: e.to_string(),
            })?;
        let lease_ttl = repobus_webhooks::schedule::parse_duration(&self.lease_ttl)
            .ok()
            .filter(|d| d.as_secs() >= 1)
            .ok_or_else(|| CliError::Flag {
                flag: "--lease-ttl",
                message: format!("{:?} is not a duration of at least 1s", self.lease_ttl),
            })?;
        Ok(RelayOptions {
            allow_private_targets: self.allow_private_targets,
            disable_after,
            lease_ttl,
        })
    }
}

pub async fn run(args: RelayArgs, nats: NatsArgs) -> Result<ExitCode, CliError> {
    let options = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("repobus: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let bus = nats.connect().await?;
    let relay = Relay::new(&bus, options)
        .await
        .map_err(|e| CliError::Flag {
            flag: "relay",
            message: e.to_string(),
        })?;
    tracing::info!(nats = %bus.config().nats_url(), "webhook relay running");
    relay
        .run(async {
            let term = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = term => {}
            }
        })
        .await
        .map_err(|e| CliError::Flag {
            flag: "relay",
            message: e.to_string(),
        })?;
    Ok(ExitCode::SUCCESS)
}

/// Starts the relay inside `repobus serve`: logs and keeps serving when
/// it cannot start.
pub fn spawn_in_serve(bus: &repobus::bus::Bus, options: RelayOptions) {
    let bus = bus.clone();
    tokio::spawn(async move {
        match Relay::new(&bus, options).await {
            Ok(relay) => {
                tracing::info!("webhook relay running");
                if let Err(e) = relay.run(std::future::pending()).await {
                    tracing::error!(error = %e, "webhook relay stopped");
                }
            }
            Err(e) => tracing::error!(error = %e, "webhook relay could not start"),
        }
    });
}
