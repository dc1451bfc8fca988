//! Majordomo broker (zguide ch.4: mdbroker) on `mdp::Broker`: binds tcp://*:5555 and routes
//! MDP/0.1 requests between clients and workers, with MMI.
//!
//! Usage: `mdbroker [-v] [SECONDS]` runs for SECONDS (default: until Ctrl-C). `-v` logs
//! protocol activity.
use std::time::{Duration, Instant};

use mdp::{Broker, BrokerConfig};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let seconds: Option<u64> = args
        .iter()
        .find(|a| *a != "-v")
        .map(|a| a.parse())
        .transpose()?;
    tracing_subscriber::fmt()
        .with_env_filter(if verbose { "debug" } else { "info" })
        .init();
    zmsg::install_interrupt_handler()?;

    let mut broker = Broker::bind(BrokerConfig::new(["tcp://*:5555"]))?;
    println!(
        "I: MDP broker/0.1 is active at {}",
        broker.endpoints().join(", ")
    );
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    while !zmsg::interrupted() {
        let slice = match deadline {
            Some(deadline) if Instant::now() >= deadline => break,
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => Duration::from_millis(500),
        };
        match broker.run_once(Some(slice.min(Duration::from_millis(500)))) {
            Ok(()) | Err(mdp::Error::Interrupted) => {}
            Err(err) => return Err(err.into()),
        }
    }
    println!("W: shutting down, {}", broker.stats());
    Ok(())
}
