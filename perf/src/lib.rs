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
