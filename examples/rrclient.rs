//! Request-reply client: a REQ socket talks to workers through a broker at tcp://localhost:5559 (zguide: rrclient).
//!
//! Usage: `rrclient` sends "Hello" ten times and prints each reply. Ctrl-C ends it early.
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
    let ctx = ZContext::new()?;
    let requester = ctx.socket(SocketType::Req)?;
    requester.connect("tcp://localhost:5559")?;
    for request_nbr in 0..10 {
        if zmsg::interrupted() {
            break;
        }
        requester.send_str("Hello")?;
        match requester.recv_string() {
            Ok(reply) => println!("Received reply {request_nbr} [{reply}]"),
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
