//! Broker peering, part 3: the full simulation, with state flow, request-reply flow and a monitor, routing to peers by their advertised capacity (zguide: peering3).
//!
//! Usage: `peering3 [--seconds N] ME {PEER}...`, e.g. `peering3 DC1 DC2` and `peering3 DC2 DC1`.
//! It binds ipc://ME-localfe.ipc, -localbe, -cloud, -state and -monitor (in the current
//! directory), runs ten clients sending bursts of requests and five workers, prints what the
//! clients report (each completed task id, or a lost task), and runs for N seconds (default:
//! until Ctrl-C).
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zmsg::{Error, Events, SocketType, ZContext, ZFrame, ZPoller};

const NBR_CLIENTS: usize = 10;
const NBR_WORKERS: usize = 5;
const WORKER_READY: &[u8] = b"\x01"; // Signals that a worker is ready

/// Issues a burst of requests, then sleeps for a few seconds: sporadic activity that at times
/// overloads the local workers. Reports each completed task id to the monitor.
fn client_task(me: Arc<str>) -> zmsg::Result<()> {
    let ctx = ZContext::new()?;
    let client = ctx.socket(SocketType::Req)?;
    client.connect(&format!("ipc://{me}-localfe.ipc"))?;
    let monitor = ctx.socket(SocketType::Push)?;
    monitor.connect(&format!("ipc://{me}-monitor.ipc"))?;
    loop {
        std::thread::sleep(Duration::from_secs(fastrand::u64(0..5)));
        for _ in 0..fastrand::u32(0..15) {
            // Send a request with a random hex id
            let task_id = format!("{:04X}", fastrand::u16(..));
            client.send_str(&task_id)?;
            // Wait at most ten seconds for a reply, then complain
            if client
                .poll(Events::POLLIN, Some(Duration::from_secs(10)))?
                .is_empty()
            {
                monitor.send_str(&format!("E: CLIENT EXIT - lost task {task_id}"))?;
                return Ok(());
            }
            let reply = client.recv_string()?;
            // The worker is supposed to answer us with our task id
            if reply != task_id {
                monitor.send_str(&format!(
                    "E: CLIENT EXIT - wrong reply {reply} to {task_id}"
                ))?;
                return Ok(());
            }
            monitor.send_str(&reply)?;
        }
    }
}

/// The stub worker: echoes each request after being busy for 0 or 1 second.
fn worker_task(me: Arc<str>) -> zmsg::Result<()> {
    let ctx = ZContext::new()?;
    let worker = ctx.socket(SocketType::Req)?;
    worker.connect(&format!("ipc://{me}-localbe.ipc"))?;
    worker.send(WORKER_READY)?; // Tell the broker we're ready for work
    loop {
        let msg = worker.recv_msg()?;
        std::thread::sleep(Duration::from_secs(fastrand::u64(0..2)));
        worker.send_msg(msg)?;
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
    let mut deadline = None;
    if args.first().is_some_and(|arg| arg == "--seconds") && args.len() > 1 {
        deadline = Some(Instant::now() + Duration::from_secs(args[1].parse()?));
        args.drain(..2);
    }
    // The first argument is this broker's name, the others are our peers' names
    let Some((me, peers)) = args.split_first() else {
        println!("syntax: peering3 [--seconds N] me {{you}}...");
        return Ok(());
    };
    println!("I: preparing broker at {me}...");

    let ctx = ZContext::new()?;
    let socket = |kind, endpoint: String| -> zmsg::Result<zmsg::ZSocket> {
        let socket = ctx.socket(kind)?;
        socket.bind(&endpoint)?;
        Ok(socket)
    };
    // The local frontend talks to clients, the local backend to workers
    let localfe = socket(SocketType::Router, format!("ipc://{me}-localfe.ipc"))?;
    let localbe = socket(SocketType::Router, format!("ipc://{me}-localbe.ipc"))?;
    // The cloud frontend talks to peer brokers as if they were clients
    let cloudfe = ctx.socket(SocketType::Router)?;
    cloudfe.set_routing_id(me.as_bytes())?;
    cloudfe.bind(&format!("ipc://{me}-cloud.ipc"))?;
    // The cloud backend talks to peer brokers as if they were workers
    let cloudbe = ctx.socket(SocketType::Router)?;
    cloudbe.set_routing_id(me.as_bytes())?;
    for peer in peers {
        println!("I: connecting to cloud frontend at '{peer}'");
        cloudbe.connect(&format!("ipc://{peer}-cloud.ipc"))?;
    }
    // The state backend publishes our capacity, the state frontend collects the peers'
    let statebe = socket(SocketType::Pub, format!("ipc://{me}-state.ipc"))?;
    let statefe = ctx.socket(SocketType::Sub)?;
    statefe.set_subscribe(b"")?;
    for peer in peers {
        println!("I: connecting to state backend at '{peer}'");
        statefe.connect(&format!("ipc://{peer}-state.ipc"))?;
    }
    // The monitor collects printable messages from the tasks
    let monitor = socket(SocketType::Pull, format!("ipc://{me}-monitor.ipc"))?;

    // Start the child tasks: each has its own context, as if it were a separate process
    let me_shared: Arc<str> = Arc::from(me.as_str());
    for _ in 0..NBR_WORKERS {
        let me = me_shared.clone();
        std::thread::spawn(move || worker_task(me));
    }
    for _ in 0..NBR_CLIENTS {
        let me = me_shared.clone();
        std::thread::spawn(move || client_task(me));
    }

    let mut local_capacity = 0;
    let mut cloud_capacity = 0;
    let mut workers: VecDeque<ZFrame> = VecDeque::new();
    let mut primary = ZPoller::new();
    let (p_localbe, p_cloudbe) = (primary.add(&localbe), primary.add(&cloudbe));
    let (p_statefe, p_monitor) = (primary.add(&statefe), primary.add(&monitor));
    let mut local_and_cloud = ZPoller::new();
    let (s_localfe, s_cloudfe) = (local_and_cloud.add(&localfe), local_and_cloud.add(&cloudfe));
    let mut local_only = ZPoller::new();
    local_only.add(&localfe);
    while !zmsg::interrupted() {
        // Poll the workers and the two service sockets in any case; if no worker is ready,
        // incoming requests can wait in their 0MQ queues. No ready worker: wait indefinitely.
        let remaining = match deadline {
            Some(deadline) if Instant::now() >= deadline => break,
            Some(deadline) => Some(deadline - Instant::now()),
            None => None,
        };
        let timeout = match (local_capacity > 0, remaining) {
            (true, Some(r)) => Some(r.min(Duration::from_secs(1))),
            (true, None) => Some(Duration::from_secs(1)),
            (false, r) => r,
        };
        match primary.poll(timeout) {
            Ok(_) => {}
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        }
        // Track if capacity changes during this iteration
        let previous = local_capacity;
        let mut reply = None;
        if !primary.ready(p_localbe).is_empty() {
            // A reply from a local worker
            let mut msg = localbe.recv_msg()?;
            workers.push_back(msg.pop_envelope()?);
            local_capacity += 1;
            // If it's READY, don't route the message any further
            if !msg
                .first()
                .is_some_and(|frame| frame.eq_bytes(WORKER_READY))
            {
                reply = Some(msg);
            }
        } else if !primary.ready(p_cloudbe).is_empty() {
            // Or a reply from a peer broker: we don't use its identity for anything
            let mut msg = cloudbe.recv_msg()?;
            msg.pop_envelope()?;
            reply = Some(msg);
        }
        // Route the reply to the cloud if it's addressed to a broker, else to the client
        if let Some(msg) = reply {
            let to_peer = msg
                .first()
                .is_some_and(|address| peers.iter().any(|peer| address.eq_bytes(peer.as_bytes())));
            if to_peer {
                cloudfe.send_msg(msg)?;
            } else {
                localfe.send_msg(msg)?;
            }
        }
        // Handle state and monitor messages at once
        if !primary.ready(p_statefe).is_empty() {
            // [peer name][capacity]
            let mut msg = statefe.recv_msg()?;
            let _peer = msg.pop_str();
            cloud_capacity = msg.pop_str().ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        }
        if !primary.ready(p_monitor).is_empty() {
            println!("{}", monitor.recv_string()?);
        }

        // Now route as many client requests as we can handle. With local capacity we read the
        // local and the cloud frontends, with cloud capacity only the local one. We route any
        // request locally if we can, else to the cloud.
        while local_capacity + cloud_capacity > 0 {
            let secondary = if local_capacity > 0 {
                &mut local_and_cloud
            } else {
                &mut local_only
            };
            match secondary.poll(Some(Duration::ZERO)) {
                Ok(_) => {}
                Err(Error::Interrupted) => break,
                Err(err) => return Err(err.into()),
            }
            let mut msg = if !secondary.ready(s_localfe).is_empty() {
                localfe.recv_msg()?
            } else if local_capacity > 0 && !secondary.ready(s_cloudfe).is_empty() {
                cloudfe.recv_msg()?
            } else {
                break; // No work, go back to the primary sockets
            };
            if let Some(worker) = workers.pop_front() {
                msg.push_envelope(worker);
                localbe.send_msg(msg)?;
                local_capacity -= 1;
            } else if !peers.is_empty() {
                // Route to a random peer broker
                msg.push(peers[fastrand::usize(0..peers.len())].as_str());
                cloudbe.send_msg(msg)?;
            } else {
                break;
            }
        }
        // Broadcast our capacity to the peers, only when it changed, to reduce chatter
        if local_capacity != previous {
            statebe.send_multipart([me.as_str(), &local_capacity.to_string()])?;
        }
    }
    Ok(())
}
