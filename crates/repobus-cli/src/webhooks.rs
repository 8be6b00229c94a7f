//! `repobus webhooks`: manage webhook endpoints (a thin layer over
//! `repobus_webhooks::store`). A refused field exits 2 naming it; a
//! missing endpoint or a NATS failure exits 1.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use repobus_webhooks::attempts::AttemptLog;
use repobus_webhooks::endpoint::{EndpointError, EndpointSpec};
use repobus_webhooks::store::{StoreError, WebhookStore};

use super::nats::NatsArgs;
use crate::error::{print_line, CliError};

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint; prints it as JSON with its signing secret (shown only this once).
    Add(AddArgs),
    /// List endpoints, one JSON line each (without secrets).
    List,
    /// Show one endpoint as JSON (without its secret).
    Show {
        /// Endpoint ID.
        id: String,
    },
    /// Remove an endpoint and its delivery state.
    Remove {
        /// Endpoint ID.
        id: String,
    },
    /// Enable an endpoint: delivery resumes where it stopped.
    Enable {
        /// Endpoint ID.
        id: String,
    },
    /// Disable an endpoint (events keep waiting for it).
    Disable {
        /// Endpoint ID.
        id: String,
        /// Why (shown in its state).
        #[arg(long, default_value = "disabled by an operator")]
        reason: String,
    },
    /// Deliver past events to one endpoint again.
    Replay(ReplayArgs),
    /// Print the endpoint's recent delivery attempts, one JSON line each.
    Attempts {
        /// Endpoint ID.
        id: String,
        /// At most this many (the latest).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Only the dead letters (events whose retry schedule ran out).
        #[arg(long)]
        dead_letters: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Endpoint ID (letters, digits, `_`, `.`, `-`).
    id: String,
    /// Target URL (http or https).
    url: String,
    /// NATS subject filter, e.g. `repobus.repo.*.finished.>` (repeatable; default every event).
    #[arg(long = "subject", value_name = "FILTER")]
    subjects: Vec<String>,
    /// Pulp criteria filter as JSON (mongo syntax, as `search --filters`).
    #[arg(long, value_name = "JSON")]
    filters: Option<String>,
    /// Signing secret `whsec_<base64>` (default: generated).
    #[arg(long)]
    secret: Option<String>,
    /// Body format: wire (default), cloudevents or text.
    #[arg(long)]
    format: Option<String>,
    /// Delays between attempts, e.g. 5s,5m,30m (default Svix's 5s,5m,30m,2h,5h,10h,10h).
    #[arg(long)]
    retry_schedule: Option<String>,
    /// Request timeout, e.g. 15s.
    #[arg(long)]
    timeout: Option<String>,
    /// Most requests per second.
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Extra header `Name:Value` (repeatable).
    #[arg(long = "header", value_name = "K:V")]
    headers: Vec<String>,
    /// Allow a loopback, link-local or private target for this endpoint.
    #[arg(long)]
    allow_private_target: bool,
    /// Deliveries in flight at once (default 1: in stream order).
    #[arg(long)]
    concurrency: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Endpoint ID.
    id: String,
    /// Replay the last DURATION (ISO 8601, e.g. PT6H, P1D).
    #[arg(long, conflicts_with = "after")]
    since: Option<String>,
    /// Replay events at or after this UTC date-time.
    #[arg(long)]
    after: Option<String>,
    /// Only events before this UTC date-time.
    #[arg(long)]
    before: Option<String>,
}

/// Prints `error` and returns exit 2 for a refused field, 1 otherwise.
fn failed(error: StoreError) -> Result<ExitCode, CliError> {
    eprintln!("repobus: {error}");
    Ok(match error {
        StoreError::Invalid(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    })
}

fn usage(field: &str, reason: impl ToString) -> Result<ExitCode, CliError> {
    failed(StoreError::Invalid(EndpointError {
        field: field.to_owned(),
        reason: reason.to_string(),
    }))
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub async fn run(command: WebhooksCommand, nats: NatsArgs) -> Result<ExitCode, CliError> {
    // Parse what can be parsed before connecting: a usage error exits 2
    // even when NATS is down.
    let spec = match &command {
        WebhooksCommand::Add(args) => match spec(args) {
            Ok(spec) => {
                // Every field is checked before connecting.
                let subjects = match repobus::subject::Subjects::new(nats.prefix.clone()) {
                    Ok(s) => s,
                    Err(e) => return usage("prefix", e),
                };
                if let Err(e) = spec.clone().build(&subjects) {
                    return failed(e.into());
                }
                Some(spec)
            }
            Err(code) => return code,
        },
        _ => None,
    };
    let replay_window = match &command {
        WebhooksCommand::Replay(args) => {
            let now = chrono::Utc::now();
            let from = match (&args.since, &args.after) {
                (Some(since), _) => repobus::history::since(since, now),
                (None, Some(after)) => repobus::history::instant("after", after),
                (None, None) => return usage("since", "give --since DURATION or --after DATETIME"),
            };
            let from = match from {
                Ok(f) => f,
                Err(e) => {
                    return usage(
                        if args.since.is_some() {
                            "since"
                        } else {
                            "after"
                        },
                        e,
                    )
                }
            };
            let before = match args
                .before
                .as_deref()
                .map(|b| repobus::history::instant("before", b))
            {
                None => None,
                Some(Ok(b)) => Some(b),
                Some(Err(e)) => return usage("before", e),
            };
            Some((from, before))
        }
        _ => None,
    };
    let bus = nats.connect().await?;
    let store = match WebhookStore::open(&bus).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let result = match command {
        WebhooksCommand::Add(_) => match spec {
            Some(spec) => store.create(spec).await.map(|e| {
                let mut shown = e.public_view();
                shown["secret"] = serde_json::Value::String(e.secret.to_string());
                vec![json(&shown)]
            }),
            None => Ok(Vec::new()),
        },
        WebhooksCommand::List => store
            .list()
            .await
            .map(|all| all.iter().map(|e| json(&e.public_view())).collect()),
        WebhooksCommand::Show { id } => store.get(&id).await.map(|e| vec![json(&e.public_view())]),
        WebhooksCommand::Remove { id } => store.remove(&id).await.map(|()| Vec::new()),
        WebhooksCommand::Enable { id } => store
            .enable(&id)
            .await
            .map(|e| vec![json(&e.public_view())]),
        WebhooksCommand::Disable { id, reason } => store
            .disable(&id, &reason)
            .await
            .map(|e| vec![json(&e.public_view())]),
        WebhooksCommand::Replay(args) => match replay_window {
            Some((from, before)) => store
                .replay(&args.id, from, before)
                .await
                .map(|e| vec![json(&e.public_view())]),
            None => Ok(Vec::new()),
        },
        WebhooksCommand::Attempts {
            id,
            limit,
            dead_letters,
        } => {
            let log = match AttemptLog::open(&bus).await {
                Ok(l) => l,
                Err(e) => return failed(e),
            };
            match store.get(&id).await {
                Err(e) => Err(e),
                Ok(_) if dead_letters => log.dead_letters(&id, limit).await,
                Ok(_) => log.attempts(&id, limit).await,
            }
            .map(|all| all.iter().map(json).collect())
        }
    };
    match result {
        Ok(lines) => {
            for line in lines {
                print_line(line)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => failed(e),
    }
}

fn spec(args: &AddArgs) -> Result<EndpointSpec, Result<ExitCode, CliError>> {
    let filters = match &args.filters {
        None => None,
        Some(text) => match serde_json::from_str(text) {
            Ok(v) => Some(v),
            Err(e) => return Err(usage("filters", format!("not JSON: {e}"))),
        },
    };
    let mut headers = BTreeMap::new();
    for h in &args.headers {
        match h.split_once(':') {
            Some((k, v)) => {
                headers.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            None => return Err(usage("header", format!("{h:?} is not Name:Value"))),
        }
    }
    Ok(EndpointSpec {
        id: args.id.clone(),
        url: args.url.clone(),
        subjects: args.subjects.clone(),
        filters,
        secret: args.secret.clone(),
        headers,
        timeout: args.timeout.clone(),
        retry_schedule: args.retry_schedule.clone(),
        format: args.format.clone(),
        rate_limit: args.rate_limit,
        concurrency: args.concurrency,
        allow_private_target: args.allow_private_target,
    })
}
