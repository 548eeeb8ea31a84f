//! `cargo xtask release --dry-run`: everything short of publishing, the crate names on
//! crates.io included (read from its index with `curl`).

use std::fs;
use std::process::Command;

use crate::{Result, cargo, describe, metadata, project_root, run_step};

/// The crates.io index, read over HTTP (the sparse protocol cargo itself uses).
const INDEX: &str = "https://index.crates.io";

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
    names_are_ours()?;
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

/// Every publishable name of the workspace, checked against the crates.io index: a name taken
/// there with versions this workspace never released belongs to someone else, and publishing
/// under it would fail (or, for a user, `pc = "0.1"` would install their crate).
fn names_are_ours() -> Result {
    let unpublished = unpublished()?;
    let metadata = metadata()?;
    let names: Vec<String> = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata lists no packages")?
        .iter()
        .filter_map(|p| p["name"].as_str())
        .filter(|name| !unpublished.iter().any(|other| other == name))
        .map(str::to_string)
        .collect();
    let changelog = project_root().join("CHANGELOG.md");
    let changelog =
        fs::read_to_string(&changelog).map_err(|err| format!("{}: {err}", changelog.display()))?;
    let ours = released_versions(&changelog);
    let mut taken = Vec::new();
    for name in &names {
        for spelling in spellings(name) {
            let Some(lines) = fetch_index(&spelling)? else {
                continue;
            };
            let theirs: Vec<String> = index_versions(&lines)
                .into_iter()
                .filter(|version| !ours.contains(version))
                .collect();
            if !theirs.is_empty() {
                taken.push(format!(
                    "`{name}` is taken on crates.io as `{spelling}` (versions {}), none of them \
                     released from this workspace",
                    theirs.join(", ")
                ));
            }
        }
    }
    if taken.is_empty() {
        eprintln!("==> every crate name is free on crates.io, or ours");
        Ok(())
    } else {
        Err(format!(
            "crate names held by other owners; publishing waits on them (the README says how to \
             depend on pc meanwhile):\n  {}",
            taken.join("\n  ")
        ))
    }
}

/// The versions CHANGELOG.md records as released: `## X.Y.Z - date` headings, not
/// `Unreleased` ones.
fn released_versions(changelog: &str) -> Vec<String> {
    changelog
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .filter(|heading| !heading.to_ascii_lowercase().contains("unreleased"))
        .filter_map(|heading| heading.split_whitespace().next())
        .map(|version| version.trim_matches(['[', ']']).to_string())
        .filter(|version| version.starts_with(|c: char| c.is_ascii_digit()))
        .collect()
}

/// Every spelling crates.io takes for the same name: `-` and `_` are one to it.
fn spellings(name: &str) -> Vec<String> {
    let mut spellings = vec![String::new()];
    for c in name.to_ascii_lowercase().chars() {
        let options: &[char] = if c == '-' || c == '_' {
            &['-', '_']
        } else {
            &[c]
        };
        spellings = spellings
            .iter()
            .flat_map(|prefix| options.iter().map(move |c| format!("{prefix}{c}")))
            .collect();
    }
    spellings
}

/// A name's file in the index: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd...`.
fn index_path(name: &str) -> String {
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

/// The versions listed in an index file (one JSON object per line).
fn index_versions(lines: &str) -> Vec<String> {
    lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|entry| entry["vers"].as_str().map(str::to_string))
        .collect()
}

/// A name's index file, `None` if the index has no such name; an error if the index cannot be
/// read at all, so that a dry run never passes for want of a network.
fn fetch_index(name: &str) -> Result<Option<String>> {
    let url = format!("{INDEX}/{}", index_path(name));
    let mut command = Command::new("curl");
    command.args([
        "--silent",
        "--show-error",
        "--max-time",
        "30",
        "--write-out",
    ]);
    command.args(["\n%{http_code}", &url]);
    let output = command
        .output()
        .map_err(|err| format!("could not start {}: {err}", describe(&command)))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    match status.trim() {
        "200" => Ok(Some(body.to_string())),
        "404" => Ok(None),
        other => Err(format!(
            "could not read the crates.io index at {url} (HTTP status {other}): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{index_path, index_versions, released_versions, spellings};

    #[test]
    fn index_paths_follow_the_sparse_layout() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("pc"), "2/pc");
        assert_eq!(index_path("pcs"), "3/p/pcs");
        assert_eq!(index_path("pc_core"), "pc/_c/pc_core");
    }

    #[test]
    fn dashes_and_underscores_are_one_name() {
        assert_eq!(spellings("pc"), ["pc"]);
        assert_eq!(spellings("pc-core"), ["pc-core", "pc_core"]);
        assert_eq!(spellings("A-b_c"), ["a-b-c", "a-b_c", "a_b-c", "a_b_c"]);
    }

    #[test]
    fn only_dated_changelog_sections_are_released() {
        let changelog = "# Changelog\n\n## 0.2.0 - Unreleased\n\n## [0.1.1] - 2026-01-02\n\
                         ### Added\n## 0.1.0 - 2025-12-01\n";
        assert_eq!(released_versions(changelog), ["0.1.1", "0.1.0"]);
    }

    #[test]
    fn index_lines_give_their_versions() {
        let lines = "{\"name\": \"pc\", \"vers\": \"0.1.0\"}\n\
                     {\"name\": \"pc\", \"vers\": \"0.1.13\", \"yanked\": false}\n";
        assert_eq!(index_versions(lines), ["0.1.0", "0.1.13"]);
    }
}
