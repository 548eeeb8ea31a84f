//! Windows over a stream: a moving average of the last 4 readings, every 2 readings.
//!
//! `cargo run -p pc --example window`

use futures_util::StreamExt;
use pc::window::{Stats, Window, WindowExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let window = Window::sliding_count(4, 2).aggregate(Stats).build()?;
    let readings = futures_util::stream::iter([1.0, 5.0, 3.0, 7.0, 2.0, 4.0]);
    let mut means = Vec::new();
    let mut windows = readings.window(window);
    while let Some(result) = windows.next().await {
        println!(
            "readings {}..{}: mean {:.2}, max {}",
            result.start, result.end, result.value.mean, result.value.max
        );
        means.push(result.value.mean);
    }
    assert_eq!(means, [3.0, 4.0, 4.0, 3.0]);
    Ok(())
}
