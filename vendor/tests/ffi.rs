//! The raw bindings link against the libzmq this crate built: version 4.3.5 with CURVE.

use std::ffi::CString;

#[test]
fn links_libzmq_4_3_5_with_curve() {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: zmq_version writes three ints through valid pointers.
    unsafe { zmsg_sys::zmq_version(&mut major, &mut minor, &mut patch) };
    assert_eq!((major, minor, patch), (4, 3, 5));
    for (capability, expected) in [
        ("curve", true),
        ("ipc", true),
        // The vendored build always compiles libzmq's draft API (ZMQ_ZAP_ENFORCE_DOMAIN).
        (
            "draft",
            cfg!(feature = "draft") || cfg!(feature = "vendored"),
        ),
    ] {
        let name = CString::new(capability).unwrap();
        // SAFETY: name is NUL-terminated.
        let has = unsafe { zmsg_sys::zmq_has(name.as_ptr()) } == 1;
        assert_eq!(has, expected, "zmq_has({capability})");
    }
}

#[test]
fn curve_keypair_works() {
    let mut public = [0 as std::ffi::c_char; 41];
    let mut secret = [0 as std::ffi::c_char; 41];
    // SAFETY: both buffers hold the 41 bytes zmq_curve_keypair writes.
    let rc = unsafe { zmsg_sys::zmq_curve_keypair(public.as_mut_ptr(), secret.as_mut_ptr()) };
    assert_eq!(rc, 0, "CURVE keypair generation needs libsodium");
    assert_ne!(public, secret);
}

#[test]
fn message_layout_is_usable() {
    let mut msg = zmsg_sys::zmq_msg_t::default();
    // SAFETY: msg is a properly sized and aligned zmq_msg_t; init_size then close it once.
    unsafe {
        assert_eq!(zmsg_sys::zmq_msg_init_size(&mut msg, 100), 0);
        assert_eq!(zmsg_sys::zmq_msg_size(&msg), 100);
        assert_eq!(zmsg_sys::zmq_msg_close(&mut msg), 0);
    }
}
