//! Broker counters: per service and in total, readable through `mmi.stats`, [`super::Broker::stats`]
//! and [`super::BrokerHandle::stats`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::protocol::RefusalCode;

/// Refused requests by [`RefusalCode`] (they add up to [`Counters::refused`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    /// `413`: larger than the largest message size.
    pub too_large: u64,
    /// `429`: the client was over its limits.
    pub client_full: u64,
    /// `503`: the service's queue was full.
    pub queue_full: u64,
    /// `504`: abandoned after its resends (the same as [`Counters::abandoned`]).
    pub abandoned: u64,
    /// `507`: a broker-wide limit was reached.
    pub broker_full: u64,
}

impl Refusals {
    /// The count for `code`.
    pub fn get(&self, code: RefusalCode) -> u64 {
        match code {
            RefusalCode::TooLarge => self.too_large,
            RefusalCode::ClientFull => self.client_full,
            RefusalCode::QueueFull => self.queue_full,
            RefusalCode::Abandoned => self.abandoned,
            RefusalCode::BrokerFull => self.broker_full,
        }
    }

    pub(crate) fn bump(&mut self, code: RefusalCode, by: u64) {
        let slot = match code {
            RefusalCode::TooLarge => &mut self.too_large,
            RefusalCode::ClientFull => &mut self.client_full,
            RefusalCode::QueueFull => &mut self.queue_full,
            RefusalCode::Abandoned => &mut self.abandoned,
            RefusalCode::BrokerFull => &mut self.broker_full,
        };
        *slot += by;
    }

    /// Every code with its count, in [`RefusalCode::ALL`] order.
    pub fn by_code(&self) -> [(RefusalCode, u64); 5] {
        RefusalCode::ALL.map(|code| (code, self.get(code)))
    }
}

/// Counters kept for each service and summed over all services.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Client requests received for the service, refused ones included (MMI requests are not
    /// counted here).
    pub requests: u64,
    /// Final replies delivered to clients (worker replies and hook answers).
    pub replies: u64,
    /// Partial replies (MDP/0.2 PARTIAL) delivered to clients.
    pub partials: u64,
    /// Requests put back at the front of the queue because their worker died, expired, was
    /// disconnected or could not be reached.
    pub resends: u64,
    /// Requests or replies dropped: the client or a redirect target was unreachable (also after
    /// waiting in its backlog), its backlog timed out, a partial reply found the client's
    /// backlog at its limits, or a hook said `Drop`.
    pub drops: u64,
    /// Requests refused with an `mmi.refused` answer: the service queue was full (`503`), the
    /// client was over its limits (`429`), the request was too large (`413`), a broker-wide limit
    /// was reached (`507`), or it was abandoned after its resends (`504`, also in `abandoned`).
    pub refused: u64,
    /// Requests given to workers `max_resends + 1` times without an answer, then refused with
    /// `504`.
    pub abandoned: u64,
    /// Workers of the service that went away: they sent DISCONNECT, were told to DISCONNECT for an
    /// unexpected command, or could not be reached.
    pub disconnects: u64,
    /// Queued requests that waited longer than the request expiry and were discarded.
    pub expiries: u64,
    /// Workers purged because nothing arrived from them for heartbeat × liveness.
    pub worker_expiries: u64,
    /// Workers disconnected because they held a request longer than the request timeout (the
    /// request went to another worker).
    pub request_timeouts: u64,
    /// `refused`, by refusal code.
    pub refusals: Refusals,
}

impl Counters {
    /// The counters as `(name, value)` pairs, in the order `mmi.stats` reports them; `refused`
    /// by code comes last, as `refused_413` ... `refused_507`.
    pub fn fields(&self) -> [(&'static str, u64); 16] {
        let r = &self.refusals;
        [
            ("requests", self.requests),
            ("replies", self.replies),
            ("partials", self.partials),
            ("resends", self.resends),
            ("drops", self.drops),
            ("refused", self.refused),
            ("abandoned", self.abandoned),
            ("disconnects", self.disconnects),
            ("expiries", self.expiries),
            ("worker_expiries", self.worker_expiries),
            ("request_timeouts", self.request_timeouts),
            ("refused_413", r.too_large),
            ("refused_429", r.client_full),
            ("refused_503", r.queue_full),
            ("refused_504", r.abandoned),
            ("refused_507", r.broker_full),
        ]
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.fields().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

/// Counters that belong to no service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GlobalCounters {
    /// Invalid messages dropped: bad framing, unknown header or command, wrong frame counts,
    /// READY without a service, garbage.
    pub invalid: u64,
    /// Valid but unexpected worker commands, each answered with DISCONNECT.
    pub unexpected: u64,
    /// MMI requests answered.
    pub mmi: u64,
    /// Replies that met a full client pipe and waited in that client's backlog.
    pub backlogged: u64,
    /// Backlogged replies dropped because the client went away (`EHOSTUNREACH`).
    pub backlog_unreachable: u64,
    /// Backlogged replies dropped because the client took nothing for the backlog timeout.
    pub backlog_timeouts: u64,
    /// Partial replies from MDP/0.2 workers not sent on because the client speaks MDP/0.1
    /// (which has one reply per request: it gets the final one).
    pub partials_withheld: u64,
    /// Commands refused because a broker-wide limit was reached: READY beyond `max_workers` or
    /// `max_services` (answered with DISCONNECT), requests beyond `max_clients`, `max_services` or
    /// `max_memory` (refused with `507`).
    pub over_limit: u64,
    /// Worker commands refused by the worker policy: a READY from a peer whose key may not serve
    /// that service, or a command from a worker whose `User-Id` changed (answered with
    /// DISCONNECT).
    pub unauthorised: u64,
}

impl GlobalCounters {
    /// The counters as `(name, value)` pairs, in the order `mmi.stats` reports them.
    pub fn fields(&self) -> [(&'static str, u64); 9] {
        [
            ("invalid", self.invalid),
            ("unexpected", self.unexpected),
            ("mmi", self.mmi),
            ("backlogged", self.backlogged),
            ("backlog_unreachable", self.backlog_unreachable),
            ("backlog_timeouts", self.backlog_timeouts),
            ("partials_withheld", self.partials_withheld),
            ("over_limit", self.over_limit),
            ("unauthorised", self.unauthorised),
        ]
    }
}

/// The current load of one service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceLoad {
    /// Workers registered for the service right now.
    pub workers: usize,
    /// Requests waiting in its queue right now.
    pub queued: usize,
    /// Payload bytes of those requests.
    pub queued_bytes: usize,
}

impl ServiceLoad {
    /// The numbers as `(name, value)` pairs, in the order `mmi.stats NAME` reports them.
    pub fn fields(&self) -> [(&'static str, u64); 3] {
        [
            ("workers", self.workers as u64),
            ("queued", self.queued as u64),
            ("queued_bytes", self.queued_bytes as u64),
        ]
    }
}

/// A snapshot of the broker's counters and current load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sums over every service, including services the broker no longer tracks.
    pub total: Counters,
    /// Counters that belong to no service.
    pub global: GlobalCounters,
    /// Per-service counters, by service name (lossy UTF-8).
    pub services: BTreeMap<String, Counters>,
    /// Per-service load, by service name (the same names as `services`).
    pub service_load: BTreeMap<String, ServiceLoad>,
    /// Services the broker tracks right now (with workers, waiting requests, or within their
    /// grace period).
    pub tracked_services: usize,
    /// Workers registered right now.
    pub workers: usize,
    /// Requests waiting in service queues right now.
    pub queued: usize,
    /// Clients the broker tracks right now (requests in flight or replies backlogged).
    pub clients: usize,
    /// Client requests accepted and not answered yet (queued or at a worker).
    pub in_flight: usize,
    /// Clients with a reply backlog right now.
    pub backlog_clients: usize,
    /// Replies waiting in client backlogs right now.
    pub backlog_replies: usize,
    /// Frame payload bytes of those replies.
    pub backlog_bytes: usize,
    /// Payload bytes the broker holds for clients: requests queued or at a worker, and
    /// backlogged replies (what `max_memory` bounds).
    pub held_bytes: usize,
}

impl Stats {
    /// The current load as `(name, value)` pairs, in the order `mmi.stats` reports them after
    /// the counters: `workers`, `services`, `queued`, `clients`, `in_flight`, `backlog_clients`,
    /// `backlog_replies`, `backlog_bytes`, `held_bytes`.
    pub fn gauges(&self) -> [(&'static str, u64); 9] {
        [
            ("workers", self.workers as u64),
            ("services", self.tracked_services as u64),
            ("queued", self.queued as u64),
            ("clients", self.clients as u64),
            ("in_flight", self.in_flight as u64),
            ("backlog_clients", self.backlog_clients as u64),
            ("backlog_replies", self.backlog_replies as u64),
            ("backlog_bytes", self.backlog_bytes as u64),
            ("held_bytes", self.held_bytes as u64),
        ]
    }

    /// Everything `mmi.stats` with an empty name reports, in its order: the total counters,
    /// the global counters, then the gauges.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
        self.total
            .fields()
            .into_iter()
            .chain(self.global.fields())
            .chain(self.gauges())
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.gauges().into_iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value}")?;
        }
        write!(f, " {}", self.total)?;
        for (name, value) in self.global.fields() {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

/// The latest [`Stats`] of a running broker, published by its loop every interval (see
/// [`super::Broker::publish_stats`]). Cloning is cheap; reading never waits for the broker
/// loop (it takes a lock the loop holds only to swap in a new snapshot).
#[derive(Debug, Clone, Default)]
pub struct StatsFeed {
    latest: Arc<Mutex<Option<Published>>>,
}

/// One published snapshot and when it was taken.
#[derive(Debug, Clone)]
struct Published {
    stats: Arc<Stats>,
    at: Instant,
}

impl StatsFeed {
    /// The latest snapshot and when the broker took it; `None` before the first one.
    pub fn latest(&self) -> Option<(Arc<Stats>, Instant)> {
        let guard = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(|p| (Arc::clone(&p.stats), p.at))
    }

    /// Replaces the snapshot (the broker loop calls this).
    pub(crate) fn publish(&self, stats: Stats, at: Instant) {
        let published = Published {
            stats: Arc::new(stats),
            at,
        };
        // The old snapshot is dropped after the lock is released.
        let old = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(published);
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_display_and_fields() {
        let counters = Counters {
            requests: 3,
            replies: 2,
            drops: 1,
            ..Counters::default()
        };
        assert_eq!(
            counters.to_string(),
            "requests=3 replies=2 partials=0 resends=0 drops=1 refused=0 abandoned=0 disconnects=0 \
             expiries=0 worker_expiries=0 request_timeouts=0 refused_413=0 refused_429=0 \
             refused_503=0 refused_504=0 refused_507=0"
        );
        assert_eq!(counters.fields()[1], ("replies", 2));
    }
}
