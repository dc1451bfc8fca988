//! Interoperability with CZMQ (Debian's libczmq-dev, installed by `scripts/setup`): certificate
//! files round-trip both ways, the files are laid out exactly as `zcert_save` writes them, and a
//! CZMQ CURVE client is authenticated by a zmsg server from a CZMQ-made certificate.
//!
//! The C side is `tests/c/czmq_cert.c`, compiled here with `cc`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use zmsg::{SocketType, ZAuth, ZCert, ZContext};

/// The compiled helper (built once per test run).
fn czmq_cert() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/czmq_cert.c");
        let binary = Path::new(env!("CARGO_TARGET_TMPDIR")).join("czmq_cert");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let status = Command::new(&cc)
            .arg(&source)
            .arg("-o")
            .arg(&binary)
            .args(["-lczmq", "-lzmq"])
            .status()
            .unwrap_or_else(|err| panic!("cannot run {cc}: {err} (run scripts/setup)"));
        assert!(
            status.success(),
            "building the CZMQ helper failed: is libczmq-dev installed? (run scripts/setup)"
        );
        binary
    })
}

/// Runs the helper to the end; returns its `TAG value` lines as (tag, value).
fn run(args: &[&str]) -> Vec<(String, String)> {
    let output = Command::new(czmq_cert())
        .args(args)
        .output()
        .expect("run the CZMQ helper");
    assert!(
        output.status.success(),
        "czmq_cert {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(tag, value)| (tag.to_string(), value.to_string()))
        .collect()
}

fn field<'a>(lines: &'a [(String, String)], tag: &str) -> &'a str {
    lines
        .iter()
        .find(|(t, _)| t == tag)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {tag} in {lines:?}"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// The file without its first line (the "Generated on <time> by <who>" comment).
fn body(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.split_once('\n').unwrap().1.to_string()
}

#[test]
fn czmq_certificates_load_in_zmsg_and_ours_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let czmq_file = dir.path().join("cz.cert");
    let made = run(&["make", path_str(&czmq_file)]);

    let cert = ZCert::load(&czmq_file).unwrap();
    assert_eq!(cert.public_txt(), field(&made, "PUBLIC"));
    assert_eq!(cert.secret_txt(), field(&made, "SECRET"));
    assert_eq!(cert.meta("name"), Some("Cee Zed"));
    assert_eq!(cert.meta("email"), Some("cz@example.com"));

    // Saving the same certificate gives the same files as zcert_save, bar the timestamp line.
    let ours = dir.path().join("ours.cert");
    cert.save(&ours).unwrap();
    assert_eq!(body(&ours), body(&czmq_file));
    assert_eq!(
        body(&zmsg::cert::secret_path(&ours)),
        body(&zmsg::cert::secret_path(&czmq_file))
    );
}

#[test]
fn zmsg_certificates_load_in_czmq() {
    let dir = tempfile::tempdir().unwrap();
    let mut cert = ZCert::new().unwrap();
    cert.set_meta("name", "Zed");
    let path = dir.path().join("zm.cert");
    cert.save(&path).unwrap();
    let loaded = run(&["load", path_str(&path)]);
    assert_eq!(field(&loaded, "PUBLIC"), cert.public_txt());
    assert_eq!(field(&loaded, "SECRET"), cert.secret_txt());
    assert_eq!(field(&loaded, "NAME"), "Zed");

    let public_only = dir.path().join("pub.cert");
    cert.save_public(&public_only).unwrap();
    let loaded = run(&["load", path_str(&public_only)]);
    assert_eq!(field(&loaded, "PUBLIC"), cert.public_txt());
    assert_eq!(field(&loaded, "SECRET"), "0".repeat(40));
}

#[test]
fn czmq_client_is_authenticated_by_a_zmsg_server() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients");
    std::fs::create_dir(&clients).unwrap();
    let client_file = dir.path().join("czclient.cert");
    let made = run(&["make", path_str(&client_file)]);
    std::fs::copy(&client_file, clients.join("czclient.cert")).unwrap();

    let server_cert = ZCert::new().unwrap();
    let server_file = dir.path().join("server.cert");
    server_cert.save_public(&server_file).unwrap();

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
    let args = [
        "client".to_string(),
        path_str(&client_file).to_string(),
        path_str(&server_file).to_string(),
        port_text,
    ];
    let client = std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    });
    let request = server.recv_frame().unwrap();
    assert_eq!(request.to_str().unwrap(), "hello from czmq");
    assert_eq!(
        request.meta("User-Id").as_deref(),
        Some(field(&made, "PUBLIC"))
    );
    assert_eq!(request.meta("name").as_deref(), Some("Cee Zed"));
    server.send_str("hello from zmsg").unwrap();
    let output = client.join().unwrap();
    assert_eq!(field(&output, "REPLY"), "hello from zmsg");
}
