//! `recv_batch(.., 64, ..)` against a per-item `recv` loop, 1P/1C, capacity 1024.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pc_benches::{Flavor, MESSAGES, bench_async, group};

/// One producer sends `MESSAGES`; the consumer drains with `recv` or with `recv_batch`.
async fn drain(batch: Option<(usize, Duration)>) {
    let (tx, rx) = pc::channel::bounded::<u64>(1024).expect("a positive capacity");
    let producer = tokio::spawn(async move {
        for i in 0..MESSAGES {
            tx.send(i).await.expect("open");
        }
    });
    let mut received = 0u64;
    match batch {
        None => {
            while rx.recv().await.is_ok() {
                received += 1;
            }
        }
        Some((max, linger)) => {
            let mut buf = Vec::with_capacity(max);
            loop {
                let n = rx.recv_batch(&mut buf, max, linger).await;
                if n == 0 {
                    break;
                }
                received += n as u64;
                buf.clear();
            }
        }
    }
    producer.await.expect("producer");
    assert_eq!(received, MESSAGES, "every item arrives");
}

fn recv_batch(c: &mut Criterion) {
    for flavor in Flavor::ALL {
        let rt = flavor.runtime();
        let mut g = group(c, &format!("recv_batch-{}-1p1c-cap1024", flavor.tag()));
        bench_async(&mut g, "recv_batch_64", &rt, || {
            drain(Some((64, Duration::ZERO)))
        });
        bench_async(&mut g, "recv_batch_64_linger_1ms", &rt, || {
            drain(Some((64, Duration::from_millis(1))))
        });
        bench_async(&mut g, "recv_loop", &rt, || drain(None));
        g.finish();
    }
}

criterion_group!(benches, recv_batch);
criterion_main!(benches);
