//! `pulp-admin`'s filter flags (`--str-eq`, `--int-eq`, `--match`, `--in`,
//! `--not`, `--gt`, `--gte`, `--lt`, `--lte`) turned into filters, including
//! the CSV row that `--in` takes.

use csv::{ReaderBuilder, StringRecord, Terminator};
use serde_json::{Map, Number, Value};

use super::{CriteriaError, Filter};

/// One of `pulp-admin`'s filter flags, each taking `FIELD=VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterFlag {
    /// `--str-eq F=V`: the field equals the string `V`.
    StrEq,
    /// `--int-eq F=V`: the field equals the integer `V` (which must be one).
    IntEq,
    /// `--match F=REGEX`: the field matches the regular expression.
    Match,
    /// `--in F=a,b,c`: the field equals one of the values, given as one CSV
    /// row (`"a,b",c` is two values; `""` inside quotes is a quote). The
    /// values are strings, taken exactly as written (spaces included).
    In,
    /// `--not F=REGEX`: the field does not match the regular expression
    /// (`{"F": {"$not": {"$regex": REGEX}}}`; a missing field counts as not
    /// matching, so it is kept).
    Not,
    /// `--gt F=V`: the field is greater than `V`.
    Gt,
    /// `--gte F=V`: the field is greater than or equal to `V`.
    Gte,
    /// `--lt F=V`: the field is less than `V`.
    Lt,
    /// `--lte F=V`: the field is less than or equal to `V`.
    Lte,
}

impl FilterFlag {
    /// The flag as typed, with its dashes (`--str-eq`).
    pub fn flag(self) -> &'static str {
        match self {
            FilterFlag::StrEq => "--str-eq",
            FilterFlag::IntEq => "--int-eq",
            FilterFlag::Match => "--match",
            FilterFlag::In => "--in",
            FilterFlag::Not => "--not",
            FilterFlag::Gt => "--gt",
            FilterFlag::Gte => "--gte",
            FilterFlag::Lt => "--lt",
            FilterFlag::Lte => "--lte",
        }
    }

    /// The query document for one `FIELD=VALUE` argument of this flag, such
    /// as `{"added_count": {"$gte": 1}}`.
    ///
    /// For `--gt`, `--gte`, `--lt` and `--lte`, a value written as a JSON
    /// number (`3`, `-1.5`, `1e3`) compares as a number; anything else is a
    /// string, which compares as an instant against date-time strings when it
    /// is one (`2012-07-06`, `2012-07-06T15:49:11Z`) and by text otherwise.
    pub fn clause(self, arg: &str) -> Result<Value, CriteriaError> {
        let invalid = |problem: String| CriteriaError::InvalidFlag {
            flag: self.flag().to_owned(),
            input: arg.to_owned(),
            problem,
        };
        let Some((field, value)) = arg.split_once('=') else {
            return Err(invalid(
                "expected FIELD=VALUE, but there is no '='".to_owned(),
            ));
        };
        if field.is_empty() {
            return Err(invalid("the field name before '=' is empty".to_owned()));
        }
        if field.starts_with('$') {
            return Err(invalid("a field name cannot start with '$'".to_owned()));
        }
        let condition = match self {
            FilterFlag::StrEq => Value::String(value.to_owned()),
            FilterFlag::IntEq => Value::Number(
                parse_integer(value)
                    .ok_or_else(|| invalid(format!("{value:?} is not an integer")))?,
            ),
            FilterFlag::Match => serde_json::json!({ "$regex": value }),
            FilterFlag::Not => serde_json::json!({ "$not": { "$regex": value } }),
            FilterFlag::In => {
                let values = parse_csv_row(value).map_err(invalid)?;
                serde_json::json!({ "$in": values })
            }
            FilterFlag::Gt => serde_json::json!({ "$gt": typed_value(value) }),
            FilterFlag::Gte => serde_json::json!({ "$gte": typed_value(value) }),
            FilterFlag::Lt => serde_json::json!({ "$lt": typed_value(value) }),
            FilterFlag::Lte => serde_json::json!({ "$lte": typed_value(value) }),
        };
        let mut clause = Map::new();
        clause.insert(field.to_owned(), condition);
        Ok(Value::Object(clause))
    }

    /// The filter for one `FIELD=VALUE` argument of this flag; a regular
    /// expression that does not compile is reported against the flag.
    pub fn to_filter(self, arg: &str) -> Result<Filter, CriteriaError> {
        let clause = self.clause(arg)?;
        Filter::from_json(&clause).map_err(|e| CriteriaError::InvalidFlag {
            flag: self.flag().to_owned(),
            input: arg.to_owned(),
            problem: e.to_string(),
        })
    }
}

fn parse_integer(text: &str) -> Option<Number> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Number::from(i));
    }
    text.parse::<u64>().ok().map(Number::from)
}

/// A JSON number if the text is written as one, else the text as a string.
fn typed_value(text: &str) -> Value {
    let looks_numeric = text
        .chars()
        .next()
        .is_some_and(|c| c == '-' || c.is_ascii_digit())
        && !text.chars().any(char::is_whitespace);
    if looks_numeric {
        if let Ok(number) = serde_json::from_str::<Number>(text) {
            return Value::Number(number);
        }
    }
    Value::String(text.to_owned())
}

/// The record terminator given to the CSV reader: a byte that never occurs in
/// UTF-8 text, so that a whole `--in` value is one record.
const NO_TERMINATOR: u8 = 0xFF;

/// Splits one CSV row into values, as Python's `csv` module does for
/// `pulp-admin --in`: values are separated by commas, a value that starts with
/// `"` runs to the closing `"` (commas included, `""` standing for one `"`),
/// and nothing is trimmed. An empty row is one empty value.
///
/// The [`csv`] crate splits and unquotes, set up to read the row as text and
/// as one record:
///
/// * its terminator is [`NO_TERMINATOR`], so line breaks belong to a value;
/// * its input starts with that byte, an empty line that it skips: it strips a
///   byte-order mark only at the very start of its input, so a leading
///   `\u{feff}` stays in the first value;
/// * it reads an empty row as no record at all, so that case is answered
///   here.
///
/// The crate never rejects malformed CSV, so [`check_quoting`] does first.
fn parse_csv_row(row: &str) -> Result<Vec<String>, String> {
    check_quoting(row)?;
    if row.is_empty() {
        return Ok(vec![String::new()]);
    }
    let input = [&[NO_TERMINATOR], row.as_bytes()].concat();
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .terminator(Terminator::Any(NO_TERMINATOR))
        .from_reader(input.as_slice());
    let mut record = StringRecord::new();
    reader.read_record(&mut record).map_err(|e| e.to_string())?;
    Ok(record.iter().map(str::to_owned).collect())
}

/// Refuses the two quotings that the csv crate reads leniently rather than
/// rejects: a quoted value without its closing `"` (the crate ends the value
/// at the end of the row) and text between a closing `"` and the next comma
/// (the crate appends it to the value).
fn check_quoting(row: &str) -> Result<(), String> {
    let mut rest = row;
    loop {
        let Some(quoted) = rest.strip_prefix('"') else {
            // An unquoted value runs to the next comma; a '"' in it is text.
            match rest.split_once(',') {
                Some((_, next)) => {
                    rest = next;
                    continue;
                }
                None => return Ok(()),
            }
        };
        // The closing quote is the first '"' that is not half of a '""'.
        let mut end = 0;
        loop {
            match quoted[end..].find('"') {
                None => return Err("a quoted value has no closing '\"'".to_owned()),
                Some(i) if quoted[end + i + 1..].starts_with('"') => end += i + 2,
                Some(i) => {
                    end += i;
                    break;
                }
            }
        }
        let after = &quoted[end + 1..];
        match after.chars().next() {
            None => return Ok(()),
            Some(',') => rest = &after[1..],
            Some(c) => {
                let value = quoted[..end].replace("\"\"", "\"");
                return Err(format!(
                    "expected ',' after the closing '\"' of {value:?}, found {c:?}"
                ));
            }
        }
    }
}

/// The values of `pulp-admin`'s filter flags, each flag possibly repeated;
/// every argument is `FIELD=VALUE` (see [`FilterFlag`] for each flag's
/// meaning). All the conditions are AND-ed.
///
/// ```
/// use repobus::criteria::FlagFilters;
/// use serde_json::json;
///
/// let flags = FlagFilters {
///     in_: vec![r#"chroot=fedora-rawhide-x86_64,"epel-9,x86_64""#.into()],
///     gte: vec!["build_id=945000".into()],
///     ..FlagFilters::default()
/// };
/// let filter = flags.to_filter()?.unwrap();
/// let event = json!({"build_id": 945012, "chroot": "epel-9,x86_64"});
/// assert!(filter.matches(event.as_object().unwrap()));
/// # Ok::<(), repobus::criteria::CriteriaError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagFilters {
    /// `--str-eq F=V`.
    pub str_eq: Vec<String>,
    /// `--int-eq F=V`.
    pub int_eq: Vec<String>,
    /// `--match F=REGEX`.
    pub match_: Vec<String>,
    /// `--in F=a,b,c`.
    pub in_: Vec<String>,
    /// `--not F=REGEX`.
    pub not: Vec<String>,
    /// `--gt F=V`.
    pub gt: Vec<String>,
    /// `--gte F=V`.
    pub gte: Vec<String>,
    /// `--lt F=V`.
    pub lt: Vec<String>,
    /// `--lte F=V`.
    pub lte: Vec<String>,
}

impl FlagFilters {
    /// Whether no flag was given.
    pub fn is_empty(&self) -> bool {
        self.groups().iter().all(|(_, args)| args.is_empty())
    }

    /// The AND of every flag's condition, or `None` when no flag was given.
    /// The first malformed argument is reported, naming its flag.
    pub fn to_filter(&self) -> Result<Option<Filter>, CriteriaError> {
        let mut filters = Vec::new();
        for (flag, args) in self.groups() {
            for arg in args {
                filters.push(flag.to_filter(arg)?);
            }
        }
        Ok(Filter::all(filters))
    }

    fn groups(&self) -> [(FilterFlag, &[String]); 9] {
        [
            (FilterFlag::StrEq, &self.str_eq),
            (FilterFlag::IntEq, &self.int_eq),
            (FilterFlag::Match, &self.match_),
            (FilterFlag::In, &self.in_),
            (FilterFlag::Not, &self.not),
            (FilterFlag::Gt, &self.gt),
            (FilterFlag::Gte, &self.gte),
            (FilterFlag::Lt, &self.lt),
            (FilterFlag::Lte, &self.lte),
        ]
    }
}
