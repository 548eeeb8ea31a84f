//! `Stage`: one async step of work, taken by pools, pipelines and batch processors.

use std::future::Future;

/// An async step that turns an input into an output or an error.
///
/// Implemented for every `Fn(In) -> impl Future<Output = Result<O, E>>`, so a closure is a stage;
/// implement it by hand for a stage that holds state or needs a name in a type.
///
/// ```
/// use pc_core::Stage;
///
/// async fn double_all<S: Stage<u32, Output = u32>>(stage: &S, items: Vec<u32>) -> Vec<u32> {
///     let mut out = Vec::new();
///     for item in items {
///         if let Ok(value) = stage.run(item).await {
///             out.push(value);
///         }
///     }
///     out
/// }
///
/// let double = |x: u32| async move { Ok::<_, std::convert::Infallible>(x * 2) };
/// let out = tokio_test::block_on(double_all(&double, vec![1, 2, 3]));
/// assert_eq!(out, [2, 4, 6]);
/// ```
pub trait Stage<In>: Send + Sync {
    /// What a successful run produces.
    type Output: Send;
    /// What a failed run produces.
    type Error: Send;

    /// Runs the step on one input.
    fn run(&self, input: In) -> impl Future<Output = Result<Self::Output, Self::Error>> + Send;
}

impl<In, F, Fut, O, E> Stage<In> for F
where
    F: Fn(In) -> Fut + Send + Sync,
    Fut: Future<Output = Result<O, E>> + Send,
    O: Send,
    E: Send,
{
    type Output = O;
    type Error = E;

    fn run(&self, input: In) -> impl Future<Output = Result<O, E>> + Send {
        self(input)
    }
}
