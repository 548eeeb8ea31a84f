//! The tour: every seed scenario the toolkit covers so far, played in real time, each checking
//! its own counts. Exits non-zero if any scenario does not add up.
//!
//! ```text
//! cargo run --example tour
//! ```

mod scenarios;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    println!(
        "{:<46} {:>7} {:>11} {:>12} {:>6} {:>8}  result",
        "scenario", "items", "wall", "items/s", "peak", "dropped"
    );
    let mut failed = 0;
    for outcome in scenarios::all().await {
        match outcome {
            Ok(report) => println!(
                "{:<46} {:>7} {:>8.1} ms {:>12.0} {:>6} {:>8}  ok",
                report.name,
                report.items,
                report.wall.as_secs_f64() * 1e3,
                report.items_per_sec(),
                report.peak_depth,
                report.dropped
            ),
            Err(mismatch) => {
                failed += 1;
                println!("FAILED: {mismatch}");
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failed} scenario(s) did not add up");
        ExitCode::FAILURE
    }
}
