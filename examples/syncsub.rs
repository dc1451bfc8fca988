//! Synchronized subscriber: subscribes to tcp://localhost:5561, syncs over REQ (tcp://localhost:5562), counts updates (zguide: syncsub).
//!
//! Usage: `syncsub`; it prints how many updates came before "END". Ctrl-C ends it.
use std::time::Duration;
use zmsg::{SocketType, ZContext};

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
    // First, connect our subscriber socket
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.connect("tcp://localhost:5561")?;
    subscriber.set_subscribe(b"")?;
    // 0MQ is so fast, we need to wait a while...
    std::thread::sleep(Duration::from_secs(1));
    if zmsg::interrupted() {
        return Ok(());
    }

    // Second, synchronise with the publisher
    let syncclient = ctx.socket(SocketType::Req)?;
    syncclient.connect("tcp://localhost:5562")?;
    syncclient.send_str("")?; // send a synchronisation request
    syncclient.recv_frame()?; // wait for the synchronisation reply

    // Third, get our updates and report how many we got
    let mut updates = 0;
    while !subscriber.recv_frame()?.eq_bytes(b"END") {
        updates += 1;
        if zmsg::interrupted() {
            return Ok(());
        }
    }
    println!("Received {updates} updates");
    Ok(())
}
