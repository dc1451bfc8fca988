//! The Majordomo broker under overload (issue 8): no reply is lost silently, a client that does
//! not read cannot grow the broker past its configured bounds, and a client that leaves does
//! not leak its backlog. Clients and workers are raw DEALER sockets sending RFC 7 frames; every
//! test runs over tcp://127.0.0.1 and over ipc:// in a temporary directory.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mdp::protocol::{CLIENT_V1 as CLIENT, WORKER_V1 as WORKER};
use mdp::{Broker, BrokerConfig, BrokerHandle, Stats};
use zmsg::{Events, SocketType, ZFrame, ZMsg, ZSocket};

/// The bound on every wait for something that should happen. The 100 000-request test takes
/// several seconds on a fast machine, and ten times that under emulation.
const WAIT: Duration = Duration::from_secs(300);

/// The request expiry and client backlog timeout of every test but the one about that timeout:
/// none of them is about either, and a slow machine must not reach their defaults (30 s).
const NEVER: Duration = Duration::from_secs(3600);

const READY: u8 = 0x01;
const REQUEST: u8 = 0x02;
const REPLY: u8 = 0x03;
const HEARTBEAT: u8 = 0x04;
const DISCONNECT: u8 = 0x05;

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    Ipc,
}

/// A broker on `transport` (the temp dir holds the ipc socket file while the broker lives).
fn spawn(
    transport: Transport,
    setup: impl FnOnce(&mut BrokerConfig),
) -> (BrokerHandle, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = match transport {
        Transport::Tcp => "tcp://127.0.0.1:*".to_owned(),
        Transport::Ipc => format!("ipc://{}", dir.path().join("broker.ipc").display()),
    };
    let mut config = BrokerConfig::new([endpoint]);
    config.stats_interval = None;
    config.request_expiry = NEVER;
    config.client_backlog_timeout = NEVER;
    setup(&mut config);
    let broker = Broker::spawn(config).expect("broker starts");
    let endpoint = broker.endpoints()[0].clone();
    (broker, endpoint, dir)
}

fn dealer(endpoint: &str, setup: impl FnOnce(&ZSocket)) -> ZSocket {
    let socket = ZSocket::new(SocketType::Dealer).unwrap();
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    setup(&socket);
    socket.connect(endpoint).unwrap();
    socket
}

/// Echo workers on their own threads: each answers every REQUEST with its body (frames moved,
/// not copied) and every HEARTBEAT with a HEARTBEAT, until stopped.
struct EchoWorkers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<u64>>,
}

impl EchoWorkers {
    fn start(endpoint: &str, service: &str, count: usize) -> EchoWorkers {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..count)
            .map(|_| {
                let socket = dealer(endpoint, |_| {});
                let stop = Arc::clone(&stop);
                let service = service.to_owned();
                std::thread::spawn(move || echo_loop(&socket, &service, &stop))
            })
            .collect();
        EchoWorkers { stop, threads }
    }

    /// Stops the workers; returns how many requests each served.
    fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|thread| thread.join().expect("worker thread"))
            .collect()
    }
}

fn echo_loop(socket: &ZSocket, service: &str, stop: &AtomicBool) -> u64 {
    socket
        .send_multipart([&b""[..], WORKER, &[READY], service.as_bytes()])
        .unwrap();
    let mut served = 0;
    while !stop.load(Ordering::Relaxed) {
        let ready = socket
            .poll(Events::POLLIN, Some(Duration::from_millis(50)))
            .unwrap();
        if !ready.contains(Events::POLLIN) {
            continue;
        }
        loop {
            let mut msg = match socket.recv_msg_dontwait() {
                Ok(msg) => msg,
                Err(zmsg::Error::Again) => break,
                Err(err) => panic!("worker recv: {err}"),
            };
            assert!(msg.len() >= 3, "worker got {msg}");
            let command = msg[2].data().to_vec();
            if command == [HEARTBEAT] {
                socket
                    .send_multipart([&b""[..], WORKER, &[HEARTBEAT]])
                    .unwrap();
                continue;
            }
            if command == [DISCONNECT] {
                return served;
            }
            assert_eq!(command, [REQUEST], "worker got {msg}");
            // [ "", MDPW01, REQUEST, client, "", body... ] -> [ "", MDPW01, REPLY, client, "", body... ]
            msg.pop_frame();
            msg.pop_frame();
            msg.pop_frame();
            msg.push_frame(ZFrame::from(&[REPLY][..]));
            msg.push(WORKER);
            msg.push_frame(ZFrame::new());
            socket.send_msg(msg).unwrap();
            served += 1;
        }
    }
    served
}

/// Request body size in the 100 000-request test: an 8-byte sequence number and padding, so
/// that the replies outgrow the pipes and kernel socket buffers and the backlog is really used.
const BODY: usize = 512;
/// Request body size in the tests with tight limits (`LIMIT` such replies exceed the kernel's
/// socket buffers on loopback).
const BIG_BODY: usize = 4096;

fn request(socket: &ZSocket, service: &str, seq: u64) {
    request_sized(socket, service, seq, BODY);
}

fn request_sized(socket: &ZSocket, service: &str, seq: u64, size: usize) {
    let mut body = vec![0u8; size];
    body[..8].copy_from_slice(&seq.to_be_bytes());
    socket
        .send_multipart([&b""[..], CLIENT, service.as_bytes(), &body])
        .unwrap();
}

/// A client DEALER with small receive buffers (libzmq pipe and kernel), so that its pipe at the
/// broker fills quickly when it does not read.
fn slow_reader(endpoint: &str) -> ZSocket {
    dealer(endpoint, |s| {
        s.set_rcvhwm(100).unwrap();
        s.set_rcvbuf(4096).unwrap();
    })
}

/// What a client can receive from the broker.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// An echo reply carrying the request's sequence number.
    Reply(u64),
    /// `mmi.refused` with its code, carrying the refused request's sequence number.
    Refused(String, u64),
}

fn seq_of(frame: &[u8]) -> u64 {
    assert!(
        frame.len() == BODY || frame.len() == BIG_BODY,
        "the body comes back whole"
    );
    u64::from_be_bytes(frame[..8].try_into().expect("an 8-byte sequence number"))
}

/// The next message for a client, within `timeout`.
fn answer(socket: &ZSocket, service: &str, timeout: Duration) -> Option<Answer> {
    let ready = socket.poll(Events::POLLIN, Some(timeout)).unwrap();
    if !ready.contains(Events::POLLIN) {
        return None;
    }
    let msg: Vec<Vec<u8>> = socket
        .recv_msg()
        .unwrap()
        .iter()
        .map(|f| f.to_vec())
        .collect();
    assert!(msg.len() >= 4, "{msg:?}");
    assert!(msg[0].is_empty());
    assert_eq!(msg[1], CLIENT);
    if msg[2] == b"mmi.refused" {
        assert_eq!(msg.len(), 6, "{msg:?}");
        assert_eq!(msg[4], service.as_bytes());
        let code = String::from_utf8(msg[3].clone()).unwrap();
        return Some(Answer::Refused(code, seq_of(&msg[5])));
    }
    assert_eq!(msg[2], service.as_bytes());
    assert_eq!(msg.len(), 4, "{msg:?}");
    Some(Answer::Reply(seq_of(&msg[3])))
}

fn wait_stats(
    broker: &BrokerHandle,
    what: &str,
    mut condition: impl FnMut(&Stats) -> bool,
) -> Stats {
    let mut last = Stats::default();
    let held = support::wait_until(WAIT, || {
        last = broker.stats().unwrap();
        condition(&last)
    });
    assert!(held, "timed out waiting until {what}; stats: {last}");
    last
}

/// Waits until `count` workers are registered.
fn wait_workers(broker: &BrokerHandle, count: usize) {
    wait_stats(broker, "the workers are registered", |s| s.workers == count);
}

// ------------------------------------------------------------------ 100 000 pipelined requests

fn pipelined_100k(transport: Transport) {
    const N: u64 = 100_000;
    let (broker, endpoint, _dir) = spawn(transport, |_| {});
    let workers = EchoWorkers::start(&endpoint, "echo", 4);
    wait_workers(&broker, 4);

    let client = slow_reader(&endpoint);
    for seq in 0..N {
        request(&client, "echo", seq);
    }
    // The worst case for the broker: every request answered before the client reads anything.
    let stats = wait_stats(&broker, "every request is answered", |s| s.in_flight == 0);
    assert_eq!(stats.total.requests, N, "{stats}");
    assert!(
        stats.backlog_replies > 0,
        "replies wait in the backlog: {stats}"
    );
    let mut seen = vec![false; N as usize];
    for n in 0..N {
        match answer(&client, "echo", WAIT) {
            Some(Answer::Reply(seq)) => {
                assert!(seq < N, "unknown sequence number {seq}");
                assert!(!seen[seq as usize], "reply {seq} arrived twice");
                seen[seq as usize] = true;
            }
            other => panic!("after {n} replies: {other:?} ({})", broker.stats().unwrap()),
        }
    }
    assert!(seen.iter().all(|&s| s));
    assert_eq!(answer(&client, "echo", Duration::from_millis(100)), None);

    let stats = wait_stats(&broker, "every backlog is flushed", |s| {
        s.backlog_replies == 0 && s.in_flight == 0
    });
    assert_eq!(stats.total.requests, N, "{stats}");
    assert_eq!(stats.total.replies, N, "{stats}");
    assert_eq!(stats.total.drops, 0, "{stats}");
    assert_eq!(stats.total.refused, 0, "{stats}");
    assert_eq!(stats.backlog_bytes, 0, "{stats}");
    // 100 000 replies do not fit in the pipes: the backlog was used, and gave everything back.
    assert!(stats.global.backlogged > 0, "{stats}");
    let served = workers.stop();
    assert_eq!(served.iter().sum::<u64>(), N, "{served:?}");
    assert!(
        served.iter().all(|&n| n > 0),
        "every worker served: {served:?}"
    );
}

#[test]
fn pipelined_100k_requests_all_answered_tcp() {
    pipelined_100k(Transport::Tcp);
}

#[test]
fn pipelined_100k_requests_all_answered_ipc() {
    pipelined_100k(Transport::Ipc);
}

// ------------------------------------------------------------------ a client that never reads

const LIMIT: usize = 2_000;

/// Small pipes, so that the bounds are reached quickly.
fn tight(config: &mut BrokerConfig) {
    config.max_client_backlog = LIMIT;
    config.router_sndhwm = 100;
}

fn reader_that_never_reads(transport: Transport) {
    const N: u64 = 20_000;
    let (broker, endpoint, _dir) = spawn(transport, tight);
    let workers = EchoWorkers::start(&endpoint, "echo", 4);
    wait_workers(&broker, 4);

    let greedy = slow_reader(&endpoint);
    for seq in 0..N {
        request_sized(&greedy, "echo", seq, BIG_BODY);
        if seq % 1_000 == 999 {
            let stats = broker.stats().unwrap();
            assert!(
                stats.in_flight + stats.backlog_replies <= LIMIT,
                "the bound holds while sending: {stats}"
            );
        }
    }
    // Everything the broker took is either answered into the pipes, backlogged, or refused.
    let stats = wait_stats(&broker, "the greedy client's requests are settled", |s| {
        s.in_flight == 0 && s.total.requests == N
    });
    assert!(stats.backlog_replies > 0, "{stats}");
    assert!(stats.backlog_replies <= LIMIT, "{stats}");
    assert!(stats.backlog_bytes <= LIMIT * (BIG_BODY + 32), "{stats}");
    assert!(
        stats.total.refused > 0,
        "the greedy client was refused: {stats}"
    );
    assert_eq!(stats.total.drops, 0, "{stats}");

    // Meanwhile other clients are served as usual.
    let polite = dealer(&endpoint, |_| {});
    for seq in 0..200 {
        request(&polite, "echo", seq);
        assert_eq!(answer(&polite, "echo", WAIT), Some(Answer::Reply(seq)));
    }
    let during = broker.stats().unwrap();
    assert!(
        during.backlog_replies > 0 && during.backlog_replies <= LIMIT,
        "{during}"
    );

    // When the greedy client reads at last, it gets every request the broker accepted, and
    // only refusals for the others.
    let accepted = N - stats.total.refused;
    let mut replies = vec![false; N as usize];
    let mut got_replies = 0;
    while let Some(answer) = answer(&greedy, "echo", WAIT) {
        match answer {
            Answer::Reply(seq) => {
                assert!(!replies[seq as usize], "reply {seq} twice");
                replies[seq as usize] = true;
                got_replies += 1;
            }
            Answer::Refused(code, seq) => {
                assert_eq!(code, "429");
                assert!(!replies[seq as usize], "refused {seq} after its reply");
            }
        }
        if got_replies == accepted {
            break;
        }
    }
    assert_eq!(got_replies, accepted, "{}", broker.stats().unwrap());
    let stats = wait_stats(&broker, "the backlog is empty", |s| {
        s.backlog_replies == 0 && s.backlog_clients == 0
    });
    assert_eq!(stats.total.replies, accepted + 200, "{stats}");
    assert_eq!(stats.total.drops, 0, "{stats}");
    workers.stop();
}

#[test]
fn client_that_never_reads_stays_within_bounds_tcp() {
    reader_that_never_reads(Transport::Tcp);
}

#[test]
fn client_that_never_reads_stays_within_bounds_ipc() {
    reader_that_never_reads(Transport::Ipc);
}

// ------------------------------------------------------------------ a client that leaves

fn client_leaves_with_replies_pending(transport: Transport) {
    const N: u64 = 5_000;
    let (broker, endpoint, _dir) = spawn(transport, tight);
    let workers = EchoWorkers::start(&endpoint, "echo", 4);
    wait_workers(&broker, 4);

    let leaver = slow_reader(&endpoint);
    for seq in 0..N {
        request_sized(&leaver, "echo", seq, BIG_BODY);
    }
    let before = wait_stats(
        &broker,
        "the leaver has a backlog and nothing in flight",
        |s| s.backlog_replies > 0 && s.in_flight == 0 && s.total.requests == N,
    );
    drop(leaver);

    let after = wait_stats(&broker, "the backlog is released", |s| {
        s.backlog_replies == 0 && s.backlog_bytes == 0 && s.backlog_clients == 0 && s.clients == 0
    });
    assert!(
        after.global.backlog_unreachable >= before.backlog_replies as u64,
        "the dropped replies are counted: {after}"
    );
    assert_eq!(after.global.backlog_timeouts, 0, "{after}");
    assert_eq!(
        after.total.drops, after.global.backlog_unreachable,
        "{after}"
    );
    // The broker keeps serving.
    let next = dealer(&endpoint, |_| {});
    request(&next, "echo", 7);
    assert_eq!(answer(&next, "echo", WAIT), Some(Answer::Reply(7)));
    workers.stop();
}

#[test]
fn client_that_leaves_does_not_leak_its_backlog_tcp() {
    client_leaves_with_replies_pending(Transport::Tcp);
}

#[test]
fn client_that_leaves_does_not_leak_its_backlog_ipc() {
    client_leaves_with_replies_pending(Transport::Ipc);
}

// ------------------------------------------------------------------ a client that stalls

fn stalled_backlog_times_out(transport: Transport) {
    let (broker, endpoint, _dir) = spawn(transport, |config| {
        tight(config);
        config.client_backlog_timeout = Duration::from_millis(300);
    });
    let workers = EchoWorkers::start(&endpoint, "echo", 2);
    wait_workers(&broker, 2);
    // Connected, never reads: the backlog is dropped after the timeout, and counted.
    let staller = slow_reader(&endpoint);
    for seq in 0..3_000 {
        request_sized(&staller, "echo", seq, BIG_BODY);
    }
    let stats = wait_stats(&broker, "the stuck backlog is dropped", |s| {
        s.global.backlog_timeouts > 0 && s.backlog_replies == 0 && s.in_flight == 0
    });
    assert_eq!(stats.total.drops, stats.global.backlog_timeouts, "{stats}");
    assert_eq!(stats.global.backlog_unreachable, 0, "{stats}");
    workers.stop();
    drop(staller);
}

#[test]
fn stalled_backlog_times_out_tcp() {
    stalled_backlog_times_out(Transport::Tcp);
}

#[test]
fn stalled_backlog_times_out_ipc() {
    stalled_backlog_times_out(Transport::Ipc);
}

// ------------------------------------------------------------------ a full service queue

#[test]
fn full_service_queue_refuses_with_503() {
    let (broker, endpoint, _dir) = spawn(Transport::Tcp, |config| config.max_queue = 3);
    // No worker: requests queue up, the fourth is refused at once, and the body comes back.
    let client = dealer(&endpoint, |_| {});
    for seq in 0..4 {
        request(&client, "nobody", seq);
    }
    assert_eq!(
        answer(&client, "nobody", WAIT),
        Some(Answer::Refused("503".into(), 3))
    );
    let stats = broker.stats().unwrap();
    assert_eq!(stats.queued, 3, "{stats}");
    assert_eq!(stats.total.refused, 1, "{stats}");
    assert_eq!(stats.total.requests, 4, "{stats}");
    // A worker arrives: the three queued requests are served in order.
    let workers = EchoWorkers::start(&endpoint, "nobody", 1);
    for seq in 0..3 {
        assert_eq!(answer(&client, "nobody", WAIT), Some(Answer::Reply(seq)));
    }
    workers.stop();
}

#[test]
fn async_client_turns_a_refusal_into_a_typed_error() {
    let (broker, endpoint, _dir) = spawn(Transport::Ipc, |config| config.max_queue = 1);
    let mut client = mdp::AsyncClient::connect(&endpoint, mdp::ClientConfig::default()).unwrap();
    client.set_timeout(WAIT);
    for text in ["queued", "refused"] {
        client.send("nobody", ZMsg::from_iter([text])).unwrap();
    }
    match client.recv() {
        Err(mdp::Error::Refused {
            service,
            code,
            body,
        }) => {
            let mut body = body.into_inner();
            assert_eq!(service, "nobody");
            assert_eq!(code, mdp::RefusalCode::QueueFull);
            assert_eq!(body.pop_str().unwrap(), "refused");
            assert!(body.is_empty());
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(broker.stats().unwrap().total.refused, 1);
    // The queued request is served once a worker comes.
    let workers = EchoWorkers::start(&endpoint, "nobody", 1);
    let (service, mut body) = client.recv().unwrap();
    assert_eq!(service, "nobody");
    assert_eq!(body.pop_str().unwrap(), "queued");
    workers.stop();
}
