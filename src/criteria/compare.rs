//! How two JSON values compare, for matching and sorting alike: numbers by
//! exact value whatever their representation, date-time strings as instants,
//! other strings by text, and values of different kinds not at all.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::clause::Operand;
use crate::time::parse_datetime;

/// Compares an object's value with a filter operand, using the operand's
/// pre-parsed instant. `None` when the two are of different kinds.
pub(super) fn compare(value: &Value, operand: &Operand) -> Option<Ordering> {
    if let (Value::String(text), Some(instant)) = (value, operand.instant) {
        if let Ok(own) = parse_datetime(text) {
            return Some(own.cmp(&instant));
        }
    }
    compare_same_kind(value, &operand.value)
}

/// Compares two values of the same kind; `None` for different kinds.
pub(super) fn compare_same_kind(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::Number(y)) => Some(compare_numbers(x, y)),
        (Value::String(x), Value::String(y)) => match (parse_datetime(x), parse_datetime(y)) {
            (Ok(x), Ok(y)) => Some(x.cmp(&y)),
            _ => Some(x.cmp(y)),
        },
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return None;
            }
            let all_equal = x
                .iter()
                .zip(y)
                .all(|(x, y)| compare_same_kind(x, y) == Some(Ordering::Equal));
            all_equal.then_some(Ordering::Equal)
        }
        (Value::Object(x), Value::Object(y)) => (x == y).then_some(Ordering::Equal),
        _ => None,
    }
}

enum NumberRepr {
    Int(i128),
    Float(f64),
}

fn number_repr(n: &Number) -> NumberRepr {
    if let Some(i) = n.as_i64() {
        NumberRepr::Int(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        NumberRepr::Int(i128::from(u))
    } else {
        NumberRepr::Float(n.as_f64().unwrap_or(0.0))
    }
}

/// Exact numeric comparison of JSON numbers of any representation.
pub(super) fn compare_numbers(a: &Number, b: &Number) -> Ordering {
    match (number_repr(a), number_repr(b)) {
        (NumberRepr::Int(x), NumberRepr::Int(y)) => x.cmp(&y),
        (NumberRepr::Int(x), NumberRepr::Float(y)) => compare_int_float(x, y),
        (NumberRepr::Float(x), NumberRepr::Int(y)) => compare_int_float(y, x).reverse(),
        (NumberRepr::Float(x), NumberRepr::Float(y)) => {
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

fn compare_int_float(int: i128, float: f64) -> Ordering {
    let floor = float.floor();
    // `as` saturates, which keeps the comparison right for floats far outside
    // the range of JSON integers.
    match int.cmp(&(floor as i128)) {
        Ordering::Equal if float > floor => Ordering::Less,
        ordering => ordering,
    }
}
