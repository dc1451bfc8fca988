//! Broker-side service records: the request queue and the queue of workers with credit left (idle
//! workers, and credit workers holding fewer requests than their credit) of one service.

use std::collections::VecDeque;
use std::time::Instant;

use zmsg::{ZFrame, ZMsg};

use crate::protocol::Version;

use super::stats::{Counters, ServiceLoad};
use super::worker::{WorkerKey, WorkerRecord};
use super::Map;

/// A client request held by the broker: queued, or in flight at a worker (kept for resending).
#[derive(Debug)]
pub(crate) struct Request {
    /// The client's ROUTER identity frame.
    pub client: ZFrame,
    /// The MDP version the client speaks (its replies go out in it).
    pub version: Version,
    /// The body frames, exactly as the client sent them.
    pub body: ZMsg,
    /// When the request expires if it is still queued.
    pub deadline: Instant,
    /// The service name to put in the client's reply when it differs from the worker's service
    /// (after a hook redirect); `None` in the common case.
    pub reply_service: Option<Box<[u8]>>,
    /// Payload bytes of `body` (what the request makes the broker hold).
    pub bytes: usize,
    /// When it was last sent to a worker (meaningful while a worker holds it).
    pub sent_at: Instant,
    /// How many times it was taken back from a worker that went away or held it too long.
    pub resends: u32,
}

/// A FIFO of waiting requests that knows how many payload bytes it holds.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    items: VecDeque<Request>,
    bytes: usize,
}

impl Queue {
    /// Adds a new request at the back.
    pub fn push_back(&mut self, request: Request) {
        self.bytes += request.bytes;
        self.items.push_back(request);
    }

    /// Puts a request back at the front (a resend, or a redirect to a busy worker).
    pub fn push_front(&mut self, request: Request) {
        self.bytes += request.bytes;
        self.items.push_front(request);
    }

    /// Takes the oldest request.
    pub fn pop_front(&mut self) -> Option<Request> {
        let request = self.items.pop_front()?;
        self.bytes -= request.bytes;
        Some(request)
    }

    /// The newest request, to compact its frames while it waits.
    pub fn back_mut(&mut self) -> Option<&mut Request> {
        self.items.back_mut()
    }

    /// Removes, in place, the requests `keep` says no to, handing each to `removed` first.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&Request) -> bool,
        mut removed: impl FnMut(&Request),
    ) {
        let bytes = &mut self.bytes;
        self.items.retain(|request| {
            let kept = keep(request);
            if !kept {
                *bytes -= request.bytes;
                removed(request);
            }
            kept
        });
    }

    /// How many requests wait.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Payload bytes of the waiting requests.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// One service: its queue of waiting requests and its queue of workers that can take one
/// ("idle" below: idle workers, and credit workers holding fewer requests than their credit).
///
/// Invariant (after every broker step): a service never has both waiting requests and idle
/// workers.
#[derive(Debug, Default)]
pub(crate) struct Service {
    /// Waiting requests, oldest first (resent requests go to the front).
    pub requests: Queue,
    /// Idle workers as `(worker, idle token)`; an entry is stale (skipped) when the worker is gone
    /// or its current idle token differs.
    idle: VecDeque<(WorkerKey, u64)>,
    /// Workers registered for this service right now.
    pub workers: usize,
    /// Whether a worker ever registered; services that never had one are forgotten once their
    /// queue is empty.
    pub ever_had_worker: bool,
    /// Since when it has had no worker and no waiting request (`None` while it has either);
    /// such a service is forgotten after the grace period.
    pub empty_since: Option<Instant>,
    /// This service's counters.
    pub counters: Counters,
}

impl Service {
    /// Its current load (as `mmi.stats NAME` and [`super::Stats::service_load`] report it).
    pub fn load(&self) -> ServiceLoad {
        ServiceLoad {
            workers: self.workers,
            queued: self.requests.len(),
            queued_bytes: self.requests.bytes(),
        }
    }

    /// Records `worker` as idle with `token`. Stale entries are compacted away when they
    /// outnumber the live workers, so the queue stays O(workers) (amortised O(1)).
    pub fn push_idle(
        &mut self,
        worker: WorkerKey,
        token: u64,
        workers: &Map<WorkerKey, WorkerRecord>,
    ) {
        self.idle.push_back((worker, token));
        if self.idle.len() > 2 * self.workers + 16 {
            self.idle
                .retain(|&(key, token)| is_idle(workers, key, token));
        }
    }

    /// Takes the longest-idle live worker, skipping stale entries.
    pub fn pop_idle(&mut self, workers: &Map<WorkerKey, WorkerRecord>) -> Option<WorkerKey> {
        while let Some((key, token)) = self.idle.pop_front() {
            if is_idle(workers, key, token) {
                return Some(key);
            }
        }
        None
    }

    /// Whether the service has nothing left worth keeping a record for at `now`: no worker, no
    /// waiting request, and either it never had a worker or it has been empty for `grace`.
    pub fn is_disposable(&mut self, now: Instant, grace: std::time::Duration) -> bool {
        if self.workers > 0 || !self.requests.is_empty() {
            self.empty_since = None;
            return false;
        }
        let since = *self.empty_since.get_or_insert(now);
        !self.ever_had_worker || now.saturating_duration_since(since) >= grace
    }
}

fn is_idle(workers: &Map<WorkerKey, WorkerRecord>, key: WorkerKey, token: u64) -> bool {
    workers
        .get(&key)
        .is_some_and(|worker| worker.idle_token == Some(token))
}
