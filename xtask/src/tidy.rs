//! The house rules, as tests over `cargo metadata` and the files of the workspace.
//!
//! Each test names the rule it guards; a failure message says what to change.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{metadata, project_root};

/// The workspace's packages, from `cargo metadata --no-deps`.
fn packages() -> Vec<Value> {
    metadata().expect("cargo metadata")["packages"]
        .as_array()
        .expect("packages")
        .clone()
}

/// Directories under `crates/`.
fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(project_root().join("crates"))
        .expect("crates/")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no crates under crates/");
    dirs
}

fn name_of(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The `[section]` of a manifest, as its lines up to the next section.
fn section<'a>(manifest: &'a str, header: &str) -> Vec<&'a str> {
    manifest
        .lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

#[test]
fn blocks_depend_on_pc_core_and_no_other_block() {
    for package in packages() {
        let name = package["name"].as_str().unwrap();
        if !name.starts_with("pc-") || matches!(name, "pc-core" | "pc-benches") {
            continue;
        }
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            let normal = dep["kind"].is_null();
            assert!(
                !(normal && dep_name.starts_with("pc-") && dep_name != "pc-core"),
                "{name} depends on {dep_name}: blocks compose through pc-core traits only"
            );
        }
    }
}

#[test]
fn every_crate_has_a_readme_and_the_workspace_lints() {
    for dir in crate_dirs()
        .into_iter()
        .chain([project_root().join("xtask"), project_root().join("benches")])
    {
        let name = name_of(&dir);
        let manifest = read(&dir.join("Cargo.toml"));
        assert_eq!(
            section(&manifest, "[lints]"),
            ["workspace = true"],
            "{name}: add `[lints] workspace = true`"
        );
        if dir.starts_with(project_root().join("crates")) {
            assert!(dir.join("README.md").is_file(), "{name}: add a README.md");
            assert!(
                section(&manifest, "[lib]").contains(&"bench = false"),
                "{name}: library crates set `[lib] bench = false` (benches live in benches/)"
            );
        }
    }
}

#[test]
fn metadata_and_dependencies_come_from_the_workspace() {
    for dir in crate_dirs() {
        let name = name_of(&dir);
        let manifest = read(&dir.join("Cargo.toml"));
        let package = section(&manifest, "[package]");
        for key in [
            "version",
            "edition",
            "rust-version",
            "license",
            "repository",
        ] {
            assert!(
                package.contains(&format!("{key}.workspace = true").as_str()),
                "{name}: inherit `{key}` with `{key}.workspace = true`"
            );
        }
        for table in ["[dependencies]", "[dev-dependencies]"] {
            for line in section(&manifest, table) {
                assert!(
                    line.contains("workspace = true") || line.contains(".workspace = true"),
                    "{name} {table}: `{line}` must come from [workspace.dependencies]"
                );
            }
        }
    }
}

#[test]
fn toolchain_pin_and_rust_version_agree() {
    let toolchain = read(&project_root().join("rust-toolchain.toml"));
    let channel = toolchain
        .lines()
        .find_map(|line| line.trim().strip_prefix("channel = "))
        .expect("rust-toolchain.toml sets a channel")
        .trim_matches('"')
        .to_string();
    for package in packages() {
        let name = package["name"].as_str().unwrap();
        let rust_version = package["rust_version"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: set rust-version.workspace = true"));
        assert!(
            channel == rust_version || channel.starts_with(&format!("{rust_version}.")),
            "{name}: rust-version {rust_version} disagrees with the toolchain pin {channel}"
        );
    }
}

/// Blocks that need a server to be useful stay out of `full`, which must build and test with
/// nothing running.
const NEEDS_A_SERVER: &[&str] = &["redis"];

#[test]
fn the_facade_has_a_feature_per_block_and_full_enables_all() {
    let facade = packages()
        .into_iter()
        .find(|p| p["name"] == "pc")
        .expect("the pc facade");
    let features = facade["features"].as_object().unwrap();
    let full: Vec<&str> = features["full"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        features["default"],
        serde_json::json!(["full"]),
        "`full` is the default"
    );
    for dir in crate_dirs() {
        let crate_name = name_of(&dir);
        let Some(noun) = crate_name.strip_prefix("pc-") else {
            continue;
        };
        if noun == "core" {
            continue;
        }
        let feature = features
            .get(noun)
            .unwrap_or_else(|| panic!("pc: add feature `{noun}` for {crate_name}"));
        assert!(
            feature
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == &format!("dep:{crate_name}")),
            "pc: feature `{noun}` must enable `dep:{crate_name}`"
        );
        if !NEEDS_A_SERVER.contains(&noun) {
            assert!(full.contains(&noun), "pc: `full` must include `{noun}`");
        }
    }
}

#[test]
fn every_crate_opens_with_docs_whose_examples_deny_warnings() {
    for dir in crate_dirs() {
        let name = name_of(&dir);
        let lib = read(&dir.join("src/lib.rs"));
        assert!(
            lib.starts_with("//!"),
            "{name}: lib.rs opens with crate docs"
        );
        assert!(
            lib.contains("#![doc(test(attr(deny(warnings))))]"),
            "{name}: add `#![doc(test(attr(deny(warnings))))]` to lib.rs"
        );
    }
}

#[test]
fn every_block_has_an_auto_trait_test() {
    for dir in crate_dirs() {
        let name = name_of(&dir);
        if name.starts_with("pc-") {
            assert!(
                dir.join("tests/auto_traits.rs").is_file(),
                "{name}: add tests/auto_traits.rs asserting Send/Sync of public types and futures"
            );
        }
    }
}

#[test]
fn no_placeholders_or_blocking_sleeps_in_library_code() {
    // Spelled in pieces so this file does not trip its own rule.
    let banned = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
        concat!("std::thread::", "sleep"),
    ];
    let mut offenders = Vec::new();
    let mut stack: Vec<PathBuf> = crate_dirs()
        .into_iter()
        .map(|dir| dir.join("src"))
        .collect();
    stack.push(project_root().join("xtask/src"));
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(
                fs::read_dir(&path)
                    .unwrap()
                    .filter_map(|e| e.ok().map(|e| e.path())),
            );
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = read(&path);
            for pattern in banned {
                if text.contains(pattern) {
                    offenders.push(format!("{}: {pattern}", path.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "placeholders in library code:\n{}",
        offenders.join("\n")
    );
}
