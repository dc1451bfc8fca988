//! `mdp-broker`'s settings: one set of keys for the command line and the TOML file
//! (`--max-queue-bytes` is `max_queue_bytes`), durations and sizes written the human way
//! (`2.5s`, `64MiB`), the file's errors with its name, line and key, and the effective settings
//! printed back as a file (`--print-config`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use mdp::BrokerConfig;
use serde::{Deserialize, Serialize};

/// A duration written the human way: `2.5s`, `500ms`, `1m 30s`, `0s` (humantime's syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = String;

    fn from_str(text: &str) -> Result<Dur, String> {
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text != "0" {
            return Err(format!(
                "{text:?} has no unit: write a duration such as \"{text}ms\" or \"{text}s\""
            ));
        }
        humantime::parse_duration(text).map(Dur).map_err(|err| {
            format!("{text:?} is not a duration such as \"2.5s\" or \"500ms\": {err}")
        })
    }
}

impl fmt::Display for Dur {
    /// The exact duration as humantime writes it (`2s 500ms`), which [`Dur::from_str`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Dur, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration in a string, such as \"2.5s\" or \"500ms\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Dur, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A size in bytes written the human way: `64MiB`, `1.5GiB`, `512KiB`, or a plain number of
/// bytes. Binary units (`KiB`, `MiB`, `GiB`, also `Ki`, `Mi`, `Gi`) are powers of 1024; SI units
/// (`kB`, `MB`, `GB`, also `k`, `M`, `G`) are powers of 1000, as the bytesize crate reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub usize);

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Size, String> {
        let text = text.trim();
        let bytes = text
            .parse::<bytesize::ByteSize>()
            .map_err(|err| format!("{text:?} is not a size such as \"64MiB\" or \"4096\": {err}"))?
            .as_u64();
        // bytesize saturates: u64::MAX means "too large" unless it was written out.
        if bytes == u64::MAX && text != u64::MAX.to_string() {
            return Err(format!("{text:?} is too large"));
        }
        usize::try_from(bytes)
            .map(Size)
            .map_err(|_| format!("{text:?} is too large for this machine"))
    }
}

impl fmt::Display for Size {
    /// The exact size in its shortest form: `64MiB`, `64MB`, `4KiB`, `1234` (binary units
    /// first when two are as short).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0 as u64;
        let units: [(&str, u64); 8] = [
            ("TiB", 1 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
            ("TB", 1_000_000_000_000),
            ("GB", 1_000_000_000),
            ("MB", 1_000_000),
            ("kB", 1_000),
        ];
        let mut best = n.to_string();
        for (unit, size) in units {
            if n != 0 && n % size == 0 {
                let text = format!("{}{unit}", n / size);
                if text.len() < best.len() {
                    best = text;
                }
            }
        }
        f.write_str(&best)
    }
}

impl Serialize for Size {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"64MiB\", or a number of bytes")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Size, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Size, E> {
                usize::try_from(n)
                    .map(Size)
                    .map_err(|_| E::custom(format!("{n} is too large for this machine")))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Size, E> {
                u64::try_from(n)
                    .map_err(|_| E::custom(format!("{n} is negative")))
                    .and_then(|n| self.visit_u64(n))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Every setting of `mdp-broker`: the flags (all optional, so that a flag that is not given
/// leaves the file's value) and the keys of the `--config` file, which are the flags' names
/// with `_` for `-`. Defaults come from `mdp::BrokerConfig`.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Endpoint to bind (repeatable) [default: tcp://*:5555].
    #[arg(long = "bind", value_name = "ENDPOINT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<Vec<String>>,
    /// Heartbeat interval; workers must use the same [default: 2s 500ms].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Dur>,
    /// Missed heartbeats before a worker is purged [default: 3].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<u32>,
    /// How long a request waits in a queue for a worker before it is dropped [default: 30s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_expiry: Option<Dur>,
    /// Requests one service queue holds; more are refused (`mmi.refused` 503) [default: 100000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queue: Option<usize>,
    /// Payload bytes one service queue holds; more are refused (503) [default: 256MiB].
    #[arg(long, value_name = "SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queue_bytes: Option<Size>,
    /// Requests in flight plus replies waiting for one client; more are refused (429)
    /// [default: 100000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_client_backlog: Option<usize>,
    /// Payload bytes of one client's requests and waiting replies before its requests are
    /// refused (429) [default: 64MiB].
    #[arg(long, value_name = "SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_client_backlog_bytes: Option<Size>,
    /// How long a client may take no reply before its waiting replies are dropped
    /// [default: 30s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_backlog_timeout: Option<Dur>,
    /// The largest request (payload); larger ones are refused (413), larger frames cut the
    /// connection (ZMQ_MAXMSGSIZE) [default: 16MiB].
    #[arg(long, value_name = "SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_message_size: Option<Size>,
    /// Payload bytes of requests and waiting replies the broker holds in all; more are refused
    /// (507) [default: 1GiB].
    #[arg(long, value_name = "SIZE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<Size>,
    /// Services tracked at most; READY for one more gets DISCONNECT, requests are refused (507)
    /// [default: 10000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_services: Option<usize>,
    /// Workers registered at most; READY beyond gets DISCONNECT [default: 100000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_workers: Option<usize>,
    /// Clients with requests in flight or replies waiting, at most; more are refused (507)
    /// [default: 100000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_clients: Option<usize>,
    /// How long a worker may hold a request before it is disconnected and the request resent
    /// (0s: for ever) [default: 30s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<Dur>,
    /// Resends of one request before the client is told it was abandoned (504) [default: 3].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_resends: Option<u32>,
    /// How long a service without workers or requests is remembered [default: 30s].
    #[arg(long, value_name = "DURATION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_grace: Option<Dur>,
    /// The most requests one worker may hold at once when it asks for a credit (1 = plain
    /// MDP/0.1) [default: 256].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_worker_credit: Option<u32>,
    /// The ROUTER's send high-water mark (messages queued in libzmq per peer) [default: 10000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sndhwm: Option<i32>,
    /// The ROUTER's receive high-water mark (messages read ahead per peer) [default: 1000].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcvhwm: Option<i32>,
    /// Encrypt with CURVE: load the broker certificate from --cert-dir, creating it on first
    /// start (`--curve=false` turns off a file's `curve = true`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<bool>,
    /// Where the broker certificate lives (`DIR/broker` public, `DIR/broker_secret` secret)
    /// [default: mdp-certs].
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_dir: Option<PathBuf>,
    /// With --curve: run a ZAP handler that accepts any client key.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zap_allow_any: Option<bool>,
    /// With --curve: run a ZAP handler that only accepts the public certificates in DIR.
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zap_certs: Option<PathBuf>,
    /// With --curve: only keys with a public certificate in DIR may register as workers, and
    /// only for the services in its `services` metadata (e.g. services = "echo, db.*"). Those
    /// keys may connect too; clients are still admitted by --zap-certs (or any key).
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_certs: Option<PathBuf>,
    /// With --curve and no --worker-certs: accept that any key that can connect may be a worker
    /// for any service (silences the warning about it).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide_possible_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_any_worker: Option<bool>,
    /// Serve Prometheus/OpenMetrics metrics over HTTP at ADDR/metrics (`127.0.0.1:9464`; port 0
    /// picks a free one, printed) [default: off].
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Logging: 0 info, 1 debug, 2 trace (the file's key; -v / -vv on the command line).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verbose: Option<u8>,
}

/// Takes each setting from `over` when it has one, else from `base`.
macro_rules! overlay {
    ($base:expr, $over:expr; $($field:ident),* $(,)?) => {{
        let (base, over) = ($base, $over);
        // Every field must be listed: a new setting that is not is a compile error.
        let Settings { $($field: _),* } = &base;
        Settings { $($field: over.$field.or(base.$field)),* }
    }};
}

impl Settings {
    /// These settings with `over`'s taking precedence (`file.overlay(flags)`).
    pub fn overlay(self, over: Settings) -> Settings {
        overlay!(self, over;
            bind, heartbeat, liveness, request_expiry, max_queue, max_queue_bytes,
            max_client_backlog, max_client_backlog_bytes, client_backlog_timeout,
            max_message_size, max_memory, max_services, max_workers, max_clients,
            request_timeout, max_resends, service_grace, max_worker_credit, sndhwm, rcvhwm,
            curve, cert_dir, zap_allow_any, zap_certs, worker_certs, allow_any_worker,
            metrics_listen, verbose,
        )
    }

    /// Reads a TOML file of settings. Relative paths in it are relative to the file's
    /// directory. An unknown key or a bad value is an error naming the file, line and key.
    pub fn load(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        let mut settings: Settings =
            toml::from_str(&text).map_err(|err| file_error(path, &text, &err))?;
        let base = path.parent().unwrap_or(Path::new(""));
        for dir in [
            &mut settings.cert_dir,
            &mut settings.zap_certs,
            &mut settings.worker_certs,
        ]
        .into_iter()
        .flatten()
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        Ok(settings)
    }

    /// The broker configuration and the program's own settings, with defaults for what is
    /// not set; checks the combinations.
    pub fn resolve(self) -> Result<Effective> {
        let mut config = match self.bind {
            Some(endpoints) => BrokerConfig::new(endpoints),
            None => BrokerConfig::default(),
        };
        let c = &mut config;
        set(&mut c.heartbeat, self.heartbeat.map(|d| d.0));
        set(&mut c.liveness, self.liveness);
        set(&mut c.request_expiry, self.request_expiry.map(|d| d.0));
        set(&mut c.max_queue, self.max_queue);
        set(&mut c.max_queue_bytes, self.max_queue_bytes.map(|s| s.0));
        set(&mut c.max_client_backlog, self.max_client_backlog);
        set(
            &mut c.max_client_backlog_bytes,
            self.max_client_backlog_bytes.map(|s| s.0),
        );
        set(
            &mut c.client_backlog_timeout,
            self.client_backlog_timeout.map(|d| d.0),
        );
        set(&mut c.max_message_size, self.max_message_size.map(|s| s.0));
        set(&mut c.max_memory, self.max_memory.map(|s| s.0));
        set(&mut c.max_services, self.max_services);
        set(&mut c.max_workers, self.max_workers);
        set(&mut c.max_clients, self.max_clients);
        set(&mut c.request_timeout, self.request_timeout.map(|d| d.0));
        set(&mut c.max_resends, self.max_resends);
        set(&mut c.service_grace, self.service_grace.map(|d| d.0));
        set(&mut c.max_worker_credit, self.max_worker_credit);
        set(&mut c.router_sndhwm, self.sndhwm);
        set(&mut c.router_rcvhwm, self.rcvhwm);
        let curve = self.curve.unwrap_or(false);
        let zap_allow_any = self.zap_allow_any.unwrap_or(false);
        anyhow::ensure!(
            !(zap_allow_any && self.zap_certs.is_some()),
            "zap_allow_any and zap_certs exclude each other: pick one"
        );
        anyhow::ensure!(
            curve || !(zap_allow_any || self.zap_certs.is_some()),
            "zap_allow_any and zap_certs need curve"
        );
        let allow_any_worker = self.allow_any_worker.unwrap_or(false);
        anyhow::ensure!(
            !(allow_any_worker && self.worker_certs.is_some()),
            "allow_any_worker and worker_certs exclude each other: pick one"
        );
        anyhow::ensure!(
            curve || !(allow_any_worker || self.worker_certs.is_some()),
            "worker_certs and allow_any_worker need curve"
        );
        Ok(Effective {
            config,
            curve,
            cert_dir: self.cert_dir.unwrap_or_else(|| PathBuf::from("mdp-certs")),
            zap_allow_any,
            zap_certs: self.zap_certs,
            worker_certs: self.worker_certs,
            allow_any_worker,
            metrics_listen: self.metrics_listen,
            verbose: self.verbose.unwrap_or(0),
        })
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// What `mdp-broker` runs with: the broker's configuration and the program's own settings.
#[derive(Debug, Clone)]
pub struct Effective {
    /// The broker's configuration (CURVE and ZAP are filled in when the broker starts).
    pub config: BrokerConfig,
    /// Whether to encrypt with CURVE.
    pub curve: bool,
    /// Where the broker certificate lives.
    pub cert_dir: PathBuf,
    /// Whether a ZAP handler accepts any client key.
    pub zap_allow_any: bool,
    /// The directory of client certificates a ZAP handler accepts.
    pub zap_certs: Option<PathBuf>,
    /// The directory of worker certificates (who may serve which services).
    pub worker_certs: Option<PathBuf>,
    /// Whether any key may be a worker without a warning.
    pub allow_any_worker: bool,
    /// Where to serve metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// 0 info, 1 debug, 2 trace.
    pub verbose: u8,
}

impl Effective {
    /// The effective settings as a complete configuration file, read back from the
    /// `BrokerConfig` the broker would get: `--config` of it gives the same broker.
    pub fn to_toml(&self) -> String {
        let c = &self.config;
        let settings = Settings {
            bind: Some(c.endpoints.clone()),
            heartbeat: Some(Dur(c.heartbeat)),
            liveness: Some(c.liveness),
            request_expiry: Some(Dur(c.request_expiry)),
            max_queue: Some(c.max_queue),
            max_queue_bytes: Some(Size(c.max_queue_bytes)),
            max_client_backlog: Some(c.max_client_backlog),
            max_client_backlog_bytes: Some(Size(c.max_client_backlog_bytes)),
            client_backlog_timeout: Some(Dur(c.client_backlog_timeout)),
            max_message_size: Some(Size(c.max_message_size)),
            max_memory: Some(Size(c.max_memory)),
            max_services: Some(c.max_services),
            max_workers: Some(c.max_workers),
            max_clients: Some(c.max_clients),
            request_timeout: Some(Dur(c.request_timeout)),
            max_resends: Some(c.max_resends),
            service_grace: Some(Dur(c.service_grace)),
            max_worker_credit: Some(c.max_worker_credit),
            sndhwm: Some(c.router_sndhwm),
            rcvhwm: Some(c.router_rcvhwm),
            curve: Some(self.curve),
            cert_dir: Some(self.cert_dir.clone()),
            zap_allow_any: Some(self.zap_allow_any),
            zap_certs: self.zap_certs.clone(),
            worker_certs: self.worker_certs.clone(),
            allow_any_worker: Some(self.allow_any_worker),
            metrics_listen: self.metrics_listen,
            verbose: Some(self.verbose),
        };
        let body = toml::to_string(&settings).unwrap_or_else(|err| format!("# {err}\n"));
        format!("# mdp-broker's effective settings (mdp-broker --print-config)\n{body}")
    }
}

/// `FILE:LINE:COLUMN: key `KEY`: MESSAGE` for an error of the TOML file `path`.
fn file_error(path: &Path, text: &str, err: &toml::de::Error) -> anyhow::Error {
    let message = err.message().trim_end();
    let Some(span) = err.span() else {
        return anyhow::anyhow!("{}: {message}", path.display());
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    // The key of the `key = value` line the error is on (for an unknown key, the span is the
    // key itself; for a bad value, the value).
    let key = line_text
        .split_once('=')
        .map(|(key, _)| key.trim().trim_matches('"'))
        .filter(|key| !key.is_empty());
    match key {
        Some(key) => anyhow::anyhow!("{}:{line}:{column}: key `{key}`: {message}", path.display()),
        None => anyhow::anyhow!("{}:{line}:{column}: {message}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_the_human_way() {
        assert_eq!(
            "2.5s".parse::<Dur>().unwrap().0,
            Duration::from_millis(2500)
        );
        assert_eq!(
            "2500ms".parse::<Dur>().unwrap().0,
            Duration::from_millis(2500)
        );
        assert_eq!("1m 30s".parse::<Dur>().unwrap().0, Duration::from_secs(90));
        assert_eq!("0".parse::<Dur>().unwrap().0, Duration::ZERO);
        assert!("2500".parse::<Dur>().unwrap_err().contains("no unit"));
        assert!("2.5 parsecs".parse::<Dur>().is_err());
        for ms in [0, 1, 2500, 30_000, 90_000, 3_723_004] {
            let d = Dur(Duration::from_millis(ms));
            assert_eq!(d.to_string().parse::<Dur>().unwrap(), d, "{d}");
        }
        assert_eq!(Dur(Duration::from_millis(2500)).to_string(), "2s 500ms");
    }

    #[test]
    fn sizes_binary_and_si_units_are_what_they_say() {
        assert_eq!("64MiB".parse::<Size>().unwrap().0, 64 << 20);
        assert_eq!("64 MiB".parse::<Size>().unwrap().0, 64 << 20);
        assert_eq!("64MB".parse::<Size>().unwrap().0, 64_000_000);
        assert_eq!("64M".parse::<Size>().unwrap().0, 64_000_000);
        assert_eq!("1.5GiB".parse::<Size>().unwrap().0, 3 << 29);
        assert_eq!("4096".parse::<Size>().unwrap().0, 4096);
        assert!("-1".parse::<Size>().is_err());
        assert!("99999999EiB"
            .parse::<Size>()
            .unwrap_err()
            .contains("too large"));
        assert!("12 parsecs".parse::<Size>().is_err());
        for n in [
            0usize,
            1,
            1000,
            4096,
            64 << 20,
            1 << 30,
            3 << 29,
            123_456_789,
        ] {
            assert_eq!(Size(n).to_string().parse::<Size>().unwrap(), Size(n));
        }
        assert_eq!(Size(64 << 20).to_string(), "64MiB");
        assert_eq!(Size(64_000_000).to_string(), "64MB");
        assert_eq!(Size(1234).to_string(), "1234");
    }

    fn load_text(text: &str) -> Result<Settings> {
        let dir = std::env::temp_dir().join(format!("mdp-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("t{}.toml", fastish_id()));
        std::fs::write(&path, text).unwrap();
        let result = Settings::load(&path);
        let _ = std::fs::remove_file(&path);
        result.map_err(|err| {
            anyhow::anyhow!(
                "{}",
                err.to_string().replace(&*path.to_string_lossy(), "FILE")
            )
        })
    }

    fn fastish_id() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn file_errors_name_the_file_line_and_key() {
        let err = load_text("heartbeat = \"1s\"\nmax_queue = 5\nheartbeet = \"2s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("FILE:3:1: key `heartbeet`: unknown field `heartbeet`"),
            "{err}"
        );
        let err = load_text("# limits\nmax_queue_bytes = \"64 parsecs\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("FILE:2:19: key `max_queue_bytes`: "),
            "{err}"
        );
        assert!(err.contains("is not a size"), "{err}");
        let err = load_text("heartbeat = 2500\n").unwrap_err().to_string();
        assert!(err.starts_with("FILE:1:13: key `heartbeat`: "), "{err}");
        assert!(err.contains("a duration in a string"), "{err}");
        let err = load_text("max_queue = \"many\"\n").unwrap_err().to_string();
        assert!(err.starts_with("FILE:1:13: key `max_queue`: "), "{err}");
        let err = load_text("max_queue = \n").unwrap_err().to_string();
        assert!(err.starts_with("FILE:1:"), "{err}");
    }

    #[test]
    fn flags_override_the_file_and_paths_are_relative_to_it() {
        let file = load_text("max_queue = 5\nliveness = 7\ncert_dir = \"certs\"\n").unwrap();
        let flags = Settings {
            max_queue: Some(9),
            ..Settings::default()
        };
        let effective = file.overlay(flags).resolve().unwrap();
        assert_eq!(effective.config.max_queue, 9);
        assert_eq!(effective.config.liveness, 7);
        assert!(effective.cert_dir.is_absolute(), "{:?}", effective.cert_dir);
        assert!(effective.cert_dir.ends_with("certs"));
        assert_eq!(
            effective.config.heartbeat,
            BrokerConfig::default().heartbeat
        );
    }

    #[test]
    fn the_printed_defaults_are_the_library_defaults_and_read_back() {
        let printed = Settings::default().resolve().unwrap().to_toml();
        let defaults = BrokerConfig::default();
        assert!(printed.contains("heartbeat = \"2s 500ms\""), "{printed}");
        assert!(
            printed.contains("max_client_backlog_bytes = \"64MiB\""),
            "{printed}"
        );
        assert!(
            printed.contains(&format!("max_queue = {}", defaults.max_queue)),
            "{printed}"
        );
        let again: Settings = toml::from_str(&printed).unwrap();
        assert_eq!(again.resolve().unwrap().to_toml(), printed);
    }

    /// The `[default: X]` of each flag's help is the library's default (as printed).
    #[test]
    fn the_help_tells_the_real_defaults() {
        use clap::Args as _;
        let printed = Settings::default().resolve().unwrap().to_toml();
        let table: toml::Table = toml::from_str(&printed).unwrap();
        let command = Settings::augment_args(clap::Command::new("mdp-broker"));
        let mut checked = 0;
        for arg in command.get_arguments() {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let Some((_, default)) = help.split_once("[default: ") else {
                continue;
            };
            let default = default.trim_end_matches(']');
            if default == "off" {
                continue;
            }
            let key = arg.get_id().as_str().replace('-', "_");
            let value = match &table[&key] {
                toml::Value::String(text) => text.clone(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().unwrap_or("?").to_owned())
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            assert_eq!(default, value, "--{key}");
            checked += 1;
        }
        assert!(checked >= 20, "{checked} defaults checked");
    }

    #[test]
    fn zap_needs_curve_and_one_kind() {
        let zap = Settings {
            zap_allow_any: Some(true),
            ..Settings::default()
        };
        assert!(zap.clone().resolve().is_err());
        let both = Settings {
            curve: Some(true),
            zap_certs: Some("x".into()),
            ..zap.clone()
        };
        assert!(both.resolve().is_err());
        let ok = Settings {
            curve: Some(true),
            ..zap
        };
        assert!(ok.resolve().unwrap().zap_allow_any);
    }
}
