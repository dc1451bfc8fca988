//! REQ/REP round trips of blocking zmsg over tcp://127.0.0.1, both ends in one process: the
//! baseline of the async comparison (`bench/run --async`), in the same shape as `async_lat` and
//! `zmqrs_lat`. A REP thread echoes (as `local_lat`); the main thread's REQ times
//! `roundtrip-count` round trips of `message-size` bytes (as `remote_lat`).
//!
//! usage: blocking_lat <message-size> <roundtrip-count>

use zmsg::SocketType;
use zmsg_perf::{
    context, echo, fail, loopback_args, ping_pong, print_latency, tcp_buffers, LOOPBACK,
};

fn main() {
    let args = loopback_args("blocking_lat", "roundtrip-count", false);
    let (size, count) = (args.size, args.count);

    // One context per end, each with its own libzmq I/O thread, as when the ends are two
    // processes (local_thr/remote_thr): one shared I/O thread would carry both ends' tcp work.
    let (ctx, peer_ctx) = (context(), context());
    let rep = ctx
        .socket(SocketType::Rep)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    tcp_buffers(&rep);
    let endpoint = rep
        .bind(LOOPBACK)
        .unwrap_or_else(|err| fail("zmq_bind", err));
    let req = peer_ctx
        .socket(SocketType::Req)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    tcp_buffers(&req);
    req.connect(endpoint.as_str())
        .unwrap_or_else(|err| fail("zmq_connect", err));

    let server = std::thread::spawn(move || echo(&rep, Some(size), count));
    let elapsed = ping_pong(&req, size, count);
    server
        .join()
        .unwrap_or_else(|_| fail("pthread_join", "server panicked"));
    print_latency(size, count, elapsed);
}
