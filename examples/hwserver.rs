//! Hello World server: a REP socket on tcp://*:5555 answers "World" to every request (zguide: hwserver).
//!
//! Usage: `hwserver [COUNT] [WORK_MS]` serves COUNT requests and exits (default: forever), pretending
//! to work WORK_MS milliseconds on each (default 1000). Ctrl-C ends it.
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

    // An explicit context: dropping it at the end waits (up to the linger) for the last reply to leave.
    let ctx = ZContext::new()?;
    let responder = ctx.socket(SocketType::Rep)?;
    responder.bind("tcp://*:5555")?;

    let mut served = 0;
    while served < count && !zmsg::interrupted() {
        match responder.recv_string() {
            Ok(_) => println!("Received Hello"),
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        }
        std::thread::sleep(Duration::from_millis(work_ms)); // Pretend to do some 'work'
        responder.send_str("World")?;
        served += 1;
    }
    Ok(())
}
