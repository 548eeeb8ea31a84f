//! `RedisGcra`: one limit shared by processes. The processes are this test binary again,
//! running `child_limiter`.
//!
//! Real time, a real server and real processes: the shared-limit test uses a rate that cannot
//! refill a permit during the test, so its count is exact whatever the timing; the refill test
//! sleeps exactly the wait the server gave, and bounds its count by the server's own clock.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use pc_core::BuildError;
use pc_redis::{RedisGcra, RedisLimitError};
use support::Server;

/// Where a child process finds its settings: `url|rate|burst|attempts`.
const CHILD: &str = "PC_REDIS_GCRA_TEST_CHILD";

fn limiter(url: &str, rate: f64, burst: u32) -> RedisGcra {
    RedisGcra::builder(url)
        .rate(rate)
        .burst(burst)
        .prefix("test-gcra:")
        .build()
        .unwrap()
}

/// The body of a limiter process; does nothing when run as an ordinary test. Asks for one
/// permit of the key `shared` `attempts` times as fast as it can, and prints how many it got.
#[tokio::test(flavor = "current_thread")]
async fn child_limiter() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let limiter = limiter(
        parts[0],
        parts[1].parse().unwrap(),
        parts[2].parse().unwrap(),
    );
    let attempts: u32 = parts[3].parse().unwrap();
    let mut granted = 0;
    for _ in 0..attempts {
        match limiter.try_acquire("shared", 1).await {
            Ok(()) => granted += 1,
            Err(RedisLimitError::Insufficient { .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    println!("granted={granted}");
}

/// Runs 4 limiter processes at once against `url`; the permits each got.
fn four_processes(url: &str, rate: f64, burst: u32, attempts: u32) -> Vec<u32> {
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "child_limiter",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD, format!("{url}|{rate}|{burst}|{attempts}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("the test binary runs as a child")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "a limiter process failed");
            let stdout = String::from_utf8(output.stdout).unwrap();
            stdout
                .lines()
                // The harness may print the test's name on the same line first.
                .find_map(|line| line.split_once("granted=").map(|(_, n)| n.trim()))
                .unwrap_or_else(|| panic!("the child reports its count: {stdout}"))
                .parse()
                .unwrap()
        })
        .collect()
}

/// The server's clock, in microseconds.
async fn server_time(url: &str) -> u64 {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let (seconds, micros): (u64, u64) = redis::cmd("TIME")
        .query_async(&mut connection)
        .await
        .unwrap();
    seconds * 1_000_000 + micros
}

#[tokio::test(flavor = "current_thread")]
async fn four_processes_share_one_burst_exactly() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let Some(server) = Server::start().await else {
        return;
    };
    // One permit per 1,000 s: none refills during the test. 4 x 200 asks for a burst of 50.
    let granted = four_processes(&server.url, 0.001, 50, 200);
    assert_eq!(
        granted.iter().sum::<u32>(),
        50,
        "each process got {granted:?}"
    );
    // And the key says the bucket is empty, for a while.
    let limiter = limiter(&server.url, 0.001, 50);
    let Err(RedisLimitError::Insufficient { retry_after }) = limiter.try_acquire("shared", 1).await
    else {
        panic!("the burst is spent");
    };
    assert!(retry_after > Duration::from_secs(990), "{retry_after:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn four_processes_admit_no_more_than_burst_and_rate_over_the_servers_time() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let Some(server) = Server::start().await else {
        return;
    };
    let (rate, burst) = (200.0, 10);
    let start = server_time(&server.url).await;
    let granted: u32 = four_processes(&server.url, rate, burst, 2_000).iter().sum();
    let elapsed = (server_time(&server.url).await - start) as f64 / 1e6;
    let most = f64::from(burst) + rate * elapsed;
    assert!(
        f64::from(granted) <= most + 1.0,
        "{granted} granted in {elapsed} s"
    );
    // One limit for the four, not one each (which would be four times this); and the refills
    // did reach them (the run lasts longer than one interval, 5 ms, however slowly the
    // processes start).
    assert!(granted > burst, "{granted} granted in {elapsed} s");
}

#[tokio::test(flavor = "current_thread")]
async fn a_refusal_says_when_and_then_is_granted() {
    let Some(server) = Server::start().await else {
        return;
    };
    let limiter = limiter(&server.url, 20.0, 5);
    assert!(limiter.try_acquire("k", 5).await.is_ok());
    let Err(RedisLimitError::Insufficient { retry_after }) = limiter.try_acquire("k", 1).await
    else {
        panic!("the burst is spent");
    };
    assert!(
        retry_after > Duration::ZERO && retry_after <= Duration::from_millis(50),
        "{retry_after:?}"
    );
    // Other keys are untouched; asking for nothing costs nothing.
    assert!(limiter.try_acquire("other", 5).await.is_ok());
    assert!(limiter.try_acquire("k", 0).await.is_ok());
    tokio::time::sleep(retry_after).await;
    assert!(
        limiter.try_acquire("k", 1).await.is_ok(),
        "granted once the wait has passed"
    );
    assert!(matches!(
        limiter.try_acquire("k", 6).await,
        Err(RedisLimitError::OverBurst {
            requested: 6,
            burst: 5
        })
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn a_keys_state_expires_once_its_bucket_is_full() {
    let Some(server) = Server::start().await else {
        return;
    };
    let limiter = limiter(&server.url, 100.0, 2);
    limiter.try_acquire("brief", 2).await.unwrap();
    let client = redis::Client::open(server.url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg("test-gcra:brief")
        .query_async(&mut connection)
        .await
        .unwrap();
    // Two permits at 10 ms each: full again within 20 ms (and a millisecond of rounding).
    assert!((1..=21).contains(&ttl), "{ttl} ms");
}

#[test]
fn settings_are_checked() {
    let url = "redis://127.0.0.1/";
    let setting = |builder: pc_redis::RedisGcraBuilder| builder.build().unwrap_err();
    let both = || RedisGcra::builder(url).rate(1.0).burst(1);
    assert_eq!(setting(RedisGcra::builder(url).burst(1)).setting(), "rate");
    assert_eq!(
        setting(RedisGcra::builder(url).rate(1.0)).setting(),
        "burst"
    );
    assert_eq!(
        setting(both().burst(0)),
        BuildError::Zero { setting: "burst" }
    );
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e6, 1e-12] {
        assert_eq!(setting(both().rate(rate)).setting(), "rate", "{rate}");
    }
    assert_eq!(
        setting(RedisGcra::builder("nonsense").rate(1.0).burst(1)).setting(),
        "url"
    );
    let limiter = both().rate(3.0).build().unwrap();
    // 333,334 µs per permit: rounded up, never faster.
    assert!(limiter.rate() < 3.0 && limiter.rate() > 2.99999);
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_that_cannot_be_reached_is_an_error_not_a_grant() {
    // Port 1 refuses at once: nothing to wait for.
    let limiter = limiter("redis://127.0.0.1:1/", 1.0, 1);
    assert!(matches!(
        limiter.try_acquire("k", 1).await,
        Err(RedisLimitError::Redis(pc_redis::RedisError::Connect { .. }))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn a_restarted_server_is_reached_again_and_keeps_what_it_persisted() {
    let Some(mut server) = Server::start_durable().await else {
        return;
    };
    let limiter = limiter(&server.url, 0.001, 3);
    limiter.try_acquire("k", 3).await.unwrap();
    server.kill();
    server.restart().await;
    // The connection is made again on the next decision; the key came back from the AOF.
    assert!(matches!(
        limiter.try_acquire("k", 1).await,
        Err(RedisLimitError::Insufficient { .. })
    ));
    assert!(limiter.try_acquire("fresh", 3).await.is_ok());
}
