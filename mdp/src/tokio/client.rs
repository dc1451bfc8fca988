//! The async Majordomo client: many requests in flight on one connection.
//!
//! **Which reply is mine?** MDP carries no request id: a client's replies come back in the order
//! the workers finish, and two requests to the same service may be answered out of order (two
//! workers, or one worker with credit). So this client does not pretend to match replies to
//! requests. It gives them back as they arrive — [`Client::recv`], or the [`Replies`] stream
//! after [`Client::split`] — each with the service it answers, whether it is a partial (MDP/0.2)
//! or the final reply, and its body. When a caller needs to match them, it puts its own id in the
//! request body and the service echoes it (the usual MDP practice); when it does not,
//! [`Client::request`] sends one request and waits for its reply, with the timeout and retries of
//! the synchronous client (the Lazy Pirate recipe), and refuses to run while other requests are in
//! flight, since it could not tell their replies from its own.
//!
//! Refusals (`mmi.refused`) arrive as [`Error::Refused`] items, in order with the replies.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() -> mdp::Result<()> {
//! use mdp::tokio::Client;
//! use mdp::ClientConfig;
//! use zmsg::ZMsg;
//!
//! let mut client = Client::connect("tcp://localhost:5555", ClientConfig::default())?;
//! for n in 0..100 {
//!     client.send("echo", ZMsg::from_iter([n.to_string()])).await?;
//! }
//! for _ in 0..100 {
//!     let reply = client.recv().await?;
//!     println!("{} answered {:?}", reply.service.to_str().unwrap_or("?"), reply.body);
//! }
//! // One at a time, with timeout and retries:
//! let body = client.request("echo", ZMsg::from_iter(["hello"])).await?;
//! # Ok(())
//! # }
//! ```

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use zmsg::{AsyncReceiver, AsyncSender, AsyncSocket, ZMsg};

use crate::client::{dealer, refusal, ClientConfig, ClientReply};
use crate::error::{Error, Result};
use crate::protocol::{self, ClientMessage, Part};

/// An async Majordomo client (MDP/0.1, or MDP/0.2 with [`ClientConfig::version`]); see the
/// [module documentation](self) for how replies are matched.
pub struct Client {
    endpoint: String,
    config: ClientConfig,
    socket: AsyncSocket,
    in_flight: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl Client {
    /// Creates a client for the broker at `endpoint` and connects (in the background). Must be
    /// called within a tokio runtime.
    pub fn connect(endpoint: &str, config: ClientConfig) -> Result<Client> {
        if config.retries == 0 {
            return Err(Error::InvalidArgument(
                "ClientConfig::retries must be at least 1".into(),
            ));
        }
        let socket = AsyncSocket::new(dealer(endpoint, &config)?)?;
        Ok(Client {
            endpoint: endpoint.to_owned(),
            config,
            socket,
            in_flight: 0,
        })
    }

    /// The broker endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Requests sent whose final reply (or refusal) has not arrived yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Sends a request to `service`; its reply comes from [`Client::recv`]. Waits while the
    /// connection is not up or the broker is not taking requests (cancel-safe: a dropped future
    /// sent nothing).
    pub async fn send(&mut self, service: &str, body: ZMsg) -> Result<()> {
        let request = ClientMessage::request(service, body).encode(self.config.version);
        self.socket.send(request).await?;
        self.in_flight += 1;
        Ok(())
    }

    /// The next reply, partial or final, in arrival order; a refusal is [`Error::Refused`]
    /// (cancel-safe). Waits for ever: wrap it in `tokio::time::timeout` to bound it.
    pub async fn recv(&mut self) -> Result<ClientReply> {
        loop {
            let msg = self.socket.recv().await?;
            if let Some(reply) = decode(msg, &mut self.in_flight) {
                return reply;
            }
        }
    }

    /// Sends one request and waits for its final reply (partial replies are skipped), with the
    /// configured timeout and retries: when no reply comes in time, the client reconnects on a
    /// new socket and sends again (never after a partial reply arrived). Fails with
    /// [`Error::InvalidArgument`] while other requests are in flight (their replies could not be
    /// told from this one's).
    pub async fn request(&mut self, service: &str, body: ZMsg) -> Result<ZMsg> {
        if self.in_flight > 0 {
            return Err(Error::InvalidArgument(format!(
                "{} request(s) in flight: request() needs them answered first (use send/recv)",
                self.in_flight
            )));
        }
        let (mut partials, mut handed_over) = (false, false);
        for attempt in 1..=self.config.retries {
            if attempt > 1 {
                tracing::warn!(attempt, service, "no reply, retrying on a new socket");
                self.reconnect()?;
            }
            let timeout = self.config.timeout;
            let sent = tokio::time::timeout(timeout, self.send(service, body.clone())).await;
            if sent.is_err() {
                continue; // no connection within the timeout
            }
            sent.unwrap_or(Ok(()))?;
            handed_over = true;
            loop {
                match tokio::time::timeout(timeout, self.recv()).await {
                    Err(_) => break,
                    Ok(Err(err)) => return Err(err),
                    Ok(Ok(reply)) if !reply.service.eq_bytes(service.as_bytes()) => {
                        tracing::warn!(service, "dropping a reply for another service");
                    }
                    Ok(Ok(reply)) if reply.part == Part::Partial => partials = true,
                    Ok(Ok(reply)) => return Ok(reply.body),
                }
            }
            if partials {
                break;
            }
        }
        // The requests sent on abandoned sockets are forgotten.
        self.in_flight = 0;
        if handed_over {
            Err(Error::Timeout)
        } else {
            Err(Error::BrokerGone(format!(
                "no connection to a broker at {} after {} attempt(s) \
                 (nothing listening, or the CURVE handshake failed)",
                self.endpoint, self.config.retries
            )))
        }
    }

    /// Splits the client into a sending and a receiving half, for a producer task and a
    /// consumer task.
    pub fn split(self) -> (Requests, Replies) {
        let version = self.config.version;
        let (sender, receiver) = self.socket.split();
        (Requests { sender, version }, Replies { receiver })
    }

    fn reconnect(&mut self) -> Result<()> {
        self.socket = AsyncSocket::new(dealer(&self.endpoint, &self.config)?)?;
        self.in_flight = 0;
        Ok(())
    }
}

/// Decodes a reply; `None` for one that is dropped (invalid, with a warning).
fn decode(msg: ZMsg, in_flight: &mut usize) -> Option<Result<ClientReply>> {
    match ClientReply::decode(msg) {
        Ok(reply) => {
            if reply.part == Part::Final {
                *in_flight = in_flight.saturating_sub(1);
            }
            if reply.service.eq_bytes(protocol::REFUSED) {
                return Some(Err(refusal(reply.body)));
            }
            Some(Ok(reply))
        }
        Err(err) => {
            tracing::warn!(%err, "dropping an invalid reply");
            None
        }
    }
}

/// The sending half of a split [`Client`].
pub struct Requests {
    sender: AsyncSender,
    version: protocol::Version,
}

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests").finish_non_exhaustive()
    }
}

impl Requests {
    /// Sends a request to `service` (cancel-safe).
    pub async fn send(&mut self, service: &str, body: ZMsg) -> Result<()> {
        let request = ClientMessage::request(service, body).encode(self.version);
        Ok(self.sender.send(request).await?)
    }
}

/// The receiving half of a split [`Client`]: a [`Stream`] of replies in arrival order (it never
/// ends; a refusal is an `Err` item).
pub struct Replies {
    receiver: AsyncReceiver,
}

impl std::fmt::Debug for Replies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies").finish_non_exhaustive()
    }
}

impl Replies {
    /// The next reply (cancel-safe).
    pub async fn recv(&mut self) -> Result<ClientReply> {
        std::future::poll_fn(|cx| self.poll_reply(cx)).await
    }

    fn poll_reply(&mut self, cx: &mut Context<'_>) -> Poll<Result<ClientReply>> {
        loop {
            let msg = ready!(self.receiver.poll_recv(cx))?;
            if let Some(reply) = decode(msg, &mut 0) {
                return Poll::Ready(reply);
            }
        }
    }
}

impl Stream for Replies {
    type Item = Result<ClientReply>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_reply(cx).map(Some)
    }
}
