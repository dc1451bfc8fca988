//! The `mdp-broker` program: prints its endpoints and key, answers MMI, exits 0 on SIGTERM.

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use zmsg::{Events, SocketType, ZCert, ZSocket};

mod support;
use support::target_command;

/// Starts `mdp-broker` with CURVE and `extra` arguments; returns it, its stdout lines, its endpoint
/// and its public key.
fn start(
    cert_dir: &Path,
    extra: &[&str],
) -> (Child, Lines<BufReader<ChildStdout>>, String, String) {
    start_with_stderr(cert_dir, extra, Stdio::null())
}

/// As [`start`], with the broker's stderr going to `stderr`.
fn start_with_stderr(
    cert_dir: &Path,
    extra: &[&str],
    stderr: Stdio,
) -> (Child, Lines<BufReader<ChildStdout>>, String, String) {
    let mut child = target_command(env!("CARGO_BIN_EXE_mdp-broker"))
        .args(["--bind", "tcp://127.0.0.1:*", "--curve", "--cert-dir"])
        .arg(cert_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr)
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

#[test]
fn mdp_broker_serves_mmi_and_exits_cleanly_on_sigterm() {
    let certs = std::env::temp_dir().join(format!("mdp-broker-bin-{}", std::process::id()));
    let args = [
        "--heartbeat",
        "500ms",
        "--liveness",
        "4",
        "--request-expiry",
        "1s",
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

/// The next message on `socket` within 10 s, as frames.
fn next(socket: &ZSocket) -> Vec<Vec<u8>> {
    assert!(
        socket
            .poll(Events::POLLIN, Some(Duration::from_secs(10)))
            .unwrap()
            .contains(Events::POLLIN),
        "nothing arrived within 10 s"
    );
    socket
        .recv_msg()
        .unwrap()
        .iter()
        .map(|f| f.to_vec())
        .collect()
}

/// Polls `condition` (every 20 ms, at most 20 s) until it holds.
fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// One `key=value` counter of the broker's `mmi.stats`.
fn stat(client: &ZSocket, key: &str) -> u64 {
    client
        .send_multipart(["", "MDPC01", "mmi.stats", ""])
        .unwrap();
    let reply = next(client);
    reply[4..]
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {key} in mmi.stats"))
        .parse()
        .unwrap()
}

#[test]
fn hostile_peers_meet_the_limits_of_a_running_broker() {
    let certs = std::env::temp_dir().join(format!("mdp-broker-hostile-{}", std::process::id()));
    let args = [
        "--max-services",
        "5",
        "--max-message-size",
        "2000",
        "--max-resends",
        "1",
        "--service-grace",
        "0s",
    ];
    let (child, _lines, endpoint, key) = start(&certs, &args);
    let client = curve_client(&endpoint, &key, &ZCert::new().unwrap());

    // Peers that register ever new services: five are kept, the sixth READY gets DISCONNECT.
    let squatters: Vec<ZSocket> = (0..5)
        .map(|n| {
            let squatter = curve_client(&endpoint, &key, &ZCert::new().unwrap());
            let service = format!("svc-{n}");
            squatter
                .send_multipart([&b""[..], b"MDPW01", &[1], service.as_bytes()])
                .unwrap();
            squatter
        })
        .collect();
    assert!(wait_until(|| stat(&client, "services") == 5));
    let newcomer = curve_client(&endpoint, &key, &ZCert::new().unwrap());
    newcomer
        .send_multipart([&b""[..], b"MDPW01", &[1], b"svc-new"])
        .unwrap();
    assert_eq!(next(&newcomer), [&b""[..], b"MDPW01", &[5]]);
    assert_eq!(stat(&client, "over_limit"), 1);
    // Once they leave, their services are forgotten (grace 0: at the broker's next tick), and
    // a new one can register.
    for squatter in &squatters {
        squatter
            .send_multipart([&b""[..], b"MDPW01", &[5]])
            .unwrap();
    }
    assert!(wait_until(|| stat(&client, "services") == 0));
    let newcomer = curve_client(&endpoint, &key, &ZCert::new().unwrap());
    newcomer
        .send_multipart([&b""[..], b"MDPW01", &[1], b"svc-new"])
        .unwrap();
    assert!(wait_until(|| stat(&client, "services") == 1));
    assert_eq!(stat(&client, "over_limit"), 1);

    // A request larger than --max-message-size is refused with 413 (the body comes back).
    let big = vec![7u8; 3000];
    client
        .send_multipart([&b""[..], b"MDPC01", b"svc-new", &big[..1000], &big[1000..]])
        .unwrap();
    let reply = next(&client);
    assert_eq!(reply[2], b"mmi.refused");
    assert_eq!(reply[3], b"413");

    // A poisonous request: every worker that takes it dies. After --max-resends 1 resend the
    // client is told 504 and no worker gets it again.
    client
        .send_multipart([&b""[..], b"MDPC01", b"poison", b"pill"])
        .unwrap();
    for _ in 0..2 {
        let victim = curve_client(&endpoint, &key, &ZCert::new().unwrap());
        victim
            .send_multipart([&b""[..], b"MDPW01", &[1], b"poison"])
            .unwrap();
        let request = next_skipping_heartbeats(&victim);
        assert_eq!(request[2], [2], "a REQUEST");
        victim.send_multipart([&b""[..], b"MDPW01", &[5]]).unwrap();
    }
    let reply = next(&client);
    assert_eq!(reply[2], b"mmi.refused");
    assert_eq!(reply[3], b"504");
    assert_eq!(stat(&client, "abandoned"), 1);

    stop(child);
    let _ = std::fs::remove_dir_all(&certs);
}

/// Runs `mdp-broker --curve --cert-dir DIR` expecting it to refuse to start; returns stderr.
fn refused_start(cert_dir: &Path) -> String {
    let output = target_command(env!("CARGO_BIN_EXE_mdp-broker"))
        .args(["--bind", "tcp://127.0.0.1:*", "--curve", "--cert-dir"])
        .arg(cert_dir)
        .stdin(Stdio::null())
        .output()
        .expect("mdp-broker runs");
    assert!(!output.status.success(), "mdp-broker started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
#[cfg(unix)]
fn the_broker_refuses_an_open_secret_key_and_never_replaces_its_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("mdp-broker-keys-{}", std::process::id()));
    let (child, _, _, key) = start(&dir, &[]);
    stop(child);
    let secret = dir.join("broker_secret");

    // Readable by others: refused, as ssh refuses such a key.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let why = refused_start(&dir);
    assert!(why.contains("accessible by others"), "{why}");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();

    // The secret file lost: no silent new key (clients carry the old public key).
    std::fs::remove_file(&secret).unwrap();
    let why = refused_start(&dir);
    assert!(why.contains("refusing to make a new broker key"), "{why}");
    let public = std::fs::read_to_string(dir.join("broker")).unwrap();
    assert!(public.contains(&key), "the public certificate is untouched");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Z85 keys may begin with `-` (about one in 85 keys does): the `mdp` tool must take such a key
/// as the value of `--server-key KEY`, not as an unknown flag. (A demo run failed on this once.)
#[test]
fn the_mdp_tool_takes_a_server_key_that_begins_with_a_dash() {
    let certs = std::env::temp_dir().join(format!("mdp-dash-key-{}", std::process::id()));
    std::fs::create_dir_all(&certs).unwrap();
    let cert = std::iter::repeat_with(|| ZCert::new().unwrap())
        .take(100_000)
        .find(|cert| cert.public_txt().starts_with('-'))
        .expect("a key that begins with '-'");
    cert.save(certs.join("broker")).unwrap();
    let (child, _, endpoint, key) = start(&certs, &[]);
    assert!(key.starts_with('-'), "{key}");

    for key_args in [
        vec!["--server-key", &key],
        vec![&format!("--server-key={key}")],
    ] {
        let output = target_command(env!("CARGO_BIN_EXE_mdp"))
            .args(["mmi", "service", "echo", "--broker", &endpoint])
            .args(&key_args)
            .output()
            .unwrap();
        // No worker serves echo: the broker answers 404 and the tool exits 1 (not clap's 2).
        assert_eq!(
            output.status.code(),
            Some(1),
            "{key_args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "404");
    }
    stop(child);
    let _ = std::fs::remove_dir_all(&certs);
}

/// Runs the `mdp` tool and returns its stdout; it must succeed.
fn mdp_tool(args: &[&str]) -> String {
    let output = target_command(env!("CARGO_BIN_EXE_mdp"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "mdp {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A worker command as a DEALER sends it: `["", "MDPW01", command, frames...]`.
fn worker_command(socket: &ZSocket, command: u8, frames: &[&[u8]]) {
    let mut msg: Vec<&[u8]> = vec![b"", b"MDPW01", std::slice::from_ref(&command)];
    msg.extend_from_slice(frames);
    socket.send_multipart(msg).unwrap();
}

#[test]
fn worker_certs_decide_who_may_register_for_which_service() {
    let dir = std::env::temp_dir().join(format!("mdp-broker-workers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (keys, clients, workers) = (dir.join("keys"), dir.join("clients"), dir.join("workers"));
    for d in [&keys, &clients, &workers] {
        std::fs::create_dir_all(d).unwrap();
    }
    // A worker key made by `mdp cert`, allowed to serve echo; its public half in workers/.
    let worker_file = keys.join("echo-worker");
    let printed = mdp_tool(&[
        "cert",
        worker_file.to_str().unwrap(),
        "--name",
        "echo-1",
        "--services",
        "echo",
    ]);
    let worker_cert = ZCert::load(&worker_file).unwrap();
    assert_eq!(printed.trim(), worker_cert.public_txt());
    std::fs::copy(&worker_file, workers.join("echo-worker")).unwrap();
    let client_cert = ZCert::new().unwrap();
    client_cert.save_public(clients.join("client")).unwrap();

    let log = dir.join("stderr.log");
    let (child, _lines, endpoint, key) = start_with_stderr(
        &dir.join("certs"),
        &[
            "--zap-certs",
            clients.to_str().unwrap(),
            "--worker-certs",
            workers.to_str().unwrap(),
        ],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let client = curve_client(&endpoint, &key, &client_cert);
    const READY: u8 = 1;
    const REQUEST: u8 = 2;
    const REPLY: u8 = 3;
    const DISCONNECT: u8 = 5;

    // A client key that tries to register as a worker is told to DISCONNECT.
    let posing = curve_client(&endpoint, &key, &client_cert);
    worker_command(&posing, READY, &[b"echo"]);
    assert_eq!(next(&posing), [&b""[..], b"MDPW01", &[DISCONNECT]]);
    // The worker key cannot register for a service its certificate does not list.
    let sidestep = curve_client(&endpoint, &key, &worker_cert);
    worker_command(&sidestep, READY, &[b"billing"]);
    assert_eq!(next(&sidestep), [&b""[..], b"MDPW01", &[DISCONNECT]]);
    assert_eq!(stat(&client, "unauthorised"), 2);

    // For echo it registers, and gets the client's request.
    let worker = curve_client(&endpoint, &key, &worker_cert);
    worker_command(&worker, READY, &[b"echo"]);
    client
        .send_multipart(["", "MDPC01", "echo", "hello"])
        .unwrap();
    let request = next_skipping_heartbeats(&worker);
    assert_eq!(&request[..3], [&b""[..], b"MDPW01", &[REQUEST]]);
    assert_eq!(request.last().unwrap(), b"hello");
    let reply_to = request[3].clone();
    worker_command(&worker, REPLY, &[&reply_to, b"", b"hello back"]);
    assert_eq!(next(&client), [&b""[..], b"MDPC01", b"echo", b"hello back"]);
    assert_eq!(stat(&client, "unauthorised"), 2);

    stop(child);
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(!stderr.contains("warning"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_broker_warns_when_any_curve_key_may_be_a_worker() {
    let dir = std::env::temp_dir().join(format!("mdp-broker-warn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (extra, warned) in [(&[][..], true), (&["--allow-any-worker"][..], false)] {
        let log = dir.join("stderr.log");
        let (child, _lines, _, _) = start_with_stderr(
            &dir.join("certs"),
            extra,
            Stdio::from(std::fs::File::create(&log).unwrap()),
        );
        stop(child);
        let stderr = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            stderr.contains(
                "warning: CURVE is on, but any key that can connect may register as a worker"
            ),
            warned,
            "{extra:?}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The next worker command on `socket` that is not a HEARTBEAT, within 10 s each.
fn next_skipping_heartbeats(socket: &ZSocket) -> Vec<Vec<u8>> {
    loop {
        let msg = next(socket);
        if msg.get(2).map(Vec::as_slice) != Some(&[4u8][..]) {
            return msg;
        }
    }
}

#[test]
fn a_running_broker_takes_back_held_requests_and_refuses_over_its_byte_limits() {
    let certs = std::env::temp_dir().join(format!("mdp-broker-bytes-{}", std::process::id()));
    let args = [
        "--heartbeat",
        "500ms",
        "--liveness",
        "40",
        "--request-timeout",
        "1s",
        "--max-client-backlog-bytes",
        "5000",
        "--max-memory",
        "9000",
    ];
    let (child, _lines, endpoint, key) = start(&certs, &args);
    let client = curve_client(&endpoint, &key, &ZCert::new().unwrap());
    let body = vec![1u8; 2000];

    // A worker that takes a request and never answers (it stays alive: liveness is 20 s) is
    // disconnected after --request-timeout, and the request goes to another worker.
    let holder = curve_client(&endpoint, &key, &ZCert::new().unwrap());
    worker_command(&holder, 1, &[b"slow"]);
    client
        .send_multipart([&b""[..], b"MDPC01", b"slow", b"job"])
        .unwrap();
    assert_eq!(next_skipping_heartbeats(&holder)[2], [2], "a REQUEST");
    let rescuer = curve_client(&endpoint, &key, &ZCert::new().unwrap());
    worker_command(&rescuer, 1, &[b"slow"]);
    assert_eq!(
        next_skipping_heartbeats(&holder),
        [&b""[..], b"MDPW01", &[5]],
        "DISCONNECT"
    );
    let request = next_skipping_heartbeats(&rescuer);
    assert_eq!(
        (&request[2][..], request.last().unwrap()),
        (&[2u8][..], &b"job".to_vec())
    );
    assert_eq!(stat(&client, "request_timeouts"), 1);
    worker_command(&rescuer, 3, &[&request[3], b"", b"done"]);
    assert_eq!(next(&client)[3], b"done");

    // One client may make the broker hold 5000 bytes: the third 2000-byte request waiting for a
    // worker is refused with 429.
    for _ in 0..3 {
        client
            .send_multipart([&b""[..], b"MDPC01", b"nobody", &body[..]])
            .unwrap();
    }
    let reply = next(&client);
    assert_eq!(
        (&reply[2][..], &reply[3][..]),
        (&b"mmi.refused"[..], &b"429"[..])
    );
    // The broker may hold 9000 bytes in all: a second client gets two more in, then 507.
    let other = curve_client(&endpoint, &key, &ZCert::new().unwrap());
    for _ in 0..3 {
        other
            .send_multipart([&b""[..], b"MDPC01", b"nobody", &body[..]])
            .unwrap();
    }
    let reply = next(&other);
    assert_eq!(
        (&reply[2][..], &reply[3][..]),
        (&b"mmi.refused"[..], &b"507"[..])
    );
    assert_eq!(stat(&client, "held_bytes"), 8000);

    stop(child);
    let _ = std::fs::remove_dir_all(&certs);
}
