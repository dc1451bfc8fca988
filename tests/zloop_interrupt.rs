//! ZLoop and the process-wide interrupted flag. In a test binary of its own, because the flag is
//! global: raising it would stop every other loop running in the same process.

use std::time::Duration;

use zmsg::{Error, ZLoop};

/// A loop with a fast forever timer that raises the interrupted flag on its third call.
fn interrupting_loop() -> ZLoop<usize> {
    let mut reactor = ZLoop::new(0usize);
    reactor
        .ctx()
        .add_timer(Duration::from_millis(1), 0, |calls, ctx, _| {
            *calls += 1;
            if *calls == 3 {
                zmsg::signal::raise_interrupted();
            }
            if *calls == 10 {
                ctx.stop();
            }
            Ok(())
        });
    // Fails the run rather than hanging if nothing else ends it.
    reactor
        .ctx()
        .add_timer(Duration::from_secs(10), 1, |_, _, _| {
            Err(Error::InvalidArgument("the test timed out".into()))
        });
    reactor
}

#[test]
fn interrupted_flag_ends_run_unless_nonstop() {
    let mut reactor = interrupting_loop();
    let result = reactor.run();
    assert!(matches!(result, Err(Error::Interrupted)), "{result:?}");
    assert_eq!(
        *reactor.state(),
        3,
        "the loop ends right after the flag is raised"
    );
    // While the flag stays raised, run refuses to start.
    assert!(matches!(reactor.run(), Err(Error::Interrupted)));
    zmsg::signal::reset_interrupted();

    // A nonstop loop ignores the flag and ends by its handler's stop.
    let mut reactor = interrupting_loop();
    reactor.set_nonstop(true);
    reactor.run().unwrap();
    assert_eq!(*reactor.state(), 10);
    zmsg::signal::reset_interrupted();
}
