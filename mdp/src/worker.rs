//! The Majordomo worker: registers one service with a broker, receives its requests and sends
//! the replies, heartbeating all the while (the zguide's `mdwrkapi`, with its gaps closed).
//!
//! ```no_run
//! use mdp::{Worker, WorkerConfig};
//!
//! let mut worker = Worker::connect("tcp://localhost:5555", "echo", WorkerConfig::default())?;
//! // Echo every request until Ctrl-C (with zmsg::install_interrupt_handler) or a stop handle.
//! worker.run(|body| body)?;
//! # Ok::<(), mdp::Error>(())
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zmsg::cert::ZCert;
use zmsg::{Events, SendFlags, SocketType, ZFrame, ZMsg, ZPoller, ZSocket};

use crate::client::apply_curve;
use crate::error::{Error, Result};
use crate::protocol::{self, DecodeError, Part, Version, WorkerMessage};

/// How a [`Worker`] talks to its broker.
#[derive(Clone)]
pub struct WorkerConfig {
    /// The heartbeat interval; must match the broker's (default 2500 ms).
    pub heartbeat: Duration,
    /// How many heartbeat intervals of silence make the broker dead (default 3).
    pub liveness: u32,
    /// The first reconnect delay after the broker was declared dead (default 1 s). Each further
    /// failed connection doubles it, up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// The longest reconnect delay (default 32 s).
    pub reconnect_max: Duration,
    /// The broker's CURVE public key: set it to talk to a CURVE broker.
    pub curve_server_key: Option<[u8; 32]>,
    /// This worker's own CURVE certificate; a fresh one is made when `curve_server_key` is set
    /// and this is `None`.
    pub curve_cert: Option<ZCert>,
    /// How many requests the broker may send before this worker answers the first (default 1,
    /// plain MDP/0.1). Above 1, READY carries a `credit=N` frame (a zmsg extension, see
    /// `docs/mdp.md`, "Worker credit"), and a zmsg broker keeps up to N requests queued at this
    /// worker, so it never waits for a round trip to the broker between two requests. Requests
    /// are still handled one at a time and answered in order; brokers that do not know the
    /// extension ignore it and send one at a time.
    pub credit: u32,
    /// The protocol version to speak (default [`Version::V1`], MDP/0.1). With
    /// [`Version::V2`] (MDP/0.2, RFC 18) the worker can send partial replies
    /// ([`Worker::reply_partial`]) before the final one.
    pub version: Version,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            heartbeat: Duration::from_millis(protocol::DEFAULT_HEARTBEAT_MS),
            liveness: protocol::DEFAULT_LIVENESS,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(32),
            curve_server_key: None,
            curve_cert: None,
            credit: 1,
            version: Version::V1,
        }
    }
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("heartbeat", &self.heartbeat)
            .field("liveness", &self.liveness)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("curve", &self.curve_server_key.is_some())
            .field("credit", &self.credit)
            .field("version", &self.version)
            .finish()
    }
}

/// A request received by a [`Worker`]: the client's address (kept for the reply) and the body.
#[derive(Debug, Clone)]
pub struct Request {
    client: ZFrame,
    body: ZMsg,
    connection: u64,
}

impl Request {
    /// The address of the client that sent the request (its identity at the broker).
    pub fn client(&self) -> &ZFrame {
        &self.client
    }

    /// The request body.
    pub fn body(&self) -> &ZMsg {
        &self.body
    }

    /// The request body, to change in place.
    pub fn body_mut(&mut self) -> &mut ZMsg {
        &mut self.body
    }

    /// Takes the body out, leaving an empty one; the request can still be replied to.
    pub fn take_body(&mut self) -> ZMsg {
        std::mem::take(&mut self.body)
    }

    /// The body, dropping the reply address.
    pub fn into_body(self) -> ZMsg {
        self.body
    }
}

/// What a [`Worker::run`] handler may return.
///
/// - a [`ZMsg`]: the reply;
/// - `Some(reply)`, or `None` to decline the request;
/// - `Ok(reply)`, or `Err(e)` to decline it (the error is logged).
///
/// A declined request gets no reply. MDP/0.1 has no way to say "failed", and a broker waits for
/// the reply of a busy worker, so the worker then ends its conversation (DISCONNECT) and
/// registers again on a new connection; a broker that resends the requests of departed workers
/// (as `mdp::Broker` does) gives the request to another worker.
pub trait HandlerReply {
    /// The reply, `Ok(None)` to decline, or `Err(why)` to decline and log why.
    fn into_reply(self) -> std::result::Result<Option<ZMsg>, HandlerError>;
}

/// Why a handler declined a request: any error (`std::io::Error`, `anyhow::Error`, a `String`...).
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

impl HandlerReply for ZMsg {
    fn into_reply(self) -> std::result::Result<Option<ZMsg>, HandlerError> {
        Ok(Some(self))
    }
}

impl HandlerReply for Option<ZMsg> {
    fn into_reply(self) -> std::result::Result<Option<ZMsg>, HandlerError> {
        Ok(self)
    }
}

impl<E: Into<HandlerError>> HandlerReply for std::result::Result<ZMsg, E> {
    fn into_reply(self) -> std::result::Result<Option<ZMsg>, HandlerError> {
        self.map(Some).map_err(Into::into)
    }
}

/// Stops a [`Worker`] from another thread: its `recv` returns and its `run` ends. Cheap to
/// clone; `Send` and `Sync`.
#[derive(Clone)]
pub struct StopHandle {
    inner: Arc<StopInner>,
}

struct StopInner {
    flag: AtomicBool,
    waker: Mutex<ZSocket>,
}

impl fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopHandle")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

impl StopHandle {
    /// Asks the worker to stop; it wakes up at once if it is waiting.
    pub fn stop(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        if let Ok(waker) = self.inner.waker.lock() {
            // A full pipe already holds a wake-up; the flag is what counts.
            let _ = waker.send_frame(ZFrame::new(), SendFlags::DONTWAIT);
        }
    }

    /// True once [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }
}

/// Why the last connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    BrokerDead,
    Disconnected,
    Declined,
}

struct Connection {
    socket: ZSocket,
    id: u64,
    /// When the broker is dead unless something arrives first.
    expiry: Instant,
    /// When to send the next HEARTBEAT.
    heartbeat_at: Instant,
    /// Whether anything but DISCONNECT arrived on this connection.
    heard: bool,
    /// Whether its READY asked for a credit.
    offered_credit: bool,
}

impl Connection {
    /// Sends a HEARTBEAT if one is due at `now` (a full pipe skips it: the broker is not
    /// reading, and the expiry will tell).
    fn beat_if_due(&mut self, now: Instant, interval: Duration, version: Version) -> Result<()> {
        if now < self.heartbeat_at {
            return Ok(());
        }
        let mut beat = WorkerMessage::Heartbeat.encode(version);
        match self.socket.send_msg_ref(&mut beat, SendFlags::DONTWAIT) {
            Ok(()) | Err(zmsg::Error::Again) => {}
            Err(err) => return Err(err.into()),
        }
        self.heartbeat_at = now + interval;
        Ok(())
    }
}

enum State {
    Connected(Connection),
    Waiting { until: Instant },
}

/// What one received message means to the receive loop.
enum Inbound {
    Request(Request),
    Heartbeat,
    Disconnect,
    Invalid(DecodeError),
}

/// An MDP/0.1 worker for one service.
///
/// - **Heartbeats** go out every [`WorkerConfig::heartbeat`] while the worker waits in
///   [`Worker::recv`], and every message from the broker counts as its heartbeat.
/// - **Broker death**: when nothing arrived for `heartbeat × liveness` while waiting, the
///   broker is declared dead; the worker closes its socket, waits the reconnect delay
///   (exponential back-off from `reconnect_min` to `reconnect_max`, reset once a broker
///   answers) and registers again (READY) on a **new** socket. Time spent in the application
///   between `recv` and the next `recv` does not count as silence, so a long request does not
///   kill a live connection.
/// - **DISCONNECT** from the broker: the worker sends nothing more on that socket and registers
///   again on a new one (at once the first time, with back-off if the broker keeps refusing).
/// - **Replies** ([`Worker::reply`]) go out on the connection the request came in on as long as
///   it is open — even if the broker's heartbeats are overdue, since the broker may well be
///   alive. A reply is dropped (with a warning and [`Error::BrokerGone`] /
///   [`Error::Disconnected`]) only when that connection was closed because the broker was
///   declared dead or disconnected the worker, in which case the broker resends the request.
///
/// While the application handles a request the worker sends no heartbeats by itself (MDP/0.1
/// workers are single-threaded): call [`Worker::heartbeat`] now and then from long work, or keep
/// requests shorter than the broker's expiry (heartbeat × liveness).
#[must_use = "dropping a Worker sends DISCONNECT and closes its connection"]
pub struct Worker {
    endpoint: String,
    service: String,
    config: WorkerConfig,
    state: State,
    connections: u64,
    failures: u32,
    /// A request went to the application since the last `recv`.
    handed_out: bool,
    /// Whether the next READY asks for the configured credit (see [`Worker::credit`]).
    offer_credit: bool,
    /// Why the most recent connection was closed.
    last_closed: Closed,
    stop: StopHandle,
    stop_rx: ZSocket,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("endpoint", &self.endpoint)
            .field("service", &self.service)
            .field("connections", &self.connections)
            .finish()
    }
}

static STOP_PIPES: AtomicU64 = AtomicU64::new(0);

impl Worker {
    /// Connects to the broker at `endpoint` and registers for `service` (sends READY).
    pub fn connect(endpoint: &str, service: &str, config: WorkerConfig) -> Result<Worker> {
        if service.is_empty() {
            return Err(Error::InvalidArgument("the service name is empty".into()));
        }
        if protocol::is_mmi(service.as_bytes()) {
            return Err(Error::InvalidArgument(format!(
                "{service:?}: the mmi. prefix is reserved for the broker"
            )));
        }
        if config.liveness == 0 || config.heartbeat.is_zero() {
            return Err(Error::InvalidArgument(
                "heartbeat and liveness must be greater than zero".into(),
            ));
        }
        if !(1..=protocol::MAX_CREDIT).contains(&config.credit) {
            return Err(Error::InvalidArgument(format!(
                "credit {} is not from 1 to {}",
                config.credit,
                protocol::MAX_CREDIT
            )));
        }
        if config.reconnect_max < config.reconnect_min {
            return Err(Error::InvalidArgument(
                "reconnect_max is shorter than reconnect_min".into(),
            ));
        }
        let pipe = format!(
            "inproc://mdp-worker-stop-{}-{}",
            std::process::id(),
            STOP_PIPES.fetch_add(1, Ordering::Relaxed)
        );
        let stop_rx = ZSocket::new(SocketType::Pull)?;
        stop_rx.bind(&pipe)?;
        let waker = ZSocket::new(SocketType::Push)?;
        waker.set_linger(Some(Duration::ZERO))?;
        waker.set_sndhwm(1)?;
        waker.connect(&pipe)?;
        let offer_credit = config.credit > 1;
        let mut worker = Worker {
            endpoint: endpoint.to_owned(),
            service: service.to_owned(),
            config,
            state: State::Waiting {
                until: Instant::now(),
            },
            last_closed: Closed::Disconnected,
            offer_credit,
            connections: 0,
            failures: 0,
            handed_out: false,
            stop: StopHandle {
                inner: Arc::new(StopInner {
                    flag: AtomicBool::new(false),
                    waker: Mutex::new(waker),
                }),
            },
            stop_rx,
        };
        worker.open_connection()?;
        Ok(worker)
    }

    /// The credit the current (or next) registration asks for: [`WorkerConfig::credit`], or 1
    /// while the worker talks plain MDP/0.1 to a broker that did not answer a READY with a
    /// credit (the worker alternates between the two until the broker answers one).
    pub fn credit(&self) -> u32 {
        let offered = match &self.state {
            State::Connected(conn) => conn.offered_credit,
            State::Waiting { .. } => self.offer_credit,
        };
        if offered {
            self.config.credit
        } else {
            1
        }
    }

    /// The service this worker serves.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The broker endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// How many times this worker registered (READY) so far: 1 after `connect`, one more for
    /// each reconnect.
    pub fn registrations(&self) -> u64 {
        self.connections
    }

    /// True while the worker has an open connection to the broker (false while it waits to
    /// reconnect).
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_))
    }

    /// A handle that stops this worker from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Waits for the next request, heartbeating and reconnecting as needed. Returns
    /// [`Error::Interrupted`] after Ctrl-C (with `zmsg::install_interrupt_handler`) and
    /// [`Error::Disconnected`] once the worker was stopped through its [`StopHandle`].
    pub fn recv(&mut self) -> Result<Request> {
        loop {
            if let Some(request) = self.recv_timeout(Duration::from_secs(3600))? {
                return Ok(request);
            }
        }
    }

    /// Like [`Worker::recv`], but returns `Ok(None)` when no request came within `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Request>> {
        let mut now = Instant::now();
        let deadline = now + timeout;
        let span = self.expiry_span();
        if std::mem::take(&mut self.handed_out) {
            if let State::Connected(conn) = &mut self.state {
                // The time the application spent on the last request is not broker silence.
                conn.expiry = conn.expiry.max(now + span);
            }
        }
        let mut first = true;
        loop {
            self.check_stop()?;
            if !std::mem::take(&mut first) {
                now = Instant::now();
            }
            if now >= deadline {
                return Ok(None);
            }
            let until = match &self.state {
                State::Waiting { until } => Some(*until),
                State::Connected(_) => None,
            };
            if let Some(until) = until {
                if now >= until {
                    self.open_connection()?;
                } else {
                    self.wait_stop(until.min(deadline) - now)?;
                }
                continue;
            }
            if let Some(request) = self.poll_connection(now, deadline)? {
                self.handed_out = true;
                return Ok(Some(request));
            }
        }
    }

    /// Sends the reply to `request`. See [`Worker`] for when a reply is dropped instead. An
    /// empty `body` is sent as one empty frame (RFC 7 wants at least one body frame).
    pub fn reply(&mut self, request: &Request, body: ZMsg) -> Result<()> {
        self.send_reply(request, Part::Final, body)
    }

    /// Sends a partial reply to `request` (MDP/0.2 PARTIAL): more replies follow, and
    /// [`Worker::reply`] sends the last one. Only for a worker configured with
    /// [`Version::V2`]; an MDP/0.1 worker gets [`Error::InvalidArgument`].
    ///
    /// ```no_run
    /// # use mdp::{Worker, WorkerConfig, protocol::Version};
    /// let config = WorkerConfig { version: Version::V2, ..WorkerConfig::default() };
    /// let mut worker = Worker::connect("tcp://localhost:5555", "count", config)?;
    /// let request = worker.recv()?;
    /// for n in 1..=3 {
    ///     worker.reply_partial(&request, zmsg::ZMsg::from_iter([n.to_string()]))?;
    /// }
    /// worker.reply(&request, zmsg::ZMsg::from_iter(["done"]))?;
    /// # Ok::<(), mdp::Error>(())
    /// ```
    pub fn reply_partial(&mut self, request: &Request, body: ZMsg) -> Result<()> {
        if !self.config.version.has_partials() {
            return Err(Error::InvalidArgument(
                "partial replies need MDP/0.2 (WorkerConfig::version)".into(),
            ));
        }
        self.send_reply(request, Part::Partial, body)
    }

    fn send_reply(&mut self, request: &Request, part: Part, body: ZMsg) -> Result<()> {
        match &mut self.state {
            State::Connected(conn) if conn.id == request.connection => {
                let reply = WorkerMessage::Reply {
                    part,
                    client: request.client.detached_clone(),
                    body,
                };
                let msg = reply.encode(self.config.version);
                tracing::trace!(service = %self.service, ?part, "sending a reply");
                match conn.socket.send_msg(msg) {
                    Ok(()) => {}
                    Err(zmsg::Error::Again) => {
                        // The broker took nothing for heartbeat × liveness: it is not reading.
                        // Give the connection up, so that the broker (when it recovers) sees this
                        // worker gone and resends the request, rather than keep a connection on
                        // which a reply was lost.
                        tracing::warn!(
                            service = %self.service,
                            "the broker is not taking messages: reply not sent, reconnecting"
                        );
                        let first_delay = self.config.reconnect_min;
                        self.close(Closed::BrokerDead, first_delay);
                        return Err(Error::BrokerGone(
                            "the broker took no message for heartbeat × liveness; the reply was \
                             not sent and the broker will resend the request"
                                .into(),
                        ));
                    }
                    Err(err) => return Err(err.into()),
                }
                // A reply counts as a heartbeat.
                conn.heartbeat_at = Instant::now() + self.config.heartbeat;
                Ok(())
            }
            _ => {
                let closed = self.last_closed;
                tracing::warn!(
                    service = %self.service,
                    ?closed,
                    "dropping a reply: the connection its request came on was closed; the broker resends the request"
                );
                Err(match closed {
                    Closed::BrokerDead => Error::BrokerGone(
                        "the broker was declared dead before the reply was given".into(),
                    ),
                    Closed::Disconnected | Closed::Declined => Error::Disconnected(
                        "the broker ended the conversation before the reply was given".into(),
                    ),
                })
            }
        }
    }

    /// Tells the broker that this worker is alive, from long work between [`Worker::recv`] and
    /// [`Worker::reply`]: sends a HEARTBEAT if one is due (at most one per heartbeat interval, so
    /// it is cheap to call often). Without it, a request that takes longer than the broker's
    /// heartbeat × liveness gets the worker declared dead, and the broker gives the request to
    /// another worker.
    ///
    /// ```no_run
    /// # use mdp::{Worker, WorkerConfig};
    /// # let mut worker = Worker::connect("tcp://localhost:5555", "render", WorkerConfig::default())?;
    /// let request = worker.recv()?;
    /// for _step in 0..1000 {
    ///     // ... a slice of long work ...
    ///     worker.heartbeat()?;
    /// }
    /// worker.reply(&request, request.body().clone())?;
    /// # Ok::<(), mdp::Error>(())
    /// ```
    pub fn heartbeat(&mut self) -> Result<()> {
        match &mut self.state {
            State::Connected(conn) => {
                conn.beat_if_due(Instant::now(), self.config.heartbeat, self.config.version)
            }
            State::Waiting { .. } => Ok(()),
        }
    }

    /// Serves requests with `handler` until stopped (Ctrl-C or the [`StopHandle`]): each
    /// request body goes to the handler and what it returns is the reply (see
    /// [`HandlerReply`]). Returns `Ok(())` when stopped, or the first error that is not about a
    /// lost connection.
    pub fn run<F, R>(&mut self, mut handler: F) -> Result<()>
    where
        F: FnMut(ZMsg) -> R,
        R: HandlerReply,
    {
        loop {
            let mut request = match self.recv() {
                Ok(request) => request,
                Err(Error::Interrupted) => return Ok(()),
                Err(_) if self.stop.is_stopped() => return Ok(()),
                Err(err) => return Err(err),
            };
            let body = request.take_body();
            match handler(body).into_reply() {
                Ok(Some(reply)) => match self.reply(&request, reply) {
                    Ok(()) => {}
                    // Already logged; the broker resends the request.
                    Err(Error::BrokerGone(_) | Error::Disconnected(_) | Error::Timeout) => {}
                    Err(err) => return Err(err),
                },
                Ok(None) => self.decline(&request, "the handler declined the request")?,
                Err(reason) => {
                    tracing::warn!(service = %self.service, %reason, "handler failed");
                    self.decline(&request, &reason.to_string())?;
                }
            }
        }
    }

    /// Ends the conversation `request` came on (DISCONNECT) and registers again at once, so the
    /// broker stops waiting for a reply this worker will not give. Nothing to do when that
    /// connection is already closed: the broker has resent the request.
    fn decline(&mut self, request: &Request, why: &str) -> Result<()> {
        let State::Connected(conn) = &self.state else {
            return Ok(());
        };
        if conn.id != request.connection {
            return Ok(());
        }
        tracing::debug!(service = %self.service, why, "re-registering without replying");
        let _ = conn.socket.send_msg_ref(
            &mut WorkerMessage::Disconnect.encode(self.config.version),
            SendFlags::DONTWAIT,
        );
        // Give the DISCONNECT a chance to leave before the socket closes.
        let _ = conn.socket.set_linger(Some(Duration::from_millis(100)));
        self.close(Closed::Declined, Duration::ZERO);
        self.open_connection()
    }

    fn expiry_span(&self) -> Duration {
        self.config.heartbeat * self.config.liveness
    }

    fn check_stop(&self) -> Result<()> {
        if self.stop.is_stopped() {
            return Err(Error::Disconnected("the worker was stopped".into()));
        }
        if zmsg::interrupted() {
            return Err(Error::Interrupted);
        }
        Ok(())
    }

    /// Waits up to `wait` for a stop request (nothing else to do while waiting to reconnect).
    fn wait_stop(&self, wait: Duration) -> Result<()> {
        if self
            .stop_rx
            .poll(Events::POLLIN, Some(wait))?
            .contains(Events::POLLIN)
        {
            self.drain_stop();
        }
        Ok(())
    }

    fn drain_stop(&self) {
        while self.stop_rx.recv_msg_dontwait().is_ok() {}
    }

    /// Creates a new socket, connects and sends READY.
    fn open_connection(&mut self) -> Result<()> {
        let socket = ZSocket::new(SocketType::Dealer)?;
        socket.set_linger(Some(Duration::ZERO))?;
        // A reply that cannot be queued for this long means the broker is not reading.
        socket.set_sndtimeo(Some(
            self.expiry_span()
                .min(Duration::from_millis(i32::MAX as u64)),
        ))?;
        apply_curve(
            &socket,
            self.config.curve_server_key.as_ref(),
            self.config.curve_cert.as_ref(),
        )?;
        socket.connect(&self.endpoint)?;
        let ready = WorkerMessage::Ready {
            service: ZFrame::from(self.service.as_str()),
            credit: if self.offer_credit {
                self.config.credit
            } else {
                1
            },
        };
        socket.send_msg_ref(&mut ready.encode(self.config.version), SendFlags::DONTWAIT)?;
        self.connections += 1;
        tracing::debug!(
            endpoint = %self.endpoint,
            service = %self.service,
            registration = self.connections,
            "connected to broker, sent READY"
        );
        let now = Instant::now();
        self.state = State::Connected(Connection {
            socket,
            id: self.connections,
            expiry: now + self.expiry_span(),
            heartbeat_at: now + self.config.heartbeat,
            heard: false,
            offered_credit: self.offer_credit,
        });
        Ok(())
    }

    /// Closes the current connection and schedules the next one. `first_delay` is the delay
    /// when the closed connection was healthy; a connection on which the broker never spoke
    /// counts as a failure and backs off exponentially.
    fn close(&mut self, closed: Closed, first_delay: Duration) {
        let (heard, offered_credit) = match &self.state {
            State::Connected(conn) => (conn.heard, conn.offered_credit),
            State::Waiting { .. } => (false, self.offer_credit),
        };
        if self.config.credit > 1 && !heard {
            // The broker never answered this READY: it may be down, or it may refuse READY
            // with a credit (a strict MDP/0.1 broker). Alternate until one kind is answered.
            self.offer_credit = !offered_credit;
            if offered_credit {
                tracing::info!(
                    service = %self.service,
                    "no answer to READY with credit={}: trying plain MDP/0.1 next",
                    self.config.credit
                );
            }
        }
        let delay = if heard {
            self.failures = 0;
            first_delay
        } else {
            self.failures = self.failures.saturating_add(1);
            backoff(
                self.config.reconnect_min,
                self.config.reconnect_max,
                self.failures,
            )
        };
        if closed != Closed::Declined {
            tracing::warn!(
                service = %self.service,
                ?closed,
                delay_ms = delay.as_millis() as u64,
                "lost the broker, reconnecting"
            );
        }
        self.last_closed = closed;
        self.state = State::Waiting {
            until: Instant::now() + delay,
        };
    }

    /// Takes what the broker sent (without waiting, or after one poll until the next heartbeat,
    /// expiry or `deadline`), handles it and returns a request if one came.
    fn poll_connection(&mut self, now: Instant, deadline: Instant) -> Result<Option<Request>> {
        let span = self.expiry_span();
        let heartbeat = self.config.heartbeat;
        let version = self.config.version;
        let State::Connected(conn) = &mut self.state else {
            return Ok(None);
        };
        // Under load a request is usually queued already: take it without a poll.
        let mut outcome = drain(conn, now + span, &self.service, version)?;
        if outcome.is_none() {
            let wake = conn.heartbeat_at.min(conn.expiry).min(deadline);
            let (socket_ready, stop_ready) = {
                let mut poller = ZPoller::new();
                let socket_index = poller.add(&conn.socket);
                let stop_index = poller.add(&self.stop_rx);
                poller.poll(Some(wake.saturating_duration_since(now)))?;
                (
                    poller.ready(socket_index).contains(Events::POLLIN),
                    poller.ready(stop_index).contains(Events::POLLIN),
                )
            };
            if stop_ready {
                while self.stop_rx.recv_msg_dontwait().is_ok() {}
                return Ok(None);
            }
            if socket_ready {
                outcome = drain(conn, Instant::now() + span, &self.service, version)?;
            }
        }
        match outcome {
            Some(Inbound::Request(request)) => return Ok(Some(request)),
            Some(Inbound::Disconnect) => {
                tracing::info!(service = %self.service, "broker sent DISCONNECT");
                self.close(Closed::Disconnected, Duration::ZERO);
                return Ok(None);
            }
            _ => {}
        }
        let now = Instant::now();
        conn.beat_if_due(now, heartbeat, version)?;
        if now >= conn.expiry {
            let first_delay = self.config.reconnect_min;
            self.close(Closed::BrokerDead, first_delay);
        }
        Ok(None)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let State::Connected(conn) = &self.state {
            // Tell the broker at once rather than letting it wait for the expiry; a short
            // linger lets the DISCONNECT (and a just-sent reply) leave.
            let _ = conn.socket.set_linger(Some(Duration::from_millis(500)));
            let _ = conn.socket.send_msg_ref(
                &mut WorkerMessage::Disconnect.encode(self.config.version),
                SendFlags::DONTWAIT,
            );
        }
    }
}

/// Reads what is queued on `conn` without waiting, up to the first request or DISCONNECT (which
/// is returned); anything from the broker moves its expiry to `expiry`, invalid messages are
/// logged and dropped.
fn drain(
    conn: &mut Connection,
    expiry: Instant,
    service: &str,
    version: Version,
) -> Result<Option<Inbound>> {
    loop {
        let msg = match conn.socket.recv_msg_dontwait() {
            Ok(msg) => msg,
            Err(zmsg::Error::Again) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        match parse_inbound(msg, conn.id, version) {
            Inbound::Request(request) => {
                conn.expiry = expiry;
                conn.heard = true;
                return Ok(Some(Inbound::Request(request)));
            }
            Inbound::Heartbeat => {
                conn.expiry = expiry;
                conn.heard = true;
            }
            Inbound::Disconnect => return Ok(Some(Inbound::Disconnect)),
            Inbound::Invalid(why) => {
                tracing::warn!(%service, %why, "ignoring an invalid message from the broker");
            }
        }
    }
}

/// The reconnect delay after `failures` (≥ 1) failed connections in a row: `min`, doubling
/// each time, at most `max`.
fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(20);
    min.saturating_mul(factor).min(max)
}

/// Decodes one message from the broker, which must speak this worker's `version`.
fn parse_inbound(msg: ZMsg, connection: u64, version: Version) -> Inbound {
    let (got, command) = match WorkerMessage::decode(msg) {
        Ok(decoded) => decoded,
        Err(err) => return Inbound::Invalid(err),
    };
    if got != version {
        return Inbound::Invalid(DecodeError::UnknownHeader(format!(
            "{got} from the broker of a {version} worker"
        )));
    }
    match command {
        WorkerMessage::Request { client, body } => Inbound::Request(Request {
            client,
            body,
            connection,
        }),
        WorkerMessage::Heartbeat => Inbound::Heartbeat,
        WorkerMessage::Disconnect => Inbound::Disconnect,
        other => Inbound::Invalid(DecodeError::WrongDirection(other.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(frames: &[&[u8]]) -> ZMsg {
        frames.iter().map(|f| ZFrame::copy_from(f)).collect()
    }

    #[test]
    fn parses_broker_commands() {
        match parse_inbound(
            msg(&[b"", b"MDPW01", &[2], b"C1", b"", b"x", b""]),
            7,
            Version::V1,
        ) {
            Inbound::Request(request) => {
                assert_eq!(request.client().data(), b"C1");
                assert_eq!(request.body().len(), 2);
                assert_eq!(request.connection, 7);
            }
            _ => panic!("expected a request"),
        }
        assert!(matches!(
            parse_inbound(msg(&[b"", b"MDPW01", &[4]]), 1, Version::V1),
            Inbound::Heartbeat
        ));
        assert!(matches!(
            parse_inbound(msg(&[b"", b"MDPW01", &[5]]), 1, Version::V1),
            Inbound::Disconnect
        ));
        for bad in [
            msg(&[b"", b"MDPW01"]),
            msg(&[b"x", b"MDPW01", &[4]]),
            msg(&[b"", b"MDPW02", &[4]]),
            msg(&[b"", b"MDPW01", &[9]]),
            msg(&[b"", b"MDPW01", &[1], b"svc"]),
            msg(&[b"", b"MDPW01", &[2], b"C1"]),
            msg(&[b"", b"MDPW01", &[2], b"C1", b"not-empty", b"x"]),
            msg(&[b"MDPW02", &[2], b"C1", b"", b"x"]),
        ] {
            assert!(matches!(
                parse_inbound(bad, 1, Version::V1),
                Inbound::Invalid(_)
            ));
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(1000));
        let delays: Vec<u64> = (1..=6)
            .map(|n| backoff(min, max, n).as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(min, max, u32::MAX), max);
    }

    #[test]
    fn handler_replies() {
        let body: ZMsg = ["a"].into_iter().collect();
        assert_eq!(body.clone().into_reply().unwrap(), Some(body.clone()));
        assert_eq!(None::<ZMsg>.into_reply().unwrap(), None);
        let failed: std::result::Result<ZMsg, String> = Err("boom".into());
        assert_eq!(failed.into_reply().unwrap_err().to_string(), "boom");
        let io: std::result::Result<ZMsg, std::io::Error> = Err(std::io::Error::other("disk"));
        assert_eq!(io.into_reply().unwrap_err().to_string(), "disk");
    }

    #[test]
    fn rejects_bad_configuration() {
        let ep = "tcp://127.0.0.1:1";
        assert!(matches!(
            Worker::connect(ep, "mmi.service", WorkerConfig::default()),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            Worker::connect(ep, "", WorkerConfig::default()),
            Err(Error::InvalidArgument(_))
        ));
        let config = WorkerConfig {
            liveness: 0,
            ..WorkerConfig::default()
        };
        assert!(matches!(
            Worker::connect(ep, "echo", config),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn stop_handle_wakes_recv() {
        // Nothing listens on this endpoint: recv would wait forever without the stop.
        let mut worker =
            Worker::connect("tcp://127.0.0.1:1", "echo", WorkerConfig::default()).unwrap();
        let stop = worker.stop_handle();
        let thread = std::thread::spawn(move || worker.recv().map(|_| ()));
        stop.stop();
        let result = thread.join().unwrap();
        assert!(matches!(result, Err(Error::Disconnected(_))));
    }

    /// A hand-driven broker: a ROUTER on an ephemeral port.
    struct FakeBroker {
        router: ZSocket,
        endpoint: String,
    }

    impl FakeBroker {
        fn new() -> FakeBroker {
            let router = ZSocket::new(SocketType::Router).unwrap();
            let endpoint = router
                .bind("tcp://127.0.0.1:*")
                .unwrap()
                .as_str()
                .to_owned();
            FakeBroker { router, endpoint }
        }

        /// The next command as (sender identity, version, command), waiting at most 10 s.
        fn next(&self) -> (Vec<u8>, Version, WorkerMessage) {
            assert!(self
                .router
                .poll(Events::POLLIN, Some(Duration::from_secs(10)))
                .unwrap()
                .contains(Events::POLLIN));
            let mut msg = self.router.recv_msg().unwrap();
            let id = msg.pop_frame().unwrap().to_vec();
            let (version, command) = WorkerMessage::decode(msg).unwrap();
            (id, version, command)
        }

        /// Like [`FakeBroker::next`], skipping heartbeats.
        fn next_skipping_heartbeats(&self) -> (Vec<u8>, Version, WorkerMessage) {
            loop {
                let next = self.next();
                if !matches!(next.2, WorkerMessage::Heartbeat) {
                    return next;
                }
            }
        }

        fn send(&self, id: &[u8], version: Version, command: WorkerMessage) {
            let mut msg = command.encode(version);
            msg.push(id);
            self.router.send_msg(msg).unwrap();
        }
    }

    fn quick_config() -> WorkerConfig {
        WorkerConfig {
            heartbeat: Duration::from_millis(50),
            liveness: 2,
            reconnect_min: Duration::from_millis(10),
            reconnect_max: Duration::from_millis(40),
            ..WorkerConfig::default()
        }
    }

    fn is_ready(command: &WorkerMessage) -> bool {
        matches!(command, WorkerMessage::Ready { service, .. } if service.data() == b"svc")
    }

    #[test]
    fn silent_broker_is_declared_dead_and_a_new_socket_registers() {
        let broker = FakeBroker::new();
        let mut worker = Worker::connect(&broker.endpoint, "svc", quick_config()).unwrap();
        let stop = worker.stop_handle();
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            // Short receive slices must not keep a dead broker alive.
            while !stopped.is_stopped() {
                match worker.recv_timeout(Duration::from_millis(5)) {
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            worker.registrations()
        });
        let (first, version, command) = broker.next();
        assert_eq!(version, Version::V1);
        assert!(is_ready(&command));
        // (Whether a heartbeat gets out before the expiry depends on the machine's speed: the
        // DISCONNECT test below checks that a waiting worker heartbeats.)
        let second = loop {
            let (id, _, command) = broker.next();
            if matches!(command, WorkerMessage::Heartbeat) {
                assert_eq!(id, first);
                continue;
            }
            assert!(is_ready(&command), "{command:?}");
            break id;
        };
        assert_ne!(first, second, "the new READY must come from a new socket");
        stop.stop();
        assert!(thread.join().unwrap() >= 2);
    }

    #[test]
    fn disconnect_makes_the_worker_register_on_a_new_socket() {
        let broker = FakeBroker::new();
        // Nothing expires in this test (10 s), however slow the machine: the one new
        // registration is the DISCONNECT's.
        let config = WorkerConfig {
            liveness: 200,
            ..quick_config()
        };
        let mut worker = Worker::connect(&broker.endpoint, "svc", config).unwrap();
        let stop = worker.stop_handle();
        let thread = std::thread::spawn(move || {
            let _ = worker.recv();
            worker.registrations()
        });
        let (first, version, command) = broker.next();
        assert!(is_ready(&command));
        // Waiting for a request, the worker heartbeats.
        let (id, _, command) = broker.next();
        assert_eq!(id, first);
        assert!(matches!(command, WorkerMessage::Heartbeat), "{command:?}");
        broker.send(&first, version, WorkerMessage::Disconnect);
        let second = loop {
            let (id, _, command) = broker.next();
            if is_ready(&command) {
                break id;
            }
            assert_eq!(
                id, first,
                "only heartbeats from the old socket before the new READY"
            );
        };
        assert_ne!(first, second);
        stop.stop();
        assert_eq!(thread.join().unwrap(), 2);
    }

    /// Registers a worker with `config` at a fake broker and hands it one request from
    /// `client-7`.
    fn worker_with_a_request(config: WorkerConfig) -> (FakeBroker, Worker, Vec<u8>, Request) {
        let broker = FakeBroker::new();
        let version = config.version;
        let mut worker = Worker::connect(&broker.endpoint, "svc", config).unwrap();
        let (id, got_version, command) = broker.next();
        assert_eq!(got_version, version);
        assert!(is_ready(&command));
        let request = WorkerMessage::Request {
            client: ZFrame::from("client-7"),
            body: ["payload"].into_iter().collect(),
        };
        broker.send(&id, version, request);
        // The connection's expiry (100 ms) runs from `connect`: let the request reach the
        // worker's socket before `recv_timeout` looks, or a slow machine sees the expiry first.
        let State::Connected(conn) = &worker.state else {
            panic!("not connected");
        };
        assert!(conn
            .socket
            .poll(Events::POLLIN, Some(Duration::from_secs(10)))
            .unwrap()
            .contains(Events::POLLIN));
        let request = worker
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("a request");
        assert_eq!(request.client().data(), b"client-7");
        (broker, worker, id, request)
    }

    /// The next non-heartbeat command must be a `part` reply to client-7 with `text`.
    fn expect_reply(broker: &FakeBroker, id: &[u8], part: Part, text: &str) {
        let (from, _, command) = broker.next_skipping_heartbeats();
        assert_eq!(from, id);
        match command {
            WorkerMessage::Reply {
                part: got,
                client,
                mut body,
            } => {
                assert_eq!(got, part);
                assert_eq!(client.data(), b"client-7");
                assert_eq!(body.pop_str().unwrap(), text);
            }
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn reply_goes_out_on_a_live_connection_even_after_a_long_request() {
        let (broker, mut worker, id, request) = worker_with_a_request(quick_config());
        // "Work" for several broker expiries while the broker stays silent. Heartbeats the
        // worker sent before it took the request may still arrive (a slow machine widens that
        // window); no reply and no new registration may.
        let deadline = Instant::now() + Duration::from_millis(300);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if broker
                .router
                .poll(Events::POLLIN, Some(left))
                .unwrap()
                .is_empty()
            {
                break;
            }
            let (from, _, command) = broker.next();
            assert_eq!(
                from, id,
                "nothing from a new socket while the application works"
            );
            assert!(
                matches!(command, WorkerMessage::Heartbeat),
                "only heartbeats while it works, got {command:?}"
            );
        }
        worker
            .reply(&request, ["done"].into_iter().collect())
            .unwrap();
        expect_reply(&broker, &id, Part::Final, "done");
        assert_eq!(worker.registrations(), 1);
    }

    #[test]
    fn an_mdp02_worker_streams_partial_replies_then_the_final_one() {
        let config = WorkerConfig {
            version: Version::V2,
            ..quick_config()
        };
        let (broker, mut worker, id, request) = worker_with_a_request(config);
        for n in 1..=3 {
            let body = [n.to_string()].into_iter().collect();
            worker.reply_partial(&request, body).unwrap();
        }
        worker
            .reply(&request, ["done"].into_iter().collect())
            .unwrap();
        for n in 1..=3 {
            expect_reply(&broker, &id, Part::Partial, &n.to_string());
        }
        expect_reply(&broker, &id, Part::Final, "done");
    }

    #[test]
    fn an_mdp01_worker_has_no_partial_replies() {
        let (_broker, mut worker, _, request) = worker_with_a_request(quick_config());
        assert!(matches!(
            worker.reply_partial(&request, ZMsg::new()),
            Err(Error::InvalidArgument(_))
        ));
    }

    /// A reply that the broker does not take (its pipe stays full for heartbeat × liveness) is
    /// not dropped on a connection that stays open: the worker gives the connection up, so the
    /// broker sees it gone and resends the request, and says so with `BrokerGone`.
    #[test]
    fn a_reply_the_broker_does_not_take_gives_the_connection_up() {
        let broker = FakeBroker::new();
        // The fake broker reads ahead at most one message, so the pipe fills soon.
        broker.router.set_rcvhwm(1).unwrap();
        let config = WorkerConfig {
            heartbeat: Duration::from_millis(100),
            liveness: 3,
            ..quick_config()
        };
        let mut worker = Worker::connect(&broker.endpoint, "svc", config).unwrap();
        let (id, version, command) = broker.next();
        assert!(is_ready(&command));
        let request = WorkerMessage::Request {
            client: ZFrame::from("c1"),
            body: ZMsg::from_iter(["job"]),
        };
        broker.send(&id, version, request);
        let request = worker
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .expect("the request arrives");

        // The broker reads nothing more: replies fill the TCP buffers and the worker's pipe,
        // until one waits heartbeat × liveness and fails.
        let body = vec![7u8; 8 << 10];
        let mut sent = 0u32;
        let deadline = Instant::now() + Duration::from_secs(60);
        let err = loop {
            match worker.reply(&request, ZMsg::from_iter([body.clone()])) {
                Ok(()) => sent += 1,
                Err(err) => break err,
            }
            assert!(
                Instant::now() < deadline,
                "{sent} replies in 60 s without an error: replies are lost on an open connection"
            );
        };
        assert!(
            matches!(err, Error::BrokerGone(_)),
            "{err:?} after {sent} replies"
        );
        assert!(!worker.is_connected(), "the connection is given up");
        // The request belonged to that connection: a late reply to it is refused too.
        assert!(matches!(
            worker.reply(&request, ZMsg::from_iter(["late"])),
            Err(Error::BrokerGone(_))
        ));
    }
}
