//! A CURVE-encrypted request/reply with typed multipart frames, using only zmsg's public API.
//!
//! The server gets a fresh CURVE keypair; the client knows the server's public key and has its own
//! keypair. The client sends `["sum", 40u64, 2u64]`, the server answers `[42u64, "ok"]`. A second
//! client with the wrong server key is shown to get nothing through.
//!
//! Run: `cargo run --example curve_reqrep`

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use zmsg::{Events, SocketType, ZMsg, ZSocket};

fn main() -> Result<()> {
    let (major, minor, patch) = zmsg::version();
    println!(
        "libzmq {major}.{minor}.{patch}, CURVE available: {}",
        zmsg::has("curve")
    );
    ensure!(zmsg::has("curve"), "this libzmq was built without CURVE");

    let (server_public, server_secret) = zmsg::z85::curve_keypair()?;
    let (client_public, client_secret) = zmsg::z85::curve_keypair()?;
    println!("server public key: {server_public}");

    // The server: a REP socket that is a CURVE server.
    let server = ZSocket::new(SocketType::Rep)?;
    server.set_curve_server(true)?;
    server.set_curve_secretkey(server_secret.as_bytes())?;
    let endpoint = server.bind("tcp://127.0.0.1:*")?;
    println!("server listening on {endpoint} (CURVE)");

    // The client: knows the server's public key.
    let client = ZSocket::new(SocketType::Req)?;
    client.set_curve_serverkey(server_public.as_bytes())?;
    client.set_curve_publickey(client_public.as_bytes())?;
    client.set_curve_secretkey(client_secret.as_bytes())?;
    client.set_rcvtimeo(Some(Duration::from_millis(5000)))?;
    client.connect(endpoint.as_str())?;

    let mut request = ZMsg::new();
    request.append("sum");
    request.append(40u64);
    request.append(2u64);
    println!("client sends:\n{request}");
    client.send_msg(request)?;

    server.set_rcvtimeo(Some(Duration::from_millis(5000)))?;
    let mut received = server.recv_msg().context("the server received nothing")?;
    ensure!(
        server.mechanism()? == zmsg::Mechanism::Curve,
        "the connection is not CURVE"
    );
    let operation = received.pop_str()?;
    let (a, b) = (received.pop::<u64>()?, received.pop::<u64>()?);
    println!("server got {operation}({a}, {b}) over CURVE");
    let mut reply = ZMsg::new();
    reply.append(a + b);
    reply.append("ok");
    server.send_msg(reply)?;

    let mut answer = client.recv_msg().context("the client got no reply")?;
    let sum = answer.pop::<u64>()?;
    let status = answer.pop_str()?;
    println!("client got {sum} ({status})");
    ensure!(sum == 42 && status == "ok", "unexpected reply");

    // An intruder that does not know the server's real key gets nothing through.
    let (wrong_public, _) = zmsg::z85::curve_keypair()?;
    let intruder = ZSocket::new(SocketType::Req)?;
    intruder.set_curve_serverkey(wrong_public.as_bytes())?;
    intruder.set_curve_publickey(client_public.as_bytes())?;
    intruder.set_curve_secretkey(client_secret.as_bytes())?;
    intruder.set_linger(Some(Duration::ZERO))?;
    intruder.connect(endpoint.as_str())?;
    intruder.send_str("let me in")?;
    let reached = server.poll(Events::POLLIN, Some(Duration::from_millis(500)))?;
    ensure!(
        reached.is_empty(),
        "a client with the wrong server key got through"
    );
    println!("client with the wrong server key: rejected, nothing delivered");
    println!("CURVE request/reply OK");
    Ok(())
}
