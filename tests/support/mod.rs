//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The Python interpreter with pyzmq installed: `$ZMSG_PYTHON`, else the workspace's `.venv`.
/// Panics with a clear message when neither is there (run `scripts/setup` first).
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("ZMSG_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = workspace_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "pyzmq is needed for interoperability tests: run scripts/setup (or set ZMSG_PYTHON)"
    );
    venv
}

/// The workspace root (where the root Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Polls `condition` until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// A `Command` for `program`, a binary built for the test's own target (`env!("CARGO_BIN_EXE_...")`).
/// When the tests run under an emulator (`scripts/cross-runner` exports `ZMSG_TEST_RUNNER`, e.g.
/// `qemu-aarch64 -L /usr/aarch64-linux-gnu`), the binary is started through it, as cargo starts the tests.
pub fn target_command(program: impl AsRef<OsStr>) -> Command {
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

/// A `tcp://127.0.0.1:PORT` endpoint on a free port below the kernel's ephemeral range (Linux:
/// 32768+), for tests that stop a server and bind the same port again: no outgoing connection
/// of a parallel test can take such a port meanwhile, as it can an ephemeral one.
pub fn fixed_port_endpoint() -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for n in 0..500u32 {
        let port = 20_000 + seed.wrapping_add(n.wrapping_mul(7919)) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return format!("tcp://127.0.0.1:{port}");
        }
    }
    panic!("no free TCP port in 20000..32000");
}
