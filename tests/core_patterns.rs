//! Every socket pattern of libzmq over real inproc, ipc and tcp://127.0.0.1 endpoints, multipart
//! round trips with each typed value, CURVE handshakes, and drop/leak behaviour.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use zmsg::{Events, SocketType, ZContext, ZFrame, ZMsg, ZSocket};

const WAIT: Duration = Duration::from_secs(10);

/// The three transports, each with a fresh endpoint for `name`.
fn endpoints(name: &str) -> Vec<String> {
    let dir = std::env::temp_dir();
    vec![
        format!("inproc://core-{name}"),
        format!(
            "ipc://{}/zmsg-core-{name}-{}.ipc",
            dir.display(),
            std::process::id()
        ),
        "tcp://127.0.0.1:*".to_string(),
    ]
}

/// Binds `server` to `endpoint` and returns the resolved address to connect to.
fn bind(server: &ZSocket, endpoint: &str) -> String {
    server.bind(endpoint).expect("bind").to_string()
}

/// Receives with a bound so a broken pattern fails instead of hanging.
fn recv_within(socket: &ZSocket) -> ZMsg {
    assert!(
        !socket.poll(Events::POLLIN, Some(WAIT)).unwrap().is_empty(),
        "nothing arrived within {WAIT:?}"
    );
    socket.recv_msg().unwrap()
}

fn text(msg: &ZMsg) -> Vec<String> {
    msg.iter()
        .map(|f| f.to_str().unwrap().to_string())
        .collect()
}

#[test]
fn req_rep_on_every_transport() {
    for endpoint in endpoints("reqrep") {
        let rep = ZSocket::new(SocketType::Rep).unwrap();
        let address = bind(&rep, &endpoint);
        let req = ZSocket::new(SocketType::Req).unwrap();
        req.connect(&address).unwrap();
        for i in 0..3u32 {
            req.send_multipart(["hello".to_string(), i.to_string()])
                .unwrap();
            let msg = recv_within(&rep);
            assert_eq!(text(&msg), ["hello", &i.to_string()]);
            rep.send_str("world").unwrap();
            assert_eq!(text(&recv_within(&req)), ["world"], "{endpoint}");
        }
    }
}

#[test]
fn pub_sub_filters_by_topic() {
    for endpoint in endpoints("pubsub") {
        let publisher = ZSocket::new(SocketType::Pub).unwrap();
        let address = bind(&publisher, &endpoint);
        let subscriber = ZSocket::new_sub(&address, "weather").unwrap();
        // Subscriptions travel asynchronously: publish until the first message arrives.
        let mut got = None;
        for _ in 0..1000 {
            publisher.send_str("sports 1").unwrap();
            publisher.send_str("weather 2").unwrap();
            if !subscriber
                .poll(Events::POLLIN, Some(Duration::from_millis(10)))
                .unwrap()
                .is_empty()
            {
                got = Some(subscriber.recv_string().unwrap());
                break;
            }
        }
        assert_eq!(got.as_deref(), Some("weather 2"), "{endpoint}");
        // Everything still queued matches the topic.
        while let Ok(frame) = subscriber.recv_frame_dontwait() {
            assert!(frame.to_str().unwrap().starts_with("weather"));
        }
    }
}

#[test]
fn xpub_xsub_see_subscriptions() {
    let xpub = ZSocket::new(SocketType::XPub).unwrap();
    let address = bind(&xpub, "tcp://127.0.0.1:*");
    let xsub = ZSocket::new(SocketType::XSub).unwrap();
    xsub.connect(&address).unwrap();
    xsub.send(&b"\x01topic"[..]).unwrap();
    let subscription = recv_within(&xpub);
    assert_eq!(subscription[0].data(), b"\x01topic");
    xpub.send_str("topic data").unwrap();
    assert_eq!(text(&recv_within(&xsub)), ["topic data"]);
}

#[test]
fn push_pull_pipeline_load_balances() {
    for endpoint in endpoints("pipeline") {
        let sink = ZSocket::new(SocketType::Pull).unwrap();
        let address = bind(&sink, &endpoint);
        let pushers: Vec<_> = (0..3)
            .map(|_| {
                let push = ZSocket::new(SocketType::Push).unwrap();
                push.connect(&address).unwrap();
                push
            })
            .collect();
        for (i, push) in pushers.iter().enumerate() {
            for _ in 0..2 {
                push.send(vec![i as u8]).unwrap();
            }
        }
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(recv_within(&sink)[0].data()[0]);
        }
        seen.sort();
        assert_eq!(seen, [0, 0, 1, 1, 2, 2], "{endpoint}");
    }
}

#[test]
fn router_dealer_addressing() {
    for endpoint in endpoints("routerdealer") {
        let router = ZSocket::new(SocketType::Router).unwrap();
        let address = bind(&router, &endpoint);
        let dealer = ZSocket::new(SocketType::Dealer).unwrap();
        dealer.set_routing_id(b"dealer-A").unwrap();
        dealer.connect(&address).unwrap();
        dealer.send_multipart(["", "request"]).unwrap();
        let mut msg = recv_within(&router);
        let identity = msg.pop_envelope().unwrap();
        assert_eq!(identity.data(), b"dealer-A");
        assert_eq!(msg.pop_str().unwrap(), "request");
        let mut reply = ZMsg::new();
        reply.append("reply");
        reply.push_envelope(identity);
        router.send_msg(reply).unwrap();
        assert_eq!(text(&recv_within(&dealer)), ["", "reply"], "{endpoint}");
    }
}

#[test]
fn pair_and_stream() {
    let a = ZSocket::new(SocketType::Pair).unwrap();
    let address = bind(&a, "ipc:///tmp/zmsg-core-pair.ipc");
    let b = ZSocket::new(SocketType::Pair).unwrap();
    b.connect(&address).unwrap();
    b.send_str("to a").unwrap();
    assert_eq!(text(&recv_within(&a)), ["to a"]);

    // A STREAM socket talks raw TCP: connect a std TcpStream and exchange bytes.
    let stream = ZSocket::new(SocketType::Stream).unwrap();
    let bound = stream.bind("tcp://127.0.0.1:*").unwrap();
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", bound.port().unwrap())).unwrap();
    use std::io::{Read, Write};
    let connect_notice = recv_within(&stream); // [id, ""] on connect
    let id = connect_notice[0].clone();
    tcp.write_all(b"raw bytes").unwrap();
    let data = recv_within(&stream);
    assert_eq!(data[0], id);
    assert_eq!(data[1].data(), b"raw bytes");
    stream.send_multipart([id, ZFrame::from("pong")]).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut buffer = [0u8; 4];
    tcp.read_exact(&mut buffer).unwrap();
    assert_eq!(&buffer, b"pong");
}

zmsg::frame_enum! {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Weather: i32 { Sunny = 1, Rainy = -7 }
}

#[test]
fn typed_multipart_round_trip_over_tcp() {
    let pull = ZSocket::new(SocketType::Pull).unwrap();
    let address = bind(&pull, "tcp://127.0.0.1:*");
    let push = ZSocket::new(SocketType::Push).unwrap();
    push.connect(&address).unwrap();

    let mut msg = ZMsg::new();
    msg.append(u8::MAX);
    msg.append(i8::MIN);
    msg.append(u16::MAX);
    msg.append(i16::MIN);
    msg.append(u32::MAX);
    msg.append(i32::MIN);
    msg.append(u64::MAX);
    msg.append(i64::MIN);
    msg.append(u128::MAX);
    msg.append(f32::MIN_POSITIVE);
    msg.append(std::f64::consts::PI);
    msg.append(true);
    msg.append('ß');
    msg.append(Weather::Rainy);
    msg.append("text");
    msg.append(String::from("owned"));
    msg.append(vec![0u8, 1, 2, 255]);
    msg.append(bytes::Bytes::from_static(b"bytes"));
    msg.append(ZFrame::new());
    push.send_msg(msg).unwrap();

    let mut got = recv_within(&pull);
    assert_eq!(got.len(), 19);
    assert_eq!(got.pop::<u8>().unwrap(), u8::MAX);
    assert_eq!(got.pop::<i8>().unwrap(), i8::MIN);
    assert_eq!(got.pop::<u16>().unwrap(), u16::MAX);
    assert_eq!(got.pop::<i16>().unwrap(), i16::MIN);
    assert_eq!(got.pop::<u32>().unwrap(), u32::MAX);
    assert_eq!(got.pop::<i32>().unwrap(), i32::MIN);
    assert_eq!(got.pop::<u64>().unwrap(), u64::MAX);
    assert_eq!(got.pop::<i64>().unwrap(), i64::MIN);
    assert_eq!(got.pop::<u128>().unwrap(), u128::MAX);
    assert_eq!(got.pop::<f32>().unwrap(), f32::MIN_POSITIVE);
    assert_eq!(got.pop::<f64>().unwrap(), std::f64::consts::PI);
    assert!(got.pop::<bool>().unwrap());
    assert_eq!(got.pop::<char>().unwrap(), 'ß');
    // A wrong type is a typed error and loses nothing.
    assert!(matches!(
        got.pop::<u8>(),
        Err(zmsg::Error::FrameType {
            expected: "u8",
            len: 4
        })
    ));
    assert_eq!(got.pop::<Weather>().unwrap(), Weather::Rainy);
    assert_eq!(got.pop_str().unwrap(), "text");
    assert_eq!(got.pop_str().unwrap(), "owned");
    assert_eq!(got.pop_bytes().unwrap(), vec![0, 1, 2, 255]);
    assert_eq!(got.pop::<bytes::Bytes>().unwrap(), &b"bytes"[..]);
    assert!(got.pop_frame().unwrap().is_empty());
    assert!(matches!(got.pop::<u8>(), Err(zmsg::Error::EmptyMessage)));
}

#[test]
fn large_frames_survive_transport_intact() {
    let pull = ZSocket::new(SocketType::Pull).unwrap();
    let address = bind(&pull, "tcp://127.0.0.1:*");
    let push = ZSocket::new(SocketType::Push).unwrap();
    push.connect(&address).unwrap();
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    push.send(payload.clone()).unwrap();
    assert_eq!(recv_within(&pull)[0].data(), &payload[..]);
}

/// A fresh CURVE keypair as Z85 text.
fn keypair() -> (String, String) {
    zmsg::z85::curve_keypair().unwrap()
}

/// A CURVE server socket of `kind` bound to an ephemeral TCP port: (socket, address, public key).
fn curve_server(kind: SocketType) -> (ZSocket, String, String) {
    let (public, secret) = keypair();
    let server = ZSocket::new(kind).unwrap();
    server.set_curve_server(true).unwrap();
    server.set_curve_secretkey(secret.as_bytes()).unwrap();
    let address = bind(&server, "tcp://127.0.0.1:*");
    (server, address, public)
}

/// A CURVE client socket of `kind` with a fresh keypair, trusting `server_public`.
fn curve_client(kind: SocketType, server_public: &str) -> ZSocket {
    let (public, secret) = keypair();
    let client = ZSocket::new(kind).unwrap();
    client
        .set_curve_serverkey(server_public.as_bytes())
        .unwrap();
    client.set_curve_publickey(public.as_bytes()).unwrap();
    client.set_curve_secretkey(secret.as_bytes()).unwrap();
    client
}

#[test]
fn curve_handshake_encrypts_typed_multipart() {
    assert!(zmsg::has("curve"));
    let (server, address, server_public) = curve_server(SocketType::Rep);
    let client = curve_client(SocketType::Req, &server_public);
    client.connect(&address).unwrap();

    let mut request = ZMsg::new();
    request.append("sum");
    request.append(40u64);
    request.append(2u64);
    client.send_msg(request).unwrap();

    let mut got = recv_within(&server);
    assert_eq!(server.mechanism().unwrap(), zmsg::Mechanism::Curve);
    assert_eq!(got.pop_str().unwrap(), "sum");
    let sum = got.pop::<u64>().unwrap() + got.pop::<u64>().unwrap();
    let mut reply = ZMsg::new();
    reply.append(sum);
    server.send_msg(reply).unwrap();
    assert_eq!(recv_within(&client).pop::<u64>().unwrap(), 42);
}

#[test]
fn curve_with_wrong_server_key_gets_nothing_through() {
    let (server, address, _) = curve_server(SocketType::Pull);
    let (wrong_public, _) = keypair();
    let monitor_endpoint = "inproc://core-curve-wrong-monitor";
    server
        .monitor_raw(Some(monitor_endpoint), zmsg::sys::ZMQ_EVENT_ALL)
        .unwrap();
    let monitor = ZSocket::new_pair(&format!(">{monitor_endpoint}")).unwrap();

    let client = curve_client(SocketType::Push, &wrong_public);
    client.set_linger(Some(Duration::ZERO)).unwrap();
    client.connect(&address).unwrap();
    client.send_str("secret").unwrap(); // queued; the handshake can never complete

    // Wait for the server to see the failed handshake (a real event, not a sleep).
    let mut failed = false;
    while !failed {
        let event = recv_within(&monitor);
        let code = u16::from_ne_bytes([event[0].data()[0], event[0].data()[1]]) as i32;
        assert_ne!(code, zmsg::sys::ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
        failed = code
            & (zmsg::sys::ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                | zmsg::sys::ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                | zmsg::sys::ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            != 0;
    }
    assert!(
        server.recv_frame_dontwait().unwrap_err().is_again(),
        "nothing may reach the application"
    );
    // Stop the monitor before its reader closes: libzmq sends events with a blocking send, so an
    // event for a closed PAIR would stall the context's I/O thread (and every later test on it).
    server.monitor_raw(None, 0).unwrap();
}

/// A buffer owner that counts its releases: libzmq frees a zero-copy buffer only when the last
/// `zmq_msg_t` that refers to it is closed.
struct Counted(Vec<u8>, Arc<AtomicUsize>);
impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_message_is_closed_after_transport() {
    let released = Arc::new(AtomicUsize::new(0));
    let count = 200;
    {
        let ctx = ZContext::new().unwrap();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("inproc://core-leak").unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect("inproc://core-leak").unwrap();
        for i in 0..count {
            let data = Counted(vec![i as u8; 1024], released.clone());
            let mut msg = ZMsg::new();
            msg.append(ZFrame::from(bytes::Bytes::from_owner(data)));
            msg.append(ZFrame::from(vec![0u8; 100]).clone());
            push.send_msg(msg).unwrap();
        }
        for _ in 0..count {
            let msg = recv_within(&pull);
            let copy = msg.clone();
            drop(msg);
            drop(copy);
        }
    }
    assert_eq!(
        released.load(Ordering::SeqCst),
        count,
        "every zero-copy buffer is released exactly once when its frames close"
    );
}

#[test]
fn context_terminates_once_all_sockets_are_closed() {
    let ctx = ZContext::new().unwrap();
    let sockets: Vec<_> = [SocketType::Router, SocketType::Dealer, SocketType::Pub]
        .into_iter()
        .map(|kind| ctx.socket(kind).unwrap())
        .collect();
    sockets[0].bind("tcp://127.0.0.1:*").unwrap();
    // Pending outbound data with an unreachable peer: linger must bound the shutdown.
    sockets[1].connect("tcp://127.0.0.1:9").unwrap();
    sockets[1]
        .set_linger(Some(Duration::from_millis(100)))
        .unwrap();
    sockets[1].send_str("never delivered").unwrap();
    drop(sockets);
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(ctx); // zmq_ctx_term: returns only when every socket is closed and has lingered
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(WAIT)
        .expect("context termination hung: a socket was left open");
}

#[test]
fn sockets_move_between_threads() {
    let pull = ZSocket::new_pull("@inproc://core-move").unwrap();
    let handle = std::thread::spawn(move || {
        let push = ZSocket::new_push(">inproc://core-move").unwrap();
        push.send_str("from thread").unwrap();
        push
    });
    let push = handle.join().unwrap();
    assert_eq!(text(&recv_within(&pull)), ["from thread"]);
    push.send_str("after move").unwrap();
    assert_eq!(text(&recv_within(&pull)), ["after move"]);
}
