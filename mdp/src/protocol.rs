//! The Majordomo wire format: MDP/0.1 (ZeroMQ RFC 7) and MDP/0.2 (RFC 18) as typed messages.
//!
//! This module is the only place that parses or builds MDP frames. Each sub-protocol is one enum
//! with `decode` (a received [`ZMsg`] in, a typed message or a [`DecodeError`] naming what was
//! wrong out) and `encode` (the frames to send). The broker, the worker and both clients use it.
//!
//! Frames as a DEALER sends and receives them (a ROUTER adds the peer's identity in front):
//!
//! | message | MDP/0.1 | MDP/0.2 |
//! |---|---|---|
//! | client request | `"" , MDPC01 , service , body...` | `MDPC02 , 0x01 , service , body...` |
//! | partial reply to a client | (none) | `MDPC02 , 0x02 , service , body...` |
//! | final reply to a client | `"" , MDPC01 , service , body...` | `MDPC02 , 0x03 , service , body...` |
//! | READY | `"" , MDPW01 , 0x01 , service [, option...]` | `MDPW02 , 0x01 , service [, option...]` |
//! | REQUEST | `"" , MDPW01 , 0x02 , client , "" , body...` | `MDPW02 , 0x02 , client , "" , body...` |
//! | PARTIAL | (none) | `MDPW02 , 0x03 , client , "" , body...` |
//! | REPLY / FINAL | `"" , MDPW01 , 0x03 , client , "" , body...` | `MDPW02 , 0x04 , client , "" , body...` |
//! | HEARTBEAT | `"" , MDPW01 , 0x04` | `MDPW02 , 0x05` |
//! | DISCONNECT | `"" , MDPW01 , 0x05` | `MDPW02 , 0x06` |
//!
//! READY options are `key=value` frames, a compatible extension of both versions: `credit=N`
//! asks the broker for up to N requests at once (see `docs/mdp.md`, "Worker credit").
//!
//! ```
//! use mdp::protocol::{ClientMessage, Version};
//! use zmsg::ZMsg;
//!
//! let request = ClientMessage::request("echo", ZMsg::from_iter(["hello"]));
//! let frames = request.encode(Version::V1);
//! assert_eq!(frames.len(), 4); // "" , MDPC01 , echo , hello
//! let (version, decoded) = ClientMessage::decode_request(frames).unwrap();
//! assert_eq!(version, Version::V1);
//! assert_eq!(decoded.service().data(), b"echo");
//! ```

use std::fmt;

use zmsg::{ZFrame, ZMsg};

/// The MDP/0.1 client sub-protocol header.
pub const CLIENT_V1: &[u8] = b"MDPC01";
/// The MDP/0.1 worker sub-protocol header.
pub const WORKER_V1: &[u8] = b"MDPW01";
/// The MDP/0.2 client sub-protocol header.
pub const CLIENT_V2: &[u8] = b"MDPC02";
/// The MDP/0.2 worker sub-protocol header.
pub const WORKER_V2: &[u8] = b"MDPW02";
/// The prefix of the service names the broker answers itself (RFC 8, MMI).
pub const MMI_PREFIX: &[u8] = b"mmi.";
/// The service frame of a broker refusal (flow control, `docs/mdp.md`): the reply body is
/// the [`RefusalCode`], the asked service, then the refused request's body.
pub const REFUSED: &[u8] = b"mmi.refused";

/// The defaults of the zguide and of this crate: heartbeat every 2.5 s, peer dead after 3 missed.
pub const DEFAULT_HEARTBEAT_MS: u64 = 2500;
/// How many heartbeat intervals without traffic make a peer dead.
pub const DEFAULT_LIVENESS: u32 = 3;

/// The READY option by which a worker asks for up to N requests at once: an extra frame
/// `credit=N` after the service name. This is a zmsg extension of MDP (see `docs/mdp.md`,
/// "Worker credit"): a plain worker sends no such frame and holds one request at a time; brokers
/// that do not know the option ignore the frame, so the worker then gets one at a time.
pub const CREDIT_OPTION: &str = "credit";

/// The largest credit a worker may ask for; a broker may grant less.
pub const MAX_CREDIT: u32 = 65_536;

/// True when `service` is reserved for the broker's management interface (`mmi.`).
pub fn is_mmi(service: &[u8]) -> bool {
    service.starts_with(MMI_PREFIX)
}

/// Which Majordomo version a message speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// MDP/0.1, ZeroMQ RFC 7: one REPLY per request, an empty delimiter frame first.
    V1,
    /// MDP/0.2, ZeroMQ RFC 18: PARTIAL replies then one FINAL, no delimiter frame.
    V2,
}

impl Version {
    /// The client sub-protocol header of this version.
    pub const fn client_header(self) -> &'static [u8] {
        match self {
            Version::V1 => CLIENT_V1,
            Version::V2 => CLIENT_V2,
        }
    }

    /// The worker sub-protocol header of this version.
    pub const fn worker_header(self) -> &'static [u8] {
        match self {
            Version::V1 => WORKER_V1,
            Version::V2 => WORKER_V2,
        }
    }

    /// Whether this version can carry partial replies.
    pub const fn has_partials(self) -> bool {
        matches!(self, Version::V2)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "MDP/0.1",
            Version::V2 => "MDP/0.2",
        })
    }
}

/// Why a received message is not a valid MDP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message has no frames at all.
    #[error("empty message")]
    Empty,
    /// An MDP/0.1 message whose first frame is not the empty delimiter.
    #[error("frame 0 is not empty")]
    NoDelimiter,
    /// The header frame names no MDP sub-protocol this side speaks.
    #[error("unknown protocol header {0:?}")]
    UnknownHeader(String),
    /// A frame the layout requires is missing.
    #[error("missing {0} frame")]
    Missing(&'static str),
    /// The command frame is not one byte of a known command.
    #[error("unknown command {0:02x?}")]
    UnknownCommand(Vec<u8>),
    /// A client or worker message names an empty service.
    #[error("empty service name")]
    EmptyService,
    /// The frame after the client address of a REQUEST/REPLY is not empty.
    #[error("the frame after the client address is not empty")]
    NoEnvelopeDelimiter,
    /// A command that takes no frames carries some.
    #[error("{command} carries {extra} unexpected frame(s)")]
    ExtraFrames {
        /// The command's name.
        command: &'static str,
        /// How many frames too many.
        extra: usize,
    },
    /// A READY option frame is not a valid `key=value`.
    #[error("bad READY option: {0}")]
    BadOption(String),
    /// A message of the other direction (a reply where a request is expected, or the reverse).
    #[error("{0} is not sent in this direction")]
    WrongDirection(&'static str),
}

/// Builds a [`DecodeError::UnknownHeader`] with a printable form of the bytes.
fn unknown_header(frame: &[u8]) -> DecodeError {
    let shown = &frame[..frame.len().min(32)];
    DecodeError::UnknownHeader(String::from_utf8_lossy(shown).into_owned())
}

/// Takes the header frame(s) off `msg`: the version, and whether it is the client (`true`) or
/// worker (`false`) sub-protocol.
fn take_header(msg: &mut ZMsg) -> Result<(Version, bool), DecodeError> {
    let first = msg.pop_frame().ok_or(DecodeError::Empty)?;
    match first.data() {
        CLIENT_V2 => return Ok((Version::V2, true)),
        WORKER_V2 => return Ok((Version::V2, false)),
        [] => {}
        other => {
            return Err(if other == CLIENT_V1 || other == WORKER_V1 {
                DecodeError::NoDelimiter
            } else {
                unknown_header(other)
            })
        }
    }
    let header = msg.pop_frame().ok_or(DecodeError::Missing("header"))?;
    match header.data() {
        CLIENT_V1 => Ok((Version::V1, true)),
        WORKER_V1 => Ok((Version::V1, false)),
        other => Err(unknown_header(other)),
    }
}

/// Puts the header frame(s) of `version` in front of `msg`.
fn push_header(msg: &mut ZMsg, version: Version, client: bool) {
    let header = if client {
        version.client_header()
    } else {
        version.worker_header()
    };
    msg.push_frame(ZFrame::from_static(header));
    if version == Version::V1 {
        msg.push_frame(ZFrame::new());
    }
}

/// A message a broker received on its ROUTER (after the identity frame), decoded.
#[derive(Debug)]
pub enum Inbound {
    /// A client's request.
    Client(Version, ClientMessage),
    /// A worker-protocol command.
    Worker(Version, WorkerMessage),
}

impl Inbound {
    /// Decodes what a broker received from a peer: a client request or a worker command.
    pub fn decode(mut msg: ZMsg) -> Result<Inbound, DecodeError> {
        let (version, client) = take_header(&mut msg)?;
        if client {
            ClientMessage::decode_request_body(version, msg).map(|m| Inbound::Client(version, m))
        } else {
            WorkerMessage::decode_body(version, msg).map(|m| Inbound::Worker(version, m))
        }
    }
}

/// Whether a reply is one of several (MDP/0.2 PARTIAL) or the last (0.1 REPLY, 0.2 FINAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// More replies follow for the same request (MDP/0.2 only).
    Partial,
    /// The request's last reply.
    Final,
}

/// The client sub-protocol: a request to the broker or a reply from it.
#[derive(Debug)]
pub enum ClientMessage {
    /// Client → broker: a request for `service`.
    Request {
        /// The service asked for.
        service: ZFrame,
        /// The request body (at least one frame on the wire; an empty body is sent as one
        /// empty frame).
        body: ZMsg,
    },
    /// Broker → client: a reply (a partial one, or the final one) for `service`.
    Reply {
        /// Partial (MDP/0.2) or final.
        part: Part,
        /// The service the request asked for (or [`REFUSED`] for a refusal).
        service: ZFrame,
        /// The reply body.
        body: ZMsg,
    },
}

impl ClientMessage {
    /// A request for `service` with `body`.
    pub fn request(service: impl zmsg::IntoFrame, body: ZMsg) -> ClientMessage {
        ClientMessage::Request {
            service: service.into_frame(),
            body,
        }
    }

    /// The service frame.
    pub fn service(&self) -> &ZFrame {
        match self {
            ClientMessage::Request { service, .. } | ClientMessage::Reply { service, .. } => {
                service
            }
        }
    }

    /// The body.
    pub fn body(&self) -> &ZMsg {
        match self {
            ClientMessage::Request { body, .. } | ClientMessage::Reply { body, .. } => body,
        }
    }

    /// Takes the message apart into its service frame and body.
    pub fn into_parts(self) -> (ZFrame, ZMsg) {
        match self {
            ClientMessage::Request { service, body }
            | ClientMessage::Reply { service, body, .. } => (service, body),
        }
    }

    /// Decodes a request as a broker receives it (after the ROUTER identity).
    pub fn decode_request(mut msg: ZMsg) -> Result<(Version, ClientMessage), DecodeError> {
        match take_header(&mut msg)? {
            (version, true) => Ok((version, Self::decode_request_body(version, msg)?)),
            (_, false) => Err(DecodeError::WrongDirection("a worker command")),
        }
    }

    /// Decodes a reply as a client's DEALER receives it.
    pub fn decode_reply(mut msg: ZMsg) -> Result<(Version, ClientMessage), DecodeError> {
        let (version, client) = take_header(&mut msg)?;
        if !client {
            return Err(DecodeError::WrongDirection("a worker command"));
        }
        let part = match version {
            Version::V1 => Part::Final,
            Version::V2 => match take_command(&mut msg)? {
                0x02 => Part::Partial,
                0x03 => Part::Final,
                0x01 => return Err(DecodeError::WrongDirection("a client REQUEST")),
                other => return Err(DecodeError::UnknownCommand(vec![other])),
            },
        };
        let service = msg.pop_frame().ok_or(DecodeError::Missing("service"))?;
        Ok((
            version,
            ClientMessage::Reply {
                part,
                service,
                body: msg,
            },
        ))
    }

    fn decode_request_body(version: Version, mut msg: ZMsg) -> Result<ClientMessage, DecodeError> {
        if version == Version::V2 {
            match take_command(&mut msg)? {
                0x01 => {}
                0x02 => return Err(DecodeError::WrongDirection("a PARTIAL reply")),
                0x03 => return Err(DecodeError::WrongDirection("a FINAL reply")),
                other => return Err(DecodeError::UnknownCommand(vec![other])),
            }
        }
        let service = msg.pop_frame().ok_or(DecodeError::Missing("service"))?;
        if service.is_empty() {
            return Err(DecodeError::EmptyService);
        }
        if msg.is_empty() {
            return Err(DecodeError::Missing("body"));
        }
        Ok(ClientMessage::Request { service, body: msg })
    }

    /// The frames of this message in `version`, as a DEALER sends them (a ROUTER sender puts
    /// the peer identity in front). An empty request body becomes one empty frame.
    ///
    /// # Panics
    /// When asked to encode a partial reply in MDP/0.1, which has none: callers check
    /// [`Version::has_partials`] first.
    pub fn encode(self, version: Version) -> ZMsg {
        let (command, service, mut msg) = match self {
            ClientMessage::Request { service, mut body } => {
                if body.is_empty() {
                    body.append_frame(ZFrame::new());
                }
                (0x01, service, body)
            }
            ClientMessage::Reply {
                part,
                service,
                body,
            } => {
                assert!(
                    part == Part::Final || version.has_partials(),
                    "MDP/0.1 has no partial replies"
                );
                (
                    if part == Part::Partial { 0x02 } else { 0x03 },
                    service,
                    body,
                )
            }
        };
        msg.push_frame(service);
        if version == Version::V2 {
            msg.push_frame(command_frame(command));
        }
        push_header(&mut msg, version, true);
        msg
    }
}

/// The worker sub-protocol: every command, in either direction.
///
/// A broker receives READY, REPLY (0.1), PARTIAL and FINAL (0.2), HEARTBEAT and DISCONNECT; a
/// worker receives REQUEST, HEARTBEAT and DISCONNECT. Each side decodes every command, so that it
/// can answer one sent in the wrong direction as RFC 7 asks ("valid but unexpected").
#[derive(Debug)]
pub enum WorkerMessage {
    /// Worker → broker: ready to serve `service`.
    Ready {
        /// The service the worker serves (never empty).
        service: ZFrame,
        /// How many requests it asks to hold at once (1 without a `credit` option).
        credit: u32,
    },
    /// Broker → worker: a request from `client`.
    Request {
        /// The client's address (its ROUTER identity at the broker).
        client: ZFrame,
        /// The request body.
        body: ZMsg,
    },
    /// Worker → broker: a reply to `client`'s request (0.1 REPLY, 0.2 PARTIAL or FINAL).
    Reply {
        /// Partial (MDP/0.2 only) or final.
        part: Part,
        /// The client's address, as the REQUEST gave it.
        client: ZFrame,
        /// The reply body.
        body: ZMsg,
    },
    /// Both ways: I am alive.
    Heartbeat,
    /// Both ways: this conversation is over.
    Disconnect,
}

/// Takes a one-byte command frame off `msg`.
fn take_command(msg: &mut ZMsg) -> Result<u8, DecodeError> {
    let frame = msg.pop_frame().ok_or(DecodeError::Missing("command"))?;
    match frame.data() {
        [byte] => Ok(*byte),
        other => Err(DecodeError::UnknownCommand(
            other[..other.len().min(8)].to_vec(),
        )),
    }
}

/// A one-byte command frame (a constant message: nothing is allocated or copied).
fn command_frame(command: u8) -> ZFrame {
    static BYTES: [u8; 7] = [0, 1, 2, 3, 4, 5, 6];
    let index = usize::from(command);
    ZFrame::from_static(&BYTES[index..=index])
}

/// The worker commands' bytes, in `Ready, Request, Reply, Partial, Final, Heartbeat, Disconnect`
/// terms, per version.
#[derive(Clone, Copy)]
enum WorkerCommand {
    Ready,
    Request,
    Partial,
    Final,
    Heartbeat,
    Disconnect,
}

impl WorkerCommand {
    fn byte(self, version: Version) -> u8 {
        match (self, version) {
            (WorkerCommand::Ready, _) => 0x01,
            (WorkerCommand::Request, _) => 0x02,
            (WorkerCommand::Final, Version::V1) => 0x03,
            (WorkerCommand::Heartbeat, Version::V1) => 0x04,
            (WorkerCommand::Disconnect, Version::V1) => 0x05,
            (WorkerCommand::Partial, Version::V1) => unreachable!("MDP/0.1 has no PARTIAL"),
            (WorkerCommand::Partial, Version::V2) => 0x03,
            (WorkerCommand::Final, Version::V2) => 0x04,
            (WorkerCommand::Heartbeat, Version::V2) => 0x05,
            (WorkerCommand::Disconnect, Version::V2) => 0x06,
        }
    }

    fn from_byte(byte: u8, version: Version) -> Option<WorkerCommand> {
        Some(match (byte, version) {
            (0x01, _) => WorkerCommand::Ready,
            (0x02, _) => WorkerCommand::Request,
            (0x03, Version::V1) => WorkerCommand::Final,
            (0x04, Version::V1) => WorkerCommand::Heartbeat,
            (0x05, Version::V1) => WorkerCommand::Disconnect,
            (0x03, Version::V2) => WorkerCommand::Partial,
            (0x04, Version::V2) => WorkerCommand::Final,
            (0x05, Version::V2) => WorkerCommand::Heartbeat,
            (0x06, Version::V2) => WorkerCommand::Disconnect,
            _ => return None,
        })
    }
}

impl WorkerMessage {
    /// Decodes a worker-protocol message as a DEALER (worker) or, after the identity frame, a
    /// ROUTER (broker) receives it.
    pub fn decode(mut msg: ZMsg) -> Result<(Version, WorkerMessage), DecodeError> {
        match take_header(&mut msg)? {
            (version, false) => Ok((version, Self::decode_body(version, msg)?)),
            (_, true) => Err(DecodeError::WrongDirection("a client message")),
        }
    }

    fn decode_body(version: Version, mut msg: ZMsg) -> Result<WorkerMessage, DecodeError> {
        let byte = take_command(&mut msg)?;
        let command = WorkerCommand::from_byte(byte, version)
            .ok_or_else(|| DecodeError::UnknownCommand(vec![byte]))?;
        let no_frames = |name: &'static str, msg: &ZMsg| match msg.len() {
            0 => Ok(()),
            extra => Err(DecodeError::ExtraFrames {
                command: name,
                extra,
            }),
        };
        match command {
            WorkerCommand::Ready => {
                let service = msg.pop_frame().ok_or(DecodeError::Missing("service"))?;
                if service.is_empty() {
                    return Err(DecodeError::EmptyService);
                }
                let credit = ready_credit(msg.iter())?;
                Ok(WorkerMessage::Ready { service, credit })
            }
            WorkerCommand::Heartbeat => {
                no_frames("HEARTBEAT", &msg).map(|()| WorkerMessage::Heartbeat)
            }
            WorkerCommand::Disconnect => {
                no_frames("DISCONNECT", &msg).map(|()| WorkerMessage::Disconnect)
            }
            WorkerCommand::Request | WorkerCommand::Partial | WorkerCommand::Final => {
                let client = msg
                    .pop_frame()
                    .ok_or(DecodeError::Missing("client address"))?;
                let delimiter = msg
                    .pop_frame()
                    .ok_or(DecodeError::Missing("envelope delimiter"))?;
                if !delimiter.is_empty() {
                    return Err(DecodeError::NoEnvelopeDelimiter);
                }
                if msg.is_empty() {
                    return Err(DecodeError::Missing("body"));
                }
                Ok(match command {
                    WorkerCommand::Request => WorkerMessage::Request { client, body: msg },
                    WorkerCommand::Partial => WorkerMessage::Reply {
                        part: Part::Partial,
                        client,
                        body: msg,
                    },
                    _ => WorkerMessage::Reply {
                        part: Part::Final,
                        client,
                        body: msg,
                    },
                })
            }
        }
    }

    /// The command's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            WorkerMessage::Ready { .. } => "READY",
            WorkerMessage::Request { .. } => "REQUEST",
            WorkerMessage::Reply {
                part: Part::Partial,
                ..
            } => "PARTIAL",
            WorkerMessage::Reply { .. } => "REPLY",
            WorkerMessage::Heartbeat => "HEARTBEAT",
            WorkerMessage::Disconnect => "DISCONNECT",
        }
    }

    /// The frames of this command in `version`, as a DEALER sends them (a ROUTER sender puts
    /// the peer identity in front). An empty body becomes one empty frame.
    ///
    /// # Panics
    /// When asked to encode a partial reply in MDP/0.1, which has none: callers check
    /// [`Version::has_partials`] first.
    pub fn encode(self, version: Version) -> ZMsg {
        let (command, mut msg) = match self {
            WorkerMessage::Ready { service, credit } => {
                let mut msg = ZMsg::with_capacity(5);
                msg.append_frame(service);
                if credit > 1 {
                    msg.append_frame(credit_frame(credit));
                }
                (WorkerCommand::Ready, msg)
            }
            WorkerMessage::Request { client, body } => {
                (WorkerCommand::Request, envelope(client, body))
            }
            WorkerMessage::Reply { part, client, body } => {
                assert!(
                    part == Part::Final || version.has_partials(),
                    "MDP/0.1 has no partial replies"
                );
                let command = match part {
                    Part::Partial => WorkerCommand::Partial,
                    Part::Final => WorkerCommand::Final,
                };
                (command, envelope(client, body))
            }
            WorkerMessage::Heartbeat => (WorkerCommand::Heartbeat, ZMsg::with_capacity(3)),
            WorkerMessage::Disconnect => (WorkerCommand::Disconnect, ZMsg::with_capacity(3)),
        };
        msg.push_frame(command_frame(command.byte(version)));
        push_header(&mut msg, version, false);
        msg
    }
}

/// `client , "" , body...`, with an empty body sent as one empty frame.
fn envelope(client: ZFrame, mut body: ZMsg) -> ZMsg {
    if body.is_empty() {
        body.append_frame(ZFrame::new());
    }
    body.push_frame(ZFrame::new());
    body.push_frame(client);
    body
}

/// The `credit=N` frame for a READY.
fn credit_frame(credit: u32) -> ZFrame {
    ZFrame::from(format!("{CREDIT_OPTION}={credit}"))
}

/// Reads the option frames that follow the service name in a READY: the credit (1 when no
/// `credit` option is given). Options are `key=value` frames; unknown keys are ignored, so that
/// later extensions do not break this broker.
fn ready_credit<'a>(options: impl IntoIterator<Item = &'a ZFrame>) -> Result<u32, DecodeError> {
    let mut credit = 1;
    for frame in options {
        let Some((key, value)) = std::str::from_utf8(frame.data())
            .ok()
            .and_then(|text| text.split_once('='))
        else {
            return Err(DecodeError::BadOption("not a key=value text".into()));
        };
        if key == CREDIT_OPTION {
            credit = match value.parse::<u32>() {
                Ok(n) if (1..=MAX_CREDIT).contains(&n) => n,
                _ => {
                    let shown: String = value.chars().take(16).collect();
                    return Err(DecodeError::BadOption(format!(
                        "credit={shown}: not a number from 1 to {MAX_CREDIT}"
                    )));
                }
            };
        }
    }
    Ok(credit)
}

/// Why the broker refused a request (the first body frame of an [`REFUSED`] reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefusalCode {
    /// `503`: the service's request queue is full.
    QueueFull,
    /// `429`: the client has too many requests in flight and replies waiting, or they hold too
    /// many bytes.
    ClientFull,
    /// `413`: the request is larger than the broker's largest message size.
    TooLarge,
    /// `504`: workers were given the request the most times the broker allows and none
    /// answered (they went away or held it too long); it is not tried again.
    Abandoned,
    /// `507`: a broker-wide limit was reached (its memory budget, or its number of clients or
    /// services).
    BrokerFull,
}

impl RefusalCode {
    /// Every code this crate knows, in numeric order.
    pub const ALL: [RefusalCode; 5] = [
        RefusalCode::TooLarge,
        RefusalCode::ClientFull,
        RefusalCode::QueueFull,
        RefusalCode::Abandoned,
        RefusalCode::BrokerFull,
    ];

    /// The code as it travels (`"503"`, `"429"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            RefusalCode::QueueFull => "503",
            RefusalCode::ClientFull => "429",
            RefusalCode::TooLarge => "413",
            RefusalCode::Abandoned => "504",
            RefusalCode::BrokerFull => "507",
        }
    }

    /// The code for its wire text, if it is one this crate knows.
    pub fn parse(text: &[u8]) -> Option<RefusalCode> {
        match text {
            b"503" => Some(RefusalCode::QueueFull),
            b"429" => Some(RefusalCode::ClientFull),
            b"413" => Some(RefusalCode::TooLarge),
            b"504" => Some(RefusalCode::Abandoned),
            b"507" => Some(RefusalCode::BrokerFull),
            _ => None,
        }
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reply body of a refusal: `code , service , request body...`.
pub fn refusal_body(code: RefusalCode, service: &[u8], mut request_body: ZMsg) -> ZMsg {
    request_body.push(service);
    request_body.push(code.as_str());
    request_body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(frames: &[&[u8]]) -> ZMsg {
        frames.iter().map(|f| ZFrame::from(*f)).collect()
    }

    fn frames(msg: &ZMsg) -> Vec<Vec<u8>> {
        msg.iter().map(|f| f.to_vec()).collect()
    }

    #[test]
    fn client_request_layouts() {
        let v1 = ClientMessage::request("echo", msg(&[b"hi"])).encode(Version::V1);
        assert_eq!(frames(&v1), [&b""[..], b"MDPC01", b"echo", b"hi"]);
        let v2 = ClientMessage::request("echo", msg(&[b"hi"])).encode(Version::V2);
        assert_eq!(frames(&v2), [&b"MDPC02"[..], &[1], b"echo", b"hi"]);
        for (wire, version) in [(v1, Version::V1), (v2, Version::V2)] {
            let (got, decoded) = ClientMessage::decode_request(wire).unwrap();
            assert_eq!(got, version);
            let (service, body) = decoded.into_parts();
            assert_eq!(service.data(), b"echo");
            assert_eq!(frames(&body), [b"hi"]);
        }
        // An empty body travels as one empty frame (RFC 7 wants at least one).
        let empty = ClientMessage::request("echo", ZMsg::new()).encode(Version::V1);
        assert_eq!(empty.len(), 4);
    }

    #[test]
    fn client_replies_by_version() {
        let reply = |part| ClientMessage::Reply {
            part,
            service: ZFrame::from("echo"),
            body: msg(&[b"ok"]),
        };
        let v1 = reply(Part::Final).encode(Version::V1);
        assert_eq!(frames(&v1), [&b""[..], b"MDPC01", b"echo", b"ok"]);
        let partial = reply(Part::Partial).encode(Version::V2);
        assert_eq!(frames(&partial), [&b"MDPC02"[..], &[2], b"echo", b"ok"]);
        let last = reply(Part::Final).encode(Version::V2);
        assert_eq!(frames(&last), [&b"MDPC02"[..], &[3], b"echo", b"ok"]);
        for (wire, part) in [
            (v1, Part::Final),
            (partial, Part::Partial),
            (last, Part::Final),
        ] {
            match ClientMessage::decode_reply(wire).unwrap().1 {
                ClientMessage::Reply { part: got, .. } => assert_eq!(got, part),
                other => panic!("not a reply: {other:?}"),
            }
        }
    }

    #[test]
    #[should_panic(expected = "MDP/0.1 has no partial replies")]
    fn partial_reply_in_v1_is_a_caller_bug() {
        let _ = ClientMessage::Reply {
            part: Part::Partial,
            service: ZFrame::from("echo"),
            body: ZMsg::new(),
        }
        .encode(Version::V1);
    }

    #[test]
    fn worker_commands_round_trip_in_both_versions() {
        for version in [Version::V1, Version::V2] {
            let commands = || {
                let mut all = vec![
                    WorkerMessage::Ready {
                        service: ZFrame::from("echo"),
                        credit: 1,
                    },
                    WorkerMessage::Ready {
                        service: ZFrame::from("echo"),
                        credit: 32,
                    },
                    WorkerMessage::Request {
                        client: ZFrame::from("c"),
                        body: msg(&[b"x", b"y"]),
                    },
                    WorkerMessage::Reply {
                        part: Part::Final,
                        client: ZFrame::from("c"),
                        body: msg(&[b"z"]),
                    },
                    WorkerMessage::Heartbeat,
                    WorkerMessage::Disconnect,
                ];
                if version.has_partials() {
                    all.push(WorkerMessage::Reply {
                        part: Part::Partial,
                        client: ZFrame::from("c"),
                        body: msg(&[b"p"]),
                    });
                }
                all
            };
            for (original, copy) in commands().into_iter().zip(commands()) {
                let (got_version, decoded) =
                    WorkerMessage::decode(original.encode(version)).unwrap();
                assert_eq!(got_version, version);
                assert_eq!(format!("{decoded:?}"), format!("{copy:?}"));
            }
        }
    }

    #[test]
    fn worker_layouts_follow_the_rfcs() {
        let ready = WorkerMessage::Ready {
            service: ZFrame::from("echo"),
            credit: 1,
        };
        assert_eq!(
            frames(&ready.encode(Version::V1)),
            [&b""[..], b"MDPW01", &[1], b"echo"]
        );
        let heartbeat = WorkerMessage::Heartbeat.encode(Version::V2);
        assert_eq!(frames(&heartbeat), [&b"MDPW02"[..], &[5]]);
        let disconnect = WorkerMessage::Disconnect.encode(Version::V2);
        assert_eq!(frames(&disconnect), [&b"MDPW02"[..], &[6]]);
        let final_reply = WorkerMessage::Reply {
            part: Part::Final,
            client: ZFrame::from("c"),
            body: msg(&[b"z"]),
        };
        assert_eq!(
            frames(&final_reply.encode(Version::V2)),
            [&b"MDPW02"[..], &[4], b"c", b"", b"z"]
        );
        let credit = WorkerMessage::Ready {
            service: ZFrame::from("echo"),
            credit: 8,
        };
        assert_eq!(
            frames(&credit.encode(Version::V2)),
            [&b"MDPW02"[..], &[1], b"echo", b"credit=8"]
        );
    }

    #[test]
    fn decode_errors_name_what_is_wrong() {
        let cases: Vec<(ZMsg, DecodeError)> = vec![
            (ZMsg::new(), DecodeError::Empty),
            (msg(&[b"MDPC01"]), DecodeError::NoDelimiter),
            (
                msg(&[b"", b"XXXX01"]),
                DecodeError::UnknownHeader("XXXX01".into()),
            ),
            (msg(&[b""]), DecodeError::Missing("header")),
            (msg(&[b"", b"MDPC01"]), DecodeError::Missing("service")),
            (msg(&[b"", b"MDPC01", b""]), DecodeError::EmptyService),
            (
                msg(&[b"", b"MDPC01", b"echo"]),
                DecodeError::Missing("body"),
            ),
            (msg(&[b"", b"MDPW01"]), DecodeError::Missing("command")),
            (
                msg(&[b"", b"MDPW01", &[9]]),
                DecodeError::UnknownCommand(vec![9]),
            ),
            (
                msg(&[b"MDPW02", &[3, 3]]),
                DecodeError::UnknownCommand(vec![3, 3]),
            ),
            (
                msg(&[b"", b"MDPW01", &[4], b"x"]),
                DecodeError::ExtraFrames {
                    command: "HEARTBEAT",
                    extra: 1,
                },
            ),
            (
                msg(&[b"MDPW02", &[4], b"c", b"x", b"body"]),
                DecodeError::NoEnvelopeDelimiter,
            ),
            (
                msg(&[b"MDPW02", &[4], b"c"]),
                DecodeError::Missing("envelope delimiter"),
            ),
            (msg(&[b"", b"MDPW01", &[1], b""]), DecodeError::EmptyService),
            (
                msg(&[b"MDPC02", &[3], b"echo", b"x"]),
                DecodeError::WrongDirection("a FINAL reply"),
            ),
        ];
        for (wire, expected) in cases {
            let shown = format!("{:?}", frames(&wire));
            assert_eq!(Inbound::decode(wire).unwrap_err(), expected, "{shown}");
        }
        // MDP/0.1's REPLY byte is MDP/0.2's PARTIAL: only the header tells them apart.
        let v1_reply = msg(&[b"", b"MDPW01", &[3], b"c", b"", b"x"]);
        assert!(matches!(
            WorkerMessage::decode(v1_reply).unwrap().1,
            WorkerMessage::Reply {
                part: Part::Final,
                ..
            }
        ));
        assert!(matches!(
            ClientMessage::decode_reply(msg(&[b"MDPC02", &[1], b"s", b"x"])),
            Err(DecodeError::WrongDirection(_))
        ));
    }

    #[test]
    fn ready_options() {
        let ready = |options: &[&[u8]]| {
            let mut wire = msg(&[b"", b"MDPW01", &[1], b"echo"]);
            for option in options {
                wire.append_frame(ZFrame::from(*option));
            }
            WorkerMessage::decode(wire).map(|(_, m)| match m {
                WorkerMessage::Ready { credit, .. } => credit,
                other => panic!("not READY: {other:?}"),
            })
        };
        assert_eq!(ready(&[]), Ok(1));
        assert_eq!(ready(&[b"credit=32"]), Ok(32));
        assert_eq!(ready(&[b"colour=blue", b"credit=7"]), Ok(7));
        for bad in [
            &b"credit=0"[..],
            b"credit=-3",
            b"credit=99999999999",
            b"credit",
            &[0xff, b'='],
        ] {
            assert!(matches!(ready(&[bad]), Err(DecodeError::BadOption(_))));
        }
    }

    #[test]
    fn refusal_codes_and_mmi() {
        for code in [
            RefusalCode::QueueFull,
            RefusalCode::ClientFull,
            RefusalCode::TooLarge,
            RefusalCode::Abandoned,
            RefusalCode::BrokerFull,
        ] {
            assert_eq!(RefusalCode::parse(code.as_str().as_bytes()), Some(code));
        }
        assert_eq!(RefusalCode::parse(b"200"), None);
        let body = refusal_body(RefusalCode::QueueFull, b"echo", msg(&[b"x"]));
        assert_eq!(frames(&body), [&b"503"[..], b"echo", b"x"]);
        assert!(is_mmi(b"mmi.service"));
        assert!(!is_mmi(b"mmiservice"));
    }
}
