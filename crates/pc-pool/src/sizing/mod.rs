//! Pools that size themselves: a [`Controller`] sees every finished job as a [`Sample`] and says
//! how many workers the pool should run; the pool resizes within the bounds given to
//! [`WorkerPoolBuilder::adaptive`](crate::WorkerPoolBuilder::adaptive).
//!
//! Four controllers come built in: [`Aimd`], [`Vegas`] and [`Gradient2`] (Netflix's adaptive
//! concurrency limits: they read the jobs' run times as the signal of an overloaded backend),
//! and [`LittlesLaw`] (workers = arrival rate x run time / target utilisation). Bring your
//! own by implementing [`Controller`], or pass a closure.

mod aimd;
mod controller;
mod gradient;
mod littles;
mod round;
mod sizer;
mod vegas;

pub use aimd::Aimd;
pub use controller::{Controller, Sample};
pub use gradient::Gradient2;
pub use littles::LittlesLaw;
pub use vegas::Vegas;

pub(crate) use sizer::{Adaptive, Finished, Sizer};
