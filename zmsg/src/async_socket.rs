//! `AsyncSocket`: a [`ZSocket`] for tokio (feature `tokio`, Unix only).
//!
//! libzmq tells an event loop about a socket through `ZMQ_FD`, a file descriptor with unusual
//! rules (see `zmq_getsockopt(3)`): it is only ever "readable", it signals *edges* (something may
//! have changed), not the socket's state, and the signal is consumed not only by receiving but by
//! sending and by reading `ZMQ_EVENTS` too. An async socket that waits on it naively loses
//! wakeups. This one follows the rules:
//!
//! - an operation is always tried first (non-blocking); only when libzmq says `EAGAIN` does the
//!   task wait;
//! - before waiting it reads `ZMQ_EVENTS` — the truth — and waits only if the socket is not ready
//!   for what it wants; interest in the descriptor is registered before that answer is acted on,
//!   so an edge between the two is not lost;
//! - each direction (receive, send) waits on its own duplicate of the descriptor, so the two halves
//!   of a [split](AsyncSocket::split) socket each get every edge; and a successful operation wakes
//!   the other direction's waiter, because it may have consumed the edge that waiter needed
//!   (when that direction is waiting: a flag, set before it checks `ZMQ_EVENTS` and cleared when
//!   its operation succeeds, spares the wake-up otherwise).
//!
//! The socket itself sits behind a mutex held only for one non-blocking libzmq call, so the two
//! halves can run on different threads of a multi-threaded runtime (libzmq sockets must never be
//! used by two threads at once; the mutex also gives the memory barrier libzmq asks for when a
//! socket changes threads).
//!
//! **Cancellation.** [`AsyncReceiver::recv`] and [`AsyncSender::send`] are cancel-safe: a message
//! is taken from libzmq only in the same poll that returns it, so a dropped `recv` future loses
//! nothing; a multipart message is handed to libzmq whole in one poll (libzmq queues all its
//! frames once it accepts the first), so a dropped `send` future sent either all of it or none.
//! The [`Sink`] buffers one message: `poll_ready`/`poll_flush` send it.
//!
//! **ROUTER.** A ROUTER drops a message to a peer whose pipe is full, unless `router_mandatory`
//! is set; with it, `send` waits while the peer's pipe is full. libzmq's `POLLOUT` on a ROUTER
//! means "some peer has room", so while one peer is full and another is not, a `send` to the full
//! one retries once per scheduler turn (it yields in between) instead of sleeping.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> zmsg::Result<()> {
//! use zmsg::{AsyncSocket, SocketType, ZMsg, ZSocket};
//!
//! let server = ZSocket::new(SocketType::Rep)?;
//! let endpoint = server.bind("tcp://127.0.0.1:*")?;
//! let mut server = AsyncSocket::new(server)?;
//! let client = ZSocket::new(SocketType::Req)?;
//! client.connect(endpoint.as_str())?;
//! let mut client = AsyncSocket::new(client)?;
//!
//! client.send(ZMsg::from_iter(["hello"])).await?;
//! let request = server.recv().await?;
//! server.send(ZMsg::from_iter(["world"])).await?;
//! assert_eq!(request[0].data(), b"hello");
//! assert_eq!(client.recv().await?[0].data(), b"world");
//! # Ok(())
//! # }
//! ```

#[cfg(not(unix))]
compile_error!(
    "zmsg's `tokio` feature waits on ZMQ_FD with tokio's AsyncFd, which exists on Unix only; \
     on Windows use the blocking API in a `spawn_blocking` task"
);

use std::future::poll_fn;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};

use atomic_waker::AtomicWaker;
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::error::{Error, Result};
use crate::frame::ZFrame;
use crate::msg::{IntoFrame, ZMsg};
use crate::socket::{Events, SendFlags, ZSocket};

/// How many operations in a row one poll may complete before it yields to other tasks.
const STREAK: u32 = 128;

/// What both halves share: the socket and a wake-up slot for each direction.
struct Shared {
    socket: Mutex<ZSocket>,
    /// The receiving task, waiting; woken when a send may have consumed its edge.
    recv_waiter: Waiter,
    /// The sending task, waiting; woken when a receive may have consumed its edge.
    send_waiter: Waiter,
}

/// One direction's wake-up slot, for the other direction's kicks.
///
/// `waiting` is set (after the waker is registered) before the direction reads `ZMQ_EVENTS`, and
/// cleared by the direction itself when its operation succeeds. The other direction wakes it only
/// while it is set, which spares two atomic read-modify-writes (and, when the waker was left
/// registered, a spurious wake-up of a running task) on every operation. No wake-up is lost: both
/// the `ZMQ_EVENTS` read and the other direction's operation run under the socket's mutex, so
/// either the read comes after the operation and sees what it changed, or the flag was set before
/// the read and the other direction, locking after it, sees the flag.
struct Waiter {
    waker: AtomicWaker,
    waiting: AtomicBool,
}

impl Waiter {
    fn new() -> Waiter {
        Waiter {
            waker: AtomicWaker::new(),
            waiting: AtomicBool::new(false),
        }
    }

    /// Registers `waker`, then marks the direction as waiting (before it reads `ZMQ_EVENTS`).
    fn register(&self, waker: &Waker) {
        self.waker.register(waker);
        self.waiting.store(true, Ordering::SeqCst);
    }

    /// The direction's operation succeeded: it no longer waits.
    #[inline]
    fn done(&self) {
        if self.waiting.load(Ordering::SeqCst) {
            self.waiting.store(false, Ordering::SeqCst);
        }
    }

    /// Wakes the direction if it is waiting.
    #[inline]
    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) {
            self.waker.wake();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ZSocket> {
        // A panic while holding the lock leaves the socket as libzmq left it: usable.
        self.socket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One direction: its own duplicate of `ZMQ_FD` registered with tokio, and what it waits for.
struct Direction {
    fd: AsyncFd<OwnedFd>,
    /// `POLLIN` for the receiving direction, `POLLOUT` for the sending one.
    want: Events,
    /// Operations completed without yielding.
    streak: u32,
}

impl Shared {
    /// The waiter of the direction that wants `want`, and the other direction's: (own, other).
    fn waiters(&self, want: Events) -> (&Waiter, &Waiter, Events) {
        if want == Events::POLLIN {
            (&self.recv_waiter, &self.send_waiter, Events::POLLOUT)
        } else {
            (&self.send_waiter, &self.recv_waiter, Events::POLLIN)
        }
    }
}

impl Direction {
    fn new(socket: &ZSocket, want: Events) -> Result<Direction> {
        let raw = socket.fd()?;
        // SAFETY: `raw` is the socket's ZMQ_FD, open as long as the socket, which outlives this
        // call; it is only borrowed here to duplicate it.
        let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
        let owned = borrowed.try_clone_to_owned()?;
        // SAFETY: the AsyncFd owns `owned`, a descriptor of our own (a duplicate), so it stays
        // open and the same for the AsyncFd's whole life; `OwnedFd::as_raw_fd` never changes.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
            .map_err(|err| Error::Io(err.into()))?;
        Ok(Direction {
            fd,
            want,
            streak: 0,
        })
    }

    /// Ready when `ZMQ_EVENTS` contains what this direction wants; registers `cx` with the
    /// descriptor and with this direction's waiter (for the other direction's kicks) otherwise.
    fn poll_ready(&mut self, shared: &Shared, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let (own, other, other_wants) = shared.waiters(self.want);
        own.register(cx.waker());
        loop {
            // Reading ZMQ_EVENTS processes libzmq's pending commands and so consumes the edge
            // the other direction may be waiting for: if it can go on now, wake it.
            let events = shared.lock().events()?;
            if events.contains(other_wants) {
                other.wake();
            }
            if events.contains(self.want) {
                return Poll::Ready(Ok(()));
            }
            // Registers interest; an edge that came after the check above is still seen here,
            // and clearing only clears readiness this guard observed.
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            guard.clear_ready();
        }
    }

    /// After [`STREAK`] operations in a row completed at once, asks to be polled again later
    /// (nothing is taken from or given to libzmq), so that a busy socket does not starve the tasks
    /// that share its thread.
    fn must_yield(&mut self, cx: &mut Context<'_>) -> bool {
        if self.streak < STREAK {
            return false;
        }
        self.streak = 0;
        cx.waker().wake_by_ref();
        true
    }
}

/// The receiving half of an [`AsyncSocket`]: a [`Stream`] of messages.
pub struct AsyncReceiver {
    direction: Direction,
    shared: Arc<Shared>,
}

/// The sending half of an [`AsyncSocket`]: a [`Sink`] of messages.
pub struct AsyncSender {
    direction: Direction,
    /// A message given to the `Sink` and not sent yet.
    pending: Option<ZMsg>,
    shared: Arc<Shared>,
}

/// A [`ZSocket`] for tokio; see the [module documentation](self).
pub struct AsyncSocket {
    receiver: AsyncReceiver,
    sender: AsyncSender,
}

impl AsyncSocket {
    /// Wraps `socket` (any type, configured and bound or connected as you like, before or
    /// after). Must be called within a tokio runtime (it registers with the runtime's reactor).
    pub fn new(socket: ZSocket) -> Result<AsyncSocket> {
        let receiver = Direction::new(&socket, Events::POLLIN)?;
        let sender = Direction::new(&socket, Events::POLLOUT)?;
        let shared = Arc::new(Shared {
            socket: Mutex::new(socket),
            recv_waiter: Waiter::new(),
            send_waiter: Waiter::new(),
        });
        Ok(AsyncSocket {
            receiver: AsyncReceiver {
                direction: receiver,
                shared: shared.clone(),
            },
            sender: AsyncSender {
                direction: sender,
                pending: None,
                shared,
            },
        })
    }

    /// Runs `f` on the socket, for options, `bind`, `connect`, a monitor... (not for blocking
    /// calls: the socket is locked while `f` runs).
    pub fn with_socket<R>(&self, f: impl FnOnce(&ZSocket) -> R) -> R {
        f(&self.sender.shared.lock())
    }

    /// Receives the next message; cancel-safe.
    pub async fn recv(&mut self) -> Result<ZMsg> {
        self.receiver.recv().await
    }

    /// Receives the next frame of a message ([`ZFrame::more`] says whether more follow);
    /// cancel-safe.
    pub async fn recv_frame(&mut self) -> Result<ZFrame> {
        self.receiver.recv_frame().await
    }

    /// Sends a message; a dropped future sent all of it or nothing.
    pub async fn send(&mut self, msg: ZMsg) -> Result<()> {
        self.sender.send(msg).await
    }

    /// Sends a one-frame message; a dropped future sent it or not.
    pub async fn send_frame(&mut self, frame: impl IntoFrame) -> Result<()> {
        self.sender.send_frame(frame).await
    }

    /// Splits the socket into a sending and a receiving half, for two tasks (or two threads)
    /// at once.
    pub fn split(self) -> (AsyncSender, AsyncReceiver) {
        (self.sender, self.receiver)
    }

    /// Puts two halves of the same socket back together; gives them back if they are not.
    // The halves come back by value, as tokio's `reunite` does: boxing them would only move them.
    #[allow(clippy::result_large_err)]
    pub fn reunite(
        sender: AsyncSender,
        receiver: AsyncReceiver,
    ) -> std::result::Result<AsyncSocket, (AsyncSender, AsyncReceiver)> {
        if Arc::ptr_eq(&sender.shared, &receiver.shared) {
            Ok(AsyncSocket { receiver, sender })
        } else {
            Err((sender, receiver))
        }
    }

    /// The socket back, for blocking use (a message buffered in the `Sink` and not flushed is
    /// dropped).
    pub fn into_inner(self) -> ZSocket {
        let shared = self.sender.shared.clone();
        drop(self);
        match Arc::try_unwrap(shared) {
            Ok(shared) => shared
                .socket
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            Err(_) => unreachable!("an AsyncSocket holds the only two references"),
        }
    }
}

impl AsyncReceiver {
    /// Runs `f` on the socket (options, a monitor...); the socket is locked while `f` runs.
    pub fn with_socket<R>(&self, f: impl FnOnce(&ZSocket) -> R) -> R {
        f(&self.shared.lock())
    }

    /// Polls for the next message: `Ready` with it, or `Pending` with `cx` registered.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<ZMsg>> {
        self.poll_op(cx, ZSocket::recv_msg_dontwait)
    }

    /// Polls for the next frame.
    pub fn poll_recv_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<ZFrame>> {
        self.poll_op(cx, ZSocket::recv_frame_dontwait)
    }

    /// Receives the next message; cancel-safe.
    pub async fn recv(&mut self) -> Result<ZMsg> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives the next frame; cancel-safe.
    pub async fn recv_frame(&mut self) -> Result<ZFrame> {
        poll_fn(|cx| self.poll_recv_frame(cx)).await
    }

    fn poll_op<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl Fn(&ZSocket) -> Result<T>,
    ) -> Poll<Result<T>> {
        if self.direction.must_yield(cx) {
            return Poll::Pending;
        }
        let shared = &*self.shared;
        let mut tries = 0;
        loop {
            let result = op(&shared.lock());
            match result {
                Ok(value) => {
                    shared.recv_waiter.done();
                    // The call may have consumed the edge the sending direction waits for.
                    shared.send_waiter.wake();
                    self.direction.streak += 1;
                    return Poll::Ready(Ok(value));
                }
                Err(Error::Again) => {
                    self.direction.streak = 0;
                    if tries > 0 {
                        // ZMQ_EVENTS said POLLIN, yet nothing came: try again on the next turn
                        // rather than spin inside this poll.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    tries += 1;
                    ready!(self.direction.poll_ready(shared, cx))?;
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }
}

impl AsyncSender {
    /// Runs `f` on the socket (options, a monitor...); the socket is locked while `f` runs.
    pub fn with_socket<R>(&self, f: impl FnOnce(&ZSocket) -> R) -> R {
        f(&self.shared.lock())
    }

    /// Polls to send `msg`: `Ready(Ok)` once libzmq took all of it (`msg` is then empty), or
    /// `Pending` with `msg` untouched and `cx` registered.
    pub fn poll_send(&mut self, cx: &mut Context<'_>, msg: &mut ZMsg) -> Poll<Result<()>> {
        self.poll_op(cx, |socket| socket.send_msg_ref(msg, SendFlags::DONTWAIT))
    }

    /// Polls to send `frame` as a one-frame message: `Ready(Ok)` once libzmq took it (`frame` is
    /// then empty), or `Pending` with `frame` untouched and `cx` registered. The frame is handed
    /// to libzmq as it is, with no [`ZMsg`] around it.
    pub fn poll_send_frame(
        &mut self,
        cx: &mut Context<'_>,
        frame: &mut ZFrame,
    ) -> Poll<Result<()>> {
        self.poll_op(cx, |socket| {
            socket.send_frame_ref(frame, SendFlags::DONTWAIT)
        })
    }

    fn poll_op(
        &mut self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&ZSocket) -> Result<()>,
    ) -> Poll<Result<()>> {
        if self.direction.must_yield(cx) {
            return Poll::Pending;
        }
        let shared = &*self.shared;
        let mut tries = 0;
        loop {
            let result = op(&shared.lock());
            match result {
                Ok(()) => {
                    shared.send_waiter.done();
                    // The call may have consumed the edge the receiving direction waits for.
                    shared.recv_waiter.wake();
                    self.direction.streak += 1;
                    return Poll::Ready(Ok(()));
                }
                Err(Error::Again) => {
                    self.direction.streak = 0;
                    if tries > 0 {
                        // ZMQ_EVENTS said POLLOUT, yet the send could not go: back-pressure of
                        // one peer, as a ROUTER with `router_mandatory` has when that peer's pipe
                        // is full and another's is not. Try again on the next turn.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    tries += 1;
                    ready!(self.direction.poll_ready(shared, cx))?;
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    }

    /// Sends a message; a dropped future sent all of it or nothing.
    pub async fn send(&mut self, mut msg: ZMsg) -> Result<()> {
        poll_fn(|cx| self.poll_send(cx, &mut msg)).await
    }

    /// Sends a one-frame message; a dropped future sent it or not.
    pub async fn send_frame(&mut self, frame: impl IntoFrame) -> Result<()> {
        let mut frame = frame.into_frame();
        poll_fn(|cx| self.poll_send_frame(cx, &mut frame)).await
    }

    /// Sends the message buffered by the `Sink`, if any.
    fn poll_flush_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(mut msg) = self.pending.take() {
            match self.poll_send(cx, &mut msg) {
                Poll::Pending => {
                    self.pending = Some(msg);
                    return Poll::Pending;
                }
                Poll::Ready(result) => result?,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Stream for AsyncReceiver {
    type Item = Result<ZMsg>;

    /// Never ends: a socket error is an item, and the stream goes on.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl Stream for AsyncSocket {
    type Item = Result<ZMsg>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().receiver.poll_recv(cx).map(Some)
    }
}

impl Sink<ZMsg> for AsyncSender {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_flush_pending(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: ZMsg) -> Result<()> {
        let this = self.get_mut();
        debug_assert!(this.pending.is_none(), "start_send without poll_ready");
        this.pending = Some(item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_flush_pending(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_flush_pending(cx)
    }
}

impl Sink<ZMsg> for AsyncSocket {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.get_mut().sender).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: ZMsg) -> Result<()> {
        Pin::new(&mut self.get_mut().sender).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.get_mut().sender).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.get_mut().sender).poll_close(cx)
    }
}

impl std::fmt::Debug for AsyncSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSocket").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AsyncSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSender")
            .field("pending", &self.pending.is_some())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AsyncReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncReceiver").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{MonitorEvent, MonitorEventKind, MonitorEvents, ZMonitor};
    use crate::socket::SocketType;
    use std::time::Duration;

    fn assert_send<T: Send>() {}

    #[test]
    fn halves_and_socket_move_between_threads() {
        assert_send::<AsyncSocket>();
        assert_send::<AsyncSender>();
        assert_send::<AsyncReceiver>();
    }

    #[tokio::test]
    async fn split_halves_reunite_only_with_their_own() {
        let a = AsyncSocket::new(ZSocket::new(SocketType::Pair).unwrap()).unwrap();
        let b = AsyncSocket::new(ZSocket::new(SocketType::Pair).unwrap()).unwrap();
        let (a_tx, a_rx) = a.split();
        let (b_tx, b_rx) = b.split();
        let (a_tx, b_rx) = AsyncSocket::reunite(a_tx, b_rx).unwrap_err();
        let a = AsyncSocket::reunite(a_tx, a_rx).unwrap();
        let socket = a.into_inner();
        assert_eq!(socket.socket_type().unwrap(), SocketType::Pair);
        drop((b_tx, b_rx));
    }

    /// A monitor's events, awaited: the monitor's PAIR socket is an ordinary socket.
    #[tokio::test]
    async fn monitor_events_arrive_asynchronously() {
        let server = ZSocket::new(SocketType::Rep).unwrap();
        let monitor = ZMonitor::new(&server, MonitorEvents::ACCEPTED).unwrap();
        let mut events = AsyncSocket::new(monitor.into_socket()).unwrap();
        let endpoint = server.bind("tcp://127.0.0.1:*").unwrap();
        let client = ZSocket::new(SocketType::Req).unwrap();
        client.connect(endpoint.as_str()).unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an ACCEPTED event")
            .unwrap();
        assert_eq!(
            MonitorEvent::decode(&msg).unwrap().kind,
            MonitorEventKind::Accepted
        );
    }

    /// CURVE sockets are sockets: the handshake runs in libzmq's I/O thread, the edges are the
    /// same.
    #[tokio::test]
    async fn curve_request_reply() {
        use crate::cert::ZCert;
        let server_cert = ZCert::new().unwrap();
        let server = ZSocket::new(SocketType::Rep).unwrap();
        server_cert.apply(&server).unwrap();
        server.set_curve_server(true).unwrap();
        let endpoint = server.bind("tcp://127.0.0.1:*").unwrap();
        let client = ZSocket::new(SocketType::Req).unwrap();
        ZCert::new().unwrap().apply(&client).unwrap();
        client
            .set_curve_serverkey(server_cert.public_key())
            .unwrap();
        client.connect(endpoint.as_str()).unwrap();
        let (mut server, mut client) = (
            AsyncSocket::new(server).unwrap(),
            AsyncSocket::new(client).unwrap(),
        );
        for n in 0..100 {
            client
                .send(ZMsg::from_iter([format!("ping {n}")]))
                .await
                .unwrap();
            let request = tokio::time::timeout(Duration::from_secs(10), server.recv())
                .await
                .unwrap()
                .unwrap();
            server.send(request).await.unwrap();
            let reply = client.recv().await.unwrap();
            assert_eq!(reply[0].data(), format!("ping {n}").as_bytes());
        }
        assert_eq!(
            server.with_socket(|s| s.mechanism().unwrap()),
            crate::options::Mechanism::Curve
        );
    }

    /// The Sink and the Stream, with `send_all`: what goes in comes out, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sink_and_stream_carry_multipart_messages() {
        use futures_util::{SinkExt, StreamExt};
        let pull = ZSocket::new(SocketType::Pull).unwrap();
        let endpoint = pull.bind("tcp://127.0.0.1:*").unwrap();
        let push = ZSocket::new(SocketType::Push).unwrap();
        push.set_sndhwm(5).unwrap();
        push.connect(endpoint.as_str()).unwrap();
        let mut push = AsyncSocket::new(push).unwrap();
        let pull = AsyncSocket::new(pull).unwrap();
        let sender = tokio::spawn(async move {
            let mut messages = futures_util::stream::iter(
                (0..1000u32).map(|n| Ok(ZMsg::from_iter([n.to_string(), "tail".into()]))),
            );
            push.send_all(&mut messages).await.unwrap();
            push
        });
        let got: Vec<ZMsg> = pull.take(1000).map(|m| m.unwrap()).collect().await;
        for (n, msg) in got.iter().enumerate() {
            assert_eq!(msg.len(), 2);
            assert_eq!(msg[0].data(), n.to_string().as_bytes());
        }
        drop(sender.await.unwrap());
    }
}
