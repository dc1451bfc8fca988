//! Port of libzmq's `perf/inproc_lat`: a REQ socket in the main thread and a REP echo thread do
//! `roundtrip-count` round trips over inproc; prints the average one-way latency.
//!
//! usage: inproc_lat <message-size> <roundtrip-count>

use zmsg::{SendFlags, SocketType, ZFrame};
use zmsg_perf::{arg_usize, context, fail, wrong_size, Stopwatch};

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
        let mut frame = ZFrame::new();
        for _ in 0..roundtrip_count {
            socket
                .recv_frame_into(&mut frame, false)
                .unwrap_or_else(|err| fail("zmq_recvmsg", err));
            socket
                .send_frame_ref(&mut frame, SendFlags::NONE)
                .unwrap_or_else(|err| fail("zmq_sendmsg", err));
        }
    });

    let mut frame = ZFrame::with_size(message_size);
    println!("message size: {} [B]", message_size as i32);
    println!("roundtrip count: {}", roundtrip_count as i32);

    let watch = Stopwatch::start();
    for _ in 0..roundtrip_count {
        socket
            .send_frame_ref(&mut frame, SendFlags::NONE)
            .unwrap_or_else(|err| fail("zmq_sendmsg", err));
        socket
            .recv_frame_into(&mut frame, false)
            .unwrap_or_else(|err| fail("zmq_recvmsg", err));
        if frame.len() != message_size {
            wrong_size();
        }
    }
    let elapsed = watch.stop();
    drop(frame);

    let latency = elapsed as f64 / (roundtrip_count as f64 * 2.0);
    if worker.join().is_err() {
        println!("error in pthread_join: worker panicked");
        std::process::exit(255);
    }
    println!("average latency: {latency:.3} [us]");
}
