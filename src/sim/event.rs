//! The event queue: a binary heap of events keyed by (time, sequence number), plus slots.
//!
//! A slot holds at most one pending event of a recurring source, such as the next arrival of a
//! workload. Slots live outside the heap (the heap then holds only completions and timers, and an
//! arrival costs no heap operation), but they share the sequence numbering, so the order below
//! is exactly that of one heap.
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

/// Something that happens at an instant. Eight bytes, so a queue entry is 24.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Event {
    /// The next request of a workload arrives.
    Arrival { workload: u32 },
    /// A replica finishes its batch.
    BatchDone { replica: u32 },
    /// An LLM replica's front end has handled the requests due by now: they go to the engine
    /// (stale if a reclaim emptied the front end).
    FrontEnd { replica: u32 },
    /// The oldest request of a workload's shared queue has waited `max_wait`.
    SharedBatchTimer { workload: u32 },
    /// The oldest request of a replica's queue has waited `max_wait`.
    ReplicaBatchTimer { replica: u32 },
    /// The oldest request of a workload's shared queue reaches its timeout.
    SharedExpire { workload: u32 },
    /// The oldest request of a replica's queue reaches its timeout.
    ReplicaExpire { replica: u32 },
    /// An elastic pool's policy looks at it.
    PoolTick { pool: u32 },
    /// A replica being provisioned may be ready (stale if its start was called off).
    ReplicaReady { replica: u32 },
    /// A spot replica gets its reclaim notice (stale if it stopped meanwhile).
    Interrupt { replica: u32 },
    /// The notice is over: the cloud takes the replica and what it still holds.
    Reclaim { replica: u32 },
    /// Spot capacity is back: a pool that lost replicas asks for them again.
    Replace { pool: u32 },
    /// A correlated reclaim takes part of a pool at once.
    PoolReclaim { pool: u32 },
    /// A warm pool has prepared a replacement instance.
    WarmRefilled { pool: u32 },
}

impl Event {
    /// A partial batch may start on queue `q`.
    pub fn batch_timer(q: QueueRef) -> Event {
        match q {
            QueueRef::Shared(workload) => Event::SharedBatchTimer { workload },
            QueueRef::Replica(replica) => Event::ReplicaBatchTimer { replica },
        }
    }

    /// The oldest request of queue `q` times out.
    pub fn expire(q: QueueRef) -> Event {
        match q {
            QueueRef::Shared(workload) => Event::SharedExpire { workload },
            QueueRef::Replica(replica) => Event::ReplicaExpire { replica },
        }
    }
}

/// An event with its key: time, then sequence number.
#[derive(Clone, Copy, Debug)]
struct Entry {
    time: u64,
    seq: u64,
    event: Event,
}

impl Entry {
    /// The key as one integer, so a comparison is branch-free.
    #[inline]
    fn key(&self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.seq)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest event must come out first.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Pending events, earliest first, ties first-in first-out.
#[derive(Debug, Default)]
pub struct EventQueue {
    /// `std`'s binary heap. A hand-written 4-ary heap with branch-free child selection was tried
    /// side by side: it was up to 8 % faster on `day-1k.toml` and slower on the hold benchmark,
    /// within the noise of this machine either way, so the simpler one stays.
    heap: BinaryHeap<Entry>,
    slots: Vec<Option<Entry>>,
    /// The slot with the earliest event, if any slot is full, and that event's key.
    first_slot: Option<usize>,
    first_key: u128,
    seq: u64,
}

impl EventQueue {
    /// A queue with `slots` slots, all empty.
    pub fn new(slots: usize) -> EventQueue {
        EventQueue {
            slots: vec![None; slots],
            first_key: u128::MAX,
            ..EventQueue::default()
        }
    }

    #[inline]
    fn entry(&mut self, time: SimTime, event: Event) -> Entry {
        self.seq += 1;
        Entry {
            time: time.0,
            seq: self.seq,
            event,
        }
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: Event) {
        let entry = self.entry(time, event);
        self.heap.push(entry);
    }

    /// Schedules `event` at `time` in `slot`, which must be empty.
    #[inline]
    pub fn push_slot(&mut self, slot: usize, time: SimTime, event: Event) {
        debug_assert!(self.slots[slot].is_none(), "slot {slot} is full");
        let entry = self.entry(time, event);
        self.slots[slot] = Some(entry);
        if entry.key() < self.first_key {
            self.first_slot = Some(slot);
            self.first_key = entry.key();
        }
    }

    /// The earliest event, removed from the queue.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, Event)> {
        let entry = match self.heap.peek() {
            Some(top) if top.key() < self.first_key => self.heap.pop()?,
            _ if self.first_slot.is_some() => self.take_first_slot(),
            _ => return None,
        };
        Some((SimTime(entry.time), entry.event))
    }

    fn take_first_slot(&mut self) -> Entry {
        let f = self.first_slot.expect("a full slot");
        let taken = self.slots[f].take().expect("the first slot is full");
        self.first_slot = None;
        self.first_key = u128::MAX;
        if self.slots.len() == 1 {
            return taken;
        }
        for (i, e) in self.slots.iter().enumerate() {
            if let Some(e) = e
                && e.key() < self.first_key
            {
                self.first_slot = Some(i);
                self.first_key = e.key();
            }
        }
        taken
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.slots.iter().filter(|s| s.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn events_are_small() {
        assert_eq!(std::mem::size_of::<Event>(), 8);
    }

    #[test]
    fn equal_times_are_first_in_first_out() {
        let mut q = EventQueue::new(10);
        q.push(SimTime(5), Event::BatchDone { replica: 1 });
        q.push_slot(0, SimTime(3), Event::Arrival { workload: 0 });
        q.push(SimTime(5), Event::BatchDone { replica: 2 });
        q.push_slot(9, SimTime(5), Event::Arrival { workload: 9 });
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
        /// Heap and slots together pop exactly as one stable sort of (time, scheduling order).
        #[test]
        fn pops_in_time_then_insertion_order(
            ops in proptest::collection::vec((0u64..50, proptest::option::of(0usize..4)), 0..200)
        ) {
            let mut q = EventQueue::new(4);
            let mut expect: Vec<(u64, u32)> = Vec::new();
            for (i, (t, slot)) in ops.iter().enumerate() {
                let e = Event::BatchDone { replica: i as u32 };
                match slot {
                    Some(s) if q.slots[*s].is_none() => q.push_slot(*s, SimTime(*t), e),
                    _ => q.push(SimTime(*t), e),
                }
                expect.push((*t, i as u32));
            }
            expect.sort();
            let mut got = Vec::new();
            while let Some((t, Event::BatchDone { replica })) = q.pop() {
                got.push((t.0, replica));
            }
            prop_assert_eq!(got, expect);
            prop_assert!(q.is_empty());
        }
    }
}
