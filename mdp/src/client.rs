//! The synchronous Majordomo client: one request at a time, with a timeout and retries (the
//! "Lazy Pirate" recipe that RFC 7 recommends).
//!
//! ```no_run
//! use std::time::Duration;
//! use mdp::{Client, ClientConfig};
//! use zmsg::ZMsg;
//!
//! let mut client = Client::connect("tcp://localhost:5555", ClientConfig::default())?;
//! let mut request = ZMsg::new();
//! request.append("Hello world");
//! let reply = client.send("echo", request)?;
//! assert_eq!(reply[0].data(), b"Hello world");
//! # Ok::<(), mdp::Error>(())
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use zmsg::cert::ZCert;
use zmsg::{Events, SocketType, ZFrame, ZMsg, ZSocket};

use crate::error::{Error, Result};
use crate::protocol::{self, ClientMessage, Part, RefusalCode, Version};

/// How a [`Client`] talks to the broker.
#[derive(Clone)]
pub struct ClientConfig {
    /// How long to wait for each reply (default 2500 ms, as the zguide).
    pub timeout: Duration,
    /// How many times a request is sent in all before giving up (default 3, at least 1). Each new
    /// try uses a new socket, so a late reply to an abandoned try is never mistaken for the
    /// answer.
    pub retries: u32,
    /// The broker's CURVE public key: set it to talk to a CURVE broker.
    pub curve_server_key: Option<[u8; 32]>,
    /// This client's own CURVE certificate; a fresh one is made when `curve_server_key` is set
    /// and this is `None`.
    pub curve_cert: Option<ZCert>,
    /// The protocol version to speak (default [`Version::V1`], MDP/0.1). With [`Version::V2`]
    /// (MDP/0.2, RFC 18) a service may answer with partial replies before the final one.
    pub version: Version,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_millis(protocol::DEFAULT_HEARTBEAT_MS),
            retries: 3,
            curve_server_key: None,
            curve_cert: None,
            version: Version::V1,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("curve", &self.curve_server_key.is_some())
            .field("version", &self.version)
            .finish()
    }
}

/// A synchronous Majordomo client (MDP/0.1, or MDP/0.2 with [`ClientConfig::version`]).
///
/// [`Client::send`] sends one request and waits for its reply. When no reply comes within the
/// timeout, it closes its socket, opens a new one and sends the request again, up to
/// [`ClientConfig::retries`] times in all (but never after a partial reply arrived: the request
/// is being worked on, and a retry would start it again). It then fails with [`Error::Timeout`] when the broker
/// took the request but never answered, or [`Error::BrokerGone`] when no connection to a broker
/// could be made at all (nothing listening, or a CURVE handshake that never completes because
/// the server key is wrong).
///
/// The socket is a DEALER with `ZMQ_IMMEDIATE` set, so a request is only handed to a completed
/// connection: that is how the client tells "no broker" from "no reply".
pub struct Client {
    endpoint: String,
    config: ClientConfig,
    socket: Option<ZSocket>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .finish()
    }
}

impl Client {
    /// Creates a client for the broker at `endpoint` (e.g. `tcp://localhost:5555`) and connects.
    pub fn connect(endpoint: &str, config: ClientConfig) -> Result<Client> {
        if config.retries == 0 {
            return Err(Error::InvalidArgument(
                "ClientConfig::retries must be at least 1".into(),
            ));
        }
        let mut client = Client {
            endpoint: endpoint.to_owned(),
            config,
            socket: None,
        };
        client.reconnect()?;
        Ok(client)
    }

    /// The broker endpoint this client connects to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Changes the reply timeout for the next requests.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.config.timeout = timeout;
    }

    /// Changes how many times the next requests are sent in all (at least 1).
    pub fn set_retries(&mut self, retries: u32) {
        self.config.retries = retries.max(1);
    }

    /// Sends `body` to `service` and returns the reply body. See [`Client`] for the retry rules.
    /// Partial replies (MDP/0.2) are skipped: use [`Client::send_streaming`] to see them.
    pub fn send(&mut self, service: &str, body: ZMsg) -> Result<ZMsg> {
        self.send_streaming(service, body, |_| {})
    }

    /// Like [`Client::send`], calling `on_partial` with each partial reply (MDP/0.2 PARTIAL) as it
    /// arrives; returns the final reply. Each partial reply restarts the timeout.
    ///
    /// ```no_run
    /// # use mdp::{Client, ClientConfig, protocol::Version};
    /// let config = ClientConfig { version: Version::V2, ..ClientConfig::default() };
    /// let mut client = Client::connect("tcp://localhost:5555", config)?;
    /// let last = client.send_streaming("count", zmsg::ZMsg::from_iter(["3"]), |partial| {
    ///     println!("progress: {:?}", partial);
    /// })?;
    /// # Ok::<(), mdp::Error>(())
    /// ```
    pub fn send_streaming(
        &mut self,
        service: &str,
        body: ZMsg,
        mut on_partial: impl FnMut(ZMsg),
    ) -> Result<ZMsg> {
        let request = ClientMessage::request(service, body).encode(self.config.version);
        let mut handed_over = false;
        for attempt in 1..=self.config.retries {
            let last = attempt == self.config.retries;
            match self.try_once(service, &request, &mut on_partial)? {
                Attempt::Reply(body) => return Ok(body),
                Attempt::NotConnected => {
                    if !last {
                        tracing::warn!(
                            attempt,
                            endpoint = %self.endpoint,
                            "no connection to the broker, retrying on a new socket"
                        );
                    }
                }
                Attempt::NoReply { partials } => {
                    handed_over = true;
                    if partials {
                        break;
                    }
                    if !last {
                        tracing::warn!(attempt, service, "no reply, retrying on a new socket");
                    }
                }
            }
            self.reconnect()?;
        }
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

    /// Sends a one-frame text request and returns the reply body.
    pub fn send_str(&mut self, service: &str, text: &str) -> Result<ZMsg> {
        let mut body = ZMsg::new();
        body.append(text);
        self.send(service, body)
    }

    /// Asks the broker's `mmi.service` whether a worker serves `service`: `Ok(true)` for 200,
    /// `Ok(false)` for 404; any other answer is [`Error::Protocol`].
    pub fn service_available(&mut self, service: &str) -> Result<bool> {
        let code = self.mmi("mmi.service", service)?;
        match code.as_str() {
            "200" => Ok(true),
            "404" => Ok(false),
            other => Err(Error::UnexpectedAnswer(format!(
                "mmi.service answered {other:?}, expected 200 or 404"
            ))),
        }
    }

    /// Sends an MMI request (`mmi.*`) with a one-frame text body and returns the first reply
    /// frame as text (the status code for `mmi.service`).
    pub fn mmi(&mut self, mmi_service: &str, argument: &str) -> Result<String> {
        let mut reply = self.send_str(mmi_service, argument)?;
        if reply.is_empty() {
            return Err(Error::UnexpectedAnswer(format!(
                "{mmi_service} answered an empty body"
            )));
        }
        reply
            .pop_str()
            .map_err(|err| Error::UnexpectedAnswer(format!("{mmi_service} answer: {err}")))
    }

    /// Like [`Client::send`], but first asks `mmi.service` and fails with
    /// [`Error::ServiceUnavailable`] when no worker serves `service`, instead of leaving the
    /// request queued at the broker until it times out.
    pub fn call_checked(&mut self, service: &str, body: ZMsg) -> Result<ZMsg> {
        if !self.service_available(service)? {
            return Err(Error::ServiceUnavailable(service.to_owned()));
        }
        self.send(service, body)
    }

    fn reconnect(&mut self) -> Result<()> {
        // Dropping the old socket (linger 0) discards anything still queued for the old try.
        self.socket = None;
        self.socket = Some(dealer(&self.endpoint, &self.config)?);
        Ok(())
    }

    fn try_once(
        &mut self,
        service: &str,
        request: &ZMsg,
        on_partial: &mut dyn FnMut(ZMsg),
    ) -> Result<Attempt> {
        let Some(socket) = self.socket.as_ref() else {
            return Ok(Attempt::NotConnected);
        };
        let mut deadline = Instant::now() + self.config.timeout;
        // With ZMQ_IMMEDIATE the socket becomes writable only once a connection (and its
        // security handshake) is complete.
        if !socket
            .poll(Events::POLLOUT, Some(remaining(deadline)))?
            .contains(Events::POLLOUT)
        {
            return Ok(Attempt::NotConnected);
        }
        let mut outgoing = request.clone();
        match socket.send_msg_ref(&mut outgoing, zmsg::SendFlags::DONTWAIT) {
            Ok(()) => {}
            Err(zmsg::Error::Again) => return Ok(Attempt::NotConnected),
            Err(err) => return Err(err.into()),
        }
        let mut partials = false;
        loop {
            let ready = socket.poll(Events::POLLIN, Some(remaining(deadline)))?;
            if !ready.contains(Events::POLLIN) {
                return Ok(Attempt::NoReply { partials });
            }
            let msg = match socket.recv_msg_dontwait() {
                Ok(msg) => msg,
                Err(zmsg::Error::Again) => continue,
                Err(err) => return Err(err.into()),
            };
            match ClientReply::decode(msg) {
                Ok(reply) if reply.service.eq_bytes(protocol::REFUSED) => {
                    return Err(refusal(reply.body))
                }
                Ok(reply) if !reply.service.eq_bytes(service.as_bytes()) => tracing::warn!(
                    expected = service,
                    got = %String::from_utf8_lossy(reply.service.data()),
                    "dropping a reply for another service"
                ),
                Ok(reply) if reply.part == Part::Partial => {
                    partials = true;
                    deadline = Instant::now() + self.config.timeout;
                    on_partial(reply.body);
                }
                Ok(reply) => return Ok(Attempt::Reply(reply.body)),
                Err(err) => tracing::warn!(%err, "dropping an invalid reply"),
            }
        }
    }
}

enum Attempt {
    Reply(ZMsg),
    NoReply {
        /// Whether partial replies arrived (then the request must not be sent again).
        partials: bool,
    },
    NotConnected,
}

/// A reply as a client receives it.
#[derive(Debug)]
pub struct ClientReply {
    /// The service the request asked for ([`protocol::REFUSED`] for a refusal).
    pub service: ZFrame,
    /// A partial reply (MDP/0.2: more follow) or the final one.
    pub part: Part,
    /// The reply body.
    pub body: ZMsg,
}

impl ClientReply {
    /// Decodes a reply as a client's DEALER receives it.
    pub(crate) fn decode(msg: ZMsg) -> Result<ClientReply> {
        match ClientMessage::decode_reply(msg)? {
            (
                _,
                ClientMessage::Reply {
                    part,
                    service,
                    body,
                },
            ) => Ok(ClientReply {
                service,
                part,
                body,
            }),
            (_, ClientMessage::Request { .. }) => Err(Error::Protocol(
                protocol::DecodeError::WrongDirection("a client REQUEST"),
            )),
        }
    }
}

/// The time left until `deadline` (zero once it has passed).
pub(crate) fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// A client's DEALER, connected to `endpoint`: linger 0 (a dropped try leaves nothing behind),
/// `ZMQ_IMMEDIATE` (requests go only to a completed connection), CURVE as configured.
pub(crate) fn dealer(endpoint: &str, config: &ClientConfig) -> Result<ZSocket> {
    let socket = ZSocket::new(SocketType::Dealer)?;
    socket.set_linger(Some(Duration::ZERO))?;
    socket.set_immediate(true)?;
    apply_curve(
        &socket,
        config.curve_server_key.as_ref(),
        config.curve_cert.as_ref(),
    )?;
    socket.connect(endpoint)?;
    Ok(socket)
}

/// The typed error for a broker refusal, from its body `code , service , request body...`.
pub(crate) fn refusal(mut body: ZMsg) -> Error {
    let code = body.pop_frame().unwrap_or_default();
    let service = body.pop_str().unwrap_or_default();
    match RefusalCode::parse(code.data()) {
        Some(code) => Error::Refused {
            service,
            code,
            body: body.into(),
        },
        None => Error::UnexpectedAnswer(format!(
            "a refusal with the unknown code {:?}",
            String::from_utf8_lossy(code.data())
        )),
    }
}

/// Sets CURVE client options on `socket`: the broker's public key and this peer's certificate
/// (a fresh one when `cert` is `None`).
pub(crate) fn apply_curve(
    socket: &ZSocket,
    server_key: Option<&[u8; 32]>,
    cert: Option<&ZCert>,
) -> Result<()> {
    match (server_key, cert) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(Error::InvalidArgument(
            "a CURVE certificate was given without the broker's public key (curve_server_key)"
                .into(),
        )),
        (Some(key), cert) => {
            match cert {
                Some(cert) => cert.apply(socket)?,
                None => ZCert::new()?.apply(socket)?,
            }
            socket.set_curve_serverkey(key)?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_refusals_decode() {
        let wire: ZMsg = ["", "MDPC01", "svc", "x"].into_iter().collect();
        let reply = ClientReply::decode(wire).unwrap();
        assert_eq!(reply.service.data(), b"svc");
        assert_eq!(reply.part, Part::Final);
        assert_eq!(reply.body.len(), 1);
        let short: ZMsg = ["", "MDPC01"].into_iter().collect();
        assert!(matches!(
            ClientReply::decode(short),
            Err(Error::Protocol(_))
        ));

        let refused: ZMsg = ["429", "svc", "body"].into_iter().collect();
        match refusal(refused) {
            Error::Refused {
                service,
                code,
                body,
            } => {
                assert_eq!(service, "svc");
                assert_eq!(code, RefusalCode::ClientFull);
                assert_eq!(body.into_inner().len(), 1);
            }
            other => panic!("{other:?}"),
        }
        let unknown: ZMsg = ["999", "svc"].into_iter().collect();
        assert!(matches!(refusal(unknown), Error::UnexpectedAnswer(_)));
    }

    #[test]
    fn zero_retries_is_rejected() {
        let config = ClientConfig {
            retries: 0,
            ..ClientConfig::default()
        };
        assert!(matches!(
            Client::connect("tcp://127.0.0.1:1", config),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn certificate_without_server_key_is_rejected() {
        let config = ClientConfig {
            curve_cert: Some(ZCert::new().unwrap()),
            ..ClientConfig::default()
        };
        assert!(matches!(
            Client::connect("tcp://127.0.0.1:1", config),
            Err(Error::InvalidArgument(_))
        ));
    }
}
