//! Broker-side worker records.

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
    /// The service it registered for.
    pub service: Box<[u8]>,
    /// Its expiry ticket, reset on every command it sends.
    pub ticket: TicketId,
    /// The request it is working on, kept so it can be resent if the worker goes away.
    pub current: Option<Request>,
    /// `Some(token)` while idle; matches the worker's entry in its service's idle queue.
    pub idle_token: Option<u64>,
    /// Whether the broker sent it anything since the last heartbeat tick (then no HEARTBEAT is
    /// needed this tick).
    pub sent_since_tick: bool,
}
