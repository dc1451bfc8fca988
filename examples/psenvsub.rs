//! Pub-sub envelope subscriber: subscribes to key "B" on tcp://localhost:5563 and prints envelope and content (zguide: psenvsub).
//!
//! Usage: `psenvsub [COUNT]` prints COUNT messages and exits (default: forever). Ctrl-C ends it.
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
    let count: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(u64::MAX), |a| a.parse())?; // default: forever
    let ctx = ZContext::new()?;
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.connect("tcp://localhost:5563")?;
    subscriber.set_subscribe(b"B")?;

    let mut received = 0;
    while received < count && !zmsg::interrupted() {
        let mut msg = match subscriber.recv_msg() {
            Ok(msg) => msg,
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        };
        // Read the envelope with the address, then the message contents
        let address = msg.pop_str()?;
        let contents = msg.pop_str()?;
        println!("[{address}] {contents}");
        received += 1;
    }
    Ok(())
}
