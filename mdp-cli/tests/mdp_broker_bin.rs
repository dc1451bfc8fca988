//! The `mdp-broker` program: prints its endpoints and key, answers MMI, exits 0 on SIGTERM.

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use zmsg::{Events, SocketType, ZCert, ZSocket};

/// Starts `mdp-broker` with CURVE and `extra` arguments; returns it, its stdout lines, its endpoint
/// and its public key.
fn start(
    cert_dir: &Path,
    extra: &[&str],
) -> (Child, Lines<BufReader<ChildStdout>>, String, String) {
    let mut child = target_command(env!("CARGO_BIN_EXE_mdp-broker"))
        .args(["--bind", "tcp://127.0.0.1:*", "--curve", "--cert-dir"])
        .arg(cert_dir)
        .args(extra)
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
    (child, lines, endpoint, key)
}

/// A CURVE DEALER with `cert`, for a broker whose public key is `key`.
fn curve_client(endpoint: &str, key: &str, cert: &ZCert) -> ZSocket {
    let client = ZSocket::new(SocketType::Dealer).unwrap();
    client.set_linger(Some(Duration::ZERO)).unwrap();
    cert.apply(&client).unwrap();
    client.set_curve_serverkey(key.as_bytes()).unwrap();
    client.connect(endpoint).unwrap();
    client
}

/// Sends `mmi.service echo` and returns the reply frames, if one comes within `timeout`.
fn ask_mmi(client: &ZSocket, timeout: Duration) -> Option<Vec<Vec<u8>>> {
    client
        .send_multipart(["", "MDPC01", "mmi.service", "echo"])
        .unwrap();
    if !client
        .poll(Events::POLLIN, Some(timeout))
        .unwrap()
        .contains(Events::POLLIN)
    {
        return None;
    }
    Some(
        client
            .recv_msg()
            .unwrap()
            .iter()
            .map(|f| f.to_vec())
            .collect(),
    )
}

fn stop(mut child: Child) {
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
}

/// A `Command` for a binary of this package; under an emulator (`scripts/cross-runner` exports
/// `ZMSG_TEST_RUNNER`, e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`) it is started through it.
fn target_command(program: &str) -> Command {
    let runner = std::env::var("ZMSG_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut command = Command::new(emulator);
            command.args(words).arg(program);
            command
        }
        None => Command::new(program),
    }
}

#[test]
fn mdp_broker_serves_mmi_and_exits_cleanly_on_sigterm() {
    let certs = std::env::temp_dir().join(format!("mdp-broker-bin-{}", std::process::id()));
    let args = [
        "--heartbeat-ms",
        "500",
        "--liveness",
        "4",
        "--request-expiry-ms",
        "1000",
    ];
    let (child, lines, endpoint, key) = start(&certs, &args);
    let saved = std::fs::read_to_string(certs.join("broker")).unwrap();
    assert!(saved.contains(&key), "{saved}");

    let client = curve_client(&endpoint, &key, &ZCert::new().unwrap());
    let reply = ask_mmi(&client, Duration::from_secs(10)).expect("the broker answers");
    assert_eq!(reply, [&b""[..], b"MDPC01", b"mmi.service", b"404"]);

    stop(child);
    let last = lines.map(Result::unwrap).last().unwrap_or_default();
    assert!(
        last.starts_with("mdp-broker: stopped (") && last.contains("mmi=1"),
        "{last}"
    );

    // A second start loads the saved certificate: same key.
    let (child, _, _, again) = start(&certs, &[]);
    assert_eq!(again, key);
    stop(child);
    let _ = std::fs::remove_dir_all(&certs);
}

#[test]
fn zap_certs_admits_only_known_clients() {
    let dir = std::env::temp_dir().join(format!("mdp-broker-zap-{}", std::process::id()));
    let clients = dir.join("clients");
    std::fs::create_dir_all(&clients).unwrap();
    let allowed = ZCert::new().unwrap();
    allowed.save_public(clients.join("allowed.key")).unwrap();
    let (child, _lines, endpoint, key) = start(
        &dir.join("certs"),
        &["--zap-certs", clients.to_str().unwrap()],
    );

    let good = curve_client(&endpoint, &key, &allowed);
    let reply = ask_mmi(&good, Duration::from_secs(10)).expect("a known client is served");
    assert_eq!(reply, [&b""[..], b"MDPC01", b"mmi.service", b"404"]);
    let stranger = curve_client(&endpoint, &key, &ZCert::new().unwrap());
    assert_eq!(ask_mmi(&stranger, Duration::from_millis(500)), None);

    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
