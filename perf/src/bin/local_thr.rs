//! Port of libzmq's `perf/local_thr`: a PULL socket binds, receives `message-count` messages of
//! `message-size` bytes and prints the throughput.
//!
//! usage: local_thr <bind-to> <message-size> <message-count> [<enable_curve>]

use zmsg::SocketType;
use zmsg_perf::{arg_usize, atoi, context, fail, receive_timed};

/// The server's secret key; it matches `remote_thr`'s server public key (as in libzmq's tools).
const SERVER_SECRET_KEY: &str = "{X}#>t#jRGaQ}gMhv=30r(Mw+87YGs+5%kh=i@f8";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 && args.len() != 5 {
        println!("usage: local_thr <bind-to> <message-size> <message-count> [<enable_curve>]");
        std::process::exit(1);
    }
    let bind_to = &args[1];
    let message_size = arg_usize(&args[2]);
    let message_count = arg_usize(&args[3]);
    let curve = args.len() >= 5 && atoi(&args[4]) != 0;

    let ctx = context();
    let socket = ctx
        .socket(SocketType::Pull)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    if curve {
        socket
            .set_curve_secretkey(SERVER_SECRET_KEY.as_bytes())
            .unwrap_or_else(|err| fail("zmq_setsockoopt", err));
        socket
            .set_curve_server(true)
            .unwrap_or_else(|err| fail("zmq_setsockoopt", err));
    }
    socket
        .bind(bind_to)
        .unwrap_or_else(|err| fail("zmq_bind", err));

    // One frame, reused for every message: no allocation on our side of the hot loop.
    let elapsed = receive_timed(&socket, message_size, message_count);

    let throughput = message_count as f64 / elapsed as f64 * 1_000_000.0;
    let megabits = throughput * message_size as f64 * 8.0 / 1_000_000.0;

    println!("message size: {} [B]", message_size as i32);
    println!("message count: {}", message_count as i32);
    println!("mean throughput: {} [msg/s]", throughput as i32);
    println!("mean throughput: {megabits:.3} [Mb/s]");
}
