//! The `repobus` command line: a thin layer over the `repobus` library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
