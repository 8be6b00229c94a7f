//! Sorting: [`SortKey`] and [`Direction`] (`--sort field[,direction]`) and
//! the total order of field values that they sort by.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Number, Value};

use super::compare::compare_numbers;
use super::CriteriaError;
use crate::time::parse_datetime;

/// Which way a [`SortKey`] orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Smallest first (the default).
    #[default]
    Ascending,
    /// Largest first.
    Descending,
}

impl FromStr for Direction {
    type Err = CriteriaError;

    /// Parses `ascending` or `descending`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ascending" => Ok(Direction::Ascending),
            "descending" => Ok(Direction::Descending),
            other => Err(CriteriaError::InvalidSort {
                input: other.to_owned(),
                problem: format!("the direction must be ascending or descending, not {other:?}"),
            }),
        }
    }
}

/// Writes `ascending` or `descending`.
impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Ascending => "ascending",
            Direction::Descending => "descending",
        })
    }
}

/// One sort key: a field and a direction.
///
/// Parsed from `pulp-admin`'s `--sort field[,ascending|descending]`; the
/// direction defaults to ascending.
///
/// Values order as: missing and `null` (equal to each other), then numbers
/// (by value), then strings that read as date-times (by instant), then other
/// strings (by text), then objects (all equal), then arrays (element by
/// element, a prefix first), then `false`, then `true`. Descending reverses
/// this, so missing values come last.
///
/// ```
/// use repobus::criteria::{Direction, SortKey};
///
/// let key: SortKey = "started,descending".parse()?;
/// assert_eq!(key, SortKey::new("started", Direction::Descending));
/// assert_eq!("repo_id".parse::<SortKey>()?.direction, Direction::Ascending);
/// assert!("repo_id,up".parse::<SortKey>().is_err());
/// # Ok::<(), repobus::criteria::CriteriaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// The field to sort by.
    pub field: String,
    /// Which way to sort.
    pub direction: Direction,
}

impl SortKey {
    /// A sort key on `field`.
    pub fn new(field: impl Into<String>, direction: Direction) -> Self {
        SortKey {
            field: field.into(),
            direction,
        }
    }
}

impl FromStr for SortKey {
    type Err = CriteriaError;

    /// Parses `field[,ascending|descending]`; spaces around either part are
    /// ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |problem: String| CriteriaError::InvalidSort {
            input: s.to_owned(),
            problem,
        };
        let (field, direction) = match s.split_once(',') {
            Some((field, direction)) => (field.trim(), Some(direction.trim())),
            None => (s.trim(), None),
        };
        if field.is_empty() {
            return Err(invalid("the field name is empty".to_owned()));
        }
        let direction = match direction {
            None => Direction::Ascending,
            Some("ascending") => Direction::Ascending,
            Some("descending") => Direction::Descending,
            Some(other) => {
                return Err(invalid(format!(
                    "the direction after the comma must be ascending or descending, not {other:?}"
                )))
            }
        };
        Ok(SortKey::new(field, direction))
    }
}

/// Writes `field,direction`, which parses back.
impl fmt::Display for SortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.field, self.direction)
    }
}

/// A value as it sorts (see [`SortKey`] for the order).
enum SortValue<'a> {
    Null,
    Number(&'a Number),
    Instant(DateTime<Utc>),
    Text(&'a str),
    Object,
    Array(&'a [Value]),
    Bool(bool),
}

impl<'a> SortValue<'a> {
    fn of(value: Option<&'a Value>) -> Self {
        match value {
            None | Some(Value::Null) => SortValue::Null,
            Some(Value::Number(n)) => SortValue::Number(n),
            Some(Value::String(s)) => match parse_datetime(s) {
                Ok(instant) => SortValue::Instant(instant),
                Err(_) => SortValue::Text(s),
            },
            Some(Value::Object(_)) => SortValue::Object,
            Some(Value::Array(items)) => SortValue::Array(items),
            Some(Value::Bool(b)) => SortValue::Bool(*b),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortValue::Null => 0,
            SortValue::Number(_) => 1,
            SortValue::Instant(_) => 2,
            SortValue::Text(_) => 3,
            SortValue::Object => 4,
            SortValue::Array(_) => 5,
            SortValue::Bool(_) => 6,
        }
    }

    fn compare(&self, other: &SortValue<'_>) -> Ordering {
        match (self, other) {
            (SortValue::Number(a), SortValue::Number(b)) => compare_numbers(a, b),
            (SortValue::Instant(a), SortValue::Instant(b)) => a.cmp(b),
            (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
            (SortValue::Bool(a), SortValue::Bool(b)) => a.cmp(b),
            (SortValue::Array(a), SortValue::Array(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    let ordering = SortValue::of(Some(x)).compare(&SortValue::of(Some(y)));
                    if ordering != Ordering::Equal {
                        return ordering;
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Orders two field values (`None` for a missing field) as an ascending
/// [`SortKey`] does. This is a total order.
pub fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    SortValue::of(a).compare(&SortValue::of(b))
}

/// Sorts objects by `keys`, the first key deciding first. The sort is stable:
/// objects that tie on every key keep their order.
pub fn sort_objects(objects: &mut [Map<String, Value>], keys: &[SortKey]) {
    if keys.is_empty() || objects.len() < 2 {
        return;
    }
    let order: Vec<usize> = {
        let decorated: Vec<Vec<SortValue<'_>>> = objects
            .iter()
            .map(|obj| {
                keys.iter()
                    .map(|k| SortValue::of(obj.get(&k.field)))
                    .collect()
            })
            .collect();
        let mut order: Vec<usize> = (0..objects.len()).collect();
        order.sort_by(|&a, &b| {
            keys.iter()
                .zip(decorated[a].iter().zip(&decorated[b]))
                .map(|(key, (x, y))| match key.direction {
                    Direction::Ascending => x.compare(y),
                    Direction::Descending => y.compare(x),
                })
                .find(|ordering| *ordering != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        order
    };
    let mut taken: Vec<Map<String, Value>> = objects.iter_mut().map(std::mem::take).collect();
    for (slot, index) in objects.iter_mut().zip(order) {
        *slot = std::mem::take(&mut taken[index]);
    }
}
