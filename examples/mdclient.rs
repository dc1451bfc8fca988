//! Majordomo client (zguide ch.4: mdclient): sends "Hello world" requests to the "echo" service
//! of the broker at tcp://localhost:5555, one at a time, with timeout and retries.
//!
//! Usage: `mdclient [-v] [COUNT]` (default 100000 requests).
use mdp::{Client, ClientConfig};
use zmsg::ZMsg;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let total: u64 = args
        .iter()
        .find(|a| *a != "-v")
        .map_or(Ok(100_000), |a| a.parse())?;
    tracing_subscriber::fmt()
        .with_env_filter(if verbose { "debug" } else { "warn" })
        .init();
    zmsg::install_interrupt_handler()?;

    let mut session = Client::connect("tcp://localhost:5555", ClientConfig::default())?;
    let mut count = 0;
    while count < total {
        let mut request = ZMsg::new();
        request.append("Hello world");
        match session.send("echo", request) {
            Ok(_reply) => count += 1,
            Err(mdp::Error::Interrupted) => break,
            Err(err) => {
                eprintln!("E: {err}");
                break;
            }
        }
    }
    println!("{count} requests/replies processed");
    Ok(())
}
