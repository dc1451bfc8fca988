//! ROUTER-to-DEALER: a ROUTER on tcp://*:5671 hands out work to ten DEALER worker threads that add the empty delimiter themselves (zguide: rtdealer).
//!
//! Usage: `rtdealer [SECONDS]` runs for SECONDS (default 5), then fires every worker; each worker
//! prints how many tasks it completed. Ctrl-C ends it.
use std::time::{Duration, Instant};
use zmsg::{SocketType, ZContext};

const NBR_WORKERS: usize = 10;

fn worker_task() -> zmsg::Result<()> {
    // Each worker has its own context, as if it were a separate process
    let ctx = ZContext::new()?;
    let worker = ctx.socket(SocketType::Dealer)?;
    // Set a printable identity
    let identity = format!("{:04X}-{:04X}", fastrand::u16(..), fastrand::u16(..));
    worker.set_routing_id(identity.as_bytes())?;
    worker.connect("tcp://localhost:5671")?;
    let mut total = 0;
    loop {
        // Tell the broker we're ready for work: a DEALER sends the empty delimiter itself
        worker.send_multipart(["", "Hi Boss"])?;
        // Get workload from the broker, until finished: [delimiter, workload]
        let mut workload = worker.recv_msg()?;
        workload.pop_frame(); // Envelope delimiter
        if workload.pop_str()? == "Fired!" {
            println!("Completed: {total} tasks");
            return Ok(());
        }
        total += 1;
        // Do some random work
        std::thread::sleep(Duration::from_millis(fastrand::u64(1..=500)));
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
    let seconds: u64 = std::env::args().nth(1).map_or(Ok(5), |a| a.parse())?;
    let ctx = ZContext::new()?;
    let broker = ctx.socket(SocketType::Router)?;
    broker.bind("tcp://*:5671")?;
    let workers: Vec<_> = (0..NBR_WORKERS)
        .map(|_| std::thread::spawn(worker_task))
        .collect();

    // Run for a while and then tell the workers to end
    let end_time = Instant::now() + Duration::from_secs(seconds);
    let mut workers_fired = 0;
    while workers_fired < NBR_WORKERS {
        // The next message gives us the least recently used worker: [identity, "", request]
        // A Ctrl-C may interrupt a worker thread rather than this one: check the flag too.
        let mut msg = match broker.recv_msg() {
            _ if zmsg::interrupted() => return Ok(()),
            Ok(msg) => msg,
            Err(err) => return Err(err.into()),
        };
        let identity = msg.pop_envelope()?;
        // Encourage workers until it's time to fire them
        let reply = if Instant::now() < end_time {
            "Work harder"
        } else {
            workers_fired += 1;
            "Fired!"
        };
        broker.send_multipart([identity, "".into(), reply.into()])?;
    }
    for worker in workers {
        worker.join().expect("a worker panicked")?;
    }
    Ok(())
}
