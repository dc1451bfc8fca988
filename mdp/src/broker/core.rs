//! The broker's logic as a sans-IO state machine: messages and the time go in, messages to send
//! come out. No sockets, no clock, no threads.
//!
//! [`BrokerCore`] is driven by four kinds of calls, as quinn-proto's `Connection` is:
//! - [`BrokerCore::handle_message`]: a message arrived from a peer (`[identity, frames...]`, as a
//!   ROUTER receives it), at `now`;
//! - [`BrokerCore::handle_timeout`]: the time given by [`BrokerCore::poll_timeout`] has come;
//! - [`BrokerCore::flush_backlogs`]: the driver finished a batch of input (a good moment to retry
//!   replies that met a full pipe);
//! - getters ([`BrokerCore::stats`]) and [`BrokerCore::disconnect_all`] at shutdown.
//!
//! What to send goes to a [`Transmit`], which answers at once whether the message went out, met a
//! full pipe or found the peer gone — exactly what a ROUTER with `ZMQ_ROUTER_MANDATORY` says for a
//! non-blocking send. The core decides on that answer in the same step (a worker that cannot be
//! reached is forgotten and its requests go to the next worker before anything else happens), so
//! the order of requests and replies is the same as if the core owned the socket. The broker's
//! driver ([`super::Broker`]) is a ROUTER, a poll and a clock around it; tests and fuzzers use a
//! `Vec` and a made-up clock.
//!
//! Every path is O(1) per message: workers are found by identity and services by name through
//! hash maps, idle workers and waiting requests sit in per-service queues. Body frames move from
//! the incoming message into the outgoing one; a request sent to a worker keeps a clone of its
//! body (libzmq shares the buffers of large frames, so nothing big is copied) to resend it if the
//! worker goes away.
//!
//! MDP/0.1 and MDP/0.2 peers share the broker: each worker and each request remembers the version
//! its peer spoke, and every message goes out in the version of the peer it goes to. A 0.1 client
//! gets only the final reply of a 0.2 worker (partials are withheld, and counted); a 0.2 client
//! gets a 0.1 worker's REPLY as its FINAL. See `docs/mdp.md`, "MDP/0.2".

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};
use zmsg::{ZFrame, ZMsg};

use super::clients::{compact, payload, ClientLimits, Clients, Outcome, Pending, FLUSH_INTERVAL};
use super::hooks::{BrokerHooks, HookAction, HookReply, HookRequest, Route};
use super::service::{Request, Service};
use super::stats::{Counters, GlobalCounters, Stats};
use super::worker::{WorkerKey, WorkerRecord};
use super::{BrokerConfig, Map, WorkerPolicy};
use crate::error::{Error, Result};
use crate::protocol::{
    is_mmi, refusal_body, ClientMessage, Inbound, Part, RefusalCode, Version, WorkerMessage,
    REFUSED,
};

/// Whether a reply may always wait in its client's backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Room {
    /// It answers a request the client was admitted with (the request's room is its own).
    Reserved,
    /// It goes to a peer that asked for nothing (a hook's redirect): it must fit the peer's
    /// limits, or it is dropped.
    MustFit,
}

/// Where the sender's `User-Id` comes from.
enum Peer<'a> {
    /// The message's own metadata (set by libzmq from ZAP).
    FromMetadata,
    /// Given by the driver.
    Given(Option<&'a str>),
}

/// What a non-blocking send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The transport took the message.
    Yes,
    /// The peer's pipe is full (`EAGAIN`): nothing was sent and the message is intact.
    Full,
    /// The peer is unknown or gone (`EHOSTUNREACH`, or any other per-peer failure).
    Gone,
}

/// Where the core's messages go: the driver's side of the core.
///
/// Each message is `[peer identity, frames...]`, as a ROUTER sends it. An implementation sends
/// without blocking and reports what happened; it returns `Err` only for failures that end the
/// broker (the context was terminated, the socket is gone).
pub trait Transmit {
    /// Sends `msg`; on [`Sent::Full`] leaves it intact (it will be offered again).
    fn send(&mut self, msg: &mut ZMsg) -> Result<Sent>;
}

impl Transmit for Vec<ZMsg> {
    /// Takes every message (a test's or fuzzer's transport: nothing is ever full or gone).
    fn send(&mut self, msg: &mut ZMsg) -> Result<Sent> {
        self.push(std::mem::take(msg));
        Ok(Sent::Yes)
    }
}

/// Which counter an event bumps.
#[derive(Debug, Clone, Copy)]
enum Field {
    Requests,
    Replies,
    Partials,
    Resends,
    Drops,
    Refused(RefusalCode),
    Abandoned,
    Disconnects,
    WorkerExpiries,
    RequestTimeouts,
}

impl Counters {
    fn bump(&mut self, field: Field, by: u64) {
        let slot = match field {
            Field::Requests => &mut self.requests,
            Field::Replies => &mut self.replies,
            Field::Partials => &mut self.partials,
            Field::Resends => &mut self.resends,
            Field::Drops => &mut self.drops,
            Field::Refused(code) => {
                self.refusals.bump(code, by);
                &mut self.refused
            }
            Field::Abandoned => &mut self.abandoned,
            Field::RequestTimeouts => &mut self.request_timeouts,
            Field::Disconnects => &mut self.disconnects,
            Field::WorkerExpiries => &mut self.worker_expiries,
        };
        *slot += by;
    }
}

/// Why a worker is being forgotten (decides the counter and whether it is told DISCONNECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gone {
    /// It sent DISCONNECT: say nothing more.
    SaidDisconnect,
    /// It sent an unexpected command: answer DISCONNECT.
    Unexpected,
    /// A send to it failed: it is unreachable.
    Unreachable,
    /// Its heartbeat expired: tell it DISCONNECT in case it is alive but late.
    Expired,
    /// It held a request longer than the request timeout: DISCONNECT, and the request goes to
    /// another worker.
    Stuck,
}

/// The tunables the core needs, checked (a copy of part of [`BrokerConfig`]).
#[derive(Debug, Clone)]
struct Settings {
    heartbeat: Duration,
    /// heartbeat × liveness: how long a silent worker lives.
    worker_expiry: Duration,
    request_expiry: Duration,
    max_queue: usize,
    max_queue_bytes: usize,
    max_message_size: usize,
    clients: ClientLimits,
    client_backlog_timeout: Duration,
    max_worker_credit: u32,
    max_services: usize,
    max_workers: usize,
    /// How long a worker may hold a request (`None`: for ever).
    request_timeout: Option<Duration>,
    max_resends: u32,
    service_grace: Duration,
    worker_policy: WorkerPolicy,
}

impl Settings {
    fn from_config(config: &BrokerConfig) -> Result<Settings> {
        if config.heartbeat.is_zero() || config.liveness == 0 {
            return Err(Error::InvalidArgument(
                "heartbeat and liveness must be greater than zero".into(),
            ));
        }
        let worker_expiry = config.heartbeat.checked_mul(config.liveness);
        // Deadlines are `now + duration`: keep them far from Instant's limits.
        let sane = |d: Duration| d <= Duration::from_secs(100 * 365 * 24 * 3600);
        let Some(worker_expiry) = worker_expiry.filter(|d| sane(*d)) else {
            return Err(Error::InvalidArgument(
                "heartbeat × liveness is too large".into(),
            ));
        };
        let durations = [
            config.request_expiry,
            config.client_backlog_timeout,
            config.request_timeout,
            config.service_grace,
        ];
        if !durations.into_iter().all(sane) {
            return Err(Error::InvalidArgument(
                "request_expiry, client_backlog_timeout, request_timeout and service_grace must be \
                 at most 100 years"
                    .into(),
            ));
        }
        Ok(Settings {
            heartbeat: config.heartbeat,
            worker_expiry,
            request_expiry: config.request_expiry,
            max_queue: config.max_queue.max(1),
            max_queue_bytes: config.max_queue_bytes.max(1),
            max_message_size: config.max_message_size.max(1),
            clients: ClientLimits {
                max: config.max_client_backlog.max(1),
                max_bytes: config.max_client_backlog_bytes.max(1),
                max_clients: config.max_clients.max(1),
                max_memory: config.max_memory.max(1),
            },
            client_backlog_timeout: config.client_backlog_timeout,
            max_worker_credit: config.max_worker_credit.max(1),
            max_services: config.max_services.max(1),
            max_workers: config.max_workers.max(1),
            request_timeout: (!config.request_timeout.is_zero()).then_some(config.request_timeout),
            max_resends: config.max_resends,
            service_grace: config.service_grace,
            worker_policy: config.worker_policy.clone(),
        })
    }
}

/// The Majordomo broker's state and logic, without I/O (see the module documentation).
///
/// ```
/// use std::time::Instant;
/// use mdp::broker::{BrokerConfig, BrokerCore};
/// use mdp::protocol::{ClientMessage, Version};
/// use zmsg::{ZFrame, ZMsg};
///
/// let now = Instant::now();
/// let mut core = BrokerCore::new(&BrokerConfig::default(), now)?;
/// let mut sent: Vec<ZMsg> = Vec::new();
/// // A client asks mmi.service whether anyone serves "echo".
/// let mut msg = ClientMessage::request("mmi.service", ZMsg::from_iter(["echo"])).encode(Version::V1);
/// msg.push_frame(ZFrame::from("client-1")); // the ROUTER identity
/// core.handle_message(msg, now, &mut sent)?;
/// let mut reply = sent.pop().unwrap();
/// assert_eq!(reply.pop_frame().unwrap().data(), b"client-1");
/// let (_, reply) = ClientMessage::decode_reply(reply).unwrap();
/// assert_eq!(reply.body()[0].data(), b"404");
/// # Ok::<(), mdp::Error>(())
/// ```
pub struct BrokerCore {
    settings: Settings,
    pub(super) workers: Map<WorkerKey, WorkerRecord>,
    by_identity: Map<Box<[u8]>, WorkerKey>,
    pub(super) services: Map<Box<[u8]>, Service>,
    hooks: Option<Box<dyn BrokerHooks>>,
    /// Clients with requests in flight or replies backlogged.
    pub(super) clients: Clients,
    pub(super) total: Counters,
    pub(super) global: GlobalCounters,
    /// When the next heartbeat tick (HEARTBEATs, request expiry) is due.
    next_tick: Instant,
    /// Worker expiry deadlines, earliest first. One entry per worker; an entry whose worker
    /// was heard from since is pushed back to the worker's current deadline when it comes up.
    expiries: BinaryHeap<Reverse<(Instant, WorkerKey)>>,
    /// When backlogs were last retried.
    last_flush: Instant,
    /// The time of the current step (set by every `handle_*` call).
    now: Instant,
    next_key: WorkerKey,
    next_token: u64,
}

impl std::fmt::Debug for BrokerCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerCore")
            .field("settings", &self.settings)
            .field("workers", &self.workers.len())
            .field("services", &self.services.len())
            .field("hooks", &self.hooks.is_some())
            .finish_non_exhaustive()
    }
}

impl BrokerCore {
    /// A core with `config`'s heartbeat, expiry, limits and credit (its endpoints, socket and
    /// security settings are the driver's business), starting at `now`.
    pub fn new(config: &BrokerConfig, now: Instant) -> Result<BrokerCore> {
        let settings = Settings::from_config(config)?;
        Ok(BrokerCore {
            next_tick: now + settings.heartbeat,
            settings,
            workers: Map::default(),
            by_identity: Map::default(),
            services: Map::default(),
            hooks: None,
            clients: Clients::default(),
            total: Counters::default(),
            global: GlobalCounters::default(),
            expiries: BinaryHeap::new(),
            last_flush: now,
            now,
            next_key: 0,
            next_token: 0,
        })
    }

    /// Installs hooks that see every client request and worker reply (replacing any earlier).
    pub fn set_hooks(&mut self, hooks: Option<Box<dyn BrokerHooks>>) {
        self.hooks = hooks;
    }

    /// A snapshot of the counters and the current load.
    pub fn stats(&self) -> Stats {
        let mut stats = self.summary();
        for (name, service) in &self.services {
            let name = String::from_utf8_lossy(name).into_owned();
            stats.service_load.insert(name.clone(), service.load());
            stats.services.insert(name, service.counters);
        }
        stats
    }

    /// [`BrokerCore::stats`] without the per-service maps (what `mmi.stats` reports for all).
    pub(super) fn summary(&self) -> Stats {
        Stats {
            total: self.total,
            global: self.global,
            services: Default::default(),
            service_load: Default::default(),
            tracked_services: self.services.len(),
            workers: self.workers.len(),
            queued: self.services.values().map(|s| s.requests.len()).sum(),
            clients: self.clients.map.len(),
            in_flight: self.clients.in_flight(),
            backlog_clients: self.clients.backlogged_clients(),
            backlog_replies: self.clients.replies,
            backlog_bytes: self.clients.bytes,
            held_bytes: self.clients.held_bytes(),
        }
    }

    /// When [`BrokerCore::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Instant {
        let mut next = self.next_tick;
        if let Some(Reverse((deadline, _))) = self.expiries.peek() {
            next = next.min(*deadline);
        }
        if self.clients.any_backlog() {
            next = next.min(self.last_flush + FLUSH_INTERVAL);
        }
        next
    }

    /// Does what is due at `now`: worker expiry, the heartbeat tick (HEARTBEAT to quiet workers,
    /// expiry of requests that waited too long), and retrying reply backlogs.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut dyn Transmit) -> Result<()> {
        self.now = now;
        self.expire_workers(now, out)?;
        if now >= self.next_tick {
            self.next_tick = now + self.settings.heartbeat;
            self.tick(now, out)?;
        }
        if self.clients.any_backlog() && now >= self.last_flush + FLUSH_INTERVAL {
            self.flush_backlogs(now, out)?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- counting

    /// Counts `field` on `service` (if the broker tracks it) and in the total. The one place
    /// where per-service and total counters change together.
    fn count(
        services: &mut Map<Box<[u8]>, Service>,
        total: &mut Counters,
        service: &[u8],
        field: Field,
        by: u64,
    ) {
        total.bump(field, by);
        if let Some(service) = services.get_mut(service) {
            service.counters.bump(field, by);
        }
    }

    fn bump(&mut self, service: &[u8], field: Field) {
        Self::count(&mut self.services, &mut self.total, service, field, 1);
    }

    // ---------------------------------------------------------------- sending

    /// Sends worker `command` to `identity` in `version`; `Ok(true)` when sent.
    fn send_command(
        out: &mut dyn Transmit,
        identity: &ZFrame,
        version: Version,
        command: WorkerMessage,
    ) -> Result<bool> {
        let mut msg = command.encode(version);
        msg.push_frame(identity.clone());
        Ok(out.send(&mut msg)? == Sent::Yes)
    }

    /// Sends a reply to a client in its version. A reply that meets a full pipe (or a client
    /// that already has a backlog) waits in the client's backlog; a reply for a client that is
    /// gone is dropped. Replies and drops are counted on `count` (a service name; `None` for
    /// MMI answers and refusals, which are not counted; the backlog counters in
    /// `GlobalCounters` count every message). A partial reply for an MDP/0.1 client is withheld.
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &mut self,
        out: &mut dyn Transmit,
        now: Instant,
        client: ZFrame,
        version: Version,
        part: Part,
        service: ZFrame,
        body: ZMsg,
        count: Option<&[u8]>,
        room: Room,
    ) -> Result<()> {
        if part == Part::Partial && !version.has_partials() {
            self.global.partials_withheld += 1;
            return Ok(());
        }
        let reply = ClientMessage::Reply {
            part,
            service,
            body,
        };
        let mut msg = reply.encode(version);
        msg.push_frame(client);
        let delivered = match part {
            Part::Final => Field::Replies,
            Part::Partial => Field::Partials,
        };
        let waiting = msg
            .first()
            .is_some_and(|identity| self.clients.has_backlog(identity.data()));
        if !waiting {
            match out.send(&mut msg)? {
                Sent::Yes => return self.tally(count, delivered),
                Sent::Gone => return self.tally(count, Field::Drops),
                Sent::Full => {}
            }
        }
        let identity = msg.first().map_or(&[][..], |f| f.data());
        // A partial reply adds to the backlog without ending a request, and a redirected one
        // goes to a peer that asked for nothing: past the peer's limits they are dropped, so
        // neither a streaming worker nor a hook can grow a backlog without bound.
        if (part == Part::Partial || room == Room::MustFit)
            && !self
                .clients
                .has_room(identity, payload(&msg), &self.settings.clients)
        {
            debug!(client = %hex(identity), "reply dropped: the peer's backlog is full");
            return self.tally(count, Field::Drops);
        }
        trace!(client = %hex(identity), "reply backlogged");
        self.global.backlogged += 1;
        compact(&mut msg);
        if !self.clients.any_backlog() {
            self.last_flush = now;
        }
        let pending = Pending {
            bytes: payload(&msg),
            msg,
            service: count.map(Into::into),
            partial: part == Part::Partial,
        };
        self.clients.push(pending, now);
        Ok(())
    }

    /// Counts a reply's fate on its service; MMI answers and refusals (`None`) are not counted
    /// as replies or drops.
    fn tally(&mut self, service: Option<&[u8]>, field: Field) -> Result<()> {
        if let Some(service) = service {
            self.bump(service, field);
        }
        Ok(())
    }

    /// Retries every client backlog (oldest reply first); drops the backlogs of clients that are
    /// gone or took nothing for the backlog timeout. Drivers call it after each batch of input.
    pub fn flush_backlogs(&mut self, now: Instant, out: &mut dyn Transmit) -> Result<()> {
        if !self.clients.any_backlog() {
            return Ok(());
        }
        self.now = now;
        self.last_flush = now;
        let timeout = self.settings.client_backlog_timeout;
        let (services, total, global) = (&mut self.services, &mut self.total, &mut self.global);
        self.clients.flush(out, now, timeout, |pending, outcome| {
            let field = match outcome {
                Outcome::Delivered if pending.partial => Field::Partials,
                Outcome::Delivered => Field::Replies,
                Outcome::Unreachable => {
                    global.backlog_unreachable += 1;
                    Field::Drops
                }
                Outcome::TimedOut => {
                    global.backlog_timeouts += 1;
                    Field::Drops
                }
            };
            if let Some(service) = pending.service.as_deref() {
                Self::count(services, total, service, field, 1);
            }
        })
    }

    /// Refuses a client request at once with an [`REFUSED`] reply whose body is `code , service ,
    /// request body...` (the body goes back to the client, so it can tell which request and
    /// retry). The refusal is not backlogged: if the client's pipe is full it is lost (still
    /// counted).
    fn refuse(
        &mut self,
        out: &mut dyn Transmit,
        client: ZFrame,
        version: Version,
        service: &[u8],
        body: ZMsg,
        code: RefusalCode,
    ) -> Result<()> {
        debug!(client = %hex(client.data()), service = %String::from_utf8_lossy(service), %code, "request refused");
        self.bump(service, Field::Refused(code));
        let reply = ClientMessage::Reply {
            part: Part::Final,
            service: ZFrame::from_static(REFUSED),
            body: refusal_body(code, service, body),
        };
        let mut msg = reply.encode(version);
        msg.push_frame(client);
        out.send(&mut msg).map(drop)
    }

    // ---------------------------------------------------------------- input

    /// A message `[identity, frames...]` arrived from a peer at `now`. Invalid messages are
    /// dropped and counted; valid but unexpected worker commands are answered with DISCONNECT.
    /// `Err` only when `out` failed for good.
    ///
    /// When the worker policy is restricted, a worker command's sender is the `User-Id` that
    /// libzmq attached to the message (from ZAP); see [`BrokerCore::handle_message_from`].
    pub fn handle_message(
        &mut self,
        msg: ZMsg,
        now: Instant,
        out: &mut dyn Transmit,
    ) -> Result<()> {
        self.handle(msg, Peer::FromMetadata, now, out)
    }

    /// [`BrokerCore::handle_message`] for a message whose sender's `User-Id` (its authenticated
    /// key, `None` when it has none) is given here rather than read from the message: for
    /// drivers that are not a libzmq ROUTER, and for tests.
    pub fn handle_message_from(
        &mut self,
        msg: ZMsg,
        user_id: Option<&str>,
        now: Instant,
        out: &mut dyn Transmit,
    ) -> Result<()> {
        self.handle(msg, Peer::Given(user_id), now, out)
    }

    fn handle(
        &mut self,
        mut msg: ZMsg,
        peer: Peer<'_>,
        now: Instant,
        out: &mut dyn Transmit,
    ) -> Result<()> {
        trace!(frames = msg.len(), "received");
        self.now = now;
        let Some(sender) = msg.pop_frame() else {
            return Ok(());
        };
        match Inbound::decode(msg) {
            Ok(Inbound::Client(version, ClientMessage::Request { service, body })) => {
                self.client_request(out, now, sender, version, service, body)
            }
            Ok(Inbound::Client(_, ClientMessage::Reply { .. })) => {
                self.invalid(&sender, "a reply sent to the broker");
                Ok(())
            }
            Ok(Inbound::Worker(version, command)) => {
                let user_id = match (&peer, self.settings.worker_policy.is_restricted()) {
                    (_, false) => None,
                    (Peer::Given(user_id), true) => user_id.map(Box::from),
                    (Peer::FromMetadata, true) => sender.meta("User-Id").map(Box::from),
                };
                self.worker_command(out, now, sender, user_id, version, command)
            }
            Err(err) => {
                self.invalid(&sender, &err.to_string());
                Ok(())
            }
        }
    }

    fn invalid(&mut self, sender: &ZFrame, why: &str) {
        self.global.invalid += 1;
        debug!(peer = %hex(sender.data()), why, "invalid message dropped");
    }

    // ---------------------------------------------------------------- clients

    /// A client request for `service`.
    fn client_request(
        &mut self,
        out: &mut dyn Transmit,
        now: Instant,
        client: ZFrame,
        version: Version,
        service: ZFrame,
        mut body: ZMsg,
    ) -> Result<()> {
        let mut bytes = payload(&body);
        let admitted = if bytes > self.settings.max_message_size {
            Err(RefusalCode::TooLarge)
        } else {
            self.clients
                .admit(client.data(), bytes, &self.settings.clients, now)
        };
        if let Err(code) = admitted {
            self.bump(service.data(), Field::Requests);
            if code == RefusalCode::BrokerFull {
                self.global.over_limit += 1;
            }
            return self.refuse(out, client, version, service.data(), body, code);
        }
        if is_mmi(service.data()) {
            self.global.mmi += 1;
            self.clients.settle(client.data(), bytes);
            let reply = self.mmi(service.data(), &body);
            return self.deliver(
                out,
                now,
                client,
                version,
                Part::Final,
                service,
                reply,
                None,
                Room::Reserved,
            );
        }
        let mut target: Option<Route> = None;
        if let Some(hooks) = self.hooks.as_mut() {
            let action = hooks.on_request(HookRequest {
                service: service.data(),
                client: client.data(),
                body: &mut body,
            });
            match action {
                HookAction::Forward => {}
                HookAction::Drop => {
                    self.clients.settle(client.data(), bytes);
                    self.bump(service.data(), Field::Requests);
                    self.bump(service.data(), Field::Drops);
                    return Ok(());
                }
                HookAction::Answer(answer) => {
                    self.clients.settle(client.data(), bytes);
                    self.bump(service.data(), Field::Requests);
                    let name = service.clone();
                    let count = Some(service.data());
                    return self.deliver(
                        out,
                        now,
                        client,
                        version,
                        Part::Final,
                        name,
                        answer,
                        count,
                        Room::Reserved,
                    );
                }
                HookAction::Redirect(route) => target = Some(route),
            }
            // A hook that changed the body changed what the broker holds: count the new size.
            let resized = payload(&body);
            if resized != bytes {
                self.clients.settle(client.data(), bytes);
                let admitted = if resized > self.settings.max_message_size {
                    Err(RefusalCode::TooLarge)
                } else {
                    self.clients
                        .admit(client.data(), resized, &self.settings.clients, now)
                };
                if let Err(code) = admitted {
                    self.bump(service.data(), Field::Requests);
                    return self.refuse(out, client, version, service.data(), body, code);
                }
                bytes = resized;
            }
        }
        let request = Request {
            client,
            version,
            body,
            deadline: now + self.settings.request_expiry,
            reply_service: None,
            bytes,
            sent_at: now,
            resends: 0,
        };
        match target {
            None => self.enqueue(out, service.data(), request, true),
            Some(route) => {
                self.bump(service.data(), Field::Requests);
                let request = Request {
                    reply_service: Some(service.data().into()),
                    ..request
                };
                match route {
                    Route::Service(other) => self.enqueue(out, &other, request, false),
                    Route::Peer(worker) => self.redirect_to_worker(out, &worker, request),
                }
            }
        }
    }

    /// Queues `request` for `service` (creating the service record) and dispatches.
    fn enqueue(
        &mut self,
        out: &mut dyn Transmit,
        service: &[u8],
        request: Request,
        count_request: bool,
    ) -> Result<()> {
        let full = match self.services.get(service) {
            Some(record) => {
                record.requests.len() >= self.settings.max_queue
                    || record.requests.bytes() + request.bytes > self.settings.max_queue_bytes
            }
            None => false,
        };
        let refusal = if full {
            Some(RefusalCode::QueueFull)
        } else if !self.services.contains_key(service)
            && self.services.len() >= self.settings.max_services
        {
            self.global.over_limit += 1;
            Some(RefusalCode::BrokerFull)
        } else {
            self.services.entry(service.into()).or_default();
            None
        };
        if count_request {
            self.bump(service, Field::Requests);
        }
        if let Some(code) = refusal {
            debug!(service = %String::from_utf8_lossy(service), %code, "request refused");
            self.clients.settle(request.client.data(), request.bytes);
            let asked = request.reply_service.as_deref().unwrap_or(service).to_vec();
            return self.refuse(
                out,
                request.client,
                request.version,
                &asked,
                request.body,
                code,
            );
        }
        let Some(record) = self.services.get_mut(service) else {
            return Ok(());
        };
        record.requests.push_back(request);
        self.dispatch(out, service)?;
        // If it has to wait, do not let it pin a receive buffer (see `compact`).
        if let Some(waiting) = self
            .services
            .get_mut(service)
            .and_then(|record| record.requests.back_mut())
        {
            compact(&mut waiting.body);
        }
        Ok(())
    }

    /// A hook redirected a request to one worker: give it to that worker if it is idle, else
    /// put it at the front of that worker's service queue; drop it if no such worker exists.
    fn redirect_to_worker(
        &mut self,
        out: &mut dyn Transmit,
        identity: &[u8],
        request: Request,
    ) -> Result<()> {
        let Some((key, worker)) = self
            .by_identity
            .get(identity)
            .and_then(|key| self.workers.get(key).map(|worker| (*key, worker)))
        else {
            self.total.drops += 1;
            self.clients.settle(request.client.data(), request.bytes);
            debug!(worker = %hex(identity), "redirect to an unknown worker, request dropped");
            return Ok(());
        };
        if worker.idle_token.is_some() {
            return self.send_request(out, key, request);
        }
        let service = worker.service.clone();
        match self.services.get_mut(&*service) {
            Some(record) => record.requests.push_front(request),
            None => self.clients.settle(request.client.data(), request.bytes),
        }
        self.dispatch(out, &service)
    }

    /// Pairs waiting requests with idle workers of `service` until one side runs out.
    fn dispatch(&mut self, out: &mut dyn Transmit, service: &[u8]) -> Result<()> {
        loop {
            let Some(record) = self.services.get_mut(service) else {
                return Ok(());
            };
            if record.requests.is_empty() {
                return Ok(());
            }
            let Some(key) = record.pop_idle(&self.workers) else {
                return Ok(());
            };
            let Some(request) = record.requests.pop_front() else {
                return Ok(());
            };
            self.send_request(out, key, request)?;
        }
    }

    /// Sends `request` to worker `key`. If the worker cannot be reached it is forgotten and the
    /// request goes back to the front of its queue (the caller's dispatch loop carries on).
    fn send_request(
        &mut self,
        out: &mut dyn Transmit,
        key: WorkerKey,
        request: Request,
    ) -> Result<()> {
        let Some(worker) = self.workers.get(&key) else {
            return Ok(());
        };
        let mut body = ZMsg::with_capacity(request.body.len() + 6);
        for frame in request.body.iter() {
            body.append_frame(frame.detached_clone());
        }
        let command = WorkerMessage::Request {
            client: request.client.detached_clone(),
            body,
        };
        let mut msg = command.encode(worker.version);
        msg.push_frame(worker.identity.clone());
        // A worker's pipe is only full if it stopped reading: treat it as unreachable.
        if out.send(&mut msg)? == Sent::Yes {
            let Some(worker) = self.workers.get_mut(&key) else {
                return Ok(());
            };
            let mut request = request;
            request.sent_at = self.now;
            worker.in_flight.push_back(request);
            worker.last_sent = self.now;
            worker.idle_token = None;
            if worker.has_credit() {
                self.make_idle(key);
            }
            return Ok(());
        }
        let service = worker.service.clone();
        self.forget_worker(out, key, Gone::Unreachable)?;
        match self.services.get_mut(&*service) {
            Some(record) => record.requests.push_front(request),
            None => self.clients.settle(request.client.data(), request.bytes),
        }
        Ok(())
    }

    // ---------------------------------------------------------------- workers

    /// A worker-protocol command from `sender`: one handler per command.
    fn worker_command(
        &mut self,
        out: &mut dyn Transmit,
        now: Instant,
        sender: ZFrame,
        user_id: Option<Box<str>>,
        version: Version,
        command: WorkerMessage,
    ) -> Result<()> {
        let known = self.by_identity.get(sender.data()).copied();
        if let Some((key, worker)) = known.and_then(|key| Some((key, self.workers.get_mut(&key)?)))
        {
            if worker.user_id != user_id {
                // One connection cannot change keys: something is wrong; trust nothing.
                self.global.unauthorised += 1;
                debug!(worker = %hex(sender.data()), "worker command with another User-Id than its READY, DISCONNECT");
                return self.forget_worker(out, key, Gone::Unexpected);
            }
            if worker.version != version {
                return self.unexpected(
                    out,
                    &sender,
                    version,
                    known,
                    "a command in another MDP version",
                );
            }
            // Every command from a worker shows it is alive.
            worker.expires_at = now + self.settings.worker_expiry;
        }
        match (command, known) {
            (WorkerMessage::Ready { service, credit }, None) => {
                self.handle_ready(out, now, sender, user_id, version, service, credit)
            }
            (WorkerMessage::Ready { .. }, Some(_)) => {
                self.unexpected(out, &sender, version, known, "second READY")
            }
            (WorkerMessage::Request { .. }, _) => {
                self.unexpected(out, &sender, version, known, "REQUEST from a worker")
            }
            (WorkerMessage::Reply { .. } | WorkerMessage::Heartbeat, None) => {
                self.unexpected(out, &sender, version, None, "command before READY")
            }
            (WorkerMessage::Disconnect, None) => Ok(()),
            (WorkerMessage::Disconnect, Some(key)) => {
                debug!(worker = %hex(sender.data()), "worker disconnected");
                self.forget_worker(out, key, Gone::SaidDisconnect)
            }
            (WorkerMessage::Heartbeat, Some(_)) => Ok(()),
            (WorkerMessage::Reply { part, client, body }, Some(key)) => {
                self.handle_reply(out, now, key, sender, part, client, body)
            }
        }
    }

    /// A valid but unexpected command: DISCONNECT, then forget the worker (if it was one).
    fn unexpected(
        &mut self,
        out: &mut dyn Transmit,
        sender: &ZFrame,
        version: Version,
        key: Option<WorkerKey>,
        why: &str,
    ) -> Result<()> {
        self.global.unexpected += 1;
        debug!(peer = %hex(sender.data()), why, "unexpected worker command, DISCONNECT");
        match key {
            Some(key) => self.forget_worker(out, key, Gone::Unexpected),
            None => Self::send_command(out, sender, version, WorkerMessage::Disconnect).map(drop),
        }
    }

    /// A READY from a new peer (with `user_id` when the worker policy is restricted).
    #[allow(clippy::too_many_arguments)]
    fn handle_ready(
        &mut self,
        out: &mut dyn Transmit,
        now: Instant,
        identity: ZFrame,
        user_id: Option<Box<str>>,
        version: Version,
        service: ZFrame,
        credit: u32,
    ) -> Result<()> {
        if is_mmi(service.data()) {
            return self.unexpected(out, &identity, version, None, "READY for an mmi. service");
        }
        if !self
            .settings
            .worker_policy
            .authorises(user_id.as_deref(), service.data())
        {
            self.global.unauthorised += 1;
            debug!(
                worker = %hex(identity.data()),
                user_id = user_id.as_deref().unwrap_or("(none)"),
                service = %String::from_utf8_lossy(service.data()),
                "READY refused by the worker policy, DISCONNECT"
            );
            return Self::send_command(out, &identity, version, WorkerMessage::Disconnect)
                .map(drop);
        }
        let new_service = !self.services.contains_key(service.data());
        if self.workers.len() >= self.settings.max_workers
            || (new_service && self.services.len() >= self.settings.max_services)
        {
            self.global.over_limit += 1;
            debug!(worker = %hex(identity.data()), "READY over the worker or service limit, DISCONNECT");
            return Self::send_command(out, &identity, version, WorkerMessage::Disconnect)
                .map(drop);
        }
        let credit = credit.clamp(1, self.settings.max_worker_credit);
        let key = self.next_key;
        self.next_key += 1;
        let service = service.data();
        debug!(worker = %hex(identity.data()), service = %String::from_utf8_lossy(service), credit, %version, "worker ready");
        self.by_identity.insert(identity.data().into(), key);
        let expires_at = now + self.settings.worker_expiry;
        self.expiries.push(Reverse((expires_at, key)));
        self.workers.insert(
            key,
            WorkerRecord {
                // Without the connection's metadata (see `ZFrame::detached_clone`): one clone of
                // it is made per request sent.
                identity: ZFrame::copy_from(identity.data()),
                version,
                service: Arc::from(service),
                expires_at,
                in_flight: VecDeque::new(),
                credit: credit as usize,
                idle_token: None,
                last_sent: now,
                user_id,
            },
        );
        let record = self.services.entry(service.into()).or_default();
        record.workers += 1;
        record.ever_had_worker = true;
        self.worker_freed(out, key)
    }

    /// Worker `key` can take one more request (it registered or answered one): queue it as
    /// idle (if it is not queued already) and give waiting requests of its service to idle
    /// workers, so a credit worker that registers while requests wait gets up to its credit.
    fn worker_freed(&mut self, out: &mut dyn Transmit, key: WorkerKey) -> Result<()> {
        let Some(worker) = self.workers.get(&key) else {
            return Ok(());
        };
        let service = worker.service.clone();
        if worker.idle_token.is_none() {
            self.make_idle(key);
        }
        self.dispatch(out, &service)
    }

    /// Puts worker `key` (which has credit left) at the back of its service's idle queue with a
    /// fresh token; an older entry of it in the queue becomes stale.
    fn make_idle(&mut self, key: WorkerKey) {
        let token = self.next_token;
        self.next_token += 1;
        let Some(worker) = self.workers.get_mut(&key) else {
            return;
        };
        worker.idle_token = Some(token);
        if let Some(record) = self.services.get_mut(&*worker.service) {
            record.push_idle(key, token, &self.workers);
        }
    }

    /// A reply (final, or partial from an MDP/0.2 worker) from registered worker `key` to
    /// `client`.
    #[allow(clippy::too_many_arguments)]
    fn handle_reply(
        &mut self,
        out: &mut dyn Transmit,
        now: Instant,
        key: WorkerKey,
        sender: ZFrame,
        part: Part,
        client: ZFrame,
        mut body: ZMsg,
    ) -> Result<()> {
        let Some(worker) = self.workers.get_mut(&key) else {
            return Ok(());
        };
        let Some(position) = worker.answered(client.data()) else {
            let version = worker.version;
            return self.unexpected(
                out,
                &sender,
                version,
                Some(key),
                "a reply for a request it does not hold",
            );
        };
        let worker_service = worker.service.clone();
        let (to_version, service_frame) = {
            let request = &worker.in_flight[position];
            let name = request.reply_service.as_deref().unwrap_or(&worker_service);
            (request.version, ZFrame::copy_from(name))
        };
        let request = match part {
            Part::Final => worker.in_flight.remove(position),
            Part::Partial => None,
        };
        let mut to = client;
        if let Some(hooks) = self.hooks.as_mut() {
            let action = hooks.on_reply(HookReply {
                service: &worker_service,
                worker: sender.data(),
                client: to.data(),
                part,
                body: &mut body,
            });
            match action {
                HookAction::Forward => {}
                HookAction::Drop => {
                    self.bump(&worker_service, Field::Drops);
                    return self.reply_done(out, key, &to, request.as_ref());
                }
                HookAction::Answer(answer) => body = answer,
                HookAction::Redirect(Route::Peer(other)) => {
                    self.reply_done(out, key, &to, request.as_ref())?;
                    to = ZFrame::from(other);
                    return self.deliver(
                        out,
                        now,
                        to,
                        to_version,
                        part,
                        service_frame,
                        body,
                        Some(&worker_service),
                        Room::MustFit,
                    );
                }
                HookAction::Redirect(Route::Service(other)) => {
                    let Some(request) = request else {
                        // Only a final reply can become a new request.
                        self.bump(&worker_service, Field::Drops);
                        return Ok(());
                    };
                    // The client's request goes on as a new one (still in flight, same bytes).
                    let next = Request {
                        client: to,
                        version: to_version,
                        body,
                        deadline: now + self.settings.request_expiry,
                        reply_service: Some(service_frame.data().into()),
                        bytes: request.bytes,
                        sent_at: now,
                        resends: 0,
                    };
                    self.worker_freed(out, key)?;
                    return self.enqueue(out, &other, next, false);
                }
            }
        }
        let count = Some(&*worker_service);
        let finished = request.is_some();
        if let Some(request) = &request {
            self.clients.settle(to.data(), request.bytes);
        }
        self.deliver(
            out,
            now,
            to,
            to_version,
            part,
            service_frame,
            body,
            count,
            Room::Reserved,
        )?;
        if finished {
            self.worker_freed(out, key)?;
        }
        Ok(())
    }

    /// After a hook dropped or redirected a reply: a final one settles the client's request and
    /// frees the worker.
    fn reply_done(
        &mut self,
        out: &mut dyn Transmit,
        key: WorkerKey,
        client: &ZFrame,
        finished: Option<&Request>,
    ) -> Result<()> {
        let Some(request) = finished else {
            return Ok(());
        };
        self.clients.settle(client.data(), request.bytes);
        self.worker_freed(out, key)
    }

    /// Forgets worker `key`: the requests it held go back to the front of its service queue, in
    /// their order, and are dispatched to other workers of that service.
    fn forget_worker(&mut self, out: &mut dyn Transmit, key: WorkerKey, why: Gone) -> Result<()> {
        let Some(mut worker) = self.workers.remove(&key) else {
            return Ok(());
        };
        self.by_identity.remove(worker.identity.data());
        if matches!(why, Gone::Unexpected | Gone::Expired | Gone::Stuck) {
            Self::send_command(
                out,
                &worker.identity,
                worker.version,
                WorkerMessage::Disconnect,
            )?;
        }
        let field = match why {
            Gone::Expired => Field::WorkerExpiries,
            Gone::Stuck => Field::RequestTimeouts,
            _ => Field::Disconnects,
        };
        self.bump(&worker.service, field);
        let resend = std::mem::take(&mut worker.in_flight);
        let Some(record) = self.services.get_mut(&*worker.service) else {
            for request in resend {
                self.clients.settle(request.client.data(), request.bytes);
            }
            return Ok(());
        };
        record.workers = record.workers.saturating_sub(1);
        if resend.is_empty() {
            return Ok(());
        }
        // Each request goes back to the front, in order, unless it was given to workers the
        // most times allowed: then the client is told (one poisonous request must not kill
        // workers for ever).
        let mut count = 0;
        let mut abandoned = Vec::new();
        for mut request in resend.into_iter().rev() {
            request.resends += 1;
            if request.resends > self.settings.max_resends {
                abandoned.push(request);
            } else {
                record.requests.push_front(request);
                count += 1;
            }
        }
        Self::count(
            &mut self.services,
            &mut self.total,
            &worker.service,
            Field::Resends,
            count,
        );
        debug!(worker = %hex(worker.identity.data()), count, "requests resent");
        for request in abandoned.into_iter().rev() {
            debug!(client = %hex(request.client.data()), "request abandoned after its resends");
            self.bump(&worker.service, Field::Abandoned);
            self.clients.settle(request.client.data(), request.bytes);
            let asked = request
                .reply_service
                .as_deref()
                .unwrap_or(&worker.service)
                .to_vec();
            let code = RefusalCode::Abandoned;
            self.refuse(
                out,
                request.client,
                request.version,
                &asked,
                request.body,
                code,
            )?;
        }
        self.dispatch(out, &worker.service)
    }

    // ---------------------------------------------------------------- timers

    /// Forgets the workers nothing arrived from for heartbeat × liveness.
    fn expire_workers(&mut self, now: Instant, out: &mut dyn Transmit) -> Result<()> {
        while let Some(&Reverse((deadline, key))) = self.expiries.peek() {
            if deadline > now {
                break;
            }
            self.expiries.pop();
            let Some(worker) = self.workers.get(&key) else {
                continue; // forgotten meanwhile
            };
            if worker.expires_at > now {
                // Heard from since this entry was made: come back at its current deadline.
                self.expiries.push(Reverse((worker.expires_at, key)));
                continue;
            }
            debug!(worker = key, "worker expired");
            self.forget_worker(out, key, Gone::Expired)?;
        }
        Ok(())
    }

    /// Every heartbeat interval: HEARTBEAT to workers that got nothing since the last tick, and
    /// expiry of requests that waited too long.
    fn tick(&mut self, now: Instant, out: &mut dyn Transmit) -> Result<()> {
        let mut unreachable = Vec::new();
        for (&key, worker) in self.workers.iter_mut() {
            // Something sent within the last half interval stands for this tick's HEARTBEAT:
            // the worker then hears from the broker at least every 1.5 intervals, so even a
            // liveness of 2 never declares a live broker dead.
            if now.saturating_duration_since(worker.last_sent) < self.settings.heartbeat / 2 {
                continue;
            }
            let mut msg = WorkerMessage::Heartbeat.encode(worker.version);
            msg.push_frame(worker.identity.clone());
            // A full pipe means the worker is busy reading: no harm, it is alive.
            match out.send(&mut msg)? {
                Sent::Yes => worker.last_sent = now,
                Sent::Full => {}
                Sent::Gone => {
                    debug!(worker = %hex(worker.identity.data()), "heartbeat failed");
                    unreachable.push(key);
                }
            }
        }
        for key in unreachable {
            self.forget_worker(out, key, Gone::Unreachable)?;
        }
        if let Some(timeout) = self.settings.request_timeout {
            let stuck: Vec<WorkerKey> = self
                .workers
                .iter()
                .filter(|(_, worker)| {
                    worker.in_flight.front().is_some_and(|oldest| {
                        now.saturating_duration_since(oldest.sent_at) >= timeout
                    })
                })
                .map(|(&key, _)| key)
                .collect();
            for key in stuck {
                debug!(
                    worker = key,
                    "worker held a request longer than the request timeout"
                );
                self.forget_worker(out, key, Gone::Stuck)?;
            }
        }
        self.expire_requests(now);
        self.clients.sweep();
        Ok(())
    }

    /// Discards queued requests past their deadline and forgets services with nothing left
    /// (at once if they never had a worker, else after the grace period).
    fn expire_requests(&mut self, now: Instant) {
        let mut expired_total = 0;
        let clients = &mut self.clients;
        let grace = self.settings.service_grace;
        self.services.retain(|name, service| {
            if !service.requests.is_empty() {
                let mut expired = 0u64;
                service.requests.retain(
                    |request| request.deadline > now,
                    |request| {
                        clients.settle(request.client.data(), request.bytes);
                        expired += 1;
                    },
                );
                if expired > 0 {
                    debug!(service = %String::from_utf8_lossy(name), expired, "requests expired");
                }
                service.counters.expiries += expired;
                expired_total += expired;
            }
            !service.is_disposable(now, grace)
        });
        self.total.expiries += expired_total;
    }

    /// Sends DISCONNECT to every worker (at shutdown), so they re-register with the next broker.
    pub fn disconnect_all(&mut self, out: &mut dyn Transmit) {
        for worker in self.workers.values() {
            let command = WorkerMessage::Disconnect;
            if let Err(err) = Self::send_command(out, &worker.identity, worker.version, command) {
                warn!(%err, "could not send DISCONNECT at shutdown");
                return;
            }
        }
    }
}

/// A short hex form of an identity, for logs.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len().min(16) * 2);
    for byte in bytes.iter().take(16) {
        let _ = write!(out, "{byte:02x}");
    }
    if bytes.len() > 16 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    //! The broker's logic with no sockets and no sleeps: a made-up clock and a transport that
    //! records what is sent and can play a full pipe or a vanished peer.

    use std::collections::HashSet;

    use super::*;
    use crate::broker::stats::ServiceLoad;
    use crate::broker::BrokerConfig;

    /// A transport that records sends; peers in `full` have a full pipe, peers in `gone` are
    /// unreachable.
    #[derive(Default)]
    struct Net {
        sent: Vec<ZMsg>,
        full: HashSet<Vec<u8>>,
        gone: HashSet<Vec<u8>>,
    }

    impl Transmit for Net {
        fn send(&mut self, msg: &mut ZMsg) -> Result<Sent> {
            let peer = msg.first().map(|f| f.to_vec()).unwrap_or_default();
            if self.gone.contains(&peer) {
                return Ok(Sent::Gone);
            }
            if self.full.contains(&peer) {
                return Ok(Sent::Full);
            }
            self.sent.push(std::mem::take(msg));
            Ok(Sent::Yes)
        }
    }

    struct Harness {
        core: BrokerCore,
        net: Net,
        now: Instant,
        config: BrokerConfig,
        /// Sent messages not yet looked at, as (peer, message without the identity).
        outbox: Vec<(String, ZMsg)>,
    }

    fn text(body: &ZMsg) -> Vec<String> {
        body.iter()
            .map(|f| String::from_utf8_lossy(f.data()).into_owned())
            .collect()
    }

    fn body(parts: &[&str]) -> ZMsg {
        parts.iter().copied().collect()
    }

    impl Harness {
        fn new(config: BrokerConfig) -> Harness {
            let now = Instant::now();
            Harness {
                core: BrokerCore::new(&config, now).unwrap(),
                net: Net::default(),
                now,
                config,
                outbox: Vec::new(),
            }
        }

        fn feed(&mut self, peer: &str, mut msg: ZMsg) {
            msg.push_frame(ZFrame::from(peer));
            self.core
                .handle_message(msg, self.now, &mut self.net)
                .unwrap();
        }

        fn request(&mut self, client: &str, version: Version, service: &str, parts: &[&str]) {
            let msg = ClientMessage::request(service, body(parts)).encode(version);
            self.feed(client, msg);
        }

        fn worker(&mut self, worker: &str, version: Version, command: WorkerMessage) {
            self.feed(worker, command.encode(version));
        }

        fn ready(&mut self, worker: &str, version: Version, service: &str, credit: u32) {
            let service = ZFrame::from(service);
            self.worker(worker, version, WorkerMessage::Ready { service, credit });
        }

        fn reply(&mut self, worker: &str, version: Version, part: Part, client: &[u8], text: &str) {
            let client = ZFrame::from(client);
            let body = body(&[text]);
            self.worker(worker, version, WorkerMessage::Reply { part, client, body });
        }

        /// Lets `by` pass and runs every deadline that falls in it, in order.
        fn advance(&mut self, by: Duration) {
            let end = self.now + by;
            loop {
                let due = self.core.poll_timeout();
                if due > end {
                    break;
                }
                self.now = self.now.max(due);
                self.core.handle_timeout(self.now, &mut self.net).unwrap();
            }
            self.now = end;
        }

        /// Takes the sent messages of one sub-protocol (`worker` or not), oldest first.
        fn take(&mut self, worker: bool) -> Vec<(String, ZMsg)> {
            for mut msg in std::mem::take(&mut self.net.sent) {
                let peer = msg.pop_frame().unwrap();
                let peer = String::from_utf8_lossy(peer.data()).into_owned();
                self.outbox.push((peer, msg));
            }
            let is_worker = |msg: &ZMsg| {
                msg.iter().take(2).any(|f| {
                    f.data() == crate::protocol::WORKER_V1 || f.data() == crate::protocol::WORKER_V2
                })
            };
            let (mine, rest) = std::mem::take(&mut self.outbox)
                .into_iter()
                .partition(|(_, msg)| is_worker(msg) == worker);
            self.outbox = rest;
            mine
        }

        /// What went to workers, decoded: (worker, version, command).
        fn take_worker_commands(&mut self) -> Vec<(String, Version, WorkerMessage)> {
            self.take(true)
                .into_iter()
                .map(|(peer, msg)| {
                    let (version, command) = WorkerMessage::decode(msg).unwrap();
                    (peer, version, command)
                })
                .collect()
        }

        /// What went to clients, decoded: (client, version, part, service, body text).
        fn take_client_replies(&mut self) -> Vec<(String, Version, Part, String, Vec<String>)> {
            self.take(false)
                .into_iter()
                .map(
                    |(peer, msg)| match ClientMessage::decode_reply(msg).unwrap() {
                        (
                            version,
                            ClientMessage::Reply {
                                part,
                                service,
                                body,
                            },
                        ) => {
                            let service = String::from_utf8_lossy(service.data()).into_owned();
                            (peer, version, part, service, text(&body))
                        }
                        (_, other) => panic!("not a reply: {other:?}"),
                    },
                )
                .collect()
        }
    }

    fn config() -> BrokerConfig {
        BrokerConfig {
            heartbeat: Duration::from_secs(1),
            liveness: 3,
            request_expiry: Duration::from_secs(10),
            ..BrokerConfig::default()
        }
    }

    /// The (client, body text) of each REQUEST in `sent`, in order.
    fn requests(sent: &[(String, Version, WorkerMessage)]) -> Vec<(String, String)> {
        sent.iter()
            .filter_map(|(_, _, command)| match command {
                WorkerMessage::Request { client, body } => Some((
                    String::from_utf8_lossy(client.data()).into_owned(),
                    text(body).join(","),
                )),
                _ => None,
            })
            .collect()
    }

    /// A harness whose broker lets only `cert` serve what its `services` metadata lists.
    fn restricted(services: &str) -> (Harness, String) {
        let store = zmsg::ZCertStore::in_memory();
        let mut cert = zmsg::ZCert::new().unwrap();
        cert.set_meta(super::super::SERVICES_METADATA, services);
        store.insert(cert.clone());
        let config = BrokerConfig {
            worker_policy: WorkerPolicy::Certificates(store),
            ..config()
        };
        (Harness::new(config), cert.public_txt())
    }

    impl Harness {
        fn feed_as(&mut self, peer: &str, user_id: Option<&str>, mut msg: ZMsg) {
            msg.push_frame(ZFrame::from(peer));
            self.core
                .handle_message_from(msg, user_id, self.now, &mut self.net)
                .unwrap();
        }

        fn ready_as(&mut self, worker: &str, user_id: Option<&str>, service: &str) {
            let ready = WorkerMessage::Ready {
                service: ZFrame::from(service),
                credit: 1,
            };
            self.feed_as(worker, user_id, ready.encode(Version::V1));
        }
    }

    #[test]
    fn the_worker_policy_refuses_ready_from_keys_not_allowed_for_the_service() {
        let (mut h, key) = restricted("echo");
        let other = zmsg::ZCert::new().unwrap().public_txt();
        // No User-Id, an unknown key, and the right key for another service: DISCONNECT each.
        h.ready_as("anonymous", None, "echo");
        h.ready_as("stranger", Some(&other), "echo");
        h.ready_as("sidestep", Some(&key), "billing");
        let sent = h.take_worker_commands();
        for peer in ["anonymous", "stranger", "sidestep"] {
            let to_peer: Vec<_> = sent.iter().filter(|(p, _, _)| p == peer).collect();
            assert!(
                matches!(to_peer[..], [(_, _, WorkerMessage::Disconnect)]),
                "{peer}: {to_peer:?}"
            );
        }
        let stats = h.core.stats();
        assert_eq!(stats.global.unauthorised, 3);
        assert_eq!(stats.workers, 0);
        assert!(
            stats.services.is_empty(),
            "refused READYs leave no service behind"
        );

        // The key with `services = "echo"` registers and gets echo's requests.
        h.ready_as("w1", Some(&key), "echo");
        h.request("c1", Version::V1, "echo", &["secret"]);
        let sent = h.take_worker_commands();
        assert_eq!(requests(&sent), [("c1".into(), "secret".into())]);
        assert_eq!(sent[0].0, "w1");
        assert_eq!(h.core.stats().global.unauthorised, 3);
    }

    #[test]
    fn a_worker_whose_user_id_changes_is_disconnected_and_its_request_resent() {
        let (mut h, key) = restricted("echo");
        h.ready_as("w1", Some(&key), "echo");
        h.ready_as("w2", Some(&key), "echo");
        h.request("c1", Version::V1, "echo", &["job"]);
        let first = h.take_worker_commands();
        assert_eq!(first.len(), 1);
        let holder = first[0].0.clone();
        // A REPLY on the holder's identity without its User-Id: refused, the request goes on.
        let reply = WorkerMessage::Reply {
            part: Part::Final,
            client: ZFrame::from("c1"),
            body: body(&["forged"]),
        };
        h.feed_as(&holder, None, reply.encode(Version::V1));
        assert!(
            h.take_client_replies().is_empty(),
            "the forged reply is not delivered"
        );
        let sent = h.take_worker_commands();
        let other = if holder == "w1" { "w2" } else { "w1" };
        assert!(sent
            .iter()
            .any(|(peer, _, c)| peer == &holder && matches!(c, WorkerMessage::Disconnect)));
        assert_eq!(requests(&sent), [("c1".into(), "job".into())]);
        assert!(sent
            .iter()
            .any(|(peer, _, c)| peer == other && matches!(c, WorkerMessage::Request { .. })));
        let stats = h.core.stats();
        assert_eq!((stats.global.unauthorised, stats.workers), (1, 1));
    }

    #[test]
    fn a_request_goes_to_a_worker_and_its_reply_to_the_client() {
        let mut h = Harness::new(config());
        h.ready("w1", Version::V1, "echo", 1);
        h.request("c1", Version::V1, "echo", &["hello", "world"]);
        let sent = h.take_worker_commands();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "w1");
        assert_eq!(requests(&sent), [("c1".into(), "hello,world".into())]);
        h.reply("w1", Version::V1, Part::Final, b"c1", "hi");
        let replies = h.take_client_replies();
        assert_eq!(
            replies,
            [(
                "c1".into(),
                Version::V1,
                Part::Final,
                "echo".into(),
                vec!["hi".into()]
            )]
        );
        let stats = h.core.stats();
        assert_eq!((stats.total.requests, stats.total.replies), (1, 1));
        assert_eq!(stats.in_flight, 0);
    }

    #[test]
    fn silent_workers_expire_and_heartbeating_ones_live() {
        let mut h = Harness::new(config());
        h.ready("quiet", Version::V1, "echo", 1);
        h.ready("alive", Version::V2, "echo", 1);
        // Each tick sends a HEARTBEAT in the worker's own version.
        for _ in 0..5 {
            h.advance(Duration::from_millis(500));
            h.worker("alive", Version::V2, WorkerMessage::Heartbeat);
        }
        let sent = h.take_worker_commands();
        assert!(sent.iter().any(|(peer, version, command)| peer == "alive"
            && *version == Version::V2
            && matches!(command, WorkerMessage::Heartbeat)));
        // heartbeat × liveness = 3 s of silence: "quiet" is told DISCONNECT and forgotten.
        h.advance(Duration::from_millis(600));
        let sent = h.take_worker_commands();
        assert!(sent
            .iter()
            .any(|(peer, _, command)| peer == "quiet"
                && matches!(command, WorkerMessage::Disconnect)));
        assert!(!sent
            .iter()
            .any(|(peer, _, command)| peer == "alive"
                && matches!(command, WorkerMessage::Disconnect)));
        let stats = h.core.stats();
        assert_eq!(stats.workers, 1);
        assert_eq!(stats.total.worker_expiries, 1);
    }

    #[test]
    fn requests_held_by_a_departed_worker_are_resent_in_order() {
        let mut h = Harness::new(config());
        h.ready("w1", Version::V1, "pipe", 3);
        for n in 1..=4 {
            h.request("c1", Version::V1, "pipe", &[&n.to_string()]);
        }
        // Credit 3: three at the worker, the fourth waits.
        let held = requests(&h.take_worker_commands());
        assert_eq!(held.len(), 3);
        assert_eq!(h.core.stats().queued, 1);
        h.worker("w1", Version::V1, WorkerMessage::Disconnect);
        assert!(
            h.take_worker_commands().is_empty(),
            "no one to resend to yet"
        );
        h.ready("w2", Version::V2, "pipe", 4);
        let resent = requests(&h.take_worker_commands());
        let order: Vec<&str> = resent.iter().map(|(_, body)| body.as_str()).collect();
        assert_eq!(order, ["1", "2", "3", "4"]);
        let stats = h.core.stats();
        assert_eq!(stats.total.resends, 3);
        assert_eq!(stats.total.disconnects, 1);
    }

    #[test]
    fn a_worker_hears_from_the_broker_at_least_every_one_and_a_half_intervals() {
        // With liveness 2, a HEARTBEAT skipped because a request went out just after the
        // previous tick would leave the worker two intervals without news: dead by its clock.
        let mut h = Harness::new(BrokerConfig {
            liveness: 2,
            ..config()
        });
        h.ready("w1", Version::V1, "echo", 1);
        h.advance(Duration::from_millis(1010)); // just after the first tick (1 s)
        h.take_worker_commands();
        h.request("c1", Version::V1, "echo", &["x"]);
        let mut last_heard = h.now;
        for _ in 0..40 {
            h.advance(Duration::from_millis(100));
            h.worker("w1", Version::V1, WorkerMessage::Heartbeat);
            if !h.take_worker_commands().is_empty() {
                let gap = h.now - last_heard;
                assert!(gap <= Duration::from_millis(1500), "silent for {gap:?}");
                last_heard = h.now;
            }
        }
        assert!(h.now - last_heard <= Duration::from_millis(1500));
    }

    #[test]
    fn an_unreachable_worker_is_forgotten_and_its_request_goes_to_the_next() {
        let mut h = Harness::new(config());
        h.ready("w1", Version::V1, "echo", 1);
        h.ready("w2", Version::V1, "echo", 1);
        h.net.gone.insert(b"w1".to_vec());
        h.request("c1", Version::V1, "echo", &["x"]);
        let sent = h.take_worker_commands();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "w2");
        assert_eq!(h.core.stats().workers, 1);
    }

    #[test]
    fn queues_refuse_beyond_their_limits_with_typed_codes() {
        let mut h = Harness::new(BrokerConfig {
            max_queue: 1,
            max_client_backlog: 2,
            ..config()
        });
        h.request("c1", Version::V1, "nobody", &["1"]);
        h.request("c2", Version::V2, "nobody", &["2"]);
        let refused = h.take_client_replies();
        assert_eq!(
            refused,
            [(
                "c2".into(),
                Version::V2,
                Part::Final,
                "mmi.refused".into(),
                vec!["503".into(), "nobody".into(), "2".into()]
            )]
        );
        h.request("c1", Version::V1, "other", &["3"]);
        h.request("c1", Version::V1, "third", &["4"]);
        let refused = h.take_client_replies();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].4[0], "429");
        let stats = h.core.stats();
        assert_eq!(stats.total.refused, 2);
        // By code, in total and per service (the 429 came before "third" had a record).
        assert_eq!(stats.total.refusals.queue_full, 1);
        assert_eq!(stats.total.refusals.client_full, 1);
        assert_eq!(
            stats.services["nobody"]
                .refusals
                .get(RefusalCode::QueueFull),
            1
        );
        let by_code: u64 = stats.total.refusals.by_code().iter().map(|(_, n)| n).sum();
        assert_eq!(by_code, stats.total.refused);
        assert_eq!(
            stats.service_load["nobody"],
            ServiceLoad {
                workers: 0,
                queued: 1,
                queued_bytes: 1
            }
        );
    }

    #[test]
    fn a_full_client_pipe_backlogs_replies_then_delivers_or_drops_them() {
        let mut h = Harness::new(BrokerConfig {
            client_backlog_timeout: Duration::from_secs(5),
            ..config()
        });
        h.ready("w1", Version::V1, "echo", 2);
        h.request("c1", Version::V1, "echo", &["a"]);
        h.request("c1", Version::V1, "echo", &["b"]);
        h.take_worker_commands();
        h.net.full.insert(b"c1".to_vec());
        h.reply("w1", Version::V1, Part::Final, b"c1", "A");
        h.reply("w1", Version::V1, Part::Final, b"c1", "B");
        assert!(h.take_client_replies().is_empty());
        assert_eq!(h.core.stats().backlog_replies, 2);
        // The pipe drains: both replies go out, oldest first, on the next retry.
        h.net.full.clear();
        h.advance(Duration::from_millis(2));
        let bodies: Vec<String> = h
            .take_client_replies()
            .into_iter()
            .map(|r| r.4[0].clone())
            .collect();
        assert_eq!(bodies, ["A", "B"]);
        // A client that takes nothing for the backlog timeout loses its backlog (counted).
        h.request("c1", Version::V1, "echo", &["c"]);
        h.take_worker_commands();
        h.net.full.insert(b"c1".to_vec());
        h.reply("w1", Version::V1, Part::Final, b"c1", "C");
        h.advance(Duration::from_secs(6));
        let stats = h.core.stats();
        assert_eq!(stats.backlog_replies, 0);
        assert_eq!(stats.global.backlog_timeouts, 1);
        assert_eq!(stats.total.replies, 2);
        assert_eq!(stats.total.drops, 1);
    }

    #[test]
    fn queued_requests_expire() {
        let mut h = Harness::new(config());
        h.request("c1", Version::V1, "nobody", &["x"]);
        h.advance(Duration::from_secs(9));
        assert_eq!(h.core.stats().queued, 1);
        h.advance(Duration::from_secs(2));
        let stats = h.core.stats();
        assert_eq!(stats.queued, 0);
        assert_eq!(stats.total.expiries, 1);
        assert_eq!(stats.in_flight, 0);
    }

    #[test]
    fn unexpected_commands_get_disconnect_and_invalid_ones_are_counted() {
        let mut h = Harness::new(config());
        h.worker("early", Version::V1, WorkerMessage::Heartbeat);
        h.ready("mmi", Version::V1, "mmi.service", 1);
        h.ready("twice", Version::V2, "echo", 1);
        h.ready("twice", Version::V2, "echo", 1);
        h.ready("mixed", Version::V1, "echo", 1);
        h.worker("mixed", Version::V2, WorkerMessage::Heartbeat);
        h.reply("forger", Version::V1, Part::Final, b"c1", "x");
        let told: Vec<(String, Version)> = h
            .take_worker_commands()
            .into_iter()
            .filter(|(_, _, command)| matches!(command, WorkerMessage::Disconnect))
            .map(|(peer, version, _)| (peer, version))
            .collect();
        assert_eq!(
            told,
            [
                ("early".into(), Version::V1),
                ("mmi".into(), Version::V1),
                ("twice".into(), Version::V2),
                ("mixed".into(), Version::V1),
                ("forger".into(), Version::V1),
            ]
        );
        h.feed("junk", body(&["", "MDPW01", "\u{9}"]));
        h.feed("junk", body(&["MDPX02"]));
        let stats = h.core.stats();
        assert_eq!(stats.global.unexpected, 5);
        assert_eq!(stats.global.invalid, 2);
        assert_eq!(stats.workers, 0);
    }

    #[test]
    fn a_reply_for_a_request_the_worker_does_not_hold_is_refused() {
        let mut h = Harness::new(config());
        h.ready("w1", Version::V2, "echo", 1);
        h.request("c1", Version::V2, "echo", &["x"]);
        h.take_worker_commands();
        h.reply("w1", Version::V2, Part::Partial, b"c2", "forged");
        assert!(h.take_client_replies().is_empty());
        let told = h.take_worker_commands();
        assert!(
            matches!(told[..], [(ref peer, Version::V2, WorkerMessage::Disconnect)] if peer == "w1")
        );
        let stats = h.core.stats();
        assert_eq!(stats.global.unexpected, 1);
        // The request it held goes back to the queue, not to the wrong client.
        assert_eq!(stats.queued, 1);
        assert_eq!(stats.total.resends, 1);
    }

    #[test]
    fn mdp02_partials_stream_to_mdp02_clients_in_order() {
        let mut h = Harness::new(config());
        h.ready("w1", Version::V2, "count", 1);
        h.request("c1", Version::V2, "count", &["3"]);
        h.take_worker_commands();
        for n in ["1", "2"] {
            h.reply("w1", Version::V2, Part::Partial, b"c1", n);
        }
        h.reply("w1", Version::V2, Part::Final, b"c1", "done");
        let got: Vec<(Version, Part, String)> = h
            .take_client_replies()
            .into_iter()
            .map(|(_, version, part, _, body)| (version, part, body[0].clone()))
            .collect();
        assert_eq!(
            got,
            [
                (Version::V2, Part::Partial, "1".into()),
                (Version::V2, Part::Partial, "2".into()),
                (Version::V2, Part::Final, "done".into()),
            ]
        );
        let stats = h.core.stats();
        assert_eq!((stats.total.partials, stats.total.replies), (2, 1));
        assert_eq!(stats.in_flight, 0);
    }

    #[test]
    fn versions_are_bridged_both_ways() {
        let mut h = Harness::new(config());
        // An MDP/0.1 client of an MDP/0.2 service gets the final reply only, as a REPLY.
        h.ready("w2", Version::V2, "v2svc", 1);
        h.request("old", Version::V1, "v2svc", &["x"]);
        let sent = h.take_worker_commands();
        assert_eq!(
            sent[0].1,
            Version::V2,
            "the REQUEST goes out in the worker's version"
        );
        h.reply("w2", Version::V2, Part::Partial, b"old", "p");
        h.reply("w2", Version::V2, Part::Final, b"old", "f");
        let got = h.take_client_replies();
        assert_eq!(
            got,
            [(
                "old".into(),
                Version::V1,
                Part::Final,
                "v2svc".into(),
                vec!["f".into()]
            )]
        );
        assert_eq!(h.core.stats().global.partials_withheld, 1);
        // An MDP/0.2 client of an MDP/0.1 service gets the REPLY as its FINAL.
        h.ready("w1", Version::V1, "v1svc", 1);
        h.request("new", Version::V2, "v1svc", &["y"]);
        assert_eq!(h.take_worker_commands()[0].1, Version::V1);
        h.reply("w1", Version::V1, Part::Final, b"new", "r");
        let got = h.take_client_replies();
        assert_eq!(
            got,
            [(
                "new".into(),
                Version::V2,
                Part::Final,
                "v1svc".into(),
                vec!["r".into()]
            )]
        );
    }

    #[test]
    fn mmi_answers_in_the_clients_version() {
        let mut h = Harness::new(config());
        h.ready("w1", Version::V2, "echo", 1);
        h.request("c1", Version::V2, "mmi.service", &["echo"]);
        h.request("c2", Version::V1, "mmi.service", &["nobody"]);
        h.request("c2", Version::V1, "mmi.nonsense", &["x"]);
        let got: Vec<(String, Version, String)> = h
            .take_client_replies()
            .into_iter()
            .map(|(peer, version, _, _, body)| (peer, version, body[0].clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("c1".into(), Version::V2, "200".into()),
                ("c2".into(), Version::V1, "404".into()),
                ("c2".into(), Version::V1, "501".into()),
            ]
        );
    }

    #[test]
    fn mmi_stats_reports_what_stats_does() {
        let mut h = Harness::new(BrokerConfig {
            max_queue: 1,
            ..config()
        });
        h.ready("w1", Version::V1, "echo", 1);
        h.request("c1", Version::V1, "echo", &["a"]);
        h.request("c1", Version::V1, "idle", &["b"]);
        h.request("c2", Version::V1, "idle", &["c"]);
        h.take_worker_commands();
        h.take_client_replies();
        let stats = h.core.stats();
        let answer = |h: &mut Harness, service: &str, name: &str| {
            h.request("c3", Version::V1, service, &[name]);
            h.take_client_replies().remove(0).4
        };
        let all = answer(&mut h, "mmi.stats", "");
        assert_eq!(all[0], "200");
        // The MMI request itself is counted, and its client is tracked while it is answered.
        let mut stats = stats;
        stats.global.mmi += 1;
        stats.clients += 1;
        let expected: Vec<String> = stats.fields().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(all[1..], expected[..]);
        for key in [
            "refused_503=1",
            "queued=1",
            "workers=1",
            "services=2",
            "in_flight=2",
        ] {
            assert!(all.contains(&key.to_owned()), "{key} in {all:?}");
        }
        let idle = answer(&mut h, "mmi.stats", "idle");
        let expected: Vec<String> = (stats.services["idle"].fields().into_iter())
            .chain(stats.service_load["idle"].fields())
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(idle[1..], expected[..]);
        assert!(idle.contains(&"queued_bytes=1".to_owned()), "{idle:?}");
        assert_eq!(answer(&mut h, "mmi.stats", "nobody"), ["404"]);
        assert_eq!(answer(&mut h, "mmi.known", ""), ["200", "echo", "idle"]);
        assert_eq!(answer(&mut h, "mmi.services", ""), ["200", "echo"]);
    }

    /// The refusal codes the clients got, in order.
    fn refusal_codes(h: &mut Harness) -> Vec<String> {
        h.take_client_replies()
            .into_iter()
            .filter(|(_, _, _, service, _)| service == "mmi.refused")
            .map(|(_, _, _, _, body)| body[0].clone())
            .collect()
    }

    #[test]
    fn a_worker_that_holds_a_request_too_long_loses_it_to_another() {
        let mut h = Harness::new(BrokerConfig {
            request_timeout: Duration::from_secs(5),
            ..config()
        });
        h.ready("slow", Version::V1, "echo", 1);
        h.request("c1", Version::V1, "echo", &["x"]);
        assert_eq!(h.take_worker_commands().len(), 1);
        h.ready("fast", Version::V1, "echo", 1);
        // The slow worker heartbeats (it is alive) but never answers.
        for _ in 0..6 {
            h.advance(Duration::from_secs(1));
            h.worker("slow", Version::V1, WorkerMessage::Heartbeat);
            h.worker("fast", Version::V1, WorkerMessage::Heartbeat);
        }
        let sent = h.take_worker_commands();
        assert!(sent.iter().any(
            |(peer, _, command)| peer == "slow" && matches!(command, WorkerMessage::Disconnect)
        ));
        let resent: Vec<&String> = sent
            .iter()
            .filter(|(_, _, command)| matches!(command, WorkerMessage::Request { .. }))
            .map(|(peer, _, _)| peer)
            .collect();
        assert_eq!(resent, ["fast"]);
        let stats = h.core.stats();
        assert_eq!(stats.total.request_timeouts, 1);
        assert_eq!(stats.total.resends, 1);
        h.reply("fast", Version::V1, Part::Final, b"c1", "done");
        assert_eq!(h.take_client_replies()[0].4, ["done"]);
    }

    #[test]
    fn a_request_that_kills_every_worker_is_abandoned_after_its_resends() {
        let mut h = Harness::new(BrokerConfig {
            max_resends: 2,
            ..config()
        });
        h.request("c1", Version::V2, "fragile", &["poison"]);
        for n in 0..3 {
            let worker = format!("w{n}");
            h.ready(&worker, Version::V1, "fragile", 1);
            assert_eq!(requests(&h.take_worker_commands()).len(), 1, "try {n}");
            h.worker(&worker, Version::V1, WorkerMessage::Disconnect);
        }
        assert_eq!(refusal_codes(&mut h), ["504"]);
        let stats = h.core.stats();
        assert_eq!((stats.total.resends, stats.total.abandoned), (2, 1));
        assert_eq!((stats.queued, stats.in_flight, stats.held_bytes), (0, 0, 0));
    }

    #[test]
    fn services_a_peer_creates_are_forgotten_and_capped() {
        let mut h = Harness::new(BrokerConfig {
            max_services: 50,
            service_grace: Duration::from_secs(5),
            ..config()
        });
        // READY / DISCONNECT for ever new names: each leaves an empty service behind.
        for n in 0..200 {
            let worker = format!("w{n}");
            h.ready(&worker, Version::V1, &format!("svc-{n}"), 1);
            h.worker(&worker, Version::V1, WorkerMessage::Disconnect);
        }
        let refused = h
            .take_worker_commands()
            .into_iter()
            .filter(|(_, _, command)| matches!(command, WorkerMessage::Disconnect))
            .count();
        assert_eq!(
            refused, 150,
            "READY beyond max_services is answered with DISCONNECT"
        );
        assert_eq!(h.core.stats().global.over_limit, 150);
        assert_eq!(h.core.services.len(), 50);
        // Requests for unknown names never leave a record behind once refused or expired, and
        // the service cap refuses them with 507.
        h.request("c1", Version::V1, "one-more", &["x"]);
        assert_eq!(refusal_codes(&mut h), ["507"]);
        // After the grace period the empty services are forgotten.
        h.advance(Duration::from_secs(7));
        assert_eq!(h.core.services.len(), 0);
        h.ready("w-late", Version::V1, "svc-late", 1);
        assert_eq!(h.core.stats().workers, 1);
    }

    #[test]
    fn bytes_are_bounded_per_request_client_queue_and_broker() {
        let big = "x".repeat(1000);
        let mut h = Harness::new(BrokerConfig {
            max_message_size: 1500,
            max_client_backlog_bytes: 2500,
            max_queue_bytes: 3500,
            max_memory: 4500,
            ..config()
        });
        // Too large for the broker at all.
        h.request("c1", Version::V1, "nobody", &[&big, &big]);
        assert_eq!(refusal_codes(&mut h), ["413"]);
        // Queued requests count toward their client's bytes: two fit, the third does not.
        for _ in 0..3 {
            h.request("c1", Version::V1, "nobody", &[&big]);
        }
        assert_eq!(refusal_codes(&mut h), ["429"]);
        // The service queue holds at most 3500 bytes: c2's second request would make it 4000.
        h.request("c2", Version::V1, "nobody", &[&big]);
        h.request("c2", Version::V1, "nobody", &[&big]);
        assert_eq!(refusal_codes(&mut h), ["503"]);
        // The broker's budget (4500) is spent by the 3000 queued plus c3's 1000 elsewhere.
        h.request("c3", Version::V1, "other", &[&big]);
        h.request("c4", Version::V1, "other", &[&big]);
        assert_eq!(refusal_codes(&mut h), ["507"]);
        let stats = h.core.stats();
        assert_eq!(stats.held_bytes, 4000);
        assert_eq!(stats.global.over_limit, 1);
        // Serving the queue gives the bytes back.
        h.ready("w1", Version::V1, "nobody", 8);
        for (client, _) in requests(&h.take_worker_commands()) {
            h.reply("w1", Version::V1, Part::Final, client.as_bytes(), "ok");
        }
        assert_eq!(h.core.stats().held_bytes, 1000);
    }

    #[test]
    fn the_number_of_clients_is_capped() {
        let mut h = Harness::new(BrokerConfig {
            max_clients: 2,
            ..config()
        });
        for client in ["c1", "c2", "c3"] {
            h.request(client, Version::V1, "nobody", &["x"]);
        }
        assert_eq!(refusal_codes(&mut h), ["507"]);
        assert_eq!(h.core.stats().clients, 2);
    }

    #[test]
    fn partials_never_grow_a_backlog_past_its_bound() {
        // Found by fuzz/fuzz_targets/broker_core.rs: a streaming MDP/0.2 worker and a client
        // that does not read made the backlog grow past max_client_backlog.
        let mut h = Harness::new(BrokerConfig {
            max_client_backlog: 2,
            ..config()
        });
        h.ready("w1", Version::V2, "stream", 1);
        h.request("c1", Version::V2, "stream", &["x"]);
        h.take_worker_commands();
        h.net.full.insert(b"c1".to_vec());
        for n in 0..5 {
            h.reply("w1", Version::V2, Part::Partial, b"c1", &n.to_string());
        }
        h.reply("w1", Version::V2, Part::Final, b"c1", "done");
        // The request in flight leaves room for one partial; the final reply takes the
        // request's place.
        let stats = h.core.stats();
        assert_eq!((stats.backlog_replies, stats.total.drops), (2, 4));
        h.net.full.clear();
        h.advance(Duration::from_millis(2));
        let got: Vec<(Part, String)> = h
            .take_client_replies()
            .into_iter()
            .map(|(_, _, part, _, body)| (part, body[0].clone()))
            .collect();
        assert_eq!(
            got,
            [(Part::Partial, "0".into()), (Part::Final, "done".into())]
        );
        let stats = h.core.stats();
        assert_eq!((stats.total.partials, stats.total.replies), (1, 1));
        assert_eq!((stats.in_flight, stats.backlog_replies), (0, 0));
    }

    /// Sends every reply to the peer named in the reply body instead of the client.
    struct Divert;

    impl BrokerHooks for Divert {
        fn on_reply(&mut self, reply: HookReply<'_>) -> HookAction {
            let target = reply.body.first().map(|f| f.to_vec()).unwrap_or_default();
            HookAction::Redirect(Route::Peer(target))
        }
    }

    #[test]
    fn replies_a_hook_redirects_to_a_peer_stay_within_that_peers_limits() {
        let mut config = config();
        config.max_client_backlog = 2;
        config.max_clients = 4;
        let mut h = Harness::new(config);
        h.core.set_hooks(Some(Box::new(Divert)));
        h.ready("w1", Version::V1, "echo", 1);
        h.net.full.insert(b"sink".to_vec());
        // Five replies diverted to one peer that reads nothing: two wait, three are dropped.
        for _ in 0..5 {
            h.request("c0", Version::V1, "echo", &["x"]);
            h.take_worker_commands();
            h.reply("w1", Version::V1, Part::Final, b"c0", "sink");
        }
        let stats = h.core.stats();
        assert_eq!((stats.backlog_replies, stats.total.drops), (2, 3));
        // Diverted to peers that never asked: no more client records than max_clients.
        for n in 0..10 {
            let target = format!("new-{n}");
            h.net.full.insert(target.as_bytes().to_vec());
            h.request("c0", Version::V1, "echo", &["x"]);
            h.take_worker_commands();
            h.reply("w1", Version::V1, Part::Final, b"c0", &target);
        }
        let stats = h.core.stats();
        assert!(stats.clients <= 4, "{stats:?}");
        assert!(stats.backlog_replies < 2 + 4, "{stats:?}");
        assert_eq!(
            stats.backlog_replies as u64 + stats.total.drops,
            15,
            "{stats:?}"
        );
    }

    /// Makes every request body 1000 bytes larger.
    struct Inflate;

    impl BrokerHooks for Inflate {
        fn on_request(&mut self, request: HookRequest<'_>) -> HookAction {
            request.body.append(vec![0u8; 1000]);
            HookAction::Forward
        }
    }

    #[test]
    fn a_request_a_hook_enlarges_counts_at_its_new_size() {
        let mut config = config();
        config.max_client_backlog_bytes = 2500;
        let mut h = Harness::new(config);
        h.core.set_hooks(Some(Box::new(Inflate)));
        h.request("c1", Version::V1, "echo", &["ab"]);
        assert_eq!(h.core.stats().held_bytes, 1002);
        h.request("c1", Version::V1, "echo", &["ab"]);
        assert_eq!(h.core.stats().held_bytes, 2004);
        // The third would make c1 hold 3006 bytes: refused with 429, as if it had sent them.
        h.request("c1", Version::V1, "echo", &["ab"]);
        let refused = h.take_client_replies();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].3, "mmi.refused");
        assert_eq!(refused[0].4[0], "429");
        let stats = h.core.stats();
        assert_eq!(
            (stats.held_bytes, stats.queued, stats.total.refused),
            (2004, 2, 1)
        );
        // A worker takes them; its replies settle exactly what was counted.
        h.ready("w1", Version::V1, "echo", 2);
        for _ in 0..2 {
            h.reply("w1", Version::V1, Part::Final, b"c1", "done");
        }
        let stats = h.core.stats();
        assert_eq!((stats.held_bytes, stats.in_flight), (0, 0));
    }

    struct Gate;

    impl BrokerHooks for Gate {
        fn on_request(&mut self, request: HookRequest<'_>) -> HookAction {
            match request.service {
                b"ping" => HookAction::Answer(ZMsg::from_iter(["pong"])),
                b"secret" => HookAction::Drop,
                b"old" => HookAction::Redirect(Route::Service(b"new".to_vec())),
                _ => HookAction::Forward,
            }
        }

        fn on_reply(&mut self, reply: HookReply<'_>) -> HookAction {
            if reply.part == Part::Partial {
                return HookAction::Drop;
            }
            reply.body.append("checked");
            HookAction::Forward
        }
    }

    #[test]
    fn hooks_answer_drop_redirect_and_see_partials() {
        let mut h = Harness::new(config());
        h.core.set_hooks(Some(Box::new(Gate)));
        h.ready("w1", Version::V2, "new", 1);
        h.request("c1", Version::V1, "ping", &["x"]);
        h.request("c1", Version::V1, "secret", &["x"]);
        h.request("c1", Version::V2, "old", &["x"]);
        let got = h.take_client_replies();
        assert_eq!(
            got,
            [(
                "c1".into(),
                Version::V1,
                Part::Final,
                "ping".into(),
                vec!["pong".into()]
            )]
        );
        assert_eq!(
            requests(&h.take_worker_commands()),
            [("c1".into(), "x".into())]
        );
        h.reply("w1", Version::V2, Part::Partial, b"c1", "p");
        h.reply("w1", Version::V2, Part::Final, b"c1", "f");
        let got = h.take_client_replies();
        // The reply names the service the client asked for; the hook dropped the partial.
        assert_eq!(
            got,
            [(
                "c1".into(),
                Version::V2,
                Part::Final,
                "old".into(),
                vec!["f".into(), "checked".into()]
            )]
        );
        let stats = h.core.stats();
        assert_eq!(stats.total.drops, 2);
        assert_eq!(stats.in_flight, 0);
    }

    #[test]
    fn settings_that_overflow_are_refused() {
        let now = Instant::now();
        for config in [
            BrokerConfig {
                heartbeat: Duration::MAX,
                ..config()
            },
            BrokerConfig {
                request_expiry: Duration::MAX,
                ..config()
            },
            BrokerConfig {
                liveness: 0,
                ..config()
            },
        ] {
            assert!(matches!(
                BrokerCore::new(&config, now),
                Err(Error::InvalidArgument(_))
            ));
        }
        let h = Harness::new(config());
        assert!(h.config.heartbeat > Duration::ZERO);
    }
}
