//! The asynchronous Majordomo client (the zguide's `mdcliapi2`): a DEALER socket, any number of
//! requests in flight, `send` and `recv` apart.
//!
//! ```no_run
//! use std::time::Duration;
//! use mdp::{AsyncClient, ClientConfig};
//! use zmsg::ZMsg;
//!
//! let mut client = AsyncClient::connect("tcp://localhost:5555", ClientConfig::default())?;
//! for i in 0..100u32 {
//!     let mut request = ZMsg::new();
//!     request.append(i);
//!     client.send("echo", request)?;
//! }
//! for _ in 0..100 {
//!     let (service, reply) = client.recv_timeout(Duration::from_secs(5))?;
//!     assert_eq!(service, "echo");
//! #   let _ = reply;
//! }
//! # Ok::<(), mdp::Error>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use zmsg::{Events, SendFlags, SocketType, ZMsg, ZSocket};

use crate::client::{apply_curve, refusal, remaining, ClientConfig, ClientReply};
use crate::error::{Error, Result};
use crate::protocol::{ClientMessage, Part, REFUSED};

/// An asynchronous Majordomo client over a DEALER socket (MDP/0.1, or MDP/0.2 with
/// [`ClientConfig::version`]).
///
/// Requests are sent with [`AsyncClient::send`] and replies collected with
/// [`AsyncClient::recv`] / [`AsyncClient::recv_timeout`], in whatever order the broker delivers
/// them; each reply comes with the service that answered. MDP/0.1 has no request numbers, so
/// match replies to requests through their bodies if you need to. There are no retries: a
/// broker that restarts loses the requests in flight (the protocol cannot tell which).
///
/// **No stall when sending many requests.** The zguide's `mdclient2` sends 100 000 requests
/// before it reads any reply; replies then pile up at the broker until its high-water mark
/// drops them or blocks. This client avoids that: `send` moves the replies that have already
/// arrived into an internal queue (a non-blocking drain) every 16 sends, and when the socket
/// would block it keeps draining while it waits for room, up to the configured timeout. `recv` serves
/// that queue first. The queue grows with the number of unread replies.
///
/// **Refusals.** A broker that is over a flow-control limit (its queue for the service is full,
/// or this client has too many requests in flight and replies waiting) answers
/// `mmi.refused`; `recv` returns it as [`Error::Refused`] with the refused request's body, in
/// the place of that request's reply.
///
/// **Partial replies** (MDP/0.2): [`AsyncClient::recv_reply`] returns every reply, partial or
/// final, in arrival order, each with its [`Part`]; `recv`, `recv_timeout` and `try_recv`
/// return final replies only and skip partial ones.
///
/// The reply timeout of [`AsyncClient::recv`] and the send timeout are
/// [`ClientConfig::timeout`]; `retries` is not used.
pub struct AsyncClient {
    endpoint: String,
    config: ClientConfig,
    socket: ZSocket,
    queue: VecDeque<Result<ClientReply>>,
    in_flight: usize,
    sends_since_drain: u32,
}

/// `send` moves arrived replies into the queue at least once per this many sends.
const DRAIN_EVERY: u32 = 16;

impl fmt::Debug for AsyncClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncClient")
            .field("endpoint", &self.endpoint)
            .field("queued_replies", &self.queue.len())
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl AsyncClient {
    /// Creates a client for the broker at `endpoint` and connects (the connection completes in
    /// the background; requests sent before it does are queued).
    pub fn connect(endpoint: &str, config: ClientConfig) -> Result<AsyncClient> {
        let socket = ZSocket::new(SocketType::Dealer)?;
        socket.set_linger(Some(Duration::ZERO))?;
        apply_curve(
            &socket,
            config.curve_server_key.as_ref(),
            config.curve_cert.as_ref(),
        )?;
        socket.connect(endpoint)?;
        Ok(AsyncClient {
            endpoint: endpoint.to_owned(),
            config,
            socket,
            queue: VecDeque::new(),
            in_flight: 0,
            sends_since_drain: 0,
        })
    }

    /// The broker endpoint this client connects to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Changes the timeout of `recv` and of a blocked `send`.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.config.timeout = timeout;
    }

    /// How many requests were sent and not answered yet (as far as this client knows).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Sends `body` to `service` without waiting for the reply. Replies that already arrived
    /// are moved to the internal queue first (see [`AsyncClient`]). Fails with
    /// [`Error::Timeout`] when the socket stays full for the whole timeout.
    pub fn send(&mut self, service: &str, body: ZMsg) -> Result<()> {
        let mut request = ClientMessage::request(service, body).encode(self.config.version);
        // Move arrived replies into the queue now and then; always when the socket is full.
        self.sends_since_drain += 1;
        if self.sends_since_drain >= DRAIN_EVERY {
            self.drain()?;
        }
        let mut deadline = None;
        loop {
            match self.socket.send_msg_ref(&mut request, SendFlags::DONTWAIT) {
                Ok(()) => {
                    self.in_flight += 1;
                    return Ok(());
                }
                Err(zmsg::Error::Again) => {}
                Err(err) => return Err(err.into()),
            }
            // Full: read replies (they may be what is holding the broker up) and wait for room.
            self.drain()?;
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + self.config.timeout);
            if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
            self.socket.poll(
                Events::POLLIN | Events::POLLOUT,
                Some(remaining(deadline).min(Duration::from_millis(100))),
            )?;
        }
    }

    /// Waits up to the configured timeout for the next final reply; returns the answering
    /// service and the reply body, or [`Error::Timeout`].
    pub fn recv(&mut self) -> Result<(String, ZMsg)> {
        self.recv_timeout(self.config.timeout)
    }

    /// Waits up to `timeout` for the next final reply; [`Error::Timeout`] when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<(String, ZMsg)> {
        let deadline = Instant::now() + timeout;
        loop {
            let reply = self.recv_reply(remaining(deadline))?;
            if reply.part == Part::Final {
                return Ok(final_reply(reply));
            }
        }
    }

    /// Waits up to `timeout` for the next reply, partial (MDP/0.2) or final, in arrival order;
    /// [`Error::Timeout`] when none came.
    pub fn recv_reply(&mut self, timeout: Duration) -> Result<ClientReply> {
        if self.queue.is_empty() {
            // Under load a reply is usually queued already: take it without a poll.
            self.drain()?;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(reply) = self.queue.pop_front() {
                return reply;
            }
            let ready = self
                .socket
                .poll(Events::POLLIN, Some(remaining(deadline)))?;
            if ready.contains(Events::POLLIN) {
                self.drain()?;
            } else if Instant::now() >= deadline {
                return Err(Error::Timeout);
            }
        }
    }

    /// Returns a final reply that already arrived, without waiting.
    pub fn try_recv(&mut self) -> Result<Option<(String, ZMsg)>> {
        loop {
            if self.queue.is_empty() {
                self.drain()?;
            }
            match self.queue.pop_front().transpose()? {
                Some(reply) if reply.part == Part::Final => return Ok(Some(final_reply(reply))),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    /// Moves every reply waiting on the socket into the queue, without blocking. Invalid
    /// messages are logged and dropped.
    fn drain(&mut self) -> Result<()> {
        self.sends_since_drain = 0;
        loop {
            let msg = match self.socket.recv_msg_dontwait() {
                Ok(msg) => msg,
                Err(zmsg::Error::Again) => return Ok(()),
                Err(err) => return Err(err.into()),
            };
            match ClientReply::decode(msg) {
                Ok(reply) if reply.service.eq_bytes(REFUSED) => {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    self.queue.push_back(Err(refusal(reply.body)));
                }
                Ok(reply) => {
                    if reply.part == Part::Final {
                        self.in_flight = self.in_flight.saturating_sub(1);
                    }
                    self.queue.push_back(Ok(reply));
                }
                Err(err) => tracing::warn!(%err, "dropping an invalid reply"),
            }
        }
    }
}

/// A final reply as `recv` returns it: the service name as text and the body.
fn final_reply(reply: ClientReply) -> (String, ZMsg) {
    let service = String::from_utf8_lossy(reply.service.data()).into_owned();
    (service, reply.body)
}
