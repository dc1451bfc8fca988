//! The perf ports run end to end over inproc, tcp and ipc and print libzmq's figures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin(name: &str) -> Command {
    let path = match name {
        "local_thr" => env!("CARGO_BIN_EXE_local_thr"),
        "remote_thr" => env!("CARGO_BIN_EXE_remote_thr"),
        "local_lat" => env!("CARGO_BIN_EXE_local_lat"),
        "remote_lat" => env!("CARGO_BIN_EXE_remote_lat"),
        "inproc_thr" => env!("CARGO_BIN_EXE_inproc_thr"),
        "inproc_lat" => env!("CARGO_BIN_EXE_inproc_lat"),
        "mdp_bench" => env!("CARGO_BIN_EXE_mdp_bench"),
        "blocking_thr" => env!("CARGO_BIN_EXE_blocking_thr"),
        "blocking_lat" => env!("CARGO_BIN_EXE_blocking_lat"),
        "async_thr" => env!("CARGO_BIN_EXE_async_thr"),
        "async_lat" => env!("CARGO_BIN_EXE_async_lat"),
        "zmqrs_thr" => env!("CARGO_BIN_EXE_zmqrs_thr"),
        "zmqrs_lat" => env!("CARGO_BIN_EXE_zmqrs_lat"),
        other => panic!("no such program {other}"),
    };
    // Under an emulator (scripts/cross-runner exports ZMSG_TEST_RUNNER, e.g. `qemu-aarch64 -L
    // /usr/aarch64-linux-gnu`) the program is started through it, as cargo starts this test.
    let runner = std::env::var("ZMSG_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut command = match words.next() {
        Some(emulator) => {
            let mut command = Command::new(emulator);
            command.args(words).arg(path);
            command
        }
        None => Command::new(path),
    };
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Waits for `child` to exit, killing it after `limit`.
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("process did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().expect("output")
}

/// The number in the line `<label>: <number> ...` of `text`.
fn figure(text: &str, label: &str) -> f64 {
    let line = text
        .lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{text}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in `{line}`"))
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits until `path` exists (the server bound its ipc endpoint), at most 10 s.
fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn ipc_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("zmsg-perf-{tag}-{}.ipc", std::process::id()))
}

#[test]
fn inproc_thr_counts_every_message() {
    let output = finish(
        bin("inproc_thr").args(["64", "5000"]).spawn().unwrap(),
        Duration::from_secs(60),
    );
    let text = stdout(&output);
    assert_eq!(figure(&text, "message size:"), 64.0);
    assert_eq!(figure(&text, "message count:"), 5000.0);
    assert!(figure(&text, "mean throughput:") > 0.0, "{text}");
    assert!(text.contains("[Mb/s]"));
}

#[test]
fn inproc_lat_reports_latency() {
    let output = finish(
        bin("inproc_lat").args(["100", "500"]).spawn().unwrap(),
        Duration::from_secs(60),
    );
    let text = stdout(&output);
    assert_eq!(figure(&text, "roundtrip count:"), 500.0);
    assert!(figure(&text, "average latency:") > 0.0, "{text}");
}

#[test]
fn tcp_throughput_pair() {
    // Ask the OS for a free port; the small window before local_thr binds it is harmless here.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let local = bin("local_thr")
        .args([&endpoint, "300", "20000"])
        .spawn()
        .unwrap();
    let remote = bin("remote_thr")
        .args([&endpoint, "300", "20000"])
        .spawn()
        .unwrap();
    let text = stdout(&finish(local, Duration::from_secs(60)));
    stdout(&finish(remote, Duration::from_secs(60)));
    assert_eq!(figure(&text, "message size:"), 300.0);
    assert_eq!(figure(&text, "message count:"), 20000.0);
    assert!(figure(&text, "mean throughput:") > 0.0);
}

#[test]
fn ipc_latency_pair() {
    let path = ipc_path("lat");
    let endpoint = format!("ipc://{}", path.display());
    let local = bin("local_lat")
        .args([&endpoint, "1000", "300"])
        .spawn()
        .unwrap();
    wait_for_file(&path);
    let remote = bin("remote_lat")
        .args([&endpoint, "1000", "300"])
        .spawn()
        .unwrap();
    let text = stdout(&finish(remote, Duration::from_secs(60)));
    stdout(&finish(local, Duration::from_secs(60)));
    std::fs::remove_file(&path).ok();
    assert_eq!(figure(&text, "message size:"), 1000.0);
    assert_eq!(figure(&text, "roundtrip count:"), 300.0);
    assert!(figure(&text, "average latency:") > 0.0);
}

#[test]
fn a_wrong_size_is_reported() {
    let path = ipc_path("size");
    let endpoint = format!("ipc://{}", path.display());
    let local = bin("local_lat")
        .args([&endpoint, "10", "5"])
        .spawn()
        .unwrap();
    wait_for_file(&path);
    // The client sends 11-byte messages to a server expecting 10; it never gets a reply, so it
    // is killed once the server has given up.
    let mut remote = bin("remote_lat")
        .args([&endpoint, "11", "5"])
        .spawn()
        .unwrap();
    let output = finish(local, Duration::from_secs(60));
    remote.kill().ok();
    remote.wait().ok();
    std::fs::remove_file(&path).ok();
    assert_eq!(output.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&output.stdout).contains("message of incorrect size received"));
}

#[test]
fn usage_on_wrong_arguments() {
    let mut names = vec![
        "local_thr",
        "remote_thr",
        "local_lat",
        "remote_lat",
        "inproc_thr",
        "inproc_lat",
        "blocking_thr",
        "blocking_lat",
    ];
    if cfg!(unix) {
        names.extend(["async_thr", "async_lat", "zmqrs_thr", "zmqrs_lat"]);
    }
    for name in names {
        let output = bin(name).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.starts_with(&format!("usage: {name} ")),
            "{name}: {text}"
        );
    }
}

/// The async comparison's one-process programs (blocking zmsg, zmsg's AsyncSocket, zmq.rs) move
/// every message and round trip over tcp, on both tokio runtimes, and print their figures.
#[cfg(unix)]
#[test]
fn loopback_programs_of_the_async_comparison() {
    let runs: &[(&str, &[&str])] = &[
        ("blocking_thr", &["100", "20000"]),
        ("async_thr", &["100", "20000"]),
        ("async_thr", &["100", "20000", "current"]),
        ("zmqrs_thr", &["100", "20000"]),
        ("zmqrs_thr", &["100", "20000", "current"]),
        ("blocking_lat", &["1000", "300"]),
        ("async_lat", &["1000", "300"]),
        ("async_lat", &["1000", "300", "current"]),
        ("zmqrs_lat", &["1000", "300"]),
        ("zmqrs_lat", &["1000", "300", "current"]),
    ];
    for &(name, args) in runs {
        let output = finish(
            bin(name).args(args).spawn().unwrap(),
            Duration::from_secs(60),
        );
        let text = stdout(&output);
        assert!(output.status.success(), "{name} {args:?}: {text}");
        assert_eq!(
            figure(&text, "message size:"),
            args[0].parse::<f64>().unwrap()
        );
        if name.ends_with("_thr") {
            assert_eq!(figure(&text, "message count:"), 20000.0, "{text}");
            assert!(figure(&text, "mean throughput:") > 0.0, "{text}");
            assert!(text.contains("[MB/s]"), "{text}");
        } else {
            assert_eq!(figure(&text, "roundtrip count:"), 300.0, "{text}");
            assert!(figure(&text, "average round trip:") > 0.0, "{text}");
        }
    }
    // A wrong runtime name is a usage error, as wrong arguments are.
    let output = bin("async_thr").args(["1", "1", "fast"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn mdp_bench_runs_every_phase() {
    let child = bin("mdp_bench")
        .args([
            "--workers",
            "2",
            "--clients",
            "2",
            "--depth",
            "4",
            "--seconds",
            "0.2",
            "--repeats",
            "1",
            "--bodies",
            "16",
            "--scale-workers",
            "10",
            "--scale-services",
            "2",
            "--more-workers",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // About 5 s on a fast machine (1000 idle workers register and leave twice): the bound is
    // for a broken run, not for a slow one (emulated, ten times slower, or on loaded cores).
    let text = stdout(&finish(child, Duration::from_secs(600)));
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" B |") && !l.contains("bare DEALER"))
        .collect();
    assert_eq!(
        rows.len(),
        4,
        "sync, async, async with credit, async with 3 workers:\n{text}"
    );
    assert!(text.contains("async d=4 w=2 c=32"), "{text}");
    assert!(text.contains("async d=4 w=3 c=1"), "{text}");
    for row in rows {
        // mode, body | proxy rate p50/p99 | broker rate p50/p99 | ratio | cpu | switches:
        // both rates and both CPU figures are positive numbers.
        let columns: Vec<&str> = row.split('|').collect();
        assert_eq!(columns.len(), 6, "{row}");
        for side in &columns[1..3] {
            let rate: f64 = side.split_whitespace().next().unwrap().parse().unwrap();
            assert!(rate > 0.0, "{row}");
        }
        let cpu: Vec<f64> = columns[4]
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(cpu.len() == 3 && cpu[0] > 0.0 && cpu[1] > 0.0, "{row}");
    }
    let bare = text
        .lines()
        .find(|l| l.contains("bare DEALER clients"))
        .unwrap_or_else(|| panic!("no bare-client row:\n{text}"));
    let rate: f64 = bare
        .split('|')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rate > 0.0, "{bare}");
    assert!(text.contains("10 idle workers, 1 idle service"), "{text}");
    assert!(text.contains("1000 idle workers,    2 services"), "{text}");
    assert!(text.contains("broker RSS:"), "{text}");
}
