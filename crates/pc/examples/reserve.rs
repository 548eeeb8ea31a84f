//! Reserve a slot before you make the item: a cancelled wait for space never loses it.
//!
//! `cargo run -p pc --example reserve`

use std::time::Duration;

use pc::channel;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, rx) = channel::bounded::<String>(1)?;
    tx.send("first".to_string()).await?;

    // The channel is full: wait for a slot, but give up after 10 ms. The job is still ours.
    let job = "second".to_string();
    tokio::select! {
        permit = tx.reserve() => permit?.send(job)?,
        () = tokio::time::sleep(Duration::from_millis(10)) => {
            println!("no room within 10 ms; still holding {job:?}");
            assert_eq!(rx.recv().await?, "first");
            // Room now: the slot is ours once reserved, and the send cannot wait or fail.
            tx.reserve().await?.send(job)?;
        }
    }
    assert_eq!(rx.recv().await?, "second");

    // An owned permit moves into a task that makes the item there.
    let permit = tx.clone().reserve_owned().await?;
    tokio::spawn(async move { permit.send("made in a task".to_string()) }).await??;
    assert_eq!(rx.recv().await?, "made in a task");
    println!("reserve: every item arrived, none lost");
    Ok(())
}
