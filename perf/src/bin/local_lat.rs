//! Port of libzmq's `perf/local_lat`: a REP socket binds and echoes `roundtrip-count` messages.
//!
//! usage: local_lat <bind-to> <message-size> <roundtrip-count>

use std::time::Duration;

use zmsg::SocketType;
use zmsg_perf::{arg_usize, context, echo, fail};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        println!("usage: local_lat <bind-to> <message-size> <roundtrip-count>");
        std::process::exit(1);
    }
    let bind_to = &args[1];
    let message_size = arg_usize(&args[2]);
    let roundtrip_count = arg_usize(&args[3]);

    let ctx = context();
    let socket = ctx
        .socket(SocketType::Rep)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    socket
        .bind(bind_to)
        .unwrap_or_else(|err| fail("zmq_bind", err));

    // The received frame is sent straight back: libzmq moves the content, nothing is copied.
    echo(&socket, Some(message_size), roundtrip_count);

    // As the C tool does (zmq_sleep(1)) before closing; the measurement is over by now.
    std::thread::sleep(Duration::from_secs(1));
}
