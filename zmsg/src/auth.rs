//! `ZAuth`: a ZAP (ZeroMQ RFC 27) authentication handler, configured like CZMQ's `zauth`.
//!
//! A `ZAuth` runs as a [`ZActor`] that binds `inproc://zeromq.zap.01` in its context, so every
//! socket of that context that uses NULL-with-domain, PLAIN or CURVE security asks it whether a
//! connecting peer may in. Start it **before** the server sockets accept connections; the handler
//! is bound when [`ZAuth::new`] returns, and each configuration call returns once the actor has
//! applied it. One `ZAuth` per context, kept alive as long as the servers it guards: dropping it
//! stops authentication, and by default libzmq then **accepts every peer** (a missing handler is
//! not a refusal). A server that must fail closed sets
//! [`ZSocket::set_zap_enforce_domain(true)`](crate::ZSocket::set_zap_enforce_domain) with its ZAP
//! domain: while no handler is bound, every new connection is then refused (the Majordomo broker
//! does this whenever it has a ZAP domain).
//!
//! Rules, in order (as CZMQ's):
//! 1. IP addresses: if an allow list exists, only listed addresses pass; otherwise addresses on
//!    the deny list are refused.
//! 2. Mechanism: NULL passes (unless refused above); PLAIN checks user and password; CURVE checks
//!    the client's public key against a certificate store, or accepts any key with
//!    [`ZAuth::CURVE_ALLOW_ANY`]. Even an allow-listed address must pass this step.
//!
//! PLAIN and CURVE are configured per ZAP domain (`socket.set_zap_domain(..)` on the server);
//! [`ZAuth::ANY_DOMAIN`] (`"*"`) is the configuration for domains without their own.
//!
//! Accepted peers carry a user id — the PLAIN user name, or the CURVE client key in Z85 — and,
//! for CURVE peers found in a store, their certificate's metadata. The server reads both from any
//! frame received from that peer: `frame.meta("User-Id")`, `frame.meta("name")`.
//!
//! ```
//! use zmsg::{SocketType, ZAuth, ZCert, ZContext};
//! let ctx = ZContext::new()?;
//! let auth = ZAuth::with_context(&ctx)?;
//! auth.configure_curve(ZAuth::ANY_DOMAIN, ZAuth::CURVE_ALLOW_ANY)?;
//!
//! let server_cert = ZCert::new()?;
//! let server = ctx.socket(SocketType::Pull)?;
//! server_cert.apply(&server)?;
//! server.set_curve_server(true)?;
//! let endpoint = server.bind("tcp://127.0.0.1:*")?;
//!
//! let client = ctx.socket(SocketType::Push)?;
//! ZCert::new()?.apply(&client)?;
//! client.set_curve_serverkey(server_cert.public_key())?;
//! client.connect(endpoint.as_str())?;
//! client.send_str("hello")?;
//! let frame = server.recv_frame()?;
//! assert_eq!(frame.to_str()?, "hello");
//! assert_eq!(frame.meta("User-Id").map(|id| id.len()), Some(40)); // the client's Z85 key
//! # Ok::<(), zmsg::Error>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use std::time::SystemTime;

use crate::actor::ZActor;
use crate::cert::ZCert;
use crate::certstore::ZCertStore;
use crate::context::ZContext;
use crate::error::{Error, Result};
use crate::msg::ZMsg;
use crate::poller::ZPoller;
use crate::signal::{retry_after, OnInterrupt};
use crate::socket::{SocketType, ZSocket};
use crate::z85;

/// The endpoint libzmq sends ZAP requests to.
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// How long a configuration call waits for the actor's acknowledgement before giving up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Metadata names libzmq gives a meaning of its own; certificate metadata never overrides them.
const RESERVED_PROPERTIES: [&str; 5] = [
    "Socket-Type",
    "Identity",
    "Routing-Id",
    "User-Id",
    "Peer-Address",
];

/// A ZAP authentication handler running in a background actor.
#[must_use = "dropping a ZAuth stops the ZAP handler"]
pub struct ZAuth {
    commands: mpsc::Sender<Command>,
    actor: ZActor,
}

/// A configuration change sent to the actor.
enum Command {
    Allow(String),
    Deny(String),
    Plain(String, PasswordSource),
    Curve(String, CurvePolicy),
    Verbose(bool),
}

impl ZAuth {
    /// The CURVE location that accepts any client key: encryption without client
    /// authentication (CZMQ's `CURVE_ALLOW_ANY`).
    pub const CURVE_ALLOW_ANY: &'static str = "*";

    /// The domain whose configuration applies to domains without their own.
    pub const ANY_DOMAIN: &'static str = "*";

    /// Starts an authenticator for the process-wide default context.
    pub fn new() -> Result<ZAuth> {
        ZAuth::with_context(&ZContext::global())
    }

    /// Starts an authenticator for `ctx`. Fails if the context already has a ZAP handler.
    pub fn with_context(ctx: &ZContext) -> Result<ZAuth> {
        let (commands, receiver) = mpsc::channel();
        let handler_ctx = ctx.clone();
        let actor = ZActor::with_context(ctx, move |pipe| {
            let handler = handler_ctx.socket(SocketType::Rep)?;
            handler.set_linger(Some(Duration::ZERO))?;
            handler.bind(ZAP_ENDPOINT)?;
            pipe.signal(0)?;
            let mut state = AuthState::default();
            let result = state.serve(&pipe, &handler, &receiver);
            // Unbind at once so a new ZAuth can take over this context.
            let _ = handler.unbind(ZAP_ENDPOINT);
            result
        })?;
        actor.pipe().set_rcvtimeo(Some(COMMAND_TIMEOUT))?;
        Ok(ZAuth { commands, actor })
    }

    /// Sends a command and waits until the actor has applied it.
    fn command(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .map_err(|_| Error::InvalidArgument("the authenticator has stopped".into()))?;
        self.actor.send_str("CONFIGURE")?;
        let reply = self.actor.recv_string()?;
        match reply.strip_prefix("ERROR ") {
            None => Ok(()),
            Some(reason) => Err(Error::InvalidArgument(reason.to_string())),
        }
    }

    /// Allows an IP address (e.g. `"127.0.0.1"`). Once any address is allowed, every address not
    /// on the allow list is refused.
    pub fn allow(&self, address: &str) -> Result<()> {
        self.command(Command::Allow(address.to_string()))
    }

    /// Denies an IP address. Ignored for addresses while an allow list exists (the allow list
    /// already refuses everything not on it).
    pub fn deny(&self, address: &str) -> Result<()> {
        self.command(Command::Deny(address.to_string()))
    }

    /// PLAIN for `domain` checks users against a password file of `user=password` lines (`#`
    /// starts a comment line). The file is read now — a missing or malformed file is an error —
    /// and re-read when it changes.
    pub fn configure_plain(&self, domain: &str, password_file: impl AsRef<Path>) -> Result<()> {
        let path = password_file.as_ref().to_path_buf();
        let passwords = PasswordFile::load(&path)?;
        self.command(Command::Plain(
            domain.to_string(),
            PasswordSource::File(path, passwords),
        ))
    }

    /// PLAIN for `domain` checks users against these `(user, password)` pairs.
    pub fn configure_plain_users<I, U, P>(&self, domain: &str, users: I) -> Result<()>
    where
        I: IntoIterator<Item = (U, P)>,
        U: Into<String>,
        P: Into<String>,
    {
        let users = users
            .into_iter()
            .map(|(u, p)| (u.into(), p.into()))
            .collect();
        self.command(Command::Plain(
            domain.to_string(),
            PasswordSource::Users(users),
        ))
    }

    /// CURVE for `domain` accepts the client keys of the public certificates in the directory
    /// `location` (re-read when it changes), or any key when `location` is
    /// [`ZAuth::CURVE_ALLOW_ANY`].
    pub fn configure_curve(&self, domain: &str, location: impl AsRef<Path>) -> Result<()> {
        let location = location.as_ref();
        let policy = if location == Path::new(ZAuth::CURVE_ALLOW_ANY) {
            CurvePolicy::AllowAny
        } else {
            CurvePolicy::Stores(vec![ZCertStore::new(location)?])
        };
        self.command(Command::Curve(domain.to_string(), policy))
    }

    /// CURVE for `domain` accepts the client keys in `store` (a directory or in-memory store;
    /// certificates inserted later count too).
    pub fn configure_curve_store(&self, domain: &str, store: ZCertStore) -> Result<()> {
        self.configure_curve_stores(domain, [store])
    }

    /// CURVE for `domain` accepts the client keys found in any of `stores` (looked up in order;
    /// the first store that knows the key gives its certificate's metadata). For example the
    /// client certificates and the worker certificates of a Majordomo broker.
    pub fn configure_curve_stores(
        &self,
        domain: &str,
        stores: impl IntoIterator<Item = ZCertStore>,
    ) -> Result<()> {
        self.command(Command::Curve(
            domain.to_string(),
            CurvePolicy::Stores(stores.into_iter().collect()),
        ))
    }

    /// Logs every request and decision at `info` level through `tracing` (they are always
    /// logged at `debug`).
    pub fn verbose(&self, verbose: bool) -> Result<()> {
        self.command(Command::Verbose(verbose))
    }
}

impl std::fmt::Debug for ZAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZAuth").field("actor", &self.actor).finish()
    }
}

/// Where PLAIN passwords come from.
enum PasswordSource {
    File(PathBuf, PasswordFile),
    Users(HashMap<String, String>),
}

/// A password file and the state it was read in.
struct PasswordFile {
    users: HashMap<String, String>,
    stamp: Option<(SystemTime, u64)>,
}

impl PasswordFile {
    fn load(path: &Path) -> Result<PasswordFile> {
        let cert_error = |line, reason: String| Error::Cert {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|err| cert_error(0, err.to_string()))?;
        let text = std::fs::read_to_string(path).map_err(|err| cert_error(0, err.to_string()))?;
        let mut users = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, password)) = line.split_once('=') else {
                return Err(cert_error(index + 1, "expected user=password".into()));
            };
            let user = user.trim();
            if user.is_empty() {
                return Err(cert_error(index + 1, "empty user name".into()));
            }
            users.insert(user.to_string(), password.trim().to_string());
        }
        Ok(PasswordFile {
            users,
            stamp: file_stamp(&meta),
        })
    }
}

fn file_stamp(meta: &std::fs::Metadata) -> Option<(SystemTime, u64)> {
    meta.modified().ok().map(|time| (time, meta.len()))
}

impl PasswordSource {
    /// Re-reads a password file that changed; a file that became unreadable keeps the old users.
    fn refresh(&mut self) {
        if let PasswordSource::File(path, file) = self {
            let current = std::fs::metadata(&*path).ok().and_then(|m| file_stamp(&m));
            if current.is_some() && current != file.stamp {
                match PasswordFile::load(path) {
                    Ok(fresh) => *file = fresh,
                    Err(err) => tracing::warn!(%err, "zauth: keeping the old passwords"),
                }
            }
        }
    }

    fn check(&mut self, user: &str, password: &str) -> bool {
        self.refresh();
        let users = match self {
            PasswordSource::File(_, file) => &file.users,
            PasswordSource::Users(users) => users,
        };
        users
            .get(user)
            .is_some_and(|p| constant_time_eq(p.as_bytes(), password.as_bytes()))
    }
}

/// Compares a password without an early exit at the first differing byte, so the time a
/// refusal takes tells a guesser nothing about how much of the password was right (the length
/// still shows).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// How CURVE clients are judged.
enum CurvePolicy {
    AllowAny,
    Stores(Vec<ZCertStore>),
}

/// The actor's state.
#[derive(Default)]
struct AuthState {
    allowed: HashSet<String>,
    denied: HashSet<String>,
    plain: HashMap<String, PasswordSource>,
    curve: HashMap<String, CurvePolicy>,
    verbose: bool,
}

/// A parsed ZAP request.
struct ZapRequest {
    request_id: Vec<u8>,
    domain: String,
    address: String,
    mechanism: String,
    credentials: Vec<Vec<u8>>,
}

/// The answer to one ZAP request.
struct Verdict {
    status: &'static str,
    text: &'static str,
    user_id: String,
    metadata: Vec<(String, String)>,
}

impl Verdict {
    fn allow(user_id: String, metadata: Vec<(String, String)>) -> Verdict {
        Verdict {
            status: "200",
            text: "OK",
            user_id,
            metadata,
        }
    }

    fn deny() -> Verdict {
        Verdict {
            status: "400",
            text: "No access",
            user_id: String::new(),
            metadata: Vec::new(),
        }
    }
}

macro_rules! decision {
    ($verbose:expr, $($arg:tt)*) => {
        if $verbose {
            tracing::info!($($arg)*)
        } else {
            tracing::debug!($($arg)*)
        }
    };
}

impl AuthState {
    fn serve(
        &mut self,
        pipe: &ZSocket,
        handler: &ZSocket,
        commands: &mpsc::Receiver<Command>,
    ) -> Result<()> {
        let mut poller = ZPoller::new();
        let pipe_index = poller.add(pipe);
        let handler_index = poller.add(handler);
        loop {
            match poller.wait(None) {
                Ok(Some(index)) if index == pipe_index => {
                    let msg = pipe.recv_msg()?;
                    if crate::actor::is_term(&msg) {
                        return Ok(());
                    }
                    let reply = match commands.try_recv() {
                        Ok(command) => self.apply(command),
                        Err(_) => Err("no command was queued".to_string()),
                    };
                    match reply {
                        Ok(()) => pipe.send_str("OK")?,
                        Err(reason) => pipe.send_str(&format!("ERROR {reason}"))?,
                    }
                }
                Ok(Some(index)) if index == handler_index => {
                    let request = handler.recv_msg()?;
                    let reply = self.authenticate(request);
                    handler.send_msg(reply)?;
                }
                Ok(_) => {}
                Err(err) if retry_after(&err, OnInterrupt::KeepRunning) => {}
                Err(Error::Terminated) => return Ok(()),
                Err(err) => return Err(err),
            }
        }
    }

    fn apply(&mut self, command: Command) -> std::result::Result<(), String> {
        match command {
            Command::Allow(address) => {
                decision!(self.verbose, %address, "zauth: allowing address");
                self.allowed.insert(address);
            }
            Command::Deny(address) => {
                decision!(self.verbose, %address, "zauth: denying address");
                self.denied.insert(address);
            }
            Command::Plain(domain, source) => {
                decision!(self.verbose, %domain, "zauth: PLAIN configured");
                self.plain.insert(domain, source);
            }
            Command::Curve(domain, policy) => {
                decision!(
                    self.verbose,
                    %domain,
                    allow_any = matches!(policy, CurvePolicy::AllowAny),
                    "zauth: CURVE configured"
                );
                self.curve.insert(domain, policy);
            }
            Command::Verbose(verbose) => self.verbose = verbose,
        }
        Ok(())
    }

    /// Answers one ZAP request; malformed requests get status 500.
    fn authenticate(&mut self, mut request: ZMsg) -> ZMsg {
        let (request_id, verdict) = match parse_request(&mut request) {
            Ok(parsed) => {
                let verdict = self.judge(&parsed);
                (parsed.request_id, verdict)
            }
            Err((request_id, reason)) => {
                tracing::warn!(%reason, "zauth: malformed ZAP request");
                let verdict = Verdict {
                    status: "500",
                    text: "Internal error",
                    user_id: String::new(),
                    metadata: Vec::new(),
                };
                (request_id, verdict)
            }
        };
        let mut reply = ZMsg::new();
        reply.append("1.0");
        reply.append(request_id);
        reply.append(verdict.status);
        reply.append(verdict.text);
        reply.append(verdict.user_id);
        reply.append(encode_metadata(&verdict.metadata));
        reply
    }

    fn judge(&mut self, request: &ZapRequest) -> Verdict {
        let verbose = self.verbose;
        let (address, mechanism, domain) = (&request.address, &request.mechanism, &request.domain);
        decision!(verbose, %address, %mechanism, %domain, "zauth: ZAP request");
        let mut allowed = false;
        if !self.allowed.is_empty() {
            if self.allowed.contains(address) {
                decision!(verbose, %address, "zauth: passed (allow list)");
                allowed = true;
            } else {
                decision!(verbose, %address, "zauth: denied (not on the allow list)");
                return Verdict::deny();
            }
        } else if self.denied.contains(address) {
            decision!(verbose, %address, "zauth: denied (deny list)");
            return Verdict::deny();
        }
        match mechanism.as_str() {
            "NULL" => {
                decision!(verbose, %address, allow_listed = allowed, "zauth: allowed (NULL)");
                Verdict::allow(String::new(), Vec::new())
            }
            "PLAIN" => self.judge_plain(request),
            "CURVE" => self.judge_curve(request),
            other => {
                decision!(
                    verbose,
                    mechanism = other,
                    "zauth: denied (unsupported mechanism)"
                );
                Verdict::deny()
            }
        }
    }

    fn judge_plain(&mut self, request: &ZapRequest) -> Verdict {
        let verbose = self.verbose;
        let [user, password] = request.credentials.as_slice() else {
            decision!(verbose, "zauth: denied (PLAIN without user and password)");
            return Verdict::deny();
        };
        let user = String::from_utf8_lossy(user).into_owned();
        let password = String::from_utf8_lossy(password);
        let domain = request.domain.as_str();
        let source = if self.plain.contains_key(domain) {
            self.plain.get_mut(domain)
        } else {
            self.plain.get_mut(ZAuth::ANY_DOMAIN)
        };
        let Some(source) = source else {
            decision!(verbose, %domain, "zauth: denied (PLAIN not configured for the domain)");
            return Verdict::deny();
        };
        if source.check(&user, &password) {
            decision!(verbose, %user, "zauth: allowed (PLAIN)");
            Verdict::allow(user, Vec::new())
        } else {
            decision!(verbose, %user, "zauth: denied (PLAIN: unknown user or wrong password)");
            Verdict::deny()
        }
    }

    fn judge_curve(&mut self, request: &ZapRequest) -> Verdict {
        let verbose = self.verbose;
        let key = match request.credentials.as_slice() {
            [key] if key.len() == 32 => key,
            _ => {
                decision!(
                    verbose,
                    "zauth: denied (CURVE without a 32-byte client key)"
                );
                return Verdict::deny();
            }
        };
        let client_key = z85::encode(key).unwrap_or_default();
        let domain = request.domain.as_str();
        let policy = self
            .curve
            .get(domain)
            .or_else(|| self.curve.get(ZAuth::ANY_DOMAIN));
        match policy {
            Some(CurvePolicy::AllowAny) => {
                decision!(verbose, %client_key, "zauth: allowed (CURVE, any client)");
                Verdict::allow(client_key, Vec::new())
            }
            Some(CurvePolicy::Stores(stores)) => {
                match stores.iter().find_map(|store| store.lookup(&client_key)) {
                    Some(cert) => {
                        decision!(verbose, %client_key, "zauth: allowed (CURVE, known key)");
                        Verdict::allow(client_key, cert_metadata(&cert))
                    }
                    None => {
                        decision!(verbose, %client_key, "zauth: denied (CURVE, unknown key)");
                        Verdict::deny()
                    }
                }
            }
            None => {
                decision!(verbose, %domain, "zauth: denied (CURVE not configured for the domain)");
                Verdict::deny()
            }
        }
    }
}

/// Splits a ZAP request into its parts, or gives (request id, reason) when it is malformed.
fn parse_request(msg: &mut ZMsg) -> std::result::Result<ZapRequest, (Vec<u8>, String)> {
    let mut frames: Vec<Vec<u8>> = msg.iter().map(|frame| frame.to_vec()).collect();
    let request_id = frames.get(1).cloned().unwrap_or_default();
    if frames.len() < 6 {
        return Err((
            request_id,
            format!("{} frames, at least 6 needed", frames.len()),
        ));
    }
    if frames[0] != b"1.0" {
        return Err((request_id, "version is not 1.0".into()));
    }
    let text = |bytes: &[u8], what: &str| {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| (request_id.clone(), format!("{what} is not UTF-8")))
    };
    let domain = text(&frames[2], "domain")?;
    let address = text(&frames[3], "address")?;
    let mechanism = text(&frames[5], "mechanism")?;
    let credentials = frames.split_off(6);
    Ok(ZapRequest {
        request_id,
        domain,
        address,
        mechanism,
        credentials,
    })
}

/// The certificate's metadata that may travel as ZAP metadata.
fn cert_metadata(cert: &ZCert) -> Vec<(String, String)> {
    cert.metadata()
        .iter()
        .filter(|(name, value)| {
            let ok = !name.is_empty()
                && name.len() <= 255
                && u32::try_from(value.len()).is_ok()
                && !RESERVED_PROPERTIES
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(name));
            if !ok {
                tracing::warn!(%name, "zauth: certificate metadata not passed on");
            }
            ok
        })
        .cloned()
        .collect()
}

/// ZMTP metadata encoding: name length (1 byte), name, value length (4 bytes, big-endian), value.
fn encode_metadata(metadata: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in metadata {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_compare_in_constant_time_and_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    use super::*;

    fn zap_client(ctx: &ZContext) -> ZSocket {
        let client = ctx.socket(SocketType::Req).unwrap();
        client
            .set_rcvtimeo(Some(Duration::from_millis(10_000)))
            .unwrap();
        client.connect(ZAP_ENDPOINT).unwrap();
        client
    }

    fn ask(client: &ZSocket, frames: &[&[u8]]) -> Vec<Vec<u8>> {
        client.send_multipart(frames.iter().copied()).unwrap();
        client
            .recv_msg()
            .unwrap()
            .iter()
            .map(|f| f.to_vec())
            .collect()
    }

    #[test]
    fn answers_zap_requests_directly() {
        let ctx = ZContext::new().unwrap();
        let auth = ZAuth::with_context(&ctx).unwrap();
        auth.configure_plain_users("*", [("admin", "secret")])
            .unwrap();
        let client = zap_client(&ctx);

        let ok = ask(
            &client,
            &[
                b"1.0",
                b"7",
                b"",
                b"10.0.0.1",
                b"",
                b"PLAIN",
                b"admin",
                b"secret",
            ],
        );
        assert_eq!(ok[0], b"1.0");
        assert_eq!(ok[1], b"7");
        assert_eq!(ok[2], b"200");
        assert_eq!(ok[4], b"admin");

        let bad = ask(
            &client,
            &[
                b"1.0",
                b"8",
                b"",
                b"10.0.0.1",
                b"",
                b"PLAIN",
                b"admin",
                b"nope",
            ],
        );
        assert_eq!(bad[2], b"400");

        // Malformed: wrong version, too few frames, CURVE key of the wrong size.
        let reply = ask(&client, &[b"9.9", b"9", b"", b"", b"", b"NULL"]);
        assert_eq!(reply[2], b"500");
        let reply = ask(&client, &[b"1.0"]);
        assert_eq!(reply[2], b"500");
        let reply = ask(
            &client,
            &[b"1.0", b"10", b"", b"1.2.3.4", b"", b"CURVE", b"short"],
        );
        assert_eq!(reply[2], b"400");

        // Still serving after the bad ones.
        let reply = ask(&client, &[b"1.0", b"11", b"", b"1.2.3.4", b"", b"NULL"]);
        assert_eq!(reply[2], b"200");
        auth.deny("1.2.3.4").unwrap();
        let reply = ask(&client, &[b"1.0", b"12", b"", b"1.2.3.4", b"", b"NULL"]);
        assert_eq!(reply[2], b"400");
    }

    #[test]
    fn one_handler_per_context() {
        let ctx = ZContext::new().unwrap();
        let first = ZAuth::with_context(&ctx).unwrap();
        assert!(ZAuth::with_context(&ctx).is_err());
        drop(first);
        let _again = ZAuth::with_context(&ctx).expect("the endpoint is free again");
    }

    #[test]
    fn metadata_encoding() {
        let encoded = encode_metadata(&[("name".into(), "Bob".into())]);
        assert_eq!(encoded, b"\x04name\x00\x00\x00\x03Bob");
        let mut cert = ZCert::new().unwrap();
        cert.set_meta("User-Id", "forged");
        cert.set_meta("team", "a");
        assert_eq!(
            cert_metadata(&cert),
            [("team".to_string(), "a".to_string())]
        );
    }

    #[test]
    fn password_file_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("zmsg-auth-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("passwords");
        std::fs::write(&path, "# users\nadmin=secret\nbroken line\n").unwrap();
        match PasswordFile::load(&path) {
            Err(Error::Cert { line, .. }) => assert_eq!(line, 3),
            other => panic!("{:?}", other.map(|f| f.users.len())),
        }
        std::fs::write(&path, "admin = secret\n\n").unwrap();
        let file = PasswordFile::load(&path).unwrap();
        assert_eq!(file.users.get("admin").map(String::as_str), Some("secret"));
        assert!(PasswordFile::load(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
