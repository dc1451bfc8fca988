//! Handling Ctrl-C cleanly: a REP server on tcp://*:5555 that stops its poll loop on SIGINT/SIGTERM (zguide: interrupt).
//!
//! Usage: `interrupt`; it echoes every request back, then press Ctrl-C (or send SIGTERM).
//! `zmsg::install_interrupt_handler()` makes blocking calls return `Error::Interrupted`.
use std::time::Duration;
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
    let ctx = ZContext::new()?;
    let socket = ctx.socket(SocketType::Rep)?;
    socket.bind("tcp://*:5555")?;

    let mut poller = ZPoller::new();
    poller.add(&socket);
    loop {
        // A signal that lands between two polls only sets the flag, so check it on every
        // round and never wait for long.
        if zmsg::interrupted() {
            println!("W: interrupt received, killing server...");
            break;
        }
        match poller.wait(Some(Duration::from_millis(100))) {
            Ok(None) | Err(Error::Interrupted) => continue,
            Ok(Some(_)) => {}
            Err(err) => return Err(err.into()),
        }
        // Non-blocking, so that we go back to checking for the interrupt
        match socket.recv_msg_dontwait() {
            Ok(request) => {
                println!("W: recv");
                socket.send_msg(request)?; // Now send the message back
            }
            Err(Error::Again | Error::Interrupted) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    println!("W: cleaning up");
    Ok(())
}
