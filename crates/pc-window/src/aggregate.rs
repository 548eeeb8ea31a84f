//! `Aggregate`: how a window folds its items, incrementally, and the built-in ones.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Add;

/// An incremental aggregation: a window's value is built item by item into an accumulator,
/// and partial accumulators can be merged.
///
/// Sliding windows cut the stream into panes, fold each pane once and merge panes into windows,
/// so `merge` must agree with `add`: folding `a` then `b` into one accumulator gives the same
/// result as folding them into two and merging the second into the first. `merge` keeps order
/// (`acc` holds earlier items than `other`), so order-sensitive aggregates work too. Nothing
/// needs to be invertible.
///
/// ```
/// use pc_window::Aggregate;
///
/// /// The longest string in the window.
/// struct Longest;
///
/// impl Aggregate<String> for Longest {
///     type Acc = String;
///     type Output = String;
///     fn init(&self) -> String {
///         String::new()
///     }
///     fn add(&self, acc: &mut String, item: &String) {
///         if item.len() > acc.len() {
///             acc.clone_from(item);
///         }
///     }
///     fn merge(&self, acc: &mut String, other: &String) {
///         self.add(acc, other);
///     }
///     fn finish(&self, acc: &String) -> String {
///         acc.clone()
///     }
/// }
///
/// let mut acc = Longest.init();
/// for word in ["a", "abc", "ab"] {
///     Longest.add(&mut acc, &word.to_string());
/// }
/// assert_eq!(Longest.finish(&acc), "abc");
/// ```
pub trait Aggregate<T>: Send + Sync + 'static {
    /// The partial result. Cloned where one partial result starts another (a window from its
    /// oldest pane), which is cheaper than starting from `init` and merging.
    type Acc: Clone + Send;
    /// What a window reports.
    type Output;

    /// The accumulator of no items.
    fn init(&self) -> Self::Acc;

    /// Folds `item` into `acc`.
    fn add(&self, acc: &mut Self::Acc, item: &T);

    /// Folds `item`, the `arrival`-th item the window stream took (numbered from 0 over every
    /// key), into `acc`. Windows call this rather than [`add`](Aggregate::add): panes are
    /// merged in time order, which under event-time disorder is not arrival order, so an
    /// aggregate whose result depends on arrival order ([`Items`], the tie-break of [`Min`]
    /// and [`Max`]) keeps the number. The default forgets it and calls `add`.
    fn add_at(&self, acc: &mut Self::Acc, item: &T, arrival: u64) {
        let _ = arrival;
        self.add(acc, item);
    }

    /// Folds `other`, holding later items, into `acc`.
    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc);

    /// The window's value from its accumulator.
    fn finish(&self, acc: &Self::Acc) -> Self::Output;

    /// This aggregate over a part of each item: `Stats.of(|r: &Reading| r.celsius)`.
    fn of<U, F>(self, part: F) -> Of<Self, F, T>
    where
        Self: Sized,
        F: Fn(&U) -> T + Send + Sync + 'static,
    {
        Of {
            aggregate: self,
            part,
            _part: PhantomData,
        }
    }
}

/// An aggregate over a part of each item; from [`Aggregate::of`].
pub struct Of<A, F, T> {
    aggregate: A,
    part: F,
    _part: PhantomData<fn() -> T>,
}

impl<A: fmt::Debug, F, T> fmt::Debug for Of<A, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Of")
            .field("aggregate", &self.aggregate)
            .finish_non_exhaustive()
    }
}

impl<A: Clone, F: Clone, T> Clone for Of<A, F, T> {
    fn clone(&self) -> Self {
        Self {
            aggregate: self.aggregate.clone(),
            part: self.part.clone(),
            _part: PhantomData,
        }
    }
}

impl<U, T, A, F> Aggregate<U> for Of<A, F, T>
where
    A: Aggregate<T>,
    F: Fn(&U) -> T + Send + Sync + 'static,
    T: 'static,
{
    type Acc = A::Acc;
    type Output = A::Output;

    fn init(&self) -> A::Acc {
        self.aggregate.init()
    }

    #[inline]
    fn add(&self, acc: &mut A::Acc, item: &U) {
        self.aggregate.add(acc, &(self.part)(item));
    }

    #[inline]
    fn add_at(&self, acc: &mut A::Acc, item: &U, arrival: u64) {
        self.aggregate.add_at(acc, &(self.part)(item), arrival);
    }

    fn merge(&self, acc: &mut A::Acc, other: &A::Acc) {
        self.aggregate.merge(acc, other);
    }

    fn finish(&self, acc: &A::Acc) -> A::Output {
        self.aggregate.finish(acc)
    }
}

/// Two aggregates over the same items at once: `(Stats, Items(median))`.
impl<T, A, B> Aggregate<T> for (A, B)
where
    A: Aggregate<T>,
    B: Aggregate<T>,
{
    type Acc = (A::Acc, B::Acc);
    type Output = (A::Output, B::Output);

    fn init(&self) -> Self::Acc {
        (self.0.init(), self.1.init())
    }

    #[inline]
    fn add(&self, acc: &mut Self::Acc, item: &T) {
        self.0.add(&mut acc.0, item);
        self.1.add(&mut acc.1, item);
    }

    #[inline]
    fn add_at(&self, acc: &mut Self::Acc, item: &T, arrival: u64) {
        self.0.add_at(&mut acc.0, item, arrival);
        self.1.add_at(&mut acc.1, item, arrival);
    }

    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc) {
        self.0.merge(&mut acc.0, &other.0);
        self.1.merge(&mut acc.1, &other.1);
    }

    fn finish(&self, acc: &Self::Acc) -> Self::Output {
        (self.0.finish(&acc.0), self.1.finish(&acc.1))
    }
}

/// The number of items. (Every [`WindowResult`](crate::WindowResult) carries its count too.)
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

impl<T> Aggregate<T> for Count {
    type Acc = u64;
    type Output = u64;

    fn init(&self) -> u64 {
        0
    }

    #[inline]
    fn add(&self, acc: &mut u64, _item: &T) {
        *acc += 1;
    }

    fn merge(&self, acc: &mut u64, other: &u64) {
        *acc += other;
    }

    fn finish(&self, acc: &u64) -> u64 {
        *acc
    }
}

/// The sum of the items, in their own type (starting from `T::default()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sum;

impl<T> Aggregate<T> for Sum
where
    T: Copy + Default + Add<Output = T> + Send + 'static,
{
    type Acc = T;
    type Output = T;

    fn init(&self) -> T {
        T::default()
    }

    #[inline]
    fn add(&self, acc: &mut T, item: &T) {
        *acc = *acc + *item;
    }

    fn merge(&self, acc: &mut T, other: &T) {
        *acc = *acc + *other;
    }

    fn finish(&self, acc: &T) -> T {
        *acc
    }
}

/// The arithmetic mean, as `f64` (`NaN` for no items, which a window never has).
#[derive(Debug, Clone, Copy, Default)]
pub struct Mean;

impl<T> Aggregate<T> for Mean
where
    T: Copy + Into<f64>,
{
    type Acc = (f64, u64);
    type Output = f64;

    fn init(&self) -> (f64, u64) {
        (0.0, 0)
    }

    #[inline]
    fn add(&self, acc: &mut (f64, u64), item: &T) {
        acc.0 += (*item).into();
        acc.1 += 1;
    }

    fn merge(&self, acc: &mut (f64, u64), other: &(f64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }

    fn finish(&self, acc: &(f64, u64)) -> f64 {
        acc.0 / acc.1 as f64
    }
}

/// The smallest item (`None` for no items, which a window never has). Among equal items, the
/// earliest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Min;

impl<T> Aggregate<T> for Min
where
    T: PartialOrd + Clone + Send + 'static,
{
    /// The smallest item so far and its arrival number (`u64::MAX` when added without one).
    type Acc = Option<(T, u64)>;
    type Output = Option<T>;

    fn init(&self) -> Self::Acc {
        None
    }

    #[inline]
    fn add(&self, acc: &mut Self::Acc, item: &T) {
        self.add_at(acc, item, u64::MAX);
    }

    #[inline]
    fn add_at(&self, acc: &mut Self::Acc, item: &T, arrival: u64) {
        if wins(item, arrival, acc.as_ref(), |a, b| a < b) {
            *acc = Some((item.clone(), arrival));
        }
    }

    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc) {
        if let Some((item, arrival)) = other
            && wins(item, *arrival, acc.as_ref(), |a, b| a < b)
        {
            *acc = Some((item.clone(), *arrival));
        }
    }

    fn finish(&self, acc: &Self::Acc) -> Option<T> {
        acc.as_ref().map(|(item, _)| item.clone())
    }
}

/// The largest item (`None` for no items, which a window never has). Among equal items, the
/// earliest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Max;

impl<T> Aggregate<T> for Max
where
    T: PartialOrd + Clone + Send + 'static,
{
    /// The largest item so far and its arrival number (`u64::MAX` when added without one).
    type Acc = Option<(T, u64)>;
    type Output = Option<T>;

    fn init(&self) -> Self::Acc {
        None
    }

    #[inline]
    fn add(&self, acc: &mut Self::Acc, item: &T) {
        self.add_at(acc, item, u64::MAX);
    }

    #[inline]
    fn add_at(&self, acc: &mut Self::Acc, item: &T, arrival: u64) {
        if wins(item, arrival, acc.as_ref(), |a, b| a > b) {
            *acc = Some((item.clone(), arrival));
        }
    }

    fn merge(&self, acc: &mut Self::Acc, other: &Self::Acc) {
        if let Some((item, arrival)) = other
            && wins(item, *arrival, acc.as_ref(), |a, b| a > b)
        {
            *acc = Some((item.clone(), *arrival));
        }
    }

    fn finish(&self, acc: &Self::Acc) -> Option<T> {
        acc.as_ref().map(|(item, _)| item.clone())
    }
}

/// Whether `item`, arrived `arrival`-th, replaces `held`: it is better, or as good and earlier
/// (so among equals the earliest arrival wins, whatever order the panes merge in).
fn wins<T: PartialOrd>(
    item: &T,
    arrival: u64,
    held: Option<&(T, u64)>,
    better: impl Fn(&T, &T) -> bool,
) -> bool {
    match held {
        None => true,
        Some((best, at)) => {
            better(item, best)
                || (arrival < *at && item.partial_cmp(best) == Some(std::cmp::Ordering::Equal))
        }
    }
}

/// Count, mean, minimum and maximum in one pass, as `f64`: [`Summary`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats;

/// What [`Stats`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many items.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// Their arithmetic mean (`NaN` for no items).
    pub mean: f64,
    /// The smallest (`+inf` for no items).
    pub min: f64,
    /// The largest (`-inf` for no items).
    pub max: f64,
}

/// The accumulator of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsAcc {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl<T> Aggregate<T> for Stats
where
    T: Copy + Into<f64>,
{
    type Acc = StatsAcc;
    type Output = Summary;

    #[inline]
    fn init(&self) -> StatsAcc {
        StatsAcc {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    #[inline]
    fn add(&self, acc: &mut StatsAcc, item: &T) {
        let value: f64 = (*item).into();
        acc.count += 1;
        acc.sum += value;
        // Comparisons rather than `f64::min`: as cheap as one instruction, and a NaN is
        // skipped the same way.
        if value < acc.min {
            acc.min = value;
        }
        if value > acc.max {
            acc.max = value;
        }
    }

    #[inline]
    fn merge(&self, acc: &mut StatsAcc, other: &StatsAcc) {
        acc.count += other.count;
        acc.sum += other.sum;
        if other.min < acc.min {
            acc.min = other.min;
        }
        if other.max > acc.max {
            acc.max = other.max;
        }
    }

    #[inline]
    fn finish(&self, acc: &StatsAcc) -> Summary {
        Summary {
            count: acc.count,
            sum: acc.sum,
            mean: acc.sum / acc.count as f64,
            min: acc.min,
            max: acc.max,
        }
    }
}

/// Any function of the window's items, in arrival order: `Items(|xs: &[f64]| median(xs))`.
///
/// The escape hatch for what does not fold incrementally. It keeps a copy of every item of a
/// window (items must be `Clone`), so a window costs time and memory in proportion to its size.
/// The order is the order the items arrived in, also under event-time disorder, lateness and
/// re-firing: each item keeps its arrival number through the panes it is merged with.
#[derive(Clone, Copy, Default)]
pub struct Items<F>(pub F);

impl<F> fmt::Debug for Items<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Items").finish_non_exhaustive()
    }
}

/// The accumulator of [`Items`]: a window's items in arrival order, each with its number.
#[derive(Debug, Clone)]
pub struct ArrivalOrder<T> {
    arrivals: Vec<u64>,
    items: Vec<T>,
}

impl<T> Default for ArrivalOrder<T> {
    fn default() -> Self {
        Self {
            arrivals: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<T: Clone> ArrivalOrder<T> {
    /// The items, in arrival order.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    fn insert(&mut self, item: &T, arrival: u64) {
        // Arrivals come in order within a pane: the common case is a push.
        let at = if self.arrivals.last().is_none_or(|&last| last <= arrival) {
            self.arrivals.len()
        } else {
            self.arrivals.partition_point(|&a| a <= arrival)
        };
        self.arrivals.insert(at, arrival);
        self.items.insert(at, item.clone());
    }

    /// Merges `other` in, both in arrival order: appended when it is all later, else
    /// interleaved in one pass.
    fn merge(&mut self, other: &Self) {
        let Some(&first) = other.arrivals.first() else {
            return;
        };
        if self.arrivals.last().is_none_or(|&last| last <= first) {
            self.arrivals.extend_from_slice(&other.arrivals);
            self.items.extend_from_slice(&other.items);
            return;
        }
        let len = self.items.len() + other.items.len();
        let (mut arrivals, mut items) = (Vec::with_capacity(len), Vec::with_capacity(len));
        let mut mine = std::mem::take(&mut self.arrivals)
            .into_iter()
            .zip(std::mem::take(&mut self.items))
            .peekable();
        let mut theirs = other.arrivals.iter().zip(&other.items).peekable();
        loop {
            let take_mine = match (mine.peek(), theirs.peek()) {
                (Some((a, _)), Some((b, _))) => a <= *b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (arrival, item) = if take_mine {
                mine.next().expect("peeked")
            } else {
                let (arrival, item) = theirs.next().expect("peeked");
                (*arrival, item.clone())
            };
            arrivals.push(arrival);
            items.push(item);
        }
        *self = Self { arrivals, items };
    }
}

impl<T, O, F> Aggregate<T> for Items<F>
where
    T: Clone + Send + 'static,
    F: Fn(&[T]) -> O + Send + Sync + 'static,
{
    type Acc = ArrivalOrder<T>;
    type Output = O;

    fn init(&self) -> ArrivalOrder<T> {
        ArrivalOrder::default()
    }

    /// Adds `item` after every item held. Items added without a number keep the order they
    /// are added and merged in.
    fn add(&self, acc: &mut ArrivalOrder<T>, item: &T) {
        acc.insert(item, u64::MAX);
    }

    fn add_at(&self, acc: &mut ArrivalOrder<T>, item: &T, arrival: u64) {
        acc.insert(item, arrival);
    }

    fn merge(&self, acc: &mut ArrivalOrder<T>, other: &ArrivalOrder<T>) {
        acc.merge(other);
    }

    fn finish(&self, acc: &ArrivalOrder<T>) -> O {
        (self.0)(acc.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold<T, A: Aggregate<T>>(agg: &A, items: &[T]) -> A::Output {
        let mut acc = agg.init();
        for item in items {
            agg.add(&mut acc, item);
        }
        agg.finish(&acc)
    }

    fn split_fold<T, A: Aggregate<T>>(agg: &A, items: &[T], at: usize) -> A::Output {
        let (left, right) = items.split_at(at);
        let mut acc = agg.init();
        for item in left {
            agg.add(&mut acc, item);
        }
        let mut other = agg.init();
        for item in right {
            agg.add(&mut other, item);
        }
        agg.merge(&mut acc, &other);
        agg.finish(&acc)
    }

    #[test]
    fn built_ins_fold_and_merge_alike() {
        let xs = [3.0, -1.5, 8.0, 2.5, 8.0];
        for at in 0..=xs.len() {
            assert_eq!(split_fold(&Count, &xs, at), 5);
            assert_eq!(split_fold(&Sum, &xs, at), 20.0);
            assert_eq!(split_fold(&Mean, &xs, at), 4.0);
            assert_eq!(split_fold(&Min, &xs, at), Some(-1.5));
            assert_eq!(split_fold(&Max, &xs, at), Some(8.0));
            assert_eq!(
                split_fold(&Stats, &xs, at),
                Summary {
                    count: 5,
                    sum: 20.0,
                    mean: 4.0,
                    min: -1.5,
                    max: 8.0
                }
            );
            let items = Items(|xs: &[f64]| xs.to_vec());
            assert_eq!(split_fold(&items, &xs, at), xs.to_vec());
        }
    }

    #[test]
    fn pairs_aggregate_both() {
        let pair = (Count, Max);
        assert_eq!(split_fold(&pair, &[3u32, 9, 4], 1), (3, Some(9)));
    }

    #[test]
    fn empty_accumulators() {
        assert_eq!(fold::<f64, _>(&Min, &[]), None);
        assert_eq!(fold::<u32, _>(&Sum, &[]), 0);
        assert!(fold::<f64, _>(&Mean, &[]).is_nan());
    }

    #[test]
    fn of_aggregates_a_part_of_each_item() {
        let readings = [("a", 1u32), ("b", 5), ("c", 3)];
        let max = Max.of(|r: &(&str, u32)| r.1);
        assert_eq!(fold(&max, &readings), Some(5));
        let stats = Stats.of(|r: &(&str, u32)| r.1);
        assert_eq!(fold(&stats, &readings).mean, 3.0);
    }
}
