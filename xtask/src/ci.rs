//! `cargo xtask ci`: the gate every change passes, in the order that fails fastest.

use crate::{Result, cargo, metadata, run_step};

pub(crate) fn run(args: &[String]) -> Result {
    if let Some(arg) = args.first() {
        return Err(format!("ci takes no arguments, got `{arg}`"));
    }
    run_step("fmt", cargo().args(["fmt", "--all", "--check"]))?;
    run_step(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run_step("test", cargo().args(["test", "--workspace"]))?;
    // Features outside `full`: the bridge to the `metrics` facade.
    run_step(
        "test pc-metrics, all features",
        cargo().args(["test", "--package", "pc-metrics", "--all-features"]),
    )?;
    // The channel's own synchronization under loom, in a target dir of its own since every
    // crate is rebuilt with `--cfg loom`. A preemption bound of 2 keeps it near a minute.
    run_step(
        "loom",
        cargo()
            .args(["test", "--package", "pc-core", "--lib", "--release"])
            .args(["--target-dir", "target/loom", "loom_"])
            .env("RUSTFLAGS", "--cfg loom")
            .env("LOOM_MAX_PREEMPTIONS", "2"),
    )?;
    run_step(
        "doc",
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    run_step(
        "bench build",
        cargo().args(["bench", "--workspace", "--no-run"]),
    )?;
    check_facade_features()?;
    run_step(
        "tour",
        cargo().args(["run", "--quiet", "--example", "tour"]),
    )?;
    cargo_deny()?;
    eprintln!("==> ci: every step passed");
    Ok(())
}

/// `cargo check` of the facade with no block, then with each feature alone.
fn check_facade_features() -> Result {
    let metadata = metadata()?;
    let facade = metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == "pc"))
        .ok_or("cargo metadata lists no `pc` package")?;
    let features = facade["features"]
        .as_object()
        .ok_or("the `pc` package has no feature table")?;
    run_step(
        "facade, no features",
        cargo().args(["check", "--package", "pc", "--no-default-features"]),
    )?;
    for feature in features.keys().filter(|f| *f != "default") {
        run_step(
            &format!("facade, feature `{feature}` alone"),
            cargo().args([
                "check",
                "--package",
                "pc",
                "--no-default-features",
                "--features",
                feature,
            ]),
        )?;
    }
    Ok(())
}

/// `cargo deny check bans licenses sources` when cargo-deny is installed. Advisories need a
/// network this gate does not assume.
fn cargo_deny() -> Result {
    let installed = cargo()
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        eprintln!(
            "==> cargo-deny: skipped, not installed (install it with `cargo install --locked cargo-deny`)"
        );
        return Ok(());
    }
    run_step(
        "cargo-deny",
        cargo().args([
            "deny",
            "--log-level",
            "error",
            "check",
            "bans",
            "licenses",
            "sources",
        ]),
    )
}
