//! Port of libzmq's `perf/remote_thr`: a PUSH socket connects and sends `message-count` messages
//! of `message-size` bytes as fast as it can.
//!
//! usage: remote_thr <connect-to> <message-size> <message-count> [<enable_curve>]

use zmsg::{SendFlags, SocketType};
use zmsg_perf::{arg_usize, atoi, context, fail, message};

/// Keys as in libzmq's tools; the server public key matches `local_thr`'s secret key.
const SERVER_PUBLIC_KEY: &str = "DX4nh=yUn{-9ugra0X3Src4SU-4xTgqxcYY.+<SH";
const CLIENT_PUBLIC_KEY: &str = "<n^oA}I:66W+*ds3tAmi1+KJzv-}k&fC2aA5Bj0K";
const CLIENT_SECRET_KEY: &str = "9R9bV}[6z6DC-%$!jTVTKvWc=LEL{4i4gzUe$@Zx";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 && args.len() != 5 {
        println!("usage: remote_thr <connect-to> <message-size> <message-count> [<enable_curve>]");
        std::process::exit(1);
    }
    let connect_to = &args[1];
    let message_size = arg_usize(&args[2]);
    let message_count = arg_usize(&args[3]);
    let curve = args.len() >= 5 && atoi(&args[4]) != 0;

    let ctx = context();
    let socket = ctx
        .socket(SocketType::Push)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    if curve {
        socket
            .set_curve_secretkey(CLIENT_SECRET_KEY.as_bytes())
            .and_then(|()| socket.set_curve_publickey(CLIENT_PUBLIC_KEY.as_bytes()))
            .and_then(|()| socket.set_curve_serverkey(SERVER_PUBLIC_KEY.as_bytes()))
            .unwrap_or_else(|err| fail("zmq_setsockoopt", err));
    }
    socket
        .connect(connect_to)
        .unwrap_or_else(|err| fail("zmq_connect", err));

    // As the C tool: a fresh message of message_size bytes for every send.
    for _ in 0..message_count {
        socket
            .send_frame(message(message_size), SendFlags::NONE)
            .unwrap_or_else(|err| fail("zmq_sendmsg", err));
    }
    // Dropping the socket and the context waits (infinite linger) until all are delivered.
}
