//! REQ/REP round trips of zmq.rs (crate `zeromq`, pure-Rust async ZeroMQ) on tokio over
//! tcp://127.0.0.1, both ends in one process: what `async_lat` is compared with
//! (`bench/run --async`). A REP task sends each request straight back; a REQ task times
//! `roundtrip-count` round trips of `message-size` bytes and prints the figures.
//!
//! usage: zmqrs_lat <message-size> <roundtrip-count> [multi|current]

#[cfg(unix)]
fn main() {
    use bytes::Bytes;
    use zeromq::{RepSocket, ReqSocket, Socket, SocketRecv, SocketSend, ZmqMessage};
    use zmsg_perf::{check_size, fail, loopback_args, print_latency, runtime, Stopwatch};

    let args = loopback_args("zmqrs_lat", "roundtrip-count", true);
    let (size, count) = (args.size, args.count);
    let elapsed = runtime(args.flavour).block_on(async move {
        let mut rep = RepSocket::new();
        let endpoint = rep
            .bind("tcp://127.0.0.1:0")
            .await
            .unwrap_or_else(|err| fail("bind", err));
        let mut req = ReqSocket::new();
        req.connect(&endpoint.to_string())
            .await
            .unwrap_or_else(|err| fail("connect", err));

        let server = tokio::spawn(async move {
            for _ in 0..count {
                let msg = rep.recv().await.unwrap_or_else(|err| fail("recv", err));
                check_size(size, msg.get(0).map_or(usize::MAX, Bytes::len));
                rep.send(msg).await.unwrap_or_else(|err| fail("send", err));
            }
            rep
        });
        let client = tokio::spawn(async move {
            let mut msg = ZmqMessage::from(vec![0u8; size]);
            let watch = Stopwatch::start();
            for _ in 0..count {
                req.send(msg).await.unwrap_or_else(|err| fail("send", err));
                msg = req.recv().await.unwrap_or_else(|err| fail("recv", err));
                check_size(size, msg.get(0).map_or(usize::MAX, Bytes::len));
            }
            watch.stop()
        });
        let elapsed = client.await.unwrap_or_else(|err| fail("client", err));
        drop(server.await.unwrap_or_else(|err| fail("server", err)));
        elapsed
    });
    print_latency(size, count, elapsed);
}

#[cfg(not(unix))]
fn main() {
    zmsg_perf::needs_unix("zmqrs_lat")
}
