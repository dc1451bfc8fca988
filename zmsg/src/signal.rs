//! Ctrl-C handling, as CZMQ's `zsys_handler`: a SIGINT/SIGTERM handler that sets a flag, so that
//! blocking calls interrupted by the signal return [`crate::Error::Interrupted`] instead of
//! silently retrying, and loops can check [`interrupted`].
//!
//! The handler also writes a byte to a pipe whose read end ([`interrupt_fd`]) `ZLoop` and
//! `ZPoller` poll next to their sockets. A flag alone has a race: a signal that lands after a loop
//! checked the flag but before it entered `zmq_poll` interrupts nothing, and the poll could then
//! wait forever. The pipe stays readable until [`reset_interrupted`], so no poll can miss it.
//!
//! **One policy for every other signal.** A call that a signal interrupts (`EINTR`) is retried,
//! with what is left of its timeout, unless the interrupted flag is set: a profiler's SIGPROF or
//! an application's own SIGCHLD or SIGUSR1 handler never stops a socket call, a poll, a `ZLoop`,
//! a proxy, an actor or an `mdp::Worker`.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::error::Error;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The interrupt pipe's read end, -1 until [`install_interrupt_handler`] made it.
static WAKE_READ: AtomicI32 = AtomicI32::new(-1);

/// The interrupt pipe's write end, for [`raise_interrupted`] (the signal handler has its own).
#[cfg(unix)]
static WAKE_WRITE: std::sync::OnceLock<std::os::unix::net::UnixStream> = std::sync::OnceLock::new();

/// The read end of the interrupt pipe, readable once the process was interrupted; `None` until
/// [`install_interrupt_handler`] ran. Poll it next to your sockets in a custom event loop.
pub fn interrupt_fd() -> Option<zmsg_sys::zmq_fd_t> {
    let fd = WAKE_READ.load(Ordering::Acquire);
    (fd >= 0).then_some(fd as zmsg_sys::zmq_fd_t)
}

/// True once SIGINT or SIGTERM arrived after [`install_interrupt_handler`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Who is asking [`retry_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnInterrupt {
    /// An application call (send, recv, poll, `ZPoller`, `ZLoop`): SIGINT/SIGTERM stop it.
    Stop,
    /// A thread that its owner stops through a pipe (actors, steerable proxies, a non-stop
    /// `ZLoop`): no signal stops it.
    KeepRunning,
}

/// The one place that decides what a call that failed with `err` does when `err` is `EINTR`:
/// retry when the signal was not an interrupt (a profiler's SIGPROF, an application's SIGCHLD or
/// SIGUSR1 handler), give up with [`Error::Interrupted`] once SIGINT/SIGTERM set the flag
/// (unless `who` keeps running). `send`, `recv`, `poll`, `ZPoller`, `ZLoop`, the proxy and the
/// actors all ask it. Any other error is never retried.
pub(crate) fn retry_after(err: &Error, who: OnInterrupt) -> bool {
    matches!(err, Error::Interrupted) && (who == OnInterrupt::KeepRunning || !interrupted())
}

/// Clears the interrupted flag and empties the interrupt pipe (for programs that handle one
/// Ctrl-C and go on).
pub fn reset_interrupted() {
    INTERRUPTED.store(false, Ordering::SeqCst);
    #[cfg(unix)]
    if let Some(read) = read_end() {
        use std::io::Read;
        let mut buffer = [0u8; 64];
        while matches!((&read).read(&mut buffer), Ok(n) if n > 0) {}
        std::mem::forget(read); // the descriptor stays open for the process
    }
}

/// The read end as a stream (not owned: callers forget it after use).
#[cfg(unix)]
fn read_end() -> Option<std::os::unix::net::UnixStream> {
    use std::os::fd::FromRawFd;
    let fd = WAKE_READ.load(Ordering::Acquire);
    // SAFETY: fd is the read end made by install_interrupt_handler, open for the whole process;
    // the caller forgets the stream instead of closing it.
    (fd >= 0).then(|| unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) })
}

/// Installs a handler for SIGINT and SIGTERM that sets the [`interrupted`] flag and makes the
/// interrupt pipe readable. Blocking zmsg calls then return [`crate::Error::Interrupted`] and
/// `ZLoop` stops; other signals never stop them (see the module documentation). Without it,
/// SIGINT and SIGTERM keep their default action (the process ends).
///
/// The handlers are `signal-hook`'s, which save and restore `errno` and are async-signal-safe.
#[cfg(unix)]
pub fn install_interrupt_handler() -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    static INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut installed = INSTALLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *installed {
        return Ok(());
    }
    let (read, write) = UnixStream::pair()?;
    read.set_nonblocking(true)?;
    write.set_nonblocking(true)?;
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The flag first, then the pipe: whoever wakes on the pipe sees the flag set.
        signal_hook::flag::register(signal, &INTERRUPTED)?;
        signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
    }
    let _ = WAKE_WRITE.set(write);
    WAKE_READ.store(read.as_raw_fd(), Ordering::Release);
    std::mem::forget(read); // open for the whole process, like the handlers
    *installed = true;
    Ok(())
}

/// On non-Unix platforms Ctrl-C handling is left to the application.
#[cfg(not(unix))]
pub fn install_interrupt_handler() -> std::io::Result<()> {
    Ok(())
}

/// Sets the interrupted flag by hand, as a signal would (for tests, or to stop loops from
/// another thread).
pub fn raise_interrupted() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    #[cfg(unix)]
    if let Some(write) = WAKE_WRITE.get() {
        use std::io::Write;
        // A full pipe is already readable.
        let _ = (&*write).write(b"!");
    }
}
