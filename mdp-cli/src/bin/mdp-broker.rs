//! `mdp-broker`: a Majordomo (MDP/0.1) broker with MMI, optional CURVE encryption and ZAP.
//!
//! ```text
//! mdp-broker --bind tcp://*:5555 -v
//! mdp-broker --curve --cert-dir /var/lib/mdp     # creates DIR/broker + DIR/broker_secret once
//! mdp-broker --curve --zap-certs clients/ --worker-certs workers/   # who may connect, who may serve
//! mdp-broker --max-queue 10000 --max-client-backlog 5000   # flow-control limits (docs/mdp.md)
//! ```

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use mdp::broker::WorkerPolicy;
use mdp::{Broker, BrokerConfig};
use zmsg::{ZAuth, ZCert, ZCertStore};

/// A Majordomo broker (MDP/0.1 and MDP/0.2), with MMI, CURVE and limits on what peers can make it hold.
#[derive(Debug, Parser)]
#[command(name = "mdp-broker", version, about)]
struct Args {
    /// Endpoint to bind (repeatable).
    #[arg(long = "bind", value_name = "ENDPOINT", default_value = "tcp://*:5555")]
    bind: Vec<String>,
    /// Heartbeat interval in milliseconds (workers must use the same).
    #[arg(long, value_name = "N", default_value_t = mdp::protocol::DEFAULT_HEARTBEAT_MS)]
    heartbeat_ms: u64,
    /// Missed heartbeats before a worker is purged.
    #[arg(long, value_name = "N", default_value_t = mdp::protocol::DEFAULT_LIVENESS)]
    liveness: u32,
    /// How long a request waits for a worker before it is dropped, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 30_000)]
    request_expiry_ms: u64,
    /// Requests one service queue holds; more are refused (`mmi.refused` 503).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_MAX_QUEUE)]
    max_queue: usize,
    /// Requests in flight plus replies waiting for one client; more are refused (`mmi.refused` 429).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_MAX_CLIENT_BACKLOG)]
    max_client_backlog: usize,
    /// Payload bytes of one client's requests and waiting replies before its requests are refused (429).
    #[arg(long, value_name = "BYTES", default_value_t = mdp::broker::DEFAULT_MAX_CLIENT_BACKLOG_BYTES)]
    max_client_backlog_bytes: usize,
    /// The largest request in payload bytes; larger ones are refused (413), larger frames cut the
    /// connection (ZMQ_MAXMSGSIZE).
    #[arg(long, value_name = "BYTES", default_value_t = mdp::broker::DEFAULT_MAX_MESSAGE_SIZE)]
    max_message_size: usize,
    /// Payload bytes one service queue holds; more are refused (503).
    #[arg(long, value_name = "BYTES", default_value_t = mdp::broker::DEFAULT_MAX_QUEUE_BYTES)]
    max_queue_bytes: usize,
    /// Payload bytes of requests and waiting replies the broker holds in all; more are refused (507).
    #[arg(long, value_name = "BYTES", default_value_t = mdp::broker::DEFAULT_MAX_MEMORY)]
    max_memory: usize,
    /// Services tracked at most; READY for one more gets DISCONNECT, requests are refused (507).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_MAX_SERVICES)]
    max_services: usize,
    /// Workers registered at most; READY beyond gets DISCONNECT.
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_MAX_WORKERS)]
    max_workers: usize,
    /// Clients with requests in flight or replies waiting, at most; more are refused (507).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_MAX_CLIENTS)]
    max_clients: usize,
    /// How long a worker may hold a request before it is disconnected and the request resent,
    /// in milliseconds (0: for ever).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_REQUEST_TIMEOUT.as_millis() as u64)]
    request_timeout_ms: u64,
    /// Resends of one request before the client is told it was abandoned (504).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_MAX_RESENDS)]
    max_resends: u32,
    /// How long a service without workers or requests is remembered, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_SERVICE_GRACE.as_millis() as u64)]
    service_grace_ms: u64,
    /// How long a client may take no reply before its waiting replies are dropped, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 30_000)]
    client_backlog_timeout_ms: u64,
    /// The most requests one worker may hold at once when it asks for a credit (1 = plain MDP/0.1).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_MAX_WORKER_CREDIT)]
    max_worker_credit: u32,
    /// The ROUTER's send high-water mark (messages queued in libzmq per peer).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_ROUTER_SNDHWM)]
    sndhwm: i32,
    /// The ROUTER's receive high-water mark (messages read ahead per peer).
    #[arg(long, value_name = "N", default_value_t = mdp::broker::DEFAULT_ROUTER_RCVHWM)]
    rcvhwm: i32,
    /// Encrypt with CURVE: load the broker certificate from --cert-dir, creating it on first start.
    #[arg(long)]
    curve: bool,
    /// Where the broker certificate lives (`DIR/broker` public, `DIR/broker_secret` secret).
    #[arg(long, value_name = "DIR", default_value = "mdp-certs")]
    cert_dir: PathBuf,
    /// With --curve: run a ZAP handler that accepts any client key.
    #[arg(long, requires = "curve", conflicts_with = "zap_certs")]
    zap_allow_any: bool,
    /// With --curve: run a ZAP handler that only accepts the public certificates in DIR.
    #[arg(long, value_name = "DIR", requires = "curve")]
    zap_certs: Option<PathBuf>,
    /// With --curve: only keys with a public certificate in DIR may register as workers, and
    /// only for the services in its `services` metadata (e.g. services = "echo, db.*").
    /// Those keys may connect too; clients are still admitted by --zap-certs (or any key).
    #[arg(long, value_name = "DIR", requires = "curve")]
    worker_certs: Option<PathBuf>,
    /// With --curve and no --worker-certs: say that any key that can connect may be a worker
    /// for any service (silences the warning about it).
    #[arg(long, requires = "curve", conflicts_with = "worker_certs")]
    allow_any_worker: bool,
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> Result<()> {
    let args = Args::parse();
    init_tracing(args.verbose);
    zmsg::install_interrupt_handler().context("installing the SIGINT/SIGTERM handler")?;

    let mut config = BrokerConfig::new(args.bind.iter().cloned());
    config.heartbeat = Duration::from_millis(args.heartbeat_ms);
    config.liveness = args.liveness;
    config.request_expiry = Duration::from_millis(args.request_expiry_ms);
    config.max_queue = args.max_queue;
    config.max_client_backlog = args.max_client_backlog;
    config.max_client_backlog_bytes = args.max_client_backlog_bytes;
    config.client_backlog_timeout = Duration::from_millis(args.client_backlog_timeout_ms);
    config.max_worker_credit = args.max_worker_credit;
    config.max_message_size = args.max_message_size;
    config.max_queue_bytes = args.max_queue_bytes;
    config.max_memory = args.max_memory;
    config.max_services = args.max_services;
    config.max_workers = args.max_workers;
    config.max_clients = args.max_clients;
    config.request_timeout = Duration::from_millis(args.request_timeout_ms);
    config.max_resends = args.max_resends;
    config.service_grace = Duration::from_millis(args.service_grace_ms);
    config.router_sndhwm = args.sndhwm;
    config.router_rcvhwm = args.rcvhwm;

    // Keeps the ZAP handler running as long as the broker.
    let mut _auth = None;
    if args.curve {
        config.curve = Some(load_or_create_cert(&args.cert_dir)?);
        let store = |dir: &PathBuf| {
            ZCertStore::new(dir)
                .with_context(|| format!("reading certificates in {}", dir.display()))
        };
        let clients = args.zap_certs.as_ref().map(store).transpose()?;
        let workers = args.worker_certs.as_ref().map(store).transpose()?;
        if clients.is_some() || workers.is_some() || args.zap_allow_any {
            let auth = ZAuth::new().context("starting the ZAP handler")?;
            auth.verbose(args.verbose > 0)?;
            match &clients {
                // Known clients and known workers may connect.
                Some(clients) => auth.configure_curve_stores(
                    ZAuth::ANY_DOMAIN,
                    [Some(clients.clone()), workers.clone()]
                        .into_iter()
                        .flatten(),
                ),
                // Any client key; ZAP still runs, so each connection has a trusted User-Id.
                None => auth.configure_curve(ZAuth::ANY_DOMAIN, ZAuth::CURVE_ALLOW_ANY),
            }
            .context("configuring CURVE ZAP")?;
            config.zap_domain = Some("global".to_owned());
            _auth = Some(auth);
        }
        match workers {
            Some(workers) => {
                if workers.is_empty() {
                    warn(format_args!(
                        "no worker certificate in {}: no worker can register until one is added",
                        args.worker_certs
                            .as_deref()
                            .unwrap_or(Path::new(""))
                            .display()
                    ));
                }
                config.worker_policy = WorkerPolicy::Certificates(workers);
            }
            None if !args.allow_any_worker => warn(format_args!(
                "CURVE is on, but any key that can connect may register as a worker for any \
                 service, read its clients' requests and answer them; restrict workers with \
                 --worker-certs DIR (see docs/security.md), or pass --allow-any-worker to \
                 accept this"
            )),
            None => {}
        }
    }

    let mut broker = Broker::bind(config).context("starting the broker")?;
    for endpoint in broker.endpoints() {
        say(format_args!("listening on {endpoint}"));
    }
    if let Some(key) = broker.public_key() {
        say(format_args!("public key {key}"));
    }
    broker.run().context("running the broker")?;
    say(format_args!("stopped ({})", broker.stats()));
    Ok(())
}

/// Prints `mdp-broker: warning: <line>` on stderr.
fn warn(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "mdp-broker: warning: {line}");
}

/// Prints `mdp-broker: <line>` on stdout; a closed stdout (the reader went away) is not an error.
fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "mdp-broker: {line}").and_then(|()| out.flush());
}

/// Loads `DIR/broker` (and `DIR/broker_secret`), or creates and saves a new certificate.
/// Refuses, as ssh does, a secret key file that others than its owner may read or write.
fn refuse_open_permissions(secret: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(secret)
            .with_context(|| format!("reading {}", secret.display()))?
            .permissions()
            .mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "{} is accessible by others (mode {:o}): the broker's secret key must be private; \
             run chmod 600 on it",
            secret.display(),
            mode & 0o777
        );
    }
    Ok(())
}

fn load_or_create_cert(dir: &Path) -> Result<ZCert> {
    let path = dir.join("broker");
    let secret = zmsg::cert::secret_path(&path);
    if secret.exists() {
        refuse_open_permissions(&secret)?;
        let cert = ZCert::load(&path).with_context(|| format!("loading {}", secret.display()))?;
        anyhow::ensure!(
            !cert.is_public_only(),
            "{} holds no secret key",
            secret.display()
        );
        return Ok(cert);
    }
    // Clients carry the broker's public key: never replace it silently.
    anyhow::ensure!(
        !path.exists(),
        "{} exists but {} does not: refusing to make a new broker key that no client knows; \
         restore the secret file, or remove {} to start over with a new key",
        path.display(),
        secret.display(),
        path.display()
    );
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cert = ZCert::new().context("making a CURVE key pair")?;
    cert.set_meta("name", "mdp-broker");
    cert.save(&path)
        .with_context(|| format!("saving {}", path.display()))?;
    tracing::info!(public = %path.display(), secret = %secret.display(), "created the broker certificate");
    Ok(cert)
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
