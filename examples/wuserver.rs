//! Weather update server: a PUB socket on tcp://*:5556 publishes random weather updates (zguide: wuserver).
//!
//! Usage: `wuserver [SECONDS]` publishes for SECONDS and exits (default: forever). Ctrl-C ends it.
use std::time::{Duration, Instant};
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
    let seconds: Option<u64> = std::env::args().nth(1).map(|a| a.parse()).transpose()?;
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));

    let ctx = ZContext::new()?;
    let publisher = ctx.socket(SocketType::Pub)?;
    publisher.bind("tcp://*:5556")?;

    while !zmsg::interrupted() && deadline.filter(|&d| Instant::now() >= d).is_none() {
        // Get values that will fool the boss
        let zipcode = fastrand::u32(0..100_000);
        let temperature = fastrand::i32(0..215) - 80;
        let relhumidity = fastrand::u32(0..50) + 10;
        // Send the update to all subscribers
        publisher.send_str(&format!("{zipcode:05} {temperature} {relhumidity}"))?;
    }
    Ok(())
}
