//! MDP/0.1 wire constants and frame checks (ZeroMQ RFC 7), shared by broker, worker and clients.
//!
//! Frame layouts after the ROUTER identity (see `docs/mdp.md`):
//!
//! | message | frames |
//! |---|---|
//! | client REQUEST / REPLY | `"" , "MDPC01" , service , body...` |
//! | worker READY | `"" , "MDPW01" , 0x01 , service [, "credit=N"]` |
//! | broker REQUEST | `"" , "MDPW01" , 0x02 , client , "" , body...` |
//! | worker REPLY | `"" , "MDPW01" , 0x03 , client , "" , body...` |
//! | HEARTBEAT / DISCONNECT | `"" , "MDPW01" , 0x04 / 0x05` |

use zmsg::{ZFrame, ZMsg};

/// The client sub-protocol header, `MDPC01`.
pub const CLIENT: &[u8] = b"MDPC01";
/// The worker sub-protocol header, `MDPW01`.
pub const WORKER: &[u8] = b"MDPW01";
/// The prefix of the service names the broker answers itself (RFC 8, MMI).
pub const MMI_PREFIX: &[u8] = b"mmi.";
/// The service frame of a broker refusal (flow control, `docs/mdp.md`): the reply body is
/// `code` (`"503"` service queue full, `"429"` client over its limit), the asked service, then the
/// refused request's body.
pub const REFUSED: &[u8] = b"mmi.refused";

/// The defaults of the zguide and of this crate: heartbeat every 2.5 s, peer dead after 3 missed.
pub const DEFAULT_HEARTBEAT_MS: u64 = 2500;
/// How many heartbeat intervals without traffic make a peer dead.
pub const DEFAULT_LIVENESS: u32 = 3;

/// The READY option by which a worker asks for up to N requests at once: an extra frame
/// `credit=N` after the service name. This is a zmsg extension of MDP/0.1 (see `docs/mdp.md`,
/// "Worker credit"): a plain MDP/0.1 worker sends no such frame and holds one request at a time;
/// brokers that do not know the option ignore the frame, so the worker then gets one at a time.
pub const CREDIT_OPTION: &str = "credit";

/// The largest credit a worker may ask for; a broker may grant less.
pub const MAX_CREDIT: u32 = 65_536;

/// The `credit=N` frame for a READY.
pub fn credit_frame(credit: u32) -> ZFrame {
    ZFrame::from(format!("{CREDIT_OPTION}={credit}"))
}

/// Reads the option frames that follow the service name in a READY: `Ok(credit)` (1 when no
/// `credit` option is given), or why the options are invalid. Options are `key=value` frames;
/// unknown keys are ignored, so that later extensions do not break this broker.
pub fn ready_credit<'a>(options: impl IntoIterator<Item = &'a ZFrame>) -> Result<u32, String> {
    let mut credit = 1;
    for frame in options {
        let Some((key, value)) = std::str::from_utf8(frame.data())
            .ok()
            .and_then(|text| text.split_once('='))
        else {
            return Err("a READY option is not a key=value text".into());
        };
        if key == CREDIT_OPTION {
            credit = match value.parse::<u32>() {
                Ok(n) if (1..=MAX_CREDIT).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "credit={value}: not a number from 1 to {MAX_CREDIT}"
                    ))
                }
            };
        }
    }
    Ok(credit)
}

/// A worker-protocol command byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    /// Worker → broker: ready to serve a service.
    Ready = 0x01,
    /// Broker → worker: a request to process.
    Request = 0x02,
    /// Worker → broker: the reply to a request.
    Reply = 0x03,
    /// Both ways: I am alive.
    Heartbeat = 0x04,
    /// Both ways: this conversation is over.
    Disconnect = 0x05,
}

impl Command {
    /// The command for a one-byte frame, if it is one of the five.
    pub fn from_frame(frame: &ZFrame) -> Option<Command> {
        match frame.data() {
            [0x01] => Some(Command::Ready),
            [0x02] => Some(Command::Request),
            [0x03] => Some(Command::Reply),
            [0x04] => Some(Command::Heartbeat),
            [0x05] => Some(Command::Disconnect),
            _ => None,
        }
    }

    /// The command as a one-byte frame (a constant message: nothing is allocated or copied).
    pub fn frame(self) -> ZFrame {
        static BYTES: [u8; 5] = [0x01, 0x02, 0x03, 0x04, 0x05];
        let index = self as usize - 1;
        ZFrame::from_static(&BYTES[index..=index])
    }

    /// The command's name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Command::Ready => "READY",
            Command::Request => "REQUEST",
            Command::Reply => "REPLY",
            Command::Heartbeat => "HEARTBEAT",
            Command::Disconnect => "DISCONNECT",
        }
    }
}

/// Builds a worker-protocol command for a DEALER socket: `"" , "MDPW01" , command , rest...`.
pub fn worker_command(command: Command, rest: ZMsg) -> ZMsg {
    let mut msg = rest;
    msg.push_frame(command.frame());
    msg.push_frame(ZFrame::from_static(WORKER));
    msg.push_frame(ZFrame::new());
    msg
}

/// A copy of a received `frame` to send while the original is kept. Small frames are copied
/// into a fresh message, which leaves out the received frame's connection metadata: a clone
/// would add a reference to it, an atomic write that libzmq's I/O thread also makes for every
/// frame it receives on that connection. Larger frames share their buffer (a reference count
/// either way).
pub(crate) fn detached_clone(frame: &ZFrame) -> ZFrame {
    /// libzmq keeps messages up to this size inside the `zmq_msg_t` (no allocation).
    const INLINE: usize = 33;
    if frame.len() <= INLINE {
        ZFrame::copy_from(frame.data())
    } else {
        frame.clone()
    }
}

/// True when `service` is reserved for the broker's management interface (`mmi.`).
pub fn is_mmi(service: &[u8]) -> bool {
    service.starts_with(MMI_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        for command in [
            Command::Ready,
            Command::Request,
            Command::Reply,
            Command::Heartbeat,
            Command::Disconnect,
        ] {
            assert_eq!(Command::from_frame(&command.frame()), Some(command));
        }
        assert_eq!(Command::from_frame(&ZFrame::from(&[0x06u8][..])), None);
        assert_eq!(Command::from_frame(&ZFrame::from(&[0x01u8, 0][..])), None);
        assert_eq!(Command::from_frame(&ZFrame::new()), None);
    }

    #[test]
    fn worker_command_layout() {
        let mut body = ZMsg::new();
        body.append("echo");
        let msg = worker_command(Command::Ready, body);
        assert_eq!(msg.len(), 4);
        assert!(msg[0].is_empty());
        assert_eq!(msg[1].data(), WORKER);
        assert_eq!(msg[2].data(), &[0x01]);
        assert_eq!(msg[3].data(), b"echo");
    }

    #[test]
    fn ready_options() {
        let frames = |texts: &[&str]| -> Vec<ZFrame> {
            texts.iter().map(|t| ZFrame::from(t.as_bytes())).collect()
        };
        assert_eq!(ready_credit(&frames(&[])), Ok(1));
        assert_eq!(ready_credit(&[credit_frame(32)]), Ok(32));
        assert_eq!(ready_credit(&frames(&["colour=blue", "credit=7"])), Ok(7));
        assert!(ready_credit(&frames(&["credit=0"])).is_err());
        assert!(ready_credit(&frames(&["credit=-3"])).is_err());
        assert!(ready_credit(&frames(&["credit=99999999999"])).is_err());
        assert!(ready_credit(&frames(&["credit"])).is_err());
        assert!(ready_credit(&[ZFrame::from(&[0xffu8, b'='][..])]).is_err());
    }

    #[test]
    fn mmi_prefix() {
        assert!(is_mmi(b"mmi.service"));
        assert!(!is_mmi(b"mmiservice"));
        assert!(!is_mmi(b"echo"));
    }
}
