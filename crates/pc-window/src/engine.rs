//! The windows of one key, on positions: item numbers for count windows, nanoseconds for time
//! windows. Pure: no clock, no runtime; the caller says where the watermark is.
//!
//! The watermark `W` means that every item at a position below `W` has arrived, except late
//! ones: windows ending at or before `W` fire. A window that has fired accepts late items while
//! its end plus the allowed lateness is above `W`, firing again with each; an item no live
//! window would take is late and handed back to the caller.

use std::collections::VecDeque;

use crate::aggregate::Aggregate;
use crate::panes::{Arrived, Pane, Part, Stacks, TwoStacks};

/// What became of an added item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// Taken, by windows still open (and perhaps by fired ones too).
    Taken,
    /// Too late for every window it belongs to: not taken.
    Late,
}

/// A window's result, on positions: start, end, and its items.
pub(crate) type Emit<'a, Acc> = &'a mut dyn FnMut(u64, u64, &Part<Acc>);

/// Where windows are and how long fired ones stay open to late items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Windows of `size` every `slide`, aligned to position 0 (`slide == size`: tumbling).
    Sliding { size: u64, slide: u64 },
    /// A window per burst of items no more than `gap` apart.
    Session { gap: u64 },
}

/// How positions arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Item numbers: one after the other, never late, panes always full.
    Counted,
    /// Never decreasing (the clock), never late.
    Ascending,
    /// Any order (event time).
    Any,
}

/// The windows of one key.
#[derive(Debug)]
pub(crate) enum Engine<Acc> {
    Counted(Counter<Acc>),
    Sliding(Slider<Acc>),
    Session(Sessions<Acc>),
}

impl<Acc: Clone> Engine<Acc> {
    /// The windows of one key, for positions arriving in `order`.
    pub(crate) fn new<T, A: Aggregate<T, Acc = Acc>>(
        agg: &A,
        shape: Shape,
        lateness: u64,
        order: Order,
    ) -> Self {
        match shape {
            Shape::Sliding { size, slide } if order == Order::Counted => {
                Self::Counted(Counter::new(agg, size, slide))
            }
            Shape::Sliding { size, slide } => Self::Sliding(Slider::new(
                agg,
                size,
                slide,
                lateness,
                order == Order::Ascending,
            )),
            Shape::Session { gap } => Self::Session(Sessions::new(gap, lateness)),
        }
    }

    /// Adds an item at `pos` under watermark `w`; late updates of fired windows go to `emit`.
    #[inline(always)]
    pub(crate) fn add<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        pos: u64,
        item: Arrived<'_, T>,
        w: u64,
        emit: Emit<'_, Acc>,
    ) -> Added {
        match self {
            Self::Counted(counter) => {
                counter.add(agg, pos, item);
                Added::Taken
            }
            Self::Sliding(slider) => slider.add(agg, pos, item, w, emit),
            Self::Session(sessions) => sessions.add(agg, pos, item, w, emit),
        }
    }

    /// The position of the next item, for counted windows (which number their items); 0 for
    /// the others.
    #[inline(always)]
    pub(crate) fn counted(&self) -> u64 {
        match self {
            Self::Counted(counter) => counter.position(),
            Self::Sliding(_) | Self::Session(_) => 0,
        }
    }

    /// Moves the watermark to `w`: fires every window ending at or before it, in order.
    pub(crate) fn advance<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        w: u64,
        emit: Emit<'_, Acc>,
    ) {
        while self.fire_next(agg, w, &mut *emit).is_some() {}
    }

    /// Fires the next window ending at or before `w`, in order, through `f`: its start, end
    /// and items. `None` once no window is due.
    #[inline]
    pub(crate) fn fire_next<T, A: Aggregate<T, Acc = Acc>, R>(
        &mut self,
        agg: &A,
        w: u64,
        f: impl FnOnce(u64, u64, &Part<Acc>) -> R,
    ) -> Option<R> {
        match self {
            Self::Counted(counter) => counter.fire_next(agg, w, f),
            Self::Sliding(slider) => slider.fire_next(agg, w, f),
            Self::Session(sessions) => sessions.fire_next(w, f),
        }
    }

    /// The watermark at which a window will fire next, if any holds items.
    pub(crate) fn next_due(&self) -> Option<u64> {
        match self {
            Self::Counted(counter) => counter.next_due(),
            Self::Sliding(slider) => slider.next_due(),
            Self::Session(sessions) => sessions.next_due(),
        }
    }

    /// Whether nothing is held: no items, and no fired window waiting for late ones.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Self::Counted(counter) => counter.is_empty(),
            Self::Sliding(slider) => slider.is_empty(),
            Self::Session(sessions) => sessions.sessions.is_empty(),
        }
    }
}

/// Count windows: every pane is full before the next begins and nothing is late, so panes need
/// no numbers and the window due is always the one ending at the last full pane. (Same
/// windows as [`Slider`], in less work per item.)
#[derive(Debug)]
pub(crate) struct Counter<Acc> {
    /// Pane length in items, and window size and slide in panes.
    len: u64,
    size: u64,
    slide: u64,
    /// The pane being filled, and how many items it has.
    open: Part<Acc>,
    filled: u64,
    /// Full panes so far.
    full: u64,
    /// Items added so far: `full * len + filled`, kept as its own count.
    added: u64,
    /// The end of the next window to fire, in panes.
    next_end: u64,
    /// The last `size` full panes at most.
    panes: Stacks<Acc>,
}

impl<Acc: Clone> Counter<Acc> {
    fn new<T, A: Aggregate<T, Acc = Acc>>(agg: &A, size: u64, slide: u64) -> Self {
        let len = gcd(size, slide);
        let (size, slide) = (size / len, slide / len);
        Self {
            len,
            size,
            slide,
            open: Part::new(agg),
            filled: 0,
            full: 0,
            added: 0,
            next_end: (size - 1) % slide + 1,
            panes: Stacks::new(agg),
        }
    }

    /// The position of the next item: how many items were added.
    #[inline(always)]
    fn position(&self) -> u64 {
        self.added
    }

    #[inline(always)]
    fn add<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A, pos: u64, item: Arrived<'_, T>) {
        debug_assert_eq!(pos, self.position());
        // User code first: an item whose `add` panics is not counted.
        self.open.add(agg, item);
        self.added += 1;
        self.filled += 1;
        // `>=`: a pane left open by an `init` that panicked as it closed (then holding `len`
        // items) closes with this one, a pane of one item more; no branch of its own here.
        if self.filled >= self.len {
            self.close_pane(agg);
        }
    }

    /// Moves the full open pane to the stacks. User code (`init`, then `merge`) may panic at
    /// either step: before the first nothing changed, after it the pane is counted and at
    /// worst missing from the stacks, where its windows miss it.
    #[inline]
    fn close_pane<T, A: Aggregate<T, Acc = Acc>>(&mut self, agg: &A) {
        let fresh = Part::new(agg);
        let pane = std::mem::replace(&mut self.open, fresh);
        self.filled = 0;
        self.full += 1;
        self.panes.push(agg, pane);
        if self.panes.len() as u64 > self.size {
            self.panes.pop(agg);
        }
    }

    #[inline]
    fn fire_next<T, A: Aggregate<T, Acc = Acc>, R>(
        &mut self,
        agg: &A,
        w: u64,
        f: impl FnOnce(u64, u64, &Part<Acc>) -> R,
    ) -> Option<R> {
        if w == u64::MAX && self.filled > 0 {
            // The source ended: the partial pane counts as the last one.
            self.close_pane(agg);
        }
        let end = self.next_end;
        let start = end.saturating_sub(self.size);
        if end > self.full {
            // Due only once the source ended: a window past the last item, holding its tail.
            if w != u64::MAX || start >= self.full {
                return None;
            }
            while self.panes.len() > 0 && self.full - (self.panes.len() as u64) < start {
                self.panes.pop(agg);
            }
            if self.panes.len() == 0 {
                return None;
            }
        }
        self.next_end += self.slide;
        let part = self.panes.merged(agg);
        Some(f(start * self.len, end * self.len, &part))
    }

    fn next_due(&self) -> Option<u64> {
        (!self.is_empty()).then(|| self.next_end.saturating_mul(self.len))
    }

    fn is_empty(&self) -> bool {
        self.filled == 0 && self.panes.len() == 0
    }
}

/// A fired window kept for late items: the pane its ends at, and its items.
#[derive(Debug)]
struct Fired<Acc> {
    end: u64,
    part: Part<Acc>,
}

/// Sliding (and tumbling) windows over panes.
///
/// Pane and window numbers are in panes; positions are `pane * len`. Window ends are
/// `first_end + k * slide`; the window ending at `e` covers panes `[e - size, e)`, clamped at 0.
#[derive(Debug)]
pub(crate) struct Slider<Acc> {
    /// Pane length in positions: `gcd(size, slide)`.
    len: u64,
    /// Window size and slide, in panes.
    size: u64,
    slide: u64,
    /// The smallest window end above 0, in panes.
    first_end: u64,
    /// How long a fired window takes late items, in positions.
    lateness: u64,
    /// Positions never decrease, so items go straight to the panes of the next window.
    in_order: bool,
    /// The panes of the last window considered, from its start on, and with items in order,
    /// the panes up to the end of the next window.
    fifo: TwoStacks<Acc>,
    /// Panes no window has considered yet and not in `fifo`, by increasing number, all above
    /// those in `fifo`.
    pending: VecDeque<Pane<Acc>>,
    /// Every pane below this was considered by a window (and moved to `fifo` or dropped).
    considered: u64,
    /// The end of the next window to consider.
    next_end: u64,
    /// Fired windows still taking late items, by increasing end (kept only with lateness).
    fired: VecDeque<Fired<Acc>>,
}

pub(crate) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl<Acc: Clone> Slider<Acc> {
    fn new<T, A: Aggregate<T, Acc = Acc>>(
        agg: &A,
        size: u64,
        slide: u64,
        lateness: u64,
        in_order: bool,
    ) -> Self {
        debug_assert!(size > 0 && slide > 0 && slide <= size);
        let len = gcd(size, slide);
        let (size, slide) = (size / len, slide / len);
        let first_end = (size - 1) % slide + 1;
        Self {
            len,
            size,
            slide,
            first_end,
            lateness,
            in_order,
            fifo: TwoStacks::new(agg),
            pending: VecDeque::new(),
            considered: 0,
            next_end: first_end,
            fired: VecDeque::new(),
        }
    }

    #[inline]
    fn pane_of(&self, pos: u64) -> u64 {
        if self.len == 1 { pos } else { pos / self.len }
    }

    /// The first window end above pane `pane`.
    fn end_above(&self, pane: u64) -> u64 {
        if pane < self.first_end {
            self.first_end
        } else {
            let k = (pane - self.first_end) / self.slide + 1;
            self.first_end.saturating_add(k.saturating_mul(self.slide))
        }
    }

    #[inline(always)]
    fn add<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        pos: u64,
        item: Arrived<'_, T>,
        w: u64,
        emit: Emit<'_, Acc>,
    ) -> Added {
        if self.next_end.saturating_mul(self.len) <= w && self.fifo.is_empty() {
            self.catch_up(w);
        }
        let index = self.pane_of(pos);
        if self.in_order && index < self.next_end && self.pending.is_empty() {
            if index >= self.considered {
                self.fifo.add_newest(agg, index, item);
                return Added::Taken;
            }
        } else if index >= self.considered {
            match self.pending.back_mut() {
                Some(last) if last.index == index => last.part.add(agg, item),
                Some(last) if last.index > index => self.add_between(agg, index, item),
                _ => {
                    let mut part = Part::new(agg);
                    part.add(agg, item);
                    self.pending.push_back(Pane { index, part });
                }
            }
            return Added::Taken;
        }
        self.add_late(agg, index, item, w, emit)
    }

    /// Skips the windows that ended at or before `w` while this key had no items: they are
    /// considered, so an item for them is late.
    #[inline(never)]
    fn catch_up(&mut self, w: u64) {
        if self.pending.is_empty() && w != u64::MAX {
            self.next_end = self.end_above(w / self.len);
            self.considered = self
                .considered
                .max(self.next_end.saturating_sub(self.slide));
        }
    }

    /// Adds to a pending pane out of order (event time).
    #[inline(never)]
    fn add_between<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        index: u64,
        item: Arrived<'_, T>,
    ) {
        match self.pending.binary_search_by_key(&index, |pane| pane.index) {
            Ok(at) => self.pending[at].part.add(agg, item),
            Err(at) => {
                let mut part = Part::new(agg);
                part.add(agg, item);
                self.pending.insert(at, Pane { index, part });
            }
        }
    }

    /// An item for a pane some window already considered.
    #[inline(never)]
    fn add_late<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        index: u64,
        item: Arrived<'_, T>,
        w: u64,
        emit: Emit<'_, Acc>,
    ) -> Added {
        let mut taken = false;
        // Windows not fired yet that hold this pane: their panes are in `fifo`.
        if index >= self.next_end.saturating_sub(self.size) {
            self.fifo.add_late(agg, index, item);
            taken = true;
        }
        // Fired windows holding this pane, while they take late items.
        let mut end = self.end_above(index);
        while end < self.next_end && end - index <= self.size {
            if end.saturating_mul(self.len).saturating_add(self.lateness) > w {
                let start = end.saturating_sub(self.size);
                let at = match self.fired.binary_search_by_key(&end, |fired| fired.end) {
                    Ok(at) => at,
                    Err(at) => {
                        // It had no items when it was due, so it did not fire then.
                        let part = Part::new(agg);
                        self.fired.insert(at, Fired { end, part });
                        at
                    }
                };
                let fired = &mut self.fired[at];
                fired.part.add(agg, item);
                emit(start * self.len, end * self.len, &fired.part);
                taken = true;
            }
            end += self.slide;
        }
        if taken { Added::Taken } else { Added::Late }
    }

    /// Fires the next window ending at or before `w`, if any, through `f`; once none is left,
    /// forgets fired windows past their lateness.
    #[inline]
    fn fire_next<T, A: Aggregate<T, Acc = Acc>, R>(
        &mut self,
        agg: &A,
        w: u64,
        f: impl FnOnce(u64, u64, &Part<Acc>) -> R,
    ) -> Option<R> {
        while self.next_end.saturating_mul(self.len) <= w {
            let end = self.next_end;
            let start = end.saturating_sub(self.size);
            self.fifo.evict_below(agg, start);
            while self.pending.front().is_some_and(|pane| pane.index < end) {
                let pane = self.pending.pop_front().expect("checked");
                self.fifo.push(agg, pane);
            }
            if !self.fifo.is_empty() {
                self.considered = end;
                // Saturating: a timestamp at the end of time has its window end there too.
                self.next_end = self.next_end.saturating_add(self.slide);
                let part = self.fifo.merged(agg);
                let (start, end_at) =
                    (start.saturating_mul(self.len), end.saturating_mul(self.len));
                if self.lateness == 0 {
                    return Some(f(start, end_at, &part));
                }
                // Kept for late items before `f` (a `finish` of user code) runs: if it
                // panics, this result is lost but later ones still see the window whole.
                self.fired.push_back(Fired { end, part });
                return self.fired.back().map(|kept| f(start, end_at, &kept.part));
            }
            // Nothing in this window: skip to the first window holding a pending pane, but not
            // past the watermark (windows beyond it may still get items on time).
            let above_w = self.end_above(w / self.len);
            let Some(first) = self.pending.front().map(|pane| pane.index) else {
                if w != u64::MAX {
                    self.next_end = above_w;
                    self.considered = self.considered.max(above_w - self.slide);
                }
                break;
            };
            if end == u64::MAX {
                break;
            }
            self.next_end = above_w
                .min(self.end_above(first))
                .max(end.saturating_add(self.slide));
            self.considered = self.considered.max(self.next_end - self.slide);
        }
        let (len, lateness) = (self.len, self.lateness);
        while self
            .fired
            .front()
            .is_some_and(|fired| fired.end.saturating_mul(len).saturating_add(lateness) <= w)
        {
            self.fired.pop_front();
        }
        None
    }

    fn next_due(&self) -> Option<u64> {
        (!self.fifo.is_empty() || !self.pending.is_empty())
            .then(|| self.next_end.saturating_mul(self.len))
    }

    fn is_empty(&self) -> bool {
        self.fifo.is_empty() && self.pending.is_empty() && self.fired.is_empty()
    }
}

/// One session: `[start, end)` where `end` is the last item's position plus the gap.
#[derive(Debug)]
struct Session<Acc> {
    start: u64,
    end: u64,
    part: Part<Acc>,
    fired: bool,
}

/// Session windows: bursts of items separated by gaps of at least `gap`.
#[derive(Debug)]
pub(crate) struct Sessions<Acc> {
    gap: u64,
    lateness: u64,
    /// Disjoint sessions, by increasing start (so by increasing end too).
    sessions: Vec<Session<Acc>>,
}

impl<Acc> Sessions<Acc> {
    fn new(gap: u64, lateness: u64) -> Self {
        Self {
            gap,
            lateness,
            sessions: Vec::new(),
        }
    }

    fn add<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        pos: u64,
        item: Arrived<'_, T>,
        w: u64,
        emit: Emit<'_, Acc>,
    ) -> Added {
        let end = pos.saturating_add(self.gap);
        // In order: the item extends the last session or opens one after it.
        if let Some(last) = self.sessions.last_mut()
            && last.start <= pos
        {
            if pos < last.end && !last.fired {
                last.part.add(agg, item);
                // Widened once the item is in: an aggregate that panics leaves it as it was.
                last.end = last.end.max(end);
                return Added::Taken;
            }
            if pos >= last.end && end > w {
                let mut part = Part::new(agg);
                part.add(agg, item);
                self.sessions.push(Session {
                    start: pos,
                    end,
                    part,
                    fired: false,
                });
                return Added::Taken;
            }
        }
        self.add_out_of_order(agg, pos, end, item, w, emit)
    }

    /// An item that is out of order, or late: it may bridge sessions, or update a fired one.
    #[inline(never)]
    fn add_out_of_order<T, A: Aggregate<T, Acc = Acc>>(
        &mut self,
        agg: &A,
        pos: u64,
        end: u64,
        item: Arrived<'_, T>,
        w: u64,
        emit: Emit<'_, Acc>,
    ) -> Added {
        // The sessions `[from, to)` overlap `[pos, end)` and merge with the item.
        let from = self.sessions.partition_point(|s| s.end <= pos);
        let to = self.sessions.partition_point(|s| s.start < end);
        let (merged_start, merged_end) = if to > from {
            (
                self.sessions[from].start.min(pos),
                self.sessions[to - 1].end.max(end),
            )
        } else {
            (pos, end)
        };
        if merged_end.saturating_add(self.lateness) <= w {
            return Added::Late;
        }
        // Merged from the sessions in place, which leave only once every call of user code
        // is done: a panic costs the item alone.
        let mut part = Part::new(agg);
        let mut fired = false;
        let mut item_added = false;
        for session in &self.sessions[from..to] {
            if !item_added && pos < session.start {
                part.add(agg, item);
                item_added = true;
            }
            part.merge(agg, &session.part);
            fired |= session.fired;
        }
        if !item_added {
            part.add(agg, item);
        }
        // Due already: a late firing, or an update of a fired session.
        let due = merged_end <= w;
        self.sessions.splice(
            from..to,
            [Session {
                start: merged_start,
                end: merged_end,
                part,
                fired: fired || due,
            }],
        );
        if due {
            let session = &self.sessions[from];
            emit(session.start, session.end, &session.part);
        }
        Added::Taken
    }

    /// Fires the first session ending at or before `w` that has not fired, if any, through
    /// `f`; once none is left, forgets sessions past their lateness.
    fn fire_next<R>(&mut self, w: u64, f: impl FnOnce(u64, u64, &Part<Acc>) -> R) -> Option<R> {
        for session in &mut self.sessions {
            if session.end > w {
                break;
            }
            if !session.fired {
                session.fired = true;
                return Some(f(session.start, session.end, &session.part));
            }
        }
        let lateness = self.lateness;
        let expired = self
            .sessions
            .partition_point(|s| s.end.saturating_add(lateness) <= w);
        self.sessions.drain(..expired);
        None
    }

    fn next_due(&self) -> Option<u64> {
        self.sessions
            .iter()
            .find(|session| !session.fired)
            .map(|session| session.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{ArrivalOrder, Items};

    type Windows = Vec<(u64, u64, Vec<u64>)>;

    fn run(shape: Shape, lateness: u64, items: &[(u64, u64)], ooo: u64) -> (Windows, Vec<u64>) {
        let agg = Items(|xs: &[u64]| xs.to_vec());
        let mut engine = Engine::new(&agg, shape, lateness, Order::Any);
        let mut out = Vec::new();
        let mut late = Vec::new();
        let mut max = 0;
        for &(pos, item) in items {
            max = max.max(pos);
            let w = max.saturating_sub(ooo);
            let mut emit =
                |s, e, p: &Part<ArrivalOrder<u64>>| out.push((s, e, p.acc.as_slice().to_vec()));
            engine.advance(&agg, w, &mut emit);
            // Numbered by position: these tests check windows in time order.
            let arrived = Arrived {
                item: &item,
                at: pos,
            };
            if engine.add(&agg, pos, arrived, w, &mut emit) == Added::Late {
                late.push(item);
            }
        }
        engine.advance(&agg, u64::MAX, &mut |s, e, p| {
            out.push((s, e, p.acc.as_slice().to_vec()))
        });
        assert!(engine.is_empty());
        (out, late)
    }

    #[test]
    fn tumbling_windows_skip_empty_ones() {
        let items = [(0, 0), (3, 3), (4, 4), (17, 17)];
        let (out, late) = run(Shape::Sliding { size: 5, slide: 5 }, 0, &items, 0);
        assert_eq!(
            out,
            [(0, 5, vec![0, 3, 4]), (15, 20, vec![17])],
            "no window for [5, 15)"
        );
        assert!(late.is_empty());
    }

    #[test]
    fn sliding_windows_start_partial_and_end_partial() {
        let items: Vec<(u64, u64)> = (0..5).map(|i| (i, i)).collect();
        let (out, _) = run(Shape::Sliding { size: 3, slide: 2 }, 0, &items, 0);
        // Windows [2k, 2k + 3), clamped at 0: ends 1, 3, 5, 7.
        assert_eq!(
            out,
            [
                (0, 1, vec![0]),
                (0, 3, vec![0, 1, 2]),
                (2, 5, vec![2, 3, 4]),
                (4, 7, vec![4]),
            ]
        );
    }

    #[test]
    fn late_items_update_fired_windows_within_lateness() {
        // Tumbling 10, lateness 5, no out-of-orderness: 12 moves the watermark to 12.
        let items = [(1, 1), (12, 12), (3, 3), (16, 16), (4, 4)];
        let (out, late) = run(
            Shape::Sliding {
                size: 10,
                slide: 10,
            },
            5,
            &items,
            0,
        );
        assert_eq!(
            out,
            [
                (0, 10, vec![1]),
                (0, 10, vec![1, 3]), // late, within lateness: the window fires again
                (10, 20, vec![12, 16]),
            ]
        );
        assert_eq!(late, [4], "at 16 the window [0, 10) no longer takes items");
    }

    #[test]
    fn sessions_merge_when_an_item_bridges_them() {
        let items = [(0, 0), (10, 10), (5, 5), (30, 30)];
        let (out, late) = run(Shape::Session { gap: 6 }, 0, &items, 20);
        assert_eq!(
            out,
            [(0, 16, vec![0, 5, 10]), (30, 36, vec![30])],
            "5 joins [0, 6) and [10, 16)"
        );
        assert!(late.is_empty());
    }

    #[test]
    fn sessions_drop_items_past_lateness() {
        let items = [(0, 0), (20, 20), (2, 2), (40, 40), (21, 21), (1, 1)];
        let (out, late) = run(Shape::Session { gap: 5 }, 20, &items, 0);
        assert_eq!(
            out,
            [
                (0, 5, vec![0]),
                (0, 7, vec![0, 2]), // at watermark 20, [0, 7) takes items until 27
                (20, 25, vec![20]),
                (20, 26, vec![20, 21]),
                (40, 45, vec![40]),
            ]
        );
        assert_eq!(late, [1], "at watermark 40, [1, 6) closed at 26");
    }
}
