//! The live page in a real browser: a program with a few blocks under load serves its
//! registry, headless Chromium loads `/`, runs the page's script for a few seconds of virtual
//! time, and the DOM it leaves must hold a panel per block with every chart drawn.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it; `CI=true` makes its absence a failure,
//! elsewhere the test says it skipped). Real time, on purpose: the browser is another process
//! fetching over a real socket. Every wait on it is bounded (`BROWSER_DEADLINE`), far above
//! what a load of the page takes on a loaded 2-core machine.
#![cfg(all(
    feature = "metrics",
    feature = "backpressure",
    feature = "pool",
    feature = "priority"
))]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pc::backpressure::{BoundedQueue, Overflow};
use pc::metrics::{Registry, serve};
use pc::pool::WorkerPool;
use pc::priority::PriorityChannel;
use pc::{Consumer, Producer, channel};

/// The longest a browser run may take before the test gives up on it.
const BROWSER_DEADLINE: Duration = Duration::from_secs(120);

/// The blocks of the program, by the name each registers.
const BLOCKS: [&str; 4] = ["orders", "ingest", "resize", "alerts"];

/// The charts each panel draws.
const CHARTS: usize = 5;

/// A pause in the load.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(2)).await;
}

/// Sends 0, 1, 2, ... through `producer` until `stop` is set, pausing a tick after every
/// `burst` items.
fn feed<P: Producer<u64> + 'static>(producer: P, stop: &Arc<AtomicBool>, burst: u64) {
    let stop = Arc::clone(stop);
    tokio::spawn(async move {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) && producer.send(n).await.is_ok() {
            n += 1;
            if n.is_multiple_of(burst) {
                tick().await;
            }
        }
    });
}

/// Receives from `consumer` until it ends, `ticks` ticks per item.
fn drain<C: Consumer<u64> + 'static>(consumer: C, ticks: u32) {
    tokio::spawn(async move {
        while consumer.recv().await.is_ok() {
            for _ in 0..ticks {
                tick().await;
            }
        }
    });
}

/// Starts the blocks and their load; the load runs until `stop` is set.
fn program(registry: &Registry, stop: &Arc<AtomicBool>) {
    // A channel whose consumer is slower than its producer: depth against capacity.
    let (tx, rx) = channel::Builder::bounded(64)
        .probe(registry.metrics("orders").probe())
        .build::<u64>()
        .expect("valid");
    feed(tx, stop, 4);
    drain(rx, 1);

    // A queue that drops its oldest items under more overload.
    let (tx, rx) = BoundedQueue::builder::<u64>(32)
        .overflow(Overflow::DropOldest)
        .probe(registry.metrics("ingest").probe())
        .build()
        .expect("valid");
    feed(tx, stop, 8);
    drain(rx, 1);

    // A pool whose jobs take a little time, one in ten failing; fed as fast as it takes jobs.
    let pool = WorkerPool::builder(|n: u64| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if n.is_multiple_of(10) {
            Err("every tenth")
        } else {
            Ok(n)
        }
    })
    .workers(2)
    .capacity(16)
    .probe(registry.metrics("resize").probe())
    .build()
    .expect("valid");
    feed(pool, stop, u64::MAX);

    // A priority channel fed at its default level, drained at half the pace.
    let (tx, rx) = PriorityChannel::builder::<u64>(2)
        .capacity(16)
        .probe(registry.metrics("alerts").probe())
        .build()
        .expect("valid");
    feed(tx, stop, 1);
    drain(rx, 2);
}

/// Runs Chromium headless with `args` and then `url`, killed at the deadline.
fn chromium(args: &[&str], url: &str) -> Option<Output> {
    // A profile of its own, so that no other browser's lock or state is in the way (tests of
    // this file run at once).
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let profile = std::env::temp_dir().join(format!("pc-live-page-{}-{run}", std::process::id()));
    let spawned = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
        ])
        .args(["--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("chromium is required in CI (apt-get install chromium): {error}")
        }
        Err(error) => {
            eprintln!("skipped: chromium not found ({error}); install Debian's chromium");
            return None;
        }
    };
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        assert!(
            started.elapsed() < BROWSER_DEADLINE,
            "chromium did not finish in {BROWSER_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = waiter.join().expect("no panic").expect("chromium ran");
    let _ = std::fs::remove_dir_all(&profile);
    Some(output)
}

/// The numbers in `data-points="..."` attributes of `html`.
fn chart_points(html: &str) -> Vec<usize> {
    html.split("data-points=\"")
        .skip(1)
        .map(|rest| {
            rest.split('"')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a number of points")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_draws_a_panel_with_charts_for_every_block() {
    let registry = Registry::new();
    let stop = Arc::new(AtomicBool::new(false));
    program(&registry, &stop);
    let server = serve(registry, "127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}/", server.local_addr());

    // Eight seconds of the page's own time: eight refreshes at least.
    let dom = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            chromium(&["--virtual-time-budget=8000", "--dump-dom"], &url)
        })
        .await
        .expect("no panic")
    };
    let Some(dom) = dom else {
        stop.store(true, Ordering::Relaxed);
        return;
    };
    let html = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(
        html.contains("blocks, updated"),
        "the script never refreshed:\n{html}"
    );
    for block in BLOCKS {
        let start = html
            .find(&format!("data-block=\"{block}\""))
            .unwrap_or_else(|| panic!("no panel for {block}:\n{html}"));
        let panel = &html[start..];
        let panel = &panel[..panel.find("</section>").expect("a closed panel")];
        let points = chart_points(panel);
        assert_eq!(points.len(), CHARTS, "{block}: {panel}");
        assert!(
            points.iter().all(|n| *n >= 2),
            "{block}: every chart needs two points or more, got {points:?}"
        );
        let lines = panel.matches("<polyline points=\"").count();
        assert!(lines >= CHARTS, "{block}: {lines} lines drawn");
    }

    // A screenshot for the docs, when asked: `PC_LIVE_PAGE_SCREENSHOT=docs/live-page.png`
    // (relative to the workspace's root).
    if let Ok(path) = std::env::var("PC_LIVE_PAGE_SCREENSHOT") {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let screenshot = format!("--screenshot={}", root.join(path).display());
        let shot = tokio::task::spawn_blocking(move || {
            chromium(
                &[
                    "--virtual-time-budget=20000",
                    "--window-size=1280,900",
                    &screenshot,
                ],
                &url,
            )
        })
        .await
        .expect("no panic")
        .expect("chromium ran before");
        assert!(
            shot.status.success(),
            "{}",
            String::from_utf8_lossy(&shot.stderr)
        );
    }
    stop.store(true, Ordering::Relaxed);
    server.stop().await;
}

/// With nothing registered, the page says so (and the script still ran: its status line
/// counts no block).
#[tokio::test]
async fn the_live_page_of_an_empty_registry_says_it_is_empty() {
    let server = serve(Registry::new(), "127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}/", server.local_addr());
    let dom = tokio::task::spawn_blocking(move || {
        chromium(&["--virtual-time-budget=3000", "--dump-dom"], &url)
    })
    .await
    .expect("no panic");
    let Some(dom) = dom else {
        return;
    };
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(html.contains("0 blocks, updated"), "{html}");
    assert!(
        html.contains(r#"<p class="empty" id="empty">No block registered yet.</p>"#),
        "{html}"
    );
    assert!(!html.contains("data-block="), "{html}");
    server.stop().await;
}
