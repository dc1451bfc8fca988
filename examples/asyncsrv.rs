//! Asynchronous client/server: DEALER clients, a ROUTER-to-DEALER proxy on tcp://*:5570, DEALER workers sending 0–4 replies per request (zguide: asyncsrv).
//!
//! Usage: `asyncsrv [SECONDS]` runs three clients and the server for SECONDS (default 5), each
//! client printing the replies it gets, then stops everything. Ctrl-C stops it early.
use std::time::{Duration, Instant};
use zmsg::{
    actor::is_term, Error, Events, SendFlags, SocketType, ZActor, ZPoller, ZProxy, ZSocket,
};

/// Connects to the server and sends a request once a second, printing replies as they arrive.
fn client_task(pipe: ZSocket) -> zmsg::Result<()> {
    pipe.signal(0)?;
    let client = ZSocket::new(SocketType::Dealer)?;
    // A random identity makes tracing easier (it must be set before connecting)
    let identity = format!("{:04X}-{:04X}", fastrand::u16(..), fastrand::u16(..));
    client.set_routing_id(identity.as_bytes())?;
    client.connect("tcp://localhost:5570")?;
    let mut poller = ZPoller::new();
    let from_owner = poller.add(&pipe);
    poller.add(&client);
    for request_nbr in 1.. {
        // Tick once per second, pulling in arriving messages
        for _centitick in 0..100 {
            match poller.wait(Some(Duration::from_millis(10))) {
                Ok(Some(ready)) if ready == from_owner => return Ok(()),
                Ok(Some(_)) => {
                    let msg = client.recv_msg()?;
                    if let Some(content) = msg.last() {
                        println!("{identity} {content}");
                    }
                }
                Ok(None) | Err(Error::Interrupted) => {}
                Err(err) => return Err(err),
            }
        }
        client.send_str(&format!("request #{request_nbr}"))?;
    }
    Ok(())
}

/// Works on one request at a time, sending a random number of replies with random delays.
fn server_worker(pipe: ZSocket) -> zmsg::Result<()> {
    pipe.signal(0)?;
    let worker = ZSocket::new_dealer(">inproc://backend")?;
    let mut poller = ZPoller::new();
    let from_owner = poller.add(&pipe);
    poller.add(&worker);
    loop {
        match poller.wait(None) {
            Ok(Some(ready)) if ready == from_owner => return Ok(()),
            Ok(Some(_)) => {}
            Ok(None) | Err(Error::Interrupted) => continue,
            Err(err) => return Err(err),
        }
        // The DEALER socket gives us the reply envelope and message: [identity][content]
        let request = worker.recv_msg()?;
        if request.len() != 2 {
            continue; // Not what a client sends
        }
        // Send 0..4 replies back, each after some fraction of a second
        for _ in 0..fastrand::u32(0..5) {
            let delay = Duration::from_millis(fastrand::u64(1..=1000));
            if !pipe.poll(Events::POLLIN, Some(delay))?.is_empty() {
                return Ok(()); // The owner wants us to stop
            }
            let mut reply = request.clone(); // Frames are cheap to clone
            match worker.send_msg_ref(&mut reply, SendFlags::DONTWAIT) {
                Ok(()) | Err(Error::Again) => {}
                Err(err) => return Err(err),
            }
        }
    }
}

/// Deals requests out to a pool of workers and routes their replies back to the clients.
fn server_task(pipe: ZSocket) -> zmsg::Result<()> {
    // Launch a pool of worker threads; the precise number is not critical
    let workers = (0..5)
        .map(|_| ZActor::new(server_worker))
        .collect::<zmsg::Result<Vec<_>>>()?;
    // Connect the backend to the frontend via a proxy
    let proxy = ZProxy::new(
        (SocketType::Router, "@tcp://*:5570"),
        (SocketType::Dealer, "@inproc://backend"),
    )?;
    pipe.signal(0)?;
    // Wait for the shutdown command
    while !is_term(&pipe.recv_msg()?) {}
    drop(proxy);
    drop(workers);
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
    let seconds: u64 = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    let clients = (0..3)
        .map(|_| ZActor::new(client_task))
        .collect::<zmsg::Result<Vec<_>>>()?;
    let server = ZActor::new(server_task)?;
    // Run for a few seconds then quit, or on Ctrl-C (which may have come during start-up)
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !zmsg::interrupted() && Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    drop(server);
    drop(clients);
    Ok(())
}
