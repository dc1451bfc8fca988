//! `mdp`: a Majordomo command-line tool for operators — call a service, ask MMI, run an echo
//! worker.
//!
//! ```text
//! mdp call echo "hello" "world" --broker tcp://localhost:5555
//! mdp mmi service echo              # prints 200 or 404
//! mdp stats --watch 2               # mmi.stats as a table, every 2 s
//! mdp worker echo                   # serves "echo" until Ctrl-C
//! mdp cert workers/echo-1 --services echo   # a worker key pair for mdp-broker --worker-certs
//! ```

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use mdp::{Client, ClientConfig, Worker, WorkerConfig};
use zmsg::{ZCert, ZMsg};

#[derive(Parser, Debug)]
#[command(
    name = "mdp",
    version,
    about = "Majordomo (MDP/0.1) client and worker tool"
)]
struct Cli {
    /// Log protocol activity (tracing at debug level; RUST_LOG overrides).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Debug, Clone)]
struct Conn {
    /// The broker endpoint.
    #[arg(long, short = 'b', default_value = "tcp://localhost:5555")]
    broker: String,
    /// The broker's CURVE public key (Z85, 40 characters), for a CURVE broker.
    /// Z85 keys may begin with `-`; `--server-key=KEY` and `--server-key KEY` both work.
    #[arg(long, allow_hyphen_values = true)]
    server_key: Option<String>,
    /// Our own CURVE certificate (CZMQ layout: FILE and FILE_secret), for a broker that admits
    /// only known keys (--zap-certs, --worker-certs); without it a new key is made per run.
    #[arg(long, value_name = "FILE", requires = "server_key")]
    cert: Option<std::path::PathBuf>,
}

impl Conn {
    fn server_key(&self) -> anyhow::Result<Option<[u8; 32]>> {
        let Some(text) = &self.server_key else {
            return Ok(None);
        };
        let raw = zmsg::z85::decode(text.trim()).context("--server-key is not valid Z85")?;
        let key: [u8; 32] = raw
            .try_into()
            .map_err(|_| anyhow::anyhow!("--server-key must be a 40-character Z85 key"))?;
        Ok(Some(key))
    }

    fn cert(&self) -> anyhow::Result<Option<ZCert>> {
        let Some(path) = &self.cert else {
            return Ok(None);
        };
        let cert =
            ZCert::load(path).with_context(|| format!("loading --cert {}", path.display()))?;
        anyhow::ensure!(
            !cert.is_public_only(),
            "--cert {}: no secret key (expected {})",
            path.display(),
            zmsg::cert::secret_path(path).display()
        );
        Ok(Some(cert))
    }

    fn client(&self, timeout_ms: u64, retries: u32) -> anyhow::Result<Client> {
        let config = ClientConfig {
            timeout: Duration::from_millis(timeout_ms),
            retries,
            curve_server_key: self.server_key()?,
            curve_cert: self.cert()?,
            ..ClientConfig::default()
        };
        Ok(Client::connect(&self.broker, config)?)
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Send one request to SERVICE and print the reply, one frame per line.
    Call {
        /// The service name.
        service: String,
        /// Body frames (text); none sends one empty frame.
        body: Vec<String>,
        #[command(flatten)]
        conn: Conn,
        /// How long to wait for the reply, per try.
        #[arg(long, default_value_t = 2500)]
        timeout_ms: u64,
        /// How many times to send the request in all.
        #[arg(long, default_value_t = 3)]
        retries: u32,
        /// Ask mmi.service first and fail at once if no worker serves SERVICE.
        #[arg(long)]
        check: bool,
    },
    /// Ask the broker's management interface (RFC 8).
    Mmi {
        #[command(subcommand)]
        query: MmiQuery,
    },
    /// Print the broker's counters (`mmi.stats`) as a table: one row per service, the total,
    /// and the broker-wide numbers.
    Stats {
        #[command(flatten)]
        conn: Conn,
        /// How long to wait for each answer.
        #[arg(long, default_value_t = 2500)]
        timeout_ms: u64,
        /// Refresh every N seconds until Ctrl-C (the screen is cleared on a terminal).
        #[arg(long, value_name = "N")]
        watch: Option<f64>,
    },
    /// Run a worker.
    Worker {
        #[command(subcommand)]
        kind: WorkerKind,
    },
    /// Make a CURVE key pair: FILE (public, for the broker's --zap-certs or --worker-certs
    /// directory) and FILE_secret (private, for --cert), and print the public key.
    Cert {
        /// Where to save the certificate (never overwritten).
        file: std::path::PathBuf,
        /// A `name` metadata entry (shown in logs).
        #[arg(long)]
        name: Option<String>,
        /// The services this key may serve as a worker (`services` metadata, e.g. "echo, db.*").
        #[arg(long)]
        services: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum MmiQuery {
    /// Print 200 if a worker serves NAME, 404 if none does (exit status 0 / 1).
    Service {
        /// The service to look up.
        name: String,
        #[command(flatten)]
        conn: Conn,
        /// How long to wait for the answer, per try.
        #[arg(long, default_value_t = 2500)]
        timeout_ms: u64,
    },
}

#[derive(Subcommand, Debug)]
enum WorkerKind {
    /// Serve SERVICE (default "echo") by sending every request back unchanged, until Ctrl-C.
    Echo {
        /// The service name to register.
        #[arg(long, default_value = "echo")]
        service: String,
        #[command(flatten)]
        conn: Conn,
        /// Heartbeat interval; must match the broker's.
        #[arg(long, default_value_t = mdp::protocol::DEFAULT_HEARTBEAT_MS)]
        heartbeat_ms: u64,
        /// Ask the broker for up to N requests at once (a zmsg extension; 1 = plain MDP/0.1).
        #[arg(long, value_name = "N", default_value_t = 1)]
        credit: u32,
        /// Stop after this many requests.
        #[arg(long, short = 'n')]
        count: Option<u64>,
    },
}

fn print_frames(msg: &ZMsg) {
    for frame in msg.iter() {
        match frame.to_str() {
            Ok(text) if !text.chars().any(|c| c.is_control() && c != '\t') => println!("{text}"),
            _ => println!(
                "0x{}",
                frame
                    .data()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Call {
            service,
            body,
            conn,
            timeout_ms,
            retries,
            check,
        } => {
            let mut client = conn.client(timeout_ms, retries)?;
            let request: ZMsg = body.into_iter().collect();
            let reply = if check {
                client.call_checked(&service, request)
            } else {
                client.send(&service, request)
            }
            .with_context(|| format!("calling {service:?} at {}", conn.broker))?;
            print_frames(&reply);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Cert {
            file,
            name,
            services,
        } => {
            let secret = zmsg::cert::secret_path(&file);
            for path in [&file, &secret] {
                anyhow::ensure!(
                    !path.exists(),
                    "{} exists: not overwriting it",
                    path.display()
                );
            }
            let mut cert = ZCert::new()?;
            if let Some(name) = name {
                cert.set_meta("name", &name);
            }
            if let Some(services) = services {
                cert.set_meta(mdp::broker::SERVICES_METADATA, &services);
            }
            cert.save(&file)
                .with_context(|| format!("saving {}", file.display()))?;
            println!("{}", cert.public_txt());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Mmi {
            query:
                MmiQuery::Service {
                    name,
                    conn,
                    timeout_ms,
                },
        } => {
            let mut client = conn.client(timeout_ms, 1)?;
            let code = client
                .mmi("mmi.service", &name)
                .with_context(|| format!("asking mmi.service at {}", conn.broker))?;
            println!("{code}");
            Ok(if code == "200" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Stats {
            conn,
            timeout_ms,
            watch,
        } => {
            let mut client = conn.client(timeout_ms, 1)?;
            let Some(every) = watch else {
                print!("{}", stats_table(&mut client, &conn.broker)?);
                return Ok(ExitCode::SUCCESS);
            };
            let every = Duration::try_from_secs_f64(every)
                .ok()
                .filter(|d| !d.is_zero())
                .context("--watch takes a number of seconds greater than 0")?;
            let clear = std::io::stdout().is_terminal();
            loop {
                let table = stats_table(&mut client, &conn.broker)?;
                let mut out = std::io::stdout().lock();
                if clear {
                    write!(out, "\x1b[2J\x1b[H")?;
                }
                writeln!(out, "{table}")?;
                out.flush()?;
                drop(out);
                std::thread::sleep(every);
            }
        }
        Cmd::Worker {
            kind:
                WorkerKind::Echo {
                    service,
                    conn,
                    heartbeat_ms,
                    credit,
                    count,
                },
        } => {
            zmsg::install_interrupt_handler()?;
            let config = WorkerConfig {
                heartbeat: Duration::from_millis(heartbeat_ms),
                curve_server_key: conn.server_key()?,
                curve_cert: conn.cert()?,
                credit,
                ..WorkerConfig::default()
            };
            let mut worker = Worker::connect(&conn.broker, &service, config)?;
            eprintln!("I: worker {service:?} registered with {}", conn.broker);
            let mut served = 0u64;
            while count != Some(served) {
                let mut request = match worker.recv() {
                    Ok(request) => request,
                    Err(mdp::Error::Interrupted) => {
                        eprintln!("W: interrupt received, stopping worker");
                        break;
                    }
                    Err(err) => return Err(err.into()),
                };
                let body = request.take_body();
                match worker.reply(&request, body) {
                    Ok(()) => served += 1,
                    Err(err) if err.is_transient() => eprintln!("W: reply dropped: {err}"),
                    Err(err) => return Err(err.into()),
                }
            }
            eprintln!("I: served {served} request(s)");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One `mmi.stats` answer: `key=value` frames after `200`, in order; `None` for `404`.
fn mmi_stats(client: &mut Client, name: &str) -> anyhow::Result<Option<Vec<(String, u64)>>> {
    let reply = client
        .send("mmi.stats", ZMsg::from_iter([name]))
        .context("asking mmi.stats")?;
    let mut frames = reply
        .iter()
        .map(|f| String::from_utf8_lossy(f.data()).into_owned());
    match frames.next().as_deref() {
        Some("200") => {}
        Some("404") => return Ok(None),
        other => anyhow::bail!("mmi.stats answered {other:?}"),
    }
    frames
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .context("mmi.stats: a frame is not key=value")?;
            Ok((
                k.to_owned(),
                v.parse().context("mmi.stats: a value is not a number")?,
            ))
        })
        .collect::<anyhow::Result<_>>()
        .map(Some)
}

/// The columns of the table: header and `mmi.stats` key.
const COLUMNS: &[(&str, &str)] = &[
    ("WORKERS", "workers"),
    ("QUEUED", "queued"),
    ("REQUESTS", "requests"),
    ("REPLIES", "replies"),
    ("REFUSED", "refused"),
    ("DROPS", "drops"),
    ("RESENDS", "resends"),
    ("EXPIRED", "expiries"),
    ("TIMEOUTS", "request_timeouts"),
    ("ABANDONED", "abandoned"),
    ("DISCONNECTS", "disconnects"),
];

/// `mmi.stats` of the broker and of every service it tracks (`mmi.known`), as a table.
fn stats_table(client: &mut Client, broker: &str) -> anyhow::Result<String> {
    let total = mmi_stats(client, "")?.context("mmi.stats answered 404 for all services")?;
    let known = client
        .send("mmi.known", ZMsg::from_iter([""]))
        .context("asking mmi.known")?;
    let mut rows: Vec<(String, Vec<(String, u64)>)> = Vec::new();
    for name in known.iter().skip(1) {
        let name = String::from_utf8_lossy(name.data()).into_owned();
        // A service forgotten since mmi.known answered is left out.
        if let Some(stats) = mmi_stats(client, &name)? {
            let shown = if name.chars().any(char::is_control) {
                name.escape_debug().to_string()
            } else {
                name
            };
            rows.push((shown, stats));
        }
    }
    rows.push(("(total)".to_owned(), total.clone()));
    let value = |stats: &[(String, u64)], key: &str| {
        stats
            .iter()
            .find(|(k, _)| k == key)
            .map_or("-".to_owned(), |(_, v)| v.to_string())
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(name, stats)| {
            std::iter::once(name.clone())
                .chain(COLUMNS.iter().map(|(_, key)| value(stats, key)))
                .collect()
        })
        .collect();
    let header: Vec<&str> = std::iter::once("SERVICE")
        .chain(COLUMNS.iter().map(|(h, _)| *h))
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("mdp-broker at {broker}: {} services\n", rows.len() - 1);
    let line = |out: &mut String, row: &[&str]| {
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("{cell:<w$}", w = widths[0]));
            } else {
                out.push_str(&format!("  {cell:>w$}", w = widths[i]));
            }
        }
        out.push('\n');
    };
    line(&mut out, &header);
    for row in &cells {
        line(
            &mut out,
            &row.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    // Everything else the total reports: refusals by code, gauges, broker-wide counters.
    let shown: Vec<&str> = COLUMNS.iter().map(|(_, key)| *key).collect();
    let rest: Vec<String> = total
        .iter()
        .filter(|(k, _)| !shown.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for chunk in rest.chunks(8) {
        out.push_str(&format!("  {}\n", chunk.join(" ")));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = if cli.verbose { "debug" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if let Some(mdp::Error::Interrupted) = err.downcast_ref::<mdp::Error>() {
                return ExitCode::from(130);
            }
            eprintln!("E: {err:#}");
            if bail_hint(&err) {
                eprintln!("   is the broker running? (mdp-broker --bind tcp://*:5555)");
            }
            ExitCode::from(2)
        }
    }
}

fn bail_hint(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<mdp::Error>(),
        Some(mdp::Error::Timeout | mdp::Error::BrokerGone(_))
    )
}
