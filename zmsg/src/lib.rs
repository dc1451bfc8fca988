//! # zmsg — native ZeroMQ for Rust
//!
//! A safe, CZMQ-style API over libzmq 4.3.5, which the `zmsg-sys` crate builds from source with
//! libsodium, so CURVE security works out of the box.
//!
//! - [`ZSocket`]: every socket type, CZMQ endpoint syntax (`@` bind, `>` connect), typed options.
//! - [`ZFrame`] and [`ZMsg`]: zero-copy frames and multipart messages with typed push/pop.
//! - [`ZPoller`], [`ZLoop`] (reactor with readers, timers and tickets) and [`ZActor`].
//! - [`ZContext`]: a process-wide default context, or your own.
//!
//! ```
//! use zmsg::{ZMsg, ZSocket};
//! let server = ZSocket::new_rep("@inproc://doc-example")?;
//! let client = ZSocket::new_req(">inproc://doc-example")?;
//! let mut request = ZMsg::new();
//! request.append("add");
//! request.append(2u32);
//! request.append(3u32);
//! client.send_msg(request)?;
//! let mut got = server.recv_msg()?;
//! assert_eq!(got.pop_str()?, "add");
//! let sum = got.pop::<u32>()? + got.pop::<u32>()?;
//! server.send(sum)?;                      // typed values become frames everywhere (IntoFrame)
//! assert_eq!(client.recv_msg()?.pop::<u32>()?, 5);
//! # Ok::<(), zmsg::Error>(())
//! ```
//!
//! ## Threads
//!
//! Sockets, frames and messages are `Send` (move them to another thread) but not `Sync`: libzmq
//! sockets must not be used from two threads at once, and cloning a frame writes libzmq's
//! reference count in the source message. These do not compile:
//!
//! ```compile_fail,E0277
//! fn shared<T: Sync>() {}
//! shared::<zmsg::ZSocket>();
//! ```
//!
//! ```compile_fail,E0277
//! fn shared<T: Sync>() {}
//! shared::<zmsg::ZFrame>();
//! ```
//!
//! ```compile_fail,E0277
//! fn shared<T: Sync>() {}
//! shared::<zmsg::ZMsg>();
//! ```
//!
//! ```
//! fn sendable<T: Send>() {}
//! sendable::<zmsg::ZSocket>();
//! sendable::<zmsg::ZFrame>();
//! sendable::<zmsg::ZMsg>();
//! ```
#![deny(missing_docs)]

pub mod actor;
#[cfg(feature = "tokio")]
pub mod async_socket;
pub mod auth;
pub mod cert;
pub mod certstore;
pub mod context;
pub mod error;
pub mod frame;
pub mod monitor;
pub mod msg;
pub mod options;
pub mod poller;
pub mod proxy;
pub mod signal;
mod slab;
pub mod socket;
pub mod value;
pub mod z85;
pub mod zloop;

pub use actor::ZActor;
#[cfg(feature = "tokio")]
pub use async_socket::{AsyncReceiver, AsyncSender, AsyncSocket};
pub use auth::ZAuth;
pub use cert::ZCert;
pub use certstore::ZCertStore;
pub use context::{shutdown, ZContext};
pub use error::{Error, Result};
pub use frame::ZFrame;
pub use monitor::{MonitorEvent, MonitorEventKind, MonitorEvents, ZMonitor};
pub use msg::{IntoFrame, ZMsg};
pub use options::Mechanism;
pub use poller::ZPoller;
pub use proxy::{proxy, proxy_steerable, ZProxy};
pub use signal::{install_interrupt_handler, interrupted};
pub use socket::{BoundEndpoint, Events, RecvFlags, SendFlags, SocketType, ZSocket};
pub use value::FrameValue;
pub use zloop::{LoopCtx, ReaderId, TicketId, TimerId, ZLoop};

/// Re-export of the raw bindings, for what the safe API does not cover.
pub use zmsg_sys as sys;

/// The version of libzmq in use, as (major, minor, patch).
pub fn version() -> (i32, i32, i32) {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: zmq_version writes three ints through the valid pointers given.
    unsafe { zmsg_sys::zmq_version(&mut major, &mut minor, &mut patch) };
    (major, minor, patch)
}

/// Whether libzmq was built with a capability: `"ipc"`, `"pgm"`, `"tipc"`, `"norm"`, `"curve"`,
/// `"gssapi"`, `"draft"`. With zmsg-sys's default build, `has("curve")` is always true.
///
/// ```
/// assert!(zmsg::has("curve"));
/// ```
pub fn has(capability: &str) -> bool {
    let Ok(capability) = std::ffi::CString::new(capability) else {
        return false;
    };
    // SAFETY: capability is NUL-terminated; zmq_has only reads it.
    unsafe { zmsg_sys::zmq_has(capability.as_ptr()) == 1 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_and_capabilities() {
        assert_eq!(super::version(), (4, 3, 5));
        assert!(super::has("curve"));
        assert!(super::has("ipc"));
        assert!(!super::has("no-such-thing"));
        // The vendored libzmq is always compiled with its draft API (for ZMQ_ZAP_ENFORCE_DOMAIN).
        if cfg!(feature = "vendored") {
            assert!(super::has("draft"));
        }
    }
}
