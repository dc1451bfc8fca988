//! Proxies: [`proxy`] and [`proxy_steerable`] wrap libzmq's built-in proxy; [`ZProxy`] runs a
//! proxy in an actor thread that can be paused, resumed and stopped.
//!
//! ```
//! use zmsg::{SocketType, ZProxy, ZSocket};
//! // A ROUTER/DEALER proxy between REQ clients and REP workers.
//! let proxy = ZProxy::new(
//!     (SocketType::Router, "@tcp://127.0.0.1:*"),
//!     (SocketType::Dealer, "@tcp://127.0.0.1:*"),
//! )?;
//! let client = ZSocket::new_req(&format!(">{}", proxy.frontend_endpoints()[0]))?;
//! let worker = ZSocket::new_rep(&format!(">{}", proxy.backend_endpoints()[0]))?;
//! client.send_str("ping")?;
//! assert_eq!(worker.recv_string()?, "ping");
//! worker.send_str("pong")?;
//! assert_eq!(client.recv_string()?, "pong");
//! # Ok::<(), zmsg::Error>(())
//! ```

use crate::socket::RecvFlags;
use std::time::Duration;

use crate::actor::{is_term, ZActor};
use crate::error::{check, Error, Result};
use crate::msg::ZMsg;
use crate::signal::{retry_after, OnInterrupt};
use crate::socket::{BoundEndpoint, Events, SendFlags, SocketType, ZSocket};

/// Runs libzmq's built-in proxy (`zmq_proxy`) in the calling thread: every message from
/// `frontend` goes to `backend` and back, with a copy to `capture` if given. Blocks until the
/// sockets' context is shut down, then returns [`Error::Terminated`] (or another error).
///
/// The sockets must be used by no other thread meanwhile: move them into the proxy's thread
/// (`ZSocket` is `Send`).
pub fn proxy(frontend: &ZSocket, backend: &ZSocket, capture: Option<&ZSocket>) -> Result<()> {
    let capture = capture.map_or(std::ptr::null_mut(), ZSocket::as_ptr);
    // SAFETY: the sockets are live for the whole call (borrowed); capture is live or null.
    check(unsafe { zmsg_sys::zmq_proxy(frontend.as_ptr(), backend.as_ptr(), capture) }).map(drop)
}

/// As [`proxy`], steered by commands received on `control`: `"PAUSE"`, `"RESUME"`,
/// `"TERMINATE"` (then this returns `Ok(())`) and `"STATISTICS"`.
///
/// Beware of libzmq 4.3.5's quirks (fixed later upstream): it swaps `PAUSE` and `RESUME`, and it
/// answers every command on `control` (an empty frame, or 8 frames for `STATISTICS`), so a PAIR
/// control socket must read those replies and a REP works as well. [`ZProxy`] avoids all this.
pub fn proxy_steerable(
    frontend: &ZSocket,
    backend: &ZSocket,
    capture: Option<&ZSocket>,
    control: &ZSocket,
) -> Result<()> {
    let capture = capture.map_or(std::ptr::null_mut(), ZSocket::as_ptr);
    // SAFETY: as in `proxy`; control is live too.
    check(unsafe {
        zmsg_sys::zmq_proxy_steerable(
            frontend.as_ptr(),
            backend.as_ptr(),
            capture,
            control.as_ptr(),
        )
    })
    .map(drop)
}

/// How long [`ZProxy::pause`] and [`ZProxy::resume`] wait for the proxy's acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages forwarded per readiness before the proxy looks at its pipe again.
const BATCH: usize = 256;

/// A proxy between two sockets it creates, running in an actor thread (as CZMQ's `zproxy`,
/// simpler). Commands are acknowledged, so after [`ZProxy::pause`] returns no message moves
/// until [`ZProxy::resume`]. Dropping the `ZProxy` stops the thread and closes both sockets.
///
/// The proxy never blocks on a send: when one side cannot take a message (no peer, high-water
/// mark), the proxy holds it and stops reading from the other side until it can, so it stays
/// responsive to its commands. Messages a ROUTER cannot route are dropped, as libzmq does.
#[must_use = "dropping a ZProxy stops the proxy"]
pub struct ZProxy {
    actor: ZActor,
    frontend: Vec<BoundEndpoint>,
    backend: Vec<BoundEndpoint>,
}

impl std::fmt::Debug for ZProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZProxy")
            .field("frontend", &self.frontend)
            .field("backend", &self.backend)
            .finish()
    }
}

impl ZProxy {
    /// Creates the frontend and backend sockets from (type, endpoints) pairs and starts
    /// proxying. Endpoints use CZMQ syntax; unprefixed ones bind, as in CZMQ's zproxy.
    pub fn new(frontend: (SocketType, &str), backend: (SocketType, &str)) -> Result<ZProxy> {
        Self::with_setup(frontend, backend, |_, _| Ok(()))
    }

    /// As [`ZProxy::new`], calling `setup(frontend, backend)` on the new sockets before they
    /// bind or connect (for CURVE keys, HWMs, ...).
    pub fn with_setup<F>(
        frontend: (SocketType, &str),
        backend: (SocketType, &str),
        setup: F,
    ) -> Result<ZProxy>
    where
        F: FnOnce(&ZSocket, &ZSocket) -> Result<()> + Send + 'static,
    {
        let (front_kind, front_endpoints) = (frontend.0, frontend.1.to_string());
        let (back_kind, back_endpoints) = (backend.0, backend.1.to_string());
        let (tx, rx) = std::sync::mpsc::channel();
        let actor = ZActor::new(move |pipe| {
            let front = ZSocket::new(front_kind)?;
            let back = ZSocket::new(back_kind)?;
            setup(&front, &back)?;
            let front_bound = front.attach(&front_endpoints, true)?;
            let back_bound = back.attach(&back_endpoints, true)?;
            // The receiver waits for this until the signal below; it cannot be gone.
            let _ = tx.send((front_bound, back_bound));
            pipe.signal(0)?;
            run_proxy(&pipe, &front, &back)
        })?;
        // ZActor::new returned, so the actor signalled, after sending the endpoints.
        let (frontend, backend) = rx
            .try_recv()
            .map_err(|_| Error::InvalidArgument("the proxy did not report its endpoints".into()))?;
        Ok(ZProxy {
            actor,
            frontend,
            backend,
        })
    }

    /// The addresses the frontend bound to (with real ports for `tcp://...:*`).
    pub fn frontend_endpoints(&self) -> &[BoundEndpoint] {
        &self.frontend
    }

    /// The addresses the backend bound to.
    pub fn backend_endpoints(&self) -> &[BoundEndpoint] {
        &self.backend
    }

    /// Stops forwarding (messages wait in the sockets' queues); returns once the proxy obeyed.
    pub fn pause(&self) -> Result<()> {
        self.command("PAUSE")
    }

    /// Resumes forwarding; returns once the proxy obeyed.
    pub fn resume(&self) -> Result<()> {
        self.command("RESUME")
    }

    /// Stops the proxy thread and returns how it ended (dropping does the same, quietly).
    pub fn terminate(self) -> Result<()> {
        self.actor.terminate()
    }

    fn command(&self, command: &str) -> Result<()> {
        self.actor.send_str(command)?;
        if self
            .actor
            .poll(Events::POLLIN, Some(ACK_TIMEOUT))?
            .is_empty()
        {
            return Err(Error::Again);
        }
        self.actor.wait_signal().map(drop)
    }
}

/// The proxy actor's loop: commands on `pipe`, messages both ways between the sockets.
fn run_proxy(pipe: &ZSocket, front: &ZSocket, back: &ZSocket) -> Result<()> {
    let mut paused = false;
    let mut to_back: Option<ZMsg> = None;
    let mut to_front: Option<ZMsg> = None;
    let mut buffer = ZMsg::new();
    loop {
        let side_events = |pending_in: &Option<ZMsg>, pending_out: &Option<ZMsg>| {
            if paused {
                return 0;
            }
            let mut events = 0;
            if pending_in.is_none() {
                events |= Events::POLLIN.bits();
            }
            if pending_out.is_some() {
                events |= Events::POLLOUT.bits();
            }
            events
        };
        let mut items = [
            poll_item(pipe, Events::POLLIN.bits()),
            poll_item(front, side_events(&to_back, &to_front)),
            poll_item(back, side_events(&to_front, &to_back)),
        ];
        // SAFETY: three items pointing at sockets borrowed for this call.
        let rc = unsafe { zmsg_sys::zmq_poll(items.as_mut_ptr(), 3, -1) };
        if rc == -1 {
            match Error::last() {
                // Stopped through its pipe, never by a signal.
                err if retry_after(&err, OnInterrupt::KeepRunning) => continue,
                err => return Err(err),
            }
        }
        if items[0].revents != 0 {
            let msg = pipe.recv_msg()?;
            if is_term(&msg) {
                return Ok(());
            }
            match msg.first().map(|f| f.data()) {
                Some(b"PAUSE") => paused = true,
                Some(b"RESUME") => paused = false,
                _ => {
                    tracing::debug!(%msg, "proxy: unknown command");
                    continue;
                }
            }
            pipe.signal(0)?;
            continue;
        }
        let ready = |index: usize, events: Events| items[index].revents & events.bits() != 0;
        if ready(1, Events::POLLOUT) {
            flush(front, &mut to_front)?;
        }
        if ready(2, Events::POLLOUT) {
            flush(back, &mut to_back)?;
        }
        if ready(1, Events::POLLIN) {
            forward(front, back, &mut to_back, &mut buffer)?;
        }
        if ready(2, Events::POLLIN) {
            forward(back, front, &mut to_front, &mut buffer)?;
        }
    }
}

fn poll_item(socket: &ZSocket, events: i16) -> zmsg_sys::zmq_pollitem_t {
    zmsg_sys::zmq_pollitem_t {
        socket: socket.as_ptr(),
        fd: 0 as _,
        events,
        revents: 0,
    }
}

/// Tries to send a held message; keeps it if the socket still cannot take it.
fn flush(to: &ZSocket, pending: &mut Option<ZMsg>) -> Result<()> {
    if let Some(msg) = pending {
        if send(to, msg)? {
            *pending = None;
        }
    }
    Ok(())
}

/// Moves up to [`BATCH`] messages; stops early when the receiving side cannot take one.
fn forward(
    from: &ZSocket,
    to: &ZSocket,
    pending: &mut Option<ZMsg>,
    buffer: &mut ZMsg,
) -> Result<()> {
    for _ in 0..BATCH {
        if pending.is_some() {
            return Ok(());
        }
        match from.recv_msg_into(buffer, RecvFlags::DONTWAIT) {
            Ok(()) => {}
            Err(Error::Again) => return Ok(()),
            Err(err) => return Err(err),
        }
        if !send(to, buffer)? {
            *pending = Some(std::mem::take(buffer));
        }
    }
    Ok(())
}

/// Sends without blocking: true when sent (or dropped as unroutable), false when it must wait.
fn send(to: &ZSocket, msg: &mut ZMsg) -> Result<bool> {
    match to.send_msg_ref(msg, SendFlags::DONTWAIT) {
        Ok(()) => Ok(true),
        Err(Error::Again) => Ok(false),
        Err(err @ (Error::Terminated | Error::Interrupted)) => Err(err),
        Err(err) => {
            tracing::debug!(%err, "proxy: message dropped");
            msg.clear();
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZContext;

    fn round_trips(client: &ZSocket, worker: &ZSocket, count: usize) {
        for i in 0..count {
            client.send_str(&format!("request {i}")).unwrap();
            assert_eq!(worker.recv_string().unwrap(), format!("request {i}"));
            worker.send_str(&format!("reply {i}")).unwrap();
            assert_eq!(client.recv_string().unwrap(), format!("reply {i}"));
        }
    }

    fn bounded(socket: &ZSocket) {
        socket
            .set_rcvtimeo(Some(Duration::from_millis(10_000)))
            .unwrap();
        socket.set_linger(Some(Duration::ZERO)).unwrap();
    }

    #[test]
    fn zmq_proxy_carries_req_rep_over_tcp_until_terminated() {
        let ctx = ZContext::new().unwrap();
        let front = ctx.socket(SocketType::Router).unwrap();
        let back = ctx.socket(SocketType::Dealer).unwrap();
        let front_ep = front.bind("tcp://127.0.0.1:*").unwrap();
        let back_ep = back.bind("tcp://127.0.0.1:*").unwrap();
        let thread = std::thread::spawn(move || proxy(&front, &back, None));

        let client = ctx.socket(SocketType::Req).unwrap();
        let worker = ctx.socket(SocketType::Rep).unwrap();
        bounded(&client);
        bounded(&worker);
        client.connect(front_ep.as_str()).unwrap();
        worker.connect(back_ep.as_str()).unwrap();
        round_trips(&client, &worker, 10);
        drop((client, worker));

        ctx.shutdown().unwrap();
        let result = thread.join().unwrap();
        assert!(matches!(result, Err(Error::Terminated)), "{result:?}");
    }

    #[test]
    fn zmq_proxy_steerable_terminates_on_command() {
        let ctx = ZContext::new().unwrap();
        let front = ctx.socket(SocketType::Router).unwrap();
        let back = ctx.socket(SocketType::Dealer).unwrap();
        let front_ep = front.bind("tcp://127.0.0.1:*").unwrap();
        let back_ep = back.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = format!("inproc://proxy-control-{}", std::process::id());
        let control = ctx.socket(SocketType::Pair).unwrap();
        control.bind(&endpoint).unwrap();
        let thread = std::thread::spawn(move || proxy_steerable(&front, &back, None, &control));

        let client = ctx.socket(SocketType::Req).unwrap();
        let worker = ctx.socket(SocketType::Rep).unwrap();
        bounded(&client);
        bounded(&worker);
        client.connect(front_ep.as_str()).unwrap();
        worker.connect(back_ep.as_str()).unwrap();
        round_trips(&client, &worker, 3);

        let steer = ctx.socket(SocketType::Pair).unwrap();
        bounded(&steer);
        steer.connect(&endpoint).unwrap();
        steer.send_str("TERMINATE").unwrap();
        assert_eq!(thread.join().unwrap().ok(), Some(()));
    }

    #[test]
    fn zproxy_forwards_pauses_and_resumes() {
        let proxy = ZProxy::new(
            (SocketType::Router, "@tcp://127.0.0.1:*"),
            (SocketType::Dealer, "tcp://127.0.0.1:*"),
        )
        .unwrap();
        let front = proxy.frontend_endpoints()[0].clone();
        let back = proxy.backend_endpoints()[0].clone();
        assert!(front.port().is_some() && back.port().is_some());
        let client = ZSocket::new_req(&format!(">{front}")).unwrap();
        let worker = ZSocket::new_rep(&format!(">{back}")).unwrap();
        bounded(&client);
        bounded(&worker);
        round_trips(&client, &worker, 20);

        proxy.pause().unwrap();
        client.send_str("while paused").unwrap();
        // Nothing can come through while paused (this wait only bounds a negative check).
        assert!(worker
            .poll(Events::POLLIN, Some(Duration::from_millis(200)))
            .unwrap()
            .is_empty());
        proxy.resume().unwrap();
        assert_eq!(worker.recv_string().unwrap(), "while paused");
        worker.send_str("after resume").unwrap();
        assert_eq!(client.recv_string().unwrap(), "after resume");

        proxy.terminate().unwrap();
    }

    #[test]
    fn zproxy_holds_messages_until_a_peer_comes_and_stays_responsive() {
        // A DEALER backend without peers cannot take a message: the proxy must hold it, still
        // answer commands, and deliver once a worker connects.
        let proxy = ZProxy::new(
            (SocketType::Router, "tcp://127.0.0.1:*"),
            (SocketType::Dealer, "tcp://127.0.0.1:*"),
        )
        .unwrap();
        let client = ZSocket::new_req(&format!(">{}", proxy.frontend_endpoints()[0])).unwrap();
        bounded(&client);
        client.send_str("early").unwrap();
        proxy.pause().unwrap();
        proxy.resume().unwrap();
        let worker = ZSocket::new_rep(&format!(">{}", proxy.backend_endpoints()[0])).unwrap();
        bounded(&worker);
        assert_eq!(worker.recv_string().unwrap(), "early");
        worker.send_str("late").unwrap();
        assert_eq!(client.recv_string().unwrap(), "late");
        drop(proxy); // must not hang
    }

    #[test]
    fn zproxy_reports_setup_errors() {
        let err = ZProxy::new(
            (SocketType::Router, "@nonsense"),
            (SocketType::Dealer, "@tcp://127.0.0.1:*"),
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidEndpoint(_)), "{err}");
    }
}
