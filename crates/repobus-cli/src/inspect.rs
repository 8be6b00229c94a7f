//! `repobus inspect [FILE|-]`

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use crate::error::CliError;

pub fn run(file: Option<&Path>) -> Result<ExitCode, CliError> {
    let mut input = super::open_input(file)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for (index, line) in (&mut input).split(b'\n').enumerate() {
        let line = line.map_err(CliError::io("reading input"))?;
        let object = match repobus::inspect::inspect_line(&line) {
            Ok(description) => serde_json::to_value(description).unwrap_or_default(),
            Err(message) => {
                failed = true;
                json!({ "error": format!("line {}: {message}", index + 1) })
            }
        };
        writeln!(out, "{object}").map_err(CliError::io("writing output"))?;
    }
    out.flush().map_err(CliError::io("writing output"))?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
