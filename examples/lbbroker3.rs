//! Load-balancing broker in reactor style: the broker is a ZLoop whose frontend reader is only registered while workers are ready (zguide: lbbroker3).
//!
//! Usage: `lbbroker3 [SECONDS]`; ten clients send "HELLO" every second through
//! ipc://frontend.ipc, three workers answer through ipc://backend.ipc. It runs for SECONDS
//! (default: until Ctrl-C). The ipc files are made in the current directory.
use std::collections::VecDeque;
use std::time::Duration;
use zmsg::zloop::{LoopCtx, ReaderId};
use zmsg::{actor::is_term, Error, Events, ZActor, ZFrame, ZLoop, ZPoller, ZSocket};

const NBR_CLIENTS: usize = 10;
const NBR_WORKERS: usize = 3;
const WORKER_READY: &[u8] = b"\x01"; // Signals that a worker is ready

/// A request-reply client: one request a second until the owner says "$TERM".
fn client_task(pipe: ZSocket) -> zmsg::Result<()> {
    pipe.signal(0)?;
    let client = ZSocket::new_req(">ipc://frontend.ipc")?;
    let mut poller = ZPoller::new();
    let from_owner = poller.add(&pipe);
    poller.add(&client);
    loop {
        client.send_str("HELLO")?;
        // Wait for the reply or for the owner (interrupts do not stop actors: the owner does).
        match poller.wait(None) {
            Ok(Some(ready)) if ready == from_owner => return Ok(()),
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

/// A worker using a REQ socket to do load-balancing.
fn worker_task(pipe: ZSocket) -> zmsg::Result<()> {
    pipe.signal(0)?;
    let worker = ZSocket::new_req(">ipc://backend.ipc")?;
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

/// The load balancer's state, handed to the reactor's handlers.
struct LbBroker {
    /// The frontend while no worker is ready: it is not read then.
    parked_frontend: Option<ZSocket>,
    /// The frontend's reader while workers are ready.
    frontend: Option<ReaderId>,
    backend: Option<ReaderId>,
    /// Ready workers, least recently used first.
    workers: VecDeque<ZFrame>,
}

fn registered(ctx: &LoopCtx<LbBroker>, id: Option<ReaderId>) -> zmsg::Result<&ZSocket> {
    id.and_then(|id| ctx.socket(id))
        .ok_or_else(|| Error::InvalidArgument("socket not registered".into()))
}

/// Input from a client on the frontend: route it to the least recently used worker.
fn handle_frontend(
    broker: &mut LbBroker,
    ctx: &mut LoopCtx<LbBroker>,
    id: ReaderId,
) -> zmsg::Result<()> {
    let mut msg = registered(ctx, Some(id))?.recv_msg()?;
    if let Some(worker) = broker.workers.pop_front() {
        msg.push_envelope(worker);
        registered(ctx, broker.backend)?.send_msg(msg)?;
    }
    // Stop reading the frontend if we went from 1 to 0 workers
    if broker.workers.is_empty() {
        broker.parked_frontend = ctx.remove_reader(id);
        broker.frontend = None;
    }
    Ok(())
}

/// Input from a worker on the backend: READY, or a reply to forward to its client.
fn handle_backend(
    broker: &mut LbBroker,
    ctx: &mut LoopCtx<LbBroker>,
    id: ReaderId,
) -> zmsg::Result<()> {
    let mut msg = registered(ctx, Some(id))?.recv_msg()?;
    // Use the worker's identity for load-balancing
    broker.workers.push_back(msg.pop_envelope()?);
    // Start reading the frontend if we went from 0 to 1 workers
    if let Some(frontend) = broker.parked_frontend.take() {
        broker.frontend = Some(ctx.add_reader(frontend, handle_frontend));
    }
    // Forward the message to the client if it's not a READY
    if !msg
        .first()
        .is_some_and(|frame| frame.eq_bytes(WORKER_READY))
    {
        registered(ctx, broker.frontend)?.send_msg(msg)?;
    }
    Ok(())
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
    let seconds: Option<u64> = std::env::args().nth(1).map(|a| a.parse()).transpose()?;
    let frontend = ZSocket::new_router("@ipc://frontend.ipc")?;
    let backend = ZSocket::new_router("@ipc://backend.ipc")?;
    let mut actors = Vec::new();
    for _ in 0..NBR_CLIENTS {
        actors.push(ZActor::new(client_task)?);
    }
    for _ in 0..NBR_WORKERS {
        actors.push(ZActor::new(worker_task)?);
    }

    // Prepare the reactor and fire it up
    let mut reactor = ZLoop::new(LbBroker {
        parked_frontend: Some(frontend),
        frontend: None,
        backend: None,
        workers: VecDeque::new(),
    });
    let (broker, ctx) = reactor.parts();
    broker.backend = Some(ctx.add_reader(backend, handle_backend));
    if let Some(seconds) = seconds {
        ctx.add_timer(Duration::from_secs(seconds), 1, |_, ctx, _| {
            ctx.stop();
            Ok(())
        });
    }
    match reactor.run() {
        Ok(()) | Err(Error::Interrupted) => {}
        Err(err) => return Err(err.into()),
    }
    // Dropping the actors sends each "$TERM" and waits for it to end.
    drop(actors);
    Ok(())
}
