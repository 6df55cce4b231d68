//! The serving engine's events, and the queue every simulator here runs on ([`EventQueue`]).
//!
//! The queue's ordering guarantees (time, then first in, first out) are documented in
//! `event/queue.rs`. The training cluster simulators ([`cluster`](super::cluster)) have events of
//! their own, on the same queue.

mod queue;

pub use queue::EventQueue;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_small() {
        assert_eq!(std::mem::size_of::<Event>(), 8);
    }
}
