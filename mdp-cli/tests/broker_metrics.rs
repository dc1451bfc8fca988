//! `mdp-broker --metrics-listen`: a live scrape of a broker that carried traffic passes
//! `promtool check metrics`, and its values are those `mmi.stats` reports for the same moment.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mdp::{Client, ClientConfig, Worker, WorkerConfig};
use zmsg::{Events, SocketType, ZMsg, ZSocket};

mod support;
use support::target_command;

/// The bound on every wait.
const WAIT: Duration = Duration::from_secs(30);

struct Broker {
    child: Child,
    _lines: Lines<BufReader<ChildStdout>>,
    endpoint: String,
    metrics: String,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `mdp-broker` on a free port with metrics on a free port; reads both from its stdout.
fn start(extra: &[&str]) -> Broker {
    let mut child = target_command(env!("CARGO_BIN_EXE_mdp-broker"))
        .args([
            "--bind",
            "tcp://127.0.0.1:*",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mdp-broker starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut endpoint = None;
    let metrics = loop {
        let line = lines
            .next()
            .expect("mdp-broker prints its addresses")
            .unwrap();
        if let Some(rest) = line.strip_prefix("mdp-broker: listening on ") {
            endpoint = Some(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("mdp-broker: metrics on ") {
            break rest.to_owned();
        }
    };
    Broker {
        child,
        _lines: lines,
        endpoint: endpoint.expect("a listening line before the metrics line"),
        metrics,
    }
}

fn scrape(url: &str, accept: Option<&str>) -> (String, String) {
    let mut request = ureq::get(url);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let mut response = request.call().expect("the metrics endpoint answers");
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (kind, response.body_mut().read_to_string().unwrap())
}

/// The samples of a Prometheus text exposition: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            (name.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

/// `key=value` frames of an `mmi.stats` answer.
fn mmi_stats(client: &mut Client, name: &str) -> BTreeMap<String, f64> {
    let reply = client.send("mmi.stats", ZMsg::from_iter([name])).unwrap();
    let frames: Vec<String> = reply
        .iter()
        .map(|f| f.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(frames[0], "200", "{frames:?}");
    frames[1..]
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

/// The sample that stands for `mmi.stats` key `key`: `prefix` is `mdp_` for the broker and
/// `mdp_service_` for a service, `labels` its labels. `refused` is the sum over codes (`None`).
fn metric_for(key: &str, prefix: &str, labels: &str) -> Option<String> {
    let name = match key {
        "requests" => "requests_total",
        "replies" => "replies_total",
        "partials" => "partial_replies_total",
        "resends" => "resends_total",
        "drops" => "drops_total",
        "refused" => return None,
        "abandoned" => "abandoned_requests_total",
        "disconnects" => "worker_disconnects_total",
        "expiries" => "request_expiries_total",
        "worker_expiries" => "worker_expiries_total",
        "request_timeouts" => "request_timeouts_total",
        "invalid" => "invalid_messages_total",
        "unexpected" => "unexpected_commands_total",
        "mmi" => "mmi_requests_total",
        "backlogged" => "backlogged_replies_total",
        "backlog_unreachable" => "backlog_unreachable_total",
        "backlog_timeouts" => "backlog_timeouts_total",
        "partials_withheld" => "partials_withheld_total",
        "over_limit" => "over_limit_total",
        "unauthorised" => "unauthorised_worker_commands_total",
        "workers" => "workers",
        "services" => "services",
        "queued" => "queued_requests",
        "queued_bytes" => "queued_bytes",
        "clients" => "clients",
        "in_flight" => "in_flight_requests",
        "backlog_clients" => "backlog_clients",
        "backlog_replies" => "backlog_replies",
        "backlog_bytes" => "backlog_bytes",
        "held_bytes" => "held_bytes",
        _ => {
            let code = key
                .strip_prefix("refused_")
                .unwrap_or_else(|| panic!("mmi.stats key {key} has no metric here"));
            let sep = if labels.is_empty() { "" } else { "," };
            return Some(format!(
                "{prefix}refusals_total{{{labels}{sep}code=\"{code}\"}}"
            ));
        }
    };
    Some(if labels.is_empty() {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}{name}{{{labels}}}")
    })
}

/// What the scrape must say: every `mmi.stats` key of the broker and of each service.
fn expected(client: &mut Client) -> BTreeMap<String, f64> {
    let mut expected = BTreeMap::new();
    let mut add = |stats: BTreeMap<String, f64>, prefix: &str, labels: &str| {
        let by_code: f64 = stats
            .iter()
            .filter(|(k, _)| k.starts_with("refused_"))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(
            stats["refused"], by_code,
            "refused is the sum of refused_CODE"
        );
        for (key, value) in stats {
            if let Some(metric) = metric_for(&key, prefix, labels) {
                expected.insert(metric, value);
            }
        }
    };
    let all = mmi_stats(client, "");
    let known = client.send("mmi.known", ZMsg::from_iter([""])).unwrap();
    let known: Vec<String> = known
        .iter()
        .skip(1)
        .map(|f| f.to_str().unwrap().to_owned())
        .collect();
    for service in &known {
        let stats = mmi_stats(client, service);
        add(
            stats,
            "mdp_service_",
            &format!("service=\"{}\"", escape(service)),
        );
    }
    // The MMI requests made here: each answer counts itself, so the broker's count after them
    // is the first answer's plus the requests after it.
    let mut all = all;
    *all.get_mut("mmi").unwrap() += 1.0 + known.len() as f64;
    add(all, "mdp_", "");
    expected
}

/// A label value as the Prometheus text format escapes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Runs `promtool check metrics` on `text`. Without promtool the check is skipped with a
/// printed reason, except in CI (`CI` set), where it must run.
fn promtool_check(text: &str) {
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) if std::env::var_os("CI").is_none() => {
            println!("SKIPPED promtool check metrics: promtool cannot run ({err}); apt-get install prometheus");
            return;
        }
        Err(err) => panic!("promtool must run in CI (scripts/setup installs it): {err}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\non:\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_scrape_passes_promtool_and_matches_mmi_stats() {
    // Heartbeats of an hour: nothing expires while the test runs, so the broker is quiescent.
    let broker = start(&[
        "--heartbeat",
        "1h",
        "--request-expiry",
        "1h",
        "--max-message-size",
        "1KiB",
        "--max-queue",
        "1",
    ]);
    let endpoint = broker.endpoint.clone();

    // An echo worker.
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
    for i in 0..5 {
        let reply = client
            .send("echo", ZMsg::from_iter([format!("hello {i}")]))
            .unwrap();
        assert_eq!(reply[0].to_str().unwrap(), format!("hello {i}"));
    }
    match client.send("echo", ZMsg::from_iter([vec![0u8; 1100]])) {
        // Larger than --max-message-size, smaller than the frame limit (which cuts the peer).
        Err(mdp::Error::Refused { code, .. }) => assert_eq!(code, mdp::RefusalCode::TooLarge),
        other => panic!("a 1100-byte request was not refused: {other:?}"),
    }
    // A service nobody serves, with a queue of one: the first request waits, the second is
    // refused with 503. Its name needs escaping in a label.
    let nobody = "no\"body\\";
    let raw = ZSocket::new(SocketType::Dealer).unwrap();
    raw.set_linger(Some(Duration::ZERO)).unwrap();
    raw.connect(&endpoint).unwrap();
    for body in ["first", "second"] {
        raw.send_multipart(["", "MDPC01", nobody, body]).unwrap();
    }
    assert!(raw
        .poll(Events::POLLIN, Some(WAIT))
        .unwrap()
        .contains(Events::POLLIN));
    let refusal: Vec<String> = raw
        .recv_msg()
        .unwrap()
        .iter()
        .map(|f| f.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(refusal[2..5], ["mmi.refused", "503", nobody]);

    // mmi.stats now, then a scrape of a snapshot the broker took after it (the broker is
    // quiescent: nothing changes in between but the MMI requests, which are accounted for).
    let expected = expected(&mut client);
    let asked = Instant::now();
    let deadline = asked + WAIT;
    let text = loop {
        let sent = Instant::now();
        let (kind, text) = scrape(&broker.metrics, None);
        assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
        let age = Duration::from_secs_f64(samples(&text)["mdp_stats_age_seconds"]);
        // The snapshot was taken at (encoding time - age) >= (sent - age).
        if sent.checked_sub(age).is_some_and(|taken| taken > asked) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot newer than the MMI answers"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let got = samples(&text);
    let differ: Vec<String> = expected
        .iter()
        .filter(|(name, value)| got.get(*name) != Some(value))
        .map(|(name, value)| format!("{name}: mmi.stats {value}, scraped {:?}", got.get(name)))
        .collect();
    assert!(
        differ.is_empty(),
        "the scrape differs from mmi.stats:\n{}",
        differ.join("\n")
    );
    // The traffic is there.
    let escaped = "service=\"no\\\"body\\\\\"";
    for (metric, value) in [
        ("mdp_requests_total".to_owned(), 8.0),
        (
            "mdp_service_replies_total{service=\"echo\"}".to_owned(),
            5.0,
        ),
        ("mdp_refusals_total{code=\"413\"}".to_owned(), 1.0),
        ("mdp_refusals_total{code=\"503\"}".to_owned(), 1.0),
        (
            format!("mdp_service_refusals_total{{{escaped},code=\"503\"}}"),
            1.0,
        ),
        (format!("mdp_service_queued_requests{{{escaped}}}"), 1.0),
        ("mdp_queued_requests".to_owned(), 1.0),
        ("mdp_workers".to_owned(), 1.0),
        ("mdp_services".to_owned(), 2.0),
    ] {
        assert_eq!(
            expected.get(&metric),
            Some(&value),
            "{metric} in {expected:#?}"
        );
    }
    assert!(text.contains("# TYPE mdp_held_bytes gauge"), "{text}");
    assert!(text.contains("mdp_stats_age_seconds "), "{text}");
    promtool_check(&text);

    // OpenMetrics for a scraper that asks for it.
    let (kind, open) = scrape(
        &broker.metrics,
        Some("application/openmetrics-text; version=1.0.0"),
    );
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(open.contains("# UNIT mdp_held_bytes bytes"), "{open}");
    // Anything but /metrics is 404.
    let missing = ureq::get(&broker.metrics.replace("/metrics", "/nothing")).call();
    assert!(
        matches!(missing, Err(ureq::Error::StatusCode(404))),
        "{missing:?}"
    );

    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
}
