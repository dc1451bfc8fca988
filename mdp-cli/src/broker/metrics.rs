//! `mdp-broker --metrics-listen ADDR`: the broker's counters and gauges over HTTP at `/metrics`,
//! in the Prometheus text format (or OpenMetrics when the scraper asks for it).
//!
//! The broker loop publishes a `Stats` snapshot every [`REFRESH`] (`Broker::publish_stats`);
//! the HTTP thread encodes the latest snapshot. A scrape never asks the broker loop anything,
//! so a slow or hostile scraper cannot stall it. Every metric is an `mmi.stats` key under a
//! Prometheus name (the tables below; docs/deploying.md lists them).

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mdp::broker::StatsFeed;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

/// How often the broker loop publishes a snapshot for the metrics endpoint.
pub const REFRESH: Duration = Duration::from_secs(1);

/// One metric: its `mmi.stats` key, its name after `mdp_` / `mdp_service_` (before the unit
/// and `_total` suffixes the encoder adds), its unit and its help.
type Row = (&'static str, &'static str, Option<Unit>, &'static str);

/// The counters kept per service and in total (`Counters`), as `mdp_NAME_total` (all services,
/// including forgotten ones) and `mdp_service_NAME_total{service}`. `refused` and `refused_CODE`
/// are `refusals_total{code}`.
const COUNTERS: &[Row] = &[
    ("requests", "requests", None, "Client requests received, refused ones included (MMI requests are not counted)."),
    ("replies", "replies", None, "Final replies delivered to clients."),
    ("partials", "partial_replies", None, "Partial (MDP/0.2) replies delivered to clients."),
    ("resends", "resends", None, "Requests taken back from a worker that went away, expired or held them too long, and queued again."),
    ("drops", "drops", None, "Requests or replies dropped: client unreachable, client backlog timed out, a partial reply over a full backlog, a hook's Drop."),
    ("abandoned", "abandoned_requests", None, "Requests refused with 504 after max_resends resends."),
    ("disconnects", "worker_disconnects", None, "Workers that went away or were disconnected."),
    ("expiries", "request_expiries", None, "Queued requests that waited longer than request_expiry for a worker and were discarded."),
    ("worker_expiries", "worker_expiries", None, "Workers purged because nothing came from them for heartbeat x liveness."),
    ("request_timeouts", "request_timeouts", None, "Workers disconnected because they held a request longer than request_timeout."),
];

/// The counters that belong to no service (`GlobalCounters`), as `mdp_NAME_total`.
const GLOBAL: &[Row] = &[
    ("invalid", "invalid_messages", None, "Invalid messages dropped."),
    ("unexpected", "unexpected_commands", None, "Valid but unexpected worker commands, each answered with DISCONNECT."),
    ("mmi", "mmi_requests", None, "MMI requests answered."),
    ("backlogged", "backlogged_replies", None, "Replies that met a full client pipe and waited in the client's backlog."),
    ("backlog_unreachable", "backlog_unreachable", None, "Backlogged replies dropped because the client went away."),
    ("backlog_timeouts", "backlog_timeouts", None, "Backlogged replies dropped because the client took nothing for client_backlog_timeout."),
    ("partials_withheld", "partials_withheld", None, "Partial replies not sent on because the client speaks MDP/0.1."),
    ("over_limit", "over_limit", None, "READYs and requests refused because a broker-wide limit (max_workers, max_services, max_clients, max_memory) was reached."),
    ("unauthorised", "unauthorised_worker_commands", None, "Worker commands refused by the worker policy (--worker-certs): READYs for services a key may not serve, answered with DISCONNECT."),
];

/// The broker's load (`Stats::gauges`), as `mdp_NAME`.
const GAUGES: &[Row] = &[
    ("workers", "workers", None, "Workers registered."),
    ("services", "services", None, "Services tracked (with workers, waiting requests, or within service_grace)."),
    ("queued", "queued_requests", None, "Requests waiting in service queues for a worker."),
    ("clients", "clients", None, "Clients with requests in flight or replies waiting."),
    ("in_flight", "in_flight_requests", None, "Client requests accepted and not answered yet (queued or at a worker)."),
    ("backlog_clients", "backlog_clients", None, "Clients with replies waiting in a backlog."),
    ("backlog_replies", "backlog_replies", None, "Replies waiting in client backlogs."),
    ("backlog_bytes", "backlog", Some(Unit::Bytes), "Payload bytes of the replies waiting in client backlogs."),
    ("held_bytes", "held", Some(Unit::Bytes), "Payload bytes the broker holds for clients: requests queued or at a worker and backlogged replies (what max_memory bounds)."),
];

/// Each service's load (`ServiceLoad`), as `mdp_service_NAME{service}`.
const SERVICE_GAUGES: &[Row] = &[
    (
        "workers",
        "workers",
        None,
        "Workers registered for the service.",
    ),
    (
        "queued",
        "queued_requests",
        None,
        "Requests waiting in the service's queue.",
    ),
    (
        "queued_bytes",
        "queued",
        Some(Unit::Bytes),
        "Payload bytes of the requests waiting in the service's queue.",
    ),
];

/// The value of `key` among `fields` (0 if absent, which the tests rule out).
fn field(fields: impl IntoIterator<Item = (&'static str, u64)>, key: &str) -> u64 {
    fields
        .into_iter()
        .find_map(|(k, v)| (k == key).then_some(v))
        .unwrap_or(0)
}

/// Encodes the latest published `Stats` on each scrape.
#[derive(Debug)]
struct BrokerCollector {
    feed: StatsFeed,
}

impl BrokerCollector {
    /// One family of label-less metrics or of one metric per `(labels, value)`.
    fn family<'a, L>(
        encoder: &mut DescriptorEncoder,
        name: &str,
        row: &Row,
        kind: MetricType,
        samples: impl IntoIterator<Item = (L, u64)>,
    ) -> fmt::Result
    where
        L: prometheus_client::encoding::EncodeLabelSet + 'a,
    {
        let (_, _, unit, help) = row;
        let mut family = encoder.encode_descriptor(name, help, unit.as_ref(), kind)?;
        for (labels, value) in samples {
            let metric = family.encode_family(&labels)?;
            match kind {
                MetricType::Counter => ConstCounter::new(value).encode(metric)?,
                _ => ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(metric)?,
            }
        }
        Ok(())
    }
}

type NoLabels = [(&'static str, &'static str); 0];

impl Collector for BrokerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let Some((stats, taken)) = self.feed.latest() else {
            return Ok(());
        };
        let e = &mut encoder;
        let counter = MetricType::Counter;
        let gauge = MetricType::Gauge;
        for row in COUNTERS {
            let value = field(stats.total.fields(), row.0);
            Self::family(
                e,
                &format!("mdp_{}", row.1),
                row,
                counter,
                [([] as NoLabels, value)],
            )?;
        }
        let refusals: Row = (
            "refused",
            "refusals",
            None,
            "Requests refused with an mmi.refused answer, by code: 413 too large, 429 client over \
             its limits, 503 service queue full, 504 abandoned, 507 a broker-wide limit.",
        );
        let by_code = stats.total.refusals.by_code();
        let samples = by_code
            .iter()
            .map(|(code, n)| ([("code", code.as_str())], *n));
        Self::family(e, "mdp_refusals", &refusals, counter, samples)?;
        for row in GLOBAL {
            let value = field(stats.global.fields(), row.0);
            Self::family(
                e,
                &format!("mdp_{}", row.1),
                row,
                counter,
                [([] as NoLabels, value)],
            )?;
        }
        for row in GAUGES {
            let value = field(stats.gauges(), row.0);
            Self::family(
                e,
                &format!("mdp_{}", row.1),
                row,
                gauge,
                [([] as NoLabels, value)],
            )?;
        }

        // Per service: one family per counter, one sample per service.
        for row in COUNTERS {
            let samples = stats
                .services
                .iter()
                .map(|(service, c)| ([("service", service.as_str())], field(c.fields(), row.0)));
            Self::family(e, &format!("mdp_service_{}", row.1), row, counter, samples)?;
        }
        let samples = stats.services.iter().flat_map(|(service, c)| {
            c.refusals
                .by_code()
                .map(|(code, n)| ([("service", service.as_str()), ("code", code.as_str())], n))
        });
        Self::family(e, "mdp_service_refusals", &refusals, counter, samples)?;
        for row in SERVICE_GAUGES {
            let samples = stats.service_load.iter().map(|(service, load)| {
                ([("service", service.as_str())], field(load.fields(), row.0))
            });
            Self::family(e, &format!("mdp_service_{}", row.1), row, gauge, samples)?;
        }

        let age = ConstGauge::new(
            Instant::now()
                .saturating_duration_since(taken)
                .as_secs_f64(),
        );
        let metric = encoder.encode_descriptor(
            "mdp_stats_age",
            "How old these numbers are: the broker publishes them every second; a growing age \
             means the broker loop is stuck.",
            Some(&Unit::Seconds),
            age.metric_type(),
        )?;
        age.encode(metric)
    }
}

/// The Prometheus text format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The OpenMetrics text format's content type.
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `/metrics` at `addr` on a thread of its own; returns the bound address (port 0 picks
/// a free port).
pub fn serve(addr: SocketAddr, feed: StatsFeed) -> Result<SocketAddr> {
    let server = tiny_http::Server::http(addr)
        .map_err(|err| anyhow::anyhow!("metrics: cannot listen on {addr}: {err}"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .context("metrics: the listener has no IP address")?;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(BrokerCollector { feed }));
    std::thread::Builder::new()
        .name("mdp-metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                respond(&registry, request);
            }
        })
        .context("starting the metrics thread")?;
    Ok(bound)
}

/// Answers one HTTP request.
fn respond(registry: &Registry, request: tiny_http::Request) {
    use tiny_http::{Header, Method, Response};
    let header = |value: &str| {
        Header::from_bytes(&b"Content-Type"[..], value.as_bytes()).expect("a valid header")
    };
    let path = request.url().split('?').next().unwrap_or("");
    let get = matches!(request.method(), Method::Get | Method::Head);
    let response = match (get, path) {
        (true, "/metrics") => {
            let openmetrics = request.headers().iter().any(|h| {
                h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
            });
            let mut body = String::new();
            let (encoded, kind) = if openmetrics {
                (
                    prometheus_client::encoding::text::encode(&mut body, registry),
                    OPENMETRICS_TEXT,
                )
            } else {
                (
                    prometheus_client::encoding::prometheus_text::encode(&mut body, registry),
                    PROMETHEUS_TEXT,
                )
            };
            match encoded {
                Ok(()) => Response::from_string(body).with_header(header(kind)),
                Err(_) => Response::from_string("encoding failed\n").with_status_code(500),
            }
        }
        (true, "/") => Response::from_string("mdp-broker: metrics at /metrics\n")
            .with_header(header("text/plain; charset=utf-8")),
        (true, _) => Response::from_string("not found: try /metrics\n").with_status_code(404),
        (false, _) => Response::from_string("only GET and HEAD\n").with_status_code(405),
    };
    if let Err(err) = request.respond(response) {
        tracing::debug!(%err, "metrics: the scraper went away");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `mmi.stats` key has a metric: a new counter or gauge cannot be left out.
    #[test]
    fn every_mmi_stats_key_has_a_metric() {
        let keys = |rows: &[Row]| rows.iter().map(|r| r.0).collect::<Vec<_>>();
        for (key, _) in mdp::broker::Counters::default().fields() {
            assert!(
                keys(COUNTERS).contains(&key) || key.starts_with("refused"),
                "{key}"
            );
        }
        for (key, _) in mdp::broker::GlobalCounters::default().fields() {
            assert!(keys(GLOBAL).contains(&key), "{key}");
        }
        for (key, _) in mdp::Stats::default().gauges() {
            assert!(keys(GAUGES).contains(&key), "{key}");
        }
        for (key, _) in mdp::broker::ServiceLoad::default().fields() {
            assert!(keys(SERVICE_GAUGES).contains(&key), "{key}");
        }
    }
}
