//! Project tasks, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask ci`: the whole gate, stopping at the first failing step.
//! - `cargo xtask bench [--quick] [FILTER]`: criterion benches, then a table of ratios in
//!   `target/bench-report/`.
//! - `cargo xtask release --dry-run`: checks one version everywhere, a CHANGELOG section for it,
//!   every crate name against the crates.io index (a name held there with versions this
//!   workspace never released fails the check), and that every crate packages.
//! - `cargo xtask soak [CASES]`: the randomized contract test over every block, with as many
//!   cases per block as asked (10,000 by default; `ci` runs 256).
//!
//! The house rules live in `tidy.rs` as tests, run by `cargo test --workspace`.

mod bench;
mod chart;
mod ci;
mod release;
mod soak;
#[cfg(test)]
mod tidy;

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci                        fmt, clippy, tests, docs, bench build, facade features, cargo-deny
  bench [--quick] [FILTER]  run the criterion benches and write target/bench-report/
  release --dry-run         check versions, CHANGELOG and crate names, then cargo package
  soak [CASES]              the randomized contract test, CASES per block (default 10000)
";

/// What a task returns: `Err` carries the message printed before exiting with failure.
type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let outcome = match task.as_deref() {
        Some("ci") => ci::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("release") => release::run(&rest),
        Some("soak") => soak::run(&rest),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing task\n\n{USAGE}")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root, whatever directory the task was started from.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A `cargo` command at the workspace root, using the cargo that runs us.
fn cargo() -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command.current_dir(project_root());
    command
}

/// Runs `command`, inheriting the terminal; `Err` names `what` if it fails.
fn run_step(what: &str, command: &mut Command) -> Result {
    eprintln!("==> {what}: {}", describe(command));
    let status = command
        .status()
        .map_err(|err| format!("{what}: could not start {}: {err}", describe(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "step `{what}` failed ({status}): {}",
            describe(command)
        ))
    }
}

/// Runs `command` and returns its standard output.
fn output_of(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .map_err(|err| format!("could not start {}: {err}", describe(command)))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            describe(command),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|err| format!("{}: {err}", describe(command)))
}

/// `cargo metadata` for the workspace's own packages.
fn metadata() -> Result<serde_json::Value> {
    let json = output_of(cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    serde_json::from_str(&json).map_err(|err| format!("cargo metadata: {err}"))
}

fn describe(command: &Command) -> String {
    let mut text = Path::new(command.get_program())
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
