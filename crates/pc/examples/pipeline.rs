//! A pipeline: stages joined by bounded buffers, each with its own concurrency, output in order.
//!
//! `cargo run -p pc --example pipeline`

use futures_util::StreamExt;
use pc::pool::{OnError, Pipeline};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lines = ["3", "oops", "4", "10"].map(String::from);
    let mut output = Pipeline::from_stream(futures_util::stream::iter(lines))
        // Failed items are counted and left out.
        .on_error(OnError::Skip)
        // Parse on 2 workers...
        .stage(2, 8, |line: String| async move {
            line.parse::<u64>()
                .map_err(|err| format!("{line:?}: {err}"))
        })?
        // ...then square on 4, handing on through buffers of 8.
        .stage(4, 8, |n: u64| async move { Ok(n * n) })?
        .ordered();
    let mut squares = Vec::new();
    while let Some(square) = output.next().await {
        squares.push(square.map_err(|err| err.to_string())?);
    }
    println!("squares {squares:?}, skipped {}", output.skipped());
    assert_eq!(squares, [9, 16, 100]);
    assert_eq!(output.skipped(), 1);
    Ok(())
}
