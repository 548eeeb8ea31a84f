//! Loom models of the channel (run with `RUSTFLAGS="--cfg loom"`).

mod loom_channel;
