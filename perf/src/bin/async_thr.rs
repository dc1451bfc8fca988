//! PUSH/PULL throughput of zmsg's `AsyncSocket` on tokio over tcp://127.0.0.1, both ends in one
//! process (`bench/run --async`; compare `blocking_thr` and `zmqrs_thr`). A sender task awaits
//! `send_frame` of `message-count` messages of `message-size` bytes (one shared payload, or with
//! `BENCH_PAYLOAD=fresh` a new message each: see `zmsg_perf::Payload`); a receiver task awaits `recv_frame`, times all but the first message and prints
//! the figures. Each end is a task of its own on the runtime (default: multi-threaded).
//!
//! usage: async_thr <message-size> <message-count> [multi|current]

#[cfg(unix)]
fn main() {
    use zmsg::{AsyncSocket, SocketType};
    use zmsg_perf::{
        check_size, context, fail, loopback_args, print_throughput, runtime, tcp_buffers, Payload,
        Stopwatch, LOOPBACK,
    };

    let args = loopback_args("async_thr", "message-count", true);
    let (size, count) = (args.size, args.count);
    let elapsed = runtime(args.flavour).block_on(async move {
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
        let mut pull = AsyncSocket::new(pull).unwrap_or_else(|err| fail("AsyncSocket", err));
        let mut push = AsyncSocket::new(push).unwrap_or_else(|err| fail("AsyncSocket", err));

        let payload = Payload::new(size);
        let sender = tokio::spawn(async move {
            for _ in 0..count {
                push.send_frame(payload.frame())
                    .await
                    .unwrap_or_else(|err| fail("zmq_sendmsg", err));
            }
            push
        });
        let receiver = tokio::spawn(async move {
            let mut receive = async || {
                let frame = pull
                    .recv_frame()
                    .await
                    .unwrap_or_else(|err| fail("zmq_recvmsg", err));
                check_size(size, frame.len());
            };
            receive().await;
            let watch = Stopwatch::start();
            for _ in 1..count {
                receive().await;
            }
            watch.stop().max(1)
        });
        let elapsed = receiver.await.unwrap_or_else(|err| fail("receiver", err));
        // The sender is dropped only now, every message received.
        drop(sender.await.unwrap_or_else(|err| fail("sender", err)));
        elapsed
    });
    print_throughput(size, count, elapsed);
}

#[cfg(not(unix))]
fn main() {
    zmsg_perf::needs_unix("async_thr")
}
