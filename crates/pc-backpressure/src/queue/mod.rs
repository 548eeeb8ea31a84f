//! `BoundedQueue`: a bounded MPMC queue with an overflow policy.

mod builder;
mod receiver;
mod sender;
mod shared;

pub use builder::{BoundedQueue, BoundedQueueBuilder};
pub use receiver::Receiver;
pub use sender::Sender;
