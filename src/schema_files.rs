//! The committed schema files, `schemas/<type>.schema.json`: what
//! `repobus schemas` writes and `repobus schemas --check` compares.
//!
//! ```
//! use repobus::{schema_files, EventType};
//!
//! let text = schema_files::render(EventType::RepoSyncStarted);
//! assert!(text.ends_with("}\n"));
//! let dir = std::env::temp_dir().join(format!("repobus-doc-{}", std::process::id()));
//! schema_files::write_all(&dir).unwrap();
//! assert!(schema_files::check(&dir).is_ok());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::path::{Path, PathBuf};

use crate::schema::file_name;
use crate::EventType;

/// The schema file's exact text (pretty JSON and a final newline).
pub fn render(event_type: EventType) -> String {
    let mut text = serde_json::to_string_pretty(&event_type.schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Errors writing or checking schema files.
#[derive(Debug, thiserror::Error)]
pub enum SchemaFileError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Committed files differ from what the types generate.
    #[error("schema files out of date (run `repobus schemas` to regenerate): {}", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Stale(Vec<PathBuf>),
}

/// Writes all six schema files into `dir` (created if missing) and returns
/// their paths.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>, SchemaFileError> {
    std::fs::create_dir_all(dir).map_err(|source| SchemaFileError::Io {
        path: dir.to_owned(),
        source,
    })?;
    EventType::ALL
        .into_iter()
        .map(|t| {
            let path = dir.join(file_name(t));
            std::fs::write(&path, render(t)).map_err(|source| SchemaFileError::Io {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        })
        .collect()
}

/// Compares the files in `dir` with what the types generate; names every
/// file that is missing or different.
pub fn check(dir: &Path) -> Result<(), SchemaFileError> {
    let stale: Vec<PathBuf> = EventType::ALL
        .into_iter()
        .map(|t| (dir.join(file_name(t)), t))
        .filter(|(path, t)| std::fs::read_to_string(path).ok().as_deref() != Some(&render(*t)))
        .map(|(path, _)| path)
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(SchemaFileError::Stale(stale))
    }
}
