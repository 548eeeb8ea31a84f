//! `cargo xtask release --dry-run`: everything short of publishing.

use std::fs;

use crate::{Result, cargo, metadata, project_root, run_step};

pub(crate) fn run(args: &[String]) -> Result {
    if args != ["--dry-run"] {
        return Err(
            "release only runs as `cargo xtask release --dry-run`: publishing is done by hand"
                .into(),
        );
    }
    let version = one_version()?;
    eprintln!("==> one version everywhere: {version}");
    changelog_has(&version)?;
    eprintln!("==> CHANGELOG.md has a section for {version}");
    // Every publishable crate, packaged together so that crates of this workspace that are not
    // on crates.io yet resolve to each other. Cargo unpacks those packages under CARGO_HOME
    // keyed by the packaging directory and never refreshes an unpacked version, so each run
    // packages into a directory of its own: a second dry run of the same version must not
    // verify against the first run's sources.
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let target = project_root().join(format!("target/release-check/{stamp}"));
    let mut command = cargo();
    command.args(["package", "--workspace", "--allow-dirty", "--target-dir"]);
    command.arg(&target);
    for unpublished in unpublished()? {
        command.args(["--exclude", &unpublished]);
    }
    let result = run_step("package", &mut command);
    // Best effort: a leftover directory under target/ costs only disk.
    let _ = fs::remove_dir_all(&target);
    result
}

/// Packages marked `publish = false`.
fn unpublished() -> Result<Vec<String>> {
    let metadata = metadata()?;
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata lists no packages")?;
    Ok(packages
        .iter()
        .filter(|p| p["publish"].as_array().is_some_and(Vec::is_empty))
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect())
}

/// The version every publishable package shares.
fn one_version() -> Result<String> {
    let metadata = metadata()?;
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata lists no packages")?;
    let mut versions: Vec<(String, String)> = packages
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    versions.sort();
    let first = versions.first().ok_or("no packages")?.1.clone();
    let odd: Vec<String> = versions
        .iter()
        .filter(|(_, v)| *v != first)
        .map(|(name, v)| format!("{name} {v}"))
        .collect();
    if odd.is_empty() {
        Ok(first)
    } else {
        Err(format!("versions differ from {first}: {}", odd.join(", ")))
    }
}

fn changelog_has(version: &str) -> Result {
    let path = project_root().join("CHANGELOG.md");
    let text = fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    let found = text.lines().any(|line| {
        line.starts_with("## ") && line.split([' ', '[', ']']).any(|word| word == version)
    });
    if found {
        Ok(())
    } else {
        Err(format!("CHANGELOG.md has no `## {version}` section"))
    }
}
