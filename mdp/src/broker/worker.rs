//! Broker-side worker records.

use std::collections::VecDeque;
use std::sync::Arc;

use zmsg::zloop::TicketId;
use zmsg::ZFrame;

use super::service::Request;

/// The broker's own key for a registered worker: never reused, so stale references (idle-queue
/// entries, expiry tickets) can be told from live ones.
pub(crate) type WorkerKey = u64;

/// A registered worker.
#[derive(Debug)]
pub(crate) struct WorkerRecord {
    /// The worker's ROUTER identity frame.
    pub identity: ZFrame,
    /// The service it registered for (shared, so that each reply does not copy the name).
    pub service: Arc<[u8]>,
    /// Its expiry ticket, reset on every command it sends.
    pub ticket: TicketId,
    /// The requests sent to it and not answered yet, oldest first, kept so they can be resent if
    /// the worker goes away.
    pub in_flight: VecDeque<Request>,
    /// How many requests it may hold at once: 1 for a plain MDP/0.1 worker, more when its READY
    /// asked for a `credit` (see `docs/mdp.md`).
    pub credit: usize,
    /// `Some(token)` while it can take another request; matches the worker's entry in its
    /// service's idle queue.
    pub idle_token: Option<u64>,
    /// Whether the broker sent it anything since the last heartbeat tick (then no HEARTBEAT is
    /// needed this tick).
    pub sent_since_tick: bool,
}

impl WorkerRecord {
    /// Whether the worker can take one more request now.
    pub fn has_credit(&self) -> bool {
        self.in_flight.len() < self.credit
    }

    /// Takes, from the requests it holds, the one a REPLY addressed to `client` answers: the
    /// oldest request of that client (workers answer in order).
    pub fn take_answered(&mut self, client: &[u8]) -> Option<Request> {
        let position = self
            .in_flight
            .iter()
            .position(|request| request.client.data() == client)?;
        self.in_flight.remove(position)
    }
}
