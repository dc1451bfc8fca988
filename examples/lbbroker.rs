//! Load-balancing broker: REQ clients and REQ workers (threads) meet at two ROUTERs, ipc://frontend.ipc and ipc://backend.ipc (zguide: lbbroker).
//!
//! Usage: `lbbroker`; ten clients send one request each, three workers answer, and the broker
//! exits after the tenth reply. The ipc files are made in the current directory. Ctrl-C ends it.
use std::collections::VecDeque;
use zmsg::{Error, SocketType, ZContext, ZFrame, ZPoller};

const NBR_CLIENTS: usize = 10;
const NBR_WORKERS: usize = 3;

/// A printable random routing id, so that the ids can be shown as text.
fn printable_id() -> String {
    format!("{:04X}-{:04X}", fastrand::u16(..), fastrand::u16(..))
}

/// A basic request-reply client. Each thread has its own context: conceptually a separate process.
fn client_task() -> zmsg::Result<()> {
    let ctx = ZContext::new()?;
    let client = ctx.socket(SocketType::Req)?;
    client.set_routing_id(printable_id().as_bytes())?;
    client.connect("ipc://frontend.ipc")?;
    // Send request, get reply
    client.send_str("HELLO")?;
    println!("Client: {}", client.recv_string()?);
    Ok(())
}

/// A worker using a REQ socket to do load-balancing.
fn worker_task() -> zmsg::Result<()> {
    let ctx = ZContext::new()?;
    let worker = ctx.socket(SocketType::Req)?;
    worker.set_routing_id(printable_id().as_bytes())?;
    worker.connect("ipc://backend.ipc")?;
    // Tell the broker we're ready for work
    worker.send_str("READY")?;
    loop {
        // [client identity][empty][request]
        let identity = worker.recv_frame()?;
        let _empty = worker.recv_frame()?;
        let request = worker.recv_frame()?;
        println!("Worker: {}", String::from_utf8_lossy(request.data()));
        worker.send_multipart([identity, ZFrame::new(), "OK".into()])?;
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
    let ctx = ZContext::new()?;
    let frontend = ctx.socket(SocketType::Router)?;
    let backend = ctx.socket(SocketType::Router)?;
    frontend.bind("ipc://frontend.ipc")?;
    backend.bind("ipc://backend.ipc")?;
    let clients: Vec<_> = (0..NBR_CLIENTS)
        .map(|_| std::thread::spawn(client_task))
        .collect();
    for _ in 0..NBR_WORKERS {
        std::thread::spawn(worker_task);
    }

    // The backend is always polled; the frontend only while a worker is available, which leaves
    // waiting requests in 0MQ's own queues. Workers signal READY when they start and are ready
    // again when they reply; the load-balancing structure is a queue of ready workers.
    let mut backend_only = ZPoller::new();
    backend_only.add(&backend);
    let mut both = ZPoller::new();
    let back = both.add(&backend);
    let front = both.add(&frontend);
    let mut worker_queue: VecDeque<ZFrame> = VecDeque::new();
    let mut replies_left = NBR_CLIENTS;
    while replies_left > 0 && !zmsg::interrupted() {
        let poller = if worker_queue.is_empty() {
            &mut backend_only
        } else {
            &mut both
        };
        match poller.poll(None) {
            Ok(_) => {}
            Err(Error::Interrupted) => return Ok(()),
            Err(err) => return Err(err.into()),
        }
        let (backend_ready, frontend_ready) = (poller.ready(back), poller.ready(front));
        if !backend_ready.is_empty() {
            // [worker id][empty][READY] or [worker id][empty][client id][empty][reply]
            worker_queue.push_back(backend.recv_frame()?);
            let _empty = backend.recv_frame()?;
            let client_id = backend.recv_frame()?;
            if !client_id.eq_bytes(b"READY") {
                let _empty = backend.recv_frame()?;
                let reply = backend.recv_frame()?;
                frontend.send_multipart([client_id, ZFrame::new(), reply])?;
                replies_left -= 1;
            }
        }
        if !frontend_ready.is_empty() {
            // [client id][empty][request], routed to the least recently used worker
            let client_id = frontend.recv_frame()?;
            let _empty = frontend.recv_frame()?;
            let request = frontend.recv_frame()?;
            if let Some(worker_id) = worker_queue.pop_front() {
                backend.send_multipart([
                    worker_id,
                    ZFrame::new(),
                    client_id,
                    ZFrame::new(),
                    request,
                ])?;
            }
        }
    }
    // Every client has its reply on the way: let them print it.
    for client in clients {
        client.join().expect("a client panicked")?;
    }
    Ok(())
}
