//! Broker peering, part 2: the request-reply flow, with local REQ clients and workers and ROUTER-to-ROUTER cloud links to peers (zguide: peering2).
//!
//! Usage: `peering2 [--seconds N] ME {PEER}...`; start every broker, then press Enter in each.
//! It binds ipc://ME-cloud.ipc, ipc://ME-localfe.ipc and ipc://ME-localbe.ipc (in the current
//! directory), runs ten clients and three workers, sends a fifth of local requests to a random
//! peer, and runs for N seconds (default: until Ctrl-C).
use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zmsg::{actor::is_term, Error, Events, SocketType, ZActor, ZFrame, ZPoller, ZSocket};

const NBR_CLIENTS: usize = 10;
const NBR_WORKERS: usize = 3;
const WORKER_READY: &[u8] = b"\x01"; // Signals that a worker is ready

/// A request-reply dialog on a standard synchronous REQ socket, once a second.
fn client_task(pipe: ZSocket, me: &str) -> zmsg::Result<()> {
    pipe.signal(0)?;
    let client = ZSocket::new_req(&format!(">ipc://{me}-localfe.ipc"))?;
    let mut poller = ZPoller::new();
    let from_owner = poller.add(&pipe);
    poller.add(&client);
    loop {
        client.send_str("HELLO")?;
        match poller.wait(None) {
            Ok(Some(ready)) if ready == from_owner => return Ok(()), // Done
            Ok(Some(_)) => println!("Client: {}", client.recv_string()?),
            Ok(None) | Err(Error::Interrupted) => continue,
            Err(err) => return Err(err),
        }
        // Sleep a second, unless the owner wants us to stop
        if !pipe
            .poll(Events::POLLIN, Some(Duration::from_secs(1)))?
            .is_empty()
        {
            return Ok(());
        }
    }
}

/// A worker plugged into the load balancer with a REQ socket.
fn worker_task(pipe: ZSocket, me: &str) -> zmsg::Result<()> {
    pipe.signal(0)?;
    let worker = ZSocket::new_req(&format!(">ipc://{me}-localbe.ipc"))?;
    worker.send(WORKER_READY)?; // Tell the broker we're ready for work
    let mut poller = ZPoller::new();
    let from_owner = poller.add(&pipe);
    poller.add(&worker);
    loop {
        match poller.wait(None) {
            Ok(Some(ready)) if ready == from_owner => {
                if is_term(&pipe.recv_msg()?) {
                    return Ok(());
                }
            }
            Ok(Some(_)) => {
                let mut msg = worker.recv_msg()?;
                let request = msg.pop_back_frame().ok_or(Error::EmptyMessage)?;
                println!("Worker: {request}");
                msg.append("OK");
                worker.send_msg(msg)?;
            }
            Ok(None) | Err(Error::Interrupted) => {}
            Err(err) => return Err(err),
        }
    }
}

/// Waits for the user to press Enter; false if Ctrl-C came first. (Reading stdin restarts after a
/// signal, so the read runs on its own thread while this one watches for the interrupt.)
fn wait_for_enter() -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::stdin().lock().read_line(&mut String::new());
        let _ = tx.send(());
    });
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(50)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !zmsg::interrupted() => {}
            _ => return !zmsg::interrupted(),
        }
    }
}

fn main() -> anyhow::Result<()> {
    zmsg::install_interrupt_handler()?;
    match run() {
        // Ctrl-C may interrupt any blocking call, start-up included: that is a clean stop too.
        Err(_) if zmsg::interrupted() => Ok(()),
        other => other,
    }
}

fn run() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = None;
    if args.first().is_some_and(|arg| arg == "--seconds") && args.len() > 1 {
        seconds = Some(Duration::from_secs(args[1].parse()?));
        args.drain(..2);
    }
    // The first argument is this broker's name, the others are our peers' names
    let Some((me, peers)) = args.split_first() else {
        println!("syntax: peering2 [--seconds N] me {{you}}...");
        return Ok(());
    };
    println!("I: preparing broker at {me}...");

    // Bind the cloud frontend to our endpoint
    let cloudfe = ZSocket::new(SocketType::Router)?;
    cloudfe.set_routing_id(me.as_bytes())?;
    cloudfe.bind(&format!("ipc://{me}-cloud.ipc"))?;
    // Connect the cloud backend to all peers
    let cloudbe = ZSocket::new(SocketType::Router)?;
    cloudbe.set_routing_id(me.as_bytes())?;
    for peer in peers {
        println!("I: connecting to cloud frontend at '{peer}'");
        cloudbe.connect(&format!("ipc://{peer}-cloud.ipc"))?;
    }
    // Prepare the local frontend and backend
    let localfe = ZSocket::new_router(&format!("@ipc://{me}-localfe.ipc"))?;
    let localbe = ZSocket::new_router(&format!("@ipc://{me}-localbe.ipc"))?;

    // Get the user to tell us when we can start...
    println!("Press Enter when all brokers are started: ");
    if !wait_for_enter() {
        return Ok(());
    }
    let deadline = seconds.map(|s| Instant::now() + s);

    // Start the local workers and clients
    let me_shared: Arc<str> = Arc::from(me.as_str());
    let mut actors = Vec::new();
    for _ in 0..NBR_WORKERS {
        let me = me_shared.clone();
        actors.push(ZActor::new(move |pipe| worker_task(pipe, &me))?);
    }
    for _ in 0..NBR_CLIENTS {
        let me = me_shared.clone();
        actors.push(ZActor::new(move |pipe| client_task(pipe, &me))?);
    }

    // The request-reply flow: load-balance over the workers at all times, and read the clients
    // only while there are workers available. Least recently used queue of available workers:
    let mut workers: VecDeque<ZFrame> = VecDeque::new();
    let mut poll_backends = ZPoller::new();
    let local_backend = poll_backends.add(&localbe);
    poll_backends.add(&cloudbe);
    let mut poll_frontends = ZPoller::new();
    let cloud_frontend = poll_frontends.add(&cloudfe);
    poll_frontends.add(&localfe);
    'run: while !zmsg::interrupted() {
        let remaining = match deadline {
            Some(deadline) if Instant::now() >= deadline => break,
            Some(deadline) => Some(deadline - Instant::now()),
            None => None,
        };
        // First, route any waiting replies from workers. If we have no workers, wait indefinitely.
        let timeout = if workers.is_empty() {
            remaining
        } else {
            Some(Duration::from_secs(1))
        };
        let timeout = match (timeout, remaining) {
            (Some(t), Some(r)) => Some(t.min(r)),
            (t, r) => t.or(r),
        };
        let ready = match poll_backends.wait(timeout) {
            Ok(ready) => ready,
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        };
        if let Some(ready) = ready {
            let mut msg = if ready == local_backend {
                // A reply from a local worker
                let mut msg = localbe.recv_msg()?;
                workers.push_back(msg.pop_envelope()?);
                // If it's READY, don't route the message any further
                if msg
                    .first()
                    .is_some_and(|frame| frame.eq_bytes(WORKER_READY))
                {
                    None
                } else {
                    Some(msg)
                }
            } else {
                // Or a reply from a peer broker: we don't use its identity for anything
                let mut msg = cloudbe.recv_msg()?;
                msg.pop_envelope()?;
                Some(msg)
            };
            // Route the reply to the cloud if it's addressed to a broker, else to a client
            if let Some(msg) = msg.take() {
                let to_peer = msg.first().is_some_and(|address| {
                    peers.iter().any(|peer| address.eq_bytes(peer.as_bytes()))
                });
                if to_peer {
                    cloudfe.send_msg(msg)?;
                } else {
                    localfe.send_msg(msg)?;
                }
            }
        }

        // Now route as many client requests as we have worker capacity for. We may reroute
        // requests from our local frontend, but not from the cloud frontend; we reroute at
        // random here, just to test things out.
        while !workers.is_empty() {
            // Peer brokers first, to prevent starvation
            let (mut msg, reroutable) = match poll_frontends.wait(Some(Duration::ZERO)) {
                Ok(Some(ready)) if ready == cloud_frontend => (cloudfe.recv_msg()?, false),
                Ok(Some(_)) => (localfe.recv_msg()?, true),
                Ok(None) => break, // No work, go back to the backends
                Err(Error::Interrupted) => break 'run,
                Err(err) => return Err(err.into()),
            };
            // If reroutable, send to the cloud 20% of the time
            if reroutable && !peers.is_empty() && fastrand::u32(0..5) == 0 {
                // Route to a random peer broker
                let peer = &peers[fastrand::usize(0..peers.len())];
                msg.push(peer.as_str());
                cloudbe.send_msg(msg)?;
            } else if let Some(worker) = workers.pop_front() {
                msg.push_envelope(worker);
                localbe.send_msg(msg)?;
            }
        }
    }
    // Dropping the actors sends each "$TERM" and waits for it to end.
    drop(actors);
    Ok(())
}
