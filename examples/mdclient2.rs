//! Asynchronous Majordomo client (zguide ch.4: mdclient2): sends all its "Hello world" requests
//! to the "echo" service at tcp://localhost:5555, then collects the replies.
//!
//! Usage: `mdclient2 [-v] [COUNT]` (default 100000 requests).
use mdp::{AsyncClient, ClientConfig};
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

    let mut session = AsyncClient::connect("tcp://localhost:5555", ClientConfig::default())?;
    for _ in 0..total {
        let mut request = ZMsg::new();
        request.append("Hello world");
        // send() also stashes replies that arrive meanwhile, so the broker never stalls.
        session.send("echo", request)?;
    }
    let mut count = 0;
    while count < total {
        match session.recv() {
            Ok(_reply) => count += 1,
            Err(mdp::Error::Interrupted) => break, // Interrupted by Ctrl-C
            Err(err) => {
                eprintln!("E: {err}");
                break;
            }
        }
    }
    println!("{count} replies received");
    Ok(())
}
