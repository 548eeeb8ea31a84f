//! Memory a pipeline keeps, measured with a counting global allocator (a test binary of its
//! own, so no other test allocates meanwhile; one test in it, on a current-thread runtime). Edge 8 of `shared/EDGES.md`, bounded memory.

use std::alloc::System;
use std::time::Duration;

use futures_util::StreamExt;
use pc_pool::Pipeline;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static HEAP: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not freed since `region` began.
fn kept(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize + change.bytes_reallocated
}

/// Defect: unordered output noted every item number it handed out past one slow item, in a
/// set that grew without bound (about 40 bytes an item, behind one item that took a minute).
/// It keeps no such set: the numbers only matter under `OnError::Stop`, whose output is
/// ordered. Between the 1,000th item out and the 9,999th, nothing is kept.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn unordered_output_keeps_nothing_behind_a_slow_item() {
    let mut output = Pipeline::from_stream(futures_util::stream::iter(0..10_000u64))
        .stage(2, 4, |n: u64| async move {
            if n == 0 {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok::<_, ()>(n)
        })
        .unwrap()
        .unordered();
    let mut region = None;
    for expected in 1..10_000 {
        assert_eq!(output.next().await, Some(Ok(expected)));
        if expected == 1_000 {
            region = Some(Region::new(HEAP));
        }
    }
    let grown = kept(&region.unwrap());
    assert!(
        grown < 4096,
        "{grown} bytes kept for 8,999 items handed out"
    );
    assert_eq!(output.next().await, Some(Ok(0)));
    assert_eq!(output.next().await, None);
}
