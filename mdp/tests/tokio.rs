//! The async client and worker (`mdp::tokio`) against a real broker over tcp. Every wait is
//! bounded; concurrency is proved with barriers, not timings.
#![cfg(all(unix, feature = "tokio"))]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mdp::protocol::Version;
use mdp::tokio::{Client, Job, Worker};
use mdp::{Broker, BrokerConfig, BrokerHandle, ClientConfig, HandlerError, WorkerConfig};
use tokio::sync::{oneshot, Barrier};
use zmsg::ZMsg;

/// The bound on every wait for something that should happen.
const WAIT: Duration = Duration::from_secs(30);

fn broker(heartbeat: Duration, liveness: u32) -> (BrokerHandle, String) {
    let mut config = BrokerConfig::new(["tcp://127.0.0.1:*"]);
    config.stats_interval = None;
    config.heartbeat = heartbeat;
    config.liveness = liveness;
    let broker = Broker::spawn(config).unwrap();
    let endpoint = broker.endpoints()[0].clone();
    (broker, endpoint)
}

fn worker_config(heartbeat: Duration, liveness: u32, credit: u32) -> WorkerConfig {
    WorkerConfig {
        heartbeat,
        liveness,
        credit,
        reconnect_min: Duration::from_millis(10),
        ..WorkerConfig::default()
    }
}

/// Starts `worker` with `handler` on this runtime; the sender stops it.
fn start<H, F>(
    worker: Worker,
    handler: H,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<mdp::Result<()>>,
)
where
    H: Fn(Job) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Result<ZMsg, HandlerError>> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(worker.run_until(handler, stopped));
    (stop, task)
}

fn text(msg: &ZMsg) -> String {
    String::from_utf8_lossy(msg[0].data()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pipelines_many_requests_and_gets_every_reply() {
    let (broker, endpoint) = broker(Duration::from_millis(500), 10);
    let worker = Worker::new(
        &endpoint,
        "echo",
        worker_config(Duration::from_millis(500), 10, 16),
    );
    let (stop, task) = start(worker, |mut job| async move { Ok(job.take_body()) });
    let mut client = Client::connect(&endpoint, ClientConfig::default()).unwrap();
    const N: usize = 2000;
    for n in 0..N {
        client
            .send("echo", ZMsg::from_iter([n.to_string()]))
            .await
            .unwrap();
    }
    assert_eq!(client.in_flight(), N);
    let mut seen = BTreeSet::new();
    for _ in 0..N {
        let reply = tokio::time::timeout(WAIT, client.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply.service.data(), b"echo");
        seen.insert(text(&reply.body).parse::<usize>().unwrap());
    }
    assert_eq!(seen, (0..N).collect());
    assert_eq!(client.in_flight(), 0);
    // One at a time, with its timeout and retries:
    let body = client
        .request("echo", ZMsg::from_iter(["once"]))
        .await
        .unwrap();
    assert_eq!(text(&body), "once");
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    broker.stop().unwrap();
}

/// With credit 8, eight requests run at once: each handler waits on a barrier of eight, which
/// only opens if all eight are running together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_runs_up_to_its_credit_of_requests_concurrently() {
    let (broker, endpoint) = broker(Duration::from_millis(500), 10);
    let barrier = Arc::new(Barrier::new(8));
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let worker = Worker::new(
        &endpoint,
        "together",
        worker_config(Duration::from_millis(500), 10, 8),
    );
    let (b, r, m) = (barrier.clone(), running.clone(), most.clone());
    let (stop, task) = start(worker, move |mut job| {
        let (barrier, running, most) = (b.clone(), r.clone(), m.clone());
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::timeout(WAIT, barrier.wait())
                .await
                .map_err(|_| "the other seven never came")?;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(job.take_body())
        }
    });
    let mut client = Client::connect(&endpoint, ClientConfig::default()).unwrap();
    for n in 0..16 {
        client
            .send("together", ZMsg::from_iter([n.to_string()]))
            .await
            .unwrap();
    }
    for _ in 0..16 {
        tokio::time::timeout(WAIT, client.recv())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 8);
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    broker.stop().unwrap();
}

/// A request that takes many times the broker's expiry (heartbeat × liveness) does not get its
/// worker purged: heartbeats go on beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_go_on_while_a_long_request_runs() {
    // Expiry 5 s (heartbeat 250 ms × liveness 20): wide enough for a loaded or emulated machine.
    let heartbeat = Duration::from_millis(250);
    let (broker, endpoint) = broker(heartbeat, 20);
    let worker = Worker::new(&endpoint, "slow", worker_config(heartbeat, 20, 1));
    let (stop, task) = start(worker, |mut job| async move {
        tokio::time::sleep(Duration::from_secs(12)).await; // 2.4 × the expiry
        Ok(job.take_body())
    });
    let mut client = Client::connect(&endpoint, ClientConfig::default()).unwrap();
    client.send("slow", ZMsg::from_iter(["job"])).await.unwrap();
    let reply = tokio::time::timeout(WAIT, client.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text(&reply.body), "job");
    let stats = broker.stats().unwrap();
    assert_eq!(stats.total.worker_expiries, 0, "{stats}");
    assert_eq!(stats.total.resends, 0, "{stats}");
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    broker.stop().unwrap();
}

/// MDP/0.2: partial replies reach an MDP/0.2 client in order, then the final one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_replies_stream_to_the_client() {
    let (broker, endpoint) = broker(Duration::from_millis(500), 10);
    let config = WorkerConfig {
        version: Version::V2,
        ..worker_config(Duration::from_millis(500), 10, 1)
    };
    let worker = Worker::new(&endpoint, "count", config);
    let (stop, task) = start(worker, |mut job| async move {
        for n in 1..=3 {
            job.send_partial(ZMsg::from_iter([n.to_string()])).await?;
        }
        Ok(ZMsg::from_iter(["done"]))
    });
    let config = ClientConfig {
        version: Version::V2,
        ..ClientConfig::default()
    };
    let mut client = Client::connect(&endpoint, config).unwrap();
    client.send("count", ZMsg::from_iter(["go"])).await.unwrap();
    let mut got = Vec::new();
    loop {
        let reply = tokio::time::timeout(WAIT, client.recv())
            .await
            .unwrap()
            .unwrap();
        got.push((reply.part, text(&reply.body)));
        if reply.part == mdp::Part::Final {
            break;
        }
    }
    use mdp::Part::{Final, Partial};
    assert_eq!(
        got,
        [
            (Partial, "1".to_string()),
            (Partial, "2".to_string()),
            (Partial, "3".to_string()),
            (Final, "done".to_string())
        ]
    );
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    broker.stop().unwrap();
}

/// A handler that declines (returns `Err`) makes the worker register again; the broker resends
/// the request, which the second time succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_request_is_resent_to_a_fresh_registration() {
    let (broker, endpoint) = broker(Duration::from_millis(500), 10);
    let declined = Arc::new(AtomicBool::new(false));
    let d = declined.clone();
    let worker = Worker::new(
        &endpoint,
        "flaky",
        worker_config(Duration::from_millis(500), 10, 1),
    );
    let (stop, task) = start(worker, move |mut job| {
        let declined = d.clone();
        async move {
            if !declined.swap(true, Ordering::SeqCst) {
                return Err::<ZMsg, HandlerError>("not this time".into());
            }
            Ok(job.take_body())
        }
    });
    let mut client = Client::connect(&endpoint, ClientConfig::default()).unwrap();
    client
        .send("flaky", ZMsg::from_iter(["again"]))
        .await
        .unwrap();
    let reply = tokio::time::timeout(WAIT, client.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text(&reply.body), "again");
    assert!(declined.load(Ordering::SeqCst));
    assert_eq!(broker.stats().unwrap().total.resends, 1);
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    broker.stop().unwrap();
}

/// Replies and refusals as a stream, after `split`: a producer task and a consumer task.
#[tokio::test(flavor = "current_thread")]
async fn a_split_client_streams_replies_and_refusals() {
    use futures_util::StreamExt;
    let mut config = BrokerConfig::new(["tcp://127.0.0.1:*"]);
    config.stats_interval = None;
    config.max_message_size = 100;
    let broker = Broker::spawn(config).unwrap();
    let endpoint = broker.endpoints()[0].clone();
    let client = Client::connect(&endpoint, ClientConfig::default()).unwrap();
    let (mut requests, replies) = client.split();
    let producer = tokio::spawn(async move {
        requests
            .send("mmi.service", ZMsg::from_iter(["echo"]))
            .await
            .unwrap();
        // Over max_message_size (100) but under the ROUTER's frame limit: refused with 413.
        requests
            .send("echo", ZMsg::from_iter([vec![0u8; 200]]))
            .await
            .unwrap();
        requests
    });
    let got: Vec<_> = tokio::time::timeout(WAIT, replies.take(2).collect::<Vec<_>>())
        .await
        .unwrap();
    let first = got[0].as_ref().unwrap();
    assert_eq!(
        (first.service.data(), text(&first.body)),
        (&b"mmi.service"[..], "404".into())
    );
    assert!(
        matches!(
            &got[1],
            Err(mdp::Error::Refused {
                code: mdp::RefusalCode::TooLarge,
                ..
            })
        ),
        "{:?}",
        got[1]
    );
    drop(producer.await.unwrap());
    broker.stop().unwrap();
}
