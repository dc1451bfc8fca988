//! The input language of the fuzz targets in `fuzz_targets/`, shared by the targets and by the
//! seed corpus (see `docs/fuzzing.md`).
//!
//! Inputs are read with [`arbitrary`]: a target reads its values one after another from an
//! [`Unstructured`] until the input runs out. [`Encode`] writes the bytes that `arbitrary` reads
//! back as the same value, so the committed seeds (`corpus/`) are readable sequences of
//! operations; `tests::seeds_decode_as_written` checks that, and rewrites the corpus with
//! `FUZZ_WRITE_SEEDS=1`.

use arbitrary::{Arbitrary, Unstructured};
use mdp::protocol::{ClientMessage, Part, Version, WorkerMessage};
use zmsg::{ZFrame, ZMsg};

/// The peers the broker hears from: eight ROUTER identities, each used as a client, a worker or
/// both.
pub const PEERS: usize = 8;

/// The ROUTER identity of peer `i` (modulo [`PEERS`]).
pub fn peer(i: u8) -> ZFrame {
    ZFrame::from(format!("peer-{}", usize::from(i) % PEERS))
}

/// Service names: ordinary, short, MMI (known and unknown), the refusal service, and two
/// non-UTF-8 names that look alike once made lossy.
const SERVICES: &[&[u8]] = &[
    b"echo",
    b"e",
    b"svc",
    b"mmi.service",
    b"mmi.services",
    b"mmi.workers",
    b"mmi.queue",
    b"mmi.stats",
    b"mmi.known",
    b"mmi.x",
    b"mmi.refused",
    b"\xff",
    b"\xfe",
];

/// Service name number `i` (modulo the list).
pub fn service(i: u8) -> &'static [u8] {
    SERVICES[usize::from(i) % SERVICES.len()]
}

/// READY option frames: credits in and out of range, malformed and unknown options.
const OPTIONS: &[&str] = &[
    "credit=1",
    "credit=2",
    "credit=3",
    "credit=0",
    "credit=65536",
    "credit=65537",
    "credit=-1",
    "credit=x",
    "credit",
    "colour=blue",
];

/// One frame of a message: the MDP vocabulary, or anything.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An empty frame (the MDP/0.1 delimiter, the REQUEST envelope delimiter).
    Empty,
    /// `MDPC01`.
    Mdpc01,
    /// `MDPW01`.
    Mdpw01,
    /// `MDPC02`.
    Mdpc02,
    /// `MDPW02`.
    Mdpw02,
    /// A one-byte command frame, `0x00..=0x07`.
    Command(u8),
    /// A service name from the list.
    Service(u8),
    /// A READY option frame from the list.
    Option(u8),
    /// A peer's identity (a client address in a REPLY).
    Peer(u8),
    /// A large frame of `n % 4096` bytes (to reach the byte limits cheaply).
    Big(u16),
    /// Any bytes.
    Bytes(Vec<u8>),
}

impl Frame {
    /// The frame's bytes.
    pub fn to_frame(&self) -> ZFrame {
        match self {
            Frame::Empty => ZFrame::new(),
            Frame::Mdpc01 => ZFrame::from("MDPC01"),
            Frame::Mdpw01 => ZFrame::from("MDPW01"),
            Frame::Mdpc02 => ZFrame::from("MDPC02"),
            Frame::Mdpw02 => ZFrame::from("MDPW02"),
            Frame::Command(byte) => ZFrame::from(&[byte % 8][..]),
            Frame::Service(i) => ZFrame::from(service(*i)),
            Frame::Option(i) => ZFrame::from(OPTIONS[usize::from(*i) % OPTIONS.len()]),
            Frame::Peer(i) => peer(*i),
            Frame::Big(n) => ZFrame::from(vec![b'x'; usize::from(*n) % 4096]),
            Frame::Bytes(bytes) => ZFrame::from(&bytes[..]),
        }
    }
}

/// The frames as a message.
pub fn to_msg(frames: &[Frame]) -> ZMsg {
    frames.iter().map(Frame::to_frame).collect()
}

/// Reads frames until the input runs out (the codec targets' input).
pub fn read_frames(data: &[u8]) -> Vec<Frame> {
    let mut u = Unstructured::new(data);
    let mut frames = Vec::new();
    while !u.is_empty() {
        match Frame::arbitrary(&mut u) {
            Ok(frame) => frames.push(frame),
            Err(_) => break,
        }
    }
    frames
}

/// A well-formed MDP message, built with `mdp::protocol`.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Mdp {
    /// A client request.
    Request {
        /// MDP/0.2 (else 0.1).
        v2: bool,
        /// The service (from the list).
        service: u8,
        /// The body.
        body: Vec<Frame>,
    },
    /// A worker's READY.
    Ready {
        /// MDP/0.2 (else 0.1).
        v2: bool,
        /// The service (from the list).
        service: u8,
        /// The credit asked for (0 and 1: no option).
        credit: u8,
    },
    /// A worker's REPLY (0.1) or PARTIAL / FINAL (0.2).
    Reply {
        /// MDP/0.2 (else 0.1).
        v2: bool,
        /// A PARTIAL (MDP/0.2 only; ignored for 0.1).
        partial: bool,
        /// The peer the reply is for.
        client: u8,
        /// The body.
        body: Vec<Frame>,
    },
    /// A worker's HEARTBEAT.
    Heartbeat {
        /// MDP/0.2 (else 0.1).
        v2: bool,
    },
    /// A worker's DISCONNECT.
    Disconnect {
        /// MDP/0.2 (else 0.1).
        v2: bool,
    },
}

fn version(v2: bool) -> Version {
    if v2 {
        Version::V2
    } else {
        Version::V1
    }
}

impl Mdp {
    /// The frames a DEALER would send.
    pub fn to_msg(&self) -> ZMsg {
        match self {
            Mdp::Request {
                v2,
                service: s,
                body,
            } => ClientMessage::request(service(*s), to_msg(body)).encode(version(*v2)),
            Mdp::Ready {
                v2,
                service: s,
                credit,
            } => WorkerMessage::Ready {
                service: ZFrame::from(service(*s)),
                credit: u32::from(*credit).max(1),
            }
            .encode(version(*v2)),
            Mdp::Reply {
                v2,
                partial,
                client,
                body,
            } => WorkerMessage::Reply {
                part: if *partial && *v2 {
                    Part::Partial
                } else {
                    Part::Final
                },
                client: peer(*client),
                body: to_msg(body),
            }
            .encode(version(*v2)),
            Mdp::Heartbeat { v2 } => WorkerMessage::Heartbeat.encode(version(*v2)),
            Mdp::Disconnect { v2 } => WorkerMessage::Disconnect.encode(version(*v2)),
        }
    }
}

/// What the transport says when the broker sends to a peer.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The message went out.
    Yes,
    /// The peer's pipe is full.
    Full,
    /// The peer is gone.
    Gone,
}

/// What the fuzzing hook answers (one list serves requests and replies in turn).
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum HookChoice {
    /// Carry on.
    Forward,
    /// Discard it.
    Drop,
    /// Answer with this body.
    Answer(Vec<Frame>),
    /// Redirect to the service (from the list).
    ToService(u8),
    /// Redirect to the peer.
    ToPeer(u8),
}

/// The broker's configuration, every limit small. Each field is taken modulo a small range in
/// `broker_core` (see `Setup::config` there).
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// Heartbeat: `(n % 20 + 1) × 100 ms`.
    pub heartbeat: u8,
    /// Liveness: `n % 4 + 1`.
    pub liveness: u8,
    /// Request expiry, request timeout (0: none), service grace and client backlog timeout:
    /// `n × 100 ms` each.
    pub timers: [u8; 4],
    /// max_queue, max_client_backlog, max_services, max_workers, max_clients,
    /// max_worker_credit (each `n % 5`, which the broker raises to at least 1), max_resends
    /// (`n % 4`).
    pub counts: [u8; 7],
    /// max_queue_bytes, max_client_backlog_bytes, max_message_size, max_memory
    /// (each `n % 8192`).
    pub bytes: [u16; 4],
    /// Hooks, when present: their answers, taken in turn.
    pub hooks: Option<Vec<HookChoice>>,
}

/// One step of the broker's life.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A message of arbitrary frames from a peer.
    Send {
        /// The sender.
        peer: u8,
        /// The frames after the identity.
        frames: Vec<Frame>,
    },
    /// A well-formed MDP message from a peer.
    Mdp {
        /// The sender.
        peer: u8,
        /// The message.
        msg: Mdp,
    },
    /// Time passes: `ms` milliseconds (at most 60 s). Timers fire on time, or, when `late`,
    /// once at the end (a stalled driver).
    Advance {
        /// How long.
        ms: u16,
        /// Whether the driver is late.
        late: bool,
    },
    /// The driver finished a batch: `flush_backlogs`.
    Flush,
    /// From now on, sends to `peer` get `answer`.
    Link {
        /// The peer.
        peer: u8,
        /// What its sends report.
        answer: Answer,
    },
}

/// Writes a value as the bytes `arbitrary` 1.x reads back as that value (its derive picks an
/// enum variant from a little-endian `u32`, collections are elements each preceded by a
/// "continue" byte and ended by a 0).
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// Appends the `u32` that selects variant `index` of an enum with `count` variants.
fn variant(index: u32, count: u32, out: &mut Vec<u8>) {
    let value = (u64::from(index) << 32).div_ceil(u64::from(count));
    out.extend_from_slice(&(value as u32).to_le_bytes());
}

impl Encode for u8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl Encode for u16 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        for item in self {
            out.push(1);
            item.encode(out);
        }
        out.push(0);
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode(out);
            }
        }
    }
}

impl<T: Encode, const N: usize> Encode for [T; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        for item in self {
            item.encode(out);
        }
    }
}

impl Encode for Frame {
    fn encode(&self, out: &mut Vec<u8>) {
        let index = match self {
            Frame::Empty => 0,
            Frame::Mdpc01 => 1,
            Frame::Mdpw01 => 2,
            Frame::Mdpc02 => 3,
            Frame::Mdpw02 => 4,
            Frame::Command(_) => 5,
            Frame::Service(_) => 6,
            Frame::Option(_) => 7,
            Frame::Peer(_) => 8,
            Frame::Big(_) => 9,
            Frame::Bytes(_) => 10,
        };
        variant(index, 11, out);
        match self {
            Frame::Command(n) | Frame::Service(n) | Frame::Option(n) | Frame::Peer(n) => {
                n.encode(out)
            }
            Frame::Big(n) => n.encode(out),
            Frame::Bytes(bytes) => bytes.encode(out),
            _ => {}
        }
    }
}

impl Encode for Mdp {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Mdp::Request { v2, service, body } => {
                variant(0, 5, out);
                v2.encode(out);
                service.encode(out);
                body.encode(out);
            }
            Mdp::Ready {
                v2,
                service,
                credit,
            } => {
                variant(1, 5, out);
                v2.encode(out);
                service.encode(out);
                credit.encode(out);
            }
            Mdp::Reply {
                v2,
                partial,
                client,
                body,
            } => {
                variant(2, 5, out);
                v2.encode(out);
                partial.encode(out);
                client.encode(out);
                body.encode(out);
            }
            Mdp::Heartbeat { v2 } => {
                variant(3, 5, out);
                v2.encode(out);
            }
            Mdp::Disconnect { v2 } => {
                variant(4, 5, out);
                v2.encode(out);
            }
        }
    }
}

impl Encode for Answer {
    fn encode(&self, out: &mut Vec<u8>) {
        variant(*self as u32, 3, out);
    }
}

impl Encode for HookChoice {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            HookChoice::Forward => variant(0, 5, out),
            HookChoice::Drop => variant(1, 5, out),
            HookChoice::Answer(body) => {
                variant(2, 5, out);
                body.encode(out);
            }
            HookChoice::ToService(n) => {
                variant(3, 5, out);
                n.encode(out);
            }
            HookChoice::ToPeer(n) => {
                variant(4, 5, out);
                n.encode(out);
            }
        }
    }
}

impl Encode for Setup {
    fn encode(&self, out: &mut Vec<u8>) {
        self.heartbeat.encode(out);
        self.liveness.encode(out);
        self.timers.encode(out);
        self.counts.encode(out);
        self.bytes.encode(out);
        self.hooks.encode(out);
    }
}

impl Encode for Op {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Op::Send { peer, frames } => {
                variant(0, 5, out);
                peer.encode(out);
                frames.encode(out);
            }
            Op::Mdp { peer, msg } => {
                variant(1, 5, out);
                peer.encode(out);
                msg.encode(out);
            }
            Op::Advance { ms, late } => {
                variant(2, 5, out);
                ms.encode(out);
                late.encode(out);
            }
            Op::Flush => variant(3, 5, out),
            Op::Link { peer, answer } => {
                variant(4, 5, out);
                peer.encode(out);
                answer.encode(out);
            }
        }
    }
}

/// A `broker_core` input: the setup, then operations until the input runs out.
pub fn read_broker_input(data: &[u8]) -> Option<(Setup, Vec<Op>)> {
    let mut u = Unstructured::new(data);
    let setup = Setup::arbitrary(&mut u).ok()?;
    let mut ops = Vec::new();
    while !u.is_empty() {
        match Op::arbitrary(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    Some((setup, ops))
}

/// The bytes of a `broker_core` input.
pub fn broker_input(setup: &Setup, ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    setup.encode(&mut out);
    for op in ops {
        op.encode(&mut out);
    }
    out
}

/// The bytes of a codec input.
pub fn frames_input(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    for frame in frames {
        frame.encode(&mut out);
    }
    out
}

pub mod seeds;

#[cfg(test)]
mod tests;
