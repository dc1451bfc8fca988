//! Load-balancing broker with the high-level API: ZActor clients and workers, ZMsg envelopes, ZPoller (zguide: lbbroker2).
//!
//! Usage: `lbbroker2`; ten clients send one request each through ipc://frontend.ipc, three
//! workers answer through ipc://backend.ipc, and the broker exits after the tenth reply. The ipc
//! files are made in the current directory. Ctrl-C ends it.
use std::collections::VecDeque;
use zmsg::{actor::is_term, Error, ZActor, ZFrame, ZMsg, ZPoller, ZSocket};

const NBR_CLIENTS: usize = 10;
const NBR_WORKERS: usize = 3;
const WORKER_READY: &str = "READY"; // Signals that a worker is ready

/// A basic request-reply client using a REQ socket.
fn client_task(pipe: ZSocket) -> zmsg::Result<()> {
    pipe.signal(0)?;
    let client = ZSocket::new_req(">ipc://frontend.ipc")?;
    // Send request, get reply
    client.send_str("HELLO")?;
    println!("Client: {}", client.recv_string()?);
    // Stay until the owner says "$TERM", as an actor should.
    while !is_term(&pipe.recv_msg()?) {}
    Ok(())
}

/// A worker using a REQ socket to do load-balancing.
fn worker_task(pipe: ZSocket) -> zmsg::Result<()> {
    pipe.signal(0)?;
    let worker = ZSocket::new_req(">ipc://backend.ipc")?;
    worker.send_str(WORKER_READY)?; // Tell the broker we're ready for work
    let mut poller = ZPoller::new();
    let from_owner = poller.add(&pipe);
    poller.add(&worker);
    loop {
        match poller.wait(None) {
            Ok(Some(ready)) if ready == from_owner => return Ok(()), // Done
            Ok(Some(_)) => {
                // [client address][empty][request]: answer "OK" in the same envelope
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

fn main() -> anyhow::Result<()> {
    zmsg::install_interrupt_handler()?;
    match run() {
        // Ctrl-C may interrupt any blocking call, start-up included: that is a clean stop too.
        Err(_) if zmsg::interrupted() => Ok(()),
        other => other,
    }
}

fn run() -> anyhow::Result<()> {
    let frontend = ZSocket::new_router("@ipc://frontend.ipc")?;
    let backend = ZSocket::new_router("@ipc://backend.ipc")?;
    let mut actors = Vec::new();
    for _ in 0..NBR_CLIENTS {
        actors.push(ZActor::new(client_task)?);
    }
    for _ in 0..NBR_WORKERS {
        actors.push(ZActor::new(worker_task)?);
    }

    // Queue of available workers
    let mut workers: VecDeque<ZFrame> = VecDeque::new();
    let mut backend_only = ZPoller::new();
    backend_only.add(&backend);
    let mut both = ZPoller::new();
    let back = both.add(&backend);
    both.add(&frontend);
    let mut replies_left = NBR_CLIENTS;
    while replies_left > 0 && !zmsg::interrupted() {
        // Poll the frontend only if we have available workers
        let poller = if workers.is_empty() {
            &mut backend_only
        } else {
            &mut both
        };
        let ready = match poller.wait(None) {
            Ok(Some(ready)) => ready,
            Ok(None) => continue,
            Err(Error::Interrupted) => {
                // Unblock every actor still waiting for a message, so that they can end.
                zmsg::shutdown()?;
                break;
            }
            Err(err) => return Err(err.into()),
        };
        if ready == back {
            // Use the worker's identity for load-balancing
            let mut msg = backend.recv_msg()?;
            workers.push_back(msg.pop_envelope()?);
            // Forward the message to the client if it's not a READY
            if !msg
                .first()
                .is_some_and(|frame| frame.eq_bytes(WORKER_READY.as_bytes()))
            {
                frontend.send_msg(msg)?;
                replies_left -= 1;
            }
        } else {
            // Get a client request, route it to the first available worker
            let mut msg: ZMsg = frontend.recv_msg()?;
            if let Some(worker) = workers.pop_front() {
                msg.push_envelope(worker);
                backend.send_msg(msg)?;
            }
        }
    }
    // Dropping the actors sends each "$TERM" and waits for it to end.
    drop(actors);
    Ok(())
}
