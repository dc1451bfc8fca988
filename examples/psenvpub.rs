//! Pub-sub envelope publisher: sends two-frame messages whose first frame is the key "A" or "B" on tcp://*:5563 (zguide: psenvpub).
//!
//! Usage: `psenvpub [COUNT] [INTERVAL_MS]` publishes COUNT pairs (default: forever), one pair
//! every INTERVAL_MS milliseconds (default 1000). Ctrl-C ends it.
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
    let count: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(u64::MAX), |a| a.parse())?; // default: forever
    let interval_ms: u64 = std::env::args().nth(2).map_or(Ok(1000), |a| a.parse())?;
    let ctx = ZContext::new()?;
    let publisher = ctx.socket(SocketType::Pub)?;
    publisher.bind("tcp://*:5563")?;

    let mut sent = 0;
    while !zmsg::interrupted() && sent < count {
        // Write two messages, each with an envelope and content
        publisher.send_multipart(["A", "We don't want to see this"])?;
        publisher.send_multipart(["B", "We would like to see this"])?;
        sent += 1;
        std::thread::sleep(Duration::from_millis(interval_ms));
    }
    Ok(())
}
