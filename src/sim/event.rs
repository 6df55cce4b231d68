//! The event queue: a binary heap of events keyed by (time, sequence number).
//!
//! # Ordering guarantees
//! - Events run in order of their time; time never goes back.
//! - Events at the same time run in the order they were scheduled (first in, first out), whatever
//!   their kind. The sequence number makes the order total, so a run is a pure function of the
//!   scenario and the seed.
//!
//! Events are a closed `enum` of small `Copy` values, not boxed closures: the world they act on is
//! owned by the engine, so a run is `Send` and many runs can go in parallel.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::units::SimTime;

/// A queue of waiting requests: a workload's shared queue or one replica's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueRef {
    Shared(u32),
    Replica(u32),
}

/// Something that happens at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next request of a workload arrives.
    Arrival { workload: u32 },
    /// A replica finishes its batch.
    BatchDone { replica: u32 },
    /// The oldest request of a queue has waited `max_wait`: a partial batch may start.
    BatchTimer(QueueRef),
    /// The oldest request of a queue reaches its timeout.
    Expire(QueueRef),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    time: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that the max-heap pops the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Pending events, earliest first, ties first-in first-out.
#[derive(Debug, Default)]
pub struct EventQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl EventQueue {
    pub fn new() -> EventQueue {
        EventQueue::default()
    }

    #[inline]
    pub fn push(&mut self, time: SimTime, event: Event) {
        self.seq += 1;
        self.heap.push(Entry {
            time: time.0,
            seq: self.seq,
            event,
        });
    }

    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, Event)> {
        self.heap.pop().map(|e| (SimTime(e.time), e.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_are_first_in_first_out() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), Event::BatchDone { replica: 1 });
        q.push(SimTime(3), Event::Arrival { workload: 0 });
        q.push(SimTime(5), Event::BatchDone { replica: 2 });
        q.push(SimTime(5), Event::Arrival { workload: 9 });
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![
                (SimTime(3), Event::Arrival { workload: 0 }),
                (SimTime(5), Event::BatchDone { replica: 1 }),
                (SimTime(5), Event::BatchDone { replica: 2 }),
                (SimTime(5), Event::Arrival { workload: 9 }),
            ]
        );
    }

    proptest! {
        #[test]
        fn pops_in_time_then_insertion_order(times in proptest::collection::vec(0u64..50, 0..200)) {
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.push(SimTime(*t), Event::BatchDone { replica: i as u32 });
            }
            let mut last = (0u64, 0u32);
            let mut first = true;
            while let Some((t, Event::BatchDone { replica })) = q.pop() {
                if !first {
                    prop_assert!((t.0, replica) > last, "clock went back or FIFO broken");
                }
                first = false;
                last = (t.0, replica);
            }
            prop_assert!(q.is_empty());
        }
    }
}
