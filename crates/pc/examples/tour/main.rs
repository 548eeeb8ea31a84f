//! The tour: every seed scenario, played in real time on `pc`, each checking its own counts,
//! with a live progress line per scenario and a table at the end. Exits non-zero if any
//! scenario does not add up.
//!
//! ```text
//! cargo run --example tour                    # every scenario, then the table
//! cargo run --example tour -- go-token-bucket # one scenario (see --list)
//! cargo run --example tour -- --json          # {"scenarios": [...]} instead of the table
//! cargo run --example tour -- --serve 127.0.0.1:9898  # and a live page of every block there
//! ```

mod scenarios;

use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scenarios::{Outcome, Report};

struct Args {
    json: bool,
    list: bool,
    only: Option<String>,
    /// Where to serve the live page while the scenarios play.
    serve: Option<String>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        json: false,
        list: false,
        only: None,
        serve: None,
    };
    let mut args = args;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => parsed.json = true,
            "--list" => parsed.list = true,
            "--serve" => match args.next() {
                Some(addr) if !addr.starts_with('-') => parsed.serve = Some(addr),
                _ => return Err("--serve needs an address, as 127.0.0.1:9898".into()),
            },
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            _ if parsed.only.is_some() => return Err(format!("one scenario at most, got `{arg}`")),
            _ => parsed.only = Some(arg),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("tour: {error}\nusage: tour [--json] [--list] [--serve ADDR] [SCENARIO]");
            return ExitCode::FAILURE;
        }
    };
    let mut chosen = scenarios::all();
    if args.list {
        for (key, _) in &chosen {
            println!("{key}");
        }
        return ExitCode::SUCCESS;
    }
    if let Some(only) = &args.only {
        chosen.retain(|(key, _)| key == only);
        if chosen.is_empty() {
            eprintln!("tour: no scenario `{only}` (try --list)");
            return ExitCode::FAILURE;
        }
    }

    // The live page of every scenario's blocks, while they play.
    let server = match &args.serve {
        Some(addr) => match pc::metrics::serve(scenarios::live().clone(), addr.as_str()).await {
            Ok(server) => {
                eprintln!(
                    "tour: live page on http://{0}/ (Prometheus text on http://{0}/metrics), \
                     while the scenarios play",
                    server.local_addr()
                );
                Some(server)
            }
            Err(error) => {
                eprintln!("tour: cannot serve on {addr}: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };

    let mut outcomes = Vec::new();
    for (key, play) in chosen {
        let progress = Progress::start(key, args.json);
        let played = play().await;
        progress.finish(&played);
        outcomes.extend(played);
    }

    if let Some(server) = server {
        server.stop().await;
    }
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    if args.json {
        println!("{}", json(&outcomes));
    } else {
        print_table(&outcomes);
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{failed} scenario(s) did not add up");
        ExitCode::FAILURE
    }
}

/// One live line while a scenario plays: its key, the time so far, and the items moved so far,
/// read from the scenarios' metrics (each read also samples the depth of their channels).
struct Progress {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn start(key: &'static str, quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:<22} {elapsed:>4} {msg}")
                .expect("a valid template"),
        );
        bar.set_prefix(key);
        let before = moved();
        let ticker = tokio::spawn({
            let bar = bar.clone();
            async move {
                loop {
                    bar.set_message(format!("{} items", moved() - before));
                    bar.tick();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        Self { bar, ticker }
    }

    fn finish(self, played: &[Outcome]) {
        self.ticker.abort();
        let ok = played.iter().all(Result::is_ok);
        let items: u64 = played.iter().flatten().map(|r| r.items).sum();
        self.bar.finish_with_message(format!(
            "{items} items, {}",
            if ok { "ok" } else { "FAILED" }
        ));
    }
}

/// Items consumed so far over every scenario's metrics.
fn moved() -> u64 {
    scenarios::live()
        .snapshot()
        .iter()
        .map(|s| s.consumed)
        .sum()
}

fn print_table(outcomes: &[Outcome]) {
    println!(
        "{:<46} {:>7} {:>10} {:>10} {:>5} {:>7} {:>6} {:>21}  result",
        "scenario", "items", "wall", "items/s", "peak", "dropped", "errors", "p99"
    );
    for outcome in outcomes {
        match outcome {
            Ok(report) => println!(
                "{:<46} {:>7} {:>7.0} ms {:>10.0} {:>5} {:>7} {:>6} {:>21}  ok",
                report.name,
                report.items,
                report.wall.as_secs_f64() * 1e3,
                report.items_per_sec(),
                report.peak_depth,
                report.dropped,
                report.errors,
                p99_text(report),
            ),
            Err(mismatch) => println!("FAILED: {mismatch}"),
        }
    }
}

fn p99_text(report: &Report) -> String {
    match report.p99 {
        Some((kind, p99)) if p99 < Duration::from_millis(1) => {
            format!("{:.0} us {kind}", p99.as_secs_f64() * 1e6)
        }
        Some((kind, p99)) => format!("{:.1} ms {kind}", p99.as_secs_f64() * 1e3),
        None => "-".into(),
    }
}

fn json(outcomes: &[Outcome]) -> serde_json::Value {
    let scenarios: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Ok(r) => serde_json::json!({
                "name": r.name,
                "ok": true,
                "items": r.items,
                "wall_ms": r.wall.as_secs_f64() * 1e3,
                "items_per_sec": r.items_per_sec(),
                "peak_depth": r.peak_depth,
                "dropped": r.dropped,
                "errors": r.errors,
                "p99_ms": r.p99.map(|(_, p99)| p99.as_secs_f64() * 1e3),
                "p99_of": r.p99.map(|(kind, _)| kind.as_str()),
            }),
            Err(mismatch) => serde_json::json!({ "ok": false, "error": mismatch }),
        })
        .collect();
    serde_json::json!({ "scenarios": scenarios })
}
