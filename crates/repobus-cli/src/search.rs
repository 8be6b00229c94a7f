//! `repobus search`: criteria over the stream's history.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use repobus::history::{self, Search};
use repobus::record::field;
use serde_json::{Map, Value};

use super::criteria_args::{CriteriaArgs, PagingArgs};
use super::nats::NatsArgs;
use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchFormat {
    /// JSON Lines: one record per event (accessors and envelope, as `tail`).
    Json,
    /// An aligned table.
    Table,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    criteria: CriteriaArgs,
    #[command(flatten)]
    paging: PagingArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: SearchFormat,
    /// Read the whole stream instead of narrowing subjects and start time on
    /// the server (for comparison).
    #[arg(long)]
    no_push_down: bool,
    /// Only the latest matching event of each value of this field
    /// (`repo_id`: each repository's latest event).
    #[arg(long, value_name = "FIELD")]
    latest_per: Option<String>,
}

pub async fn run(args: SearchArgs, nats: NatsArgs) -> Result<ExitCode, CliError> {
    let criteria = args.paging.apply(args.criteria.criteria()?)?;
    let bus = nats.connect().await?;
    let search = Search {
        push_down: !args.no_push_down,
        latest_per: args.latest_per,
        ..Search::new(criteria)
    };
    // A progress bar only for a person watching: not when output is piped.
    let interactive = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let bar = interactive.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} events scanned ({per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let report = |read: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(read);
        }
    };
    let events = history::search(&bus, &search, Some(&report)).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match args.format {
        SearchFormat::Json => events
            .iter()
            .try_for_each(|e| writeln!(out, "{}", Value::Object(e.clone()))),
        SearchFormat::Table => write_table(&mut out, &events, search.criteria.fields.as_deref()),
    };
    written
        .and_then(|()| out.flush())
        .map_err(CliError::io("writing output"))?;
    Ok(ExitCode::SUCCESS)
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn write_table(
    out: &mut impl Write,
    events: &[Map<String, Value>],
    fields: Option<&[String]>,
) -> std::io::Result<()> {
    let default = [field::TIME, field::TYPE, field::STATUS, field::SUMMARY].map(String::from);
    let columns: &[String] = fields.unwrap_or(&default);
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| columns.iter().map(|c| cell(e.get(c))).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(columns))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}
