//! `BoundedQueue` with `Overflow::Block` against raw async-channel (and `pc::channel`, the
//! channel underneath; and the queue bounded by weight too), 100,000 u64 messages, 4P/4C,
//! capacity 1024.

use criterion::{Criterion, criterion_group, criterion_main};
use pc_benches::{
    AsyncChannel, Flavor, Pc, PcBoundedQueue, PcWeighedQueue, Shape, bench_async, group, transfer,
};

fn bounded_queue(c: &mut Criterion) {
    let shape = Shape {
        producers: 4,
        consumers: 4,
    };
    for flavor in Flavor::ALL {
        let rt = flavor.runtime();
        let mut g = group(c, &format!("bounded-queue-{}-4p4c-cap1024", flavor.tag()));
        bench_async(&mut g, "pc", &rt, || {
            transfer::<PcBoundedQueue>(shape, 1024)
        });
        bench_async(&mut g, "pc-max-weight", &rt, || {
            transfer::<PcWeighedQueue>(shape, 1024)
        });
        bench_async(&mut g, "pc-channel", &rt, || transfer::<Pc>(shape, 1024));
        bench_async(&mut g, "async-channel", &rt, || {
            transfer::<AsyncChannel>(shape, 1024)
        });
        g.finish();
    }
}

criterion_group!(benches, bounded_queue);
criterion_main!(benches);
