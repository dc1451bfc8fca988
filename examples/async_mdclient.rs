//! Async Majordomo client (zmsg's own, on tokio): sends COUNT requests to "echo" at the broker
//! on tcp://localhost:5555 all at once with `mdp::tokio::Client`, then collects the replies as
//! they come (the zguide's mdclient2 idea, async). Each request carries its number, which the
//! echo service sends back: that is how the replies are matched.
//!
//! Usage: `async_mdclient [-v] [COUNT]` (default 100 000).
#[cfg(unix)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use std::time::{Duration, Instant};

    use mdp::tokio::Client;
    use mdp::ClientConfig;
    use zmsg::ZMsg;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let count: usize = args
        .iter()
        .find(|a| *a != "-v")
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    tracing_subscriber::fmt()
        .with_env_filter(if verbose { "debug" } else { "warn" })
        .init();

    let client = Client::connect("tcp://localhost:5555", ClientConfig::default())?;
    let (mut requests, mut replies) = client.split();
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        for n in 0..count {
            requests
                .send("echo", ZMsg::from_iter([n.to_string()]))
                .await?;
        }
        Ok::<_, mdp::Error>(requests)
    });
    let mut seen = vec![false; count];
    let mut received = 0;
    while received < count {
        let reply = tokio::select! {
            reply = replies.recv() => reply?,
            _ = tokio::signal::ctrl_c() => { println!("E: interrupted"); break; }
            _ = tokio::time::sleep(Duration::from_secs(10)) => { println!("E: no reply for 10 s"); break; }
        };
        let n: usize = reply.body[0].to_str()?.parse()?;
        if !std::mem::replace(&mut seen[n], true) {
            received += 1;
        }
    }
    let _requests = sender.await??;
    let elapsed = started.elapsed();
    println!(
        "{received} replies received ({:.0} requests/s)",
        received as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    eprintln!("async_mdclient needs Unix (zmsg's tokio support waits on ZMQ_FD with AsyncFd)");
}
