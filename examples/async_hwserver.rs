//! Hello World server on tokio: a REP socket on tcp://*:5555 answers "World" to every request
//! (zguide: hwserver), awaited with zmsg's `AsyncSocket` instead of blocking.
//!
//! Usage: `async_hwserver [COUNT] [WORK_MS]` serves COUNT requests and exits (default: forever),
//! pretending to work WORK_MS milliseconds on each (default 1000). Ctrl-C ends it. Unix only
//! (zmsg's feature `tokio` waits on libzmq's `ZMQ_FD` with tokio's `AsyncFd`).

#[cfg(unix)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use std::time::Duration;
    use tokio::signal::unix::{signal, SignalKind};
    use zmsg::{AsyncSocket, SocketType, ZContext};

    // Ctrl-C: tokio's SIGINT handler, installed before anything can wait, is awaited beside each
    // step; the futures it cancels are cancel-safe (a dropped recv loses no message).
    let mut interrupt = signal(SignalKind::interrupt())?;
    let count: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(u64::MAX), |a| a.parse())?; // default: forever
    let work_ms: u64 = std::env::args().nth(2).map_or(Ok(1000), |a| a.parse())?;

    // An explicit context: dropping it at the end waits (up to the linger) for the last reply to leave.
    let ctx = ZContext::new()?;
    let responder = ctx.socket(SocketType::Rep)?;
    responder.bind("tcp://*:5555")?;
    let mut responder = AsyncSocket::new(responder)?;

    let mut served = 0;
    while served < count {
        tokio::select! {
            request = responder.recv() => {
                request?;
                println!("Received Hello");
            }
            _ = interrupt.recv() => break,
        }
        // Pretend to do some 'work', without holding up the runtime's thread.
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(work_ms)) => {}
            _ = interrupt.recv() => break,
        }
        responder.send_frame("World").await?;
        served += 1;
    }
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    eprintln!("async_hwserver needs Unix: zmsg's AsyncSocket waits with tokio's AsyncFd");
    std::process::exit(1);
}
