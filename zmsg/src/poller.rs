//! `ZPoller`: wait for input on several sockets and raw file descriptors, with a timeout.
//!
//! ```
//! use std::time::Duration;
//! use zmsg::{ZPoller, ZSocket};
//! let a = ZSocket::new_pull("@inproc://poller-doc-a")?;
//! let b = ZSocket::new_pull("@inproc://poller-doc-b")?;
//! let push = ZSocket::new_push(">inproc://poller-doc-b")?;
//! push.send_str("hi")?;
//! let mut poller = ZPoller::new();
//! let id_a = poller.add(&a);
//! let id_b = poller.add(&b);
//! assert_eq!(poller.wait(Some(Duration::from_secs(5)))?, Some(id_b));
//! assert_eq!(b.recv_string()?, "hi");
//! assert_eq!(poller.wait(Some(Duration::from_millis(10)))?, None); // timed out
//! # let _ = id_a;
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::marker::PhantomData;
use std::time::Duration;

use crate::error::{check, Result};
use crate::signal::{retry_after, OnInterrupt};
use crate::socket::{Events, ZSocket};

/// Waits on sockets and file descriptors. Items are identified by the index `add` returned.
pub struct ZPoller<'a> {
    items: Vec<zmsg_sys::zmq_pollitem_t>,
    next_ready: usize,
    _sockets: PhantomData<&'a ZSocket>,
}

impl std::fmt::Debug for ZPoller<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZPoller")
            .field("items", &self.items.len())
            .finish_non_exhaustive()
    }
}

impl Default for ZPoller<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> ZPoller<'a> {
    /// An empty poller.
    pub fn new() -> Self {
        ZPoller {
            items: Vec::new(),
            next_ready: 0,
            _sockets: PhantomData,
        }
    }

    /// Watches `socket` for input; returns its index.
    pub fn add(&mut self, socket: &'a ZSocket) -> usize {
        self.add_socket(socket, Events::POLLIN)
    }

    /// Watches `socket` for `events`; returns its index.
    pub fn add_socket(&mut self, socket: &'a ZSocket, events: Events) -> usize {
        self.items.push(zmsg_sys::zmq_pollitem_t {
            socket: socket.as_ptr(),
            fd: 0 as _,
            events: events.bits(),
            revents: 0,
        });
        self.items.len() - 1
    }

    /// Watches a raw file descriptor (or Windows SOCKET) for `events`; returns its index.
    pub fn add_fd(&mut self, fd: zmsg_sys::zmq_fd_t, events: Events) -> usize {
        self.items.push(zmsg_sys::zmq_pollitem_t {
            socket: std::ptr::null_mut(),
            fd,
            events: events.bits(),
            revents: 0,
        });
        self.items.len() - 1
    }

    /// The number of watched items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Polls once: waits up to `timeout` (`None`: forever) and returns how many items are ready.
    /// Read each item's readiness with [`ZPoller::ready`]. After
    /// [`crate::install_interrupt_handler`], a Ctrl-C ends the wait with
    /// [`crate::Error::Interrupted`] even if it lands just before the poll starts.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<usize> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            match self.poll_once(crate::socket::poll_timeout_ms(deadline)) {
                // Another signal than an interrupt: wait on for what is left of the timeout.
                Err(err) if retry_after(&err, OnInterrupt::Stop) => {}
                result => return result,
            }
        }
    }

    fn poll_once(&mut self, timeout_ms: i64) -> Result<usize> {
        for item in &mut self.items {
            item.revents = 0;
        }
        self.next_ready = 0;
        let interrupt = crate::signal::interrupt_fd();
        if let Some(fd) = interrupt {
            self.items.push(zmsg_sys::zmq_pollitem_t {
                socket: std::ptr::null_mut(),
                fd,
                events: Events::POLLIN.bits(),
                revents: 0,
            });
        }
        // SAFETY: items point at sockets borrowed for 'a (alive) or at caller-owned fds (and the
        // interrupt pipe, which lives for the whole process).
        let count = unsafe {
            zmsg_sys::zmq_poll(
                self.items.as_mut_ptr(),
                self.items.len() as _,
                timeout_ms as _,
            )
        };
        let interrupted =
            interrupt.is_some() && self.items.pop().is_some_and(|item| item.revents != 0);
        let count = check(count)? as usize;
        if interrupted {
            return Err(crate::Error::Interrupted);
        }
        Ok(count)
    }

    /// The events item `index` was ready for in the last poll.
    pub fn ready(&self, index: usize) -> Events {
        self.items
            .get(index)
            .map_or(Events::NONE, |item| Events(item.revents))
    }

    /// Waits up to `timeout` and returns the index of a ready item, or `None` on timeout. When
    /// several are ready, successive calls return them in turn before polling again (fairness).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<usize>> {
        if let Some(index) = self.take_ready() {
            return Ok(Some(index));
        }
        if self.poll(timeout)? == 0 {
            return Ok(None);
        }
        Ok(self.take_ready())
    }

    fn take_ready(&mut self) -> Option<usize> {
        while self.next_ready < self.items.len() {
            let index = self.next_ready;
            self.next_ready += 1;
            if self.items[index].revents != 0 {
                self.items[index].revents = 0;
                return Some(index);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_ready_are_all_reported() {
        let a = ZSocket::new_pull("@inproc://poller-a").unwrap();
        let b = ZSocket::new_pull("@inproc://poller-b").unwrap();
        let to_a = ZSocket::new_push(">inproc://poller-a").unwrap();
        let to_b = ZSocket::new_push(">inproc://poller-b").unwrap();
        to_a.send_str("a").unwrap();
        to_b.send_str("b").unwrap();
        let mut poller = ZPoller::new();
        let ia = poller.add(&a);
        let ib = poller.add(&b);
        // Both may not be ready in the same poll (inproc delivery is immediate, but be strict
        // only about what must hold): every message is reported within the bound.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let index = poller
                .wait(Some(Duration::from_secs(5)))
                .unwrap()
                .expect("ready");
            let socket = if index == ia { &a } else { &b };
            seen.push(socket.recv_string().unwrap());
        }
        seen.sort();
        assert_eq!(seen, ["a", "b"]);
        assert_eq!(poller.wait(Some(Duration::from_millis(1))).unwrap(), None);
        let _ = ib;
    }

    #[cfg(unix)]
    #[test]
    fn raw_fd_readiness() {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut poller = ZPoller::new();
        let index = poller.add_fd(fds[0], Events::POLLIN);
        assert_eq!(poller.wait(Some(Duration::from_millis(1))).unwrap(), None);
        // SAFETY: writing one byte from a valid buffer to the pipe's write end.
        let written = unsafe { libc::write(fds[1], b"x".as_ptr() as *const _, 1) };
        assert_eq!(written, 1);
        assert_eq!(
            poller.wait(Some(Duration::from_secs(5))).unwrap(),
            Some(index)
        );
        assert!(
            poller.ready(index).is_empty(),
            "wait consumes the readiness it reports"
        );
        // SAFETY: closing the fds we opened.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
