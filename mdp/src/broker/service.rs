//! Broker-side service records: the request queue and the queue of workers with credit left (idle
//! workers, and credit workers holding fewer requests than their credit) of one service.

use std::collections::VecDeque;
use std::time::Instant;

use zmsg::{ZFrame, ZMsg};

use crate::protocol::Version;

use super::stats::Counters;
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
}

/// One service: its queue of waiting requests and its queue of workers that can take one
/// ("idle" below: idle workers, and credit workers holding fewer requests than their credit).
///
/// Invariant (after every broker step): a service never has both waiting requests and idle
/// workers.
#[derive(Debug, Default)]
pub(crate) struct Service {
    /// Waiting requests, oldest first (resent requests go to the front).
    pub requests: VecDeque<Request>,
    /// Idle workers as `(worker, idle token)`; an entry is stale (skipped) when the worker is gone
    /// or its current idle token differs.
    idle: VecDeque<(WorkerKey, u64)>,
    /// Workers registered for this service right now.
    pub workers: usize,
    /// Whether a worker ever registered; services that never had one are forgotten once their
    /// queue is empty.
    pub ever_had_worker: bool,
    /// This service's counters.
    pub counters: Counters,
}

impl Service {
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

    /// Whether the service has nothing left worth keeping a record for.
    pub fn is_disposable(&self) -> bool {
        !self.ever_had_worker && self.workers == 0 && self.requests.is_empty()
    }
}

fn is_idle(workers: &Map<WorkerKey, WorkerRecord>, key: WorkerKey, token: u64) -> bool {
    workers
        .get(&key)
        .is_some_and(|worker| worker.idle_token == Some(token))
}
