//! Broker-side client records: what each client has in flight and the replies it has not been
//! able to take yet (its backlog).
//!
//! libzmq's ROUTER has no per-peer POLLOUT, so a reply that meets a full pipe (`EAGAIN` with
//! `ROUTER_MANDATORY`) is kept in the client's backlog and retried, oldest first, after every
//! batch of input and from a short timer that only runs while some backlog exists. A client that
//! is gone (`EHOSTUNREACH`) or takes nothing for `client_backlog_timeout` loses its backlog
//! (counted). Admission control keeps `in_flight + backlog` per client within
//! `max_client_backlog`, and a partial reply (MDP/0.2) that would break it is dropped (counted),
//! so a backlog can never outgrow its bound.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use zmsg::{ZFrame, ZMsg};

use super::core::{Sent, Transmit};
use super::Map;
use crate::protocol::RefusalCode;

/// How often backlogs are retried while any exists.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_millis(1);

/// A reply waiting for its client's pipe to drain.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The whole ROUTER message: `[client, "", "MDPC01", service, body...]`.
    pub msg: ZMsg,
    /// Frame payload bytes of `msg`.
    pub bytes: usize,
    /// The service whose counters get the delivery or drop (`None`: MMI or a refusal).
    pub service: Option<Box<[u8]>>,
    /// Whether it is a partial reply (counted as a partial, not a reply, when delivered).
    pub partial: bool,
}

/// One client as the broker sees it.
#[derive(Debug)]
pub(crate) struct ClientRecord {
    /// Requests accepted from it and not answered yet (queued or at a worker).
    pub in_flight: usize,
    /// Payload bytes of those requests.
    pub request_bytes: usize,
    /// Replies it could not take yet, oldest first.
    pub backlog: VecDeque<Pending>,
    /// Payload bytes in `backlog`.
    pub bytes: usize,
    /// Since when the head of the backlog has not moved.
    pub stalled_since: Instant,
}

impl ClientRecord {
    fn new(now: Instant) -> ClientRecord {
        ClientRecord {
            in_flight: 0,
            request_bytes: 0,
            backlog: VecDeque::new(),
            bytes: 0,
            stalled_since: now,
        }
    }
}

/// What happened to a backlogged reply (for the counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handed to libzmq at last.
    Delivered,
    /// Dropped: the client is gone.
    Unreachable,
    /// Dropped: the client took nothing for the backlog timeout.
    TimedOut,
}

/// Every client with something in flight or backlogged.
#[derive(Debug, Default)]
pub(crate) struct Clients {
    pub map: Map<Box<[u8]>, ClientRecord>,
    /// Identities of the clients whose backlog is not empty (each once).
    backlogged: Vec<Box<[u8]>>,
    /// Replies in all backlogs.
    pub replies: usize,
    /// Payload bytes in all backlogs.
    pub bytes: usize,
    /// Payload bytes of all requests in flight (queued or at a worker).
    pub request_bytes: usize,
}

/// The limits [`Clients::admit`] enforces.
#[derive(Debug, Clone)]
pub(crate) struct ClientLimits {
    /// Requests in flight plus replies backlogged, per client.
    pub max: usize,
    /// Payload bytes of requests in flight plus replies backlogged, per client.
    pub max_bytes: usize,
    /// Clients with something in flight or backlogged.
    pub max_clients: usize,
    /// Payload bytes of every client's requests and backlogs together.
    pub max_memory: usize,
}

impl Clients {
    /// Takes one more request of `bytes` payload bytes from `client`, or says which limit it
    /// would break: the client's requests in flight plus replies backlogged (`limits.max`), the
    /// bytes it makes the broker hold (`limits.max_bytes`: its requests and its backlog), the
    /// number of clients, or the broker's whole budget.
    pub fn admit(
        &mut self,
        client: &[u8],
        bytes: usize,
        limits: &ClientLimits,
        now: Instant,
    ) -> Result<(), RefusalCode> {
        if self.request_bytes + self.bytes + bytes > limits.max_memory {
            return Err(RefusalCode::BrokerFull);
        }
        if let Some(record) = self.map.get_mut(client) {
            if record.in_flight + record.backlog.len() >= limits.max
                || record.request_bytes + record.bytes + bytes > limits.max_bytes
            {
                return Err(RefusalCode::ClientFull);
            }
            record.in_flight += 1;
            record.request_bytes += bytes;
            self.request_bytes += bytes;
            return Ok(());
        }
        if bytes > limits.max_bytes {
            return Err(RefusalCode::ClientFull);
        }
        if self.map.len() >= limits.max_clients {
            return Err(RefusalCode::BrokerFull);
        }
        let mut record = ClientRecord::new(now);
        record.in_flight = 1;
        record.request_bytes = bytes;
        self.request_bytes += bytes;
        self.map.insert(client.into(), record);
        Ok(())
    }

    /// One request of `client` of `bytes` payload bytes is finished (answered, dropped, refused
    /// or expired).
    pub fn settle(&mut self, client: &[u8], bytes: usize) {
        if let Some(record) = self.map.get_mut(client) {
            record.in_flight = record.in_flight.saturating_sub(1);
            let bytes = bytes.min(record.request_bytes);
            record.request_bytes -= bytes;
            self.request_bytes -= bytes;
        }
    }

    /// Whether `client`'s backlog can take one more reply of `bytes` payload bytes within its
    /// limits: its requests in flight plus replies backlogged (`limits.max`) and their bytes
    /// (`limits.max_bytes`), the number of clients (for a new one) and the broker's memory
    /// budget. A final reply always can (it takes its request's place); a partial or redirected
    /// reply that cannot is dropped.
    pub fn has_room(&self, client: &[u8], bytes: usize, limits: &ClientLimits) -> bool {
        if self.request_bytes + self.bytes + bytes > limits.max_memory {
            return false;
        }
        match self.map.get(client) {
            Some(record) => {
                record.in_flight + record.backlog.len() < limits.max
                    && record.request_bytes + record.bytes + bytes <= limits.max_bytes
            }
            // A new record: within the number of clients and one client's bytes.
            None => self.map.len() < limits.max_clients && bytes <= limits.max_bytes,
        }
    }

    /// Payload bytes the broker holds for clients: requests in flight and backlogged replies.
    pub fn held_bytes(&self) -> usize {
        self.request_bytes + self.bytes
    }

    /// Whether `client` has replies waiting (new replies must queue behind them).
    pub fn has_backlog(&self, client: &[u8]) -> bool {
        self.map
            .get(client)
            .is_some_and(|record| !record.backlog.is_empty())
    }

    /// Whether any client has a backlog.
    pub fn any_backlog(&self) -> bool {
        !self.backlogged.is_empty()
    }

    /// How many clients have a backlog.
    pub fn backlogged_clients(&self) -> usize {
        self.backlogged.len()
    }

    /// Appends `pending` to its client's backlog (the client is `pending.msg[0]`).
    pub fn push(&mut self, pending: Pending, now: Instant) {
        let Some(identity) = pending.msg.first().map(|f| f.data()) else {
            return;
        };
        if !self.map.contains_key(identity) {
            self.map.insert(identity.into(), ClientRecord::new(now));
        }
        let Some(record) = self.map.get_mut(identity) else {
            return;
        };
        if record.backlog.is_empty() {
            record.stalled_since = now;
            self.backlogged.push(identity.into());
        }
        self.replies += 1;
        self.bytes += pending.bytes;
        record.bytes += pending.bytes;
        record.backlog.push_back(pending);
    }

    /// Retries every backlog, oldest reply first, until each client's pipe is full again.
    /// `tally` sees the fate of every reply that leaves a backlog.
    pub fn flush(
        &mut self,
        out: &mut dyn Transmit,
        now: Instant,
        timeout: Duration,
        mut tally: impl FnMut(&Pending, Outcome),
    ) -> crate::Result<()> {
        let mut i = 0;
        while i < self.backlogged.len() {
            let Some(record) = self.map.get_mut(&self.backlogged[i]) else {
                self.backlogged.swap_remove(i);
                continue;
            };
            let mut drop_all = None;
            while let Some(front) = record.backlog.front_mut() {
                match out.send(&mut front.msg)? {
                    Sent::Yes => {
                        record.stalled_since = now;
                        if let Some(done) = record.backlog.pop_front() {
                            record.bytes -= done.bytes;
                            self.replies -= 1;
                            self.bytes -= done.bytes;
                            tally(&done, Outcome::Delivered);
                        }
                    }
                    Sent::Gone => {
                        drop_all = Some(Outcome::Unreachable);
                        break;
                    }
                    Sent::Full => {
                        if now.saturating_duration_since(record.stalled_since) >= timeout {
                            drop_all = Some(Outcome::TimedOut);
                        }
                        break;
                    }
                }
            }
            if let Some(outcome) = drop_all {
                for pending in record.backlog.drain(..) {
                    self.replies -= 1;
                    self.bytes -= pending.bytes;
                    tally(&pending, outcome);
                }
                record.bytes = 0;
            }
            if record.backlog.is_empty() {
                record.backlog.shrink_to(64);
                self.backlogged.swap_remove(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Forgets clients with nothing in flight and nothing backlogged.
    pub fn sweep(&mut self) {
        self.map
            .retain(|_, record| record.in_flight > 0 || !record.backlog.is_empty());
    }

    /// Requests in flight over all clients.
    pub fn in_flight(&self) -> usize {
        self.map.values().map(|record| record.in_flight).sum()
    }
}

/// Frames shorter than this may share libzmq's 8 KiB receive buffer (`ZMQ_IN_BATCH_SIZE`):
/// the decoder hands out frames that point into it, and the whole buffer lives as long as any
/// of them. Inline frames ([`ZFrame::INLINE_CAPACITY`]) are not; larger ones get their own
/// allocation.
const SHARED_BELOW: usize = 8192;

/// Copies the small frames of a message that is going to wait (in a backlog or a service
/// queue), so that it does not pin a whole 8 KiB receive buffer for a few bytes: otherwise a
/// backlog of 50 000 one-frame replies held 400 MiB. Frames on the direct path are never copied.
pub(crate) fn compact(msg: &mut ZMsg) {
    for i in 0..msg.len() {
        if let Some(frame) = msg.get_mut(i) {
            if frame.len() > ZFrame::INLINE_CAPACITY && frame.len() < SHARED_BELOW {
                *frame = ZFrame::copy_from(frame.data());
            }
        }
    }
}

/// Payload bytes of every frame of `msg`.
pub(crate) fn payload(msg: &ZMsg) -> usize {
    msg.iter().map(|frame| frame.len()).sum()
}
