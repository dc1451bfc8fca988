//! Task ventilator: a PUSH socket on tcp://*:5557 sends a batch of 100 tasks to workers (zguide: taskvent).
//!
//! Usage: `taskvent`, start the sink and workers, then press Enter. It tells the sink
//! (tcp://localhost:5558) that the batch starts, sends 100 workloads of 1–100 ms and exits.
use std::io::BufRead;
use zmsg::{SocketType, ZContext};

/// Waits for the user to press Enter; false if Ctrl-C came first. (Reading stdin restarts after a
/// signal, so the read runs on its own thread while this one watches for the interrupt.)
fn wait_for_enter() -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::stdin().lock().read_line(&mut String::new());
        let _ = tx.send(());
    });
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(50)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !zmsg::interrupted() => {}
            _ => return !zmsg::interrupted(),
        }
    }
}

fn main() -> anyhow::Result<()> {
    zmsg::install_interrupt_handler()?;
    match run() {
        // Ctrl-C may interrupt any blocking call, start-up included: that is a clean stop too.
        Err(_) if zmsg::interrupted() => Ok(()),
        other => other,
    }
}

fn run() -> anyhow::Result<()> {
    // Dropping this context at the end waits (up to the linger) until every task has left.
    let ctx = ZContext::new()?;
    // Socket to send tasks on
    let sender = ctx.socket(SocketType::Push)?;
    sender.bind("tcp://*:5557")?;
    // Socket to send the start-of-batch message on
    let sink = ctx.socket(SocketType::Push)?;
    sink.connect("tcp://localhost:5558")?;

    println!("Press Enter when the workers are ready: ");
    if !wait_for_enter() {
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
