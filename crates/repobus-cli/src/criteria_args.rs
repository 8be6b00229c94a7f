//! pulp-admin's search flags, shared by `search` and `tail`.

use chrono::Utc;
use clap::Args;
use repobus::criteria::{parse_fields, Criteria, Filter, FlagFilters, SortKey};
use repobus::history::{self, latest};

use crate::error::CliError;

/// Criteria in pulp-admin's syntax. `--filters` overrides the other filter
/// flags; the rest are AND-ed together.
#[derive(Debug, Clone, Default, Args)]
pub struct CriteriaArgs {
    /// Filters as JSON in mongo syntax (overrides --str-eq, --match, ...).
    #[arg(long, value_name = "JSON")]
    pub filters: Option<String>,
    /// Field equals a string exactly: F=V (repeatable).
    #[arg(long = "str-eq", value_name = "F=V")]
    pub str_eq: Vec<String>,
    /// Field equals an integer: F=N (repeatable).
    #[arg(long = "int-eq", value_name = "F=N")]
    pub int_eq: Vec<String>,
    /// Field matches a regular expression: F=REGEX (repeatable).
    #[arg(long = "match", value_name = "F=REGEX")]
    pub match_: Vec<String>,
    /// Field is one of a CSV row of values: F=a,b,c (repeatable).
    #[arg(long = "in", value_name = "F=a,b,c")]
    pub in_: Vec<String>,
    /// Field does not match a regular expression: F=REGEX (repeatable).
    #[arg(long = "not", value_name = "F=REGEX")]
    pub not: Vec<String>,
    /// Field greater than: F=V (number, timestamp or string).
    #[arg(long, value_name = "F=V")]
    pub gt: Vec<String>,
    /// Field greater than or equal: F=V.
    #[arg(long, value_name = "F=V")]
    pub gte: Vec<String>,
    /// Field less than: F=V.
    #[arg(long, value_name = "F=V")]
    pub lt: Vec<String>,
    /// Field less than or equal: F=V.
    #[arg(long, value_name = "F=V")]
    pub lte: Vec<String>,
    /// Events at or after this UTC ISO 8601 date-time.
    #[arg(long, value_name = "DATETIME")]
    pub after: Option<String>,
    /// Events before this UTC ISO 8601 date-time.
    #[arg(long, value_name = "DATETIME")]
    pub before: Option<String>,
    /// Events in the last DURATION (ISO 8601, e.g. P1D, PT6H).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
}

/// Paging and output shaping (search only).
#[derive(Debug, Clone, Default, Args)]
pub struct PagingArgs {
    /// At most this many events.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Skip this many matching events first.
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// Sort by FIELD[,ascending|descending]; repeat for more keys, applied in order.
    #[arg(long, value_name = "FIELD[,DIRECTION]")]
    pub sort: Vec<String>,
    /// Only these fields, comma-separated (default: all).
    #[arg(long, value_name = "a,b,c")]
    pub fields: Option<String>,
}

impl CriteriaArgs {
    /// The criteria (filter, after, before), validated before anything is read.
    pub fn criteria(&self) -> Result<Criteria, CliError> {
        let mut criteria = Criteria::new();
        criteria.filter = match &self.filters {
            Some(json) => Some(
                json.parse::<Filter>()
                    .map_err(|source| CliError::Criteria {
                        flag: "--filters",
                        source,
                    })?,
            ),
            None => FlagFilters {
                str_eq: self.str_eq.clone(),
                int_eq: self.int_eq.clone(),
                match_: self.match_.clone(),
                in_: self.in_.clone(),
                not: self.not.clone(),
                gt: self.gt.clone(),
                gte: self.gte.clone(),
                lt: self.lt.clone(),
                lte: self.lte.clone(),
            }
            .to_filter()
            .map_err(CliError::FilterFlags)?,
        };
        if let Some(after) = &self.after {
            criteria.after = Some(history::instant("after", after).map_err(CliError::TimeFlag)?);
        }
        if let Some(before) = &self.before {
            criteria.before = Some(history::instant("before", before).map_err(CliError::TimeFlag)?);
        }
        if let Some(since) = &self.since {
            let instant = history::since(since, Utc::now()).map_err(CliError::TimeFlag)?;
            criteria.after = Some(latest(criteria.after, instant));
        }
        Ok(criteria)
    }
}

impl PagingArgs {
    /// Adds sort, skip, limit and fields to `criteria`.
    pub fn apply(&self, mut criteria: Criteria) -> Result<Criteria, CliError> {
        for key in &self.sort {
            criteria.sort.push(
                key.parse::<SortKey>()
                    .map_err(|source| CliError::Criteria {
                        flag: "--sort",
                        source,
                    })?,
            );
        }
        criteria.skip = self.skip;
        criteria.limit = self.limit;
        if let Some(fields) = &self.fields {
            criteria.fields = Some(parse_fields(fields).map_err(|source| CliError::Criteria {
                flag: "--fields",
                source,
            })?);
        }
        Ok(criteria)
    }
}
