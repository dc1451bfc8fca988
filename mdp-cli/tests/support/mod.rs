//! What the `mdp-cli` test files share.

use std::process::Command;

/// A `Command` for a binary of this package; under an emulator (`scripts/cross-runner` exports
/// `ZMSG_TEST_RUNNER`, e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`) it is started through it.
pub fn target_command(program: &str) -> Command {
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
