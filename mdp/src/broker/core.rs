//! The broker's routing core: the state the [`zmsg::zloop::ZLoop`] owns, and what it does with
//! each message, heartbeat tick and worker expiry.
//!
//! Every path is O(1) per message: workers are found by identity and services by name through
//! hash maps, idle workers and waiting requests sit in per-service queues. Body frames move from
//! the incoming message into the outgoing one; a request sent to a worker keeps a clone of its
//! body (libzmq shares the buffers of large frames, so nothing big is copied) to resend it if the
//! worker goes away.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};
use zmsg::zloop::{LoopCtx, ReaderId, TicketId};
use zmsg::{Error, SendFlags, ZFrame, ZMsg};

use super::clients::{compact, payload, send_on, Clients, Outcome, Pending, Sent, FLUSH_INTERVAL};
use super::hooks::{BrokerHooks, HookAction, HookReply, HookRequest, Route};
use super::service::{Request, Service};
use super::stats::{Counters, GlobalCounters, Stats};
use super::worker::{WorkerKey, WorkerRecord};
use super::Map;
use crate::protocol::{self, is_mmi, ready_credit, Command, CLIENT, REFUSED, WORKER};
/// Refusal code: the service's request queue is full.
pub(crate) const QUEUE_FULL: &str = "503";
/// Refusal code: the client has too many requests in flight and replies backlogged.
pub(crate) const CLIENT_FULL: &str = "429";

/// The reactor's context, with the broker core as its state.
pub(crate) type Ctx = LoopCtx<Core>;

/// How many messages one readable event handles before timers get their turn.
const BATCH: usize = 256;

/// The tunables the core needs (a copy of part of [`super::BrokerConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub request_expiry: Duration,
    pub max_queue: usize,
    pub max_client_backlog: usize,
    pub max_client_backlog_bytes: usize,
    pub client_backlog_timeout: Duration,
    pub max_worker_credit: u32,
}

/// Which counter an event bumps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    Requests,
    Replies,
    Drops,
    Refused,
    Disconnects,
    WorkerExpiries,
}

impl Counters {
    fn bump(&mut self, field: Field) {
        let slot = match field {
            Field::Requests => &mut self.requests,
            Field::Replies => &mut self.replies,
            Field::Drops => &mut self.drops,
            Field::Refused => &mut self.refused,
            Field::Disconnects => &mut self.disconnects,
            Field::WorkerExpiries => &mut self.worker_expiries,
        };
        *slot += 1;
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
}

/// The broker's state.
pub(crate) struct Core {
    /// The ROUTER's reader id in the loop (set right after registration).
    pub router: Option<ReaderId>,
    pub settings: Settings,
    pub workers: Map<WorkerKey, WorkerRecord>,
    pub by_identity: Map<Box<[u8]>, WorkerKey>,
    pub services: Map<Box<[u8]>, Service>,
    pub hooks: Option<Box<dyn BrokerHooks>>,
    /// Clients with requests in flight or replies backlogged.
    pub clients: Clients,
    pub total: Counters,
    pub global: GlobalCounters,
    next_key: WorkerKey,
    next_token: u64,
}

impl Core {
    pub fn new(settings: Settings) -> Core {
        Core {
            router: None,
            settings,
            workers: Map::default(),
            by_identity: Map::default(),
            services: Map::default(),
            hooks: None,
            clients: Clients::default(),
            total: Counters::default(),
            global: GlobalCounters::default(),
            next_key: 0,
            next_token: 0,
        }
    }

    /// A snapshot of the counters and the current load.
    pub fn stats(&self) -> Stats {
        Stats {
            total: self.total,
            global: self.global,
            services: self
                .services
                .iter()
                .map(|(name, service)| {
                    (String::from_utf8_lossy(name).into_owned(), service.counters)
                })
                .collect(),
            workers: self.workers.len(),
            queued: self.services.values().map(|s| s.requests.len()).sum(),
            clients: self.clients.map.len(),
            in_flight: self.clients.in_flight(),
            backlog_clients: self.clients.backlogged_clients(),
            backlog_replies: self.clients.replies,
            backlog_bytes: self.clients.bytes,
        }
    }

    /// Bumps a counter of `service` (if the broker tracks it) and of the total.
    fn bump(&mut self, service: &[u8], field: Field) {
        self.total.bump(field);
        if let Some(service) = self.services.get_mut(service) {
            service.counters.bump(field);
        }
    }

    // ---------------------------------------------------------------- sending

    /// The ROUTER socket (an error ends the loop if it is gone).
    fn router<'c>(&self, ctx: &'c Ctx) -> zmsg::Result<&'c zmsg::ZSocket> {
        self.router
            .and_then(|id| ctx.socket(id))
            .ok_or_else(|| Error::InvalidArgument("the broker's ROUTER socket is gone".into()))
    }

    /// Sends `msg` on the ROUTER without blocking: sent, pipe full (`EAGAIN`, `msg` intact) or
    /// peer gone (`EHOSTUNREACH`). `Err` only for errors that end the loop (context terminated,
    /// socket gone).
    fn send(&self, ctx: &Ctx, msg: &mut ZMsg) -> zmsg::Result<Sent> {
        send_on(self.router(ctx)?, msg)
    }

    /// Sends a worker command `[identity, "", MDPW01, command]`; `Ok(true)` when sent.
    fn send_command(&self, ctx: &Ctx, identity: &ZFrame, command: Command) -> zmsg::Result<bool> {
        let mut msg = ZMsg::with_capacity(4);
        msg.append_frame(identity.clone());
        msg.append_frame(ZFrame::new());
        msg.append_frame(ZFrame::from_static(WORKER));
        msg.append_frame(command.frame());
        Ok(self.send(ctx, &mut msg)? == Sent::Yes)
    }

    /// Sends a client reply `[client, "", MDPC01, service, body...]`. A reply that meets a full
    /// pipe (or a client that already has a backlog) waits in the client's backlog; a reply for
    /// a client that is gone is dropped. Replies and drops are counted on `count` (a service
    /// name; `None` for MMI answers and refusals, which are not counted; the backlog counters
    /// in `GlobalCounters` count every message).
    fn deliver(
        &mut self,
        ctx: &mut Ctx,
        client: ZFrame,
        service: ZFrame,
        mut body: ZMsg,
        count: Option<&[u8]>,
    ) -> zmsg::Result<()> {
        body.push_frame(service);
        body.push_frame(ZFrame::from_static(CLIENT));
        body.push_frame(ZFrame::new());
        body.push_frame(client);
        let mut msg = body;
        let waiting = msg
            .first()
            .is_some_and(|identity| self.clients.has_backlog(identity.data()));
        if !waiting {
            match self.send(ctx, &mut msg)? {
                Sent::Yes => return self.tally(count, Field::Replies),
                Sent::Gone => return self.tally(count, Field::Drops),
                Sent::Full => {}
            }
        }
        trace!(client = %hex(msg.first().map_or(&[][..], |f| f.data())), "reply backlogged");
        self.global.backlogged += 1;
        compact(&mut msg);
        let pending = Pending {
            bytes: payload(&msg),
            msg,
            service: count.map(Into::into),
        };
        self.clients.push(pending, ctx.now());
        if self.clients.timer.is_none() {
            let timer = ctx.add_timer(FLUSH_INTERVAL, 0, |core: &mut Core, ctx, _| {
                core.flush_backlogs(ctx)
            });
            self.clients.timer = Some(timer);
        }
        Ok(())
    }

    /// Counts a reply's fate on its service; MMI answers and refusals (`None`) are not counted
    /// as replies or drops.
    fn tally(&mut self, service: Option<&[u8]>, field: Field) -> zmsg::Result<()> {
        if let Some(service) = service {
            self.bump(service, field);
        }
        Ok(())
    }

    /// Retries every client backlog (oldest reply first); drops the backlogs of clients that are
    /// gone or took nothing for the backlog timeout; stops the retry timer when none is left.
    pub fn flush_backlogs(&mut self, ctx: &mut Ctx) -> zmsg::Result<()> {
        if self.clients.any_backlog() {
            let socket = self.router(ctx)?;
            let now = Instant::now();
            let timeout = self.settings.client_backlog_timeout;
            let (services, total, global) = (&mut self.services, &mut self.total, &mut self.global);
            self.clients
                .flush(socket, now, timeout, |service, outcome| {
                    let field = match outcome {
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
                    if let Some(service) = service {
                        total.bump(field);
                        if let Some(record) = services.get_mut(service) {
                            record.counters.bump(field);
                        }
                    }
                })?;
        }
        if !self.clients.any_backlog() {
            if let Some(timer) = self.clients.timer.take() {
                ctx.remove_timer(timer);
            }
        }
        Ok(())
    }

    /// Refuses a client request at once with `"" , "MDPC01" , "mmi.refused" , code , service ,
    /// body...` (the body goes back to the client, so it can tell which request and retry).
    /// The refusal is not backlogged: if the client's pipe is full it is lost (still counted).
    fn refuse(
        &mut self,
        ctx: &mut Ctx,
        client: ZFrame,
        service: &[u8],
        mut body: ZMsg,
        code: &str,
    ) -> zmsg::Result<()> {
        debug!(client = %hex(client.data()), service = %String::from_utf8_lossy(service), code, "request refused");
        self.bump(service, Field::Refused);
        body.push(service);
        body.push(code);
        body.push(REFUSED);
        body.push_frame(ZFrame::from_static(CLIENT));
        body.push_frame(ZFrame::new());
        body.push_frame(client);
        self.send(ctx, &mut body).map(drop)
    }

    // ---------------------------------------------------------------- input

    /// The ROUTER is readable: handle up to [`BATCH`] messages.
    pub fn on_readable(&mut self, ctx: &mut Ctx, id: ReaderId) -> zmsg::Result<()> {
        for _ in 0..BATCH {
            let received = match ctx.socket(id) {
                Some(socket) => socket.recv_msg_dontwait(),
                None => return Ok(()),
            };
            match received {
                Ok(msg) => self.handle(ctx, msg)?,
                Err(Error::Again) => break,
                Err(err) => return Err(err),
            }
        }
        if self.clients.any_backlog() {
            self.flush_backlogs(ctx)?;
        }
        Ok(())
    }

    /// Dispatches one message by its header.
    fn handle(&mut self, ctx: &mut Ctx, mut msg: ZMsg) -> zmsg::Result<()> {
        trace!(frames = msg.len(), "received");
        let Some(sender) = msg.pop_frame() else {
            return Ok(());
        };
        if !msg.pop_frame().is_some_and(|f| f.is_empty()) {
            return self.invalid(&sender, "frame 0 is not empty");
        }
        let Some(header) = msg.pop_frame() else {
            return self.invalid(&sender, "no header");
        };
        match header.data() {
            CLIENT => self.client_message(ctx, sender, msg),
            WORKER => self.worker_message(ctx, sender, msg),
            _ => self.invalid(&sender, "unknown protocol header"),
        }
    }

    fn invalid(&mut self, sender: &ZFrame, why: &str) -> zmsg::Result<()> {
        self.global.invalid += 1;
        debug!(peer = %hex(sender.data()), why, "invalid message dropped");
        Ok(())
    }

    // ---------------------------------------------------------------- clients

    /// `msg` = `[service, body...]` from a client.
    fn client_message(&mut self, ctx: &mut Ctx, client: ZFrame, mut msg: ZMsg) -> zmsg::Result<()> {
        if msg.len() < 2 {
            return self.invalid(&client, "client request without a body");
        }
        let Some(service) = msg.pop_frame() else {
            return Ok(());
        };
        if service.is_empty() {
            return self.invalid(&client, "client request for an empty service name");
        }
        let admitted = self.clients.admit(
            client.data(),
            self.settings.max_client_backlog,
            self.settings.max_client_backlog_bytes,
            ctx.now(),
        );
        if !admitted {
            self.total.requests += 1;
            if let Some(record) = self.services.get_mut(service.data()) {
                record.counters.requests += 1;
            }
            return self.refuse(ctx, client, service.data(), msg, CLIENT_FULL);
        }
        if is_mmi(service.data()) {
            self.global.mmi += 1;
            self.clients.settle(client.data());
            let reply = self.mmi(service.data(), &msg);
            return self.deliver(ctx, client, service, reply, None);
        }
        let mut target: Option<Route> = None;
        if let Some(hooks) = self.hooks.as_mut() {
            let action = hooks.on_request(HookRequest {
                service: service.data(),
                client: client.data(),
                body: &mut msg,
            });
            match action {
                HookAction::Forward => {}
                HookAction::Drop => {
                    self.clients.settle(client.data());
                    self.bump(service.data(), Field::Requests);
                    self.bump(service.data(), Field::Drops);
                    return Ok(());
                }
                HookAction::Answer(body) => {
                    self.clients.settle(client.data());
                    self.bump(service.data(), Field::Requests);
                    let name = service.clone();
                    return self.deliver(ctx, client, name, body, Some(service.data()));
                }
                HookAction::Redirect(route) => target = Some(route),
            }
        }
        let deadline = ctx.now() + self.settings.request_expiry;
        let request = Request {
            client,
            body: msg,
            deadline,
            reply_service: None,
        };
        match target {
            None => self.enqueue(ctx, service.data(), request, true),
            Some(Route::Service(other)) => {
                self.bump(service.data(), Field::Requests);
                let request = Request {
                    reply_service: Some(service.data().into()),
                    ..request
                };
                self.enqueue(ctx, &other, request, false)
            }
            Some(Route::Peer(worker)) => {
                self.bump(service.data(), Field::Requests);
                let request = Request {
                    reply_service: Some(service.data().into()),
                    ..request
                };
                self.redirect_to_worker(ctx, &worker, request)
            }
        }
    }

    /// Queues `request` for `service` (creating the service record) and dispatches.
    fn enqueue(
        &mut self,
        ctx: &mut Ctx,
        service: &[u8],
        request: Request,
        count_request: bool,
    ) -> zmsg::Result<()> {
        if !self.services.contains_key(service) {
            self.services.insert(service.into(), Service::default());
        }
        let Some(record) = self.services.get_mut(service) else {
            return Ok(());
        };
        if count_request {
            record.counters.requests += 1;
            self.total.requests += 1;
        }
        if record.requests.len() >= self.settings.max_queue {
            debug!(service = %String::from_utf8_lossy(service), "queue full, request refused");
            self.clients.settle(request.client.data());
            let asked = request.reply_service.as_deref().unwrap_or(service).to_vec();
            return self.refuse(ctx, request.client, &asked, request.body, QUEUE_FULL);
        }
        record.requests.push_back(request);
        self.dispatch(ctx, service)?;
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
        ctx: &mut Ctx,
        identity: &[u8],
        request: Request,
    ) -> zmsg::Result<()> {
        let Some(worker) = self
            .by_identity
            .get(identity)
            .and_then(|key| self.workers.get(key).map(|worker| (*key, worker)))
        else {
            self.total.drops += 1;
            self.clients.settle(request.client.data());
            debug!(worker = %hex(identity), "redirect to an unknown worker, request dropped");
            return Ok(());
        };
        let (key, worker) = worker;
        if worker.idle_token.is_some() {
            return self.send_request(ctx, key, request);
        }
        let service = worker.service.clone();
        match self.services.get_mut(&*service) {
            Some(record) => record.requests.push_front(request),
            None => self.clients.settle(request.client.data()),
        }
        self.dispatch(ctx, &service)
    }

    /// Pairs waiting requests with idle workers of `service` until one side runs out.
    fn dispatch(&mut self, ctx: &mut Ctx, service: &[u8]) -> zmsg::Result<()> {
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
            self.send_request(ctx, key, request)?;
        }
    }

    /// Sends `request` to worker `key`. If the worker cannot be reached it is forgotten and the
    /// request goes back to the front of its queue (the caller's dispatch loop carries on).
    fn send_request(
        &mut self,
        ctx: &mut Ctx,
        key: WorkerKey,
        request: Request,
    ) -> zmsg::Result<()> {
        let Some(worker) = self.workers.get(&key) else {
            return Ok(());
        };
        let mut msg = ZMsg::with_capacity(request.body.len() + 6);
        msg.append_frame(worker.identity.clone());
        msg.append_frame(ZFrame::new());
        msg.append_frame(ZFrame::from_static(WORKER));
        msg.append_frame(Command::Request.frame());
        msg.append_frame(protocol::detached_clone(&request.client));
        msg.append_frame(ZFrame::new());
        for frame in request.body.iter() {
            msg.append_frame(protocol::detached_clone(frame));
        }
        // A worker's pipe is only full if it stopped reading: treat it as unreachable.
        if self.send(ctx, &mut msg)? == Sent::Yes {
            let Some(worker) = self.workers.get_mut(&key) else {
                return Ok(());
            };
            worker.in_flight.push_back(request);
            worker.sent_since_tick = true;
            worker.idle_token = None;
            if worker.has_credit() {
                self.make_idle(key);
            }
            return Ok(());
        }
        let service = self.workers.get(&key).map(|w| w.service.clone());
        self.forget_worker(ctx, key, Gone::Unreachable)?;
        match service.and_then(|s| self.services.get_mut(&*s)) {
            Some(record) => record.requests.push_front(request),
            None => self.clients.settle(request.client.data()),
        }
        Ok(())
    }

    // ---------------------------------------------------------------- workers

    /// `msg` = `[command, rest...]` from a worker-protocol peer.
    fn worker_message(&mut self, ctx: &mut Ctx, sender: ZFrame, mut msg: ZMsg) -> zmsg::Result<()> {
        let Some(command) = msg.pop_frame().as_ref().and_then(Command::from_frame) else {
            return self.invalid(&sender, "unknown or missing worker command");
        };
        let well_formed = match command {
            Command::Ready => !msg.is_empty() && !msg[0].is_empty(),
            Command::Request | Command::Reply => msg.len() >= 3 && msg[1].is_empty(),
            Command::Heartbeat | Command::Disconnect => msg.is_empty(),
        };
        if !well_formed {
            return self.invalid(&sender, "malformed worker command");
        }
        let known = self.by_identity.get(sender.data()).copied();
        match (command, known) {
            (Command::Ready, None) => {
                let Some(service) = msg.pop_frame() else {
                    return Ok(());
                };
                if is_mmi(service.data()) {
                    return self.unexpected(ctx, &sender, None, "READY for an mmi. service");
                }
                let credit = match ready_credit(msg.iter()) {
                    Ok(credit) => credit.min(self.settings.max_worker_credit).max(1),
                    Err(why) => return self.invalid(&sender, &format!("READY: {why}")),
                };
                self.register(ctx, sender, service.data(), credit as usize)
            }
            (Command::Ready, Some(key)) => self.unexpected(ctx, &sender, Some(key), "second READY"),
            (Command::Request, known) => {
                self.unexpected(ctx, &sender, known, "REQUEST from a worker")
            }
            (Command::Reply | Command::Heartbeat, None) => {
                self.unexpected(ctx, &sender, None, "command before READY")
            }
            (Command::Disconnect, None) => Ok(()),
            (Command::Disconnect, Some(key)) => {
                debug!(worker = %hex(sender.data()), "worker disconnected");
                self.forget_worker(ctx, key, Gone::SaidDisconnect)
            }
            (Command::Heartbeat, Some(key)) => {
                if let Some(worker) = self.workers.get(&key) {
                    ctx.reset_ticket(worker.ticket);
                }
                Ok(())
            }
            (Command::Reply, Some(key)) => self.reply(ctx, key, sender, msg),
        }
    }

    /// A valid but unexpected command: DISCONNECT, then forget the worker (if it was one).
    fn unexpected(
        &mut self,
        ctx: &mut Ctx,
        sender: &ZFrame,
        key: Option<WorkerKey>,
        why: &str,
    ) -> zmsg::Result<()> {
        self.global.unexpected += 1;
        debug!(peer = %hex(sender.data()), why, "unexpected worker command, DISCONNECT");
        match key {
            Some(key) => self.forget_worker(ctx, key, Gone::Unexpected),
            None => self
                .send_command(ctx, sender, Command::Disconnect)
                .map(drop),
        }
    }

    /// A valid READY from a new peer, granted `credit` requests at once.
    fn register(
        &mut self,
        ctx: &mut Ctx,
        identity: ZFrame,
        service: &[u8],
        credit: usize,
    ) -> zmsg::Result<()> {
        let key = self.next_key;
        self.next_key += 1;
        let ticket = ctx.add_ticket(move |core: &mut Core, ctx: &mut Ctx, ticket: TicketId| {
            core.on_expired(ctx, key, ticket)
        });
        debug!(worker = %hex(identity.data()), service = %String::from_utf8_lossy(service), credit, "worker ready");
        self.by_identity.insert(identity.data().into(), key);
        // A copy without the connection's metadata: the received frame would make every clone
        // (one per request sent) touch the metadata's reference count, which libzmq's I/O thread
        // also writes.
        let identity = ZFrame::copy_from(identity.data());
        self.workers.insert(
            key,
            WorkerRecord {
                identity,
                service: Arc::from(service),
                ticket,
                in_flight: VecDeque::new(),
                credit,
                idle_token: None,
                sent_since_tick: false,
            },
        );
        if !self.services.contains_key(service) {
            self.services.insert(service.into(), Service::default());
        }
        if let Some(record) = self.services.get_mut(service) {
            record.workers += 1;
            record.ever_had_worker = true;
        }
        self.worker_freed(ctx, key)
    }

    /// Worker `key` can take one more request (it registered or answered one): give it the next
    /// waiting request of its service, or queue it as idle if it is not queued already.
    fn worker_freed(&mut self, ctx: &mut Ctx, key: WorkerKey) -> zmsg::Result<()> {
        let Some(worker) = self.workers.get(&key) else {
            return Ok(());
        };
        let Some(record) = self.services.get_mut(&*worker.service) else {
            return Ok(());
        };
        if let Some(request) = record.requests.pop_front() {
            return self.send_request(ctx, key, request);
        }
        if worker.idle_token.is_none() {
            self.make_idle(key);
        }
        Ok(())
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

    /// `msg` = `[client, "", body...]`, a REPLY from registered worker `key`.
    fn reply(
        &mut self,
        ctx: &mut Ctx,
        key: WorkerKey,
        sender: ZFrame,
        mut msg: ZMsg,
    ) -> zmsg::Result<()> {
        let Some(worker) = self.workers.get_mut(&key) else {
            return Ok(());
        };
        let answered = msg
            .first()
            .and_then(|client| worker.take_answered(client.data()));
        let Some(request) = answered else {
            return self.unexpected(
                ctx,
                &sender,
                Some(key),
                "REPLY for a request it does not hold",
            );
        };
        ctx.reset_ticket(worker.ticket);
        msg.pop_frame();
        msg.pop_frame();
        let worker_service = worker.service.clone();
        let service_frame =
            ZFrame::copy_from(request.reply_service.as_deref().unwrap_or(&worker_service));
        let mut to = request.client;
        if let Some(hooks) = self.hooks.as_mut() {
            let action = hooks.on_reply(HookReply {
                service: &worker_service,
                worker: sender.data(),
                client: to.data(),
                body: &mut msg,
            });
            match action {
                HookAction::Forward => {}
                HookAction::Drop => {
                    self.clients.settle(to.data());
                    self.bump(&worker_service, Field::Drops);
                    return self.worker_freed(ctx, key);
                }
                HookAction::Answer(body) => msg = body,
                HookAction::Redirect(Route::Peer(client)) => {
                    self.clients.settle(to.data());
                    to = ZFrame::from(client);
                    self.worker_freed(ctx, key)?;
                    return self.deliver(ctx, to, service_frame, msg, Some(&worker_service));
                }
                HookAction::Redirect(Route::Service(other)) => {
                    let next = Request {
                        client: to,
                        body: msg,
                        deadline: ctx.now() + self.settings.request_expiry,
                        reply_service: Some(service_frame.data().into()),
                    };
                    self.worker_freed(ctx, key)?;
                    return self.enqueue(ctx, &other, next, false);
                }
            }
        }
        self.clients.settle(to.data());
        self.deliver(ctx, to, service_frame, msg, Some(&worker_service))?;
        self.worker_freed(ctx, key)
    }

    /// Forgets worker `key`: the requests it held go back to the front of its service queue, in
    /// their order, and are dispatched to other workers of that service.
    fn forget_worker(&mut self, ctx: &mut Ctx, key: WorkerKey, why: Gone) -> zmsg::Result<()> {
        let Some(mut worker) = self.workers.remove(&key) else {
            return Ok(());
        };
        self.by_identity.remove(worker.identity.data());
        ctx.remove_ticket(worker.ticket);
        if matches!(why, Gone::Unexpected | Gone::Expired) {
            self.send_command(ctx, &worker.identity, Command::Disconnect)?;
        }
        let field = match why {
            Gone::Expired => Field::WorkerExpiries,
            _ => Field::Disconnects,
        };
        self.total.bump(field);
        let resend = std::mem::take(&mut worker.in_flight);
        let Some(record) = self.services.get_mut(&*worker.service) else {
            for request in resend {
                self.clients.settle(request.client.data());
            }
            return Ok(());
        };
        record.counters.bump(field);
        record.workers = record.workers.saturating_sub(1);
        if resend.is_empty() {
            return Ok(());
        }
        let count = resend.len() as u64;
        record.counters.resends += count;
        self.total.resends += count;
        for request in resend.into_iter().rev() {
            record.requests.push_front(request);
        }
        debug!(worker = %hex(worker.identity.data()), count, "requests resent");
        self.dispatch(ctx, &worker.service)
    }

    /// Worker `key`'s expiry ticket fired.
    fn on_expired(&mut self, ctx: &mut Ctx, key: WorkerKey, ticket: TicketId) -> zmsg::Result<()> {
        ctx.remove_ticket(ticket);
        if self.workers.get(&key).is_some_and(|w| w.ticket == ticket) {
            debug!(worker = key, "worker expired");
            self.forget_worker(ctx, key, Gone::Expired)?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- timers

    /// Every heartbeat interval: HEARTBEAT to workers that got nothing since the last tick, and
    /// expiry of requests that waited too long.
    pub fn on_tick(&mut self, ctx: &mut Ctx) -> zmsg::Result<()> {
        let mut unreachable = Vec::new();
        for (&key, worker) in self.workers.iter_mut() {
            if std::mem::take(&mut worker.sent_since_tick) {
                continue;
            }
            let mut msg = ZMsg::with_capacity(4);
            msg.append_frame(worker.identity.clone());
            msg.append_frame(ZFrame::new());
            msg.append_frame(ZFrame::from_static(WORKER));
            msg.append_frame(Command::Heartbeat.frame());
            let socket = self.router.and_then(|id| ctx.socket(id)).ok_or_else(|| {
                Error::InvalidArgument("the broker's ROUTER socket is gone".into())
            })?;
            match socket.send_msg_ref(&mut msg, SendFlags::DONTWAIT) {
                Ok(()) => {}
                Err(Error::Terminated) => return Err(Error::Terminated),
                Err(Error::Again) => {} // pipe full: the worker is busy reading; no harm
                Err(err) => {
                    debug!(worker = %hex(worker.identity.data()), %err, "heartbeat failed");
                    unreachable.push(key);
                }
            }
        }
        for key in unreachable {
            self.forget_worker(ctx, key, Gone::Unreachable)?;
        }
        self.expire_requests(ctx.now());
        self.clients.sweep();
        Ok(())
    }

    /// Discards queued requests past their deadline and forgets services with nothing left.
    fn expire_requests(&mut self, now: Instant) {
        let mut expired_total = 0;
        let clients = &mut self.clients;
        self.services.retain(|name, service| {
            if !service.requests.is_empty() {
                let before = service.requests.len();
                service.requests.retain(|request| {
                    let keep = request.deadline > now;
                    if !keep {
                        clients.settle(request.client.data());
                    }
                    keep
                });
                let expired = (before - service.requests.len()) as u64;
                if expired > 0 {
                    debug!(service = %String::from_utf8_lossy(name), expired, "requests expired");
                }
                service.counters.expiries += expired;
                expired_total += expired;
            }
            !service.is_disposable()
        });
        self.total.expiries += expired_total;
    }

    /// Sends DISCONNECT to every worker (at shutdown), so they re-register with the next broker.
    pub fn disconnect_all(&mut self, ctx: &mut Ctx) {
        for worker in self.workers.values() {
            if let Err(err) = self.send_command(ctx, &worker.identity, Command::Disconnect) {
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
