//! The Majordomo broker over real sockets: clients and workers are raw DEALER sockets sending
//! hand-made RFC 7 frames, so these tests depend on nothing but the broker and zmsg.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mdp::broker::{HookReply, HookRequest};
use mdp::protocol::{CLIENT_V1 as CLIENT, WORKER_V1 as WORKER};
use mdp::{Broker, BrokerConfig, BrokerHandle, BrokerHooks, HookAction, Route};
use zmsg::{Events, SocketType, ZCert, ZMsg, ZSocket};

/// The bound on every wait for something that should happen.
const WAIT: Duration = Duration::from_secs(10);

const READY: u8 = 0x01;
const REQUEST: u8 = 0x02;
const REPLY: u8 = 0x03;
const HEARTBEAT: u8 = 0x04;
const DISCONNECT: u8 = 0x05;

type Frames = Vec<Vec<u8>>;

/// Polls `condition` until it holds or `limit` passes; returns whether it held.
fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// Default timing (heartbeat 2.5 s, liveness 3), one ephemeral TCP port, no periodic logging.
fn config() -> BrokerConfig {
    let mut config = BrokerConfig::new(["tcp://127.0.0.1:*"]);
    config.stats_interval = None;
    config
}

/// Heartbeat 100 ms, liveness 10: workers that go silent are purged after 1 s, while a peer
/// that answers heartbeats survives a test thread that is held up for most of a second.
fn fast_config() -> BrokerConfig {
    let mut config = config();
    config.heartbeat = Duration::from_millis(100);
    config.liveness = 10;
    config
}

fn spawn(config: BrokerConfig) -> (BrokerHandle, String) {
    let broker = Broker::spawn(config).expect("broker starts");
    let endpoint = broker.endpoints()[0].clone();
    (broker, endpoint)
}

/// A hand-driven DEALER peer.
struct Peer {
    socket: ZSocket,
}

impl Peer {
    fn new(endpoint: &str) -> Peer {
        Peer::with(endpoint, |_| {})
    }

    /// A peer whose socket is configured by `setup` before it connects.
    fn with(endpoint: &str, setup: impl FnOnce(&ZSocket)) -> Peer {
        let socket = ZSocket::new(SocketType::Dealer).unwrap();
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        setup(&socket);
        socket.connect(endpoint).unwrap();
        Peer { socket }
    }

    fn send(&self, frames: &[&[u8]]) {
        self.socket.send_multipart(frames.iter().copied()).unwrap();
    }

    /// The next message, if one arrives within `timeout`.
    fn recv(&self, timeout: Duration) -> Option<Frames> {
        let ready = self.socket.poll(Events::POLLIN, Some(timeout)).unwrap();
        if !ready.contains(Events::POLLIN) {
            return None;
        }
        let msg = self.socket.recv_msg().unwrap();
        Some(msg.iter().map(|frame| frame.to_vec()).collect())
    }

    // --- worker side

    fn ready(&self, service: &str) {
        self.send(&[b"", WORKER, &[READY], service.as_bytes()]);
    }

    /// The next message that is not a HEARTBEAT; HEARTBEATs are answered, as a worker does.
    fn worker_recv(&self, timeout: Duration) -> Option<Frames> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.recv(left)?;
            if msg.len() == 3 && msg[2] == [HEARTBEAT] {
                assert_eq!(msg[..2], [b"".to_vec(), WORKER.to_vec()]);
                self.send(&[b"", WORKER, &[HEARTBEAT]]);
                continue;
            }
            return Some(msg);
        }
    }

    /// Waits for a REQUEST and returns (client address, body).
    fn expect_request(&self) -> (Vec<u8>, Frames) {
        let msg = self
            .worker_recv(WAIT)
            .expect("a REQUEST reaches the worker");
        parse_request(msg)
    }

    /// Waits for DISCONNECT. HEARTBEATs sent before the broker forgot this peer are skipped but
    /// not answered: an answer would reach a broker that no longer knows the peer, and count as
    /// one more unexpected command.
    fn expect_disconnect(&self) {
        let deadline = Instant::now() + WAIT;
        let msg = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.recv(left).expect("DISCONNECT reaches the peer");
            if msg.len() != 3 || msg[2] != [HEARTBEAT] {
                break msg;
            }
        };
        assert_eq!(msg, [b"".to_vec(), WORKER.to_vec(), vec![DISCONNECT]]);
    }

    fn reply(&self, client: &[u8], body: &[&[u8]]) {
        let mut frames: Vec<&[u8]> = vec![b"", WORKER, &[REPLY], client, b""];
        frames.extend_from_slice(body);
        self.send(&frames);
    }

    // --- client side

    fn request(&self, service: &str, body: &[&[u8]]) {
        let mut frames: Vec<&[u8]> = vec![b"", CLIENT, service.as_bytes()];
        frames.extend_from_slice(body);
        self.send(&frames);
    }

    /// Waits for a client REPLY for `service` and returns its body.
    fn expect_reply(&self, service: &str) -> Frames {
        let msg = self.recv(WAIT).expect("a REPLY reaches the client");
        assert!(msg.len() >= 3, "{msg:?}");
        assert!(msg[0].is_empty());
        assert_eq!(msg[1], CLIENT);
        assert_eq!(msg[2], service.as_bytes(), "{msg:?}");
        msg[3..].to_vec()
    }

    /// One MMI call: the reply body.
    fn mmi(&self, service: &str, arg: &str) -> Frames {
        self.request(service, &[arg.as_bytes()]);
        self.expect_reply(service)
    }
}

/// (client address, body) of a REQUEST message.
fn parse_request(msg: Frames) -> (Vec<u8>, Frames) {
    assert!(msg.len() >= 6, "REQUEST has 6+ frames: {msg:?}");
    assert!(msg[0].is_empty());
    assert_eq!(msg[1], WORKER);
    assert_eq!(msg[2], [REQUEST]);
    assert!(msg[4].is_empty());
    (msg[3].clone(), msg[5..].to_vec())
}

/// Waits until one of two registered workers gets a REQUEST (answering HEARTBEATs meanwhile,
/// which either may get first); returns (the one that got it, the other, (client, body)).
fn first_request<'a>(a: &'a Peer, b: &'a Peer) -> (&'a Peer, &'a Peer, (Vec<u8>, Frames)) {
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            Instant::now() < deadline,
            "no REQUEST reached either worker"
        );
        if let Some(msg) = a.worker_recv(Duration::from_millis(20)) {
            return (a, b, parse_request(msg));
        }
        if let Some(msg) = b.worker_recv(Duration::from_millis(20)) {
            return (b, a, parse_request(msg));
        }
    }
}

fn frames(items: &[&str]) -> Frames {
    items.iter().map(|item| item.as_bytes().to_vec()).collect()
}

/// Waits until the broker has `count` workers registered for `service`.
fn wait_workers(client: &Peer, service: &str, count: usize) {
    let want = frames(&["200", &count.to_string()]);
    assert!(
        wait_until(WAIT, || client.mmi("mmi.workers", service) == want),
        "{service} never had {count} workers"
    );
}

fn wait_stats(broker: &BrokerHandle, what: &str, cond: impl Fn(&mdp::Stats) -> bool) {
    assert!(
        wait_until(WAIT, || cond(&broker.stats().unwrap())),
        "{what}: {}",
        broker.stats().unwrap()
    );
}

#[test]
fn round_trip_with_multi_frame_binary_and_empty_bodies() {
    let (broker, endpoint) = spawn(config());
    let worker = Peer::new(&endpoint);
    worker.ready("echo");
    let client = Peer::new(&endpoint);
    let binary: Vec<u8> = (0..=255u8).collect();
    let large = vec![7u8; 100_000];
    let bodies: Vec<Vec<&[u8]>> = vec![
        vec![b"hello"],
        vec![b"one", b"", b"three", &binary],
        vec![b""],
        vec![&large, b"tail"],
    ];
    for body in &bodies {
        client.request("echo", body);
        let (address, got) = worker.expect_request();
        assert_eq!(&got, body);
        worker.reply(&address, body);
        assert_eq!(&client.expect_reply("echo"), body);
    }
    let stats = broker.stop().unwrap();
    assert_eq!(stats.total.requests, 4);
    assert_eq!(stats.total.replies, 4);
    assert_eq!(stats.services["echo"].replies, 4);
    assert_eq!(stats.global.invalid, 0);
}

#[test]
fn several_endpoints_and_queued_requests_served_in_order() {
    let ipc = format!("ipc:///tmp/mdp-broker-test-{}.ipc", std::process::id());
    let mut config = config();
    config.endpoints.push(ipc.clone());
    let (broker, tcp) = spawn(config);
    assert_eq!(broker.endpoints().len(), 2);
    assert!(broker.endpoints()[0].starts_with("tcp://127.0.0.1:"));
    assert_eq!(broker.endpoints()[1], ipc);

    let client = Peer::new(&tcp);
    for n in ["1", "2", "3"] {
        client.request("later", &[n.as_bytes()]);
    }
    assert!(wait_until(WAIT, || client.mmi("mmi.queue", "later")
        == frames(&["200", "3"])));
    let worker = Peer::new(&ipc);
    worker.ready("later");
    for n in ["1", "2", "3"] {
        let (address, body) = worker.expect_request();
        assert_eq!(body, frames(&[n]));
        worker.reply(&address, &[b"done", n.as_bytes()]);
        assert_eq!(client.expect_reply("later"), frames(&["done", n]));
    }
    assert_eq!(client.mmi("mmi.queue", "later"), frames(&["200", "0"]));
}

#[test]
fn many_workers_and_services() {
    let (broker, endpoint) = spawn(config());
    let stop = Arc::new(AtomicBool::new(false));
    let services = ["alpha", "beta", "gamma"];
    let mut threads = Vec::new();
    for service in services {
        for index in 0..3 {
            let endpoint = endpoint.clone();
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let worker = Peer::new(&endpoint);
                worker.ready(service);
                let mut served = 0;
                while !stop.load(Ordering::Relaxed) {
                    let Some(msg) = worker.worker_recv(Duration::from_millis(50)) else {
                        continue;
                    };
                    assert_eq!(msg[2], [REQUEST]);
                    let tag = format!("{service}/{index}");
                    let mut body: Vec<&[u8]> = vec![tag.as_bytes()];
                    body.extend(msg[5..].iter().map(Vec::as_slice));
                    worker.reply(&msg[3], &body);
                    served += 1;
                }
                served
            }));
        }
    }
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let endpoint = endpoint.clone();
            std::thread::spawn(move || {
                let client = Peer::new(&endpoint);
                for n in 0..30 {
                    let service = services[(c + n) % 3];
                    let body = format!("client {c} request {n}");
                    client.request(service, &[body.as_bytes()]);
                    let reply = client.expect_reply(service);
                    assert_eq!(reply.len(), 2);
                    assert!(reply[0].starts_with(format!("{service}/").as_bytes()));
                    assert_eq!(reply[1], body.as_bytes());
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let served: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(served, 120);
    let stats = broker.stop().unwrap();
    assert_eq!(stats.total.requests, 120);
    assert_eq!(stats.total.replies, 120);
    for service in services {
        assert_eq!(stats.services[service].replies, 40);
    }
}

#[test]
fn request_of_a_dead_worker_is_resent_to_another() {
    let (broker, endpoint) = spawn(fast_config());
    let client = Peer::new(&endpoint);
    let doomed = Peer::new(&endpoint);
    doomed.ready("slow");
    client.request("slow", &[b"job", b"42"]);
    let (_, body) = doomed.expect_request();
    assert_eq!(body, frames(&["job", "42"]));

    let survivor = Peer::new(&endpoint);
    survivor.ready("slow");
    drop(doomed); // dies holding the request, without a word
    let (address, body) = survivor.expect_request();
    assert_eq!(body, frames(&["job", "42"]));
    survivor.reply(&address, &[b"done"]);
    assert_eq!(client.expect_reply("slow"), frames(&["done"]));

    let stats = broker.stats().unwrap();
    assert_eq!(stats.services["slow"].resends, 1);
    assert_eq!(stats.services["slow"].replies, 1);
    assert!(
        stats.total.worker_expiries + stats.total.disconnects >= 1,
        "{stats}"
    );
}

#[test]
fn worker_credit_pipelines_requests_and_resends_them_all_in_order() {
    let (broker, endpoint) = spawn(config());
    let client = Peer::new(&endpoint);
    let worker = Peer::new(&endpoint);
    worker.send(&[b"", WORKER, &[READY], b"pipe", b"credit=3"]);
    wait_workers(&client, "pipe", 1);
    for i in 0..5 {
        client.request("pipe", &[format!("job {i}").as_bytes()]);
    }
    // Three requests reach the worker before it answers any; the other two wait.
    let held: Vec<(Vec<u8>, Frames)> = (0..3).map(|_| worker.expect_request()).collect();
    for (i, (_, body)) in held.iter().enumerate() {
        assert_eq!(body, &frames(&[&format!("job {i}")]));
    }
    wait_stats(&broker, "two requests queued", |s| s.queued == 2);

    // Each reply frees one place: job 3 follows the first reply.
    worker.reply(&held[0].0, &[b"done 0"]);
    assert_eq!(client.expect_reply("pipe"), frames(&["done 0"]));
    let (_, body) = worker.expect_request();
    assert_eq!(body, frames(&["job 3"]));
    wait_stats(&broker, "one request queued", |s| s.queued == 1);

    // It leaves holding jobs 1, 2 and 3: they go back to the front of the queue, in order.
    worker.send(&[b"", WORKER, &[DISCONNECT]]);
    wait_stats(&broker, "jobs 1-3 back in the queue", |s| {
        s.workers == 0 && s.queued == 4
    });
    let survivor = Peer::new(&endpoint);
    survivor.ready("pipe"); // a plain MDP/0.1 worker: one at a time
    for i in 1..5 {
        let (address, body) = survivor.expect_request();
        assert_eq!(body, frames(&[&format!("job {i}")]));
        survivor.reply(&address, &[format!("done {i}").as_bytes()]);
        assert_eq!(client.expect_reply("pipe"), frames(&[&format!("done {i}")]));
    }
    let stats = broker.stats().unwrap();
    assert_eq!(stats.services["pipe"].resends, 3, "{stats}");
    assert_eq!(stats.services["pipe"].replies, 5, "{stats}");
}

#[test]
fn ready_options_are_checked_and_credit_is_capped() {
    let mut config = config();
    config.max_worker_credit = 2;
    let (broker, endpoint) = spawn(config);
    let client = Peer::new(&endpoint);

    // A credit that is not a number from 1 up: the READY is dropped, and counted.
    let bad = Peer::new(&endpoint);
    bad.send(&[b"", WORKER, &[READY], b"opt", b"credit=0"]);
    bad.send(&[b"", WORKER, &[READY], b"opt", b"credit=lots"]);
    bad.send(&[b"", WORKER, &[READY], b"opt", b"no equals sign"]);
    wait_stats(&broker, "three invalid READYs", |s| s.global.invalid == 3);
    assert_eq!(broker.stats().unwrap().workers, 0);

    // Unknown options are ignored; a credit above the broker's limit is capped.
    let worker = Peer::new(&endpoint);
    worker.send(&[b"", WORKER, &[READY], b"opt", b"colour=blue", b"credit=5"]);
    wait_workers(&client, "opt", 1);
    for i in 0..3 {
        client.request("opt", &[format!("{i}").as_bytes()]);
    }
    let first = worker.expect_request();
    let second = worker.expect_request();
    assert_eq!(
        (first.1.clone(), second.1),
        (frames(&["0"]), frames(&["1"]))
    );
    wait_stats(&broker, "the third request waits", |s| s.queued == 1);
    worker.reply(&first.0, &[b"ok"]);
    assert_eq!(client.expect_reply("opt"), frames(&["ok"]));
    let (_, third) = worker.expect_request();
    assert_eq!(third, frames(&["2"]));
}

#[test]
fn silent_workers_expire_and_mmi_follows_live_workers() {
    let (broker, endpoint) = spawn(fast_config());
    let client = Peer::new(&endpoint);
    let mut worker = Peer::new(&endpoint);
    worker.ready("fleeting");
    let expiries = || {
        broker
            .stats()
            .unwrap()
            .services
            .get("fleeting")
            .map_or(0, |s| s.worker_expiries)
    };
    // Alive (answering heartbeats) until MMI has seen it. A held-up test thread may get it
    // purged meanwhile: it then registers again from a new socket, so that nothing addressed to
    // the purged one (a late DISCONNECT) can be mistaken for what follows. The expiries are
    // counted before MMI is asked: an expiry after that count can only be of the peer that MMI
    // then reports.
    let mut expired_before = 0;
    assert!(wait_until(WAIT, || {
        while let Some(msg) = worker.recv(Duration::ZERO) {
            if msg[2] == [HEARTBEAT] {
                worker.send(&[b"", WORKER, &[HEARTBEAT]]);
            } else {
                worker = Peer::new(&endpoint);
                worker.ready("fleeting");
                break;
            }
        }
        expired_before = expiries();
        client.mmi("mmi.service", "fleeting") == frames(&["200"])
    }));
    // ...then silent: it is purged, and told DISCONNECT.
    let msg = loop {
        let msg = worker.recv(WAIT).expect("HEARTBEATs, then DISCONNECT");
        if msg[2] != [HEARTBEAT] {
            break msg;
        }
    };
    assert_eq!(msg, [b"".to_vec(), WORKER.to_vec(), vec![DISCONNECT]]);
    assert_eq!(client.mmi("mmi.service", "fleeting"), frames(&["404"]));
    assert_eq!(expiries(), expired_before + 1);
}

#[test]
fn worker_disconnect_while_holding_a_request_resends_it() {
    let (broker, endpoint) = spawn(config());
    let client = Peer::new(&endpoint);
    let a = Peer::new(&endpoint);
    let b = Peer::new(&endpoint);
    a.ready("svc");
    b.ready("svc");
    wait_workers(&client, "svc", 2);
    client.request("svc", &[b"payload"]);
    // Whichever worker got it says DISCONNECT; the other one must get the request.
    let (holder, other, (_, body)) = first_request(&a, &b);
    assert_eq!(body, frames(&["payload"]));
    holder.send(&[b"", WORKER, &[DISCONNECT]]);
    let (address, body) = other.expect_request();
    assert_eq!(body, frames(&["payload"]));
    other.reply(&address, &[b"ok"]);
    assert_eq!(client.expect_reply("svc"), frames(&["ok"]));
    let stats = broker.stop().unwrap();
    assert_eq!(stats.services["svc"].disconnects, 1);
    assert_eq!(stats.services["svc"].resends, 1);
    assert_eq!(stats.global.unexpected, 0);
}

#[test]
fn malformed_messages_are_dropped_and_the_broker_keeps_serving() {
    let (broker, endpoint) = spawn(config());
    let attacker = Peer::new(&endpoint);
    let bad: Vec<Vec<&[u8]>> = vec![
        vec![b"garbage"],
        vec![b"not-empty", CLIENT, b"echo", b"x"],
        vec![b""],
        vec![b"", b"XXXXXX", b"echo", b"x"],
        vec![b"", b"MDPC02", b"echo", b"x"],
        vec![b"", b"MDPW02", &[READY], b"echo"],
        vec![b"", CLIENT],
        vec![b"", CLIENT, b"echo"],
        vec![b"", CLIENT, b"", b"body"],
        vec![b"", WORKER],
        vec![b"", WORKER, &[0x09]],
        vec![b"", WORKER, &[0x00]],
        vec![b"", WORKER, &[READY, 0]],
        vec![b"", WORKER, &[READY]],
        vec![b"", WORKER, &[READY], b""],
        vec![b"", WORKER, &[READY], b"echo", b"extra"],
        vec![b"", WORKER, &[HEARTBEAT], b"extra"],
        vec![b"", WORKER, &[DISCONNECT], b"extra"],
        vec![b"", WORKER, &[REPLY], b"client"],
        vec![b"", WORKER, &[REPLY], b"client", b""],
        vec![b"", WORKER, &[REPLY], b"client", b"not-empty", b"body"],
        vec![b"", WORKER, &[REQUEST], b"client", b"x", b"body"],
    ];
    for msg in &bad {
        attacker.send(msg);
    }
    let count = bad.len() as u64;
    wait_stats(&broker, "all malformed messages counted", |s| {
        s.global.invalid == count
    });

    // Still serving, and the attacker got nothing back: the first thing it receives is the
    // answer to its own valid MMI call.
    let worker = Peer::new(&endpoint);
    worker.ready("echo");
    let client = Peer::new(&endpoint);
    client.request("echo", &[b"still there?"]);
    let (address, _) = worker.expect_request();
    worker.reply(&address, &[b"yes"]);
    assert_eq!(client.expect_reply("echo"), frames(&["yes"]));
    assert_eq!(attacker.mmi("mmi.service", "echo"), frames(&["200"]));
    let stats = broker.stop().unwrap();
    assert_eq!(stats.global.invalid, count);
    assert_eq!(stats.global.unexpected, 0);
    assert_eq!(stats.total.requests, 1);
}

#[test]
fn unexpected_worker_commands_get_disconnect() {
    let (broker, endpoint) = spawn(config());
    let client = Peer::new(&endpoint);

    let early_heartbeat = Peer::new(&endpoint);
    early_heartbeat.send(&[b"", WORKER, &[HEARTBEAT]]);
    early_heartbeat.expect_disconnect();

    let early_reply = Peer::new(&endpoint);
    early_reply.reply(b"someone", &[b"body"]);
    early_reply.expect_disconnect();

    let mmi_worker = Peer::new(&endpoint);
    mmi_worker.ready("mmi.service");
    mmi_worker.expect_disconnect();

    let twice = Peer::new(&endpoint);
    twice.ready("twice");
    twice.ready("twice");
    twice.expect_disconnect();

    let requester = Peer::new(&endpoint);
    requester.ready("requester");
    requester.send(&[b"", WORKER, &[REQUEST], b"client", b"", b"body"]);
    requester.expect_disconnect();

    let idle_reply = Peer::new(&endpoint);
    idle_reply.ready("idle");
    idle_reply.reply(b"nobody", &[b"body"]);
    idle_reply.expect_disconnect();

    // All of them are forgotten.
    for service in ["twice", "requester", "idle", "mmi.service"] {
        assert_eq!(client.mmi("mmi.workers", service), frames(&["200", "0"]));
    }
    // A DISCONNECT from an unknown peer is not answered; its next READY registers it.
    let quiet = Peer::new(&endpoint);
    quiet.send(&[b"", WORKER, &[DISCONNECT]]);
    quiet.ready("quiet");
    wait_workers(&client, "quiet", 1);
    client.request("quiet", &[b"x"]);
    let (address, _) = quiet.expect_request();
    quiet.reply(&address, &[b"y"]);
    assert_eq!(client.expect_reply("quiet"), frames(&["y"]));

    let stats = broker.stop().unwrap();
    assert_eq!(stats.global.unexpected, 6);
    assert_eq!(stats.global.invalid, 0);
}

#[test]
fn forged_reply_never_reaches_the_client() {
    let (broker, endpoint) = spawn(config());
    let client = Peer::new(&endpoint);
    let honest = Peer::new(&endpoint);
    honest.ready("bank");
    client.request("bank", &[b"balance?"]);
    let (address, _) = honest.expect_request();

    // Another registered worker (idle) and an unregistered peer try to answer for it.
    let forger = Peer::new(&endpoint);
    forger.ready("bank");
    wait_workers(&client, "bank", 2);
    forger.reply(&address, &[b"forged"]);
    forger.expect_disconnect();
    let stranger = Peer::new(&endpoint);
    stranger.reply(&address, &[b"forged too"]);
    stranger.expect_disconnect();

    honest.reply(&address, &[b"100"]);
    assert_eq!(client.expect_reply("bank"), frames(&["100"]));

    // A worker answering with another client's address is disconnected, and the request it
    // held goes to another worker.
    let second = Peer::new(&endpoint);
    second.ready("bank");
    wait_workers(&client, "bank", 2);
    client.request("bank", &[b"again"]);
    let (holder, other, (address, _)) = first_request(&honest, &second);
    holder.reply(b"other-client", &[b"wrong"]);
    holder.expect_disconnect();
    let (resent_to, body) = other.expect_request();
    assert_eq!(resent_to, address);
    assert_eq!(body, frames(&["again"]));
    other.reply(&address, &[b"right"]);
    assert_eq!(client.expect_reply("bank"), frames(&["right"]));

    let stats = broker.stop().unwrap();
    assert_eq!(stats.global.unexpected, 3);
    assert_eq!(stats.services["bank"].replies, 2);
}

#[test]
fn mmi_codes_and_extras() {
    let (broker, endpoint) = spawn(config());
    let client = Peer::new(&endpoint);
    // Registered one at a time, so workers[0] is the longest idle "echo" worker.
    let workers: Vec<Peer> = [("echo", 1), ("echo", 2), ("time", 1)]
        .iter()
        .map(|&(service, count)| {
            let worker = Peer::new(&endpoint);
            worker.ready(service);
            wait_workers(&client, service, count);
            worker
        })
        .collect();
    client.request("nobody", &[b"waiting"]);
    client.request("nobody", &[b"waiting"]);
    assert!(wait_until(WAIT, || client.mmi("mmi.queue", "nobody")
        == frames(&["200", "2"])));

    assert_eq!(client.mmi("mmi.service", "echo"), frames(&["200"]));
    assert_eq!(client.mmi("mmi.service", "nobody"), frames(&["404"]));
    assert_eq!(client.mmi("mmi.service", ""), frames(&["404"]));
    assert_eq!(client.mmi("mmi.nonsense", "x"), frames(&["501"]));
    assert_eq!(
        client.mmi("mmi.services", ""),
        frames(&["200", "echo", "time"])
    );
    assert_eq!(
        client.mmi("mmi.workers", ""),
        frames(&["200", "echo", "2", "time", "1"])
    );
    assert_eq!(client.mmi("mmi.workers", "nobody"), frames(&["200", "0"]));
    assert_eq!(client.mmi("mmi.queue", ""), frames(&["200", "nobody", "2"]));

    // Serve one echo request, then read the counters.
    client.request("echo", &[b"hi"]);
    let (address, _) = workers[0].expect_request();
    workers[0].reply(&address, &[b"hi"]);
    client.expect_reply("echo");
    let stats = client.mmi("mmi.stats", "echo");
    assert_eq!(
        stats,
        frames(&[
            "200",
            "requests=1",
            "replies=1",
            "partials=0",
            "resends=0",
            "drops=0",
            "refused=0",
            "abandoned=0",
            "disconnects=0",
            "expiries=0",
            "worker_expiries=0",
            "request_timeouts=0",
            "refused_413=0",
            "refused_429=0",
            "refused_503=0",
            "refused_504=0",
            "refused_507=0",
            "workers=2",
            "queued=0",
            "queued_bytes=0"
        ])
    );
    assert_eq!(
        client.mmi("mmi.known", ""),
        frames(&["200", "echo", "nobody", "time"])
    );
    let total = client.mmi("mmi.stats", "");
    assert_eq!(total[0], b"200");
    assert!(total.contains(&b"requests=3".to_vec()), "{total:?}");
    assert!(total.contains(&b"workers=3".to_vec()), "{total:?}");
    assert!(total.contains(&b"queued=2".to_vec()), "{total:?}");
    assert_eq!(client.mmi("mmi.stats", "unknown"), frames(&["404"]));
    assert!(broker.stats().unwrap().global.mmi >= 12);
}

#[test]
fn queued_requests_expire() {
    let mut config = config();
    config.heartbeat = Duration::from_millis(50);
    // Requests are checked for expiry at each heartbeat; the worker below answers heartbeats
    // only while it waits for its request, so it gets a liveness that no test thread held up
    // by a slow machine reaches.
    config.liveness = 200;
    config.request_expiry = Duration::from_millis(200);
    let (broker, endpoint) = spawn(config);
    let client = Peer::new(&endpoint);
    client.request("late", &[b"first"]);
    wait_stats(&broker, "the request expires", |s| s.total.expiries == 1);
    assert_eq!(client.mmi("mmi.queue", "late"), frames(&["200", "0"]));

    // A worker that arrives now gets only what is asked now; the client never hears of "first".
    // It is registered before "second" is sent, so "second" is dispatched as it arrives instead
    // of waiting in the queue, where it could expire if the worker's READY were slow to come.
    let worker = Peer::new(&endpoint);
    worker.ready("late");
    wait_workers(&client, "late", 1);
    client.request("late", &[b"second"]);
    let (address, body) = worker.expect_request();
    assert_eq!(body, frames(&["second"]));
    worker.reply(&address, &[b"ok"]);
    assert_eq!(client.expect_reply("late"), frames(&["ok"]));
    // "late" had no worker when its request expired, so its record was dropped then (only the
    // totals remember); the record made when the worker came has fresh counters.
    let stats = broker.stop().unwrap();
    assert_eq!(stats.total.expiries, 1);
    assert_eq!(stats.services["late"].expiries, 0);
    assert_eq!(stats.services["late"].replies, 1);
}

/// Hooks for the test below: see the match arms.
struct TestHooks;

impl BrokerHooks for TestHooks {
    fn on_request(&mut self, request: HookRequest<'_>) -> HookAction {
        match request.service {
            b"drop" => HookAction::Drop,
            b"answer" => {
                let mut body = ZMsg::new();
                body.append("answered by hook");
                body.append(request.client.len() as u32);
                HookAction::Answer(body)
            }
            b"old" => HookAction::Redirect(Route::Service(b"echo".to_vec())),
            b"pin" => HookAction::Redirect(Route::Peer(b"pinned-worker".to_vec())),
            b"nowhere" => HookAction::Redirect(Route::Peer(b"no-such-worker".to_vec())),
            _ => {
                request.body.append("seen");
                HookAction::Forward
            }
        }
    }

    fn on_reply(&mut self, reply: HookReply<'_>) -> HookAction {
        match reply.body.first().map(|f| f.data()) {
            Some(b"secret") => HookAction::Drop,
            Some(b"rewrite") => HookAction::Answer(ZMsg::from_iter(["rewritten"])),
            _ => HookAction::Forward,
        }
    }
}

#[test]
fn hooks_forward_drop_redirect_and_answer() {
    let (broker, endpoint) = Broker::spawn_with_hooks(config(), TestHooks)
        .map(|b| {
            let endpoint = b.endpoints()[0].clone();
            (b, endpoint)
        })
        .unwrap();
    let client = Peer::new(&endpoint);
    let echo = Peer::new(&endpoint);
    echo.ready("echo");
    let pinned = Peer::with(&endpoint, |s| s.set_routing_id(b"pinned-worker").unwrap());
    pinned.ready("other");
    wait_workers(&client, "echo", 1);
    wait_workers(&client, "other", 1);

    // Answer: straight from the hook.
    client.request("answer", &[b"x"]);
    let reply = client.expect_reply("answer");
    assert_eq!(reply[0], b"answered by hook");
    assert_eq!(reply[1].len(), 4);

    // Drop, then Forward (the hook added a frame): the first reply the client sees is the
    // forwarded one.
    client.request("drop", &[b"gone"]);
    client.request("echo", &[b"kept"]);
    let (address, body) = echo.expect_request();
    assert_eq!(body, frames(&["kept", "seen"]));
    echo.reply(&address, &[b"kept"]);
    assert_eq!(client.expect_reply("echo"), frames(&["kept"]));

    // Redirect to a service: the echo worker serves it, the reply names the asked service.
    client.request("old", &[b"legacy"]);
    let (address, body) = echo.expect_request();
    assert_eq!(body, frames(&["legacy"]));
    echo.reply(&address, &[b"modern"]);
    assert_eq!(client.expect_reply("old"), frames(&["modern"]));

    // Redirect to one worker by identity.
    client.request("pin", &[b"for you"]);
    let (address, body) = pinned.expect_request();
    assert_eq!(body, frames(&["for you"]));
    pinned.reply(&address, &[b"from pinned"]);
    assert_eq!(client.expect_reply("pin"), frames(&["from pinned"]));

    // Reply hooks: a dropped reply, then a rewritten one; the client only sees the second.
    client.request("nowhere", &[b"lost"]);
    client.request("echo", &[b"a"]);
    let (address, _) = echo.expect_request();
    echo.reply(&address, &[b"secret"]);
    client.request("echo", &[b"b"]);
    let (address, _) = echo.expect_request();
    echo.reply(&address, &[b"rewrite"]);
    assert_eq!(client.expect_reply("echo"), frames(&["rewritten"]));

    let stats = broker.stop().unwrap();
    assert_eq!(stats.services["echo"].drops, 1);
    assert_eq!(stats.total.drops, 3, "{stats}"); // "drop", "nowhere", "secret"
}

#[test]
fn curve_with_the_right_key_works_and_a_wrong_key_gets_nothing_through() {
    let broker_cert = ZCert::new().unwrap();
    let mut config = config();
    config.curve = Some(broker_cert.clone());
    let (broker, endpoint) = spawn(config);
    assert_eq!(broker.public_key(), Some(broker_cert.public_txt().as_str()));

    let secure = |server_key: &[u8]| {
        let server_key = server_key.to_vec();
        Peer::with(&endpoint, move |socket| {
            ZCert::new().unwrap().apply(socket).unwrap();
            socket.set_curve_serverkey(&server_key).unwrap();
        })
    };
    let worker = secure(broker_cert.public_key());
    worker.ready("vault");
    let client = secure(broker_cert.public_key());
    client.request("vault", &[b"open"]);
    let (address, body) = worker.expect_request();
    assert_eq!(body, frames(&["open"]));
    worker.reply(&address, &[b"opened"]);
    assert_eq!(client.expect_reply("vault"), frames(&["opened"]));

    let impostor_key = ZCert::new().unwrap();
    let wrong = secure(impostor_key.public_key());
    wrong.request("vault", &[b"let me in"]);
    let plain = Peer::new(&endpoint);
    plain.request("vault", &[b"let me in"]);
    // Neither handshake completes: nothing arrives, and the broker never saw the requests.
    assert_eq!(wrong.recv(Duration::from_millis(500)), None);
    assert_eq!(plain.recv(Duration::from_millis(100)), None);
    assert_eq!(worker.worker_recv(Duration::from_millis(100)), None);
    let stats = broker.stop().unwrap();
    assert_eq!(stats.total.requests, 1);
    assert_eq!(stats.global.invalid, 0);
}

#[test]
fn seeded_fuzz_never_breaks_the_broker() {
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    let (broker, endpoint) = spawn(config());
    let fuzzers: Vec<Peer> = (0..3).map(|_| Peer::new(&endpoint)).collect();

    // Frames: protocol words mixed with random bytes, so that many messages get past the first
    // checks and fail deeper.
    let frame = prop_oneof![
        Just(Vec::new()),
        Just(CLIENT.to_vec()),
        Just(WORKER.to_vec()),
        Just(b"MDPC02".to_vec()),
        Just(b"MDPW02".to_vec()),
        (0u8..8).prop_map(|b| vec![b]),
        Just(b"echo".to_vec()),
        Just(b"mmi.service".to_vec()),
        Just(b"mmi.nothing".to_vec()),
        Just(b"credit=3".to_vec()),
        Just(b"credit=0".to_vec()),
        Just(b"credit=".to_vec()),
        Just(b"colour=blue".to_vec()),
        vec(any::<u8>(), 0..48),
    ];
    let message = vec(frame, 0..8);
    let case = vec((0usize..3, message), 1..12);

    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 200,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let rounds = std::cell::Cell::new(0u32);
    runner
        .run(&case, |messages| {
            for (from, frames) in &messages {
                let parts: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
                if !parts.is_empty() {
                    fuzzers[*from].send(&parts);
                }
            }
            // Each fuzzer's own MMI call comes after its fuzz on the same connection, so its
            // answer proves the broker got through all of it.
            for fuzzer in &fuzzers {
                fuzzer.request("mmi.queue", &[b"probe"]);
                let deadline = Instant::now() + WAIT;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let msg = fuzzer.recv(left).expect("the broker answers after fuzz");
                    if msg.len() == 5 && msg[1] == CLIENT && msg[2] == b"mmi.queue" {
                        prop_assert_eq!(&msg[3..], &frames(&["200", "0"])[..]);
                        break;
                    }
                }
            }
            rounds.set(rounds.get() + 1);
            Ok(())
        })
        .unwrap();

    // And it still serves a fresh worker and client.
    let service = format!("check-{}", rounds.get());
    let worker = Peer::new(&endpoint);
    worker.ready(&service);
    let client = Peer::new(&endpoint);
    client.request(&service, &[b"ping"]);
    let (address, body) = worker.expect_request();
    assert_eq!(body, frames(&["ping"]));
    worker.reply(&address, &[b"pong"]);
    assert_eq!(client.expect_reply(&service), frames(&["pong"]));
    assert_eq!(client.mmi("mmi.service", &service), frames(&["200"]));
    let stats = broker.stop().unwrap();
    assert!(stats.global.invalid > 0);
}

/// `Broker::publish_stats`: another thread reads snapshots the loop publishes, without asking
/// the loop anything; they follow the broker's state.
#[test]
fn published_stats_follow_the_broker_and_never_ask_the_loop() {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn({
        let stop = Arc::clone(&stop);
        move || {
            let mut broker = Broker::bind(config()).unwrap();
            let feed = broker.publish_stats(Duration::from_millis(20));
            tx.send((feed, broker.endpoints()[0].clone())).unwrap();
            while !stop.load(Ordering::Relaxed) {
                broker.run_once(Some(Duration::from_millis(10))).unwrap();
            }
        }
    });
    let (feed, endpoint) = rx.recv_timeout(WAIT).expect("the broker starts");
    let (first, first_at) = feed.latest().expect("a snapshot is published at once");
    assert_eq!(first.workers, 0);

    let worker = Peer::new(&endpoint);
    worker.ready("echo");
    let client = Peer::new(&endpoint);
    client.request("echo", &[b"hi"]);
    let (address, body) = worker.expect_request();
    worker.reply(
        &address,
        &body.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    );
    assert_eq!(client.expect_reply("echo"), [b"hi".to_vec()]);

    assert!(
        wait_until(WAIT, || feed.latest().is_some_and(|(stats, _)| {
            stats.services.get("echo").is_some_and(|c| c.replies == 1)
        })),
        "the published snapshot never showed the reply"
    );
    let (stats, at) = feed.latest().unwrap();
    assert!(at > first_at);
    assert_eq!(stats.workers, 1);
    assert_eq!(stats.service_load["echo"].workers, 1);
    assert_eq!(stats.total.requests, 1);
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
}
