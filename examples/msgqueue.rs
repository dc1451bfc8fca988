//! Message queue broker: the same ROUTER (tcp://*:5559) to DEALER (tcp://*:5560) broker, using the built-in proxy (zguide: msgqueue).
//!
//! Usage: `msgqueue [SECONDS]` runs for SECONDS and exits (default: forever). Ctrl-C ends it.
use std::time::{Duration, Instant};
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
    let seconds: Option<u64> = std::env::args().nth(1).map(|a| a.parse()).transpose()?;
    let ctx = ZContext::new()?;
    // Socket facing clients
    let frontend = ctx.socket(SocketType::Router)?;
    frontend.bind("tcp://*:5559")?;
    // Socket facing services
    let backend = ctx.socket(SocketType::Dealer)?;
    backend.bind("tcp://*:5560")?;

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
    // Start the proxy: it runs until the context is shut down or we are interrupted.
    match zmsg::proxy(&frontend, &backend, None) {
        Ok(()) | Err(Error::Terminated | Error::Interrupted) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
