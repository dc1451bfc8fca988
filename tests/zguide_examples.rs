//! Smoke tests for the zguide ports in `examples/`: each test runs the real example binaries (with
//! their partner programs), bounded in time, and checks what they print.
//!
//! The examples keep the originals' fixed TCP ports (5555, 5556, ...), so every test that uses a
//! TCP port holds `fixed_ports()` while its programs run; ipc examples run in a temporary directory
//! of their own.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// The longest any single wait in these tests may take before the test fails.
const LIMIT: Duration = Duration::from_secs(60);

/// Builds the examples once per test run and returns the directory holding their binaries.
fn examples_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = support::workspace_root();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--examples", "--quiet"])
            .current_dir(&root)
            .status()
            .expect("cannot run cargo");
        assert!(status.success(), "cargo build --examples failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|dir| {
                if dir.is_relative() {
                    root.join(dir)
                } else {
                    dir
                }
            })
            .unwrap_or_else(|| root.join("target"));
        target.join("debug").join("examples")
    })
    .clone()
}

/// Serialises the tests whose examples bind the guide's fixed TCP ports.
fn fixed_ports() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running example. Dropping it kills the process, so nothing outlives a failed test.
struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(&mut from);
        let mut chunk = Vec::new();
        // Read up to each '.' or newline so progress dots show up as they are printed.
        while let Ok(n) = reader.read_until(b'\n', &mut chunk) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk));
            chunk.clear();
        }
    })
}

impl Proc {
    fn spawn(name: &str, args: &[&str]) -> Proc {
        Self::spawn_in(name, args, None)
    }

    fn spawn_in(name: &str, args: &[&str], dir: Option<&Path>) -> Proc {
        let mut command = Command::new(examples_dir().join(name));
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start example {name}: {err}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Proc {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            readers,
        }
    }

    fn output(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn describe(&self) -> String {
        format!(
            "{}: stdout:\n{}\nstderr:\n{}",
            self.name,
            self.output(),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits until the program has printed `needle` `times` times.
    fn wait_for(&self, needle: &str, times: usize) {
        let found = support::wait_until(LIMIT, || self.output().matches(needle).count() >= times);
        assert!(
            found,
            "{needle:?} x{times} never came from {}",
            self.describe()
        );
    }

    /// Waits until the program's output satisfies `condition`.
    fn wait_until(&self, what: &str, condition: impl Fn(&str) -> bool) {
        let found = support::wait_until(LIMIT, || condition(&self.output()));
        assert!(found, "never saw {what} from {}", self.describe());
    }

    /// Types a line on the program's standard input.
    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Sends SIGINT, as Ctrl-C does.
    fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Whether the program exits within `limit` (it is left running otherwise).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn exits_within(&mut self, limit: Duration) -> bool {
        support::wait_until(limit, || matches!(self.child.try_wait(), Ok(Some(_))))
    }

    /// Waits for the program to exit on its own and returns its status and standard output.
    fn finish(mut self) -> (ExitStatus, String) {
        let mut status = None;
        let exited = support::wait_until(LIMIT, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        assert!(
            exited,
            "{} did not exit in time; {}",
            self.name,
            self.describe()
        );
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status.expect("exited"), self.output())
    }

    /// Waits for a successful exit and returns the standard output.
    fn success(self) -> String {
        let name = self.name.clone();
        let stderr = self.stderr.clone();
        let (status, output) = self.finish();
        assert!(
            status.success(),
            "{name} failed with {status}; stdout:\n{output}\nstderr:\n{}",
            stderr.lock().unwrap()
        );
        output
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count_lines(output: &str, prefix: &str) -> usize {
    output
        .lines()
        .filter(|line| line.starts_with(prefix))
        .count()
}

// ---- Chapter 1 ----

#[test]
fn version() {
    let output = Proc::spawn("version", &[]).success();
    assert_eq!(output.trim(), "Current 0MQ version is 4.3.5");
}

#[test]
fn hwclient_hwserver() {
    let _ports = fixed_ports();
    let server = Proc::spawn("hwserver", &["10", "0"]);
    let client = Proc::spawn("hwclient", &[]).success();
    assert_eq!(count_lines(&client, "Received World "), 10, "{client}");
    assert!(client.contains("Received World 9"), "{client}");
    let served = server.success();
    assert_eq!(count_lines(&served, "Received Hello"), 10, "{served}");
}

/// The tokio ports of hwserver/hwclient, with each other and with the blocking ports.
#[cfg(unix)]
#[test]
fn async_hwclient_async_hwserver() {
    let _ports = fixed_ports();
    for (server, client) in [
        ("async_hwserver", "async_hwclient"),
        ("hwserver", "async_hwclient"),
        ("async_hwserver", "hwclient"),
    ] {
        let served = Proc::spawn(server, &["10", "0"]);
        let client = Proc::spawn(client, &[]).success();
        assert_eq!(count_lines(&client, "Received World "), 10, "{client}");
        assert!(client.contains("Received World 9"), "{client}");
        let served = served.success();
        assert_eq!(count_lines(&served, "Received Hello"), 10, "{served}");
    }
}

#[test]
fn wuclient_wuserver() {
    let _ports = fixed_ports();
    let _server = Proc::spawn("wuserver", &["60"]);
    // Zipcodes starting with "1" are a tenth of all updates, so 100 come quickly.
    let client = Proc::spawn("wuclient", &["1"]).success();
    let line = client
        .lines()
        .find(|line| line.starts_with("Average temperature for zipcode '1' was "))
        .unwrap_or_else(|| panic!("no average in {client}"));
    let average: i32 = line
        .trim_start_matches("Average temperature for zipcode '1' was ")
        .trim_end_matches('F')
        .parse()
        .expect("a number");
    assert!((-80..135).contains(&average), "{line}");
}

#[test]
fn taskvent_taskwork_tasksink() {
    let _ports = fixed_ports();
    let sink = Proc::spawn("tasksink", &[]);
    let _workers: Vec<_> = (0..3).map(|_| Proc::spawn("taskwork", &[])).collect();
    let mut vent = Proc::spawn("taskvent", &[]);
    vent.wait_for("Press Enter", 1);
    vent.type_line("");
    let vent = vent.success();
    assert!(vent.contains("Total expected cost: "), "{vent}");
    let sink = sink.success();
    assert_eq!(sink.matches(':').count(), 10 + 1, "{sink}"); // ten ':' marks + "time:"
    assert!(sink.contains("Total elapsed time: "), "{sink}");
}

fn multi_socket_reader(name: &str) {
    let _ports = fixed_ports();
    let reader = Proc::spawn(name, &["100"]);
    let mut vent = Proc::spawn("taskvent", &[]);
    vent.wait_for("Press Enter", 1);
    vent.type_line("");
    let output = reader.success();
    assert_eq!(count_lines(&output, "Task: "), 100, "{output}");
    vent.success();
}

#[test]
fn msreader() {
    multi_socket_reader("msreader");
}

#[test]
fn mspoller() {
    multi_socket_reader("mspoller");
}

#[test]
fn interrupt() {
    let _ports = fixed_ports();
    let server = Proc::spawn("interrupt", &[]);
    let client = Proc::spawn("hwclient", &[]).success();
    assert_eq!(count_lines(&client, "Received World "), 10, "{client}");
    server.wait_for("W: recv", 10);
    server.interrupt();
    let (status, output) = server.finish();
    assert!(status.success(), "{status}: {output}");
    assert!(
        output.contains("W: interrupt received, killing server..."),
        "{output}"
    );
    assert!(output.ends_with("W: cleaning up\n"), "{output}");
}

fn request_reply_broker(broker: &str) {
    let _ports = fixed_ports();
    let _broker = Proc::spawn(broker, &[]);
    let _workers: Vec<_> = (0..2)
        .map(|_| Proc::spawn("rrworker", &["1000", "0"]))
        .collect();
    let client = Proc::spawn("rrclient", &[]).success();
    assert_eq!(count_lines(&client, "Received reply "), 10, "{client}");
    assert!(client.contains("Received reply 9 [World]"), "{client}");
}

#[test]
fn rrclient_rrbroker_rrworker() {
    request_reply_broker("rrbroker");
}

#[test]
fn msgqueue() {
    request_reply_broker("msgqueue");
}

#[test]
fn rrbroker_and_msgqueue_end_after_their_time() {
    let _ports = fixed_ports();
    Proc::spawn("rrbroker", &["1"]).success();
    Proc::spawn("msgqueue", &["1"]).success();
}

#[test]
fn wuproxy() {
    let _ports = fixed_ports();
    let _server = Proc::spawn("wuserver", &["60"]);
    let _proxy = Proc::spawn("wuproxy", &["tcp://localhost:5556", "tcp://*:8100"]);
    let client = Proc::spawn("wuclient", &["2", "tcp://localhost:8100"]).success();
    assert!(
        client.contains("Average temperature for zipcode '2' was "),
        "{client}"
    );
}

#[test]
fn taskwork2_tasksink2() {
    let _ports = fixed_ports();
    let sink = Proc::spawn("tasksink2", &[]);
    let workers: Vec<_> = (0..3).map(|_| Proc::spawn("taskwork2", &[])).collect();
    let mut vent = Proc::spawn("taskvent", &[]);
    vent.wait_for("Press Enter", 1);
    vent.type_line("");
    vent.success();
    let sink = sink.success();
    assert!(sink.contains("Total elapsed time: "), "{sink}");
    // The sink's KILL ends every worker.
    for worker in workers {
        let output = worker.success();
        assert!(output.ends_with("Killed\n"), "{output}");
    }
}

// ---- Chapter 2 ----

#[test]
fn mtserver() {
    let _ports = fixed_ports();
    let server = Proc::spawn("mtserver", &["0"]);
    let client = Proc::spawn("hwclient", &[]).success();
    assert_eq!(count_lines(&client, "Received World "), 10, "{client}");
    server.wait_for("Received request: [Hello]", 10);
    server.interrupt();
    server.success();
    // Bounded by time, it ends by itself.
    Proc::spawn("mtserver", &["0", "1"]).success();
}

#[test]
fn mtrelay() {
    let output = Proc::spawn("mtrelay", &[]).success();
    assert_eq!(
        output,
        "Step 1 ready, signaling step 2\nStep 2 ready, signaling step 3\nTest successful!\n"
    );
}

#[test]
fn syncpub_syncsub() {
    let _ports = fixed_ports();
    let publisher = Proc::spawn("syncpub", &["3", "10000"]);
    // Bound before it says so: a subscriber's one-second wait for its subscription then starts
    // with the publisher there, however slowly the publisher started.
    publisher.wait_for("Waiting for subscribers", 1);
    let subscribers: Vec<_> = (0..3).map(|_| Proc::spawn("syncsub", &[])).collect();
    for subscriber in subscribers {
        assert_eq!(subscriber.success(), "Received 10000 updates\n");
    }
    let output = publisher.success();
    assert_eq!(output, "Waiting for subscribers\nBroadcasting messages\n");
}

#[test]
fn psenvpub_psenvsub() {
    let _ports = fixed_ports();
    let _publisher = Proc::spawn("psenvpub", &["1000", "50"]);
    let output = Proc::spawn("psenvsub", &["3"]).success();
    assert_eq!(output, "[B] We would like to see this\n".repeat(3));
}

// ---- Chapter 3 ----

#[test]
fn identity() {
    let output = Proc::spawn("identity", &[]).success();
    let dumps: Vec<&str> = output
        .split("----------------------------------------\n")
        .filter(|dump| !dump.is_empty())
        .collect();
    assert_eq!(dumps.len(), 2, "{output}");
    // A generated routing id is 5 bytes, starting with a zero byte.
    assert!(dumps[0].starts_with("[005] 00"), "{output}");
    assert!(
        dumps[0].ends_with("[000] \n[039] ROUTER uses a generated 5 byte identity\n"),
        "{output}"
    );
    assert_eq!(
        dumps[1],
        "[005] PEER2\n[000] \n[040] ROUTER socket uses REQ's socket identity\n"
    );
}

fn router_to_workers(name: &str) {
    let _ports = fixed_ports();
    let output = Proc::spawn(name, &["1"]).success();
    assert_eq!(count_lines(&output, "Completed: "), 10, "{output}");
    let total: u32 = output
        .lines()
        .filter_map(|line| line.strip_prefix("Completed: "))
        .map(|rest| {
            rest.trim_end_matches(" tasks")
                .parse::<u32>()
                .expect("a count")
        })
        .sum();
    assert!(total > 0, "{output}");
}

#[test]
fn rtreq() {
    router_to_workers("rtreq");
}

#[test]
fn rtdealer() {
    router_to_workers("rtdealer");
}

/// Runs `name` in a fresh directory (its ipc files go there) and returns its output.
fn run_in_tempdir(name: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    Proc::spawn_in(name, args, Some(dir.path())).success()
}

#[test]
fn lbbroker() {
    let output = run_in_tempdir("lbbroker", &[]);
    assert_eq!(count_lines(&output, "Client: OK"), 10, "{output}");
    assert_eq!(count_lines(&output, "Worker: HELLO"), 10, "{output}");
}

#[test]
fn lbbroker2() {
    let output = run_in_tempdir("lbbroker2", &[]);
    assert_eq!(count_lines(&output, "Client: OK"), 10, "{output}");
    assert_eq!(count_lines(&output, "Worker: [005] HELLO"), 10, "{output}");
}

#[test]
fn lbbroker3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Proc::spawn_in("lbbroker3", &[], Some(dir.path()));
    // Every client sends a request at once and another each second.
    broker.wait_for("Client: OK", 20);
    broker.interrupt();
    let output = broker.success();
    assert!(count_lines(&output, "Client: OK") >= 20, "{output}");
    assert!(
        count_lines(&output, "Worker: [005] HELLO") >= 10,
        "{output}"
    );
    assert!(
        count_lines(&output, "Client: OK") <= count_lines(&output, "Worker: [005] HELLO"),
        "{output}"
    );
    // Bounded by time, it stops by itself.
    run_in_tempdir("lbbroker3", &["1"]);
}

#[test]
fn asyncsrv() {
    let _ports = fixed_ports();
    let server = Proc::spawn("asyncsrv", &["600"]);
    server.wait_until("three replies", |output| {
        output.matches(" request #").count() >= 3
    });
    server.interrupt();
    let output = server.success();
    // Replies come back as "<client id> [nnn] request #<n>", to the client that asked.
    for reply in output.lines() {
        let (id, content) = reply.split_once(' ').expect("id and content");
        assert_eq!(id.len(), 9, "{reply}");
        assert!(
            content.starts_with("[01") && content.contains("] request #"),
            "{reply}"
        );
    }
    // Bounded by time, it stops by itself.
    Proc::spawn("asyncsrv", &["1"]).success();
}

#[test]
fn peering1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dc1 = Proc::spawn_in("peering1", &["DC1", "DC2"], Some(dir.path()));
    let dc2 = Proc::spawn_in("peering1", &["DC2", "DC1"], Some(dir.path()));
    // Each hears the other's state: "DC2 - <n> workers free"
    dc1.wait_for(" workers free", 1);
    dc2.wait_for(" workers free", 1);
    dc1.interrupt();
    dc2.interrupt();
    let (out1, out2) = (dc1.success(), dc2.success());
    assert!(
        out1.starts_with("I: preparing broker at DC1...\n"),
        "{out1}"
    );
    assert!(
        out1.contains("I: connecting to state backend at 'DC2'"),
        "{out1}"
    );
    let heard = |output: &str, peer: &str| {
        output
            .lines()
            .filter(|l| l.ends_with(" workers free"))
            .all(|l| {
                let free = l
                    .trim_start_matches(&format!("{peer} - "))
                    .trim_end_matches(" workers free");
                l.starts_with(&format!("{peer} - ")) && free.parse::<u32>().is_ok_and(|n| n < 10)
            })
    };
    assert!(heard(&out1, "DC2"), "{out1}");
    assert!(heard(&out2, "DC1"), "{out2}");
    // Bounded by time, it stops by itself; without arguments it explains itself.
    Proc::spawn_in("peering1", &["--seconds", "1", "DC3"], Some(dir.path())).success();
    assert!(Proc::spawn("peering1", &[])
        .success()
        .starts_with("syntax: peering1"));
}

#[test]
fn peering2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut dc1 = Proc::spawn_in("peering2", &["DC1", "DC2"], Some(dir.path()));
    let mut dc2 = Proc::spawn_in("peering2", &["DC2", "DC1"], Some(dir.path()));
    dc1.wait_for("Press Enter", 1);
    dc2.wait_for("Press Enter", 1);
    dc1.type_line("");
    dc2.type_line("");
    // Every client gets answers; a fifth of the requests go to the other broker's workers.
    for dc in [&dc1, &dc2] {
        dc.wait_for("Client: OK", 20);
        dc.wait_for("Worker: [005] HELLO", 20);
    }
    dc1.interrupt();
    dc2.interrupt();
    for (name, output) in [("DC1", dc1.success()), ("DC2", dc2.success())] {
        assert!(
            output.contains(&format!("I: preparing broker at {name}...")),
            "{output}"
        );
    }
    // Bounded by time, it stops by itself.
    let mut alone = Proc::spawn_in("peering2", &["--seconds", "1", "DC3"], Some(dir.path()));
    alone.type_line("");
    alone.success();
}

#[test]
fn peering3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dc1 = Proc::spawn_in("peering3", &["DC1", "DC2"], Some(dir.path()));
    let dc2 = Proc::spawn_in("peering3", &["DC2", "DC1"], Some(dir.path()));
    // The monitor prints each task id a client got back.
    let is_task_id = |line: &str| line.len() == 4 && line.chars().all(|c| c.is_ascii_hexdigit());
    for dc in [&dc1, &dc2] {
        dc.wait_until("completed tasks", |output| {
            output.lines().filter(|line| is_task_id(line)).count() >= 5
        });
    }
    dc1.interrupt();
    dc2.interrupt();
    for output in [dc1.success(), dc2.success()] {
        assert!(!output.contains("E: CLIENT EXIT"), "{output}");
    }
    // Bounded by time, it stops by itself.
    Proc::spawn_in("peering3", &["--seconds", "1", "DC3"], Some(dir.path())).success();
}

// ---- Ctrl-C ----

/// True once the process has a handler for SIGINT (read from /proc, so Linux only).
#[cfg(target_os = "linux")]
fn catches_sigint(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0) // SIGINT is signal 2
}

/// Every example that would run forever (or wait for partners) ends cleanly on Ctrl-C.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_ends_every_long_running_example() {
    let _ports = fixed_ports();
    let dir = tempfile::tempdir().expect("tempdir");
    let table: &[(&str, &[&str])] = &[
        ("hwserver", &[]),
        ("hwclient", &[]),
        ("async_hwserver", &[]),
        ("async_hwclient", &[]),
        ("wuserver", &[]),
        ("wuclient", &[]),
        ("taskvent", &[]),
        ("taskwork", &[]),
        ("tasksink", &[]),
        ("msreader", &[]),
        ("mspoller", &[]),
        ("rrclient", &[]),
        ("rrworker", &[]),
        ("rrbroker", &[]),
        ("msgqueue", &[]),
        ("wuproxy", &[]),
        ("taskwork2", &[]),
        ("tasksink2", &[]),
        ("interrupt", &[]),
        ("mtserver", &[]),
        ("syncpub", &[]),
        ("syncsub", &[]),
        ("psenvpub", &[]),
        ("psenvsub", &[]),
        ("rtreq", &["600"]),
        ("rtdealer", &["600"]),
        ("lbbroker3", &[]),
        ("asyncsrv", &["600"]),
        ("peering1", &["DC1", "DC2"]),
        ("peering2", &["DC1", "DC2"]),
        ("peering3", &["DC1", "DC2"]),
    ];
    for &(name, args) in table {
        let mut program = Proc::spawn_in(name, args, Some(dir.path()));
        let pid = program.child.id();
        assert!(
            support::wait_until(LIMIT, || catches_sigint(pid)),
            "{name} never installed its handler"
        );
        program.interrupt();
        // As in C, a signal that lands in the few instructions between a program's check of the
        // interrupted flag and its next blocking call is only seen by the next signal: a user
        // who presses Ctrl-C again. So give it a second one if the first went unseen for long.
        if !program.exits_within(Duration::from_secs(10)) {
            program.interrupt();
        }
        let (status, output) = program.finish();
        assert!(
            status.success(),
            "{name} ended with {status} on Ctrl-C: {output}"
        );
    }
}

/// A send that blocks (a bound PUSH with no worker yet) ends on Ctrl-C too.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_ends_a_blocked_send() {
    let _ports = fixed_ports();
    let mut vent = Proc::spawn("taskvent", &[]);
    vent.wait_for("Press Enter", 1);
    vent.type_line("");
    vent.wait_for("Sending tasks to workers...", 1);
    vent.interrupt();
    if !vent.exits_within(Duration::from_secs(10)) {
        vent.interrupt(); // See ctrl_c_ends_every_long_running_example.
    }
    let (status, output) = vent.finish();
    assert!(status.success(), "{status}: {output}");
    assert!(!output.contains("Total expected cost"), "{output}");
}

// ---- Chapter 4 (Majordomo) and zmsg's own examples ----

#[test]
fn mdbroker_mdworker_mdclient_mdclient2_mmiecho() {
    let _ports = fixed_ports();
    let broker = Proc::spawn("mdbroker", &["60"]);
    broker.wait_until("the broker's start-up line", |out| !out.is_empty());
    // Two workers: 5 sync + 20 async requests need 25 replies in all; the workers stop on
    // Ctrl-C below.
    let workers = [Proc::spawn("mdworker", &[]), Proc::spawn("mdworker", &[])];
    let lookup = Proc::spawn("mmiecho", &[]).success();
    // A worker may not have registered yet when the lookup runs: 200 or 404, never an error.
    assert!(
        lookup.contains("Lookup echo service: 200") || lookup.contains("Lookup echo service: 404"),
        "{lookup}"
    );
    // mdclient gives up after three 2.5 s tries: let a worker register first, however slowly
    // the workers start.
    assert!(
        support::wait_until(LIMIT, || Proc::spawn("mmiecho", &[])
            .success()
            .contains("Lookup echo service: 200")),
        "the echo service never registered"
    );
    let client = Proc::spawn("mdclient", &["5"]).success();
    assert!(client.contains("5 requests/replies processed"), "{client}");
    let client2 = Proc::spawn("mdclient2", &["20"]).success();
    assert!(client2.contains("20 replies received"), "{client2}");
    let lookup = Proc::spawn("mmiecho", &[]).success();
    assert!(lookup.contains("Lookup echo service: 200"), "{lookup}");
    let mut served = 0;
    for worker in workers {
        worker.interrupt();
        let output = worker.success();
        let line = output
            .lines()
            .find(|line| line.starts_with("I: ") && line.ends_with("requests served"))
            .unwrap_or_else(|| panic!("no summary from mdworker: {output}"));
        served += line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("bad summary {line:?}"));
    }
    // At least once each (the sync client's Lazy Pirate retry may resend one on a slow machine).
    assert!(served >= 25, "{served} requests served, 25 sent");
    broker.interrupt();
    broker.success();
}

/// zmsg's async Majordomo pair: an async worker (32 requests at once) and an async client that
/// pipelines its requests, through the mdbroker port.
#[cfg(unix)]
#[test]
fn async_mdworker_and_async_mdclient() {
    let _ports = fixed_ports();
    let broker = Proc::spawn("mdbroker", &["60"]);
    broker.wait_until("the broker's start-up line", |out| !out.is_empty());
    let worker = Proc::spawn("async_mdworker", &["--delay-ms", "1"]);
    // The client's requests wait at the broker until the worker registers.
    let client = Proc::spawn("async_mdclient", &["2000"]).success();
    assert!(client.contains("2000 replies received"), "{client}");
    worker.interrupt();
    let output = worker.success();
    assert!(output.contains("I: 2000 requests served"), "{output}");
    broker.interrupt();
    broker.success();
}

#[test]
fn tripping() {
    let _ports = fixed_ports();
    let output = Proc::spawn("tripping", &["200", "2000"]).success();
    for line in [
        "Synchronous round-trip test...",
        "Asynchronous round-trip test...",
    ] {
        assert!(output.contains(line), "{output}");
    }
}

#[test]
fn curve_reqrep() {
    let output = Proc::spawn("curve_reqrep", &[]).success();
    assert!(output.contains("client got 42 (ok)"), "{output}");
    assert!(
        output.contains("client with the wrong server key: rejected, nothing delivered"),
        "{output}"
    );
}
