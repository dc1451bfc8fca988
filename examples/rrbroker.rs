//! Simple request-reply broker: ROUTER on tcp://*:5559 for clients, DEALER on tcp://*:5560 for workers, a poll loop between them (zguide: rrbroker).
//!
//! Usage: `rrbroker [SECONDS]` brokers for SECONDS and exits (default: forever). Ctrl-C ends it.
use std::time::{Duration, Instant};
use zmsg::{Error, SocketType, ZContext, ZPoller};

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
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let ctx = ZContext::new()?;
    let frontend = ctx.socket(SocketType::Router)?;
    let backend = ctx.socket(SocketType::Dealer)?;
    frontend.bind("tcp://*:5559")?;
    backend.bind("tcp://*:5560")?;

    let mut poller = ZPoller::new();
    let front = poller.add(&frontend);
    let back = poller.add(&backend);
    // Switch messages between the sockets, every frame of each message.
    while !zmsg::interrupted() {
        let timeout = match deadline {
            Some(deadline) if Instant::now() >= deadline => break,
            Some(deadline) => Some(deadline - Instant::now()),
            None => None,
        };
        match poller.wait(timeout) {
            Ok(Some(ready)) if ready == front => backend.send_msg(frontend.recv_msg()?)?,
            Ok(Some(ready)) if ready == back => frontend.send_msg(backend.recv_msg()?)?,
            Ok(_) => {}
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
