//! CURVE with client authentication: a server that only talks to clients whose public
//! certificates sit in a directory, and tells who is talking from the certificate's metadata.
//!
//! Run it with `cargo run --example curve_auth`. See docs/security.md.

use std::time::Duration;

use anyhow::{bail, Context};
use zmsg::{MonitorEventKind, MonitorEvents, SocketType, ZAuth, ZCert, ZContext, ZMonitor};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    run()
}

/// The whole example; `tests/security.rs` runs it too.
pub fn run() -> anyhow::Result<()> {
    // 1. Certificates, as `zmakecert` would make them. In real life the client keeps
    //    `alice.cert_secret` to itself and hands `alice.cert` to the server's admin, who copies
    //    it into the server's directory of authorised clients.
    let dir = tempfile::tempdir()?;
    let authorised = dir.path().join("authorised");
    std::fs::create_dir(&authorised)?;

    let server_cert = ZCert::new()?;
    server_cert.save(dir.path().join("server.cert"))?;

    let mut alice = ZCert::new()?;
    alice.set_meta("name", "Alice");
    alice.save(dir.path().join("alice.cert"))?;
    std::fs::copy(dir.path().join("alice.cert"), authorised.join("alice.cert"))?;

    // 2. The authenticator: one per context, started before the server binds.
    let ctx = ZContext::new()?;
    let auth = ZAuth::with_context(&ctx)?;
    auth.verbose(true)?;
    auth.configure_curve(ZAuth::ANY_DOMAIN, &authorised)?;

    // 3. The server: its own secret certificate, CURVE server role.
    let server = ctx.socket(SocketType::Rep)?;
    ZCert::load(dir.path().join("server.cert"))?.apply(&server)?;
    server.set_curve_server(true)?;
    server.set_rcvtimeo(Some(Duration::from_millis(10_000)))?;
    let endpoint = server.bind("tcp://127.0.0.1:*")?;

    // 4. The client: its secret certificate, and the server's *public* certificate.
    let client = ctx.socket(SocketType::Req)?;
    ZCert::load(dir.path().join("alice.cert"))?.apply(&client)?;
    let server_public = ZCert::load_file(dir.path().join("server.cert"))?;
    client.set_curve_serverkey(server_public.public_key())?;
    client.set_rcvtimeo(Some(Duration::from_millis(10_000)))?;
    client.connect(endpoint.as_str())?;

    client.send_str("Hello")?;
    let request = server
        .recv_frame()
        .context("the server got nothing (is the client's certificate authorised?)")?;
    let user = request.meta("User-Id").unwrap_or_default();
    let name = request.meta("name").unwrap_or_default();
    println!("server: {:?} from {name} (key {user})", request.to_str()?);
    if user != alice.public_txt() || name != "Alice" {
        bail!("unexpected identity: {user} / {name}");
    }
    server.send_str(&format!("Hello {name}"))?;
    let reply = client.recv_string()?;
    println!("client: {reply:?}");

    // 5. A client whose certificate is not in the directory is refused: the server's monitor
    //    reports the refusal, nothing reaches the server, which keeps serving Alice.
    let monitor = ZMonitor::new(&server, MonitorEvents::HANDSHAKE_FAILED_AUTH)?;
    let mallory = ctx.socket(SocketType::Req)?;
    ZCert::new()?.apply(&mallory)?;
    mallory.set_curve_serverkey(server_public.public_key())?;
    mallory.set_linger(Some(Duration::ZERO))?;
    mallory.connect(endpoint.as_str())?;
    mallory.send_str("let me in")?;
    let refusal = monitor
        .recv_event(Some(Duration::from_secs(10)))?
        .context("the server never refused the unknown client")?;
    if refusal.kind != MonitorEventKind::HandshakeFailedAuth {
        bail!("unexpected event {refusal}");
    }
    println!(
        "server: refused an unknown client (ZAP status {})",
        refusal.value
    );

    client.send_str("Still there?")?;
    let next = server.recv_frame()?;
    println!(
        "server: {:?} from {}",
        next.to_str()?,
        next.meta("name").unwrap_or_default()
    );
    if next.meta("User-Id").as_deref() != Some(alice.public_txt().as_str()) {
        bail!("a refused client got through");
    }
    server.send_str("Yes")?;
    println!("client: {:?}", client.recv_string()?);
    Ok(())
}
