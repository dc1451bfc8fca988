//! MDP broker benchmark: broker + echo workers + clients, against the ceiling of a raw
//! ROUTER/DEALER `zmq_proxy` with the same clients and echo workers, in one run.
//!
//! usage: mdp_bench [--workers N] [--clients K] [--depth D] [--credit C] [--seconds S]
//!                  [--repeats R] [--bodies 16,1024,...] [--more-workers 16]
//!                  [--modes sync,async,credit]
//!                  [--scale-workers 10,100,1000,10000] [--scale-services 1,10,100,1000]
//!
//! The broker (and, for the ceiling, the proxy) runs in a child process (this program started
//! again with `--serve-broker`/`--serve-proxy`), so its resident memory can be read from
//! `/proc/<pid>/status`; clients and echo workers are threads of this process, talking over
//! tcp://127.0.0.1. Idle workers for the dispatch-cost phases are registered by further child
//! processes (`--idle-workers`), each holding up to 5,000 DEALER sockets.
//!
//! Figures: requests/s (replies received in the measuring window / window), and p50/p99 of the
//! round trip (client send to client receive, timestamp carried in the body); the CPU time and
//! the context switches of both processes (this one and the broker's or proxy's) per request,
//! which depend much less on what else the machine runs.
//!
//! The ceiling's clients are the same `mdp::Client` / `mdp::AsyncClient` as the broker's; its
//! workers are raw DEALER echo loops, which send an MDP client request back as a valid reply.
//! One more row shows the proxy with bare DEALER clients (two frames per message, no MDP).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};
use zmsg::RecvFlags;

use anyhow::{anyhow, bail, Context, Result};
use mdp::protocol::{Version, WorkerMessage};
use mdp::{AsyncClient, Broker, BrokerConfig, Client, ClientConfig, Worker, WorkerConfig};
use zmsg::{SendFlags, SocketType, ZContext, ZFrame, ZMsg, ZSocket};

/// Heartbeat used by the broker and the workers here: long, so that idle workers (which do not
/// heartbeat) stay registered for a whole phase.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// The most idle workers one helper process registers (each DEALER needs two descriptors).
const IDLE_PER_PROCESS: usize = 5_000;
const SERVICE: &str = "echo";

struct Options {
    workers: usize,
    clients: usize,
    depth: usize,
    credit: u32,
    modes: Vec<String>,
    window: Duration,
    repeats: usize,
    bodies: Vec<usize>,
    scale_workers: Vec<usize>,
    scale_services: Vec<usize>,
    more_workers: Vec<usize>,
}

fn list(text: &str) -> Result<Vec<usize>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .with_context(|| format!("bad number {s:?}"))
        })
        .collect()
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut options = Options {
        workers: 4,
        clients: 4,
        depth: 32,
        credit: 32,
        modes: vec!["sync".into(), "async".into(), "credit".into()],
        window: Duration::from_secs(1),
        repeats: 3,
        bodies: vec![16, 1024, 16384],
        scale_workers: vec![10, 100, 1000, 10_000],
        scale_services: vec![1, 10, 100, 1000],
        more_workers: vec![16],
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| anyhow!("{flag} needs a value"))?;
        match flag.as_str() {
            "--workers" => options.workers = value.parse()?,
            "--clients" => options.clients = value.parse()?,
            "--depth" => options.depth = value.parse::<usize>()?.max(1),
            "--credit" => options.credit = value.parse::<u32>()?.max(1),
            "--modes" => {
                options.modes = value
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(Into::into)
                    .collect();
                if let Some(bad) = options
                    .modes
                    .iter()
                    .find(|m| !["sync", "async", "credit"].contains(&m.as_str()))
                {
                    bail!("--modes: unknown mode {bad:?} (sync, async, credit)");
                }
            }
            "--seconds" => options.window = Duration::from_secs_f64(value.parse()?),
            "--repeats" => options.repeats = value.parse::<usize>()?.max(1),
            "--bodies" => options.bodies = list(value)?,
            "--scale-workers" => options.scale_workers = list(value)?,
            "--scale-services" => options.scale_services = list(value)?,
            "--more-workers" => options.more_workers = list(value)?,
            other => bail!("unknown option {other} (see the usage in the source header)"),
        }
    }
    if options.workers == 0 || options.clients == 0 {
        bail!("--workers and --clients must be at least 1");
    }
    Ok(options)
}

// ------------------------------------------------------------------------------------------
// Bodies carry their send time, so every reply gives a round-trip time.

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamped_body(size: usize) -> ZFrame {
    let mut data = vec![0u8; size.max(8)];
    let nanos = epoch().elapsed().as_nanos() as u64;
    data[..8].copy_from_slice(&nanos.to_le_bytes());
    ZFrame::from(data)
}

/// Microseconds since the stamp in `frame`, if it has one.
fn rtt_us(frame: Option<&ZFrame>) -> Option<u32> {
    let data = frame?.data();
    let stamp = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    let now = epoch().elapsed().as_nanos() as u64;
    Some((now.saturating_sub(stamp) / 1000).min(u64::from(u32::MAX)) as u32)
}

#[derive(Default)]
struct Tally {
    replies: u64,
    rtts: Vec<u32>,
}

impl Tally {
    fn record(&mut self, rtt: Option<u32>) {
        self.replies += 1;
        if let Some(rtt) = rtt {
            self.rtts.push(rtt);
        }
    }
}

struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
    /// CPU time (user + system, every thread of this process and of the server process) per
    /// reply, in microseconds: what a request costs the machine, whatever else runs on it.
    cpu_us: f64,
    /// Context switches (every thread of both processes) per reply.
    switches: f64,
}

impl Figures {
    fn from(tallies: Vec<Tally>, window: Duration) -> Figures {
        let replies: u64 = tallies.iter().map(|t| t.replies).sum();
        let mut rtts: Vec<u32> = tallies.into_iter().flat_map(|t| t.rtts).collect();
        rtts.sort_unstable();
        let pct = |p: f64| -> f64 {
            if rtts.is_empty() {
                return f64::NAN;
            }
            let index = ((rtts.len() as f64 - 1.0) * p).round() as usize;
            f64::from(rtts[index])
        };
        Figures {
            rate: replies as f64 / window.as_secs_f64(),
            p50: pct(0.50),
            p99: pct(0.99),
            cpu_us: f64::NAN,
            switches: f64::NAN,
        }
    }
}

/// The figures of the median run (by requests/s).
fn median(mut runs: Vec<Figures>) -> Figures {
    runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    runs.swap_remove(runs.len() / 2)
}

/// CPU time (user + system) used so far by process `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / USER_HZ,
        _ => f64::NAN,
    }
}

/// Context switches (voluntary and not) so far, summed over the threads of process `pid`.
fn context_switches(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return f64::NAN;
    };
    let mut total = 0.0;
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            if line.starts_with("voluntary_ctxt_switches")
                || line.starts_with("nonvoluntary_ctxt_switches")
            {
                total += line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<f64>().ok())
                    .unwrap_or(0.0);
            }
        }
    }
    total
}

/// The unit of the times in `/proc/<pid>/stat`: Linux always reports them in 1/100 s.
const USER_HZ: f64 = 100.0;

/// Runs `clients` client threads (each given its index) that start together and measure for
/// `window`; each returns what it counted. `server` is the broker's or proxy's process, whose
/// CPU time counts with this process's.
fn measure<F>(clients: usize, window: Duration, server: u32, client: F) -> Result<Figures>
where
    F: Fn(usize, &Barrier, Duration) -> Result<Tally> + Sync,
{
    let barrier = Barrier::new(clients + 1);
    let cpu = || cpu_seconds(std::process::id()) + cpu_seconds(server);
    let switches = || context_switches(std::process::id()) + context_switches(server);
    let (tallies, used, switched) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|index| {
                let client = &client;
                let barrier = &barrier;
                scope.spawn(move || client(index, barrier, window))
            })
            .collect();
        barrier.wait();
        let (start, start_switches) = (cpu(), switches());
        let tallies = handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("a client thread panicked"))?)
            .collect::<Result<Vec<Tally>>>();
        (tallies, cpu() - start, switches() - start_switches)
    });
    let mut figures = Figures::from(tallies?, window);
    let replies = figures.rate * window.as_secs_f64();
    figures.cpu_us = used * 1e6 / replies;
    figures.switches = switched / replies;
    Ok(figures)
}

// ------------------------------------------------------------------------------------------
// Clients. Each connects, waits for the others (barrier), then loops until the window ends.

fn mdp_sync_client(
    endpoint: &str,
    body: usize,
    barrier: &Barrier,
    window: Duration,
) -> Result<Tally> {
    let config = ClientConfig {
        timeout: Duration::from_secs(10),
        retries: 1,
        ..ClientConfig::default()
    };
    let mut client = Client::connect(endpoint, config)?;
    // One request before the clock starts, so the connection is up.
    client.send(SERVICE, ZMsg::from_iter([stamped_body(body)]))?;
    barrier.wait();
    let mut tally = Tally::default();
    let end = Instant::now() + window;
    while Instant::now() < end {
        let reply = client.send(SERVICE, ZMsg::from_iter([stamped_body(body)]))?;
        if Instant::now() <= end {
            tally.record(rtt_us(reply.first()));
        }
    }
    Ok(tally)
}

fn mdp_async_client(
    endpoint: &str,
    body: usize,
    depth: usize,
    barrier: &Barrier,
    window: Duration,
) -> Result<Tally> {
    let config = ClientConfig {
        timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    };
    let mut client = AsyncClient::connect(endpoint, config)?;
    client.send(SERVICE, ZMsg::from_iter([stamped_body(body)]))?;
    client.recv()?;
    barrier.wait();
    let mut tally = Tally::default();
    let end = Instant::now() + window;
    let mut outstanding = 0usize;
    for _ in 0..depth {
        client.send(SERVICE, ZMsg::from_iter([stamped_body(body)]))?;
        outstanding += 1;
    }
    while outstanding > 0 {
        let (_, reply) = client.recv()?;
        outstanding -= 1;
        if Instant::now() <= end {
            tally.record(rtt_us(reply.first()));
            client.send(SERVICE, ZMsg::from_iter([stamped_body(body)]))?;
            outstanding += 1;
        }
    }
    Ok(tally)
}

/// A DEALER client of the raw proxy: sends [empty, body], gets [empty, body] back; keeps
/// `depth` requests in flight (1: synchronous).
fn raw_client(
    endpoint: &str,
    body: usize,
    depth: usize,
    barrier: &Barrier,
    window: Duration,
) -> Result<Tally> {
    let socket = ZSocket::new(SocketType::Dealer)?;
    socket.set_linger(Some(Duration::ZERO))?;
    socket.set_rcvtimeo(Some(Duration::from_millis(10_000)))?;
    socket.connect(endpoint)?;
    let send = |socket: &ZSocket| -> Result<()> {
        socket.send_frame(ZFrame::new(), SendFlags::MORE)?;
        socket.send_frame(stamped_body(body), SendFlags::NONE)?;
        Ok(())
    };
    let mut reply = ZMsg::new();
    send(&socket)?;
    socket.recv_msg_into(&mut reply, RecvFlags::NONE)?;
    barrier.wait();
    let mut tally = Tally::default();
    let end = Instant::now() + window;
    let mut outstanding = 0usize;
    for _ in 0..depth {
        send(&socket)?;
        outstanding += 1;
    }
    while outstanding > 0 {
        socket.recv_msg_into(&mut reply, RecvFlags::NONE)?;
        outstanding -= 1;
        if Instant::now() <= end {
            tally.record(rtt_us(reply.last()));
            send(&socket)?;
            outstanding += 1;
        }
    }
    Ok(tally)
}

// ------------------------------------------------------------------------------------------
// Echo workers: threads of this process, stopped at the end of a phase.

struct Workers {
    stop: Vec<Box<dyn Fn() + Send>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    fn mdp(endpoint: &str, count: usize, credit: u32) -> Result<Workers> {
        let mut workers = Workers {
            stop: Vec::new(),
            threads: Vec::new(),
        };
        for _ in 0..count {
            let config = WorkerConfig {
                heartbeat: HEARTBEAT,
                credit,
                ..WorkerConfig::default()
            };
            let mut worker = Worker::connect(endpoint, SERVICE, config)?;
            let handle = worker.stop_handle();
            workers.stop.push(Box::new(move || handle.stop()));
            workers.threads.push(std::thread::spawn(move || {
                if let Err(err) = worker.run(|body: ZMsg| body) {
                    eprintln!("mdp_bench: echo worker failed: {err}");
                }
            }));
        }
        Ok(workers)
    }

    fn raw(endpoint: &str, count: usize) -> Result<Workers> {
        let flag = Arc::new(AtomicBool::new(false));
        let mut workers = Workers {
            stop: Vec::new(),
            threads: Vec::new(),
        };
        for _ in 0..count {
            let socket = ZSocket::new(SocketType::Dealer)?;
            socket.set_linger(Some(Duration::ZERO))?;
            socket.set_rcvtimeo(Some(Duration::from_millis(100)))?;
            socket.connect(endpoint)?;
            let stop = flag.clone();
            workers.threads.push(std::thread::spawn(move || {
                let mut msg = ZMsg::new();
                while !stop.load(Ordering::Relaxed) {
                    match socket.recv_msg_into(&mut msg, RecvFlags::NONE) {
                        Ok(()) => {
                            if let Err(err) = socket.send_msg_ref(&mut msg, SendFlags::NONE) {
                                eprintln!("mdp_bench: raw echo worker failed: {err}");
                                return;
                            }
                        }
                        Err(err) if err.is_again() => {}
                        Err(err) => {
                            eprintln!("mdp_bench: raw echo worker failed: {err}");
                            return;
                        }
                    }
                }
            }));
        }
        workers
            .stop
            .push(Box::new(move || flag.store(true, Ordering::Relaxed)));
        Ok(workers)
    }

    fn stop(self) {
        for stop in &self.stop {
            stop();
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

// ------------------------------------------------------------------------------------------
// Child processes: the broker, the proxy and idle-worker holders, driven by lines on stdin.

struct Helper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    fn start(args: &[&str]) -> Result<Helper> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?);
        Ok(Helper {
            child,
            stdin,
            stdout,
        })
    }

    /// The helper's next line (it answers every command with one).
    fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("helper process {} ended", self.child.id());
        }
        Ok(line.trim_end().to_owned())
    }

    fn ask(&mut self, command: &str) -> Result<String> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        self.line()
    }

    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    fn finish(mut self) {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads commands from stdin until it closes; `answer` gives the reply line for each.
fn serve_stdin(mut answer: impl FnMut(&str) -> String) -> Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line?;
        writeln!(out, "{}", answer(line.trim()))?;
        out.flush()?;
    }
    Ok(())
}

fn serve_broker() -> Result<()> {
    let config = BrokerConfig {
        heartbeat: HEARTBEAT,
        stats_interval: None,
        ..BrokerConfig::new(["tcp://127.0.0.1:*"])
    };
    let broker = Broker::spawn(config)?;
    println!("{}", broker.endpoints()[0]);
    std::io::stdout().flush()?;
    serve_stdin(|command| match command {
        "workers" => broker
            .stats()
            .map(|s| s.workers.to_string())
            .unwrap_or_else(|e| format!("error {e}")),
        _ => "?".into(),
    })?;
    broker.stop()?;
    Ok(())
}

fn serve_proxy() -> Result<()> {
    let ctx = ZContext::new()?;
    let frontend = ctx.socket(SocketType::Router)?;
    let backend = ctx.socket(SocketType::Dealer)?;
    let front = frontend.bind("tcp://127.0.0.1:*")?;
    let back = backend.bind("tcp://127.0.0.1:*")?;
    println!("{front} {back}");
    std::io::stdout().flush()?;
    let proxy = std::thread::spawn(move || {
        // Returns when the context is shut down below.
        let _ = zmsg::proxy::proxy(&frontend, &backend, None);
    });
    serve_stdin(|_| "?".into())?;
    ctx.shutdown()?;
    let _ = proxy.join();
    Ok(())
}

/// Registers `count` idle workers (spread over `services` services named `idle-<n>`), answers
/// "ready", and on stdin's end says DISCONNECT for each.
fn serve_idle_workers(endpoint: &str, count: usize, services: usize, first: usize) -> Result<()> {
    let ctx = ZContext::new()?;
    ctx.set_max_sockets(i32::try_from(count + 16)?)?;
    ctx.set_linger(Some(Duration::from_millis(200)));
    let mut sockets = Vec::with_capacity(count);
    for n in 0..count {
        let socket = ctx.socket(SocketType::Dealer)?;
        socket.connect(endpoint)?;
        let service = format!("idle-{}", (first + n) % services.max(1));
        let ready = WorkerMessage::Ready {
            service: ZFrame::from(service),
            credit: 1,
        };
        socket.send_msg(ready.encode(Version::V1))?;
        sockets.push(socket);
    }
    println!("ready");
    std::io::stdout().flush()?;
    serve_stdin(|_| "?".into())?;
    for socket in &sockets {
        let _ = socket.send_msg(WorkerMessage::Disconnect.encode(Version::V1));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------

fn wait_for_workers(broker: &mut Helper, expected: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = broker.ask("workers")?;
        let count: usize = answer
            .parse()
            .map_err(|_| anyhow!("broker said {answer:?}"))?;
        if count == expected {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the broker has {count} workers, expected {expected}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn idle_helpers(endpoint: &str, count: usize, services: usize) -> Result<Vec<Helper>> {
    let mut helpers = Vec::new();
    let mut first = 0;
    while first < count {
        let chunk = IDLE_PER_PROCESS.min(count - first);
        let mut helper = Helper::start(&[
            "--idle-workers",
            endpoint,
            &chunk.to_string(),
            &services.to_string(),
            &first.to_string(),
        ])?;
        let ready = helper.line()?;
        if ready != "ready" {
            bail!("idle worker helper said {ready:?}");
        }
        helpers.push(helper);
        first += chunk;
    }
    Ok(helpers)
}

fn print_row(label: &str, figures: &Figures) {
    println!(
        "{label:<34} {:>10.0} req/s   p50 {:>7.0} us   p99 {:>7.0} us   cpu {:>5.1} us/req",
        figures.rate, figures.p50, figures.p99, figures.cpu_us
    );
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve-broker") => return serve_broker(),
        Some("--serve-proxy") => return serve_proxy(),
        Some("--idle-workers") => {
            let [_, endpoint, count, services, first] = args.as_slice() else {
                bail!("usage: --idle-workers <endpoint> <count> <services> <first>");
            };
            return serve_idle_workers(endpoint, count.parse()?, services.parse()?, first.parse()?);
        }
        _ => {}
    }
    let options = parse_options(&args)?;
    epoch();
    let window = options.window;
    println!(
        "MDP echo over tcp://127.0.0.1: {} echo workers, {} clients, async depth {} per client; \
         median of {} windows of {:.1} s per point (ceiling and broker alternate); broker and \
         proxy each in a child process",
        options.workers,
        options.clients,
        options.depth,
        options.repeats,
        window.as_secs_f64()
    );

    // --- Ceiling (zmq_proxy) and broker, side by side, for every mode and body size.
    println!();
    println!(
        "{:<24} {:>8} | {:>22} | {:>22} | {:>6} | {:>17} | {:>9}",
        "mode",
        "body",
        "zmq_proxy req/s p50/p99",
        "broker req/s p50/p99",
        "ratio",
        "cpu us/req  ratio",
        "ctx sw/req"
    );
    let mut proxy = Helper::start(&["--serve-proxy"])?;
    let endpoints = proxy.line()?;
    let (front, back) = endpoints
        .split_once(' ')
        .ok_or_else(|| anyhow!("proxy said {endpoints:?}"))?;
    let (front, back) = (front.to_owned(), back.to_owned());
    let mut broker = Helper::start(&["--serve-broker"])?;
    let broker_endpoint = broker.line()?;
    let rss_empty = broker.rss_kib();

    let mut rows: Vec<(usize, usize, usize, u32)> = Vec::new(); // (depth, body, workers, credit)
    let wants = |mode: &str| options.modes.iter().any(|m| m == mode);
    for &body in &options.bodies {
        if wants("sync") {
            rows.push((1, body, options.workers, 1));
        }
    }
    for (mode, credit) in [("async", 1), ("credit", options.credit)] {
        for &body in &options.bodies {
            if wants(mode) {
                rows.push((options.depth, body, options.workers, credit));
            }
        }
    }
    // More workers at credit 1: a plain MDP/0.1 worker holds one request at a time, so the async
    // rate grows with the number of workers while the proxy's does not need to.
    let first_body = options.bodies.first().copied().unwrap_or(16);
    for &workers in &options.more_workers {
        rows.push((options.depth, first_body, workers, 1));
    }
    for (depth, body, worker_count, credit) in rows {
        // Both sets of workers stay up for the row; ceiling and broker windows alternate.
        let raw_workers = Workers::raw(&back, worker_count)?;
        let workers = Workers::mdp(&broker_endpoint, worker_count, credit)?;
        wait_for_workers(&mut broker, worker_count)?;
        let (mut ceilings, mut mdps) = (Vec::new(), Vec::new());
        for _ in 0..options.repeats {
            // The same client code on both sides: mdp::Client / mdp::AsyncClient. Through the
            // proxy, a raw echo worker sends their MDP request back, which is a valid MDP reply.
            let client = |endpoint: &str, barrier: &Barrier, window: Duration| {
                if depth == 1 {
                    mdp_sync_client(endpoint, body, barrier, window)
                } else {
                    mdp_async_client(endpoint, body, depth, barrier, window)
                }
            };
            ceilings.push(measure(
                options.clients,
                window,
                proxy.child.id(),
                |_, barrier, window| client(&front, barrier, window),
            )?);
            mdps.push(measure(
                options.clients,
                window,
                broker.child.id(),
                |_, barrier, window| client(&broker_endpoint, barrier, window),
            )?);
        }
        raw_workers.stop();
        workers.stop();
        wait_for_workers(&mut broker, 0)?;
        let (ceiling, mdp) = (median(ceilings), median(mdps));
        let mode = if depth == 1 { "sync" } else { "async" };
        println!(
            "{:<24} {:>8} | {:>8.0} {:>5.0}/{:<7.0} | {:>8.0} {:>5.0}/{:<7.0} | {:>6.3} | {:>5.1} {:>5.1} {:>5.2} | {:>4.2} {:>4.2}",
            format!("{mode} d={depth} w={worker_count} c={credit}"),
            format!("{body} B"),
            ceiling.rate,
            ceiling.p50,
            ceiling.p99,
            mdp.rate,
            mdp.p50,
            mdp.p99,
            mdp.rate / ceiling.rate,
            ceiling.cpu_us,
            mdp.cpu_us,
            ceiling.cpu_us / mdp.cpu_us,
            ceiling.switches,
            mdp.switches,
        );
    }
    // For reference: the proxy with bare DEALER clients, which send [empty, body] (two frames
    // where an MDP client sends four, and no MDP checks on the reply).
    if wants("credit") || wants("async") {
        let body = options.bodies.first().copied().unwrap_or(16);
        let raw_workers = Workers::raw(&back, options.workers)?;
        let mut runs = Vec::new();
        for _ in 0..options.repeats {
            runs.push(measure(
                options.clients,
                window,
                proxy.child.id(),
                |_, barrier, window| raw_client(&front, body, options.depth, barrier, window),
            )?);
        }
        raw_workers.stop();
        let bare = median(runs);
        println!(
            "{:<24} {:>8} | {:>8.0} {:>5.0}/{:<7.0} | bare DEALER clients, for reference | {:>4.1} us/req",
            format!("async d={} w={}", options.depth, options.workers),
            format!("{body} B"),
            bare.rate,
            bare.p50,
            bare.p99,
            bare.cpu_us
        );
    }
    proxy.finish();

    // --- Dispatch cost: requests/s with more and more registered (idle) workers and services.
    let body = options.bodies.first().copied().unwrap_or(16);
    println!();
    println!(
        "dispatch cost: async MDP echo, {body} B bodies, {} active echo workers (credit {}) plus \
         idle registered workers (which never get requests: they serve other services)",
        options.workers, options.credit
    );
    let phase = |broker: &mut Helper, idle: usize, services: usize| -> Result<(Figures, u64)> {
        let helpers = idle_helpers(&broker_endpoint, idle, services)?;
        let workers = Workers::mdp(&broker_endpoint, options.workers, options.credit)?;
        wait_for_workers(broker, idle + options.workers)?;
        let rss = broker.rss_kib().unwrap_or(0);
        let mut runs = Vec::new();
        for _ in 0..options.repeats {
            runs.push(measure(
                options.clients,
                window,
                broker.child.id(),
                |_, barrier, window| {
                    mdp_async_client(&broker_endpoint, body, options.depth, barrier, window)
                },
            )?);
        }
        let figures = median(runs);
        workers.stop();
        for helper in helpers {
            helper.finish();
        }
        wait_for_workers(broker, 0)?;
        Ok((figures, rss))
    };
    let mut baseline = None;
    for &idle in &options.scale_workers {
        let (figures, rss) = phase(&mut broker, idle, 1)?;
        let base = *baseline.get_or_insert(figures.rate);
        print_row(&format!("{idle:>6} idle workers, 1 idle service"), &figures);
        println!(
            "{:<34} {:>10.3} x the first row; broker RSS {} KiB",
            "",
            figures.rate / base,
            rss
        );
    }
    let idle = 1000;
    let mut baseline = None;
    for &services in &options.scale_services {
        let (figures, rss) = phase(&mut broker, idle, services)?;
        let base = *baseline.get_or_insert(figures.rate);
        print_row(
            &format!("{idle} idle workers, {services:>4} services"),
            &figures,
        );
        println!(
            "{:<34} {:>10.3} x the first row; broker RSS {} KiB",
            "",
            figures.rate / base,
            rss
        );
    }
    println!();
    println!(
        "broker RSS: {} KiB idle at start, {} KiB at the end",
        rss_empty.unwrap_or(0),
        broker.rss_kib().unwrap_or(0)
    );
    broker.finish();
    Ok(())
}
