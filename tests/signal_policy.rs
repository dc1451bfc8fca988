//! One policy for signals: a burst of SIGUSR1 (with a handler of the application's, as a
//! profiler's SIGPROF or a SIGCHLD handler would be) aimed at the very threads that wait in
//! `zmq_poll` stops neither a `ZLoop` nor an `mdp::Worker`; SIGINT after
//! `install_interrupt_handler` still stops both. A test binary of its own: the handlers and the
//! interrupted flag are process-wide, so everything runs in one test, in order.
#![cfg(unix)]

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::TryRecvError;
use std::time::{Duration, Instant};

use mdp::{Broker, BrokerConfig, Client, ClientConfig, Worker, WorkerConfig};
use zmsg::{Error, ZLoop, ZMsg, ZSocket};

static USR1: AtomicUsize = AtomicUsize::new(0);

/// Installs an application handler for SIGUSR1 without SA_RESTART, so that blocking calls in the
/// thread it lands on fail with EINTR.
fn install_usr1_handler() {
    extern "C" fn on_usr1(_: libc::c_int) {
        USR1.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: a zeroed sigaction with an async-signal-safe handler (one atomic add) and no flags.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut())
    };
    assert_eq!(rc, 0);
}

/// Sends `count` SIGUSR1 to `thread`, each after the last was handled.
fn burst(thread: libc::pthread_t, count: usize) {
    for _ in 0..count {
        let before = USR1.load(Ordering::Relaxed);
        // SAFETY: the thread is alive (it is joined only later) and SIGUSR1 has a handler.
        assert_eq!(unsafe { libc::pthread_kill(thread, libc::SIGUSR1) }, 0);
        let deadline = Instant::now() + Duration::from_secs(10);
        while USR1.load(Ordering::Relaxed) == before {
            assert!(Instant::now() < deadline, "SIGUSR1 was never handled");
            std::thread::yield_now();
        }
    }
}

fn interrupt_process() {
    // SAFETY: raising SIGINT in our own process, whose handler install_interrupt_handler set.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGINT) }, 0);
}

#[test]
fn other_signals_never_stop_loops_or_workers_and_sigint_does() {
    zmsg::install_interrupt_handler().unwrap();
    install_usr1_handler();

    // A ZLoop waiting on a socket (no timer: it sits in zmq_poll with no timeout).
    let endpoint = "inproc://signal-policy-loop";
    let feed = ZSocket::new_pair(&format!("@{endpoint}")).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    // Built in its thread: a loop and its handlers are not Send.
    let looping = std::thread::spawn(move || {
        let mut reactor = ZLoop::new(0usize);
        reactor.ctx().add_reader(
            ZSocket::new_pair(&format!(">{endpoint}")).unwrap(),
            |seen: &mut usize, ctx, id| {
                if let Some(socket) = ctx.socket(id) {
                    while socket.recv_msg_dontwait().is_ok() {
                        *seen += 1;
                    }
                }
                Ok(())
            },
        );
        let result = reactor.run();
        let _ = done_tx.send(());
        (result, *reactor.state())
    });
    burst(looping.as_pthread_t(), 200);
    // Empty, not Disconnected: a loop thread that ended (or panicked) fails here, not later.
    assert!(
        matches!(done_rx.try_recv(), Err(TryRecvError::Empty)),
        "SIGUSR1 ended the loop"
    );
    feed.set_sndtimeo(Some(Duration::from_secs(10))).unwrap();
    feed.send("after the burst").unwrap();
    interrupt_process();
    assert!(
        done_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "SIGINT did not end the loop"
    );
    let (result, _) = looping.join().unwrap();
    assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
    zmsg::signal::reset_interrupted();

    // An mdp::Worker waiting for requests, then serving one after the burst.
    let broker = Broker::spawn(BrokerConfig::new(["tcp://127.0.0.1:*"])).unwrap();
    let endpoint = broker.endpoints()[0].clone();
    let mut worker = Worker::connect(&endpoint, "echo", WorkerConfig::default()).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let working = std::thread::spawn(move || {
        let result = worker.run(|body: ZMsg| body);
        let _ = done_tx.send(());
        result
    });
    let mut client = Client::connect(
        &endpoint,
        ClientConfig {
            timeout: Duration::from_secs(10),
            ..ClientConfig::default()
        },
    )
    .unwrap();
    assert_eq!(
        client
            .send_str("echo", "before")
            .unwrap()
            .pop_str()
            .unwrap(),
        "before"
    );
    burst(working.as_pthread_t(), 200);
    assert!(
        matches!(done_rx.try_recv(), Err(TryRecvError::Empty)),
        "SIGUSR1 ended the worker"
    );
    assert_eq!(
        client.send_str("echo", "after").unwrap().pop_str().unwrap(),
        "after"
    );
    interrupt_process();
    assert!(
        done_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "SIGINT did not stop the worker"
    );
    working.join().unwrap().unwrap();
    zmsg::signal::reset_interrupted();
    drop(client);
    broker.stop().unwrap();
}
