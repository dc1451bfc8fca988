//! MMI echo query (zguide ch.4: mmiecho): asks the broker at tcp://localhost:5555 whether the
//! "echo" service exists; prints 200 or 404.
//!
//! Usage: `mmiecho [-v]`.
use mdp::{Client, ClientConfig};

fn main() -> anyhow::Result<()> {
    let verbose = std::env::args().any(|a| a == "-v");
    tracing_subscriber::fmt()
        .with_env_filter(if verbose { "debug" } else { "warn" })
        .init();
    let mut session = Client::connect("tcp://localhost:5555", ClientConfig::default())?;
    // The service we look up goes as the body to the service we ask, mmi.service.
    match session.mmi("mmi.service", "echo") {
        Ok(code) => println!("Lookup echo service: {code}"),
        Err(mdp::Error::Timeout | mdp::Error::BrokerGone(_)) => {
            println!("E: no response from broker, make sure it's running")
        }
        Err(err) => return Err(err.into()),
    }
    Ok(())
}
