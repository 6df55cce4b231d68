//! The event queue every simulator here runs on: a binary heap of events keyed by (time,
//! sequence number), plus slots.
//!
//! A slot holds at most one pending event of a recurring source, such as the next arrival of a
//! workload. Slots live outside the heap (the heap then holds only completions and timers, and an
//! arrival costs no heap operation), but they share the sequence numbering, so the order below
//! is exactly that of one heap.
//!
//! # Ordering guarantees
//! - Time is an integer ([`SimTime`], nanoseconds), so two events at the same instant compare
//!   equal exactly, and an event scheduled a positive delay after another comes after it.
//! - Events come out in order of their time.
//! - Events at the same time come out in the order they were scheduled (first in, first out),
//!   whatever their kind and whether they sat in the heap or a slot. The sequence number makes
//!   the order total, so a run is a pure function of its inputs.
//! - The queue does not keep time itself: an event scheduled earlier than the last one popped
//!   comes out next. The simulators never schedule into their past; a simulator whose delays are
//!   computed clamps them so that they are never negative, and a loop that must advance its
//!   clock at every step clamps them to at least 1 ns.
//!
//! The queue is generic over its events, and monomorphized for each simulator: events are a
//! closed `enum` of small `Copy` values, not boxed closures (the world they act on is owned by
//! the simulator, so a run is `Send` and many runs can go in parallel), and an entry is the
//! event plus 16 bytes of key. The serving engine's [`Event`] is the default.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Event;
use crate::units::SimTime;

/// An event with its key: time, then sequence number.
#[derive(Clone, Copy, Debug)]
struct Entry<E> {
    time: u64,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    /// The key as one integer, so a comparison is branch-free.
    #[inline]
    fn key(&self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest event must come out first.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Pending events, earliest first, ties first-in first-out.
#[derive(Debug)]
pub struct EventQueue<E: Copy = Event> {
    /// `std`'s binary heap. A hand-written 4-ary heap with branch-free child selection was tried
    /// side by side: it was up to 8 % faster on `day-1k.toml` and slower on the hold benchmark,
    /// within the noise of this machine either way, so the simpler one stays.
    heap: BinaryHeap<Entry<E>>,
    slots: Vec<Option<Entry<E>>>,
    /// The slot with the earliest event, if any slot is full, and that event's key.
    first_slot: Option<usize>,
    first_key: u128,
    seq: u64,
}

impl<E: Copy> EventQueue<E> {
    /// A queue with `slots` slots, all empty.
    pub fn new(slots: usize) -> EventQueue<E> {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: vec![None; slots],
            first_slot: None,
            first_key: u128::MAX,
            seq: 0,
        }
    }

    #[inline]
    fn entry(&mut self, time: SimTime, event: E) -> Entry<E> {
        self.seq += 1;
        Entry {
            time: time.0,
            seq: self.seq,
            event,
        }
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let entry = self.entry(time, event);
        self.heap.push(entry);
    }

    /// Schedules `event` at `time` in `slot`, which must be empty.
    #[inline]
    pub fn push_slot(&mut self, slot: usize, time: SimTime, event: E) {
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
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let entry = match self.heap.peek() {
            Some(top) if top.key() < self.first_key => self.heap.pop()?,
            _ if self.first_slot.is_some() => self.take_first_slot(),
            _ => return None,
        };
        Some((SimTime(entry.time), entry.event))
    }

    /// When the earliest event is, without removing it.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        let slot = self.first_slot.map(|_| self.first_key);
        let key = match (self.heap.peek().map(Entry::key), slot) {
            (Some(h), Some(s)) => h.min(s),
            (h, s) => h.or(s)?,
        };
        Some(SimTime((key >> 64) as u64))
    }

    fn take_first_slot(&mut self) -> Entry<E> {
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

    /// The pending events and their times, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (SimTime, &E)> + '_ {
        self.heap
            .iter()
            .chain(self.slots.iter().flatten())
            .map(|e| (SimTime(e.time), &e.event))
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
    fn entries_are_small() {
        // The serving engine's: its 8-byte events and the 16-byte key.
        assert_eq!(std::mem::size_of::<Entry<Event>>(), 24);
    }

    #[test]
    fn equal_times_are_first_in_first_out() {
        let mut q = EventQueue::new(10);
        q.push(SimTime(5), Event::BatchDone { replica: 1 });
        q.push_slot(0, SimTime(3), Event::Arrival { workload: 0 });
        q.push(SimTime(5), Event::BatchDone { replica: 2 });
        q.push_slot(9, SimTime(5), Event::Arrival { workload: 9 });
        assert_eq!(q.peek_time(), Some(SimTime(3)));
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
        assert_eq!(q.peek_time(), None);
    }

    #[test]
    fn any_copy_type_can_be_an_event() {
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum Tick {
            Done(usize),
            Step,
        }
        let mut q: EventQueue<Tick> = EventQueue::new(0);
        q.push(SimTime(7), Tick::Step);
        q.push(SimTime(2), Tick::Done(1));
        q.push(SimTime(7), Tick::Done(0));
        let mut pending: Vec<_> = q.iter().map(|(t, e)| (t.0, *e)).collect();
        pending.sort_by_key(|p| p.0);
        assert_eq!(pending[0], (2, Tick::Done(1)));
        assert_eq!(q.len(), 3);
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|p| p.1).collect();
        assert_eq!(order, [Tick::Done(1), Tick::Step, Tick::Done(0)]);
        assert!(q.is_empty());
    }

    proptest! {
        /// Heap and slots together pop exactly as one stable sort of (time, scheduling order),
        /// and `peek_time` always names the time of the next pop.
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
            prop_assert_eq!(q.iter().count(), expect.len());
            let mut got = Vec::new();
            loop {
                let next = q.peek_time();
                let Some((t, Event::BatchDone { replica })) = q.pop() else {
                    prop_assert_eq!(next, None);
                    break;
                };
                prop_assert_eq!(next, Some(t));
                got.push((t.0, replica));
            }
            prop_assert_eq!(got, expect);
            prop_assert!(q.is_empty());
        }
    }
}
