//! A priority channel: urgent items first, and a full channel sheds the least important.
//!
//! `cargo run -p pc --example priority`

use pc::priority::{PriorityChannel, WhenFull};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Three levels (0 is the most urgent), room for 3 items; a full channel evicts the oldest
    // item of a lower level to make room for a higher one.
    let (tx, rx) = PriorityChannel::builder(3)
        .capacity(3)
        .when_full(WhenFull::ShedLowest)
        .build()?;
    tx.send("report", 2).await?;
    tx.send("email", 1).await?;
    tx.send("backup", 2).await?;
    tx.send("outage", 0).await?; // full: "report", the oldest at level 2, is shed
    tx.close();

    let mut order = Vec::new();
    while let Ok((item, level)) = rx.recv().await {
        println!("level {level}: {item}");
        order.push(item);
    }
    assert_eq!(order, ["outage", "email", "backup"]);
    Ok(())
}
