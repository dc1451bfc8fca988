//! Raw FFI bindings to libzmq 4.3.5.
//!
//! By default libzmq is compiled from source (the `zeromq-src` crate) against libsodium built from
//! source (`libsodium-sys-stable`), statically, so CURVE security always works. See the crate's
//! `build.rs` and `docs/cross-compiling.md` for linking a system or prebuilt libzmq instead.
//!
//! The bindings are pre-generated (see `build.rs`, feature `bindgen`), so no libclang is needed.
//! With the `draft` feature the draft API (SERVER/CLIENT, RADIO/DISH, `zmq_poller_*`, routing ids)
//! is compiled into libzmq and declared here.
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]
#![allow(clippy::all)]
#![no_std]

#[cfg(feature = "vendored")]
extern crate libsodium_sys as _;

/// A native socket handle as libzmq's `zmq_fd_t`: `SOCKET` on Windows, a file descriptor elsewhere.
#[cfg(windows)]
pub type zmq_fd_t = usize;
/// A native socket handle as libzmq's `zmq_fd_t`: `SOCKET` on Windows, a file descriptor elsewhere.
#[cfg(not(windows))]
pub type zmq_fd_t = core::ffi::c_int;

#[cfg(not(feature = "draft"))]
include!("bindings.rs");
#[cfg(feature = "draft")]
include!("bindings_draft.rs");
