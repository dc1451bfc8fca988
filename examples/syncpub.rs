//! Synchronized publisher: waits for its subscribers over REP (tcp://*:5562), then publishes on tcp://*:5561 (zguide: syncpub).
//!
//! Usage: `syncpub [SUBSCRIBERS] [UPDATES]` waits for SUBSCRIBERS (default 10), then broadcasts
//! UPDATES messages (default 1000000) followed by "END". Ctrl-C ends it.
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
    let expected: u32 = std::env::args().nth(1).map_or(Ok(10), |a| a.parse())?;
    let updates: u32 = std::env::args()
        .nth(2)
        .map_or(Ok(1_000_000), |a| a.parse())?;
    // Dropping the context at the end waits (up to the linger) for the updates to leave.
    let ctx = ZContext::new()?;
    // Socket to talk to clients
    let publisher = ctx.socket(SocketType::Pub)?;
    publisher.set_sndhwm(1_100_000)?;
    publisher.bind("tcp://*:5561")?;
    // Socket to receive signals
    let syncservice = ctx.socket(SocketType::Rep)?;
    syncservice.bind("tcp://*:5562")?;

    // Get synchronisation from the subscribers
    println!("Waiting for subscribers");
    for _ in 0..expected {
        if zmsg::interrupted() {
            return Ok(());
        }
        match syncservice.recv_frame() {
            Ok(_) => syncservice.send_str("")?,
            Err(Error::Interrupted) => return Ok(()),
            Err(err) => return Err(err.into()),
        }
    }
    // Now broadcast exactly UPDATES updates followed by END
    println!("Broadcasting messages");
    for _ in 0..updates {
        if zmsg::interrupted() {
            return Ok(());
        }
        publisher.send_str("Rhubarb")?;
    }
    publisher.send_str("END")?;
    Ok(())
}
