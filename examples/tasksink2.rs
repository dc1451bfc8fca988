//! Task sink, design 2: collects 100 results on tcp://*:5558, then PUBlishes KILL on tcp://*:5559 (zguide: tasksink2).
//!
//! Usage: `tasksink2`, then start the workers (taskwork2) and the ventilator. Ctrl-C ends it early.
use std::io::Write;
use std::time::Instant;
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
    // Dropping the context at the end waits (up to the linger) until KILL has left.
    let ctx = ZContext::new()?;
    let receiver = ctx.socket(SocketType::Pull)?;
    receiver.bind("tcp://*:5558")?;
    // Socket for worker control
    let controller = ctx.socket(SocketType::Pub)?;
    controller.bind("tcp://*:5559")?;

    // A Ctrl-C may have come during start-up
    if zmsg::interrupted() {
        return Ok(());
    }
    receiver.recv_frame()?; // Wait for the start of the batch
    let start = Instant::now();
    for task_nbr in 0..100 {
        if zmsg::interrupted() {
            return Ok(());
        }
        receiver.recv_frame()?;
        print!("{}", if task_nbr % 10 == 0 { ":" } else { "." });
        std::io::stdout().flush()?;
    }
    println!("Total elapsed time: {} msec", start.elapsed().as_millis());
    controller.send_str("KILL")?; // Send the kill signal to the workers
    Ok(())
}
