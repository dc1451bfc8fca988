//! mdp::Worker, mdp::Client and mdp::AsyncClient against the real broker (mdp::Broker), over
//! tcp://127.0.0.1 with ephemeral ports.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use mdp::{
    AsyncClient, Broker, BrokerConfig, BrokerHandle, Client, ClientConfig, Error, StopHandle,
    Worker, WorkerConfig,
};
use zmsg::cert::ZCert;
use zmsg::{ZFrame, ZMsg};

const HEARTBEAT: Duration = Duration::from_millis(100);
/// Broker and workers give up on a peer silent for HEARTBEAT × LIVENESS (2 s): far more than a
/// loaded or emulated machine holds up a thread, so that no test sees a purge or a reconnect
/// it did not cause (several assert that each worker registered exactly once).
const LIVENESS: u32 = 20;
const WAIT: Duration = Duration::from_secs(20);

fn broker_config(endpoint: &str) -> BrokerConfig {
    let mut config = BrokerConfig::new([endpoint]);
    config.heartbeat = HEARTBEAT;
    config.liveness = LIVENESS;
    config
}

/// Starts a broker on a fixed port below the kernel's ephemeral range, for the restart tests.
fn start_broker_on_fixed_port() -> (BrokerHandle, String) {
    let endpoint = support::fixed_port_endpoint();
    (restart_broker(&endpoint), endpoint)
}

/// Starts a broker on `endpoint`, again after a previous one stopped: libzmq closes the old
/// listening socket in its I/O thread, so the port may take a moment to be free.
fn restart_broker(endpoint: &str) -> BrokerHandle {
    let mut broker = None;
    assert!(
        support::wait_until(WAIT, || {
            broker = Broker::spawn(broker_config(endpoint)).ok();
            broker.is_some()
        }),
        "cannot bind {endpoint} again"
    );
    broker.unwrap()
}

fn start_broker() -> (BrokerHandle, String) {
    let broker = Broker::spawn(broker_config("tcp://127.0.0.1:*")).expect("broker");
    let endpoint = broker.endpoints()[0].clone();
    (broker, endpoint)
}

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        heartbeat: HEARTBEAT,
        liveness: LIVENESS,
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
        ..WorkerConfig::default()
    }
}

fn client_config() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(5),
        retries: 3,
        ..ClientConfig::default()
    }
}

/// A worker on its own thread running `handler`; yields (run result, registrations) on join.
struct RunningWorker {
    stop: StopHandle,
    thread: Option<JoinHandle<(mdp::Result<()>, u64)>>,
}

impl RunningWorker {
    fn start<F, R>(endpoint: &str, service: &str, config: WorkerConfig, handler: F) -> Self
    where
        F: FnMut(ZMsg) -> R + Send + 'static,
        R: mdp::HandlerReply,
    {
        let mut worker = Worker::connect(endpoint, service, config).expect("worker");
        let stop = worker.stop_handle();
        let thread = std::thread::spawn(move || {
            let result = worker.run(handler);
            (result, worker.registrations())
        });
        RunningWorker {
            stop,
            thread: Some(thread),
        }
    }

    fn echo(endpoint: &str, service: &str) -> Self {
        Self::start(endpoint, service, worker_config(), |body: ZMsg| body)
    }

    /// Stops the worker and returns how many times it registered.
    fn finish(mut self) -> u64 {
        self.stop.stop();
        let (result, registrations) = self.thread.take().unwrap().join().unwrap();
        result.expect("worker run");
        registrations
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits (bounded) until the broker reports `service` as available (or not).
fn wait_for_service(client: &mut Client, service: &str, available: bool) {
    assert!(
        support::wait_until(WAIT, || client.service_available(service).ok()
            == Some(available)),
        "mmi.service never said {service} is {}",
        if available { "available" } else { "gone" }
    );
}

fn bodies() -> Vec<ZMsg> {
    let mut multi = ZMsg::new();
    multi.append("first");
    multi.append("second");
    multi.append("third");
    let mut binary = ZMsg::new();
    binary.append((0..=255u8).collect::<Vec<u8>>());
    binary.append(vec![0u8; 100_000]);
    let mut with_empty = ZMsg::new();
    with_empty.append_frame(ZFrame::new());
    with_empty.append("between");
    with_empty.append_frame(ZFrame::new());
    let mut typed = ZMsg::new();
    typed.append(42u64);
    typed.append(-1i16);
    typed.append(true);
    vec![multi, binary, with_empty, typed]
}

#[test]
fn sync_round_trips_keep_every_frame() {
    let (_broker, endpoint) = start_broker();
    let worker = RunningWorker::echo(&endpoint, "echo");
    let mut client = Client::connect(&endpoint, client_config()).unwrap();
    wait_for_service(&mut client, "echo", true);

    for body in bodies() {
        assert_eq!(client.send("echo", body.clone()).unwrap(), body);
    }
    // An empty body travels as one empty frame (RFC 7 wants at least one body frame).
    let reply = client.send("echo", ZMsg::new()).unwrap();
    assert_eq!(reply.len(), 1);
    assert!(reply[0].is_empty());
    for i in 0..200u32 {
        let mut body = ZMsg::new();
        body.append(i);
        assert_eq!(client.send("echo", body).unwrap().pop::<u32>().unwrap(), i);
    }
    assert_eq!(worker.finish(), 1);
}

#[test]
fn async_client_many_requests_in_flight() {
    let (_broker, endpoint) = start_broker();
    let _workers: Vec<_> = (0..3)
        .map(|_| RunningWorker::echo(&endpoint, "echo"))
        .collect();
    let mut checker = Client::connect(&endpoint, client_config()).unwrap();
    wait_for_service(&mut checker, "echo", true);

    let mut client = AsyncClient::connect(&endpoint, client_config()).unwrap();
    const N: u32 = 5000;
    for i in 0..N {
        let mut body = ZMsg::new();
        body.append(i);
        body.append_frame(ZFrame::new());
        body.append(vec![i as u8; (i % 64) as usize]);
        client.send("echo", body).unwrap();
    }
    let mut seen = HashSet::new();
    for _ in 0..N {
        let (service, mut body) = client.recv_timeout(WAIT).unwrap();
        assert_eq!(service, "echo");
        assert_eq!(body.len(), 3);
        let i = body.pop::<u32>().unwrap();
        assert!(body.pop_frame().unwrap().is_empty());
        assert_eq!(body.pop_bytes().unwrap(), vec![i as u8; (i % 64) as usize]);
        assert!(seen.insert(i), "reply {i} came twice");
    }
    assert_eq!(seen.len(), N as usize);
    assert_eq!(client.in_flight(), 0);
    assert!(matches!(
        client.recv_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));

    // The sync client's multi-frame bodies through the async client too.
    for body in bodies() {
        client.send("echo", body.clone()).unwrap();
        assert_eq!(
            client.recv_timeout(WAIT).unwrap(),
            ("echo".to_owned(), body)
        );
    }
}

#[test]
fn a_worker_with_credit_holds_several_requests() {
    // Slow heartbeats: the handlers below block, and a blocked worker does not heartbeat.
    let slow = Duration::from_secs(1);
    let mut config = broker_config("tcp://127.0.0.1:*");
    config.heartbeat = slow;
    let broker = Broker::spawn(config).expect("broker");
    let endpoint = broker.endpoints()[0].clone();
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let handled = Arc::new(Mutex::new(Vec::new()));
    let start = |name: &'static str, credit: u32| {
        let (gate, handled) = (gate.clone(), handled.clone());
        let config = WorkerConfig {
            heartbeat: slow,
            credit,
            ..worker_config()
        };
        RunningWorker::start(&endpoint, "gated", config, move |body: ZMsg| {
            let (open, opened) = &*gate;
            let guard = opened
                .wait_timeout_while(open.lock().unwrap(), WAIT, |open| !*open)
                .unwrap()
                .0;
            drop(guard);
            handled.lock().unwrap().push(name);
            body
        })
    };
    let broker_has = |what: &str, cond: &dyn Fn(&mdp::Stats) -> bool| {
        assert!(
            support::wait_until(WAIT, || cond(&broker.stats().unwrap())),
            "{what}: {}",
            broker.stats().unwrap()
        );
    };
    // `a` registers first, so it is first in the service's queue of workers.
    let a = start("a", 4);
    broker_has("a registered", &|s| s.workers == 1);
    let b = start("b", 1);
    broker_has("b registered", &|s| s.workers == 2);

    let mut client = AsyncClient::connect(&endpoint, client_config()).unwrap();
    for i in 0..4u32 {
        let mut body = ZMsg::new();
        body.append(i);
        client.send("gated", body).unwrap();
    }
    // All four are given out at once: three to `a` (round robin while it has credit), one to
    // `b`. Plain MDP/0.1 workers would leave two of them queued.
    broker_has("all four dispatched", &|s| {
        s.total.requests == 4 && s.queued == 0
    });
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    let mut seen = HashSet::new();
    for _ in 0..4 {
        let (_, mut body) = client.recv_timeout(WAIT).unwrap();
        assert!(seen.insert(body.pop::<u32>().unwrap()));
    }
    let mut handled = handled.lock().unwrap().clone();
    handled.sort_unstable();
    assert_eq!(handled, ["a", "a", "a", "b"]);
    a.finish();
    b.finish();
}

#[test]
fn heartbeats_from_long_work_keep_the_worker_alive() {
    // The broker purges a worker silent for HEARTBEAT × LIVENESS (2 s), and a worker gives up
    // on a broker silent as long. This request takes one and a half times that, during which
    // the worker only calls `heartbeat`; then the worker waits as long for a request that does
    // not come, heartbeating (and hearing the broker's heartbeats) in `recv_timeout`.
    let expiry = HEARTBEAT * LIVENESS;
    let (broker, endpoint) = start_broker();
    let mut worker = Worker::connect(&endpoint, "long", worker_config()).unwrap();
    let mut client = AsyncClient::connect(&endpoint, client_config()).unwrap();
    let mut body = ZMsg::new();
    body.append("job");
    client.send("long", body.clone()).unwrap();
    let request = worker
        .recv_timeout(WAIT)
        .unwrap()
        .expect("the request reaches the worker");
    let work = expiry * 3 / 2;
    let end = std::time::Instant::now() + work;
    while std::time::Instant::now() < end {
        worker.heartbeat().unwrap();
        std::thread::sleep(Duration::from_millis(10)); // a slice of the long work
    }
    worker.reply(&request, request.body().clone()).unwrap();
    assert_eq!(
        client.recv_timeout(WAIT).unwrap(),
        ("long".to_owned(), body)
    );
    assert!(worker.recv_timeout(expiry * 3 / 2).unwrap().is_none());
    let stats = broker.stats().unwrap();
    assert_eq!(stats.services["long"].worker_expiries, 0, "{stats}");
    assert_eq!(stats.services["long"].resends, 0, "{stats}");
    assert_eq!(stats.workers, 1, "{stats}");
    assert_eq!(worker.registrations(), 1);
}

#[test]
fn many_workers_and_services() {
    let (_broker, endpoint) = start_broker();
    let services = ["alpha", "beta", "gamma"];
    let mut workers = Vec::new();
    for service in services {
        for n in 0..3 {
            let tag = format!("{service}-{n}");
            workers.push(RunningWorker::start(
                &endpoint,
                service,
                worker_config(),
                move |mut body: ZMsg| {
                    body.push(tag.as_str());
                    body
                },
            ));
        }
    }
    let mut client = Client::connect(&endpoint, client_config()).unwrap();
    for service in services {
        wait_for_service(&mut client, service, true);
    }
    let mut async_client = AsyncClient::connect(&endpoint, client_config()).unwrap();
    for round in 0..30u32 {
        for service in services {
            let mut body = ZMsg::new();
            body.append(round);
            let mut reply = client.send(service, body.clone()).unwrap();
            let tag = reply.pop_str().unwrap();
            assert!(tag.starts_with(service), "{service} answered by {tag}");
            assert_eq!(reply, body);
            async_client.send(service, body).unwrap();
        }
    }
    for _ in 0..30 * services.len() {
        let (service, mut reply) = async_client.recv_timeout(WAIT).unwrap();
        let tag = reply.pop_str().unwrap();
        assert!(tag.starts_with(&service), "{service} answered by {tag}");
    }
    for worker in workers {
        assert_eq!(worker.finish(), 1);
    }
}

#[test]
fn worker_restarting_registers_again() {
    let (_broker, endpoint) = start_broker();
    let mut client = Client::connect(&endpoint, client_config()).unwrap();
    let worker = RunningWorker::echo(&endpoint, "restart");
    wait_for_service(&mut client, "restart", true);
    assert_eq!(
        client
            .send_str("restart", "one")
            .unwrap()
            .pop_str()
            .unwrap(),
        "one"
    );
    worker.finish(); // drops the Worker: it sends DISCONNECT

    wait_for_service(&mut client, "restart", false);
    assert!(matches!(
        client.call_checked("restart", ZMsg::new()),
        Err(Error::ServiceUnavailable(name)) if name == "restart"
    ));

    let worker = RunningWorker::echo(&endpoint, "restart");
    wait_for_service(&mut client, "restart", true);
    let mut body = ZMsg::new();
    body.append("two");
    assert_eq!(client.call_checked("restart", body.clone()).unwrap(), body);
    assert_eq!(worker.finish(), 1);
}

#[test]
fn workers_and_clients_recover_from_a_broker_restart() {
    let (broker, endpoint) = start_broker_on_fixed_port();
    let worker = RunningWorker::echo(&endpoint, "phoenix");
    // A request sent while the client has not yet noticed that the old connection is gone is
    // lost, and only a retry recovers it: keep the timeout short so that costs little.
    let config = ClientConfig {
        timeout: Duration::from_millis(500),
        retries: 10,
        ..ClientConfig::default()
    };
    let mut client = Client::connect(&endpoint, config).unwrap();
    wait_for_service(&mut client, "phoenix", true);
    assert_eq!(
        client
            .send_str("phoenix", "before")
            .unwrap()
            .pop_str()
            .unwrap(),
        "before"
    );

    broker.stop().unwrap();
    // A new broker on the same port knows nothing: the worker must register again.
    let broker = restart_broker(&endpoint);
    assert_eq!(broker.endpoints()[0], endpoint);
    wait_for_service(&mut client, "phoenix", true);
    // The same client object keeps working.
    assert_eq!(
        client
            .send_str("phoenix", "after")
            .unwrap()
            .pop_str()
            .unwrap(),
        "after"
    );
    let registrations = worker.finish();
    assert!(registrations >= 2, "registered {registrations} time(s)");
}

#[test]
fn reply_to_a_request_from_a_dead_broker_is_dropped_with_a_typed_error() {
    let (broker, endpoint) = start_broker_on_fixed_port();
    let mut worker = Worker::connect(&endpoint, "late", worker_config()).unwrap();
    let mut client = AsyncClient::connect(&endpoint, client_config()).unwrap();
    client.send("late", ZMsg::from_iter(["work"])).unwrap();
    let request = worker.recv_timeout(WAIT).unwrap().expect("a request");
    assert_eq!(request.body()[0].data(), b"work");

    broker.stop().unwrap();
    let _broker = restart_broker(&endpoint);
    // Keep the worker's receive loop going until it has registered on a new connection.
    assert!(support::wait_until(WAIT, || {
        let _ = worker.recv_timeout(Duration::from_millis(20));
        worker.registrations() >= 2
    }));
    let err = worker
        .reply(&request, ZMsg::from_iter(["too late"]))
        .unwrap_err();
    assert!(
        matches!(err, Error::BrokerGone(_) | Error::Disconnected(_)),
        "{err:?}"
    );
}

#[test]
fn a_declined_request_goes_to_another_worker() {
    let (_broker, endpoint) = start_broker();
    let mut client = Client::connect(&endpoint, client_config()).unwrap();
    let decliner = RunningWorker::start(&endpoint, "picky", worker_config(), |_body: ZMsg| {
        None::<ZMsg>
    });
    wait_for_service(&mut client, "picky", true);
    let helper = RunningWorker::start(&endpoint, "picky", worker_config(), |mut body: ZMsg| {
        body.push("helper");
        Ok::<_, String>(body)
    });
    for i in 0..5u32 {
        let mut body = ZMsg::new();
        body.append(i);
        let mut reply = client.send("picky", body).unwrap();
        assert_eq!(reply.pop_str().unwrap(), "helper");
        assert_eq!(reply.pop::<u32>().unwrap(), i);
    }
    drop(decliner);
    helper.finish();
}

#[test]
fn timeouts_and_a_missing_broker() {
    // An endpoint nobody listens on (a TCP port could be taken by a parallel test).
    let dir = tempfile::tempdir().unwrap();
    let dead_endpoint = format!("ipc://{}", dir.path().join("no-broker.ipc").display());
    let quick = ClientConfig {
        timeout: Duration::from_millis(200),
        retries: 2,
        ..ClientConfig::default()
    };
    let mut client = Client::connect(&dead_endpoint, quick.clone()).unwrap();
    assert!(matches!(
        client.send_str("echo", "anyone?"),
        Err(Error::BrokerGone(_))
    ));
    let mut async_client = AsyncClient::connect(&dead_endpoint, quick.clone()).unwrap();
    async_client
        .send("echo", ZMsg::from_iter(["anyone?"]))
        .unwrap();
    assert!(matches!(async_client.recv(), Err(Error::Timeout)));

    // A live broker, but no worker for the service: the request is taken, never answered. Each
    // attempt must connect within the timeout for the broker to count as there (Timeout rather
    // than BrokerGone), so the timeout leaves a slow machine room for that.
    let (_broker, endpoint) = start_broker();
    let unanswered = ClientConfig {
        timeout: Duration::from_secs(1),
        ..quick
    };
    let mut client = Client::connect(&endpoint, unanswered).unwrap();
    assert!(matches!(
        client.send_str("nobody", "hello?"),
        Err(Error::Timeout)
    ));
    // The MMI calls below are answered: they get the usual generous timeout.
    client.set_timeout(client_config().timeout);
    assert!(!client.service_available("nobody").unwrap());
    assert!(matches!(
        client.call_checked("nobody", ZMsg::new()),
        Err(Error::ServiceUnavailable(_))
    ));
}

#[test]
fn curve_with_the_right_and_a_wrong_broker_key() {
    let broker_cert = ZCert::new().unwrap();
    let mut config = broker_config("tcp://127.0.0.1:*");
    config.curve = Some(broker_cert.clone());
    let broker = Broker::spawn(config).unwrap();
    let endpoint = broker.endpoints()[0].clone();
    let key = *broker_cert.public_key();

    let worker = RunningWorker::start(
        &endpoint,
        "secret",
        WorkerConfig {
            curve_server_key: Some(key),
            curve_cert: Some(ZCert::new().unwrap()),
            ..worker_config()
        },
        |body: ZMsg| body,
    );
    let right = ClientConfig {
        curve_server_key: Some(key),
        ..client_config()
    };
    let mut client = Client::connect(&endpoint, right.clone()).unwrap();
    wait_for_service(&mut client, "secret", true);
    for body in bodies() {
        assert_eq!(client.send("secret", body.clone()).unwrap(), body);
    }
    let mut async_client = AsyncClient::connect(&endpoint, right).unwrap();
    async_client
        .send("secret", ZMsg::from_iter(["async"]))
        .unwrap();
    assert_eq!(
        async_client.recv_timeout(WAIT).unwrap().1,
        ZMsg::from_iter(["async"])
    );

    // A wrong server key: the CURVE handshake never completes, so no request is ever handed
    // to the broker.
    let wrong = ClientConfig {
        timeout: Duration::from_millis(300),
        retries: 2,
        curve_server_key: Some(*ZCert::new().unwrap().public_key()),
        ..ClientConfig::default()
    };
    let mut client = Client::connect(&endpoint, wrong.clone()).unwrap();
    assert!(matches!(
        client.send_str("secret", "let me in"),
        Err(Error::BrokerGone(_))
    ));
    let mut async_client = AsyncClient::connect(&endpoint, wrong).unwrap();
    async_client
        .send("secret", ZMsg::from_iter(["let me in"]))
        .unwrap();
    assert!(matches!(async_client.recv(), Err(Error::Timeout)));
    // No CURVE at all against a CURVE broker: the same.
    let mut plain = Client::connect(
        &endpoint,
        ClientConfig {
            timeout: Duration::from_millis(300),
            retries: 1,
            ..ClientConfig::default()
        },
    )
    .unwrap();
    assert!(plain.send_str("secret", "plain").is_err());
    assert_eq!(worker.finish(), 1);
}

#[test]
fn a_request_held_by_a_killed_worker_is_served_by_another() {
    let (_broker, endpoint) = start_broker();
    let mut async_client = AsyncClient::connect(&endpoint, client_config()).unwrap();
    // The doomed worker speaks raw MDP so that it can vanish without a DISCONNECT.
    let doomed = zmsg::ZSocket::new(zmsg::SocketType::Dealer).unwrap();
    doomed.set_linger(Some(Duration::ZERO)).unwrap();
    doomed.connect(&endpoint).unwrap();
    doomed
        .send_msg(ZMsg::from_iter(["", "MDPW01", "\x01", "fragile"]))
        .unwrap();
    // The only worker of the service gets the request (the broker queues it if it comes before
    // the READY).
    async_client
        .send("fragile", ZMsg::from_iter(["important"]))
        .unwrap();
    // Until the request arrives, the doomed worker answers heartbeats as a live worker does, so
    // that however long this takes, the broker does not purge it first.
    let request = loop {
        assert!(doomed
            .poll(zmsg::Events::POLLIN, Some(WAIT))
            .unwrap()
            .contains(zmsg::Events::POLLIN));
        let msg = doomed.recv_msg().unwrap();
        match msg.get(2).map(|f| f.data()) {
            Some([0x02]) => break msg,
            Some([0x04]) => doomed
                .send_msg(ZMsg::from_iter(["", "MDPW01", "\x04"]))
                .unwrap(),
            _ => panic!("the doomed worker got {msg}"),
        }
    };
    assert_eq!(request.last().unwrap().data(), b"important");
    let rescuer = RunningWorker::echo(&endpoint, "fragile");
    drop(doomed); // killed mid-request: no reply, no DISCONNECT

    let (service, reply) = async_client.recv_timeout(WAIT).unwrap();
    assert_eq!(service, "fragile");
    assert_eq!(reply, ZMsg::from_iter(["important"]));
    assert_eq!(rescuer.finish(), 1);
}
