//! A broker with a ZAP domain fails closed: once its ZAP handler is gone, new connections are
//! refused rather than let in. (Its own test binary: a context has one ZAP handler, and the
//! broker's sockets live in the process-wide context.)

use std::time::Duration;

use mdp::{Broker, BrokerConfig};
use zmsg::{
    MonitorEventKind, MonitorEvents, SocketType, ZAuth, ZCert, ZCertStore, ZMonitor, ZSocket,
};

const WAIT: Duration = Duration::from_secs(10);

/// Connects a CURVE DEALER with `cert` to the broker and returns the first handshake outcome
/// its monitor reports: success, failure, or the connection dropped by the broker.
fn handshake(endpoint: &str, server_key: &str, cert: &ZCert) -> MonitorEventKind {
    let socket = ZSocket::new(SocketType::Dealer).unwrap();
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    cert.apply(&socket).unwrap();
    socket.set_curve_serverkey(server_key.as_bytes()).unwrap();
    let monitor = ZMonitor::new(
        &socket,
        MonitorEvents::HANDSHAKE_SUCCEEDED
            | MonitorEvents::HANDSHAKE_FAILED_NO_DETAIL
            | MonitorEvents::HANDSHAKE_FAILED_PROTOCOL
            | MonitorEvents::HANDSHAKE_FAILED_AUTH
            | MonitorEvents::DISCONNECTED,
    )
    .unwrap();
    socket.connect(endpoint).unwrap();
    monitor
        .recv_event(Some(WAIT))
        .unwrap()
        .expect("a handshake outcome within the time limit")
        .kind
}

#[test]
fn a_broker_refuses_connections_once_its_zap_handler_is_gone() {
    let known = ZCert::new().unwrap();
    let store = ZCertStore::in_memory();
    store.insert(known.clone());
    let auth = ZAuth::new().unwrap();
    auth.configure_curve_store(ZAuth::ANY_DOMAIN, store)
        .unwrap();

    let mut config = BrokerConfig::new(["tcp://127.0.0.1:*"]);
    config.stats_interval = None;
    config.curve = Some(ZCert::new().unwrap());
    config.zap_domain = Some("global".into());
    let broker = Broker::spawn(config).unwrap();
    let endpoint = broker.endpoints()[0].clone();
    let server_key = broker.public_key().unwrap().to_owned();

    // With the handler: a known key is in, a stranger is out.
    assert_eq!(
        handshake(&endpoint, &server_key, &known),
        MonitorEventKind::HandshakeSucceeded
    );
    assert_ne!(
        handshake(&endpoint, &server_key, &ZCert::new().unwrap()),
        MonitorEventKind::HandshakeSucceeded
    );

    // The handler stops: libzmq's default would now let every key in; the broker refuses all.
    drop(auth);
    for cert in [ZCert::new().unwrap(), known] {
        assert_ne!(
            handshake(&endpoint, &server_key, &cert),
            MonitorEventKind::HandshakeSucceeded
        );
    }
    broker.stop().unwrap();
}
