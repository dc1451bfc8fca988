//! Multithreaded relay: three threads signal each other in turn over inproc PAIR sockets (zguide: mtrelay).
//!
//! Usage: `mtrelay`; it prints each step and "Test successful!".
use zmsg::{SocketType, ZContext};

fn step1(ctx: ZContext) -> zmsg::Result<()> {
    // Connect to step2 and tell it we're ready
    let xmitter = ctx.socket(SocketType::Pair)?;
    xmitter.connect("inproc://step2")?;
    println!("Step 1 ready, signaling step 2");
    xmitter.send_str("READY")
}

fn step2(ctx: ZContext) -> zmsg::Result<()> {
    // Bind the inproc socket before starting step1
    let receiver = ctx.socket(SocketType::Pair)?;
    receiver.bind("inproc://step2")?;
    let thread = {
        let ctx = ctx.clone();
        std::thread::spawn(move || step1(ctx))
    };
    // Wait for the signal and pass it on
    receiver.recv_string()?;
    drop(receiver);
    // Connect to step3 and tell it we're ready
    let xmitter = ctx.socket(SocketType::Pair)?;
    xmitter.connect("inproc://step3")?;
    println!("Step 2 ready, signaling step 3");
    xmitter.send_str("READY")?;
    thread.join().expect("step 1 panicked")
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
    let ctx = ZContext::new()?;
    // Bind the inproc socket before starting step2
    let receiver = ctx.socket(SocketType::Pair)?;
    receiver.bind("inproc://step3")?;
    let thread = {
        let ctx = ctx.clone();
        std::thread::spawn(move || step2(ctx))
    };
    // Wait for the signal
    receiver.recv_string()?;
    thread.join().expect("step 2 panicked")?;
    println!("Test successful!");
    Ok(())
}
