//! Broker peering, part 1: brokers exchange their (random) number of free workers over PUB/SUB state flows (zguide: peering1).
//!
//! Usage: `peering1 [--seconds N] ME {PEER}...`, e.g. `peering1 DC1 DC2 DC3` in one terminal and
//! `peering1 DC2 DC1 DC3` in another. It binds ipc://ME-state.ipc (in the current directory) and
//! runs for N seconds (default: until Ctrl-C).
use std::time::{Duration, Instant};
use zmsg::{Error, Events, SocketType, ZContext};

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
        println!("syntax: peering1 [--seconds N] me {{you}}...");
        return Ok(());
    };
    println!("I: preparing broker at {me}...");

    let ctx = ZContext::new()?;
    // Bind the state backend to our endpoint
    let statebe = ctx.socket(SocketType::Pub)?;
    statebe.bind(&format!("ipc://{me}-state.ipc"))?;
    // Connect the state frontend to all peers
    let statefe = ctx.socket(SocketType::Sub)?;
    statefe.set_subscribe(b"")?;
    for peer in peers {
        println!("I: connecting to state backend at '{peer}'");
        statefe.connect(&format!("ipc://{peer}-state.ipc"))?;
    }

    // Send out our status and collect the peers'; the poll timeout is our heartbeat.
    while !zmsg::interrupted() && deadline.filter(|&d| Instant::now() >= d).is_none() {
        match statefe.poll(Events::POLLIN, Some(Duration::from_secs(1))) {
            Ok(ready) if !ready.is_empty() => {
                // [peer name][available workers]
                let mut msg = statefe.recv_msg()?;
                if let (Ok(peer), Ok(available)) = (msg.pop_str(), msg.pop_str()) {
                    println!("{peer} - {available} workers free");
                }
            }
            // Send random values for worker availability
            Ok(_) => statebe.send_multipart([me.as_str(), &fastrand::u32(0..10).to_string()])?,
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
