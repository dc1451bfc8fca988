//! The async Majordomo worker against the blocking one, for a handler that waits on something
//! (a database, another service) for `--delay-ms` per request (default 1 ms): requests/s that
//! one worker process serves.
//!
//! usage: mdp_async_bench [--requests N] [--delay-ms MS] [--credit C] [--repeats R]
//!
//! One process: an in-process broker (its own thread), the worker under test, and an async
//! client that keeps every request in flight at once (all sent, then all received), over
//! tcp://127.0.0.1. The blocking `mdp::Worker` handles one request at a time (it sleeps);
//! `mdp::tokio::Worker` with credit C runs up to C handlers concurrently (each awaits a tokio
//! sleep). Prints one line per run and the medians, and the ratio async / blocking.

#![cfg_attr(not(unix), allow(dead_code))]

#[cfg(not(unix))]
fn main() {
    eprintln!("mdp_async_bench needs Unix (mdp::tokio waits on ZMQ_FD with AsyncFd)");
}

#[cfg(unix)]
fn main() -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(unix::main())
}

#[cfg(unix)]
mod unix {
    use std::time::{Duration, Instant};

    use anyhow::{Context, Result};
    use mdp::tokio::{Client, Job, Worker as AsyncWorker};
    use mdp::{Broker, BrokerConfig, ClientConfig, Worker, WorkerConfig};
    use zmsg::ZMsg;

    struct Args {
        requests: usize,
        delay: Duration,
        credit: u32,
        repeats: usize,
    }

    fn parse() -> Result<Args> {
        let mut args = Args {
            requests: 2000,
            delay: Duration::from_millis(1),
            credit: 32,
            repeats: 3,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--requests" => args.requests = value.parse()?,
                "--delay-ms" => args.delay = Duration::from_millis(value.parse()?),
                "--credit" => args.credit = value.parse()?,
                "--repeats" => args.repeats = value.parse()?,
                other => anyhow::bail!("unknown flag {other}"),
            }
        }
        Ok(args)
    }

    /// Sends `n` requests at once and waits for every reply; returns requests/s.
    async fn drive(endpoint: &str, service: &str, n: usize) -> Result<f64> {
        let mut client = Client::connect(endpoint, ClientConfig::default())?;
        // The worker must be registered before the clock starts.
        while client
            .request("mmi.service", ZMsg::from_iter([service]))
            .await?[0]
            .data()
            != b"200"
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = Instant::now();
        for i in 0..n {
            client
                .send(service, ZMsg::from_iter([i.to_string()]))
                .await?;
        }
        for _ in 0..n {
            tokio::time::timeout(Duration::from_secs(120), client.recv())
                .await
                .context("no reply for 120 s")??;
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    pub async fn main() -> Result<()> {
        let args = parse()?;
        let mut config = BrokerConfig::new(["tcp://127.0.0.1:*"]);
        config.stats_interval = None;
        let broker = Broker::spawn(config)?;
        let endpoint = broker.endpoints()[0].clone();
        let delay = args.delay;
        let (mut blocking, mut asynchronous) = (Vec::new(), Vec::new());
        for run in 0..args.repeats {
            // Blocking: one thread, one request at a time.
            let service = format!("blocking-{run}");
            let mut worker = Worker::connect(&endpoint, &service, WorkerConfig::default())?;
            let stop = worker.stop_handle();
            let thread = std::thread::spawn(move || {
                worker.run(|body: ZMsg| {
                    std::thread::sleep(delay);
                    body
                })
            });
            let rate = drive(&endpoint, &service, args.requests).await?;
            stop.stop();
            thread.join().expect("the worker thread")?;
            println!("blocking worker:        {rate:>10.0} requests/s");
            blocking.push(rate);

            // Async: up to `credit` handlers at once, each awaiting its delay.
            let service = format!("async-{run}");
            let config = WorkerConfig {
                credit: args.credit,
                ..WorkerConfig::default()
            };
            let worker = AsyncWorker::new(&endpoint, &service, config);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(worker.run_until(
                move |mut job: Job| async move {
                    tokio::time::sleep(delay).await;
                    Ok::<_, mdp::HandlerError>(job.take_body())
                },
                stopped,
            ));
            let rate = drive(&endpoint, &service, args.requests).await?;
            let _ = stop.send(());
            task.await??;
            println!(
                "async worker, credit {:>3}: {rate:>10.0} requests/s",
                args.credit
            );
            asynchronous.push(rate);
        }
        let (b, a) = (median(blocking), median(asynchronous));
        println!(
        "median: blocking {b:.0}/s, async (credit {}) {a:.0}/s, ratio {:.1}x (handler waits {:?})",
        args.credit,
        a / b,
        args.delay
    );
        broker.stop()?;
        Ok(())
    }
}
