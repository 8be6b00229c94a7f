//! Whether an object satisfies compiled clauses, with MongoDB's rules for
//! missing fields, `null` and arrays.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::clause::{Clause, Condition, Operand, RangeOp};
use super::compare::{compare, compare_same_kind};

pub(super) fn all_match(clauses: &[Clause], obj: &Map<String, Value>) -> bool {
    clauses.iter().all(|clause| clause_matches(clause, obj))
}

fn clause_matches(clause: &Clause, obj: &Map<String, Value>) -> bool {
    match clause {
        Clause::Field { field, conditions } => {
            let value = obj.get(field);
            conditions.iter().all(|c| condition_matches(c, value))
        }
        Clause::And(members) => members.iter().all(|m| all_match(m, obj)),
        Clause::Or(members) => members.iter().any(|m| all_match(m, obj)),
        Clause::Nor(members) => !members.iter().any(|m| all_match(m, obj)),
    }
}

fn condition_matches(condition: &Condition, value: Option<&Value>) -> bool {
    match condition {
        Condition::Eq(operand) => equals(value, operand),
        Condition::Ne(operand) => !equals(value, operand),
        Condition::Range(op, operand) => in_range(value, *op, operand),
        Condition::In(operands) => operands.iter().any(|o| equals(value, o)),
        Condition::Nin(operands) => !operands.iter().any(|o| equals(value, o)),
        Condition::Regex(regex) => match value {
            Some(Value::String(s)) => regex.is_match(s),
            Some(Value::Array(items)) => items
                .iter()
                .any(|item| item.as_str().is_some_and(|s| regex.is_match(s))),
            _ => false,
        },
        Condition::Exists(wanted) => value.is_some() == *wanted,
        Condition::Not(inner) => !inner.iter().all(|c| condition_matches(c, value)),
    }
}

/// MongoDB equality: a missing field equals `null`, and an array equals an
/// operand if one of its elements does (or the whole array does).
fn equals(value: Option<&Value>, operand: &Operand) -> bool {
    match value {
        None => operand.value.is_null(),
        Some(whole @ Value::Array(items)) => {
            items
                .iter()
                .any(|item| compare(item, operand) == Some(Ordering::Equal))
                || compare_same_kind(whole, &operand.value) == Some(Ordering::Equal)
        }
        Some(v) => compare(v, operand) == Some(Ordering::Equal),
    }
}

fn in_range(value: Option<&Value>, op: RangeOp, operand: &Operand) -> bool {
    let accepts = |v: &Value| compare(v, operand).is_some_and(|o| op.accepts(o));
    match value {
        None => accepts(&Value::Null),
        Some(Value::Array(items)) => items.iter().any(accepts),
        Some(v) => accepts(v),
    }
}
