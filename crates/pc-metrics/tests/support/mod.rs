//! What more than one test file of pc-metrics needs.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

/// Checks `text` with `promtool check metrics` (Debian package `prometheus`): it must parse
/// and pass the lint. CI installs promtool (`CI=true` makes its absence an error); elsewhere
/// the check says it skipped.
pub(crate) fn promtool_accepts(text: &str) {
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("promtool is required in CI (apt-get install prometheus): {error}")
        }
        Err(error) => {
            eprintln!("skipped: promtool not found ({error}); install Debian's prometheus");
            return;
        }
    };
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())
        .expect("promtool reads");
    let output = child.wait_with_output().expect("promtool runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool: {said}\n{text}");
    assert!(said.trim().is_empty(), "promtool lint: {said}\n{text}");
}
