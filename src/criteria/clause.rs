//! The compiled form of a query document: clauses, conditions and operands.
//! `parse.rs` builds it, `matching.rs` and `pushdown.rs` read it.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;

use crate::time::parse_datetime;

/// One member of an implicit AND.
#[derive(Debug, Clone)]
pub(super) enum Clause {
    Field {
        field: String,
        conditions: Vec<Condition>,
    },
    And(Vec<Vec<Clause>>),
    Or(Vec<Vec<Clause>>),
    Nor(Vec<Vec<Clause>>),
}

#[derive(Debug, Clone)]
pub(super) enum Condition {
    Eq(Operand),
    Ne(Operand),
    Range(RangeOp, Operand),
    In(Vec<Operand>),
    Nin(Vec<Operand>),
    Regex(Regex),
    Exists(bool),
    Not(Vec<Condition>),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum RangeOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl RangeOp {
    pub(super) fn accepts(self, ordering: Ordering) -> bool {
        match self {
            RangeOp::Gt => ordering == Ordering::Greater,
            RangeOp::Gte => ordering != Ordering::Less,
            RangeOp::Lt => ordering == Ordering::Less,
            RangeOp::Lte => ordering != Ordering::Greater,
        }
    }
}

/// A value from the filter, with its instant worked out once if it is a
/// date-time string.
#[derive(Debug, Clone)]
pub(super) struct Operand {
    pub(super) value: Value,
    pub(super) instant: Option<DateTime<Utc>>,
}

impl Operand {
    pub(super) fn new(value: &Value) -> Self {
        let instant = value.as_str().and_then(|s| parse_datetime(s).ok());
        Operand {
            value: value.clone(),
            instant,
        }
    }
}
