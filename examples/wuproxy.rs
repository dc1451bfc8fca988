//! Weather proxy: an XSUB/XPUB proxy that republishes a weather server's updates on another endpoint (zguide: wuproxy).
//!
//! Usage: `wuproxy [FRONTEND] [BACKEND] [SECONDS]`. The guide's sample LAN addresses
//! (tcp://192.168.55.210:5556 and tcp://10.1.1.0:8100) are replaced by runnable defaults:
//! it connects to the weather server at tcp://localhost:5556 and binds tcp://*:8100; it runs for
//! SECONDS (default: forever). Ctrl-C ends it.
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
    let mut args = std::env::args().skip(1);
    let from = args.next().unwrap_or_else(|| "tcp://localhost:5556".into());
    let to = args.next().unwrap_or_else(|| "tcp://*:8100".into());
    let seconds: Option<u64> = args.next().map(|a| a.parse()).transpose()?;
    let ctx = ZContext::new()?;
    // This is where the weather server sits
    let frontend = ctx.socket(SocketType::XSub)?;
    frontend.connect(&from)?;
    // This is our public endpoint for subscribers
    let backend = ctx.socket(SocketType::XPub)?;
    backend.bind(&to)?;

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
    // Run the proxy until the user interrupts us (or the time is up)
    match zmsg::proxy(&frontend, &backend, None) {
        Ok(()) | Err(Error::Terminated | Error::Interrupted) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
