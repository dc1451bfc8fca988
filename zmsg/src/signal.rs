//! Ctrl-C handling, as CZMQ's `zsys_handler`: a SIGINT/SIGTERM handler that sets a flag, so that
//! blocking calls interrupted by the signal return [`crate::Error::Interrupted`] instead of
//! silently retrying, and loops can check [`interrupted`].
//!
//! The handler also writes a byte to a pipe whose read end ([`interrupt_fd`]) `ZLoop` and
//! `ZPoller` poll next to their sockets. A flag alone has a race: a signal that lands after a loop
//! checked the flag but before it entered `zmq_poll` interrupts nothing, and the poll could then
//! wait forever. The pipe stays readable until [`reset_interrupted`], so no poll can miss it.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The interrupt pipe's ends, -1 until [`install_interrupt_handler`] made it.
static WAKE_READ: AtomicI32 = AtomicI32::new(-1);
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);

/// The read end of the interrupt pipe, readable once the process was interrupted; `None` until
/// [`install_interrupt_handler`] ran. Poll it next to your sockets in a custom event loop.
pub fn interrupt_fd() -> Option<zmsg_sys::zmq_fd_t> {
    let fd = WAKE_READ.load(Ordering::Acquire);
    (fd >= 0).then_some(fd as zmsg_sys::zmq_fd_t)
}

/// Marks the process interrupted: the flag, and a byte in the interrupt pipe. Async-signal-safe.
fn mark_interrupted() {
    INTERRUPTED.store(true, Ordering::Relaxed);
    #[cfg(unix)]
    {
        let fd = WAKE_WRITE.load(Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: write(2) of one byte from a valid buffer is async-signal-safe; the pipe is
            // non-blocking, so a full pipe (already readable) just makes this a no-op.
            unsafe { libc::write(fd, b"!".as_ptr() as *const libc::c_void, 1) };
        }
    }
}

/// True once SIGINT or SIGTERM arrived after [`install_interrupt_handler`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Clears the interrupted flag and empties the interrupt pipe (for programs that handle one
/// Ctrl-C and go on).
pub fn reset_interrupted() {
    INTERRUPTED.store(false, Ordering::Relaxed);
    #[cfg(unix)]
    {
        let fd = WAKE_READ.load(Ordering::Acquire);
        if fd >= 0 {
            let mut buffer = [0u8; 64];
            // SAFETY: reading into a valid buffer from our non-blocking pipe until it is empty.
            while unsafe { libc::read(fd, buffer.as_mut_ptr() as *mut libc::c_void, buffer.len()) }
                > 0
            {}
        }
    }
}

/// Makes the interrupt pipe once: non-blocking, closed on exec.
#[cfg(unix)]
fn make_pipe() -> std::io::Result<()> {
    static MADE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut made = MADE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if *made {
        return Ok(());
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe writes two new descriptors into the array; fcntl only sets their flags.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for fd in fds {
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            );
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    WAKE_WRITE.store(fds[1], Ordering::Release);
    WAKE_READ.store(fds[0], Ordering::Release);
    *made = true;
    Ok(())
}

/// Installs a handler for SIGINT and SIGTERM that sets the [`interrupted`] flag. Blocking zmsg
/// calls then return [`crate::Error::Interrupted`] and `ZLoop` stops. Without it, signals keep
/// their default action (the process ends).
#[cfg(unix)]
pub fn install_interrupt_handler() -> std::io::Result<()> {
    extern "C" fn on_signal(_signal: libc::c_int) {
        mark_interrupted();
    }
    make_pipe()?;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction with a zeroed struct, an async-signal-safe handler (atomics and one
        // write(2)) and no SA_RESTART, so blocking system calls return EINTR.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
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
    mark_interrupted();
}
