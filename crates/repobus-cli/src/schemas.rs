//! `repobus schemas [--out DIR] [--check]`

use std::path::Path;
use std::process::ExitCode;

pub fn run(dir: &Path, check: bool) -> Result<ExitCode, String> {
    if check {
        repobus::schema::check(dir).map_err(|e| e.to_string())?;
        println!(
            "{}: all {} schema files are current",
            dir.display(),
            repobus::EventType::ALL.len()
        );
    } else {
        for path in repobus::schema::write_all(dir).map_err(|e| e.to_string())? {
            println!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
