//! The one error type of zmsg.
//!
//! libzmq reports failures through `errno`; [`Error`] keeps that number and turns the three that
//! callers branch on — `EAGAIN`, `ETERM` and `EINTR` — into their own variants.

use std::ffi::CStr;

/// A zmsg result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in zmsg.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operation would block (`EAGAIN`): a non-blocking call found nothing, or a send or
    /// receive timeout expired.
    #[error("resource temporarily unavailable (timed out or would block)")]
    Again,
    /// The context was terminated (`ETERM`): the socket must be closed.
    #[error("the ZeroMQ context was terminated")]
    Terminated,
    /// A blocking call was interrupted by a signal (`EINTR`).
    #[error("interrupted by a signal")]
    Interrupted,
    /// Any other libzmq error, with its `errno` and libzmq's description.
    #[error("{message} (errno {errno})")]
    Zmq {
        /// The raw `errno` value.
        errno: i32,
        /// libzmq's `zmq_strerror` text.
        message: String,
    },
    /// An endpoint string that cannot be used (bad prefix, empty, or not valid for the call).
    #[error("invalid endpoint {0:?}")]
    InvalidEndpoint(String),
    /// A message had no frame left to pop.
    #[error("the message has no more frames")]
    EmptyMessage,
    /// A frame could not be decoded as the requested type.
    #[error("cannot read a {expected} from a frame of {len} bytes")]
    FrameType {
        /// The type that was asked for.
        expected: &'static str,
        /// The frame's size.
        len: usize,
    },
    /// A frame held bytes that are not valid for the requested type (bad UTF-8, unknown enum
    /// value, undecodable protobuf, ...).
    #[error("cannot decode a {expected}: {reason}")]
    Decode {
        /// The type that was asked for.
        expected: &'static str,
        /// Why decoding failed.
        reason: String,
    },
    /// A value that an API does not accept (a bad option value, an out-of-range number, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A certificate (or password) file that cannot be read or parsed; `line` is 1-based, 0 when
    /// the problem is the file as a whole (missing, unreadable, no public key).
    #[error("{}{}: {reason}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Cert {
        /// The file.
        path: std::path::PathBuf,
        /// The offending line (1-based), or 0 for the whole file.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An operating-system I/O error (files, threads).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Builds an error from a raw `errno` value, mapping the ones callers match on.
    pub fn from_errno(errno: i32) -> Self {
        match errno {
            libc::EAGAIN => Error::Again,
            libc::EINTR => Error::Interrupted,
            e if e == zmsg_sys::ETERM => Error::Terminated,
            _ => Error::Zmq {
                errno,
                message: strerror(errno),
            },
        }
    }

    /// The error libzmq reports for the calling thread's last failed call.
    pub fn last() -> Self {
        // SAFETY: zmq_errno only reads the calling thread's errno.
        Self::from_errno(unsafe { zmsg_sys::zmq_errno() })
    }

    /// The `errno` behind this error, when it came from libzmq.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Again => Some(libc::EAGAIN),
            Error::Interrupted => Some(libc::EINTR),
            Error::Terminated => Some(zmsg_sys::ETERM),
            Error::Zmq { errno, .. } => Some(*errno),
            Error::Io(err) => err.raw_os_error(),
            _ => None,
        }
    }

    /// True for [`Error::Again`]: a timeout or a non-blocking call with nothing to do.
    pub fn is_again(&self) -> bool {
        matches!(self, Error::Again)
    }
}

/// libzmq's text for an errno value.
fn strerror(errno: i32) -> String {
    // SAFETY: zmq_strerror returns a pointer to a static, NUL-terminated string for any input.
    let text = unsafe { CStr::from_ptr(zmsg_sys::zmq_strerror(errno)) };
    text.to_string_lossy().into_owned()
}

/// Turns a libzmq return code (`-1` on failure) into a result.
pub(crate) fn check(rc: i32) -> Result<i32> {
    if rc == -1 {
        Err(Error::last())
    } else {
        Ok(rc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_variants() {
        assert!(matches!(Error::from_errno(libc::EAGAIN), Error::Again));
        assert!(matches!(Error::from_errno(libc::EINTR), Error::Interrupted));
        assert!(matches!(
            Error::from_errno(zmsg_sys::ETERM),
            Error::Terminated
        ));
        let other = Error::from_errno(zmsg_sys::EFSM);
        assert_eq!(other.errno(), Some(zmsg_sys::EFSM));
        assert!(other.to_string().contains("errno"), "{other}");
    }
}
