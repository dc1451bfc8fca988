//! Reading from two sockets with a plain non-blocking recv loop, tasks first (zguide: msreader).
//!
//! Usage: `msreader [COUNT]` connects to the ventilator (tcp://localhost:5557) and the weather server
//! (tcp://localhost:5556, zipcode 10001), prints what it gets and exits after COUNT messages
//! (default: never). Ctrl-C ends it.
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
    let ctx = ZContext::new()?;
    // Connect to the task ventilator
    let receiver = ctx.socket(SocketType::Pull)?;
    receiver.connect("tcp://localhost:5557")?;
    // Connect to the weather server
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.connect("tcp://localhost:5556")?;
    subscriber.set_subscribe(b"10001 ")?;

    // Process messages from both sockets, prioritising traffic from the ventilator
    let mut received = 0;
    while !zmsg::interrupted() && received < count {
        while let Ok(task) = receiver.recv_frame_dontwait() {
            println!("Task: {}", String::from_utf8_lossy(task.data()));
            received += 1;
        }
        while let Ok(update) = subscriber.recv_frame_dontwait() {
            println!("Weather: {}", String::from_utf8_lossy(update.data()));
            received += 1;
        }
        // No activity, so sleep for 1 msec
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}
