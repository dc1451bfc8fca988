//! `AsyncSocket` under load: lost wakeups show up as hangs, lost or doubled messages as wrong
//! counts. Every test moves at least 1,000,000 messages through real sockets (inproc, ipc, tcp)
//! with small high-water marks, so that senders block and ZMQ_FD's edges are consumed by the
//! other direction all the time; every test has a time bound and runs on both the current-thread
//! and the multi-threaded runtime.
#![cfg(all(unix, feature = "tokio"))]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use zmsg::{AsyncSocket, SocketType, ZMsg, ZSocket};

/// Messages per case: 1,000,000, or `ZMSG_ASYNC_STRESS_MESSAGES` (scripts/test-cross sets fewer
/// under qemu, where every message costs ten times as much).
fn messages() -> u64 {
    std::env::var("ZMSG_ASYNC_STRESS_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}
/// A bound on each test (a lost wakeup is a hang): generous for a slow, shared machine.
const BOUND: Duration = Duration::from_secs(300);
const HWM: i32 = 20;

fn runtimes() -> Vec<(&'static str, tokio::runtime::Runtime)> {
    vec![
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
        (
            "multi-thread",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ),
    ]
}

/// A bind endpoint per transport; `*` ports and a fresh ipc path.
fn endpoints(name: &str) -> Vec<String> {
    let ipc = std::env::temp_dir().join(format!("zmsg-async-{name}-{}.ipc", std::process::id()));
    vec![
        format!("inproc://async-{name}"),
        format!("ipc://{}", ipc.display()),
        "tcp://127.0.0.1:*".to_string(),
    ]
}

fn socket(kind: SocketType) -> ZSocket {
    let socket = ZSocket::new(kind).unwrap();
    socket.set_sndhwm(HWM).unwrap();
    socket.set_rcvhwm(HWM).unwrap();
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    socket
}

/// A bound socket and a socket connected to it.
fn pair(bind: SocketType, connect: SocketType, endpoint: &str) -> (ZSocket, ZSocket) {
    let server = socket(bind);
    let bound = server.bind(endpoint).unwrap();
    let client = socket(connect);
    client.connect(bound.as_str()).unwrap();
    (server, client)
}

fn number(msg: &ZMsg) -> u64 {
    u64::from_le_bytes(msg.last().unwrap().data().try_into().unwrap())
}

fn run(
    name: &str,
    test: impl Fn(String) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
) {
    for (flavour, runtime) in runtimes() {
        for endpoint in endpoints(&format!("{name}-{flavour}")) {
            let started = std::time::Instant::now();
            runtime.block_on(async {
                tokio::time::timeout(BOUND, test(endpoint.clone()))
                    .await
                    .unwrap_or_else(|_| panic!("{name} on {flavour} over {endpoint}: stuck"));
            });
            println!("{name} {flavour} {endpoint}: {:?}", started.elapsed());
        }
    }
}

#[test]
fn push_pull_with_blocking_sends_delivers_every_message_once() {
    run("pushpull", |endpoint| {
        Box::pin(async move {
            let (pull, push) = pair(SocketType::Pull, SocketType::Push, &endpoint);
            let mut pull = AsyncSocket::new(pull).unwrap();
            let mut push = AsyncSocket::new(push).unwrap();
            let sender = tokio::spawn(async move {
                for n in 0..messages() {
                    push.send(ZMsg::from_iter([n.to_le_bytes().to_vec()]))
                        .await
                        .unwrap();
                }
                push
            });
            for expected in 0..messages() {
                let msg = pull.next().await.unwrap().unwrap();
                assert_eq!(number(&msg), expected);
            }
            drop(sender.await.unwrap());
        })
    });
}

/// Both ends of a DEALER pair send and receive at once, each direction on its own task. One end
/// sends whole messages (`send`), the other single frames (`send_frame`, which hands the frame to
/// libzmq without a `ZMsg`).
#[test]
fn a_dealer_pair_split_into_four_tasks_moves_both_ways() {
    run("dealers", |endpoint| {
        Box::pin(async move {
            let (a, b) = pair(SocketType::Dealer, SocketType::Dealer, &endpoint);
            let (mut senders, mut receivers) = (Vec::new(), Vec::new());
            for (side, socket) in [a, b].into_iter().enumerate() {
                let (mut tx, mut rx) = AsyncSocket::new(socket).unwrap().split();
                senders.push(tokio::spawn(async move {
                    for n in 0..messages() {
                        let body = n.to_le_bytes().to_vec();
                        if side == 0 {
                            tx.send(ZMsg::from_iter([body])).await.unwrap();
                        } else {
                            tx.send_frame(body).await.unwrap();
                        }
                    }
                    tx.close().await.unwrap();
                    tx
                }));
                receivers.push(tokio::spawn(async move {
                    for expected in 0..messages() {
                        let msg = rx.recv().await.unwrap();
                        assert_eq!(number(&msg), expected);
                    }
                }));
            }
            // The sending halves live until everything arrived: closing a socket (linger 0)
            // discards what it has not handed to the peer yet.
            let mut halves = Vec::new();
            for task in senders {
                halves.push(task.await.unwrap());
            }
            for task in receivers {
                task.await.unwrap();
            }
            drop(halves);
        })
    });
}

/// A ROUTER whose receiving half hands requests to its sending half on another task; a DEALER
/// whose halves send requests and take replies on two more.
#[test]
fn router_halves_on_two_tasks_answer_every_request() {
    run("router", |endpoint| {
        Box::pin(async move {
            let (router, dealer) = pair(SocketType::Router, SocketType::Dealer, &endpoint);
            // Without it a ROUTER drops what a full pipe cannot take; with it, sends wait.
            router.set_router_mandatory(true).unwrap();
            let (mut router_tx, mut router_rx) = AsyncSocket::new(router).unwrap().split();
            let (mut dealer_tx, mut dealer_rx) = AsyncSocket::new(dealer).unwrap().split();
            let (handoff, mut requests) = mpsc::channel::<ZMsg>(64);
            let receive = tokio::spawn(async move {
                for _ in 0..messages() {
                    handoff.send(router_rx.recv().await.unwrap()).await.unwrap();
                }
                router_rx
            });
            let answer = tokio::spawn(async move {
                while let Some(request) = requests.recv().await {
                    router_tx.send(request).await.unwrap();
                }
                router_tx
            });
            let ask = tokio::spawn(async move {
                for n in 0..messages() {
                    dealer_tx
                        .send(ZMsg::from_iter([n.to_le_bytes().to_vec()]))
                        .await
                        .unwrap();
                }
                dealer_tx
            });
            for expected in 0..messages() {
                let reply = dealer_rx.recv().await.unwrap();
                assert_eq!(number(&reply), expected);
            }
            // Every half lives until the last reply arrived (closing discards what is queued).
            let _halves = (
                receive.await.unwrap(),
                answer.await.unwrap(),
                ask.await.unwrap(),
            );
        })
    });
}

/// `recv` raced against a timer 100,000 times: a cancelled `recv` loses nothing.
#[test]
fn a_cancelled_recv_loses_no_message() {
    const ROUNDS: u64 = 100_000;
    for (flavour, runtime) in runtimes() {
        runtime.block_on(async {
            tokio::time::timeout(BOUND, async {
                let endpoint = format!("inproc://cancel-{flavour}");
                let (pull, push) = pair(SocketType::Pull, SocketType::Push, &endpoint);
                let mut pull = AsyncSocket::new(pull).unwrap();
                let mut push = AsyncSocket::new(push).unwrap();
                let sender = tokio::spawn(async move {
                    for n in 0..ROUNDS {
                        push.send(ZMsg::from_iter([n.to_le_bytes().to_vec()]))
                            .await
                            .unwrap();
                        // Pauses, so that the receiver often waits and its timer wins.
                        if n % 100 == 99 {
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                    push
                });
                let (mut expected, mut timeouts) = (0, 0u64);
                while expected < ROUNDS {
                    tokio::select! {
                        msg = pull.recv() => {
                            assert_eq!(number(&msg.unwrap()), expected);
                            expected += 1;
                        }
                        _ = tokio::time::sleep(Duration::from_micros(500)) => timeouts += 1,
                    }
                }
                println!("cancel {flavour}: {ROUNDS} messages, {timeouts} recvs cancelled");
                assert!(timeouts > 100, "only {timeouts} recvs were cancelled");
                drop(sender.await.unwrap());
            })
            .await
            .unwrap_or_else(|_| panic!("cancellation test on {flavour}: stuck"));
        });
    }
}
