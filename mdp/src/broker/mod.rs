//! The Majordomo broker (MDP/0.1, RFC 7, with MMI, RFC 8) on [`zmsg::zloop::ZLoop`].
//!
//! One ROUTER socket carries clients and workers. Each service has a FIFO queue of waiting
//! requests and a queue of workers that can take one (idle workers, and workers that hold fewer
//! requests than their credit); a request is dispatched in O(1). A request held by a
//! worker that dies, expires, disconnects or cannot be reached goes back to the front of its
//! queue and is sent to another worker of the service. See `docs/mdp.md` for the whole design.
//!
//! ```no_run
//! use mdp::{Broker, BrokerConfig};
//! let config = BrokerConfig::new(["tcp://127.0.0.1:*"]);
//! let broker = Broker::spawn(config)?;
//! println!("broker on {}", broker.endpoints()[0]);
//! let stats = broker.stop()?;
//! println!("{stats}");
//! # Ok::<(), mdp::Error>(())
//! ```

mod authz;
mod clients;
mod core;
pub mod hooks;
mod mmi;
mod service;
pub mod stats;
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, info};
use zmsg::cert::ZCert;
use zmsg::zloop::{LoopCtx, ReaderId, TimerId, ZLoop};
use zmsg::{SendFlags, SocketType, ZMsg, ZSocket};

pub use self::authz::{ServicePatterns, WorkerPolicy, SERVICES_METADATA};
pub use self::core::{BrokerCore, Sent, Transmit};
pub use hooks::{BrokerHooks, HookAction, HookReply, HookRequest, Route};
pub use stats::{Counters, GlobalCounters, Refusals, ServiceLoad, Stats, StatsFeed};

use crate::error::{Error, Result};
use crate::protocol::{DEFAULT_HEARTBEAT_MS, DEFAULT_LIVENESS};

/// The broker's hash maps (peer identities, service names, worker keys). Their keys come from the
/// network, so the hasher is seeded at random per map, and it is several times faster than
/// std's SipHash on these short keys, which every message looks up several times.
type Map<K, V> = std::collections::HashMap<K, V, foldhash::quality::RandomState>;

/// How long queued requests wait for a worker by default.
pub const DEFAULT_REQUEST_EXPIRY: Duration = Duration::from_secs(30);
/// How many requests one service queue holds by default before new ones are refused.
pub const DEFAULT_MAX_QUEUE: usize = 100_000;
/// How many requests one client may have in flight plus replies backlogged, by default.
pub const DEFAULT_MAX_CLIENT_BACKLOG: usize = 100_000;
/// How many payload bytes one client's reply backlog may hold before its requests are refused.
pub const DEFAULT_MAX_CLIENT_BACKLOG_BYTES: usize = 64 << 20;
/// How long a client may take nothing before its reply backlog is dropped, by default.
pub const DEFAULT_CLIENT_BACKLOG_TIMEOUT: Duration = Duration::from_secs(30);
/// The most requests the broker lets one worker hold at once, by default, whatever credit the
/// worker asks for (see [`crate::protocol::CREDIT_OPTION`]).
pub const DEFAULT_MAX_WORKER_CREDIT: u32 = 256;
/// The largest request the broker takes by default, in payload bytes (16 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
/// How many payload bytes one service queue holds by default (256 MiB).
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 256 << 20;
/// The broker's whole budget for requests and backlogged replies by default (1 GiB).
pub const DEFAULT_MAX_MEMORY: usize = 1 << 30;
/// How many services the broker tracks at most by default.
pub const DEFAULT_MAX_SERVICES: usize = 10_000;
/// How many workers may be registered at once by default.
pub const DEFAULT_MAX_WORKERS: usize = 100_000;
/// How many clients may have requests in flight or replies waiting at once by default.
pub const DEFAULT_MAX_CLIENTS: usize = 100_000;
/// How long a worker may hold a request by default before the broker takes it back.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a request is taken back from a worker and resent, by default, before the
/// client is told it was abandoned.
pub const DEFAULT_MAX_RESENDS: u32 = 3;
/// How long an empty service (no worker, no waiting request) is remembered by default.
pub const DEFAULT_SERVICE_GRACE: Duration = Duration::from_secs(30);
/// The ROUTER's send high-water mark (messages per peer), by default.
pub const DEFAULT_ROUTER_SNDHWM: i32 = 10_000;
/// The ROUTER's receive high-water mark (messages per peer), by default.
pub const DEFAULT_ROUTER_RCVHWM: i32 = 1_000;

/// How a broker is set up.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Endpoints to bind (`tcp://*:5555`, `tcp://127.0.0.1:*`, `ipc://...`, `inproc://...`).
    pub endpoints: Vec<String>,
    /// Heartbeat interval (default 2500 ms); workers must use the same.
    pub heartbeat: Duration,
    /// Missed heartbeats before a worker is purged (default 3).
    pub liveness: u32,
    /// How long a request may wait in a queue for a worker (default 30 s); the client gets no
    /// answer for an expired request. Checked once per heartbeat interval.
    pub request_expiry: Duration,
    /// Requests one service queue holds before new ones are refused with `mmi.refused` `503`
    /// (default 100 000).
    pub max_queue: usize,
    /// Requests one client may have in flight (queued or at a worker) plus replies waiting in
    /// its backlog; beyond it the client's requests are refused with `mmi.refused` `429`
    /// (default 100 000). This bounds the client's backlog too.
    pub max_client_backlog: usize,
    /// Payload bytes one client may make the broker hold — its requests (queued or at a worker)
    /// and its backlogged replies — before its requests are refused with `429` (default 64 MiB).
    pub max_client_backlog_bytes: usize,
    /// The largest request, in payload bytes, the broker takes (default 16 MiB); larger ones are
    /// refused with `413`. The ROUTER's `ZMQ_MAXMSGSIZE` is set to it too, so a peer that sends a
    /// larger frame is disconnected by libzmq before the broker holds it.
    pub max_message_size: usize,
    /// Payload bytes one service queue may hold before new requests are refused with `503`
    /// (default 256 MiB).
    pub max_queue_bytes: usize,
    /// The broker's budget for requests and backlogged replies, in payload bytes, over all
    /// clients (default 1 GiB); beyond it requests are refused with `507`.
    pub max_memory: usize,
    /// Services tracked at most (default 10 000): a READY for one more is answered with
    /// DISCONNECT and a request for one more is refused with `507`.
    pub max_services: usize,
    /// Workers registered at most (default 100 000); a READY beyond is answered with DISCONNECT.
    pub max_workers: usize,
    /// Clients with requests in flight or replies waiting, at most (default 100 000); a request
    /// from one more is refused with `507`.
    pub max_clients: usize,
    /// How long a worker may hold a request (default 30 s; zero: for ever). A worker that holds
    /// one longer is disconnected and its requests go to other workers. Heartbeats do not extend
    /// it: a service with longer jobs needs a longer timeout. Checked once per heartbeat.
    pub request_timeout: Duration,
    /// How many times a request is taken back from workers (that went away or held it too long)
    /// and resent before the client gets `mmi.refused` `504` (default 3).
    pub max_resends: u32,
    /// How long a service with no worker and no waiting request is remembered (default 30 s);
    /// one that never had a worker is forgotten at once.
    pub service_grace: Duration,
    /// How long a client's backlog may stay stuck (the client takes nothing) before it is
    /// dropped and counted (default 30 s).
    pub client_backlog_timeout: Duration,
    /// The most requests one worker may hold at once (default 256). A plain MDP/0.1 worker holds
    /// one; a worker whose READY asks for a credit of N (a zmsg extension, see `docs/mdp.md`)
    /// gets min(N, this). 1 turns the extension off.
    pub max_worker_credit: u32,
    /// The ROUTER's `ZMQ_SNDHWM`: messages libzmq queues per peer before a send to it reports
    /// a full pipe (default 10 000).
    pub router_sndhwm: i32,
    /// The ROUTER's `ZMQ_RCVHWM`: messages libzmq reads ahead per peer before it stops reading
    /// that peer's connection (default 1000).
    pub router_rcvhwm: i32,
    /// When set, the ROUTER is a CURVE server with this certificate (public and secret key).
    pub curve: Option<ZCert>,
    /// A ZAP domain for the ROUTER, for use with a ZAP handler such as `zmsg::auth::ZAuth`.
    /// The ROUTER then fails closed: while no ZAP handler is bound, new connections are refused
    /// (`ZMQ_ZAP_ENFORCE_DOMAIN`), instead of libzmq's default of letting everyone in.
    pub zap_domain: Option<String>,
    /// Which peers may register as workers, for which services (default: any peer, any
    /// service). [`WorkerPolicy::Certificates`] needs `zap_domain` and a ZAP handler: it trusts
    /// the `User-Id` that ZAP gives each connection. Unauthorised READYs are answered with
    /// DISCONNECT and counted (`unauthorised`).
    pub worker_policy: WorkerPolicy,
    /// How often the counters are logged at debug level (`None`: never; default 60 s).
    pub stats_interval: Option<Duration>,
}

impl BrokerConfig {
    /// Defaults (heartbeat 2500 ms, liveness 3, request expiry 30 s, no CURVE) on `endpoints`.
    pub fn new<I, S>(endpoints: I) -> BrokerConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BrokerConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            ..BrokerConfig::default()
        }
    }
}

impl Default for BrokerConfig {
    /// Binds `tcp://*:5555` with the defaults.
    fn default() -> Self {
        BrokerConfig {
            endpoints: vec!["tcp://*:5555".to_owned()],
            heartbeat: Duration::from_millis(DEFAULT_HEARTBEAT_MS),
            liveness: DEFAULT_LIVENESS,
            request_expiry: DEFAULT_REQUEST_EXPIRY,
            max_queue: DEFAULT_MAX_QUEUE,
            max_client_backlog: DEFAULT_MAX_CLIENT_BACKLOG,
            max_client_backlog_bytes: DEFAULT_MAX_CLIENT_BACKLOG_BYTES,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            max_memory: DEFAULT_MAX_MEMORY,
            max_services: DEFAULT_MAX_SERVICES,
            max_workers: DEFAULT_MAX_WORKERS,
            max_clients: DEFAULT_MAX_CLIENTS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_resends: DEFAULT_MAX_RESENDS,
            service_grace: DEFAULT_SERVICE_GRACE,
            client_backlog_timeout: DEFAULT_CLIENT_BACKLOG_TIMEOUT,
            max_worker_credit: DEFAULT_MAX_WORKER_CREDIT,
            router_sndhwm: DEFAULT_ROUTER_SNDHWM,
            router_rcvhwm: DEFAULT_ROUTER_RCVHWM,
            curve: None,
            zap_domain: None,
            worker_policy: WorkerPolicy::AnyPeer,
            stats_interval: Some(Duration::from_secs(60)),
        }
    }
}

/// Bytes a security mechanism adds to a frame on the wire (CURVE: a 16-byte MAC, an 8-byte
/// nonce, flags and the command name), which `ZMQ_MAXMSGSIZE` counts.
const MECHANISM_OVERHEAD: usize = 256;

/// How many messages one readable event handles before timers get their turn.
const BATCH: usize = 256;

/// The ROUTER as the core's [`Transmit`]: non-blocking sends, `ZMQ_ROUTER_MANDATORY` answers.
struct RouterOut<'s>(&'s ZSocket);

impl Transmit for RouterOut<'_> {
    fn send(&mut self, msg: &mut ZMsg) -> Result<Sent> {
        match self.0.send_msg_ref(msg, SendFlags::DONTWAIT) {
            Ok(()) => Ok(Sent::Yes),
            Err(zmsg::Error::Again) => Ok(Sent::Full),
            Err(zmsg::Error::Terminated) => Err(Error::Zmq(zmsg::Error::Terminated)),
            Err(err) => {
                debug!(%err, "send failed, peer unreachable");
                Ok(Sent::Gone)
            }
        }
    }
}

/// The state the event loop owns: the sans-IO core and what the driver needs to run it.
struct Driver {
    core: BrokerCore,
    /// The ROUTER's reader id in the loop (set right after registration).
    router: Option<ReaderId>,
    /// The one-shot timer armed for the core's next deadline, and that deadline.
    timer: Option<(TimerId, Instant)>,
    /// An error of the core that ended the loop.
    failure: Option<Error>,
}

type Ctx = LoopCtx<Driver>;

impl Driver {
    /// Runs `step` on the core with the ROUTER as its transport, then re-arms the timer for the
    /// core's next deadline. A failure stops the loop (it is reported by [`Broker::run`]).
    fn drive(
        &mut self,
        ctx: &mut Ctx,
        step: impl FnOnce(&mut BrokerCore, &ZSocket, Instant) -> Result<()>,
    ) -> zmsg::Result<()> {
        let Some(socket) = self.router.and_then(|id| ctx.socket(id)) else {
            self.failure = Some(Error::InvalidArgument(
                "the broker's ROUTER socket is gone".into(),
            ));
            ctx.stop();
            return Ok(());
        };
        if let Err(err) = step(&mut self.core, socket, ctx.now()) {
            self.failure = Some(err);
            ctx.stop();
            return Ok(());
        }
        self.rearm(ctx);
        Ok(())
    }

    /// Arms a one-shot timer for the core's next deadline, unless one is armed for it already.
    fn rearm(&mut self, ctx: &mut Ctx) {
        let due = self.core.poll_timeout();
        if self.timer.map(|(_, at)| at) == Some(due) {
            return;
        }
        if let Some((id, _)) = self.timer.take() {
            ctx.remove_timer(id);
        }
        let delay = due.saturating_duration_since(ctx.now());
        let id = ctx.add_timer(delay, 1, |driver: &mut Driver, ctx, _| driver.on_timer(ctx));
        self.timer = Some((id, due));
    }

    /// The core's deadline came.
    fn on_timer(&mut self, ctx: &mut Ctx) -> zmsg::Result<()> {
        self.timer = None;
        self.drive(ctx, |core, socket, now| {
            core.handle_timeout(now, &mut RouterOut(socket))
        })
    }

    /// The ROUTER is readable: up to [`BATCH`] messages, then a retry of reply backlogs.
    fn on_readable(&mut self, ctx: &mut Ctx) -> zmsg::Result<()> {
        let mut result = Ok(());
        self.drive(ctx, |core, socket, now| {
            let out = &mut RouterOut(socket);
            for _ in 0..BATCH {
                match socket.recv_msg_dontwait() {
                    Ok(msg) => core.handle_message(msg, now, out)?,
                    Err(zmsg::Error::Again) => break,
                    Err(err) => {
                        result = Err(err);
                        break;
                    }
                }
            }
            core.flush_backlogs(now, out)
        })?;
        result
    }
}

/// A Majordomo broker: bound, ready to [`run`](Broker::run). The logic is [`BrokerCore`]; this
/// is its driver: a ROUTER socket and a [`ZLoop`] that feeds it messages and wakes it when its
/// next deadline comes.
pub struct Broker {
    zloop: ZLoop<Driver>,
    endpoints: Vec<String>,
    public_key: Option<String>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("endpoints", &self.endpoints)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Creates the ROUTER socket (a CURVE server when `config.curve` is set), binds every
    /// endpoint and registers the socket and the core's timer with a new event loop.
    pub fn bind(config: BrokerConfig) -> Result<Broker> {
        let core = BrokerCore::new(&config, Instant::now())?;
        if config.endpoints.is_empty() {
            return Err(Error::InvalidArgument("no endpoint to bind".into()));
        }
        if config.worker_policy.is_restricted() && config.zap_domain.is_none() {
            return Err(Error::InvalidArgument(
                "worker certificates need a ZAP domain and handler: without ZAP no peer has a \
                 User-Id, so no worker could register"
                    .into(),
            ));
        }
        let router = ZSocket::new(SocketType::Router)?;
        router.set_router_mandatory(true)?;
        router.set_sndhwm(config.router_sndhwm)?;
        router.set_rcvhwm(config.router_rcvhwm)?;
        // libzmq checks each frame as it arrives, encrypted under CURVE (a few dozen bytes of
        // nonce, MAC and flags more than the payload): allow for that framing.
        let frame_limit = config.max_message_size.saturating_add(MECHANISM_OVERHEAD);
        router.set_maxmsgsize(i64::try_from(frame_limit).unwrap_or(i64::MAX))?;
        let public_key = match &config.curve {
            Some(cert) => {
                router.set_curve_server(true)?;
                cert.apply(&router)?;
                Some(cert.public_txt())
            }
            None => None,
        };
        if let Some(domain) = &config.zap_domain {
            router.set_zap_domain(domain)?;
            // Fail closed: if the ZAP handler goes away, refuse connections rather than admit all.
            router.set_zap_enforce_domain(true)?;
        }
        let endpoints = config
            .endpoints
            .iter()
            .map(|endpoint| router.bind(endpoint).map(String::from))
            .collect::<zmsg::Result<Vec<_>>>()?;

        let mut zloop = ZLoop::new(Driver {
            core,
            router: None,
            timer: None,
            failure: None,
        });
        let (driver, ctx) = zloop.parts();
        driver.router = Some(ctx.add_reader(router, |driver: &mut Driver, ctx, _| {
            driver.on_readable(ctx)
        }));
        driver.drive(ctx, |_, _, _| Ok(()))?;
        if let Some(interval) = config.stats_interval {
            ctx.add_timer(interval, 0, |driver: &mut Driver, _, _| {
                debug!(stats = %driver.core.stats(), "mdp broker counters");
                Ok(())
            });
        }
        info!(?endpoints, curve = public_key.is_some(), "mdp broker bound");
        Ok(Broker {
            zloop,
            endpoints,
            public_key,
        })
    }

    /// The bound endpoints, with wildcard ports resolved (`tcp://127.0.0.1:41234`).
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The broker's CURVE public key (Z85) when it runs with CURVE.
    pub fn public_key(&self) -> Option<&str> {
        self.public_key.as_deref()
    }

    /// Installs hooks that see every client request and worker reply (replacing any earlier).
    pub fn set_hooks(&mut self, hooks: impl BrokerHooks + 'static) {
        self.zloop.state_mut().core.set_hooks(Some(Box::new(hooks)));
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.zloop.state().core.stats()
    }

    /// Publishes a snapshot of the counters now and then every `every` from the broker loop, for
    /// other threads to read without waiting for the loop (a metrics endpoint, say): the loop
    /// takes the snapshot between messages, so a reader never stalls it. A snapshot costs
    /// O(services) on the loop; `every` is at least 10 ms.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use mdp::{Broker, BrokerConfig};
    /// let mut broker = Broker::bind(BrokerConfig::new(["tcp://127.0.0.1:*"]))?;
    /// let feed = broker.publish_stats(Duration::from_secs(1));
    /// std::thread::spawn(move || {
    ///     if let Some((stats, _taken)) = feed.latest() {
    ///         println!("{} workers", stats.workers);
    ///     }
    /// });
    /// broker.run()?;
    /// # Ok::<(), mdp::Error>(())
    /// ```
    pub fn publish_stats(&mut self, every: Duration) -> StatsFeed {
        let feed = StatsFeed::default();
        let (driver, ctx) = self.zloop.parts();
        feed.publish(driver.core.stats(), ctx.now());
        let publisher = feed.clone();
        ctx.add_timer(
            every.max(Duration::from_millis(10)),
            0,
            move |driver: &mut Driver, ctx, _| {
                publisher.publish(driver.core.stats(), ctx.now());
                Ok(())
            },
        );
        feed
    }

    /// Runs until the loop is stopped, the process is interrupted (SIGINT/SIGTERM with
    /// `zmsg::install_interrupt_handler`; a clean `Ok`) or the context is terminated. Workers
    /// are sent DISCONNECT on a clean stop and the counters are logged at info level.
    pub fn run(&mut self) -> Result<()> {
        let result = match self.zloop.run() {
            Err(zmsg::Error::Interrupted) => Ok(()),
            other => other.map_err(Error::from),
        };
        let (driver, ctx) = self.zloop.parts();
        let result = match driver.failure.take() {
            Some(err) => Err(err),
            None => result,
        };
        if result.is_ok() {
            if let Some(socket) = driver.router.and_then(|id| ctx.socket(id)) {
                driver.core.disconnect_all(&mut RouterOut(socket));
            }
        }
        info!(stats = %self.stats(), "mdp broker stopped");
        result
    }

    /// Runs one loop iteration: waits up to `timeout` for traffic, then handles what is due.
    pub fn run_once(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.zloop.run_once(timeout)?;
        match self.zloop.state_mut().failure.take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Starts a broker on its own thread; the handle stops it (and joins the thread) on
    /// [`BrokerHandle::stop`] or drop.
    pub fn spawn(config: BrokerConfig) -> Result<BrokerHandle> {
        Self::spawn_inner(config, None)
    }

    /// As [`Broker::spawn`], with hooks installed.
    pub fn spawn_with_hooks(
        config: BrokerConfig,
        hooks: impl BrokerHooks + 'static,
    ) -> Result<BrokerHandle> {
        Self::spawn_inner(config, Some(Box::new(hooks)))
    }

    fn spawn_inner(
        config: BrokerConfig,
        hooks: Option<Box<dyn BrokerHooks>>,
    ) -> Result<BrokerHandle> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let endpoint = format!(
            "inproc://mdp-broker-control-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let control = ZSocket::new(SocketType::Pair)?;
        control.bind(&endpoint)?;
        let remote = ZSocket::new(SocketType::Pair)?;
        remote.connect(&endpoint)?;

        let (ready_tx, ready_rx) = mpsc::channel::<Result<(Vec<String>, Option<String>)>>();
        let (stats_tx, stats_rx) = mpsc::channel::<Stats>();
        let thread = std::thread::Builder::new()
            .name("mdp-broker".into())
            .spawn(move || -> Result<Stats> {
                let mut broker = match Broker::bind(config) {
                    Ok(broker) => broker,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return Ok(Stats::default());
                    }
                };
                broker.zloop.state_mut().core.set_hooks(hooks);
                broker
                    .zloop
                    .ctx()
                    .add_reader(remote, move |driver: &mut Driver, ctx, id| {
                        let Some(socket) = ctx.socket(id) else {
                            return Ok(());
                        };
                        match socket.recv_msg_dontwait() {
                            Ok(msg) if msg.first().is_some_and(|f| f.data() == b"STATS") => {
                                let _ = stats_tx.send(driver.core.stats());
                            }
                            Ok(_) => ctx.stop(),
                            Err(zmsg::Error::Again) => {}
                            Err(err) => return Err(err),
                        }
                        Ok(())
                    });
                let _ = ready_tx.send(Ok((broker.endpoints.clone(), broker.public_key.clone())));
                broker.run()?;
                Ok(broker.stats())
            })
            .map_err(|err| Error::Zmq(zmsg::Error::Io(err)))?;
        match ready_rx.recv() {
            Ok(Ok((endpoints, public_key))) => Ok(BrokerHandle {
                control,
                endpoints,
                public_key,
                stats: stats_rx,
                thread: Some(thread),
            }),
            Ok(Err(err)) => {
                let _ = thread.join();
                Err(err)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::BrokerGone(
                    "the broker thread died while starting".into(),
                ))
            }
        }
    }
}

/// A broker running on its own thread (from [`Broker::spawn`]). Dropping it stops the broker and
/// joins the thread.
#[must_use = "dropping a BrokerHandle stops the broker"]
pub struct BrokerHandle {
    control: ZSocket,
    endpoints: Vec<String>,
    public_key: Option<String>,
    stats: mpsc::Receiver<Stats>,
    thread: Option<JoinHandle<Result<Stats>>>,
}

impl std::fmt::Debug for BrokerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerHandle")
            .field("endpoints", &self.endpoints)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl BrokerHandle {
    /// The bound endpoints, with wildcard ports resolved.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The broker's CURVE public key (Z85) when it runs with CURVE.
    pub fn public_key(&self) -> Option<&str> {
        self.public_key.as_deref()
    }

    /// Asks the broker thread for a snapshot of its counters (waits up to 5 s).
    pub fn stats(&self) -> Result<Stats> {
        // A late answer to an earlier call that timed out is stale: drop it.
        while self.stats.try_recv().is_ok() {}
        self.control
            .send_frame("STATS".into(), SendFlags::DONTWAIT)?;
        self.stats
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| Error::BrokerGone("the broker thread did not answer".into()))
    }

    /// Stops the broker, joins its thread and returns its final counters (or the error that
    /// ended it).
    pub fn stop(mut self) -> Result<Stats> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<Stats> {
        let Some(thread) = self.thread.take() else {
            return Ok(Stats::default());
        };
        // If the broker thread has already ended, nothing reads this: do not block on it.
        let _ = self.control.send_frame("$TERM".into(), SendFlags::DONTWAIT);
        thread
            .join()
            .map_err(|_| Error::BrokerGone("the broker thread panicked".into()))?
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
