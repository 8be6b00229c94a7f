//! Parsing a query document into clauses. Every operator, operand and
//! regular expression is checked here, so matching never fails.

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::clause::{Clause, Condition, Operand, RangeOp};
use super::error::kind_of;
use super::CriteriaError;

/// How deeply `$and`, `$or`, `$nor` and `$not` may nest in one filter.
pub const MAX_FILTER_DEPTH: usize = 64;

pub(super) fn parse_document(
    json: &Value,
    context: &str,
    depth: usize,
) -> Result<Vec<Clause>, CriteriaError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(CriteriaError::TooDeep {
            limit: MAX_FILTER_DEPTH,
        });
    }
    let Value::Object(map) = json else {
        return Err(CriteriaError::NotAnObject {
            context: context.to_owned(),
            found: kind_of(json).to_owned(),
        });
    };
    let mut clauses = Vec::with_capacity(map.len());
    for (key, value) in map {
        let clause = match key.as_str() {
            "$and" => Clause::And(parse_list(key, value, depth)?),
            "$or" => Clause::Or(parse_list(key, value, depth)?),
            "$nor" => Clause::Nor(parse_list(key, value, depth)?),
            _ if key.starts_with('$') => {
                return Err(CriteriaError::UnknownOperator {
                    operator: key.clone(),
                    field: None,
                })
            }
            _ => Clause::Field {
                field: key.clone(),
                conditions: parse_field_condition(key, value, depth)?,
            },
        };
        clauses.push(clause);
    }
    Ok(clauses)
}

fn parse_list(
    operator: &str,
    value: &Value,
    depth: usize,
) -> Result<Vec<Vec<Clause>>, CriteriaError> {
    let invalid = |problem: String| CriteriaError::InvalidOperand {
        operator: operator.to_owned(),
        field: None,
        problem,
    };
    let Value::Array(members) = value else {
        return Err(invalid(format!(
            "needs a non-empty array of filter objects, found {}",
            kind_of(value)
        )));
    };
    if members.is_empty() {
        return Err(invalid(
            "needs a non-empty array of filter objects, found an empty array".to_owned(),
        ));
    }
    members
        .iter()
        .enumerate()
        .map(|(i, member)| parse_document(member, &format!("element {i} of {operator}"), depth + 1))
        .collect()
}

fn parse_field_condition(
    field: &str,
    value: &Value,
    depth: usize,
) -> Result<Vec<Condition>, CriteriaError> {
    match value {
        Value::Object(map) if map.keys().any(|k| k.starts_with('$')) => {
            parse_operators(field, map, depth)
        }
        // A plain value (or an object without operators) is implicit equality.
        _ => Ok(vec![Condition::Eq(Operand::new(value))]),
    }
}

fn parse_operators(
    field: &str,
    map: &Map<String, Value>,
    depth: usize,
) -> Result<Vec<Condition>, CriteriaError> {
    let invalid = |operator: &str, problem: String| CriteriaError::InvalidOperand {
        operator: operator.to_owned(),
        field: Some(field.to_owned()),
        problem,
    };
    if let Some(plain) = map.keys().find(|k| !k.starts_with('$')) {
        let operator = map.keys().find(|k| k.starts_with('$')).map_or("", |k| k);
        return Err(invalid(
            operator,
            format!("operators cannot be mixed with the plain key {plain:?} in one object"),
        ));
    }
    let mut conditions = Vec::with_capacity(map.len());
    for (operator, operand) in map {
        let condition = match operator.as_str() {
            "$eq" => Condition::Eq(Operand::new(operand)),
            "$ne" => Condition::Ne(Operand::new(operand)),
            "$gt" => Condition::Range(RangeOp::Gt, Operand::new(operand)),
            "$gte" => Condition::Range(RangeOp::Gte, Operand::new(operand)),
            "$lt" => Condition::Range(RangeOp::Lt, Operand::new(operand)),
            "$lte" => Condition::Range(RangeOp::Lte, Operand::new(operand)),
            "$in" | "$nin" => {
                let Value::Array(items) = operand else {
                    return Err(invalid(
                        operator,
                        format!("needs an array of values, found {}", kind_of(operand)),
                    ));
                };
                let items = items.iter().map(Operand::new).collect();
                if operator == "$in" {
                    Condition::In(items)
                } else {
                    Condition::Nin(items)
                }
            }
            "$regex" => {
                let Value::String(pattern) = operand else {
                    return Err(invalid(
                        operator,
                        format!("needs a pattern string, found {}", kind_of(operand)),
                    ));
                };
                Condition::Regex(compile_regex(field, pattern, map.get("$options"))?)
            }
            "$options" => {
                if !map.contains_key("$regex") {
                    return Err(invalid(
                        operator,
                        "is only allowed next to $regex".to_owned(),
                    ));
                }
                // Read by the `$regex` arm.
                continue;
            }
            "$exists" => {
                let Value::Bool(wanted) = operand else {
                    return Err(invalid(
                        operator,
                        format!("needs true or false, found {}", kind_of(operand)),
                    ));
                };
                Condition::Exists(*wanted)
            }
            "$not" => Condition::Not(parse_not(field, operand, depth + 1)?),
            _ => {
                return Err(CriteriaError::UnknownOperator {
                    operator: operator.clone(),
                    field: Some(field.to_owned()),
                })
            }
        };
        conditions.push(condition);
    }
    Ok(conditions)
}

fn parse_not(field: &str, operand: &Value, depth: usize) -> Result<Vec<Condition>, CriteriaError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(CriteriaError::TooDeep {
            limit: MAX_FILTER_DEPTH,
        });
    }
    let invalid = |problem: String| CriteriaError::InvalidOperand {
        operator: "$not".to_owned(),
        field: Some(field.to_owned()),
        problem,
    };
    match operand {
        Value::String(pattern) => Ok(vec![Condition::Regex(compile_regex(field, pattern, None)?)]),
        Value::Object(map) if map.is_empty() => {
            Err(invalid("needs at least one operator, found {}".to_owned()))
        }
        Value::Object(map) if map.keys().all(|k| k.starts_with('$')) => {
            parse_operators(field, map, depth)
        }
        Value::Object(_) => Err(invalid(
            "needs an object of operators (such as {\"$gt\": 3}), found an object with plain keys"
                .to_owned(),
        )),
        other => Err(invalid(format!(
            "needs an object of operators or a regular expression string, found {}",
            kind_of(other)
        ))),
    }
}

fn compile_regex(
    field: &str,
    pattern: &str,
    options: Option<&Value>,
) -> Result<Regex, CriteriaError> {
    let mut builder = RegexBuilder::new(pattern);
    match options {
        None => {}
        Some(Value::String(letters)) => {
            for letter in letters.chars() {
                match letter {
                    'i' => builder.case_insensitive(true),
                    'm' => builder.multi_line(true),
                    's' => builder.dot_matches_new_line(true),
                    'x' => builder.ignore_whitespace(true),
                    other => {
                        return Err(CriteriaError::InvalidOperand {
                            operator: "$options".to_owned(),
                            field: Some(field.to_owned()),
                            problem: format!(
                                "unsupported option {other:?}; the options are i, m, s and x"
                            ),
                        })
                    }
                };
            }
        }
        Some(other) => {
            return Err(CriteriaError::InvalidOperand {
                operator: "$options".to_owned(),
                field: Some(field.to_owned()),
                problem: format!("needs a string of option letters, found {}", kind_of(other)),
            })
        }
    }
    builder.build().map_err(|e| CriteriaError::InvalidRegex {
        field: field.to_owned(),
        pattern: pattern.to_owned(),
        message: e.to_string(),
    })
}
