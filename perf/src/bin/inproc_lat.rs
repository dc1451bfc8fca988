//! Port of libzmq's `perf/inproc_lat`: a REQ socket in the main thread and a REP echo thread do
//! `roundtrip-count` round trips over inproc; prints the average one-way latency.
//!
//! usage: inproc_lat <message-size> <roundtrip-count>

use zmsg::SocketType;
use zmsg_perf::{arg_usize, context, echo, fail, ping_pong};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        println!("usage: inproc_lat <message-size> <roundtrip-count>");
        std::process::exit(1);
    }
    let message_size = arg_usize(&args[1]);
    let roundtrip_count = arg_usize(&args[2]);

    let ctx = context();
    let socket = ctx
        .socket(SocketType::Req)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    socket
        .bind("inproc://lat_test")
        .unwrap_or_else(|err| fail("zmq_bind", err));

    let worker_ctx = ctx.clone();
    let worker = std::thread::spawn(move || {
        let socket = worker_ctx
            .socket(SocketType::Rep)
            .unwrap_or_else(|err| fail("zmq_socket", err));
        socket
            .connect("inproc://lat_test")
            .unwrap_or_else(|err| fail("zmq_connect", err));
        echo(&socket, None, roundtrip_count);
    });

    println!("message size: {} [B]", message_size as i32);
    println!("roundtrip count: {}", roundtrip_count as i32);
    let elapsed = ping_pong(&socket, message_size, roundtrip_count);

    let latency = elapsed as f64 / (roundtrip_count as f64 * 2.0);
    if worker.join().is_err() {
        println!("error in pthread_join: worker panicked");
        std::process::exit(255);
    }
    println!("average latency: {latency:.3} [us]");
}
