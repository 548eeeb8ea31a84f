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
    // The clippy above has every feature on; the crates with optional features again
    // without them, where code only those features use must not be left dead.
    run_step(
        "clippy, optional features off",
        cargo()
            .args([
                "clippy",
                "--package",
                "pc-ratelimit",
                "--package",
                "pc-pool",
            ])
            .args(["--all-targets", "--", "-D", "warnings"]),
    )?;
    run_step("test", cargo().args(["test", "--workspace"]))?;
    // The channel's random-cancellation stress test again with optimizations: other
    // interleavings, other inlining.
    run_step(
        "test pc-core cancellation stress, release",
        cargo().args([
            "test",
            "--release",
            "--package",
            "pc-core",
            "--test",
            "cancel_stress",
        ]),
    )?;
    // Features outside `full`: the bridge to the `metrics` facade, and tower.
    run_step(
        "test pc-metrics, all features",
        cargo().args(["test", "--package", "pc-metrics", "--all-features"]),
    )?;
    run_step(
        "test the tower features",
        cargo()
            .args(["test", "--package", "pc-ratelimit", "--package", "pc-pool"])
            .args(["--features", "pc-ratelimit/tower,pc-pool/tower"]),
    )?;
    // The doc tests of the facade with every feature outside `full`: the pages of `docs/`
    // that need one (Redis Streams) compile too.
    run_step(
        "doc tests of the facade, features outside full",
        cargo().args(["test", "--package", "pc", "--doc"]).args([
            "--features",
            "tower,redis,redis-tls,metrics-rs,metrics-http",
        ]),
    )?;
    // Our own synchronization under loom (the channel, the lock-free limiter, the pressure
    // marks), in a target dir of its own since every crate is rebuilt with `--cfg loom`. A
    // preemption bound of 2 (1 for the two-receiver channel models, which say so) keeps it
    // near two minutes.
    run_step(
        "loom",
        cargo()
            .args(["test", "--release", "--lib"])
            .args(["--package", "pc-core", "--package", "pc-ratelimit"])
            .args(["--package", "pc-backpressure"])
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
    check_tour()?;
    check_examples()?;
    cargo_deny()?;
    eprintln!("==> ci: every step passed");
    Ok(())
}

/// Plays the tour (`--json`, so its report can be read back) and checks that every scenario
/// added up; the tour also exits non-zero when one does not.
fn check_tour() -> Result {
    let mut command = cargo();
    // With the live page served on a free port while it plays.
    command.args(["run", "--quiet", "--example", "tour", "--", "--json"]);
    command.args(["--serve", "127.0.0.1:0"]);
    eprintln!("==> tour: {}", crate::describe(&command));
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|err| format!("tour: could not start: {err}"))?;
    // Read the report even when the tour failed: it says which scenario did not add up.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|err| format!("tour ({}): not JSON ({err}): {stdout}", output.status))?;
    let scenarios = report["scenarios"]
        .as_array()
        .ok_or_else(|| format!("tour: no `scenarios` array in {report}"))?;
    let failed: Vec<&serde_json::Value> = scenarios.iter().filter(|s| s["ok"] != true).collect();
    if scenarios.is_empty() || !failed.is_empty() || !output.status.success() {
        return Err(format!("tour: scenarios did not add up: {failed:?}"));
    }
    eprintln!("==> tour: {} results, all ok", scenarios.len());
    Ok(())
}

/// Every example of the facade but the tour (`crates/pc/examples/*.rs`), run to its end with
/// the features outside `full` they need: each asserts its own outcome.
fn check_examples() -> Result {
    let dir = std::path::Path::new("crates/pc/examples");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|err| format!("examples: cannot read {}: {err}", dir.display()))?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let is_rs = path.extension().is_some_and(|ext| ext == "rs");
            is_rs.then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!("examples: none found in {}", dir.display()));
    }
    for name in &names {
        run_step(
            &format!("example {name}"),
            cargo()
                .args(["run", "--quiet", "--package", "pc", "--example", name])
                .args(["--features", "tower,redis"]),
        )?;
    }
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
