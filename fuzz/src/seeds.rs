//! The seed corpus: a few small inputs per target, written as values of the input language so
//! they can be read here (`FUZZ_WRITE_SEEDS=1 cargo test` writes them to `corpus/TARGET/NAME`).

use zmsg::{z85, ZCert};

use crate::{broker_input, frames_input, Answer, Frame, HookChoice, Mdp, Op, Setup};

/// The seeds: `(target, file name, bytes)`.
pub fn all() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (name, setup, ops) in broker() {
        seeds.push(("broker_core", name, broker_input(&setup, &ops)));
    }
    for (name, frames) in worker() {
        seeds.push(("worker_codec", name, frames_input(&frames)));
    }
    for (name, frames) in client() {
        seeds.push(("client_codec", name, frames_input(&frames)));
    }
    let cert = cert();
    let key = cert.public_txt();
    seeds.push(("z85", "rfc32_vector", b"HelloWorld".to_vec()));
    seeds.push(("z85", "public_key", key.into_bytes()));
    seeds.push(("z85", "max_group", b"%nSc0".to_vec()));
    seeds.push(("z85", "overflow", b"#####".to_vec()));
    seeds.push((
        "zpl",
        "public_cert",
        cert.to_zpl(false).expect("valid metadata").into_bytes(),
    ));
    seeds.push((
        "zpl",
        "secret_cert",
        cert.to_zpl(true).expect("valid metadata").into_bytes(),
    ));
    let pyzmq = format!(
        "#   ****  Generated on 2024-01-01 00:00:00.000000 by pyzmq  ****\n\n\
         metadata\n    name = bob\n    team = core   # a comment\n    empty\n\
         curve\n    public-key = \"{}\"\n    secret-key = '{}'\n",
        cert.public_txt(),
        cert.secret_txt()
    );
    seeds.push(("zpl", "pyzmq_style", pyzmq.into_bytes()));
    seeds
}

/// The `broker_core` seeds: `(name, setup, operations)`.
pub fn broker_seeds() -> Vec<BrokerSeed> {
    broker()
}

/// The codec seeds of both codec targets: `(name, frames)`.
pub fn frame_seeds() -> Vec<(&'static str, Vec<Frame>)> {
    worker().into_iter().chain(client()).collect()
}

/// A fixed certificate (its public key derived from a fixed secret key), with metadata.
fn cert() -> ZCert {
    let secret = [7u8; 32];
    let public = z85::curve_public(secret).expect("a 32-byte secret key");
    let public = z85::decode_key(&public).expect("libzmq gives Z85");
    let mut cert = ZCert::from_keys(public, secret);
    cert.set_meta("name", "fuzz seed");
    cert.set_meta("quote", "say \"hi\"");
    cert
}

fn setup() -> Setup {
    Setup {
        heartbeat: 9,              // 1 s
        liveness: 2,               // 3
        timers: [100, 50, 50, 50], // expiry 10 s, timeout 5 s, grace 5 s, backlog 5 s
        counts: [3, 4, 4, 3, 4, 2, 1],
        bytes: [4000, 3000, 1500, 6000],
        hooks: None,
    }
}

fn text(s: &str) -> Frame {
    Frame::Bytes(s.as_bytes().to_vec())
}

fn mdp(peer: u8, msg: Mdp) -> Op {
    Op::Mdp { peer, msg }
}

fn request(peer: u8, v2: bool, service: u8, body: Vec<Frame>) -> Op {
    mdp(peer, Mdp::Request { v2, service, body })
}

fn ready(peer: u8, v2: bool, service: u8, credit: u8) -> Op {
    mdp(
        peer,
        Mdp::Ready {
            v2,
            service,
            credit,
        },
    )
}

fn reply(peer: u8, v2: bool, partial: bool, client: u8, body: Vec<Frame>) -> Op {
    mdp(
        peer,
        Mdp::Reply {
            v2,
            partial,
            client,
            body,
        },
    )
}

fn advance(ms: u16) -> Op {
    Op::Advance { ms, late: false }
}

/// A `broker_core` seed.
pub type BrokerSeed = (&'static str, Setup, Vec<Op>);

fn broker() -> Vec<BrokerSeed> {
    // Service numbers: 0 echo, 1 e, 2 svc, 3 mmi.service ... 8 mmi.x.
    vec![
        (
            "v1_request_reply",
            setup(),
            vec![
                ready(1, false, 0, 1),
                request(0, false, 0, vec![text("hello")]),
                reply(1, false, false, 0, vec![text("hi")]),
                mdp(1, Mdp::Heartbeat { v2: false }),
                advance(2500),
                mdp(1, Mdp::Disconnect { v2: false }),
            ],
        ),
        (
            "v2_partials_backlog",
            setup(),
            vec![
                ready(2, true, 2, 2),
                request(3, true, 2, vec![text("a")]),
                request(4, false, 2, vec![text("b")]),
                Op::Link {
                    peer: 3,
                    answer: Answer::Full,
                },
                reply(2, true, true, 3, vec![text("p")]),
                reply(2, true, false, 3, vec![text("f")]),
                reply(2, true, true, 4, vec![text("p")]),
                reply(2, true, false, 4, vec![text("f")]),
                Op::Flush,
                Op::Link {
                    peer: 3,
                    answer: Answer::Yes,
                },
                advance(10),
            ],
        ),
        (
            "mmi",
            setup(),
            vec![
                ready(1, true, 0, 1),
                request(0, false, 3, vec![Frame::Service(0)]),
                request(0, true, 4, vec![Frame::Empty]),
                request(0, false, 5, vec![Frame::Empty]),
                request(0, true, 6, vec![Frame::Service(0)]),
                request(0, false, 7, vec![Frame::Empty]),
                request(0, true, 8, vec![text("x")]),
            ],
        ),
        (
            "limits",
            setup(),
            vec![
                request(0, false, 0, vec![Frame::Big(2000)]),
                request(0, false, 0, vec![Frame::Big(1000)]),
                request(0, false, 0, vec![Frame::Big(1000)]),
                request(0, false, 0, vec![Frame::Big(1000)]),
                request(1, true, 0, vec![Frame::Big(1000)]),
                request(1, true, 1, vec![Frame::Big(1000)]),
                request(2, true, 2, vec![Frame::Big(1000)]),
                request(3, true, 9, vec![Frame::Big(1000)]),
                request(4, true, 10, vec![Frame::Big(1000)]),
                request(5, true, 11, vec![text("x")]),
                ready(6, false, 0, 4),
                ready(7, false, 1, 4),
                ready(5, false, 2, 4),
                ready(4, false, 10, 4),
            ],
        ),
        (
            "expiry_and_resend",
            setup(),
            vec![
                ready(1, false, 0, 1),
                request(0, false, 0, vec![text("slow")]),
                ready(2, true, 0, 1),
                advance(1000),
                mdp(1, Mdp::Heartbeat { v2: false }),
                mdp(2, Mdp::Heartbeat { v2: true }),
                advance(1000),
                mdp(1, Mdp::Heartbeat { v2: false }),
                mdp(2, Mdp::Heartbeat { v2: true }),
                Op::Advance {
                    ms: 6000,
                    late: true,
                },
                request(3, true, 1, vec![text("nobody")]),
                advance(60000),
            ],
        ),
        (
            "raw_frames",
            setup(),
            vec![
                Op::Send {
                    peer: 0,
                    frames: vec![Frame::Empty, Frame::Mdpc01, Frame::Service(0), text("x")],
                },
                Op::Send {
                    peer: 1,
                    frames: vec![
                        Frame::Mdpw02,
                        Frame::Command(1),
                        Frame::Service(0),
                        Frame::Option(1),
                        Frame::Option(9),
                    ],
                },
                Op::Send {
                    peer: 1,
                    frames: vec![
                        Frame::Mdpw02,
                        Frame::Command(4),
                        Frame::Peer(0),
                        Frame::Empty,
                        text("y"),
                    ],
                },
                Op::Send {
                    peer: 2,
                    frames: vec![Frame::Mdpc02, Frame::Command(2), Frame::Service(0)],
                },
                Op::Send {
                    peer: 3,
                    frames: vec![Frame::Bytes(vec![0, 0xff, 7])],
                },
                Op::Send {
                    peer: 4,
                    frames: vec![],
                },
            ],
        ),
        (
            "hooks",
            Setup {
                hooks: Some(vec![
                    HookChoice::Forward,
                    HookChoice::Drop,
                    HookChoice::Answer(vec![text("pong")]),
                    HookChoice::ToService(2),
                    HookChoice::ToPeer(1),
                    HookChoice::ToPeer(5),
                ]),
                ..setup()
            },
            vec![
                ready(1, true, 0, 2),
                ready(2, false, 2, 1),
                request(0, true, 0, vec![text("a")]),
                request(0, true, 0, vec![text("b")]),
                request(3, false, 0, vec![text("c")]),
                request(4, true, 0, vec![text("d")]),
                request(4, true, 0, vec![text("e")]),
                request(4, true, 0, vec![text("f")]),
                reply(1, true, true, 4, vec![text("p")]),
                reply(1, true, false, 4, vec![text("f")]),
                reply(2, false, false, 4, vec![text("g")]),
                reply(1, true, false, 0, vec![text("h")]),
            ],
        ),
        (
            // The reproducer of the first finding (docs/fuzzing.md): a client that does not
            // read, with max_client_backlog 1, and a worker that streams partials.
            "partials_over_full_backlog",
            Setup {
                counts: [3, 0, 4, 3, 4, 2, 1],
                ..setup()
            },
            vec![
                ready(2, true, 2, 1),
                request(3, true, 2, vec![text("a")]),
                Op::Link {
                    peer: 3,
                    answer: Answer::Full,
                },
                reply(2, true, true, 3, vec![text("p1")]),
                reply(2, true, true, 3, vec![text("p2")]),
                reply(2, true, false, 3, vec![text("f")]),
                Op::Link {
                    peer: 3,
                    answer: Answer::Yes,
                },
                advance(10),
            ],
        ),
        (
            "unreachable_peers",
            setup(),
            vec![
                ready(1, false, 0, 1),
                Op::Link {
                    peer: 1,
                    answer: Answer::Gone,
                },
                ready(2, false, 0, 1),
                request(0, false, 0, vec![text("x")]),
                Op::Link {
                    peer: 0,
                    answer: Answer::Gone,
                },
                reply(2, false, false, 0, vec![text("lost")]),
                advance(1500),
            ],
        ),
    ]
}

fn worker() -> Vec<(&'static str, Vec<Frame>)> {
    use Frame::*;
    vec![
        ("ready_v1", vec![Empty, Mdpw01, Command(1), Service(0)]),
        (
            "ready_v2_options",
            vec![Mdpw02, Command(1), Service(0), Option(1), Option(9)],
        ),
        (
            "request_v1",
            vec![Empty, Mdpw01, Command(2), Peer(0), Empty, text("x"), Empty],
        ),
        (
            "reply_v1",
            vec![Empty, Mdpw01, Command(3), Peer(0), Empty, text("x")],
        ),
        (
            "partial_v2",
            vec![Mdpw02, Command(3), Peer(1), Empty, text("p")],
        ),
        (
            "final_v2",
            vec![Mdpw02, Command(4), Peer(1), Empty, Big(100)],
        ),
        ("heartbeat_v1", vec![Empty, Mdpw01, Command(4)]),
        ("disconnect_v2", vec![Mdpw02, Command(6)]),
    ]
}

fn client() -> Vec<(&'static str, Vec<Frame>)> {
    use Frame::*;
    vec![
        ("request_v1", vec![Empty, Mdpc01, Service(0), text("x")]),
        (
            "request_v2",
            vec![Mdpc02, Command(1), Service(3), Service(0)],
        ),
        (
            "reply_v1",
            vec![Empty, Mdpc01, Service(0), text("x"), Empty],
        ),
        (
            "partial_v2",
            vec![Mdpc02, Command(2), Service(0), text("p")],
        ),
        ("final_v2", vec![Mdpc02, Command(3), Service(0)]),
        (
            "refusal_v2",
            vec![
                Mdpc02,
                Command(3),
                Service(9),
                Bytes(b"503".to_vec()),
                Service(0),
                text("x"),
            ],
        ),
    ]
}
