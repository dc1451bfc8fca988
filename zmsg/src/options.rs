//! Typed getters and setters for every socket option of libzmq 4.3.5, generated from one table.
//!
//! Two tables below list the readable and the writable options, each row naming the method, the
//! value type and libzmq's option. Getters have the option's name (`sndhwm()`), setters `set_` +
//! name (`set_sndhwm(1000)`); write-only options (subscribe, router_mandatory, ...) have only a
//! setter and read-only ones (rcvmore, mechanism, ...) only a getter. Options of the draft API need
//! the `draft` feature. CURVE keys have hand-written accessors that take raw or Z85 keys.
//!
//! ```
//! let socket = zmsg::ZSocket::new(zmsg::SocketType::Dealer)?;
//! socket.set_sndhwm(500)?;
//! assert_eq!(socket.sndhwm()?, 500);
//! socket.set_routing_id(b"worker-1")?;
//! assert_eq!(socket.routing_id()?, b"worker-1");
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::ffi::c_void;
use std::time::Duration;

use crate::error::{check, Error, Result};
use crate::socket::{SocketType, ZSocket};

/// A duration as libzmq's `int` option value in `unit`s, or an error when it does not fit.
fn whole_units(value: u128, unit: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| {
        Error::InvalidArgument(format!("{value} {unit} is too long for a libzmq option"))
    })
}

/// The security mechanism of a socket (`ZMQ_MECHANISM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// No security (`ZMQ_NULL`).
    Null,
    /// User name and password in clear text (`ZMQ_PLAIN`).
    Plain,
    /// CurveZMQ encryption and authentication (`ZMQ_CURVE`).
    Curve,
    /// Kerberos (`ZMQ_GSSAPI`).
    Gssapi,
}

impl Mechanism {
    /// The mechanism for libzmq's constant.
    pub fn from_raw(raw: i32) -> Option<Mechanism> {
        match raw {
            zmsg_sys::ZMQ_NULL => Some(Mechanism::Null),
            zmsg_sys::ZMQ_PLAIN => Some(Mechanism::Plain),
            zmsg_sys::ZMQ_CURVE => Some(Mechanism::Curve),
            zmsg_sys::ZMQ_GSSAPI => Some(Mechanism::Gssapi),
            _ => None,
        }
    }
}

/// The largest binary or string option value libzmq returns (routing ids are at most 255 bytes;
/// endpoints and GSSAPI principals can be longer).
const MAX_OPTION_LEN: usize = 1024;

impl ZSocket {
    fn setsockopt_raw(&self, option: i32, value: *const c_void, len: usize) -> Result<()> {
        // SAFETY: the socket is live; value points at len readable bytes (or is null with len 0).
        check(unsafe { zmsg_sys::zmq_setsockopt(self.as_ptr(), option, value, len) }).map(drop)
    }

    fn getsockopt_raw(&self, option: i32, value: *mut c_void, len: &mut usize) -> Result<()> {
        // SAFETY: the socket is live; value points at *len writable bytes, and libzmq writes no
        // more than *len and stores the actual size back.
        check(unsafe { zmsg_sys::zmq_getsockopt(self.as_ptr(), option, value, len) }).map(drop)
    }

    pub(crate) fn set_i32_option(&self, option: i32, value: i32) -> Result<()> {
        self.setsockopt_raw(option, &value as *const i32 as *const c_void, 4)
    }

    pub(crate) fn get_i32_option(&self, option: i32) -> Result<i32> {
        let mut value = 0i32;
        let mut len = std::mem::size_of::<i32>();
        self.getsockopt_raw(option, &mut value as *mut i32 as *mut c_void, &mut len)?;
        Ok(value)
    }

    fn set_u64_option(&self, option: i32, value: u64) -> Result<()> {
        self.setsockopt_raw(option, &value as *const u64 as *const c_void, 8)
    }

    fn get_u64_option(&self, option: i32) -> Result<u64> {
        let mut value = 0u64;
        let mut len = std::mem::size_of::<u64>();
        self.getsockopt_raw(option, &mut value as *mut u64 as *mut c_void, &mut len)?;
        Ok(value)
    }

    fn set_i64_option(&self, option: i32, value: i64) -> Result<()> {
        self.setsockopt_raw(option, &value as *const i64 as *const c_void, 8)
    }

    fn get_i64_option(&self, option: i32) -> Result<i64> {
        let mut value = 0i64;
        let mut len = std::mem::size_of::<i64>();
        self.getsockopt_raw(option, &mut value as *mut i64 as *mut c_void, &mut len)?;
        Ok(value)
    }

    pub(crate) fn set_bytes_option(&self, option: i32, value: &[u8]) -> Result<()> {
        self.setsockopt_raw(option, value.as_ptr() as *const c_void, value.len())
    }

    fn get_bytes_option(&self, option: i32) -> Result<Vec<u8>> {
        let mut buffer = vec![0u8; MAX_OPTION_LEN];
        let mut len = buffer.len();
        self.getsockopt_raw(option, buffer.as_mut_ptr() as *mut c_void, &mut len)?;
        buffer.truncate(len);
        Ok(buffer)
    }

    fn set_str_option(&self, option: i32, value: &str) -> Result<()> {
        self.set_bytes_option(option, value.as_bytes())
    }

    fn get_str_option(&self, option: i32) -> Result<String> {
        let mut bytes = self.get_bytes_option(option)?;
        // libzmq includes the terminating NUL in string options.
        if bytes.last() == Some(&0) {
            bytes.pop();
        }
        String::from_utf8(bytes).map_err(|err| Error::Decode {
            expected: "string option",
            reason: err.to_string(),
        })
    }

    /// CURVE keys are set as 32 raw bytes or 40 Z85 characters; read back as Z85 text.
    fn set_key_option(&self, option: i32, key: &[u8]) -> Result<()> {
        match key.len() {
            32 | 40 => self.set_bytes_option(option, key),
            len => Err(Error::InvalidArgument(format!(
                "a CURVE key is 32 bytes or 40 Z85 characters, not {len}"
            ))),
        }
    }

    fn get_key_option(&self, option: i32) -> Result<String> {
        let mut buffer = [0u8; 41];
        let mut len = buffer.len();
        self.getsockopt_raw(option, buffer.as_mut_ptr() as *mut c_void, &mut len)?;
        let text = &buffer[..len.saturating_sub(1)];
        Ok(String::from_utf8_lossy(text).into_owned())
    }

    fn set_bool_option(&self, option: i32, value: bool) -> Result<()> {
        self.set_i32_option(option, value as i32)
    }

    fn get_bool_option(&self, option: i32) -> Result<bool> {
        Ok(self.get_i32_option(option)? != 0)
    }

    fn set_millis_option(&self, option: i32, value: Duration) -> Result<()> {
        self.set_i32_option(option, whole_units(value.as_millis(), "milliseconds")?)
    }

    fn get_millis_option(&self, option: i32) -> Result<Duration> {
        let raw = self.get_i32_option(option)?;
        Ok(Duration::from_millis(raw.max(0) as u64))
    }

    /// `None` is libzmq's `-1` ("forever", "never", or "the OS default", per option).
    fn set_opt_millis_option(&self, option: i32, value: Option<Duration>) -> Result<()> {
        match value {
            Some(value) => self.set_millis_option(option, value),
            None => self.set_i32_option(option, -1),
        }
    }

    fn get_opt_millis_option(&self, option: i32) -> Result<Option<Duration>> {
        let raw = self.get_i32_option(option)?;
        Ok((raw >= 0).then(|| Duration::from_millis(raw as u64)))
    }

    fn set_opt_secs_option(&self, option: i32, value: Option<Duration>) -> Result<()> {
        match value {
            Some(value) => {
                self.set_i32_option(option, whole_units(u128::from(value.as_secs()), "seconds")?)
            }
            None => self.set_i32_option(option, -1),
        }
    }

    fn get_opt_secs_option(&self, option: i32) -> Result<Option<Duration>> {
        let raw = self.get_i32_option(option)?;
        Ok((raw >= 0).then(|| Duration::from_secs(raw as u64)))
    }

    /// The socket's type, as libzmq reports it (`ZMQ_TYPE`).
    pub fn socket_type(&self) -> Result<SocketType> {
        let raw = self.get_i32_option(zmsg_sys::ZMQ_TYPE)?;
        SocketType::from_raw(raw)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown socket type {raw}")))
    }

    /// The security mechanism in use (`ZMQ_MECHANISM`).
    pub fn mechanism(&self) -> Result<Mechanism> {
        let raw = self.get_i32_option(zmsg_sys::ZMQ_MECHANISM)?;
        Mechanism::from_raw(raw)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown security mechanism {raw}")))
    }

    /// The last endpoint bound or connected, resolved (`ZMQ_LAST_ENDPOINT`).
    pub fn endpoint(&self) -> Result<String> {
        self.last_endpoint()
    }

    pub(crate) fn events_raw(&self) -> Result<i32> {
        self.get_i32_option(zmsg_sys::ZMQ_EVENTS)
    }

    /// The socket's file descriptor for use in another event loop (`ZMQ_FD`): it signals edge-
    /// triggered readiness; check [`ZSocket::events`] after it fires.
    pub fn fd(&self) -> Result<zmsg_sys::zmq_fd_t> {
        let mut fd: zmsg_sys::zmq_fd_t = 0 as _;
        let mut len = std::mem::size_of::<zmsg_sys::zmq_fd_t>();
        self.getsockopt_raw(
            zmsg_sys::ZMQ_FD,
            &mut fd as *mut zmsg_sys::zmq_fd_t as *mut c_void,
            &mut len,
        )?;
        Ok(fd)
    }

    /// Sets the CURVE public key: 32 raw bytes or 40 Z85 characters (`ZMQ_CURVE_PUBLICKEY`).
    pub fn set_curve_publickey(&self, key: &[u8]) -> Result<()> {
        self.set_key_option(zmsg_sys::ZMQ_CURVE_PUBLICKEY, key)
    }

    /// The CURVE public key, as Z85 text.
    pub fn curve_publickey(&self) -> Result<String> {
        self.get_key_option(zmsg_sys::ZMQ_CURVE_PUBLICKEY)
    }

    /// Sets the CURVE secret key: 32 raw bytes or 40 Z85 characters (`ZMQ_CURVE_SECRETKEY`).
    pub fn set_curve_secretkey(&self, key: &[u8]) -> Result<()> {
        self.set_key_option(zmsg_sys::ZMQ_CURVE_SECRETKEY, key)
    }

    /// The CURVE secret key, as Z85 text.
    pub fn curve_secretkey(&self) -> Result<String> {
        self.get_key_option(zmsg_sys::ZMQ_CURVE_SECRETKEY)
    }

    /// Sets the server's CURVE public key a client expects: 32 raw bytes or 40 Z85 characters
    /// (`ZMQ_CURVE_SERVERKEY`).
    pub fn set_curve_serverkey(&self, key: &[u8]) -> Result<()> {
        self.set_key_option(zmsg_sys::ZMQ_CURVE_SERVERKEY, key)
    }

    /// The CURVE server key, as Z85 text.
    pub fn curve_serverkey(&self) -> Result<String> {
        self.get_key_option(zmsg_sys::ZMQ_CURVE_SERVERKEY)
    }
}

/// Generates a getter for each row: `name: type = OPTION, "description";`.
macro_rules! socket_getters {
    ($( $(#[$attr:meta])* $name:ident : $kind:ident = $option:ident, $doc:literal; )*) => {
        impl ZSocket {
            $( socket_getters!(@one $(#[$attr])* $name, $kind, $option, $doc); )*
        }
    };
    (@one $(#[$attr:meta])* $name:ident, i32, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<i32> { self.get_i32_option(zmsg_sys::$option) }
    };
    (@one $(#[$attr:meta])* $name:ident, bool, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<bool> { self.get_bool_option(zmsg_sys::$option) }
    };
    (@one $(#[$attr:meta])* $name:ident, u64, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<u64> { self.get_u64_option(zmsg_sys::$option) }
    };
    (@one $(#[$attr:meta])* $name:ident, i64, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<i64> { self.get_i64_option(zmsg_sys::$option) }
    };
    (@one $(#[$attr:meta])* $name:ident, bytes, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<Vec<u8>> { self.get_bytes_option(zmsg_sys::$option) }
    };
    (@one $(#[$attr:meta])* $name:ident, string, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<String> { self.get_str_option(zmsg_sys::$option) }
    };
    (@one $(#[$attr:meta])* $name:ident, millis, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<Duration> { self.get_millis_option(zmsg_sys::$option) }
    };
    (@one $(#[$attr:meta])* $name:ident, opt_millis, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<Option<Duration>> { self.get_opt_millis_option(zmsg_sys::$option) }
    };
    (@one $(#[$attr:meta])* $name:ident, opt_secs, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Reads ", $doc, " (`", stringify!($option), "`).")]
        pub fn $name(&self) -> Result<Option<Duration>> { self.get_opt_secs_option(zmsg_sys::$option) }
    };
}

/// Generates setters: `name: type = OPTION;`.
macro_rules! socket_setters {
    ($( $(#[$attr:meta])* $setter:ident : $kind:ident = $option:ident, $doc:literal; )*) => {
        impl ZSocket {
            $( socket_setters!(@one $(#[$attr])* $setter, $kind, $option, $doc); )*
        }
    };
    (@one $(#[$attr:meta])* $setter:ident, i32, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`).")]
        pub fn $setter(&self, value: i32) -> Result<()> { self.set_i32_option(zmsg_sys::$option, value) }
    };
    (@one $(#[$attr:meta])* $setter:ident, bool, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`).")]
        pub fn $setter(&self, value: bool) -> Result<()> { self.set_bool_option(zmsg_sys::$option, value) }
    };
    (@one $(#[$attr:meta])* $setter:ident, u64, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`).")]
        pub fn $setter(&self, value: u64) -> Result<()> { self.set_u64_option(zmsg_sys::$option, value) }
    };
    (@one $(#[$attr:meta])* $setter:ident, i64, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`).")]
        pub fn $setter(&self, value: i64) -> Result<()> { self.set_i64_option(zmsg_sys::$option, value) }
    };
    (@one $(#[$attr:meta])* $setter:ident, bytes, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`).")]
        pub fn $setter(&self, value: &[u8]) -> Result<()> { self.set_bytes_option(zmsg_sys::$option, value) }
    };
    (@one $(#[$attr:meta])* $setter:ident, string, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`).")]
        pub fn $setter(&self, value: &str) -> Result<()> { self.set_str_option(zmsg_sys::$option, value) }
    };
    (@one $(#[$attr:meta])* $setter:ident, millis, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`, whole milliseconds).")]
        pub fn $setter(&self, value: Duration) -> Result<()> { self.set_millis_option(zmsg_sys::$option, value) }
    };
    (@one $(#[$attr:meta])* $setter:ident, opt_millis, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`, whole milliseconds).")]
        pub fn $setter(&self, value: Option<Duration>) -> Result<()> { self.set_opt_millis_option(zmsg_sys::$option, value) }
    };
    (@one $(#[$attr:meta])* $setter:ident, opt_secs, $option:ident, $doc:literal) => {
        $(#[$attr])* #[doc = concat!("Sets ", $doc, " (`", stringify!($option), "`, whole seconds).")]
        pub fn $setter(&self, value: Option<Duration>) -> Result<()> { self.set_opt_secs_option(zmsg_sys::$option, value) }
    };
}

// The readable options: getter name, type, libzmq option, description.
socket_getters! {
    affinity: u64 = ZMQ_AFFINITY, "the I/O thread affinity bitmask";
    backlog: i32 = ZMQ_BACKLOG, "the listen backlog";
    bindtodevice: string = ZMQ_BINDTODEVICE, "the network interface the socket is bound to";
    connect_timeout: millis = ZMQ_CONNECT_TIMEOUT, "the TCP connect timeout (zero: the OS default)";
    gssapi_plaintext: bool = ZMQ_GSSAPI_PLAINTEXT, "whether GSSAPI runs without encryption";
    gssapi_principal: string = ZMQ_GSSAPI_PRINCIPAL, "the GSSAPI principal";
    gssapi_principal_nametype: i32 = ZMQ_GSSAPI_PRINCIPAL_NAMETYPE, "the GSSAPI principal name type";
    gssapi_server: bool = ZMQ_GSSAPI_SERVER, "whether the socket is a GSSAPI server";
    gssapi_service_principal: string = ZMQ_GSSAPI_SERVICE_PRINCIPAL, "the GSSAPI service principal";
    gssapi_service_principal_nametype: i32 = ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE, "the GSSAPI service principal name type";
    handshake_ivl: millis = ZMQ_HANDSHAKE_IVL, "the ZMTP handshake timeout (zero: none)";
    heartbeat_ivl: millis = ZMQ_HEARTBEAT_IVL, "the ZMTP heartbeat interval (zero: no heartbeats)";
    heartbeat_timeout: millis = ZMQ_HEARTBEAT_TIMEOUT, "the ZMTP heartbeat timeout";
    heartbeat_ttl: millis = ZMQ_HEARTBEAT_TTL, "the ZMTP heartbeat time-to-live";
    immediate: bool = ZMQ_IMMEDIATE, "whether messages queue only on completed connections";
    invert_matching: bool = ZMQ_INVERT_MATCHING, "whether PUB/SUB matching is inverted";
    ipv6: bool = ZMQ_IPV6, "whether IPv6 is enabled";
    last_endpoint: string = ZMQ_LAST_ENDPOINT, "the last endpoint bound or connected";
    linger: opt_millis = ZMQ_LINGER, "how long unsent messages are kept at close (`None`: until sent)";
    maxmsgsize: i64 = ZMQ_MAXMSGSIZE, "the largest inbound message size (-1: no limit)";
    multicast_hops: i32 = ZMQ_MULTICAST_HOPS, "the multicast hop count";
    multicast_maxtpdu: i32 = ZMQ_MULTICAST_MAXTPDU, "the largest multicast transport data unit";
    plain_password: string = ZMQ_PLAIN_PASSWORD, "the PLAIN password";
    plain_server: bool = ZMQ_PLAIN_SERVER, "whether the socket is a PLAIN server";
    plain_username: string = ZMQ_PLAIN_USERNAME, "the PLAIN user name";
    curve_server: bool = ZMQ_CURVE_SERVER, "whether the socket is a CURVE server";
    use_fd: i32 = ZMQ_USE_FD, "the pre-allocated file descriptor for the next bind";
    rate: i32 = ZMQ_RATE, "the multicast data rate in kbit/s";
    rcvbuf: i32 = ZMQ_RCVBUF, "the kernel receive buffer size";
    rcvhwm: i32 = ZMQ_RCVHWM, "the receive high-water mark";
    rcvmore: bool = ZMQ_RCVMORE, "whether more frames of the current message follow";
    rcvtimeo: opt_millis = ZMQ_RCVTIMEO, "the receive timeout (`None`: block forever)";
    reconnect_ivl: opt_millis = ZMQ_RECONNECT_IVL, "the reconnect interval (`None`: never reconnect)";
    reconnect_ivl_max: millis = ZMQ_RECONNECT_IVL_MAX, "the largest reconnect interval (zero: no back-off)";
    recovery_ivl: millis = ZMQ_RECOVERY_IVL, "the multicast recovery interval";
    routing_id: bytes = ZMQ_ROUTING_ID, "the socket's routing id";
    sndbuf: i32 = ZMQ_SNDBUF, "the kernel send buffer size";
    sndhwm: i32 = ZMQ_SNDHWM, "the send high-water mark";
    sndtimeo: opt_millis = ZMQ_SNDTIMEO, "the send timeout (`None`: block forever)";
    socks_proxy: string = ZMQ_SOCKS_PROXY, "the SOCKS5 proxy address";
    tcp_keepalive: i32 = ZMQ_TCP_KEEPALIVE, "the TCP keep-alive setting (-1: OS default)";
    tcp_keepalive_cnt: i32 = ZMQ_TCP_KEEPALIVE_CNT, "the TCP keep-alive probe count";
    tcp_keepalive_idle: opt_secs = ZMQ_TCP_KEEPALIVE_IDLE, "the TCP keep-alive idle time (`None`: the OS default)";
    tcp_keepalive_intvl: opt_secs = ZMQ_TCP_KEEPALIVE_INTVL, "the TCP keep-alive interval (`None`: the OS default)";
    tcp_maxrt: millis = ZMQ_TCP_MAXRT, "the TCP maximum retransmit timeout (zero: the OS default)";
    thread_safe: bool = ZMQ_THREAD_SAFE, "whether the socket type is thread-safe";
    tos: i32 = ZMQ_TOS, "the IP type-of-service";
    vmci_buffer_size: u64 = ZMQ_VMCI_BUFFER_SIZE, "the VMCI buffer size";
    vmci_buffer_min_size: u64 = ZMQ_VMCI_BUFFER_MIN_SIZE, "the VMCI minimum buffer size";
    vmci_buffer_max_size: u64 = ZMQ_VMCI_BUFFER_MAX_SIZE, "the VMCI maximum buffer size";
    vmci_connect_timeout: millis = ZMQ_VMCI_CONNECT_TIMEOUT, "the VMCI connect timeout";
    zap_domain: string = ZMQ_ZAP_DOMAIN, "the ZAP authentication domain";
    zap_enforce_domain: bool = ZMQ_ZAP_ENFORCE_DOMAIN, "whether a ZAP server refuses connections while no ZAP handler is bound";
    #[cfg(feature = "draft")]
    loopback_fastpath: bool = ZMQ_LOOPBACK_FASTPATH, "the Windows loopback fast path (draft)";
    #[cfg(feature = "draft")]
    multicast_loop: bool = ZMQ_MULTICAST_LOOP, "whether multicast loops back (draft)";
    #[cfg(feature = "draft")]
    router_notify: i32 = ZMQ_ROUTER_NOTIFY, "the ROUTER connect/disconnect notifications (draft)";
    #[cfg(feature = "draft")]
    in_batch_size: i32 = ZMQ_IN_BATCH_SIZE, "the inbound batch size (draft)";
    #[cfg(feature = "draft")]
    out_batch_size: i32 = ZMQ_OUT_BATCH_SIZE, "the outbound batch size (draft)";
    #[cfg(feature = "draft")]
    socks_username: string = ZMQ_SOCKS_USERNAME, "the SOCKS5 user name (draft)";
    #[cfg(feature = "draft")]
    socks_password: string = ZMQ_SOCKS_PASSWORD, "the SOCKS5 password (draft)";
    #[cfg(feature = "draft")]
    reconnect_stop: i32 = ZMQ_RECONNECT_STOP, "the conditions that stop reconnecting (draft)";
    #[cfg(feature = "draft")]
    only_first_subscribe: bool = ZMQ_ONLY_FIRST_SUBSCRIBE, "whether only the first frame subscribes (draft)";
    #[cfg(feature = "draft")]
    priority: i32 = ZMQ_PRIORITY, "the SO_PRIORITY value (draft)";
    #[cfg(feature = "draft")]
    busy_poll: bool = ZMQ_BUSY_POLL, "the SO_BUSY_POLL setting (draft)";
    #[cfg(feature = "draft")]
    topics_count: i32 = ZMQ_TOPICS_COUNT, "the number of subscribed topics (draft)";
}

// The writable options: setter name, type, libzmq option, description.
socket_setters! {
    set_affinity: u64 = ZMQ_AFFINITY, "the I/O thread affinity bitmask";
    set_backlog: i32 = ZMQ_BACKLOG, "the listen backlog";
    set_bindtodevice: string = ZMQ_BINDTODEVICE, "the network interface to bind to";
    set_conflate: bool = ZMQ_CONFLATE, "whether to keep only the last message";
    set_connect_routing_id: bytes = ZMQ_CONNECT_ROUTING_ID, "the peer routing id for the next connect";
    set_connect_timeout: millis = ZMQ_CONNECT_TIMEOUT, "the TCP connect timeout (zero: the OS default)";
    set_gssapi_plaintext: bool = ZMQ_GSSAPI_PLAINTEXT, "whether GSSAPI runs without encryption";
    set_gssapi_principal: string = ZMQ_GSSAPI_PRINCIPAL, "the GSSAPI principal";
    set_gssapi_principal_nametype: i32 = ZMQ_GSSAPI_PRINCIPAL_NAMETYPE, "the GSSAPI principal name type";
    set_gssapi_server: bool = ZMQ_GSSAPI_SERVER, "whether the socket is a GSSAPI server";
    set_gssapi_service_principal: string = ZMQ_GSSAPI_SERVICE_PRINCIPAL, "the GSSAPI service principal";
    set_gssapi_service_principal_nametype: i32 = ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE, "the GSSAPI service principal name type";
    set_handshake_ivl: millis = ZMQ_HANDSHAKE_IVL, "the ZMTP handshake timeout (zero: none)";
    set_heartbeat_ivl: millis = ZMQ_HEARTBEAT_IVL, "the ZMTP heartbeat interval (zero: no heartbeats)";
    set_heartbeat_timeout: millis = ZMQ_HEARTBEAT_TIMEOUT, "the ZMTP heartbeat timeout";
    set_heartbeat_ttl: millis = ZMQ_HEARTBEAT_TTL, "the ZMTP heartbeat time-to-live";
    set_immediate: bool = ZMQ_IMMEDIATE, "whether messages queue only on completed connections";
    set_invert_matching: bool = ZMQ_INVERT_MATCHING, "whether PUB/SUB matching is inverted";
    set_ipv6: bool = ZMQ_IPV6, "whether IPv6 is enabled";
    set_linger: opt_millis = ZMQ_LINGER, "how long unsent messages are kept at close (`None`: until sent)";
    set_maxmsgsize: i64 = ZMQ_MAXMSGSIZE, "the largest inbound message size (-1: no limit)";
    set_multicast_hops: i32 = ZMQ_MULTICAST_HOPS, "the multicast hop count";
    set_multicast_maxtpdu: i32 = ZMQ_MULTICAST_MAXTPDU, "the largest multicast transport data unit";
    set_plain_password: string = ZMQ_PLAIN_PASSWORD, "the PLAIN password";
    set_plain_server: bool = ZMQ_PLAIN_SERVER, "whether the socket is a PLAIN server";
    set_plain_username: string = ZMQ_PLAIN_USERNAME, "the PLAIN user name";
    set_curve_server: bool = ZMQ_CURVE_SERVER, "whether the socket is a CURVE server";
    set_probe_router: bool = ZMQ_PROBE_ROUTER, "whether to announce this peer to ROUTERs on connect";
    set_rate: i32 = ZMQ_RATE, "the multicast data rate in kbit/s";
    set_rcvbuf: i32 = ZMQ_RCVBUF, "the kernel receive buffer size";
    set_rcvhwm: i32 = ZMQ_RCVHWM, "the receive high-water mark";
    set_rcvtimeo: opt_millis = ZMQ_RCVTIMEO, "the receive timeout (`None`: block forever)";
    set_reconnect_ivl: opt_millis = ZMQ_RECONNECT_IVL, "the reconnect interval (`None`: never reconnect)";
    set_reconnect_ivl_max: millis = ZMQ_RECONNECT_IVL_MAX, "the largest reconnect interval (zero: no back-off)";
    set_recovery_ivl: millis = ZMQ_RECOVERY_IVL, "the multicast recovery interval";
    set_req_correlate: bool = ZMQ_REQ_CORRELATE, "whether REQ matches replies to requests";
    set_req_relaxed: bool = ZMQ_REQ_RELAXED, "whether REQ may send again without a reply";
    set_router_handover: bool = ZMQ_ROUTER_HANDOVER, "whether a new peer takes over a routing id";
    set_router_mandatory: bool = ZMQ_ROUTER_MANDATORY, "whether unroutable ROUTER sends fail (EHOSTUNREACH)";
    set_router_raw: bool = ZMQ_ROUTER_RAW, "whether ROUTER runs in raw mode";
    set_routing_id: bytes = ZMQ_ROUTING_ID, "the socket's routing id";
    set_sndbuf: i32 = ZMQ_SNDBUF, "the kernel send buffer size";
    set_sndhwm: i32 = ZMQ_SNDHWM, "the send high-water mark";
    set_sndtimeo: opt_millis = ZMQ_SNDTIMEO, "the send timeout (`None`: block forever)";
    set_socks_proxy: string = ZMQ_SOCKS_PROXY, "the SOCKS5 proxy address";
    set_stream_notify: bool = ZMQ_STREAM_NOTIFY, "whether STREAM reports connects and disconnects";
    set_subscribe: bytes = ZMQ_SUBSCRIBE, "a subscription prefix to add";
    set_tcp_keepalive: i32 = ZMQ_TCP_KEEPALIVE, "the TCP keep-alive setting (-1: OS default)";
    set_tcp_keepalive_cnt: i32 = ZMQ_TCP_KEEPALIVE_CNT, "the TCP keep-alive probe count";
    set_tcp_keepalive_idle: opt_secs = ZMQ_TCP_KEEPALIVE_IDLE, "the TCP keep-alive idle time (`None`: the OS default)";
    set_tcp_keepalive_intvl: opt_secs = ZMQ_TCP_KEEPALIVE_INTVL, "the TCP keep-alive interval (`None`: the OS default)";
    set_tcp_maxrt: millis = ZMQ_TCP_MAXRT, "the TCP maximum retransmit timeout (zero: the OS default)";
    set_tos: i32 = ZMQ_TOS, "the IP type-of-service";
    set_unsubscribe: bytes = ZMQ_UNSUBSCRIBE, "a subscription prefix to remove";
    set_use_fd: i32 = ZMQ_USE_FD, "a pre-allocated file descriptor for the next bind";
    set_vmci_buffer_size: u64 = ZMQ_VMCI_BUFFER_SIZE, "the VMCI buffer size";
    set_vmci_buffer_min_size: u64 = ZMQ_VMCI_BUFFER_MIN_SIZE, "the VMCI minimum buffer size";
    set_vmci_buffer_max_size: u64 = ZMQ_VMCI_BUFFER_MAX_SIZE, "the VMCI maximum buffer size";
    set_vmci_connect_timeout: millis = ZMQ_VMCI_CONNECT_TIMEOUT, "the VMCI connect timeout";
    set_xpub_manual: bool = ZMQ_XPUB_MANUAL, "whether XPUB subscriptions are managed by hand";
    set_xpub_nodrop: bool = ZMQ_XPUB_NODROP, "whether XPUB blocks instead of dropping at HWM";
    set_xpub_verbose: bool = ZMQ_XPUB_VERBOSE, "whether XPUB passes on every subscription";
    set_xpub_verboser: bool = ZMQ_XPUB_VERBOSER, "whether XPUB passes on every (un)subscription";
    set_xpub_welcome_msg: bytes = ZMQ_XPUB_WELCOME_MSG, "the welcome message XPUB sends to new subscribers";
    set_zap_domain: string = ZMQ_ZAP_DOMAIN, "the ZAP authentication domain";
    set_zap_enforce_domain: bool = ZMQ_ZAP_ENFORCE_DOMAIN, "whether a ZAP server refuses connections while no ZAP handler is bound (fail closed; libzmq accepts them by default)";
    #[cfg(feature = "draft")]
    set_loopback_fastpath: bool = ZMQ_LOOPBACK_FASTPATH, "the Windows loopback fast path (draft)";
    #[cfg(feature = "draft")]
    set_metadata: string = ZMQ_METADATA, "an application metadata property `X-name:value` (draft)";
    #[cfg(feature = "draft")]
    set_multicast_loop: bool = ZMQ_MULTICAST_LOOP, "whether multicast loops back (draft)";
    #[cfg(feature = "draft")]
    set_router_notify: i32 = ZMQ_ROUTER_NOTIFY, "the ROUTER connect/disconnect notifications (draft)";
    #[cfg(feature = "draft")]
    set_xpub_manual_last_value: bool = ZMQ_XPUB_MANUAL_LAST_VALUE, "XPUB manual mode with last-value caching (draft)";
    #[cfg(feature = "draft")]
    set_socks_username: string = ZMQ_SOCKS_USERNAME, "the SOCKS5 user name (draft)";
    #[cfg(feature = "draft")]
    set_socks_password: string = ZMQ_SOCKS_PASSWORD, "the SOCKS5 password (draft)";
    #[cfg(feature = "draft")]
    set_in_batch_size: i32 = ZMQ_IN_BATCH_SIZE, "the inbound batch size (draft)";
    #[cfg(feature = "draft")]
    set_out_batch_size: i32 = ZMQ_OUT_BATCH_SIZE, "the outbound batch size (draft)";
    #[cfg(feature = "draft")]
    set_only_first_subscribe: bool = ZMQ_ONLY_FIRST_SUBSCRIBE, "whether only the first frame subscribes (draft)";
    #[cfg(feature = "draft")]
    set_reconnect_stop: i32 = ZMQ_RECONNECT_STOP, "the conditions that stop reconnecting (draft)";
    #[cfg(feature = "draft")]
    set_hello_msg: bytes = ZMQ_HELLO_MSG, "the message sent to each new peer (draft)";
    #[cfg(feature = "draft")]
    set_disconnect_msg: bytes = ZMQ_DISCONNECT_MSG, "the message a peer receives when this one disconnects (draft)";
    #[cfg(feature = "draft")]
    set_hiccup_msg: bytes = ZMQ_HICCUP_MSG, "the message received when a connection is re-established (draft)";
    #[cfg(feature = "draft")]
    set_priority: i32 = ZMQ_PRIORITY, "the SO_PRIORITY value (draft)";
    #[cfg(feature = "draft")]
    set_busy_poll: bool = ZMQ_BUSY_POLL, "the SO_BUSY_POLL setting (draft)";
    #[cfg(feature = "draft")]
    set_xsub_verbose_unsubscribe: bool = ZMQ_XSUB_VERBOSE_UNSUBSCRIBE, "whether XSUB passes on every unsubscription (draft)";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_and_bool_options_round_trip() {
        let socket = ZSocket::new(SocketType::Dealer).unwrap();
        socket.set_sndhwm(123).unwrap();
        assert_eq!(socket.sndhwm().unwrap(), 123);
        socket.set_rcvhwm(77).unwrap();
        assert_eq!(socket.rcvhwm().unwrap(), 77);
        socket.set_immediate(true).unwrap();
        assert!(socket.immediate().unwrap());
        socket.set_affinity(3).unwrap();
        assert_eq!(socket.affinity().unwrap(), 3);
        socket.set_maxmsgsize(4096).unwrap();
        assert_eq!(socket.maxmsgsize().unwrap(), 4096);
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        assert_eq!(socket.linger().unwrap(), Some(Duration::ZERO));
        socket.set_rcvtimeo(None).unwrap();
        assert_eq!(socket.rcvtimeo().unwrap(), None);
        socket
            .set_sndtimeo(Some(Duration::from_millis(1500)))
            .unwrap();
        assert_eq!(
            socket.sndtimeo().unwrap(),
            Some(Duration::from_millis(1500))
        );
        socket.set_heartbeat_ivl(Duration::from_secs(2)).unwrap();
        assert_eq!(socket.heartbeat_ivl().unwrap(), Duration::from_secs(2));
        socket
            .set_tcp_keepalive_idle(Some(Duration::from_secs(60)))
            .unwrap();
        assert_eq!(
            socket.tcp_keepalive_idle().unwrap(),
            Some(Duration::from_secs(60))
        );
        // Too long for libzmq's int milliseconds: an error, not a wrapped value.
        assert!(socket
            .set_rcvtimeo(Some(Duration::from_secs(u64::MAX)))
            .is_err());
        assert!(!socket.thread_safe().unwrap());
    }

    #[test]
    fn string_and_bytes_options_round_trip() {
        let socket = ZSocket::new(SocketType::Router).unwrap();
        socket.set_routing_id(&[0, 1, 2, 255]).unwrap();
        assert_eq!(socket.routing_id().unwrap(), vec![0, 1, 2, 255]);
        socket.set_zap_domain("global").unwrap();
        assert_eq!(socket.zap_domain().unwrap(), "global");
        socket.set_plain_username("admin").unwrap();
        assert_eq!(socket.plain_username().unwrap(), "admin");
        assert_eq!(socket.mechanism().unwrap(), Mechanism::Plain);
    }

    #[test]
    fn bad_values_are_errors() {
        let socket = ZSocket::new(SocketType::Sub).unwrap();
        assert!(socket.set_curve_serverkey(b"short").is_err());
        // ZMQ_ROUTER_MANDATORY does not apply to SUB sockets.
        assert!(socket.set_router_mandatory(true).is_err());
    }

    #[test]
    fn curve_keys_read_back_as_z85() {
        let socket = ZSocket::new(SocketType::Dealer).unwrap();
        let key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        socket.set_curve_serverkey(key.as_bytes()).unwrap();
        assert_eq!(socket.curve_serverkey().unwrap(), key);
    }
}
