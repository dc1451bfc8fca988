//! Request-reply identities: what a ROUTER sees from an anonymous REQ and from one with a routing id (zguide: identity).
//!
//! Usage: `identity`; it dumps the two messages the ROUTER receives.
use zmsg::{SocketType, ZContext, ZSocket};

/// Receives one whole message and prints it, as zhelpers' `s_dump`.
fn dump(socket: &ZSocket) -> zmsg::Result<()> {
    println!("----------------------------------------");
    print!("{}", socket.recv_msg()?);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let ctx = ZContext::new()?;
    let sink = ctx.socket(SocketType::Router)?;
    sink.bind("inproc://example")?;

    // First allow 0MQ to set the identity
    let anonymous = ctx.socket(SocketType::Req)?;
    anonymous.connect("inproc://example")?;
    anonymous.send_str("ROUTER uses a generated 5 byte identity")?;
    dump(&sink)?;

    // Then set the identity ourselves
    let identified = ctx.socket(SocketType::Req)?;
    identified.set_routing_id(b"PEER2")?;
    identified.connect("inproc://example")?;
    identified.send_str("ROUTER socket uses REQ's socket identity")?;
    dump(&sink)?;
    Ok(())
}
