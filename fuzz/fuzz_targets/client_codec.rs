//! `ClientMessage::decode_request` (the broker, on what clients send) and
//! `ClientMessage::decode_reply` (the clients, on what the broker sends) on arbitrary frames:
//! neither panics, and a decoded message encodes, in its version, to exactly the input frames,
//! which decode again to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdp::protocol::{ClientMessage, DecodeError, Version};
use zmsg::ZMsg;
use zmsg_fuzz::{read_frames, to_msg};

fn frames(msg: &ZMsg) -> Vec<Vec<u8>> {
    msg.iter().map(|frame| frame.to_vec()).collect()
}

type Decode = fn(ZMsg) -> Result<(Version, ClientMessage), DecodeError>;

fn round_trip(input: ZMsg, decode: Decode) {
    let original = frames(&input);
    let Ok((version, message)) = decode(input) else {
        return;
    };
    let wire = message.encode(version);
    assert_eq!(frames(&wire), original, "did not encode to its input");
    let (again_version, again) = decode(wire).expect("an encoded message decodes");
    assert_eq!(again_version, version);
    assert_eq!(frames(&again.encode(version)), original);
}

fuzz_target!(|data: &[u8]| {
    let frames = read_frames(data);
    round_trip(to_msg(&frames), ClientMessage::decode_request);
    round_trip(to_msg(&frames), ClientMessage::decode_reply);
});
