//! Interoperability with pyzmq (run `scripts/setup` first): CURVE handshakes in both directions,
//! each side authenticating the other with certificate files the other side wrote, and
//! certificate files round-tripping between zmsg and pyzmq's `zmq.auth`.
//!
//! The Python peer is `tests/python/curve_peer.py`; it reports on stdout, line by line, and is
//! killed when the test ends, whether it passed or not.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use zmsg::{SocketType, ZAuth, ZCert, ZContext};

/// Bound on waiting for each line from the Python peer.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Python peer; killed on drop.
struct PyPeer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl PyPeer {
    fn start(args: &[&str]) -> PyPeer {
        let script = support::workspace_root().join("tests/python/curve_peer.py");
        let mut child = Command::new(support::python())
            .arg("-u")
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Python peer");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        PyPeer { child, lines }
    }

    /// The next line, which must start with `tag `; returns the rest.
    fn expect(&self, tag: &str) -> String {
        let line = self
            .lines
            .recv_timeout(LINE_TIMEOUT)
            .unwrap_or_else(|_| panic!("the Python peer did not print {tag}"));
        line.strip_prefix(tag)
            .and_then(|rest| rest.strip_prefix(' '))
            .unwrap_or_else(|| panic!("expected {tag}, got {line:?}"))
            .to_string()
    }

    /// Waits for the process to end on its own and checks it succeeded.
    fn finish(mut self) {
        let status = wait_with_timeout(&mut self.child, LINE_TIMEOUT);
        assert!(status.success(), "the Python peer failed: {status}");
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let mut status = None;
    support::wait_until(limit, || {
        status = child.try_wait().expect("poll the Python peer");
        status.is_some()
    });
    status.expect("the Python peer did not exit")
}

impl Drop for PyPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_to_end(args: &[&str]) -> Vec<String> {
    let peer = PyPeer::start(args);
    let public = peer.expect("PUBLIC");
    let secret = peer.expect("SECRET");
    peer.finish();
    vec![public, secret]
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn pyzmq_server_authenticates_a_zmsg_client_from_zmsg_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients");
    std::fs::create_dir(&clients).unwrap();

    // zmsg writes every certificate; pyzmq reads them (its store only reads *.key files).
    let server_cert = ZCert::new().unwrap();
    let server_file = dir.path().join("server.key");
    server_cert.save(&server_file).unwrap();
    let mut client_cert = ZCert::new().unwrap();
    client_cert.set_meta("name", "zmsg client");
    let client_file = dir.path().join("client.key");
    client_cert.save(&client_file).unwrap();
    std::fs::copy(&client_file, clients.join("client.key")).unwrap();

    let server_secret: PathBuf = zmsg::cert::secret_path(&server_file);
    let peer = PyPeer::start(&["server", path_str(&server_secret), path_str(&clients)]);
    let port: u16 = peer.expect("PORT").parse().unwrap();

    let ctx = ZContext::new().unwrap();
    let client = ctx.socket(SocketType::Req).unwrap();
    client
        .set_rcvtimeo(Some(Duration::from_millis(10_000)))
        .unwrap();
    client.set_linger(Some(Duration::ZERO)).unwrap();
    ZCert::load(&client_file).unwrap().apply(&client).unwrap();
    let server_public = ZCert::load_file(&server_file).unwrap();
    client
        .set_curve_serverkey(server_public.public_key())
        .unwrap();
    client.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();

    client.send_str("hello from zmsg").unwrap();
    let reply = client.recv_string().unwrap();
    assert_eq!(
        reply,
        format!("echo:hello from zmsg|{}", client_cert.public_txt()),
        "pyzmq's authenticator knows the client by its key"
    );
    client.send_str("quit").unwrap();
    assert_eq!(client.recv_string().unwrap(), "bye");
    peer.finish();
}

#[test]
fn zmsg_server_authenticates_a_pyzmq_client_from_pyzmq_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients");
    std::fs::create_dir(&clients).unwrap();

    // pyzmq makes the client's certificate; zmsg's store reads its public file.
    let made = run_to_end(&["make", path_str(&clients), "pyclient"]);
    let py_public = &made[0];
    let store_view = ZCert::load_file(clients.join("pyclient.key")).unwrap();
    assert_eq!(&store_view.public_txt(), py_public);
    // The secret file stays out of the store's way, but move it anyway: a real server never
    // holds a client's secret.
    let client_secret = dir.path().join("pyclient.key_secret");
    std::fs::rename(clients.join("pyclient.key_secret"), &client_secret).unwrap();

    let server_cert = ZCert::new().unwrap();
    let server_file = dir.path().join("server.key");
    server_cert.save(&server_file).unwrap();

    let ctx = ZContext::new().unwrap();
    let auth = ZAuth::with_context(&ctx).unwrap();
    auth.configure_curve(ZAuth::ANY_DOMAIN, &clients).unwrap();
    let server = ctx.socket(SocketType::Rep).unwrap();
    server
        .set_rcvtimeo(Some(Duration::from_millis(30_000)))
        .unwrap();
    server_cert.apply(&server).unwrap();
    server.set_curve_server(true).unwrap();
    let port = server.bind("tcp://127.0.0.1:*").unwrap().port().unwrap();

    let port_text = port.to_string();
    let peer = PyPeer::start(&[
        "client",
        path_str(&client_secret),
        path_str(&server_file),
        &port_text,
    ]);
    let request = server.recv_frame().unwrap();
    assert_eq!(request.to_str().unwrap(), "hello from pyzmq");
    assert_eq!(request.meta("User-Id").as_deref(), Some(py_public.as_str()));
    server.send_str("hello from zmsg").unwrap();
    assert_eq!(peer.expect("REPLY"), "hello from zmsg");
    peer.finish();
}

#[test]
fn pyzmq_certificates_load_in_zmsg() {
    let dir = tempfile::tempdir().unwrap();
    let made = run_to_end(&["make", path_str(dir.path()), "py"]);
    let cert = ZCert::load(dir.path().join("py.key")).unwrap();
    assert_eq!(cert.public_txt(), made[0]);
    assert_eq!(cert.secret_txt(), made[1]);
    assert_eq!(cert.meta("name"), Some("Py Thon"));
    assert_eq!(cert.meta("team"), Some("interop"));
    let public = ZCert::load_file(dir.path().join("py.key")).unwrap();
    assert_eq!(public.public_txt(), made[0]);
    assert!(public.is_public_only());
}

#[test]
fn zmsg_certificates_load_in_pyzmq() {
    let dir = tempfile::tempdir().unwrap();
    let mut cert = ZCert::new().unwrap();
    cert.set_meta("name", "Zed");
    let path = dir.path().join("zm.key");
    cert.save(&path).unwrap();

    let secret = run_to_end(&["load", path_str(&zmsg::cert::secret_path(&path))]);
    assert_eq!(secret, [cert.public_txt(), cert.secret_txt()]);
    let public = run_to_end(&["load", path_str(&path)]);
    assert_eq!(public, [cert.public_txt(), "None".to_string()]);
}
