//! Round-trip demonstrator (zguide ch.4: tripping): a DEALER client, a ROUTER-ROUTER broker and
//! a DEALER worker in one process (each thread with its own context), timing synchronous and
//! asynchronous round trips over tcp://localhost:5555/5556.
//!
//! Usage: `tripping [SYNC_COUNT] [ASYNC_COUNT]` (defaults 10000 and 100000).
use std::time::Instant;

use zmsg::{Error, SocketType, ZContext, ZPoller};

fn client_task(sync_count: u32, async_count: u32) -> zmsg::Result<()> {
    let ctx = ZContext::new()?;
    let client = ctx.socket(SocketType::Dealer)?;
    client.set_routing_id(b"C")?;
    client.connect("tcp://localhost:5555")?;
    println!("Setting up test...");
    // Wait until the whole path works (instead of the original's sleep). The broker's ROUTER
    // drops messages for a worker that has not connected yet, so ping until a ping comes back;
    // replies travel in order, so once the latest ping is back no earlier one is on its way.
    let mut pings = 0u32;
    'setup: loop {
        pings += 1;
        client.send_str(&format!("ping {pings}"))?;
        while client
            .poll(
                zmsg::Events::POLLIN,
                Some(std::time::Duration::from_millis(100)),
            )?
            .contains(zmsg::Events::POLLIN)
        {
            if client.recv_string()? == format!("ping {pings}") {
                break 'setup;
            }
        }
    }

    println!("Synchronous round-trip test...");
    let start = Instant::now();
    for _ in 0..sync_count {
        client.send_str("hello")?;
        client.recv_string()?;
    }
    println!(
        " {:.0} calls/second",
        sync_count as f64 / start.elapsed().as_secs_f64()
    );

    println!("Asynchronous round-trip test...");
    let start = Instant::now();
    for _ in 0..async_count {
        client.send_str("hello")?;
    }
    for _ in 0..async_count {
        client.recv_string()?;
    }
    println!(
        " {:.0} calls/second",
        async_count as f64 / start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn worker_task(ctx: ZContext) -> zmsg::Result<()> {
    let worker = ctx.socket(SocketType::Dealer)?;
    worker.set_routing_id(b"W")?;
    worker.connect("tcp://localhost:5556")?;
    loop {
        let msg = match worker.recv_msg() {
            Ok(msg) => msg,
            Err(Error::Terminated) => return Ok(()),
            Err(err) => return Err(err),
        };
        worker.send_msg(msg)?;
    }
}

fn broker_task(ctx: ZContext) -> zmsg::Result<()> {
    let frontend = ctx.socket(SocketType::Router)?;
    let backend = ctx.socket(SocketType::Router)?;
    frontend.set_sndhwm(0)?;
    frontend.set_rcvhwm(0)?;
    backend.set_sndhwm(0)?;
    backend.set_rcvhwm(0)?;
    frontend.bind("tcp://*:5555")?;
    backend.bind("tcp://*:5556")?;
    let mut poller = ZPoller::new();
    let front = poller.add(&frontend);
    let back = poller.add(&backend);
    loop {
        let ready = match poller.wait(None) {
            Ok(Some(index)) => index,
            Ok(None) => continue,
            Err(Error::Terminated) => return Ok(()),
            Err(err) => return Err(err),
        };
        let (from, to, peer) = if ready == front {
            (&frontend, &backend, "W")
        } else if ready == back {
            (&backend, &frontend, "C")
        } else {
            continue;
        };
        let mut msg = match from.recv_msg() {
            Ok(msg) => msg,
            Err(Error::Terminated) => return Ok(()),
            Err(err) => return Err(err),
        };
        msg.pop_frame(); // the sender's identity
        msg.push(peer);
        to.send_msg(msg)?;
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let sync_count: u32 = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let async_count: u32 = args.next().map_or(Ok(100_000), |a| a.parse())?;

    let worker_ctx = ZContext::new()?;
    let broker_ctx = ZContext::new()?;
    let worker = {
        let ctx = worker_ctx.clone();
        std::thread::spawn(move || worker_task(ctx))
    };
    let broker = {
        let ctx = broker_ctx.clone();
        std::thread::spawn(move || broker_task(ctx))
    };
    client_task(sync_count, async_count)?;

    // Terminating the contexts makes the worker's and broker's blocking calls return ETERM.
    worker_ctx.shutdown()?;
    broker_ctx.shutdown()?;
    worker.join().expect("worker thread")?;
    broker.join().expect("broker thread")?;
    Ok(())
}
