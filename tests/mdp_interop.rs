//! MDP/0.1 and MDP/0.2 interoperability with peers written in plain pyzmq (tests/python/), whose frames are
//! built by hand from RFC 7:
//! - our Worker and Client (sync and async) through a minimal pyzmq broker (and a Worker that
//!   asks for a credit falling back to plain MDP/0.1 there);
//! - a pyzmq worker and a pyzmq REQ client through our broker.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mdp::{AsyncClient, Client, ClientConfig, Worker, WorkerConfig};
use zmsg::{ZFrame, ZMsg};

const WAIT: Duration = Duration::from_secs(20);

/// A Python child process whose stdout lines arrive on a channel; killed when dropped.
struct PyChild {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    name: String,
}

impl PyChild {
    fn spawn(script: &str, args: &[&str]) -> PyChild {
        let path = support::workspace_root().join("tests/python").join(script);
        let mut child = Command::new(support::python())
            .arg("-u")
            .arg(&path)
            .args(args)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {script}: {err}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        PyChild {
            child,
            lines,
            name: script.to_owned(),
        }
    }

    /// Waits (bounded) for the next line starting with `prefix`; returns the rest of the line.
    fn expect(&self, prefix: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => {
                    return line[prefix.len()..].trim().to_owned()
                }
                Ok(_) => continue,
                Err(err) => panic!("{}: no line {prefix:?} ({err})", self.name),
            }
        }
    }

    /// Waits (bounded) for the process to exit and returns its status code.
    fn wait_exit(&mut self) -> Option<i32> {
        let mut status = None;
        // Waiting for a child process to exit has no event to block on with a timeout.
        let exited = support::wait_until(WAIT, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        assert!(exited, "{} did not exit", self.name);
        status.and_then(|status| status.code())
    }
}

impl Drop for PyChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fast_worker() -> WorkerConfig {
    WorkerConfig {
        heartbeat: Duration::from_millis(250),
        liveness: 20,
        reconnect_min: Duration::from_millis(100),
        reconnect_max: Duration::from_secs(1),
        ..WorkerConfig::default()
    }
}

fn patient_client() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(5),
        retries: 3,
        ..ClientConfig::default()
    }
}

fn tricky_body(i: u32) -> ZMsg {
    let mut body = ZMsg::new();
    body.append(format!("request {i}"));
    body.append_frame(ZFrame::new());
    body.append((0..=255u8).collect::<Vec<u8>>());
    body.append(i);
    body
}

/// Runs an echo worker of ours on its own thread until the returned handle stops it.
fn spawn_echo_worker(
    endpoint: &str,
    service: &str,
) -> (mdp::StopHandle, std::thread::JoinHandle<mdp::Result<()>>) {
    let mut worker = Worker::connect(endpoint, service, fast_worker()).expect("worker");
    let stop = worker.stop_handle();
    let thread = std::thread::spawn(move || worker.run(|body: ZMsg| body));
    (stop, thread)
}

#[test]
fn our_worker_and_clients_through_a_pyzmq_broker() {
    let broker = PyChild::spawn("mdp_broker.py", &["tcp://127.0.0.1:*", "0.25"]);
    let endpoint = broker.expect("ENDPOINT ");
    let (stop, worker) = spawn_echo_worker(&endpoint, "echo");
    assert_eq!(broker.expect("READY "), "echo");

    let mut client = Client::connect(&endpoint, patient_client()).unwrap();
    assert!(client.service_available("echo").unwrap());
    assert!(!client.service_available("nope").unwrap());
    for i in 0..20 {
        let body = tricky_body(i);
        assert_eq!(client.send("echo", body.clone()).unwrap(), body);
    }

    let mut async_client = AsyncClient::connect(&endpoint, patient_client()).unwrap();
    for i in 0..200 {
        async_client.send("echo", tricky_body(i)).unwrap();
    }
    let mut seen = [false; 200];
    for _ in 0..200 {
        let (service, mut body) = async_client.recv_timeout(WAIT).unwrap();
        assert_eq!(service, "echo");
        assert_eq!(body.len(), 4);
        assert_eq!(
            body.pop_str().unwrap().split_once(' ').unwrap().0,
            "request"
        );
        let i = body.get(2).unwrap().data().to_vec();
        let i = u32::from_be_bytes(i.try_into().unwrap()) as usize;
        assert!(!seen[i], "reply {i} twice");
        seen[i] = true;
    }
    assert!(seen.iter().all(|s| *s));

    stop.stop();
    worker.join().unwrap().unwrap();
}

#[test]
fn our_worker_reregisters_after_pyzmq_broker_restart() {
    let endpoint = support::fixed_port_endpoint();
    let broker = PyChild::spawn("mdp_broker.py", &[endpoint.as_str(), "0.1"]);
    assert_eq!(broker.expect("ENDPOINT "), endpoint);
    let mut config = fast_worker();
    config.heartbeat = Duration::from_millis(100);
    config.liveness = 3;
    let mut worker = Worker::connect(&endpoint, "echo", config).unwrap();
    let stop = worker.stop_handle();
    let thread = std::thread::spawn(move || {
        let result = worker.run(|body: ZMsg| body);
        (result, worker.registrations())
    });
    assert_eq!(broker.expect("READY "), "echo");
    drop(broker);

    // Same port, new broker: the worker must notice the silence and register again.
    let broker = PyChild::spawn("mdp_broker.py", &[endpoint.as_str(), "0.1"]);
    assert_eq!(broker.expect("ENDPOINT "), endpoint);
    assert_eq!(broker.expect("READY "), "echo");
    let mut client = Client::connect(&endpoint, patient_client()).unwrap();
    let body = tricky_body(7);
    assert_eq!(client.send("echo", body.clone()).unwrap(), body);

    stop.stop();
    let (result, registrations) = thread.join().unwrap();
    result.unwrap();
    assert!(registrations >= 2, "registered {registrations} time(s)");
}

#[test]
fn our_credit_worker_falls_back_to_plain_mdp_with_a_strict_broker() {
    // The pyzmq broker accepts only the four READY frames of RFC 7 and answers anything else
    // with DISCONNECT: the worker must register again without the credit option.
    let broker = PyChild::spawn("mdp_broker.py", &["tcp://127.0.0.1:*", "0.25"]);
    let endpoint = broker.expect("ENDPOINT ");
    let config = WorkerConfig {
        credit: 8,
        ..fast_worker()
    };
    let mut worker = Worker::connect(&endpoint, "echo", config).unwrap();
    assert_eq!(worker.credit(), 8);
    let stop = worker.stop_handle();
    let thread = std::thread::spawn(move || {
        let result = worker.run(|body: ZMsg| body);
        (result, worker.registrations(), worker.credit())
    });
    assert_eq!(broker.expect("READY "), "echo");
    let mut client = Client::connect(&endpoint, patient_client()).unwrap();
    for i in 0..5 {
        let body = tricky_body(i);
        assert_eq!(client.send("echo", body.clone()).unwrap(), body);
    }
    stop.stop();
    let (result, registrations, credit) = thread.join().unwrap();
    result.unwrap();
    assert_eq!(credit, 1, "settled on plain MDP/0.1");
    assert!(registrations >= 2, "registered {registrations} time(s)");
}

#[test]
fn pyzmq_worker_and_client_through_our_broker() {
    let mut config = mdp::BrokerConfig::new(["tcp://127.0.0.1:*"]);
    config.heartbeat = Duration::from_millis(250);
    // As long as our workers' (fast_worker): nothing here is about a purge, and a worker purged
    // because a loaded machine held it up would count as unexpected when it heartbeats next.
    config.liveness = fast_worker().liveness;
    let broker = mdp::Broker::spawn(config).expect("broker");
    let endpoint = broker.endpoints()[0].clone();

    let py_worker = PyChild::spawn("mdp_worker.py", &[endpoint.as_str(), "py-echo", "0.25"]);
    py_worker.expect("READY");
    let mut client = Client::connect(&endpoint, patient_client()).unwrap();
    assert!(support::wait_until(WAIT, || client
        .service_available("py-echo")
        .unwrap_or(false)));

    // Our clients, the pyzmq worker.
    for i in 0..10 {
        let body = tricky_body(i);
        assert_eq!(client.send("py-echo", body.clone()).unwrap(), body);
    }
    let mut async_client = AsyncClient::connect(&endpoint, patient_client()).unwrap();
    for i in 0..100 {
        async_client.send("py-echo", tricky_body(i)).unwrap();
    }
    for _ in 0..100 {
        let (service, body) = async_client.recv_timeout(WAIT).unwrap();
        assert_eq!(service, "py-echo");
        assert_eq!(body.len(), 4);
    }

    // The pyzmq REQ client, the pyzmq worker, our broker.
    let mut py_client = PyChild::spawn("mdp_client.py", &[endpoint.as_str(), "py-echo", "25"]);
    py_client.expect("DONE");
    assert_eq!(py_client.wait_exit(), Some(0));

    // The pyzmq client, our worker.
    let (stop, worker) = spawn_echo_worker(&endpoint, "rs-echo");
    assert!(support::wait_until(WAIT, || client
        .service_available("rs-echo")
        .unwrap_or(false)));
    let mut py_client = PyChild::spawn("mdp_client.py", &[endpoint.as_str(), "rs-echo", "25"]);
    py_client.expect("DONE");
    assert_eq!(py_client.wait_exit(), Some(0));
    stop.stop();
    worker.join().unwrap().unwrap();

    // Every frame the pyzmq peers built by hand was valid MDP/0.1 to our broker.
    let stats = broker.stop().unwrap();
    assert_eq!(stats.global.invalid, 0, "{stats}");
    assert_eq!(stats.global.unexpected, 0, "{stats}");
}

// ------------------------------------------------------------------------------------------
// MDP/0.2 (RFC 18): strict pyzmq peers (tests/python/mdp02_peers.py), both directions, and the
// broker's bridging between 0.1 and 0.2 peers.

fn v2_worker() -> WorkerConfig {
    WorkerConfig {
        version: mdp::Version::V2,
        ..fast_worker()
    }
}

fn v2_client() -> ClientConfig {
    ClientConfig {
        version: mdp::Version::V2,
        ..patient_client()
    }
}

#[test]
fn mdp02_pyzmq_peers_through_our_broker_and_the_bridges_to_mdp01() {
    let mut config = mdp::BrokerConfig::new(["tcp://127.0.0.1:*"]);
    config.heartbeat = Duration::from_millis(250);
    let broker = mdp::Broker::spawn(config).expect("broker");
    let endpoint = broker.endpoints()[0].clone();
    let py_worker = PyChild::spawn("mdp02_peers.py", &["worker", &endpoint, "stream", "3"]);
    py_worker.expect("READY");
    let mut probe = Client::connect(&endpoint, patient_client()).unwrap();
    assert!(support::wait_until(WAIT, || probe
        .service_available("stream")
        .unwrap_or(false)));

    // A strict 0.2 client and a strict 0.2 worker, both pyzmq: 3 PARTIALs then the FINAL.
    let mut py_client = PyChild::spawn(
        "mdp02_peers.py",
        &["client", &endpoint, "stream", "10", "3"],
    );
    py_client.expect("DONE");
    assert_eq!(py_client.wait_exit(), Some(0));

    // Our 0.2 client sees the partials as a stream, then the final reply.
    let mut client = Client::connect(&endpoint, v2_client()).unwrap();
    let mut partials = Vec::new();
    let body = tricky_body(1);
    let last = client
        .send_streaming("stream", body.clone(), |mut part| {
            partials.push(part.pop_str().unwrap())
        })
        .unwrap();
    assert_eq!(last, body);
    assert_eq!(partials, ["part 0", "part 1", "part 2"]);

    // A 0.1 client of the 0.2 service gets only the final reply (RFC 7: one reply).
    let mut py_v1 = PyChild::spawn("mdp_client.py", &[endpoint.as_str(), "stream", "5"]);
    py_v1.expect("DONE");
    assert_eq!(py_v1.wait_exit(), Some(0));

    // The strict 0.2 pyzmq client of an MDP/0.1 service (a pyzmq 0.1 worker): the REPLY
    // arrives as its FINAL, with no partials.
    let py_v1_worker = PyChild::spawn("mdp_worker.py", &[endpoint.as_str(), "old-echo", "0.25"]);
    py_v1_worker.expect("READY");
    assert!(support::wait_until(WAIT, || probe
        .service_available("old-echo")
        .unwrap_or(false)));
    let mut py_client = PyChild::spawn(
        "mdp02_peers.py",
        &["client", &endpoint, "old-echo", "5", "0"],
    );
    py_client.expect("DONE");
    assert_eq!(py_client.wait_exit(), Some(0));

    let stats = broker.stop().unwrap();
    assert_eq!(stats.global.invalid, 0, "{stats}");
    assert_eq!(stats.global.unexpected, 0, "{stats}");
    assert_eq!(stats.global.partials_withheld, 15, "{stats}");
    assert_eq!(stats.total.partials, 3 * 10 + 3, "{stats}");
}

#[test]
fn our_mdp02_worker_and_clients_through_a_strict_pyzmq_mdp02_broker() {
    let broker = PyChild::spawn("mdp02_peers.py", &["broker", "tcp://127.0.0.1:*"]);
    let endpoint = broker.expect("ENDPOINT ");
    let mut worker = Worker::connect(&endpoint, "count", v2_worker()).unwrap();
    let stop = worker.stop_handle();
    let thread = std::thread::spawn(move || -> mdp::Result<()> {
        loop {
            let request = match worker.recv() {
                Ok(request) => request,
                Err(_) => return Ok(()),
            };
            let n: u32 = request.body().peek::<String>()?.parse().unwrap_or(0);
            for k in 0..n {
                worker.reply_partial(&request, ZMsg::from_iter([format!("{k}")]))?;
            }
            let body = request.body().clone();
            worker.reply(&request, body)?;
        }
    });
    assert_eq!(broker.expect("READY "), "count");

    let mut client = Client::connect(&endpoint, v2_client()).unwrap();
    for n in [0u32, 1, 4] {
        let mut seen = Vec::new();
        let body = ZMsg::from_iter([n.to_string()]);
        let last = client
            .send_streaming("count", body.clone(), |mut part| {
                seen.push(part.pop_str().unwrap())
            })
            .unwrap();
        assert_eq!(last, body);
        let want: Vec<String> = (0..n).map(|k| k.to_string()).collect();
        assert_eq!(seen, want);
    }

    // The async client: every reply in arrival order, each with its part.
    let mut async_client = AsyncClient::connect(&endpoint, v2_client()).unwrap();
    async_client.send("count", ZMsg::from_iter(["2"])).unwrap();
    let parts: Vec<(mdp::Part, String)> = (0..3)
        .map(|_| {
            let mut reply = async_client.recv_reply(WAIT).unwrap();
            (reply.part, reply.body.pop_str().unwrap())
        })
        .collect();
    assert_eq!(
        parts,
        [
            (mdp::Part::Partial, "0".to_owned()),
            (mdp::Part::Partial, "1".to_owned()),
            (mdp::Part::Final, "2".to_owned()),
        ]
    );
    assert_eq!(async_client.in_flight(), 0);

    stop.stop();
    thread.join().unwrap().unwrap();
}
