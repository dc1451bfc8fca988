//! Task ventilator: a PUSH socket on tcp://*:5557 sends a batch of 100 tasks to workers (zguide: taskvent).
//!
//! Usage: `taskvent`, start the sink and workers, then press Enter. It tells the sink
//! (tcp://localhost:5558) that the batch starts, sends 100 workloads of 1–100 ms and exits.
use std::io::BufRead;
use zmsg::{SocketType, ZContext};

fn main() -> anyhow::Result<()> {
    zmsg::install_interrupt_handler()?;
    // Dropping this context at the end waits (up to the linger) until every task has left.
    let ctx = ZContext::new()?;
    // Socket to send tasks on
    let sender = ctx.socket(SocketType::Push)?;
    sender.bind("tcp://*:5557")?;
    // Socket to send the start-of-batch message on
    let sink = ctx.socket(SocketType::Push)?;
    sink.connect("tcp://localhost:5558")?;

    println!("Press Enter when the workers are ready: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if zmsg::interrupted() {
        return Ok(());
    }
    println!("Sending tasks to workers...");

    // The first message is "0" and signals the start of the batch
    sink.send_str("0")?;
    let mut total_msec = 0;
    for _ in 0..100 {
        let workload = fastrand::u32(1..=100); // Random workload from 1 to 100 msecs
        total_msec += workload;
        sender.send_str(&workload.to_string())?;
    }
    println!("Total expected cost: {total_msec} msec");
    Ok(())
}
