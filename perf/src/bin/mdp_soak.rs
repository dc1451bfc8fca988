//! Broker soak: runs the `mdp-broker` binary, pushes many requests through it with echo workers
//! and records the broker's resident memory (VmRSS from `/proc/<pid>/status`) over time, to show
//! that it stays flat after warm-up. A benchmark, not a test: it prints a table and a summary.
//!
//! ```text
//! cargo build --release -p zmsg-mdp-cli --bin mdp-broker -p zmsg-perf --bin mdp_soak
//! target/release/mdp_soak [--requests 1000000] [--clients 4] [--window 1000] [--workers 4]
//!                         [--size 64] [--greedy 0] [--interval-ms 500] [--broker PATH]
//!                         [-- MDP-BROKER-ARGS...]
//! ```
//!
//! Each of `--clients` DEALER clients keeps up to `--window` requests in flight (MDP/0.1 frames
//! by hand, an 8-byte sequence number padded to `--size` bytes) until its share of `--requests`
//! is answered; every reply is checked against its request. `--greedy N` adds a client that
//! sends N requests at the start and reads nothing until the others are done, so the broker's
//! reply backlog is exercised too. A request the broker refuses (`mmi.refused`, flow control)
//! is counted and sent again. Arguments after `--` go to `mdp-broker`. Linux only (it reads
//! `/proc`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mdp::protocol::{ClientMessage, Part, Version, WorkerMessage, REFUSED};
use zmsg::{Events, SocketType, ZFrame, ZMsg, ZSocket};

struct Options {
    requests: u64,
    clients: u64,
    window: u64,
    workers: usize,
    size: usize,
    greedy: u64,
    interval: Duration,
    broker: Option<String>,
    broker_args: Vec<String>,
}

fn options() -> Options {
    let mut options = Options {
        requests: 1_000_000,
        clients: 4,
        window: 1_000,
        workers: 4,
        size: 64,
        greedy: 0,
        interval: Duration::from_millis(500),
        broker: None,
        broker_args: Vec::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--" {
            options.broker_args = args[i + 1..].to_vec();
            break;
        }
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let number = || value.parse::<u64>().unwrap_or_else(|_| usage(&args[i]));
        match args[i].as_str() {
            "--requests" => options.requests = number(),
            "--clients" => options.clients = number().max(1),
            "--window" => options.window = number().max(1),
            "--workers" => options.workers = number().max(1) as usize,
            "--size" => options.size = (number() as usize).max(8),
            "--greedy" => options.greedy = number(),
            "--interval-ms" => options.interval = Duration::from_millis(number().max(10)),
            "--broker" => options.broker = Some(value.clone()),
            other => usage(other),
        }
        i += 2;
    }
    options
}

fn usage(bad: &str) -> ! {
    eprintln!(
        "mdp_soak: bad argument {bad:?}\nusage: mdp_soak [--requests N] [--clients N] [--window N] \
         [--workers N] [--size BYTES] [--greedy N] [--interval-ms N] [--broker PATH]"
    );
    std::process::exit(2);
}

fn main() {
    let options = options();
    let broker_path = options.broker.clone().unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("own path");
        exe.with_file_name("mdp-broker").display().to_string()
    });
    let (mut broker, endpoint) = start_broker(&broker_path, &options.broker_args);
    let pid = broker.id();
    println!("broker {broker_path} pid {pid} on {endpoint}");
    println!(
        "requests {} clients {} window {} workers {} size {} greedy {}",
        options.requests,
        options.clients,
        options.window,
        options.workers,
        options.size,
        options.greedy
    );

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<JoinHandle<()>> = (0..options.workers)
        .map(|_| {
            let socket = dealer(&endpoint);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || echo_worker(&socket, &stop))
        })
        .collect();

    let done = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let greedy = (options.greedy > 0).then(|| {
        let socket = dealer(&endpoint);
        socket.set_rcvhwm(100).expect("rcvhwm");
        for seq in 0..options.greedy {
            send_request(&socket, seq, options.size);
        }
        socket
    });
    let started = Instant::now();
    let clients: Vec<JoinHandle<u64>> = (0..options.clients)
        .map(|n| {
            let share = options.requests / options.clients
                + u64::from(n < options.requests % options.clients);
            let socket = dealer(&endpoint);
            let done = Arc::clone(&done);
            let refused = Arc::clone(&refused);
            let (window, size) = (options.window, options.size);
            std::thread::spawn(move || {
                windowed_client(&socket, share, window, size, &done, &refused)
            })
        })
        .collect();

    println!("{:>8} {:>10} {:>10}", "t_s", "done", "rss_kib");
    let mut samples: Vec<(f64, u64, u64)> = Vec::new();
    loop {
        let finished = clients.iter().all(|c| c.is_finished());
        let sample = (
            started.elapsed().as_secs_f64(),
            done.load(Ordering::Relaxed),
            rss_kib(pid),
        );
        println!("{:>8.1} {:>10} {:>10}", sample.0, sample.1, sample.2);
        samples.push(sample);
        if finished {
            break;
        }
        std::thread::sleep(options.interval);
    }
    let elapsed = started.elapsed();
    let answered: u64 = clients.into_iter().map(|c| c.join().expect("client")).sum();
    let (mut greedy_answered, mut greedy_refused) = (0, 0);
    if let Some(socket) = &greedy {
        while greedy_answered + greedy_refused < options.greedy {
            match recv_reply(socket, Duration::from_secs(10)) {
                Some(Ok(_)) => greedy_answered += 1,
                Some(Err(_)) => greedy_refused += 1,
                None => break,
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let final_rss = rss_kib(pid);
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let stopped = broker
        .stdout
        .take()
        .map(|out| {
            BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .filter(|line| line.contains("stopped"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let _ = broker.wait();

    // Warm-up: the first 10% of the requests.
    let warm = samples
        .iter()
        .find(|s| s.1 >= options.requests / 10)
        .map_or(0, |s| s.2);
    let after: Vec<u64> = samples
        .iter()
        .filter(|s| s.1 >= options.requests / 10)
        .map(|s| s.2)
        .collect();
    let max_after = after.iter().copied().max().unwrap_or(0);
    let min_after = after.iter().copied().min().unwrap_or(0);
    println!("---");
    println!(
        "answered {answered}/{} in {:.1} s ({:.0} req/s), {} refusals resent; greedy \
         {greedy_answered}/{} answered, {greedy_refused} refused",
        options.requests,
        elapsed.as_secs_f64(),
        answered as f64 / elapsed.as_secs_f64(),
        refused.load(Ordering::Relaxed),
        options.greedy
    );
    println!(
        "broker RSS KiB: after warm-up {warm}, min {min_after}, max {max_after}, at the end \
         {final_rss} (growth after warm-up {} KiB)",
        max_after.saturating_sub(warm)
    );
    println!("{stopped}");
    if answered != options.requests || greedy_answered + greedy_refused != options.greedy {
        eprintln!("mdp_soak: replies missing");
        std::process::exit(1);
    }
}

/// Starts the broker on an ephemeral port and reads the endpoint it prints.
fn start_broker(path: &str, extra: &[String]) -> (Child, String) {
    let mut child = Command::new(path)
        .args(["--bind", "tcp://127.0.0.1:*"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            eprintln!(
                "mdp_soak: cannot start {path}: {err}\n(build it: cargo build --release -p zmsg-mdp-cli --bin mdp-broker)"
            );
            std::process::exit(1);
        });
    let stdout = child.stdout.take().expect("piped stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("broker output");
    let endpoint = line
        .trim()
        .strip_prefix("mdp-broker: listening on ")
        .unwrap_or_else(|| panic!("unexpected broker output {line:?}"))
        .to_owned();
    child.stdout = Some(reader.into_inner());
    (child, endpoint)
}

/// VmRSS of process `pid` in KiB (0 if unreadable).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn dealer(endpoint: &str) -> ZSocket {
    let socket = ZSocket::new(SocketType::Dealer).expect("socket");
    socket.set_linger(Some(Duration::ZERO)).expect("linger");
    socket.connect(endpoint).expect("connect");
    socket
}

fn send_request(socket: &ZSocket, seq: u64, size: usize) {
    let mut body = vec![0u8; size];
    body[..8].copy_from_slice(&seq.to_be_bytes());
    let request = ClientMessage::request("echo", ZMsg::from_iter([body]));
    socket
        .send_msg(request.encode(Version::V1))
        .expect("send request");
}

/// The next answer within `timeout`: `Ok(seq)` for a reply, `Err(seq)` for a refusal.
fn recv_reply(socket: &ZSocket, timeout: Duration) -> Option<Result<u64, u64>> {
    let ready = socket.poll(Events::POLLIN, Some(timeout)).ok()?;
    if !ready.contains(Events::POLLIN) {
        return None;
    }
    let msg = socket.recv_msg().ok()?;
    let (_, reply) = ClientMessage::decode_reply(msg).expect("a valid MDP reply");
    let (service, body) = reply.into_parts();
    let refused = service.data() == REFUSED;
    assert!(refused || service.data() == b"echo", "reply for {service}");
    let last = body.last()?;
    let seq = u64::from_be_bytes(last.data().get(..8)?.try_into().ok()?);
    Some(if refused { Err(seq) } else { Ok(seq) })
}

/// Keeps up to `window` requests in flight until `count` are answered; returns how many were.
fn windowed_client(
    socket: &ZSocket,
    count: u64,
    window: u64,
    size: usize,
    done: &AtomicU64,
    refused: &AtomicU64,
) -> u64 {
    let mut seen = vec![false; count as usize];
    let (mut sent, mut answered) = (0, 0);
    let mut retry = Vec::new();
    while answered < count {
        while let Some(seq) = retry.pop() {
            send_request(socket, seq, size);
        }
        while sent < count && sent - answered < window {
            send_request(socket, sent, size);
            sent += 1;
        }
        match recv_reply(socket, Duration::from_secs(10)) {
            Some(Err(seq)) => {
                refused.fetch_add(1, Ordering::Relaxed);
                retry.push(seq);
            }
            Some(Ok(seq)) => {
                let slot = &mut seen[seq as usize];
                assert!(!*slot, "reply {seq} twice");
                *slot = true;
                answered += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                eprintln!("mdp_soak: no reply for 10 s ({answered}/{count})");
                break;
            }
        }
    }
    answered
}

/// An echo worker: answers every REQUEST with its body and every HEARTBEAT with a HEARTBEAT.
fn echo_worker(socket: &ZSocket, stop: &AtomicBool) {
    let send = |command: WorkerMessage| socket.send_msg(command.encode(Version::V1));
    let ready = WorkerMessage::Ready {
        service: ZFrame::from("echo"),
        credit: 1,
    };
    send(ready).expect("READY");
    while !stop.load(Ordering::Relaxed) {
        match socket.poll(Events::POLLIN, Some(Duration::from_millis(100))) {
            Ok(ready) if ready.contains(Events::POLLIN) => {}
            _ => continue,
        }
        while let Ok(msg) = socket.recv_msg_dontwait() {
            let sent = match WorkerMessage::decode(msg) {
                Ok((_, WorkerMessage::Heartbeat)) => send(WorkerMessage::Heartbeat),
                Ok((_, WorkerMessage::Request { client, body })) => send(WorkerMessage::Reply {
                    part: Part::Final,
                    client,
                    body,
                }),
                _ => return,
            };
            if sent.is_err() {
                return;
            }
        }
    }
}
