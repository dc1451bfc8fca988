//! ZeroMQ contexts: a process-wide default that users never have to think about, and explicit
//! contexts for those who want one.
//!
//! Every socket keeps its context alive, so a context is terminated only after its last socket
//! has been closed; termination then waits at most for the sockets' linger time. Sockets created
//! through a context get its default linger (1 second unless changed), so a process never hangs on
//! shutdown because a peer went away, yet messages just sent still get a chance to leave.

use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{check, Result};

/// The linger, in milliseconds, given to new sockets unless the context is told otherwise.
pub const DEFAULT_LINGER_MS: i32 = 1000;

/// A handle to a ZeroMQ context. Cloning is cheap and shares the same context.
///
/// ```
/// let ctx = zmsg::ZContext::new()?;
/// ctx.set_io_threads(2)?;
/// let rep = ctx.socket(zmsg::SocketType::Rep)?;
/// let port = rep.bind("tcp://127.0.0.1:*")?;
/// assert!(port.port().is_some());
/// # Ok::<(), zmsg::Error>(())
/// ```
#[derive(Clone)]
pub struct ZContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    raw: *mut c_void,
    linger_ms: AtomicI32,
}

// SAFETY: a libzmq context is thread-safe: every zmq_ctx_* function may be called from any thread.
unsafe impl Send for ContextInner {}
// SAFETY: as above; the only Rust-side state is an atomic.
unsafe impl Sync for ContextInner {}

impl Drop for ContextInner {
    fn drop(&mut self) {
        // Every socket holds an Arc to this context, so none is open any more: zmq_ctx_term only
        // waits for the sockets' lingering messages.
        loop {
            // SAFETY: raw came from zmq_ctx_new and is terminated exactly once, here.
            let rc = unsafe { zmsg_sys::zmq_ctx_term(self.raw) };
            if rc == 0 || crate::Error::last().errno() != Some(libc::EINTR) {
                break;
            }
        }
    }
}

impl std::fmt::Debug for ZContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZContext")
            .field("raw", &self.inner.raw)
            .field("linger", &self.linger())
            .finish()
    }
}

static DEFAULT_CONTEXT: OnceLock<ZContext> = OnceLock::new();

impl ZContext {
    /// Creates a new, independent context.
    pub fn new() -> Result<Self> {
        // SAFETY: zmq_ctx_new has no preconditions; a null return is checked below.
        let raw = unsafe { zmsg_sys::zmq_ctx_new() };
        if raw.is_null() {
            return Err(crate::Error::last());
        }
        Ok(ZContext {
            inner: Arc::new(ContextInner {
                raw,
                linger_ms: AtomicI32::new(DEFAULT_LINGER_MS),
            }),
        })
    }

    /// The process-wide default context, created on first use; `ZSocket::new` and friends use it.
    ///
    /// # Panics
    /// Only if libzmq cannot create a context at all (out of file descriptors at start-up).
    pub fn global() -> ZContext {
        DEFAULT_CONTEXT
            .get_or_init(|| ZContext::new().expect("libzmq could not create its default context"))
            .clone()
    }

    /// Creates a socket of the given type in this context.
    pub fn socket(&self, kind: crate::SocketType) -> Result<crate::ZSocket> {
        crate::ZSocket::with_context(self, kind)
    }

    /// Creates a socket of the given type in this context and attaches it to `endpoints` with
    /// CZMQ's syntax (`@` binds, `>` connects, comma-separated; unprefixed endpoints bind or connect
    /// as the type usually does), as the `ZSocket::new_*` constructors do in the default context.
    ///
    /// ```
    /// let ctx = zmsg::ZContext::new()?;
    /// let pull = ctx.socket_at(zmsg::SocketType::Pull, "@inproc://socket-at-doc")?;
    /// let push = ctx.socket_at(zmsg::SocketType::Push, "inproc://socket-at-doc")?;
    /// push.send_str("hi")?;
    /// assert_eq!(pull.recv_string()?, "hi");
    /// # Ok::<(), zmsg::Error>(())
    /// ```
    pub fn socket_at(&self, kind: crate::SocketType, endpoints: &str) -> Result<crate::ZSocket> {
        let socket = self.socket(kind)?;
        socket.attach(endpoints, kind.binds_by_default())?;
        Ok(socket)
    }

    /// The linger that new sockets of this context get (`None`: they wait for pending messages
    /// forever at close).
    pub fn linger(&self) -> Option<Duration> {
        let ms = self.inner.linger_ms.load(Ordering::Relaxed);
        (ms >= 0).then(|| Duration::from_millis(ms as u64))
    }

    /// Sets the linger for sockets created from now on (`Some(Duration::ZERO)` drops pending
    /// messages at close, `None` waits for them forever; longer than `i32::MAX` ms is forever).
    pub fn set_linger(&self, linger: Option<Duration>) {
        let ms = linger.map_or(-1, |d| i32::try_from(d.as_millis()).unwrap_or(-1));
        self.inner.linger_ms.store(ms, Ordering::Relaxed);
    }

    /// Sets the number of I/O threads; only effective before the first socket is created.
    pub fn set_io_threads(&self, threads: i32) -> Result<()> {
        self.set(zmsg_sys::ZMQ_IO_THREADS, threads)
    }

    /// The number of I/O threads.
    pub fn io_threads(&self) -> Result<i32> {
        self.get(zmsg_sys::ZMQ_IO_THREADS)
    }

    /// Sets the maximum number of sockets the context allows.
    pub fn set_max_sockets(&self, max: i32) -> Result<()> {
        self.set(zmsg_sys::ZMQ_MAX_SOCKETS, max)
    }

    /// The maximum number of sockets the context allows.
    pub fn max_sockets(&self) -> Result<i32> {
        self.get(zmsg_sys::ZMQ_MAX_SOCKETS)
    }

    /// Turns IPv6 on for sockets created from now on.
    pub fn set_ipv6(&self, enabled: bool) -> Result<()> {
        self.set(zmsg_sys::ZMQ_IPV6, enabled as i32)
    }

    /// Makes every blocking call on this context's sockets return [`crate::Error::Terminated`],
    /// as a first step of shutting down from another thread. Sockets must still be dropped.
    pub fn shutdown(&self) -> Result<()> {
        // SAFETY: raw is a live context (we hold an Arc to it).
        check(unsafe { zmsg_sys::zmq_ctx_shutdown(self.inner.raw) }).map(drop)
    }

    /// The raw `void *` context, for FFI with other libzmq users. It stays valid while `self` lives.
    pub fn as_ptr(&self) -> *mut c_void {
        self.inner.raw
    }

    fn set(&self, option: i32, value: i32) -> Result<()> {
        // SAFETY: raw is a live context; option is one of libzmq's integer context options.
        check(unsafe { zmsg_sys::zmq_ctx_set(self.inner.raw, option, value) }).map(drop)
    }

    fn get(&self, option: i32) -> Result<i32> {
        // SAFETY: as in `set`.
        check(unsafe { zmsg_sys::zmq_ctx_get(self.inner.raw, option) })
    }
}

/// Shuts the process-wide default context down (see [`ZContext::shutdown`]): blocked calls on its
/// sockets return [`crate::Error::Terminated`]. Use it from a signal-handling thread to end a
/// program cleanly, as CZMQ's `zsys_shutdown` does.
pub fn shutdown() -> Result<()> {
    match DEFAULT_CONTEXT.get() {
        Some(ctx) => ctx.shutdown(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip() {
        let ctx = ZContext::new().unwrap();
        ctx.set_io_threads(2).unwrap();
        assert_eq!(ctx.io_threads().unwrap(), 2);
        ctx.set_max_sockets(64).unwrap();
        assert_eq!(ctx.max_sockets().unwrap(), 64);
        ctx.set_linger(Some(Duration::from_millis(5)));
        assert_eq!(ctx.linger(), Some(Duration::from_millis(5)));
        ctx.set_linger(None);
        assert_eq!(ctx.linger(), None);
    }

    #[test]
    fn global_is_shared() {
        let a = ZContext::global();
        let b = ZContext::global();
        assert_eq!(a.as_ptr(), b.as_ptr());
    }

    #[test]
    fn shutdown_unblocks_receivers() {
        let ctx = ZContext::new().unwrap();
        let pull = ctx.socket(crate::SocketType::Pull).unwrap();
        pull.bind("inproc://shutdown-test").unwrap();
        let handle = {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                ctx.shutdown().unwrap();
            })
        };
        // recv blocks until the other thread shuts the context down.
        let err = pull.recv_frame().unwrap_err();
        assert!(matches!(err, crate::Error::Terminated), "{err}");
        handle.join().unwrap();
    }
}
