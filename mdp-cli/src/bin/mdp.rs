//! `mdp`: a Majordomo command-line tool for operators — call a service, ask MMI, run an echo
//! worker.
//!
//! ```text
//! mdp call echo "hello" "world" --broker tcp://localhost:5555
//! mdp mmi service echo              # prints 200 or 404
//! mdp worker echo                   # serves "echo" until Ctrl-C
//! mdp cert workers/echo-1 --services echo   # a worker key pair for mdp-broker --worker-certs
//! ```

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
