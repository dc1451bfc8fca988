//! Multithreaded Hello World server: ROUTER on tcp://*:5555, a proxy to five REP worker threads over inproc (zguide: mtserver).
//!
//! Usage: `mtserver [WORK_MS] [SECONDS]`: each worker works WORK_MS milliseconds per request
//! (default 1000); the server runs for SECONDS (default: forever). Ctrl-C ends it.
use std::time::{Duration, Instant};
use zmsg::{Error, SocketType, ZContext};

fn worker_routine(ctx: ZContext, work: Duration) -> zmsg::Result<()> {
    // Socket to talk to the dispatcher
    let receiver = ctx.socket(SocketType::Rep)?;
    receiver.connect("inproc://workers")?;
    loop {
        let request = receiver.recv_string()?;
        println!("Received request: [{request}]");
        std::thread::sleep(work); // Do some 'work'
        receiver.send_str("World")?;
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
    let work_ms: u64 = std::env::args().nth(1).map_or(Ok(1000), |a| a.parse())?;
    let seconds: Option<u64> = std::env::args().nth(2).map(|a| a.parse()).transpose()?;
    let ctx = ZContext::new()?;
    // Socket to talk to clients
    let clients = ctx.socket(SocketType::Router)?;
    clients.bind("tcp://*:5555")?;
    // Socket to talk to workers
    let workers = ctx.socket(SocketType::Dealer)?;
    workers.bind("inproc://workers")?;

    // Launch a pool of worker threads. Whichever thread a Ctrl-C interrupts shuts the context
    // down, which ends every blocking call with Error::Terminated.
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let result = worker_routine(ctx.clone(), Duration::from_millis(work_ms));
                let _ = ctx.shutdown();
                result
            })
        })
        .collect();
    // Ending a running proxy takes a context shutdown. A watcher does it on Ctrl-C (which a
    // busy proxy may not see) or when the time is up.
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let watched = ctx.clone();
    std::thread::spawn(move || {
        while !zmsg::interrupted() && deadline.filter(|&d| Instant::now() >= d).is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = watched.shutdown();
    });
    // Connect the worker threads to the clients via a queue proxy
    let result = zmsg::proxy(&clients, &workers, None);
    ctx.shutdown()?;
    for thread in threads {
        match thread.join() {
            Ok(Ok(()) | Err(Error::Terminated | Error::Interrupted)) => {}
            Ok(Err(err)) => return Err(err.into()),
            Err(_) => anyhow::bail!("a worker thread panicked"),
        }
    }
    match result {
        Ok(()) | Err(Error::Terminated | Error::Interrupted) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
