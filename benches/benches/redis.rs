//! `pc::redis` against a local redis-server (started here on a unix socket, without
//! persistence): 10,000 u64 messages per iteration through a fresh stream, sent with
//! `RedisProducer::send` (one `XADD` script per message) and received as acknowledged
//! deliveries (one `XACK` per message, or batched: `ack_batch(64, 1 ms)`), with 1 and 4
//! producers/consumers and reads of 1, 16 and 64 entries; and rate-limit decisions, `RedisGcra::try_acquire` (one script per decision,
//! from 1 and 4 tasks) next to the in-process `Gcra`. Skipped, saying so, when `redis-server`
//! is not installed. Each queue group has the engine's own ceiling beside it, case
//! `redis-benchmark-xadd-P16`: `redis-benchmark` adding entries with `XADD`, 16 commands
//! pipelined, on as many connections as the group has producers, against the same server; its
//! time is what its own measured rate gives for the group's messages (`--csv`), so a process
//! start does not count. Skipped, saying so, without `redis-benchmark`.
//!
//! Group `redis-cluster-4p4c`: a `PartitionedQueue` of 8 partitions on a local Redis Cluster of
//! 1 and of 3 masters (no replicas, TCP on loopback), 4 producers (`send_all`) and 4 consumers
//! (batched acks) kept across iterations, the consumers holding 2 partitions each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pc::AckConsumer;
use pc::ratelimit::Gcra;
use pc::redis::{PartitionedConsumer, PartitionedProducer, RedisGcra, RedisQueue};
use pc_redis::{LocalCluster, LocalServer};

const MESSAGES: u64 = 10_000;

/// Moves `MESSAGES` through a fresh stream with `sides` producers and consumers reading
/// `batch` entries at a time, each ack its own round trip or, with `batched_acks`, sent
/// together.
async fn transfer(url: &str, sides: u64, batch: usize, batched_acks: bool) {
    static STREAM: AtomicU64 = AtomicU64::new(0);
    let stream = format!("bench-{}", STREAM.fetch_add(1, Ordering::Relaxed));
    let builder = RedisQueue::<u64>::builder(url, stream)
        .batch(batch)
        .block(Duration::from_millis(100))
        .delete_on_ack(true);
    let builder = if batched_acks {
        builder.ack_batch(64, Duration::from_millis(1))
    } else {
        builder
    };
    let queue = builder.build().expect("valid settings");
    let received = std::sync::Arc::new(AtomicU64::new(0));
    let all_in = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut consumers = Vec::new();
    for c in 0..sides {
        let consumer = queue.consumer(format!("c{c}")).await.expect("a server");
        let (received, all_in) = (received.clone(), all_in.clone());
        consumers.push(tokio::spawn(async move {
            loop {
                let delivery = consumer.recv_delivery().await.expect("a delivery");
                delivery.ack().await.expect("acked");
                if received.fetch_add(1, Ordering::Relaxed) + 1 == MESSAGES {
                    all_in.notify_one();
                }
            }
        }));
    }
    let mut producers = Vec::new();
    for _ in 0..sides {
        let producer = queue.producer().await.expect("a server");
        producers.push(tokio::spawn(async move {
            producer.send_all(0..MESSAGES / sides).await.expect("sent");
        }));
    }
    for task in producers {
        task.await.expect("no panic");
    }
    all_in.notified().await;
    // The others wait for entries that will not come.
    for task in consumers {
        task.abort();
    }
    assert_eq!(received.load(Ordering::Relaxed), MESSAGES);
}

fn redis(c: &mut Criterion) {
    let server = match LocalServer::start() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("redis bench skipped: redis-server did not start ({error})");
            return;
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(server.ready()).expect("redis-server answers");
    for sides in [1, 4] {
        let mut group = c.benchmark_group(format!("redis-{sides}p{sides}c"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(MESSAGES));
        let socket = server
            .url()
            .strip_prefix("redis+unix://")
            .expect("a local server on a unix socket");
        if engine_installed() {
            group.bench_function("redis-benchmark-xadd-P16", |b| {
                b.iter_custom(|iters| engine_xadd(socket, sides, iters));
            });
        }
        let cases = [(1, false), (16, false), (64, false), (64, true)];
        for (batch, batched_acks) in cases {
            let name = if batched_acks {
                format!("batch-{batch}-acks-batched")
            } else {
                format!("batch-{batch}")
            };
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            transfer(server.url(), sides, batch, batched_acks).await;
                        }
                        start.elapsed()
                    })
                })
            });
        }
        group.finish();
    }
    gcra(c, &rt, server.url());
    cluster(c, &rt);
}

/// Partitions of the cluster group's queue; producers and consumers.
const PARTITIONS: usize = 8;
const SIDES: u64 = 4;

/// A partitioned queue on a local cluster with its producers, and consumers that count what
/// they receive, kept across iterations.
struct ClusterRig {
    _cluster: LocalCluster,
    producers: Vec<std::sync::Arc<PartitionedProducer<u64>>>,
    received: std::sync::Arc<AtomicU64>,
    consumers: Vec<tokio::task::JoinHandle<()>>,
}

impl ClusterRig {
    async fn start(masters: usize) -> Option<Self> {
        let cluster = match LocalCluster::start(masters, 0) {
            Ok(cluster) => cluster,
            Err(error) => {
                eprintln!("redis cluster bench skipped: redis-server did not start ({error})");
                return None;
            }
        };
        cluster.ready().await.expect("the cluster forms");
        let urls = cluster.urls();
        let queue = RedisQueue::<u64>::builder(urls[0].as_str(), "bench")
            .cluster_nodes(urls[1..].to_vec())
            .block(Duration::from_millis(100))
            .delete_on_ack(true)
            .ack_batch(64, Duration::from_millis(1))
            .partitioned(PARTITIONS)
            .lease(Duration::from_secs(1))
            .build()
            .expect("valid settings");
        let received = std::sync::Arc::new(AtomicU64::new(0));
        let mut members: Vec<std::sync::Arc<PartitionedConsumer<u64>>> = Vec::new();
        for c in 0..SIDES {
            let consumer = queue.consumer(format!("c{c}")).await.expect("joins");
            members.push(std::sync::Arc::new(consumer));
        }
        // Measured once the partitions are shared out, two to each consumer.
        let started = Instant::now();
        while !members
            .iter()
            .all(|m| m.partitions().len() == PARTITIONS / SIDES as usize)
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never balanced"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let consumers = members
            .into_iter()
            .map(|consumer| {
                let received = received.clone();
                tokio::spawn(async move {
                    while let Ok(delivery) = consumer.recv_delivery().await {
                        delivery.ack().await.expect("acked");
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let mut producers = Vec::new();
        for _ in 0..SIDES {
            producers.push(std::sync::Arc::new(
                queue.producer().await.expect("connects"),
            ));
        }
        Some(Self {
            _cluster: cluster,
            producers,
            received,
            consumers,
        })
    }

    /// Sends `MESSAGES` from the producers and waits until the consumers have them all.
    async fn transfer(&self) {
        let target = self.received.load(Ordering::Relaxed) + MESSAGES;
        let sends: Vec<_> = self
            .producers
            .iter()
            .map(|producer| {
                let producer = producer.clone();
                tokio::spawn(async move {
                    producer.send_all(0..MESSAGES / SIDES).await.expect("sent");
                })
            })
            .collect();
        for send in sends {
            send.await.expect("no panic");
        }
        while self.received.load(Ordering::Relaxed) < target {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
}

impl Drop for ClusterRig {
    fn drop(&mut self) {
        for consumer in &self.consumers {
            consumer.abort();
        }
    }
}

/// The partitioned queue on 1 and on 3 masters, in one group.
fn cluster(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group("redis-cluster-4p4c");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(MESSAGES));
    for masters in [1, 3] {
        let Some(rig) = rt.block_on(ClusterRig::start(masters)) else {
            return;
        };
        let name = if masters == 1 {
            "partitioned-8-1-master".to_owned()
        } else {
            format!("partitioned-8-{masters}-masters")
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        rig.transfer().await;
                    }
                    start.elapsed()
                })
            })
        });
        rt.block_on(async { drop(rig) });
    }
    group.finish();
}

/// Whether `redis-benchmark` runs here (said once when not).
fn engine_installed() -> bool {
    let installed = std::process::Command::new("redis-benchmark")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !installed {
        eprintln!("redis-benchmark case skipped: redis-benchmark is not installed");
    }
    installed
}

/// How long `redis-benchmark` takes to add `MESSAGES` entries `iters` times with `XADD`, 16
/// pipelined on each of `connections`, by the rate it measures itself over 100,000 of them
/// (then deleted).
fn engine_xadd(socket: &str, connections: u64, iters: u64) -> Duration {
    let out = std::process::Command::new("redis-benchmark")
        .args(["-s", socket, "-c", &connections.to_string(), "-P", "16"])
        .args([
            "-n",
            "100000",
            "--csv",
            "xadd",
            "bench-engine",
            "*",
            "f",
            "v",
        ])
        .output()
        .expect("redis-benchmark runs");
    let _ = std::process::Command::new("redis-cli")
        .args(["-s", socket, "del", "bench-engine"])
        .output();
    // The last line: "xadd bench-engine * f v","<requests per second>",...
    let text = String::from_utf8_lossy(&out.stdout);
    let rate: f64 = text
        .lines()
        .last()
        .and_then(|line| line.split(',').nth(1))
        .and_then(|rate| rate.trim_matches('"').parse().ok())
        .expect("redis-benchmark reports its rate");
    Duration::from_secs_f64((iters * MESSAGES) as f64 / rate)
}

/// Decisions per iteration of the rate-limit group.
const DECISIONS: u64 = 1_000;

/// Rate-limit decisions: on the server (shared by every process) against in-process. The
/// limits never refuse here (a burst larger than the run), so each decision does the same work.
fn gcra(c: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str) {
    let mut group = c.benchmark_group("redis-gcra");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(DECISIONS));
    let limiter = std::sync::Arc::new(
        RedisGcra::builder(url)
            .rate(1e6)
            .burst(u32::MAX)
            .prefix("bench-gcra:")
            .build()
            .expect("valid settings"),
    );
    for tasks in [1, 4] {
        group.bench_function(format!("redis-{tasks}tasks"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let deciders: Vec<_> = (0..tasks)
                            .map(|task| {
                                let limiter = limiter.clone();
                                tokio::spawn(async move {
                                    let key = format!("key-{task}");
                                    for _ in 0..DECISIONS / tasks {
                                        limiter.try_acquire(&key, 1).await.expect("granted");
                                    }
                                })
                            })
                            .collect();
                        for decider in deciders {
                            decider.await.expect("no panic");
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
    let local = Gcra::builder()
        .rate(1e6)
        .burst(u32::MAX)
        .build()
        .expect("valid settings");
    group.bench_function("in-process", |b| {
        b.iter(|| {
            for _ in 0..DECISIONS {
                local.try_acquire(1).expect("granted");
            }
        })
    });
    group.finish();
}

criterion_group!(benches, redis);
criterion_main!(benches);
