//! Request-reply worker: a REP socket connected to a broker at tcp://localhost:5560 answers "World" (zguide: rrworker).
//!
//! Usage: `rrworker [COUNT] [WORK_MS]` answers COUNT requests and exits (default: forever), working
//! WORK_MS milliseconds on each (default 1000). Ctrl-C ends it.
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
    let work_ms: u64 = std::env::args().nth(2).map_or(Ok(1000), |a| a.parse())?;
    let ctx = ZContext::new()?;
    let responder = ctx.socket(SocketType::Rep)?;
    responder.connect("tcp://localhost:5560")?;

    let mut served = 0;
    while served < count && !zmsg::interrupted() {
        match responder.recv_string() {
            Ok(request) => println!("Received request: [{request}]"),
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        }
        std::thread::sleep(Duration::from_millis(work_ms)); // Do some 'work'
        responder.send_str("World")?;
        served += 1;
    }
    Ok(())
}
