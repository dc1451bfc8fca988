//! `mdp-broker`: a Majordomo (MDP/0.1) broker with MMI, optional CURVE encryption and ZAP,
//! metrics for Prometheus, and a configuration file.
//!
//! ```text
//! mdp-broker --bind tcp://*:5555 -v
//! mdp-broker --curve --cert-dir /var/lib/mdp     # creates DIR/broker + DIR/broker_secret once
//! mdp-broker --curve --zap-certs clients/ --worker-certs workers/   # who may connect, who may serve
//! mdp-broker --max-queue 10000 --max-memory 2GiB --heartbeat 1s  # limits (docs/mdp.md)
//! mdp-broker --config /etc/mdp/broker.toml --metrics-listen 127.0.0.1:9464
//! mdp-broker --config broker.toml --print-config  # the effective settings, as a file
//! ```

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use mdp::broker::WorkerPolicy;
use mdp::Broker;
use zmsg::{ZAuth, ZCert, ZCertStore};

#[path = "../broker/metrics.rs"]
mod metrics;
#[path = "../broker/settings.rs"]
mod settings;

use settings::{Dur, Settings};

/// A Majordomo broker (MDP/0.1 and MDP/0.2), with MMI, CURVE, limits on what peers can make it
/// hold, and metrics.
///
/// Durations are written `2.5s`, `500ms`, `1m 30s`; sizes `64MiB` (binary), `64MB` (SI) or a
/// number of bytes. Every flag is also a key of the --config file (`--max-queue-bytes` is
/// `max_queue_bytes`); flags override the file.
#[derive(Debug, Parser)]
#[command(name = "mdp-broker", version, about, long_about)]
struct Args {
    /// Read settings from this TOML file (keys are the flags' names with `_`; flags override it).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the effective settings as a configuration file and exit.
    #[arg(long)]
    print_config: bool,
    #[command(flatten)]
    settings: Settings,
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(flatten)]
    deprecated: Deprecated,
}

/// The flags in milliseconds of earlier versions: still read, with a warning.
#[derive(Debug, clap::Args)]
struct Deprecated {
    /// Deprecated: --heartbeat.
    #[arg(long, value_name = "N", hide = true, conflicts_with = "heartbeat")]
    heartbeat_ms: Option<u64>,
    /// Deprecated: --request-expiry.
    #[arg(long, value_name = "N", hide = true, conflicts_with = "request_expiry")]
    request_expiry_ms: Option<u64>,
    /// Deprecated: --request-timeout.
    #[arg(
        long,
        value_name = "N",
        hide = true,
        conflicts_with = "request_timeout"
    )]
    request_timeout_ms: Option<u64>,
    /// Deprecated: --service-grace.
    #[arg(long, value_name = "N", hide = true, conflicts_with = "service_grace")]
    service_grace_ms: Option<u64>,
    /// Deprecated: --client-backlog-timeout.
    #[arg(
        long,
        value_name = "N",
        hide = true,
        conflicts_with = "client_backlog_timeout"
    )]
    client_backlog_timeout_ms: Option<u64>,
}

impl Deprecated {
    /// Moves the deprecated flags into `settings`, warning on stderr for each.
    fn apply(self, settings: &mut Settings) {
        let flags = [
            ("heartbeat", self.heartbeat_ms, &mut settings.heartbeat),
            (
                "request-expiry",
                self.request_expiry_ms,
                &mut settings.request_expiry,
            ),
            (
                "request-timeout",
                self.request_timeout_ms,
                &mut settings.request_timeout,
            ),
            (
                "service-grace",
                self.service_grace_ms,
                &mut settings.service_grace,
            ),
            (
                "client-backlog-timeout",
                self.client_backlog_timeout_ms,
                &mut settings.client_backlog_timeout,
            ),
        ];
        for (name, ms, slot) in flags {
            if let Some(ms) = ms {
                let value = Dur(Duration::from_millis(ms));
                eprintln!(
                    "mdp-broker: warning: --{name}-ms is deprecated and will go away; \
                     write --{name} {ms}ms"
                );
                *slot = Some(value);
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mdp-broker: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let mut flags = args.settings;
    args.deprecated.apply(&mut flags);
    if args.verbose > 0 {
        flags.verbose = Some(args.verbose);
    }
    let settings = match &args.config {
        Some(path) => Settings::load(path)?.overlay(flags),
        None => flags,
    };
    let effective = settings.resolve()?;
    if args.print_config {
        print!("{}", effective.to_toml());
        return Ok(());
    }
    init_tracing(effective.verbose);
    zmsg::install_interrupt_handler().context("installing the SIGINT/SIGTERM handler")?;

    let mut config = effective.config;
    // Keeps the ZAP handler running as long as the broker.
    let mut _auth = None;
    if effective.curve {
        config.curve = Some(load_or_create_cert(&effective.cert_dir)?);
        let store = |dir: &PathBuf| {
            ZCertStore::new(dir)
                .with_context(|| format!("reading certificates in {}", dir.display()))
        };
        let clients = effective.zap_certs.as_ref().map(store).transpose()?;
        let workers = effective.worker_certs.as_ref().map(store).transpose()?;
        if clients.is_some() || workers.is_some() || effective.zap_allow_any {
            let auth = ZAuth::new().context("starting the ZAP handler")?;
            auth.verbose(effective.verbose > 0)?;
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
                        effective
                            .worker_certs
                            .as_deref()
                            .unwrap_or(Path::new(""))
                            .display()
                    ));
                }
                config.worker_policy = WorkerPolicy::Certificates(workers);
            }
            None if !effective.allow_any_worker => warn(format_args!(
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
    if let Some(addr) = effective.metrics_listen {
        let feed = broker.publish_stats(metrics::REFRESH);
        let bound = metrics::serve(addr, feed)?;
        say(format_args!("metrics on http://{bound}/metrics"));
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
