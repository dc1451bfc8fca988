//! Port of libzmq's `perf/inproc_thr`: a PUSH thread sends `message-count` messages over inproc
//! to a PULL socket in the main thread, which prints the throughput.
//!
//! usage: inproc_thr <message-size> <message-count>

use zmsg::{SendFlags, SocketType};
use zmsg_perf::{arg_usize, context, fail, message, receive_timed};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        println!("usage: inproc_thr <message-size> <message-count>");
        std::process::exit(1);
    }
    let message_size = arg_usize(&args[1]);
    let message_count = arg_usize(&args[2]);

    let ctx = context();
    let socket = ctx
        .socket(SocketType::Pull)
        .unwrap_or_else(|err| fail("zmq_socket", err));
    socket
        .bind("inproc://thr_test")
        .unwrap_or_else(|err| fail("zmq_bind", err));

    let worker_ctx = ctx.clone();
    let worker = std::thread::spawn(move || {
        let socket = worker_ctx
            .socket(SocketType::Push)
            .unwrap_or_else(|err| fail("zmq_socket", err));
        socket
            .connect("inproc://thr_test")
            .unwrap_or_else(|err| fail("zmq_connect", err));
        for _ in 0..message_count {
            socket
                .send_frame(message(message_size), SendFlags::NONE)
                .unwrap_or_else(|err| fail("zmq_sendmsg", err));
        }
    });

    println!("message size: {} [B]", message_size as i32);
    println!("message count: {}", message_count as i32);
    let elapsed = receive_timed(&socket, message_size, message_count);

    if worker.join().is_err() {
        println!("error in pthread_join: worker panicked");
        std::process::exit(255);
    }

    // As the C tool: the msg/s figure is truncated before the Mb/s figure is derived from it.
    let throughput = (message_count as f64 / elapsed as f64 * 1_000_000.0) as u64;
    let megabits = (throughput as f64 * message_size as f64 * 8.0) / 1_000_000.0;
    println!("mean throughput: {} [msg/s]", throughput as i32);
    println!("mean throughput: {megabits:.3} [Mb/s]");
}
