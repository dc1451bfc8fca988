//! Task worker: PULLs workloads from tcp://localhost:5557, "works", PUSHes results to tcp://localhost:5558 (zguide: taskwork).
//!
//! Usage: `taskwork [COUNT]` handles COUNT tasks and exits (default: forever). Ctrl-C ends it.
use std::io::Write;
use std::time::Duration;
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
    let receiver = ctx.socket(SocketType::Pull)?;
    receiver.connect("tcp://localhost:5557")?;
    let sender = ctx.socket(SocketType::Push)?;
    sender.connect("tcp://localhost:5558")?;

    let mut done = 0;
    while done < count && !zmsg::interrupted() {
        let workload = match receiver.recv_string() {
            Ok(workload) => workload,
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        };
        print!("{workload}."); // Show progress
        std::io::stdout().flush()?;
        std::thread::sleep(Duration::from_millis(workload.parse().unwrap_or(0))); // Do the work
        sender.send_str("")?; // Send the result to the sink
        done += 1;
    }
    Ok(())
}
