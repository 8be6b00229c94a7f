//! Resource names: what an operation reserves (`repo:pulp-f17`,
//! `distributor:yum`, `path:/srv/repos/f17`).
//!
//! A resource name is 1 to 255 ASCII characters among letters, digits and
//! `_ . - : / = @ +`. Names are compared byte for byte; the conventional
//! form is `<kind>:<id>`, and a sync or publish reserves `repo:<repo_id>`
//! exclusively.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest resource name, in bytes.
pub const MAX_RESOURCE_LEN: usize = 255;

/// Why a string is not a resource name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// The name is empty.
    #[error("a resource name must not be empty")]
    Empty,
    /// The name is longer than [`MAX_RESOURCE_LEN`].
    #[error("resource name of {0} bytes is longer than 255")]
    TooLong(usize),
    /// The name holds a character that is not allowed.
    #[error("{name:?} is not a resource name: {character:?} at byte {position} is not allowed (only ASCII letters, digits and _ . - : / = @ + are)")]
    BadCharacter {
        /// The rejected input (shortened).
        name: String,
        /// The first character that is not allowed.
        character: char,
        /// Its byte offset.
        position: usize,
    },
}

/// A validated resource name.
///
/// # Examples
///
/// ```
/// use repobus::operations::Resource;
///
/// let repo: Resource = "repo:pulp-f17".parse().unwrap();
/// assert_eq!(repo.as_str(), "repo:pulp-f17");
/// assert_eq!(Resource::repo(&"pulp-f17".parse().unwrap()), repo);
/// assert!("repo:pulp f17".parse::<Resource>().is_err());
/// assert!("".parse::<Resource>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource(Box<str>);

impl Resource {
    /// Checks `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::{Resource, ResourceError};
    ///
    /// assert!(Resource::new("distributor:yum").is_ok());
    /// assert!(matches!(Resource::new("a*b"), Err(ResourceError::BadCharacter { character: '*', .. })));
    /// ```
    pub fn new(name: impl AsRef<str>) -> Result<Self, ResourceError> {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(ResourceError::Empty);
        }
        if let Some((position, character)) = name.char_indices().find(|&(_, c)| {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '_' | '.' | '-' | ':' | '/' | '=' | '@' | '+'))
        }) {
            let shown: String = name.chars().take(64).collect();
            return Err(ResourceError::BadCharacter {
                name: shown,
                character,
                position,
            });
        }
        if name.len() > MAX_RESOURCE_LEN {
            return Err(ResourceError::TooLong(name.len()));
        }
        Ok(Resource(name.into()))
    }

    /// `repo:<repo_id>`: what a sync or publish of the repository reserves.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::Resource;
    ///
    /// assert_eq!(Resource::repo(&"pulp-f17".parse().unwrap()).as_str(), "repo:pulp-f17");
    /// ```
    pub fn repo(repo_id: &crate::ResourceId) -> Self {
        // A resource ID's characters are all allowed in a resource name.
        Resource(format!("repo:{repo_id}").into())
    }

    /// The name.
    ///
    /// # Examples
    ///
    /// ```
    /// use repobus::operations::Resource;
    ///
    /// assert_eq!(Resource::new("x").unwrap().as_str(), "x");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Resource {
    type Err = ResourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Resource::new(s)
    }
}

impl Serialize for Resource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Resource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Resource::new(s).map_err(serde::de::Error::custom)
    }
}
