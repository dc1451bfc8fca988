//! Broker-side worker records.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use zmsg::ZFrame;

use super::service::Request;
use crate::protocol::Version;

/// The broker's own key for a registered worker: never reused, so stale references (idle-queue
/// entries, expiry queue entries) can be told from live ones.
pub(crate) type WorkerKey = u64;

/// A registered worker.
#[derive(Debug)]
pub(crate) struct WorkerRecord {
    /// The worker's ROUTER identity frame.
    pub identity: ZFrame,
    /// The MDP version it speaks (its commands go out in it).
    pub version: Version,
    /// The service it registered for (shared, so that each reply does not copy the name).
    pub service: Arc<[u8]>,
    /// When it is declared dead unless it sends something; pushed back by every command.
    pub expires_at: Instant,
    /// The requests sent to it and not answered yet, oldest first, kept so they can be resent if
    /// the worker goes away.
    pub in_flight: VecDeque<Request>,
    /// How many requests it may hold at once: 1 for a plain MDP/0.1 worker, more when its READY
    /// asked for a `credit` (see `docs/mdp.md`).
    pub credit: usize,
    /// `Some(token)` while it can take another request; matches the worker's entry in its
    /// service's idle queue.
    pub idle_token: Option<u64>,
    /// When the broker last sent it anything (a HEARTBEAT is only needed when that is more than
    /// half an interval ago).
    pub last_sent: Instant,
    /// The `User-Id` (ZAP) its READY came with, when the worker policy is restricted; every later
    /// command must carry the same.
    pub user_id: Option<Box<str>>,
}

impl WorkerRecord {
    /// Whether the worker can take one more request now.
    pub fn has_credit(&self) -> bool {
        self.in_flight.len() < self.credit
    }

    /// The position, among the requests it holds, of the one a reply addressed to `client`
    /// answers: the oldest request of that client (workers answer in order).
    pub fn answered(&self, client: &[u8]) -> Option<usize> {
        self.in_flight
            .iter()
            .position(|request| request.client.data() == client)
    }
}
