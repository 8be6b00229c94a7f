//! Pulp resource IDs: `repo_id`, `importer_id`, `distributor_id`, ...
//!
//! Pulp's rule (general reference): an ID contains only letters, numbers,
//! underscores, periods and hyphens, and it is not empty. [`ResourceId`] can
//! hold nothing else.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The regular expression the JSON Schemas use for a resource ID.
pub const RESOURCE_ID_PATTERN: &str = r"^[A-Za-z0-9_.\-]+$";

/// Why a string is not a valid resource ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceIdError {
    /// The ID was the empty string.
    #[error("a resource ID must not be empty")]
    Empty,
    /// The ID held a character Pulp does not allow.
    #[error("{id:?} is not a resource ID: {character:?} at byte {position} is not allowed (only letters, digits, underscore, period and hyphen are)")]
    BadCharacter {
        /// The rejected input.
        id: String,
        /// The first character that is not allowed.
        character: char,
        /// Its byte offset in the input.
        position: usize,
    },
}

/// A Pulp resource ID: non-empty, ASCII letters, digits, `_`, `.` and `-` only.
///
/// ```
/// use repobus::ResourceId;
///
/// let id: ResourceId = "pulp-f16".parse().unwrap();
/// assert_eq!(id.as_str(), "pulp-f16");
/// assert!("a b".parse::<ResourceId>().is_err());
/// assert!("".parse::<ResourceId>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId(Box<str>);

impl ResourceId {
    /// Checks `id` against Pulp's rule.
    pub fn new(id: impl AsRef<str>) -> Result<Self, ResourceIdError> {
        let id = id.as_ref();
        if id.is_empty() {
            return Err(ResourceIdError::Empty);
        }
        if let Some((position, character)) = id
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(ResourceIdError::BadCharacter {
                id: crate::time::shorten(id),
                character,
                position,
            });
        }
        Ok(ResourceId(id.into()))
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceId({:?})", &*self.0)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ResourceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ResourceId {
    type Err = ResourceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceId::new(s)
    }
}

impl TryFrom<&str> for ResourceId {
    type Error = ResourceIdError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        ResourceId::new(s)
    }
}

impl TryFrom<String> for ResourceId {
    type Error = ResourceIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ResourceId::new(s)
    }
}

impl Serialize for ResourceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResourceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ResourceId::new(&*text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for ResourceId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ResourceId".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": RESOURCE_ID_PATTERN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pulp_ids() {
        for ok in ["pulp-f16", "yum_importer", "epel.7", "A-Z_0.9", "x"] {
            assert_eq!(ResourceId::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_everything_else_naming_the_character() {
        assert_eq!(ResourceId::new(""), Err(ResourceIdError::Empty));
        for (bad, c) in [
            ("a b", ' '),
            ("a/b", '/'),
            ("*", '*'),
            (">", '>'),
            ("repo\u{e9}", '\u{e9}'),
            ("a\nb", '\n'),
            ("a%2E", '%'),
        ] {
            match ResourceId::new(bad) {
                Err(ResourceIdError::BadCharacter { character, .. }) => assert_eq!(character, c),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn pattern_agrees_with_the_type() {
        let re = regex::Regex::new(RESOURCE_ID_PATTERN).unwrap();
        for s in ["pulp-f16", "", "a b", "a.b", "\u{e9}", "a\n"] {
            assert_eq!(re.is_match(s), ResourceId::new(s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn deserialize_enforces_the_rule() {
        assert!(serde_json::from_str::<ResourceId>("\"ok.id\"").is_ok());
        let err = serde_json::from_str::<ResourceId>("\"no id\"").unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{err}");
    }
}
