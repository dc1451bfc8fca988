//! PUSH/PULL throughput of blocking zmsg over tcp://127.0.0.1, both ends in one process: the
//! baseline of the async comparison (`bench/run --async`), in the same shape as `async_thr` and
//! `zmqrs_thr`. A PUSH thread sends `message-count` messages of `message-size` bytes (one shared
//! payload, or with `BENCH_PAYLOAD=fresh` a new message each, as `remote_thr`: see
//! `zmsg_perf::Payload`); the main thread's PULL receives them (as `local_thr`) and prints the
//! figures.
//!
//! usage: blocking_thr <message-size> <message-count>

use zmsg::{SendFlags, SocketType};
use zmsg_perf::{
    context, fail, loopback_args, print_throughput, receive_timed, tcp_buffers, Payload, LOOPBACK,
};

fn main() {
    let args = loopback_args("blocking_thr", "message-count", false);
    let (size, count) = (args.size, args.count);

    // One context per end, each with its own libzmq I/O thread, as when the ends are two
    // processes (local_thr/remote_thr): one shared I/O thread would carry both ends' tcp work.
    let (ctx, peer_ctx) = (context(), context());
    let pull = ctx
        .socket(SocketType::Pull)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    tcp_buffers(&pull);
    let endpoint = pull
        .bind(LOOPBACK)
        .unwrap_or_else(|err| fail("zmq_bind", err));
    let push = peer_ctx
        .socket(SocketType::Push)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    tcp_buffers(&push);
    push.connect(endpoint.as_str())
        .unwrap_or_else(|err| fail("zmq_connect", err));

    let payload = Payload::new(size);
    let sender = std::thread::spawn(move || {
        for _ in 0..count {
            push.send_frame(payload.frame(), SendFlags::NONE)
                .unwrap_or_else(|err| fail("zmq_sendmsg", err));
        }
        push
    });
    let elapsed = receive_timed(&pull, size, count);
    let push = sender
        .join()
        .unwrap_or_else(|_| fail("pthread_join", "sender panicked"));
    drop(push);
    print_throughput(size, count, elapsed);
}
