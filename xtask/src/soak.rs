//! `cargo xtask soak [CASES]`: the randomized contract test (`crates/pc/tests/contract.rs`) with
//! as many cases per block as asked (10,000 by default), in release mode.

use crate::{Result, cargo, run_step};

/// Cases per block when none are given.
const DEFAULT_CASES: u64 = 10_000;

pub(crate) fn run(args: &[String]) -> Result {
    let cases = match args {
        [] => DEFAULT_CASES,
        [cases] => cases
            .parse::<u64>()
            .ok()
            .filter(|&cases| cases > 0)
            .ok_or_else(|| format!("soak: the number of cases must be above 0, got `{cases}`"))?,
        _ => return Err("soak takes at most one argument: the cases per block".into()),
    };
    eprintln!("soak: {cases} cases per block; a failure prints the smallest sequence it found");
    run_step(
        "contract test",
        cargo()
            .args(["test", "--release", "--package", "pc", "--test", "contract"])
            .env("PC_CONTRACT_CASES", cases.to_string()),
    )
}
