//! Shared pieces of the perf programs: C-compatible argument parsing, a microsecond stopwatch and
//! error exits that print what libzmq's perf tools print.
//!
//! The programs in `src/bin/` are ports of libzmq 4.3.5's `perf/` tools on the zmsg API: the same
//! command lines, the same socket types and the same printed figures, so a script can run either
//! and parse both alike.

use std::time::Instant;
use zmsg::RecvFlags;

use zmsg::{SendFlags, ZContext, ZFrame, ZSocket};

/// Parses an integer as C's `atoi` does: leading blanks, an optional sign, then digits up to the
/// first non-digit; 0 when there are none.
pub fn atoi(text: &str) -> i64 {
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for byte in digits.bytes().take_while(u8::is_ascii_digit) {
        value = value
            .saturating_mul(10)
            .saturating_add(i64::from(byte - b'0'));
    }
    if negative {
        -value
    } else {
        value
    }
}

/// Parses a size or count argument; negative values become 0.
pub fn arg_usize(text: &str) -> usize {
    usize::try_from(atoi(text).max(0)).unwrap_or(usize::MAX)
}

/// Prints `error in <what>: <error>` and exits with status 255, as the C tools' `return -1`.
pub fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    println!("error in {what}: {error}");
    std::process::exit(255)
}

/// Prints the C tools' size mismatch message and exits with status 255.
pub fn wrong_size() -> ! {
    println!("message of incorrect size received");
    std::process::exit(255)
}

/// A stopwatch reporting whole microseconds, like `zmq_stopwatch_start`/`zmq_stopwatch_stop`.
#[derive(Debug)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts timing now.
    pub fn start() -> Self {
        Stopwatch(Instant::now())
    }

    /// Microseconds since [`Stopwatch::start`].
    pub fn stop(self) -> u64 {
        u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// A context configured as `zmq_init(1)` leaves one: one I/O thread and libzmq's default
/// (infinite) linger, so a sender's queued messages are all delivered before it exits.
pub fn context() -> ZContext {
    let ctx = ZContext::new().unwrap_or_else(|err| fail("zmq_init", err));
    ctx.set_linger(None);
    ctx
}

/// One message of `size` bytes for a throughput sender, made exactly as libzmq's C tools make
/// theirs: a fresh `zmq_msg_init_size` message for every send, its bytes left unwritten.
#[inline]
pub fn message(size: usize) -> ZFrame {
    // SAFETY: the bytes are never read from Rust: the frame is only sent, and libzmq copies the
    // bytes without interpreting them, as it does for the C tools' unfilled messages.
    unsafe { ZFrame::with_size_uninit(size) }
}

/// The receiving side of `local_thr` and `inproc_thr`: receives `count` messages of `size` bytes
/// into one reused frame and times all but the first (which only waits for the sender), as the
/// C tools do. Returns the elapsed microseconds, at least 1.
pub fn receive_timed(socket: &ZSocket, size: usize, count: usize) -> u64 {
    let mut frame = ZFrame::new();
    recv_checked(socket, &mut frame, Some(size));
    let watch = Stopwatch::start();
    for _ in 1..count {
        recv_checked(socket, &mut frame, Some(size));
    }
    watch.stop().max(1)
}

/// The timing side of `remote_lat` and `inproc_lat`: sends one `size`-byte frame and waits for
/// it to come back, `count` times (the frame is sent, then refilled by the reply). Returns the
/// elapsed microseconds.
pub fn ping_pong(socket: &ZSocket, size: usize, count: usize) -> u64 {
    let mut frame = ZFrame::with_size(size);
    let watch = Stopwatch::start();
    for _ in 0..count {
        socket
            .send_frame_ref(&mut frame, SendFlags::NONE)
            .unwrap_or_else(|err| fail("zmq_sendmsg", err));
        recv_checked(socket, &mut frame, Some(size));
    }
    watch.stop()
}

/// The echoing side of `local_lat` and `inproc_lat`: sends each of `count` received frames
/// straight back (libzmq moves the content, nothing is copied), checking its size when `size`
/// is given.
pub fn echo(socket: &ZSocket, size: Option<usize>, count: usize) {
    let mut frame = ZFrame::new();
    for _ in 0..count {
        recv_checked(socket, &mut frame, size);
        socket
            .send_frame_ref(&mut frame, SendFlags::NONE)
            .unwrap_or_else(|err| fail("zmq_sendmsg", err));
    }
}

/// Receives into `frame`, exiting as the C tools do on an error or (when `size` is given) a
/// message of the wrong size.
#[inline]
fn recv_checked(socket: &ZSocket, frame: &mut ZFrame, size: Option<usize>) {
    socket
        .recv_frame_into(frame, RecvFlags::NONE)
        .unwrap_or_else(|err| fail("zmq_recvmsg", err));
    if size.is_some_and(|size| frame.len() != size) {
        wrong_size();
    }
}

// ----------------------------------------------------------------------------------------------
// The one-process loopback programs of the async comparison (`bench/run --async`): blocking zmsg,
// zmsg's AsyncSocket and zmq.rs, each with both ends in one process over tcp://127.0.0.1, so that
// the three run in the same shape.

/// The endpoint the loopback programs bind: a free port on the loopback interface.
pub const LOOPBACK: &str = "tcp://127.0.0.1:*";

/// Which tokio runtime an async loopback program runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// tokio's multi-threaded runtime with its default number of workers (one per core), each end
    /// on a task of its own: what `#[tokio::main]` gives (the default).
    Multi,
    /// The current-thread runtime: both ends take turns on one thread.
    Current,
}

/// The command line of a loopback program: `<message-size> <count> [multi|current]`.
#[derive(Debug, Clone, Copy)]
pub struct LoopbackArgs {
    /// Bytes per message.
    pub size: usize,
    /// Messages (throughput) or round trips (latency).
    pub count: usize,
    /// The runtime, for the async programs.
    pub flavour: Flavour,
}

/// Parses a loopback program's arguments, printing the usage line and exiting with status 1 when
/// they are wrong, as the other programs do. `async_runtime` says whether the program takes the
/// runtime argument.
pub fn loopback_args(name: &str, count_name: &str, async_runtime: bool) -> LoopbackArgs {
    let args: Vec<String> = std::env::args().collect();
    let flavour = match args.get(3).map(String::as_str) {
        None => Some(Flavour::Multi),
        Some("multi") if async_runtime => Some(Flavour::Multi),
        Some("current") if async_runtime => Some(Flavour::Current),
        Some(_) => None,
    };
    match flavour {
        Some(flavour) if args.len() == 3 || args.len() == 4 => LoopbackArgs {
            size: arg_usize(&args[1]),
            count: arg_usize(&args[2]),
            flavour,
        },
        _ => {
            let runtime = if async_runtime {
                " [multi|current]"
            } else {
                ""
            };
            println!("usage: {name} <message-size> <{count_name}>{runtime}");
            std::process::exit(1);
        }
    }
}

/// Prints a throughput run's figures: `local_thr`'s lines, then the same in megabytes per second.
pub fn print_throughput(size: usize, count: usize, elapsed_us: u64) {
    // As local_thr: the first message only starts the clock, so `count` messages over the time
    // of `count - 1` (a figure the C tool and the ports share).
    let throughput = count as f64 / elapsed_us.max(1) as f64 * 1_000_000.0;
    println!("message size: {} [B]", size as i32);
    println!("message count: {}", count as i32);
    println!("mean throughput: {} [msg/s]", throughput as i64);
    println!(
        "mean throughput: {:.3} [Mb/s]",
        throughput * size as f64 * 8.0 / 1e6
    );
    println!(
        "mean throughput: {:.3} [MB/s]",
        throughput * size as f64 / 1e6
    );
}

/// Prints a latency run's figures: the one-way latency as `remote_lat` does, then the round trip.
pub fn print_latency(size: usize, count: usize, elapsed_us: u64) {
    let round_trip = elapsed_us as f64 / count.max(1) as f64;
    println!("message size: {} [B]", size as i32);
    println!("roundtrip count: {}", count as i32);
    println!("average latency: {:.3} [us]", round_trip / 2.0);
    println!("average round trip: {round_trip:.3} [us]");
}

/// Sets the kernel send and receive buffers of a zmsg socket of the loopback programs to
/// `BENCH_TCP_BUFFER` bytes, when that variable is set (`ZMQ_SNDBUF`/`ZMQ_RCVBUF`; libzmq leaves
/// the system's default otherwise). zmq.rs asks for 4 MiB on every tcp connection, so
/// `BENCH_TCP_BUFFER=4194304` gives zmsg the same buffers, to tell the libraries' cost from the
/// kernel buffers' (docs/performance.md, "Async (tokio)").
pub fn tcp_buffers(socket: &ZSocket) {
    let Some(bytes) = std::env::var("BENCH_TCP_BUFFER")
        .ok()
        .and_then(|text| text.parse::<i32>().ok())
    else {
        return;
    };
    socket
        .set_sndbuf(bytes)
        .and_then(|()| socket.set_rcvbuf(bytes))
        .unwrap_or_else(|err| fail("zmq_setsockopt", err));
}

/// Whether the loopback throughput senders send one shared payload (the default) or a fresh
/// message each time (`BENCH_PAYLOAD=fresh`).
///
/// Shared is each library's cheapest send of an existing buffer, the same work on both sides: a
/// reference-counted `Bytes` clone for zmq.rs (what its own benchmarks send) and a libzmq constant
/// message over one buffer for zmsg ([`ZFrame::from_static`]); neither allocates nor copies per
/// message. Fresh is the C tools' way ([`message`]: a new, unwritten `zmq_msg_init_size` message
/// per send) for zmsg, and a new zeroed `Vec` per send for zmq.rs (safe Rust has no unwritten
/// buffer to offer).
pub fn fresh_payload() -> bool {
    std::env::var("BENCH_PAYLOAD").is_ok_and(|mode| mode == "fresh")
}

/// What a zmsg loopback throughput sender sends: see [`fresh_payload`].
#[derive(Debug, Clone, Copy)]
pub struct Payload {
    size: usize,
    shared: Option<&'static [u8]>,
}

impl Payload {
    /// Messages of `size` bytes, made as `BENCH_PAYLOAD` says.
    pub fn new(size: usize) -> Payload {
        let shared = (!fresh_payload()).then(|| &*Box::leak(vec![0u8; size].into_boxed_slice()));
        Payload { size, shared }
    }

    /// The next message to send.
    #[inline]
    pub fn frame(&self) -> ZFrame {
        match self.shared {
            Some(bytes) => ZFrame::from_static(bytes),
            None => message(self.size),
        }
    }
}

/// Checks a received message's size as [`recv_checked`] does: exits with the C tools' message
/// when it is wrong.
#[inline]
pub fn check_size(expected: usize, got: usize) {
    if got != expected {
        wrong_size();
    }
}

/// A tokio runtime of the given flavour (`Multi`: tokio's default worker count, one per core),
/// for the async loopback programs.
#[cfg(unix)]
pub fn runtime(flavour: Flavour) -> tokio::runtime::Runtime {
    let mut builder = match flavour {
        Flavour::Multi => tokio::runtime::Builder::new_multi_thread(),
        Flavour::Current => tokio::runtime::Builder::new_current_thread(),
    };
    builder
        .enable_all()
        .build()
        .unwrap_or_else(|err| fail("tokio runtime", err))
}

/// The body of a loopback program on a platform without the async comparison (its crates are
/// Unix-only here, as zmsg's `AsyncSocket` is).
#[cfg(not(unix))]
pub fn needs_unix(name: &str) -> ! {
    println!("{name}: the async comparison needs Unix (tokio's AsyncFd)");
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_matches_c() {
        assert_eq!(atoi("42"), 42);
        assert_eq!(atoi("  17abc"), 17);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("x1"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(arg_usize("-5"), 0);
    }

    #[test]
    fn messages_have_the_requested_size() {
        for size in [0, 1, 32, 33, 4096] {
            let frame = message(size);
            assert_eq!(frame.len(), size);
        }
    }
}
