//! Security over real tcp://127.0.0.1 connections: CURVE (allow-any and certificate stores),
//! PLAIN, IP allow/deny lists, per-domain configuration, and what the server learns about its
//! peers (User-Id and certificate metadata).
//!
//! Every test uses its own context, because a context has one ZAP handler and tests run in
//! parallel. Refusals are observed through the server's socket monitor (handshake-failed events),
//! never by waiting for a timeout.

use std::path::Path;
use std::time::Duration;

use zmsg::{
    Error, MonitorEventKind, MonitorEvents, SocketType, ZAuth, ZCert, ZCertStore, ZContext,
    ZMonitor, ZSocket,
};

#[allow(dead_code)]
#[path = "../examples/curve_auth.rs"]
mod curve_auth;
mod support;

/// Generous bound on every blocking receive, so a broken build fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A server socket with a monitor reporting its handshakes.
struct Server {
    socket: ZSocket,
    monitor: ZMonitor,
    endpoint: String,
    port: u16,
}

impl Server {
    /// A PULL server in `ctx`, configured by `setup` before it binds to an ephemeral port.
    fn new(ctx: &ZContext, setup: impl FnOnce(&ZSocket)) -> Server {
        let socket = ctx.socket(SocketType::Pull).unwrap();
        socket.set_rcvtimeo(Some(TIMEOUT)).unwrap();
        setup(&socket);
        let monitor = ZMonitor::new(
            &socket,
            MonitorEvents::HANDSHAKE_SUCCEEDED
                | MonitorEvents::HANDSHAKE_FAILED_NO_DETAIL
                | MonitorEvents::HANDSHAKE_FAILED_PROTOCOL
                | MonitorEvents::HANDSHAKE_FAILED_AUTH,
        )
        .unwrap();
        let bound = socket.bind("tcp://127.0.0.1:*").unwrap();
        Server {
            endpoint: bound.as_str().to_string(),
            port: bound.port().unwrap(),
            socket,
            monitor,
        }
    }

    /// Waits for the next handshake event; returns (event, value).
    fn next_event(&self) -> (MonitorEventKind, u32) {
        let event = self
            .monitor
            .recv_event(Some(TIMEOUT))
            .unwrap()
            .expect("a handshake event within the time limit");
        (event.kind, event.value)
    }

    /// Waits until a handshake fails; returns (event, value). A success first is a test failure.
    fn expect_refusal(&self) -> (MonitorEventKind, u32) {
        let (event, value) = self.next_event();
        assert!(
            event.is_handshake_failure(),
            "a client that must be refused was not: {event:?}"
        );
        (event, value)
    }

    /// Receives the next message; it must be `expected`. Returns the frame for its properties.
    fn expect_message(&self, expected: &str) -> zmsg::ZFrame {
        let frame = self
            .socket
            .recv_frame()
            .expect("a message from the good client");
        assert_eq!(frame.to_str().unwrap(), expected);
        frame
    }

    /// Asserts that no message is waiting (nothing from a refused client reached the app).
    fn expect_nothing_pending(&self) {
        assert!(matches!(
            self.socket.recv_frame_dontwait(),
            Err(Error::Again)
        ));
    }
}

/// A PUSH client in `ctx`, configured by `setup`, connected to `endpoint`, that sends `text`.
fn client(ctx: &ZContext, endpoint: &str, text: &str, setup: impl FnOnce(&ZSocket)) -> ZSocket {
    let socket = ctx.socket(SocketType::Push).unwrap();
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    setup(&socket);
    socket.connect(endpoint).unwrap();
    socket.send_str(text).unwrap();
    socket
}

fn curve_server(cert: &ZCert) -> impl FnOnce(&ZSocket) + '_ {
    move |socket| {
        cert.apply(socket).unwrap();
        socket.set_curve_server(true).unwrap();
    }
}

fn curve_client<'a>(cert: &'a ZCert, server: &'a ZCert) -> impl FnOnce(&ZSocket) + 'a {
    move |socket| {
        cert.apply(socket).unwrap();
        socket.set_curve_serverkey(server.public_key()).unwrap();
    }
}

fn plain_client<'a>(user: &'a str, password: &'a str) -> impl FnOnce(&ZSocket) + 'a {
    move |socket| {
        socket.set_plain_username(user).unwrap();
        socket.set_plain_password(password).unwrap();
    }
}

fn is_auth_failure((event, value): (MonitorEventKind, u32)) -> bool {
    event == MonitorEventKind::HandshakeFailedAuth && value == 400
}

#[test]
fn curve_allow_any_encrypts_without_client_authentication() {
    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    auth.configure_curve(ZAuth::ANY_DOMAIN, ZAuth::CURVE_ALLOW_ANY)
        .unwrap();
    let server_cert = ZCert::new().unwrap();
    let server = Server::new(&ctx, curve_server(&server_cert));

    let anyone = ZCert::new().unwrap();
    let _client = client(
        &ctx,
        &server.endpoint,
        "hello",
        curve_client(&anyone, &server_cert),
    );
    let frame = server.expect_message("hello");
    assert_eq!(frame.meta("User-Id"), Some(anyone.public_txt()));
    assert_eq!(frame.meta("Peer-Address").as_deref(), Some("127.0.0.1"));
    assert_eq!(server.next_event().0, MonitorEventKind::HandshakeSucceeded);

    // A client that does not know the server's real key cannot even complete the handshake.
    let imposter_server = ZCert::new().unwrap();
    let _bad = client(
        &ctx,
        &server.endpoint,
        "wrong server key",
        curve_client(&anyone, &imposter_server),
    );
    let (event, _) = server.expect_refusal();
    assert_eq!(event, MonitorEventKind::HandshakeFailedProtocol);
    let _again = client(
        &ctx,
        &server.endpoint,
        "still serving",
        curve_client(&anyone, &server_cert),
    );
    server.expect_message("still serving");
    server.expect_nothing_pending();
}

#[test]
fn curve_without_zauth_accepts_any_key() {
    let ctx = ZContext::new().unwrap();
    let server_cert = ZCert::new().unwrap();
    let server = Server::new(&ctx, curve_server(&server_cert));
    let _client = client(
        &ctx,
        &server.endpoint,
        "no handler",
        curve_client(&ZCert::new().unwrap(), &server_cert),
    );
    let frame = server.expect_message("no handler");
    assert_eq!(frame.meta("User-Id"), None, "no ZAP handler, no user id");
}

#[test]
fn curve_store_accepts_known_refuses_unknown_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let mut alice = ZCert::new().unwrap();
    alice.set_meta("name", "Alice");
    alice.set_meta("role", "admin");
    alice.save_public(dir.path().join("alice.cert")).unwrap();
    // Junk and secret files in the directory are skipped, not fatal.
    std::fs::write(dir.path().join("notes.txt"), "not a certificate\n\tat all").unwrap();
    ZCert::new()
        .unwrap()
        .save_secret(dir.path().join("other_secret"))
        .unwrap();

    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    auth.verbose(true).unwrap();
    let store = ZCertStore::new(dir.path()).unwrap();
    auth.configure_curve_store(ZAuth::ANY_DOMAIN, store.clone())
        .unwrap();
    let server_cert = ZCert::new().unwrap();
    let server = Server::new(&ctx, curve_server(&server_cert));

    // Known key: accepted, and the server sees who it is.
    let _alice = client(
        &ctx,
        &server.endpoint,
        "from alice",
        curve_client(&alice, &server_cert),
    );
    let frame = server.expect_message("from alice");
    assert_eq!(frame.meta("User-Id"), Some(alice.public_txt()));
    assert_eq!(frame.meta("name").as_deref(), Some("Alice"));
    assert_eq!(frame.meta("role").as_deref(), Some("admin"));
    assert_eq!(server.next_event().0, MonitorEventKind::HandshakeSucceeded);

    // Unknown key: refused with 400; nothing reaches the application.
    let bob = ZCert::new().unwrap();
    let bob_client = client(
        &ctx,
        &server.endpoint,
        "from bob",
        curve_client(&bob, &server_cert),
    );
    assert!(is_auth_failure(server.expect_refusal()));
    drop(bob_client);
    server.expect_nothing_pending();

    // The server keeps serving known clients.
    let _alice2 = client(
        &ctx,
        &server.endpoint,
        "alice again",
        curve_client(&alice, &server_cert),
    );
    server.expect_message("alice again");

    // Bob's certificate is added to the directory: his next connection is accepted once the store
    // looked again (at most every 5 s by default; `reload` looks at once).
    bob.save_public(dir.path().join("bob.cert")).unwrap();
    store.reload().unwrap();
    let _bob2 = client(
        &ctx,
        &server.endpoint,
        "bob is in",
        curve_client(&bob, &server_cert),
    );
    let frame = server.expect_message("bob is in");
    assert_eq!(frame.meta("User-Id"), Some(bob.public_txt()));
    assert_eq!(frame.meta("name"), None);
}

#[test]
fn curve_in_memory_store_sees_later_inserts() {
    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    let store = ZCertStore::in_memory();
    auth.configure_curve_store(ZAuth::ANY_DOMAIN, store.clone())
        .unwrap();
    let server_cert = ZCert::new().unwrap();
    let server = Server::new(&ctx, curve_server(&server_cert));

    let mut carol = ZCert::new().unwrap();
    let first = client(
        &ctx,
        &server.endpoint,
        "too early",
        curve_client(&carol, &server_cert),
    );
    assert!(is_auth_failure(server.expect_refusal()));
    drop(first);

    carol.set_meta("name", "Carol");
    store.insert(carol.clone());
    let _second = client(
        &ctx,
        &server.endpoint,
        "welcome",
        curve_client(&carol, &server_cert),
    );
    let frame = server.expect_message("welcome");
    assert_eq!(frame.meta("name").as_deref(), Some("Carol"));
    server.expect_nothing_pending();
}

#[test]
fn plain_right_and_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    std::fs::write(
        &passwords,
        "# user=password\nadmin=secret\nguest = welcome\n",
    )
    .unwrap();

    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    auth.configure_plain(ZAuth::ANY_DOMAIN, &passwords).unwrap();
    let server = Server::new(&ctx, |s| s.set_plain_server(true).unwrap());

    let wrong = client(
        &ctx,
        &server.endpoint,
        "bad password",
        plain_client("admin", "guess"),
    );
    assert!(is_auth_failure(server.expect_refusal()));
    drop(wrong);
    let unknown = client(
        &ctx,
        &server.endpoint,
        "no such user",
        plain_client("root", "secret"),
    );
    assert!(is_auth_failure(server.expect_refusal()));
    drop(unknown);
    server.expect_nothing_pending();

    let _admin = client(
        &ctx,
        &server.endpoint,
        "admin here",
        plain_client("admin", "secret"),
    );
    let frame = server.expect_message("admin here");
    assert_eq!(frame.meta("User-Id").as_deref(), Some("admin"));
    let _guest = client(
        &ctx,
        &server.endpoint,
        "guest here",
        plain_client("guest", "welcome"),
    );
    let frame = server.expect_message("guest here");
    assert_eq!(frame.meta("User-Id").as_deref(), Some("guest"));
}

#[test]
fn plain_bad_password_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    let missing = dir.path().join("missing");
    match auth.configure_plain("*", &missing) {
        Err(Error::Cert { path, line: 0, .. }) => assert_eq!(path, missing),
        other => panic!("expected a Cert error, got {other:?}"),
    }
    let broken = dir.path().join("broken");
    std::fs::write(&broken, "admin=secret\nno equals sign\n").unwrap();
    let err = auth.configure_plain("*", &broken).unwrap_err();
    assert!(matches!(err, Error::Cert { line: 2, .. }), "{err}");
    assert!(err.to_string().contains(":2:"), "{err}");
}

#[test]
fn per_domain_configuration() {
    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    auth.configure_plain_users("alpha", [("ann", "a-pass")])
        .unwrap();
    auth.configure_plain_users("beta", [("ben", "b-pass")])
        .unwrap();
    let alpha = Server::new(&ctx, |s| {
        s.set_plain_server(true).unwrap();
        s.set_zap_domain("alpha").unwrap();
    });
    let beta = Server::new(&ctx, |s| {
        s.set_plain_server(true).unwrap();
        s.set_zap_domain("beta").unwrap();
    });
    let gamma = Server::new(&ctx, |s| {
        s.set_plain_server(true).unwrap();
        s.set_zap_domain("gamma").unwrap();
    });

    let cross = client(
        &ctx,
        &beta.endpoint,
        "ann at beta",
        plain_client("ann", "a-pass"),
    );
    assert!(is_auth_failure(beta.expect_refusal()));
    drop(cross);
    let unconfigured = client(
        &ctx,
        &gamma.endpoint,
        "ann at gamma",
        plain_client("ann", "a-pass"),
    );
    assert!(is_auth_failure(gamma.expect_refusal()));
    drop(unconfigured);

    let _ann = client(
        &ctx,
        &alpha.endpoint,
        "ann at alpha",
        plain_client("ann", "a-pass"),
    );
    alpha.expect_message("ann at alpha");
    let _ben = client(
        &ctx,
        &beta.endpoint,
        "ben at beta",
        plain_client("ben", "b-pass"),
    );
    beta.expect_message("ben at beta");
    beta.expect_nothing_pending();
    gamma.expect_nothing_pending();
}

/// Connects from a chosen loopback source address (libzmq's `source;destination` syntax).
fn endpoint_from(source: &str, port: u16) -> String {
    format!("tcp://{source}:0;127.0.0.1:{port}")
}

#[test]
fn ip_deny_list_refuses_only_listed_addresses() {
    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    auth.deny("127.0.0.2").unwrap();
    auth.configure_curve(ZAuth::ANY_DOMAIN, ZAuth::CURVE_ALLOW_ANY)
        .unwrap();
    let server_cert = ZCert::new().unwrap();
    let server = Server::new(&ctx, curve_server(&server_cert));
    let cert = ZCert::new().unwrap();

    let denied = client(
        &ctx,
        &endpoint_from("127.0.0.2", server.port),
        "from a denied address",
        curve_client(&cert, &server_cert),
    );
    assert!(is_auth_failure(server.expect_refusal()));
    drop(denied);
    server.expect_nothing_pending();

    let _ok = client(
        &ctx,
        &endpoint_from("127.0.0.1", server.port),
        "from a good address",
        curve_client(&cert, &server_cert),
    );
    let frame = server.expect_message("from a good address");
    assert_eq!(frame.meta("Peer-Address").as_deref(), Some("127.0.0.1"));
}

#[test]
fn ip_allow_list_refuses_everything_else_even_for_null() {
    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    auth.allow("127.0.0.1").unwrap();
    // NULL security consults ZAP when the server has a domain.
    let server = Server::new(&ctx, |s| s.set_zap_domain("global").unwrap());

    let outsider = client(
        &ctx,
        &endpoint_from("127.0.0.3", server.port),
        "outsider",
        |_| {},
    );
    assert!(is_auth_failure(server.expect_refusal()));
    drop(outsider);
    server.expect_nothing_pending();

    let _insider = client(
        &ctx,
        &endpoint_from("127.0.0.1", server.port),
        "insider",
        |_| {},
    );
    server.expect_message("insider");
}

#[test]
fn zmsg_cert_files_round_trip_and_bad_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut cert = ZCert::new().unwrap();
    cert.set_meta("name", "Round Trip");
    cert.set_meta("email", "rt@example.com");
    let path = dir.path().join("rt.cert");
    cert.save(&path).unwrap();
    let loaded = ZCert::load(&path).unwrap();
    assert_eq!(loaded, cert);
    assert_eq!(loaded.metadata(), cert.metadata());

    let bad = dir.path().join("bad.cert");
    std::fs::write(
        &bad,
        "metadata\ncurve\n    public-key = \"not-z85-at-all!\"\n",
    )
    .unwrap();
    let err = ZCert::load(&bad).unwrap_err();
    match &err {
        Error::Cert { path, line, .. } => {
            assert_eq!(path, Path::new(&bad));
            assert_eq!(*line, 3);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("bad.cert:3:"), "{err}");
}

#[test]
fn documented_example_runs() {
    curve_auth::run().expect("examples/curve_auth.rs runs");
}

#[test]
fn zmakecert_writes_both_files_and_prints_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tool.cert");
    let output = support::target_command(env!("CARGO_BIN_EXE_zmakecert"))
        .arg(&path)
        .args(["--name", "Tool User", "--meta", "team=ops"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    let cert = ZCert::load(&path).unwrap();
    assert_eq!(printed.trim(), cert.public_txt());
    assert!(!cert.is_public_only());
    assert_eq!(cert.meta("name"), Some("Tool User"));
    assert_eq!(cert.meta("team"), Some("ops"));
    assert!(ZCert::load_file(&path).unwrap().is_public_only());

    // It refuses to overwrite, and rejects malformed metadata.
    let again = support::target_command(env!("CARGO_BIN_EXE_zmakecert"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert_eq!(ZCert::load(&path).unwrap(), cert, "the files are untouched");
    let bad = support::target_command(env!("CARGO_BIN_EXE_zmakecert"))
        .arg(dir.path().join("other"))
        .args(["--meta", "no-equals-sign"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(!dir.path().join("other").exists());
}

/// A server with a ZAP domain whose handler is gone: by default libzmq lets every CURVE client in
/// (the handler's absence is not a refusal); with `set_zap_enforce_domain(true)` it refuses them.
#[test]
fn zap_enforce_domain_fails_closed_when_the_handler_is_gone() {
    for enforce in [false, true] {
        let ctx = ZContext::new().unwrap();
        let auth = ZAuth::with_context(&ctx).unwrap();
        let store = ZCertStore::in_memory();
        let alice = ZCert::new().unwrap();
        store.insert(alice.clone());
        auth.configure_curve_store(ZAuth::ANY_DOMAIN, store)
            .unwrap();
        let server_cert = ZCert::new().unwrap();
        let server = Server::new(&ctx, |socket| {
            curve_server(&server_cert)(socket);
            socket.set_zap_domain("global").unwrap();
            socket.set_zap_enforce_domain(enforce).unwrap();
        });
        assert_eq!(server.socket.zap_enforce_domain().unwrap(), enforce);

        // While the handler runs, a known key is in and an unknown one is out.
        let _alice = client(
            &ctx,
            &server.endpoint,
            "alice",
            curve_client(&alice, &server_cert),
        );
        server.expect_message("alice");
        assert_eq!(server.next_event().0, MonitorEventKind::HandshakeSucceeded);

        // The handler stops (dropped, or its actor died): an unknown key tries again.
        drop(auth);
        let mallory = ZCert::new().unwrap();
        let _mallory = client(
            &ctx,
            &server.endpoint,
            "mallory",
            curve_client(&mallory, &server_cert),
        );
        let (event, _) = server.next_event();
        if enforce {
            assert!(event.is_handshake_failure(), "{event:?}");
            server.expect_nothing_pending();
        } else {
            // libzmq's default, kept here to show what the option changes.
            assert_eq!(event, MonitorEventKind::HandshakeSucceeded);
            server.expect_message("mallory");
        }
    }
}
