//! The `mdp-broker` program: prints its endpoints and key, answers MMI, exits 0 on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zmsg::{Events, SocketType, ZSocket};

#[test]
fn mdp_broker_serves_mmi_and_exits_cleanly_on_sigterm() {
    let certs = std::env::temp_dir().join(format!("mdp-broker-bin-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdp-broker"))
        .args(["--bind", "tcp://127.0.0.1:*", "--heartbeat-ms", "500"])
        .args(["--liveness", "4", "--request-expiry-ms", "1000", "--curve"])
        .arg("--cert-dir")
        .arg(&certs)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mdp-broker starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let endpoint = first
        .strip_prefix("mdp-broker: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let second = lines.next().unwrap().unwrap();
    let key = second
        .strip_prefix("mdp-broker: public key ")
        .unwrap_or_else(|| panic!("unexpected second line {second:?}"))
        .to_owned();
    assert_eq!(key.len(), 40);
    let saved = std::fs::read_to_string(certs.join("broker")).unwrap();
    assert!(saved.contains(&key), "{saved}");

    let client = ZSocket::new(SocketType::Dealer).unwrap();
    client.set_linger(0).unwrap();
    zmsg::ZCert::new().unwrap().apply(&client).unwrap();
    client.set_curve_serverkey(key.as_bytes()).unwrap();
    client.connect(&endpoint).unwrap();
    client
        .send_multipart(["", "MDPC01", "mmi.service", "echo"])
        .unwrap();
    assert!(client
        .poll(Events::POLLIN, Some(Duration::from_secs(10)))
        .unwrap()
        .contains(Events::POLLIN));
    let reply = client.recv_msg().unwrap();
    let reply: Vec<&[u8]> = reply.iter().map(|f| f.data()).collect();
    assert_eq!(reply, [&b""[..], b"MDPC01", b"mmi.service", b"404"]);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "mdp-broker did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(exit.success(), "{exit:?}");
    let last = lines.map(Result::unwrap).last().unwrap_or_default();
    assert!(
        last.starts_with("mdp-broker: stopped (") && last.contains("mmi=1"),
        "{last}"
    );
    let _ = std::fs::remove_dir_all(&certs);
}
