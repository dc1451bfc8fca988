//! ZLoop's promise: no (Rust) heap allocation per event in steady state. Counted with a global
//! allocator that only counts on the test's thread while the loop runs, in a test binary of its
//! own so that no other test shares the allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;
use zmsg::RecvFlags;

use zmsg::{Error, TicketId, ZLoop, ZMsg, ZSocket};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator; the counters are const-initialised
// thread-locals without destructors, so touching them never allocates or re-enters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct State {
    buffer: ZMsg,
    received: usize,
    ticks: usize,
    ticket: TicketId,
}

#[test]
fn steady_state_dispatch_does_not_allocate() {
    // The counter does count.
    COUNTING.with(|on| on.set(true));
    drop(std::hint::black_box(Vec::<u8>::with_capacity(16)));
    COUNTING.with(|on| on.set(false));
    assert_eq!(ALLOCATIONS.with(|n| n.replace(0)), 1);

    let endpoint = format!("inproc://zloop-alloc-{}", std::process::id());
    let server = ZSocket::new_pair(&format!("@{endpoint}")).unwrap();
    let client = ZSocket::new_pair(&format!(">{endpoint}")).unwrap();

    let mut reactor = ZLoop::new(State {
        buffer: ZMsg::new(),
        received: 0,
        ticks: 0,
        ticket: TicketId::default(),
    });
    let (state, ctx) = reactor.parts();
    ctx.set_ticket_delay(Duration::from_secs(3600));
    state.ticket = ctx.add_ticket(|_, _, _| Ok(()));
    ctx.add_reader(server, |state: &mut State, ctx, id| loop {
        match ctx
            .socket(id)
            .expect("registered")
            .recv_msg_into(&mut state.buffer, RecvFlags::DONTWAIT)
        {
            Ok(()) => {
                state.received += 1;
                ctx.reset_ticket(state.ticket);
            }
            Err(Error::Again) => return Ok(()),
            Err(err) => return Err(err),
        }
    });
    // A timer due at every iteration, and one that is re-armed but never due here.
    ctx.add_timer(Duration::ZERO, 0, |state: &mut State, _, _| {
        state.ticks += 1;
        Ok(())
    });
    ctx.add_timer(Duration::from_secs(3600), 0, |_, _, _| Ok(()));

    let mut measured = 0;
    for round in 0..200 {
        for _ in 0..10 {
            client.send_multipart(["header", "body"]).unwrap();
        }
        let expected = reactor.state().received + 10;
        let warm = round >= 20;
        while reactor.state().received < expected {
            COUNTING.with(|on| on.set(warm));
            let result = reactor.run_once(Some(Duration::from_secs(10)));
            COUNTING.with(|on| on.set(false));
            result.unwrap();
            if warm {
                measured += 1;
            }
        }
    }
    assert_eq!(reactor.state().received, 2000);
    assert!(measured >= 180 && reactor.state().ticks >= 200);
    let allocations = ALLOCATIONS.with(Cell::get);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {measured} loop iterations"
    );
}
