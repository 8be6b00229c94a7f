//! `repobus schemas [--out DIR] [--check]`

use std::path::Path;
use std::process::ExitCode;

use crate::error::{print_line, CliError};

pub fn run(dir: &Path, check: bool) -> Result<ExitCode, CliError> {
    if check {
        repobus::schema_files::check(dir)?;
        repobus::asyncapi::check(dir)?;
        print_line(format!(
            "{}: all {} schema files and {} are current",
            dir.display(),
            repobus::EventType::ALL.len(),
            repobus::asyncapi::FILE_NAME
        ))?;
    } else {
        for path in repobus::schema_files::write_all(dir)? {
            print_line(format!("wrote {}", path.display()))?;
        }
        let path = repobus::asyncapi::write(dir)?;
        print_line(format!("wrote {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
