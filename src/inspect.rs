//! Captured messages as JSON Lines: one `{"topic": T, "body": B}` per line.
//!
//! This is the input of `repobus inspect` and `repobus publish --jsonl`.
//!
//! ```
//! use repobus::inspect::inspect_line;
//!
//! let described = inspect_line(br#"{"topic": "repo.sync.start", "body": {"repo_id": "pulp-f17"}}"#).unwrap();
//! assert_eq!(described.event_type.as_str(), "repo-sync-started");
//! assert_eq!(described.status, "running");
//! assert!(inspect_line(b"{\"topic\": \"repo.sync.start\"}").unwrap_err().to_string().contains("\"body\""));
//! ```

use serde_json::Value;

use crate::events::Description;
use crate::{DecodeError, Event};

/// What is wrong with one line of captured messages.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The line is empty.
    #[error("empty line; expected {{\"topic\": ..., \"body\": ...}}")]
    Empty,
    /// The line is not JSON.
    #[error("malformed JSON: {0}")]
    Json(serde_json::Error),
    /// The line is JSON but not an object with a string `topic` and a `body`.
    #[error("{0}; expected {{\"topic\": ..., \"body\": ...}}")]
    Shape(&'static str),
    /// The body does not decode on its topic.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// One captured message: the topic it was received on and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    /// A type ID or any wire topic that maps onto one.
    pub topic: String,
    /// The body as received.
    pub body: Value,
}

impl Captured {
    /// Decodes the body on its topic.
    pub fn decode(self) -> Result<Event, DecodeError> {
        Event::decode_value(&self.topic, self.body)
    }
}

/// Parses one line (a trailing `\r` is ignored).
pub fn parse_line(line: &[u8]) -> Result<Captured, LineError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(LineError::Empty);
    }
    let value: Value = serde_json::from_slice(line).map_err(LineError::Json)?;
    let Value::Object(mut object) = value else {
        return Err(LineError::Shape("the line is not a JSON object"));
    };
    let topic = match object.remove("topic") {
        Some(Value::String(topic)) => topic,
        Some(_) => return Err(LineError::Shape("\"topic\" is not a string")),
        None => return Err(LineError::Shape("\"topic\" is missing")),
    };
    let body = object
        .remove("body")
        .ok_or(LineError::Shape("\"body\" is missing"))?;
    Ok(Captured { topic, body })
}

/// Parses and decodes one line and describes the event: what `repobus
/// inspect` prints for it.
pub fn inspect_line(line: &[u8]) -> Result<Description, LineError> {
    Ok(parse_line(line)?.decode()?.describe())
}
