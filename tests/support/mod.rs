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
