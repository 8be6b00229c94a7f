//! `repobus operations [--watch]` and `repobus cancel OPERATION_ID`: the
//! operations registry, one JSON line per operation.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use repobus::operations::Operations;

use super::nats::NatsArgs;
use crate::error::{print_line, CliError};

#[derive(Debug, Args)]
pub struct OperationsArgs {
    /// Keep printing operations as they change (each change as a new line).
    #[arg(long)]
    watch: bool,
}

pub async fn list(args: OperationsArgs, nats: NatsArgs) -> Result<ExitCode, CliError> {
    let bus = nats.connect().await?;
    let operations = Operations::open(&bus).await?;
    let mut seen: HashMap<String, String> = HashMap::new();
    loop {
        for record in operations.list().await? {
            let line = serde_json::to_string(&record).unwrap_or_default();
            if seen.get(&record.id) != Some(&line) {
                print_line(&line)?;
                seen.insert(record.id.clone(), line);
            }
        }
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub async fn cancel(id: String, nats: NatsArgs) -> Result<ExitCode, CliError> {
    let bus = nats.connect().await?;
    let operations = Operations::open(&bus).await?;
    let record = operations.cancel(&id).await?;
    print_line(serde_json::to_string(&record).unwrap_or_default())?;
    Ok(ExitCode::SUCCESS)
}
