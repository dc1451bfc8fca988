//! A real SIGINT ends a blocked ZLoop or ZPoller wait whichever thread the signal is delivered to
//! and whenever it lands (the interrupt pipe of `zmsg::signal`). In a test binary of its own,
//! because the interrupted state is process-wide.
#![cfg(unix)]

use std::time::Duration;

use zmsg::{Error, ZLoop, ZPoller, ZSocket};

/// Sends SIGINT to this process from another thread, which may well be the thread that gets it.
fn interrupt_from_another_thread() -> std::thread::JoinHandle<()> {
    std::thread::spawn(|| {
        // SAFETY: kill(2) on our own pid with a signal whose handler is installed.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGINT) }, 0);
    })
}

#[test]
fn sigint_ends_blocked_loop_and_poller() {
    zmsg::install_interrupt_handler().unwrap();

    // A loop with one idle reader: nothing but the signal (or the guard) can end its poll.
    let idle = ZSocket::new_pull("@inproc://signal-wakeup-loop").unwrap();
    let mut reactor = ZLoop::new(());
    reactor.ctx().add_reader(idle, |_, _, _| Ok(()));
    reactor
        .ctx()
        .add_timer(Duration::from_secs(20), 1, |_, _, _| {
            Err(Error::InvalidArgument("the signal was missed".into()))
        });
    let sender = interrupt_from_another_thread();
    let result = reactor.run();
    sender.join().unwrap();
    assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
    assert!(zmsg::interrupted());
    zmsg::signal::reset_interrupted();
    assert!(!zmsg::interrupted());

    // The same for a ZPoller wait.
    let idle = ZSocket::new_pull("@inproc://signal-wakeup-poller").unwrap();
    let mut poller = ZPoller::new();
    poller.add(&idle);
    let sender = interrupt_from_another_thread();
    let result = poller.wait(Some(Duration::from_secs(20)));
    sender.join().unwrap();
    assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
    zmsg::signal::reset_interrupted();

    // After the reset, waits time out normally again.
    assert_eq!(poller.wait(Some(Duration::from_millis(10))).unwrap(), None);
}
