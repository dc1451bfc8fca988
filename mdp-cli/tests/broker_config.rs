//! `mdp-broker --config FILE`: every flag is a key of the file, flags override it, mistakes name
//! the file, line and key, and the old `--*-ms` flags still work with a warning.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;
use support::target_command;

fn broker() -> Command {
    target_command(env!("CARGO_BIN_EXE_mdp-broker"))
}

fn run(command: &mut Command) -> Output {
    command.output().expect("mdp-broker runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "mdp-broker failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mdp-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Every setting, none at its default: the file's line and the equivalent flags.
const EVERY_SETTING: &[(&str, &str, &[&str])] = &[
    (
        "bind",
        r#"["tcp://127.0.0.1:7001", "ipc:///tmp/mdp-x.ipc"]"#,
        &[
            "--bind",
            "tcp://127.0.0.1:7001",
            "--bind",
            "ipc:///tmp/mdp-x.ipc",
        ],
    ),
    ("heartbeat", r#""1s 250ms""#, &["--heartbeat", "1.25s"]),
    ("liveness", "5", &["--liveness", "5"]),
    (
        "request_expiry",
        r#""45s""#,
        &["--request-expiry", "45000ms"],
    ),
    ("max_queue", "500", &["--max-queue", "500"]),
    (
        "max_queue_bytes",
        r#""128MiB""#,
        &["--max-queue-bytes", "134217728"],
    ),
    (
        "max_client_backlog",
        "700",
        &["--max-client-backlog", "700"],
    ),
    (
        "max_client_backlog_bytes",
        "1000000",
        &["--max-client-backlog-bytes", "1MB"],
    ),
    (
        "client_backlog_timeout",
        r#""1m""#,
        &["--client-backlog-timeout", "60s"],
    ),
    (
        "max_message_size",
        r#""1MiB""#,
        &["--max-message-size", "1024KiB"],
    ),
    ("max_memory", r#""2GiB""#, &["--max-memory", "2GiB"]),
    ("max_services", "50", &["--max-services", "50"]),
    ("max_workers", "60", &["--max-workers", "60"]),
    ("max_clients", "70", &["--max-clients", "70"]),
    ("request_timeout", r#""0s""#, &["--request-timeout", "0"]),
    ("max_resends", "9", &["--max-resends", "9"]),
    ("service_grace", r#""2m 30s""#, &["--service-grace", "150s"]),
    ("max_worker_credit", "16", &["--max-worker-credit", "16"]),
    ("sndhwm", "2000", &["--sndhwm", "2000"]),
    ("rcvhwm", "300", &["--rcvhwm", "300"]),
    ("curve", "true", &["--curve"]),
    (
        "cert_dir",
        r#""/var/lib/mdp-test""#,
        &["--cert-dir", "/var/lib/mdp-test"],
    ),
    (
        "zap_certs",
        r#""/etc/mdp-test/clients""#,
        &["--zap-certs", "/etc/mdp-test/clients"],
    ),
    (
        "worker_certs",
        r#""/etc/mdp-test/workers""#,
        &["--worker-certs", "/etc/mdp-test/workers"],
    ),
    (
        "metrics_listen",
        r#""127.0.0.1:9464""#,
        &["--metrics-listen", "127.0.0.1:9464"],
    ),
    ("verbose", "2", &["-vv"]),
];

/// The long flags `mdp-broker --help` lists that are settings (not --config, --help, ...).
fn setting_flags() -> Vec<String> {
    let help = stdout(&run(broker().arg("--help")));
    let mut flags: Vec<String> = help
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("-v, ").unwrap_or(line);
            let flag = line.strip_prefix("--")?;
            let end = flag
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(flag.len());
            Some(flag[..end].to_owned())
        })
        .filter(|flag| !["config", "print-config", "help", "version"].contains(&flag.as_str()))
        .collect();
    flags.dedup();
    assert!(flags.len() >= 25, "{flags:?} from {help}");
    flags
}

#[test]
fn a_config_file_round_trips_every_flag() {
    let dir = scratch("round-trip");
    // The table covers every setting flag of --help (a new flag needs a line here).
    let keys: Vec<&str> = EVERY_SETTING.iter().map(|(key, _, _)| *key).collect();
    for flag in setting_flags() {
        let key = flag.replace('-', "_");
        assert!(
            keys.contains(&key.as_str()) || key == "zap_allow_any" || key == "allow_any_worker",
            "--{flag} has no line in EVERY_SETTING"
        );
    }

    let file: String = EVERY_SETTING
        .iter()
        .map(|(key, value, _)| format!("{key} = {value}\n"))
        .collect();
    let path = write(&dir, "broker.toml", &file);
    let from_file = stdout(&run(broker()
        .arg("--config")
        .arg(&path)
        .arg("--print-config")));
    let flags: Vec<&str> = EVERY_SETTING
        .iter()
        .flat_map(|(_, _, flags)| flags.iter().copied())
        .collect();
    let from_flags = stdout(&run(broker().args(&flags).arg("--print-config")));
    assert_eq!(from_file, from_flags);

    // Every key is printed, none at its default, and the printed file reads back the same.
    let defaults = stdout(&run(broker().arg("--print-config")));
    for (key, _, _) in EVERY_SETTING {
        let line = |text: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{key} = ")))
                .map(str::to_owned)
        };
        let printed = line(&from_file).unwrap_or_else(|| panic!("{key} not printed:\n{from_file}"));
        assert_ne!(Some(printed), line(&defaults), "{key} is at its default");
    }
    let printed = write(&dir, "printed.toml", &from_file);
    let again = stdout(&run(broker()
        .arg("--config")
        .arg(&printed)
        .arg("--print-config")));
    assert_eq!(again, from_file);

    // zap_allow_any excludes zap_certs: its own round trip.
    let path = write(&dir, "zap.toml", "curve = true\nzap_allow_any = true\n");
    let from_file = stdout(&run(broker()
        .arg("--config")
        .arg(&path)
        .arg("--print-config")));
    let from_flags = stdout(&run(broker().args([
        "--curve",
        "--zap-allow-any",
        "--print-config",
    ])));
    assert_eq!(from_file, from_flags);
    assert!(from_file.contains("zap_allow_any = true"), "{from_file}");

    // allow_any_worker excludes worker_certs: its own round trip too.
    let path = write(
        &dir,
        "workers.toml",
        "curve = true
allow_any_worker = true
",
    );
    let from_file = stdout(&run(broker()
        .arg("--config")
        .arg(&path)
        .arg("--print-config")));
    let from_flags = stdout(&run(broker().args([
        "--curve",
        "--allow-any-worker",
        "--print-config",
    ])));
    assert_eq!(from_file, from_flags);
    assert!(from_file.contains("allow_any_worker = true"), "{from_file}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flags_override_the_file() {
    let dir = scratch("override");
    let path = write(
        &dir,
        "broker.toml",
        "max_queue = 5\nheartbeat = \"1s\"\ncurve = true\n",
    );
    let printed = stdout(&run(broker().arg("--config").arg(&path).args([
        "--max-queue",
        "7",
        "--curve=false",
        "--print-config",
    ])));
    assert!(printed.contains("max_queue = 7\n"), "{printed}");
    assert!(printed.contains("heartbeat = \"1s\"\n"), "{printed}");
    assert!(printed.contains("curve = false\n"), "{printed}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `mdp-broker --config FILE` expecting a failure; returns stderr.
fn refused(path: &Path) -> String {
    let output = run(broker().arg("--config").arg(path).arg("--print-config"));
    assert!(!output.status.success(), "{path:?} was accepted");
    assert!(output.stdout.is_empty());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unknown_key_or_a_bad_value_names_the_file_line_and_key() {
    let dir = scratch("errors");
    let path = write(
        &dir,
        "typo.toml",
        "# limits\nmax_queue = 10\nmax_qeue_bytes = \"1MiB\"\n",
    );
    let err = refused(&path);
    let place = format!(
        "{}:3:1: key `max_qeue_bytes`: unknown field `max_qeue_bytes`",
        path.display()
    );
    assert!(err.contains(&place), "{err}");

    let path = write(
        &dir,
        "value.toml",
        "liveness = 3\n\nheartbeat = \"2.5 fortnights\"\n",
    );
    let err = refused(&path);
    let place = format!("{}:3:13: key `heartbeat`: ", path.display());
    assert!(
        err.contains(&place) && err.contains("is not a duration"),
        "{err}"
    );

    let path = write(&dir, "size.toml", "max_memory = \"lots\"\n");
    let err = refused(&path);
    let place = format!("{}:1:14: key `max_memory`: ", path.display());
    assert!(
        err.contains(&place) && err.contains("is not a size"),
        "{err}"
    );

    let path = write(&dir, "type.toml", "max_queue = -3\n");
    let err = refused(&path);
    let place = format!("{}:1:13: key `max_queue`: ", path.display());
    assert!(err.contains(&place), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_millisecond_flags_still_work_with_a_warning() {
    let output = run(broker().args([
        "--heartbeat-ms",
        "1200",
        "--request-expiry-ms",
        "5000",
        "--request-timeout-ms",
        "0",
        "--service-grace-ms",
        "10",
        "--client-backlog-timeout-ms",
        "90000",
        "--print-config",
    ]));
    let printed = stdout(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    for (line, flag) in [
        ("heartbeat = \"1s 200ms\"", "--heartbeat-ms"),
        ("request_expiry = \"5s\"", "--request-expiry-ms"),
        ("request_timeout = \"0s\"", "--request-timeout-ms"),
        ("service_grace = \"10ms\"", "--service-grace-ms"),
        (
            "client_backlog_timeout = \"1m 30s\"",
            "--client-backlog-timeout-ms",
        ),
    ] {
        assert!(printed.contains(line), "{line} in {printed}");
        assert!(
            stderr.contains(&format!("{flag} is deprecated")),
            "{stderr}"
        );
    }
    // Durations need a unit on the command line too.
    let output = run(broker().args(["--heartbeat", "2500", "--print-config"]));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("has no unit"));
}
