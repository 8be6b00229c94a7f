//! `repobus inspect [FILE|-]`

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use serde_json::{json, Value};

pub fn run(file: Option<&Path>) -> Result<ExitCode, String> {
    let mut input = super::open_input(file)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    for (index, line) in (&mut input).split(b'\n').enumerate() {
        let line = line.map_err(|e| format!("reading input: {e}"))?;
        let object = match repobus::inspect::inspect_line(&line) {
            Ok(description) => Value::Object(description),
            Err(message) => {
                failed = true;
                json!({ "error": format!("line {}: {message}", index + 1) })
            }
        };
        writeln!(out, "{object}").map_err(|e| format!("writing output: {e}"))?;
    }
    out.flush().map_err(|e| format!("writing output: {e}"))?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
