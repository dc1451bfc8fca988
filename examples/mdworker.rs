//! Majordomo worker (zguide ch.4: mdworker): serves the "echo" service of the broker at
//! tcp://localhost:5555 by sending every request back.
//!
//! Usage: `mdworker [-v] [COUNT]` stops after COUNT requests (default: until Ctrl-C).
use mdp::{Worker, WorkerConfig};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let count: Option<u64> = args
        .iter()
        .find(|a| *a != "-v")
        .map(|a| a.parse())
        .transpose()?;
    tracing_subscriber::fmt()
        .with_env_filter(if verbose { "debug" } else { "warn" })
        .init();
    zmsg::install_interrupt_handler()?;

    let mut session = Worker::connect("tcp://localhost:5555", "echo", WorkerConfig::default())?;
    let mut served = 0u64;
    while count != Some(served) {
        let mut request = match session.recv() {
            Ok(request) => request,
            Err(mdp::Error::Interrupted) => {
                println!("W: interrupt received, killing worker...");
                break;
            }
            Err(err) => return Err(err.into()),
        };
        let reply = request.take_body(); // Echo is complex... :-)
        match session.reply(&request, reply) {
            Ok(()) => served += 1,
            Err(err) if err.is_transient() => eprintln!("W: {err}"),
            Err(err) => return Err(err.into()),
        }
    }
    println!("I: {served} requests served");
    Ok(())
}
