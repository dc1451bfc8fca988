//! PUSH/PULL throughput of zmq.rs (crate `zeromq`, pure-Rust async ZeroMQ) on tokio over
//! tcp://127.0.0.1, both ends in one process: what `async_thr` is compared with
//! (`bench/run --async`). The sender sends one `message-size`-byte `Bytes` payload
//! `message-count` times, as zmq.rs's own benchmarks do (each send a reference-counted clone, as
//! the zmsg programs send one constant message; with `BENCH_PAYLOAD=fresh` a new zeroed `Vec`
//! each); the receiver times all but the first message and prints the figures.
//!
//! usage: zmqrs_thr <message-size> <message-count> [multi|current]

#[cfg(unix)]
fn main() {
    use bytes::Bytes;
    use zeromq::{PullSocket, PushSocket, Socket, SocketRecv, SocketSend, ZmqMessage};
    use zmsg_perf::{
        check_size, fail, fresh_payload, loopback_args, print_throughput, runtime, Stopwatch,
    };

    let args = loopback_args("zmqrs_thr", "message-count", true);
    let (size, count) = (args.size, args.count);
    let elapsed = runtime(args.flavour).block_on(async move {
        let mut pull = PullSocket::new();
        let endpoint = pull
            .bind("tcp://127.0.0.1:0")
            .await
            .unwrap_or_else(|err| fail("bind", err));
        let mut push = PushSocket::new();
        push.connect(&endpoint.to_string())
            .await
            .unwrap_or_else(|err| fail("connect", err));

        let payload = Bytes::from(vec![0u8; size]);
        let fresh = fresh_payload();
        let sender = tokio::spawn(async move {
            for _ in 0..count {
                let body = if fresh {
                    Bytes::from(vec![0u8; size])
                } else {
                    payload.clone()
                };
                push.send(ZmqMessage::from(body))
                    .await
                    .unwrap_or_else(|err| fail("send", err));
            }
            push
        });
        let receiver = tokio::spawn(async move {
            let mut receive = async || {
                let msg = pull.recv().await.unwrap_or_else(|err| fail("recv", err));
                check_size(size, msg.get(0).map_or(usize::MAX, Bytes::len));
            };
            receive().await;
            let watch = Stopwatch::start();
            for _ in 1..count {
                receive().await;
            }
            watch.stop().max(1)
        });
        let elapsed = receiver.await.unwrap_or_else(|err| fail("receiver", err));
        // zmq.rs's send only queues: the sender is dropped once every message has arrived.
        drop(sender.await.unwrap_or_else(|err| fail("sender", err)));
        elapsed
    });
    print_throughput(size, count, elapsed);
}

#[cfg(not(unix))]
fn main() {
    zmsg_perf::needs_unix("zmqrs_thr")
}
