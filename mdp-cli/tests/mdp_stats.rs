//! `mdp stats`: the broker's `mmi.stats` as a table, once or with `--watch N`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use mdp::{Client, ClientConfig, Worker, WorkerConfig};
use zmsg::{SocketType, ZMsg, ZSocket};

mod support;
use support::target_command;

const WAIT: Duration = Duration::from_secs(30);

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mdp-broker` on a free port (heartbeats of an hour: nothing expires during the test).
fn start_broker() -> (Killed, String) {
    let mut child = target_command(env!("CARGO_BIN_EXE_mdp-broker"))
        .args([
            "--bind",
            "tcp://127.0.0.1:*",
            "--heartbeat",
            "1h",
            "--request-expiry",
            "1h",
        ])
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
    (Killed(child), endpoint)
}

/// The cells of the table row whose first cell is `name`.
fn row(table: &str, name: &str) -> Vec<String> {
    table
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in\n{table}"))
}

/// The value in column `header` of row `name`.
fn cell(table: &str, name: &str, header: &str) -> String {
    let headers = row(table, "SERVICE");
    let i = headers
        .iter()
        .position(|h| h == header)
        .unwrap_or_else(|| panic!("no column {header}"));
    row(table, name)[i].clone()
}

#[test]
fn mdp_stats_prints_a_row_per_service_and_refreshes_with_watch() {
    let (_broker, endpoint) = start_broker();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = std::thread::spawn({
        let (endpoint, stop) = (endpoint.clone(), Arc::clone(&stop));
        move || {
            let config = WorkerConfig {
                heartbeat: Duration::from_secs(3600),
                ..WorkerConfig::default()
            };
            let mut worker = Worker::connect(&endpoint, "echo", config).unwrap();
            while !stop.load(Ordering::Relaxed) {
                if let Some(mut request) = worker.recv_timeout(Duration::from_millis(50)).unwrap() {
                    let body = request.take_body();
                    worker.reply(&request, body).unwrap();
                }
            }
        }
    });
    let config = ClientConfig {
        timeout: WAIT,
        retries: 1,
        ..ClientConfig::default()
    };
    let mut client = Client::connect(&endpoint, config).unwrap();
    for _ in 0..3 {
        client.send("echo", ZMsg::from_iter(["hi"])).unwrap();
    }
    // A request that waits: nobody serves "idle".
    let raw = ZSocket::new(SocketType::Dealer).unwrap();
    raw.set_linger(Some(Duration::ZERO)).unwrap();
    raw.connect(&endpoint).unwrap();
    raw.send_multipart(["", "MDPC01", "idle", "x"]).unwrap();
    let deadline = Instant::now() + WAIT;
    let queued = |client: &mut Client| {
        let reply = client.send("mmi.queue", ZMsg::from_iter(["idle"])).unwrap();
        reply[1].to_str().unwrap() == "1"
    };
    while !queued(&mut client) {
        assert!(Instant::now() < deadline, "the idle request never queued");
        std::thread::sleep(Duration::from_millis(20));
    }

    let output = target_command(env!("CARGO_BIN_EXE_mdp"))
        .args(["stats", "--broker", &endpoint])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        table.starts_with(&format!("mdp-broker at {endpoint}: 2 services\n")),
        "{table}"
    );
    assert_eq!(cell(&table, "echo", "WORKERS"), "1", "{table}");
    assert_eq!(cell(&table, "echo", "REQUESTS"), "3", "{table}");
    assert_eq!(cell(&table, "echo", "REPLIES"), "3", "{table}");
    assert_eq!(cell(&table, "idle", "QUEUED"), "1", "{table}");
    assert_eq!(cell(&table, "idle", "WORKERS"), "0", "{table}");
    assert_eq!(cell(&table, "(total)", "REQUESTS"), "4", "{table}");
    assert_eq!(cell(&table, "(total)", "QUEUED"), "1", "{table}");
    assert!(table.contains(" refused_503=0 "), "{table}");
    assert!(table.contains(" held_bytes=1"), "{table}");

    // --watch: a new table every 0.2 s until stopped.
    let mut watch = target_command(env!("CARGO_BIN_EXE_mdp"))
        .args(["stats", "--watch", "0.2", "--broker", &endpoint])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let watch = Killed(watch);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut tables = 0;
    while tables < 3 {
        let line = rx
            .recv_timeout(WAIT)
            .expect("mdp stats --watch keeps printing");
        if line.starts_with("mdp-broker at ") {
            tables += 1;
        }
    }
    drop(watch);
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}

#[test]
fn mdp_stats_without_a_broker_fails_with_a_hint() {
    let output = target_command(env!("CARGO_BIN_EXE_mdp"))
        .args([
            "stats",
            "--broker",
            "tcp://127.0.0.1:1",
            "--timeout-ms",
            "300",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is the broker running?"), "{stderr}");
}

/// `--cert FILE`: the tool connects with its own certificate, so a broker that admits only
/// known keys (`--zap-certs`) answers it, and not a tool without it.
#[test]
fn mdp_stats_with_a_known_certificate_passes_zap() {
    let dir = std::env::temp_dir().join(format!("mdp-stats-zap-{}", std::process::id()));
    let clients = dir.join("clients");
    std::fs::create_dir_all(&clients).unwrap();
    let ops = zmsg::ZCert::new().unwrap();
    ops.save(dir.join("ops.key")).unwrap();
    ops.save_public(clients.join("ops.key")).unwrap();
    let mut child = target_command(env!("CARGO_BIN_EXE_mdp-broker"))
        .args(["--bind", "tcp://127.0.0.1:*", "--curve", "--cert-dir"])
        .arg(dir.join("certs"))
        .arg("--zap-certs")
        .arg(&clients)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mdp-broker starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _broker = Killed(child);
    let endpoint = lines.next().unwrap().unwrap();
    let endpoint = endpoint
        .strip_prefix("mdp-broker: listening on ")
        .unwrap()
        .to_owned();
    let key = lines.next().unwrap().unwrap();
    let key = key
        .strip_prefix("mdp-broker: public key ")
        .unwrap()
        .to_owned();
    let stats = |cert: Option<&std::path::Path>| {
        let mut command = target_command(env!("CARGO_BIN_EXE_mdp"));
        command.args(["stats", "--broker", &endpoint, "--timeout-ms", "2000"]);
        command.arg(format!("--server-key={key}"));
        if let Some(cert) = cert {
            command.arg("--cert").arg(cert);
        }
        command.output().unwrap()
    };
    let known = stats(Some(&dir.join("ops.key")));
    assert!(
        known.status.success(),
        "{}",
        String::from_utf8_lossy(&known.stderr)
    );
    assert!(String::from_utf8_lossy(&known.stdout).contains("(total)"));
    let stranger = stats(None);
    assert_eq!(stranger.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
