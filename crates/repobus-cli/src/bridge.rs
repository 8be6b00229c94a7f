//! `repobus bridge amqp-in|amqp-out`: the fedora-messaging bridge, over
//! the `repobus-amqp` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use repobus::bus::Deliver;
use repobus::history::pushed_down_subject;
use repobus_amqp::inbound::{Inbound, InboundConfig, QueueSource};
use repobus_amqp::outbound::{Outbound, OutboundConfig};
use repobus_amqp::{AmqpConfig, BridgeError};

use super::criteria_args::CriteriaArgs;
use super::nats::NatsArgs;
use crate::error::CliError;

/// The bridge's directions.
#[derive(Debug, Subcommand)]
pub enum BridgeCommand {
    /// AMQP (fedora-messaging) to repobus: consume a queue, store each
    /// message as a typed event (ce-id = the AMQP message_id).
    AmqpIn(Box<InArgs>),
    /// repobus to AMQP: publish events as fedora-messaging's publisher does,
    /// acknowledging NATS after the broker's confirm.
    AmqpOut(Box<OutArgs>),
}

/// How to reach the broker.
#[derive(Debug, Args)]
pub struct AmqpArgs {
    /// Broker URL, amqp:// or amqps:// (user, password, host, port, vhost).
    #[arg(long, env = "REPOBUS_AMQP_URL", hide_env_values = true)]
    amqp_url: String,
    /// CA certificate (PEM) to verify an amqps:// broker.
    #[arg(long)]
    amqp_ca: Option<PathBuf>,
    /// Client certificate (PEM), with --amqp-key.
    #[arg(long, requires = "amqp_key")]
    amqp_cert: Option<PathBuf>,
    /// Client private key (PEM, PKCS#8), with --amqp-cert.
    #[arg(long, requires = "amqp_cert")]
    amqp_key: Option<PathBuf>,
    /// The exchange.
    #[arg(long, default_value = "amq.topic")]
    exchange: String,
    /// ce-source of events from this broker (default: the URL without
    /// credentials, e.g. amqps://rabbitmq.fedoraproject.org/%2Fpublic_pubsub).
    /// amqp-out does not send back events with this source.
    #[arg(long)]
    source: Option<String>,
}

impl AmqpArgs {
    fn config(&self) -> AmqpConfig {
        AmqpConfig {
            ca: self.amqp_ca.clone(),
            cert: self.amqp_cert.clone(),
            key: self.amqp_key.clone(),
            ..AmqpConfig::new(self.amqp_url.clone())
        }
    }
}

/// `bridge amqp-in`.
#[derive(Debug, Args)]
pub struct InArgs {
    #[command(flatten)]
    amqp: AmqpArgs,
    /// Routing-key pattern to bind the queue to (repeatable), e.g.
    /// 'org.fedoraproject.prod.copr.#'. Without --topic, --queue must name
    /// an existing queue.
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// The queue: declared (durable) and bound with --topic, or an existing
    /// one (passive) without --topic.
    #[arg(long, required_unless_present = "topics")]
    queue: Option<String>,
    /// basic.qos prefetch: most messages received and not yet stored.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    prefetch: u16,
    /// Reject undecodable messages to this AMQP dead-letter exchange instead
    /// of copying them to repobus's dead-letter stream.
    #[arg(long)]
    dead_letter_exchange: Option<String>,
}

/// `bridge amqp-out`.
#[derive(Debug, Args)]
pub struct OutArgs {
    #[command(flatten)]
    amqp: AmqpArgs,
    /// Routing-key prefix, e.g. org.fedoraproject.prod.
    #[arg(long, default_value = "")]
    topic_prefix: String,
    /// Durable JetStream consumer name: a restarted bridge resumes there.
    #[arg(long, default_value = "repobus-amqp-out")]
    durable: String,
    /// Subject filter (repeatable), e.g. `repobus.repo.*.finished.>`.
    #[arg(long)]
    subject: Vec<String>,
    /// Only events published from now on (default: every stored event,
    /// when the durable consumer is created).
    #[arg(long)]
    new_only: bool,
    /// Publishes of one event before it is dead-lettered.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    #[command(flatten)]
    criteria: CriteriaArgs,
}

fn failed(direction: &str) -> impl FnOnce(BridgeError) -> CliError + '_ {
    move |e| CliError::Io {
        context: direction.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Runs a direction until SIGINT or SIGTERM.
pub async fn run(command: BridgeCommand, nats: NatsArgs) -> Result<ExitCode, CliError> {
    match command {
        BridgeCommand::AmqpIn(args) => {
            let amqp = args.amqp.config();
            amqp.check().map_err(failed("amqp-in"))?;
            let queue = if args.topics.is_empty() {
                QueueSource::Existing(args.queue.clone().unwrap_or_default())
            } else {
                QueueSource::Declare {
                    queue: args
                        .queue
                        .clone()
                        .unwrap_or_else(|| "repobus-amqp-in".into()),
                    exchange: args.amqp.exchange.clone(),
                    topics: args.topics.clone(),
                }
            };
            let mut config = InboundConfig::new(amqp, queue);
            if let Some(source) = &args.amqp.source {
                config.source = source.clone();
            }
            config.prefetch = args.prefetch;
            config.dead_letter_exchange = args.dead_letter_exchange.clone();
            let bus = nats.connect().await?;
            let inbound = Inbound::new(config, bus);
            inbound.declare().await.map_err(failed("amqp-in"))?;
            eprintln!("repobus: amqp-in consuming");
            inbound
                .run(shutdown_signal())
                .await
                .map_err(failed("amqp-in"))?;
        }
        BridgeCommand::AmqpOut(args) => {
            let amqp = args.amqp.config();
            amqp.check().map_err(failed("amqp-out"))?;
            let criteria = args.criteria.criteria()?;
            let bus = nats.connect().await?;
            let mut config = OutboundConfig::new(amqp, args.durable.clone())
                .topic_prefix(args.topic_prefix.clone());
            config.exchange = args.amqp.exchange.clone();
            if let Some(source) = &args.amqp.source {
                config.loop_source = source.clone();
            }
            config.filter_subjects = if args.subject.is_empty() {
                pushed_down_subject(bus.subjects(), &criteria)
                    .into_iter()
                    .collect()
            } else {
                args.subject.clone()
            };
            config.criteria = Some(criteria);
            config.deliver = if args.new_only {
                Deliver::New
            } else {
                Deliver::All
            };
            config.max_attempts = args.max_attempts;
            let outbound = Outbound::new(config, bus);
            outbound.check().await.map_err(failed("amqp-out"))?;
            eprintln!("repobus: amqp-out publishing");
            outbound
                .run(shutdown_signal())
                .await
                .map_err(failed("amqp-out"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
