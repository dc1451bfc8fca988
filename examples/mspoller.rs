//! Reading from two sockets with a poller (zguide: mspoller).
//!
//! Usage: `mspoller [COUNT]` connects to the ventilator (tcp://localhost:5557) and the weather server
//! (tcp://localhost:5556, zipcode 10001), prints what it gets and exits after COUNT messages
//! (default: never). Ctrl-C ends it.
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
    let count: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(u64::MAX), |a| a.parse())?; // default: forever
    let ctx = ZContext::new()?;
    let receiver = ctx.socket(SocketType::Pull)?;
    receiver.connect("tcp://localhost:5557")?;
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.connect("tcp://localhost:5556")?;
    subscriber.set_subscribe(b"10001 ")?;

    let mut poller = ZPoller::new();
    let tasks = poller.add(&receiver);
    let weather = poller.add(&subscriber);
    let mut received = 0;
    while received < count && !zmsg::interrupted() {
        let ready = match poller.wait(None) {
            Ok(Some(ready)) => ready,
            Ok(None) => continue,
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        };
        if ready == tasks {
            println!("Task: {}", receiver.recv_string()?);
        } else if ready == weather {
            println!("Weather: {}", subscriber.recv_string()?);
        }
        received += 1;
    }
    Ok(())
}
