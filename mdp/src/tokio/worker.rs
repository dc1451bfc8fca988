//! The async Majordomo worker: up to `credit` requests handled **concurrently**, as tasks.
//!
//! One task owns the connection: it registers (READY, with the zmsg credit extension when
//! [`WorkerConfig::credit`] is above 1), receives requests and starts a task for each, sends the
//! replies the tasks hand back, heartbeats on its own timer — so a long request never delays a
//! heartbeat — and reconnects, with the same back-off as [`crate::Worker`], when the broker goes
//! silent for heartbeat × liveness or says DISCONNECT. Replies of requests that came on a
//! connection that has since closed are dropped (the broker resends those requests to another
//! worker, since this one left).
//!
//! A handler that returns `Err` declines its request: MDP/0.1 cannot say "failed", so, as the
//! synchronous worker does, this worker then ends its conversation with the broker (DISCONNECT)
//! and registers again; the broker resends the declined request — and any other request this
//! worker held — to a worker. A handler that panics counts as one that declined.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> mdp::Result<()> {
//! use std::time::Duration;
//! use mdp::tokio::Worker;
//! use mdp::WorkerConfig;
//!
//! let config = WorkerConfig { credit: 32, ..WorkerConfig::default() };
//! let worker = Worker::new("tcp://localhost:5555", "slow-echo", config);
//! worker
//!     .run_until(
//!         |mut job: mdp::tokio::Job| async move {
//!             tokio::time::sleep(Duration::from_millis(10)).await; // 32 of these at once
//!             Ok::<_, mdp::HandlerError>(job.take_body())
//!         },
//!         tokio::signal::ctrl_c(),
//!     )
//!     .await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use zmsg::{AsyncSocket, SocketType, ZFrame, ZMsg, ZSocket};

use crate::client::apply_curve;
use crate::error::{Error, Result};
use crate::protocol::{Part, WorkerMessage};
use crate::worker::{HandlerError, WorkerConfig};

/// A request handed to a handler: the body, and (MDP/0.2) a way to send partial replies.
pub struct Job {
    client: ZFrame,
    body: ZMsg,
    connection: u64,
    out: mpsc::Sender<Outgoing>,
    partials: bool,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("body", &self.body)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// The request body.
    pub fn body(&self) -> &ZMsg {
        &self.body
    }

    /// Takes the body out, leaving an empty one.
    pub fn take_body(&mut self) -> ZMsg {
        std::mem::take(&mut self.body)
    }

    /// The client's address at the broker.
    pub fn client(&self) -> &ZFrame {
        &self.client
    }

    /// Sends a partial reply (MDP/0.2 PARTIAL) before the final one the handler returns. Only
    /// for a worker configured with MDP/0.2; waits while the connection's queue is full.
    pub async fn send_partial(&mut self, body: ZMsg) -> Result<()> {
        if !self.partials {
            return Err(Error::InvalidArgument(
                "partial replies need MDP/0.2 (WorkerConfig::version)".into(),
            ));
        }
        self.out
            .send(Outgoing {
                connection: self.connection,
                client: self.client.detached_clone(),
                part: Part::Partial,
                body: Some(body),
            })
            .await
            .map_err(|_| Error::Disconnected("the worker has stopped".into()))
    }
}

/// Why the connection task closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Nothing came from the broker for heartbeat × liveness: wait, then reconnect.
    BrokerSilent,
    /// The broker said DISCONNECT: register again at once.
    Disconnected,
    /// A handler declined a request: end the conversation, register again at once.
    Declined,
}

/// A reply (or a declined request: `body: None`) on its way to the connection task.
struct Outgoing {
    connection: u64,
    client: ZFrame,
    part: Part,
    body: Option<ZMsg>,
}

/// An async Majordomo worker for one service; see the [module documentation](self).
#[derive(Debug)]
pub struct Worker {
    endpoint: String,
    service: String,
    config: WorkerConfig,
}

/// The live connection and what the loop knows about it.
struct Connection {
    socket: AsyncSocket,
    id: u64,
    /// When the broker is dead unless something arrives first.
    expiry: Instant,
    /// When the next HEARTBEAT is due.
    heartbeat_at: Instant,
    /// Whether anything came from the broker on it.
    heard: bool,
    /// Whether its READY offered a credit.
    offered_credit: bool,
}

impl Worker {
    /// A worker for `service` at the broker `endpoint`; nothing happens until it runs.
    pub fn new(endpoint: &str, service: &str, config: WorkerConfig) -> Worker {
        Worker {
            endpoint: endpoint.to_owned(),
            service: service.to_owned(),
            config,
        }
    }

    /// Serves requests with `handler` until `shutdown` completes (e.g. `tokio::signal::ctrl_c()`),
    /// then tells the broker DISCONNECT, waits for the handlers still running and sends their
    /// replies (for at most one heartbeat interval), and returns. Each request runs as its own
    /// task; `handler` returns the final reply body, or an error to decline the request.
    pub async fn run_until<H, F, S>(self, handler: H, shutdown: S) -> Result<()>
    where
        H: Fn(Job) -> F + Send + Sync + 'static,
        F: Future<Output = std::result::Result<ZMsg, HandlerError>> + Send + 'static,
        S: Future + Send,
    {
        if self.config.heartbeat.is_zero() || self.config.liveness == 0 {
            return Err(Error::InvalidArgument(
                "heartbeat and liveness must be greater than zero".into(),
            ));
        }
        let handler = Arc::new(handler);
        let credit = self.config.credit.max(1) as usize;
        let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(credit * 4 + 16);
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut offer_credit = self.config.credit > 1;
        let mut delay = self.config.reconnect_min;
        let mut next_id = 0;
        let mut conn = Some(self.connect(&mut next_id, offer_credit)?);
        tokio::pin!(shutdown);

        loop {
            let Some(c) = conn.as_mut() else {
                // Waiting to reconnect.
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(delay) => {
                        conn = Some(self.connect(&mut next_id, offer_credit)?);
                    }
                    Some(_) = out_rx.recv() => {} // replies for a closed connection: dropped
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                }
                continue;
            };
            let wake_at = c.heartbeat_at.min(c.expiry);
            let mut close: Option<Close> = None;
            tokio::select! {
                _ = &mut shutdown => break,
                msg = c.socket.recv() => {
                    let msg = msg?;
                    c.heard = true;
                    c.expiry = Instant::now() + self.expiry_span();
                    match WorkerMessage::decode(msg) {
                        Ok((_, WorkerMessage::Request { client, body })) => {
                            let job = Job {
                                client,
                                body,
                                connection: c.id,
                                out: out_tx.clone(),
                                partials: self.config.version.has_partials(),
                            };
                            tasks.spawn(run_job(handler.clone(), job));
                        }
                        Ok((_, WorkerMessage::Heartbeat)) => {}
                        Ok((_, WorkerMessage::Disconnect)) => close = Some(Close::Disconnected),
                        Ok((_, other)) => tracing::warn!(?other, "unexpected command from the broker"),
                        Err(err) => tracing::warn!(%err, "invalid message from the broker"),
                    }
                }
                Some(out) = out_rx.recv() => {
                    if out.connection == c.id {
                        match out.body {
                            Some(body) => {
                                let reply = WorkerMessage::Reply { part: out.part, client: out.client, body };
                                c.socket.send(reply.encode(self.config.version)).await?;
                                c.heartbeat_at = Instant::now() + self.config.heartbeat;
                            }
                            None => close = Some(Close::Declined),
                        }
                    }
                }
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(err) = joined {
                        tracing::warn!(%err, "a handler task failed");
                    }
                }
                _ = sleep_until(wake_at) => {
                    let now = Instant::now();
                    if now >= c.expiry {
                        close = Some(Close::BrokerSilent);
                    } else if now >= c.heartbeat_at {
                        let beat = WorkerMessage::Heartbeat.encode(self.config.version);
                        // A full pipe skips the beat: the broker is not reading, the expiry tells.
                        let _ = tokio::time::timeout(Duration::ZERO, c.socket.send(beat)).await;
                        c.heartbeat_at = now + self.config.heartbeat;
                    }
                }
            }
            if let Some(why) = close {
                let mut closed = conn.take().expect("a connection");
                tracing::info!(service = %self.service, ?why, "reconnecting");
                self.say_disconnect(&mut closed.socket).await;
                if closed.heard {
                    delay = self.config.reconnect_min;
                } else {
                    delay = (delay * 2).min(self.config.reconnect_max);
                    if self.config.credit > 1 {
                        // No answer to this READY: maybe a broker that refuses the credit frame.
                        offer_credit = !closed.offered_credit;
                    }
                }
                if why != Close::BrokerSilent {
                    // The broker is alive: register again at once.
                    conn = Some(self.connect(&mut next_id, offer_credit)?);
                }
            }
        }

        // Shutdown: DISCONNECT, then let running handlers finish and send what they answer.
        drop(out_tx);
        if let Some(mut c) = conn.take() {
            self.say_disconnect(&mut c.socket).await;
            let deadline = Instant::now() + self.config.heartbeat;
            while !tasks.is_empty() {
                tokio::select! {
                    _ = sleep_until(deadline) => break,
                    Some(_) = tasks.join_next() => {}
                }
            }
            while let Ok(out) = out_rx.try_recv() {
                if let (true, Some(body)) = (out.connection == c.id, out.body) {
                    let reply = WorkerMessage::Reply {
                        part: out.part,
                        client: out.client,
                        body,
                    };
                    let send = c.socket.send(reply.encode(self.config.version));
                    let _ = tokio::time::timeout(self.config.heartbeat, send).await;
                }
            }
        }
        tasks.abort_all();
        Ok(())
    }

    fn expiry_span(&self) -> Duration {
        self.config.heartbeat * self.config.liveness
    }

    /// A new socket, connected, with READY queued.
    fn connect(&self, next_id: &mut u64, offer_credit: bool) -> Result<Connection> {
        let socket = ZSocket::new(SocketType::Dealer)?;
        socket.set_linger(Some(Duration::ZERO))?;
        apply_curve(
            &socket,
            self.config.curve_server_key.as_ref(),
            self.config.curve_cert.as_ref(),
        )?;
        socket.connect(&self.endpoint)?;
        let ready = WorkerMessage::Ready {
            service: ZFrame::from(self.service.as_str()),
            credit: if offer_credit { self.config.credit } else { 1 },
        };
        // A new DEALER queues READY until the connection is up.
        socket.send_msg(ready.encode(self.config.version))?;
        *next_id += 1;
        tracing::debug!(endpoint = %self.endpoint, service = %self.service, registration = *next_id, "connected, sent READY");
        let now = Instant::now();
        Ok(Connection {
            socket: AsyncSocket::new(socket)?,
            id: *next_id,
            expiry: now + self.expiry_span(),
            heartbeat_at: now + self.config.heartbeat,
            heard: false,
            offered_credit: offer_credit,
        })
    }

    /// Sends DISCONNECT if the pipe takes it at once.
    async fn say_disconnect(&self, socket: &mut AsyncSocket) {
        let bye = WorkerMessage::Disconnect.encode(self.config.version);
        let _ = tokio::time::timeout(Duration::ZERO, socket.send(bye)).await;
    }
}

/// Runs one handler and hands its outcome to the connection task.
async fn run_job<H, F>(handler: Arc<H>, job: Job)
where
    H: Fn(Job) -> F + Send + Sync + 'static,
    F: Future<Output = std::result::Result<ZMsg, HandlerError>> + Send + 'static,
{
    let (connection, client, out) = (job.connection, job.client.detached_clone(), job.out.clone());
    // A panicking handler is caught here (as a failed task would be) and counts as declining.
    let outcome = tokio::spawn(handler(job)).await;
    let body = match outcome {
        Ok(Ok(body)) => Some(body),
        Ok(Err(err)) => {
            tracing::warn!(%err, "the handler declined a request");
            None
        }
        Err(err) => {
            tracing::warn!(%err, "the handler panicked");
            None
        }
    };
    let _ = out
        .send(Outgoing {
            connection,
            client,
            part: Part::Final,
            body,
        })
        .await;
}
