//! Async Majordomo worker (zmsg's own, on tokio): serves "echo" at the broker on
//! tcp://localhost:5555 with `mdp::tokio::Worker`, up to 32 requests at once (worker credit), each
//! as its own task.
//!
//! Usage: `async_mdworker [-v] [--delay-ms MS] [COUNT]`: each request waits MS milliseconds
//! (default 0) before it is echoed, like a handler that awaits a database; stops after COUNT
//! requests (default: until Ctrl-C).
#[cfg(unix)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use mdp::tokio::{Job, Worker};
    use mdp::WorkerConfig;

    let mut args = std::env::args().skip(1);
    let (mut verbose, mut delay, mut count) = (false, Duration::ZERO, None::<u64>);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-v" => verbose = true,
            "--delay-ms" => delay = Duration::from_millis(args.next().unwrap_or_default().parse()?),
            n => count = Some(n.parse()?),
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(if verbose { "debug" } else { "warn" })
        .init();

    let served = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let config = WorkerConfig {
        credit: 32,
        ..WorkerConfig::default()
    };
    let worker = Worker::new("tcp://localhost:5555", "echo", config);
    let (counter, finished) = (served.clone(), done.clone());
    let handler = move |mut job: Job| {
        let (counter, finished) = (counter.clone(), finished.clone());
        async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            if Some(n) == count {
                finished.notify_one();
            }
            Ok::<_, mdp::HandlerError>(job.take_body()) // Echo is complex... :-)
        }
    };
    let stop = async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => println!("W: interrupt received, killing worker..."),
            _ = done.notified() => {}
        }
    };
    worker.run_until(handler, stop).await?;
    println!("I: {} requests served", served.load(Ordering::SeqCst));
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    eprintln!("async_mdworker needs Unix (zmsg's tokio support waits on ZMQ_FD with AsyncFd)");
}
