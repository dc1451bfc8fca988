//! REQ/REP round trips of zmsg's `AsyncSocket` on tokio over tcp://127.0.0.1, both ends in one
//! process (`bench/run --async`; compare `blocking_lat` and `zmqrs_lat`). A REP task awaits each
//! request and sends the frame straight back; a REQ task times `roundtrip-count` round trips of
//! `message-size` bytes and prints the figures. Each end is a task of its own on the runtime
//! (default: multi-threaded).
//!
//! usage: async_lat <message-size> <roundtrip-count> [multi|current]

#[cfg(unix)]
fn main() {
    use zmsg::{AsyncSocket, SocketType, ZFrame};
    use zmsg_perf::{
        check_size, context, fail, loopback_args, print_latency, runtime, tcp_buffers, Stopwatch,
        LOOPBACK,
    };

    let args = loopback_args("async_lat", "roundtrip-count", true);
    let (size, count) = (args.size, args.count);
    let elapsed = runtime(args.flavour).block_on(async move {
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
        let mut rep = AsyncSocket::new(rep).unwrap_or_else(|err| fail("AsyncSocket", err));
        let mut req = AsyncSocket::new(req).unwrap_or_else(|err| fail("AsyncSocket", err));

        let server = tokio::spawn(async move {
            for _ in 0..count {
                let frame = rep
                    .recv_frame()
                    .await
                    .unwrap_or_else(|err| fail("zmq_recvmsg", err));
                check_size(size, frame.len());
                // Straight back: libzmq moves the content, nothing is copied.
                rep.send_frame(frame)
                    .await
                    .unwrap_or_else(|err| fail("zmq_sendmsg", err));
            }
        });
        let client = tokio::spawn(async move {
            let mut frame = ZFrame::with_size(size);
            let watch = Stopwatch::start();
            for _ in 0..count {
                req.send_frame(frame)
                    .await
                    .unwrap_or_else(|err| fail("zmq_sendmsg", err));
                frame = req
                    .recv_frame()
                    .await
                    .unwrap_or_else(|err| fail("zmq_recvmsg", err));
                check_size(size, frame.len());
            }
            watch.stop()
        });
        let elapsed = client.await.unwrap_or_else(|err| fail("client", err));
        server.await.unwrap_or_else(|err| fail("server", err));
        elapsed
    });
    print_latency(size, count, elapsed);
}

#[cfg(not(unix))]
fn main() {
    zmsg_perf::needs_unix("async_lat")
}
