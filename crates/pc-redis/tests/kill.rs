//! Consumers killed with SIGKILL mid-batch: each consumer is a process of its own (this test
//! binary again, running `child_consumer`), killed and replaced 20 times during the run.
//!
//! Real time and real processes: waits are bounded loops with generous deadlines.

mod support;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pc_core::AckConsumer;
use pc_redis::RedisQueue;
use support::{Server, pending};

/// Where a child process finds its settings: `url|name|acks|log file`, `acks` being `one` (a
/// round trip each) or `batched` (up to [`ACK_BATCH`] held).
const CHILD: &str = "PC_REDIS_KILL_TEST_CHILD";
const MESSAGES: u32 = 100_000;
const KILLS: usize = 20;
/// Acks a batched child holds at most.
const ACK_BATCH: usize = 16;

fn queue(url: &str, batched: bool) -> RedisQueue<u32> {
    let builder = RedisQueue::<u32>::builder(url, "jobs")
        .batch(64)
        .block(Duration::from_millis(100))
        .claim_idle(Duration::from_millis(1_000));
    let builder = if batched {
        builder.ack_batch(ACK_BATCH, Duration::from_millis(50))
    } else {
        builder
    };
    builder.build().unwrap()
}

/// The body of a consumer process; does nothing when run as an ordinary test. It handles one
/// item at a time: logs it (flushed), then acks it, so a kill leaves at most one item handled
/// but not acked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_consumer() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let mut parts = spec.splitn(4, '|');
    let (url, name, acks, log) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        PathBuf::from(parts.next().unwrap()),
    );
    let consumer = queue(&url, acks == "batched").consumer(name).await.unwrap();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    // Ends when the parent stops sending work for a while (it kills the survivors anyway).
    while let Ok(delivery) =
        tokio::time::timeout(Duration::from_secs(30), consumer.recv_delivery()).await
    {
        let (n, ack) = delivery.unwrap().into_parts();
        writeln!(log, "{n}").unwrap();
        log.flush().unwrap();
        ack.ack().await.unwrap();
    }
}

fn spawn_child(url: &str, name: &str, batched: bool, dir: &Path) -> Child {
    let acks = if batched { "batched" } else { "one" };
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_consumer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD,
            format!("{url}|{name}|{acks}|{}", dir.join(name).display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test binary runs as a child")
}

/// Every item any consumer logged, with how many times.
fn logged(dir: &Path, names: &[String]) -> HashMap<u32, u32> {
    let mut counts = HashMap::new();
    for name in names {
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            continue;
        };
        // A kill may cut the last line short: only whole lines count.
        for line in text.lines().filter(|line| !line.is_empty()) {
            if let Ok(n) = line.parse() {
                *counts.entry(n).or_insert(0) += 1;
            }
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_consumers_loses_nothing_and_duplicates_at_most_one_item_per_kill() {
    kill_consumers(false).await;
}

/// With acks batched, a kill also loses the acks its consumer held (at most `ACK_BATCH`):
/// their entries are delivered again, and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_consumers_with_batched_acks_loses_nothing_and_duplicates_at_most_a_batch() {
    kill_consumers(true).await;
}

/// Kills a consumer `KILLS` times while 100,000 items go through, and checks every item was
/// handled, with at most the duplicates each kill can cause.
async fn kill_consumers(batched: bool) {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let Some(server) = Server::start().await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("pc-redis-kill-{}-{batched}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let queue = queue(&server.url, batched);
    let producer = queue.producer().await.unwrap();
    // The group exists before the first send, so no entry precedes it.
    drop(queue.consumer("setup").await.unwrap());
    let sender = tokio::spawn(async move {
        for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(2_000) {
            producer.send_all(chunk.iter().copied()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    let mut names: Vec<String> = (0..4).map(|i| format!("c{i}")).collect();
    let mut children: Vec<Child> = names
        .iter()
        .map(|name| spawn_child(&server.url, name, batched, &dir))
        .collect();
    let mut rng = 11u64;
    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(250)).await;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let victim = (rng % children.len() as u64) as usize;
        children[victim].kill().unwrap(); // SIGKILL
        children[victim].wait().unwrap();
        // A replacement under a new name: the dead one's entries must be reclaimed.
        let name = format!("r{kill}");
        children[victim] = spawn_child(&server.url, &name, batched, &dir);
        names.push(name);
    }
    sender.await.unwrap();

    // Bounded: 120 s for the survivors to finish the work.
    let mut counts = logged(&dir, &names);
    for _ in 0..1_200 {
        if counts.len() as u32 == MESSAGES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        counts = logged(&dir, &names);
    }
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    // Those last kills may also leave an item handled but not acked: a last consumer takes
    // them over after the claim time and acks them (bounded: 20 s).
    let last = queue.consumer("last").await.unwrap();
    for _ in 0..200 {
        if pending(&server, "jobs", "pc").await == 0 {
            break;
        }
        if let Ok(delivery) =
            tokio::time::timeout(Duration::from_millis(100), last.recv_delivery()).await
        {
            let n = delivery.unwrap().ack().await.unwrap();
            *counts.entry(n).or_insert(0) += 1;
        }
    }
    let missing: Vec<u32> = (0..MESSAGES).filter(|n| !counts.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "never processed: {} items",
        missing.len()
    );
    let duplicates: u32 = counts.values().map(|times| times - 1).sum();
    let kills = KILLS + children.len();
    // Each kill: the item being handled, and the acks held.
    let per_kill = if batched { 1 + ACK_BATCH } else { 1 };
    assert!(
        duplicates as usize <= kills * per_kill,
        "{duplicates} duplicates for {kills} kills"
    );
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
    let _ = std::fs::remove_dir_all(&dir);
    let handled: HashSet<u32> = counts.into_keys().collect();
    assert_eq!(handled.len() as u32, MESSAGES);
}
