//! Hello World client: a REQ socket sends "Hello" to tcp://localhost:5555 ten times (zguide: hwclient).
//!
//! Usage: `hwclient`. It runs ten round trips; Ctrl-C ends it early.
use zmsg::{Error, SocketType, ZContext};

fn main() -> anyhow::Result<()> {
    zmsg::install_interrupt_handler()?;
    match run() {
        // Ctrl-C may interrupt any blocking call, start-up included: that is a clean stop too.
        Err(_) if zmsg::interrupted() => Ok(()),
        other => other,
    }
}

fn run() -> anyhow::Result<()> {
    println!("Connecting to hello world server...");
    let ctx = ZContext::new()?;
    let requester = ctx.socket(SocketType::Req)?;
    requester.connect("tcp://localhost:5555")?;

    for request_nbr in 0..10 {
        if zmsg::interrupted() {
            break;
        }
        println!("Sending Hello {request_nbr}...");
        requester.send_str("Hello")?;
        match requester.recv_string() {
            Ok(_) => println!("Received World {request_nbr}"),
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
