//! `ZLoop`: a reactor with socket and file-descriptor readers, timers and tickets, as CZMQ's
//! `zloop`, with the application's state owned by the loop and handed to every handler.
//!
//! - **Readers** ([`LoopCtx::add_reader`], [`LoopCtx::add_fd_reader`]) are called once per poll in
//!   which their socket (or fd) is readable. A handler should read at least one message; it may
//!   drain the socket with the `*_dontwait` calls.
//! - **Timers** ([`LoopCtx::add_timer`]) fire after a delay, a given number of times (`0`:
//!   forever). Due timers fire in deadline order, and in registration order for equal deadlines.
//!   A repeating timer is re-armed at `deadline + delay`, or at `now + delay` when the loop fell
//!   so far behind that this is already past (missed ticks are skipped, never burst).
//! - **Tickets** ([`LoopCtx::add_ticket`]) are one-shot timers that all share one delay
//!   ([`LoopCtx::set_ticket_delay`]), so adding, resetting and removing one is O(1) whatever their
//!   number: the tool for per-peer expiry (heartbeats). A ticket fires once and is then gone,
//!   unless its handler resets it.
//!
//! Within one iteration, handlers run in this order: ready readers (in registration order), then
//! due timers, then expired tickets. Any handler may add or remove any reader, timer or ticket,
//! including itself, and may call [`LoopCtx::stop`], which ends [`ZLoop::run`] before any further
//! handler runs. A handler returning `Err` stops the loop too, and `run` returns that error.
//!
//! [`ZLoop::run`] ends with `Ok` when stopped or when nothing is left to wait for, with
//! [`Error::Terminated`] when a reader's context is shut down, and with [`Error::Interrupted`]
//! once [`crate::signal::interrupted`] is set (after [`crate::install_interrupt_handler`]),
//! unless [`ZLoop::set_nonstop`] says otherwise.
//!
//! In steady state the loop does not allocate: handlers are boxed once when registered, the poll
//! set is rebuilt only when readers change, and ids carry a generation so that a stale id never
//! reaches a slot that has been reused.
//!
//! # Example: an echo server with a heartbeat
//!
//! ```
//! use std::time::Duration;
//! use zmsg::{ZLoop, ZSocket};
//!
//! #[derive(Default)]
//! struct Server {
//!     echoed: usize,
//!     heartbeats: usize,
//! }
//!
//! let server = ZSocket::new_rep("@inproc://zloop-doc-echo")?;
//! let client = ZSocket::new_req(">inproc://zloop-doc-echo")?;
//! client.send_str("hello")?;
//!
//! let mut reactor = ZLoop::new(Server::default());
//! let ctx = reactor.ctx();
//! ctx.add_reader(server, |state, ctx, id| {
//!     let socket = ctx.socket(id).expect("a registered reader has its socket");
//!     let msg = socket.recv_msg()?;
//!     socket.send_msg(msg)?;
//!     state.echoed += 1;
//!     Ok(())
//! });
//! // Every 10 ms: a heartbeat; stop once something was echoed.
//! ctx.add_timer(Duration::from_millis(10), 0, |state, ctx, _timer| {
//!     state.heartbeats += 1;
//!     if state.echoed > 0 {
//!         ctx.stop();
//!     }
//!     Ok(())
//! });
//! reactor.run()?;
//! assert_eq!(client.recv_string()?, "hello");
//! assert_eq!(reactor.state().echoed, 1);
//! assert!(reactor.state().heartbeats >= 1);
//! # Ok::<(), zmsg::Error>(())
//! ```
//!
//! # Writing a broker on ZLoop
//!
//! - Put everything the broker knows (services, workers, waiting requests, a reusable
//!   [`ZMsg`](crate::ZMsg) buffer) in the state `S`. Handlers get `&mut S` and `&mut LoopCtx<S>` side by side, so no
//!   `Rc<RefCell<_>>` is needed.
//! - Register the ROUTER socket with [`LoopCtx::add_reader`] and keep its [`ReaderId`] in the
//!   state; any handler (a heartbeat timer, a ticket) reaches the socket to send with
//!   [`LoopCtx::socket`]. Receive with `recv_msg_into(&mut buffer, RecvFlags::DONTWAIT)` in a loop until
//!   [`Error::Again`] to drain a burst in one call, reusing one buffer.
//! - Give every peer a ticket ([`LoopCtx::add_ticket`], one delay for all, e.g. the heartbeat
//!   expiry) and [`LoopCtx::reset_ticket`] it whenever the peer is heard from: O(1) per message.
//!   When a peer goes silent its ticket fires; forget the peer there. Remove the ticket with
//!   [`LoopCtx::remove_ticket`] when a peer leaves politely.
//! - Send heartbeats from one repeating timer ([`LoopCtx::add_timer`] with `times = 0`).
//! - Never panic on what arrives from the network: return `Ok(())` after dropping a malformed
//!   message, and return `Err` only for what should end the broker.
//! - Run the loop in its own thread (build it there: handlers need not be `Send`), or embed it
//!   with [`ZLoop::run_once`].
//!
//! ```
//! use std::time::Duration;
//! use zmsg::{Error, RecvFlags, ReaderId, TicketId, ZLoop, ZMsg, ZSocket};
//! use std::collections::HashMap;
//!
//! struct Broker {
//!     router: ReaderId,
//!     peers: HashMap<Vec<u8>, TicketId>,
//!     buffer: ZMsg,
//! }
//!
//! let router = ZSocket::new_router("@inproc://zloop-doc-broker")?;
//! let peer = ZSocket::new_dealer(">inproc://zloop-doc-broker")?;
//! peer.send_str("HELLO")?;
//!
//! let mut reactor = ZLoop::new(Broker { router: ReaderId::default(), peers: HashMap::new(), buffer: ZMsg::new() });
//! let (broker, ctx) = reactor.parts();
//! ctx.set_ticket_delay(Duration::from_millis(20)); // peers expire after 20 ms of silence
//! broker.router = ctx.add_reader(router, |broker, ctx, id| {
//!     loop {
//!         match ctx.socket(id).expect("registered").recv_msg_into(&mut broker.buffer, RecvFlags::DONTWAIT) {
//!             Ok(()) => {}
//!             Err(Error::Again) => return Ok(()),
//!             Err(err) => return Err(err),
//!         }
//!         let Some(address) = broker.buffer.first().map(|f| f.to_vec()) else { continue };
//!         match broker.peers.get(&address) {
//!             Some(&ticket) => { ctx.reset_ticket(ticket); }
//!             None => {
//!                 let key = address.clone();
//!                 let ticket = ctx.add_ticket(move |broker, ctx, _ticket| {
//!                     broker.peers.remove(&key); // expired: forget the peer
//!                     if broker.peers.is_empty() { ctx.stop(); }
//!                     Ok(())
//!                 });
//!                 broker.peers.insert(address, ticket);
//!             }
//!         }
//!     }
//! });
//! reactor.run()?; // returns once the only peer has expired
//! assert!(reactor.state().peers.is_empty());
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::signal::{retry_after, OnInterrupt};
use crate::slab::{Key, Slab};
use crate::socket::{Events, ZSocket};

type ReaderFn<S> = Box<dyn FnMut(&mut S, &mut LoopCtx<S>, ReaderId) -> Result<()>>;
type TimerFn<S> = Box<dyn FnMut(&mut S, &mut LoopCtx<S>, TimerId) -> Result<()>>;
type TicketFn<S> = Box<dyn FnMut(&mut S, &mut LoopCtx<S>, TicketId) -> Result<()>>;

/// Far enough in the future to mean "never", without overflowing `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Identifies a reader registered on a [`ZLoop`]. Ids of removed readers never match a later
/// reader, even one that reuses the same slot. `ReaderId::default()` matches no reader.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Default)]
pub struct ReaderId(Key);

/// Identifies a timer registered on a [`ZLoop`]. `TimerId::default()` matches no timer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Default)]
pub struct TimerId(Key);

/// Identifies a ticket registered on a [`ZLoop`]. `TicketId::default()` matches no ticket.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Default)]
pub struct TicketId(Key);

struct Reader<S> {
    /// Left out of the poll set until resumed.
    paused: bool,
    socket: Option<ZSocket>,
    fd: zmsg_sys::zmq_fd_t,
    /// `None` while the handler runs (it is taken out of its slot for the call).
    handler: Option<ReaderFn<S>>,
}

struct Timer<S> {
    delay: Duration,
    /// Firings left; 0 = forever.
    times: usize,
    seq: u64,
    handler: Option<TimerFn<S>>,
}

/// One scheduled firing in the timer heap; stale once its timer is removed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct TimerEntry {
    deadline: Instant,
    seq: u64,
    id: TimerId,
}

struct Ticket<S> {
    /// In the deadline-ordered list (false while the ticket's own handler runs).
    linked: bool,
    armed_at: Instant,
    /// The loop iteration in which the ticket was (re)armed: such tickets do not fire in the
    /// same iteration, so a zero delay cannot spin.
    armed_iter: u64,
    prev: Option<TicketId>,
    next: Option<TicketId>,
    handler: Option<TicketFn<S>>,
}

fn deadline_after(at: Instant, delay: Duration) -> Instant {
    at.checked_add(delay)
        .or_else(|| at.checked_add(FAR_FUTURE))
        .unwrap_or(at)
}

/// The registrations of a [`ZLoop`] and its controls, handed to every handler next to the state.
pub struct LoopCtx<S> {
    readers: Slab<Reader<S>>,
    /// Live readers in registration order: the poll set is built from it.
    reader_order: Vec<ReaderId>,
    items: Vec<zmsg_sys::zmq_pollitem_t>,
    item_ids: Vec<ReaderId>,
    items_dirty: bool,
    /// The interrupt pipe, polled as the last item (see `crate::signal`), unless nonstop.
    interrupt_item: Option<zmsg_sys::zmq_fd_t>,

    timers: Slab<Timer<S>>,
    timer_seq: u64,
    heap: BinaryHeap<Reverse<TimerEntry>>,
    due: Vec<TimerEntry>,

    tickets: Slab<Ticket<S>>,
    /// The list of armed tickets, in deadline order.
    ticket_head: Option<TicketId>,
    ticket_tail: Option<TicketId>,
    ticket_delay: Duration,

    now: Instant,
    iteration: u64,
    stopped: bool,
}

impl<S> LoopCtx<S> {
    fn new() -> Self {
        LoopCtx {
            readers: Slab::new(),
            reader_order: Vec::new(),
            items: Vec::new(),
            item_ids: Vec::new(),
            items_dirty: false,
            interrupt_item: None,
            timers: Slab::new(),
            timer_seq: 0,
            heap: BinaryHeap::new(),
            due: Vec::new(),
            tickets: Slab::new(),
            ticket_head: None,
            ticket_tail: None,
            ticket_delay: Duration::from_secs(1),
            now: Instant::now(),
            iteration: 0,
            stopped: false,
        }
    }

    // ----- readers -----

    /// Registers `socket` (moved into the loop) and calls `handler` whenever it is readable.
    /// Get the socket back with [`LoopCtx::remove_reader`], or borrow it with
    /// [`LoopCtx::socket`].
    pub fn add_reader<F>(&mut self, socket: ZSocket, handler: F) -> ReaderId
    where
        F: FnMut(&mut S, &mut LoopCtx<S>, ReaderId) -> Result<()> + 'static,
    {
        self.insert_reader(Some(socket), 0 as _, Box::new(handler))
    }

    /// Registers a raw file descriptor (a Windows `SOCKET` on Windows) and calls `handler`
    /// whenever it is readable or in error (`POLLIN`/`POLLERR`). The loop does not own the fd;
    /// the handler must consume what made it ready, or the loop calls it again at once.
    pub fn add_fd_reader<F>(&mut self, fd: zmsg_sys::zmq_fd_t, handler: F) -> ReaderId
    where
        F: FnMut(&mut S, &mut LoopCtx<S>, ReaderId) -> Result<()> + 'static,
    {
        self.insert_reader(None, fd, Box::new(handler))
    }

    fn insert_reader(
        &mut self,
        socket: Option<ZSocket>,
        fd: zmsg_sys::zmq_fd_t,
        handler: ReaderFn<S>,
    ) -> ReaderId {
        let id = ReaderId(self.readers.insert(Reader {
            paused: false,
            socket,
            fd,
            handler: Some(handler),
        }));
        self.reader_order.push(id);
        self.items_dirty = true;
        id
    }

    fn reader(&self, id: ReaderId) -> Option<&Reader<S>> {
        self.readers.get(id.0)
    }

    /// Unregisters a reader (it is not called again, even if it was ready in the current
    /// iteration) and gives its socket back; `None` for fd readers and unknown ids.
    pub fn remove_reader(&mut self, id: ReaderId) -> Option<ZSocket> {
        // Drops the handler unless it is the one running now (then the dispatcher drops it).
        let reader = self.readers.remove(id.0)?;
        if let Some(pos) = self.reader_order.iter().position(|r| *r == id) {
            self.reader_order.remove(pos);
        }
        self.items_dirty = true;
        reader.socket
    }

    /// Stops polling a reader without removing it: its handler is not called (even if it was
    /// ready in the current iteration) until [`LoopCtx::resume_reader`]. Messages wait in the
    /// socket meanwhile, which is how a broker applies backpressure to one side. Returns false
    /// for unknown ids.
    pub fn pause_reader(&mut self, id: ReaderId) -> bool {
        self.set_paused(id, true)
    }

    /// Polls a paused reader again. Returns false for unknown ids.
    pub fn resume_reader(&mut self, id: ReaderId) -> bool {
        self.set_paused(id, false)
    }

    /// True while `id` is registered and paused.
    pub fn is_paused(&self, id: ReaderId) -> bool {
        self.reader(id).is_some_and(|reader| reader.paused)
    }

    fn set_paused(&mut self, id: ReaderId, paused: bool) -> bool {
        let Some(reader) = self.readers.get_mut(id.0) else {
            return false;
        };
        if reader.paused != paused {
            reader.paused = paused;
            self.items_dirty = true;
        }
        true
    }

    /// The socket of a registered reader (`None` for fd readers and unknown ids).
    pub fn socket(&self, id: ReaderId) -> Option<&ZSocket> {
        self.reader(id)?.socket.as_ref()
    }

    /// True while `id` is registered.
    pub fn has_reader(&self, id: ReaderId) -> bool {
        self.reader(id).is_some()
    }

    /// The number of registered readers.
    pub fn reader_count(&self) -> usize {
        self.readers.len()
    }

    fn rebuild_items(&mut self) {
        self.items.clear();
        self.item_ids.clear();
        for &id in &self.reader_order {
            let reader = &self.readers[id.0];
            if reader.paused {
                continue;
            }
            let (socket, fd, events) = match &reader.socket {
                Some(socket) => (socket.as_ptr(), 0 as _, Events::POLLIN.bits()),
                None => (
                    std::ptr::null_mut(),
                    reader.fd,
                    (Events::POLLIN | Events::POLLERR).bits(),
                ),
            };
            self.items.push(zmsg_sys::zmq_pollitem_t {
                socket,
                fd,
                events,
                revents: 0,
            });
            self.item_ids.push(id);
        }
        if let Some(fd) = self.interrupt_item {
            // ReaderId::default() matches no reader, so dispatch never calls anything for it.
            self.items.push(zmsg_sys::zmq_pollitem_t {
                socket: std::ptr::null_mut(),
                fd,
                events: Events::POLLIN.bits(),
                revents: 0,
            });
            self.item_ids.push(ReaderId::default());
        }
        self.items_dirty = false;
    }

    // ----- timers -----

    /// Calls `handler` after `delay`, `times` times (`0`: until removed), every `delay`.
    pub fn add_timer<F>(&mut self, delay: Duration, times: usize, handler: F) -> TimerId
    where
        F: FnMut(&mut S, &mut LoopCtx<S>, TimerId) -> Result<()> + 'static,
    {
        let seq = self.timer_seq;
        self.timer_seq += 1;
        let id = TimerId(self.timers.insert(Timer {
            delay,
            times,
            seq,
            handler: Some(Box::new(handler)),
        }));
        self.heap.push(Reverse(TimerEntry {
            deadline: deadline_after(self.now, delay),
            seq,
            id,
        }));
        id
    }

    /// Cancels a timer; returns false if it was not registered (already gone or never was).
    pub fn remove_timer(&mut self, id: TimerId) -> bool {
        // Drops the handler unless it is the one running now (then the dispatcher drops it).
        if self.timers.remove(id.0).is_none() {
            return false;
        }
        // Lazy deletion leaves stale heap entries; keep them from piling up.
        if self.heap.len() > 64 && self.heap.len() > 2 * self.timers.len() {
            let timers = &self.timers;
            self.heap
                .retain(|Reverse(entry)| timers.contains(entry.id.0));
        }
        true
    }

    /// True while `id` is registered.
    pub fn has_timer(&self, id: TimerId) -> bool {
        self.timers.contains(id.0)
    }

    /// The number of registered timers.
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    // ----- tickets -----

    /// Sets the delay shared by all tickets (1 second by default). Tickets already armed keep
    /// their order and now expire at their last (re)arming time plus the new delay.
    pub fn set_ticket_delay(&mut self, delay: Duration) {
        self.ticket_delay = delay;
    }

    /// The delay shared by all tickets.
    pub fn ticket_delay(&self) -> Duration {
        self.ticket_delay
    }

    /// Adds a one-shot ticket that calls `handler` once the ticket delay has passed without a
    /// [`LoopCtx::reset_ticket`]. After its handler ran the ticket is gone, unless the handler
    /// reset it. O(1).
    pub fn add_ticket<F>(&mut self, handler: F) -> TicketId
    where
        F: FnMut(&mut S, &mut LoopCtx<S>, TicketId) -> Result<()> + 'static,
    {
        let id = TicketId(self.tickets.insert(Ticket {
            linked: false,
            armed_at: self.now,
            armed_iter: self.iteration,
            prev: None,
            next: None,
            handler: Some(Box::new(handler)),
        }));
        self.link_ticket(id);
        id
    }

    /// Arms the ticket at `now` and appends it at the tail: all tickets share one delay, so the
    /// list stays in deadline order.
    fn link_ticket(&mut self, id: TicketId) {
        let tail = self.ticket_tail.replace(id);
        let ticket = &mut self.tickets[id.0];
        ticket.armed_at = self.now;
        ticket.armed_iter = self.iteration;
        ticket.linked = true;
        ticket.prev = tail;
        ticket.next = None;
        match tail {
            Some(tail) => self.tickets[tail.0].next = Some(id),
            None => self.ticket_head = Some(id),
        }
    }

    fn unlink_ticket(&mut self, id: TicketId) {
        let ticket = &mut self.tickets[id.0];
        if !ticket.linked {
            return;
        }
        ticket.linked = false;
        let (prev, next) = (ticket.prev.take(), ticket.next.take());
        match prev {
            Some(prev) => self.tickets[prev.0].next = next,
            None => self.ticket_head = next,
        }
        match next {
            Some(next) => self.tickets[next.0].prev = prev,
            None => self.ticket_tail = prev,
        }
    }

    /// Restarts a ticket's delay from now (O(1)). From inside its own handler, this re-arms a
    /// ticket that just fired. Returns false if the ticket is not registered.
    pub fn reset_ticket(&mut self, id: TicketId) -> bool {
        if !self.has_ticket(id) {
            return false;
        }
        self.unlink_ticket(id);
        self.link_ticket(id);
        true
    }

    /// Cancels a ticket (O(1)); returns false if it was not registered.
    pub fn remove_ticket(&mut self, id: TicketId) -> bool {
        if !self.has_ticket(id) {
            return false;
        }
        self.unlink_ticket(id);
        // Drops the handler unless it is the one running now (then the dispatcher drops it).
        self.tickets.remove(id.0);
        true
    }

    /// True while `id` is registered.
    pub fn has_ticket(&self, id: TicketId) -> bool {
        self.tickets.contains(id.0)
    }

    /// The number of registered tickets.
    pub fn ticket_count(&self) -> usize {
        self.tickets.len()
    }

    // ----- control -----

    /// Stops the loop: no further handler runs in this iteration and [`ZLoop::run`] returns
    /// `Ok(())`.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// True once [`LoopCtx::stop`] was called in the current (or last) run.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The loop's clock: the time the last poll returned (or the last [`ZLoop::ctx`] call).
    /// Timers and tickets added by handlers count their delay from it.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Nothing can ever wake the loop: no polled reader, no timer, no ticket.
    fn is_idle(&self) -> bool {
        self.timers.len() == 0
            && self.tickets.len() == 0
            && self.readers.iter().all(|(_, reader)| reader.paused)
    }

    /// The earliest timer or ticket deadline, dropping stale timer entries on the way.
    fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.timers.contains(top.id.0) {
                break;
            }
            self.heap.pop();
        }
        let timer = self.heap.peek().map(|Reverse(e)| e.deadline);
        let ticket = self
            .ticket_head
            .map(|head| deadline_after(self.tickets[head.0].armed_at, self.ticket_delay));
        match (timer, ticket) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- dispatch -----

    fn dispatch_readers(&mut self, state: &mut S) -> Result<()> {
        // The poll set is not rebuilt during dispatch (only before the next poll), so indices
        // stay valid while handlers add and remove readers; ids catch removed ones.
        for index in 0..self.items.len() {
            if self.items[index].revents == 0 {
                continue;
            }
            let id = self.item_ids[index];
            let Some(reader) = self.readers.get_mut(id.0).filter(|r| !r.paused) else {
                continue;
            };
            let Some(mut handler) = reader.handler.take() else {
                continue;
            };
            let result = handler(state, self, id);
            // Put the handler back unless the reader was removed meanwhile (the slot may even
            // hold a new reader by now: its generation differs).
            if let Some(reader) = self.readers.get_mut(id.0) {
                reader.handler = Some(handler);
            }
            result?;
            if self.stopped {
                break;
            }
        }
        Ok(())
    }

    fn dispatch_timers(&mut self, state: &mut S) -> Result<()> {
        let now = self.now;
        self.due.clear();
        while let Some(&Reverse(top)) = self.heap.peek() {
            if top.deadline > now {
                break;
            }
            self.heap.pop();
            if self.timers.contains(top.id.0) {
                self.due.push(top);
            }
        }
        // Only timers due before this pass fire in it: a zero-delay repeat waits for the next.
        let mut index = 0;
        let mut result = Ok(());
        while index < self.due.len() {
            let entry = self.due[index];
            index += 1;
            result = self.fire_timer(state, entry);
            if result.is_err() || self.stopped {
                break;
            }
        }
        // Re-queue what a stop or an error kept from firing.
        for i in index..self.due.len() {
            let entry = self.due[i];
            if self.timers.contains(entry.id.0) {
                self.heap.push(Reverse(entry));
            }
        }
        self.due.clear();
        result
    }

    fn fire_timer(&mut self, state: &mut S, entry: TimerEntry) -> Result<()> {
        let id = entry.id;
        // None when removed by an earlier handler of this pass.
        let Some(mut handler) = self.timers.get_mut(id.0).and_then(|t| t.handler.take()) else {
            return Ok(());
        };
        let result = handler(state, self, id);
        let now = self.now;
        if let Some(timer) = self.timers.get_mut(id.0) {
            if timer.times == 1 {
                self.remove_timer(id); // that was its last firing; drops nothing running
            } else {
                if timer.times > 1 {
                    timer.times -= 1;
                }
                timer.handler = Some(handler);
                let mut deadline = deadline_after(entry.deadline, timer.delay);
                if deadline <= now {
                    deadline = deadline_after(now, timer.delay);
                }
                self.heap.push(Reverse(TimerEntry {
                    deadline,
                    seq: timer.seq,
                    id,
                }));
            }
        }
        result
    }

    fn dispatch_tickets(&mut self, state: &mut S) -> Result<()> {
        while let Some(id) = self.ticket_head {
            let ticket = &self.tickets[id.0];
            if ticket.armed_iter == self.iteration
                || deadline_after(ticket.armed_at, self.ticket_delay) > self.now
            {
                break;
            }
            self.unlink_ticket(id);
            let Some(mut handler) = self.tickets[id.0].handler.take() else {
                self.tickets.remove(id.0);
                continue;
            };
            let result = handler(state, self, id);
            if let Some(ticket) = self.tickets.get_mut(id.0) {
                if ticket.linked {
                    // The handler reset its own ticket: it stays, with its handler.
                    ticket.handler = Some(handler);
                } else {
                    self.tickets.remove(id.0);
                }
            }
            result?;
            if self.stopped {
                break;
            }
        }
        Ok(())
    }
}

impl<S> fmt::Debug for LoopCtx<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopCtx")
            .field("readers", &self.reader_count())
            .field("timers", &self.timers.len())
            .field("tickets", &self.tickets.len())
            .field("ticket_delay", &self.ticket_delay)
            .field("stopped", &self.stopped)
            .finish()
    }
}

/// A reactor that owns the application's state `S` and its registered sockets; see the
/// [module documentation](self).
pub struct ZLoop<S> {
    state: S,
    ctx: LoopCtx<S>,
    nonstop: bool,
}

impl<S: Default> Default for ZLoop<S> {
    fn default() -> Self {
        ZLoop::new(S::default())
    }
}

impl<S> fmt::Debug for ZLoop<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZLoop")
            .field("ctx", &self.ctx)
            .field("nonstop", &self.nonstop)
            .finish()
    }
}

impl<S> ZLoop<S> {
    /// A loop with nothing registered, owning `state`.
    pub fn new(state: S) -> Self {
        ZLoop {
            state,
            ctx: LoopCtx::new(),
            nonstop: false,
        }
    }

    /// The state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The state, mutably.
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }

    /// Consumes the loop (closing its readers' sockets) and returns the state.
    pub fn into_state(self) -> S {
        self.state
    }

    /// The registrations, to add readers, timers and tickets before [`ZLoop::run`]. Refreshes the
    /// loop's clock, so delays count from this call.
    pub fn ctx(&mut self) -> &mut LoopCtx<S> {
        self.ctx.now = Instant::now();
        &mut self.ctx
    }

    /// The state and the registrations at once (refreshes the clock as [`ZLoop::ctx`] does).
    pub fn parts(&mut self) -> (&mut S, &mut LoopCtx<S>) {
        self.ctx.now = Instant::now();
        (&mut self.state, &mut self.ctx)
    }

    /// With `nonstop`, the loop ignores [`crate::signal::interrupted`] (as CZMQ's
    /// `zloop_set_nonstop`): only a handler, an error or context termination ends it.
    pub fn set_nonstop(&mut self, nonstop: bool) {
        self.nonstop = nonstop;
    }

    /// Runs until a handler calls [`LoopCtx::stop`] (`Ok`), a handler returns `Err` (that
    /// error), a reader's context is terminated ([`Error::Terminated`]), the process is
    /// interrupted ([`Error::Interrupted`]), or nothing is left registered (`Ok`).
    ///
    /// The interrupted flag is checked before every poll, and the poll also watches
    /// [`crate::signal::interrupt_fd`], so a signal ends the run at once, whichever thread it
    /// was delivered to and whenever it lands.
    pub fn run(&mut self) -> Result<()> {
        self.ctx.stopped = false;
        loop {
            if !self.nonstop && crate::signal::interrupted() {
                return Err(Error::Interrupted);
            }
            if self.ctx.is_idle() {
                return Ok(());
            }
            self.iterate(None)?;
            if self.ctx.stopped {
                return Ok(());
            }
        }
    }

    /// Polls once, waiting at most `timeout` (`None`: until something is ready or due), then runs
    /// the handlers of what is ready and due. For tests and for embedding the loop in another.
    /// Returns at once when nothing is registered and `timeout` is `None`.
    pub fn run_once(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.ctx.stopped = false;
        self.iterate(timeout)
    }

    fn iterate(&mut self, limit: Option<Duration>) -> Result<()> {
        let on_interrupt = if self.nonstop {
            OnInterrupt::KeepRunning
        } else {
            OnInterrupt::Stop
        };
        let ctx = &mut self.ctx;
        let interrupt = if self.nonstop {
            None
        } else {
            crate::signal::interrupt_fd()
        };
        if interrupt != ctx.interrupt_item {
            ctx.interrupt_item = interrupt;
            ctx.items_dirty = true;
        }
        if ctx.items_dirty {
            ctx.rebuild_items();
        }
        let next_deadline = ctx.next_deadline();
        let limit_deadline = limit.map(|limit| deadline_after(Instant::now(), limit));
        let wake_at = match (next_deadline, limit_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ready = loop {
            let timeout_ms: i64 = match wake_at {
                None if ctx.items.len() == usize::from(ctx.interrupt_item.is_some()) => {
                    return Ok(())
                }
                None => -1,
                Some(at) => {
                    // Round up, so that the poll never returns just before the deadline and
                    // spins; clamp for libzmq's `long` (which sleeps in µs without items).
                    let wait = at.saturating_duration_since(Instant::now());
                    let ms = wait.as_nanos().div_ceil(1_000_000);
                    let max = if ctx.items.is_empty() {
                        2_000_000
                    } else {
                        i32::MAX as u128
                    };
                    ms.min(max) as i64
                }
            };
            // SAFETY: every item points at a live socket owned by a registered reader (the set
            // was rebuilt after the last change) or at a caller's fd; the pointer and length
            // describe the Vec exactly.
            let rc = unsafe {
                zmsg_sys::zmq_poll(
                    ctx.items.as_mut_ptr(),
                    ctx.items.len() as _,
                    timeout_ms as _,
                )
            };
            if rc >= 0 {
                break rc;
            }
            match Error::last() {
                err if retry_after(&err, on_interrupt) => continue,
                err => return Err(err),
            }
        };
        if ctx.interrupt_item.is_some() && ctx.items.last().is_some_and(|item| item.revents != 0) {
            return Err(Error::Interrupted);
        }
        ctx.now = Instant::now();
        ctx.iteration += 1;
        let state = &mut self.state;
        if ready > 0 {
            ctx.dispatch_readers(state)?;
            if ctx.stopped {
                return Ok(());
            }
        }
        ctx.dispatch_timers(state)?;
        if ctx.stopped {
            return Ok(());
        }
        ctx.dispatch_tickets(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SocketType, ZContext};
    use std::cell::RefCell;
    use std::rc::Rc;

    const BOUND: Duration = Duration::from_secs(10);

    /// A timer that fails the run if the test has not finished within [`BOUND`].
    fn guard<S>(ctx: &mut LoopCtx<S>) -> TimerId {
        ctx.add_timer(BOUND, 1, |_, _, _| {
            Err(Error::InvalidArgument("the test timed out".into()))
        })
    }

    fn pair(name: &str) -> (ZSocket, ZSocket) {
        let endpoint = format!("inproc://zloop-{name}-{}", std::process::id());
        let a = ZSocket::new_pair(&format!("@{endpoint}")).unwrap();
        let b = ZSocket::new_pair(&format!(">{endpoint}")).unwrap();
        (a, b)
    }

    fn wait_readable(socket: &ZSocket) {
        assert!(!socket.poll(Events::POLLIN, Some(BOUND)).unwrap().is_empty());
    }

    #[test]
    fn empty_loop_returns_at_once() {
        let mut reactor = ZLoop::new(());
        reactor.run().unwrap();
        reactor.run_once(None).unwrap();
        reactor.run_once(Some(Duration::ZERO)).unwrap();
    }

    #[test]
    fn timers_fire_in_deadline_then_registration_order() {
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        for (name, ms) in [("c", 30), ("a1", 10), ("b", 20), ("a2", 10), ("z", 0)] {
            ctx.add_timer(
                Duration::from_millis(ms),
                1,
                move |log: &mut Vec<_>, _, _| {
                    log.push(name);
                    Ok(())
                },
            );
        }
        reactor.run().unwrap(); // ends when no timer is left
        assert_eq!(reactor.state(), &["z", "a1", "a2", "b", "c"]);
        assert_eq!(reactor.ctx().timer_count(), 0);
    }

    #[test]
    fn equal_deadlines_fire_in_registration_order() {
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        for i in 0..50 {
            ctx.add_timer(
                Duration::from_millis(5),
                1,
                move |log: &mut Vec<_>, _, _| {
                    log.push(i);
                    Ok(())
                },
            );
        }
        reactor.run().unwrap();
        assert_eq!(reactor.into_state(), (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn repeat_counts_and_forever_timers() {
        #[derive(Default)]
        struct Counts {
            thrice: usize,
            forever: usize,
        }
        let mut reactor = ZLoop::new(Counts::default());
        let ctx = reactor.ctx();
        let thrice = ctx.add_timer(Duration::from_millis(1), 3, |c: &mut Counts, _, _| {
            c.thrice += 1;
            Ok(())
        });
        ctx.add_timer(Duration::from_millis(2), 0, |c: &mut Counts, ctx, _| {
            c.forever += 1;
            if c.forever == 10 {
                ctx.stop();
            }
            Ok(())
        });
        guard(ctx);
        reactor.run().unwrap();
        assert_eq!(reactor.state().thrice, 3);
        assert_eq!(reactor.state().forever, 10);
        assert!(!reactor.ctx().has_timer(thrice), "a finished timer is gone");
        assert!(!reactor.ctx().remove_timer(thrice));
        assert_eq!(reactor.ctx().timer_count(), 2); // the forever timer and the guard
    }

    #[test]
    fn many_timers_fire_in_order_and_removed_ones_never() {
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        let mut removed = Vec::new();
        for i in 0..2000u64 {
            let delay = (i * 7) % 40;
            let id = ctx.add_timer(
                Duration::from_millis(delay),
                1,
                move |log: &mut Vec<_>, _, _| {
                    log.push((delay, i));
                    Ok(())
                },
            );
            if i % 3 == 0 {
                removed.push(id);
            }
        }
        for id in removed {
            assert!(ctx.remove_timer(id));
        }
        // Stale heap entries are compacted rather than left to pile up.
        assert!(ctx.heap.len() <= 2 * ctx.timer_count() + 64);
        reactor.run().unwrap();
        let log = reactor.into_state();
        let mut expected: Vec<_> = (0..2000u64)
            .filter(|i| i % 3 != 0)
            .map(|i| ((i * 7) % 40, i))
            .collect();
        expected.sort();
        assert_eq!(log, expected);
    }

    #[test]
    fn zero_delay_additions_wait_for_the_next_iteration() {
        let mut reactor = ZLoop::new(Vec::new());
        reactor
            .ctx()
            .add_timer(Duration::ZERO, 1, |log: &mut Vec<_>, ctx, _| {
                log.push("first");
                ctx.add_timer(Duration::ZERO, 1, |log: &mut Vec<_>, _, _| {
                    log.push("second");
                    Ok(())
                });
                Ok(())
            });
        reactor.run_once(Some(BOUND)).unwrap();
        assert_eq!(reactor.state(), &["first"]);
        reactor.run_once(Some(BOUND)).unwrap();
        assert_eq!(reactor.state(), &["first", "second"]);

        // A zero-delay forever timer fires once per iteration, it does not spin.
        let mut reactor = ZLoop::new(0usize);
        reactor
            .ctx()
            .add_timer(Duration::ZERO, 0, |n: &mut usize, _, _| {
                *n += 1;
                Ok(())
            });
        reactor.run_once(Some(BOUND)).unwrap();
        reactor.run_once(Some(BOUND)).unwrap();
        assert_eq!(*reactor.state(), 2);
    }

    #[test]
    fn tickets_expire_in_order_with_reset_and_remove() {
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        ctx.set_ticket_delay(Duration::from_millis(20));
        let add = |ctx: &mut LoopCtx<Vec<&'static str>>, name: &'static str| {
            ctx.add_ticket(move |log: &mut Vec<_>, _, _| {
                log.push(name);
                Ok(())
            })
        };
        let a = add(ctx, "a");
        let b = add(ctx, "b");
        let c = add(ctx, "c");
        let d = add(ctx, "d");
        assert!(ctx.reset_ticket(a)); // a moves behind d
        assert!(ctx.remove_ticket(b));
        assert!(!ctx.remove_ticket(b));
        assert!(!ctx.reset_ticket(b));
        assert_eq!(ctx.ticket_count(), 3);
        reactor.run().unwrap();
        assert_eq!(reactor.state(), &["c", "d", "a"]);
        let ctx = reactor.ctx();
        assert_eq!(ctx.ticket_count(), 0);
        assert!(
            !ctx.has_ticket(c) && !ctx.reset_ticket(d),
            "fired tickets are gone"
        );
    }

    #[test]
    fn many_tickets_keep_their_list_intact() {
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        ctx.set_ticket_delay(Duration::from_millis(5));
        let ids: Vec<_> = (0..1000)
            .map(|i| {
                ctx.add_ticket(move |log: &mut Vec<_>, _, _| {
                    log.push(i);
                    Ok(())
                })
            })
            .collect();
        for (i, id) in ids.iter().enumerate() {
            if i % 2 == 1 {
                assert!(ctx.remove_ticket(*id));
            } else if i % 4 == 0 {
                assert!(ctx.reset_ticket(*id));
            }
        }
        reactor.run().unwrap();
        let expected: Vec<_> = (0..1000)
            .filter(|i| i % 4 == 2)
            .chain((0..1000).filter(|i| i % 4 == 0))
            .collect();
        assert_eq!(reactor.into_state(), expected);
    }

    #[test]
    fn reset_tickets_postpone_expiry_and_handlers_may_rearm() {
        struct State {
            log: Vec<&'static str>,
            ticket: TicketId,
            rearmed: bool,
        }
        let mut reactor = ZLoop::new(State {
            log: Vec::new(),
            ticket: TicketId::default(),
            rearmed: false,
        });
        let (state, ctx) = reactor.parts();
        ctx.set_ticket_delay(Duration::from_millis(30));
        state.ticket = ctx.add_ticket(|s: &mut State, ctx, id| {
            s.log.push("expired");
            if !s.rearmed {
                s.rearmed = true;
                assert!(ctx.reset_ticket(id), "a firing ticket can re-arm itself");
            }
            Ok(())
        });
        // Keep the ticket alive three times; timers run before tickets in an iteration, so a
        // reset always wins over an expiry that became due at the same time.
        ctx.add_timer(Duration::from_millis(5), 3, |s: &mut State, ctx, _| {
            s.log.push("heard");
            assert!(ctx.reset_ticket(s.ticket));
            Ok(())
        });
        reactor.run().unwrap();
        assert_eq!(
            reactor.state().log,
            ["heard", "heard", "heard", "expired", "expired"]
        );
        assert_eq!(reactor.ctx().ticket_count(), 0);
    }

    #[test]
    fn set_ticket_delay_keeps_armed_tickets_in_order() {
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        ctx.set_ticket_delay(Duration::from_secs(3600));
        for name in ["x", "y"] {
            ctx.add_ticket(move |log: &mut Vec<_>, _, _| {
                log.push(name);
                Ok(())
            });
        }
        ctx.set_ticket_delay(Duration::from_millis(1));
        guard(ctx);
        // The guard (10 s) is far off; the tickets are due within a millisecond.
        reactor.run_once(Some(BOUND)).unwrap();
        while reactor.state().len() < 2 {
            reactor.run_once(Some(BOUND)).unwrap();
        }
        assert_eq!(reactor.state(), &["x", "y"]);
    }

    #[test]
    fn reader_receives_every_message() {
        let (server, client) = pair("readers");
        for i in 0..5 {
            client.send_str(&format!("m{i}")).unwrap();
        }
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        ctx.add_reader(server, |got: &mut Vec<String>, ctx, id| {
            got.push(ctx.socket(id).unwrap().recv_string()?);
            if got.len() == 5 {
                ctx.stop();
            }
            Ok(())
        });
        guard(ctx);
        reactor.run().unwrap();
        assert_eq!(reactor.state(), &["m0", "m1", "m2", "m3", "m4"]);
    }

    #[test]
    fn paused_readers_are_not_called_until_resumed() {
        let (server, client) = pair("paused");
        client.send_str("waiting").unwrap();
        wait_readable(&server);
        // (calls while paused, what the reader got)
        let mut reactor = ZLoop::new((0usize, Vec::<String>::new()));
        let (_, ctx) = reactor.parts();
        let reader = ctx.add_reader(server, |(_, got), ctx, id| {
            got.push(ctx.socket(id).unwrap().recv_string()?);
            ctx.stop();
            Ok(())
        });
        assert!(ctx.pause_reader(reader));
        assert!(ctx.is_paused(reader));
        // Three timer ticks while the message waits; then resume.
        ctx.add_timer(Duration::from_millis(1), 3, move |(ticks, got), ctx, _| {
            assert!(got.is_empty(), "a paused reader was called");
            *ticks += 1;
            if *ticks == 3 {
                assert!(ctx.resume_reader(reader));
            }
            Ok(())
        });
        guard(ctx);
        reactor.run().unwrap();
        assert_eq!(reactor.state().0, 3);
        assert_eq!(reactor.state().1, ["waiting"]);
        assert!(!reactor.ctx().pause_reader(ReaderId::default()));
    }

    #[test]
    fn ready_readers_run_in_registration_order_before_timers() {
        let (a, to_a) = pair("order-a");
        let (b, to_b) = pair("order-b");
        to_b.send_str("b").unwrap();
        to_a.send_str("a").unwrap();
        wait_readable(&a);
        wait_readable(&b);
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        for socket in [a, b] {
            ctx.add_reader(socket, |log: &mut Vec<String>, ctx, id| {
                log.push(ctx.socket(id).unwrap().recv_string()?);
                Ok(())
            });
        }
        ctx.add_timer(Duration::ZERO, 1, |log: &mut Vec<String>, _, _| {
            log.push("timer".into());
            Ok(())
        });
        ctx.set_ticket_delay(Duration::ZERO);
        ctx.add_ticket(|log: &mut Vec<String>, _, _| {
            log.push("ticket".into());
            Ok(())
        });
        reactor.run_once(Some(BOUND)).unwrap();
        assert_eq!(reactor.state(), &["a", "b", "timer", "ticket"]);
    }

    #[test]
    fn handlers_add_and_remove_readers_including_themselves() {
        struct State {
            spare: Option<ZSocket>,
            removed: Option<ZSocket>,
            log: Vec<String>,
        }
        let (a, to_a) = pair("swap-a");
        let (b, to_b) = pair("swap-b");
        for _ in 0..3 {
            to_a.send_str("for a").unwrap();
        }
        to_b.send_str("for b").unwrap();
        let mut reactor = ZLoop::new(State {
            spare: Some(b),
            removed: None,
            log: Vec::new(),
        });
        let ctx = reactor.ctx();
        let first = ctx.add_reader(a, |s: &mut State, ctx, id| {
            s.log.push(ctx.socket(id).unwrap().recv_string()?);
            // Remove myself (with messages still queued) and register the spare socket.
            s.removed = ctx.remove_reader(id);
            assert!(s.removed.is_some() && !ctx.has_reader(id));
            let spare = s.spare.take().unwrap();
            ctx.add_reader(spare, |s: &mut State, ctx, id| {
                s.log.push(ctx.socket(id).unwrap().recv_string()?);
                ctx.stop();
                Ok(())
            });
            Ok(())
        });
        guard(ctx);
        reactor.run().unwrap();
        assert_eq!(reactor.state().log, ["for a", "for b"]);
        assert!(!reactor.ctx().has_reader(first));
        assert_eq!(reactor.ctx().reader_count(), 1);
        // The removed socket came back to us, its other messages unread.
        let removed = reactor.state_mut().removed.take().unwrap();
        assert_eq!(removed.recv_string().unwrap(), "for a");
    }

    fn stop_when_both_new<S>(log: &[&str], ctx: &mut LoopCtx<S>) {
        if log.contains(&"new reader") && log.contains(&"new timer") {
            ctx.stop();
        }
    }

    #[test]
    fn a_self_removed_handler_is_never_put_back_into_a_reused_slot() {
        let calls = Rc::new(RefCell::new(Vec::new()));
        let (a, to_a) = pair("reuse-a");
        let (b, to_b) = pair("reuse-b");
        let mut reactor = ZLoop::new(Some(b));
        let ctx = reactor.ctx();
        let log = calls.clone();
        let old = ctx.add_reader(a, move |spare: &mut Option<ZSocket>, ctx, id| {
            log.borrow_mut().push("old reader");
            ctx.socket(id).unwrap().recv_string()?;
            ctx.remove_reader(id);
            // Reuses the slot just freed.
            let log = log.clone();
            let new = ctx.add_reader(spare.take().unwrap(), move |_, ctx, id| {
                log.borrow_mut().push("new reader");
                ctx.socket(id).unwrap().recv_string()?;
                stop_when_both_new(&log.borrow(), ctx);
                Ok(())
            });
            assert_eq!(new.0.index(), id.0.index());
            assert_ne!(new, id);
            Ok(())
        });
        let log = calls.clone();
        let old_timer = ctx.add_timer(Duration::ZERO, 0, move |_, ctx, id| {
            log.borrow_mut().push("old timer");
            ctx.remove_timer(id);
            let log = log.clone();
            let new = ctx.add_timer(Duration::ZERO, 1, move |_, ctx, _| {
                log.borrow_mut().push("new timer");
                stop_when_both_new(&log.borrow(), ctx);
                Ok(())
            });
            assert_eq!(new.0.index(), id.0.index());
            Ok(())
        });
        guard(ctx);
        to_a.send_str("one").unwrap();
        to_a.send_str("two").unwrap();
        to_b.send_str("to new").unwrap();
        reactor.run().unwrap();
        let calls = calls.borrow();
        assert_eq!(calls.iter().filter(|c| **c == "old reader").count(), 1);
        assert_eq!(calls.iter().filter(|c| **c == "new reader").count(), 1);
        assert_eq!(calls.iter().filter(|c| **c == "old timer").count(), 1);
        assert_eq!(calls.iter().filter(|c| **c == "new timer").count(), 1);
        assert!(!reactor.ctx().has_reader(old));
        assert!(!reactor.ctx().has_timer(old_timer));
    }

    #[test]
    fn stop_ends_dispatch_at_once_and_run_once_resumes() {
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        ctx.add_timer(Duration::from_millis(1), 1, |log: &mut Vec<_>, ctx, _| {
            log.push("stopper");
            ctx.stop();
            Ok(())
        });
        ctx.add_timer(Duration::from_millis(1), 1, |log: &mut Vec<_>, _, _| {
            log.push("after");
            Ok(())
        });
        reactor.run().unwrap();
        assert_eq!(reactor.state(), &["stopper"]);
        assert!(reactor.ctx().is_stopped());
        reactor.run().unwrap(); // the other timer is still due and fires now
        assert_eq!(reactor.state(), &["stopper", "after"]);
    }

    #[test]
    fn handler_errors_end_the_run() {
        let (server, client) = pair("errors");
        let mut reactor = ZLoop::new(0usize);
        let ctx = reactor.ctx();
        let reader = ctx.add_reader(server, |calls: &mut usize, ctx, id| {
            *calls += 1;
            ctx.socket(id).unwrap().recv_string()?;
            Err(Error::InvalidArgument("reader failed".into()))
        });
        guard(ctx);
        client.send_str("x").unwrap();
        let err = reactor.run().unwrap_err();
        assert!(err.to_string().contains("reader failed"), "{err}");
        // The failing reader stays registered, with its handler.
        assert!(reactor.ctx().has_reader(reader));
        client.send_str("y").unwrap();
        assert!(reactor.run().is_err());
        assert_eq!(*reactor.state(), 2);

        let mut reactor = ZLoop::new(());
        reactor
            .ctx()
            .add_timer(Duration::ZERO, 1, |_, _, _| Err(Error::EmptyMessage));
        assert!(matches!(reactor.run(), Err(Error::EmptyMessage)));
        let mut reactor = ZLoop::new(());
        reactor.ctx().set_ticket_delay(Duration::ZERO);
        reactor.ctx().add_ticket(|_, _, _| Err(Error::Again));
        assert!(matches!(reactor.run(), Err(Error::Again)));
    }

    #[test]
    fn context_termination_ends_the_run() {
        let ctx = ZContext::new().unwrap();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind(&format!("inproc://zloop-eterm-{}", std::process::id()))
            .unwrap();
        let mut reactor = ZLoop::new(());
        reactor.ctx().add_reader(pull, |_, ctx, id| {
            ctx.socket(id).unwrap().recv_frame().map(drop)
        });
        guard(reactor.ctx());
        let shutter = {
            let ctx = ctx.clone();
            std::thread::spawn(move || ctx.shutdown())
        };
        let result = reactor.run();
        assert!(matches!(result, Err(Error::Terminated)), "{result:?}");
        shutter.join().unwrap().unwrap();
        drop(reactor); // closes the socket, so the context can end
    }

    #[cfg(unix)]
    #[test]
    fn fd_readers() {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut reactor = ZLoop::new(Vec::new());
        let ctx = reactor.ctx();
        let read_end = fds[0];
        let id = ctx.add_fd_reader(read_end, move |got: &mut Vec<u8>, ctx, _| {
            let mut byte = 0u8;
            // SAFETY: reading one byte into a valid buffer from our pipe.
            let n = unsafe { libc::read(read_end, &mut byte as *mut u8 as *mut _, 1) };
            if n == 1 {
                got.push(byte);
            }
            if got.len() == 2 {
                ctx.stop();
            }
            Ok(())
        });
        assert!(reactor.ctx().socket(id).is_none());
        guard(reactor.ctx());
        // SAFETY: writing two bytes from a valid buffer to the pipe's write end.
        let written = unsafe { libc::write(fds[1], b"xy".as_ptr() as *const _, 2) };
        assert_eq!(written, 2);
        reactor.run().unwrap();
        assert_eq!(reactor.state(), b"xy");
        assert!(reactor.ctx().remove_reader(id).is_none());
        assert!(!reactor.ctx().has_reader(id));
        // SAFETY: closing the fds we opened.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }

    #[test]
    fn default_ids_match_nothing() {
        let mut reactor = ZLoop::new(());
        let ctx = reactor.ctx();
        assert!(ctx.remove_reader(ReaderId::default()).is_none());
        assert!(!ctx.remove_timer(TimerId::default()));
        assert!(!ctx.reset_ticket(TicketId::default()));
        assert!(!ctx.remove_ticket(TicketId::default()));
    }
}
