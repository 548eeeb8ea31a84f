//! Channel throughput: `pc::channel` (sending with `send`, and with `reserve` + `Permit::send`)
//! against raw async-channel, tokio mpsc, flume and kanal, 100,000 u64 messages per iteration,
//! in one group per runtime, shape and capacity.

use criterion::{Criterion, criterion_group, criterion_main};
use pc_benches::{
    AsyncChannel, Flavor, Flume, Kanal, Pc, PcReserve, Shape, bench_async, group, transfer,
    transfer_tokio_mpsc,
};

fn channel(c: &mut Criterion) {
    for flavor in Flavor::ALL {
        let rt = flavor.runtime();
        for shape in Shape::ALL {
            for capacity in [16, 1024] {
                let name = format!("channel-{}-{}-cap{capacity}", flavor.tag(), shape.tag());
                let mut g = group(c, &name);
                bench_async(&mut g, "pc", &rt, || transfer::<Pc>(shape, capacity));
                bench_async(&mut g, "pc-reserve", &rt, || {
                    transfer::<PcReserve>(shape, capacity)
                });
                bench_async(&mut g, "async-channel", &rt, || {
                    transfer::<AsyncChannel>(shape, capacity)
                });
                if shape.consumers == 1 {
                    bench_async(&mut g, "tokio-mpsc", &rt, || {
                        transfer_tokio_mpsc(shape.producers, capacity)
                    });
                }
                bench_async(&mut g, "flume", &rt, || transfer::<Flume>(shape, capacity));
                bench_async(&mut g, "kanal", &rt, || transfer::<Kanal>(shape, capacity));
                g.finish();
            }
        }
    }
}

criterion_group!(benches, channel);
criterion_main!(benches);
