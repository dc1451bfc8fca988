//! `ZSocket`: a libzmq socket with CZMQ's endpoint syntax, frame and message I/O.
//!
//! Endpoints follow CZMQ's `zsock_attach`: `"@tcp://*:5555"` binds, `">tcp://host:5555"` connects,
//! and several may be given separated by commas. Without a prefix each socket type has a default
//! (PUB, REP, ROUTER, PULL, XPUB, SERVER, RADIO... bind; the others connect), as in CZMQ's
//! `zsock_new_*` constructors.
//!
//! ```
//! use zmsg::ZSocket;
//! let rep = ZSocket::new_rep("@tcp://127.0.0.1:*")?;
//! let endpoint = rep.endpoint()?;
//! let req = ZSocket::new_req(&format!(">{endpoint}"))?;
//! req.send_str("ping")?;
//! assert_eq!(rep.recv_string()?, "ping");
//! rep.send_str("pong")?;
//! assert_eq!(req.recv_string()?, "pong");
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::ffi::{c_void, CString};
use std::fmt;
use std::ops::BitOr;

use crate::context::ZContext;
use crate::error::{check, Error, Result};
use crate::frame::ZFrame;
use crate::msg::{IntoFrame, ZMsg};
use crate::signal::{retry_after, OnInterrupt};

/// The `zmq_poll` timeout in ms until `deadline` (`-1`: none; rounded up, so a poll never
/// returns before the deadline and spins).
pub(crate) fn poll_timeout_ms(deadline: Option<std::time::Instant>) -> i64 {
    match deadline {
        None => -1,
        Some(deadline) => {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ms = left.as_micros().div_ceil(1000);
            ms.min(i64::MAX as u128) as i64
        }
    }
}

/// Declares `SocketType` and its conversions from one table: variant, libzmq constant, ZMTP name.
macro_rules! socket_types {
    ($( $(#[$attr:meta])* $variant:ident = $raw:ident, $name:literal; )*) => {
        /// Every socket type of libzmq 4.3.5 (the draft types need the `draft` feature).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum SocketType {
            $( $(#[$attr])* #[doc = concat!("`ZMQ_", $name, "`.")] $variant, )*
        }

        impl SocketType {
            /// libzmq's numeric socket type.
            pub fn raw(self) -> i32 {
                match self {
                    $( $(#[$attr])* SocketType::$variant => zmsg_sys::$raw, )*
                }
            }

            /// The socket type for libzmq's number, if it is one this build knows.
            pub fn from_raw(raw: i32) -> Option<Self> {
                $( $(#[$attr])* if raw == zmsg_sys::$raw { return Some(SocketType::$variant); } )*
                None
            }

            /// The name libzmq uses in ZMTP metadata (`"ROUTER"`, `"DEALER"`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $( $(#[$attr])* SocketType::$variant => $name, )*
                }
            }
        }
    };
}

socket_types! {
    Pair = ZMQ_PAIR, "PAIR";
    Pub = ZMQ_PUB, "PUB";
    Sub = ZMQ_SUB, "SUB";
    Req = ZMQ_REQ, "REQ";
    Rep = ZMQ_REP, "REP";
    Dealer = ZMQ_DEALER, "DEALER";
    Router = ZMQ_ROUTER, "ROUTER";
    Pull = ZMQ_PULL, "PULL";
    Push = ZMQ_PUSH, "PUSH";
    XPub = ZMQ_XPUB, "XPUB";
    XSub = ZMQ_XSUB, "XSUB";
    Stream = ZMQ_STREAM, "STREAM";
    #[cfg(feature = "draft")]
    Server = ZMQ_SERVER, "SERVER";
    #[cfg(feature = "draft")]
    Client = ZMQ_CLIENT, "CLIENT";
    #[cfg(feature = "draft")]
    Radio = ZMQ_RADIO, "RADIO";
    #[cfg(feature = "draft")]
    Dish = ZMQ_DISH, "DISH";
    #[cfg(feature = "draft")]
    Gather = ZMQ_GATHER, "GATHER";
    #[cfg(feature = "draft")]
    Scatter = ZMQ_SCATTER, "SCATTER";
    #[cfg(feature = "draft")]
    Dgram = ZMQ_DGRAM, "DGRAM";
    #[cfg(feature = "draft")]
    Peer = ZMQ_PEER, "PEER";
    #[cfg(feature = "draft")]
    Channel = ZMQ_CHANNEL, "CHANNEL";
}

impl SocketType {
    /// Whether an unprefixed endpoint binds (true) or connects (false) for this type, following
    /// CZMQ's `zsock_new_*` defaults.
    pub fn binds_by_default(self) -> bool {
        match self {
            SocketType::Pub | SocketType::Rep | SocketType::Router | SocketType::Pull => true,
            SocketType::XPub => true,
            #[cfg(feature = "draft")]
            SocketType::Server | SocketType::Radio | SocketType::Gather => true,
            _ => false,
        }
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Flags for sending a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendFlags(i32);

impl SendFlags {
    /// Block until the frame is queued (or the send timeout expires).
    pub const NONE: SendFlags = SendFlags(0);
    /// More frames of the same message follow.
    pub const MORE: SendFlags = SendFlags(zmsg_sys::ZMQ_SNDMORE);
    /// Fail with [`Error::Again`] instead of blocking.
    pub const DONTWAIT: SendFlags = SendFlags(zmsg_sys::ZMQ_DONTWAIT);

    /// The raw libzmq flags.
    pub const fn bits(self) -> i32 {
        self.0
    }

    /// True when every flag of `other` is set in `self` (so always for [`SendFlags::NONE`]).
    pub const fn contains(self, other: SendFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Flags for receiving a frame or message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecvFlags(i32);

impl RecvFlags {
    /// Block until a message arrives (or the receive timeout expires).
    pub const NONE: RecvFlags = RecvFlags(0);
    /// Fail with [`Error::Again`] instead of blocking.
    pub const DONTWAIT: RecvFlags = RecvFlags(zmsg_sys::ZMQ_DONTWAIT);

    /// The raw libzmq flags.
    pub const fn bits(self) -> i32 {
        self.0
    }

    /// True when every flag of `other` is set in `self` (so always for [`RecvFlags::NONE`]).
    pub const fn contains(self, other: RecvFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for RecvFlags {
    type Output = RecvFlags;
    fn bitor(self, rhs: RecvFlags) -> RecvFlags {
        RecvFlags(self.0 | rhs.0)
    }
}

impl BitOr for SendFlags {
    type Output = SendFlags;
    fn bitor(self, rhs: SendFlags) -> SendFlags {
        SendFlags(self.0 | rhs.0)
    }
}

/// Readiness bits for polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Events(pub(crate) i16);

impl Events {
    /// Nothing.
    pub const NONE: Events = Events(0);
    /// A message can be received.
    pub const POLLIN: Events = Events(zmsg_sys::ZMQ_POLLIN as i16);
    /// A message can be sent.
    pub const POLLOUT: Events = Events(zmsg_sys::ZMQ_POLLOUT as i16);
    /// An error condition (raw file descriptors only).
    pub const POLLERR: Events = Events(zmsg_sys::ZMQ_POLLERR as i16);

    /// The raw bits.
    pub const fn bits(self) -> i16 {
        self.0
    }

    /// True when every bit of `other` is set (so always for [`Events::NONE`], as for the
    /// flag types).
    pub const fn contains(self, other: Events) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when any bit of `other` is set.
    pub const fn intersects(self, other: Events) -> bool {
        self.0 & other.0 != 0
    }

    /// True when no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Events {
    type Output = Events;
    fn bitor(self, rhs: Events) -> Events {
        Events(self.0 | rhs.0)
    }
}

/// An endpoint a socket was bound to, with the address libzmq resolved (the real port of
/// `tcp://127.0.0.1:*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoundEndpoint(String);

impl BoundEndpoint {
    /// The resolved endpoint, e.g. `tcp://127.0.0.1:41235`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The TCP (or WebSocket) port, when the endpoint has one.
    pub fn port(&self) -> Option<u16> {
        let after_scheme = self.0.split_once("://")?.1;
        let (_, port) = after_scheme.rsplit_once(':')?;
        // `ws://host:80/path` has a path after the port.
        port.split('/').next()?.parse().ok()
    }
}

impl fmt::Display for BoundEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<BoundEndpoint> for String {
    fn from(endpoint: BoundEndpoint) -> String {
        endpoint.0
    }
}

/// A ZeroMQ socket.
///
/// A socket may move to another thread but is used by one thread at a time (it is `Send`, not
/// `Sync`), as libzmq requires. It is closed when dropped; its context lives at least as long.
pub struct ZSocket {
    raw: *mut c_void,
    kind: SocketType,
    ctx: ZContext,
}

// SAFETY: libzmq sockets may migrate between threads when a full memory barrier separates the
// uses; moving a value to another thread implies one. ZSocket is not Sync, so it is never used
// by two threads at once.
unsafe impl Send for ZSocket {}

impl Drop for ZSocket {
    fn drop(&mut self) {
        // SAFETY: raw came from zmq_socket and is closed exactly once, here.
        unsafe { zmsg_sys::zmq_close(self.raw) };
    }
}

impl fmt::Debug for ZSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZSocket")
            .field("type", &self.kind)
            .field("raw", &self.raw)
            .finish()
    }
}

macro_rules! typed_constructors {
    ($($(#[$attr:meta])* $name:ident => $kind:ident),* $(,)?) => {
        $(
            $(#[$attr])*
            #[doc = concat!("Creates a ", stringify!($kind), " socket in the default context and attaches it to \
                `endpoints` (CZMQ syntax: `@` binds, `>` connects, comma-separated; the unprefixed \
                default is the type's usual side). An empty string attaches nothing.")]
            pub fn $name(endpoints: &str) -> Result<ZSocket> {
                ZSocket::new_with(SocketType::$kind, endpoints)
            }
        )*
    };
}

impl ZSocket {
    /// Creates a socket of `kind` in the process-wide default context.
    pub fn new(kind: SocketType) -> Result<ZSocket> {
        Self::with_context(&ZContext::global(), kind)
    }

    /// Creates a socket of `kind` in `ctx`, with the context's default linger.
    pub fn with_context(ctx: &ZContext, kind: SocketType) -> Result<ZSocket> {
        // SAFETY: ctx holds a live context; a null return is checked.
        let raw = unsafe { zmsg_sys::zmq_socket(ctx.as_ptr(), kind.raw()) };
        if raw.is_null() {
            return Err(Error::last());
        }
        let socket = ZSocket {
            raw,
            kind,
            ctx: ctx.clone(),
        };
        socket.set_linger(ctx.linger())?;
        Ok(socket)
    }

    /// Creates a socket of `kind` in the default context and attaches it to `endpoints`.
    pub fn new_with(kind: SocketType, endpoints: &str) -> Result<ZSocket> {
        ZContext::global().socket_at(kind, endpoints)
    }

    typed_constructors! {
        new_pair => Pair,
        new_pub => Pub,
        new_req => Req,
        new_rep => Rep,
        new_dealer => Dealer,
        new_router => Router,
        new_push => Push,
        new_pull => Pull,
        new_xpub => XPub,
        new_xsub => XSub,
        new_stream => Stream,
    }

    /// Creates a SUB socket in the default context, connects it to `endpoints` (CZMQ syntax) and
    /// subscribes to `topic` (`""` receives everything).
    pub fn new_sub(endpoints: &str, topic: &str) -> Result<ZSocket> {
        let socket = Self::new_with(SocketType::Sub, endpoints)?;
        socket.set_subscribe(topic.as_bytes())?;
        Ok(socket)
    }

    /// The socket's type.
    pub fn kind(&self) -> SocketType {
        self.kind
    }

    /// The context this socket belongs to.
    pub fn context(&self) -> &ZContext {
        &self.ctx
    }

    /// The raw `void *` socket, for FFI. It stays valid while `self` lives.
    pub fn as_ptr(&self) -> *mut c_void {
        self.raw
    }

    /// Binds to `endpoint` (no prefix) and returns the address libzmq resolved, which holds the
    /// port actually chosen for `tcp://host:*`.
    pub fn bind(&self, endpoint: &str) -> Result<BoundEndpoint> {
        let c_endpoint = endpoint_cstring(endpoint)?;
        retry_interrupted(|| {
            // SAFETY: raw is a live socket; c_endpoint is NUL-terminated.
            check(unsafe { zmsg_sys::zmq_bind(self.raw, c_endpoint.as_ptr()) })
        })?;
        Ok(BoundEndpoint(self.endpoint()?))
    }

    /// Connects to `endpoint` (no prefix).
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        let c_endpoint = endpoint_cstring(endpoint)?;
        retry_interrupted(|| {
            // SAFETY: raw is a live socket; c_endpoint is NUL-terminated.
            check(unsafe { zmsg_sys::zmq_connect(self.raw, c_endpoint.as_ptr()) })
        })
        .map(drop)
    }

    /// Unbinds from `endpoint` (use the resolved address for wildcard binds).
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        let c_endpoint = endpoint_cstring(endpoint)?;
        retry_interrupted(|| {
            // SAFETY: raw is a live socket; c_endpoint is NUL-terminated.
            check(unsafe { zmsg_sys::zmq_unbind(self.raw, c_endpoint.as_ptr()) })
        })
        .map(drop)
    }

    /// Disconnects from `endpoint`.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        let c_endpoint = endpoint_cstring(endpoint)?;
        retry_interrupted(|| {
            // SAFETY: raw is a live socket; c_endpoint is NUL-terminated.
            check(unsafe { zmsg_sys::zmq_disconnect(self.raw, c_endpoint.as_ptr()) })
        })
        .map(drop)
    }

    /// Binds or connects to each comma-separated endpoint: `@` binds, `>` connects, no prefix
    /// binds when `serverish` is true. Returns what each bind resolved to.
    pub fn attach(&self, endpoints: &str, serverish: bool) -> Result<Vec<BoundEndpoint>> {
        let mut bound = Vec::new();
        for endpoint in endpoints
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match parse_endpoint(endpoint, serverish)? {
                (true, address) => bound.push(self.bind(address)?),
                (false, address) => self.connect(address)?,
            }
        }
        Ok(bound)
    }

    /// Sends one frame with `flags`. On success the frame is consumed; on failure (including
    /// [`Error::Again`]) the frame is left untouched in `frame`, so nothing is lost.
    #[inline]
    pub fn send_frame_ref(&self, frame: &mut ZFrame, flags: SendFlags) -> Result<()> {
        // SAFETY: raw is a live socket and frame holds an initialised message. On success
        // libzmq takes the content and leaves an empty initialised message behind.
        let rc = unsafe { zmsg_sys::zmq_msg_send(frame.raw_mut(), self.raw, flags.bits()) };
        if rc != -1 {
            return Ok(());
        }
        self.send_frame_failed(frame, flags)
    }

    /// The slow path of [`ZSocket::send_frame_ref`], out of line so that the hot path stays
    /// small: retries after `EINTR`, else returns the error.
    #[cold]
    #[inline(never)]
    fn send_frame_failed(&self, frame: &mut ZFrame, flags: SendFlags) -> Result<()> {
        loop {
            match Error::last() {
                // After Ctrl-C (install_interrupt_handler) a blocked send gives up, as recv does.
                err if retry_after(&err, OnInterrupt::Stop) => {}
                err => return Err(err),
            }
            // SAFETY: as in send_frame_ref.
            let rc = unsafe { zmsg_sys::zmq_msg_send(frame.raw_mut(), self.raw, flags.bits()) };
            if rc != -1 {
                return Ok(());
            }
        }
    }

    /// Sends one frame with `flags`, consuming it.
    #[inline]
    pub fn send_frame(&self, mut frame: ZFrame, flags: SendFlags) -> Result<()> {
        self.send_frame_ref(&mut frame, flags)
    }

    /// Sends a single-frame message: anything that becomes a frame ([`IntoFrame`]: buffers,
    /// text, frames, and typed values as [`ZMsg::append`] writes them).
    pub fn send<T: IntoFrame>(&self, data: T) -> Result<()> {
        self.send_frame(data.into_frame(), SendFlags::NONE)
    }

    /// Sends one frame with more to follow.
    pub fn send_more<T: IntoFrame>(&self, data: T) -> Result<()> {
        self.send_frame(data.into_frame(), SendFlags::MORE)
    }

    /// Sends a single-frame text message.
    pub fn send_str(&self, text: &str) -> Result<()> {
        self.send(text)
    }

    /// Sends every item as one frame of a single multipart message.
    pub fn send_multipart<I, T>(&self, parts: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: IntoFrame,
    {
        let mut parts = parts.into_iter().peekable();
        if parts.peek().is_none() {
            return Err(Error::EmptyMessage);
        }
        while let Some(part) = parts.next() {
            let flags = if parts.peek().is_some() {
                SendFlags::MORE
            } else {
                SendFlags::NONE
            };
            self.send_frame(part.into_frame(), flags)?;
        }
        Ok(())
    }

    /// Sends a whole message, consuming it. See [`ZSocket::send_msg_ref`] to keep what could not
    /// be sent.
    pub fn send_msg(&self, mut msg: ZMsg) -> Result<()> {
        self.send_msg_ref(&mut msg, SendFlags::NONE)
    }

    /// Sends a whole message; frames leave `msg` as they are sent. If the first frame cannot be
    /// sent (for example [`Error::Again`] with `SendFlags::DONTWAIT`, or `EHOSTUNREACH` on a
    /// ROUTER with `router_mandatory`), `msg` is left whole, so the caller can keep it and retry.
    /// An empty message is an error.
    pub fn send_msg_ref(&self, msg: &mut ZMsg, flags: SendFlags) -> Result<()> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        let flags = SendFlags(flags.bits() & !SendFlags::MORE.bits());
        while !msg.is_empty() {
            let last = msg.len() == 1;
            let part_flags = if last { flags } else { flags | SendFlags::MORE };
            if let Some(frame) = msg.first_mut() {
                self.send_frame_ref(frame, part_flags)?;
            }
            msg.pop_frame();
        }
        Ok(())
    }

    /// Receives one frame, blocking (up to the receive timeout). Its [`ZFrame::more`] tells if
    /// more frames of the same message follow.
    pub fn recv_frame(&self) -> Result<ZFrame> {
        let mut frame = ZFrame::new();
        self.recv_frame_into(&mut frame, RecvFlags::NONE)?;
        Ok(frame)
    }

    /// Receives one frame if one is waiting, else returns [`Error::Again`] at once.
    pub fn recv_frame_dontwait(&self) -> Result<ZFrame> {
        let mut frame = ZFrame::new();
        self.recv_frame_into(&mut frame, RecvFlags::DONTWAIT)?;
        Ok(frame)
    }

    /// Receives into an existing frame, replacing its content (reuses the `zmq_msg_t`).
    #[inline]
    pub fn recv_frame_into(&self, frame: &mut ZFrame, flags: RecvFlags) -> Result<()> {
        let flags = flags.bits();
        // SAFETY: raw is a live socket; frame holds an initialised message that libzmq
        // releases before storing the received content.
        let rc = unsafe { zmsg_sys::zmq_msg_recv(frame.raw_mut(), self.raw, flags) };
        if rc == -1 {
            return self.recv_frame_failed(frame, flags);
        }
        // SAFETY: the message was just received and is initialised.
        let more = unsafe { zmsg_sys::zmq_msg_more(frame.raw_mut()) } == 1;
        frame.set_more(more);
        Ok(())
    }

    /// The slow path of [`ZSocket::recv_frame_into`], out of line so that the hot path stays
    /// small: retries after `EINTR` (unless the process was interrupted), else returns the error.
    #[cold]
    #[inline(never)]
    fn recv_frame_failed(&self, frame: &mut ZFrame, flags: i32) -> Result<()> {
        loop {
            match Error::last() {
                err if retry_after(&err, OnInterrupt::Stop) => {}
                err => return Err(err),
            }
            // SAFETY: as in recv_frame_into.
            let rc = unsafe { zmsg_sys::zmq_msg_recv(frame.raw_mut(), self.raw, flags) };
            if rc != -1 {
                // SAFETY: the message was just received and is initialised.
                let more = unsafe { zmsg_sys::zmq_msg_more(frame.raw_mut()) } == 1;
                frame.set_more(more);
                return Ok(());
            }
        }
    }

    /// Receives a whole multipart message.
    pub fn recv_msg(&self) -> Result<ZMsg> {
        let mut msg = ZMsg::new();
        self.recv_msg_into(&mut msg, RecvFlags::NONE)?;
        Ok(msg)
    }

    /// Receives a whole message if one is waiting, else returns [`Error::Again`] at once.
    pub fn recv_msg_dontwait(&self) -> Result<ZMsg> {
        let mut msg = ZMsg::new();
        self.recv_msg_into(&mut msg, RecvFlags::DONTWAIT)?;
        Ok(msg)
    }

    /// Receives a whole message, appending its frames to `msg` (which is cleared first). Reusing
    /// one `ZMsg` avoids an allocation per message in hot loops.
    pub fn recv_msg_into(&self, msg: &mut ZMsg, flags: RecvFlags) -> Result<()> {
        msg.clear();
        let mut frame = ZFrame::new();
        self.recv_frame_into(&mut frame, flags)?;
        if frame.more() {
            // One allocation for the usual envelope + header + body, rather than growing twice.
            msg.reserve(8);
        }
        loop {
            let more = frame.more();
            msg.append_frame(frame);
            if !more {
                return Ok(());
            }
            frame = ZFrame::new();
            // Once the first part has arrived, the rest are already there: never blocks.
            self.recv_frame_into(&mut frame, RecvFlags::NONE)?;
        }
    }

    /// Receives a single frame as UTF-8 text; any further frames of the message are discarded.
    pub fn recv_string(&self) -> Result<String> {
        let frame = self.recv_frame()?;
        if frame.more() {
            self.skip_rest()?;
        }
        frame.to_str().map(str::to_owned)
    }

    /// Reads and drops the remaining frames of a partly received message.
    fn skip_rest(&self) -> Result<()> {
        let mut frame = ZFrame::new();
        loop {
            self.recv_frame_into(&mut frame, RecvFlags::NONE)?;
            if !frame.more() {
                return Ok(());
            }
        }
    }

    /// The readiness of the socket right now (`ZMQ_EVENTS`), without blocking. (libzmq processes
    /// the socket's commands first, where a signal gives `EINTR`: retried unless the interrupt
    /// flag is set.)
    pub fn events(&self) -> Result<Events> {
        let raw = retry_interrupted(|| self.events_raw())?;
        Ok(Events(raw as i16))
    }

    /// Waits up to `timeout` (`None`: forever) for `events`; returns the ready subset, empty on
    /// timeout.
    pub fn poll(&self, events: Events, timeout: Option<std::time::Duration>) -> Result<Events> {
        let mut item = zmsg_sys::zmq_pollitem_t {
            socket: self.raw,
            fd: 0,
            events: events.0,
            revents: 0,
        };
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let timeout_ms = poll_timeout_ms(deadline);
            // SAFETY: one valid poll item pointing at our live socket.
            let rc = unsafe { zmsg_sys::zmq_poll(&mut item, 1, timeout_ms as _) };
            match check(rc) {
                Ok(_) => return Ok(Events(item.revents)),
                // Another signal than an interrupt: wait on for what is left of the timeout.
                Err(err) if retry_after(&err, OnInterrupt::Stop) => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// Sends a CZMQ-compatible signal (`zsock_signal`): a one-frame message of 8 bytes whose last
    /// byte is `status`. Used by actors to say they are ready.
    pub fn signal(&self, status: u8) -> Result<()> {
        let value: u64 = 0x7766_5544_3322_1100 + status as u64;
        self.send(&value.to_ne_bytes())
    }

    /// Waits for a signal sent with [`ZSocket::signal`] and returns its status, skipping any other
    /// messages (as CZMQ's `zsock_wait` does).
    pub fn wait_signal(&self) -> Result<u8> {
        loop {
            let msg = self.recv_msg()?;
            if msg.len() == 1 {
                if let Some(frame) = msg.first() {
                    if frame.len() == 8 {
                        let mut bytes = [0u8; 8];
                        bytes.copy_from_slice(frame.data());
                        let value = u64::from_ne_bytes(bytes);
                        if value & 0xffff_ffff_ffff_ff00 == 0x7766_5544_3322_1100 {
                            return Ok((value & 0xff) as u8);
                        }
                    }
                }
            }
        }
    }

    /// Starts a socket monitor publishing `events` (a mask of `ZMQ_EVENT_*`) on an inproc PAIR
    /// endpoint; see [`crate::ZMonitor`] for the friendly version. `None` stops it: do that before
    /// the reading PAIR is closed, since libzmq blocks its I/O thread on an event nobody can take.
    pub fn monitor_raw(&self, endpoint: Option<&str>, events: i32) -> Result<()> {
        let c_endpoint = endpoint.map(endpoint_cstring).transpose()?;
        let ptr = c_endpoint.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: raw is a live socket; ptr is NUL-terminated or null (which stops monitoring).
        check(unsafe { zmsg_sys::zmq_socket_monitor(self.raw, ptr, events) }).map(drop)
    }
}

/// Splits a CZMQ-style endpoint into (bind?, address).
fn parse_endpoint(endpoint: &str, serverish: bool) -> Result<(bool, &str)> {
    let (bind, address) = match endpoint.as_bytes().first() {
        Some(b'@') => (true, &endpoint[1..]),
        Some(b'>') => (false, &endpoint[1..]),
        _ => (serverish, endpoint),
    };
    if !address.contains("://") {
        return Err(Error::InvalidEndpoint(endpoint.to_string()));
    }
    Ok((bind, address))
}

fn endpoint_cstring(endpoint: &str) -> Result<CString> {
    CString::new(endpoint).map_err(|_| Error::InvalidEndpoint(endpoint.to_string()))
}

/// Runs a libzmq call that processes the socket's pending commands first (`zmq_bind`,
/// `zmq_connect`, `zmq_unbind`, `zmq_disconnect`): a signal there fails it with `EINTR` before it
/// did anything. By the one signal policy (`crate::signal`) it is tried again unless the interrupt
/// flag is set.
fn retry_interrupted(mut call: impl FnMut() -> Result<i32>) -> Result<i32> {
    loop {
        match call() {
            Err(err) if retry_after(&err, OnInterrupt::Stop) => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_prefixes() {
        assert_eq!(
            parse_endpoint("@tcp://*:1", false).unwrap(),
            (true, "tcp://*:1")
        );
        assert_eq!(
            parse_endpoint(">ipc://x", true).unwrap(),
            (false, "ipc://x")
        );
        assert_eq!(
            parse_endpoint("inproc://a", true).unwrap(),
            (true, "inproc://a")
        );
        assert!(parse_endpoint("@nonsense", true).is_err());
    }

    #[test]
    fn ephemeral_port_is_reported() {
        let rep = ZSocket::new(SocketType::Rep).unwrap();
        let bound = rep.bind("tcp://127.0.0.1:*").unwrap();
        let port = bound.port().expect("a port");
        assert!(port > 0);
        assert_eq!(bound.as_str(), format!("tcp://127.0.0.1:{port}"));
    }

    #[test]
    fn attach_several_endpoints() {
        let pull = ZSocket::new_pull("@inproc://attach-a, @inproc://attach-b").unwrap();
        let push_a = ZSocket::new_push(">inproc://attach-a").unwrap();
        let push_b = ZSocket::new_push("inproc://attach-b").unwrap();
        push_a.send_str("a").unwrap();
        push_b.send_str("b").unwrap();
        let mut got = [pull.recv_string().unwrap(), pull.recv_string().unwrap()];
        got.sort();
        assert_eq!(got, ["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn socket_types_round_trip() {
        for raw in 0..12 {
            let kind = SocketType::from_raw(raw).unwrap();
            assert_eq!(kind.raw(), raw);
            let socket = ZSocket::new(kind).unwrap();
            assert_eq!(socket.socket_type().unwrap(), kind);
        }
    }

    #[test]
    fn failed_send_keeps_the_message() {
        let router = ZSocket::new(SocketType::Router).unwrap();
        router.set_router_mandatory(true).unwrap();
        let mut msg = ZMsg::new();
        msg.append("nobody");
        msg.append("payload");
        let err = router
            .send_msg_ref(&mut msg, SendFlags::DONTWAIT)
            .unwrap_err();
        assert_eq!(err.errno(), Some(libc::EHOSTUNREACH));
        assert_eq!(msg.len(), 2, "nothing may be lost on a failed send");
    }

    #[test]
    fn signal_round_trip() {
        let a = ZSocket::new_pair("@inproc://signal-test").unwrap();
        let b = ZSocket::new_pair(">inproc://signal-test").unwrap();
        a.send_str("noise").unwrap();
        a.signal(3).unwrap();
        assert_eq!(b.wait_signal().unwrap(), 3);
    }

    #[test]
    fn recv_timeout_is_again() {
        let pull = ZSocket::new_pull("@inproc://timeout-test").unwrap();
        pull.set_rcvtimeo(Some(std::time::Duration::from_millis(10)))
            .unwrap();
        assert!(pull.recv_frame().unwrap_err().is_again());
        assert!(pull.recv_frame_dontwait().unwrap_err().is_again());
    }
}
