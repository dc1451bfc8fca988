//! `ZActor`: a thread that talks to its owner over a PAIR pipe, as CZMQ's `zactor`.
//!
//! The actor function receives its end of the pipe, does its set-up, calls
//! [`ZSocket::signal`]`(0)` to say it is ready, then serves commands until it receives `"$TERM"`.
//! [`ZActor::new`] returns once the actor has signalled, so the actor is ready when you get it.
//! Dropping the `ZActor` sends `"$TERM"` and waits for the thread to finish.
//!
//! ```
//! use zmsg::{ZActor, ZMsg};
//! let echo = ZActor::new(|pipe| {
//!     pipe.signal(0)?;
//!     loop {
//!         let msg = pipe.recv_msg()?;
//!         if msg.first().is_some_and(|f| f.eq_bytes(b"$TERM")) {
//!             return Ok(());
//!         }
//!         pipe.send_msg(msg)?;
//!     }
//! })?;
//! echo.send_str("hello")?;
//! assert_eq!(echo.recv_string()?, "hello");
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::context::ZContext;
use crate::error::{Error, Result};
use crate::socket::{SocketType, ZSocket};

/// A background thread with a PAIR pipe to its owner.
#[must_use = "dropping a ZActor stops its thread"]
pub struct ZActor {
    pipe: Option<ZSocket>,
    thread: Option<JoinHandle<Result<()>>>,
}

static NEXT_PIPE: AtomicU64 = AtomicU64::new(0);

impl ZActor {
    /// Starts `task` on a new thread in the default context and waits until it signals readiness
    /// (or ends, in which case its error is returned).
    pub fn new<F>(task: F) -> Result<ZActor>
    where
        F: FnOnce(ZSocket) -> Result<()> + Send + 'static,
    {
        Self::with_context(&ZContext::global(), task)
    }

    /// As [`ZActor::new`], in the given context.
    pub fn with_context<F>(ctx: &ZContext, task: F) -> Result<ZActor>
    where
        F: FnOnce(ZSocket) -> Result<()> + Send + 'static,
    {
        let endpoint = format!(
            "inproc://zactor-{}-{}",
            std::process::id(),
            NEXT_PIPE.fetch_add(1, Ordering::Relaxed)
        );
        let pipe = ctx.socket(SocketType::Pair)?;
        pipe.set_linger(Some(Duration::ZERO))?;
        pipe.bind(&endpoint)?;
        let child = ctx.socket(SocketType::Pair)?;
        child.set_linger(Some(Duration::ZERO))?;
        child.connect(&endpoint)?;

        let thread = std::thread::Builder::new()
            .name("zactor".into())
            .spawn(move || {
                let result = task(child);
                if let Err(err) = &result {
                    tracing::debug!(%err, "actor ended with an error");
                }
                result
            })?;
        let mut actor = ZActor {
            pipe: Some(pipe),
            thread: Some(thread),
        };
        // Wait for the ready signal, or for the thread to end without sending it.
        loop {
            let pipe = actor.pipe();
            if !pipe
                .poll(
                    crate::Events::POLLIN,
                    Some(std::time::Duration::from_millis(50)),
                )?
                .is_empty()
            {
                pipe.wait_signal()?;
                return Ok(actor);
            }
            if actor.thread.as_ref().is_some_and(JoinHandle::is_finished) {
                let result = actor.join();
                actor.pipe = None;
                return Err(result.err().unwrap_or_else(|| {
                    Error::InvalidArgument("the actor ended without signalling".into())
                }));
            }
        }
    }

    /// The owner's end of the pipe: send commands, receive replies.
    pub fn pipe(&self) -> &ZSocket {
        self.pipe.as_ref().expect("a live actor has a pipe")
    }

    /// Sends `"$TERM"`, waits for the thread to end and returns what the actor returned.
    pub fn terminate(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        // An actor that has returned already has closed its end: a send would only wait out the
        // timeout (CZMQ's zactor_destroy returns at once then, and so do we).
        let finished = self.thread.as_ref().is_some_and(JoinHandle::is_finished);
        if let (Some(pipe), false) = (&self.pipe, finished) {
            // The actor may end meanwhile; then the send just goes nowhere.
            let _ = pipe.set_sndtimeo(Some(Duration::from_millis(1000)));
            let _ = pipe.send_str("$TERM");
        }
        let result = self.join();
        self.pipe = None;
        result
    }

    fn join(&mut self) -> Result<()> {
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(Error::InvalidArgument("the actor thread panicked".into()))
            }),
            None => Ok(()),
        }
    }
}

impl std::ops::Deref for ZActor {
    type Target = ZSocket;
    fn deref(&self) -> &ZSocket {
        self.pipe()
    }
}

impl Drop for ZActor {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            tracing::debug!(%err, "actor ended with an error");
        }
    }
}

impl std::fmt::Debug for ZActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZActor").field("pipe", &self.pipe).finish()
    }
}

/// True when `msg`'s first frame is the `"$TERM"` command an actor must stop on.
pub fn is_term(msg: &crate::ZMsg) -> bool {
    msg.first().is_some_and(|frame| frame.eq_bytes(b"$TERM"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn lifecycle_start_serve_terminate() {
        let stopped = Arc::new(AtomicBool::new(false));
        let flag = stopped.clone();
        let actor = ZActor::new(move |pipe| {
            pipe.signal(0)?;
            loop {
                let msg = pipe.recv_msg()?;
                if is_term(&msg) {
                    flag.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                pipe.send_msg(msg)?;
            }
        })
        .unwrap();
        actor.send_str("ping").unwrap();
        assert_eq!(actor.recv_string().unwrap(), "ping");
        drop(actor);
        assert!(stopped.load(Ordering::SeqCst), "drop must stop the actor");
    }

    #[test]
    fn failing_start_is_reported() {
        let err = ZActor::new(|_pipe| Err(Error::InvalidArgument("no config".into()))).unwrap_err();
        assert!(err.to_string().contains("no config"), "{err}");
    }

    #[test]
    fn terminate_returns_the_actor_result() {
        let actor = ZActor::new(|pipe| {
            pipe.signal(0)?;
            let _ = pipe.recv_msg()?;
            Err(Error::InvalidArgument("ended badly".into()))
        })
        .unwrap();
        assert!(actor.terminate().is_err());
    }
}
