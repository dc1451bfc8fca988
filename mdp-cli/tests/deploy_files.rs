//! The files of `deploy/` that docs/deploying.md ships: the example `broker.toml` loads, the
//! systemd unit passes `systemd-analyze verify`, and the alert rules pass `promtool check rules`
//! and name only metrics the broker serves.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

mod support;
use support::target_command;

/// A file of the repository's `deploy/` directory.
fn deploy(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(name)
}

/// Runs a checking tool, or returns `None` (with a printed reason) when it is not installed
/// here and this is not CI; in CI (`CI` set) it must run.
fn tool(program: &str, args: &[&std::ffi::OsStr], install: &str) -> Option<std::process::Output> {
    match Command::new(program).args(args).output() {
        Ok(output) => Some(output),
        Err(err) if std::env::var_os("CI").is_none() => {
            println!("SKIPPED {program}: it cannot run here ({err}); {install}");
            None
        }
        Err(err) => panic!("{program} must run in CI ({install}): {err}"),
    }
}

#[test]
fn the_example_broker_toml_loads() {
    let output = target_command(env!("CARGO_BIN_EXE_mdp-broker"))
        .arg("--config")
        .arg(deploy("broker.toml"))
        .arg("--print-config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let printed = String::from_utf8_lossy(&output.stdout);
    for line in [
        "curve = true",
        "cert_dir = \"/var/lib/mdp\"",
        "zap_certs = \"/etc/mdp/clients\"",
        "metrics_listen = \"127.0.0.1:9464\"",
        "bind = [\"tcp://*:5555\"]",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line} in\n{printed}");
    }
}

#[test]
fn the_systemd_unit_verifies() {
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let unit = std::fs::read_to_string(deploy("mdp-broker.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/mdp-broker --config /etc/mdp/broker.toml\n"));
    for hardening in [
        "User=mdp",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/mdp",
        "StateDirectoryMode=0700",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(hardening), "{hardening}");
    }
    let dir = std::env::temp_dir().join(format!("mdp-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mdp-broker.service");
    std::fs::write(
        &path,
        unit.replace(
            "/usr/local/bin/mdp-broker",
            env!("CARGO_BIN_EXE_mdp-broker"),
        ),
    )
    .unwrap();
    let args = [
        std::ffi::OsStr::new("verify"),
        "--man=no".as_ref(),
        path.as_os_str(),
    ];
    let Some(output) = tool("systemd-analyze", &args, "apt-get install systemd") else {
        return;
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Unknown or misspelt settings are only warnings: there must be none about this unit.
    let about_unit: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("mdp-broker"))
        .collect();
    assert!(about_unit.is_empty(), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_alert_rules_pass_promtool_and_use_served_metrics() {
    let rules = deploy("mdp-alerts.yml");
    let args = [
        std::ffi::OsStr::new("check"),
        "rules".as_ref(),
        rules.as_os_str(),
    ];
    if let Some(output) = tool("promtool", &args, "apt-get install prometheus") {
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // Every mdp_ metric the rules use is one the broker serves (its # TYPE line).
    let mut broker = target_command(env!("CARGO_BIN_EXE_mdp-broker"))
        .args([
            "--bind",
            "tcp://127.0.0.1:*",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(broker.stdout.take().unwrap()).lines();
    let url = lines
        .map(Result::unwrap)
        .find_map(|line| {
            line.strip_prefix("mdp-broker: metrics on ")
                .map(str::to_owned)
        })
        .expect("the metrics line");
    let scrape = ureq::get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let _ = broker.kill();
    let _ = broker.wait();
    let text = std::fs::read_to_string(&rules).unwrap();
    let mut used = 0;
    for (at, _) in text.match_indices("mdp_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            scrape.contains(&format!("# TYPE {name} ")),
            "{name} is not served"
        );
        used += 1;
    }
    assert!(used >= 8, "{used} metrics used");
}
