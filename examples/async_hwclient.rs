//! Hello World client on tokio: a REQ socket sends "Hello" to tcp://localhost:5555 ten times
//! (zguide: hwclient), awaited with zmsg's `AsyncSocket` instead of blocking.
//!
//! Usage: `async_hwclient`. It runs ten round trips; Ctrl-C ends it early. Unix only (zmsg's
//! feature `tokio` waits on libzmq's `ZMQ_FD` with tokio's `AsyncFd`).

#[cfg(unix)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    use zmsg::{AsyncSocket, SocketType, ZContext};

    // Ctrl-C: tokio's SIGINT handler, installed before anything can wait, is awaited beside each
    // step; a send it cancels sent all of the message or none of it.
    let mut interrupt = signal(SignalKind::interrupt())?;
    println!("Connecting to hello world server...");
    let ctx = ZContext::new()?;
    let requester = ctx.socket(SocketType::Req)?;
    requester.connect("tcp://localhost:5555")?;
    let mut requester = AsyncSocket::new(requester)?;

    for request_nbr in 0..10 {
        println!("Sending Hello {request_nbr}...");
        tokio::select! {
            sent = requester.send_frame("Hello") => sent?,
            _ = interrupt.recv() => break,
        }
        tokio::select! {
            reply = requester.recv() => {
                reply?;
                println!("Received World {request_nbr}");
            }
            _ = interrupt.recv() => break,
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    eprintln!("async_hwclient needs Unix: zmsg's AsyncSocket waits with tokio's AsyncFd");
    std::process::exit(1);
}
