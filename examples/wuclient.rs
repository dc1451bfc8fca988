//! Weather update client: a SUB socket collects 100 updates for one zipcode and averages them (zguide: wuclient).
//!
//! Usage: `wuclient [FILTER] [ENDPOINT]` subscribes to FILTER (default "10001 ", New York City) at
//! ENDPOINT (default tcp://localhost:5556; use tcp://localhost:8100 to go through wuproxy).
//! Ctrl-C ends it early.
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
    println!("Collecting updates from weather server...");
    let filter = std::env::args().nth(1).unwrap_or_else(|| "10001 ".into());
    let endpoint = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "tcp://localhost:5556".into());
    let ctx = ZContext::new()?;
    let subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.connect(&endpoint)?;
    subscriber.set_subscribe(filter.as_bytes())?;

    let mut total_temp: i64 = 0;
    let mut updates: i64 = 0;
    while updates < 100 && !zmsg::interrupted() {
        let update = match subscriber.recv_string() {
            Ok(update) => update,
            Err(Error::Interrupted) => break,
            Err(err) => return Err(err.into()),
        };
        // "zipcode temperature relhumidity"; skip anything malformed rather than panic.
        let Some(temperature) = update.split(' ').nth(1).and_then(|t| t.parse::<i64>().ok()) else {
            continue;
        };
        total_temp += temperature;
        updates += 1;
    }
    if updates > 0 {
        println!(
            "Average temperature for zipcode '{filter}' was {}F",
            total_temp / updates
        );
    }
    Ok(())
}
