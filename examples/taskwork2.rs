//! Task worker, design 2: also subscribes to tcp://localhost:5559 and stops on the sink's KILL (zguide: taskwork2).
//!
//! Usage: `taskwork2`; it pulls work from tcp://localhost:5557, pushes results to
//! tcp://localhost:5558 and ends on any message from the controller, or on Ctrl-C.
use std::io::Write;
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
    let receiver = ctx.socket(SocketType::Pull)?;
    receiver.connect("tcp://localhost:5557")?;
    let sender = ctx.socket(SocketType::Push)?;
    sender.connect("tcp://localhost:5558")?;
    // Socket for control input
    let controller = ctx.socket(SocketType::Sub)?;
    controller.connect("tcp://localhost:5559")?;
    controller.set_subscribe(b"")?;

    let mut poller = ZPoller::new();
    let tasks = poller.add(&receiver);
    let control = poller.add(&controller);
    while !zmsg::interrupted() {
        match poller.wait(None) {
            Ok(Some(ready)) if ready == tasks => {
                let workload = receiver.recv_string()?;
                print!("{workload}."); // Show progress
                std::io::stdout().flush()?;
                std::thread::sleep(Duration::from_millis(workload.parse().unwrap_or(0)));
                sender.send_str("")?; // Send the result to the sink
            }
            // Any waiting controller command acts as 'KILL'
            Ok(Some(ready)) if ready == control => break,
            Ok(_) => {}
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        }
    }
    println!("Killed");
    Ok(())
}
