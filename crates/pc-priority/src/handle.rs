//! What both halves can read and do to the whole channel, written once.

/// Implements the shared accessors on a half (`PrioritySender` or `PriorityReceiver`).
macro_rules! handle_accessors {
    ($half:ident) => {
        impl<T: Send, S: $crate::Store> $half<T, S> {
            /// Items queued now, across all priorities.
            pub fn len(&self) -> usize {
                self.shared.len()
            }

            /// Whether nothing is queued now.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The most items the channel holds, or `None` when unbounded.
            pub fn capacity(&self) -> Option<usize> {
                self.shared.capacity()
            }

            /// Whether the channel is closed to sends.
            pub fn is_closed(&self) -> bool {
                self.shared.is_closed()
            }

            /// Closes the channel: sends fail and hand their item back, receivers drain what is
            /// queued and then see it closed. Returns `true` if this call closed it.
            pub fn close(&self) -> bool {
                self.shared.close()
            }
        }

        impl<T: Send> $half<T, $crate::Levels> {
            /// How many levels the channel has.
            pub fn levels(&self) -> usize {
                self.shared.lock().queue.levels()
            }

            /// Items queued now at `level`, or `None` if there is no such level.
            pub fn level_len(&self, level: usize) -> Option<usize> {
                self.shared.lock().queue.level_len(level)
            }

            /// Closes one level: sends at it fail, while what it holds is still received.
            /// Closing the last open level closes the channel. Returns `true` if this call
            /// closed the level.
            ///
            /// # Errors
            ///
            /// [`UnknownLevel`]($crate::UnknownLevel) if there is no such level.
            pub fn close_level(&self, level: usize) -> Result<bool, $crate::UnknownLevel> {
                self.shared.with_queue(
                    |queue| {
                        queue.known(level)?;
                        Ok(queue.close_level(level))
                    },
                    |queue| queue.all_closed(),
                )
            }

            /// Whether `level` was closed on its own (see also [`is_closed`](Self::is_closed)).
            ///
            /// # Errors
            ///
            /// [`UnknownLevel`]($crate::UnknownLevel) if there is no such level.
            pub fn is_level_closed(&self, level: usize) -> Result<bool, $crate::UnknownLevel> {
                let state = self.shared.lock();
                state.queue.known(level)?;
                Ok(state.queue.level_closed(level))
            }
        }
    };
}

pub(crate) use handle_accessors;
