//! Push-down: which fields a filter pins to one value, so that a subscriber
//! can narrow its NATS subject (`Filter::equality_on`).

use serde_json::Value;

use super::clause::{Clause, Condition, Operand};

pub(super) fn visit_pins<'a>(clauses: &'a [Clause], visit: &mut dyn FnMut(&'a str, &'a Value)) {
    for clause in clauses {
        match clause {
            Clause::Field { field, conditions } => {
                for condition in conditions {
                    let operand = match condition {
                        Condition::Eq(operand) => Some(operand),
                        Condition::In(operands) if operands.len() == 1 => operands.first(),
                        _ => None,
                    };
                    if let Some(value) = operand.and_then(pinnable) {
                        visit(field, value);
                    }
                }
            }
            Clause::And(members) => {
                for member in members {
                    visit_pins(member, visit);
                }
            }
            Clause::Or(_) | Clause::Nor(_) => {}
        }
    }
}

fn pinnable(operand: &Operand) -> Option<&Value> {
    match &operand.value {
        Value::Null | Value::Array(_) | Value::Object(_) => None,
        Value::String(_) if operand.instant.is_some() => None,
        value => Some(value),
    }
}

/// Every field name the clauses test, at any depth (under `$and`, `$or`,
/// `$nor` and `$not` alike).
pub(super) fn visit_fields<'a>(clauses: &'a [Clause], visit: &mut dyn FnMut(&'a str)) {
    for clause in clauses {
        match clause {
            Clause::Field { field, .. } => visit(field),
            Clause::And(members) | Clause::Or(members) | Clause::Nor(members) => {
                for member in members {
                    visit_fields(member, visit);
                }
            }
        }
    }
}
