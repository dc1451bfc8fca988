//! `WorkerMessage::decode` (what a worker and the broker run on every worker-protocol message)
//! on arbitrary frames: it never panics, and a decoded message encodes, in its version, to
//! frames that decode to the same message. Those frames are the input itself, except for a
//! READY, whose options other than `credit` are dropped (and `credit=1` is implied).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdp::protocol::WorkerMessage;
use zmsg::ZMsg;
use zmsg_fuzz::{read_frames, to_msg};

fn frames(msg: &ZMsg) -> Vec<Vec<u8>> {
    msg.iter().map(|frame| frame.to_vec()).collect()
}

fuzz_target!(|data: &[u8]| {
    let input = to_msg(&read_frames(data));
    let original = frames(&input);
    let Ok((version, message)) = WorkerMessage::decode(input) else {
        return;
    };
    let name = message.name();
    let is_ready = matches!(message, WorkerMessage::Ready { .. });
    let wire = message.encode(version);
    let encoded = frames(&wire);
    if !is_ready {
        assert_eq!(encoded, original, "{name} did not encode to its input");
    }
    let (again_version, again) = WorkerMessage::decode(wire).expect("an encoded message decodes");
    assert_eq!(again_version, version);
    assert_eq!(again.name(), name);
    assert_eq!(frames(&again.encode(version)), encoded, "{name}");
});
