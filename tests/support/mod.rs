//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
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
