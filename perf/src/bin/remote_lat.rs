//! Port of libzmq's `perf/remote_lat`: a REQ socket connects, does `roundtrip-count` round trips
//! of `message-size` bytes and prints the average one-way latency.
//!
//! usage: remote_lat <connect-to> <message-size> <roundtrip-count>

use zmsg::SocketType;
use zmsg_perf::{arg_usize, context, fail, ping_pong};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        println!("usage: remote_lat <connect-to> <message-size> <roundtrip-count>");
        std::process::exit(1);
    }
    let connect_to = &args[1];
    let message_size = arg_usize(&args[2]);
    let roundtrip_count = arg_usize(&args[3]);

    let ctx = context();
    let socket = ctx
        .socket(SocketType::Req)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    socket
        .connect(connect_to)
        .unwrap_or_else(|err| fail("zmq_connect", err));

    // One frame goes back and forth: sent, then refilled by the reply.
    let elapsed = ping_pong(&socket, message_size, roundtrip_count);

    let latency = elapsed as f64 / (roundtrip_count as f64 * 2.0);
    println!("message size: {} [B]", message_size as i32);
    println!("roundtrip count: {}", roundtrip_count as i32);
    println!("average latency: {latency:.3} [us]");
}
