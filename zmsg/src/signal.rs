//! Ctrl-C handling, as CZMQ's `zsys_handler`: a SIGINT/SIGTERM handler that sets a flag, so that
//! blocking calls interrupted by the signal return [`crate::Error::Interrupted`] instead of
//! silently retrying, and loops can check [`interrupted`].

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once SIGINT or SIGTERM arrived after [`install_interrupt_handler`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Clears the interrupted flag (for programs that handle one Ctrl-C and go on).
pub fn reset_interrupted() {
    INTERRUPTED.store(false, Ordering::Relaxed);
}

/// Installs a handler for SIGINT and SIGTERM that sets the [`interrupted`] flag. Blocking zmsg
/// calls then return [`crate::Error::Interrupted`] and `ZLoop` stops. Without it, signals keep
/// their default action (the process ends).
#[cfg(unix)]
pub fn install_interrupt_handler() -> std::io::Result<()> {
    extern "C" fn on_signal(_signal: libc::c_int) {
        INTERRUPTED.store(true, Ordering::Relaxed);
    }
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction with a zeroed struct, an async-signal-safe handler (one atomic store)
        // and no SA_RESTART, so blocking system calls return EINTR.
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

/// Sets the interrupted flag by hand (for tests, or to stop loops from another thread).
pub fn raise_interrupted() {
    INTERRUPTED.store(true, Ordering::Relaxed);
}
